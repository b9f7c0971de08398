/*-------------------------------------------------------------------------
 *
 * json_encode.h
 *	  Pure JSON text primitives: string escaping, UTF-8 checks, hex, LSNs.
 *
 * Nothing here depends on postgres.h, so the module can be unit-tested and
 * fuzzed on its own (test/unit, test/fuzz).  Callers own the buffers; every
 * function writes into caller-provided memory and reports how much it used.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JSON_ENCODE_H
#define PGSYNC_JSON_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Flags for json_escape().
 *
 * JSON_ASCII_ONLY: write every non-ASCII code point as \uXXXX (a
 * surrogate pair above U+FFFF), so the output is 7-bit clean.  Used when the
 * database encoding is not UTF-8.
 *
 * JSON_VALIDATE: the input may hold bytes that are not valid UTF-8; each
 * invalid byte becomes U+FFFD.  Without this flag the input must already be
 * valid UTF-8 (as text in a UTF8 database always is).
 *
 * JSON_RAW: the input is JSON text already (a json/jsonb value): quotes
 * and backslashes are copied as they are, and control characters (which in
 * valid JSON text can only be whitespace: tab, CR, LF) become spaces, so a
 * message never holds a raw newline; the non-ASCII handling above applies.
 */
#define JSON_ASCII_ONLY	0x01
#define JSON_VALIDATE	0x02
#define JSON_RAW			0x04

/* Largest output of one input character: a surrogate pair "\uD83D\uDE00". */
#define JSON_MAX_CHAR_OUT 12

/* Largest output for srclen input bytes, whatever the flags. */
#define JSON_ESCAPE_BOUND(srclen) ((srclen) * 6 + JSON_MAX_CHAR_OUT)

/*
 * Escape src[0..srclen) into dst (no surrounding quotes).  Stops early, at a
 * character boundary, when fewer than JSON_MAX_CHAR_OUT bytes of dstcap
 * remain.  Returns the number of input bytes consumed; *written gets the
 * number of output bytes.
 */
extern size_t json_escape(char *dst, size_t dstcap,
						  const char *src, size_t srclen,
						  int flags, size_t *written);

/*
 * Exact number of bytes json_escape() writes for all of src[0..srclen)
 * with these flags, counted without writing: how large a value's JSON
 * would be, before (or instead of) building it.  Linear, no allocation.
 */
extern size_t json_escaped_length(const char *src, size_t srclen, int flags);

/* Length of the longest valid UTF-8 prefix of s[0..len). */
extern size_t json_utf8_valid_prefix(const char *s, size_t len);

/* true if s[0..len) is valid UTF-8 and holds no NUL byte. */
extern bool json_is_clean_utf8(const char *s, size_t len);

/* Write 2*len lowercase hex digits; returns 2*len. */
extern size_t json_hex(char *dst, const unsigned char *src, size_t len);

/* Longest output of json_lsn(): "FFFFFFFF/FFFFFFFF". */
#define JSON_LSN_MAXLEN 17

/* Write an LSN as PostgreSQL prints it ("16/B374D848"); returns length. */
extern size_t json_lsn(char *dst, uint64_t lsn);

/* Parse "X/X" into *lsn; false if the text is not a valid LSN. */
extern bool json_parse_lsn(const char *s, size_t len, uint64_t *lsn);

#endif							/* PGSYNC_JSON_ENCODE_H */
