/*-------------------------------------------------------------------------
 *
 * fuzz_json_escape.c
 *	  libFuzzer target for src/json/json_encode.c: json_escape() in every
 *	  flag combination and with small dst buffers, the UTF-8 checks, and
 *	  LSN parsing/formatting.
 *
 * Input: the first byte chooses the flags (bits 0-2: ASCII_ONLY, VALIDATE,
 * RAW) and the dst capacity of the chunked run (FUZZ_MIN_CAP + bits 3-7);
 * the rest is the text.  Aborts unless:
 * - one call with JSON_ESCAPE_BOUND bytes consumes everything, and its
 *	 output equals the reference escaper's (test/fuzz/json_check.h);
 * - the output is a valid JSON string body (only the UTF-8/ASCII rules
 *	 under RAW) whenever the input is valid UTF-8 or VALIDATE/ASCII_ONLY
 *	 is set, and decodes back to the input (bad bytes as U+FFFD);
 * - on valid UTF-8 input without ASCII_ONLY, RAW output is the input
 *	 with control characters turned into spaces (never a raw newline);
 * - escaping in a loop into fresh dst buffers of that capacity makes
 *	 progress on every call, cuts no character or escape, and gives the
 *	 one-shot output (when the input is outside the contract, invalid
 *	 UTF-8 without VALIDATE/ASCII_ONLY, only memory safety is checked);
 * - json_escaped_length counts exactly what that one call wrote (also
 *	 outside the contract: it decides whether a value is built at all);
 * - json_utf8_valid_prefix/json_is_clean_utf8 agree with the oracle;
 * - json_parse_lsn accepts exactly [0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}
 *	 and its value round-trips through json_lsn.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_encode.h"
#include "json_check.h"

#define FUZZ_MIN_CAP JSON_MAX_CHAR_OUT

#define FUZZ_ASSERT(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_json_escape: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n > 0 ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		(c >= 'A' && c <= 'F');
}

/* Reference LSN syntax: 1-8 hex digits, '/', 1-8 hex digits. */
static bool
ref_lsn(const char *s, size_t len, uint64_t *v)
{
	size_t		i = 0;
	size_t		n;
	uint64_t	hi = 0;
	uint64_t	lo = 0;

	for (n = 0; i < len && is_hex(s[i]); i++, n++)
		hi = hi * 16 + (uint64_t) (s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10);
	if (n < 1 || n > 8 || i >= len || s[i] != '/')
		return false;
	i++;
	for (n = 0; i < len && is_hex(s[i]); i++, n++)
		lo = lo * 16 + (uint64_t) (s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10);
	if (n < 1 || n > 8 || i != len)
		return false;
	*v = (hi << 32) | lo;
	return true;
}

static void
check_lsn(const char *src, size_t len)
{
	uint64_t	got = 0;
	uint64_t	want = 0;
	bool		ok = json_parse_lsn(src, len, &got);
	bool		ref = ref_lsn(src, len, &want);

	FUZZ_ASSERT(ok == ref, "json_parse_lsn returned %d, reference %d", ok, ref);
	if (ok)
	{
		char		buf[JSON_LSN_MAXLEN];
		size_t		n;
		uint64_t	back = 0;

		FUZZ_ASSERT(got == want, "parsed 0x%" PRIX64 ", reference 0x%" PRIX64, got, want);
		n = json_lsn(buf, got);
		FUZZ_ASSERT(n <= JSON_LSN_MAXLEN && json_parse_lsn(buf, n, &back) &&
					back == got, "LSN 0x%" PRIX64 " does not round-trip", got);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			flags;
	size_t		cap;
	const char *src;
	size_t		len;
	size_t		vlen;
	bool		valid;
	bool		in_contract;
	bool		raw;
	bool		ascii;
	size_t		bound;
	char	   *out;
	char	   *ref;
	size_t		used,
				written,
				reflen,
				pos;
	const char *why;

	if (size < 1)
		return 0;
	flags = data[0] & (JSON_ASCII_ONLY | JSON_VALIDATE | JSON_RAW);
	cap = FUZZ_MIN_CAP + (data[0] >> 3);
	src = (const char *) data + 1;
	len = size - 1;
	raw = (flags & JSON_RAW) != 0;
	ascii = (flags & JSON_ASCII_ONLY) != 0;

	/* the UTF-8 checks */
	vlen = jc_utf8_valid_len(src, len);
	valid = vlen == len;
	FUZZ_ASSERT(json_utf8_valid_prefix(src, len) == vlen,
				"json_utf8_valid_prefix = %zu, reference %zu",
				json_utf8_valid_prefix(src, len), vlen);
	FUZZ_ASSERT(json_is_clean_utf8(src, len) ==
				(valid && memchr(src, 0, len) == NULL),
				"json_is_clean_utf8 disagrees");
	in_contract = valid || (flags & (JSON_VALIDATE | JSON_ASCII_ONLY)) != 0;

	/* one call with the documented bound */
	bound = JSON_ESCAPE_BOUND(len);
	out = xmalloc(bound);
	written = (size_t) -1;
	used = json_escape(out, bound, src, len, flags, &written);
	FUZZ_ASSERT(used == len, "consumed %zu of %zu with dstcap = bound (flags 0x%x)",
				used, len, flags);
	FUZZ_ASSERT(written <= bound, "wrote %zu > bound %zu", written, bound);
	FUZZ_ASSERT(json_escaped_length(src, len, flags) == written,
				"json_escaped_length = %zu, escape wrote %zu (flags 0x%x)",
				json_escaped_length(src, len, flags), written, flags);

	ref = xmalloc(bound);
	reflen = jc_ref_escape(src, len, flags, ref);
	FUZZ_ASSERT(reflen == written && memcmp(ref, out, written) == 0,
				"output differs from the reference escaper (flags 0x%x)", flags);

	if (in_contract)
	{
		why = jc_check_body(out, written, ascii, raw, &pos);
		FUZZ_ASSERT(why == NULL, "invalid output (flags 0x%x): %s at %zu",
					flags, why, pos);
		if (!raw)
		{
			/* decodes back to the input, bad bytes read as U+FFFD */
			char	   *dec = xmalloc(written);
			char	   *rep = xmalloc(bound);
			size_t		declen = jc_unescape(out, written, dec);
			size_t		replen = jc_replace_invalid(src, len, rep);

			FUZZ_ASSERT(declen == replen && memcmp(dec, rep, replen) == 0,
						"output does not decode to the input (flags 0x%x)", flags);
			if (valid)
				FUZZ_ASSERT(declen == len && memcmp(dec, src, len) == 0,
							"valid input does not round-trip (flags 0x%x)", flags);
			free(dec);
			free(rep);
		}
		else if (valid && !ascii)
		{
			size_t		i;

			FUZZ_ASSERT(written == len, "RAW output length %zu, input %zu",
						written, len);
			for (i = 0; i < len; i++)
				FUZZ_ASSERT(out[i] == ((unsigned char) src[i] < 0x20 ? ' ' : src[i]),
							"RAW output differs from the input at %zu (flags 0x%x)",
							i, flags);
		}
	}

	/* chunked, with fresh dst buffers of cap bytes */
	if (in_contract)
	{
		char	   *pieces = xmalloc(bound);
		size_t		plen = 0;

		why = jc_escape_chunked(src, len, flags, cap, pieces, &plen, &pos);
		FUZZ_ASSERT(why == NULL, "chunked, dstcap %zu, flags 0x%x: %s at input offset %zu",
					cap, flags, why, pos);
		FUZZ_ASSERT(plen == written && memcmp(pieces, out, written) == 0,
					"chunked output (dstcap %zu, flags 0x%x) differs from one-shot",
					cap, flags);
		free(pieces);
	}
	else
	{
		/* outside the contract: memory safety only, stop when stuck */
		char	   *piece = xmalloc(cap);
		size_t		done = 0;

		while (done < len)
		{
			size_t		w = (size_t) -1;
			size_t		u = json_escape(piece, cap, src + done, len - done,
										flags, &w);

			FUZZ_ASSERT(w <= cap && u <= len - done,
						"wrote %zu (dstcap %zu), consumed %zu of %zu",
						w, cap, u, len - done);
			if (u == 0)
				break;
			done += u;
		}
		free(piece);
	}

	check_lsn(src, len);

	free(out);
	free(ref);
	return 0;
}
