/*-------------------------------------------------------------------------
 *
 * json_value.h
 *	  Pure, strict JSON (RFC 8259) parser into a compact read-only tree.
 *
 * Parses one JSON text into nodes held in a caller-provided arena (a
 * JsonDoc), never by recursion: nesting depth, input size and node count
 * all have hard limits.  Numbers keep their text (a slice of the input)
 * and a parsed double; strings are valid UTF-8 with escapes resolved.
 * Strings without escapes and number texts point into the input, so the
 * input must outlive the tree.  Containers hold a vector of their
 * children: array element i and object member i are O(1); object member
 * lookup by key is a linear scan.  No postgres.h.
 *
 * Number texts are converted with strtod() when the exact fast path does
 * not apply, so LC_NUMERIC must be "C" (as it always is in a backend).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JSON_VALUE_H
#define PGSYNC_JSON_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard ceiling for JsonDoc max_depth. */
#define JSON_DEPTH_LIMIT	256
/* Default nesting limit. */
#define JSON_DEFAULT_MAX_DEPTH	64

typedef enum JsonKind
{
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
} JsonKind;

/* flags of a JSON_NUMBER */
#define JSON_NUM_INTEGER	0x01	/* no fraction, no exponent */

typedef struct JsonValue
{
	uint8_t		kind;			/* JsonKind */
	uint8_t		flags;			/* JSON_NUM_* */
	bool		boolean;		/* JSON_BOOL */
	/* string, number: bytes of str; array: elements; object: members */
	uint32_t	len;
	union
	{
		const char *str;		/* JSON_STRING, JSON_NUMBER (text) */
		/* array: len elements; object: 2 * len entries, key then value */
		const struct JsonValue *const *items;
	}			u;
	double		num;			/* JSON_NUMBER: nearest double (maybe inf) */
} JsonValue;

/*
 * The arena one text is parsed into.  Reusable: every json_parse() starts
 * afresh and invalidates the previous tree.
 */
typedef struct JsonDoc
{
	size_t		max_input;		/* longest accepted input, in bytes */
	uint32_t	max_nodes;		/* most values (object keys count) */
	uint32_t	max_depth;		/* deepest nesting of arrays/objects */
	uint32_t	nnodes;
	uint32_t	nitems;
	size_t		nbytes;
	JsonValue  *nodes;			/* [max_nodes] */
	const JsonValue **items;	/* [max_nodes]: children vectors */
	const JsonValue **pending;	/* [max_nodes]: children being collected */
	char	   *bytes;			/* [max_input + 1]: decoded strings */
	void	   *owned;			/* memory to free in json_doc_free() */
} JsonDoc;

typedef struct JsonError
{
	size_t		offset;			/* byte offset of the problem in the input */
	const char *message;		/* static text */
} JsonError;

/* Bytes of arena json_doc_init() needs for these limits. */
#define JSON_DOC_MEM_SIZE(max_input, max_nodes) \
	((size_t) (max_nodes) * (sizeof(JsonValue) + 2 * sizeof(JsonValue *)) + \
	 (size_t) (max_input) + 1)

/*
 * Set doc up over caller memory mem[0..memsize), which must be at least
 * JSON_DOC_MEM_SIZE(max_input, max_nodes) bytes, aligned for a pointer.
 * max_depth is clamped to JSON_DEPTH_LIMIT.  Returns false if too small.
 */
extern bool json_doc_init(JsonDoc *doc, void *mem, size_t memsize,
						  size_t max_input, uint32_t max_nodes,
						  uint32_t max_depth);

/* Same, with memory from malloc(); NULL when out of memory. */
extern JsonDoc *json_doc_create(size_t max_input, uint32_t max_nodes,
								uint32_t max_depth);
extern void json_doc_free(JsonDoc *doc);

/*
 * Parse text[0..len) (no NUL needed) into doc.  Returns the root, or NULL
 * with *err set (err may be NULL).  The tree lives until the next parse
 * into doc and points into text.
 */
extern const JsonValue *json_parse(JsonDoc *doc, const char *text, size_t len,
								   JsonError *err);

/*
 * Deep-copy v into doc, after what is there already (doc must have room:
 * the nodes, and string bytes for strings and number texts).  The copy
 * does not point into v's input.  NULL if doc is too small.
 */
extern const JsonValue *json_doc_copy(JsonDoc *doc, const JsonValue *v);

/* Element i of an array, or NULL (not an array, out of range). */
static inline const JsonValue *
json_array_get(const JsonValue *v, uint32_t i)
{
	return (v && v->kind == JSON_ARRAY && i < v->len) ? v->u.items[i] : NULL;
}

/* Key and value of member i of an object (no check). */
static inline const JsonValue *
json_member_key(const JsonValue *obj, uint32_t i)
{
	return obj->u.items[2 * i];
}

static inline const JsonValue *
json_member_value(const JsonValue *obj, uint32_t i)
{
	return obj->u.items[2 * i + 1];
}

/* First member named key[0..keylen), or NULL (not an object, absent). */
extern const JsonValue *json_object_get(const JsonValue *obj,
										const char *key, size_t keylen);

/* Same for a NUL-terminated key. */
extern const JsonValue *json_object_get_cstr(const JsonValue *obj,
											 const char *key);

/* Is v a string equal to s (NUL-terminated)? */
extern bool json_string_is(const JsonValue *v, const char *s);

/*
 * Exact structural equality: same kinds, same number texts, same strings,
 * same members in the same order.
 */
extern bool json_value_equal(const JsonValue *a, const JsonValue *b);

/*
 * Write v as compact JSON into buf[0..cap).  Returns the length written
 * (no NUL added), or (size_t) -1 if cap is too small.  6 * input length
 * + 16 bytes is always enough for a tree parsed from that input.
 */
extern size_t json_value_write(const JsonValue *v, char *buf, size_t cap);

#endif							/* PGSYNC_JSON_VALUE_H */
