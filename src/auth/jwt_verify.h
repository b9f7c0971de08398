/*-------------------------------------------------------------------------
 *
 * jwt_verify.h
 *	  Pure verification of compact JWS JSON Web Tokens (RFC 7515, 7519).
 *
 * A token is accepted only if every step passes, in this order:
 *
 *	1. shape: at most JWT_MAX_TOKEN bytes, exactly three base64url parts
 *	   (RFC 4648 section 5, no padding, no whitespace, canonical: unused
 *	   trailing bits must be zero);
 *	2. header: a JSON object without duplicate keys, "alg" in the caller's
 *	   allow-list (JWT_ALG_*; "none" and every other name are refused), no
 *	   "crit" (we understand no extension), "kid" a string if present.
 *	   "jwk", "jku", "x5u", "x5c" are ignored: keys come only from the key
 *	   set, never from the token;
 *	3. signature: with a key of the set whose type matches the algorithm
 *	   (HS256: an HMAC secret; RS256: an RSA public key; ES256: an EC P-256
 *	   public key).  The key whose kid equals the header's kid if there is
 *	   one, else every key of that type in turn (key rotation);
 *	4. claims, only once the signature is good: a JSON object without
 *	   duplicate keys; "exp" (required unless told otherwise) and "nbf"
 *	   NumericDates checked against the caller's clock with a leeway; "aud"
 *	   (string or array of strings) and "iss" compared when configured;
 *	   the role claim a non-empty string of at most JWT_ROLE_MAX bytes
 *	   without NUL.
 *
 * Memory is bounded: the token length, the key count and JWT_MAX_JWKS are
 * limits, and a verification allocates one block of fixed size.  Nothing
 * here may crash or leak on hostile input.  OpenSSL 3 EVP only, no
 * postgres.h; the key set is opaque so this header needs no OpenSSL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JWT_VERIFY_H
#define PGSYNC_JWT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest token accepted, in bytes. */
#define JWT_MAX_TOKEN		8192
/* Most keys in one key set. */
#define JWT_MAX_KEYS		32
/* Longest "kid", in bytes. */
#define JWT_KID_MAX			256
/* Longest role name (PostgreSQL's NAMEDATALEN - 1). */
#define JWT_ROLE_MAX		63
/* Longest JWKS document accepted, in bytes. */
#define JWT_MAX_JWKS		(256 * 1024)
/* Shortest HMAC secret accepted (RFC 7518 3.2: the size of the hash). */
#define JWT_HMAC_MIN_SECRET	32

/* Algorithms, as bits of an allow-list. */
#define JWT_ALG_HS256		0x01
#define JWT_ALG_RS256		0x02
#define JWT_ALG_ES256		0x04

/* Stable result codes: never renumber, append only. */
typedef enum JwtStatus
{
	JWT_OK = 0,
	JWT_MALFORMED = 1,			/* shape, base64url, JSON, header */
	JWT_BAD_ALG = 2,			/* alg not allowed, or no key of its type */
	JWT_BAD_SIGNATURE = 3,		/* no candidate key verifies it */
	JWT_EXPIRED = 4,			/* now >= exp + leeway */
	JWT_NOT_YET_VALID = 5,		/* now + leeway < nbf */
	JWT_BAD_AUDIENCE = 6,		/* aud configured and not matched */
	JWT_BAD_ISSUER = 7,			/* iss configured and not equal */
	JWT_NO_ROLE = 8,			/* role claim absent, not a usable string */
	JWT_NO_EXP = 9,				/* exp required and absent */
	JWT_BAD_KEY = 10,			/* key loading: unusable key or JWKS */
	JWT_INTERNAL = 11			/* out of memory, OpenSSL failure */
} JwtStatus;

/* Key types: each goes with exactly one algorithm. */
typedef enum JwtKeyType
{
	JWT_KEY_HMAC = 1,			/* HS256 */
	JWT_KEY_RSA = 2,			/* RS256, at least 2048 bits */
	JWT_KEY_EC_P256 = 3			/* ES256 */
} JwtKeyType;

typedef struct JwtKeySet JwtKeySet;

/* What to check.  Zero-initialize, then set what applies. */
typedef struct JwtOptions
{
	unsigned	algs;			/* allow-list: JWT_ALG_* bits */
	int64_t		now;			/* current time, seconds since the epoch */
	int64_t		leeway;			/* seconds of clock skew tolerated (>= 0) */
	bool		exp_optional;	/* accept a token without "exp" */
	const char *audience;		/* NULL: "aud" not checked */
	const char *issuer;			/* NULL: "iss" not checked */
	const char *role_claim;		/* NULL: "role" */
} JwtOptions;

/* What a verification found. */
typedef struct JwtResult
{
	JwtStatus	status;
	const char *message;		/* static text, lower case, no period */
	char		role[JWT_ROLE_MAX + 1]; /* JWT_OK: the role, NUL-terminated */
	int64_t		exp;			/* JWT_OK: "exp" (floor), 0 if absent */
	int			key_index;		/* JWT_OK: index of the key that verified */
} JwtResult;

/* An empty key set (NULL when out of memory); jwt_keyset_free() frees it. */
extern JwtKeySet *jwt_keyset_create(void);
extern void jwt_keyset_free(JwtKeySet *ks);
extern int	jwt_keyset_count(const JwtKeySet *ks);

/*
 * Add a key; kid may be NULL (no kid).  On error, *message (may be NULL)
 * gets a static explanation and the set is unchanged.
 *
 * jwt_keyset_add_secret: HMAC secret bytes, at least JWT_HMAC_MIN_SECRET;
 * text that looks like a PEM key is refused (algorithm confusion).
 * jwt_keyset_add_pem: one PEM "PUBLIC KEY" (SubjectPublicKeyInfo), RSA of
 * at least 2048 bits or EC on P-256.
 */
extern JwtStatus jwt_keyset_add_secret(JwtKeySet *ks, const char *kid,
									   const void *secret, size_t len,
									   const char **message);
extern JwtStatus jwt_keyset_add_pem(JwtKeySet *ks, const char *kid,
									const char *pem, size_t len,
									const char **message);

/*
 * Add the keys of a JWKS document (RFC 7517): {"keys": [...]}.  Keys of
 * kty "RSA" (n, e), "EC" (crv "P-256", x, y) and "oct" (k) are added with
 * their kid; a key whose "use" is not "sig", whose "alg" is not the one
 * its type goes with, or whose kty is unknown is skipped.  A malformed
 * document or key refuses the whole document (the set is unchanged).
 * *added (may be NULL) gets the number of keys added.
 */
extern JwtStatus jwt_keyset_add_jwks(JwtKeySet *ks, const char *json,
									 size_t len, int *added,
									 const char **message);

/*
 * Verify token[0..len) (no NUL needed) against the key set with opt.
 * Returns res->status, and fills res (role, exp, key_index on success).
 */
extern JwtStatus jwt_verify(const JwtKeySet *ks, const JwtOptions *opt,
							const char *token, size_t len, JwtResult *res);

/*
 * The claims of a token that jwt_verify() accepted, as the JSON text it
 * carries, into out (cap bytes, NUL-terminated): for the server to hand
 * to row-level security policies.  Returns its length, 0 if it does not
 * fit or the token is not of the verified shape.
 */
#define JWT_MAX_CLAIMS		(JWT_MAX_TOKEN / 4 * 3 + 1)
extern size_t jwt_claims_json(const char *token, size_t len, char *out,
							  size_t cap);

/* "JWT_OK", "JWT_MALFORMED", ...: for logs and tests. */
extern const char *jwt_status_name(JwtStatus status);

#endif							/* PGSYNC_JWT_VERIFY_H */
