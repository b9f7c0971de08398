/*-------------------------------------------------------------------------
 *
 * json_encode.c
 *	  Pure JSON text primitives: string escaping, UTF-8 checks, hex, LSNs.
 *
 * The escaper is the hot path of the output plugin: every text value and
 * every identifier goes through it.  It copies runs of bytes that need no
 * escaping with one memcpy, found through a 256-entry class table.
 *
 *-------------------------------------------------------------------------
 */
#include "json/json_encode.h"

#include <string.h>

/* Byte classes for the escaper. */
#define C_PLAIN		0			/* copy as is */
#define C_CTRL		1			/* control character: \n, \t, ... or \u00XX */
#define C_QUOTE		2			/* '"' or '\\' */
#define C_HIGH		3			/* 0x80..0xFF: part of a multi-byte sequence */

static unsigned char byte_class[256];
static bool byte_class_ready = false;

static const char hexdigits[] = "0123456789abcdef";
static const char HEXDIGITS[] = "0123456789ABCDEF";

static void
init_byte_class(void)
{
	int			c;

	for (c = 0; c < 256; c++)
	{
		if (c < 0x20)
			byte_class[c] = C_CTRL;
		else if (c == '"' || c == '\\')
			byte_class[c] = C_QUOTE;
		else if (c >= 0x80)
			byte_class[c] = C_HIGH;
		else
			byte_class[c] = C_PLAIN;
	}
	byte_class_ready = true;
}

/*
 * Decode one UTF-8 sequence at s (n bytes available, s[0] >= 0x80).
 * Returns its length and sets *cp, or returns 0 if it is not valid
 * (overlong, surrogate, above U+10FFFF, truncated).
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	uint32_t	v;
	size_t		len,
				i;

	if (c >= 0xC2 && c <= 0xDF)
	{
		len = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		v = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		v = c & 0x07;
	}
	else
		return 0;

	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && v < 0x800) ||
		(len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
		(v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static size_t
write_u16(char *dst, uint32_t v)
{
	dst[0] = '\\';
	dst[1] = 'u';
	dst[2] = HEXDIGITS[(v >> 12) & 0xF];
	dst[3] = HEXDIGITS[(v >> 8) & 0xF];
	dst[4] = HEXDIGITS[(v >> 4) & 0xF];
	dst[5] = HEXDIGITS[v & 0xF];
	return 6;
}

/* Write code point cp as \uXXXX, or a surrogate pair above U+FFFF. */
static size_t
write_codepoint_escape(char *dst, uint32_t cp)
{
	if (cp < 0x10000)
		return write_u16(dst, cp);
	cp -= 0x10000;
	write_u16(dst, 0xD800 + (cp >> 10));
	write_u16(dst + 6, 0xDC00 + (cp & 0x3FF));
	return 12;
}

static size_t
write_control(char *dst, unsigned char c)
{
	dst[0] = '\\';
	switch (c)
	{
		case '\b':
			dst[1] = 'b';
			return 2;
		case '\f':
			dst[1] = 'f';
			return 2;
		case '\n':
			dst[1] = 'n';
			return 2;
		case '\r':
			dst[1] = 'r';
			return 2;
		case '\t':
			dst[1] = 't';
			return 2;
		default:
			return write_u16(dst, c);
	}
}

size_t
json_escape(char *dst, size_t dstcap,
			const char *src, size_t srclen,
			int flags, size_t *written)
{
	const unsigned char *s = (const unsigned char *) src;
	size_t		i = 0;
	size_t		o = 0;
	bool		raw = (flags & JSON_RAW) != 0;
	bool		high_plain = (flags & (JSON_ASCII_ONLY | JSON_VALIDATE)) == 0;

	if (!byte_class_ready)
		init_byte_class();

	while (i < srclen)
	{
		size_t		run = i;
		size_t		room;

		/* Find the longest run of bytes to copy unchanged. */
		while (run < srclen)
		{
			unsigned char cls = byte_class[s[run]];

			if (cls == C_PLAIN ||
				(cls == C_HIGH && high_plain) ||
				(raw && cls == C_QUOTE))
				run++;
			else
				break;
		}
		if (run > i)
		{
			size_t		n = run - i;

			room = dstcap - o;
			if (room < JSON_MAX_CHAR_OUT)
				break;
			if (n > room)
			{
				/* Copy what fits, without cutting a UTF-8 sequence. */
				n = room;
				while (n > 0 && (s[i + n] & 0xC0) == 0x80)
					n--;
				if (n == 0)
					n = room;	/* not UTF-8 anyway: just make progress */
			}
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
			continue;
		}

		/* s[i] needs escaping. */
		if (dstcap - o < JSON_MAX_CHAR_OUT)
			break;
		switch (byte_class[s[i]])
		{
			case C_CTRL:
				/* in JSON text a control character can only be whitespace */
				if (raw)
					dst[o++] = ' ';
				else
					o += write_control(dst + o, s[i]);
				i++;
				break;
			case C_QUOTE:
				dst[o++] = '\\';
				dst[o++] = (char) s[i++];
				break;
			default:			/* C_HIGH with ASCII_ONLY or VALIDATE */
				{
					uint32_t	cp;
					size_t		len = utf8_decode(s + i, srclen - i, &cp);

					if (len == 0)
					{
						/* invalid byte: U+FFFD */
						if (flags & JSON_ASCII_ONLY)
							o += write_u16(dst + o, 0xFFFD);
						else
						{
							dst[o++] = (char) 0xEF;
							dst[o++] = (char) 0xBF;
							dst[o++] = (char) 0xBD;
						}
						i++;
					}
					else if (flags & JSON_ASCII_ONLY)
					{
						o += write_codepoint_escape(dst + o, cp);
						i += len;
					}
					else
					{
						memcpy(dst + o, s + i, len);
						o += len;
						i += len;
					}
				}
				break;
		}
	}
	*written = o;
	return i;
}

size_t
json_escaped_length(const char *src, size_t srclen, int flags)
{
	const unsigned char *s = (const unsigned char *) src;
	bool		raw = (flags & JSON_RAW) != 0;
	bool		high_plain = (flags & (JSON_ASCII_ONLY | JSON_VALIDATE)) == 0;
	size_t		n = 0;
	size_t		i = 0;

	if (!byte_class_ready)
		init_byte_class();

	while (i < srclen)
	{
		unsigned char c = s[i];

		switch (byte_class[c])
		{
			case C_PLAIN:
				n++;
				i++;
				break;
			case C_QUOTE:
				n += raw ? 1 : 2;
				i++;
				break;
			case C_CTRL:
				if (raw)
					n++;
				else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
					n += 2;
				else
					n += 6;
				i++;
				break;
			default:			/* C_HIGH */
				if (high_plain)
				{
					n++;
					i++;
				}
				else
				{
					uint32_t	cp;
					size_t		len = utf8_decode(s + i, srclen - i, &cp);

					if (len == 0)
					{
						n += (flags & JSON_ASCII_ONLY) ? 6 : 3;
						i++;
					}
					else
					{
						n += (flags & JSON_ASCII_ONLY) ?
							(cp < 0x10000 ? 6 : 12) : len;
						i += len;
					}
				}
				break;
		}
	}
	return n;
}

size_t
json_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		uint32_t	cp;
		size_t		n;

		if (u[i] < 0x80)
		{
			i++;
			continue;
		}
		n = utf8_decode(u + i, len - i, &cp);
		if (n == 0)
			break;
		i += n;
	}
	return i;
}

bool
json_is_clean_utf8(const char *s, size_t len)
{
	return json_utf8_valid_prefix(s, len) == len &&
		memchr(s, '\0', len) == NULL;
}

size_t
json_hex(char *dst, const unsigned char *src, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		dst[2 * i] = hexdigits[src[i] >> 4];
		dst[2 * i + 1] = hexdigits[src[i] & 0xF];
	}
	return 2 * len;
}

/* Write v in uppercase hex without leading zeros ("0" for zero). */
static size_t
write_hex32(char *dst, uint32_t v)
{
	char		tmp[8];
	size_t		n = 0,
				i;

	do
	{
		tmp[n++] = HEXDIGITS[v & 0xF];
		v >>= 4;
	} while (v != 0);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

size_t
json_lsn(char *dst, uint64_t lsn)
{
	size_t		n = write_hex32(dst, (uint32_t) (lsn >> 32));

	dst[n++] = '/';
	return n + write_hex32(dst + n, (uint32_t) lsn);
}

static bool
parse_hex32(const char *s, size_t len, uint32_t *out)
{
	uint32_t	v = 0;
	size_t		i;

	if (len == 0 || len > 8)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];
		int			d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = (v << 4) | (uint32_t) d;
	}
	*out = v;
	return true;
}

bool
json_parse_lsn(const char *s, size_t len, uint64_t *lsn)
{
	const char *slash = memchr(s, '/', len);
	uint32_t	hi,
				lo;

	if (slash == NULL)
		return false;
	if (!parse_hex32(s, (size_t) (slash - s), &hi) ||
		!parse_hex32(slash + 1, len - (size_t) (slash - s) - 1, &lo))
		return false;
	*lsn = ((uint64_t) hi << 32) | lo;
	return true;
}
