/*-------------------------------------------------------------------------
 *
 * handshake.c
 *	  Pure checks of the WebSocket upgrade request: Sec-WebSocket-Key, the
 *	  Bearer token of an Authorization header, Origin against an allow
 *	  list (handshake.h).  ws_session.c reads the headers and acts on the
 *	  answers; the rules live here, unit-tested and fuzzed.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "protocol/handshake.h"

static const char b64_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_index(char ch)
{
	const char *p = ch != '\0' ? strchr(b64_alphabet, ch) : NULL;

	return p != NULL ? (int) (p - b64_alphabet) : -1;
}

bool
handshake_key_valid(const char *key, size_t len)
{
	if (key == NULL || len != 24 || key[22] != '=' || key[23] != '=')
		return false;
	for (int i = 0; i < 22; i++)
		if (b64_index(key[i]) < 0)
			return false;
	/* the 22nd character carries 2 bits of the 16th byte, 4 of padding */
	return (b64_index(key[21]) & 0x0F) == 0;
}

static char
lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char) (ch - 'A' + 'a') : ch;
}

static bool
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* token68 (RFC 7235 2.1): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
bool
handshake_bearer_token(const char *header, size_t len, const char **token,
					   size_t *token_len)
{
	static const char scheme[] = "bearer";
	size_t		i,
				start,
				end;

	if (header == NULL || len <= sizeof(scheme))
		return false;
	for (i = 0; i < sizeof(scheme) - 1; i++)
		if (lower(header[i]) != scheme[i])
			return false;
	if (header[i] != ' ')
		return false;
	while (i < len && header[i] == ' ')
		i++;
	start = i;
	while (i < len && (is_alpha(header[i]) || is_digit(header[i]) ||
					   strchr("-._~+/", header[i]) != NULL) && header[i] != '\0')
		i++;
	if (i == start)
		return false;
	while (i < len && header[i] == '=')
		i++;
	end = i;
	if (i != len)
		return false;
	*token = header + start;
	*token_len = end - start;
	return true;
}

/*
 * An origin's parts: scheme, host and port (port_len 0 when absent), or
 * false when s[0..len) is not scheme "://" host [":" port].
 */
typedef struct OriginParts
{
	const char *scheme;
	size_t		scheme_len;
	const char *host;
	size_t		host_len;
	const char *port;
	size_t		port_len;
} OriginParts;

static bool
origin_split(const char *s, size_t len, OriginParts *o)
{
	size_t		i = 0;

	memset(o, 0, sizeof(*o));
	if (len == 0 || !is_alpha(s[0]))
		return false;
	while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' ||
					   s[i] == '-' || s[i] == '.'))
		i++;
	o->scheme = s;
	o->scheme_len = i;
	if (len - i < 3 || memcmp(s + i, "://", 3) != 0)
		return false;
	i += 3;
	o->host = s + i;
	if (i < len && s[i] == '[')
	{
		/* an IPv6 literal: hex digits, colons and dots inside brackets */
		i++;
		while (i < len && (is_digit(s[i]) || strchr("abcdefABCDEF:.", s[i]) != NULL) && s[i] != '\0')
			i++;
		if (i >= len || s[i] != ']' || i - (size_t) (o->host - s) < 3)
			return false;
		i++;
	}
	else
		while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' ||
						   s[i] == '.'))
			i++;
	o->host_len = (size_t) (s + i - o->host);
	if (o->host_len == 0)
		return false;
	if (i < len && s[i] == ':')
	{
		i++;
		o->port = s + i;
		while (i < len && is_digit(s[i]))
			i++;
		o->port_len = (size_t) (s + i - o->port);
		if (o->port_len == 0 || o->port_len > 5)
			return false;
	}
	return i == len;
}

static bool
same_ci(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static bool
origin_equal(const OriginParts *a, const OriginParts *b)
{
	return same_ci(a->scheme, a->scheme_len, b->scheme, b->scheme_len) &&
		same_ci(a->host, a->host_len, b->host, b->host_len) &&
		a->port_len == b->port_len &&
		(a->port_len == 0 || memcmp(a->port, b->port, a->port_len) == 0);
}

/*
 * The next entry of a comma list, spaces trimmed; false at the end.  The
 * cursor starts at a non-empty list and is NULL after the last entry, so
 * a trailing comma yields an empty last entry, as a leading one does.
 */
static bool
next_entry(const char **cursor, const char **entry, size_t *entry_len)
{
	const char *p = *cursor;
	const char *e;

	if (p == NULL)
		return false;
	e = strchr(p, ',');
	if (e == NULL)
		e = p + strlen(p);
	*cursor = *e == ',' ? e + 1 : NULL;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*entry = p;
	*entry_len = (size_t) (e - p);
	return true;
}

bool
handshake_origin_list_valid(const char *allow_list, const char **bad,
							size_t *bad_len)
{
	const char *cur = allow_list;
	const char *entry;
	size_t		elen;
	OriginParts o;

	if (allow_list == NULL || allow_list[0] == '\0')
		return true;
	while (next_entry(&cur, &entry, &elen))
	{
		if ((elen == 1 && entry[0] == '*') || origin_split(entry, elen, &o))
			continue;
		*bad = entry;
		*bad_len = elen;
		return false;
	}
	return true;
}

bool
handshake_origin_allowed(const char *allow_list, const char *origin,
						 size_t len)
{
	const char *cur = allow_list;
	const char *entry;
	size_t		elen;
	OriginParts want;
	bool		well_formed;

	if (allow_list == NULL || allow_list[0] == '\0')
		return true;
	well_formed = origin != NULL && origin_split(origin, len, &want);
	if (!well_formed)
		return false;
	while (next_entry(&cur, &entry, &elen))
	{
		OriginParts o;

		if (elen == 1 && entry[0] == '*')
			return true;
		if (origin_split(entry, elen, &o) && origin_equal(&o, &want))
			return true;
	}
	return false;
}
