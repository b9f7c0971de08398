#!/usr/bin/python3
"""Integration test: initial snapshot over WebSocket, joined to the stream.

Covers: a subscription with "snapshot": true gets the table's current rows
(["S",relid,[values]] between snapshot_begin and snapshot_end), then every
transaction the snapshot did not see; under concurrent writers the rows
plus the applied stream equal the table exactly (nothing missing, nothing
twice); a row filter applies to the rows and the stream; request errors.
"""
import asyncio
import json
import os
import random
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import subscribe  # noqa: E402

T = Checks()


async def read_snapshot(ws, timeout=60):
    """(begin, rows, end) of the snapshot part of the stream."""
    begin, rows = None, []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), deadline - loop.time()))
        if isinstance(m, dict) and m.get("type") == "snapshot_begin":
            begin = m
        elif isinstance(m, dict) and m.get("type") == "snapshot_end":
            return begin, rows, m
        elif isinstance(m, dict) and m.get("type") == "error":
            raise RuntimeError("error during snapshot: %r" % m)
        elif isinstance(m, list) and m[0] == "S":
            rows.append(m[2])


class Replica:
    """A table rebuilt from snapshot rows and applied transactions."""

    def __init__(self, rows):
        self.rows = {r[0]: r for r in rows}
        self.pending = None
        self.last_commit = None

    def apply(self, m):
        if not isinstance(m, list):
            return
        if m[0] == "B":
            self.pending = []
        elif m[0] in ("I", "U", "D"):
            self.pending.append(m)
        elif m[0] == "C":
            for c in self.pending:
                if c[0] == "I":
                    assert c[3][0] not in self.rows, ("insert of a row present", c)
                    self.rows[c[3][0]] = c[3]
                elif c[0] == "U":
                    old = c[4][0] if len(c) > 4 and c[4] else c[3][0]
                    assert old in self.rows, ("update of a missing row", c)
                    del self.rows[old]
                    self.rows[c[3][0]] = c[3]
                else:
                    assert c[3][0] in self.rows, ("delete of a missing row", c)
                    del self.rows[c[3][0]]
            self.pending = None
            self.last_commit = m[2]


def writer(c, stop, seed):
    rnd = random.Random(seed)
    conn = c.connect()
    cur = conn.cursor()
    n = 0
    while not stop.is_set():
        k = rnd.randrange(1, 3000)
        op = rnd.random()
        try:
            if op < 0.4:
                cur.execute("INSERT INTO t VALUES (%s, %s) ON CONFLICT DO NOTHING", (k, n))
            elif op < 0.8:
                cur.execute("UPDATE t SET v = v + 1 WHERE id = %s", (k,))
            else:
                cur.execute("DELETE FROM t WHERE id = %s", (k,))
        except Exception:
            pass
        n += 1
    conn.close()


async def main(c):
    c.sql("CREATE TABLE t(id int PRIMARY KEY, v int)")
    c.sql("INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g")
    c.create_extension()

    # a quiet snapshot, then live changes
    a = await wsutil.connect(c)
    r = await subscribe(a, ["public.t"], "r1", snapshot=True)
    T.check("snapshot subscribe ok", r.get("type") == "ok", r)
    begin, rows, end = await read_snapshot(a)
    T.check("snapshot_begin describes the table",
            begin["relation"]["table"] == "t" and begin["relation"]["columns"] == ["id", "v"], begin)
    T.check("1000 rows, snapshot_end counts them", len(rows) == 1000 and end["rows"] == 1000,
            (len(rows), end))
    c.sql("INSERT INTO t VALUES (5000, 1)")
    got = await wsutil.collect(a, lambda g: wsutil.commits(g) >= 1)
    T.check("then the stream", [m[0] for m in got if m[0] != "R"] == ["B", "I", "C"], got)
    await a.close()

    # a filtered snapshot
    b = await wsutil.connect(c)
    r = await subscribe(b, ["public.t"], "r2", snapshot=True,
                        filter={"col": "id", "op": "lte", "value": 10})
    begin, rows, end = await read_snapshot(b)
    T.check("filtered snapshot: only matching rows", sorted(x[0] for x in rows) == list(range(1, 11)), rows)
    c.sql("INSERT INTO t VALUES (0, 1), (6000, 1)")
    got = await wsutil.collect(b, lambda g: wsutil.commits(g) >= 1)
    T.check("filtered stream", [m[3][0] for m in got if m[0] == "I"] == [0], got)
    await b.close()

    # errors
    d = await wsutil.connect(c)
    r = await subscribe(d, ["public.*"], "r3", snapshot=True)
    T.check("snapshot of a pattern: bad_request", r.get("code") == "bad_request", r)
    r = await subscribe(d, ["public.nope"], "r4", snapshot=True)
    T.check("snapshot of a missing table: unknown_table", r.get("code") == "unknown_table", r)
    r = await subscribe(d, ["public.t"], "r5", snapshot=True, resume_lsn="0/1")
    T.check("snapshot with resume_lsn: bad_request", r.get("code") == "bad_request", r)
    await d.close()

    # consistency under concurrent writers, several times
    for attempt in range(3):
        stop = threading.Event()
        ws = [threading.Thread(target=writer, args=(c, stop, attempt * 10 + i)) for i in range(3)]
        for w in ws:
            w.start()
        await asyncio.sleep(0.3)
        e = await wsutil.connect(c)
        await subscribe(e, ["public.t"], "r6", snapshot=True)
        begin, rows, end = await read_snapshot(e)
        rep = Replica(rows)
        await asyncio.sleep(0.5)
        stop.set()
        for w in ws:
            w.join()
        final = {row[0]: [row[0], row[1]] for row in c.sql("SELECT id, v FROM t")}
        target = c.sql("SELECT pg_current_wal_lsn()::text")[0][0]
        ok = True
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while rep.rows != final and loop.time() < deadline:
                m = json.loads(await asyncio.wait_for(e.recv(), deadline - loop.time()))
                rep.apply(m)
        except AssertionError as ex:
            ok = False
            T.check("attempt %d: applying the stream" % attempt, False, ex)
        except asyncio.TimeoutError:
            pass
        if ok:
            missing = set(final) - set(rep.rows)
            extra = set(rep.rows) - set(final)
            diff = [k for k in final if k in rep.rows and rep.rows[k] != final[k]]
            T.check("attempt %d: snapshot + stream == table (%d rows, snapshot %d; missing %d, extra %d, differ %d)"
                    % (attempt, len(final), len(rows), len(missing), len(extra), len(diff)),
                    rep.rows == final, (target, sorted(missing)[:5], sorted(extra)[:5], diff[:5]))
        await e.close()

    # clients leaving at every stage of a snapshot: nothing left behind
    c.sql("CREATE TABLE big(id int PRIMARY KEY, v text)")
    c.sql("INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g")
    pid = c.worker_pid()
    for delay in (0.0, 0.05, 0.3, 1.0):
        ws = await wsutil.connect(c)
        await ws.send(json.dumps({"type": "subscribe", "id": "x", "tables": ["public.big"],
                                  "snapshot": True}))
        await asyncio.sleep(delay)
        await ws.close()
    await asyncio.sleep(2)
    T.check("clients leaving mid-snapshot: same worker", c.worker_pid() == pid)
    files = os.listdir(os.path.join(c.datadir, "pg_pgsync", "snapshots"))
    T.check("clients leaving mid-snapshot: their files removed", files == [], files)
    ws = await wsutil.connect(c)
    await subscribe(ws, ["public.big"], "r7", snapshot=True)
    begin, rows, end = await read_snapshot(ws)
    T.check("then a whole snapshot: %d rows" % len(rows), len(rows) == 50000)
    await ws.close()

    # five at once with pgsync.max_snapshots = 2: the others wait their turn
    conns = [await wsutil.connect(c) for _ in range(5)]
    for k, w in enumerate(conns):
        await w.send(json.dumps({"type": "subscribe", "id": k, "tables": ["public.big"],
                                 "snapshot": True}))
    results = await asyncio.gather(*(read_snapshot(w) for w in conns))
    T.check("five concurrent snapshots, two exporters at a time: all whole",
            [len(r[1]) for r in results] == [50000] * 5, [len(r[1]) for r in results])
    for w in conns:
        await w.close()


def run():
    return run_worker_test(main, T, ["max_worker_processes = 16", "pgsync.max_snapshots = 2"])


if __name__ == "__main__":
    sys.exit(run())
