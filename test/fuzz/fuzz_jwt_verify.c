/*-------------------------------------------------------------------------
 *
 * fuzz_jwt_verify.c
 *	  libFuzzer target for src/auth/jwt_verify.c.
 *
 * The first byte picks a mode, the second the options:
 *	0: the rest is a token, verified against a key set of an HMAC secret,
 *	   an RSA and an EC P-256 key (with kids);
 *	1: the rest is a JWKS document loaded into an empty key set;
 *	2: the rest is "header\nclaims" (two JSON texts), made into an HS256
 *	   token with the set's secret and verified: this reaches the claim
 *	   checks, which only run after a good signature.
 * Whatever the input, the status is a known code with a message, and on
 * JWT_OK the role is a non-empty NUL-terminated string of at most
 * JWT_ROLE_MAX bytes.  ASan catches any overread or leak.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt_verify.h"
#include "jwt_sign.h"

static JwtKeySet *keys;
static const char secret[] = "fuzzing secret, at least thirty-two bytes long";
static char token[JWT_MAX_TOKEN * 2 + 64];
static char header[JWT_MAX_TOKEN];
static char claims[JWT_MAX_TOKEN];

static void
setup(void)
{
	EVP_PKEY   *rsa = jwt_gen_rsa(2048);
	EVP_PKEY   *ec = jwt_gen_ec("P-256");
	size_t		len;
	char	   *pem;

	keys = jwt_keyset_create();
	if (keys == NULL || rsa == NULL || ec == NULL ||
		jwt_keyset_add_secret(keys, "h", secret, strlen(secret), NULL) != JWT_OK)
		abort();
	pem = jwt_pubkey_pem(rsa, &len);
	if (pem == NULL || jwt_keyset_add_pem(keys, "r", pem, len, NULL) != JWT_OK)
		abort();
	free(pem);
	pem = jwt_pubkey_pem(ec, &len);
	if (pem == NULL || jwt_keyset_add_pem(keys, "e", pem, len, NULL) != JWT_OK)
		abort();
	free(pem);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static void
check(JwtStatus st, const JwtResult *res)
{
	if (st != res->status || st < JWT_OK || st > JWT_INTERNAL ||
		res->message == NULL || st == JWT_INTERNAL)
		abort();
	if (st == JWT_OK)
	{
		size_t		n = strnlen(res->role, sizeof(res->role));

		if (n == 0 || n > JWT_ROLE_MAX || res->key_index < 0 ||
			res->key_index >= jwt_keyset_count(keys))
			abort();
	}
	else if (res->role[0] != '\0')
		abort();
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	JwtOptions	opt;
	JwtResult	res;
	JwtStatus	st;
	const char *text;
	const char *nl;
	size_t		len;

	if (keys == NULL)
		setup();
	if (size < 2)
		return 0;
	memset(&opt, 0, sizeof(opt));
	opt.algs = data[1] & 7;
	opt.now = 1700000000;
	opt.leeway = (data[1] >> 3) & 1 ? 60 : 0;
	opt.exp_optional = (data[1] >> 4) & 1;
	opt.audience = (data[1] >> 5) & 1 ? "pgsync" : NULL;
	opt.issuer = (data[1] >> 6) & 1 ? "iss" : NULL;
	opt.role_claim = (data[1] >> 7) & 1 ? "r" : NULL;
	text = (const char *) data + 2;
	len = size - 2;

	switch (data[0] % 3)
	{
		case 0:
			st = jwt_verify(keys, &opt, text, len, &res);
			check(st, &res);
			break;
		case 1:
			{
				JwtKeySet  *ks = jwt_keyset_create();
				int			added = -1;
				const char *msg = NULL;

				st = jwt_keyset_add_jwks(ks, text, len, &added, &msg);
				if ((st == JWT_OK) != (msg == NULL) ||
					added != jwt_keyset_count(ks) ||
					(st != JWT_OK && added != 0))
					abort();
				jwt_keyset_free(ks);
			}
			break;
		case 2:
			nl = memchr(text, '\n', len);
			if (nl == NULL || (size_t) (nl - text) >= sizeof(header) ||
				len - (size_t) (nl - text) - 1 >= sizeof(claims))
				return 0;
			memcpy(header, text, (size_t) (nl - text));
			header[nl - text] = '\0';
			memcpy(claims, nl + 1, len - (size_t) (nl - text) - 1);
			claims[len - (size_t) (nl - text) - 1] = '\0';
			/* NULs inside are cut off by strlen() in the signer */
			jwt_make_hs256(header, claims, secret, strlen(secret), token);
			opt.algs |= JWT_ALG_HS256;
			st = jwt_verify(keys, &opt, token, strlen(token), &res);
			check(st, &res);
			break;
	}
	return 0;
}
