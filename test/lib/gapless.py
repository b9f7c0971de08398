"""test/lib/gapless.py: the gapless-delivery checker (entry point).

Proves that every WebSocket client of the pgsync worker applies every
committed transaction of its subscription exactly once, in commit order,
never split, while clients drop their connections at random points
(mid-transaction too) and resume from their last complete transaction,
while the worker is SIGKILLed (crash restart of the cluster) and the
cluster restarted (-m immediate, -m fast), while tables are ALTERed, and
while the change log is trimmed by retention.

The reference.  A second logical slot with the pgsync plugin, created
before anything is written, is read at the end with
pg_logical_slot_peek_changes(..., 'format', 'compact'): it is exactly what
was committed, in commit order, with the very bytes the worker sends (the
same plugin, same options), whatever the crashes did to the writers'
view of which COMMIT went through.  It is only peeked, never consumed, so
a crash cannot make it rewind and repeat.  Each client's expected stream
is the reference filtered by its subscription (tables, ops, row filter,
evaluated here on the plugin's values with the R in effect), transactions
with nothing left being left out.

The parts.  gapless_model (options, subscriptions, reference),
gapless_load (writers: big and small transactions, rollbacks,
savepoints and savepoint storms, prepared transactions), gapless_chaos
(kills, restarts, ALTERs, hand-over events that catch the joins of long
replays to live push right after a restart), gapless_client (clients
dropping, resuming, rewinding, reloading, several subscriptions on one
connection, snapshots; the checks made as messages arrive), gapless_check
(the verdicts).  This module owns the run: cluster, schema, probe,
orchestration, result.

Usage: run(Options(...)) -> Result; test/t/gapless.py, test/t/gapless_selftest.py
and bench/gapless.
"""
import asyncio
import json
import random
import threading
import time

import websockets

from cluster import Cluster

from gapless_model import *  # noqa: F401,F403
from gapless_load import Writers
from gapless_chaos import Alterer, Chaos
from gapless_client import Client
from gapless_check import caught_up, check_client, crash_problems


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
    say("seed %d; %d changes, %d clients, %d writers, %d kills, %d restarts, %d drops per client%s"
        % (opts.seed, opts.changes, opts.clients, opts.writers, opts.kills, opts.restarts, opts.drops,
           "; SELF-TEST: one resume one transaction early, one one transaction late" if opts.self_test else ""))
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
            opts.kills = opts.restarts = opts.terms = opts.drops = 0
        res.start_lsn = start
        asyncio.run(orchestrate(cluster, opts, rng, res, start))
        res.elapsed = time.time() - t_start
        log = cluster.log()
        res.crashes = log.count("terminated by signal 9")
        res.crash_problems = crash_problems(log, res.chaos.kills)
        res.cluster_log_tail = log[-3000:]
    finally:
        cluster.stop()
    return res


class SlotStats:
    """The worker slot's streaming counters (pg_stat_replication_slots:
    stream_txns, stream_count, stream_bytes), summed over the run.  A crash
    restart resets them: a sample lower than the last starts a new term.
    What was counted after the last sample before a crash is lost, so the
    sums are a lower bound."""

    COLS = ("stream_txns", "stream_count", "stream_bytes")

    def __init__(self, slot):
        self.slot = slot
        self.done = [0, 0, 0]       # sums of the terms before the current one
        self.last = [0, 0, 0]
        self.samples = 0

    def sample(self, cluster):
        r = cluster.sql("SELECT %s FROM pg_stat_replication_slots WHERE slot_name = %%s"
                        % ", ".join(self.COLS), (self.slot,))
        if not r:
            return
        now = [int(v or 0) for v in r[0]]
        if now[0] < self.last[0] or now[1] < self.last[1]:
            self.done = [d + l for d, l in zip(self.done, self.last)]
        self.last = now
        self.samples += 1

    def totals(self):
        return dict(zip(self.COLS, (d + l for d, l in zip(self.done, self.last))))


class CatchupWatch:
    """Counts the connections pgsync.clients shows catching up from the
    change log (lagging clients: their queue filled up, no disconnect), and
    samples the worker slot's streaming counters."""

    def __init__(self, cluster, slot):
        self.cluster = cluster
        self.seen = set()
        self.stats = SlotStats(slot)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                for peer, since in self.cluster.sql(
                        "SELECT peer, connected_since FROM pgsync.clients "
                        "WHERE subscriptions LIKE '%(catching up from the change log)'"):
                    self.seen.add((peer, since))
                self.stats.sample(self.cluster)
            except Exception:       # the server restarts
                pass
            time.sleep(0.1)


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
    state = {"stop": False, "resume": res.resume_supported, "handover": None,
             "drop_every": max(50, opts.changes // 2 // (opts.drops + 1))}
    clients = [Client(i + 1, CLIENT_SPECS[i % len(CLIENT_SPECS)], cluster.ws_url(), start, opts,
                      random.Random(rng.random()), state) for i in range(opts.clients)]
    tasks = [asyncio.ensure_future(c.run()) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.subscribed.wait() for c in clients)), 60)

    writers = Writers(cluster, opts)
    state["writers"] = writers
    alterer = Alterer(cluster, opts, random.Random(rng.random()))
    chaos = Chaos(cluster, writers, alterer, clients, state, opts, rng)
    t0 = time.time()
    watch = CatchupWatch(cluster, opts.setting("pgsync.slot_name") or "pgsync")
    watch.thread.start()
    writers.start()
    alterer.start()
    chaos.start()
    last_report = time.time()
    while not writers.done():
        await asyncio.sleep(0.2)
        if time.time() - last_report > 10:
            last_report = time.time()
            say("%.0fs: %d changes committed; clients applied %s" % (
                time.time() - t0, writers.changes, [c.changes for c in clients]))
    await loop.run_in_executor(None, chaos.thread.join)
    alterer.stop.set()
    if alterer.thread.is_alive():
        await loop.run_in_executor(None, alterer.thread.join)
    res.write_time = time.time() - t0
    say("writers done in %.1fs: %d changes in %d commits, %d rollbacks, %d savepoint rollbacks, "
        "%d savepoint storms, %d prepared (%d rolled back), %d errors; %d ALTERs (%d failed, %d in large "
        "transactions) %s"
        % (res.write_time, writers.changes, writers.commits, writers.rollbacks, writers.savepoint_rollbacks,
           writers.storms, writers.prepared, writers.rollback_prepared, writers.errors, alterer.done,
           alterer.failed, alterer.streamed, sorted(alterer.kinds.items())))
    ref = await loop.run_in_executor(None, read_reference, cluster, start, [c.sub for c in clients])
    say("reference: %d transactions, %d changes, last commit %s"
        % (ref.txns, ref.changes, lsn_str(ref.last_lsn)))
    res.streamed = await loop.run_in_executor(None, read_streamed, cluster,
                                              opts.setting("pgsync.decoding_work_mem") or "2MB")
    say("reference at the worker's decoding memory: " + res.streamed.line())

    deadline = time.time() + opts.catchup_timeout
    while time.time() < deadline:
        if all(caught_up(c, exp) for c, exp in zip(clients, ref.expected)):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)        # anything extra (a duplicate at the tail) arrives meanwhile
    res.catchup_time = time.time() - t0 - res.write_time
    watch.stop.set()
    res.lagging_caught_up = len(watch.seen)
    watch.thread.join()
    watch.stats.sample(cluster)
    res.slot_stats = watch.stats.totals()
    say("worker slot (pg_stat_replication_slots, summed over %d crash restarts, a lower bound): %s"
        % (chaos.kills + chaos.restarts, ", ".join("%s %d" % kv for kv in res.slot_stats.items())))
    state["stop"] = True
    for c in clients:
        c.abort()
    await asyncio.gather(*tasks, return_exceptions=True)

    res.ref = ref
    res.writers = writers
    res.chaos = chaos
    res.alterer = alterer
    res.chaos_error = state.get("chaos_error")
    res.clients = []
    for c, exp in zip(clients, ref.expected):
        found, c.hb_problems = check_client(c, exp, ref)
        c.problems = ([("fatal", c.fatal)] if c.fatal else []) + c.violations + found
        if opts.strict_heartbeats:
            c.problems += c.hb_problems
        if not caught_up(c, exp):
            c.problems.append(("catchup", "not caught up after %ds: at %s, the last expected transaction is %s"
                               % (opts.catchup_timeout, lsn_str(max(c.pos, c.hb)), lsn_str(exp[-1][0]))))
        c.expected_txns = len(exp)
        c.expected_changes = sum(e[1] for e in exp)
        res.clients.append(c)
