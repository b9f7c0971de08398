#!/usr/bin/python3
"""Integration test: slow clients never set the pace for the others.

A canary client watches a small table written every few milliseconds while
other clients misbehave; each attack must leave the canary served on time
and lose nothing anywhere:
- a client that stops reading while megabytes are written for it, then
  reads again: it catches up from the change log, each row exactly once,
  without a disconnect;
- a trickle reader (8 kB every 100 ms, just under any pause threshold):
  it falls behind alone and catches up the same way;
- a flood of requests whose replies are never read: cut off with
  slow_consumer once its replies pass the queue limit plus slack (with
  pgsync.max_requests_per_second off, so that this backstop is what
  stops it; the rate limit itself is test/t/ws_limits.py);
- a row much larger than pgsync.client_queue_bytes: delivered whole (the
  queue takes one message larger than its limit when it is empty).

The latency bound asserted here is loose (a stall of the old kind lasted
seconds); the real figures come from the benchmark (bench/README.md).
"""
import asyncio
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test, time_factor  # noqa: E402
import wsutil  # noqa: E402
from wsutil import subscribe  # noqa: E402
from canary import Canary, raw_subscribe, request_flood, trickle_reader, write_bulk  # noqa: E402

T = Checks()
LOOSE_P99_MS = 250


def read_rows(raw, want, timeout=60):
    """Rows ids of I messages until want of them arrived (or an error)."""
    raw.s.settimeout(timeout)
    ids, err, begins, commits = [], None, 0, 0
    while (len(ids) < want or commits < begins) and err is None:
        m = raw.recv_message()
        if isinstance(m, tuple):
            err = m
            break
        j = json.loads(m)
        if isinstance(j, dict):
            if j.get("type") == "error":
                err = j
            continue
        if j[0] == "I":
            ids.append(j[3][0])
        begins += j[0] == "B"
        commits += j[0] == "C"
    return ids, err, (begins, commits)


async def attack(name, canary, run_attack):
    """Run an attack in a thread while the canary is measured."""
    n, p50, p99, worst = await canary.during(run_attack)
    T.check("%s: canary p50 %.1f ms, p99 %.1f ms, worst %.1f ms (%d rows)"
            % (name, p50, p99, worst, n), p99 < LOOSE_P99_MS * time_factor() and n > 0)


async def main(c):
    c.sql("CREATE TABLE bulk(id int PRIMARY KEY, v text)")
    c.sql("CREATE TABLE huge(id int PRIMARY KEY, v text)")
    canary = Canary(c)
    r = await canary.start()
    T.check("canary subscribed", r.get("type") == "ok", r)
    await asyncio.sleep(0.5)

    # 1. a client that stops reading: ~20 MB written for it
    stalled, reply = raw_subscribe(c, "public.bulk")
    T.check("stalled client subscribed", reply.get("type") == "ok", reply)
    await attack("a client that reads nothing", canary, lambda: write_bulk(c, 200, 100000))
    ids, err, (b, cm) = await asyncio.to_thread(read_rows, stalled, 200)
    T.check("it then catches up: 200 rows once each, no error",
            ids == list(range(200)) and err is None and b == cm == 200, (len(ids), err, b, cm))
    write_bulk(c, 3, 10, first=200)
    ids, err, _ = await asyncio.to_thread(read_rows, stalled, 3)
    T.check("and is live again", ids == [200, 201, 202] and err is None, (ids, err))
    stalled.close()

    # 2. a trickle reader: 8 kB every 100 ms while ~6 MB are written
    trickle, reply = raw_subscribe(c, "public.bulk")
    stop = threading.Event()
    rt, got = trickle_reader(trickle, stop)
    await attack("a trickle reader", canary, lambda: write_bulk(c, 300, 20000, first=1000, pace=0.01))
    stop.set()
    rt.join()
    trickle.buf = b"".join(got) + trickle.buf
    ids, err, (b, cm) = await asyncio.to_thread(read_rows, trickle, 300)
    T.check("the trickle reader gets every row once, no error",
            ids == list(range(1000, 1300)) and err is None, (len(ids), ids[:3], err))
    trickle.close()

    # 3. requests whose replies are never read
    flood, reply = raw_subscribe(c, "public.canary")
    await attack("a request flood that reads no reply", canary, lambda: request_flood(flood))
    flood.s.settimeout(10)
    last = None
    try:
        while True:
            m = flood.recv_message()
            if isinstance(m, tuple):
                break
            j = json.loads(m)
            if isinstance(j, dict) and j.get("type") == "error":
                last = j
    except (OSError, EOFError):
        pass
    T.check("the flood is cut off with slow_consumer", last is not None and last.get("code") == "slow_consumer", last)
    flood.close()

    # 4. a row larger than the client's queue (256kB): delivered whole
    big = await wsutil.connect(c)
    r = await subscribe(big, ["public.huge"], "h")
    await attack("a 20 MB row", canary,
                 lambda: c.sql("INSERT INTO huge VALUES (1, repeat('h', 20000000))"))
    c.sql("INSERT INTO huge VALUES (2, 'small')")
    rows = []
    while len(rows) < 2:
        m = json.loads(await asyncio.wait_for(big.recv(), 30))
        if isinstance(m, list) and m[0] == "I":
            rows.append((m[3][0], len(m[3][1])))
        elif isinstance(m, dict) and m.get("type") == "error":
            rows.append(m)
            break
    T.check("a row 80x the queue limit arrives whole, then the next", rows == [(1, 20000000), (2, 5)], rows)
    await big.close()

    ok = await canary.finish()
    T.check("canary: every row exactly once, in order (%d)" % canary.sent, ok,
            (len(canary.seen), canary.sent))


if __name__ == "__main__":
    sys.exit(run_worker_test(main, T, ["pgsync.client_queue_bytes = '256kB'",
                                      "pgsync.max_message_bytes = '64kB'",
                                      "pgsync.max_requests_per_second = 0"]))
