/*-------------------------------------------------------------------------
 *
 * jwt_int.h
 *	  Internals shared by jwt_verify.c and jwt_keyset.c.  Not for other
 *	  modules: use jwt_verify.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JWT_INT_H
#define PGSYNC_JWT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "auth/jwt_verify.h"
#include "json/json_value.h"

typedef struct JwtKey
{
	JwtKeyType	type;
	bool		has_kid;
	char		kid[JWT_KID_MAX + 1];
	EVP_PKEY   *pkey;			/* RSA, EC */
	unsigned char *secret;		/* HMAC */
	size_t		secret_len;
} JwtKey;

struct JwtKeySet
{
	int			nkeys;
	JwtKey		keys[JWT_MAX_KEYS];
};

/* base64url of a JSON string value into out (cap bytes); -1 if invalid. */
extern long jwt_b64url_decode_json(const JsonValue *v, unsigned char *out,
								   size_t cap);

/* Does a JSON object hold a key twice? */
extern bool jwt_json_has_duplicate_keys(const JsonValue *obj);

/* Copy a "kid" string value into buf (JWT_KID_MAX + 1); false if unusable. */
extern bool jwt_copy_kid(const JsonValue *v, char *buf);

#endif							/* PGSYNC_JWT_INT_H */
