/*-------------------------------------------------------------------------
 *
 * client_protocol.c
 *	  Pure parser of client requests and builder of control replies.
 *
 * Requests are parsed with json_value.h into an arena sized for the
 * frame and freed before returning: everything kept (id, patterns,
 * filter, subscription) is copied out, since unescaped strings point into
 * the frame.  Unknown members of a request are ignored (forward
 * compatibility); members of the wrong type are a bad_request.  The
 * "filter" member is kept as compact JSON text: checking, compiling and
 * evaluating it belongs to the worker (worker_subscribe.c) and the
 * fan-out (fanout_filter.c), with row_filter.h.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_encode.h"
#include "json/json_value.h"
#include "protocol/client_protocol.h"

static bool fail(const char **code, const char *c, char *msg, size_t msgsize,
				 const char *fmt,...) __attribute__((format(printf, 5, 6)));

static bool
fail(const char **code, const char *c, char *msg, size_t msgsize,
	 const char *fmt,...)
{
	va_list		ap;

	*code = c;
	va_start(ap, fmt);
	vsnprintf(msg, msgsize, fmt, ap);
	va_end(ap);
	return false;
}

static char *
dup_n(const char *s, size_t n)
{
	char	   *r = malloc(n + 1);

	if (r != NULL)
	{
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

static bool
parse_ops(const JsonValue *v, uint32_t *ops, const char **code, char *msg,
		  size_t msgsize)
{
	static const struct
	{
		const char *name;
		uint32_t	bit;
	}			names[] = {
		{"insert", CP_OP_INSERT},
		{"update", CP_OP_UPDATE},
		{"delete", CP_OP_DELETE},
		{"truncate", CP_OP_TRUNCATE},
	};
	uint32_t	k;

	if (v == NULL)
	{
		*ops = CP_OP_ALL;
		return true;
	}
	if (v->kind != JSON_ARRAY || v->len == 0)
		return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					"\"ops\" must be a non-empty array of strings");
	*ops = 0;
	for (k = 0; k < v->len; k++)
	{
		const JsonValue *e = json_array_get(v, k);
		size_t		i;
		bool		found = false;

		if (e->kind != JSON_STRING)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"\"ops\" must be a non-empty array of strings");
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (json_string_is(e, names[i].name))
			{
				*ops |= names[i].bit;
				found = true;
			}
		if (!found)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"unknown op \"%.*s\" (insert, update, delete, truncate)",
						(int) (e->len < 64 ? e->len : 64), e->u.str);
	}
	return true;
}

static bool
parse_tables(const JsonValue *v, ClientRequest *req, const char **code,
			 char *msg, size_t msgsize)
{
	uint32_t	i;

	if (v == NULL || v->kind != JSON_ARRAY || v->len == 0)
		return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					"\"tables\" must be a non-empty array of patterns");
	if (v->len > CP_MAX_TABLES)
		return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					"at most %d table patterns per subscription", CP_MAX_TABLES);
	req->tables = calloc(v->len, sizeof(char *));
	req->patterns = calloc(v->len, sizeof(TablePattern));
	if (req->tables == NULL || req->patterns == NULL)
		return fail(code, CP_ERR_INTERNAL, msg, msgsize, "out of memory");
	for (i = 0; i < v->len; i++)
	{
		const JsonValue *e = json_array_get(v, i);
		const char *err = NULL;
		int			n;

		if (e->kind != JSON_STRING || e->len == 0 ||
			e->len > CP_MAX_PATTERN_LEN || memchr(e->u.str, '\0', e->len) != NULL)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"table pattern %d must be a non-empty string of at most %d bytes",
						(int) i + 1, CP_MAX_PATTERN_LEN);
		if ((req->tables[i] = dup_n(e->u.str, e->len)) == NULL)
			return fail(code, CP_ERR_INTERNAL, msg, msgsize, "out of memory");
		req->ntables = (int) i + 1;
		n = table_pattern_parse(req->tables[i], NULL, 0, &err);
		if (n != 1)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"bad table pattern \"%.64s\": %s", req->tables[i],
						n < 0 ? err : "one pattern per array element");
		(void) table_pattern_parse(req->tables[i], &req->patterns[i], 1, &err);
	}
	return true;
}

/*
 * Compact JSON text of v, malloc'd (NULL when out of memory).  Never
 * longer than 6 * the input it was parsed from + 16 (json_value.h).
 */
static char *
write_json(const JsonValue *v, size_t input_len, size_t *len)
{
	size_t		cap = 6 * input_len + 16;
	char	   *buf = malloc(cap + 1);

	if (buf == NULL)
		return NULL;
	*len = json_value_write(v, buf, cap);
	if (*len == (size_t) -1)
	{
		free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}

/* The arena for one request of len bytes: any valid text fits. */
static JsonDoc *
request_doc(size_t len)
{
	return json_doc_create(len, (uint32_t) (len / 2 + 2), JSON_DEFAULT_MAX_DEPTH);
}

bool
client_request_parse(const char *text, size_t len, ClientRequest *req,
					 const char **code, char *msg, size_t msgsize)
{
	JsonError	jerr = {0, "out of memory"};
	JsonDoc    *doc;
	const JsonValue *root = NULL,
			   *type,
			   *id;
	size_t		n;
	bool		ok = false;

	memset(req, 0, sizeof(*req));
	if (len > UINT32_MAX)
		return fail(code, CP_ERR_BAD_JSON, msg, msgsize, "invalid JSON: too long");
	if ((doc = request_doc(len)) == NULL)
		return fail(code, CP_ERR_INTERNAL, msg, msgsize, "out of memory");
	root = json_parse(doc, text, len, &jerr);
	if (root == NULL)
	{
		fail(code, CP_ERR_BAD_JSON, msg, msgsize, "invalid JSON: %s", jerr.message);
		goto done;
	}
	if (root->kind != JSON_OBJECT)
	{
		fail(code, CP_ERR_BAD_JSON, msg, msgsize, "a request must be a JSON object");
		goto done;
	}
	id = json_object_get_cstr(root, "id");
	if (id != NULL)
	{
		if (id->kind == JSON_STRING || id->kind == JSON_NUMBER)
			req->id_json = write_json(id, len, &n);
		if ((id->kind != JSON_STRING && id->kind != JSON_NUMBER) ||
			(req->id_json != NULL && n > CP_MAX_ID_LEN))
		{
			free(req->id_json);
			req->id_json = NULL;
			fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
				 "\"id\" must be a string or number of at most %d bytes",
				 CP_MAX_ID_LEN);
			goto done;
		}
	}
	type = json_object_get_cstr(root, "type");
	if (type == NULL || type->kind != JSON_STRING)
	{
		fail(code, CP_ERR_BAD_REQUEST, msg, msgsize, "\"type\" (a string) is required");
		goto done;
	}
	if (json_string_is(type, "subscribe"))
	{
		const JsonValue *filter = json_object_get_cstr(root, "filter");
		const JsonValue *resume = json_object_get_cstr(root, "resume_lsn");
		const JsonValue *snapshot = json_object_get_cstr(root, "snapshot");

		req->type = CREQ_SUBSCRIBE;
		if (resume != NULL && resume->kind != JSON_NULL)
		{
			if (resume->kind != JSON_STRING ||
				!json_parse_lsn(resume->u.str, resume->len, &req->resume_lsn))
			{
				fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					 "\"resume_lsn\" must be an LSN string such as \"0/16B3748\"");
				goto done;
			}
			req->has_resume = true;
		}
		if (snapshot != NULL && snapshot->kind != JSON_NULL)
		{
			if (snapshot->kind != JSON_BOOL)
			{
				fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					 "\"snapshot\" must be true or false");
				goto done;
			}
			req->want_snapshot = snapshot->boolean;
		}
		if (!parse_tables(json_object_get_cstr(root, "tables"), req, code, msg, msgsize) ||
			!parse_ops(json_object_get_cstr(root, "ops"), &req->ops, code, msg, msgsize))
			goto done;
		if (filter != NULL && filter->kind != JSON_NULL &&
			(req->filter_json = write_json(filter, len, &n)) == NULL)
		{
			fail(code, CP_ERR_INTERNAL, msg, msgsize, "out of memory");
			goto done;
		}
		ok = true;
	}
	else if (json_string_is(type, "unsubscribe"))
	{
		const JsonValue *s = json_object_get_cstr(root, "subscription");

		req->type = CREQ_UNSUBSCRIBE;
		if (s == NULL || s->kind != JSON_STRING || s->len == 0 ||
			s->len > 64 || memchr(s->u.str, '\0', s->len) != NULL)
		{
			fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
				 "\"subscription\" (a subscription id string) is required");
			goto done;
		}
		req->subscription = dup_n(s->u.str, s->len);
		ok = true;
	}
	else if (json_string_is(type, "ping"))
	{
		req->type = CREQ_PING;
		ok = true;
	}
	else if (json_string_is(type, "auth"))
	{
		const JsonValue *t = json_object_get_cstr(root, "token");

		req->type = CREQ_AUTH;
		if (t == NULL || t->kind != JSON_STRING || t->len == 0 ||
			t->len > CP_MAX_TOKEN_LEN || memchr(t->u.str, '\0', t->len) != NULL)
		{
			fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
				 "\"token\" (a JWT string of at most %d bytes) is required",
				 CP_MAX_TOKEN_LEN);
			goto done;
		}
		req->token = dup_n(t->u.str, t->len);
		ok = req->token != NULL;
		if (!ok)
			fail(code, CP_ERR_INTERNAL, msg, msgsize, "out of memory");
	}
	else
		fail(code, CP_ERR_UNKNOWN_TYPE, msg, msgsize,
			 "unknown request type \"%.*s\" (subscribe, unsubscribe, ping, auth)",
			 (int) (type->len < 64 ? type->len : 64), type->u.str);
done:
	json_doc_free(doc);
	return ok;
}

void
client_request_free(ClientRequest *req)
{
	int			i;

	free(req->id_json);
	for (i = 0; i < req->ntables; i++)
		free(req->tables[i]);
	free(req->tables);
	free(req->patterns);
	free(req->filter_json);
	free(req->subscription);
	free(req->token);
	memset(req, 0, sizeof(*req));
}

bool
pattern_slice_literal(PatternSlice s, char *out, size_t outsize)
{
	size_t		i,
				n = 0;

	for (i = 0; i < s.len; i++)
	{
		char		c = s.ptr[i];

		if (c == '*' || c == '?')
			return false;
		if (c == '\\' && i + 1 < s.len)
			c = s.ptr[++i];
		if (n + 1 >= outsize)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

/* A growable output buffer. */
typedef struct JBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		oom;
} JBuf;

static void
jb_reserve(JBuf *b, size_t more)
{
	char	   *n;
	size_t		cap;

	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	cap = (b->len + more + 1) * 2;
	if ((n = realloc(b->data, cap)) == NULL)
	{
		b->oom = true;
		return;
	}
	b->data = n;
	b->cap = cap;
}

static void
jb_raw(JBuf *b, const char *s, size_t n)
{
	jb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
jb_str(JBuf *b, const char *s)
{
	jb_raw(b, s, strlen(s));
}

static void
jb_quoted(JBuf *b, const char *s)
{
	size_t		srclen = strlen(s);
	size_t		written;

	jb_reserve(b, JSON_ESCAPE_BOUND(srclen) + 2);
	if (b->oom)
		return;
	b->data[b->len++] = '"';
	while (srclen > 0)
	{
		size_t		used = json_escape(b->data + b->len,
									   b->cap - b->len - 2, s, srclen,
									   JSON_VALIDATE, &written);

		b->len += written;
		s += used;
		srclen -= used;
		if (used == 0)
			break;
	}
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

static char *
jb_finish(JBuf *b, size_t *len)
{
	if (b->oom)
	{
		free(b->data);
		return NULL;
	}
	*len = b->len;
	return b->data;
}

static void
jb_start(JBuf *b, const char *type, const char *id_json)
{
	memset(b, 0, sizeof(*b));
	jb_str(b, "{\"type\":\"");
	jb_str(b, type);
	jb_str(b, "\"");
	if (id_json != NULL)
	{
		jb_str(b, ",\"id\":");
		jb_str(b, id_json);
	}
}

char *
cp_reply_ok(const char *id_json, const char *subscription,
			const char *resume_lsn_json, size_t *len)
{
	JBuf		b;

	jb_start(&b, "ok", id_json);
	if (subscription != NULL)
	{
		jb_str(&b, ",\"subscription\":");
		jb_quoted(&b, subscription);
	}
	if (resume_lsn_json != NULL)
	{
		jb_str(&b, ",\"resume_lsn\":");
		jb_str(&b, resume_lsn_json);
	}
	jb_str(&b, "}");
	return jb_finish(&b, len);
}

char *
cp_reply_pong(const char *id_json, size_t *len)
{
	JBuf		b;

	jb_start(&b, "pong", id_json);
	jb_str(&b, "}");
	return jb_finish(&b, len);
}

char *
cp_reply_error(const char *id_json, const char *code, const char *message,
			   const char *resume_lsn, size_t *len)
{
	return cp_reply_error_lsn(id_json, code, message, "resume_lsn",
							  resume_lsn, len);
}

char *
cp_reply_error_lsn(const char *id_json, const char *code,
				   const char *message, const char *lsn_field,
				   const char *lsn, size_t *len)
{
	JBuf		b;

	jb_start(&b, "error", id_json);
	jb_str(&b, ",\"code\":");
	jb_quoted(&b, code);
	jb_str(&b, ",\"message\":");
	jb_quoted(&b, message);
	if (lsn != NULL)
	{
		jb_str(&b, ",\"");
		jb_str(&b, lsn_field);
		jb_str(&b, "\":");
		jb_quoted(&b, lsn);
	}
	jb_str(&b, "}");
	return jb_finish(&b, len);
}

char *
cp_heartbeat(uint64_t lsn, const char *snapshot_joined, size_t *len)
{
	char		buf[JSON_LSN_MAXLEN + 1];
	JBuf		b;

	buf[json_lsn(buf, lsn)] = '\0';
	jb_start(&b, "heartbeat", NULL);
	jb_str(&b, ",\"lsn\":");
	jb_quoted(&b, buf);
	if (snapshot_joined != NULL)
	{
		jb_str(&b, ",\"snapshot_joined\":");
		jb_quoted(&b, snapshot_joined);
	}
	jb_str(&b, "}");
	return jb_finish(&b, len);
}

char *
cp_table_error(const char *code, const char *subscription,
			   const char *schema, const char *table, const char *message,
			   size_t *len)
{
	JBuf		b;
	char	   *qualified = malloc(strlen(schema) + strlen(table) + 2);

	if (qualified == NULL)
		return NULL;
	sprintf(qualified, "%s.%s", schema, table);
	jb_start(&b, "error", NULL);
	jb_str(&b, ",\"code\":");
	jb_quoted(&b, code);
	jb_str(&b, ",\"subscription\":");
	jb_quoted(&b, subscription);
	jb_str(&b, ",\"table\":");
	jb_quoted(&b, qualified);
	jb_str(&b, ",\"message\":");
	jb_quoted(&b, message);
	jb_str(&b, "}");
	free(qualified);
	return jb_finish(&b, len);
}
