/*-------------------------------------------------------------------------
 *
 * fuzz_json_value.c
 *	  libFuzzer target for src/json/json_value.c.
 *
 * Parses arbitrary bytes.  Whatever the input, the parser must stay within
 * its limits and report errors inside the input; when it succeeds, the
 * tree is written back with json_value_write() and parsed again, which
 * must give the same tree, and writing that gives the same bytes.  A
 * json_doc_copy() must be equal too, and every object member must be
 * found by its key.  json_span.c must stay inside any input, and on a
 * parsed array or object find exactly its elements (keys and values): each
 * span, parsed alone, equals the parser's element.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "json/json_span.h"
#include "json/json_value.h"

#define MAX_INPUT	(1 << 16)
#define MAX_NODES	(1 << 14)

static JsonDoc *doc,
		   *doc2,
		   *doc3;
static char *out,
		   *out2;

static void
check_lookups(const JsonValue *v)
{
	uint32_t	i,
				n;

	if (v->kind == JSON_OBJECT)
		for (i = 0; i < v->len; i++)
		{
			const JsonValue *k = json_member_key(v, i);
			const JsonValue *found = json_object_get(v, k->u.str, k->len);

			if (k->kind != JSON_STRING || found == NULL ||
				!json_value_equal(found, json_object_get(v, k->u.str, k->len)))
				abort();
		}
	if (v->kind == JSON_ARRAY || v->kind == JSON_OBJECT)
	{
		n = v->kind == JSON_OBJECT ? 2 * v->len : v->len;
		for (i = 0; i < n; i++)
			check_lookups(v->u.items[i]);
	}
}

/* json_spans() of the input against the parsed tree a (or NULL). */
static void
check_spans(const char *text, size_t size, const JsonValue *a)
{
	static JsonSpan spans[MAX_NODES];
	int			n = json_spans(text, size, spans, MAX_NODES);

	for (int i = 0; i < n; i++)
		if (spans[i].off > size || spans[i].len > size - spans[i].off)
			abort();
	if (a == NULL || (a->kind != JSON_ARRAY && a->kind != JSON_OBJECT))
		return;
	if (n != (int) (a->kind == JSON_OBJECT ? 2 * a->len : a->len))
		abort();
	for (int i = 0; i < n; i++)
	{
		const JsonValue *e = json_parse(doc3, text + spans[i].off, spans[i].len, NULL);

		if (e == NULL || !json_value_equal(e, a->u.items[i]))
			abort();
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const JsonValue *a,
			   *b,
			   *c;
	JsonError	err;
	size_t		n,
				n2;

	if (doc == NULL)
	{
		doc = json_doc_create(MAX_INPUT, MAX_NODES, JSON_DEFAULT_MAX_DEPTH);
		doc2 = json_doc_create(6 * MAX_INPUT + 16, MAX_NODES, JSON_DEFAULT_MAX_DEPTH);
		doc3 = json_doc_create(MAX_INPUT, MAX_NODES, JSON_DEFAULT_MAX_DEPTH);
		out = malloc(6 * MAX_INPUT + 16);
		out2 = malloc(6 * MAX_INPUT + 16);
	}
	if (size > MAX_INPUT)
		return 0;
	a = json_parse(doc, (const char *) data, size, &err);
	check_spans((const char *) data, size, a);
	if (a == NULL)
	{
		if (err.offset > size || err.message == NULL)
			abort();
		return 0;
	}
	if (doc->nnodes > MAX_NODES || doc->nitems > doc->nnodes ||
		doc->nbytes > size)
		abort();
	n = json_value_write(a, out, 6 * size + 16);
	if (n == (size_t) -1 || n > size + 16)
		abort();
	b = json_parse(doc2, out, n, &err);
	if (b == NULL || !json_value_equal(a, b))
		abort();
	n2 = json_value_write(b, out2, 6 * size + 16);
	if (n2 != n || memcmp(out, out2, n) != 0)
		abort();
	doc3->nnodes = doc3->nitems = 0;
	doc3->nbytes = 0;
	c = json_doc_copy(doc3, a);
	if (c == NULL || !json_value_equal(a, c))
		abort();
	check_lookups(a);
	return 0;
}
