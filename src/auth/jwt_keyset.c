/*-------------------------------------------------------------------------
 *
 * jwt_keyset.c
 *	  Verification keys of the JWT verifier: HMAC secrets, PEM public keys
 *	  and JWKS documents, each key pinned to the one algorithm of its type
 *	  (jwt_verify.c, NOTES), at most JWT_MAX_KEYS of them (rotation: a kid
 *	  selects one, else every key of the right type is tried).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/jwt_int.h"
#include "auth/jwt_verify.h"
#include "json/json_value.h"

/* JSON limits for a JWKS document. */
#define JWKS_JSON_NODES		8192
#define JWKS_JSON_DEPTH		16
/* Largest RSA modulus accepted from a JWKS, in bytes (16384 bits). */
#define RSA_MAX_BYTES		2048
#define RSA_MIN_BITS		2048

/* ---------------------------------------------------------------- */
/* Key sets                                                         */
/* ---------------------------------------------------------------- */

JwtKeySet *
jwt_keyset_create(void)
{
	return calloc(1, sizeof(JwtKeySet));
}

static void
key_clear(JwtKey *k)
{
	EVP_PKEY_free(k->pkey);
	if (k->secret)
	{
		OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
	}
	memset(k, 0, sizeof(*k));
}

void
jwt_keyset_free(JwtKeySet *ks)
{
	int			i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->nkeys; i++)
		key_clear(&ks->keys[i]);
	free(ks);
}

int
jwt_keyset_count(const JwtKeySet *ks)
{
	return ks ? ks->nkeys : 0;
}

static JwtStatus
fail_key(const char **message, JwtStatus status, const char *text)
{
	if (message)
		*message = text;
	return status;
}

/*
 * Check that pkey is an RSA key of at least RSA_MIN_BITS or an EC P-256
 * key; sets *type.  NULL on success, else the reason.
 */
static const char *
classify_pkey(EVP_PKEY *pkey, JwtKeyType *type)
{
	char		group[64];
	size_t		glen = 0;

	if (EVP_PKEY_is_a(pkey, "RSA"))
	{
		if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
			return "RSA key shorter than 2048 bits";
		*type = JWT_KEY_RSA;
		return NULL;
	}
	if (EVP_PKEY_is_a(pkey, "EC"))
	{
		if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
											group, sizeof(group), &glen) ||
			strcmp(group, "prime256v1") != 0)
			return "EC key not on curve P-256";
		*type = JWT_KEY_EC_P256;
		return NULL;
	}
	return "key is neither RSA nor EC";
}

/* Take ownership of pkey or secret (on success only). */
static JwtStatus
keyset_append(JwtKeySet *ks, const char *kid, JwtKeyType type,
			  EVP_PKEY *pkey, unsigned char *secret, size_t secret_len,
			  const char **message)
{
	JwtKey	   *k;
	size_t		kidlen = kid ? strlen(kid) : 0;

	if (ks->nkeys >= JWT_MAX_KEYS)
		return fail_key(message, JWT_BAD_KEY, "too many keys");
	if (kidlen > JWT_KID_MAX)
		return fail_key(message, JWT_BAD_KEY, "kid too long");
	k = &ks->keys[ks->nkeys++];
	memset(k, 0, sizeof(*k));
	k->type = type;
	k->pkey = pkey;
	k->secret = secret;
	k->secret_len = secret_len;
	if (kid)
	{
		k->has_kid = true;
		memcpy(k->kid, kid, kidlen + 1);
	}
	return JWT_OK;
}

/* Does secret[0..len) contain "-----BEGIN" anywhere? */
static bool
contains_pem_marker(const void *secret, size_t len)
{
	const char *p = secret;
	size_t		i;

	for (i = 0; i + 10 <= len; i++)
		if (p[i] == '-' && memcmp(p + i, "-----BEGIN", 10) == 0)
			return true;
	return false;
}

/* Classify pkey and append it; pkey is freed on failure. */
static JwtStatus
keyset_append_pkey(JwtKeySet *ks, const char *kid, EVP_PKEY *pkey,
				   const char **message)
{
	JwtKeyType	type;
	const char *why = classify_pkey(pkey, &type);
	JwtStatus	st;

	if (why)
	{
		EVP_PKEY_free(pkey);
		return fail_key(message, JWT_BAD_KEY, why);
	}
	st = keyset_append(ks, kid, type, pkey, NULL, 0, message);
	if (st != JWT_OK)
		EVP_PKEY_free(pkey);
	return st;
}

JwtStatus
jwt_keyset_add_secret(JwtKeySet *ks, const char *kid,
					  const void *secret, size_t len, const char **message)
{
	unsigned char *copy;
	JwtStatus	st;

	if (ks == NULL || secret == NULL)
		return fail_key(message, JWT_BAD_KEY, "no key set or no secret");
	if (len < JWT_HMAC_MIN_SECRET)
		return fail_key(message, JWT_BAD_KEY, "HMAC secret shorter than 32 bytes");
	if (len > JWT_MAX_TOKEN)
		return fail_key(message, JWT_BAD_KEY, "HMAC secret longer than 8192 bytes");
	/* anywhere, not just at the start: whitespace must not get one by */
	if (contains_pem_marker(secret, len))
		return fail_key(message, JWT_BAD_KEY,
						"HMAC secret looks like a PEM key");
	copy = malloc(len);
	if (copy == NULL)
		return fail_key(message, JWT_INTERNAL, "out of memory");
	memcpy(copy, secret, len);
	st = keyset_append(ks, kid, JWT_KEY_HMAC, NULL, copy, len, message);
	if (st != JWT_OK)
	{
		OPENSSL_cleanse(copy, len);
		free(copy);
	}
	return st;
}

JwtStatus
jwt_keyset_add_pem(JwtKeySet *ks, const char *kid, const char *pem,
				   size_t len, const char **message)
{
	BIO		   *bio;
	EVP_PKEY   *pkey;

	if (ks == NULL || pem == NULL || len == 0 || len > JWT_MAX_JWKS)
		return fail_key(message, JWT_BAD_KEY, "no key set or bad PEM length");
	bio = BIO_new_mem_buf(pem, (int) len);
	if (bio == NULL)
		return fail_key(message, JWT_INTERNAL, "out of memory");
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return fail_key(message, JWT_BAD_KEY, "not a PEM public key");
	return keyset_append_pkey(ks, kid, pkey, message);
}

/* ---------------------------------------------------------------- */
/* JWKS                                                             */
/* ---------------------------------------------------------------- */

/* Build an EVP_PKEY of type name from params; NULL on failure. */
static EVP_PKEY *
pkey_fromdata(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY   *pkey = NULL;

	if (params == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
	{
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *
jwk_rsa(const JsonValue *jwk, unsigned char *buf)
{
	long		nlen,
				elen;
	BIGNUM	   *n = NULL,
			   *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY   *pkey = NULL;

	nlen = jwt_b64url_decode_json(json_object_get_cstr(jwk, "n"), buf, RSA_MAX_BYTES);
	if (nlen <= 0 || buf[0] == 0)
		return NULL;
	n = BN_bin2bn(buf, (int) nlen, NULL);
	elen = jwt_b64url_decode_json(json_object_get_cstr(jwk, "e"), buf, 8);
	if (elen <= 0 || buf[0] == 0)
		goto done;
	e = BN_bin2bn(buf, (int) elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (n == NULL || e == NULL || bld == NULL ||
		!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto done;
	pkey = pkey_fromdata("RSA", bld);
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static EVP_PKEY *
jwk_ec(const JsonValue *jwk, unsigned char *buf)
{
	unsigned char point[65];
	OSSL_PARAM_BLD *bld;
	EVP_PKEY   *pkey = NULL;
	EVP_PKEY_CTX *ctx;

	if (!json_string_is(json_object_get_cstr(jwk, "crv"), "P-256"))
		return NULL;
	point[0] = 0x04;			/* uncompressed */
	if (jwt_b64url_decode_json(json_object_get_cstr(jwk, "x"), buf, 32) != 32)
		return NULL;
	memcpy(point + 1, buf, 32);
	if (jwt_b64url_decode_json(json_object_get_cstr(jwk, "y"), buf, 32) != 32)
		return NULL;
	memcpy(point + 33, buf, 32);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
		!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
										 "prime256v1", 0) ||
		!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
										  point, sizeof(point)))
	{
		OSSL_PARAM_BLD_free(bld);
		return NULL;
	}
	pkey = pkey_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (pkey == NULL)
		return NULL;
	/* the point must be on the curve */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1)
	{
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/*
 * Add one JWK to ks.  Returns JWT_OK (added or skipped: *added tells) or
 * JWT_BAD_KEY / JWT_INTERNAL with *message.
 */
static JwtStatus
jwks_add_one(JwtKeySet *ks, const JsonValue *jwk, unsigned char *buf,
			 bool *added, const char **message)
{
	const JsonValue *kty = json_object_get_cstr(jwk, "kty");
	const JsonValue *use = json_object_get_cstr(jwk, "use");
	const JsonValue *alg = json_object_get_cstr(jwk, "alg");
	const JsonValue *kidv = json_object_get_cstr(jwk, "kid");
	char		kid[JWT_KID_MAX + 1];
	const char *want_alg;
	EVP_PKEY   *pkey = NULL;
	JwtStatus	st;
	long		klen;

	*added = false;
	if (jwk->kind != JSON_OBJECT || jwt_json_has_duplicate_keys(jwk) ||
		kty == NULL || kty->kind != JSON_STRING)
		return fail_key(message, JWT_BAD_KEY, "JWK not an object with a kty");
	if (json_string_is(kty, "RSA"))
		want_alg = "RS256";
	else if (json_string_is(kty, "EC"))
		want_alg = "ES256";
	else if (json_string_is(kty, "oct"))
		want_alg = "HS256";
	else
		return JWT_OK;			/* unknown kty: skipped (RFC 7517 5) */
	if (use != NULL && !json_string_is(use, "sig"))
		return JWT_OK;
	if (alg != NULL && !json_string_is(alg, want_alg))
		return JWT_OK;
	if (kidv != NULL && !jwt_copy_kid(kidv, kid))
		return fail_key(message, JWT_BAD_KEY, "JWK kid not a usable string");

	if (json_string_is(kty, "oct"))
	{
		klen = jwt_b64url_decode_json(json_object_get_cstr(jwk, "k"), buf, JWT_MAX_TOKEN);
		if (klen < 0)
			return fail_key(message, JWT_BAD_KEY, "JWK oct without a valid k");
		st = jwt_keyset_add_secret(ks, kidv ? kid : NULL, buf, (size_t) klen, message);
		OPENSSL_cleanse(buf, (size_t) klen);
		*added = st == JWT_OK;
		return st;
	}
	if (json_string_is(kty, "RSA"))
		pkey = jwk_rsa(jwk, buf);
	else if (json_string_is(json_object_get_cstr(jwk, "crv"), "P-256"))
		pkey = jwk_ec(jwk, buf);
	else
		return JWT_OK;			/* another curve: not ours, skipped */
	if (pkey == NULL)
		return fail_key(message, JWT_BAD_KEY, "JWK with invalid key parameters");
	st = keyset_append_pkey(ks, kidv ? kid : NULL, pkey, message);
	*added = st == JWT_OK;
	return st;
}

JwtStatus
jwt_keyset_add_jwks(JwtKeySet *ks, const char *json, size_t len,
					int *added, const char **message)
{
	JsonDoc    *doc;
	const JsonValue *root,
			   *keys;
	unsigned char *buf;
	int			before;
	uint32_t	i;
	JwtStatus	st = JWT_OK;
	bool		one;

	if (added)
		*added = 0;
	if (ks == NULL || json == NULL)
		return fail_key(message, JWT_BAD_KEY, "no key set or no JWKS");
	if (len > JWT_MAX_JWKS)
		return fail_key(message, JWT_BAD_KEY, "JWKS too long");
	before = ks->nkeys;
	doc = json_doc_create(len, JWKS_JSON_NODES, JWKS_JSON_DEPTH);
	buf = malloc(JWT_MAX_TOKEN);
	if (doc == NULL || buf == NULL)
	{
		json_doc_free(doc);
		free(buf);
		return fail_key(message, JWT_INTERNAL, "out of memory");
	}
	root = json_parse(doc, json, len, NULL);
	keys = json_object_get_cstr(root, "keys");
	if (root == NULL || root->kind != JSON_OBJECT || jwt_json_has_duplicate_keys(root) ||
		keys == NULL || keys->kind != JSON_ARRAY)
		st = fail_key(message, JWT_BAD_KEY, "JWKS not an object with a keys array");
	for (i = 0; st == JWT_OK && i < keys->len; i++)
	{
		st = jwks_add_one(ks, json_array_get(keys, i), buf, &one, message);
		if (st == JWT_OK && one && added)
			(*added)++;
	}
	if (st != JWT_OK)
	{
		/* all or nothing */
		while (ks->nkeys > before)
			key_clear(&ks->keys[--ks->nkeys]);
		if (added)
			*added = 0;
	}
	json_doc_free(doc);
	OPENSSL_cleanse(buf, JWT_MAX_TOKEN);
	free(buf);
	return st;
}

