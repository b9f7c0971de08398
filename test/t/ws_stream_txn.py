#!/usr/bin/python3
"""Integration test: transactions decoded while in progress (streaming).

With pgsync.decoding_work_mem at its minimum, a transaction of a few
thousand rows is streamed to the worker in chunks and staged in a spool;
at its commit it joins the change log as an out-of-line unit.  Checks:
  - a subscriber of the big table gets it whole, in one begin/commit, in
    commit order with the small transactions around it; a client of
    another table does not get it and keeps getting its own rows;
  - a client resuming from before it gets it exactly once, from the log;
  - aborted streamed transactions (ROLLBACK; ROLLBACK TO SAVEPOINT, nested
    and released savepoints) leave nothing visible, live or on resume;
  - the worker killed (SIGKILL, cluster restart) in the middle of a
    streamed transaction, then after its commit: delivered exactly once;
  - DDL inside a streamed transaction: the rows after an ALTER carry the
    new shape, announced by a relation message inside the transaction, live
    and on resume; the same rolled back leaves no trace of its shape;
  - no spool file is left behind.
"""
import asyncio
import glob
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import subscribe  # noqa: E402

T = Checks()
ROWS = 20000        # well past 64kB of decoding memory: streamed


async def drain(ws, until_commits, timeout=60):
    """Messages until until_commits commits, as parsed lists (counted as
    they come: collect's predicate sees the whole list each time)."""
    seen = {"n": 0, "commits": 0}

    def enough(ms):
        for m in ms[seen["n"]:]:
            if isinstance(m, list) and m[0] == "C":
                seen["commits"] += 1
        seen["n"] = len(ms)
        return seen["commits"] >= until_commits
    return await wsutil.collect(ws, enough, timeout=timeout)


def spools(c):
    return glob.glob(os.path.join(c.datadir, "pg_pgsync", "log", "*.spool"))


def units(c):
    return glob.glob(os.path.join(c.datadir, "pg_pgsync", "log", "*.unit"))


def streamed_rows(txns):
    return [v for _, rows in txns for v in rows]


async def main(c):
    c.sql("CREATE TABLE big(id int PRIMARY KEY, v text)")
    c.sql("CREATE TABLE small(id int PRIMARY KEY)")
    sub = await wsutil.connect(c)
    await subscribe(sub, ["public.big", "public.small"])
    other = await wsutil.connect(c)
    await subscribe(other, ["public.small"])
    c.sql("INSERT INTO small VALUES (1)")
    first = await drain(sub, 1)
    start_lsn = first[-1][2]            # resume point before the big one
    await drain(other, 1)

    # 1. a streamed commit between two small ones
    conn = c.connect(autocommit=False)
    cur = conn.cursor()
    cur.execute("INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, %d) g" % ROWS)
    c.sql("INSERT INTO small VALUES (2)")       # commits first
    time.sleep(0.5)
    T.check("a spool while the big transaction is in progress", len(spools(c)) == 1, spools(c))
    conn.commit()
    c.sql("INSERT INTO small VALUES (3)")
    msgs = await drain(sub, 3)
    txns = wsutil.transactions(msgs)
    T.check("subscriber: small 2, big whole in one transaction, small 3, in order",
            [rows for _, rows in txns] == [[2], list(range(1, ROWS + 1)), [3]],
            [(l, len(r)) for l, r in txns])
    T.check("commit LSNs increase", [wsutil.lsn_value(l) for l, _ in txns] ==
            sorted(wsutil.lsn_value(l) for l, _ in txns))
    omsgs = await drain(other, 2)
    T.check("client of another table: only its rows",
            [rows for _, rows in wsutil.transactions(omsgs)] == [[2], [3]],
            wsutil.transactions(omsgs))
    T.check("no spool left after the commit; one unit file",
            not spools(c) and len(units(c)) == 1, (spools(c), units(c)))

    # 2. aborts: top-level ROLLBACK, savepoints rolled back (nested, released)
    conn.rollback()
    cur.execute("INSERT INTO big SELECT g, 'gone' FROM generate_series(100001, %d) g" % (100000 + ROWS))
    time.sleep(0.3)
    conn.rollback()
    cur.execute("INSERT INTO big VALUES (200000, 'kept a')")
    cur.execute("SAVEPOINT s1")
    cur.execute("INSERT INTO big SELECT g, 'gone s1' FROM generate_series(200001, %d) g" % (200000 + ROWS))
    cur.execute("SAVEPOINT s2")
    cur.execute("INSERT INTO big SELECT g, 'gone s2' FROM generate_series(300001, %d) g" % (300000 + ROWS))
    cur.execute("RELEASE SAVEPOINT s2")
    cur.execute("INSERT INTO big SELECT g, 'gone s1 again' FROM generate_series(400001, %d) g" % (400000 + ROWS // 2))
    cur.execute("ROLLBACK TO SAVEPOINT s1")
    cur.execute("SAVEPOINT s3")
    cur.execute("INSERT INTO big SELECT g, 'kept s3' FROM generate_series(500001, %d) g" % (500000 + ROWS))
    cur.execute("RELEASE SAVEPOINT s3")
    cur.execute("SAVEPOINT s4")
    cur.execute("INSERT INTO big SELECT g, 'gone s4' FROM generate_series(600001, %d) g" % (600000 + ROWS))
    cur.execute("ROLLBACK TO SAVEPOINT s4")
    cur.execute("INSERT INTO big VALUES (700000, 'kept b')")
    conn.commit()
    c.sql("INSERT INTO small VALUES (4)")
    msgs = await drain(sub, 2)
    txns = wsutil.transactions(msgs)
    expect = [200000] + list(range(500001, 500001 + ROWS)) + [700000]
    T.check("savepoints: exactly the rows not rolled back, in one transaction",
            [rows for _, rows in txns] == [expect, [4]],
            [(l, len(r), r[:2]) for l, r in txns])
    T.check("no spool left after the aborts", not spools(c), spools(c))

    # 3. resume from before everything: each transaction exactly once
    res = await wsutil.connect(c)
    await subscribe(res, ["public.big", "public.small"], "r", resume_lsn=start_lsn)
    msgs = await drain(res, 5)
    rtx = wsutil.transactions(msgs)
    T.check("resume: small 2, big, small 3, savepoint txn, small 4, once each",
            [rows for _, rows in rtx] == [[2], list(range(1, ROWS + 1)), [3], expect, [4]],
            [(l, len(r)) for l, r in rtx])
    T.check("resume: nothing more", not await wsutil.quiet(res, 1.0))

    # 4. SIGKILL in the middle of a streamed transaction, then after its commit
    cur.execute("INSERT INTO big SELECT g, 'crash' FROM generate_series(800001, %d) g" % (800000 + ROWS))
    time.sleep(0.5)
    T.check("a spool before the kill", len(spools(c)) == 1, spools(c))
    pid = c.worker_pid()
    os.kill(pid, signal.SIGKILL)
    conn.close()                        # the cluster restarts: the session is gone
    c.wait_new_worker(pid)
    # decoded again from the slot, then dropped: no abort record will come
    deadline = time.time() + 10
    while spools(c) and time.time() < deadline:
        time.sleep(0.1)
    T.check("the spool of the transaction killed by the crash is removed",
            not spools(c), spools(c))
    conn = c.connect(autocommit=False)
    cur = conn.cursor()
    cur.execute("INSERT INTO big SELECT g, 'crash' FROM generate_series(800001, %d) g" % (800000 + ROWS))
    # a worker restart while the transaction is in progress (spool recreated)
    pid = c.worker_pid()
    time.sleep(0.5)
    c.sql("SELECT pg_terminate_backend(%d)" % pid)
    c.wait_new_worker(pid)
    conn.commit()
    c.sql("INSERT INTO small VALUES (5)")
    time.sleep(1.0)
    pid = c.worker_pid()
    os.kill(pid, signal.SIGKILL)        # after its commit
    c.wait_new_worker(pid)
    c.sql("INSERT INTO small VALUES (6)")
    res = await wsutil.connect(c)
    await subscribe(res, ["public.big", "public.small"], "r", resume_lsn=start_lsn)
    msgs = await drain(res, 8)
    rtx = wsutil.transactions(msgs)
    T.check("after kills: every transaction once, the crashed one whole",
            [rows for _, rows in rtx] == [[2], list(range(1, ROWS + 1)), [3], expect, [4],
                                          list(range(800001, 800001 + ROWS)), [5], [6]],
            [(l, len(r)) for l, r in rtx])
    T.check("after kills: nothing more", not await wsutil.quiet(res, 1.0))
    T.check("no spool left at the end", not spools(c), spools(c))
    await ddl_in_streamed(c, start_lsn)


def shapes(msgs, rel):
    """[(columns of the R in force, [values...])] for each row, in order;
    a row whose value count differs from its R's columns is reported with
    the R as None.  rel: relid -> columns, the client's R so far (updated)."""
    out = []
    for m in msgs:
        if not isinstance(m, list):
            continue
        if m[0] == "R":
            rel[m[1]] = m[4]
        elif m[0] in ("I", "U", "D"):
            cols = rel.get(m[1])
            vals = m[3]
            out.append((tuple(cols) if cols is not None and len(cols) == len(vals) else None, vals))
    return out


async def ddl_in_streamed(c, start_lsn):
    """5. ALTER TABLE inside a streamed transaction, committed, then rolled back."""
    sub = await wsutil.connect(c)
    await subscribe(sub, ["public.big"])
    conn = c.connect(autocommit=False)
    cur = conn.cursor()
    cur.execute("INSERT INTO big SELECT g, 'pre' FROM generate_series(900001, %d) g" % (900000 + ROWS))
    cur.execute("ALTER TABLE big ADD COLUMN w int DEFAULT 7")
    cur.execute("INSERT INTO big SELECT g, 'post', g %% 5 FROM generate_series(1000001, %d) g"
                % (1000000 + ROWS))
    time.sleep(0.5)
    T.check("DDL: a spool while the transaction with the ALTER is in progress",
            len(spools(c)) == 1, spools(c))
    conn.commit()
    expect = ([(("id", "v"), [g, "pre"]) for g in range(900001, 900001 + ROWS)] +
              [(("id", "v", "w"), [g, "post", g % 5]) for g in range(1000001, 1000001 + ROWS)])
    known = {}
    got = shapes(await drain(sub, 1), known)
    T.check("DDL: rows before the ALTER in the old shape, after it in the new one",
            got == expect, [x for x in got if x not in expect][:3] or (len(got), len(expect)))

    # the same rolled back; then a committed row in the shape that stands
    cur.execute("INSERT INTO big SELECT g, 'gone' FROM generate_series(1100001, %d) g" % (1100000 + ROWS))
    cur.execute("ALTER TABLE big ADD COLUMN x text DEFAULT 'x', DROP COLUMN v")
    cur.execute("INSERT INTO big SELECT g, 1, 'gone' FROM generate_series(1200001, %d) g" % (1200000 + ROWS))
    time.sleep(0.5)
    conn.rollback()
    conn.close()
    c.sql("INSERT INTO big VALUES (1300000, 'after', 3)")
    got = shapes(await drain(sub, 1), known)
    T.check("DDL rolled back: only the next row, in the shape that stands",
            got == [(("id", "v", "w"), [1300000, "after", 3])], got[:3])
    T.check("DDL: no spool left", not spools(c), spools(c))

    # resume from before both: the same
    res = await wsutil.connect(c)
    await subscribe(res, ["public.big"], "r", resume_lsn=start_lsn)
    msgs = await drain(res, 5)      # big: sections 1, 2, 4, and these two
    got = [x for x in shapes(msgs, {}) if x[1][0] >= 900001]
    T.check("DDL on resume: the same rows in the same shapes, once",
            got == expect + [(("id", "v", "w"), [1300000, "after", 3])],
            (len(got), [x for x in got if x[0] is None][:2]))
    T.check("DDL on resume: nothing more", not await wsutil.quiet(res, 1.0))
    for ws in (sub, res):
        await ws.close()


def run():
    return run_worker_test(main, T, ["pgsync.decoding_work_mem = 64",
                                     "restart_after_crash = on"])


if __name__ == "__main__":
    sys.exit(run())
