#!/usr/bin/python3
"""Integration test: every change is described by the catalog as of its LSN,
across ALTER TABLE, subscriptions checked while decoding lags, and kills.

The worker does catalog work of its own between decoding passes (subscribe
checks open the table to compile row filters): that is catalog access as
of *now*, while decoding may still be behind, before or after an ALTER
TABLE.  The reduced scenario makes decoding lag deterministically: the
worker is stopped (SIGSTOP), a large rolled-back transaction gives it
several passes of WAL to read, then changes and ALTERs are committed and a
subscribe with a row filter is sent; the worker is let go (SIGCONT) and
handles the subscribe between two passes, before it decodes the changes.

  phase 1 (catalog from the future): changes under 5 columns, then ADD
    COLUMN extra2; the changes must not come with 6 values.
  phase 2 (catalog from the past): REPLICA IDENTITY FULL and a column
    extra; changes; then DROP COLUMN extra and back to DEFAULT; those
    changes must keep extra's value and their full old rows.
  kill -9 of the worker (the cluster restarts), then
  phase 3 on the new worker, once it has caught up: changes under DEFAULT,
    then FULL and ADD COLUMN extra3 (the changes must not come as FULL
    with 7 values, nor a delete's key as a whole row of NULLs).
  phase 4: a subscribe whose filter names a column the table has now,
    checked while decoding is behind its ADD COLUMN (after decoding has
    opened the table as of the past): it must be accepted.

Truth: a pgoutput slot created before everything, peeked at the end: for
each change (by LSN) its relation's columns and identity, its values, and
whether the old row is the key ('K') or the whole row ('O').  Checked for
live clients (phases 1-2 on the first worker, 3 on the second) and for a
client resuming from the change log after the kill (all phases).
"""
import asyncio
import json
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import subscribe  # noqa: E402

T = Checks()

# rows of a rolled-back insert: WAL for several 20 ms decoding passes
BACKLOG_ROWS = int(os.environ.get("ALTER_KILL_BACKLOG_ROWS", "200000"))
IDENT = {"d": "default", "f": "full", "n": "nothing", "i": "index"}


# ---------------------------------------------------------------- pgoutput

class Buf:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, fmt):
        v = struct.unpack_from("!" + fmt, self.b, self.i)
        self.i += struct.calcsize("!" + fmt)
        return v[0]

    def byte(self):
        c = self.b[self.i:self.i + 1].decode()
        self.i += 1
        return c

    def cstr(self):
        j = self.b.index(b"\0", self.i)
        s = self.b[self.i:j].decode()
        self.i = j + 1
        return s

    def tuple(self):
        vals = []
        for _ in range(self.take("h")):
            k = self.byte()
            if k == "n":
                vals.append(None)
            elif k == "u":
                vals.append("<unchanged toast>")
            else:
                n = self.take("i")
                vals.append(self.b[self.i:self.i + n].decode())
                self.i += n
        return vals


def truth_from_pgoutput(rows):
    """{change lsn text: {op, relid, cols, ident, keys, new, old_kind, old}}"""
    rels, out = {}, {}
    for lsn, data in rows:
        b = Buf(bytes(data))
        kind = b.byte()
        if kind == "R":
            relid = b.take("I")
            b.cstr()
            b.cstr()
            ident = chr(b.take("B"))
            cols, keys = [], []
            for i in range(b.take("h")):
                flags = b.take("B")
                cols.append(b.cstr())
                b.take("I")
                b.take("i")
                if flags & 1:
                    keys.append(i)
            rels[relid] = (cols, IDENT.get(ident, ident), keys)
        elif kind in ("I", "U", "D"):
            relid = b.take("I")
            cols, ident, keys = rels[relid]
            ch = {"op": kind, "relid": relid, "cols": cols, "ident": ident,
                  "keys": keys, "new": None, "old_kind": None, "old": None}
            k = b.byte()
            if k in ("K", "O"):
                ch["old_kind"], ch["old"] = k, b.tuple()
                k = b.byte() if kind == "U" else None
            if k == "N":
                ch["new"] = b.tuple()
            out[lsn] = ch
    return out


# ---------------------------------------------------------------- clients

def norm(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "t" if v else "f"
    return str(v)


def compare(name, msgs, truth, want_lsns):
    """Check every change of msgs (a client's stream) against the truth at
    its LSN, with the R message in effect on that client; and that the
    client got the changes of want_lsns."""
    rel = {}
    bad, seen = [], set()
    for m in msgs:
        if not isinstance(m, list):
            continue
        if m[0] == "R":
            rel[m[1]] = m
            continue
        if m[0] not in ("I", "U", "D"):
            continue
        lsn = m[2]
        seen.add(lsn)
        t = truth.get(lsn)
        r = rel.get(m[1])
        if t is None or r is None:
            bad.append((lsn, "no truth or no R", m))
            continue
        errs = []
        if r[4] != t["cols"]:
            errs.append("R columns %s, catalog %s" % (r[4], t["cols"]))
        if r[7] != t["ident"]:
            errs.append("R identity %s, catalog %s" % (r[7], t["ident"]))
        new = m[3] if m[0] != "D" else None
        if m[0] != "D":
            if len(new) != len(r[4]):
                errs.append("%d values under an R of %d columns" % (len(new), len(r[4])))
            if [norm(v) for v in new] != t["new"]:
                errs.append("new %s, truth %s" % (new, t["new"]))
        old = m[3] if m[0] == "D" else (m[4] if len(m) > 4 else None)
        if t["old_kind"] is None:
            want_old = None
        elif t["old_kind"] == "O":
            want_old = t["old"]
        else:
            want_old = [t["old"][k] for k in t["keys"]]
        if (None if old is None else [norm(v) for v in old]) != want_old:
            errs.append("old %s, truth %s %s" % (old, t["old_kind"], want_old))
        if errs:
            bad.append((lsn, m[0], "; ".join(errs)))
    T.check("%s: every change matches the catalog as of its LSN (%d changes)"
            % (name, len(seen)), not bad, "\n    " + "\n    ".join(map(str, bad[:12])))
    missing = sorted(set(want_lsns) - seen)
    T.check("%s: got every change expected (%d)" % (name, len(want_lsns)),
            not missing, missing[:10])


class Reader:
    """Receives a client's messages in the background."""

    def __init__(self, ws):
        self.ws, self.msgs, self.closed = ws, [], False
        self.task = asyncio.ensure_future(self.run())

    async def run(self):
        try:
            async for raw in self.ws:
                m = json.loads(raw)
                if isinstance(m, dict) and m.get("type") == "heartbeat":
                    continue
                self.msgs.append(m)
        except Exception:
            pass
        self.closed = True

    def has_insert(self, id_):
        return any(isinstance(m, list) and m[0] == "I" and m[3][0] == id_ for m in self.msgs)

    async def wait_insert(self, id_, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.has_insert(id_):
                return True
            await asyncio.sleep(0.02)
        return False

    def replies(self):
        return [m for m in self.msgs if isinstance(m, dict)]


async def stalled(c, pid, statements, flt, rid, before=()):
    """Run statements while the worker is stopped, behind a large
    rolled-back transaction (and after the statements before), with a
    filtered subscribe sent meanwhile; then let the worker go.  Returns
    the connection and the subscribe's reply."""
    ws = await wsutil.connect(c)
    os.kill(pid, signal.SIGSTOP)
    try:
        conn = c.connect()
        cur = conn.cursor()
        for s in before:
            cur.execute(s)
        cur.execute("BEGIN")
        cur.execute("INSERT INTO junk SELECT g FROM generate_series(1, %d) g" % BACKLOG_ROWS)
        cur.execute("ROLLBACK")
        for s in statements:
            cur.execute(s)
        conn.close()
        await ws.send(json.dumps({"type": "subscribe", "id": rid, "tables": ["public.t"],
                                  "filter": flt}))
        await asyncio.sleep(0.1)
    finally:
        os.kill(pid, signal.SIGCONT)
    reply = None
    deadline = time.time() + 20
    while reply is None and time.time() < deadline:
        m = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if isinstance(m, dict) and m.get("type") != "heartbeat":
            reply = m
    return ws, reply


def ins(i, col=None, value=None):
    """Insert row i (and a value for column col)."""
    return "INSERT INTO t(id, wseq, grp, val, note%s) VALUES (%d, %d, %d, %d, 'n%d'%s)" % (
        ", " + col if col else "", i, i, i % 3, i * 10, i, ", %s" % value if col else "")


async def main(c):
    c.sql("CREATE TABLE t(id int PRIMARY KEY, wseq int, grp int, val int, note text)")
    c.sql("CREATE TABLE junk(x int)")
    c.sql("CREATE PUBLICATION p FOR TABLE t")
    c.sql("SELECT pg_create_logical_replication_slot('ref', 'pgoutput')")
    t0 = time.time()

    live = await wsutil.connect(c)
    r = await subscribe(live, ["public.t"], "live")
    T.check("live client subscribed", r.get("type") == "ok", r)
    L = Reader(live)
    c.sql(ins(0))
    T.check("live: first insert", await L.wait_insert(0))
    start = [m for m in L.msgs if isinstance(m, list) and m[0] == "B"][0][2]
    pid = c.worker_pid()
    any_row = {"col": "id", "op": "gt", "value": -1}

    # phase 1: 5 columns, then ADD COLUMN extra2, all decoded after a
    # subscribe check that read the table as of now
    ws1, r = await stalled(c, pid, [
        ins(1), ins(2), ins(3),
        "UPDATE t SET val = val + 1 WHERE id = 1",
        "UPDATE t SET id = 30 WHERE id = 3",
        "DELETE FROM t WHERE id = 2",
        "ALTER TABLE t ADD COLUMN extra2 int",
        ins(4, "extra2", 44),
    ], any_row, "p1")
    T.check("phase 1: filtered subscribe ok", r and r.get("type") == "ok", r)
    T.check("phase 1: live client got it all", await L.wait_insert(4))
    await ws1.close()

    # phase 2: FULL and a column extra in effect, changes, then back
    c.sql("ALTER TABLE t ADD COLUMN extra int")
    c.sql("ALTER TABLE t REPLICA IDENTITY FULL")
    ws2, r = await stalled(c, pid, [
        ins(10, "extra", 100), ins(11, "extra", 110), ins(12, "extra", 120),
        "UPDATE t SET val = val + 1 WHERE id = 10",
        "DELETE FROM t WHERE id = 11",
        "ALTER TABLE t DROP COLUMN extra",
        "ALTER TABLE t REPLICA IDENTITY DEFAULT",
        ins(13),
    ], any_row, "p2")
    T.check("phase 2: filtered subscribe ok", r and r.get("type") == "ok", r)
    T.check("phase 2: live client got it all", await L.wait_insert(13))
    await ws2.close()

    # kill -9: the postmaster restarts the cluster and the worker
    os.kill(pid, signal.SIGKILL)
    pid2 = c.wait_new_worker(pid, 60)
    T.check("worker back after kill -9", pid2 is not None)
    live2 = await wsutil.connect(c)
    r = await subscribe(live2, ["public.t"], "live2")
    T.check("second live client subscribed", r.get("type") == "ok", r)
    L2 = Reader(live2)
    c.sql(ins(25))      # the new worker has caught up with the old WAL
    T.check("second live client: caught up", await L2.wait_insert(25))

    # phase 3 on the new worker: DEFAULT, then FULL and a column extra3
    ws3, r = await stalled(c, pid2, [
        ins(20), ins(21),
        "UPDATE t SET note = 'x' WHERE id = 20",
        "DELETE FROM t WHERE id = 21",
        "ALTER TABLE t REPLICA IDENTITY FULL",
        "ALTER TABLE t ADD COLUMN extra3 text",
        ins(22, "extra3", "'e'"),
        "DELETE FROM t WHERE id = 22",
    ], any_row, "p3")
    T.check("phase 3: filtered subscribe ok", r and r.get("type") == "ok", r)
    T.check("phase 3: live client got it all", await L2.wait_insert(22))
    await ws3.close()

    # phase 4: a filter on a column added while decoding lags behind it,
    # after decoding opened the table as of the past
    ws4, r = await stalled(c, pid2, [
        "ALTER TABLE t ADD COLUMN extra4 int",
    ], {"col": "extra4", "op": "is_null"}, "p4", before=[ins(40)])
    T.check("phase 4: a filter on a column the table has now is accepted",
            r and r.get("type") == "ok", r)
    await ws4.close()
    c.sql(ins(99))
    T.check("live 2: final insert", await L2.wait_insert(99))

    # truth: the pgoutput slot
    rows = c.sql("SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes("
                 "'ref', NULL, NULL, 'proto_version', '1', 'publication_names', 'p')")
    truth = truth_from_pgoutput(rows)

    def row_id(ch):
        return int((ch["new"] or ch["old"])[0])

    # the first worker's live client: everything up to the kill (ids < 20)
    pre = [l for l, ch in truth.items() if 0 < row_id(ch) < 20 or row_id(ch) == 30]
    post = [l for l, ch in truth.items() if 20 <= row_id(ch) < 30 or row_id(ch) > 30]
    compare("live client, first worker", L.msgs, truth, pre)
    compare("live client, after the kill", L2.msgs, truth, post)

    # a client resuming from the log after the kill: every phase
    res = await wsutil.connect(c)
    r = await subscribe(res, ["public.t"], "resume", resume_lsn=start)
    T.check("resume from the log: ok", r.get("type") == "ok", r)
    R = Reader(res)
    T.check("resume: reaches the final insert", await R.wait_insert(99))
    compare("client resuming from the log", R.msgs, truth,
            [l for l, ch in truth.items() if row_id(ch) != 0])
    for ws in (live, live2, res):
        await ws.close()
    print("# %.1f s" % (time.time() - t0))


def run():
    return run_worker_test(main, T, ["pgsync.log_segment_size = '256kB'"])


if __name__ == "__main__":
    sys.exit(run())
