/*-------------------------------------------------------------------------
 *
 * fuzz_client_request.c
 *	  libFuzzer target for client_request_parse() and the reply builders
 *	  of src/protocol/client_protocol.c.
 *
 * Input: one WebSocket text frame, as a client sends it.  It is parsed
 * twice (the second time with an 8-byte message buffer: same answer), and
 * what comes back is checked against the input parsed independently:
 *	- on failure: a known code (never internal_error here), a non-empty
 *	  NUL-terminated message, no id for bad_json, and the error reply built
 *	  from them is a JSON object echoing the id and the code;
 *	- on success: the type is the input's; the id, the filter and the
 *	  subscription are copies of the input's members (the filter compact:
 *	  writing it again gives the same bytes); table patterns are non-empty,
 *	  bounded, parse as exactly one pattern and their slices point into
 *	  their own text (a pattern without a schema matches any: "*");
 *	  ops are non-empty known bits (all when absent); resume_lsn and
 *	  snapshot are the input's; members of other request types stay empty;
 *	  and the ok/pong/filter-error replies are JSON.
 * client_request_free() leaves the request zeroed; LeakSanitizer (on by
 * default under libFuzzer) catches anything it does not free.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_encode.h"
#include "json/json_value.h"
#include "protocol/client_protocol.h"

#define MAX_INPUT	(1 << 16)
#define MAX_OUTPUT	(6 * MAX_INPUT + 1024)

static JsonDoc *in_doc,
		   *out_doc;
static char *wbuf;

/* Parse a builder's output: a JSON object, or abort. */
static const JsonValue *
parse_reply(char *text, size_t len, const char *type)
{
	const JsonValue *v;

	if (text == NULL || strlen(text) != len)
		abort();
	v = json_parse(out_doc, text, len, NULL);
	if (v == NULL || v->kind != JSON_OBJECT ||
		!json_string_is(json_object_get_cstr(v, "type"), type))
		abort();
	return v;
}

/* Is json (a compact JSON text we were given) equal to the input's v? */
static bool
same_json(const char *json, const JsonValue *v)
{
	const JsonValue *w;
	size_t		n;

	if (json == NULL || v == NULL)
		return false;
	w = json_parse(out_doc, json, strlen(json), NULL);
	if (w == NULL || !json_value_equal(w, v))
		return false;
	/* compact: written again, the same bytes */
	n = json_value_write(w, wbuf, MAX_OUTPUT);
	return n == strlen(json) && memcmp(wbuf, json, n) == 0;
}

static bool
slice_inside(PatternSlice s, const char *text)
{
	size_t		n = strlen(text);

	return s.len == 0 || (s.ptr >= text && s.ptr + s.len <= text + n);
}

static void
check_failure(const ClientRequest *req, const char *code, const char *msg,
			  const JsonValue *root)
{
	const JsonValue *reply,
			   *id;
	char	   *text;
	size_t		len;

	if (code == NULL || msg[0] == '\0' ||
		(strcmp(code, CP_ERR_BAD_JSON) != 0 && strcmp(code, CP_ERR_BAD_REQUEST) != 0 &&
		 strcmp(code, CP_ERR_UNKNOWN_TYPE) != 0))
		abort();
	/* bad_json exactly when the input is no JSON object; then no id */
	if ((strcmp(code, CP_ERR_BAD_JSON) == 0) !=
		(root == NULL || root->kind != JSON_OBJECT) ||
		(root == NULL && req->id_json != NULL))
		abort();
	if (req->id_json != NULL &&
		(root == NULL || strlen(req->id_json) > CP_MAX_ID_LEN ||
		 !same_json(req->id_json, json_object_get_cstr(root, "id"))))
		abort();
	text = cp_reply_error(req->id_json, code, msg, NULL, &len);
	reply = parse_reply(text, len, "error");
	if (!json_string_is(json_object_get_cstr(reply, "code"), code) ||
		json_object_get_cstr(reply, "message") == NULL ||
		json_object_get_cstr(reply, "message")->kind != JSON_STRING)
		abort();
	id = json_object_get_cstr(reply, "id");
	if ((id != NULL) != (req->id_json != NULL) ||
		(id != NULL && (json_value_write(id, wbuf, MAX_OUTPUT) != strlen(req->id_json) ||
						memcmp(wbuf, req->id_json, strlen(req->id_json)) != 0)))
		abort();
	free(text);
}

static void
check_subscribe(const ClientRequest *req, const JsonValue *root)
{
	const JsonValue *tables = json_object_get_cstr(root, "tables");
	const JsonValue *filter = json_object_get_cstr(root, "filter");
	const JsonValue *resume = json_object_get_cstr(root, "resume_lsn");
	const JsonValue *snapshot = json_object_get_cstr(root, "snapshot");
	char		lit_schema[CP_MAX_PATTERN_LEN + 1],
				lit_table[CP_MAX_PATTERN_LEN + 1];
	char	   *text;
	size_t		len;

	if (tables == NULL || req->ntables < 1 || req->ntables > CP_MAX_TABLES ||
		(uint32_t) req->ntables != tables->len ||
		req->tables == NULL || req->patterns == NULL)
		abort();
	for (int i = 0; i < req->ntables; i++)
	{
		const char *t = req->tables[i];
		const JsonValue *e = json_array_get(tables, (uint32_t) i);
		const char *err;
		TablePattern *p = &req->patterns[i];

		if (t == NULL || strlen(t) == 0 || strlen(t) > CP_MAX_PATTERN_LEN ||
			e == NULL || e->len != strlen(t) || memcmp(e->u.str, t, e->len) != 0 ||
			table_pattern_parse(t, NULL, 0, &err) != 1 ||
			p->table.len == 0 || !slice_inside(p->table, t) ||
			(!slice_inside(p->schema, t) &&
			 (p->schema.len != 1 || p->schema.ptr[0] != '*')))
			abort();
		(void) table_pattern_match(p, "public", "orders");
		/* an event about a literal table of this pattern */
		if (pattern_slice_literal(p->table, lit_table, sizeof(lit_table)))
		{
			if (!slice_inside(p->schema, t))	/* no schema: any */
				strcpy(lit_schema, "public");
			else if (!pattern_slice_literal(p->schema, lit_schema, sizeof(lit_schema)))
				continue;
			if (strlen(lit_table) > p->table.len)
				abort();
			text = cp_table_error(CP_ERR_BAD_FILTER, "s1", lit_schema, lit_table, t, &len);
			parse_reply(text, len, "error");
			free(text);
		}
	}
	if (req->ops == 0 || (req->ops & ~(uint32_t) CP_OP_ALL) != 0 ||
		(json_object_get_cstr(root, "ops") == NULL && req->ops != CP_OP_ALL))
		abort();
	if (filter != NULL && filter->kind != JSON_NULL ?
		!same_json(req->filter_json, filter) : req->filter_json != NULL)
		abort();
	if (req->has_resume != (resume != NULL && resume->kind != JSON_NULL))
		abort();
	if (req->has_resume)
	{
		char		lsn[JSON_LSN_MAXLEN];
		size_t		n = json_lsn(lsn, req->resume_lsn);
		uint64_t	again;

		if (!json_parse_lsn(lsn, n, &again) || again != req->resume_lsn)
			abort();
	}
	else if (req->resume_lsn != 0)
		abort();
	if (req->want_snapshot != (snapshot != NULL && snapshot->kind == JSON_BOOL &&
							   snapshot->boolean))
		abort();
	if (req->subscription != NULL)
		abort();
	text = cp_reply_ok(req->id_json, "s1", req->has_resume ? "\"0/10\"" : NULL, &len);
	parse_reply(text, len, "ok");
	free(text);
}

static void
check_success(const ClientRequest *req, const JsonValue *root)
{
	const JsonValue *type;
	const JsonValue *id;
	char	   *text;
	size_t		len;

	if (root == NULL || root->kind != JSON_OBJECT)
		abort();
	type = json_object_get_cstr(root, "type");
	id = json_object_get_cstr(root, "id");
	if (id != NULL ? !same_json(req->id_json, id) ||
		strlen(req->id_json) > CP_MAX_ID_LEN : req->id_json != NULL)
		abort();
	switch (req->type)
	{
		case CREQ_SUBSCRIBE:
			if (!json_string_is(type, "subscribe"))
				abort();
			check_subscribe(req, root);
			break;
		case CREQ_UNSUBSCRIBE:
			{
				const JsonValue *s = json_object_get_cstr(root, "subscription");
				const JsonValue *reply;

				if (!json_string_is(type, "unsubscribe") || req->subscription == NULL ||
					s == NULL || strlen(req->subscription) != s->len ||
					s->len == 0 || s->len > 64 ||
					memcmp(req->subscription, s->u.str, s->len) != 0 ||
					req->ntables != 0 || req->tables != NULL ||
					req->filter_json != NULL)
					abort();
				text = cp_reply_ok(req->id_json, req->subscription, NULL, &len);
				reply = parse_reply(text, len, "ok");
				if (!json_string_is(json_object_get_cstr(reply, "subscription"),
									req->subscription))
					abort();
				free(text);
			}
			break;
		case CREQ_PING:
			if (!json_string_is(type, "ping") || req->ntables != 0 ||
				req->tables != NULL || req->filter_json != NULL ||
				req->subscription != NULL)
				abort();
			text = cp_reply_pong(req->id_json, &len);
			parse_reply(text, len, "pong");
			free(text);
			break;
		case CREQ_AUTH:
			{
				const JsonValue *t = json_object_get_cstr(root, "token");

				/* the token, unescaped, non-empty, bounded, without NUL */
				if (!json_string_is(type, "auth") || req->token == NULL ||
					t == NULL || t->kind != JSON_STRING ||
					strlen(req->token) != t->len || t->len == 0 ||
					t->len > CP_MAX_TOKEN_LEN ||
					memcmp(req->token, t->u.str, t->len) != 0 ||
					req->ntables != 0 || req->filter_json != NULL ||
					req->subscription != NULL)
					abort();
			}
			break;
		default:
			abort();
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	ClientRequest req,
				req2;
	const char *code = NULL,
			   *code2 = NULL;
	char		msg[256];
	char	   *small;
	const JsonValue *root;
	bool		ok,
				ok2;
	static const ClientRequest zero;

	if (in_doc == NULL)
	{
		in_doc = json_doc_create(MAX_INPUT, MAX_INPUT / 2 + 2, JSON_DEFAULT_MAX_DEPTH);
		out_doc = json_doc_create(MAX_OUTPUT, MAX_INPUT / 2 + 64, JSON_DEFAULT_MAX_DEPTH);
		wbuf = malloc(MAX_OUTPUT);
		if (in_doc == NULL || out_doc == NULL || wbuf == NULL)
			abort();
	}
	if (size > MAX_INPUT)
		return 0;

	msg[0] = '\0';
	ok = client_request_parse(text, size, &req, &code, msg, sizeof(msg));
	if (!ok && memchr(msg, '\0', sizeof(msg)) == NULL)
		abort();

	/* the same answer with a message buffer too small for any message */
	small = malloc(8);
	ok2 = client_request_parse(text, size, &req2, &code2, small, 8);
	if (ok2 != ok || (!ok && (strcmp(code, code2) != 0 || strlen(small) > 7)))
		abort();
	free(small);
	client_request_free(&req2);

	root = json_parse(in_doc, text, size, NULL);
	if (ok)
		check_success(&req, root);
	else
		check_failure(&req, code, msg, root);

	client_request_free(&req);
	if (memcmp(&req, &zero, sizeof(req)) != 0)
		abort();
	return 0;
}
