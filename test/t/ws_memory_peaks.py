#!/usr/bin/python3
"""Integration test: memory comes back after a peak.

A 200 MB logical message and a 100 MB row go through decoding, the change
log and a subscribed client; afterwards the worker's resident memory must
return near where it was (the reader's and the plugin's buffers used to
keep the peak for good: about 400 MB more after a 200 MB message).  A
client that floods requests and reads no reply is cut off before it costs
more than its queue limit plus slack (with pgsync.max_requests_per_second
off: the rate limit would close it long before).
"""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import subscribe  # noqa: E402

T = Checks()
MB = 1024 * 1024


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def settle(c, pid, timeout=60):
    """Wait until decoding has caught up with the WAL written so far."""
    target = c.sql("SELECT pg_current_wal_lsn()")[0][0]
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = c.sql("SELECT decode_lsn >= %s::pg_lsn FROM pgsync.status", (target,))
        if r and r[0][0]:
            time.sleep(0.5)
            return True
        time.sleep(0.2)
    return False


async def main(c):
    c.sql("CREATE TABLE t(id int PRIMARY KEY, v text)")
    c.create_extension()
    pid = c.worker_pid()
    ws = await wsutil.connect(c, max_size=None)
    await subscribe(ws, ["public.t"])
    c.sql("INSERT INTO t VALUES (0, 'warm up')")
    await wsutil.collect(ws, lambda g: wsutil.commits(g) >= 1)
    settle(c, pid)
    base = rss(pid)

    c.sql("SELECT pg_logical_emit_message(true, 'big', repeat('x', 200000000))")
    T.check("a 200 MB logical message is decoded", settle(c, pid))
    after_msg = rss(pid)
    T.check("memory after a 200 MB logical message: +%.0f MB (bound 64 MB)" % ((after_msg - base) / MB),
            after_msg - base < 64 * MB, (base, after_msg))

    c.sql("INSERT INTO t VALUES (1, repeat('r', 100000000))")
    got = await wsutil.collect(ws, lambda g: wsutil.commits(g) >= 1, 60)
    T.check("a 100 MB row reaches the client", [len(m[3][1]) for m in got if m[0] == "I"] == [100000000])
    del got
    settle(c, pid)
    after_row = rss(pid)
    T.check("memory after a 100 MB row: +%.0f MB (bound 64 MB)" % ((after_row - base) / MB),
            after_row - base < 64 * MB, (base, after_row))

    # a request flood that reads nothing: cut off at the queue limit + slack
    flood = wsutil.RawClient(c.ws_port, rcvbuf=4096)
    flood.send_text(json.dumps({"type": "subscribe", "id": "s", "tables": ["public.t"]}))
    peak = 0
    try:
        for i in range(300000):
            flood.send_text('{"type":"ping","id":%d}' % i)
            if i % 5000 == 0:
                peak = max(peak, rss(pid))
    except OSError:
        pass
    peak = max(peak, rss(pid))
    T.check("a client flooding requests costs at most +%.0f MB (bound 32 MB)" % ((peak - after_row) / MB),
            peak - after_row < 32 * MB, (after_row, peak))
    flood.close()
    c.sql("INSERT INTO t VALUES (2, 'after')")
    got = await wsutil.collect(ws, lambda g: wsutil.commits(g) >= 1, 10)
    T.check("the subscriber goes on", [m[3][0] for m in got if m[0] == "I"] == [2], got)
    T.check("the worker never restarted", c.worker_pid() == pid)
    await ws.close()


if __name__ == "__main__":
    sys.exit(run_worker_test(main, T, ["pgsync.client_queue_bytes = '4MB'",
                                      "pgsync.max_value_bytes = '256MB'",
                                      "pgsync.max_requests_per_second = 0"]))
