/*-------------------------------------------------------------------------
 *
 * jwt_sign.h
 *	  Token-making helpers for the jwt_verify unit test and fuzz target.
 *
 * The module only verifies; tests need to sign.  Base64url encoding,
 * HS256/RS256/ES256 signing with OpenSSL 3 EVP (ES256 converted from DER
 * to JOSE r||s), key generation and public-key PEM export.  Include in one
 * translation unit only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_JWT_SIGN_H
#define PGSYNC_JWT_SIGN_H

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

/* base64url of in[0..len) without padding, appended at out; returns length. */
static inline size_t
jwt_b64url(const void *in, size_t len, char *out)
{
	static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t		i,
				o = 0;

	for (i = 0; i + 2 < len; i += 3)
	{
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = alphabet[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = alphabet[p[i + 2] & 63];
	}
	if (len - i == 1)
	{
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[(p[i] & 3) << 4];
	}
	else if (len - i == 2)
	{
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = alphabet[(p[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

/* "b64(header).b64(claims)" into out (NUL-terminated); returns length. */
static inline size_t
jwt_signing_input(const char *header, size_t hlen, const char *claims,
				  size_t clen, char *out)
{
	size_t		o = jwt_b64url(header, hlen, out);

	out[o++] = '.';
	o += jwt_b64url(claims, clen, out + o);
	return o;
}

/* Append ".b64(sig)" to out[0..olen); returns the new length. */
static inline size_t
jwt_append_sig(char *out, size_t olen, const unsigned char *sig, size_t siglen)
{
	out[olen++] = '.';
	return olen + jwt_b64url(sig, siglen, out + olen);
}

/* An HS256 token of header and claims (JSON texts) into out. */
static inline size_t
jwt_make_hs256(const char *header, const char *claims, const void *key,
			   size_t keylen, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t		o = jwt_signing_input(header, strlen(header), claims,
									  strlen(claims), out);

	HMAC(EVP_sha256(), key, (int) keylen, (unsigned char *) out, o, mac, &maclen);
	return jwt_append_sig(out, o, mac, maclen);
}

/* An RS256 or ES256 token (by the key's type) into out; 0 on failure. */
static inline size_t
jwt_make_pkey(const char *header, const char *claims, EVP_PKEY *pkey, char *out)
{
	unsigned char sig[1024];
	unsigned char raw[64];
	size_t		siglen = sizeof(sig);
	size_t		o = jwt_signing_input(header, strlen(header), claims,
									  strlen(claims), out);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int			ok;

	ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		EVP_DigestSign(md, sig, &siglen, (unsigned char *) out, o) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return 0;
	if (EVP_PKEY_is_a(pkey, "EC"))
	{
		const unsigned char *p = sig;
		ECDSA_SIG  *es = d2i_ECDSA_SIG(NULL, &p, (long) siglen);
		const BIGNUM *r,
				   *s;

		if (es == NULL)
			return 0;
		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, raw, 32);
		BN_bn2binpad(s, raw + 32, 32);
		ECDSA_SIG_free(es);
		return jwt_append_sig(out, o, raw, 64);
	}
	return jwt_append_sig(out, o, sig, siglen);
}

static inline EVP_PKEY *
jwt_gen_rsa(unsigned bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);
}

static inline EVP_PKEY *
jwt_gen_ec(const char *curve)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

/* The public key as PEM, malloc'd and NUL-terminated; *len its length. */
static inline char *
jwt_pubkey_pem(EVP_PKEY *pkey, size_t *len)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data,
			   *copy = NULL;
	long		n;

	if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1)
	{
		n = BIO_get_mem_data(bio, &data);
		copy = malloc((size_t) n + 1);
		memcpy(copy, data, (size_t) n);
		copy[n] = '\0';
		*len = (size_t) n;
	}
	BIO_free(bio);
	return copy;
}

#endif							/* PGSYNC_JWT_SIGN_H */
