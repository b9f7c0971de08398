#!/usr/bin/python3
"""Integration test: the Origin allow-list, the handshake and idle timeouts.

pgsync.allowed_origins = 'https://app.example.com, http://localhost:3000':
an upgrade from a listed origin (scheme and host in any case) is served,
one from another origin, another port or the opaque "null" gets 403 with
a text body (and one LOG line), one without Origin is served; a list with
a malformed entry is refused by the setting's check with the entry named;
after a reload to '' any origin is served, with '*' any well-formed one.

pgsync.handshake_timeout = 2 s: 50 sockets that connect and then send
nothing, half a request line, or headers a byte a second are all closed
about 2 s after their connect, while a canary client keeps receiving its
rows on time; a client connecting afterwards is served; a plain HTTP
request that is not an upgrade gets 404 and its connection is closed (no
keep-alive); after a reload to 3 s a trickling socket lasts 3 s.

pgsync.idle_timeout = 2 s: a connected client with no subscription that
sends nothing gets {"type":"error","code":"idle_timeout"} and is closed;
one that subscribed is kept (heartbeats flow to it), one without a
subscription that sends requests is kept, one that unsubscribed from
everything is closed 2 s after its last message; with idle_timeout = 0
(reload) a silent client is kept.
"""
import asyncio
import json
import os
import re
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import canary  # noqa: E402
import psycopg2  # noqa: E402
import websockets  # noqa: E402
import wsutil  # noqa: E402

T = Checks()
HANDSHAKE_TIMEOUT = 2
IDLE_TIMEOUT = 2
ORIGINS = "https://app.example.com, http://localhost:3000"


def upgrade(port, origin=None):
    """(status code, body) of an upgrade request with that Origin."""
    return wsutil.upgrade_status(port, extra=["Origin: " + origin] if origin is not None else [])


def set_origins(c, value):
    c.sql("ALTER SYSTEM SET pgsync.allowed_origins = %s", (value,))
    c.reload()
    time.sleep(0.5)


async def origins(c):
    for origin, want in (("https://app.example.com", 101), ("HTTPS://App.Example.COM", 101),
                         ("http://localhost:3000", 101), (None, 101),
                         ("https://evil.example.com", 403), ("https://app.example.com:8443", 403),
                         ("http://app.example.com", 403), ("null", 403)):
        code, body = upgrade(c.ws_port, origin)
        T.check("Origin %s -> %d" % (origin or "(none)", want),
                code == want and (want == 101 or "origin not allowed" in body), (code, body))
    T.check("a refused Origin is logged",
            re.search(r'LOG:  pgsync: WebSocket upgrade from 127\.0\.0\.1 refused: Origin '
                      r'"https://evil\.example\.com" is not in pgsync\.allowed_origins', c.log())
            is not None, c.log()[-1500:])
    try:
        await websockets.connect(c.ws_url(), subprotocols=["pgsync.v1"],
                                 origin="https://evil.example.com")
        T.check("a browser-like client from another origin is refused", False)
    except websockets.InvalidStatusCode as e:
        T.check("a browser-like client from another origin is refused (%d)" % e.status_code,
                e.status_code == 403)
    ws = await websockets.connect(c.ws_url(), subprotocols=["pgsync.v1"],
                                  origin="https://app.example.com")
    pong = await wsutil.request(ws, {"type": "ping", "id": 1})
    T.check("a client from an allowed origin is served", pong.get("type") == "pong", pong)
    await ws.close()

    try:
        c.sql("ALTER SYSTEM SET pgsync.allowed_origins = 'https://ok.example.com, app.example.com'")
        T.check("a malformed entry is refused by the setting", False)
    except psycopg2.Error as e:
        T.check("a malformed entry is refused, the entry named (%s)" % (e.diag.message_detail,),
                'Entry "app.example.com"' in (e.diag.message_detail or ""), str(e))
    set_origins(c, "")
    code, _ = upgrade(c.ws_port, "https://evil.example.com")
    T.check("reload to '': any origin is served", code == 101, code)
    set_origins(c, "*")
    code, _ = upgrade(c.ws_port, "https://evil.example.com")
    code_null, _ = upgrade(c.ws_port, "null")
    T.check("'*': any well-formed origin is served, \"null\" is not",
            code == 101 and code_null == 403, (code, code_null))
    set_origins(c, ORIGINS)


def loris(port, kind, out, i):
    """One slow-loris socket: seconds from connect to the server's close."""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.time()
    request = ("\r\n".join(wsutil.UPGRADE_HEADERS) + "\r\n").encode()
    pos = {"connect": 0, "half line": 8, "headers": 40}[kind]
    try:
        if pos:
            s.sendall(request[:pos])
        while time.time() - t0 < 4 * HANDSHAKE_TIMEOUT:
            r, _, _ = select.select([s], [], [], 1)
            if r and not s.recv(100):
                break
            if kind == "headers" and pos < len(request):
                s.sendall(request[pos:pos + 1])
                pos += 1
            elif kind == "half line":
                s.sendall(b"T")
    except OSError:
        pass
    out[i] = (kind, time.time() - t0)
    s.close()


async def slow_loris(c):
    k = canary.Canary(c)
    r = await k.start()
    T.check("canary subscribed", r.get("type") == "ok", r)
    await asyncio.sleep(0.3)
    out = {}

    def attack():
        kinds = ["connect"] * 10 + ["half line"] * 25 + ["headers"] * 15
        ts = [threading.Thread(target=loris, args=(c.ws_port, kind, out, i))
              for i, kind in enumerate(kinds)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    n, p50, p99, worst = await k.during(attack)
    times = sorted(t for _, t in out.values())
    T.check("slow loris: all 50 sockets closed", len(out) == 50, len(out))
    T.check("slow loris: each closed %.1f-%.1f s after connect (timeout %d s)"
            % (times[0], times[-1], HANDSHAKE_TIMEOUT),
            times and HANDSHAKE_TIMEOUT - 0.5 <= times[0] and times[-1] <= HANDSHAKE_TIMEOUT + 1.5,
            sorted(out.values(), key=lambda x: x[1]))
    T.check("slow loris: canary p99 %.1f ms < 250 ms (%d rows, worst %.1f ms)" % (p99, n, worst),
            n > 20 and p99 < 250, (n, p50, p99, worst))
    T.check("slow loris: canary got every row once, in order", await k.finish())
    code, _ = upgrade(c.ws_port)
    T.check("slow loris: a new client is served afterwards", code == 101, code)

    buf = wsutil.http_exchange(c.ws_port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    T.check("a plain HTTP request gets 404 and the connection is closed (no keep-alive)",
            buf.startswith(b"HTTP/1.1 404"), buf[:80])

    c.sql("ALTER SYSTEM SET pgsync.handshake_timeout = %s", (HANDSHAKE_TIMEOUT + 1,))
    c.reload()
    await asyncio.sleep(0.5)
    out = {}
    loris(c.ws_port, "half line", out, 0)
    T.check("handshake_timeout reloaded to %d s: a trickling socket closed after %.1f s"
            % (HANDSHAKE_TIMEOUT + 1, out[0][1]),
            HANDSHAKE_TIMEOUT + 0.5 <= out[0][1] <= HANDSHAKE_TIMEOUT + 2.5, out)


async def until_closed(ws, timeout):
    """(error message or None, close code, seconds) as the server closes ws."""
    t0 = time.time()
    err = None
    try:
        while time.time() - t0 < timeout:
            m = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if isinstance(m, dict) and m.get("type") == "error":
                err = m
    except websockets.ConnectionClosed as e:
        return err, e.code, time.time() - t0
    except asyncio.TimeoutError:
        pass
    return err, None, time.time() - t0


async def still_open(ws, secs):
    """True if ws is open after secs (messages read meanwhile), and answers a ping."""
    try:
        await wsutil.quiet(ws, secs, heartbeats=True)
        pong = await wsutil.request(ws, {"type": "ping", "id": "alive"})
        return pong.get("type") == "pong"
    except websockets.ConnectionClosed:
        return False


async def idle(c):
    silent = await wsutil.connect(c)
    subscribed = await wsutil.connect(c)
    r = await wsutil.subscribe(subscribed, ["public.t"])
    T.check("idle: a client subscribed", r.get("type") == "ok", r)
    talker = await wsutil.connect(c)
    left = await wsutil.connect(c)
    r = await wsutil.subscribe(left, ["public.t"], "s1")
    r2 = await wsutil.request(left, {"type": "unsubscribe", "id": "u", "subscription": "s1"})
    T.check("idle: a client subscribed then unsubscribed", r2.get("type") == "ok", (r, r2))

    async def talk():
        for i in range(2 * IDLE_TIMEOUT + 2):
            await asyncio.sleep(0.9)
            await wsutil.request(talker, {"type": "ping", "id": i})
        return True

    res = await asyncio.gather(until_closed(silent, IDLE_TIMEOUT + 4),
                               until_closed(left, IDLE_TIMEOUT + 4),
                               still_open(subscribed, 2 * IDLE_TIMEOUT + 1), talk())
    for name, (err, code, secs) in (("silent, no subscription", res[0]),
                                    ("unsubscribed from everything", res[1])):
        T.check("idle: %s -> error idle_timeout, then closed (%s after %.1f s)" % (name, code, secs),
                err is not None and err.get("code") == "idle_timeout" and code is not None
                and IDLE_TIMEOUT - 0.5 <= secs <= IDLE_TIMEOUT + 2, (err, code, secs))
    T.check("idle: the close code is 1008 (policy violation), or 1006 (Debian's lws on libuv)",
            res[0][1] in (1008, 1006), res[0][1])
    T.check("idle: a subscribed silent client is kept", res[2])
    T.check("idle: a client without subscription that sends requests is kept",
            res[3] and await still_open(talker, 0))
    for ws in (subscribed, talker):
        await ws.close()

    c.sql("ALTER SYSTEM SET pgsync.idle_timeout = 0")
    c.reload()
    await asyncio.sleep(0.5)
    silent = await wsutil.connect(c)
    T.check("idle_timeout = 0 (reload): a silent client is kept",
            await still_open(silent, IDLE_TIMEOUT + 1.5))
    await silent.close()


async def main(c):
    c.create_extension()
    c.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    pid = c.worker_pid()
    await origins(c)
    await slow_loris(c)
    await idle(c)
    T.check("worker did not restart", c.worker_pid() == pid)


if __name__ == "__main__":
    sys.exit(run_worker_test(main, T, [
        "pgsync.allowed_origins = '%s'" % ORIGINS,
        "pgsync.handshake_timeout = %d" % HANDSHAKE_TIMEOUT,
        "pgsync.idle_timeout = %d" % IDLE_TIMEOUT]))
