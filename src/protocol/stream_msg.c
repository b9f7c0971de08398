/*-------------------------------------------------------------------------
 *
 * stream_msg.c
 *	  Pure classification of the output plugin's compact messages.
 *
 * Row changes are by far the most frequent: their kind and relation oid
 * are read with a few byte comparisons.  Relation and truncate messages
 * are rare and parsed fully with json_value.h, into an arena sized for
 * the message and freed before returning (names are copied out).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "json/json_value.h"
#include "protocol/stream_msg.h"

static bool
parse_oid(const char *p, const char *end, uint32_t *out)
{
	uint64_t	v = 0;
	const char *s = p;

	while (p < end && *p >= '0' && *p <= '9')
	{
		v = v * 10 + (uint64_t) (*p - '0');
		if (v > 0xFFFFFFFFu)
			return false;
		p++;
	}
	if (p == s || p >= end || (*p != ',' && *p != ']'))
		return false;
	*out = (uint32_t) v;
	return true;
}

/* A relation oid: a non-negative integer below 2^32. */
static bool
json_oid(const JsonValue *v, uint32_t *out)
{
	if (v == NULL || v->kind != JSON_NUMBER || !(v->flags & JSON_NUM_INTEGER) ||
		v->num < 0 || v->num > 4294967295.0)
		return false;
	*out = (uint32_t) v->num;
	return true;
}

/* A string without NUL bytes, copied. */
static char *
json_strdup(const JsonValue *v)
{
	char	   *r;

	if (v == NULL || v->kind != JSON_STRING ||
		memchr(v->u.str, '\0', v->len) != NULL || (r = malloc(v->len + 1)) == NULL)
		return NULL;
	memcpy(r, v->u.str, v->len);
	r[v->len] = '\0';
	return r;
}

static bool
classify_full(const char *data, size_t len, StreamMsgInfo *info)
{
	JsonDoc    *doc = json_doc_create(len, (uint32_t) (len / 2 + 2),
									  JSON_DEFAULT_MAX_DEPTH);
	const JsonValue *root = doc ? json_parse(doc, data, len, NULL) : NULL;
	bool		ok = false;

	if (root == NULL || root->kind != JSON_ARRAY || root->len < 2)
		goto done;
	if (info->op == 'R')
	{
		/* ["R", relid, schema, table, ...] */
		if (!json_oid(json_array_get(root, 1), &info->relid))
			goto done;
		info->schema = json_strdup(json_array_get(root, 2));
		info->table = json_strdup(json_array_get(root, 3));
		ok = info->schema != NULL && info->table != NULL;
	}
	else
	{
		/* ["T", lsn, [relids], ...] */
		const JsonValue *arr = json_array_get(root, 2);

		if (arr == NULL || arr->kind != JSON_ARRAY)
			goto done;
		info->relids = malloc(sizeof(uint32_t) * (arr->len > 0 ? arr->len : 1));
		if (info->relids == NULL)
			goto done;
		for (uint32_t i = 0; i < arr->len; i++)
			if (!json_oid(json_array_get(arr, i), &info->relids[i]))
				goto done;
		info->nrelids = (int) arr->len;
		ok = true;
	}
done:
	json_doc_free(doc);
	return ok;
}

bool
stream_msg_classify(const char *data, size_t len, StreamMsgInfo *info)
{
	const char *end = data + len;

	memset(info, 0, sizeof(*info));
	if (len < 5 || data[0] != '[' || data[1] != '"' || data[3] != '"')
		return false;
	info->op = data[2];
	switch (info->op)
	{
		case 'B':
		case 'C':
		case 'M':
			return true;
		case 'I':
		case 'U':
		case 'D':
			if (data[4] != ',')
				return false;
			return parse_oid(data + 5, end, &info->relid);
		case 'R':
		case 'T':
			if (!classify_full(data, len, info))
			{
				stream_msg_info_free(info);
				return false;
			}
			return true;
		default:
			return false;
	}
}

void
stream_msg_info_free(StreamMsgInfo *info)
{
	free(info->relids);
	free(info->schema);
	free(info->table);
	info->relids = NULL;
	info->schema = info->table = NULL;
	info->nrelids = 0;
}
