/*-------------------------------------------------------------------------
 *
 * fuzz_handshake.c
 *	  libFuzzer target for src/protocol/handshake.c.
 *
 * Input: "list\norigin" (without a newline, the whole input is both).
 * Every function of handshake.h runs on it, with these invariants:
 *	- key: a valid key decodes to 16 bytes that encode back to it, and the
 *	  base64 of any 16 input bytes is valid;
 *	- Bearer: a token found lies inside the header, ends where it ends,
 *	  is token68 (no '=' before the padding) and follows "Bearer" and
 *	  spaces; the same header with the scheme in other case gives the same
 *	  token, and "Bearer " + a found token gives that token again;
 *	- Origin: an empty or NULL list allows anything; an origin allowed by
 *	  a non-empty list is well formed (allowed by "*"), holds no comma,
 *	  space or NUL, is a valid list by itself and allows itself; "*," in
 *	  front of any list allows exactly the well-formed origins; ASCII case
 *	  of the list or the origin never changes the answer;
 *	- list validation: a refused list names a bad entry inside it, which
 *	  is not valid alone; in a valid list, every entry but "*" allows
 *	  itself.  Any list, valid or not, goes through the matcher.
 * ASan catches any read past the lengths given.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/handshake.h"

#define MAX_INPUT 4096

static const char b64[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* malloc'd copy of s[0..len) with a NUL, so ASan sees an overread */
static char *
dup_n(const char *s, size_t len)
{
	char	   *r = malloc(len + 1);

	if (r == NULL)
		abort();
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

static char *
upper_n(const char *s, size_t len)
{
	char	   *r = dup_n(s, len);

	for (size_t i = 0; i < len; i++)
		if (r[i] >= 'a' && r[i] <= 'z')
			r[i] = (char) (r[i] - 'a' + 'A');
	return r;
}

static void
b64_encode16(const unsigned char *in, char *out)
{
	int			o = 0;

	for (int i = 0; i < 15; i += 3)
	{
		uint32_t	v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	out[o++] = b64[in[15] >> 2];
	out[o++] = b64[(in[15] & 3) << 4];
	out[o++] = '=';
	out[o++] = '=';
}

static void
check_key(const char *s, size_t len)
{
	unsigned char bytes[16];
	char		again[24];
	uint32_t	acc = 0;
	int			bits = 0,
				n = 0;

	if (!handshake_key_valid(s, len))
		return;
	if (len != 24)
		abort();
	for (int i = 0; i < 22; i++)
	{
		const char *p = memchr(b64, s[i], 64);

		if (p == NULL)
			abort();
		acc = acc << 6 | (uint32_t) (p - b64);
		bits += 6;
		if (bits >= 8 && n < 16)
		{
			bits -= 8;
			bytes[n++] = (unsigned char) (acc >> bits);
		}
	}
	if (n != 16)
		abort();
	b64_encode16(bytes, again);
	if (memcmp(again, s, 24) != 0)
		abort();
}

static bool
token68_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || (c != '\0' && strchr("-._~+/", c) != NULL);
}

/* The Bearer token of h[0..len), its invariants checked; NULL if none. */
static const char *
check_bearer(const char *h, size_t len, size_t *tlen)
{
	const char *tok = NULL;
	size_t		i;
	bool		padding = false;

	if (!handshake_bearer_token(h, len, &tok, tlen))
		return NULL;
	if (tok < h + 7 || *tlen == 0 || tok + *tlen != h + len ||
		strncasecmp(h, "bearer ", 7) != 0)
		abort();
	for (i = 6; h + i < tok; i++)
		if (h[i] != ' ')
			abort();
	for (i = 0; i < *tlen; i++)
	{
		if (tok[i] == '=')
			padding = true;
		else if (padding || !token68_char(tok[i]))
			abort();
	}
	if (tok[0] == '=')
		abort();
	return tok;
}

static void
check_bearers(const char *h, size_t len)
{
	const char *tok;
	size_t		tlen,
				tlen2;
	char	   *copy;

	tok = check_bearer(h, len, &tlen);
	/* the scheme in another case: the same answer */
	copy = dup_n(h, len);
	for (size_t i = 0; i < len && i < 6; i++)
		copy[i] ^= (copy[i] >= 'A' && copy[i] <= 'Z') || (copy[i] >= 'a' && copy[i] <= 'z') ? 0x20 : 0;
	if ((check_bearer(copy, len, &tlen2) != NULL) != (tok != NULL) ||
		(tok != NULL && tlen2 != tlen))
		abort();
	free(copy);
	if (tok != NULL)
	{
		/* "Bearer " + the token: the token again */
		copy = malloc(7 + tlen);
		memcpy(copy, "Bearer ", 7);
		memcpy(copy + 7, tok, tlen);
		if (check_bearer(copy, 7 + tlen, &tlen2) != copy + 7 || tlen2 != tlen)
			abort();
		free(copy);
	}
}

static bool
well_formed(const char *origin, size_t len)
{
	return handshake_origin_allowed("*", origin, len);
}

static void
check_origin(const char *list, const char *origin, size_t len)
{
	bool		r = handshake_origin_allowed(list, origin, len);
	bool		wf = well_formed(origin, len);
	char	   *s;

	if (!handshake_origin_allowed(NULL, origin, len) ||
		!handshake_origin_allowed("", origin, len))
		abort();
	if (list[0] == '\0' && !r)
		abort();
	if (list[0] != '\0' && r && !wf)
		abort();
	if (wf)
	{
		const char *bad;
		size_t		bad_len;

		if (len == 0 || memchr(origin, ',', len) || memchr(origin, ' ', len) ||
			memchr(origin, '\t', len) || memchr(origin, '\0', len) ||
			(len == 4 && memcmp(origin, "null", 4) == 0))
			abort();
		s = dup_n(origin, len);
		if (!handshake_origin_list_valid(s, &bad, &bad_len) ||
			!handshake_origin_allowed(s, origin, len))
			abort();
		free(s);
	}
	/* "*" in front allows exactly the well-formed origins */
	s = malloc(strlen(list) + 3);
	memcpy(s, "*,", 2);
	strcpy(s + 2, list);
	if (handshake_origin_allowed(s, origin, len) != wf)
		abort();
	free(s);
	/* ASCII case is never significant */
	s = upper_n(list, strlen(list));
	if (handshake_origin_allowed(s, origin, len) != r)
		abort();
	free(s);
	s = upper_n(origin, len);
	if (handshake_origin_allowed(list, s, len) != r || well_formed(s, len) != wf)
		abort();
	free(s);
}

static void
check_list(const char *list)
{
	const char *bad = NULL;
	size_t		bad_len = 0;
	size_t		n = strlen(list);
	bool		valid = handshake_origin_list_valid(list, &bad, &bad_len);

	if (n == 0 && !valid)
		abort();
	if (!valid)
	{
		char	   *alone;
		const char *bad2;
		size_t		bad2_len;

		if (bad < list || bad + bad_len > list + n)
			abort();
		if (bad_len > 0)
		{
			/* the bad entry is trimmed and holds no comma */
			if (memchr(bad, ',', bad_len) || bad[0] == ' ' || bad[0] == '\t' ||
				bad[bad_len - 1] == ' ' || bad[bad_len - 1] == '\t')
				abort();
			alone = dup_n(bad, bad_len);
			if (handshake_origin_list_valid(alone, &bad2, &bad2_len))
				abort();
			free(alone);
		}
		return;
	}
	/* every entry of a valid list, but "*", allows itself */
	for (const char *p = list; n > 0;)
	{
		const char *e = strchr(p, ',');
		const char *q;

		if (e == NULL)
			e = p + strlen(p);
		q = e;
		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if (q == p)
			abort();			/* an empty entry in a valid list */
		if (!(q - p == 1 && *p == '*') &&
			(!handshake_origin_allowed(list, p, (size_t) (q - p)) ||
			 !well_formed(p, (size_t) (q - p))))
			abort();
		if (*e == '\0')
			break;
		p = e + 1;
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	const char *nl;
	size_t		llen;
	const char *origin;
	size_t		olen;
	char	   *list;
	char	   *bearer;

	if (size > MAX_INPUT)
		return 0;
	nl = memchr(text, '\n', size);
	llen = nl != NULL ? (size_t) (nl - text) : size;
	origin = nl != NULL ? nl + 1 : text;
	olen = nl != NULL ? size - llen - 1 : size;

	/* Sec-WebSocket-Key: the input, each part, and 16 bytes encoded */
	check_key(text, size);
	check_key(origin, olen);
	if (size >= 16)
	{
		char		k[24];

		b64_encode16(data, k);
		if (!handshake_key_valid(k, 24))
			abort();
	}

	/* Authorization: the input, each part, and the input after "Bearer " */
	check_bearers(text, size);
	check_bearers(text, llen);
	check_bearers(origin, olen);
	bearer = malloc(7 + size);
	memcpy(bearer, "Bearer ", 7);
	memcpy(bearer + 7, text, size);
	check_bearers(bearer, 7 + size);
	free(bearer);

	/* Origin: the first line as a list (up to a NUL), the rest an origin */
	list = dup_n(text, llen);
	check_list(list);
	check_origin(list, origin, olen);
	check_origin(list, text, llen);
	free(list);
	return 0;
}
