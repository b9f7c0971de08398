#!/usr/bin/python3
"""Integration test: the worker killed while idle periods confirm the slot.

pgsync's database gets a trickle of small transactions (one row every
~20 ms) while another database writes ~240 MB: most of what the worker
decodes is not logged, and the slot is confirmed at decoding positions
past the log's end, as are the heartbeats clients resume from.  The
worker is killed (SIGKILL, so the cluster restarts) twice during the
load while three clients resume each time from the largest position they
were given.  Covers: every client ends with exactly the committed rows,
in order, none lost or doubled; no resume_too_old; the retained WAL
stays bounded and falls under one segment after a CHECKPOINT.
"""
import asyncio
import os
import signal
import sys
import threading
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import walload  # noqa: E402
from walload import MB  # noqa: E402
from resumer import start_resumers  # noqa: E402

T = Checks()

LOAD_MB = 240
PEAK_BOUND = 112 * MB
SETTLED_BOUND = 16 * MB


def trickle(c, stop):
    """Insert ids 1, 2, ... one per transaction until stop; survives
    crash restarts (an id whose commit was lost in a crash is retried)."""
    conn, i = None, 1
    while not stop.is_set():
        try:
            if conn is None:
                conn = c.connect()
            with conn.cursor() as cur:
                cur.execute("INSERT INTO t VALUES (%s, 'x') ON CONFLICT DO NOTHING", (i,))
            i += 1
            time.sleep(0.02)
        except psycopg2.Error:
            conn = None
            time.sleep(0.3)
    if conn is not None:
        conn.close()


async def main(c):
    walload.setup(c)

    clients = await start_resumers(c, 3)
    stop = threading.Event()
    writer = threading.Thread(target=trickle, args=(c, stop), daemon=True)
    writer.start()

    loop = asyncio.get_running_loop()
    load = loop.run_in_executor(None, walload.write_other, c, LOAD_MB)
    kills = 0
    with walload.Sampler(c) as s:
        for frac in (0.3, 0.65):
            # kill once the load is that far, while it goes on
            while not load.done():
                try:
                    done = c.sql("SELECT pg_database_size('other')")[0][0]
                except psycopg2.Error:
                    done = 0
                if done >= frac * LOAD_MB * MB:
                    break
                await asyncio.sleep(0.2)
            pid = c.worker_pid()
            if pid and not load.done():
                os.kill(pid, signal.SIGKILL)
                kills += 1
                c.wait_new_worker(pid, 60)
        written = await load
    stop.set()
    writer.join()
    print("# %d kills during %.0f MB of other-database WAL; retained WAL peak %.1f MB"
          % (kills, written / MB, s.peak / MB))
    T.check("worker killed twice during the load", kills == 2, kills)

    truth = [r[0] for r in c.sql("SELECT id FROM t ORDER BY id")]
    deadline = time.time() + 30
    while time.time() < deadline and any(len(x.ids) < len(truth) for x in clients):
        await asyncio.sleep(0.2)
    for k, x in enumerate(clients):
        await x.finish()
        dup = len(x.ids) - len(set(x.ids))
        T.check("client %d: every committed row once, in order (%d rows, %d connections)"
                % (k, len(truth), x.connections),
                x.ids == truth,
                "got %d rows, %d doubled, missing %s" % (len(x.ids), dup, sorted(set(truth) - set(x.ids))[:10]))
        T.check("client %d: never resume_too_old" % k, "resume_too_old" not in x.errors, x.errors)
        T.check("client %d: resumed after each kill" % k, x.connections >= 3, x.connections)

    settled = walload.settle(c, SETTLED_BOUND)
    print("# retained WAL after CHECKPOINT: %s bytes" % settled)
    T.check("retained WAL during the load stays under %d MB" % (PEAK_BOUND // MB),
            s.peak <= PEAK_BOUND, "%.1f MB" % (s.peak / MB))
    T.check("after a CHECKPOINT the slot retains under %d MB" % (SETTLED_BOUND // MB),
            settled is not None and settled <= SETTLED_BOUND, settled)


def run():
    return run_worker_test(main, T, walload.WAL_CONF + ["restart_after_crash = on"])


if __name__ == "__main__":
    sys.exit(run())
