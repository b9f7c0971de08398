#!/usr/bin/python3
"""Integration test: a huge transaction does not freeze the network.

A 150,000-row transaction is replayed inside a single
LogicalDecodingProcessRecord call; the worker services the network from
the plugin's write callback, so a client pinging throughout keeps getting
answers quickly, and the subscriber receives every row in one
begin/commit.
"""
import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import subscribe  # noqa: E402

T = Checks()
ROWS = int(os.environ.get("PGSYNC_BIGTXN_ROWS", "150000"))


async def main(c):
    c.sql("CREATE TABLE big(id int PRIMARY KEY, v text)")
    sub = await wsutil.connect(c)
    await subscribe(sub, ["big"])
    pinger = await wsutil.connect(c)

    t = threading.Thread(target=c.sql, args=(
        "INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, %d) g" % ROWS,))
    t.start()

    counts = {"I": 0, "B": 0, "C": 0}

    async def receive():
        while counts["C"] < 1:
            m = await asyncio.wait_for(sub.recv(), 60)
            if m[0] == "[":
                counts[m[2]] = counts.get(m[2], 0) + 1

    recv_task = asyncio.create_task(receive())
    worst = 0.0
    n = 0
    while not recv_task.done():
        t0 = time.time()
        r = await wsutil.request(pinger, {"type": "ping", "id": n}, timeout=10)
        worst = max(worst, time.time() - t0)
        n += 1
        await asyncio.sleep(0.02)
    await recv_task
    t.join()
    T.check("subscriber got all %d rows in one transaction" % ROWS,
            counts["I"] == ROWS and counts["B"] == 1 and counts["C"] == 1, counts)
    T.check("ping answered throughout (%d pings, worst %.0f ms)" % (n, worst * 1000),
            worst < 0.5 and n > 5)


def run():
    return run_worker_test(main, T, ["logical_decoding_work_mem = '%s'" % os.environ.get("PGSYNC_BIGTXN_WORK_MEM", "64MB")])


if __name__ == "__main__":
    sys.exit(run())
