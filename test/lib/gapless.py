"""test/lib/gapless.py: the gapless-delivery checker.

Proves that every WebSocket client of the pgsync worker applies every
committed transaction of its subscription exactly once, in commit order,
never split, while clients drop their connections at random points
(mid-transaction too) and resume from their last complete transaction, and
while the worker is SIGKILLed (crash restart of the cluster) and the
cluster is restarted with `pg_ctl restart -m immediate`.

The reference.  A second logical slot with the pgsync plugin, created
before anything is written, is read at the end with
pg_logical_slot_peek_changes(..., 'format', 'compact'): it is exactly what
was committed, in commit order, with the very bytes the worker sends (the
same plugin, same options), whatever the crashes did to the writers'
view of which COMMIT went through.  It is only peeked, never consumed, so
a crash cannot make it rewind and repeat.  (An audit trigger table would
need its own ordering and could not tell an interrupted COMMIT that went
through from one that did not; the slot does both by construction.)
Each client's expected stream is the reference filtered by its
subscription (tables, ops, row filter, evaluated here on the plugin's
values), transactions with nothing left being left out.

What a client keeps.  Per applied transaction (applied only at its C):
the commit LSN, its number of changes and a digest of the changes' exact
bytes.  The check is then list equality with the expected stream:
no gap, no duplicate, no reordering, no split, no alteration.  Relation
messages are not compared (they are per connection), but every change
must follow an R of its relation on the same connection.

Usage: run(Options(...)) -> Result; test/t/gapless.py and bench/gapless.
"""
import asyncio
import bisect
import fnmatch
import hashlib
import json
import os
import random
import signal
import threading
import time

import psycopg2
import websockets

from cluster import Cluster

REF_SLOT = "gapless_ref"
ROLLBACK_MARK = "RB!"          # in every value written by a rolled-back (sub)transaction
TABLES = ("gl_a", "gl_b", "gl_c")

SCHEMA = """
CREATE TABLE gl_a(id int PRIMARY KEY, grp int NOT NULL, val text);
CREATE TABLE gl_b(id int PRIMARY KEY, grp int NOT NULL, amount numeric(12,2), note text);
ALTER TABLE gl_b REPLICA IDENTITY FULL;
CREATE TABLE gl_c(id bigint PRIMARY KEY, grp int, payload text);
CREATE TABLE gapless_marker(id serial PRIMARY KEY, note text);
"""

# Subscriptions, given to clients in turn.  Filters are on int columns;
# gl_b has REPLICA IDENTITY FULL so its deletes carry grp, gl_c's do not
# (a filter on grp never passes them: UNKNOWN).
CLIENT_SPECS = [
    {"tables": ["public.gl_a", "public.gl_b", "public.gl_c"]},
    {"tables": ["public.gl_*"]},
    {"tables": ["public.gl_a"], "ops": ["insert", "delete"]},
    {"tables": ["public.gl_b", "gl_c"], "filter": {"col": "grp", "op": "lt", "value": 5}},
    {"tables": ["public.gl_a", "public.gl_c"], "ops": ["insert", "update", "truncate"],
     "filter": {"or": [{"col": "grp", "op": "in", "values": [1, 2]},
                       {"not": {"col": "grp", "op": "gte", "value": 7}}]}},
    {"tables": ["public.gl_c"], "ops": ["update", "delete", "truncate"]},
]

OP_NAMES = {"I": "insert", "U": "update", "D": "delete", "T": "truncate"}


def lsn_int(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def lsn_str(v):
    return "%X/%X" % (v >> 32, v & 0xFFFFFFFF)


class Options:
    def __init__(self, **kw):
        self.changes = 100000       # row changes to commit (approximately; the reference counts)
        self.clients = 5
        self.writers = 4
        self.kills = 3              # SIGKILLs of the worker (crash restarts)
        self.restarts = 1           # pg_ctl restart -m immediate
        self.drops = 6              # voluntary disconnects per client
        self.big_rows = (500, 3000)  # rows of a large transaction
        self.seed = None
        self.hb_resume = 0.5        # how often a reconnect resumes from a later heartbeat LSN
        self.strict_heartbeats = True   # a heartbeat ahead of the stream fails (else a note)
        self.catchup_timeout = 120
        self.verbose = False
        self.extra_conf = ["pgsync.log_segment_size = '256kB'", "pgsync.heartbeat_interval = '200ms'",
                           "max_wal_size = '2GB'"]
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError("unknown option %s" % k)
            setattr(self, k, v)
        if self.seed is None:
            self.seed = random.randrange(1 << 30)


def say(*a):
    print("#", *a, flush=True)


# ---------------------------------------------------------------------------
# Subscriptions: which changes a client gets

class Relations:
    """relid -> (schema.table, columns, key indexes, identity), from R messages."""

    def __init__(self):
        self.rels = {}

    def add(self, m):
        self.rels[m[1]] = ("%s.%s" % (m[2], m[3]), m[4], m[6], m[7])


def pattern_matches(pattern, qualified):
    if "." not in pattern:
        pattern = "*." + pattern
    return fnmatch.fnmatchcase(qualified, pattern)


def eval_filter(f, row):
    """SQL three-valued logic: True, False or None (UNKNOWN).  row maps
    column names to values; a column absent from it (not logged) is UNKNOWN."""
    if "and" in f:
        vals = [eval_filter(x, row) for x in f["and"]]
        return False if False in vals else (True if all(v is True for v in vals) else None)
    if "or" in f:
        vals = [eval_filter(x, row) for x in f["or"]]
        return True if True in vals else (False if all(v is False for v in vals) else None)
    if "not" in f:
        v = eval_filter(f["not"], row)
        return None if v is None else not v
    if f["col"] not in row:
        return None
    v = row[f["col"]]
    op = f["op"]
    if op == "is_null":
        return v is None
    if op == "is_not_null":
        return v is not None
    if v is None:
        return None
    if op == "in":
        return v in f["values"]
    w = f["value"]
    return {"eq": v == w, "neq": v != w, "lt": v < w, "lte": v <= w,
            "gt": v > w, "gte": v >= w}[op]


class Subscription:
    def __init__(self, spec):
        self.spec = spec
        self.ops = set(spec.get("ops") or OP_NAMES.values())
        self.filter = spec.get("filter")
        self.table_cache = {}

    def request(self, rid, resume_lsn):
        req = {"type": "subscribe", "id": rid, "tables": self.spec["tables"]}
        for k in ("ops", "filter"):
            if k in self.spec:
                req[k] = self.spec[k]
        if resume_lsn is not None:
            req["resume_lsn"] = lsn_str(resume_lsn)
        return req

    def has_table(self, rels, relid):
        hit = self.table_cache.get(relid)
        if hit is None:
            name = rels.rels[relid][0]
            hit = self.table_cache[relid] = any(pattern_matches(p, name) for p in self.spec["tables"])
        return hit

    def wants(self, rels, m):
        """Does this subscription get change message m (parsed)?"""
        kind = m[0]
        if OP_NAMES[kind] not in self.ops:
            return False
        if kind == "T":
            return any(self.has_table(rels, r) for r in m[2])
        if not self.has_table(rels, m[1]):
            return False
        if self.filter is None:
            return True
        _, cols, keys, _ = rels.rels[m[1]]
        if kind in ("I", "U"):
            row = dict(zip(cols, m[3]))
            for i in (m[5] if len(m) > 5 else ()):    # unchanged TOAST: UNKNOWN
                row.pop(cols[i], None)
        else:
            row = dict(zip((cols[i] for i in keys), m[3] or ()))
        return eval_filter(self.filter, row) is True


def change_digest():
    return hashlib.blake2b(digest_size=16)


# ---------------------------------------------------------------------------
# The reference: the second slot, peeked at the end

class Reference:
    def __init__(self):
        self.txns = 0
        self.changes = 0
        self.last_lsn = 0
        self.rollback_marks = 0
        self.expected = []      # per client: [(commit lsn, n changes, digest)]


def read_reference(cluster, after_lsn, subs):
    """Peek the reference slot; the expected stream of each subscription."""
    ref = Reference()
    ref.expected = [[] for _ in subs]
    rels = Relations()
    conn = cluster.connect(autocommit=False)
    try:
        cur = conn.cursor("gapless_ref")
        cur.itersize = 20000
        cur.execute("SELECT data FROM pg_logical_slot_peek_changes(%s, NULL, NULL, 'format', 'compact')",
                    (REF_SLOT,))
        lsn, parts = None, None
        for (data,) in cur:
            kind = data[2]
            if kind == "B":
                lsn = lsn_int(json.loads(data)[2])
                parts = [[] for _ in subs]
                ntx = 0
            elif kind == "R":
                rels.add(json.loads(data))
            elif kind == "C":
                if lsn > after_lsn and ntx:
                    ref.txns += 1
                    ref.changes += ntx
                    ref.last_lsn = lsn
                    for i, p in enumerate(parts):
                        if p:
                            h = change_digest()
                            for d in p:
                                h.update(d.encode())
                                h.update(b"\n")
                            ref.expected[i].append((lsn, len(p), h.hexdigest()))
                lsn = None
            elif kind in OP_NAMES and lsn is not None and lsn > after_lsn:
                m = json.loads(data)
                if kind != "T" and rels.rels[m[1]][0].split(".")[1] not in TABLES:
                    continue
                ntx += 1
                if ROLLBACK_MARK in data:
                    ref.rollback_marks += 1
                for i, s in enumerate(subs):
                    if s.wants(rels, m):
                        parts[i].append(data)
        cur.close()
    finally:
        conn.close()
    return ref


# ---------------------------------------------------------------------------
# Writers

class Writers:
    """Threads committing a random mix of transactions until `changes` row
    changes were committed (as far as they know)."""

    def __init__(self, cluster, opts):
        self.cluster = cluster
        self.opts = opts
        self.lock = threading.Lock()
        self.changes = 0
        self.commits = 0
        self.rollbacks = 0
        self.savepoint_rollbacks = 0
        self.errors = 0
        self.fatal = None           # a bug of the harness itself
        self.chaos_over = threading.Event()     # set by Chaos: write until then
        self.stop = False
        self.threads = []

    def start(self):
        for w in range(self.opts.writers):
            t = threading.Thread(target=self.loop, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)

    def done(self):
        return not any(t.is_alive() for t in self.threads)

    def loop(self, w):
        rng = random.Random(self.opts.seed * 1000 + w)
        base = (w + 1) * 10_000_000
        nxt = {t: base for t in TABLES}
        conn = None
        backoff = 0.05
        while not self.stop and (self.changes < self.opts.changes or not self.chaos_over.is_set()):
            try:
                if conn is None:
                    conn = self.cluster.connect(autocommit=False)
                n, kind = self.one(conn, rng, w, base, nxt)
                backoff = 0.05
                with self.lock:
                    if kind == "commit":
                        self.changes += n
                        self.commits += 1
                    elif kind == "rollback":
                        self.rollbacks += 1
                    else:
                        self.changes += n
                        self.commits += 1
                        self.savepoint_rollbacks += 1
            except psycopg2.Error:
                with self.lock:
                    self.errors += 1
                try:
                    if conn is not None:
                        conn.close()
                except psycopg2.Error:
                    pass
                conn = None
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception as e:
                self.fatal = "writer %d: %r" % (w, e)
                raise
        if conn is not None:
            conn.close()

    def one(self, conn, rng, w, base, nxt):
        """One transaction; returns (row changes, commit|rollback|savepoint)."""
        cur = conn.cursor()
        n = 0

        def ins(table, k, mark=""):
            lo = nxt[table]
            nxt[table] += k
            if table == "gl_a":
                cur.execute("INSERT INTO gl_a SELECT g, mod(g, 10), %s || g FROM generate_series(%s, %s) g",
                            (mark + "a", lo, lo + k - 1))
            elif table == "gl_b":
                cur.execute("INSERT INTO gl_b SELECT g, mod(g, 10), mod(g, 1000) / 7.0, %s || md5(g::text) "
                            "FROM generate_series(%s, %s) g", (mark + "b", lo, lo + k - 1))
            else:
                cur.execute("INSERT INTO gl_c SELECT g, CASE WHEN mod(g, 11) = 0 THEN NULL ELSE mod(g, 10) END, "
                            "%s || repeat('x', mod(g, 50)::int) FROM generate_series(%s, %s) g",
                            (mark + "c", lo, lo + k - 1))
            return cur.rowcount

        def rng_range(table, k):
            hi = nxt[table]
            lo = max(base, hi - 20000)
            a = rng.randrange(lo, hi) if hi > lo else lo
            return a, a + k

        def upd(table, k, mark=""):
            a, b = rng_range(table, k)
            col = {"gl_a": "val", "gl_b": "note", "gl_c": "payload"}[table]
            cur.execute("UPDATE %s SET grp = mod(coalesce(grp, 0) + 3, 10), %s = %%s || id "
                        "WHERE id BETWEEN %%s AND %%s" % (table, col), (mark + "u", a, b))
            return cur.rowcount

        def dele(table, k):
            a, b = rng_range(table, k)
            cur.execute("DELETE FROM %s WHERE id BETWEEN %%s AND %%s AND mod(id, 3) <> 1" % table, (a, b))
            return cur.rowcount

        small = lambda: rng.randint(1, 5)  # noqa: E731
        r = rng.random()
        lo, hi = self.opts.big_rows
        if r < 0.015:                                   # large insert
            n += ins(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.025:                                 # large update
            n += upd(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.03:                                  # large delete
            n += dele(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.10:                                  # rollback, sometimes large
            ins(rng.choice(TABLES), rng.choice([small(), small(), rng.randint(lo, hi)]), ROLLBACK_MARK)
            upd(rng.choice(TABLES), small(), ROLLBACK_MARK)
            conn.rollback()
            return 0, "rollback"
        elif r < 0.15:                                  # savepoint rolled back inside a commit
            n += ins(rng.choice(TABLES), small())
            cur.execute("SAVEPOINT s")
            ins(rng.choice(TABLES), small(), ROLLBACK_MARK)
            upd(rng.choice(TABLES), small(), ROLLBACK_MARK)
            cur.execute("ROLLBACK TO SAVEPOINT s")
            n += upd(rng.choice(TABLES), small())
            conn.commit()
            return n, "savepoint"
        elif r < 0.152 and w == 0:                      # rare truncate
            cur.execute("TRUNCATE gl_c")
            n += 1
        else:                                           # small, one or several tables
            for _ in range(rng.randint(1, 4)):
                t = rng.choice(TABLES)
                op = rng.random()
                if op < 0.5:
                    n += ins(t, small())
                elif op < 0.8:
                    n += upd(t, small())
                else:
                    n += dele(t, small())
        conn.commit()
        return n, "commit"


# ---------------------------------------------------------------------------
# Chaos: worker kills and immediate restarts at points of the workload

def wait_serving(cluster, old_pid=None, timeout=120):
    """Wait for a worker (other than old_pid) that streams and listens."""
    pid = cluster.wait_new_worker(old_pid, timeout)
    if not pid:
        raise RuntimeError("worker not back after %ds\n%s" % (timeout, cluster.log()[-3000:]))
    return pid


class Chaos:
    def __init__(self, cluster, writers, opts, rng):
        self.cluster = cluster
        self.writers = writers
        self.events = ["kill"] * opts.kills + ["restart"] * opts.restarts
        rng.shuffle(self.events)
        n = len(self.events)
        self.at = [opts.changes * (i + 1) // (n + 1) for i in range(n)]
        self.kills = 0
        self.restarts = 0
        self.downtime = 0.0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.thread.start()

    def loop(self):
        try:
            self.run_events()
        finally:
            self.writers.chaos_over.set()

    def run_events(self):
        for ev, at in zip(self.events, self.at):
            while self.writers.changes < at and not self.writers.done():
                time.sleep(0.05)
            if self.writers.done():
                return
            t0 = time.time()
            if ev == "kill":
                pid = wait_serving(self.cluster)
                os.kill(pid, signal.SIGKILL)
                self.kills += 1
                wait_serving(self.cluster, pid)
            else:
                self.cluster.pg_ctl("restart", "-m", "immediate", "-w", "-t", "120",
                                    "-l", self.cluster.log_path())
                self.restarts += 1
                wait_serving(self.cluster)
            self.downtime += time.time() - t0
            say("%s %d done at %d changes (%.1fs to serve again)"
                % (ev, self.kills if ev == "kill" else self.restarts, self.writers.changes, time.time() - t0))


# ---------------------------------------------------------------------------
# Clients

class Conn:
    """One connection of a client: where it resumed and how it ended."""

    def __init__(self, num, resume):
        self.num = num
        self.resume = resume
        self.first = None       # first commit LSN applied
        self.last = None        # last commit LSN applied
        self.txns = 0
        self.hb = None          # highest heartbeat LSN received
        self.hb_at = None       # the last applied commit LSN when it came
        self.end = "?"

    def __repr__(self):
        f = lambda v: lsn_str(v) if v is not None else "-"  # noqa: E731
        return "conn#%d resume_lsn=%s applied %d txns [%s .. %s], heartbeat %s (when at %s), ended: %s" % (
            self.num, f(self.resume), self.txns, f(self.first), f(self.last), f(self.hb), f(self.hb_at),
            self.end)


class Client:
    def __init__(self, num, spec, url, start_lsn, opts, rng, state):
        self.num = num
        self.sub = Subscription(spec)
        self.url = url
        self.opts = opts
        self.rng = rng
        self.state = state          # shared: phase, stop, resume supported
        self.applied = []           # (commit lsn, changes, digest)
        self.last = start_lsn       # commit LSN of the last applied transaction
        self.hb = start_lsn         # last heartbeat LSN seen outside a transaction
        self.changes = 0
        self.conns = []
        self.drops = 0
        self.mid_txn_drops = 0
        self.lost = 0               # connections the server side ended
        self.resumes = 0
        self.hb_resumes = 0
        self.heartbeats = 0
        self.slow = 0
        self.violations = []
        self.fatal = None
        self.subscribed = asyncio.Event()
        self.ws = None
        self.drop_in = None         # messages until the next voluntary drop
        self.drop_mode = None

    def name(self):
        return "client %d %s" % (self.num, json.dumps(self.sub.spec, separators=(",", ":")))

    def violation(self, what):
        if len(self.violations) < 20:
            self.violations.append(what)

    def abort(self):
        if self.ws is not None:
            self.ws.transport.abort()

    async def run(self):
        backoff = 0.05
        while not self.state["stop"] and self.fatal is None:
            try:
                ws = await websockets.connect(self.url, subprotocols=["pgsync.v1"],
                                              max_size=None, ping_interval=None,
                                              open_timeout=5, close_timeout=1)
            except Exception:       # refused, reset, timeout, handshake: the server restarts
                await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self.ws = ws
            try:
                await self.session(ws)
            finally:
                self.ws = None
                ws.transport.abort()
                try:
                    await asyncio.wait_for(ws.wait_closed(), 2)
                except Exception:
                    pass
            if not self.state["stop"]:
                await asyncio.sleep(self.rng.uniform(0, 0.3))

    def resume_point(self):
        """Last applied commit, or (sometimes) a later heartbeat LSN."""
        if self.hb > self.last and self.rng.random() < self.opts.hb_resume:
            self.hb_resumes += 1
            return self.hb
        return self.last

    def plan_drop(self):
        """Drop this connection after a random number of messages: at that
        message ("any"), inside a transaction ("mid"), between two
        ("between"), all by an abort, or with a close handshake ("close")."""
        if self.state["resume"] and self.drops < self.opts.drops:
            self.drop_in = self.rng.randint(1, 2 * self.state["drop_every"])
            self.drop_mode = self.rng.choice(["mid", "mid", "between", "any", "close"])
        else:
            self.drop_in = None

    def dropped(self, conn, pending):
        self.drops += 1
        self.drop_in = None
        if pending is not None:
            self.mid_txn_drops += 1
        conn.end = "dropped by the client%s" % (" in transaction %s" % lsn_str(pending[0]) if pending else "")

    async def session(self, ws):
        resume = self.resume_point()
        conn = Conn(len(self.conns) + 1, resume)
        if self.conns:
            self.resumes += 1
        self.conns.append(conn)
        rels = set()
        pending = None              # [lsn, n, digest] of the transaction being received
        sub_id = "s%d" % conn.num
        subscribed = False
        try:
            await ws.send(json.dumps(self.sub.request(sub_id, resume)))
            self.plan_drop()
            while True:
                s = await ws.recv()
                if self.drop_in is not None:
                    self.drop_in -= 1
                    if self.drop_in <= 0 and {"mid": pending is not None,
                                              "between": pending is None}.get(self.drop_mode, True):
                        self.dropped(conn, pending)
                        if self.drop_mode == "close":
                            await ws.close()
                        return
                k = s[2]
                if s[0] == "{":
                    m = json.loads(s)
                    t = m.get("type")
                    if t == "heartbeat":
                        self.heartbeats += 1
                        if not subscribed:
                            continue    # about the connection before its subscription: nothing due
                        h = lsn_int(m["lsn"])
                        if conn.hb is None or h > conn.hb:
                            conn.hb, conn.hb_at = h, self.last
                        if pending is None:
                            self.hb = max(self.hb, lsn_int(m["lsn"]))
                    elif t == "ok" and m.get("id") == sub_id:
                        subscribed = True
                        self.subscribed.set()
                    elif t == "error":
                        code = m.get("code")
                        if code == "slow_consumer":
                            self.slow += 1
                        elif code == "resume_too_old":
                            self.fatal = "resume_too_old: %s" % s
                        elif m.get("id") == sub_id:
                            self.fatal = "subscribe refused: %s" % s
                        elif code != "shutting_down":
                            self.violation("conn#%d: error %s" % (conn.num, s))
                        conn.end = "error %s" % code
                    continue
                if k == "B":
                    if pending is not None:
                        self.violation("conn#%d: B %s inside transaction %s"
                                       % (conn.num, s, lsn_str(pending[0])))
                    pending = [lsn_int(json.loads(s)[2]), 0, change_digest()]
                elif k == "R":
                    rels.add(int(s[5:s.index(",", 5)]))
                elif k == "C":
                    m = json.loads(s)
                    lsn = lsn_int(m[2])
                    if pending is None or pending[0] != lsn:
                        self.violation("conn#%d: C %s without its B" % (conn.num, s))
                        pending = None
                        continue
                    if lsn <= self.last:
                        self.violation("conn#%d (resumed from %s): transaction %s not after the last applied %s"
                                       % (conn.num, lsn_str(resume), m[2], lsn_str(self.last)))
                    self.applied.append((lsn, pending[1], pending[2].hexdigest()))
                    self.changes += pending[1]
                    self.last = lsn
                    self.hb = max(self.hb, lsn)
                    conn.txns += 1
                    conn.last = lsn
                    if conn.first is None:
                        conn.first = lsn
                    pending = None
                elif k in OP_NAMES:
                    if pending is None:
                        self.violation("conn#%d: change outside a transaction: %s" % (conn.num, s[:200]))
                        continue
                    if k != "T":
                        relid = int(s[5:s.index(",", 5)])
                        if relid not in rels:
                            self.violation("conn#%d: change of relation %d before its R (txn %s)"
                                           % (conn.num, relid, lsn_str(pending[0])))
                            rels.add(relid)
                    if ROLLBACK_MARK in s:
                        self.violation("conn#%d: rolled-back change delivered: %s" % (conn.num, s[:200]))
                    pending[1] += 1
                    pending[2].update(s.encode())
                    pending[2].update(b"\n")
        except websockets.ConnectionClosed:
            if self.state["stop"]:
                conn.end = "stopped"
            else:
                self.lost += 1
                if conn.end == "?":
                    conn.end = "closed by the server%s" % (" in transaction %s" % lsn_str(pending[0])
                                                           if pending else "")


# ---------------------------------------------------------------------------
# Comparison

def compare(expected, got, conns):
    """Problems (strings) between the expected and applied streams."""
    if expected == got:
        return []
    problems = []
    exp = {e[0]: e for e in expected}
    seen = {}
    for i, g in enumerate(got):
        if g[0] in seen:
            problems.append("duplicate: transaction %s applied twice (positions %d and %d)"
                            % (lsn_str(g[0]), seen[g[0]], i))
        seen[g[0]] = i
        if i and g[0] <= got[i - 1][0]:
            problems.append("out of order: %s applied after %s" % (lsn_str(g[0]), lsn_str(got[i - 1][0])))
        e = exp.get(g[0])
        if e is None:
            problems.append("unexpected transaction %s (%d changes): not in the reference for this subscription"
                            % (lsn_str(g[0]), g[1]))
        elif e != g:
            problems.append("transaction %s differs: expected %d changes (digest %s), got %d (digest %s)"
                            % (lsn_str(g[0]), e[1], e[2][:8], g[1], g[2][:8]))
    got_lsns = sorted(seen)
    missing = [e for e in expected if e[0] not in seen]
    for e in missing[:10]:
        j = bisect.bisect_left(got_lsns, e[0])
        before = lsn_str(got_lsns[j - 1]) if j else "-"
        after = lsn_str(got_lsns[j]) if j < len(got_lsns) else "-"
        # the connections that were positioned before it and went past it (or ended)
        near = [c for c in conns if c.resume is not None and c.resume < e[0]
                and (c.last is None or c.last >= e[0])]
        problems.append("gap: transaction %s (%d changes) never applied; applied before it: %s, after it: %s;"
                        " connections around it: %s" % (lsn_str(e[0]), e[1], before, after,
                                                         "; ".join(map(repr, near[-3:])) or "-"))
    if len(missing) > 10:
        problems.append("... %d transactions missing in all" % len(missing))
    if not problems:
        problems.append("streams differ (expected %d transactions, got %d)" % (len(expected), len(got)))
    return problems


def heartbeat_problems(expected, conns):
    """A heartbeat H promises every transaction up to H was delivered: on
    each connection, no expected transaction may lie between the last one
    applied before the highest heartbeat and that heartbeat."""
    lsns = [e[0] for e in expected]
    out = []
    for c in conns:
        if c.hb is None or c.hb <= c.hb_at:
            continue
        lo = bisect.bisect_right(lsns, c.hb_at)
        hi = bisect.bisect_right(lsns, c.hb)
        if hi > lo:
            out.append("heartbeat %s on conn#%d (resumed from %s) came when the last applied transaction was %s:"
                       " %d expected transactions in between (%s .. %s) were not delivered before it"
                       % (lsn_str(c.hb), c.num, lsn_str(c.resume), lsn_str(c.hb_at), hi - lo,
                          lsn_str(lsns[lo]), lsn_str(lsns[hi - 1])))
    return out


# ---------------------------------------------------------------------------
# The run

class Result:
    pass


def probe_resume(cluster, after_lsn, marker_lsn):
    """Does the server honour resume_lsn?  Resume a subscription of the
    marker table from after_lsn: the marker transaction must be replayed."""
    async def go():
        ws = await websockets.connect(cluster.ws_url(), subprotocols=["pgsync.v1"], ping_interval=None)
        try:
            await ws.send(json.dumps({"type": "subscribe", "id": "p", "tables": ["public.gapless_marker"],
                                      "resume_lsn": lsn_str(after_lsn)}))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 3
            reply = None
            while loop.time() < deadline:
                try:
                    s = await asyncio.wait_for(ws.recv(), deadline - loop.time())
                except asyncio.TimeoutError:
                    break
                m = json.loads(s)
                if isinstance(m, dict) and m.get("id") == "p":
                    reply = m
                    if m.get("type") == "error":
                        return False, "subscribe with resume_lsn refused: %s" % s
                if isinstance(m, list) and m[0] == "C" and lsn_int(m[2]) == marker_lsn:
                    return True, "replayed %s" % m[2]
            return False, "resume_lsn ignored (reply %s, marker transaction not replayed)" % reply
        finally:
            await ws.close()
    return asyncio.run(go())


def commit_marker(cluster, note):
    """Insert a marker row; its commit LSN, read back from the reference slot."""
    cluster.sql("INSERT INTO gapless_marker(note) VALUES (%s)", (note,))
    rows = cluster.sql("SELECT data FROM pg_logical_slot_peek_changes(%s, NULL, NULL, 'format', 'compact')",
                       (REF_SLOT,))
    b = [json.loads(r[0]) for r in rows if r[0].startswith('["B"')]
    return lsn_int(b[-1][2])


def wait_logged(cluster, lsn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = cluster.sql("SELECT log_last_lsn FROM pgsync.status")
        if r and r[0][0] and lsn_int(r[0][0]) >= lsn:
            return
        time.sleep(0.1)
    raise RuntimeError("worker log did not reach %s" % lsn_str(lsn))


def run(opts):
    rng = random.Random(opts.seed)
    say("seed %d; %d changes, %d clients, %d writers, %d kills, %d restarts, %d drops per client"
        % (opts.seed, opts.changes, opts.clients, opts.writers, opts.kills, opts.restarts, opts.drops))
    res = Result()
    res.opts = opts
    cluster = Cluster(extra_conf=opts.extra_conf).start()
    res.cluster_log_tail = ""
    t_start = time.time()
    try:
        cluster.wait_worker_ready()
        cluster.create_extension()
        cluster.sql(SCHEMA)
        cluster.sql("SELECT pg_create_logical_replication_slot(%s, 'pgsync')", (REF_SLOT,))
        first = commit_marker(cluster, "before")
        start = commit_marker(cluster, "start")
        wait_logged(cluster, start)
        res.resume_supported, res.resume_probe = probe_resume(cluster, first, start)
        say("resume probe: %s" % res.resume_probe)
        if not res.resume_supported:
            say("server does not support resume: live push only (no drops, no kills, no restarts)")
            opts.kills = opts.restarts = opts.drops = 0
        res.start_lsn = start
        asyncio.run(orchestrate(cluster, opts, rng, res, start))
        res.elapsed = time.time() - t_start
        res.crashes = cluster.log().count("terminated by signal 9")
        res.cluster_log_tail = cluster.log()[-3000:]
    finally:
        cluster.stop()
    return res


def quiet_aborted_handshakes(loop, context):
    """websockets leaves the tasks of a handshake cut by a server crash
    pending; their "Task was destroyed" reports are noise here."""
    if "Task was destroyed" in context.get("message", ""):
        return
    loop.default_exception_handler(context)


async def orchestrate(cluster, opts, rng, res, start):
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_aborted_handshakes)
    # opts.drops voluntary drops per client, spread over about half the changes
    state = {"stop": False, "phase": "run", "resume": res.resume_supported,
             "drop_every": max(50, opts.changes // 2 // (opts.drops + 1))}
    clients = [Client(i + 1, CLIENT_SPECS[i % len(CLIENT_SPECS)], cluster.ws_url(), start, opts,
                      random.Random(rng.random()), state) for i in range(opts.clients)]
    tasks = [asyncio.ensure_future(c.run()) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.subscribed.wait() for c in clients)), 30)

    writers = Writers(cluster, opts)
    chaos = Chaos(cluster, writers, opts, rng)
    t0 = time.time()
    writers.start()
    chaos.start()
    last_report = time.time()
    while not writers.done():
        await asyncio.sleep(0.2)
        if time.time() - last_report > 10:
            last_report = time.time()
            say("%.0fs: %d changes committed; clients applied %s" % (
                time.time() - t0, writers.changes, [c.changes for c in clients]))
    await loop.run_in_executor(None, chaos.thread.join)
    res.write_time = time.time() - t0
    state["phase"] = "catchup"
    say("writers done in %.1fs: %d changes in %d commits, %d rollbacks, %d savepoint rollbacks, %d errors"
        % (res.write_time, writers.changes, writers.commits, writers.rollbacks,
           writers.savepoint_rollbacks, writers.errors))
    ref = await loop.run_in_executor(None, read_reference, cluster, start, [c.sub for c in clients])
    say("reference: %d transactions, %d changes, last commit %s"
        % (ref.txns, ref.changes, lsn_str(ref.last_lsn)))

    deadline = time.time() + opts.catchup_timeout
    while time.time() < deadline:
        if all(c.fatal or not exp or c.last >= exp[-1][0] for c, exp in zip(clients, ref.expected)):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)        # anything extra (a duplicate at the tail) arrives meanwhile
    res.catchup_time = time.time() - t0 - res.write_time
    state["stop"] = True
    for c in clients:
        c.abort()
    await asyncio.gather(*tasks, return_exceptions=True)

    res.ref = ref
    res.writers = writers
    res.chaos = chaos
    res.clients = []
    for c, exp in zip(clients, ref.expected):
        c.problems = ([c.fatal] if c.fatal else []) + c.violations + compare(exp, c.applied, c.conns)
        c.hb_problems = heartbeat_problems(exp, c.conns)
        if opts.strict_heartbeats:
            c.problems += c.hb_problems
        c.expected_txns = len(exp)
        c.expected_changes = sum(e[1] for e in exp)
        res.clients.append(c)
