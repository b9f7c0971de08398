#!/usr/bin/python3
"""Integration test: pgsync-load, the benchmarks' C load client.

50 clients subscribe to one table through bench/loadclient/pgsync-load;
every client must get every row exactly once, counted as a row with a
latency: small rows, rows over 64 kB (fragmented frames, so the row's
timestamp and the continuation path are exercised) and one-row
transactions.  Also: a refused subscription counts as an error, not as
ready.  Counts only, never timings.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "loadclient"))
from cluster import Checks, run_worker_test  # noqa: E402
import loadclient  # noqa: E402

T = Checks()
N = 50


def wait_for(c, cond, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


async def main(c):
    loadclient.build()
    c.sql("CREATE TABLE lat(id bigserial PRIMARY KEY, t timestamptz NOT NULL DEFAULT clock_timestamp(), pad text)")
    lc = loadclient.LoadClient(c.ws_url(), N, subscribe=loadclient.subscribe_text(["public.lat"])).start()
    T.check("ready %d of %d" % (lc.ready, N), lc.ready == N)
    c.sql("INSERT INTO lat(pad) SELECT 'x' FROM generate_series(1, 100)")
    c.sql("INSERT INTO lat(pad) SELECT repeat('y', 100000) FROM generate_series(1, 3)")
    for _ in range(20):
        c.sql("INSERT INTO lat(pad) VALUES ('z')")
    rows = 100 + 3 + 20
    # B R 100xI C, B 3xI C, 20 x (B I C)
    msgs = (103 + 5 + 60) * N
    # the worker has sent everything to everyone; then a grace period for
    # the client to read what sits in its sockets
    c.create_extension()
    sent = wait_for(c, lambda: c.sql("SELECT count(*) FROM pgsync.clients WHERE messages_sent >= %d "
                                     "AND queued_bytes = 0" % (msgs // N))[0][0] == N)
    T.check("the worker sent every message to every client", sent,
            c.sql("SELECT messages_sent, queued_bytes FROM pgsync.clients LIMIT 3"))
    time.sleep(1.0)
    r = lc.stop()
    T.check("connected, ready, no errors", r["connected"] == N and r["ready"] == N and r["errors"] == 0, r)
    T.check("every client got every row: %d rows" % r["rows"], r["rows"] == rows * N, r)
    T.check("every message: %d" % r["messages"], r["messages"] == msgs, r)
    T.check("latency samples = rows", r["lat_us"]["n"] == rows * N, r["lat_us"])
    T.check("clients_with_rows = %d" % r["clients_with_rows"], r["clients_with_rows"] == N, r)
    T.check("bytes counted (over the 3 large rows' share)", r["bytes"] > 3 * 100000 * N, r["bytes"])

    # a subscription the server refuses: settled as an error, not ready
    bad = loadclient.LoadClient(c.ws_url(), 3, subscribe=loadclient.subscribe_text(["public.nosuch"]),
                                stderr=open(os.devnull, "w")).start()
    r = bad.stop()
    T.check("refused subscriptions: ready 0, errors 3", bad.ready == 0 and r["errors"] == 3, r)


sys.exit(run_worker_test(main, T, conf=["pgsync.heartbeat_interval = 0", "timezone = 'UTC'"]))
