/*-------------------------------------------------------------------------
 *
 * json_span.h
 *	  Pure byte spans of the elements of a JSON array (or of the keys and
 *	  values of an object), to rewrite a text by copying the parts it keeps.
 *
 * What is kept is then byte for byte what the producer wrote: values are
 * never decoded and encoded again (a json column keeps its spacing, a
 * non-UTF-8 database its \u escapes).  A delimiter, not a validator: it
 * finds where each element starts and ends -- strings with their escapes,
 * nested containers, scalars up to the next separator -- and checks only
 * that strings end and brackets balance.  Meant for text a trusted
 * producer wrote (the output plugin); json_value.h reads what an element
 * means.  No recursion, no allocation.  No postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JSON_SPAN_H
#define PGSYNC_JSON_SPAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct JsonSpan
{
	size_t		off;			/* first byte, from the start of the text */
	size_t		len;			/* bytes, surrounding whitespace excluded */
} JsonSpan;

/*
 * The spans of the elements of the array, or of the keys and values (two
 * spans per member, key first) of the object, that text[0..len) holds.
 * Returns their number, or -1 if the text cannot be delimited (not an
 * array or object, an unterminated string, unbalanced brackets, an empty
 * element, text after the end) or has more than max spans.
 */
extern int	json_spans(const char *text, size_t len, JsonSpan *spans, int max);

/* Is span s of text the JSON literal lit ("null", "\"key\"", ...)? */
extern bool json_span_is(const char *text, JsonSpan s, const char *lit);

/*
 * The non-negative integer written in span s (digits only, at most 9), or
 * -1 if it is anything else.
 */
extern int	json_span_index(const char *text, JsonSpan s);

#endif							/* PGSYNC_JSON_SPAN_H */
