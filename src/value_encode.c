/*-------------------------------------------------------------------------
 *
 * value_encode.c
 *	  Datum to JSON value, and JSON text helpers over StringInfo.
 *
 * Output is valid JSON whatever the data: every string goes through
 * jsonenc_escape(); numbers are written only when the type guarantees a
 * JSON number (NaN and infinities become strings); json/jsonb are already
 * JSON text.  In a UTF8 database text passes through as UTF-8; in any other
 * database it is converted to UTF-8 and written 7-bit clean (\uXXXX), so the
 * output is valid in every client encoding.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

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

#include "json_encode.h"
#include "value_encode.h"

static JsonTextMode text_mode;

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
		text_mode.escape_flags = JSONENC_ASCII_ONLY | JSONENC_VALIDATE;
		text_mode.convert_to_utf8 = false;
	}
	else
	{
		text_mode.escape_flags = JSONENC_ASCII_ONLY;
		text_mode.convert_to_utf8 = true;
	}
}

/*
 * Append s escaped with the given flags, converting from the server
 * encoding first if needed.  Works in bounded steps so that a huge value
 * never needs a 6x buffer in one piece.
 */
static void
append_escaped_flags(StringInfo out, const char *s, size_t len, int flags)
{
	const char *conv = s;

	if (text_mode.convert_to_utf8 && len > 0)
	{
		conv = pg_server_to_any(s, (int) len, PG_UTF8);
		if (conv != s)
			len = strlen(conv);
	}
	while (len > 0)
	{
		size_t		step = Min(len, (size_t) 65536);
		size_t		used,
					written;

		enlargeStringInfo(out, (int) JSONENC_ESCAPE_BOUND(step));
		used = jsonenc_escape(out->data + out->len,
							  (size_t) (out->maxlen - out->len - 1),
							  conv, len, flags, &written);
		out->len += (int) written;
		conv += used;
		len -= used;
	}
	out->data[out->len] = '\0';
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
	enlargeStringInfo(out, JSONENC_LSN_MAXLEN + 2);
	out->data[out->len++] = '"';
	out->len += (int) jsonenc_lsn(out->data + out->len, lsn);
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
}

/* Append a JSON number or, for NaN and infinities, a JSON string. */
static void
append_float8(StringInfo out, double v, bool is_float4)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(v))
		appendStringInfoString(out, "\"NaN\"");
	else if (isinf(v))
		appendStringInfoString(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
	{
		int			n = is_float4 ?
			float_to_shortest_decimal_bufn((float) v, buf) :
			double_to_shortest_decimal_bufn(v, buf);

		appendBinaryStringInfo(out, buf, n);
	}
}

void
json_append_timestamptz(StringInfo out, TimestampTz ts)
{
	char		buf[MAXDATELEN + 1];
	int			utc = 0;
	size_t		len;

	JsonEncodeDateTime(buf, TimestampTzGetDatum(ts), TIMESTAMPTZOID, &utc);
	len = strlen(buf);
	/* "...+00:00" is written "...Z": shorter, and the same instant */
	if (len > 6 && strcmp(buf + len - 6, "+00:00") == 0)
	{
		buf[len - 6] = 'Z';
		len -= 5;
	}
	appendStringInfoCharMacro(out, '"');
	appendBinaryStringInfo(out, buf, (int) len);
	appendStringInfoCharMacro(out, '"');
}

static void
append_bytea(StringInfo out, Datum value)
{
	bytea	   *b = DatumGetByteaPP(value);
	size_t		len = VARSIZE_ANY_EXHDR(b);

	enlargeStringInfo(out, (int) (2 * len + 6));
	memcpy(out->data + out->len, "\"\\\\x", 4);
	out->len += 4;
	out->len += (int) jsonenc_hex(out->data + out->len,
								  (const unsigned char *) VARDATA_ANY(b), len);
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
}

static void
append_numeric(StringInfo out, const ValueEncoder *enc, Datum value)
{
	char	   *s = OutputFunctionCall((FmgrInfo *) &enc->outfn, value);
	bool		finite = (s[0] >= '0' && s[0] <= '9') ||
		(s[0] == '-' && s[1] >= '0' && s[1] <= '9');

	if (finite && text_mode.numeric_as_number)
		appendStringInfoString(out, s);
	else
	{
		appendStringInfoCharMacro(out, '"');
		appendStringInfoString(out, s);
		appendStringInfoCharMacro(out, '"');
	}
	pfree(s);
}

/* Write one dimension of an array, recursing into inner dimensions. */
static void
append_array_dim(StringInfo out, const ValueEncoder *elem, int dim, int ndim,
				 const int *dims, Datum *values, bool *nulls, int *pos)
{
	int			i;

	appendStringInfoCharMacro(out, '[');
	for (i = 0; i < dims[dim]; i++)
	{
		if (i > 0)
			appendStringInfoCharMacro(out, ',');
		if (dim + 1 < ndim)
			append_array_dim(out, elem, dim + 1, ndim, dims, values, nulls, pos);
		else
		{
			if (nulls[*pos])
				appendStringInfoString(out, "null");
			else
				value_encode(out, elem, values[*pos]);
			(*pos)++;
		}
	}
	appendStringInfoCharMacro(out, ']');
}

static void
append_array(StringInfo out, const ValueEncoder *enc, Datum value)
{
	ArrayType  *arr = DatumGetArrayTypeP(value);
	int			ndim = ARR_NDIM(arr);
	Datum	   *values;
	bool	   *nulls;
	int			nelems;
	int			pos = 0;

	if (ndim == 0)
	{
		appendStringInfoString(out, "[]");
		return;
	}
	deconstruct_array(arr, enc->elemtype, enc->elmlen, enc->elmbyval,
					  enc->elmalign, &values, &nulls, &nelems);
	append_array_dim(out, enc->elem, 0, ndim, ARR_DIMS(arr), values, nulls, &pos);
	pfree(values);
	pfree(nulls);
}

static void
append_output_string(StringInfo out, const ValueEncoder *enc, Datum value)
{
	char	   *s = OutputFunctionCall((FmgrInfo *) &enc->outfn, value);

	json_append_string(out, s, strlen(s));
	pfree(s);
}

/*
 * Write a jsonb value as compact JSON (no spaces after ':' and ','), walking
 * its binary form directly: smaller than jsonb_out's text and no detour
 * through an intermediate string.
 */
static void
append_jsonb(StringInfo out, Datum value)
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
					appendStringInfoCharMacro(out, ',');
				need_comma = false;
				/* a top-level scalar is stored as a one-element raw array */
				if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
					break;
				appendStringInfoCharMacro(out, tok == WJB_BEGIN_OBJECT ? '{' : '[');
				break;
			case WJB_END_OBJECT:
				appendStringInfoCharMacro(out, '}');
				need_comma = true;
				break;
			case WJB_END_ARRAY:
				if (!JB_ROOT_IS_SCALAR(jb))
					appendStringInfoCharMacro(out, ']');
				need_comma = true;
				break;
			case WJB_KEY:
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				json_append_string(out, v.val.string.val, v.val.string.len);
				appendStringInfoCharMacro(out, ':');
				need_comma = false;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				switch (v.type)
				{
					case jbvNull:
						appendStringInfoString(out, "null");
						break;
					case jbvBool:
						appendStringInfoString(out, v.val.boolean ? "true" : "false");
						break;
					case jbvString:
						json_append_string(out, v.val.string.val, v.val.string.len);
						break;
					case jbvNumeric:
						{
							char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																				NumericGetDatum(v.val.numeric)));

							appendStringInfoString(out, s);
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

/* Embed JSON text (json): see JSONENC_RAW. */
static void
append_json_text(StringInfo out, const char *s, size_t len)
{
	append_escaped_flags(out, s, len, text_mode.escape_flags | JSONENC_RAW);
}

void
value_encode(StringInfo out, const ValueEncoder *enc, Datum value)
{
	char		buf[MAXDATELEN + 1];

	switch (enc->kind)
	{
		case VK_INT2:
			enlargeStringInfo(out, 8);
			out->len += pg_ltoa(DatumGetInt16(value), out->data + out->len);
			break;
		case VK_INT4:
			enlargeStringInfo(out, 12);
			out->len += pg_ltoa(DatumGetInt32(value), out->data + out->len);
			break;
		case VK_INT8:
			enlargeStringInfo(out, 21);
			out->len += pg_lltoa(DatumGetInt64(value), out->data + out->len);
			break;
		case VK_OID:
			enlargeStringInfo(out, 11);
			out->len += pg_ultoa_n(DatumGetObjectId(value), out->data + out->len);
			out->data[out->len] = '\0';
			break;
		case VK_FLOAT4:
			append_float8(out, DatumGetFloat4(value), true);
			break;
		case VK_FLOAT8:
			append_float8(out, DatumGetFloat8(value), false);
			break;
		case VK_NUMERIC:
			append_numeric(out, enc, value);
			break;
		case VK_BOOL:
			appendStringInfoString(out, DatumGetBool(value) ? "true" : "false");
			break;
		case VK_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				json_append_string(out, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				if ((Pointer) t != DatumGetPointer(value))
					pfree(t);
			}
			break;
		case VK_NAME:
			json_append_cstring(out, NameStr(*DatumGetName(value)));
			break;
		case VK_BYTEA:
			append_bytea(out, value);
			break;
		case VK_JSON:
			{
				text	   *t = DatumGetTextPP(value);

				append_json_text(out, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
			break;
		case VK_JSONB:
			append_jsonb(out, value);
			break;
		case VK_TIMESTAMPTZ:
			json_append_timestamptz(out, DatumGetTimestampTz(value));
			break;
		case VK_DATETIME:
			JsonEncodeDateTime(buf, value, enc->typid, NULL);
			appendStringInfoCharMacro(out, '"');
			appendStringInfoString(out, buf);
			appendStringInfoCharMacro(out, '"');
			break;
		case VK_ARRAY:
			append_array(out, enc, value);
			break;
		case VK_OTHER:
			append_output_string(out, enc, value);
			break;
	}
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
