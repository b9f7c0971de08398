/*-------------------------------------------------------------------------
 *
 * jwt_verify.c
 *	  Compact JWS verification with OpenSSL 3 EVP and json/json_value:
 *	  base64url, the token's shape, signatures, claims.  Key sets (PEM,
 *	  secrets, JWKS) are jwt_keyset.c's.
 *
 * NOTES
 *	  Algorithm pinning.  The algorithm is decided by the key, never by the
 *	  token alone: the header's "alg" must be in the caller's allow-list
 *	  AND only keys of the one type that goes with it are tried.  An HS256
 *	  token is never checked against an RSA or EC key (the classic
 *	  confusion, where a public key's bytes serve as the HMAC secret), and
 *	  "none" is in no allow-list.
 *
 *	  Constant time.  The HMAC is compared with CRYPTO_memcmp(); RSA and
 *	  ECDSA verification is OpenSSL's.  Which key verified is not secret.
 *
 *	  Strictness.  base64url must be canonical and unpadded, JSON is parsed
 *	  by the strict json_value parser and objects with duplicate keys are
 *	  refused (two parsers could otherwise disagree on which "role" or
 *	  "alg" counts).  Claims are looked at only once the signature is
 *	  good.
 *
 *	  Memory.  A key set is a fixed array of JWT_MAX_KEYS keys; one
 *	  verification mallocs one scratch block of fixed size (decoded parts
 *	  and a JSON arena) and frees it before returning.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/jwt_int.h"
#include "auth/jwt_verify.h"
#include "json/json_value.h"

/* Decoded header or claims: at most 3/4 of the token. */
#define PART_MAX		(JWT_MAX_TOKEN / 4 * 3)
/* JSON limits for a header or the claims. */
#define TOKEN_JSON_NODES	1024
#define TOKEN_JSON_DEPTH	32

/* Scratch memory of one verification. */
typedef struct Scratch
{
	unsigned char header[PART_MAX];
	unsigned char claims[PART_MAX];
	unsigned char sig[PART_MAX];
	JsonDoc		doc;
	/* aligned for a pointer: the JSON arena follows */
	void	   *arena[JSON_DOC_MEM_SIZE(PART_MAX, TOKEN_JSON_NODES) / sizeof(void *) + 1];
} Scratch;

const char *
jwt_status_name(JwtStatus status)
{
	switch (status)
	{
		case JWT_OK:
			return "JWT_OK";
		case JWT_MALFORMED:
			return "JWT_MALFORMED";
		case JWT_BAD_ALG:
			return "JWT_BAD_ALG";
		case JWT_BAD_SIGNATURE:
			return "JWT_BAD_SIGNATURE";
		case JWT_EXPIRED:
			return "JWT_EXPIRED";
		case JWT_NOT_YET_VALID:
			return "JWT_NOT_YET_VALID";
		case JWT_BAD_AUDIENCE:
			return "JWT_BAD_AUDIENCE";
		case JWT_BAD_ISSUER:
			return "JWT_BAD_ISSUER";
		case JWT_NO_ROLE:
			return "JWT_NO_ROLE";
		case JWT_NO_EXP:
			return "JWT_NO_EXP";
		case JWT_BAD_KEY:
			return "JWT_BAD_KEY";
		case JWT_INTERNAL:
			return "JWT_INTERNAL";
	}
	return "JWT_UNKNOWN";
}

/* ---------------------------------------------------------------- */
/* base64url                                                        */
/* ---------------------------------------------------------------- */

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict, canonical base64url without padding: in[0..len) into out[0..cap).
 * Returns the decoded length, or -1.
 */
static long
b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	size_t		i,
				o = 0;
	uint32_t	acc = 0;
	int			bits = 0;

	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++)
	{
		int			v = b64url_value((unsigned char) in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* unused trailing bits must be zero: one encoding per byte string */
	if (acc != 0)
		return -1;
	return (long) o;
}

/* Decode a JSON string value that holds base64url; -1 if not. */
long
jwt_b64url_decode_json(const JsonValue *v, unsigned char *out, size_t cap)
{
	if (v == NULL || v->kind != JSON_STRING)
		return -1;
	return b64url_decode(v->u.str, v->len, out, cap);
}

/* ---------------------------------------------------------------- */
/* JSON helpers                                                     */
/* ---------------------------------------------------------------- */

/* Does the object have two members with the same key? */
bool
jwt_json_has_duplicate_keys(const JsonValue *obj)
{
	uint32_t	i,
				j;

	for (i = 0; i < obj->len; i++)
	{
		const JsonValue *a = json_member_key(obj, i);

		for (j = i + 1; j < obj->len; j++)
		{
			const JsonValue *b = json_member_key(obj, j);

			if (a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0)
				return true;
		}
	}
	return false;
}

/* Is v a string equal to s[0..slen)? */
static bool
json_string_eq(const JsonValue *v, const char *s, size_t slen)
{
	return v != NULL && v->kind == JSON_STRING && v->len == slen &&
		memcmp(v->u.str, s, slen) == 0;
}

/* A string value fit for a kid (no NUL, not too long) copied into buf. */
bool
jwt_copy_kid(const JsonValue *v, char *buf)
{
	if (v == NULL || v->kind != JSON_STRING || v->len > JWT_KID_MAX ||
		memchr(v->u.str, '\0', v->len) != NULL)
		return false;
	memcpy(buf, v->u.str, v->len);
	buf[v->len] = '\0';
	return true;
}

/* ---------------------------------------------------------------- */
/* Signatures                                                       */
/* ---------------------------------------------------------------- */

static bool
verify_hmac(const JwtKey *k, const unsigned char *input, size_t inlen,
			const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	bool		ok;

	if (HMAC(EVP_sha256(), k->secret, (int) k->secret_len, input, inlen,
			 mac, &maclen) == NULL || maclen != 32)
		return false;
	/* siglen is not secret; the bytes are compared in constant time */
	ok = siglen == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

/* JOSE r||s (64 bytes) to a DER ECDSA-Sig-Value; length, or -1. */
static int
es256_to_der(const unsigned char *sig, unsigned char *der, size_t cap)
{
	ECDSA_SIG  *es = ECDSA_SIG_new();
	BIGNUM	   *r = BN_bin2bn(sig, 32, NULL);
	BIGNUM	   *s = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *p = der;
	int			len = -1;

	if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s))
	{
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	/* es owns r and s now */
	if (i2d_ECDSA_SIG(es, NULL) <= (int) cap)
		len = i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	return len;
}

static bool
verify_pkey(const JwtKey *k, const unsigned char *input, size_t inlen,
			const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char der[80];
	int			derlen;
	bool		ok = false;

	if (k->type == JWT_KEY_EC_P256)
	{
		if (siglen != 64)
			return false;
		derlen = es256_to_der(sig, der, sizeof(der));
		if (derlen <= 0)
			return false;
		sig = der;
		siglen = (size_t) derlen;
	}
	else if (siglen != (size_t) EVP_PKEY_get_size(k->pkey))
		return false;
	md = EVP_MD_CTX_new();
	if (md == NULL)
		return false;
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, k->pkey) == 1 &&
		(k->type != JWT_KEY_RSA ||
		 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0))
		ok = EVP_DigestVerify(md, sig, siglen, input, inlen) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* ---------------------------------------------------------------- */
/* Verification                                                     */
/* ---------------------------------------------------------------- */

static JwtStatus
fail(JwtResult *res, JwtStatus status, const char *message)
{
	res->status = status;
	res->message = message;
	res->role[0] = '\0';
	res->exp = 0;
	res->key_index = -1;
	return status;
}

/*
 * A NumericDate claim: absent (*present = false), or a finite JSON number
 * into *out.  False if present and not a usable number.
 */
static bool
numeric_date(const JsonValue *claims, const char *name, bool *present,
			 double *out)
{
	const JsonValue *v = json_object_get_cstr(claims, name);

	*present = v != NULL;
	if (v == NULL)
		return true;
	if (v->kind != JSON_NUMBER || !isfinite(v->num) ||
		v->num > 1e15 || v->num < -1e15)
		return false;
	*out = v->num;
	return true;
}

static bool
audience_matches(const JsonValue *aud, const char *want)
{
	size_t		wlen = strlen(want);
	uint32_t	i;

	if (aud == NULL)
		return false;
	if (aud->kind == JSON_STRING)
		return json_string_eq(aud, want, wlen);
	if (aud->kind != JSON_ARRAY)
		return false;
	for (i = 0; i < aud->len; i++)
		if (json_string_eq(json_array_get(aud, i), want, wlen))
			return true;
	return false;
}

static JwtStatus
check_claims(const JwtOptions *opt, const JsonValue *claims, JwtResult *res)
{
	const char *role_name = opt->role_claim ? opt->role_claim : "role";
	const JsonValue *role;
	const JsonValue *iss;
	double		exp = 0,
				nbf = 0,
				now = (double) opt->now,
				leeway = opt->leeway > 0 ? (double) opt->leeway : 0;
	bool		has_exp,
				has_nbf;

	if (claims == NULL || claims->kind != JSON_OBJECT)
		return fail(res, JWT_MALFORMED, "claims are not a JSON object");
	if (jwt_json_has_duplicate_keys(claims))
		return fail(res, JWT_MALFORMED, "claims have a duplicate key");
	if (!numeric_date(claims, "exp", &has_exp, &exp) ||
		!numeric_date(claims, "nbf", &has_nbf, &nbf))
		return fail(res, JWT_MALFORMED, "exp or nbf is not a number");
	if (!has_exp && !opt->exp_optional)
		return fail(res, JWT_NO_EXP, "token has no exp claim");
	if (has_exp && now >= exp + leeway)
		return fail(res, JWT_EXPIRED, "token has expired");
	if (has_nbf && now + leeway < nbf)
		return fail(res, JWT_NOT_YET_VALID, "token is not valid yet");
	if (opt->issuer)
	{
		iss = json_object_get_cstr(claims, "iss");
		if (!json_string_eq(iss, opt->issuer, strlen(opt->issuer)))
			return fail(res, JWT_BAD_ISSUER, "issuer does not match");
	}
	if (opt->audience &&
		!audience_matches(json_object_get_cstr(claims, "aud"), opt->audience))
		return fail(res, JWT_BAD_AUDIENCE, "audience does not match");
	role = json_object_get_cstr(claims, role_name);
	if (role == NULL || role->kind != JSON_STRING || role->len == 0 ||
		role->len > JWT_ROLE_MAX || memchr(role->u.str, '\0', role->len))
		return fail(res, JWT_NO_ROLE,
					"role claim is absent, not a string, empty or too long");
	memcpy(res->role, role->u.str, role->len);
	res->role[role->len] = '\0';
	res->exp = has_exp ? (int64_t) floor(exp) : 0;
	return JWT_OK;
}

/* Map the header's alg to its bit and key type; false if unknown. */
static bool
parse_alg(const JsonValue *alg, unsigned *bit, JwtKeyType *type)
{
	if (json_string_is(alg, "HS256"))
	{
		*bit = JWT_ALG_HS256;
		*type = JWT_KEY_HMAC;
	}
	else if (json_string_is(alg, "RS256"))
	{
		*bit = JWT_ALG_RS256;
		*type = JWT_KEY_RSA;
	}
	else if (json_string_is(alg, "ES256"))
	{
		*bit = JWT_ALG_ES256;
		*type = JWT_KEY_EC_P256;
	}
	else
		return false;
	return true;
}

/*
 * Try the candidate keys of type on the signature; the index of the key
 * that verifies, -1 if none, -2 if the set has no key of the type.
 */
static int
find_verifying_key(const JwtKeySet *ks, JwtKeyType type, const char *kid,
				   const unsigned char *input, size_t inlen,
				   const unsigned char *sig, size_t siglen)
{
	int			i;
	int			ntype = 0;
	bool		kid_known = false;

	for (i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].type == type)
		{
			ntype++;
			if (kid && ks->keys[i].has_kid && strcmp(ks->keys[i].kid, kid) == 0)
				kid_known = true;
		}
	if (ntype == 0)
		return -2;
	for (i = 0; i < ks->nkeys; i++)
	{
		const JwtKey *k = &ks->keys[i];
		bool		ok;

		if (k->type != type)
			continue;
		if (kid_known && !(k->has_kid && strcmp(k->kid, kid) == 0))
			continue;
		if (type == JWT_KEY_HMAC)
			ok = verify_hmac(k, input, inlen, sig, siglen);
		else
			ok = verify_pkey(k, input, inlen, sig, siglen);
		if (ok)
			return i;
	}
	return -1;
}

JwtStatus
jwt_verify(const JwtKeySet *ks, const JwtOptions *opt, const char *token,
		   size_t len, JwtResult *res)
{
	const char *dot1,
			   *dot2;
	size_t		hlen,
				plen,
				slen;
	long		hdec,
				pdec,
				sdec;
	Scratch    *s;
	const JsonValue *header,
			   *claims;
	const JsonValue *kidv;
	char		kid[JWT_KID_MAX + 1];
	unsigned	bit;
	JwtKeyType	type;
	int			key;
	JwtStatus	st;

	fail(res, JWT_MALFORMED, "");
	if (ks == NULL || opt == NULL || token == NULL)
		return fail(res, JWT_INTERNAL, "no key set, options or token");
	if (len == 0 || len > JWT_MAX_TOKEN)
		return fail(res, JWT_MALFORMED, "token is empty or too long");

	/* exactly three parts */
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token)) : NULL;
	if (dot2 == NULL ||
		memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL)
		return fail(res, JWT_MALFORMED, "token is not three dot-separated parts");
	hlen = (size_t) (dot1 - token);
	plen = (size_t) (dot2 - dot1 - 1);
	slen = len - (size_t) (dot2 + 1 - token);

	s = malloc(sizeof(Scratch));
	if (s == NULL)
		return fail(res, JWT_INTERNAL, "out of memory");
	if (!json_doc_init(&s->doc, s->arena, sizeof(s->arena), PART_MAX,
					   TOKEN_JSON_NODES, TOKEN_JSON_DEPTH))
	{
		free(s);
		return fail(res, JWT_INTERNAL, "JSON arena too small");
	}
	hdec = b64url_decode(token, hlen, s->header, PART_MAX);
	pdec = b64url_decode(dot1 + 1, plen, s->claims, PART_MAX);
	sdec = b64url_decode(dot2 + 1, slen, s->sig, PART_MAX);
	if (hdec <= 0 || pdec <= 0 || sdec <= 0)
	{
		st = fail(res, JWT_MALFORMED, "a part is empty or not canonical unpadded base64url");
		goto done;
	}

	/* the header */
	header = json_parse(&s->doc, (const char *) s->header, (size_t) hdec, NULL);
	if (header == NULL || header->kind != JSON_OBJECT)
	{
		st = fail(res, JWT_MALFORMED, "header is not a JSON object");
		goto done;
	}
	if (jwt_json_has_duplicate_keys(header))
	{
		st = fail(res, JWT_MALFORMED, "header has a duplicate key");
		goto done;
	}
	if (json_object_get_cstr(header, "crit") != NULL)
	{
		st = fail(res, JWT_MALFORMED, "header has crit extensions");
		goto done;
	}
	if (!parse_alg(json_object_get_cstr(header, "alg"), &bit, &type) ||
		(opt->algs & bit) == 0)
	{
		st = fail(res, JWT_BAD_ALG, "alg is absent or not allowed");
		goto done;
	}
	kidv = json_object_get_cstr(header, "kid");
	if (kidv != NULL && !jwt_copy_kid(kidv, kid))
	{
		st = fail(res, JWT_MALFORMED, "kid is not a usable string");
		goto done;
	}

	/* the signature, over the first two parts as they came */
	key = find_verifying_key(ks, type, kidv ? kid : NULL,
							 (const unsigned char *) token,
							 (size_t) (dot2 - token), s->sig, (size_t) sdec);
	if (key == -2)
	{
		st = fail(res, JWT_BAD_ALG, "no key for the token's alg");
		goto done;
	}
	if (key < 0)
	{
		st = fail(res, JWT_BAD_SIGNATURE, "signature does not verify");
		goto done;
	}

	/* the claims (the header's tree is not used any more) */
	claims = json_parse(&s->doc, (const char *) s->claims, (size_t) pdec, NULL);
	st = check_claims(opt, claims, res);
	if (st == JWT_OK)
	{
		res->status = JWT_OK;
		res->message = "token is valid";
		res->key_index = key;
	}
done:
	free(s);
	return st;
}

size_t
jwt_claims_json(const char *token, size_t len, char *out, size_t cap)
{
	const char *dot1 = token != NULL ? memchr(token, '.', len) : NULL;
	const char *dot2;
	long		n;

	if (dot1 == NULL || len > JWT_MAX_TOKEN)
		return 0;
	dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
	if (dot2 == NULL || cap == 0)
		return 0;
	n = b64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1),
					  (unsigned char *) out, cap - 1);
	if (n <= 0 || memchr(out, '\0', (size_t) n) != NULL)
		return 0;
	out[n] = '\0';
	return (size_t) n;
}
