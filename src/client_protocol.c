/*-------------------------------------------------------------------------
 *
 * client_protocol.c
 *	  Pure parser of client requests and builder of control replies.
 *
 * Unknown members of a request are ignored (forward compatibility);
 * members of the wrong type are a bad_request.  The "filter" member is
 * kept as raw JSON text: compiling and evaluating it belongs to
 * row_filter.c (see fanout.c for the hook).
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_protocol.h"
#include "json_encode.h"
#include "json_mini.h"

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
parse_ops(const JsonMini *v, uint32_t *ops, const char **code, char *msg,
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
	const JsonMini *e;

	if (v == NULL)
	{
		*ops = CP_OP_ALL;
		return true;
	}
	if (v->type != JM_ARRAY || v->count == 0)
		return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					"\"ops\" must be a non-empty array of strings");
	*ops = 0;
	for (e = v->child; e != NULL; e = e->next)
	{
		size_t		i;
		bool		found = false;

		if (e->type != JM_STRING)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"\"ops\" must be a non-empty array of strings");
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(e->str, names[i].name) == 0)
			{
				*ops |= names[i].bit;
				found = true;
			}
		if (!found)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"unknown op \"%.64s\" (insert, update, delete, truncate)",
						e->str);
	}
	return true;
}

static bool
parse_tables(const JsonMini *v, ClientRequest *req, const char **code,
			 char *msg, size_t msgsize)
{
	const JsonMini *e;
	int			i = 0;

	if (v == NULL || v->type != JM_ARRAY || v->count == 0)
		return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					"\"tables\" must be a non-empty array of patterns");
	if (v->count > CP_MAX_TABLES)
		return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
					"at most %d table patterns per subscription", CP_MAX_TABLES);
	req->tables = calloc((size_t) v->count, sizeof(char *));
	req->patterns = calloc((size_t) v->count, sizeof(TablePattern));
	if (req->tables == NULL || req->patterns == NULL)
		return fail(code, CP_ERR_INTERNAL, msg, msgsize, "out of memory");
	for (e = v->child; e != NULL; e = e->next, i++)
	{
		const char *err = NULL;
		int			n;

		if (e->type != JM_STRING || e->str_len == 0 ||
			e->str_len > CP_MAX_PATTERN_LEN || strlen(e->str) != e->str_len)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"table pattern %d must be a non-empty string of at most %d bytes",
						i + 1, CP_MAX_PATTERN_LEN);
		if ((req->tables[i] = dup_n(e->str, e->str_len)) == NULL)
			return fail(code, CP_ERR_INTERNAL, msg, msgsize, "out of memory");
		req->ntables = i + 1;
		n = table_pattern_parse(req->tables[i], NULL, 0, &err);
		if (n != 1)
			return fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
						"bad table pattern \"%.64s\": %s", e->str,
						n < 0 ? err : "one pattern per array element");
		(void) table_pattern_parse(req->tables[i], &req->patterns[i], 1, &err);
	}
	return true;
}

bool
client_request_parse(const char *text, size_t len, ClientRequest *req,
					 const char **code, char *msg, size_t msgsize)
{
	const char *err = NULL;
	JsonMini   *root;
	const JsonMini *type,
			   *id;
	bool		ok = false;

	memset(req, 0, sizeof(*req));
	root = json_mini_parse(text, len, &err);
	if (root == NULL)
		return fail(code, CP_ERR_BAD_JSON, msg, msgsize, "invalid JSON: %s", err);
	if (root->type != JM_OBJECT)
	{
		fail(code, CP_ERR_BAD_JSON, msg, msgsize, "a request must be a JSON object");
		goto done;
	}
	id = json_mini_get(root, "id");
	if (id != NULL)
	{
		if ((id->type != JM_STRING && id->type != JM_NUMBER) ||
			id->raw_len > CP_MAX_ID_LEN)
		{
			fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
				 "\"id\" must be a string or number of at most %d bytes",
				 CP_MAX_ID_LEN);
			goto done;
		}
		req->id_json = dup_n(id->raw, id->raw_len);
	}
	type = json_mini_get(root, "type");
	if (type == NULL || type->type != JM_STRING)
	{
		fail(code, CP_ERR_BAD_REQUEST, msg, msgsize, "\"type\" (a string) is required");
		goto done;
	}
	if (strcmp(type->str, "subscribe") == 0)
	{
		const JsonMini *filter = json_mini_get(root, "filter");

		req->type = CREQ_SUBSCRIBE;
		if (!parse_tables(json_mini_get(root, "tables"), req, code, msg, msgsize) ||
			!parse_ops(json_mini_get(root, "ops"), &req->ops, code, msg, msgsize))
			goto done;
		if (filter != NULL && filter->type != JM_NULL)
			req->filter_json = dup_n(filter->raw, filter->raw_len);
		ok = true;
	}
	else if (strcmp(type->str, "unsubscribe") == 0)
	{
		const JsonMini *s = json_mini_get(root, "subscription");

		req->type = CREQ_UNSUBSCRIBE;
		if (s == NULL || s->type != JM_STRING || s->str_len == 0 ||
			s->str_len > 64)
		{
			fail(code, CP_ERR_BAD_REQUEST, msg, msgsize,
				 "\"subscription\" (a subscription id string) is required");
			goto done;
		}
		req->subscription = dup_n(s->str, s->str_len);
		ok = true;
	}
	else if (strcmp(type->str, "ping") == 0)
	{
		req->type = CREQ_PING;
		ok = true;
	}
	else
		fail(code, CP_ERR_UNKNOWN_TYPE, msg, msgsize,
			 "unknown request type \"%.64s\" (subscribe, unsubscribe, ping)",
			 type->str);
done:
	json_mini_free(root);
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

	jb_reserve(b, JSONENC_ESCAPE_BOUND(srclen) + 2);
	if (b->oom)
		return;
	b->data[b->len++] = '"';
	while (srclen > 0)
	{
		size_t		used = jsonenc_escape(b->data + b->len,
										  b->cap - b->len - 2, s, srclen,
										  JSONENC_VALIDATE, &written);

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
cp_reply_ok(const char *id_json, const char *subscription, size_t *len)
{
	JBuf		b;

	jb_start(&b, "ok", id_json);
	if (subscription != NULL)
	{
		jb_str(&b, ",\"subscription\":");
		jb_quoted(&b, subscription);
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
	JBuf		b;

	jb_start(&b, "error", id_json);
	jb_str(&b, ",\"code\":");
	jb_quoted(&b, code);
	jb_str(&b, ",\"message\":");
	jb_quoted(&b, message);
	if (resume_lsn != NULL)
	{
		jb_str(&b, ",\"resume_lsn\":");
		jb_quoted(&b, resume_lsn);
	}
	jb_str(&b, "}");
	return jb_finish(&b, len);
}

char *
cp_heartbeat(uint64_t lsn, size_t *len)
{
	char		buf[JSONENC_LSN_MAXLEN + 1];
	JBuf		b;

	buf[jsonenc_lsn(buf, lsn)] = '\0';
	jb_start(&b, "heartbeat", NULL);
	jb_str(&b, ",\"lsn\":");
	jb_quoted(&b, buf);
	jb_str(&b, "}");
	return jb_finish(&b, len);
}

char *
cp_filter_error(const char *subscription, const char *schema,
				const char *table, const char *message, size_t *len)
{
	JBuf		b;
	char	   *qualified = malloc(strlen(schema) + strlen(table) + 2);

	if (qualified == NULL)
		return NULL;
	sprintf(qualified, "%s.%s", schema, table);
	jb_start(&b, "error", NULL);
	jb_str(&b, ",\"code\":\"" CP_ERR_BAD_FILTER "\",\"subscription\":");
	jb_quoted(&b, subscription);
	jb_str(&b, ",\"table\":");
	jb_quoted(&b, qualified);
	jb_str(&b, ",\"message\":");
	jb_quoted(&b, message);
	jb_str(&b, "}");
	free(qualified);
	return jb_finish(&b, len);
}
