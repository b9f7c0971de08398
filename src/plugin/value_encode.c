/*-------------------------------------------------------------------------
 *
 * value_encode.c
 *	  Datum to JSON value, and JSON text helpers over StringInfo.
 *
 * Output is valid JSON whatever the data: every string goes through
 * json_escape(); numbers are written only when the type guarantees a
 * JSON number (NaN and infinities become strings); json/jsonb are already
 * JSON text.  In a UTF8 database text passes through as UTF-8; in any other
 * database it is converted to UTF-8 and written 7-bit clean (\uXXXX), so the
 * output is valid in every client encoding.
 *
 * NOTES
 *	A value is written through a ValueSink with a size limit: the JSON of
 *	one value may expand its stored form up to six times (a control
 *	character becomes \u0001), so a value PostgreSQL stores without
 *	trouble could make a message pass the 1 GB allocation limit.  The sink
 *	writes into the message while the value stays within the limit; once
 *	it would pass it, what was written is removed and the rest of the value
 *	is only counted, so the caller learns the exact size of the JSON it did
 *	not send (docs/PROTOCOL.md, "Values too large to send").  Strings are
 *	counted before they are written (json_escaped_length), so a large
 *	string is never escaped just to be thrown away; arrays are walked with
 *	an iterator rather than deconstructed into one Datum array.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "json/json_encode.h"
#include "plugin/value_encode.h"

static JsonTextMode text_mode;

/* Text is escaped (and converted) in steps of this many input bytes. */
#define ESCAPE_STEP 65536

/*
 * A type written by its output function is not run through it when the
 * value is larger than this in storage: the function builds its text in
 * one piece, which for a large value could itself pass the 1 GB limit.
 */
#define OUTPUT_FUNCTION_MAX_RAW ((Size) 256 * 1024 * 1024)

/* Where one value's JSON goes: see the file header. */
typedef struct ValueSink
{
	StringInfo	out;
	int			start;			/* out->len where the value began */
	int64		limit;			/* most bytes the value may take */
	int64		size;			/* bytes of its JSON so far */
	bool		over;			/* passed limit: rolled back, counting */
} ValueSink;

static void vs_value(ValueSink *vs, const ValueEncoder *enc, Datum value);

void
value_encode_init(bool numeric_as_number)
{
	int			enc = GetDatabaseEncoding();

	text_mode.numeric_as_number = numeric_as_number;
	if (enc == PG_UTF8)
	{
		text_mode.escape_flags = 0;
		text_mode.convert_to_utf8 = false;
	}
	else if (enc == PG_SQL_ASCII)
	{
		/* bytes of unknown encoding: keep valid UTF-8, replace the rest */
		text_mode.escape_flags = JSON_ASCII_ONLY | JSON_VALIDATE;
		text_mode.convert_to_utf8 = false;
	}
	else
	{
		text_mode.escape_flags = JSON_ASCII_ONLY;
		text_mode.convert_to_utf8 = true;
	}
}

/* Escape s[0..len), UTF-8 already, into out in bounded steps. */
static void
escape_utf8_into(StringInfo out, const char *s, size_t len, int flags)
{
	while (len > 0)
	{
		size_t		step = Min(len, (size_t) ESCAPE_STEP);
		size_t		used,
					written;

		enlargeStringInfo(out, (int) JSON_ESCAPE_BOUND(step));
		used = json_escape(out->data + out->len,
						   (size_t) (out->maxlen - out->len - 1),
						   s, len, flags, &written);
		out->len += (int) written;
		s += used;
		len -= used;
	}
	out->data[out->len] = '\0';
}

/*
 * Escape server-encoded text s with the given flags into out, or, when out
 * is NULL, only count the bytes that would be written; returns that count.
 * In a database that is not UTF-8 the text is converted step by step at
 * character boundaries, so a huge value never needs a converted copy (up
 * to four times its size) in one piece.
 */
static size_t
escape_text(StringInfo out, const char *s, size_t len, int flags)
{
	size_t		total = 0;

	if (!text_mode.convert_to_utf8)
	{
		int			before;

		if (out == NULL)
			return json_escaped_length(s, len, flags);
		before = out->len;
		escape_utf8_into(out, s, len, flags);
		return (size_t) (out->len - before);
	}
	while (len > 0)
	{
		int			step = pg_mbcliplen(s, (int) Min(len, (size_t) INT_MAX),
										ESCAPE_STEP);
		char	   *conv;
		size_t		clen;

		if (step <= 0)			/* cannot happen: no character is that long */
			step = (int) Min(len, (size_t) ESCAPE_STEP);
		conv = pg_server_to_any(s, step, PG_UTF8);
		clen = conv != s ? strlen(conv) : (size_t) step;
		if (out != NULL)
		{
			int			before = out->len;

			escape_utf8_into(out, conv, clen, flags);
			total += (size_t) (out->len - before);
		}
		else
			total += json_escaped_length(conv, clen, flags);
		if (conv != s)
			pfree(conv);
		s += step;
		len -= step;
	}
	if (out != NULL)
		out->data[out->len] = '\0';
	return total;
}

static void
append_escaped_flags(StringInfo out, const char *s, size_t len, int flags)
{
	escape_text(out, s, len, flags);
}

/*
 * The ValueSink: n more bytes of JSON.  true if they may be written (the
 * caller writes them); false once the value is over its limit, which rolls
 * out back to where the value began.
 */
static void
vs_roll_back(ValueSink *vs)
{
	vs->over = true;
	vs->out->len = vs->start;
	vs->out->data[vs->start] = '\0';
}

static bool
vs_reserve(ValueSink *vs, int64 n)
{
	vs->size += n;
	if (vs->over)
		return false;
	if (vs->size <= vs->limit)
		return true;
	vs_roll_back(vs);
	return false;
}

/* The value is over its limit whatever follows; n more bytes counted. */
static void
vs_give_up(ValueSink *vs, int64 n)
{
	vs->size += n;
	if (!vs->over)
		vs_roll_back(vs);
}

static void
vs_append(ValueSink *vs, const char *s, int n)
{
	if (vs_reserve(vs, n))
		appendBinaryStringInfo(vs->out, s, n);
}

static void
vs_char(ValueSink *vs, char c)
{
	if (vs_reserve(vs, 1))
		appendStringInfoCharMacro(vs->out, c);
}

static void
vs_cstring(ValueSink *vs, const char *s)
{
	vs_append(vs, s, (int) strlen(s));
}

/*
 * Escaped text: written at once when even six bytes per input byte fit,
 * otherwise counted first and written only if it fits.
 */
static void
vs_escaped(ValueSink *vs, const char *s, size_t len, int flags)
{
	if (!vs->over && vs->size + 6 * (int64) len <= vs->limit)
		vs->size += (int64) escape_text(vs->out, s, len, flags);
	else if (vs_reserve(vs, (int64) escape_text(NULL, s, len, flags)))
		escape_text(vs->out, s, len, flags);
}

static void
vs_string(ValueSink *vs, const char *s, size_t len)
{
	vs_char(vs, '"');
	vs_escaped(vs, s, len, text_mode.escape_flags);
	vs_char(vs, '"');
}

void
json_append_escaped(StringInfo out, const char *s, size_t len)
{
	append_escaped_flags(out, s, len, text_mode.escape_flags);
}

void
json_append_string(StringInfo out, const char *s, size_t len)
{
	appendStringInfoCharMacro(out, '"');
	append_escaped_flags(out, s, len, text_mode.escape_flags);
	appendStringInfoCharMacro(out, '"');
}

void
json_append_cstring(StringInfo out, const char *s)
{
	json_append_string(out, s, strlen(s));
}

void
json_append_lsn(StringInfo out, uint64 lsn)
{
	enlargeStringInfo(out, JSON_LSN_MAXLEN + 2);
	out->data[out->len++] = '"';
	out->len += (int) json_lsn(out->data + out->len, lsn);
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
}

/* A JSON number or, for NaN and infinities, a JSON string. */
static void
vs_float8(ValueSink *vs, double v, bool is_float4)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(v))
		vs_cstring(vs, "\"NaN\"");
	else if (isinf(v))
		vs_cstring(vs, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
	{
		int			n = is_float4 ?
			float_to_shortest_decimal_bufn((float) v, buf) :
			double_to_shortest_decimal_bufn(v, buf);

		vs_append(vs, buf, n);
	}
}

/* A timestamptz as a quoted ISO 8601 UTC string into buf; returns length. */
static int
timestamptz_json(char *buf, TimestampTz ts)
{
	int			utc = 0;
	size_t		len;

	buf[0] = '"';
	JsonEncodeDateTime(buf + 1, TimestampTzGetDatum(ts), TIMESTAMPTZOID, &utc);
	len = strlen(buf);
	/* "...+00:00" is written "...Z": shorter, and the same instant */
	if (len > 7 && strcmp(buf + len - 6, "+00:00") == 0)
	{
		buf[len - 6] = 'Z';
		len -= 5;
	}
	buf[len++] = '"';
	buf[len] = '\0';
	return (int) len;
}

void
json_append_timestamptz(StringInfo out, TimestampTz ts)
{
	char		buf[MAXDATELEN + 3];
	int			len = timestamptz_json(buf, ts);

	appendBinaryStringInfo(out, buf, len);
}

/* "\\x" and lowercase hex: its size is known before a byte is written. */
static void
vs_bytea(ValueSink *vs, Datum value)
{
	bytea	   *b = DatumGetByteaPP(value);
	size_t		len = VARSIZE_ANY_EXHDR(b);
	StringInfo	out = vs->out;

	if (!vs_reserve(vs, 2 * (int64) len + 5))
		return;
	enlargeStringInfo(out, (int) (2 * len + 6));
	memcpy(out->data + out->len, "\"\\\\x", 4);
	out->len += 4;
	out->len += (int) json_hex(out->data + out->len,
							   (const unsigned char *) VARDATA_ANY(b), len);
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
}

/* At most about 150 kB whatever the value: written, then measured. */
static void
vs_numeric(ValueSink *vs, const ValueEncoder *enc, Datum value)
{
	char	   *s = OutputFunctionCall((FmgrInfo *) &enc->outfn, value);
	bool		finite = (s[0] >= '0' && s[0] <= '9') ||
		(s[0] == '-' && s[1] >= '0' && s[1] <= '9');

	if (finite && text_mode.numeric_as_number)
		vs_cstring(vs, s);
	else
	{
		vs_char(vs, '"');
		vs_cstring(vs, s);
		vs_char(vs, '"');
	}
	pfree(s);
}

/* Write one dimension of an array, recursing into inner dimensions. */
static void
vs_array_dim(ValueSink *vs, const ValueEncoder *elem, int dim, int ndim,
			 const int *dims, ArrayIterator it)
{
	int			i;

	vs_char(vs, '[');
	for (i = 0; i < dims[dim]; i++)
	{
		if (i > 0)
			vs_char(vs, ',');
		if (dim + 1 < ndim)
			vs_array_dim(vs, elem, dim + 1, ndim, dims, it);
		else
		{
			Datum		v;
			bool		isnull;

			if (!array_iterate(it, &v, &isnull))
				elog(ERROR, "pgsync: array has fewer elements than its dimensions");
			if (isnull)
				vs_cstring(vs, "null");
			else
				vs_value(vs, elem, v);
		}
	}
	vs_char(vs, ']');
}

/*
 * Elements are read one at a time: deconstructing a large array into one
 * Datum array could itself pass the allocation limit (8 bytes per element
 * of an int4[] of 800 MB is 1.6 GB).
 */
static void
vs_array(ValueSink *vs, const ValueEncoder *enc, Datum value)
{
	ArrayType  *arr = DatumGetArrayTypeP(value);
	ArrayMetaState meta;
	ArrayIterator it;

	if (ARR_NDIM(arr) == 0)
	{
		vs_cstring(vs, "[]");
		return;
	}
	memset(&meta, 0, sizeof(meta));
	meta.element_type = enc->elemtype;
	meta.typlen = enc->elmlen;
	meta.typbyval = enc->elmbyval;
	meta.typalign = enc->elmalign;
	it = array_create_iterator(arr, 0, &meta);
	vs_array_dim(vs, enc->elem, 0, ARR_NDIM(arr), ARR_DIMS(arr), it);
	array_free_iterator(it);
}

/* Types without a fast path: their output function, as a JSON string. */
static void
vs_output_string(ValueSink *vs, const ValueEncoder *enc, Datum value)
{
	char	   *s;

	if (enc->typlen == -1 && !vs->over)
	{
		Size		raw = toast_raw_datum_size(value);

		if (raw > OUTPUT_FUNCTION_MAX_RAW)
		{
			/* not run through the output function: counted by its size */
			vs_give_up(vs, (int64) raw);
			return;
		}
	}
	s = OutputFunctionCall((FmgrInfo *) &enc->outfn, value);
	vs_string(vs, s, strlen(s));
	pfree(s);
}

/*
 * Write a jsonb value as compact JSON (no spaces after ':' and ','), walking
 * its binary form directly: smaller than jsonb_out's text and no detour
 * through an intermediate string.
 */
static void
vs_jsonb(ValueSink *vs, Datum value)
{
	Jsonb	   *jb = DatumGetJsonbP(value);
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbIteratorToken tok;
	JsonbValue	v;
	bool		need_comma = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (need_comma)
					vs_char(vs, ',');
				need_comma = false;
				/* a top-level scalar is stored as a one-element raw array */
				if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
					break;
				vs_char(vs, tok == WJB_BEGIN_OBJECT ? '{' : '[');
				break;
			case WJB_END_OBJECT:
				vs_char(vs, '}');
				need_comma = true;
				break;
			case WJB_END_ARRAY:
				if (!JB_ROOT_IS_SCALAR(jb))
					vs_char(vs, ']');
				need_comma = true;
				break;
			case WJB_KEY:
				if (need_comma)
					vs_char(vs, ',');
				vs_string(vs, v.val.string.val, v.val.string.len);
				vs_char(vs, ':');
				need_comma = false;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (need_comma)
					vs_char(vs, ',');
				switch (v.type)
				{
					case jbvNull:
						vs_cstring(vs, "null");
						break;
					case jbvBool:
						vs_cstring(vs, v.val.boolean ? "true" : "false");
						break;
					case jbvString:
						vs_string(vs, v.val.string.val, v.val.string.len);
						break;
					case jbvNumeric:
						{
							char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																				NumericGetDatum(v.val.numeric)));

							vs_cstring(vs, s);
							pfree(s);
						}
						break;
					default:
						elog(ERROR, "pgsync: unexpected jsonb value type %d", (int) v.type);
				}
				need_comma = true;
				break;
			default:
				break;
		}
	}
}

static void
vs_value(ValueSink *vs, const ValueEncoder *enc, Datum value)
{
	char		buf[MAXDATELEN + 3];
	int			n;

	switch (enc->kind)
	{
		case VK_INT2:
			n = pg_ltoa(DatumGetInt16(value), buf);
			vs_append(vs, buf, n);
			break;
		case VK_INT4:
			n = pg_ltoa(DatumGetInt32(value), buf);
			vs_append(vs, buf, n);
			break;
		case VK_INT8:
			n = pg_lltoa(DatumGetInt64(value), buf);
			vs_append(vs, buf, n);
			break;
		case VK_OID:
			n = pg_ultoa_n(DatumGetObjectId(value), buf);
			vs_append(vs, buf, n);
			break;
		case VK_FLOAT4:
			vs_float8(vs, DatumGetFloat4(value), true);
			break;
		case VK_FLOAT8:
			vs_float8(vs, DatumGetFloat8(value), false);
			break;
		case VK_NUMERIC:
			vs_numeric(vs, enc, value);
			break;
		case VK_BOOL:
			vs_cstring(vs, DatumGetBool(value) ? "true" : "false");
			break;
		case VK_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				vs_string(vs, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				if ((Pointer) t != DatumGetPointer(value))
					pfree(t);
			}
			break;
		case VK_NAME:
			{
				const char *name = NameStr(*DatumGetName(value));

				vs_string(vs, name, strlen(name));
			}
			break;
		case VK_BYTEA:
			vs_bytea(vs, value);
			break;
		case VK_JSON:
			{
				/* JSON text already: see JSON_RAW */
				text	   *t = DatumGetTextPP(value);

				vs_escaped(vs, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
						   text_mode.escape_flags | JSON_RAW);
				if ((Pointer) t != DatumGetPointer(value))
					pfree(t);
			}
			break;
		case VK_JSONB:
			vs_jsonb(vs, value);
			break;
		case VK_TIMESTAMPTZ:
			n = timestamptz_json(buf, DatumGetTimestampTz(value));
			vs_append(vs, buf, n);
			break;
		case VK_DATETIME:
			buf[0] = '"';
			JsonEncodeDateTime(buf + 1, value, enc->typid, NULL);
			n = (int) strlen(buf);
			buf[n++] = '"';
			vs_append(vs, buf, n);
			break;
		case VK_ARRAY:
			vs_array(vs, enc, value);
			break;
		case VK_OTHER:
			vs_output_string(vs, enc, value);
			break;
	}
}

static void
vs_init(ValueSink *vs, StringInfo out, int64 limit)
{
	vs->out = out;
	vs->start = out->len;
	vs->limit = Max(limit, 0);
	vs->size = 0;
	vs->over = false;
}

bool
value_encode_limited(StringInfo out, const ValueEncoder *enc, Datum value,
					 int64 limit, int64 *size)
{
	ValueSink	vs;

	vs_init(&vs, out, limit);
	vs_value(&vs, enc, value);
	*size = vs.size;
	return !vs.over;
}

bool
json_append_string_limited(StringInfo out, const char *s, size_t len,
						   int64 limit, int64 *size)
{
	ValueSink	vs;

	vs_init(&vs, out, limit);
	vs_string(&vs, s, len);
	*size = vs.size;
	return !vs.over;
}

static ValueKind
kind_for_type(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return VK_INT2;
		case INT4OID:
			return VK_INT4;
		case INT8OID:
			return VK_INT8;
		case OIDOID:
			return VK_OID;
		case FLOAT4OID:
			return VK_FLOAT4;
		case FLOAT8OID:
			return VK_FLOAT8;
		case NUMERICOID:
			return VK_NUMERIC;
		case BOOLOID:
			return VK_BOOL;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return VK_TEXT;
		case NAMEOID:
			return VK_NAME;
		case BYTEAOID:
			return VK_BYTEA;
		case JSONOID:
			return VK_JSON;
		case JSONBOID:
			return VK_JSONB;
		case TIMESTAMPTZOID:
			return VK_TIMESTAMPTZ;
		case TIMESTAMPOID:
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
			return VK_DATETIME;
		default:
			return VK_OTHER;
	}
}

void
value_encoder_init(ValueEncoder *enc, Oid typid, MemoryContext mcxt)
{
	Oid			base = getBaseType(typid);
	Oid			elemtype = get_element_type(base);
	Oid			outfunc;
	bool		isvarlena;

	memset(enc, 0, sizeof(*enc));
	enc->typid = base;
	enc->typlen = get_typlen(base);
	enc->kind = kind_for_type(base);

	/* true arrays (typelem with typlen -1), not fixed-size ones like point */
	if (OidIsValid(elemtype) && get_typlen(base) == -1)
	{
		enc->kind = VK_ARRAY;
		enc->elemtype = elemtype;
		get_typlenbyvalalign(elemtype, &enc->elmlen, &enc->elmbyval,
							 &enc->elmalign);
		enc->elem = MemoryContextAlloc(mcxt, sizeof(ValueEncoder));
		value_encoder_init(enc->elem, elemtype, mcxt);
		return;
	}

	getTypeOutputInfo(base, &outfunc, &isvarlena);
	fmgr_info_cxt(outfunc, &enc->outfn, mcxt);
}
