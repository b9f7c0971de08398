/*-------------------------------------------------------------------------
 *
 * handshake.h
 *	  Pure checks of the WebSocket upgrade request (no postgres.h, no lws):
 *	  what ws_session.c reads from the request's headers is judged here, so
 *	  that every rule is unit-tested and fuzzed alone.
 *
 *	- handshake_key_valid(): Sec-WebSocket-Key is the base64 of 16 bytes
 *	  (RFC 6455 4.1);
 *	- handshake_bearer_token(): the token of an "Authorization: Bearer"
 *	  header (RFC 6750 2.1), strictly: the scheme case-insensitive, one or
 *	  more spaces, then a token68 and nothing else;
 *	- handshake_origin_allowed(): an Origin (RFC 6454) against a comma list
 *	  of allowed origins (docs/SECURITY.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_HANDSHAKE_H
#define PGSYNC_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

/* Is key[0..len) the base64 of 16 bytes (22 characters and "==")? */
extern bool handshake_key_valid(const char *key, size_t len);

/*
 * If header[0..len) is "Bearer <token68>", point *token at the token and
 * set *token_len; false for any other scheme or shape (the token is then
 * not looked at).
 */
extern bool handshake_bearer_token(const char *header, size_t len,
								   const char **token, size_t *token_len);

/*
 * Is origin[0..len) in allow_list, a comma-separated list of origins
 * ("https://app.example.com, http://localhost:3000")?  Spaces around
 * entries are ignored; scheme and host compare without regard to ASCII
 * case, the port exactly; "*" allows any origin.  An empty or NULL list
 * allows every origin.  An origin that is not of the form
 * scheme "://" host [":" port] (or the literal "null" an opaque origin
 * sends) is never allowed by a list, even "*" matches it only when it is
 * well formed.
 */
extern bool handshake_origin_allowed(const char *allow_list,
									 const char *origin, size_t len);

/* Is allow_list usable (every entry "*" or a well-formed origin)?  On
 * false, *bad and *bad_len point at the first bad entry. */
extern bool handshake_origin_list_valid(const char *allow_list,
										const char **bad, size_t *bad_len);

#endif							/* PGSYNC_HANDSHAKE_H */
