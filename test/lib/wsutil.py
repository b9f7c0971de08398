"""test/lib/wsutil.py: helpers for WebSocket tests of the pgsync worker."""
import asyncio
import base64
import json
import os
import shutil
import socket
import struct
import tempfile

import websockets


async def connect(cluster, **kw):
    """A client of the worker; over TLS (wss://) when cluster.ws_ssl holds
    an ssl.SSLContext (test/t/ws_tls.py); with the token cluster.ws_token
    when the cluster runs pgsync.auth = jwt."""
    kw.setdefault("max_size", 64 * 1024 * 1024)
    url = cluster.ws_url()
    if getattr(cluster, "ws_ssl", None) is not None:
        url = "wss://127.0.0.1:%d/" % cluster.ws_port
        kw.setdefault("ssl", cluster.ws_ssl)
    if getattr(cluster, "ws_token", None) is not None:
        kw.setdefault("extra_headers", {"Authorization": "Bearer " + cluster.ws_token})
    return await websockets.connect(url, subprotocols=["pgsync.v1"], **kw)


class JwtSecret:
    """An HS256 secret in a file the server can read, the settings that make
    the worker use it (conf), and connections with a token for a role.
    cleanup() removes the file."""

    def __init__(self, secret, prefix="pgsync-keys."):
        self.secret = secret
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        path = os.path.join(self.dir, "secret")
        with open(path, "w") as f:
            f.write(secret)
        os.chmod(path, 0o644)
        self.conf = ["pgsync.auth = jwt", "pgsync.jwt_secret_file = '%s'" % path]

    async def connect(self, cluster, role, **kw):
        import jwt  # test/lib/jwt.py: needs python3-cryptography
        kw.setdefault("max_size", 64 * 1024 * 1024)
        token = jwt.hs256(self.secret, jwt.claims(role, 600))
        return await websockets.connect(cluster.ws_url(), subprotocols=["pgsync.v1"],
                                        extra_headers={"Authorization": "Bearer " + token}, **kw)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


async def request(ws, msg, timeout=5):
    """Send a request and return its reply (skipping heartbeats)."""
    await ws.send(json.dumps(msg) if not isinstance(msg, (str, bytes)) else msg)
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if isinstance(m, dict) and m.get("type") == "heartbeat":
            continue
        return m


async def subscribe(ws, tables, rid="sub", **extra):
    req = {"type": "subscribe", "id": rid, "tables": tables}
    req.update(extra)
    return await request(ws, req)


async def collect(ws, until, timeout=10):
    """Receive stream messages (arrays; heartbeats skipped) until
    until(list_so_far) is true.  Raises on timeout."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not until(got):
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError("collect timed out; got %r" % got[-10:])
        m = json.loads(await asyncio.wait_for(ws.recv(), left))
        if isinstance(m, dict) and m.get("type") == "heartbeat":
            continue
        got.append(m)
    return got


async def quiet(ws, secs=0.5, heartbeats=False):
    """Messages received within secs (heartbeats left out unless asked)."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + secs
    while True:
        left = deadline - loop.time()
        if left <= 0:
            return got
        try:
            m = json.loads(await asyncio.wait_for(ws.recv(), left))
        except asyncio.TimeoutError:
            return got
        if isinstance(m, dict) and m.get("type") == "heartbeat" and not heartbeats:
            continue
        got.append(m)


UPGRADE_HEADERS = ["GET / HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
                   "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                   "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: pgsync.v1"]


def http_exchange(port, request, host="127.0.0.1"):
    """What the server answers to request (bytes, plain TCP) until it
    closes the connection, or up to the end of a 101 answer's headers."""
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(request)
    buf = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            buf += d
            if buf.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in buf:
                break
    except OSError:
        pass
    s.close()
    return buf


def upgrade_status(port, host="127.0.0.1", extra=()):
    """(status code or None, body) of a plain upgrade request with the
    extra header lines."""
    buf = http_exchange(port, ("\r\n".join(UPGRADE_HEADERS + list(extra)) + "\r\n\r\n").encode(),
                        host)
    head, _, body = buf.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return code, body.decode(errors="replace")


def keepalive_timers(port):
    """The server side's established sockets on port, and how many of them
    have a TCP keepalive timer (ss -o): dead peers are found by TCP."""
    import subprocess
    out = subprocess.run(["ss", "-tnoH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True).stdout.splitlines()
    return len(out), sum(1 for line in out if "timer:(keepalive" in line)


def lsn_value(s):
    """An LSN string "X/Y" as an integer."""
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def transactions(msgs):
    """[(commit LSN, [first value of each I/U/D row])] of the complete
    transactions among stream messages."""
    out, cur = [], None
    for m in msgs:
        if not isinstance(m, list):
            continue
        if m[0] == "B":
            cur = []
        elif m[0] in ("I", "U", "D") and cur is not None:
            cur.append(m[3][0] if m[3] else None)
        elif m[0] == "C" and cur is not None:
            out.append((m[2], cur))
            cur = None
    return out


def commits(msgs):
    return sum(1 for m in msgs if isinstance(m, list) and m[0] == "C")


def ops(msgs):
    return [m[0] for m in msgs if isinstance(m, list)]


class RawClient:
    """A blocking WebSocket client on a plain socket with a tiny receive
    buffer: it can stop reading to play a slow consumer."""

    def __init__(self, port, rcvbuf=4096):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pgsync.v1\r\n\r\n"
                        % key).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("handshake failed: %r" % head)

    def send_text(self, text, opcode=1):
        data = text.encode() if isinstance(text, str) else text
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(hdr + mask + masked)

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError("connection closed")
            self.buf += d

    def recv_frame(self):
        """(opcode, fin, payload) of the next frame."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, bool(b0 & 0x80), payload

    def recv_message(self):
        """Next complete text message (str), or ('close', code) tuple."""
        parts = []
        while True:
            op, fin, payload = self.recv_frame()
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return ("close", code)
            if op in (9, 10):
                continue
            parts.append(payload)
            if fin:
                return b"".join(parts).decode()

    def close(self):
        self.s.close()
