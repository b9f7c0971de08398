/*-------------------------------------------------------------------------
 *
 * message_encode.c
 *	  Encode protocol messages (docs/PROTOCOL.md) in both formats.
 *
 * Both formats share one skeleton: a message is a list of fields.  In the
 * full format it is an object {"op":"I","lsn":...}; in the compact format
 * an array ["I",...] whose positions are fixed, an omitted optional field
 * being null (trailing optional fields are left out).  MsgWriter hides the
 * difference so every message is written once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "json_encode.h"
#include "message_encode.h"

typedef struct MsgWriter
{
	StringInfo	out;
	bool		compact;
} MsgWriter;

static void
mw_start(MsgWriter *w, StringInfo out, const DecoderOptions *opts, char op)
{
	w->out = out;
	w->compact = opts->format == PGSYNC_FORMAT_COMPACT;
	appendStringInfoString(out, w->compact ? "[\"" : "{\"op\":\"");
	appendStringInfoChar(out, op);
	appendStringInfoChar(out, '"');
}

static void
mw_end(MsgWriter *w)
{
	appendStringInfoChar(w->out, w->compact ? ']' : '}');
}

/* Start a field: ",\"key\":" in the full format, "," in the compact one. */
static void
mw_key(MsgWriter *w, const char *key)
{
	if (w->compact)
		appendStringInfoChar(w->out, ',');
	else
	{
		appendStringInfoString(w->out, ",\"");
		appendStringInfoString(w->out, key);
		appendStringInfoString(w->out, "\":");
	}
}

/* An optional field the consumer turned off: null in compact, absent in full. */
static void
mw_omitted(MsgWriter *w)
{
	if (w->compact)
		appendStringInfoString(w->out, ",null");
}

static void
mw_lsn(MsgWriter *w, const char *key, XLogRecPtr lsn, bool include)
{
	if (!include)
		return mw_omitted(w);
	mw_key(w, key);
	json_append_lsn(w->out, lsn);
}

static void
mw_xid(MsgWriter *w, TransactionId xid, bool include)
{
	if (!include)
		return mw_omitted(w);
	mw_key(w, "xid");
	appendStringInfo(w->out, "%u", xid);
}

static void
mw_timestamp(MsgWriter *w, TimestampTz ts, bool include)
{
	if (!include || ts == 0)
		return mw_omitted(w);
	mw_key(w, "ts");
	json_append_timestamptz(w->out, ts);
}

static void
mw_bool(MsgWriter *w, const char *key, bool value)
{
	mw_key(w, key);
	appendStringInfoString(w->out, value ? "true" : "false");
}

void
encode_begin(StringInfo out, const DecoderOptions *opts, TransactionId xid,
			 XLogRecPtr final_lsn, TimestampTz commit_time)
{
	MsgWriter	w;

	mw_start(&w, out, opts, 'B');
	mw_xid(&w, xid, opts->include_xids);
	mw_lsn(&w, "lsn", final_lsn, true);
	mw_timestamp(&w, commit_time, opts->include_timestamps);
	mw_end(&w);
}

void
encode_commit(StringInfo out, const DecoderOptions *opts, TransactionId xid,
			  XLogRecPtr commit_lsn, XLogRecPtr end_lsn,
			  TimestampTz commit_time)
{
	MsgWriter	w;

	mw_start(&w, out, opts, 'C');
	mw_xid(&w, xid, opts->include_xids);
	mw_lsn(&w, "lsn", commit_lsn, true);
	mw_lsn(&w, "end_lsn", end_lsn, true);
	mw_timestamp(&w, commit_time, opts->include_timestamps);
	mw_end(&w);
}

static const char *
identity_name(char replident)
{
	switch (replident)
	{
		case 'd':
			return "default";
		case 'n':
			return "nothing";
		case 'f':
			return "full";
		case 'i':
			return "index";
	}
	return "unknown";
}

void
encode_relation(StringInfo out, const RelationInfo *ri)
{
	int			i;

	appendStringInfo(out, "[\"R\",%u,", ri->relid);
	json_append_cstring(out, ri->schema);
	appendStringInfoChar(out, ',');
	json_append_cstring(out, ri->table);
	appendStringInfoString(out, ",[");
	for (i = 0; i < ri->ncols; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		json_append_cstring(out, ri->cols[i].name);
	}
	appendStringInfoString(out, "],[");
	for (i = 0; i < ri->ncols; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		json_append_cstring(out, ri->cols[i].type_name);
	}
	appendStringInfoString(out, "],[");
	for (i = 0; i < ri->nkeys; i++)
		appendStringInfo(out, "%s%d", i > 0 ? "," : "", ri->key_cols[i]);
	appendStringInfo(out, "],\"%s\"]", identity_name(ri->replident));
}

/* The relation: its oid (compact) or its schema and table (full). */
static void
mw_relation(MsgWriter *w, const DecoderOptions *opts, const RelationInfo *ri)
{
	if (w->compact)
		appendBinaryStringInfo(w->out, ri->relid_fragment,
							   ri->relid_fragment_len);
	else
	{
		appendStringInfoChar(w->out, ',');
		appendStringInfoString(w->out, ri->name_fragment);
		if (opts->include_types)
		{
			appendStringInfoChar(w->out, ',');
			appendStringInfoString(w->out, ri->types_fragment);
		}
	}
}

static inline bool
is_unchanged_toast(Form_pg_attribute att, Datum value, bool isnull)
{
	return !isnull && att->attlen == -1 &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value));
}

/*
 * Write the values of columns cols[idx[0..n)] (all columns if idx is NULL)
 * as an object (full) or positional array (compact).  Unchanged TOAST values
 * are left out of the object, or null in the array, and their column indexes
 * are set in *toast (a bitmap over cols); returns their count.
 */
static int
mw_tuple(MsgWriter *w, const RelationInfo *ri, TupleDesc desc,
		 HeapTuple tuple, const int *idx, int n, bool *toast)
{
	Datum	   *values = ri->values;
	bool	   *nulls = ri->nulls;
	StringInfo	out = w->out;
	bool		first = true;
	int			ntoast = 0;
	int			i;

	Assert(desc->natts == ri->natts);
	memset(toast, 0, sizeof(bool) * ri->ncols);
	heap_deform_tuple(tuple, desc, values, nulls);
	appendStringInfoChar(out, w->compact ? '[' : '{');
	for (i = 0; i < n; i++)
	{
		int			c = idx ? idx[i] : i;
		const ColumnInfo *col = &ri->cols[c];
		Datum		value = values[col->attidx];
		bool		isnull = nulls[col->attidx];

		if (is_unchanged_toast(TupleDescAttr(desc, col->attidx), value, isnull))
		{
			toast[c] = true;
			ntoast++;
			if (!w->compact)
				continue;
			isnull = true;		/* placeholder in the positional array */
		}
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		if (!w->compact)
			appendBinaryStringInfo(out, col->json_key, col->json_key_len);
		if (isnull)
			appendStringInfoString(out, "null");
		else
			value_encode(out, &col->enc, value);
	}
	appendStringInfoChar(out, w->compact ? ']' : '}');
	return ntoast;
}

static void
mw_toast_list(MsgWriter *w, const RelationInfo *ri, const bool *toast)
{
	bool		first = true;
	int			i;

	mw_key(w, "unchanged_toast");
	appendStringInfoChar(w->out, '[');
	for (i = 0; i < ri->ncols; i++)
	{
		if (!toast[i])
			continue;
		if (!first)
			appendStringInfoChar(w->out, ',');
		first = false;
		if (w->compact)
			appendStringInfo(w->out, "%d", i);
		else
			json_append_cstring(w->out, ri->cols[i].name);
	}
	appendStringInfoChar(w->out, ']');
}

void
encode_row_change(StringInfo out, const DecoderOptions *opts,
				  const RelationInfo *ri, TupleDesc desc, char op,
				  XLogRecPtr lsn, HeapTuple newtuple, HeapTuple oldtuple)
{
	MsgWriter	w;
	int			ntoast = 0;

	mw_start(&w, out, opts, op);
	mw_relation(&w, opts, ri);
	mw_lsn(&w, "lsn", lsn, opts->include_lsn);

	if (op != 'D')
	{
		mw_key(&w, "new");
		if (newtuple != NULL)
			ntoast = mw_tuple(&w, ri, desc, newtuple, NULL, ri->ncols, ri->toast);
		else
			appendStringInfoString(out, "null");
	}

	/*
	 * The old key (or row, for REPLICA IDENTITY FULL) when Postgres logged
	 * it.  A delete always has the field, null when nothing was logged; an
	 * update has it only when there is something to say.
	 */
	if (oldtuple != NULL)
	{
		mw_key(&w, "old");
		mw_tuple(&w, ri, desc, oldtuple, ri->key_cols, ri->nkeys, ri->old_toast);
	}
	else if (op == 'D' || (w.compact && ntoast > 0))
	{
		mw_key(&w, "old");
		appendStringInfoString(out, "null");
	}
	if (ntoast > 0)
		mw_toast_list(&w, ri, ri->toast);
	mw_end(&w);
}

void
encode_truncate(StringInfo out, const DecoderOptions *opts, XLogRecPtr lsn,
				RelationInfo **rels, int nrels, bool cascade,
				bool restart_identity)
{
	MsgWriter	w;
	int			i;

	mw_start(&w, out, opts, 'T');
	mw_lsn(&w, "lsn", lsn, opts->include_lsn);
	mw_key(&w, "tables");
	appendStringInfoChar(out, '[');
	for (i = 0; i < nrels; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		if (w.compact)
			appendStringInfo(out, "%u", rels[i]->relid);
		else
		{
			appendStringInfoChar(out, '{');
			appendStringInfoString(out, rels[i]->name_fragment);
			appendStringInfoChar(out, '}');
		}
	}
	appendStringInfoChar(out, ']');
	mw_bool(&w, "cascade", cascade);
	mw_bool(&w, "restart_identity", restart_identity);
	mw_end(&w);
}

/*
 * Content is a JSON string when it is text in the database encoding (valid,
 * no NUL byte); otherwise it is given in hex in "content_hex", never mangled.
 */
void
encode_logical_message(StringInfo out, const DecoderOptions *opts,
					   XLogRecPtr lsn, bool transactional, const char *prefix,
					   Size size, const char *content)
{
	MsgWriter	w;
	bool		is_text;

	if (GetDatabaseEncoding() == PG_SQL_ASCII)
		is_text = jsonenc_is_clean_utf8(content, size);
	else
		is_text = memchr(content, '\0', size) == NULL &&
			pg_verifymbstr(content, (int) size, true);

	mw_start(&w, out, opts, 'M');
	mw_lsn(&w, "lsn", lsn, opts->include_lsn);
	mw_bool(&w, "transactional", transactional);
	mw_key(&w, "prefix");
	json_append_cstring(out, prefix);
	if (is_text)
	{
		mw_key(&w, "content");
		json_append_string(out, content, size);
	}
	else
	{
		if (w.compact)
			appendStringInfoString(out, ",null");
		mw_key(&w, "content_hex");
		enlargeStringInfo(out, (int) (2 * size + 2));
		out->data[out->len++] = '"';
		out->len += (int) jsonenc_hex(out->data + out->len,
									  (const unsigned char *) content, size);
		out->data[out->len++] = '"';
		out->data[out->len] = '\0';
	}
	mw_end(&w);
}
