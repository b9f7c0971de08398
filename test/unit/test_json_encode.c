/*-------------------------------------------------------------------------
 *
 * test_json_encode.c
 *	  Unit tests of src/json/json_encode.c: json_escape() in every flag
 *	  combination (control characters, quotes, DEL, multi-byte UTF-8,
 *	  ASCII_ONLY escapes and surrogate pairs, VALIDATE replacement of
 *	  invalid bytes, RAW copying, the early stop with small dst buffers),
 *	  the UTF-8 checks, hex, LSN formatting and parsing, and a property
 *	  check on random byte strings against the oracles of
 *	  test/fuzz/json_check.h.
 *
 * Inputs and outputs are copied into exactly-sized heap buffers so that
 * AddressSanitizer catches any read or write one byte out of bounds.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/json_encode.h"
#include "unit.h"
#include "../fuzz/json_check.h"

#define ALL_FLAGS	(JSON_ASCII_ONLY | JSON_VALIDATE | JSON_RAW)

/* Length of a string literal, embedded NULs included. */
#define LIT(s)		(s), (sizeof(s) - 1)

static char *
dup_exact(const char *s, size_t len)
{
	char	   *p = malloc(len > 0 ? len : 1);

	if (p == NULL)
		abort();
	memcpy(p, s, len);
	return p;
}

/*
 * Escape src in one call with a dst of exactly JSON_ESCAPE_BOUND(len)
 * bytes; returns a malloc'd copy of the output and checks that everything
 * was consumed.
 */
static char *
escape_once(const char *src, size_t len, int flags, size_t *outlen,
			const char *file, int line)
{
	char	   *in = dup_exact(src, len);
	size_t		cap = JSON_ESCAPE_BOUND(len);
	char	   *dst = malloc(cap);
	size_t		written = (size_t) -1;
	size_t		used;

	used = json_escape(dst, cap, in, len, flags, &written);
	/* counted only when they fail: this runs for every property case */
	if (used != len)
		unit_check(false, file, line,
				   "escape with dstcap = JSON_ESCAPE_BOUND consumed %zu of %zu bytes (flags 0x%x)",
				   used, len, flags);
	if (written > cap)
		unit_check(false, file, line, "wrote %zu > dstcap %zu",
				   written, cap);
	free(in);
	*outlen = written <= cap ? written : 0;
	return dst;
}

/*
 * Check the escape of src under flags against expect, and against the
 * reference escaper (which checks the oracle itself), and that the output
 * is a valid JSON string body (for RAW: valid UTF-8, no raw control byte).
 */
static void
check_escape(const char *file, int line, int flags,
			 const char *src, size_t len, const char *expect, size_t explen)
{
	size_t		outlen;
	char	   *out = escape_once(src, len, flags, &outlen, file, line);
	char	   *ref = malloc(JSON_ESCAPE_BOUND(len));
	size_t		reflen = jc_ref_escape(src, len, flags, ref);
	char		what[64];
	size_t		pos;
	const char *why;

	snprintf(what, sizeof(what), "escape(flags 0x%x)", flags);
	unit_check_mem(out, outlen, expect, explen, what, "expected", file, line);
	unit_check_mem(ref, reflen, expect, explen, "jc_ref_escape()", "expected",
				   file, line);
	/* without VALIDATE/ASCII_ONLY, invalid UTF-8 input is the caller's fault */
	if (jc_utf8_valid_len(src, len) == len ||
		(flags & (JSON_VALIDATE | JSON_ASCII_ONLY)) != 0)
	{
		why = jc_check_body(out, outlen, (flags & JSON_ASCII_ONLY) != 0,
							(flags & JSON_RAW) != 0, &pos);
		unit_check(why == NULL, file, line,
				   "output is not a valid JSON string body: %s at %zu",
				   why, pos);
	}
	free(out);
	free(ref);
}

#define ESC_IS(flags, src, expect) \
	check_escape(__FILE__, __LINE__, (flags), LIT(src), LIT(expect))

/* ---------------------------------------------------------------------- */

static void
test_control_characters(void)
{
	int			c;
	int			flags;

	for (c = 0; c < 0x20; c++)
	{
		char		in[1] = {(char) c};
		char		expect[7];
		size_t		explen;

		switch (c)
		{
			case '\b':
				memcpy(expect, "\\b", 2);
				explen = 2;
				break;
			case '\f':
				memcpy(expect, "\\f", 2);
				explen = 2;
				break;
			case '\n':
				memcpy(expect, "\\n", 2);
				explen = 2;
				break;
			case '\r':
				memcpy(expect, "\\r", 2);
				explen = 2;
				break;
			case '\t':
				memcpy(expect, "\\t", 2);
				explen = 2;
				break;
			default:
				snprintf(expect, sizeof(expect), "\\u%04X", c);
				explen = 6;
				break;
		}
		/* same in every non-RAW mode; a space under RAW */
		for (flags = 0; flags <= ALL_FLAGS; flags++)
		{
			if (flags & JSON_RAW)
				check_escape(__FILE__, __LINE__, flags, in, 1, " ", 1);
			else
				check_escape(__FILE__, __LINE__, flags, in, 1, expect, explen);
		}
	}

	/* spot checks of the spelling: uppercase hex digits */
	ESC_IS(0, "\x1F", "\\u001F");
	ESC_IS(0, "\x1B[0m", "\\u001B[0m");
	ESC_IS(0, "\x0B", "\\u000B");
	ESC_IS(0, "a\0b", "a\\u0000b");
	ESC_IS(0, "line1\r\nline2\ttab", "line1\\r\\nline2\\ttab");
	ESC_IS(0, "\x01\x02\x03", "\\u0001\\u0002\\u0003");
}

static void
test_quotes_and_ascii(void)
{
	int			c;
	int			flags;

	ESC_IS(0, "", "");
	ESC_IS(0, "\"", "\\\"");
	ESC_IS(0, "\\", "\\\\");
	ESC_IS(0, "say \"hi\" \\o/", "say \\\"hi\\\" \\\\o/");
	ESC_IS(0, "/", "/");		/* the solidus needs no escape */
	ESC_IS(0, "\x7F", "\x7F");	/* DEL is not a JSON control character */
	ESC_IS(JSON_ASCII_ONLY, "\x7F", "\x7F");
	ESC_IS(JSON_VALIDATE, "a\x7F" "b", "a\x7F" "b");
	ESC_IS(JSON_ASCII_ONLY | JSON_VALIDATE, "\\\"", "\\\\\\\"");

	/* every other printable ASCII character passes through in every mode */
	for (c = 0x20; c < 0x80; c++)
	{
		char		in[1] = {(char) c};

		if (c == '"' || c == '\\')
			continue;
		for (flags = 0; flags <= ALL_FLAGS; flags++)
			check_escape(__FILE__, __LINE__, flags, in, 1, in, 1);
	}
}

static void
test_multibyte_passthrough(void)
{
	static const char *const valid[] = {
		"\xC2\x80",				/* U+0080, smallest 2-byte */
		"\xC3\xA9",				/* U+00E9 e acute */
		"\xDF\xBF",				/* U+07FF, largest 2-byte */
		"\xE0\xA0\x80",			/* U+0800, smallest 3-byte */
		"\xE2\x82\xAC",			/* U+20AC euro */
		"\xED\x9F\xBF",			/* U+D7FF, just below the surrogates */
		"\xEE\x80\x80",			/* U+E000, just above them */
		"\xEF\xBF\xBD",			/* U+FFFD */
		"\xEF\xBF\xBF",			/* U+FFFF */
		"\xF0\x90\x80\x80",		/* U+10000, smallest 4-byte */
		"\xF0\x9F\x98\x80",		/* U+1F600 grinning face */
		"\xF4\x8F\xBF\xBF",		/* U+10FFFF, largest code point */
		"caf\xC3\xA9 \xE2\x82\xAC" "5 \xF0\x9F\x98\x80!",
	};
	size_t		i;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
	{
		size_t		len = strlen(valid[i]);

		check_escape(__FILE__, __LINE__, 0, valid[i], len, valid[i], len);
		check_escape(__FILE__, __LINE__, JSON_VALIDATE,
					 valid[i], len, valid[i], len);
		check_escape(__FILE__, __LINE__, JSON_RAW,
					 valid[i], len, valid[i], len);
		check_escape(__FILE__, __LINE__, JSON_RAW | JSON_VALIDATE,
					 valid[i], len, valid[i], len);
	}
	ESC_IS(JSON_VALIDATE, "\"\xC3\xA9\"\n", "\\\"\xC3\xA9\\\"\\n");
}

static void
test_ascii_only(void)
{
	int			f;

	/* same with or without VALIDATE: ASCII_ONLY has to decode anyway */
	for (f = 0; f < 2; f++)
	{
		int			flags = JSON_ASCII_ONLY | (f ? JSON_VALIDATE : 0);

		ESC_IS(flags, "\xC2\x80", "\\u0080");
		ESC_IS(flags, "\xC3\xA9", "\\u00E9");
		ESC_IS(flags, "\xDF\xBF", "\\u07FF");
		ESC_IS(flags, "\xE0\xA0\x80", "\\u0800");
		ESC_IS(flags, "\xE2\x82\xAC", "\\u20AC");
		ESC_IS(flags, "\xEF\xBF\xBF", "\\uFFFF");
		ESC_IS(flags, "\xF0\x90\x80\x80", "\\uD800\\uDC00");
		ESC_IS(flags, "\xF0\x9F\x98\x80", "\\uD83D\\uDE00");
		ESC_IS(flags, "\xF4\x8F\xBF\xBF", "\\uDBFF\\uDFFF");
		ESC_IS(flags, "caf\xC3\xA9 \"\xF0\x9F\x98\x80\"\n",
			   "caf\\u00E9 \\\"\\uD83D\\uDE00\\\"\\n");
		/* invalid bytes cannot be written in 7 bits either: \uFFFD */
		ESC_IS(flags, "a\x80z", "a\\uFFFDz");
	}
	/* RAW | ASCII_ONLY: JSON syntax copied, non-ASCII escaped */
	ESC_IS(JSON_RAW | JSON_ASCII_ONLY,
		   "{\"k\xC3\xA9\": \"\xF0\x9F\x98\x80\\n\"}",
		   "{\"k\\u00E9\": \"\\uD83D\\uDE00\\n\"}");
}

static void
test_validate(void)
{
	static const struct
	{
		const char *in;
		int			nbad;		/* U+FFFD expected, one per byte */
	}			bad[] = {
		{"\x80", 1},			/* lone continuation byte */
		{"\xBF", 1},
		{"\x80\x80\x80", 3},
		{"\xC0\x80", 2},		/* overlong NUL */
		{"\xC1\xBF", 2},		/* overlong U+007F */
		{"\xE0\x80\x80", 3},	/* overlong 3-byte */
		{"\xE0\x9F\xBF", 3},	/* overlong U+07FF */
		{"\xF0\x80\x80\x80", 4},	/* overlong 4-byte */
		{"\xF0\x8F\xBF\xBF", 4},	/* overlong U+FFFF */
		{"\xED\xA0\x80", 3},	/* surrogate U+D800 */
		{"\xED\xBF\xBF", 3},	/* surrogate U+DFFF */
		{"\xED\xA0\xBD\xED\xB8\x80", 6},	/* CESU-8 surrogate pair */
		{"\xF4\x90\x80\x80", 4},	/* U+110000 */
		{"\xF5\x80\x80\x80", 4},	/* F5..FF never appear */
		{"\xF7\xBF\xBF\xBF", 4},
		{"\xF8\x88\x80\x80\x80", 5},	/* old 5-byte form */
		{"\xFC\x84\x80\x80\x80\x80", 6},	/* old 6-byte form */
		{"\xFE", 1},
		{"\xFF", 1},
		{"\xC3", 1},			/* truncated at the end */
		{"\xE2\x82", 2},
		{"\xE2", 1},
		{"\xF0\x9F\x98", 3},
		{"\xF0\x9F", 2},
		{"\xF0", 1},
	};
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		size_t		len = strlen(bad[i].in);
		char		raw[64] = "";
		char		esc[64] = "";
		int			k;

		for (k = 0; k < bad[i].nbad; k++)
		{
			strcat(raw, "\xEF\xBF\xBD");
			strcat(esc, "\\uFFFD");
		}
		check_escape(__FILE__, __LINE__, JSON_VALIDATE,
					 bad[i].in, len, raw, strlen(raw));
		check_escape(__FILE__, __LINE__, JSON_VALIDATE | JSON_RAW,
					 bad[i].in, len, raw, strlen(raw));
		check_escape(__FILE__, __LINE__,
					 JSON_VALIDATE | JSON_ASCII_ONLY,
					 bad[i].in, len, esc, strlen(esc));
		CHECK_MSG(!json_is_clean_utf8(bad[i].in, len),
				  "json_is_clean_utf8 accepts invalid case %zu", i);
		CHECK_MSG(json_utf8_valid_prefix(bad[i].in, len) == 0,
				  "json_utf8_valid_prefix of invalid case %zu is not 0", i);
	}

	/* invalid bytes amid valid text: only the bad bytes are replaced */
	ESC_IS(JSON_VALIDATE, "ab\x80" "cd", "ab\xEF\xBF\xBD" "cd");
	ESC_IS(JSON_VALIDATE, "\x80\xC3\xA9", "\xEF\xBF\xBD\xC3\xA9");
	ESC_IS(JSON_VALIDATE, "\xE2\x82" "A", "\xEF\xBF\xBD\xEF\xBF\xBD" "A");
	ESC_IS(JSON_VALIDATE, "\xC3\xC3\xA9", "\xEF\xBF\xBD\xC3\xA9");
	ESC_IS(JSON_VALIDATE, "x\xE2\x82\xAC\xE2\x82", "x\xE2\x82\xAC\xEF\xBF\xBD\xEF\xBF\xBD");
	ESC_IS(JSON_VALIDATE, "\xED\xA0\x80\"", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\\\"");
	ESC_IS(JSON_VALIDATE | JSON_ASCII_ONLY, "\xF0\x9F\x98\x80\xF0\x9F\x98",
		   "\\uD83D\\uDE00\\uFFFD\\uFFFD\\uFFFD");
	/* without VALIDATE (and ASCII_ONLY) high bytes are not examined */
	ESC_IS(0, "\x80\xFF", "\x80\xFF");
	ESC_IS(JSON_RAW, "\"\x80\"", "\"\x80\"");

	/* the UTF-8 checks themselves */
	CHECK(json_is_clean_utf8("", 0));
	CHECK(json_is_clean_utf8(LIT("abc \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80")));
	CHECK(!json_is_clean_utf8(LIT("a\0b")));
	CHECK(!json_is_clean_utf8(LIT("\0")));
	CHECK(!json_is_clean_utf8(LIT("ab\xC3")));
	CHECK_EQ_INT(json_utf8_valid_prefix(LIT("ab\xC3\xA9\xE2\x82")), 4);
	CHECK_EQ_INT(json_utf8_valid_prefix(LIT("ab\xC3\xA9\x80xyz")), 4);
	CHECK_EQ_INT(json_utf8_valid_prefix(LIT("\xF4\x8F\xBF\xBF\xF4\x90\x80\x80")), 4);
	CHECK_EQ_INT(json_utf8_valid_prefix(LIT("a\0b")), 3);	/* NUL is valid UTF-8 */
	CHECK_EQ_INT(json_utf8_valid_prefix("", 0), 0);
}

static void
test_raw(void)
{
	ESC_IS(JSON_RAW, "{\"a\": [1, \"b\\n\\\"c\"]}", "{\"a\": [1, \"b\\n\\\"c\"]}");
	ESC_IS(JSON_RAW, "\"\\", "\"\\");
	/* control characters (JSON whitespace) become spaces: no raw newline */
	ESC_IS(JSON_RAW, "{\n\t\"a\": 1\r\n}", "{  \"a\": 1  }");
	ESC_IS(JSON_RAW, "a\nb\tc\x01\x1F\0", "a b c   ");
	ESC_IS(JSON_RAW | JSON_VALIDATE | JSON_ASCII_ONLY, "[\n\"\xC3\xA9\"]",
		   "[ \"\\u00E9\"]");
	ESC_IS(JSON_RAW, "\x7F", "\x7F");
	ESC_IS(JSON_RAW | JSON_VALIDATE, "[\"\xC3\xA9\x80\"]",
		   "[\"\xC3\xA9\xEF\xBF\xBD\"]");
	ESC_IS(JSON_RAW | JSON_VALIDATE | JSON_ASCII_ONLY,
		   "[\"\\u00e9\xC3\xA9\x80\"]", "[\"\\u00e9\\u00E9\\uFFFD\"]");
}

/* ---------------------------------------------------------------------- */

/* One call with a dst of exactly cap bytes. */
static size_t
escape_cap(const char *src, size_t len, int flags, size_t cap,
		   size_t *written)
{
	char	   *in = dup_exact(src, len);
	char	   *dst = malloc(cap > 0 ? cap : 1);
	size_t		used;

	*written = (size_t) -1;
	used = json_escape(dst, cap, in, len, flags, written);
	free(dst);
	free(in);
	return used;
}

#define STEP_IS(flags, cap, src, exp_used, exp_written) \
	do { \
		size_t		w_; \
		size_t		u_ = escape_cap(LIT(src), (flags), (cap), &w_); \
		CHECK_MSG(u_ == (exp_used) && w_ == (exp_written), \
				  "json_escape(dstcap %d, %s, flags 0x%x): consumed %zu, wrote %zu; expected %d, %d", \
				  (int) (cap), #src, (flags), u_, w_, (exp_used), (exp_written)); \
	} while (0)

static void
test_early_stop(void)
{
	size_t		cap;

	/* fewer than JSON_MAX_CHAR_OUT bytes: nothing at all */
	for (cap = 0; cap < JSON_MAX_CHAR_OUT; cap++)
	{
		STEP_IS(0, cap, "a", 0, 0);
		STEP_IS(0, cap, "\x01", 0, 0);
		STEP_IS(JSON_ASCII_ONLY, cap, "\xF0\x9F\x98\x80", 0, 0);
	}
	STEP_IS(0, 0, "", 0, 0);
	STEP_IS(0, 100, "", 0, 0);

	/*
	 * Exactly JSON_MAX_CHAR_OUT bytes free: header says the escaper stops
	 * only when fewer remain, so at least one character must be written.
	 */
	STEP_IS(0, 12, "\x01", 1, 6);
	STEP_IS(0, 12, "\"", 1, 2);
	STEP_IS(JSON_ASCII_ONLY, 12, "\xF0\x9F\x98\x80", 4, 12);
	STEP_IS(JSON_VALIDATE, 12, "\x80", 1, 3);
	STEP_IS(JSON_VALIDATE, 12, "\xC3\xA9", 2, 2);
	STEP_IS(0, 12, "a", 1, 1);
	STEP_IS(JSON_VALIDATE, 12, "a", 1, 1);
	STEP_IS(0, 13, "\xE2\x82\xAC", 3, 3);
	STEP_IS(0, 14, "\xF0\x9F\x98\x80", 4, 4);
	STEP_IS(0, 15, "\xF0\x9F\x98\x80", 4, 4);
	STEP_IS(JSON_RAW, 12, "{}", 2, 2);

	/* a long escape-free run is cut, but never inside a character */
	for (cap = 16; cap <= 40; cap++)
	{
		static const char in[] = "abcdefghijklmnopqrstuvwxyz\xF0\x9F\x98\x80"
			"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xE2\x82\xAC\xE2\x82\xAC\xC3\xA9";
		size_t		w;
		size_t		u = escape_cap(in, sizeof(in) - 1, 0, cap, &w);

		CHECK_MSG(u > 0 && u <= sizeof(in) - 1 && w == u && w <= cap &&
				  ((unsigned char) in[u] & 0xC0) != 0x80,
				  "dstcap %zu: consumed %zu, wrote %zu", cap, u, w);
	}
}

/* Inputs for the chunked-output test. */
static const struct
{
	const char *s;
	size_t		len;
}			chunk_inputs[] = {
	{LIT("")},
	{LIT("plain ascii text that is longer than any of the small buffers we use, by far")},
	{LIT("\"quoted\" \\back\\slashed\\ \x01\x02\x1F\n\r\t\b\f and \x7F")},
	{LIT("caf\xC3\xA9 \xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC \xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"
		 "\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF abc")},
	{LIT("\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
		 "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80")},
	{LIT("mixed \x01\xC3\xA9\"\xE2\x82\xAC\\\n\xF0\x9F\x98\x80\t" "0123456789012345678901234567890123456789")},
	{LIT("{\"k\": [\"v\\n\", 1.5e3, null, \"\xC3\xA9\xF0\x9F\x98\x80\"]}")},
	/* invalid UTF-8: only meaningful with VALIDATE or ASCII_ONLY */
	{LIT("\x80\xC0\x80\xED\xA0\x80 ok \xF5\x80\x80\x80\xFF\xE2\x82" "abcdefghijklmnop\xF0\x9F\x98")},
	{LIT("a\0b\0c\0\0\0d")},
};

/*
 * Feeding dst buffers of every capacity from 12 to 40 must give exactly the
 * output of one big call, make progress on every call, never cut a UTF-8
 * sequence or an escape.  One check per capacity; the first counterexample
 * is printed.
 */
static void
test_chunked(void)
{
	size_t		cap;

	for (cap = JSON_MAX_CHAR_OUT; cap <= 40; cap++)
	{
		int			nfail = 0;
		char		first[400] = "";
		size_t		i;
		int			flags;

		for (i = 0; i < sizeof(chunk_inputs) / sizeof(chunk_inputs[0]); i++)
		{
			const char *s = chunk_inputs[i].s;
			size_t		len = chunk_inputs[i].len;
			bool		valid = jc_utf8_valid_len(s, len) == len;

			for (flags = 0; flags <= ALL_FLAGS; flags++)
			{
				char	   *in;
				char	   *whole;
				char	   *pieces;
				size_t		wlen,
							plen,
							where;
				const char *why;
				char		q[200];

				/* invalid input is allowed only with VALIDATE/ASCII_ONLY */
				if (!valid && !(flags & (JSON_VALIDATE | JSON_ASCII_ONLY)))
					continue;
				in = dup_exact(s, len);
				whole = escape_once(in, len, flags, &wlen, __FILE__, __LINE__);
				pieces = malloc(JSON_ESCAPE_BOUND(len));
				why = jc_escape_chunked(in, len, flags, cap, pieces, &plen, &where);
				if (why == NULL && (plen != wlen || memcmp(pieces, whole, wlen) != 0))
					why = "pieces differ from the one-shot output";
				if (why != NULL && nfail++ == 0)
					snprintf(first, sizeof(first),
							 "%s (flags 0x%x, input offset %zu, input %s)",
							 why, flags, where, unit_quote(q, sizeof(q), s, len));
				free(in);
				free(whole);
				free(pieces);
			}
		}
		CHECK_MSG(nfail == 0,
				  "chunked escape with dstcap %zu: %d failing input/flag combinations; first: %s",
				  cap, nfail, first);
	}
}

/* ---------------------------------------------------------------------- */

static uint64_t rng_state = UINT64_C(0x243F6A8885A308D3);

/* xorshift64*: fixed seed, same sequence everywhere */
static uint32_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t) ((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

/* A random string biased towards interesting bytes; returns its length. */
static size_t
random_input(unsigned char *buf, size_t max)
{
	static const char *const tricky[] = {
		"\xED\xA0\x80", "\xED\xBF\xBF", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80",
		"\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF5", "\xFF", "\xE2\x82",
		"\xF0\x9F\x98", "\\u", "\\", "\"", "\xEF\xBF\xBD",
	};
	size_t		len = rnd() % (max - 4);
	size_t		o = 0;

	while (o < len)
	{
		uint32_t	kind = rnd() % 12;
		uint32_t	cp;

		if (kind < 4)
			buf[o++] = (unsigned char) (0x20 + rnd() % 0x5F);
		else if (kind == 4)
			buf[o++] = (unsigned char) (rnd() % 0x20);
		else if (kind == 5)
			buf[o++] = (unsigned char) (0x80 + rnd() % 0x80);
		else if (kind == 6)
			buf[o++] = (unsigned char) rnd();
		else if (kind == 7)
			o += jc_put_utf8(buf + o, 0x80 + rnd() % (0x800 - 0x80));
		else if (kind == 8)
		{
			do
				cp = 0x800 + rnd() % (0x10000 - 0x800);
			while (cp >= 0xD800 && cp <= 0xDFFF);
			o += jc_put_utf8(buf + o, cp);
		}
		else if (kind == 9)
			o += jc_put_utf8(buf + o, 0x10000 + rnd() % (0x110000 - 0x10000));
		else
		{
			const char *t = tricky[rnd() % (sizeof(tricky) / sizeof(tricky[0]))];
			size_t		n = strlen(t);

			if (o + n > max)
				break;
			memcpy(buf + o, t, n);
			o += n;
		}
	}
	return o;
}

#define N_RANDOM 4000

/*
 * Property check: for random byte strings, the VALIDATE and
 * VALIDATE|ASCII_ONLY output is a valid JSON string body that decodes back
 * to the input (invalid bytes read as U+FFFD); every flag combination
 * matches the reference escaper; chunked output (random capacity 12..40)
 * matches the one-shot output; the UTF-8 checks agree with the oracle.
 */
static void
test_random_property(void)
{
	int			nbody[2] = {0, 0};
	int			nround[2] = {0, 0};
	int			nref[ALL_FLAGS + 1] = {0};
	int			nchunk[ALL_FLAGS + 1] = {0};
	int			nutf8 = 0;
	char		firstref[ALL_FLAGS + 1][400];
	char		firstchunk[ALL_FLAGS + 1][400];
	char		q[200];
	int			n;
	int			flags;

	memset(firstref, 0, sizeof(firstref));
	memset(firstchunk, 0, sizeof(firstchunk));
	for (n = 0; n < N_RANDOM; n++)
	{
		unsigned char buf[80];
		size_t		len = random_input(buf, sizeof(buf));
		char	   *in = dup_exact((const char *) buf, len);
		size_t		vlen = jc_utf8_valid_len(in, len);
		bool		valid = vlen == len;

		if (json_utf8_valid_prefix(in, len) != vlen ||
			json_is_clean_utf8(in, len) != (valid && memchr(in, 0, len) == NULL))
		{
			if (nutf8++ == 0)
				fprintf(stderr, "UTF-8 check mismatch on %s\n",
						unit_quote(q, sizeof(q), in, len));
		}

		for (flags = 0; flags <= ALL_FLAGS; flags++)
		{
			size_t		outlen,
						reflen,
						plen,
						where;
			char	   *out = escape_once(in, len, flags, &outlen, __FILE__, __LINE__);
			char	   *ref = malloc(JSON_ESCAPE_BOUND(len));
			char	   *pieces = malloc(JSON_ESCAPE_BOUND(len));
			const char *why;

			reflen = jc_ref_escape(in, len, flags, ref);
			if ((reflen != outlen || memcmp(ref, out, outlen) != 0) &&
				nref[flags]++ == 0)
				snprintf(firstref[flags], sizeof(firstref[flags]),
						 "reference mismatch on %s",
						 unit_quote(q, sizeof(q), in, len));

			if (flags == JSON_VALIDATE ||
				flags == (JSON_VALIDATE | JSON_ASCII_ONLY))
			{
				int			k = (flags & JSON_ASCII_ONLY) ? 1 : 0;

				why = jc_check_body(out, outlen, k == 1, false, &where);
				if (why != NULL)
				{
					if (nbody[k]++ == 0)
						fprintf(stderr, "invalid body (%s at %zu) for input %s\n",
								why, where, unit_quote(q, sizeof(q), in, len));
				}
				else
				{
					/* decode; compare with the input, U+FFFD for bad bytes */
					char	   *dec = malloc(outlen + 1);
					char	   *rep = malloc(JSON_ESCAPE_BOUND(len));
					size_t		declen = jc_unescape(out, outlen, dec);
					size_t		replen = jc_replace_invalid(in, len, rep);

					if ((valid && (declen != len || memcmp(dec, in, len) != 0)) ||
						declen != replen || memcmp(dec, rep, replen) != 0)
					{
						if (nround[k]++ == 0)
							fprintf(stderr, "round trip failed for input %s\n",
									unit_quote(q, sizeof(q), in, len));
					}
					free(dec);
					free(rep);
				}
			}

			/* the contract covers invalid input only with these flags */
			if (valid || (flags & (JSON_VALIDATE | JSON_ASCII_ONLY)))
			{
				size_t		cap = JSON_MAX_CHAR_OUT + rnd() % 29;

				why = jc_escape_chunked(in, len, flags, cap, pieces, &plen, &where);
				if (why == NULL && (plen != outlen || memcmp(pieces, out, outlen) != 0))
					why = "pieces differ from the one-shot output";
				if (why != NULL && nchunk[flags]++ == 0)
					snprintf(firstchunk[flags], sizeof(firstchunk[flags]),
							 "chunked, dstcap %zu: %s at input offset %zu of %s",
							 cap, why, where, unit_quote(q, sizeof(q), in, len));
			}
			free(out);
			free(ref);
			free(pieces);
		}
		free(in);
	}

	CHECK_MSG(nutf8 == 0, "%d random strings: UTF-8 checks disagree with the oracle", nutf8);
	CHECK_MSG(nbody[0] == 0, "%d random strings: VALIDATE output not a valid JSON string body", nbody[0]);
	CHECK_MSG(nbody[1] == 0, "%d random strings: VALIDATE|ASCII_ONLY output not a valid JSON string body", nbody[1]);
	CHECK_MSG(nround[0] == 0, "%d random strings: VALIDATE output does not decode to the input", nround[0]);
	CHECK_MSG(nround[1] == 0, "%d random strings: VALIDATE|ASCII_ONLY output does not decode to the input", nround[1]);
	for (flags = 0; flags <= ALL_FLAGS; flags++)
	{
		CHECK_MSG(nref[flags] == 0,
				  "flags 0x%x: %d of %d random strings differ from the reference escaper; first: %s",
				  flags, nref[flags], N_RANDOM, firstref[flags]);
		CHECK_MSG(nchunk[flags] == 0,
				  "flags 0x%x: %d of %d random strings fail the chunked escape; first: %s",
				  flags, nchunk[flags], N_RANDOM, firstchunk[flags]);
	}
}

/* The oracle must itself reject what it should (else the above is moot). */
static void
test_oracle(void)
{
	size_t		pos;

	CHECK(jc_check_body(LIT("ok \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\uD83D\\uDE00 \xC3\xA9"),
						false, false, &pos) == NULL);
	CHECK(jc_check_body(LIT("a\nb"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("a\"b"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("a\\"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\\x41"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\\u12G4"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\\u123"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\\uD83D"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\\uD83Dx\\uDE00"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\\uD83D\\u0041"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\\uDE00"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\xC3"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\xED\xA0\x80"), false, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\xC3\xA9"), true, false, &pos) != NULL);
	CHECK(jc_check_body(LIT("\"\\\\"), false, true, &pos) == NULL);
	CHECK(jc_check_body(LIT("{\n}"), false, true, &pos) != NULL);
	CHECK(jc_check_body(LIT("\x80"), false, true, &pos) != NULL);
}

/* ---------------------------------------------------------------------- */

/*
 * json_escaped_length() counts exactly what one json_escape() call
 * writes, in every flag combination, on hand-picked and random inputs
 * (invalid UTF-8 without VALIDATE included: the count must match even
 * outside the escaper's contract, since it decides what gets built).
 */
static void
test_escaped_length(void)
{
	static const struct
	{
		const char *s;
		size_t		len;
	}			cases[] = {
		{LIT("")},
		{LIT("plain")},
		{LIT("\x01\x02\x1f")},
		{LIT("\b\f\n\r\t")},
		{LIT("\"\\")},
		{LIT("caf\xc3\xa9")},
		{LIT("\xf0\x9f\x98\x80")},
		{LIT("\xff\xfe\xc3")},
		{LIT("\xed\xa0\x80")},
		{LIT("a\0b")},
		{LIT("{\"k\":\t\"v\"}")},
	};
	int			mismatches = 0;
	size_t		i;
	int			flags;
	int			n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (flags = 0; flags <= ALL_FLAGS; flags++)
		{
			size_t		outlen;
			char	   *out = escape_once(cases[i].s, cases[i].len, flags,
										  &outlen, __FILE__, __LINE__);
			char	   *in = dup_exact(cases[i].s, cases[i].len);

			CHECK_MSG(json_escaped_length(in, cases[i].len, flags) == outlen,
					  "case %zu flags 0x%x: length %zu, escape wrote %zu", i, flags,
					  json_escaped_length(in, cases[i].len, flags), outlen);
			free(in);
			free(out);
		}
	/* the poison value: every byte becomes \u0001 */
	{
		size_t		len = 100000;
		char	   *in = malloc(len);

		memset(in, 1, len);
		CHECK_MSG(json_escaped_length(in, len, 0) == 6 * len,
				  "chr(1) x %zu counts %zu", len, json_escaped_length(in, len, 0));
		free(in);
	}
	for (n = 0; n < N_RANDOM; n++)
	{
		unsigned char buf[80];
		size_t		len = random_input(buf, sizeof(buf));
		char	   *in = dup_exact((const char *) buf, len);

		for (flags = 0; flags <= ALL_FLAGS; flags++)
		{
			size_t		outlen;
			char	   *out = escape_once(in, len, flags, &outlen, __FILE__, __LINE__);

			if (json_escaped_length(in, len, flags) != outlen)
				mismatches++;
			free(out);
		}
		free(in);
	}
	CHECK_MSG(mismatches == 0, "%d random inputs counted differently than escaped",
			  mismatches);
}

static void
test_hex(void)
{
	static const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	char	   *dst = malloc(2 * sizeof(bytes));
	char		one[2];

	CHECK_EQ_INT(json_hex(dst, bytes, 0), 0);
	CHECK_EQ_INT(json_hex(dst, bytes, sizeof(bytes)), 2 * sizeof(bytes));
	CHECK_EQ_MEM(dst, 2 * sizeof(bytes), "00017f80abcdefff", 16);
	CHECK_EQ_INT(json_hex(one, bytes + 6, 1), 2);
	CHECK_EQ_MEM(one, 2, "ef", 2);
	free(dst);
}

static void
check_lsn_format(uint64_t lsn, const char *expect, const char *file, int line)
{
	char	   *dst = malloc(JSON_LSN_MAXLEN);
	size_t		n = json_lsn(dst, lsn);
	uint64_t	back = 0;
	char		what[64];

	snprintf(what, sizeof(what), "json_lsn(0x%" PRIX64 ")", lsn);
	unit_check_mem(dst, n, expect, strlen(expect), what, "expected", file, line);
	unit_check(json_parse_lsn(dst, n, &back) && back == lsn, file, line,
			   "json_parse_lsn does not read back %s", expect);
	free(dst);
}

#define LSN_FORMAT_IS(lsn, s) check_lsn_format((lsn), (s), __FILE__, __LINE__)

static void
check_lsn_parse(const char *s, size_t len, bool ok, uint64_t expect,
				const char *file, int line)
{
	char	   *in = dup_exact(s, len);
	uint64_t	v = UINT64_C(0xDEADBEEF);
	bool		got = json_parse_lsn(in, len, &v);
	char		q[100];

	if (ok)
		unit_check(got && v == expect, file, line,
				   "json_parse_lsn(%s): got %s 0x%" PRIX64 ", expected 0x%" PRIX64,
				   unit_quote(q, sizeof(q), s, len), got ? "true" : "false",
				   v, expect);
	else
		unit_check(!got, file, line, "json_parse_lsn(%s) accepted it (0x%" PRIX64 ")",
				   unit_quote(q, sizeof(q), s, len), v);
	free(in);
}

#define LSN_PARSES(s, v)	check_lsn_parse(LIT(s), true, (v), __FILE__, __LINE__)
#define LSN_REJECTS(s)		check_lsn_parse(LIT(s), false, 0, __FILE__, __LINE__)

static void
test_lsn(void)
{
	int			i;

	LSN_FORMAT_IS(0, "0/0");
	LSN_FORMAT_IS(UINT64_C(0x16B374D848), "16/B374D848");
	LSN_FORMAT_IS(UINT64_MAX, "FFFFFFFF/FFFFFFFF");
	LSN_FORMAT_IS(UINT64_C(0x100000000), "1/0");
	LSN_FORMAT_IS(UINT64_C(0xFFFFFFFF), "0/FFFFFFFF");
	LSN_FORMAT_IS(UINT64_C(0x0000000A0000000B), "A/B");
	LSN_FORMAT_IS(UINT64_C(0x1000000010000000), "10000000/10000000");
	CHECK_EQ_INT(strlen("FFFFFFFF/FFFFFFFF"), JSON_LSN_MAXLEN);

	for (i = 0; i < 1000; i++)
	{
		uint64_t	lsn = ((uint64_t) rnd() << 32) | rnd();
		char		buf[JSON_LSN_MAXLEN];
		size_t		n;
		uint64_t	back = 0;

		lsn >>= rnd() % 64;		/* all lengths */
		n = json_lsn(buf, lsn);
		if (!CHECK_MSG(n <= JSON_LSN_MAXLEN && json_parse_lsn(buf, n, &back) &&
					   back == lsn, "LSN round trip of 0x%" PRIX64, lsn))
			break;
	}

	LSN_PARSES("0/0", 0);
	LSN_PARSES("16/B374D848", UINT64_C(0x16B374D848));
	LSN_PARSES("16/b374d848", UINT64_C(0x16B374D848));
	LSN_PARSES("FFFFFFFF/FFFFFFFF", UINT64_MAX);
	LSN_PARSES("00000000/00000001", 1);
	LSN_PARSES("1/0", UINT64_C(0x100000000));

	LSN_REJECTS("");
	LSN_REJECTS("/");
	LSN_REJECTS("1/");
	LSN_REJECTS("/1");
	LSN_REJECTS("G/1");
	LSN_REJECTS("1/G");
	LSN_REJECTS("123456789/1");
	LSN_REJECTS("1/123456789");
	LSN_REJECTS("000000000/0");
	LSN_REJECTS("1");
	LSN_REJECTS("16B374D848");
	LSN_REJECTS("1/2/3");
	LSN_REJECTS("1//2");
	LSN_REJECTS(" 1/2");
	LSN_REJECTS("1/2 ");
	LSN_REJECTS("1 /2");
	LSN_REJECTS("-1/2");
	LSN_REJECTS("+1/2");
	LSN_REJECTS("0x1/2");
	LSN_REJECTS("1/2\0");
	LSN_REJECTS("1\0/2");
}

int
main(void)
{
	test_oracle();
	test_control_characters();
	test_quotes_and_ascii();
	test_multibyte_passthrough();
	test_ascii_only();
	test_validate();
	test_raw();
	test_early_stop();
	test_chunked();
	test_random_property();
	test_escaped_length();
	test_hex();
	test_lsn();
	return unit_summary();
}
