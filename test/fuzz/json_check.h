/*-------------------------------------------------------------------------
 *
 * json_check.h
 *	  Test oracles for src/json/json_encode.c, shared by the unit test
 *	  (test/unit/test_json_encode.c) and the fuzzer (fuzz_json_escape.c).
 *
 * - jc_utf8_seq(): UTF-8 decoding written from the table of well-formed
 *	 byte sequences (Unicode 15, section 3.9, table 3-7), not from the
 *	 shift-and-range-check code in src, so the two cannot share a mistake.
 * - jc_check_body(): a strict validator of a JSON string body (the text
 *	 between the quotes, RFC 8259 section 7) that also demands well-formed
 *	 UTF-8 and, optionally, 7-bit output with paired surrogate escapes.
 * - jc_unescape(): decodes a valid body back to UTF-8 bytes;
 *	 jc_replace_invalid(): what it must decode to for invalid input.
 * - jc_ref_escape(): a slow, byte-at-a-time reference escaper that follows
 *	 the flag semantics documented in json_encode.h.
 * - jc_escape_chunked(): drives json_escape() with fresh dst buffers of
 *	 a fixed small capacity and checks the early-stop contract.
 *
 * Everything is static inline so each user compiles its own copy.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JSON_CHECK_H
#define PGSYNC_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_encode.h"

/*
 * Length of the well-formed UTF-8 sequence at s (n bytes available), or 0;
 * *cp gets its code point.  Works for ASCII too.
 */
static inline size_t
jc_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c;
	unsigned char lo = 0x80;	/* allowed range of the second byte */
	unsigned char hi = 0xBF;
	size_t		len;
	size_t		i;
	uint32_t	v;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c == 0xE0)
	{
		len = 3;
		lo = 0xA0;
	}
	else if (c == 0xED)
	{
		len = 3;
		hi = 0x9F;
	}
	else if (c >= 0xE1 && c <= 0xEF)
		len = 3;
	else if (c == 0xF0)
	{
		len = 4;
		lo = 0x90;
	}
	else if (c >= 0xF1 && c <= 0xF3)
		len = 4;
	else if (c == 0xF4)
	{
		len = 4;
		hi = 0x8F;
	}
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;

	v = (uint32_t) c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
	for (i = 1; i < len; i++)
		v = (v << 6) | (s[i] & 0x3F);
	*cp = v;
	return len;
}

/* Length of the longest well-formed UTF-8 prefix of s[0..len). */
static inline size_t
jc_utf8_valid_len(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		i = 0;
	uint32_t	cp;

	while (i < len)
	{
		size_t		n = jc_utf8_seq(u + i, len - i, &cp);

		if (n == 0)
			break;
		i += n;
	}
	return i;
}

/*
 * Copy s[0..len) to dst replacing each byte that does not start a
 * well-formed UTF-8 sequence with U+FFFD (EF BF BD): what a VALIDATE escape
 * must decode to.  dst needs 3 * len bytes.  Returns the length.
 */
static inline size_t
jc_replace_invalid(const char *s, size_t len, char *dst)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		i = 0;
	size_t		o = 0;
	uint32_t	cp;

	while (i < len)
	{
		size_t		n = jc_utf8_seq(u + i, len - i, &cp);

		if (n == 0)
		{
			memcpy(dst + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
		else
		{
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
		}
	}
	return o;
}

/* Write cp as UTF-8 into dst; returns the length (1..4). */
static inline size_t
jc_put_utf8(unsigned char *dst, uint32_t cp)
{
	if (cp < 0x80)
	{
		dst[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		dst[0] = (unsigned char) (0xC0 | (cp >> 6));
		dst[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		dst[0] = (unsigned char) (0xE0 | (cp >> 12));
		dst[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	dst[0] = (unsigned char) (0xF0 | (cp >> 18));
	dst[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	dst[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	dst[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Parse 4 hex digits at s (n bytes available); false if not there. */
static inline bool
jc_hex4(const unsigned char *s, size_t n, uint32_t *v)
{
	size_t		i;

	if (n < 4)
		return false;
	*v = 0;
	for (i = 0; i < 4; i++)
	{
		unsigned char c = s[i];
		uint32_t	d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		*v = (*v << 4) | d;
	}
	return true;
}

/*
 * Check that s[0..len) is a valid JSON string body: no raw byte < 0x20, no
 * unescaped quote, only the escapes \" \\ \/ \b \f \n \r \t \uXXXX, every
 * \uD800-\uDBFF followed by a \uDC00-\uDFFF and no lone low surrogate, and
 * well-formed UTF-8.  With ascii_only, no byte >= 0x80 at all.
 *
 * With raw (output of JSON_RAW: the JSON syntax is the caller's), only
 * the UTF-8 / ASCII rules and the absence of raw bytes < 0x20 (RAW turns
 * them into spaces, so a message never holds a raw newline) are checked.
 *
 * Returns NULL if valid, else a static reason with *where set to the offset.
 */
static inline const char *
jc_check_body(const char *str, size_t len, bool ascii_only, bool raw,
			  size_t *where)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];

		*where = i;
		if (c >= 0x80)
		{
			uint32_t	cp;
			size_t		n;

			if (ascii_only)
				return "byte >= 0x80 in ASCII-only output";
			n = jc_utf8_seq(s + i, len - i, &cp);
			if (n == 0)
				return "invalid UTF-8";
			i += n;
			continue;
		}
		if (c < 0x20)
			return "raw control character";
		if (raw)
		{
			i++;
			continue;
		}
		if (c == '"')
			return "unescaped quote";
		if (c == '\\')
		{
			uint32_t	u,
						u2;

			if (i + 1 >= len)
				return "backslash at end";
			switch (s[i + 1])
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					i += 2;
					continue;
				case 'u':
					break;
				default:
					return "invalid escape";
			}
			if (!jc_hex4(s + i + 2, len - i - 2, &u))
				return "malformed \\u escape";
			i += 6;
			if (u >= 0xDC00 && u <= 0xDFFF)
				return "lone low surrogate escape";
			if (u >= 0xD800 && u <= 0xDBFF)
			{
				if (i + 1 >= len || s[i] != '\\' || s[i + 1] != 'u' ||
					!jc_hex4(s + i + 2, len - i - 2, &u2) ||
					u2 < 0xDC00 || u2 > 0xDFFF)
					return "high surrogate escape without low surrogate";
				i += 6;
			}
			continue;
		}
		i++;
	}
	*where = len;
	return NULL;
}

/*
 * Decode a body that passed jc_check_body() (not raw) into UTF-8 bytes in
 * out (len bytes are enough); returns the decoded length.
 */
static inline size_t
jc_unescape(const char *str, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *) str;
	unsigned char *d = (unsigned char *) out;
	size_t		i = 0;
	size_t		o = 0;

	while (i < len)
	{
		uint32_t	u,
					u2;

		if (s[i] != '\\')
		{
			d[o++] = s[i++];
			continue;
		}
		switch (s[i + 1])
		{
			case 'b':
				d[o++] = '\b';
				break;
			case 'f':
				d[o++] = '\f';
				break;
			case 'n':
				d[o++] = '\n';
				break;
			case 'r':
				d[o++] = '\r';
				break;
			case 't':
				d[o++] = '\t';
				break;
			case 'u':
				(void) jc_hex4(s + i + 2, len - i - 2, &u);
				if (u >= 0xD800 && u <= 0xDBFF)
				{
					(void) jc_hex4(s + i + 8, len - i - 8, &u2);
					u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
					i += 6;
				}
				o += jc_put_utf8(d + o, u);
				i += 4;
				break;
			default:
				d[o++] = s[i + 1];
				break;
		}
		i += 2;
	}
	return o;
}

/* Write \uXXXX with uppercase hex digits (the escaper's spelling). */
static inline size_t
jc_put_u16(char *dst, uint32_t v)
{
	static const char hex[] = "0123456789ABCDEF";

	dst[0] = '\\';
	dst[1] = 'u';
	dst[2] = hex[(v >> 12) & 0xF];
	dst[3] = hex[(v >> 8) & 0xF];
	dst[4] = hex[(v >> 4) & 0xF];
	dst[5] = hex[v & 0xF];
	return 6;
}

/*
 * Reference escaper: what json_escape(dst, big, src, len, flags) must
 * write, following json_encode.h:
 * - ASCII: '"' and '\\' get a backslash, \b \f \n \r \t their short
 *	 escapes, other bytes < 0x20 \u00XX.  Under RAW, bytes < 0x20 become
 *	 spaces and all other ASCII is copied.
 * - Bytes >= 0x80 are copied unless ASCII_ONLY or VALIDATE is set; then
 *	 each well-formed sequence is copied (or, under ASCII_ONLY, written as
 *	 \uXXXX or a surrogate pair) and each byte that does not start one
 *	 becomes U+FFFD (EF BF BD, or \uFFFD under ASCII_ONLY).
 * dst needs JSON_ESCAPE_BOUND(len) bytes.  Returns the output length.
 */
static inline size_t
jc_ref_escape(const char *src, size_t len, int flags, char *dst)
{
	const unsigned char *s = (const unsigned char *) src;
	bool		raw = (flags & JSON_RAW) != 0;
	bool		ascii = (flags & JSON_ASCII_ONLY) != 0;
	bool		check = (flags & (JSON_ASCII_ONLY | JSON_VALIDATE)) != 0;
	size_t		i = 0;
	size_t		o = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		uint32_t	cp;
		size_t		n;

		if (c < 0x80)
		{
			if (raw && c < 0x20)
				dst[o++] = ' ';
			else if (raw || (c >= 0x20 && c != '"' && c != '\\'))
				dst[o++] = (char) c;
			else if (c == '"' || c == '\\')
			{
				dst[o++] = '\\';
				dst[o++] = (char) c;
			}
			else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
			{
				dst[o++] = '\\';
				dst[o++] = "btn?fr"[c - '\b'];
			}
			else
				o += jc_put_u16(dst + o, c);
			i++;
			continue;
		}
		if (!check)
		{
			dst[o++] = (char) c;
			i++;
			continue;
		}
		n = jc_utf8_seq(s + i, len - i, &cp);
		if (n == 0)
		{
			/* not the start of a well-formed sequence: U+FFFD */
			if (ascii)
				o += jc_put_u16(dst + o, 0xFFFD);
			else
			{
				memcpy(dst + o, "\xEF\xBF\xBD", 3);
				o += 3;
			}
			i++;
		}
		else if (ascii && cp >= 0x10000)
		{
			o += jc_put_u16(dst + o, 0xD800 + ((cp - 0x10000) >> 10));
			o += jc_put_u16(dst + o, 0xDC00 + ((cp - 0x10000) & 0x3FF));
			i += n;
		}
		else if (ascii)
		{
			o += jc_put_u16(dst + o, cp);
			i += n;
		}
		else
		{
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
		}
	}
	return o;
}

/*
 * Escape src[0..len) with json_escape() into a series of fresh,
 * exactly-sized heap buffers of cap bytes (so that AddressSanitizer sees
 * any write past dstcap), appending each piece to out, which needs
 * JSON_ESCAPE_BOUND(len) bytes.  *outlen gets the total.
 *
 * Checks on every call: at least one input byte consumed, no more than
 * dstcap written and srclen consumed; if the input is well-formed UTF-8,
 * the stop is at a character boundary; unless the output is allowed to be
 * invalid (input not UTF-8 and neither VALIDATE nor ASCII_ONLY), each piece
 * is a valid body by itself (no escape or UTF-8 sequence cut in two).
 *
 * Returns NULL, or a static reason with *where set to the input offset of
 * the failing call.
 */
static inline const char *
jc_escape_chunked(const char *src, size_t len, int flags, size_t cap,
				  char *out, size_t *outlen, size_t *where)
{
	bool		input_valid = jc_utf8_valid_len(src, len) == len;
	bool		check_pieces = input_valid ||
		(flags & (JSON_ASCII_ONLY | JSON_VALIDATE)) != 0;
	char	   *piece = malloc(cap > 0 ? cap : 1);
	const char *why = NULL;
	size_t		done = 0;
	size_t		o = 0;

	if (piece == NULL)
		abort();
	while (done < len)
	{
		size_t		written = (size_t) -1;
		size_t		used;
		size_t		pos;

		*where = done;
		used = json_escape(piece, cap, src + done, len - done, flags,
						   &written);
		if (written > cap)
		{
			why = "wrote more than dstcap";
			break;
		}
		if (used > len - done)
		{
			why = "consumed more than srclen";
			break;
		}
		if (used == 0)
		{
			why = "no progress (0 bytes consumed)";
			break;
		}
		if (input_valid && done + used < len &&
			((unsigned char) src[done + used] & 0xC0) == 0x80)
		{
			why = "stopped inside a UTF-8 sequence of the input";
			break;
		}
		if (check_pieces &&
			jc_check_body(piece, written,
						  (flags & JSON_ASCII_ONLY) != 0,
						  (flags & JSON_RAW) != 0, &pos) != NULL)
		{
			why = "one piece of output is not valid by itself";
			break;
		}
		memcpy(out + o, piece, written);
		o += written;
		done += used;
	}
	free(piece);
	*outlen = o;
	return why;
}

#endif							/* PGSYNC_JSON_CHECK_H */
