"""test/lib/canary.py: a canary client and the attacks it must survive.

The canary writes a timestamped row into its own small table every few
milliseconds and receives it over WebSocket; each row's delay (receive
time minus the time written into the row) is its latency.  The attacks
are misbehaving clients and loads run in threads while the canary is
measured: test/t/ws_slow_clients.py asserts on them, bench/attacks
reports their figures.
"""
import asyncio
import json
import threading
import time

import wsutil


class Canary:
    """Writes a row every `every` seconds, measures each row's delay."""

    def __init__(self, cluster, every=0.005):
        self.c = cluster
        self.every = every
        self.stop = False
        self.sent = 0
        self.lat = []           # ms, in order of arrival
        self.seen = []          # row ids, in order of arrival
        self.commit_ms = {}     # row id: its INSERT's own time (the commit's)
        self.ws = None
        self._writer = None
        self._reader = None

    async def start(self):
        self.c.sql("CREATE TABLE IF NOT EXISTS canary(id int PRIMARY KEY, t float8)")
        self.ws = await wsutil.connect(self.c)
        r = await wsutil.subscribe(self.ws, ["public.canary"], "canary")
        self._reader = asyncio.ensure_future(self._read())
        self._writer = threading.Thread(target=self._write)
        self._writer.start()
        return r

    def _write(self):
        conn = self.c.connect()
        with conn.cursor() as cur:
            while not self.stop:
                self.sent += 1
                t = time.time()
                cur.execute("INSERT INTO canary VALUES (%s, %s)", (self.sent, t))
                self.commit_ms[self.sent] = (time.time() - t) * 1000
                time.sleep(self.every)
        conn.close()

    async def _read(self):
        while True:
            m = json.loads(await self.ws.recv())
            if isinstance(m, list) and m[0] == "I":
                self.seen.append(m[3][0])
                self.lat.append((time.time() - float(m[3][1])) * 1000)

    async def finish(self):
        """Stop writing, let the last rows arrive; True if every row came once, in order."""
        self.stop = True
        self._writer.join()
        for _ in range(50):
            if len(self.seen) >= self.sent:
                break
            await asyncio.sleep(0.1)
        self._reader.cancel()
        await self.ws.close()
        return self.seen == list(range(1, self.sent + 1))

    def window(self, since):
        """(rows, p50, p99, worst) of the latencies after index since."""
        lat = sorted(self.lat[since:])
        if not lat:
            return (0, 0.0, 0.0, 0.0)
        return (len(lat), lat[len(lat) // 2], lat[min(int(len(lat) * 0.99), len(lat) - 1)], lat[-1])

    def commit_window(self, since):
        """(p50, p99, worst) of the commits' own times (autocommit INSERT
        until it returns) of the rows received after index since: the part
        of their latency that is not the push's."""
        ms = sorted(self.commit_ms.get(i, 0.0) for i in self.seen[since:])
        if not ms:
            return (0.0, 0.0, 0.0)
        return (ms[len(ms) // 2], ms[min(int(len(ms) * 0.99), len(ms) - 1)], ms[-1])

    def after_commit_window(self, since):
        """(p50, p99, worst) of each row's delay minus its commit's own time:
        how long after its INSERT returned it arrived (negative: before)."""
        d = sorted(lat - self.commit_ms.get(i, 0.0)
                   for lat, i in zip(self.lat[since:], self.seen[since:]))
        if not d:
            return (0.0, 0.0, 0.0)
        return (d[len(d) // 2], d[min(int(len(d) * 0.99), len(d) - 1)], d[-1])

    async def during(self, run):
        """Run run() in a thread; the canary's window while it ran."""
        since = len(self.lat)
        t = threading.Thread(target=run)
        t.start()
        while t.is_alive():
            await asyncio.sleep(0.05)
        return self.window(since)


def write_bulk(c, rows, size, first=0, pace=0.0, table="bulk"):
    """rows single-row transactions of size bytes each into table."""
    conn = c.connect()
    with conn.cursor() as cur:
        for i in range(first, first + rows):
            cur.execute("INSERT INTO %s VALUES (%%s, repeat('b', %%s))" % table, (i, size))
            if pace:
                time.sleep(pace)
    conn.close()


def raw_subscribe(c, table, rcvbuf=4096):
    """A RawClient (blocking socket, tiny receive buffer) subscribed to table."""
    r = wsutil.RawClient(c.ws_port, rcvbuf=rcvbuf)
    r.send_text(json.dumps({"type": "subscribe", "id": "s", "tables": [table]}))
    reply = json.loads(r.recv_message())
    return r, reply


def trickle_reader(raw, stop, chunk=8192, pause=0.1):
    """Read chunk bytes every pause seconds until stop is set; returns the
    thread and the list the bytes go to (prepend them to raw.buf after)."""
    got = []

    def run():
        raw.s.settimeout(10)
        while not stop.is_set():
            try:
                d = raw.s.recv(chunk)
            except OSError:
                return
            if not d:
                return
            got.append(d)
            time.sleep(pause)

    t = threading.Thread(target=run)
    t.start()
    return t, got


def request_flood(raw, n=200000):
    """Send n ping requests without reading a reply."""
    try:
        for i in range(n):
            raw.send_text('{"type":"ping","id":%d}' % i)
    except OSError:
        pass
