"""test/lib/jwt.py: make JSON Web Tokens for tests, good and hostile.

HS256 with the standard library; RS256 and ES256 with Debian's
python3-cryptography (keys generated per test run).  Nothing here is
pgsync code: the server's verifier is src/auth/jwt_verify.c, and these
tokens are made independently of it."""
import base64
import hashlib
import hmac
import json
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims(role, ttl=300, **extra):
    now = int(time.time())
    c = {"role": role, "exp": now + ttl, "iat": now}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def _signing_input(header, payload):
    return (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
            b64url(json.dumps(payload, separators=(",", ":")).encode()))


def hs256(secret, payload, header=None):
    if isinstance(secret, str):
        secret = secret.encode()
    h = header or {"alg": "HS256", "typ": "JWT"}
    si = _signing_input(h, payload)
    sig = hmac.new(secret, si.encode(), hashlib.sha256).digest()
    return si + "." + b64url(sig)


def none_alg(payload):
    return _signing_input({"alg": "none", "typ": "JWT"}, payload) + "."


class RsaKey:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_pem(self):
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self, kid):
        n = self.key.public_key().public_numbers()
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}

    def sign(self, payload, kid=None):
        h = {"alg": "RS256", "typ": "JWT"}
        if kid:
            h["kid"] = kid
        si = _signing_input(h, payload)
        sig = self.key.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256())
        return si + "." + b64url(sig)


class EcKey:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())

    def public_pem(self):
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, payload, kid=None):
        h = {"alg": "ES256", "typ": "JWT"}
        if kid:
            h["kid"] = kid
        si = _signing_input(h, payload)
        r, s = decode_dss_signature(self.key.sign(si.encode(), ec.ECDSA(hashes.SHA256())))
        return si + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def hs256_with_public_key(rsa_key, payload):
    """Algorithm confusion: HS256 "signed" with the bytes of the RSA
    public key the server trusts."""
    return hs256(rsa_key.public_pem(), payload)
