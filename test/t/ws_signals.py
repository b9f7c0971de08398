#!/usr/bin/python3
"""Integration test: the worker under signals.

SIGHUP reloads pgsync.heartbeat_interval; SIGTERM (pg_terminate_backend)
makes the worker tell clients it is stopping and exit, and the postmaster
starts it again; kill -9 of the worker makes the postmaster restart the
whole cluster, after which the worker is back and serving, resuming from
its slot.

A transaction left open after a record whose end is not flushed (the WAL
writer flushes whole pages; nobody flushes the rest until the next commit)
neither stops the network loop nor keeps a fast shutdown waiting: the
WAL writer stops early in a fast shutdown, and the worker used to wait
for that WAL inside PostgreSQL's page reader, the postmaster for the
worker (the server hung; gapless.py seed 777021970).
"""
import asyncio
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import websockets  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, subscribe  # noqa: E402

T = Checks()


async def heartbeat_gap(ws, n=3, timeout=5):
    """Mean gap between the next n heartbeats."""
    times = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(times) < n and loop.time() < deadline:
        m = json.loads(await asyncio.wait_for(ws.recv(), deadline - loop.time()))
        if isinstance(m, dict) and m.get("type") == "heartbeat":
            times.append(loop.time())
    if len(times) < n:
        return None
    return (times[-1] - times[0]) / (n - 1)


async def serving(c, rowid):
    ws = await wsutil.connect(c)
    r = await subscribe(ws, ["public.t"])
    c.sql("INSERT INTO t VALUES (%d)" % rowid)
    g = await collect(ws, lambda g: commits(g) >= 1)
    await ws.close()
    return r.get("type") == "ok" and any(m[0] == "I" and m[3] == [rowid] for m in g)


async def main(c):
    c.sql("CREATE TABLE t(id int PRIMARY KEY)")

    # SIGHUP: heartbeat interval 1s -> 200ms (heartbeats go to subscribed clients)
    ws = await wsutil.connect(c)
    await subscribe(ws, ["public.t"])
    m = json.loads(await asyncio.wait_for(ws.recv(), 3))
    T.check("heartbeat message", m.get("type") == "heartbeat" and "/" in m.get("lsn", ""), m)
    gap = await heartbeat_gap(ws, 2)
    T.check("heartbeat every ~1 s (%.2f)" % (gap or -1), gap and 0.7 < gap < 1.5)
    c.sql("ALTER SYSTEM SET pgsync.heartbeat_interval = '200ms'")
    c.sql("SELECT pg_reload_conf()")
    await wsutil.quiet(ws, 1.2)     # drain heartbeats buffered meanwhile
    gap = await heartbeat_gap(ws, 4)
    T.check("after SIGHUP heartbeat every ~200 ms (%.2f)" % (gap or -1), gap and gap < 0.5)
    pid = c.worker_pid()
    T.check("SIGHUP did not restart the worker", pid is not None)

    # SIGTERM: clients told, worker restarted by the postmaster
    r = await subscribe(ws, ["public.t"])
    c.sql("SELECT pg_terminate_backend(%d)" % pid)
    err, closed = None, False
    try:
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if isinstance(m, dict) and m.get("type") == "error":
                err = m
    except websockets.ConnectionClosed:
        closed = True
    except asyncio.TimeoutError:
        pass
    T.check("SIGTERM: client gets shutting_down", err and err.get("code") == "shutting_down", err)
    T.check("SIGTERM: client connection closed", closed)
    new = c.wait_new_worker(pid)
    T.check("SIGTERM: worker restarted by the postmaster (pid %s -> %s)" % (pid, new), new)
    T.check("SIGTERM: serving again", await serving(c, 1))

    # changes committed while no worker runs are not lost: resumed from the slot
    pid = c.worker_pid()
    ws = await wsutil.connect(c)
    await subscribe(ws, ["public.t"])
    os.kill(pid, signal.SIGKILL)
    try:
        await asyncio.wait_for(ws.recv(), 5)
    except (websockets.ConnectionClosed, asyncio.TimeoutError):
        pass
    new = c.wait_new_worker(pid, timeout=60)
    T.check("kill -9: worker back after the crash restart (pid %s -> %s)" % (pid, new), new)
    T.check("kill -9: serving again", await serving(c, 2))
    st = c.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgsync'")[0][0]
    T.check("kill -9: slot reused, not recreated", st == 1)
    T.check("no unexpected crash besides the kill -9",
            c.log().count("terminated by signal") == 1, c.log()[-2000:])

    await unflushed_record(c)


def lsn(cluster, what):
    return wsutil.lsn_value(cluster.sql("SELECT %s()::text" % what)[0][0])


async def unflushed_record(c):
    """A transactional logical message of 300 kB in a transaction left open:
    one record across many WAL pages, the last of them not flushed."""
    ws = await wsutil.connect(c)
    await subscribe(ws, ["public.t"])
    held = c.connect(autocommit=False)
    cur = held.cursor()
    start = lsn(c, "pg_current_wal_insert_lsn")
    cur.execute("SELECT pg_logical_emit_message(true, 'pgsync-test', repeat('x', 300000))")
    end = lsn(c, "pg_current_wal_insert_lsn")
    deadline = time.time() + 5
    while lsn(c, "pg_current_wal_flush_lsn") <= start and time.time() < deadline:
        time.sleep(0.05)
    T.check("open transaction: the WAL writer flushed the first pages of its record",
            lsn(c, "pg_current_wal_flush_lsn") > start)
    await asyncio.sleep(1.0)    # the worker has reached the record since

    t0 = time.time()
    try:
        other = await asyncio.wait_for(wsutil.connect(c), 3)
        r = await asyncio.wait_for(subscribe(other, ["public.t"]), 3)
    except asyncio.TimeoutError:
        r = {"error": "no answer in 3 s: the network loop is stopped"}
    took = time.time() - t0
    if not T.check("open transaction: a new client is served (%.3f s)" % took,
                   r.get("type") == "ok" and took < 2, r):
        return
    c.sql("SET synchronous_commit = off; INSERT INTO t VALUES (3)")
    g = await collect(other, lambda g: commits(g) >= 1, timeout=3)
    T.check("open transaction: an asynchronous commit after it is pushed",
            any(m[0] == "I" and m[3] == [3] for m in g), g)
    T.check("open transaction: its record was flushed (by the worker)",
            lsn(c, "pg_current_wal_flush_lsn") >= end)
    await other.close()
    await ws.close()

    # a fast shutdown: the held transaction is aborted, the WAL writer stops
    cur.execute("SELECT pg_logical_emit_message(true, 'pgsync-test', repeat('y', 300000))")
    pid = c.worker_pid()
    t0 = time.time()
    r = c.pg_ctl("stop", "-m", "fast", "-w", "-t", "30")
    took = time.time() - t0
    T.check("fast shutdown during an unflushed record: stopped in %.1f s" % took,
            r.returncode == 0, r.stdout + r.stderr)
    if r.returncode != 0:
        c.pg_ctl("stop", "-m", "immediate", "-w")
    held.close()
    T.check("fast shutdown: the worker said it stopped",
            ("[%d] LOG:  pgsync: worker stopping" % pid) in c.log())
    c.pg_ctl("start", "-w", "-t", "60", "-l", c.log_path())
    c.wait_worker_ready()
    T.check("after the fast shutdown: serving again", await serving(c, 4))


def run():
    return run_worker_test(main, T, ())


if __name__ == "__main__":
    sys.exit(run())
