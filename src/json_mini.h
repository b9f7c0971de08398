/*-------------------------------------------------------------------------
 *
 * json_mini.h
 *	  A small pure JSON parser (no postgres.h): text -> tree of JsonMini.
 *
 * Used for the few JSON texts the WebSocket worker must read: client
 * requests and the rare relation/truncate messages of the plugin.  The
 * whole tree lives in one malloc'd arena freed by json_mini_free().  Depth
 * and size are bounded by the caller's input (frames are size-limited).
 * When the richer json_value.h parser of the row filter lands, client
 * requests may move to it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JSON_MINI_H
#define PGSYNC_JSON_MINI_H

#include <stdbool.h>
#include <stddef.h>

typedef enum JsonMiniType
{
	JM_NULL,
	JM_BOOL,
	JM_NUMBER,
	JM_STRING,
	JM_ARRAY,
	JM_OBJECT
} JsonMiniType;

typedef struct JsonMini JsonMini;

struct JsonMini
{
	JsonMiniType type;
	bool		boolean;		/* JM_BOOL */
	double		number;			/* JM_NUMBER */
	char	   *str;			/* JM_STRING value, NUL-terminated */
	size_t		str_len;		/* may hold NUL bytes (\u0000) */
	char	   *key;			/* member name when inside an object */
	JsonMini   *child;			/* JM_ARRAY / JM_OBJECT: first element */
	JsonMini   *next;			/* next sibling */
	int			count;			/* number of children */
	const char *raw;			/* this value's text in the input */
	size_t		raw_len;
};

#define JSON_MINI_MAX_DEPTH 32

/*
 * Parse text[0..len) (one JSON value, surrounding whitespace allowed).
 * Returns the root, or NULL with *error set to a static message.
 */
extern JsonMini *json_mini_parse(const char *text, size_t len,
								 const char **error);

extern void json_mini_free(JsonMini *root);

/* Member of an object by name, or NULL. */
extern const JsonMini *json_mini_get(const JsonMini *obj, const char *key);

#endif							/* PGSYNC_JSON_MINI_H */
