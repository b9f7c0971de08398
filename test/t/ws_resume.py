#!/usr/bin/python3
"""Integration test: resume from an LSN through the durable change log.

Covers: a client that disconnects and resumes from the commit LSN of the
last transaction it processed gets every later transaction exactly once, in
order, first from the log then live, with a seamless hand-over; resuming
with a row filter; a replay of many transactions through a small queue; a
resume point older than the log (resume_too_old with oldest_lsn); resume
only in a connection's first subscription; resuming across a crash of the
worker (kill -9) with no gap and no duplicate; the status view's log fields.
"""
import asyncio
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, lsn_value, subscribe, transactions  # noqa: E402

T = Checks()


async def receive_txns(ws, n, timeout=20):
    got = await collect(ws, lambda g: commits(g) >= n, timeout)
    return transactions(got)


async def main(c):
    c.sql("CREATE TABLE t(id int PRIMARY KEY, v int)")
    c.create_extension()

    # a client gets 3 transactions, then goes away
    a = await wsutil.connect(c)
    r = await subscribe(a, ["public.t"])
    T.check("subscribe", r.get("type") == "ok", r)
    for i in range(1, 4):
        c.sql("INSERT INTO t VALUES (%d, 0)" % i)
    first = await receive_txns(a, 3)
    T.check("live: 3 transactions", [ids for _, ids in first] == [[1], [2], [3]], first)
    await a.close()

    # meanwhile, 5 more commits
    for i in range(4, 9):
        c.sql("INSERT INTO t VALUES (%d, 0)" % i)

    # resume after the 2nd: gets 3..8 from the log, then live ones
    resume = first[1][0]
    b = await wsutil.connect(c)
    r = await subscribe(b, ["public.t"], "r2", resume_lsn=resume)
    T.check("resume subscribe replies ok", r.get("type") == "ok", r)
    got = await receive_txns(b, 6)
    T.check("replay: transactions after the resume point, in order, once",
            [ids for _, ids in got] == [[3], [4], [5], [6], [7], [8]], got)
    T.check("replay: commit LSNs increase",
            all(lsn_value(x[0]) < lsn_value(y[0]) for x, y in zip(got, got[1:])))
    c.sql("INSERT INTO t VALUES (9, 0)")
    live = await receive_txns(b, 1)
    T.check("then live, without gap or duplicate", [ids for _, ids in live] == [[9]], live)
    last_b = live[-1][0]

    # resume is only for the first subscription of a connection
    r = await subscribe(b, ["public.t"], "r3", resume_lsn=resume)
    T.check("second subscription with resume_lsn: resume_conflict",
            r.get("code") == "resume_conflict", r)
    await b.close()

    # a bad LSN and one older than the log
    d = await wsutil.connect(c)
    r = await subscribe(d, ["public.t"], "r4", resume_lsn="nonsense")
    T.check("malformed resume_lsn: bad_request", r.get("code") == "bad_request", r)
    r = await subscribe(d, ["public.t"], "r5", resume_lsn="0/1")
    oldest = c.sql("SELECT log_oldest_lsn::text FROM pgsync.status")[0][0]
    T.check("resume point older than the log: resume_too_old with oldest_lsn",
            r.get("code") == "resume_too_old" and r.get("oldest_lsn") == oldest, (r, oldest))
    r = await subscribe(d, ["public.t"], "r6", resume_lsn=oldest)
    T.check("resuming at oldest_lsn works", r.get("type") == "ok", r)
    got = await receive_txns(d, 9)
    T.check("from the oldest point: every transaction", [ids for _, ids in got][:9] ==
            [[i] for i in range(1, 10)], got)
    await d.close()

    # a filtered resume
    e = await wsutil.connect(c)
    r = await subscribe(e, ["public.t"], "r7", resume_lsn=resume,
                        filter={"col": "id", "op": "gt", "value": 6})
    T.check("filtered resume ok", r.get("type") == "ok", r)
    got = await receive_txns(e, 3)
    T.check("filtered replay: only matching rows", [ids for _, ids in got] == [[7], [8], [9]], got)
    await e.close()

    # a long replay through a small queue (pgsync.client_queue_bytes = 64kB)
    c.sql("INSERT INTO t SELECT g, 0 FROM generate_series(1000, 1999) g")   # one big txn
    for k in range(300):
        c.sql("UPDATE t SET v = v + 1 WHERE id = %d" % (1000 + k))
    f = await wsutil.connect(c)
    r = await subscribe(f, ["public.t"], "r8", resume_lsn=last_b)
    got = await receive_txns(f, 301, timeout=60)
    T.check("long replay through a small queue: 301 transactions, 1300 changes",
            len(got) == 301 and sum(len(ids) for _, ids in got) == 1300,
            (len(got), sum(len(ids) for _, ids in got)))
    last_f = got[-1][0]
    await f.close()

    for _ in range(20):         # the status is published every 200 ms
        st = c.sql("SELECT log_bytes > 0, log_last_lsn >= %s::pg_lsn FROM pgsync.status", (last_f,))[0]
        if st == (True, True):
            break
        await asyncio.sleep(0.1)
    T.check("status shows the log", st == (True, True), st)

    # a crash: the worker is killed while commits go on; resume loses nothing
    g = await wsutil.connect(c)
    await subscribe(g, ["public.t"], "r9", resume_lsn=last_f)
    c.sql("INSERT INTO t VALUES (5000, 0)")
    before = await receive_txns(g, 1)
    await g.close()
    pid = c.worker_pid()
    os.kill(pid, signal.SIGKILL)
    new = c.wait_new_worker(pid, 60)
    T.check("worker back after kill -9", new is not None)
    for i in range(5001, 5004):
        c.sql("INSERT INTO t VALUES (%d, 0)" % i)
    h = await wsutil.connect(c)
    r = await subscribe(h, ["public.t"], "r10", resume_lsn=before[-1][0])
    T.check("resume after the crash: ok", r.get("type") == "ok", r)
    got = await receive_txns(h, 3)
    T.check("after the crash: exactly the later transactions",
            [ids for _, ids in got] == [[5001], [5002], [5003]], got)
    extra = await wsutil.quiet(h, 1.0)
    T.check("after the crash: nothing doubled", not [m for m in extra if isinstance(m, list)], extra)
    await h.close()


def run():
    return run_worker_test(main, T, ["pgsync.client_queue_bytes = '64kB'", "pgsync.log_segment_size = '256kB'"])


if __name__ == "__main__":
    sys.exit(run())
