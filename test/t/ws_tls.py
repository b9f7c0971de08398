#!/usr/bin/python3
"""Integration test: TLS (wss://), pgsync.ssl and its files.

A throwaway CA and two server certificates are made with the openssl CLI.
With pgsync.ssl = on: a TLS client that verifies the server against the CA
subscribes and receives an insert; TLS 1.1 is refused, an upgrade refused
(426) gets its HTTP answer over TLS, a client offering h2 by ALPN still
gets HTTP/1.1; plain ws:// from loopback is served under
pgsync.ssl_plain_from = loopback, refused with 403 "TLS required" from a
non-loopback address (when the machine has one) and, after a reload to
none, from loopback too; a TLS handshake finished late still has to end
within pgsync.handshake_timeout counted from accept; TLS garbage and
half handshakes from many sockets do not delay a canary client; a reload
with another certificate serves it to new connections (established ones
go on), a reload with a missing file, a key with group access, a key of
another certificate or one with a passphrase is refused with a WARNING
naming the file and the old certificate stays.
Before that, another cluster starts with a certificate file that does not
exist yet (a relative name: in the data directory): the log and
pgsync.status name it, the worker keeps running and retrying, and serves
TLS once the file is there; with pgsync.ssl_cert_file and ssl_key_file
set to '', the server's own ssl_cert_file and ssl_key_file are used.
"""
import asyncio
import os
import random
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, Cluster, run_worker_test  # noqa: E402
import canary  # noqa: E402
import websockets  # noqa: E402
import wsutil  # noqa: E402

T = Checks()
HANDSHAKE_TIMEOUT = 3
CERTS = tempfile.mkdtemp(prefix="pgsync-tls.")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=CERTS)


def make_certs():
    """ca.crt; server1/server2 .crt/.key for 127.0.0.1 and localhost (EC
    P-256), owned by the server's OS user, keys 0600; wrong.key: a key of
    no certificate; open.key: server1.key readable by the group."""
    with open(os.path.join(CERTS, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=pgsync test CA")
    for name in ("server1", "server2", "wrong"):
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=pgsync-test-" + name)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", "ext.cnf")
    shutil.copy(os.path.join(CERTS, "server1.key"), os.path.join(CERTS, "open.key"))
    openssl("pkey", "-in", "server1.key", "-aes256", "-passout", "pass:secret",
            "-out", "locked.key")
    os.chmod(CERTS, 0o755)
    for f in os.listdir(CERTS):
        p = os.path.join(CERTS, f)
        os.chmod(p, 0o600 if f.endswith(".key") else 0o644)
        if os.getuid() == 0:
            shutil.chown(p, "postgres", "postgres")
    os.chmod(os.path.join(CERTS, "open.key"), 0o640)


def cert(name):
    return os.path.join(CERTS, name)


def client_ctx():
    ctx = ssl.create_default_context(cafile=cert("ca.crt"))
    return ctx


def served_cn(port):
    """CN of the certificate the server presents to a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with client_ctx().wrap_socket(s, server_hostname="127.0.0.1") as t:
            return dict(x[0] for x in t.getpeercert()["subject"])["commonName"]


def local_address():
    """A non-loopback IPv4 address of this machine, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))     # no packet is sent
        ip = s.getsockname()[0]
    except OSError:
        ip = None
    s.close()
    return None if ip is None or ip.startswith("127.") else ip


def closed_after(s, deadline):
    """Seconds until the server closes s, sending a byte a second; None if
    it is still open at deadline."""
    t0 = time.time()
    while time.time() < deadline:
        try:
            r, _, _ = select.select([s], [], [], 1)
            if r and not s.recv(100):
                return time.time() - t0
            s.sendall(b"x")
        except (OSError, ssl.SSLError):
            return time.time() - t0
    return None


JWT_SECRET = "tls-test-secret-0123456789abcdef-0123456789"


def set_conf(c, **kv):
    for k, v in kv.items():
        c.sql("ALTER SYSTEM SET pgsync.%s = %%s" % k, (v,))
    c.reload()
    time.sleep(0.5)


async def tls_basics(c):
    ws = await wsutil.connect(c)
    sslobj = ws.transport.get_extra_info("ssl_object")
    T.check("wss:// client verified the server against the CA (%s)" % sslobj.version(),
            sslobj.version() in ("TLSv1.2", "TLSv1.3"))
    r = await wsutil.subscribe(ws, ["public.t"])
    T.check("subscribed over TLS", r.get("type") == "ok", r)
    c.sql("INSERT INTO t VALUES (1, 'over tls')")
    got = await wsutil.collect(ws, lambda g: wsutil.commits(g) >= 1)
    T.check("the insert arrives over TLS", [m[3] for m in got if m[0] == "I"] == [[1, "over tls"]], got)

    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cert("ca.crt"))
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        with socket.create_connection(("127.0.0.1", c.ws_port), timeout=5) as s:
            old.wrap_socket(s, server_hostname="127.0.0.1").close()
        T.check("TLS 1.1 is refused", False, "handshake succeeded")
    except ssl.SSLError as e:
        if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
            print("# skip - this client's OpenSSL cannot offer TLS 1.1")
        else:
            T.check("TLS 1.1 is refused (%s)" % e.reason, True)

    with socket.create_connection(("127.0.0.1", c.ws_port), timeout=5) as s:
        with client_ctx().wrap_socket(s, server_hostname="127.0.0.1") as t:
            t.sendall(("\r\n".join(wsutil.UPGRADE_HEADERS).replace(
                "Version: 13", "Version: 8") + "\r\n\r\n").encode())
            buf = b""
            try:
                while True:
                    d = t.recv(4096)
                    if not d:
                        break
                    buf += d
            except (OSError, ssl.SSLError):
                pass
    T.check("a refused upgrade gets its HTTP answer over TLS too (%r)" % buf[:30],
            buf.startswith(b"HTTP/1.1 426") and b"WebSocket version 13 required" in buf, buf[:200])

    h2 = client_ctx()
    h2.set_alpn_protocols(["h2", "http/1.1"])
    ws2 = await websockets.connect("wss://127.0.0.1:%d/" % c.ws_port, ssl=h2, extra_headers=({"Authorization": "Bearer " + c.ws_token}
                                       if getattr(c, "ws_token", None) else {}),
                                   subprotocols=["pgsync.v1"])
    alpn = ws2.transport.get_extra_info("ssl_object").selected_alpn_protocol()
    pong = await wsutil.request(ws2, {"type": "ping", "id": "h2"})
    T.check("a client offering h2 gets http/1.1 (%s) and is served" % alpn,
            alpn in (None, "http/1.1") and pong.get("type") == "pong", (alpn, pong))
    await ws2.close()
    return ws


async def plain_policy(c):
    code, _ = wsutil.upgrade_status(c.ws_port)
    T.check("ssl_plain_from = loopback: plain ws:// from 127.0.0.1 is served", code == 101, code)
    ip = local_address()
    if ip is None:
        print("# skip - no non-loopback address to connect from")
    else:
        code, body = wsutil.upgrade_status(c.ws_port, host=ip)
        T.check("ssl_plain_from = loopback: plain ws:// from %s gets 403 TLS required" % ip,
                code == 403 and "TLS required" in body, (code, body))
        t = socket.create_connection((ip, c.ws_port), timeout=5)
        try:
            tcn = client_ctx().wrap_socket(t, server_hostname="127.0.0.1")
            T.check("TLS from %s is served" % ip, tcn.version() is not None)
            tcn.close()
        except ssl.SSLError as e:
            T.check("TLS from %s is served" % ip, False, e)
    set_conf(c, ssl_plain_from="none")
    code, body = wsutil.upgrade_status(c.ws_port)
    T.check("ssl_plain_from = none (reload): plain ws:// from loopback gets 403 (%s)" % body.strip(),
            code == 403 and "TLS required" in body, (code, body))
    T.check("the refusal is logged",
            re.search(r"LOG:  pgsync: WebSocket upgrade from 127\.0\.0\.1 refused: plain ws:// "
                      r"while TLS is on \(pgsync\.ssl_plain_from = none\)", c.log()) is not None,
            c.log()[-1500:])
    T.check("TLS still served", served_cn(c.ws_port) == "pgsync-test-server1")
    set_conf(c, ssl_plain_from="loopback")


async def late_tls(c):
    """TCP at once, TLS finished 2 s later, then half a request line and a
    byte a second: closed HANDSHAKE_TIMEOUT after accept, not after TLS."""
    results = {}

    def run(key, tls_delay):
        s = socket.create_connection(("127.0.0.1", c.ws_port))
        t0 = time.time()
        time.sleep(tls_delay)
        try:
            s = client_ctx().wrap_socket(s, server_hostname="127.0.0.1")
            s.sendall(b"GET / HT")
        except (OSError, ssl.SSLError):
            results[key] = time.time() - t0
            return
        left = closed_after(s, t0 + 4 * HANDSHAKE_TIMEOUT)
        results[key] = None if left is None else time.time() - t0

    ts = [threading.Thread(target=run, args=(k, d)) for k, d in (("at once", 0.0), ("2 s late", 2.0))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k, v in sorted(results.items()):
        T.check("TLS finished %s, then trickling: closed %.1f s after connect (timeout %d s)"
                % (k, v or -1, HANDSHAKE_TIMEOUT),
                v is not None and HANDSHAKE_TIMEOUT - 0.5 <= v <= HANDSHAKE_TIMEOUT + 1.5, results)


def garbage(port, n=200):
    """n sockets of TLS garbage: random records, a ClientHello cut short,
    raw binary, or nothing; each read until the server closes it."""
    closed = [0]
    hello = bytes.fromhex("16030100a5010000a10303") + os.urandom(32)

    def one(i):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            kind = i % 4
            if kind == 0:
                s.sendall(b"\x16\x03\x01" + os.urandom(random.randint(2, 3000)))
            elif kind == 1:
                s.sendall(hello)
            elif kind == 2:
                s.sendall(b"\x00\x01" + os.urandom(500))
            if kind != 3:
                while s.recv(4096):
                    pass
                closed[0] += 1
            s.close()
        except OSError:
            closed[0] += 1

    ts = []
    for i in range(n):
        t = threading.Thread(target=one, args=(i,))
        t.start()
        ts.append(t)
        if i % 20 == 19:
            time.sleep(0.05)
    for t in ts:
        t.join(20)
    return closed[0]


async def garbage_vs_canary(c, pid):
    lines_before = len(c.log().splitlines())
    k = canary.Canary(c)
    r = await k.start()
    T.check("canary subscribed over TLS", r.get("type") == "ok", r)
    await asyncio.sleep(0.5)
    result = {}
    n, p50, p99, worst = await k.during(lambda: result.update(closed=garbage(c.ws_port)))
    T.check("garbage TLS: the %d sockets that sent something were closed by the server"
            % result["closed"], result["closed"] >= 150, result)
    T.check("garbage TLS: canary p99 %.1f ms < 250 ms (%d rows, worst %.1f ms)" % (p99, n, worst),
            n > 20 and p99 < 250, (n, p50, p99, worst))
    T.check("garbage TLS: canary got every row once, in order", await k.finish())
    T.check("garbage TLS: worker did not restart", c.worker_pid() == pid)
    new = c.log().splitlines()[lines_before:]
    T.check("garbage TLS: no log flood (%d new lines)" % len(new), len(new) < 20, new[:20])


async def reloads(c, ws):
    set_conf(c, ssl_cert_file=cert("server2.crt"), ssl_key_file=cert("server2.key"))
    T.check("reload: new connections get the new certificate",
            served_cn(c.ws_port) == "pgsync-test-server2", c.log()[-1000:])
    T.check("reload: logged", "LOG:  pgsync: TLS certificate and key reloaded" in c.log())
    pong = await wsutil.request(ws, {"type": "ping", "id": "still"})
    T.check("reload: an established TLS connection goes on", pong.get("type") == "pong", pong)

    set_conf(c, ssl_cert_file=cert("nope.crt"))
    T.check("reload with a missing certificate: WARNING naming the file",
            re.search(r'WARNING:  pgsync: TLS certificate and key not reloaded: could not open '
                      r'server certificate file ".*/nope\.crt": No such file or directory', c.log())
            is not None, c.log()[-1500:])
    T.check("reload with a missing certificate: the previous one is served",
            served_cn(c.ws_port) == "pgsync-test-server2")
    set_conf(c, ssl_cert_file=cert("server1.crt"), ssl_key_file=cert("open.key"))
    T.check("reload with a key readable by the group: refused, named",
            re.search(r'not reloaded: private key file ".*/open\.key" has group or world access',
                      c.log()) is not None, c.log()[-1500:])
    set_conf(c, ssl_key_file=cert("wrong.key"))
    T.check("reload with a key of another certificate: refused, named",
            re.search(r'not reloaded: private key file ".*/wrong\.key" does not match server '
                      r'certificate file ".*/server1\.crt"', c.log()) is not None, c.log()[-1500:])
    set_conf(c, ssl_key_file=cert("locked.key"))
    T.check("reload with a passphrase-protected key: refused, named, no prompt",
            re.search(r'not reloaded: private key file ".*/locked\.key" is protected by a '
                      r'passphrase', c.log()) is not None, c.log()[-1500:])
    T.check("after refused reloads: still the previous certificate",
            served_cn(c.ws_port) == "pgsync-test-server2")
    set_conf(c, ssl_cert_file=cert("server1.crt"), ssl_key_file=cert("server1.key"))
    T.check("reload back: server1", served_cn(c.ws_port) == "pgsync-test-server1")


async def main(c):
    c.ws_ssl = client_ctx()
    if "pgsync.auth = jwt" in c.extra_conf:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
        import jwt
        c.ws_token = jwt.hs256(JWT_SECRET, jwt.claims("postgres", 3600))
    c.create_extension()
    c.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    c.sql("CREATE TABLE canary (id int PRIMARY KEY, t float8)")
    pid = c.worker_pid()
    T.check("the worker says it listens with TLS",
            re.search(r"WebSocket server listening on .*:%d \(TLS\)" % c.ws_port, c.log()) is not None)
    ws = await tls_basics(c)
    await plain_policy(c)
    await late_tls(c)
    await garbage_vs_canary(c, pid)
    await reloads(c, ws)
    await ws.close()
    T.check("worker did not restart", c.worker_pid() == pid)


def bad_file_at_start():
    """A certificate file that is not there yet: logged, retried, then used."""
    c = Cluster(["pgsync.ssl = on", "pgsync.ssl_cert_file = 'pgsync.crt'",
                 "pgsync.ssl_key_file = '%s'" % cert("server1.key")]).start()
    try:
        deadline = time.time() + 15
        while time.time() < deadline and "pgsync.crt" not in c.log():
            time.sleep(0.2)
        log = c.log()
        T.check("missing certificate at start: WARNING naming the file (relative to the data directory)",
                re.search(r'WARNING:  pgsync: cannot start WebSocket server: could not open server '
                          r'certificate file "pgsync.crt": No such file or directory', log) is not None,
                log[-1500:])
        pid = c.worker_pid()
        T.check("missing certificate at start: the worker runs", pid is not None)
        c.create_extension()
        st = c.sql("SELECT last_error FROM pgsync.status")
        T.check("missing certificate: in pgsync.status.last_error", "pgsync.crt" in (st[0][0] or ""), st)
        shutil.copy(cert("server1.crt"), os.path.join(c.datadir, "pgsync.crt"))
        if os.getuid() == 0:
            shutil.chown(os.path.join(c.datadir, "pgsync.crt"), "postgres", "postgres")
        t0 = time.time()
        cn = None
        while time.time() - t0 < 12 and cn is None:
            try:
                cn = served_cn(c.ws_port)
            except OSError:
                time.sleep(0.3)
        T.check("once the file is there, the retry serves TLS (%.1f s)" % (time.time() - t0),
                cn == "pgsync-test-server1", c.log()[-1500:])
        T.check("same worker", c.worker_pid() == pid)
        st = c.sql("SELECT last_error FROM pgsync.status")
        T.check("and pgsync.status.last_error is cleared", st[0][0] is None, st)
        for line in c.log().splitlines():
            if "pgsync.crt" in line:
                print("#", line)
        c.sql("ALTER SYSTEM SET pgsync.ssl_cert_file = ''")
        c.sql("ALTER SYSTEM SET pgsync.ssl_key_file = ''")
        c.sql("ALTER SYSTEM SET ssl_cert_file = %s", (cert("server2.crt"),))
        c.sql("ALTER SYSTEM SET ssl_key_file = %s", (cert("server2.key"),))
        c.reload()
        time.sleep(0.5)
        T.check("empty pgsync.ssl_cert_file/ssl_key_file: the server's own files are used",
                served_cn(c.ws_port) == "pgsync-test-server2", c.log()[-1000:])
    except Exception as e:  # noqa: BLE001
        T.check("bad file at start: no exception", False, repr(e))
        print(c.log()[-3000:])
    finally:
        c.stop()


if __name__ == "__main__":
    make_certs()
    try:
        conf = ["pgsync.ssl = on",
                "pgsync.ssl_cert_file = '%s'" % cert("server1.crt"),
                "pgsync.ssl_key_file = '%s'" % cert("server1.key"),
                "pgsync.handshake_timeout = %d" % HANDSHAKE_TIMEOUT]
        if local_address() is not None:
            # beyond loopback the server authenticates (pgsync.auth = trust
            # listens on loopback only): clients carry a token
            conf += ["pgsync.listen_address = '*'", "pgsync.auth = jwt",
                     "pgsync.jwt_secret_file = '%s'" % cert("jwt.secret")]
            with open(cert("jwt.secret"), "w") as f:
                f.write(JWT_SECRET)
            os.chmod(cert("jwt.secret"), 0o644)
        if "--network-workers" in sys.argv:
            # the same checks with network workers: TLS on sockets lws adopts
            conf += ["pgsync.network_workers = %d" % int(sys.argv[sys.argv.index("--network-workers") + 1])]
        bad_file_at_start()
        status = run_worker_test(main, T, conf)
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)
    sys.exit(status)
