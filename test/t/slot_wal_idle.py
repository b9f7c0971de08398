#!/usr/bin/python3
"""Integration test: an idle database does not make the slot pin WAL.

pgsync streams database postgres, where nothing is written, while another
database of the cluster writes ~300 MB of WAL in ~5 MB transactions.
Covers: the retained WAL of the slot (pg_current_wal_lsn() - restart_lsn)
stays under the checkpoint distance plus a few segments during the load
and falls to under one segment after a CHECKPOINT; clients' heartbeats
follow decoding past the log's end, and resuming from such a heartbeat
gets the next transaction exactly once; pgsync.status shows the slot
(wal_status, retained_wal_bytes, slot_last_advanced).  Then the bound of
log plus slot with a slow client: pgsync's own database writes ~60 MB
while a client subscribed to it does not read; the change log stays
within pgsync.log_retention_size plus a segment, the slot within the
same WAL bound.  Prints the figures (peak and settled retained WAL).
"""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import walload  # noqa: E402
from walload import MB  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, subscribe  # noqa: E402

T = Checks()

LOAD_MB = 300
# checkpoints every ~max_wal_size / (1 + completion target) = ~25 MB,
# one transaction in progress (~5 MB), decoding lag, a few segments
PEAK_BOUND = 112 * MB
SETTLED_BOUND = 16 * MB
LOG_RETENTION_MB = 8
LOG_SEGMENT_MB = 1


def lsn_value(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


async def last_heartbeat(ws, secs):
    """The largest heartbeat lsn received within secs."""
    best = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + secs
    while loop.time() < deadline:
        try:
            m = json.loads(await asyncio.wait_for(ws.recv(), deadline - loop.time()))
        except asyncio.TimeoutError:
            break
        if isinstance(m, dict) and m.get("type") == "heartbeat":
            if best is None or lsn_value(m["lsn"]) > lsn_value(best):
                best = m["lsn"]
    return best


async def main(c):
    walload.setup(c)
    c.sql("INSERT INTO t VALUES (0, 'first')")

    a = await wsutil.connect(c)
    r = await subscribe(a, ["public.t"])
    T.check("subscribe", r.get("type") == "ok", r)

    # the load, in a thread; the client keeps reading heartbeats
    t0 = time.time()
    with walload.Sampler(c) as s:
        load = asyncio.get_running_loop().run_in_executor(
            None, walload.write_other, c, LOAD_MB)
        while not load.done():
            await last_heartbeat(a, 0.5)
        written = await load
    dt = time.time() - t0
    print("# other database wrote %.0f MB in %.1f s; retained WAL peak %.1f MB"
          % (written / MB, dt, s.peak / MB))
    T.check("the other database wrote several hundred MB", written >= LOAD_MB * MB, written)
    T.check("retained WAL during the load stays under %d MB" % (PEAK_BOUND // MB),
            s.peak <= PEAK_BOUND, "%.1f MB" % (s.peak / MB))

    settled = walload.settle(c, SETTLED_BOUND)
    print("# retained WAL after CHECKPOINT: %s bytes" % settled)
    T.check("after a CHECKPOINT the slot retains under %d MB" % (SETTLED_BOUND // MB),
            settled is not None and settled <= SETTLED_BOUND, settled)

    st = c.sql("SELECT wal_status, retained_wal_bytes, slot_last_advanced > now() - interval '30s', "
               "log_last_lsn::text, decode_lsn::text FROM pgsync.status")[0]
    T.check("status: wal_status reserved, retained_wal_bytes small, slot advanced lately",
            st[0] == "reserved" and st[1] <= SETTLED_BOUND + MB and st[2], st)

    # heartbeats follow decoding beyond the log's end
    hb = await last_heartbeat(a, 2.5)
    T.check("heartbeats go past the log's last transaction",
            hb is not None and lsn_value(hb) > lsn_value(st[3]) + 100 * MB, (hb, st))

    # resuming from that heartbeat: the next transaction, once
    await a.close()
    c.sql("INSERT INTO t VALUES (1, 'after')")
    b = await wsutil.connect(c)
    r = await subscribe(b, ["public.t"], "r2", resume_lsn=hb)
    T.check("resume from a heartbeat beyond the log: ok", r.get("type") == "ok", r)
    got = await collect(b, lambda g: commits(g) >= 1, 10)
    rows = [m[3][0] for m in got if isinstance(m, list) and m[0] == "I"]
    extra = await wsutil.quiet(b, 1.0)
    T.check("resume from the heartbeat: the later transaction, once",
            rows == [1] and not [m for m in extra if isinstance(m, list)], (got, extra))
    await b.close()

    # log + slot under a slow client: it subscribes and never reads
    slow = wsutil.RawClient(c.ws_port)
    slow.send_text(json.dumps({"type": "subscribe", "id": "s", "tables": ["public.t"]}))
    conn = c.connect()
    max_log = 0
    with walload.Sampler(c) as s2:
        with conn.cursor() as cur:
            for k in range(30):
                cur.execute("INSERT INTO t SELECT g, repeat('y', 200) FROM generate_series(%d, %d) g"
                            % (10 + k * 5000, 10 + k * 5000 + 4999))
                lb = c.sql("SELECT log_bytes FROM pgsync.status")[0][0]
                max_log = max(max_log, lb)
    conn.close()
    time.sleep(0.5)
    max_log = max(max_log, c.sql("SELECT log_bytes FROM pgsync.status")[0][0])
    settled2 = walload.settle(c, SETTLED_BOUND)
    print("# slow client: change log peak %.1f MB (retention %d MB); retained WAL peak %.1f MB, settled %.2f MB"
          % (max_log / MB, LOG_RETENTION_MB, s2.peak / MB, (settled2 or 0) / MB))
    # retention runs every 200 ms: one more segment may be written meanwhile
    T.check("slow client: the change log stays within retention + 2 segments",
            max_log <= (LOG_RETENTION_MB + 2 * LOG_SEGMENT_MB) * MB + 2 * MB, max_log)
    T.check("slow client: the slot's WAL stays within the bound",
            s2.peak <= PEAK_BOUND and settled2 is not None and settled2 <= SETTLED_BOUND,
            (s2.peak, settled2))
    slow.close()


def run():
    return run_worker_test(main, T, walload.WAL_CONF + [
        "pgsync.log_retention_size = '%dMB'" % LOG_RETENTION_MB,
        "pgsync.log_segment_size = '%dMB'" % LOG_SEGMENT_MB,
        "pgsync.client_queue_bytes = '1MB'"])


if __name__ == "__main__":
    sys.exit(run())
