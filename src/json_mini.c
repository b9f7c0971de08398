/*-------------------------------------------------------------------------
 *
 * json_mini.c
 *	  A small pure JSON parser (RFC 8259) building a tree in an arena.
 *
 * No postgres.h.  Strict: no trailing commas, no comments, strings must
 * be valid UTF-8 escapes (lone surrogates are rejected), depth is limited.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_mini.h"

typedef struct ArenaBlock
{
	struct ArenaBlock *next;
	size_t		used;
	size_t		cap;
	/* keep data maximally aligned */
	union
	{
		double		d;
		void	   *p;
		long long	l;
	}			data[];
} ArenaBlock;

typedef struct Parser
{
	const char *p;
	const char *end;
	ArenaBlock *head;			/* first block: the root lives there */
	ArenaBlock *cur;
	const char *error;
	int			depth;
} Parser;

static void *
arena_alloc(Parser *ps, size_t size)
{
	ArenaBlock *b = ps->cur;
	void	   *r;

	size = (size + 15) & ~(size_t) 15;
	if (b == NULL || b->cap - b->used < size)
	{
		size_t		cap = size > 8192 ? size : 8192;
		ArenaBlock *nb = malloc(sizeof(ArenaBlock) + cap);

		if (nb == NULL)
		{
			ps->error = "out of memory";
			return NULL;
		}
		nb->next = NULL;
		nb->used = 0;
		nb->cap = cap;
		if (b != NULL)
			b->next = nb;
		else
			ps->head = nb;
		ps->cur = b = nb;
	}
	r = (char *) b->data + b->used;
	b->used += size;
	return r;
}

static void
skip_ws(Parser *ps)
{
	while (ps->p < ps->end &&
		   (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
read_hex4(Parser *ps, unsigned *out)
{
	unsigned	v = 0;
	int			i;

	if (ps->end - ps->p < 4)
		return false;
	for (i = 0; i < 4; i++)
	{
		int			h = hexval(ps->p[i]);

		if (h < 0)
			return false;
		v = (v << 4) | (unsigned) h;
	}
	ps->p += 4;
	*out = v;
	return true;
}

static size_t
put_utf8(char *dst, unsigned cp)
{
	if (cp < 0x80)
	{
		dst[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		dst[0] = (char) (0xC0 | (cp >> 6));
		dst[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		dst[0] = (char) (0xE0 | (cp >> 12));
		dst[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	dst[0] = (char) (0xF0 | (cp >> 18));
	dst[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	dst[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	dst[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Length of a valid UTF-8 sequence starting at s, or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t		n;
	unsigned	cp;
	size_t		i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		(n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

/* Parse a string at ps->p (on the opening quote) into arena memory. */
static char *
parse_string(Parser *ps, size_t *outlen)
{
	const char *start = ++ps->p;
	const char *q = start;
	char	   *buf;
	size_t		n = 0;

	/* find the closing quote to size the buffer */
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	if (q >= ps->end)
	{
		ps->error = "unterminated string";
		return NULL;
	}
	buf = arena_alloc(ps, (size_t) (q - start) + 1);
	if (buf == NULL)
		return NULL;

	while (ps->p < ps->end && *ps->p != '"')
	{
		unsigned char c = (unsigned char) *ps->p;

		if (c < 0x20)
		{
			ps->error = "control character in string";
			return NULL;
		}
		if (c == '\\')
		{
			char		e;

			if (++ps->p >= ps->end)
				break;
			e = *ps->p++;
			switch (e)
			{
				case '"':
				case '\\':
				case '/':
					buf[n++] = e;
					break;
				case 'b':
					buf[n++] = '\b';
					break;
				case 'f':
					buf[n++] = '\f';
					break;
				case 'n':
					buf[n++] = '\n';
					break;
				case 'r':
					buf[n++] = '\r';
					break;
				case 't':
					buf[n++] = '\t';
					break;
				case 'u':
					{
						unsigned	cp,
									lo;

						if (!read_hex4(ps, &cp))
						{
							ps->error = "bad \\u escape";
							return NULL;
						}
						if (cp >= 0xDC00 && cp <= 0xDFFF)
						{
							ps->error = "lone low surrogate";
							return NULL;
						}
						if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							if (ps->end - ps->p < 6 || ps->p[0] != '\\' ||
								ps->p[1] != 'u')
							{
								ps->error = "lone high surrogate";
								return NULL;
							}
							ps->p += 2;
							if (!read_hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF)
							{
								ps->error = "bad surrogate pair";
								return NULL;
							}
							cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						}
						/* a \u escape is 6+ bytes, its UTF-8 at most 4 */
						n += put_utf8(buf + n, cp);
						break;
					}
				default:
					ps->error = "bad escape in string";
					return NULL;
			}
		}
		else
		{
			size_t		l = utf8_seq((const unsigned char *) ps->p,
									 (size_t) (ps->end - ps->p));

			if (l == 0)
			{
				ps->error = "invalid UTF-8 in string";
				return NULL;
			}
			memcpy(buf + n, ps->p, l);
			n += l;
			ps->p += l;
		}
	}
	if (ps->p >= ps->end)
	{
		ps->error = "unterminated string";
		return NULL;
	}
	ps->p++;					/* closing quote */
	buf[n] = '\0';
	*outlen = n;
	return buf;
}

static bool
parse_number(Parser *ps, JsonMini *v)
{
	const char *s = ps->p;
	char		tmp[64];
	size_t		len;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end)
		goto bad;
	if (*ps->p == '0')
		ps->p++;
	else if (*ps->p >= '1' && *ps->p <= '9')
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	else
		goto bad;
	if (ps->p < ps->end && *ps->p == '.')
	{
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			goto bad;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E'))
	{
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			goto bad;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	len = (size_t) (ps->p - s);
	if (len >= sizeof(tmp))
		len = sizeof(tmp) - 1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	v->type = JM_NUMBER;
	v->number = strtod(tmp, NULL);
	return true;
bad:
	ps->error = "bad number";
	return false;
}

static bool
match_word(Parser *ps, const char *w)
{
	size_t		l = strlen(w);

	if ((size_t) (ps->end - ps->p) < l || memcmp(ps->p, w, l) != 0)
	{
		ps->error = "unexpected token";
		return false;
	}
	ps->p += l;
	return true;
}

static JsonMini *parse_value(Parser *ps);

static bool
parse_container(Parser *ps, JsonMini *v, bool is_object)
{
	char		close = is_object ? '}' : ']';
	JsonMini  **tail = &v->child;

	v->type = is_object ? JM_OBJECT : JM_ARRAY;
	if (++ps->depth > JSON_MINI_MAX_DEPTH)
	{
		ps->error = "nesting too deep";
		return false;
	}
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close)
	{
		ps->p++;
		ps->depth--;
		return true;
	}
	for (;;)
	{
		char	   *key = NULL;
		JsonMini   *elem;

		skip_ws(ps);
		if (is_object)
		{
			size_t		klen;

			if (ps->p >= ps->end || *ps->p != '"')
			{
				ps->error = "expected member name";
				return false;
			}
			if ((key = parse_string(ps, &klen)) == NULL)
				return false;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
			{
				ps->error = "expected ':'";
				return false;
			}
			ps->p++;
		}
		if ((elem = parse_value(ps)) == NULL)
			return false;
		elem->key = key;
		*tail = elem;
		tail = &elem->next;
		v->count++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',')
		{
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close)
		{
			ps->p++;
			ps->depth--;
			return true;
		}
		ps->error = is_object ? "expected ',' or '}'" : "expected ',' or ']'";
		return false;
	}
}

static JsonMini *
parse_value(Parser *ps)
{
	JsonMini   *v;
	bool		ok = true;

	skip_ws(ps);
	if (ps->p >= ps->end)
	{
		ps->error = "unexpected end of input";
		return NULL;
	}
	v = arena_alloc(ps, sizeof(JsonMini));
	if (v == NULL)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->raw = ps->p;
	switch (*ps->p)
	{
		case '{':
			ok = parse_container(ps, v, true);
			break;
		case '[':
			ok = parse_container(ps, v, false);
			break;
		case '"':
			v->type = JM_STRING;
			ok = (v->str = parse_string(ps, &v->str_len)) != NULL;
			break;
		case 't':
			v->type = JM_BOOL;
			v->boolean = true;
			ok = match_word(ps, "true");
			break;
		case 'f':
			v->type = JM_BOOL;
			ok = match_word(ps, "false");
			break;
		case 'n':
			v->type = JM_NULL;
			ok = match_word(ps, "null");
			break;
		default:
			ok = parse_number(ps, v);
			break;
	}
	if (!ok)
		return NULL;
	v->raw_len = (size_t) (ps->p - v->raw);
	return v;
}

static void
free_blocks(ArenaBlock *b)
{
	while (b != NULL)
	{
		ArenaBlock *n = b->next;

		free(b);
		b = n;
	}
}

JsonMini *
json_mini_parse(const char *text, size_t len, const char **error)
{
	Parser		ps;
	JsonMini   *root;

	memset(&ps, 0, sizeof(ps));
	ps.p = text;
	ps.end = text + len;
	root = parse_value(&ps);
	if (root != NULL)
	{
		skip_ws(&ps);
		if (ps.p != ps.end)
		{
			ps.error = "trailing characters after JSON value";
			root = NULL;
		}
	}
	if (root == NULL)
	{
		free_blocks(ps.head);
		*error = ps.error ? ps.error : "invalid JSON";
		return NULL;
	}
	/* the root is the first allocation of the first block */
	return root;
}

void
json_mini_free(JsonMini *root)
{
	ArenaBlock *b;

	if (root == NULL)
		return;
	b = (ArenaBlock *) ((char *) root - offsetof(ArenaBlock, data));
	free_blocks(b);
}

const JsonMini *
json_mini_get(const JsonMini *obj, const char *key)
{
	const JsonMini *c;

	if (obj == NULL || obj->type != JM_OBJECT)
		return NULL;
	for (c = obj->child; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}
