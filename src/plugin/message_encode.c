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
 * Values too large to send: each value (and a logical message's prefix and
 * content) goes in only if its JSON takes at most max-value-bytes and the
 * message with it stays within PGSYNC_MESSAGE_VALUES_MAX; otherwise it is
 * left out (absent in the full format, null in the compact one) and
 * listed with the size its JSON would have had under "oversized".  So a
 * row a user can write never makes a message the server cannot build.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "json/json_encode.h"
#include "plugin/message_encode.h"

typedef struct MsgWriter
{
	StringInfo	out;
	bool		compact;
	int64		max_value;		/* max-value-bytes */
} MsgWriter;

static void
mw_start(MsgWriter *w, StringInfo out, const DecoderOptions *opts, char op)
{
	w->out = out;
	w->compact = opts->format == PGSYNC_FORMAT_COMPACT;
	w->max_value = opts->max_value_bytes;
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

/* How many bytes of JSON the next value may take. */
static int64
mw_room(const MsgWriter *w)
{
	int64		left = (int64) PGSYNC_MESSAGE_VALUES_MAX - w->out->len;

	return Min(w->max_value, Max(left, 0));
}

/*
 * A value written after mark (its key or separator included) was left out:
 * remove its key in the full format, put null in its place in the compact
 * one.
 */
static void
mw_left_out(MsgWriter *w, int mark)
{
	if (w->compact)
		appendStringInfoString(w->out, "null");
	else
	{
		w->out->len = mark;
		w->out->data[mark] = '\0';
	}
}

/* key: s as a JSON string if it fits; false and *size if left out. */
static bool
mw_string_field(MsgWriter *w, const char *key, const char *s, size_t len,
				int64 *size)
{
	int			mark = w->out->len;

	mw_key(w, key);
	if (json_append_string_limited(w->out, s, len, mw_room(w), size))
		return true;
	mw_left_out(w, mark);
	return false;
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

void
encode_stream_control(StringInfo out, const DecoderOptions *opts, char op,
					  TransactionId xid, TransactionId subxid)
{
	MsgWriter	w;

	mw_start(&w, out, opts, op);
	mw_xid(&w, xid, true);
	if (op == 'x' || op == 'a')
	{
		mw_key(&w, "subxid");
		appendStringInfo(w.out, "%u", subxid);
	}
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
	appendStringInfo(out, "[\"R\",%u,", ri->relid);
	json_append_cstring(out, ri->schema);
	appendStringInfoChar(out, ',');
	json_append_cstring(out, ri->table);
	appendStringInfoChar(out, ',');
	encode_column_description(out, ri, false);
	appendStringInfo(out, ",\"%s\"]", identity_name(ri->replident));
}

void
encode_column_description(StringInfo out, const RelationInfo *ri, bool named)
{
	int			i;

	appendStringInfoString(out, named ? "\"columns\":[" : "[");
	for (i = 0; i < ri->ncols; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		json_append_cstring(out, ri->cols[i].name);
	}
	appendStringInfoString(out, named ? "],\"types\":[" : "],[");
	for (i = 0; i < ri->ncols; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		json_append_cstring(out, ri->cols[i].type_name);
	}
	appendStringInfoString(out, named ? "],\"key\":[" : "],[");
	for (i = 0; i < ri->nkeys; i++)
		appendStringInfo(out, "%s%d", i > 0 ? "," : "", ri->key_cols[i]);
	appendStringInfoChar(out, ']');
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

/* What mw_tuple() found in a row: values not sent, and why. */
typedef struct TupleMarks
{
	bool	   *toast;			/* [ncols]: unchanged TOAST */
	int64	   *oversized;		/* [ncols]: JSON size of a value too large */
	int			ntoast;
	int			noversized;
} TupleMarks;

/*
 * Write the values of columns cols[idx[0..n)] (all columns if idx is NULL)
 * as an object (full) or positional array (compact).  Unchanged TOAST
 * values and values too large to send are left out of the object, or null
 * in the array, and recorded in *marks (arrays over cols).
 */
static void
mw_tuple(MsgWriter *w, const RelationInfo *ri, TupleDesc desc,
		 HeapTuple tuple, const int *idx, int n, TupleMarks *marks)
{
	Datum	   *values = ri->values;
	bool	   *nulls = ri->nulls;
	StringInfo	out = w->out;
	bool		first = true;
	int			i;

	Assert(desc->natts == ri->natts);
	memset(marks->toast, 0, sizeof(bool) * ri->ncols);
	memset(marks->oversized, 0, sizeof(int64) * ri->ncols);
	marks->ntoast = 0;
	marks->noversized = 0;
	heap_deform_tuple(tuple, desc, values, nulls);
	appendStringInfoChar(out, w->compact ? '[' : '{');
	for (i = 0; i < n; i++)
	{
		int			c = idx ? idx[i] : i;
		const ColumnInfo *col = &ri->cols[c];
		Datum		value = values[col->attidx];
		bool		isnull = nulls[col->attidx];
		int			mark = out->len;
		int64		size;

		if (is_unchanged_toast(TupleDescAttr(desc, col->attidx), value, isnull))
		{
			marks->toast[c] = true;
			marks->ntoast++;
			if (!w->compact)
				continue;
			isnull = true;		/* placeholder in the positional array */
		}
		if (!first)
			appendStringInfoChar(out, ',');
		if (!w->compact)
			appendBinaryStringInfo(out, col->json_key, col->json_key_len);
		if (isnull)
			appendStringInfoString(out, "null");
		else if (!value_encode_limited(out, &col->enc, value, mw_room(w), &size))
		{
			marks->oversized[c] = Max(size, 1);
			marks->noversized++;
			mw_left_out(w, mark);
			if (!w->compact)
				continue;
		}
		first = false;
	}
	appendStringInfoChar(out, w->compact ? ']' : '}');
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

/*
 * The values of one row left out as too large: [[column index, bytes],...]
 * in the compact format, {"column name":bytes,...} in the full one.
 */
static void
mw_oversized_row(MsgWriter *w, const RelationInfo *ri, const int64 *sizes)
{
	bool		first = true;
	int			i;

	appendStringInfoChar(w->out, w->compact ? '[' : '{');
	for (i = 0; i < ri->ncols; i++)
	{
		if (sizes[i] == 0)
			continue;
		if (!first)
			appendStringInfoChar(w->out, ',');
		first = false;
		if (w->compact)
			appendStringInfo(w->out, "[%d," INT64_FORMAT "]", i, sizes[i]);
		else
		{
			appendBinaryStringInfo(w->out, ri->cols[i].json_key,
								   ri->cols[i].json_key_len);
			appendStringInfo(w->out, INT64_FORMAT, sizes[i]);
		}
	}
	appendStringInfoChar(w->out, w->compact ? ']' : '}');
}

/*
 * The trailing positions of a compact change after its rows: 4 old (I, U),
 * 5 unchanged TOAST, 6 the new row's oversized values, 7 the old row's;
 * a position before the last one present is null when empty.  A delete's
 * old row is at 3, so its 4 to 6 are null.
 */
static void
compact_tail(MsgWriter *w, const RelationInfo *ri, char op, bool old_written,
			 const TupleMarks *newm, const TupleMarks *oldm)
{
	int			last = 3;

	if (oldm->noversized > 0)
		last = 7;
	else if (newm->noversized > 0)
		last = 6;
	else if (newm->ntoast > 0)
		last = 5;
	else if (old_written && op != 'D')
		last = 4;

	/* position 4: an I or U without old row, and always in a D */
	if (last >= 5 && (op == 'D' || !old_written))
		appendStringInfoString(w->out, ",null");
	if (last >= 5)
	{
		if (newm->ntoast > 0)
			mw_toast_list(w, ri, newm->toast);
		else
			appendStringInfoString(w->out, ",null");
	}
	if (last >= 6)
	{
		appendStringInfoChar(w->out, ',');
		if (newm->noversized > 0)
			mw_oversized_row(w, ri, newm->oversized);
		else
			appendStringInfoString(w->out, "null");
	}
	if (last >= 7)
	{
		appendStringInfoChar(w->out, ',');
		mw_oversized_row(w, ri, oldm->oversized);
	}
}

void
encode_row_change(StringInfo out, const DecoderOptions *opts,
				  const RelationInfo *ri, TupleDesc desc, char op,
				  XLogRecPtr lsn, HeapTuple newtuple, HeapTuple oldtuple)
{
	MsgWriter	w;
	TupleMarks	newm = {ri->toast, ri->oversized, 0, 0};
	TupleMarks	oldm = {ri->old_toast, ri->old_oversized, 0, 0};

	mw_start(&w, out, opts, op);
	mw_relation(&w, opts, ri);
	mw_lsn(&w, "lsn", lsn, opts->include_lsn);

	if (op != 'D')
	{
		mw_key(&w, "new");
		if (newtuple != NULL)
			mw_tuple(&w, ri, desc, newtuple, NULL, ri->ncols, &newm);
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
		mw_tuple(&w, ri, desc, oldtuple, ri->key_cols, ri->nkeys, &oldm);
	}
	else if (op == 'D')
	{
		mw_key(&w, "old");
		appendStringInfoString(out, "null");
	}

	if (w.compact)
		compact_tail(&w, ri, op, oldtuple != NULL, &newm, &oldm);
	else
	{
		if (newm.ntoast > 0)
			mw_toast_list(&w, ri, newm.toast);
		if (newm.noversized > 0 || oldm.noversized > 0)
		{
			bool		both = newm.noversized > 0 && oldm.noversized > 0;

			appendStringInfoString(out, ",\"oversized\":{");
			if (newm.noversized > 0)
			{
				appendStringInfoString(out, "\"new\":");
				mw_oversized_row(&w, ri, newm.oversized);
			}
			if (oldm.noversized > 0)
			{
				appendStringInfoString(out, both ? ",\"old\":" : "\"old\":");
				mw_oversized_row(&w, ri, oldm.oversized);
			}
			appendStringInfoChar(out, '}');
		}
	}
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
 * A prefix or content too large to send is left out and its size given in
 * "oversized" (compact: position 6, after content and content_hex).
 */
void
encode_logical_message(StringInfo out, const DecoderOptions *opts,
					   XLogRecPtr lsn, bool transactional, const char *prefix,
					   Size size, const char *content)
{
	MsgWriter	w;
	bool		is_text;
	int64		prefix_size = 0;
	int64		content_size = 0;
	bool		prefix_sent;
	bool		content_sent;

	if (GetDatabaseEncoding() == PG_SQL_ASCII)
		is_text = json_is_clean_utf8(content, size);
	else
		is_text = memchr(content, '\0', size) == NULL &&
			pg_verifymbstr(content, (int) size, true);

	mw_start(&w, out, opts, 'M');
	mw_lsn(&w, "lsn", lsn, opts->include_lsn);
	mw_bool(&w, "transactional", transactional);
	prefix_sent = mw_string_field(&w, "prefix", prefix, strlen(prefix),
								  &prefix_size);
	if (is_text)
		content_sent = mw_string_field(&w, "content", content, size,
									   &content_size);
	else
	{
		content_size = 2 * (int64) size + 2;
		content_sent = content_size <= mw_room(&w);
		if (w.compact)
			appendStringInfoString(out, ",null");
		if (content_sent)
		{
			mw_key(&w, "content_hex");
			enlargeStringInfo(out, (int) (2 * size + 2));
			out->data[out->len++] = '"';
			out->len += (int) json_hex(out->data + out->len,
									   (const unsigned char *) content, size);
			out->data[out->len++] = '"';
			out->data[out->len] = '\0';
		}
	}
	if (!prefix_sent || !content_sent)
	{
		/* compact: content_hex's position 5, unless the hex was written */
		if (w.compact && (is_text || !content_sent))
			appendStringInfoString(out, ",null");
		mw_key(&w, "oversized");
		appendStringInfoChar(out, '{');
		if (!prefix_sent)
			appendStringInfo(out, "\"prefix\":" INT64_FORMAT, prefix_size);
		if (!content_sent)
			appendStringInfo(out, "%s\"content\":" INT64_FORMAT,
							 prefix_sent ? "" : ",", content_size);
		appendStringInfoChar(out, '}');
	}
	mw_end(&w);
}
