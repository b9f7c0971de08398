#!/usr/bin/python3
"""Integration test: the worker's file descriptor budget.

The server runs with a soft open-file limit of 1024 (what runuser, many
service managers and pam_limits give) and a hard limit of 2048.  The worker
raises its soft limit to the hard one, keeps PostgreSQL's share, clamps
pgsync.max_clients with a WARNING, and counts every socket from accept()
on.  Covers: established and half-open (no handshake) connections until
the server refuses (503, then close); while it is full, CHECKPOINT,
pg_switch_wal() and commits do not make the worker ERROR (same pid), a
canary client keeps receiving rows with a low p99, and the log holds a
handful of lines, not a flood; once the connections close, new clients
are accepted again.  Then a hard limit of 1024: the worker narrows
PostgreSQL's share to still serve some clients, and survives a checkpoint.
"""
import json
import os
import re
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, Cluster, run_worker_test  # noqa: E402
import wsutil  # noqa: E402

T = Checks()
HANDSHAKE = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pgsync.v1\r\n\r\n")


def handshake(port, timeout=5):
    """(socket, status line) of a WebSocket handshake."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    s.sendall(HANDSHAKE.encode())
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except OSError:
        pass
    return s, buf.split(b"\r\n", 1)[0].decode(errors="replace")


class Canary:
    """A subscribed client read by a thread, and a writer: latencies."""

    def __init__(self, c):
        self.c = c
        self.client = wsutil.RawClient(c.ws_port, rcvbuf=1 << 20)
        self.client.send_text(json.dumps({"type": "subscribe", "id": "k", "tables": ["public.t"]}))
        reply = json.loads(self.client.recv_message())
        T.check("canary subscribed", reply.get("type") == "ok", reply)
        self.sent = {}
        self.got = {}
        self.stop = False
        self.next_id = 1
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        while not self.stop:
            try:
                m = self.client.recv_message()
            except (EOFError, OSError):
                return
            if isinstance(m, tuple):
                return
            m = json.loads(m)
            if isinstance(m, list) and m[0] == "I":
                self.got[m[3][0]] = time.time()

    def write(self, n, gap=0.02):
        conn = self.c.connect()
        cur = conn.cursor()
        for _ in range(n):
            i = self.next_id
            self.next_id += 1
            self.sent[i] = time.time()
            cur.execute("INSERT INTO t VALUES (%s)", (i,))
            time.sleep(gap)
        conn.close()

    def wait(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline and len(self.got) < len(self.sent):
            time.sleep(0.05)
        lat = sorted(self.got[i] - self.sent[i] for i in self.sent if i in self.got)
        return len(self.got), lat


def p99(lat):
    return lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None


def log_budget(c):
    m = re.search(r"file descriptor budget: (\d+) sockets, (\d+) clients \(open-file limit (\d+)(, raised from (\d+))?\)",
                  c.log())
    return m


async def main(c):
    c.create_extension()
    c.sql("CREATE TABLE t (id int PRIMARY KEY)")
    m = log_budget(c)
    T.check("budget logged, soft limit raised from 1024 to 2048",
            m is not None and m.group(3) == "2048" and m.group(5) == "1024", c.log()[-2000:])
    budget, max_clients = int(m.group(1)), int(m.group(2))
    T.check("budget leaves PostgreSQL its share (about 1000 of 2048)",
            900 <= budget <= 1100 and max_clients == budget // 2, (budget, max_clients))
    T.check("pgsync.max_clients clamped with a WARNING",
            re.search(r"WARNING:  pgsync: pgsync.max_clients \(10000\) lowered to %d" % max_clients,
                      c.log()) is not None)
    pid = c.worker_pid()
    log_lines_before = len(c.log().splitlines())

    canary = Canary(c)
    canary.write(10)

    # established connections (each counts twice: socket and a file)
    established, statuses = [], set()
    for _ in range(300):
        s, status = handshake(c.ws_port)
        established.append(s)
        statuses.add(status.split(" ", 2)[1] if " " in status else status)
    T.check("300 WebSocket connections established", statuses == {"101"}, statuses)

    # half-open connections: TCP only, no handshake, until refused
    room = budget - 2 * (len(established) + 1)
    half = [socket.create_connection(("127.0.0.1", c.ws_port)) for _ in range(room + 100)]
    time.sleep(1.0)
    refused = 0
    for s in half:
        r, _, _ = select.select([s], [], [], 0)
        if r:
            d = s.recv(200)
            if d.startswith(b"HTTP/1.1 503"):
                refused += 1
    kept = len(half) - refused
    T.check("half-open connections are counted: %d kept, %d refused with 503" % (kept, refused),
            refused >= 95 and abs(kept - room) <= 5, (kept, refused, room))
    s, status = handshake(c.ws_port)
    T.check("a new client at the budget gets 503", status.startswith("HTTP/1.1 503"), status)
    s.close()

    # PostgreSQL's own files while the sockets are at the budget
    c.sql("CHECKPOINT")
    c.sql("SELECT pg_switch_wal()")
    c.sql("CREATE TABLE t2 AS SELECT g FROM generate_series(1, 1000) g")
    c.sql("CHECKPOINT")
    canary.write(40)
    n, lat = canary.wait()
    T.check("canary got every row while full (%d)" % n, n == len(canary.sent), (n, len(canary.sent)))
    T.check("canary p99 %.1f ms < 250 ms" % (1000 * (p99(lat) or 99)), p99(lat) is not None and p99(lat) < 0.25)
    T.check("worker did not restart", c.worker_pid() == pid)
    log = c.log()
    T.check("no ERROR, no 'Too many open files' in the log",
            "ERROR" not in log and "Too many open files" not in log,
            [l for l in log.splitlines() if "ERROR" in l or "Too many" in l][:5])
    new_lines = log.splitlines()[log_lines_before:]
    T.check("no log flood (%d new lines)" % len(new_lines), len(new_lines) < 20, new_lines[:20])
    for line in new_lines:
        print("#", line)

    # everything closes: clients are accepted again
    for s in established + half:
        s.close()
    time.sleep(0.5)
    ws = await wsutil.connect(c)
    r = await wsutil.subscribe(ws, ["public.t"])
    T.check("after closing, a new client is accepted", r.get("type") == "ok", r)
    c.sql("INSERT INTO t VALUES (100000)")
    got = await wsutil.collect(ws, lambda g: wsutil.commits(g) >= 1)
    T.check("and gets rows", ["I", "C"] == wsutil.ops(got)[-2:], got)
    await ws.close()
    canary.stop = True
    canary.client.close()


def low_hard_limit():
    """Hard limit 1024: PostgreSQL's share narrowed, some clients served."""
    c = Cluster(nofile=(1024, 1024)).start()
    try:
        c.wait_worker_ready()
        m = log_budget(c)
        T.check("hard limit 1024: budget of at least 256 sockets",
                m is not None and int(m.group(1)) >= 256, c.log()[-1500:])
        T.check("hard limit 1024: PostgreSQL's share narrowed (LOG)",
                "is low: PostgreSQL's files in the worker are limited to" in c.log())
        pid = c.worker_pid()
        socks = [handshake(c.ws_port)[0] for _ in range(100)]
        c.sql("CHECKPOINT")
        c.sql("SELECT pg_switch_wal()")
        c.sql("CREATE TABLE t3 AS SELECT 1 AS x")
        c.sql("CHECKPOINT")
        T.check("hard limit 1024: 100 clients and a checkpoint, no ERROR, same worker",
                "ERROR" not in c.log() and c.worker_pid() == pid)
        for s in socks:
            s.close()
    except Exception as e:  # noqa: BLE001
        T.check("hard limit 1024: no exception", False, repr(e))
    finally:
        c.stop()


if __name__ == "__main__":
    low_hard_limit()
    sys.exit(run_worker_test(main, T, nofile=(1024, 2048)))
