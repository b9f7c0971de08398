/*-------------------------------------------------------------------------
 *
 * test_jwt_verify.c
 *	  Unit tests for src/auth/jwt_verify.c.
 *
 * RFC 7515 A.1 (HS256) as a fixed vector; RSA and EC keys generated here
 * with OpenSSL sign the other tokens (test/fuzz/jwt_sign.h).  Covers alg
 * "none", algorithm confusion, tampering, exp/nbf with leeway, aud/iss,
 * kid selection and rotation, JWKS loading and malformed tokens.
 *
 *-------------------------------------------------------------------------
 */
#include <openssl/core_names.h>

#include "auth/jwt_verify.h"
#include "unit.h"
#include "../fuzz/jwt_sign.h"

#define NOW		1700000000

/* RFC 7515 appendix A.1 */
static const char rfc_token[] =
"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
"."
"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
"."
"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_jwks[] =
"{\"keys\":[{\"kty\":\"oct\",\"kid\":\"rfc\",\"k\":"
"\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}]}";

static const char secret[] = "0123456789abcdef0123456789abcdef-test-secret";
static const char secret2[] = "another secret of at least thirty-two bytes!";

static char tok[JWT_MAX_TOKEN * 2];

static JwtOptions
opts(unsigned algs)
{
	JwtOptions	o;

	memset(&o, 0, sizeof(o));
	o.algs = algs;
	o.now = NOW;
	o.leeway = 30;
	return o;
}

static JwtStatus
verify(const JwtKeySet *ks, const JwtOptions *o, const char *token, JwtResult *res)
{
	return jwt_verify(ks, o, token, strlen(token), res);
}

/* got is evaluated once */
/* An HS256 token of header and claims signed with secret, verified. */
static JwtStatus
hs(const JwtKeySet *ks, const JwtOptions *o, const char *header,
   const char *claims, JwtResult *res)
{
	jwt_make_hs256(header, claims, secret, strlen(secret), tok);
	return verify(ks, o, tok, res);
}

#define CHECK_STATUS(got, want) \
	do { \
		JwtStatus	got_ = (got); \
		CHECK_MSG(got_ == (want), "%s: got %s, expected %s", #got, \
				  jwt_status_name(got_), jwt_status_name(want)); \
	} while (0)

static void
test_rfc7515(void)
{
	JwtKeySet  *ks = jwt_keyset_create();
	JwtOptions	o = opts(JWT_ALG_HS256);
	JwtResult	r;
	int			added = -1;

	CHECK_STATUS(jwt_keyset_add_jwks(ks, rfc_jwks, strlen(rfc_jwks), &added, NULL), JWT_OK);
	CHECK_EQ_INT(added, 1);
	o.now = 1300819000;
	o.role_claim = "iss";
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_OK);
	CHECK_EQ_STR(r.role, "joe");
	CHECK_EQ_INT(r.exp, 1300819380);
	CHECK_EQ_INT(r.key_index, 0);
	o.issuer = "joe";
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_OK);
	o.issuer = "jo";
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_BAD_ISSUER);
	o.issuer = NULL;
	/* expired: now past exp + leeway; still valid within the leeway */
	o.now = 1300819380 + 29;
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_OK);
	o.now = 1300819380 + 30;
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_EXPIRED);
	o.now = 1300819000;
	/* HS256 not in the allow-list */
	o.algs = JWT_ALG_RS256 | JWT_ALG_ES256;
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_BAD_ALG);
	o.algs = JWT_ALG_HS256;
	/* the default role claim is absent */
	o.role_claim = NULL;
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_NO_ROLE);
	CHECK_EQ_STR(r.role, "");
	/* a boolean is no role */
	o.role_claim = "http://example.com/is_root";
	CHECK_STATUS(verify(ks, &o, rfc_token, &r), JWT_NO_ROLE);
	jwt_keyset_free(ks);
}

static void
test_hs256(void)
{
	JwtKeySet  *ks = jwt_keyset_create();
	JwtOptions	o = opts(JWT_ALG_HS256);
	JwtResult	r;
	const char *msg = NULL;
	size_t		n;

	CHECK_STATUS(jwt_keyset_add_secret(ks, NULL, secret, strlen(secret), NULL), JWT_OK);
	CHECK_STATUS(jwt_keyset_add_secret(ks, NULL, "short", 5, &msg), JWT_BAD_KEY);
	CHECK(msg != NULL);
	CHECK_EQ_INT(jwt_keyset_count(ks), 1);

	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
				   "{\"role\":\"alice\",\"exp\":1700000100}", &r), JWT_OK);
	CHECK_EQ_STR(r.role, "alice");
	CHECK_EQ_STR(r.message, "token is valid");

	/* a wrong secret */
	jwt_make_hs256("{\"alg\":\"HS256\"}", "{\"role\":\"alice\",\"exp\":1700000100}",
				   secret2, strlen(secret2), tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);

	/* tampered payload: signature of one claims set, claims of another */
	{
		char		other[512];
		char	   *d1,
				   *d2,
				   *e1,
				   *e2;

		jwt_make_hs256("{\"alg\":\"HS256\"}", "{\"role\":\"alice\",\"exp\":1700000100}",
					   secret, strlen(secret), tok);
		jwt_make_hs256("{\"alg\":\"HS256\"}", "{\"role\":\"admin\",\"exp\":1700000100}",
					   secret, strlen(secret), other);
		CHECK_STATUS(verify(ks, &o, other, &r), JWT_OK);
		d1 = strchr(tok, '.');
		d2 = strchr(d1 + 1, '.');
		e1 = strchr(other, '.');
		e2 = strchr(e1 + 1, '.');
		/* other's header and claims, tok's signature */
		strcpy(e2, d2);
		CHECK_STATUS(verify(ks, &o, other, &r), JWT_BAD_SIGNATURE);
	}

	/* tampered signature: flip one bit in the last full character */
	n = jwt_make_hs256("{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1700000100}",
					   secret, strlen(secret), tok);
	tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);
	/* signature truncated */
	n = jwt_make_hs256("{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1700000100}",
					   secret, strlen(secret), tok);
	tok[n - 3] = '\0';
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);

	/* exp required by default, optional if told */
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\"}", &r), JWT_NO_EXP);
	o.exp_optional = true;
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.exp, 0);
	o.exp_optional = false;

	/* exp and nbf with leeway */
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1699999980}", &r), JWT_OK);	/* 20 s late, leeway 30 */
	o.leeway = 0;
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_EXPIRED);
	o.leeway = -5;				/* negative: as 0 */
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_EXPIRED);
	o.leeway = 30;
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}",
				   "{\"role\":\"a\",\"exp\":1700000100,\"nbf\":1700000020}", &r), JWT_OK);	/* 20 s early, leeway 30 */
	o.leeway = 10;
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_NOT_YET_VALID);
	o.leeway = 30;
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":\"1700000100\"}", &r), JWT_MALFORMED);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1e400}", &r), JWT_MALFORMED);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1700000100.5}", &r), JWT_OK);

	/* aud: string or array, checked only when configured */
	o.audience = "pgsync";
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1700000100,\"aud\":\"pgsync\"}", &r), JWT_OK);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}",
				   "{\"role\":\"a\",\"exp\":1700000100,\"aud\":[\"x\",\"pgsync\"]}", &r), JWT_OK);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}",
				   "{\"role\":\"a\",\"exp\":1700000100,\"aud\":[\"x\",\"pgsyncx\"]}", &r), JWT_BAD_AUDIENCE);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1700000100}", &r), JWT_BAD_AUDIENCE);
	o.audience = NULL;
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);

	/* iss */
	o.issuer = "https://issuer";
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}",
				   "{\"role\":\"a\",\"exp\":1700000100,\"iss\":\"https://issuer\"}", &r), JWT_OK);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1700000100,\"iss\":7}", &r), JWT_BAD_ISSUER);
	o.issuer = NULL;

	/* role: custom claim name; empty, too long, with NUL */
	o.role_claim = "pg_role";
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"pg_role\":\"bob\",\"role\":\"a\",\"exp\":1700000100}", &r), JWT_OK);
	CHECK_EQ_STR(r.role, "bob");
	o.role_claim = NULL;
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"\",\"exp\":1700000100}", &r), JWT_NO_ROLE);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\\u0000b\",\"exp\":1700000100}", &r), JWT_NO_ROLE);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}",
				   "{\"role\":\"0123456789012345678901234567890123456789012345678901234567890123\",\"exp\":1700000100}", &r), JWT_NO_ROLE);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}",
				   "{\"role\":\"012345678901234567890123456789012345678901234567890123456789012\",\"exp\":1700000100}", &r), JWT_OK);
	CHECK_EQ_INT(strlen(r.role), 63);

	/* duplicate keys are refused, in the claims and in the header */
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"role\":\"postgres\",\"exp\":1700000100}", &r), JWT_MALFORMED);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"role\":\"a\",\"exp\":1700000100}", &r), JWT_MALFORMED);
	/* crit is refused; an embedded jwk is ignored */
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{\"role\":\"a\",\"exp\":1700000100}", &r), JWT_MALFORMED);
	/* claims not an object */
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "[1,2]", &r), JWT_MALFORMED);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",", &r), JWT_MALFORMED);
	jwt_keyset_free(ks);
}

static void
test_alg_none_and_names(void)
{
	JwtKeySet  *ks = jwt_keyset_create();
	JwtOptions	o = opts(JWT_ALG_HS256 | JWT_ALG_RS256 | JWT_ALG_ES256);
	JwtResult	r;
	size_t		n;
	static const char *const algs[] = {"none", "None", "NONE", "hs256", "HS512", "RS384", "PS256", "EdDSA", ""};
	unsigned	i;

	jwt_keyset_add_secret(ks, NULL, secret, strlen(secret), NULL);
	/* alg none, with an empty signature or with an HMAC */
	n = jwt_signing_input("{\"alg\":\"none\"}", 14, "{\"role\":\"a\",\"exp\":1700000100}", 30, tok);
	tok[n++] = '.';
	tok[n] = '\0';
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_MALFORMED);	/* empty signature part */
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
	{
		char		h[64];

		snprintf(h, sizeof(h), "{\"alg\":\"%s\"}", algs[i]);
		jwt_make_hs256(h, "{\"role\":\"a\",\"exp\":1700000100}", secret, strlen(secret), tok);
		CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_ALG);
	}
	CHECK_STATUS(hs(ks, &o, "{\"typ\":\"JWT\"}", "{\"role\":\"a\",\"exp\":1700000100}", &r), JWT_BAD_ALG);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":256}", "{\"role\":\"a\",\"exp\":1700000100}", &r), JWT_BAD_ALG);
	/* an empty allow-list refuses everything */
	o.algs = 0;
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"exp\":1700000100}", &r), JWT_BAD_ALG);
	jwt_keyset_free(ks);
}

static void
test_malformed(void)
{
	JwtKeySet  *ks = jwt_keyset_create();
	JwtOptions	o = opts(JWT_ALG_HS256);
	JwtResult	r;
	static const char *const bad[] = {
		"", ".", "..", "...", "a.b", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9.e30",
		"eyJhbGciOiJIUzI1NiJ9..AAAA", ".e30.AAAA", "eyJhbGciOiJIUzI1NiJ9.e30.",
		"eyJhbGciOiJIUzI1NiJ9=.e30.AAAA",	/* padding */
		"eyJhbGciOiJIUzI1NiJ9.e30=.AAAA",
		"eyJhbGciOiJIUzI1NiJ9.e30.AAA=",
		"eyJhbGciOiJIUzI1NiJ9.e3 0.AAAA",	/* space */
		"eyJhbGciOiJIUzI1NiJ9.e30.AA+A",	/* base64, not base64url */
		"eyJhbGciOiJIUzI1NiJ9.e30.AA/A",
		"eyJhbGciOiJIUzI1NiJ9.e31.AAAA",	/* non-canonical trailing bits */
		"eyJhbGciOiJIUzI1NiJ9.e30.A",	/* length % 4 == 1 */
		"bm90IGpzb24.e30.AAAA",	/* header "not json" */
		"WyJIUzI1NiJd.e30.AAAA",	/* header ["HS256"] */
	};
	unsigned	i;
	char	   *big;

	jwt_keyset_add_secret(ks, NULL, secret, strlen(secret), NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		JwtStatus	st = verify(ks, &o, bad[i], &r);

		CHECK_MSG(st == JWT_MALFORMED, "\"%s\": got %s", bad[i], jwt_status_name(st));
		CHECK(r.message != NULL && r.message[0] != '\0');
	}
	/* NUL inside */
	CHECK_STATUS(jwt_verify(ks, &o, "eyJhbGciOiJIUzI1NiJ9.e\0.AAAA", 27, &r), JWT_MALFORMED);
	/* too long: 8193 bytes */
	big = malloc(JWT_MAX_TOKEN + 2);
	memset(big, 'A', JWT_MAX_TOKEN + 1);
	big[100] = '.';
	big[200] = '.';
	big[JWT_MAX_TOKEN + 1] = '\0';
	CHECK_STATUS(verify(ks, &o, big, &r), JWT_MALFORMED);
	free(big);
	/* NULL arguments */
	CHECK_STATUS(jwt_verify(NULL, &o, "a.b.c", 5, &r), JWT_INTERNAL);
	CHECK_STATUS(jwt_verify(ks, NULL, "a.b.c", 5, &r), JWT_INTERNAL);
	CHECK_EQ_STR(jwt_status_name(JWT_BAD_SIGNATURE), "JWT_BAD_SIGNATURE");
	jwt_keyset_free(ks);
}

static void
test_pkeys(EVP_PKEY *rsa, EVP_PKEY *ec, EVP_PKEY *rsa2, EVP_PKEY *ec384, EVP_PKEY *rsa1024)
{
	JwtKeySet  *ks = jwt_keyset_create();
	JwtOptions	o = opts(JWT_ALG_HS256 | JWT_ALG_RS256 | JWT_ALG_ES256);
	JwtResult	r;
	size_t		rsa_len,
				ec_len,
				len;
	char	   *rsa_pem = jwt_pubkey_pem(rsa, &rsa_len);
	char	   *ec_pem = jwt_pubkey_pem(ec, &ec_len);
	char	   *pem;
	const char *msg = NULL;
	const char *claims = "{\"role\":\"carol\",\"exp\":1700000100}";
	size_t		n;

	CHECK_STATUS(jwt_keyset_add_pem(ks, "rsa-1", rsa_pem, rsa_len, NULL), JWT_OK);
	CHECK_STATUS(jwt_keyset_add_pem(ks, "ec-1", ec_pem, ec_len, NULL), JWT_OK);
	/* refused keys */
	pem = jwt_pubkey_pem(ec384, &len);
	CHECK_STATUS(jwt_keyset_add_pem(ks, NULL, pem, len, &msg), JWT_BAD_KEY);
	free(pem);
	pem = jwt_pubkey_pem(rsa1024, &len);
	CHECK_STATUS(jwt_keyset_add_pem(ks, NULL, pem, len, &msg), JWT_BAD_KEY);
	free(pem);
	CHECK_STATUS(jwt_keyset_add_pem(ks, NULL, "garbage", 7, &msg), JWT_BAD_KEY);
	/* a PEM key is refused as an HMAC secret */
	CHECK_STATUS(jwt_keyset_add_secret(ks, NULL, rsa_pem, rsa_len, &msg), JWT_BAD_KEY);
	{
		char	   *ws = malloc(rsa_len + 3);

		memcpy(ws, " \n\t", 3);
		memcpy(ws + 3, rsa_pem, rsa_len);
		CHECK_STATUS(jwt_keyset_add_secret(ks, NULL, ws, rsa_len + 3, &msg), JWT_BAD_KEY);
		free(ws);
	}
	CHECK_EQ_INT(jwt_keyset_count(ks), 2);

	/* RS256 and ES256 */
	CHECK(jwt_make_pkey("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", claims, rsa, tok) > 0);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_STR(r.role, "carol");
	CHECK_EQ_INT(r.key_index, 0);
	CHECK(jwt_make_pkey("{\"alg\":\"ES256\"}", claims, ec, tok) > 0);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 1);
	/* tampered ES256 signature; a DER signature instead of r||s */
	n = jwt_make_pkey("{\"alg\":\"ES256\"}", claims, ec, tok);
	tok[n - 10] = tok[n - 10] == 'A' ? 'B' : 'A';
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);
	{
		unsigned char sig[128];
		size_t		siglen = sizeof(sig);
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		n = jwt_signing_input("{\"alg\":\"ES256\"}", 15, claims, strlen(claims), tok);
		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec);
		EVP_DigestSign(md, sig, &siglen, (unsigned char *) tok, n);
		EVP_MD_CTX_free(md);
		jwt_append_sig(tok, n, sig, siglen);
		CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);
	}
	/* an RS256 token signed by another RSA key */
	jwt_make_pkey("{\"alg\":\"RS256\"}", claims, rsa2, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);
	/* an ES256 header on an RSA signature and vice versa */
	n = jwt_make_pkey("{\"alg\":\"ES256\"}", claims, rsa, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);
	jwt_make_pkey("{\"alg\":\"RS256\"}", claims, ec, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);
	/* RS256 not allowed */
	o.algs = JWT_ALG_HS256 | JWT_ALG_ES256;
	jwt_make_pkey("{\"alg\":\"RS256\"}", claims, rsa, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_ALG);
	o.algs = JWT_ALG_HS256 | JWT_ALG_RS256 | JWT_ALG_ES256;

	/*
	 * Algorithm confusion: HS256 with the RSA public key's PEM (or its
	 * DER-less text) as the HMAC secret.  There is no HMAC key: refused
	 * before any HMAC is computed.
	 */
	jwt_make_hs256("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", claims, rsa_pem, rsa_len, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_ALG);
	jwt_make_hs256("{\"alg\":\"HS256\"}", claims, ec_pem, ec_len, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_ALG);
	/* even with an HMAC key in the set, it does not verify */
	CHECK_STATUS(jwt_keyset_add_secret(ks, "hmac-1", secret, strlen(secret), NULL), JWT_OK);
	jwt_make_hs256("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", claims, rsa_pem, rsa_len, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);

	free(rsa_pem);
	free(ec_pem);
	jwt_keyset_free(ks);
}

static void
test_kid_rotation(EVP_PKEY *rsa, EVP_PKEY *rsa2)
{
	JwtKeySet  *ks = jwt_keyset_create();
	JwtOptions	o = opts(JWT_ALG_HS256 | JWT_ALG_RS256);
	JwtResult	r;
	size_t		l1,
				l2;
	char	   *p1 = jwt_pubkey_pem(rsa, &l1);
	char	   *p2 = jwt_pubkey_pem(rsa2, &l2);
	const char *claims = "{\"role\":\"dave\",\"exp\":1700000100}";

	CHECK_STATUS(jwt_keyset_add_pem(ks, "old", p1, l1, NULL), JWT_OK);
	CHECK_STATUS(jwt_keyset_add_pem(ks, "new", p2, l2, NULL), JWT_OK);
	CHECK_STATUS(jwt_keyset_add_secret(ks, "h1", secret, strlen(secret), NULL), JWT_OK);
	CHECK_STATUS(jwt_keyset_add_secret(ks, NULL, secret2, strlen(secret2), NULL), JWT_OK);

	/* the kid picks the key */
	jwt_make_pkey("{\"alg\":\"RS256\",\"kid\":\"new\"}", claims, rsa2, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 1);
	jwt_make_pkey("{\"alg\":\"RS256\",\"kid\":\"old\"}", claims, rsa, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 0);
	/* a known kid is binding: signed by "new" but claiming "old" */
	jwt_make_pkey("{\"alg\":\"RS256\",\"kid\":\"old\"}", claims, rsa2, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_BAD_SIGNATURE);
	/* no kid, or an unknown kid: every key of the type is tried */
	jwt_make_pkey("{\"alg\":\"RS256\"}", claims, rsa2, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 1);
	jwt_make_pkey("{\"alg\":\"RS256\",\"kid\":\"unknown\"}", claims, rsa, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 0);
	jwt_make_hs256("{\"alg\":\"HS256\"}", claims, secret2, strlen(secret2), tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 3);
	CHECK_STATUS(hs(ks, &o, "{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 2);
	/* the kid of a key of another type does not pin */
	jwt_make_hs256("{\"alg\":\"HS256\",\"kid\":\"old\"}", claims, secret2, strlen(secret2), tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 3);
	/* a kid that is not a string */
	jwt_make_hs256("{\"alg\":\"HS256\",\"kid\":1}", claims, secret2, strlen(secret2), tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_MALFORMED);
	/* the set is bounded */
	while (jwt_keyset_count(ks) < JWT_MAX_KEYS)
		CHECK_STATUS(jwt_keyset_add_secret(ks, NULL, secret, strlen(secret), NULL), JWT_OK);
	CHECK_STATUS(jwt_keyset_add_secret(ks, NULL, secret, strlen(secret), NULL), JWT_BAD_KEY);
	free(p1);
	free(p2);
	jwt_keyset_free(ks);
}

/* base64url of a BIGNUM parameter, padded to pad bytes (0: minimal) */
static void
bn_param_b64(EVP_PKEY *pkey, const char *name, int pad, char *out)
{
	BIGNUM	   *bn = NULL;
	unsigned char buf[1024];
	int			n;

	EVP_PKEY_get_bn_param(pkey, name, &bn);
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	jwt_b64url(buf, (size_t) n, out);
	BN_free(bn);
}

static void
test_jwks(EVP_PKEY *rsa, EVP_PKEY *ec)
{
	JwtKeySet  *ks = jwt_keyset_create();
	JwtOptions	o = opts(JWT_ALG_RS256 | JWT_ALG_ES256 | JWT_ALG_HS256);
	JwtResult	r;
	char		n[800],
				e[16],
				x[64],
				y[64];
	char	   *jwks = malloc(8192);
	const char *msg = NULL;
	int			added = -1;
	const char *claims = "{\"role\":\"erin\",\"exp\":1700000100}";

	bn_param_b64(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n);
	bn_param_b64(rsa, OSSL_PKEY_PARAM_RSA_E, 0, e);
	bn_param_b64(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, x);
	bn_param_b64(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y);
	snprintf(jwks, 8192,
			 "{\"keys\":["
			 "{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"},"
			 "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
			 "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"},"
			 "{\"kty\":\"RSA\",\"kid\":\"ps\",\"alg\":\"PS256\",\"n\":\"%s\",\"e\":\"%s\"},"
			 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
			 "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}"
			 "],\"other\":1}",
			 n, e, x, y, n, e, n, e);
	CHECK_STATUS(jwt_keyset_add_jwks(ks, jwks, strlen(jwks), &added, &msg), JWT_OK);
	CHECK_EQ_INT(added, 2);
	CHECK_EQ_INT(jwt_keyset_count(ks), 2);
	jwt_make_pkey("{\"alg\":\"RS256\",\"kid\":\"r1\"}", claims, rsa, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 0);
	jwt_make_pkey("{\"alg\":\"ES256\",\"kid\":\"e1\"}", claims, ec, tok);
	CHECK_STATUS(verify(ks, &o, tok, &r), JWT_OK);
	CHECK_EQ_INT(r.key_index, 1);

	/* malformed documents are refused whole */
	{
		static const char *const bad[] = {
			"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[1]}", "{\"keys\":[{}]}",
			"{\"keys\":[],\"keys\":[]}",
			"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",	/* tiny modulus */
			"{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
			"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
			"{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}",	/* short secret */
			"{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ=\"}]}",
			"{\"keys\":[{\"kty\":\"oct\",\"kid\":5,\"k\":\"c2hvcnQ\"}]}",
		};
		unsigned	i;
		char		ec_bad[300];

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			JwtStatus	st = jwt_keyset_add_jwks(ks, bad[i], strlen(bad[i]), &added, &msg);

			CHECK_MSG(st == JWT_BAD_KEY, "%s: got %s", bad[i], jwt_status_name(st));
			CHECK_EQ_INT(added, 0);
		}
		/* a point off the curve: y changed */
		snprintf(ec_bad, sizeof(ec_bad),
				 "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}", x, x);
		CHECK_STATUS(jwt_keyset_add_jwks(ks, ec_bad, strlen(ec_bad), &added, &msg), JWT_BAD_KEY);
		/* a good key then a bad one: nothing added */
		snprintf(jwks, 8192,
				 "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"},{\"kty\":\"RSA\"}]}", n, e);
		CHECK_STATUS(jwt_keyset_add_jwks(ks, jwks, strlen(jwks), &added, &msg), JWT_BAD_KEY);
		CHECK_EQ_INT(jwt_keyset_count(ks), 2);
	}
	free(jwks);
	jwt_keyset_free(ks);
}

/* jwt_claims_json: the payload of the RFC 7515 A.1 token, and refusals */
static void
test_claims_json(void)
{
	static const char tok[] =
		"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
		"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	char		out[JWT_MAX_CLAIMS];
	size_t		n = jwt_claims_json(tok, strlen(tok), out, sizeof(out));

	CHECK(n == 70);
	CHECK(strcmp(out, "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}") == 0);
	CHECK(jwt_claims_json(tok, strlen(tok), out, 10) == 0);	/* too small */
	CHECK(jwt_claims_json("abc", 3, out, sizeof(out)) == 0);
	CHECK(jwt_claims_json("a.b", 3, out, sizeof(out)) == 0);
	CHECK(jwt_claims_json("a..c", 4, out, sizeof(out)) == 0);
	CHECK(jwt_claims_json("a.AA.c", 6, out, sizeof(out)) == 0);	/* a NUL byte */
	CHECK(jwt_claims_json(NULL, 0, out, sizeof(out)) == 0);
}

int
main(void)
{
	EVP_PKEY   *rsa = jwt_gen_rsa(2048);
	EVP_PKEY   *rsa2 = jwt_gen_rsa(2048);
	EVP_PKEY   *rsa1024 = jwt_gen_rsa(1024);
	EVP_PKEY   *ec = jwt_gen_ec("P-256");
	EVP_PKEY   *ec384 = jwt_gen_ec("P-384");

	CHECK(rsa && rsa2 && rsa1024 && ec && ec384);
	test_rfc7515();
	test_hs256();
	test_alg_none_and_names();
	test_malformed();
	test_pkeys(rsa, ec, rsa2, ec384, rsa1024);
	test_kid_rotation(rsa, rsa2);
	test_jwks(rsa, ec);
	test_claims_json();
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec384);
	return unit_summary();
}
