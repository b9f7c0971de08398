#!/usr/bin/python3
"""Integration test: authentication with JSON Web Tokens (pgsync.auth = jwt).

Promises (docs/SECURITY.md, "Authentication"):
  - a token is taken from the Authorization: Bearer header, the
    access_token query parameter, or the first message ({"type":"auth"});
    HS256 (secret file), RS256 and ES256 (JWKS file, kid) all work;
  - forged, expired, not-yet-valid, alg none, HS/RS-confused, wrong-key,
    wrong-audience tokens and malformed headers are refused at the upgrade
    with 401 (or, in a message, with an error and close code 4401);
  - a connection without a token must send one first, within
    pgsync.auth_timeout; anything else is auth_required;
  - the token's role must exist and have LOGIN, or be granted to
    pgsync.authenticator_role; otherwise invalid_role and close code 4403;
  - an expired token closes the connection with token_expired unless a
    fresh token of the same role came first; a fresh token of another role
    is role_mismatch;
  - pgsync.max_clients_per_role bounds the clients of one role
    (server_full), and a place frees when one leaves;
  - through all of it, a good client keeps receiving every change;
  - pgsync.auth = trust refuses a listen address that is not loopback.
"""
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, Cluster, run_worker_test  # noqa: E402
import jwt  # noqa: E402
import websockets  # noqa: E402
from wsutil import collect, request  # noqa: E402

T = Checks()
SECRET = "s3cret-for-tests-0123456789abcdef-0123456789"
AUD = "pgsync-test"
RSA = jwt.RsaKey()
RSA_OTHER = jwt.RsaKey()
EC = jwt.EcKey()

KEYDIR = tempfile.mkdtemp(prefix="pgsync-auth-keys.")
os.chmod(KEYDIR, 0o755)
with open(os.path.join(KEYDIR, "secret"), "w") as f:
    f.write(SECRET + "\n")
ec_pub = EC.key.public_key().public_numbers()
with open(os.path.join(KEYDIR, "jwks.json"), "w") as f:
    json.dump({"keys": [RSA.jwk("r1"),
                        {"kty": "EC", "crv": "P-256", "kid": "e1", "use": "sig", "alg": "ES256",
                         "x": jwt.b64url(ec_pub.x.to_bytes(32, "big")),
                         "y": jwt.b64url(ec_pub.y.to_bytes(32, "big"))}]}, f)
for n in os.listdir(KEYDIR):
    os.chmod(os.path.join(KEYDIR, n), 0o644)

CONF = ["pgsync.auth = jwt",
        "pgsync.jwt_secret_file = '%s/secret'" % KEYDIR,
        "pgsync.jwt_key_file = '%s/jwks.json'" % KEYDIR,
        "pgsync.jwt_audience = '%s'" % AUD,
        "pgsync.jwt_leeway = 0",
        "pgsync.auth_timeout = 2",
        "pgsync.authenticator_role = 'authenticator'"]


def claims(role="app_user", ttl=300, **kw):
    kw.setdefault("aud", AUD)
    return jwt.claims(role, ttl, **kw)


async def connect(c, token=None, where="header"):
    url = c.ws_url()
    headers = {}
    if token is not None and where == "header":
        headers["Authorization"] = "Bearer " + token
    elif token is not None and where == "query":
        url += "/?access_token=" + token
    return await websockets.connect(url, subprotocols=["pgsync.v1"], extra_headers=headers)


async def refused(c, token, name, header=None):
    try:
        if header is not None:
            ws = await websockets.connect(c.ws_url(), subprotocols=["pgsync.v1"],
                                          extra_headers={"Authorization": header})
        else:
            ws = await connect(c, token)
    except websockets.InvalidStatusCode as e:
        hdr = e.headers.get("WWW-Authenticate", "") if hasattr(e, "headers") else "Bearer"
        T.check("%s: refused with 401" % name, e.status_code == 401 and "Bearer" in hdr,
                (e.status_code, hdr))
        return
    except websockets.InvalidHandshake as e:
        T.check("%s: refused with 401" % name, "401" in str(e), repr(e))
        return
    await ws.close()
    T.check("%s: refused with 401" % name, False, "upgraded")


async def closed_with(ws, code, close_code, name, timeout=6):
    """The next control message is an error with code, then the close."""
    got = None
    try:
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if not isinstance(m, dict) or m.get("type") == "heartbeat":
                continue        # stream messages still queued before it
            got = m
            break
        await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        T.check("%s: closed" % name, False, "still open; got %r" % got)
        return
    T.check("%s: error %s" % (name, code),
            isinstance(got, dict) and got.get("code") == code, got)
    # lws 4.1.6 (Debian, libuv) delivers server closes as 1006
    # (docs/WEBSOCKET.md, "Close codes"): the error message is the contract
    T.check("%s: closed (%d, or 1006)" % (name, close_code),
            ws.close_code in (close_code, 1006), ws.close_code)


async def receives(c, ws, table="public.items", sub=True):
    if sub:
        r = await request(ws, {"type": "subscribe", "id": "s", "tables": [table]})
        if not T.check("subscribe ok", r.get("type") == "ok", r):
            return False
    v = int(time.time() * 1000) % 1000000000
    c.sql("INSERT INTO items VALUES (%d, 'x')" % v)
    got = await collect(ws, lambda g: any(m[0] == "I" and m[3][0] == v for m in g))
    return bool(got)


async def main(c):
    c.sql("CREATE TABLE items (id int PRIMARY KEY, v text)")
    c.sql("CREATE ROLE app_user LOGIN")
    c.sql("CREATE ROLE no_login NOLOGIN")
    c.sql("CREATE ROLE web_anon NOLOGIN")
    c.sql("CREATE ROLE authenticator NOINHERIT LOGIN")
    c.sql("CREATE ROLE other_user LOGIN")
    c.sql("GRANT web_anon TO authenticator")
    for r in ("app_user", "no_login", "web_anon", "other_user"):
        c.sql("GRANT SELECT ON items TO %s" % r)

    # a good client, watching all along
    good = await connect(c, jwt.hs256(SECRET, claims(ttl=3600)))
    r = await request(good, {"type": "subscribe", "id": "g", "tables": ["public.items"]})
    T.check("good client subscribed", r.get("type") == "ok", r)
    seen = []

    # the three places a token may come from, the three algorithms
    ws = await connect(c, jwt.hs256(SECRET, claims()), "header")
    T.check("HS256 in the Authorization header: receives", await receives(c, ws))
    await ws.close()
    ws = await connect(c, RSA.sign(claims(), kid="r1"), "query")
    T.check("RS256 (JWKS, kid) in access_token: receives", await receives(c, ws))
    await ws.close()
    ws = await connect(c)
    r = await request(ws, {"type": "auth", "id": "a1", "token": EC.sign(claims(), kid="e1")})
    T.check("ES256 in the first message: ok", r.get("type") == "ok" and r.get("id") == "a1", r)
    T.check("ES256 in the first message: receives", await receives(c, ws))
    await ws.close()
    ws = await connect(c, RSA.sign(claims()), "header")
    T.check("RS256 without kid (every RSA key tried): receives", await receives(c, ws))
    await ws.close()

    # refused at the upgrade
    good_tok = jwt.hs256(SECRET, claims())
    forged = good_tok[:-4] + ("AAAA" if good_tok[-4:] != "AAAA" else "BBBB")
    await refused(c, forged, "forged signature")
    await refused(c, jwt.hs256(SECRET, claims(ttl=-5)), "expired")
    await refused(c, jwt.hs256(SECRET, claims(nbf=int(time.time()) + 60)), "not yet valid")
    await refused(c, jwt.none_alg(claims()), "alg none")
    await refused(c, jwt.hs256_with_public_key(RSA, claims()), "HS256 signed with the RSA public key")
    await refused(c, RSA_OTHER.sign(claims(), kid="r1"), "RS256 with another key")
    await refused(c, jwt.hs256("another-secret-of-at-least-32-bytes!!", claims()), "HS256 with another secret")
    await refused(c, jwt.hs256(SECRET, claims(aud="someone-else")), "wrong audience")
    await refused(c, jwt.hs256(SECRET, jwt.claims("app_user", 300)), "no audience")
    await refused(c, jwt.hs256(SECRET, {"aud": AUD, "exp": int(time.time()) + 60}), "no role claim")
    await refused(c, jwt.hs256(SECRET, {"role": "app_user", "aud": AUD}), "no exp")
    await refused(c, None, "Basic scheme", header="Basic YWxhZGRpbjpvcGVuc2VzYW1l")
    await refused(c, None, "Bearer without token", header="Bearer ")

    # refused in a message
    ws = await connect(c)
    await ws.send(json.dumps({"type": "subscribe", "id": "x", "tables": ["public.items"]}))
    await closed_with(ws, "auth_required", 4401, "subscribe before auth")
    ws = await connect(c)
    await ws.send(json.dumps({"type": "auth", "token": forged}))
    await closed_with(ws, "invalid_token", 4401, "forged token in a message")
    ws = await connect(c)
    await ws.send(json.dumps({"type": "auth", "token": jwt.hs256(SECRET, claims(ttl=-5))}))
    await closed_with(ws, "token_expired", 4401, "expired token in a message")
    ws = await connect(c)
    t0 = time.time()
    await closed_with(ws, "auth_required", 4401, "silent connection (auth_timeout 2 s)")
    T.check("silent connection closed after about 2 s", 1.5 < time.time() - t0 < 4.5,
            time.time() - t0)

    # roles
    ws = await connect(c, jwt.hs256(SECRET, claims(role="nobody_here")))
    await closed_with(ws, "invalid_role", 4403, "role that does not exist")
    ws = await connect(c, jwt.hs256(SECRET, claims(role="no_login")))
    await closed_with(ws, "invalid_role", 4403, "role without LOGIN")
    ws = await connect(c, jwt.hs256(SECRET, claims(role="web_anon")))
    T.check("NOLOGIN role granted to the authenticator: receives", await receives(c, ws))
    await ws.close()
    ws = await connect(c, jwt.hs256(SECRET, claims(role="other_user")))
    T.check("other_user receives", await receives(c, ws))
    c.sql("ALTER ROLE other_user NOLOGIN")
    await closed_with(ws, "invalid_role", 4403, "ALTER ROLE ... NOLOGIN on a live client")

    # expiry and refresh
    short = claims(ttl=3)
    a = await connect(c, jwt.hs256(SECRET, short))
    b = await connect(c, jwt.hs256(SECRET, short))
    m = await connect(c, jwt.hs256(SECRET, short))
    for ws in (a, b, m):
        await request(ws, {"type": "subscribe", "id": "s", "tables": ["public.items"]})
    r = await request(b, {"type": "auth", "id": "r", "token": jwt.hs256(SECRET, claims(ttl=60))})
    T.check("refresh with a fresh token: ok", r.get("type") == "ok", r)
    await m.send(json.dumps({"type": "auth", "token": jwt.hs256(SECRET, claims(role="web_anon"))}))
    await closed_with(m, "role_mismatch", 4401, "refresh naming another role")
    await closed_with(a, "token_expired", 4401, "token expiring on a live client")
    T.check("refreshed client still receives after the old exp",
            await receives(c, b, sub=False))
    await b.close()

    # clients per role
    c.sql("ALTER SYSTEM SET pgsync.max_clients_per_role = 2")
    c.sql("SELECT pg_reload_conf()")
    await asyncio.sleep(0.5)
    w1 = await connect(c, jwt.hs256(SECRET, claims(role="web_anon")))
    w2 = await connect(c, jwt.hs256(SECRET, claims(role="web_anon")))
    w3 = await connect(c, jwt.hs256(SECRET, claims(role="web_anon")))
    await closed_with(w3, "server_full", 1013, "third client of a role over pgsync.max_clients_per_role = 2")
    T.check("the first two clients of the role are served", await receives(c, w1) and await receives(c, w2))
    await w1.close()
    await asyncio.sleep(0.3)
    w4 = await connect(c, jwt.hs256(SECRET, claims(role="web_anon")))
    T.check("a client of the role is admitted again once one left", await receives(c, w4))
    for w in (w2, w4):
        await w.close()
    c.sql("ALTER SYSTEM RESET pgsync.max_clients_per_role")
    c.sql("SELECT pg_reload_conf()")

    # the good client saw every row inserted meanwhile
    n = c.sql("SELECT count(*) FROM items")[0][0]
    got = await collect(good, lambda g: sum(1 for x in g if x[0] == "I") >= n)
    T.check("the good client got all %d rows while all this happened" % n,
            sum(1 for x in got if x[0] == "I") == n)
    await good.close()


async def no_keys(c):
    try:
        ws = await websockets.connect(c.ws_url(), subprotocols=["pgsync.v1"])
        await ws.close()
        T.check("jwt without keys: refused", False, "upgraded")
    except websockets.InvalidStatusCode as e:
        T.check("jwt without keys: 503", e.status_code == 503, e.status_code)
    T.check("jwt without keys: the log says so",
            "no key is configured" in c.log())


def trust_public():
    c = Cluster(["pgsync.listen_address = '0.0.0.0'"]).start()
    try:
        deadline = time.time() + 15
        while time.time() < deadline and "accepts only a loopback" not in c.log():
            time.sleep(0.2)
        T.check("trust on 0.0.0.0: refused with a clear error",
                "pgsync.auth = trust accepts only a loopback" in c.log())
    finally:
        c.stop()


try:
    status = run_worker_test(main, T, conf=CONF)
    c = Cluster(["pgsync.auth = jwt"]).start()
    try:
        c.wait_worker_ready()
        asyncio.run(no_keys(c))
    finally:
        c.stop()
    trust_public()
finally:
    shutil.rmtree(KEYDIR, ignore_errors=True)
sys.exit(T.finish())
