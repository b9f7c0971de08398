#!/usr/bin/python3
"""Integration test: the slot invalidated by max_slot_wal_keep_size.

A transaction left open in pgsync's database keeps the slot's restart_lsn
back while another database writes more than max_slot_wal_keep_size; a
CHECKPOINT then invalidates the slot (wal_status lost) and terminates the
worker holding it, with three clients connected.  Covers: the worker
replaces the slot by itself (WARNING in the server log), removes the old
change log and starts a new one at the new slot; every client, resuming
from the last position it was given, gets resume_too_old with the new
log's oldest_lsn (nothing silently skipped); a fresh subscription then
streams new transactions; pgsync.status shows the new slot reserved.
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import walload  # noqa: E402
import wsutil  # noqa: E402
from resumer import lsn_value, start_resumers  # noqa: E402
from wsutil import collect, commits, subscribe  # noqa: E402

T = Checks()


async def wait_for(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.2)
    return False


async def main(c):
    walload.setup(c)

    clients = await start_resumers(c, 3)
    for i in range(1, 6):
        c.sql("INSERT INTO t VALUES (%d, 'x')" % i)
    T.check("clients stream before", await wait_for(lambda: all(len(x.ids) == 5 for x in clients), 10),
            [x.ids for x in clients])

    # an open transaction holds restart_lsn back
    held = c.connect(autocommit=False)
    with held.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (100, 'open')")
    old_restart = c.sql("SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = 'pgsync'")[0][0]
    await asyncio.get_running_loop().run_in_executor(None, walload.write_other, c, 160)
    c.sql("CHECKPOINT")
    lost = await wait_for(lambda: "was invalidated; replacing it" in c.log(), 20)
    T.check("the worker finds its slot invalidated and says so", lost, c.log()[-2000:])

    # the new slot waits for the open transaction to end (a consistent start)
    held.commit()
    held.close()
    ok = await wait_for(lambda: c.sql(
        "SELECT state = 'streaming' AND wal_status = 'reserved' AND restart_lsn > %s::pg_lsn "
        "FROM pgsync.status", (old_restart,))[0][0], 30)
    T.check("a new slot, streaming, reserved", ok,
            c.sql("SELECT state, wal_status, restart_lsn::text, last_error FROM pgsync.status"))

    # every client resuming from the old slot's positions: resume_too_old
    oldest = c.sql("SELECT log_oldest_lsn::text FROM pgsync.status")[0][0]
    for k, x in enumerate(clients):
        try:
            r = await asyncio.wait_for(asyncio.shield(x.task), 30)
        except asyncio.TimeoutError:
            r = None
        x.stop = True
        T.check("client %d: resume_too_old with the new log's oldest_lsn" % k,
                r is not None and r.get("code") == "resume_too_old" and r.get("oldest_lsn") == oldest
                and lsn_value(x.pos) < lsn_value(oldest), (r, x.pos, oldest))
        T.check("client %d: had all rows before, nothing after" % k, x.ids == [1, 2, 3, 4, 5], x.ids)
    T.check("the open transaction committed before the new slot is not streamed later",
            all(100 not in x.ids for x in clients))

    # a fresh subscription works
    ws = await wsutil.connect(c)
    r = await subscribe(ws, ["public.t"])
    T.check("fresh subscribe after recovery", r.get("type") == "ok", r)
    c.sql("INSERT INTO t VALUES (200, 'new')")
    got = await collect(ws, lambda g: commits(g) >= 1, 10)
    T.check("new transactions stream", [m[3][0] for m in got if m[0] == "I"] == [200], got)
    await ws.close()


def run():
    return run_worker_test(main, T, walload.WAL_CONF + ["max_slot_wal_keep_size = '64MB'"])


if __name__ == "__main__":
    sys.exit(run())
