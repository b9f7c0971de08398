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
import json
import random
import time

import websockets

from cluster import Cluster

from gapless_model import *  # noqa: F401,F403
from gapless_load import Chaos, Writers


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
