/*-------------------------------------------------------------------------
 *
 * stream_msg.c
 *	  Pure classification of the output plugin's compact messages.
 *
 * Row changes are by far the most frequent: their kind and relation oid
 * are read with a few byte comparisons.  Relation and truncate messages
 * are rare and parsed fully with json_mini.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "json_mini.h"
#include "stream_msg.h"

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

static bool
classify_full(const char *data, size_t len, StreamMsgInfo *info)
{
	const char *err;
	JsonMini   *root = json_mini_parse(data, len, &err);
	const JsonMini *e;
	bool		ok = false;

	if (root == NULL || root->type != JM_ARRAY || root->count < 2)
		goto done;
	e = root->child->next;		/* after the op */
	if (info->op == 'R')
	{
		const JsonMini *s,
				   *t;

		if (e->type != JM_NUMBER || e->number < 0 || e->number > 4294967295.0)
			goto done;
		info->relid = (uint32_t) e->number;
		s = e->next;
		t = s ? s->next : NULL;
		if (s == NULL || t == NULL || s->type != JM_STRING ||
			t->type != JM_STRING)
			goto done;
		info->schema = strdup(s->str);
		info->table = strdup(t->str);
		ok = info->schema != NULL && info->table != NULL;
	}
	else
	{
		/* ["T", lsn, [relids], ...] */
		const JsonMini *arr = e->next;
		const JsonMini *c;
		int			i = 0;

		if (arr == NULL || arr->type != JM_ARRAY)
			goto done;
		info->relids = malloc(sizeof(uint32_t) * (arr->count > 0 ? arr->count : 1));
		if (info->relids == NULL)
			goto done;
		for (c = arr->child; c != NULL; c = c->next)
		{
			if (c->type != JM_NUMBER || c->number < 0)
				goto done;
			info->relids[i++] = (uint32_t) c->number;
		}
		info->nrelids = i;
		ok = true;
	}
done:
	json_mini_free(root);
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
