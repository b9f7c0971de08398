/*-------------------------------------------------------------------------
 *
 * json_value.c
 *	  Pure, strict JSON (RFC 8259) parser into a compact read-only tree.
 *
 * The parser is one loop over an explicit stack of open containers: a
 * hostile text can make it fail, never recurse deeply.  Nodes are taken
 * from the JsonDoc in document order.  The children of an open container
 * are collected on the "pending" stack; when the container closes they are
 * moved, as one block, to the "items" area, giving every container a
 * vector of its children.  Each value is one node and belongs to at most
 * one vector, so max_nodes bounds all three areas.  Decoded strings use at
 * most the bytes of their source text, so max_input + 1 bytes bound them.
 *
 * Reading a parsed tree (lookup, equality, writer, copy) is in
 * json_value_tree.c.
 *
 *-------------------------------------------------------------------------
 */
#include "json/json_value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_encode.h"

typedef struct Frame
{
	JsonValue  *node;			/* the open array or object */
	uint32_t	first;			/* its first child in doc->pending */
} Frame;

typedef struct Parser
{
	JsonDoc    *doc;
	const char *start;
	const char *p;
	const char *end;
	uint32_t	npending;
	JsonError  *err;
} Parser;

#define ALIGN_PTR(n) (((n) + sizeof(void *) - 1) & ~(sizeof(void *) - 1))

bool
json_doc_init(JsonDoc *doc, void *mem, size_t memsize, size_t max_input,
			  uint32_t max_nodes, uint32_t max_depth)
{
	char	   *m = mem;

	if (memsize < JSON_DOC_MEM_SIZE(max_input, max_nodes) ||
		((uintptr_t) mem % sizeof(void *)) != 0 || max_input >= UINT32_MAX)
		return false;
	memset(doc, 0, sizeof(*doc));
	doc->max_input = max_input;
	doc->max_nodes = max_nodes;
	doc->max_depth = max_depth > JSON_DEPTH_LIMIT ? JSON_DEPTH_LIMIT : max_depth;
	doc->nodes = (JsonValue *) m;
	m += (size_t) max_nodes * sizeof(JsonValue);
	doc->items = (const JsonValue **) m;
	m += (size_t) max_nodes * sizeof(JsonValue *);
	doc->pending = (const JsonValue **) m;
	m += (size_t) max_nodes * sizeof(JsonValue *);
	doc->bytes = m;
	return true;
}

JsonDoc *
json_doc_create(size_t max_input, uint32_t max_nodes, uint32_t max_depth)
{
	size_t		size = ALIGN_PTR(sizeof(JsonDoc)) +
		JSON_DOC_MEM_SIZE(max_input, max_nodes);
	JsonDoc    *doc;
	char	   *mem;

	if (max_input >= UINT32_MAX)
		return NULL;
	mem = malloc(size);
	if (mem == NULL)
		return NULL;
	doc = (JsonDoc *) mem;
	json_doc_init(doc, mem + ALIGN_PTR(sizeof(JsonDoc)),
				  size - ALIGN_PTR(sizeof(JsonDoc)),
				  max_input, max_nodes, max_depth);
	doc->owned = mem;
	return doc;
}

void
json_doc_free(JsonDoc *doc)
{
	if (doc != NULL)
		free(doc->owned);
}

static bool
fail(Parser *ps, const char *at, const char *message)
{
	if (ps->err)
	{
		ps->err->offset = (size_t) (at - ps->start);
		ps->err->message = message;
	}
	return false;
}

static inline void
skip_ws(Parser *ps)
{
	const char *p = ps->p;

	while (p < ps->end &&
		   (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	ps->p = p;
}

static inline JsonValue *
new_node(Parser *ps, JsonKind kind)
{
	JsonDoc    *doc = ps->doc;
	JsonValue  *v;

	if (doc->nnodes >= doc->max_nodes)
	{
		fail(ps, ps->p, "too many values");
		return NULL;
	}
	v = &doc->nodes[doc->nnodes++];
	v->kind = kind;
	v->flags = 0;
	v->boolean = false;
	v->len = 0;
	v->u.str = NULL;
	v->num = 0;
	return v;
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

/* Read the 4 hex digits after "\u" at p; -1 if they are not there. */
static long
read_u16(const char *p, const char *end)
{
	long		v = 0;
	int			i;

	if (end - p < 6)
		return -1;
	for (i = 2; i < 6; i++)
	{
		int			h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = (v << 4) | h;
	}
	return v;
}

static char *
put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80)
		*o++ = (char) cp;
	else if (cp < 0x800)
	{
		*o++ = (char) (0xC0 | (cp >> 6));
		*o++ = (char) (0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		*o++ = (char) (0xE0 | (cp >> 12));
		*o++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char) (0x80 | (cp & 0x3F));
	}
	else
	{
		*o++ = (char) (0xF0 | (cp >> 18));
		*o++ = (char) (0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char) (0x80 | (cp & 0x3F));
	}
	return o;
}

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80), or 0. */
static inline size_t
utf8_seq(const char *p, const char *end)
{
	unsigned char c = (unsigned char) *p;
	size_t		want = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

	if ((size_t) (end - p) < want)
		want = (size_t) (end - p);
	return json_utf8_valid_prefix(p, want) == want && want > 1 ? want : 0;
}

/*
 * Decode the escape at p (p[0] == '\\') to o.  Returns the input bytes
 * used, 0 on error (reported).
 */
static size_t
decode_escape(Parser *ps, const char *p, char **o)
{
	long		cp,
				lo;

	if (p + 1 >= ps->end)
		return fail(ps, p, "unterminated string");
	switch (p[1])
	{
		case '"':
		case '\\':
		case '/':
			*(*o)++ = p[1];
			return 2;
		case 'b':
			*(*o)++ = '\b';
			return 2;
		case 'f':
			*(*o)++ = '\f';
			return 2;
		case 'n':
			*(*o)++ = '\n';
			return 2;
		case 'r':
			*(*o)++ = '\r';
			return 2;
		case 't':
			*(*o)++ = '\t';
			return 2;
		case 'u':
			break;
		default:
			return fail(ps, p, "invalid escape in string");
	}
	cp = read_u16(p, ps->end);
	if (cp < 0)
		return fail(ps, p, "invalid \\u escape in string");
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail(ps, p, "unpaired low surrogate in string");
	if (cp < 0xD800 || cp > 0xDBFF)
	{
		*o = put_utf8(*o, (uint32_t) cp);
		return 6;
	}
	if (p + 7 >= ps->end || p[6] != '\\' || p[7] != 'u' ||
		(lo = read_u16(p + 6, ps->end)) < 0xDC00 || lo > 0xDFFF)
		return fail(ps, p, "unpaired high surrogate in string");
	*o = put_utf8(*o, 0x10000 + (((uint32_t) cp - 0xD800) << 10) +
				  ((uint32_t) lo - 0xDC00));
	return 12;
}

/*
 * Parse the string at ps->p (on the opening quote) into v.  Without
 * escapes the string is a slice of the input; otherwise it is decoded
 * into doc->bytes.
 */
static bool
parse_string(Parser *ps, JsonValue *v)
{
	const char *p = ps->p + 1;
	const char *end = ps->end;
	const char *run = p;
	char	   *o = NULL;

	for (;;)
	{
		unsigned char c;

		while (p < end && (unsigned char) (*p - 0x20) < 0x60 &&
			   *p != '"' && *p != '\\')
			p++;
		if (p >= end)
			return fail(ps, ps->p, "unterminated string");
		c = (unsigned char) *p;
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(ps, p, "control character in string");
		if (c >= 0x80)
		{
			size_t		n = utf8_seq(p, end);

			if (n == 0)
				return fail(ps, p, "invalid UTF-8 in string");
			p += n;
			continue;
		}
		/* a backslash: from here on, decode into doc->bytes */
		if (o == NULL)
			v->u.str = o = ps->doc->bytes + ps->doc->nbytes;
		memcpy(o, run, (size_t) (p - run));
		o += p - run;
		{
			size_t		n = decode_escape(ps, p, &o);

			if (n == 0)
				return false;
			p += n;
		}
		run = p;
	}
	if (o == NULL)
	{
		v->u.str = run;
		v->len = (uint32_t) (p - run);
	}
	else
	{
		memcpy(o, run, (size_t) (p - run));
		o += p - run;
		v->len = (uint32_t) (o - v->u.str);
		ps->doc->nbytes += v->len;
	}
	ps->p = p + 1;
	return true;
}

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * Parse the number at ps->p into v: RFC 8259 grammar, text kept as is.
 * The double is exact through the fast path (at most 15 significant
 * digits, power of ten at most 22), else strtod() on a NUL-terminated
 * copy made in the unused tail of doc->bytes.
 */
static bool
parse_number(Parser *ps, JsonValue *v)
{
	const char *p = ps->p;
	const char *end = ps->end;
	uint64_t	mant = 0;
	int			sig = 0;		/* significant digits in mant */
	long		exp10 = 0;
	bool		neg = false;
	bool		integer = true;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return fail(ps, p, "invalid number");
	if (*p == '0')
	{
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return fail(ps, p, "leading zero in number");
	}
	else
		for (; p < end && *p >= '0' && *p <= '9'; p++)
		{
			if (sig < 19)
			{
				mant = mant * 10 + (uint64_t) (*p - '0');
				sig++;
			}
			else
				exp10++;		/* a dropped digit */
		}
	if (p < end && *p == '.')
	{
		integer = false;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(ps, p, "digit expected after decimal point");
		for (; p < end && *p >= '0' && *p <= '9'; p++)
		{
			if (mant == 0 && *p == '0')
				exp10--;		/* leading zeros are not significant */
			else if (sig < 19)
			{
				mant = mant * 10 + (uint64_t) (*p - '0');
				sig++;
				exp10--;
			}
		}
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		long		e = 0;
		bool		eneg = false;

		integer = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || *p < '0' || *p > '9')
			return fail(ps, p, "digit expected in exponent");
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		exp10 += eneg ? -e : e;
	}
	v->u.str = ps->p;
	v->len = (uint32_t) (p - ps->p);
	v->flags = integer ? JSON_NUM_INTEGER : 0;
	if (sig <= 15 && exp10 >= -22 && exp10 <= 22)
	{
		double		d = (double) mant;

		d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
		v->num = neg ? -d : d;
	}
	else
	{
		char	   *tmp = ps->doc->bytes + ps->doc->nbytes;

		memcpy(tmp, v->u.str, v->len);
		tmp[v->len] = '\0';
		v->num = strtod(tmp, NULL);
	}
	ps->p = p;
	return true;
}

static bool
parse_literal(Parser *ps, JsonValue *v)
{
	static const char *const words[] = {"null", "true", "false"};
	int			i;

	for (i = 0; i < 3; i++)
	{
		size_t		n = strlen(words[i]);

		if ((size_t) (ps->end - ps->p) >= n && memcmp(ps->p, words[i], n) == 0)
		{
			v->kind = i == 0 ? JSON_NULL : JSON_BOOL;
			v->boolean = i == 1;
			ps->p += n;
			return true;
		}
	}
	return fail(ps, ps->p, "unexpected character");
}

/* Parse an object key and the colon after it; the key becomes a child. */
static bool
parse_key(Parser *ps)
{
	JsonValue  *key;

	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return fail(ps, ps->p, "object key expected");
	if ((key = new_node(ps, JSON_STRING)) == NULL || !parse_string(ps, key))
		return false;
	ps->doc->pending[ps->npending++] = key;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return fail(ps, ps->p, "':' expected after object key");
	ps->p++;
	return true;
}

/* Move the children of the closing container to the items area. */
static void
close_container(Parser *ps, Frame *f)
{
	JsonDoc    *doc = ps->doc;
	uint32_t	n = ps->npending - f->first;
	const JsonValue **items = doc->items + doc->nitems;

	memcpy(items, doc->pending + f->first, n * sizeof(JsonValue *));
	doc->nitems += n;
	f->node->u.items = items;
	f->node->len = f->node->kind == JSON_OBJECT ? n / 2 : n;
	ps->npending = f->first;
}

/* The parse loop; on success the root is doc->nodes[0]. */
static bool
parse_text(Parser *ps)
{
	JsonDoc    *doc = ps->doc;
	Frame		stack[JSON_DEPTH_LIMIT];
	int			depth = 0;

	for (;;)
	{
		JsonValue  *v;
		char		c;

		/* a value is expected */
		skip_ws(ps);
		if (ps->p >= ps->end)
			return fail(ps, ps->p, "unexpected end of input");
		c = *ps->p;
		if ((v = new_node(ps, JSON_NULL)) == NULL)
			return false;
		if (depth > 0)
			doc->pending[ps->npending++] = v;
		if (c == '[' || c == '{')
		{
			if ((uint32_t) depth >= doc->max_depth)
				return fail(ps, ps->p, "nesting too deep");
			v->kind = c == '[' ? JSON_ARRAY : JSON_OBJECT;
			v->u.items = doc->items;	/* until closed */
			stack[depth].node = v;
			stack[depth].first = ps->npending;
			depth++;
			ps->p++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == (c == '[' ? ']' : '}'))
				goto after_value;	/* empty: the loop below closes it */
			if (c == '{' && !parse_key(ps))
				return false;
			continue;
		}
		else if (c == '"')
		{
			v->kind = JSON_STRING;
			if (!parse_string(ps, v))
				return false;
		}
		else if (c == '-' || (c >= '0' && c <= '9'))
		{
			v->kind = JSON_NUMBER;
			if (!parse_number(ps, v))
				return false;
		}
		else if (!parse_literal(ps, v))
			return false;

after_value:
		/* a comma, a closing bracket, or the end of the text is expected */
		for (;;)
		{
			Frame	   *top;
			bool		is_array;

			skip_ws(ps);
			if (depth == 0)
			{
				if (ps->p != ps->end)
					return fail(ps, ps->p, "unexpected text after JSON value");
				return true;
			}
			top = &stack[depth - 1];
			is_array = top->node->kind == JSON_ARRAY;
			if (ps->p >= ps->end)
				return fail(ps, ps->p, "unexpected end of input");
			if (*ps->p == (is_array ? ']' : '}'))
			{
				ps->p++;
				close_container(ps, top);
				depth--;
				continue;
			}
			if (*ps->p != ',')
				return fail(ps, ps->p, is_array ?
							"',' or ']' expected" : "',' or '}' expected");
			ps->p++;
			if (!is_array && !parse_key(ps))
				return false;
			break;
		}
	}
}

const JsonValue *
json_parse(JsonDoc *doc, const char *text, size_t len, JsonError *err)
{
	Parser		ps;

	ps.doc = doc;
	ps.start = ps.p = text;
	ps.end = text + len;
	ps.npending = 0;
	ps.err = err;
	doc->nnodes = doc->nitems = 0;
	doc->nbytes = 0;
	if (len > doc->max_input)
	{
		fail(&ps, text + doc->max_input, "input too large");
		return NULL;
	}
	return parse_text(&ps) ? &doc->nodes[0] : NULL;
}
