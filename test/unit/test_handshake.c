/*-------------------------------------------------------------------------
 *
 * test_handshake.c
 *	  Unit tests for src/protocol/handshake.c, the rules of the WebSocket
 *	  upgrade request.
 *
 * Written from what handshake.h promises: Sec-WebSocket-Key is the base64
 * of exactly 16 bytes; an Authorization header yields a token only for
 * "Bearer" (any case), spaces, a token68 and nothing else; an Origin is
 * allowed by a list only when it is scheme "://" host [":" port] and
 * equal to an entry (scheme and host without regard to case, the port
 * exactly) or the list holds "*"; an empty or NULL list allows all.
 * Inputs carry explicit lengths, so embedded NULs and bytes past the
 * length are tested too.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/handshake.h"
#include "unit.h"

/* ----------------------------------------------------------------
 * Sec-WebSocket-Key
 * ----------------------------------------------------------------
 */

static bool
key(const char *s)
{
	return handshake_key_valid(s, strlen(s));
}

static void
test_key(void)
{
	/* RFC 6455 1.3's sample key, and the extremes of the alphabet */
	CHECK(key("dGhlIHNhbXBsZSBub25jZQ=="));
	CHECK(key("AAAAAAAAAAAAAAAAAAAAAA=="));
	CHECK(key("/////////////////////w=="));
	CHECK(key("+/+/+/+/+/+/+/+/+/+/+g=="));
	/* the 22nd character carries 2 bits of data and 4 zero bits */
	CHECK(key("AAAAAAAAAAAAAAAAAAAAAQ=="));
	CHECK(key("AAAAAAAAAAAAAAAAAAAAAg=="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAAB=="));
	CHECK(!key("dGhlIHNhbXBsZSBub25jZR=="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAA/=="));

	/* length: 16 bytes only, padding required */
	CHECK(!key(""));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAAA="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAAA"));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAAAA="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAAA=="
			   "AAAAAAAAAAAAAAAAAAAAAA=="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAAA==="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAA==="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAAAAA"));		/* 18 bytes */
	CHECK(!key("AAAAAAAAAAAAAAAAAAAAA=A="));

	/* alphabet: base64url, spaces and controls are not base64 */
	CHECK(!key("AAAAAAAAAAAAAAAAAAAA-A=="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAA_A=="));
	CHECK(!key(" AAAAAAAAAAAAAAAAAAAAA=="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAA\tA=="));
	CHECK(!key("AAAAAAAAAAAAAAAAAAAA\xc3\xa9=="));

	/* embedded NUL: the length counts, not strlen */
	CHECK(!handshake_key_valid("AAAAA\0AAAAAAAAAAAAAAAA==", 24));
	CHECK(!handshake_key_valid("AAAAAAAAAAAAAAAAAAAAA\0==", 24));
	CHECK(!handshake_key_valid("AAAAAAAAAAAAAAAAAAAAAA=\0", 24));
	/* bytes past len are not read as part of the key */
	CHECK(handshake_key_valid("AAAAAAAAAAAAAAAAAAAAAA==xyz", 24));
	CHECK(!handshake_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 23));
	CHECK(!handshake_key_valid(NULL, 24));
	CHECK(!handshake_key_valid(NULL, 0));
}

/* ----------------------------------------------------------------
 * Authorization: Bearer
 * ----------------------------------------------------------------
 */

/* The token of header (len bytes), or NULL; checks it lies inside. */
static const char *
bearer_n(const char *header, size_t len, char *out, size_t outsize)
{
	const char *tok = NULL;
	size_t		tlen = 0;

	if (!handshake_bearer_token(header, len, &tok, &tlen))
		return NULL;
	if (!CHECK_MSG(tok >= header && tlen > 0 && tok + tlen == header + len &&
				   tlen < outsize, "token outside the header"))
		return NULL;
	memcpy(out, tok, tlen);
	out[tlen] = '\0';
	return out;
}

static const char *
bearer(const char *header, char *out, size_t outsize)
{
	return bearer_n(header, strlen(header), out, outsize);
}

static void
test_bearer(void)
{
	char		t[256];
	const char *tok = "untouched";
	size_t		tlen = 99;

	CHECK_EQ_STR(bearer("Bearer abc", t, sizeof(t)), "abc");
	/* the scheme is case-insensitive (RFC 7235 2.1) */
	CHECK_EQ_STR(bearer("bearer abc", t, sizeof(t)), "abc");
	CHECK_EQ_STR(bearer("BEARER abc", t, sizeof(t)), "abc");
	CHECK_EQ_STR(bearer("bEaReR abc", t, sizeof(t)), "abc");
	/* one or more spaces, none taken into the token */
	CHECK_EQ_STR(bearer("Bearer     abc", t, sizeof(t)), "abc");
	CHECK_EQ_STR(bearer("Bearer x", t, sizeof(t)), "x");
	/* a JWT, and every token68 character */
	CHECK_EQ_STR(bearer("Bearer eyJhbGciOiJIUzI1NiJ9.eyJyIjoxfQ.c2ln-_", t, sizeof(t)),
				 "eyJhbGciOiJIUzI1NiJ9.eyJyIjoxfQ.c2ln-_");
	CHECK_EQ_STR(bearer("Bearer AZaz09-._~+/", t, sizeof(t)), "AZaz09-._~+/");
	/* '=' padding, only at the end */
	CHECK_EQ_STR(bearer("Bearer abc=", t, sizeof(t)), "abc=");
	CHECK_EQ_STR(bearer("Bearer abc==", t, sizeof(t)), "abc==");
	CHECK_EQ_STR(bearer("Bearer abc=====", t, sizeof(t)), "abc=====");
	CHECK(bearer("Bearer a=b", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer ab=c=", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer =", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer ==abc", t, sizeof(t)) == NULL);

	/* other schemes, and prefixes or extensions of "Bearer" */
	CHECK(bearer("Basic dXNlcjpwYXNz", t, sizeof(t)) == NULL);
	CHECK(bearer("Digest username=\"u\"", t, sizeof(t)) == NULL);
	CHECK(bearer("Token abc", t, sizeof(t)) == NULL);
	CHECK(bearer("Bear abc", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearerabc", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearers abc", t, sizeof(t)) == NULL);
	CHECK(bearer("XBearer abc", t, sizeof(t)) == NULL);

	/* the shape: exactly scheme, spaces, token */
	CHECK(bearer("", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer ", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer      ", t, sizeof(t)) == NULL);
	CHECK(bearer(" Bearer abc", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer abc ", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer abc def", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer\tabc", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer \tabc", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer abc\r\n", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer abc,def", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer a\"b", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer abc=def", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer \xc3\xa9t\xc3\xa9", t, sizeof(t)) == NULL);
	CHECK(bearer("Bearer token=\"abc\"", t, sizeof(t)) == NULL);

	/* embedded NUL and the length */
	CHECK(bearer_n("Bearer ab\0cd", 12, t, sizeof(t)) == NULL);
	CHECK(bearer_n("Bearer abc\0", 11, t, sizeof(t)) == NULL);
	CHECK(bearer_n("Bearer \0abc", 11, t, sizeof(t)) == NULL);
	CHECK(bearer_n("Bear\0r abc", 10, t, sizeof(t)) == NULL);
	CHECK_EQ_STR(bearer_n("Bearer abc def", 10, t, sizeof(t)), "abc");
	CHECK(bearer_n("Bearer abc", 7, t, sizeof(t)) == NULL);
	CHECK(bearer_n("Bearer abc", 6, t, sizeof(t)) == NULL);
	CHECK(bearer_n("Bearer abc", 0, t, sizeof(t)) == NULL);
	CHECK(!handshake_bearer_token(NULL, 10, &tok, &tlen));

	/* the token points into the header, not at a copy */
	{
		static const char h[] = "Bearer   tok68==";

		CHECK(handshake_bearer_token(h, strlen(h), &tok, &tlen));
		CHECK(tok == h + 9 && tlen == 7);
	}
	/* a long token */
	{
		size_t		n = 7 + 8000;
		char	   *h = malloc(n);

		memcpy(h, "Bearer ", 7);
		memset(h + 7, 'a', n - 7);
		CHECK(handshake_bearer_token(h, n, &tok, &tlen) && tok == h + 7 && tlen == 8000);
		free(h);
	}
}

/* ----------------------------------------------------------------
 * Origin
 * ----------------------------------------------------------------
 */

static bool
allowed(const char *list, const char *origin)
{
	return handshake_origin_allowed(list, origin, origin ? strlen(origin) : 0);
}

static void
test_origin_allowed(void)
{
	const char *one = "https://app.example.com";
	const char *two = "  https://app.example.com ,\thttp://localhost:3000  ";

	CHECK(allowed(one, "https://app.example.com"));
	/* scheme and host compare without regard to case */
	CHECK(allowed(one, "HTTPS://APP.EXAMPLE.COM"));
	CHECK(allowed(one, "Https://App.Example.Com"));
	CHECK(allowed("HTTPS://App.Example.COM", "https://app.example.com"));
	/* a different scheme, host or port is another origin */
	CHECK(!allowed(one, "http://app.example.com"));
	CHECK(!allowed(one, "wss://app.example.com"));
	CHECK(!allowed(one, "https://evil.example.com"));
	CHECK(!allowed(one, "https://sub.app.example.com"));
	CHECK(!allowed(one, "https://app.example.com.evil.com"));
	CHECK(!allowed(one, "https://app.example.co"));
	CHECK(!allowed(one, "https://app.example.comm"));
	CHECK(!allowed(one, "https://xapp.example.com"));
	/* the port exactly: a default port is not filled in */
	CHECK(!allowed(one, "https://app.example.com:443"));
	CHECK(!allowed("https://app.example.com:443", "https://app.example.com"));
	CHECK(allowed("https://app.example.com:443", "https://app.example.com:443"));
	CHECK(!allowed("http://a:80", "http://a:080"));
	/* an origin has no path, not even "/", no query, no user */
	CHECK(!allowed(one, "https://app.example.com/"));
	CHECK(!allowed(one, "https://app.example.com/app"));
	CHECK(!allowed(one, "https://app.example.com?x"));
	CHECK(!allowed(one, "https://app.example.com#x"));
	CHECK(!allowed(one, "https://user@app.example.com"));
	CHECK(!allowed(one, "https://user:pw@app.example.com"));
	/* the origin is not trimmed, only list entries are */
	CHECK(!allowed(one, " https://app.example.com"));
	CHECK(!allowed(one, "https://app.example.com "));
	CHECK(!allowed(one, "https://app.example.com,"));

	/* spaces and tabs around entries; every entry counts */
	CHECK(allowed(two, "https://app.example.com"));
	CHECK(allowed(two, "http://localhost:3000"));
	CHECK(allowed(two, "http://LOCALHOST:3000"));
	CHECK(!allowed(two, "http://localhost"));
	CHECK(!allowed(two, "http://localhost:300"));
	CHECK(!allowed(two, "http://localhost:30000"));
	CHECK(!allowed(two, "http://localhost:3001"));
	CHECK(!allowed(two, "https://localhost:3000"));

	/* IPv6 literals, with and without a port */
	CHECK(allowed("http://[::1]:8080", "http://[::1]:8080"));
	CHECK(!allowed("http://[::1]:8080", "http://[::1]"));
	CHECK(!allowed("http://[::1]:8080", "http://[::2]:8080"));
	CHECK(allowed("http://[::1]", "http://[::1]"));
	CHECK(allowed("https://[fe80::1]", "https://[FE80::1]"));
	CHECK(allowed("http://[::ffff:127.0.0.1]", "http://[::ffff:127.0.0.1]"));
	CHECK(!allowed("http://[::1]", "http://[::1"));
	CHECK(!allowed("http://[::1]", "http://::1"));
	CHECK(!allowed("*", "http://[]"));
	CHECK(!allowed("*", "http://[::1]x"));
	CHECK(!allowed("*", "http://[::1]:"));
	CHECK(!allowed("*", "http://[g::1]"));
	CHECK(!allowed("*", "http://[::1%25eth0]"));
	CHECK(allowed("*", "http://[::1]:1"));

	/* "*" allows any well-formed origin, and only those */
	CHECK(allowed("*", "https://anything.example"));
	CHECK(allowed("*", "http://localhost:8080"));
	CHECK(allowed("*", "chrome-extension://abcdef"));
	CHECK(allowed("https://a.example, *", "http://b.example"));
	CHECK(allowed(" * ", "http://b.example"));
	CHECK(!allowed("*", ""));
	CHECK(!allowed("*", "localhost"));
	CHECK(!allowed("*", "localhost:3000"));
	CHECK(!allowed("*", "https://"));
	CHECK(!allowed("*", "https:/a.example"));
	CHECK(!allowed("*", "://a.example"));
	CHECK(!allowed("*", "1http://a.example"));
	CHECK(!allowed("*", "https://a.example/"));
	CHECK(!allowed("*", "https://a.example:"));
	CHECK(!allowed("*", "https://a.example:123456"));
	CHECK(!allowed("*", "https://a.example:8x"));
	CHECK(!allowed("*", "https://a.example\r\n"));
	CHECK(!allowed("**", "https://a.example"));
	CHECK(!allowed("*.example", "https://a.example"));
	CHECK(!allowed("https://*.example", "https://a.example"));

	/* the opaque origin "null" is never allowed by a list, even "*" */
	CHECK(!allowed("*", "null"));
	CHECK(!allowed("null", "null"));
	CHECK(!allowed(one, "null"));
	CHECK(!allowed("*", "NULL"));

	/* an empty or NULL list allows every origin, even a missing one */
	CHECK(allowed(NULL, "https://anything.example"));
	CHECK(allowed("", "https://anything.example"));
	CHECK(allowed(NULL, "null"));
	CHECK(allowed("", "null"));
	CHECK(allowed("", "not an origin"));
	CHECK(allowed(NULL, NULL));
	CHECK(allowed("", NULL));
	/* a non-empty list refuses a missing origin */
	CHECK(!allowed("*", NULL));
	CHECK(!allowed(one, NULL));
	CHECK(!handshake_origin_allowed(one, "", 0));

	/* entries that are not origins never match */
	CHECK(!allowed("app.example.com", "https://app.example.com"));
	CHECK(!allowed("https://app.example.com/", "https://app.example.com"));
	CHECK(!allowed("localhost", "localhost"));
	CHECK(allowed("https://app.example.com/, http://b", "http://b"));

	/* embedded NUL and the length */
	CHECK(!handshake_origin_allowed(one, "https://app.example.com\0", 24));
	CHECK(!handshake_origin_allowed(one, "https://app\0example.com", 23));
	CHECK(!handshake_origin_allowed("*", "h\0tps://a", 9));
	CHECK(handshake_origin_allowed(one, "https://app.example.comXYZ", 23));
	CHECK(!handshake_origin_allowed(one, "https://app.example.com", 22));
}

static bool
list_valid(const char *list, const char *bad_expected)
{
	const char *bad = NULL;
	size_t		bad_len = 0;
	bool		ok = handshake_origin_list_valid(list, &bad, &bad_len);

	if (ok)
		return CHECK_MSG(bad_expected == NULL, "list \"%s\" valid, expected bad \"%s\"",
						 list, bad_expected);
	if (!CHECK_MSG(bad_expected != NULL, "list \"%s\" refused at \"%.*s\"",
				   list, (int) bad_len, bad))
		return false;
	/* the bad entry is a slice of the list, trimmed */
	CHECK(bad >= list && bad + bad_len <= list + strlen(list));
	return CHECK_EQ_MEM(bad, bad_len, bad_expected, strlen(bad_expected));
}

static void
test_origin_list_valid(void)
{
	list_valid(NULL, NULL);
	list_valid("", NULL);
	list_valid("*", NULL);
	list_valid(" * ", NULL);
	list_valid("https://app.example.com", NULL);
	list_valid("https://app.example.com, http://localhost:3000", NULL);
	list_valid("\thttps://a.example\t,\thttp://[::1]:8080 , *", NULL);
	list_valid("HTTPS://A.EXAMPLE:65535", NULL);

	list_valid("app.example.com", "app.example.com");
	list_valid("https://a.example, app.example.com ,http://b", "app.example.com");
	list_valid("https://app.example.com/", "https://app.example.com/");
	list_valid("https://a.example/path", "https://a.example/path");
	list_valid("https://a.example:", "https://a.example:");
	list_valid("https://a.example:123456", "https://a.example:123456");
	list_valid("null", "null");
	list_valid("**", "**");
	list_valid("https://*.example", "https://*.example");
	list_valid("*.example", "*.example");
	list_valid("http://[::1", "http://[::1");
	list_valid("https://a.example https://b.example", "https://a.example https://b.example");
	list_valid("https://a.example;https://b.example", "https://a.example;https://b.example");

	/* empty entries, wherever they are */
	list_valid("   ", "");
	list_valid(",", "");
	list_valid(", https://a.example", "");
	list_valid("https://a.example,,https://b.example", "");
	list_valid("https://a.example, ,https://b.example", "");
	list_valid("https://a.example, ", "");
	list_valid("https://a.example,", "");
}

/* Every entry of a valid list allows the origin it names. */
static void
test_list_entries_match_themselves(void)
{
	static const char list[] =
		"https://a.example, http://LOCALHOST:3000,\thttp://[::1]:8080 , wss://x-y.z";
	static const char *const entries[] = {
		"https://a.example", "http://localhost:3000", "http://[::1]:8080", "WSS://X-Y.Z",
	};
	const char *bad;
	size_t		bad_len;

	CHECK(handshake_origin_list_valid(list, &bad, &bad_len));
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		CHECK_MSG(allowed(list, entries[i]), "%s not allowed", entries[i]);
	CHECK(!allowed(list, "https://b.example"));
}

int
main(void)
{
	test_key();
	test_bearer();
	test_origin_allowed();
	test_origin_list_valid();
	test_list_entries_match_themselves();
	return unit_summary();
}
