/*-------------------------------------------------------------------------
 *
 * json_value_tree.c
 *	  Reading a parsed JSON tree: member lookup, equality, writing it back
 *	  as compact JSON, deep copy (the parser is json_value.c).
 *
 * These helpers recurse, but only as deep as a parsed tree can be:
 * JsonDoc.max_depth.
 *
 *-------------------------------------------------------------------------
 */
#include "json/json_value.h"

#include <stdlib.h>
#include <string.h>

#include "json/json_encode.h"

const JsonValue *
json_object_get(const JsonValue *obj, const char *key, size_t keylen)
{
	uint32_t	i;

	if (obj == NULL || obj->kind != JSON_OBJECT)
		return NULL;
	for (i = 0; i < obj->len; i++)
	{
		const JsonValue *k = obj->u.items[2 * i];

		if (k->len == keylen && memcmp(k->u.str, key, keylen) == 0)
			return obj->u.items[2 * i + 1];
	}
	return NULL;
}

const JsonValue *
json_object_get_cstr(const JsonValue *obj, const char *key)
{
	return json_object_get(obj, key, strlen(key));
}

bool
json_string_is(const JsonValue *v, const char *s)
{
	size_t		n = strlen(s);

	return v != NULL && v->kind == JSON_STRING && v->len == n &&
		memcmp(v->u.str, s, n) == 0;
}

bool
json_value_equal(const JsonValue *a, const JsonValue *b)
{
	uint32_t	i,
				n;

	if (a->kind != b->kind)
		return false;
	switch ((JsonKind) a->kind)
	{
		case JSON_NULL:
			return true;
		case JSON_BOOL:
			return a->boolean == b->boolean;
		case JSON_NUMBER:
		case JSON_STRING:
			return a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0;
		case JSON_ARRAY:
		case JSON_OBJECT:
			if (a->len != b->len)
				return false;
			n = a->kind == JSON_OBJECT ? 2 * a->len : a->len;
			for (i = 0; i < n; i++)
				if (!json_value_equal(a->u.items[i], b->u.items[i]))
					return false;
			return true;
	}
	return false;
}

/* json_value_write() state: output so far, and whether it still fits. */
typedef struct Writer
{
	char	   *buf;
	size_t		cap;
	size_t		len;
	bool		ok;
} Writer;

static void
w_bytes(Writer *w, const char *s, size_t n)
{
	if (!w->ok || w->cap - w->len < n)
	{
		w->ok = false;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void
w_string(Writer *w, const char *s, size_t n)
{
	w_bytes(w, "\"", 1);
	while (w->ok && n > 0)
	{
		size_t		written;
		size_t		used = json_escape(w->buf + w->len, w->cap - w->len,
									   s, n, 0, &written);

		w->len += written;
		if (used == 0)
			w->ok = false;
		s += used;
		n -= used;
	}
	w_bytes(w, "\"", 1);
}

static void
w_value(Writer *w, const JsonValue *v)
{
	uint32_t	i;

	switch ((JsonKind) v->kind)
	{
		case JSON_NULL:
			w_bytes(w, "null", 4);
			break;
		case JSON_BOOL:
			if (v->boolean)
				w_bytes(w, "true", 4);
			else
				w_bytes(w, "false", 5);
			break;
		case JSON_NUMBER:
			w_bytes(w, v->u.str, v->len);
			break;
		case JSON_STRING:
			w_string(w, v->u.str, v->len);
			break;
		case JSON_ARRAY:
			w_bytes(w, "[", 1);
			for (i = 0; i < v->len && w->ok; i++)
			{
				if (i > 0)
					w_bytes(w, ",", 1);
				w_value(w, v->u.items[i]);
			}
			w_bytes(w, "]", 1);
			break;
		case JSON_OBJECT:
			w_bytes(w, "{", 1);
			for (i = 0; i < v->len && w->ok; i++)
			{
				const JsonValue *k = json_member_key(v, i);

				if (i > 0)
					w_bytes(w, ",", 1);
				w_string(w, k->u.str, k->len);
				w_bytes(w, ":", 1);
				w_value(w, json_member_value(v, i));
			}
			w_bytes(w, "}", 1);
			break;
	}
}

size_t
json_value_write(const JsonValue *v, char *buf, size_t cap)
{
	Writer		w = {buf, cap, 0, true};

	w_value(&w, v);
	return w.ok ? w.len : (size_t) -1;
}

/*
 * json_doc_copy() of one value.  A container reserves its vector before
 * copying its children, whose own vectors come after it.
 */
static JsonValue *
copy_value(JsonDoc *doc, const JsonValue *v)
{
	JsonValue  *c;
	uint32_t	n,
				i;

	if (doc->nnodes >= doc->max_nodes)
		return NULL;
	c = &doc->nodes[doc->nnodes++];
	*c = *v;
	if (v->kind == JSON_STRING || v->kind == JSON_NUMBER)
	{
		if (doc->max_input + 1 - doc->nbytes < v->len)
			return NULL;
		memcpy(doc->bytes + doc->nbytes, v->u.str, v->len);
		c->u.str = doc->bytes + doc->nbytes;
		doc->nbytes += v->len;
	}
	else if (v->kind == JSON_ARRAY || v->kind == JSON_OBJECT)
	{
		const JsonValue **items;

		n = v->kind == JSON_OBJECT ? 2 * v->len : v->len;
		if (doc->max_nodes - doc->nitems < n)
			return NULL;
		items = doc->items + doc->nitems;
		doc->nitems += n;
		for (i = 0; i < n; i++)
			if ((items[i] = copy_value(doc, v->u.items[i])) == NULL)
				return NULL;
		c->u.items = items;
	}
	return c;
}

const JsonValue *
json_doc_copy(JsonDoc *doc, const JsonValue *v)
{
	return copy_value(doc, v);
}
