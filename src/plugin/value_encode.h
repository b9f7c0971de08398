/*-------------------------------------------------------------------------
 *
 * value_encode.h
 *	  Datum to JSON value, and JSON text helpers over StringInfo.
 *
 * A ValueEncoder is prepared once per column (per relation cache entry) so
 * the per-change work is a switch on a small enum: numbers, booleans,
 * text, bytea, json(b), timestamps and arrays have fast paths; anything
 * else goes through its type's output function and becomes a JSON string.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_VALUE_ENCODE_H
#define PGSYNC_VALUE_ENCODE_H

#include "fmgr.h"
#include "lib/stringinfo.h"

typedef enum ValueKind
{
	VK_INT2,
	VK_INT4,
	VK_INT8,
	VK_OID,
	VK_FLOAT4,
	VK_FLOAT8,
	VK_NUMERIC,
	VK_BOOL,
	VK_TEXT,					/* text, varchar, bpchar: escaped directly */
	VK_NAME,
	VK_BYTEA,
	VK_JSON,
	VK_JSONB,
	VK_TIMESTAMPTZ,
	VK_DATETIME,				/* date, time, timetz, timestamp */
	VK_ARRAY,
	VK_OTHER					/* output function, as a JSON string */
} ValueKind;

typedef struct ValueEncoder
{
	ValueKind	kind;
	Oid			typid;			/* base type (domains resolved) */
	int16		typlen;			/* of the base type: -1 for varlena */
	FmgrInfo	outfn;			/* for kinds that call the output function */
	/* arrays only */
	Oid			elemtype;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	struct ValueEncoder *elem;
} ValueEncoder;

/* Per-session encoding settings, fixed by value_encode_init(). */
typedef struct JsonTextMode
{
	int			escape_flags;	/* JSON_* flags for text */
	bool		convert_to_utf8;	/* server encoding is not UTF8/SQL_ASCII */
	bool		numeric_as_number;
} JsonTextMode;

extern void value_encode_init(bool numeric_as_number);

/* Prepare enc for values of type typid; allocations go to mcxt. */
extern void value_encoder_init(ValueEncoder *enc, Oid typid, MemoryContext mcxt);

/*
 * Append the JSON form of a non-null value if it takes at most limit bytes,
 * and return true.  Otherwise append nothing (out is left as it was) and
 * return false.  Either way *size gets the size of the value's JSON,
 * counted without building what passes the limit; only a value of a type
 * written by its output function that is larger than 256 MB in storage is
 * not run through that function, and *size is then its stored size.
 */
extern bool value_encode_limited(StringInfo out, const ValueEncoder *enc,
								 Datum value, int64 limit, int64 *size);

/* The same for s as a quoted JSON string (server encoding in). */
extern bool json_append_string_limited(StringInfo out, const char *s,
									   size_t len, int64 limit, int64 *size);

/* Append s as a quoted JSON string (server encoding in, JSON out). */
extern void json_append_string(StringInfo out, const char *s, size_t len);
extern void json_append_cstring(StringInfo out, const char *s);

/* Append "s" escaped without quotes (to build keys and fragments). */
extern void json_append_escaped(StringInfo out, const char *s, size_t len);

/* Append an LSN as a quoted JSON string. */
extern void json_append_lsn(StringInfo out, uint64 lsn);

/* Append a timestamptz as a quoted ISO 8601 UTC string ("...Z"). */
extern void json_append_timestamptz(StringInfo out, TimestampTz ts);

#endif							/* PGSYNC_VALUE_ENCODE_H */
