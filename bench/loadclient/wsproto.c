/*
 * wsproto.c: the RFC 6455 client bytes of wsproto.h.
 *
 * The response check accepts what RFC 6455 section 4.1 requires of a
 * client: status 101, "Upgrade: websocket", "Connection" holding
 * "upgrade", and the Sec-WebSocket-Accept matching the key; header names
 * and the two tokens case-insensitively.  Nothing else is checked (a
 * subprotocol the server picks is taken as is).
 */
#include "wsproto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void
wsproto_key(uint64_t seed, char out[WS_KEY_LEN + 1])
{
	uint8_t		raw[16];
	uint64_t	a = splitmix64(&seed),
				b = splitmix64(&seed);

	memcpy(raw, &a, 8);
	memcpy(raw + 8, &b, 8);
	EVP_EncodeBlock((unsigned char *) out, raw, sizeof(raw));
}

void
wsproto_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	char		text[WS_KEY_LEN + sizeof(ws_guid)];
	uint8_t		digest[SHA_DIGEST_LENGTH];
	size_t		klen = strlen(key);

	if (klen > WS_KEY_LEN)
		klen = WS_KEY_LEN;
	memcpy(text, key, klen);
	memcpy(text + klen, ws_guid, sizeof(ws_guid) - 1);
	SHA1((const unsigned char *) text, klen + sizeof(ws_guid) - 1, digest);
	EVP_EncodeBlock((unsigned char *) out, digest, sizeof(digest));
}

size_t
wsproto_request(char *buf, size_t cap, const char *host_port, const char *target,
				const char *key, const char *protocol, char *const *headers,
				int nheaders)
{
	size_t		len;
	int			n;

	n = snprintf(buf, cap,
				 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
				 "Sec-WebSocket-Version: 13\r\n",
				 target, host_port, key);
	if (n < 0 || (size_t) n >= cap)
		return 0;
	len = (size_t) n;
	if (protocol)
	{
		n = snprintf(buf + len, cap - len, "Sec-WebSocket-Protocol: %s\r\n", protocol);
		if (n < 0 || (size_t) n >= cap - len)
			return 0;
		len += (size_t) n;
	}
	for (int i = 0; i < nheaders; i++)
	{
		n = snprintf(buf + len, cap - len, "%s\r\n", headers[i]);
		if (n < 0 || (size_t) n >= cap - len)
			return 0;
		len += (size_t) n;
	}
	if (len + 2 >= cap)
		return 0;
	memcpy(buf + len, "\r\n", 3);
	return len + 2;
}

/* does the header line [p, end) have this name?  *value = after ':' and blanks */
static bool
header_is(const char *p, const char *end, const char *name, const char **value)
{
	size_t		nl = strlen(name);

	if ((size_t) (end - p) <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return false;
	p += nl + 1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*value = p;
	return true;
}

/* does [p, end) contain word, case-insensitively? */
static bool
contains_word(const char *p, const char *end, const char *word)
{
	size_t		wl = strlen(word);

	for (; p + wl <= end; p++)
		if (strncasecmp(p, word, wl) == 0)
			return true;
	return false;
}

int
wsproto_response(const char *p, size_t n, const char *key, size_t *header_len,
				 const char **why)
{
	const char *end = NULL;
	const char *line,
			   *value;
	char		want[WS_ACCEPT_LEN + 1];
	bool		upgrade = false,
				connection = false,
				accept = false;

	for (size_t i = 0; i + 3 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
		{
			end = p + i + 2;	/* just after the last header line's CRLF */
			*header_len = i + 4;
			break;
		}
	if (end == NULL)
	{
		if (n > 16384)
		{
			*why = "handshake response header over 16 kB";
			return -1;
		}
		return 0;
	}
	if (n < 12 || strncmp(p, "HTTP/1.1 101", 12) != 0)
	{
		*why = "handshake refused (status is not 101)";
		return -1;
	}
	wsproto_accept(key, want);
	line = memchr(p, '\n', (size_t) (end - p)) + 1;
	while (line < end)
	{
		const char *eol = memchr(line, '\n', (size_t) (end - line));
		const char *stop = eol > line && eol[-1] == '\r' ? eol - 1 : eol;

		if (header_is(line, stop, "Upgrade", &value))
			upgrade = contains_word(value, stop, "websocket");
		else if (header_is(line, stop, "Connection", &value))
			connection = contains_word(value, stop, "upgrade");
		else if (header_is(line, stop, "Sec-WebSocket-Accept", &value))
			accept = (size_t) (stop - value) >= WS_ACCEPT_LEN &&
				memcmp(value, want, WS_ACCEPT_LEN) == 0;
		else if (header_is(line, stop, "Sec-WebSocket-Extensions", &value))
		{
			*why = "server answered with an extension nobody asked for";
			return -1;
		}
		line = eol + 1;
	}
	if (!upgrade || !connection)
	{
		*why = "handshake response without Upgrade: websocket / Connection: upgrade";
		return -1;
	}
	if (!accept)
	{
		*why = "wrong or missing Sec-WebSocket-Accept";
		return -1;
	}
	return 1;
}

int
wsproto_frame(const uint8_t *p, size_t n, WsFrame *f, const char **why)
{
	size_t		h = 2;
	uint64_t	len;

	if (n < 2)
		return 0;
	if (p[0] & 0x70)
	{
		*why = "frame with RSV bits set (no extension was negotiated)";
		return -1;
	}
	f->fin = (p[0] & 0x80) != 0;
	f->opcode = p[0] & 0x0F;
	f->masked = (p[1] & 0x80) != 0;
	len = p[1] & 0x7F;
	if (len == 126)
	{
		if (n < 4)
			return 0;
		len = ((uint64_t) p[2] << 8) | p[3];
		h = 4;
	}
	else if (len == 127)
	{
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = (len << 8) | p[2 + i];
		h = 10;
		if (len >> 62)
		{
			*why = "frame length out of range";
			return -1;
		}
	}
	if (f->opcode >= 0x8 && (len > 125 || !f->fin))
	{
		*why = "control frame fragmented or over 125 bytes";
		return -1;
	}
	if (f->masked)
	{
		if (n < h + 4)
			return 0;
		memcpy(f->mask, p + h, 4);
		h += 4;
	}
	f->payload_len = len;
	f->header_len = h;
	return 1;
}

size_t
wsproto_client_frame(uint8_t *out, uint8_t opcode, const void *payload, size_t len,
					 uint32_t mask)
{
	size_t		h = 2;
	uint8_t		m[4];

	out[0] = 0x80 | opcode;
	if (len < 126)
		out[1] = 0x80 | (uint8_t) len;
	else if (len <= 0xFFFF)
	{
		out[1] = 0x80 | 126;
		out[2] = (uint8_t) (len >> 8);
		out[3] = (uint8_t) len;
		h = 4;
	}
	else
	{
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
		h = 10;
	}
	memcpy(m, &mask, 4);
	memcpy(out + h, m, 4);
	h += 4;
	memcpy(out + h, payload, len);
	wsproto_unmask(out + h, len, m, 0);
	return h + len;
}

void
wsproto_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(i + offset) & 3];
}
