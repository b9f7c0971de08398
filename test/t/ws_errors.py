#!/usr/bin/python3
"""Integration test: bad client input and slow consumers.

Each class of bad input gets its stable error code (and a close for
protocol violations: oversized and binary frames), while another client
keeps receiving changes.  A client that stops reading is not cut off: it
catches up from the change log when it reads again, then goes on live;
the others are unaffected.
"""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import websockets  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, ops, subscribe  # noqa: E402

T = Checks()


async def expect_error(c, payload, code, closes, name):
    ws = await wsutil.connect(c)
    try:
        await ws.send(payload)
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        ok = m.get("type") == "error" and m.get("code") == code and "message" in m
        if isinstance(payload, str) and '"id"' in payload and code not in ("bad_json", "too_large"):
            ok = ok and m.get("id") == "e1"
        T.check("%s -> %s" % (name, code), ok, m)
        closed = False
        try:
            await asyncio.wait_for(ws.recv(), 1.5)
        except websockets.ConnectionClosed:
            closed = True
        except asyncio.TimeoutError:
            closed = False
        T.check("%s %s the connection" % (name, "closes" if closes else "keeps"),
                closed == closes)
    finally:
        await ws.close()


async def errors(c, good):
    await expect_error(c, "this is not json", "bad_json", False, "not JSON")
    await expect_error(c, "[1,2", "bad_json", False, "truncated JSON")
    await expect_error(c, '{"type":"dance","id":"e1"}', "unknown_type", False, "unknown type")
    await expect_error(c, '{"id":"e1"}', "bad_request", False, "missing type")
    await expect_error(c, '{"type":"subscribe","id":"e1","tables":["public.nope"]}',
                       "unknown_table", False, "unknown table")
    await expect_error(c, '{"type":"subscribe","id":"e1","tables":["nope"]}',
                       "unknown_table", False, "unknown table without schema")
    await expect_error(c, '{"type":"subscribe","id":"e1","tables":["a.b.c"]}',
                       "bad_request", False, "bad table pattern")
    await expect_error(c, '{"type":"subscribe","id":"e1","tables":["t"],"ops":["upsert"]}',
                       "bad_request", False, "unknown op")
    await expect_error(c, '{"type":"subscribe","id":"e1","tables":["t"],"filter":{"id":1}}',
                       "bad_filter", False, "filter with an unknown key")
    await expect_error(c, '{"type":"unsubscribe","id":"e1","subscription":"s9"}',
                       "unknown_subscription", False, "unknown subscription")
    await expect_error(c, json.dumps({"type": "ping", "id": "e1", "pad": "x" * 100000}),
                       "too_large", True, "oversized frame")
    await expect_error(c, b"\x00\x01binary", "binary_not_supported", True, "binary frame")

    # the good client still gets changes
    c.sql("INSERT INTO t VALUES (1, 'after errors')")
    g = await collect(good, lambda g: commits(g) >= 1)
    T.check("other client unaffected by bad input", ops(g)[-2:] == ["I", "C"], g)


async def slow_consumer(c, good):
    slow = wsutil.RawClient(c.ws_port, rcvbuf=4096)
    slow.send_text(json.dumps({"type": "subscribe", "id": "s", "tables": ["public.t"]}))
    reply = json.loads(slow.recv_message())
    T.check("raw slow client subscribed", reply.get("type") == "ok", reply)
    # commit one small transaction the slow client does receive (resume point)
    c.sql("INSERT INTO t VALUES (2, 'small')")
    m = [slow.recv_message() for _ in range(4)]
    T.check("slow client got the first transaction", json.loads(m[-1])[0] == "C", m)

    # then ~12 MB it will not read
    t0 = time.time()
    for k in range(4):
        c.sql("INSERT INTO t SELECT g, repeat(md5(g::text), 1000) FROM generate_series(%d, %d) g"
              % (1000 + k * 100, 1000 + k * 100 + 99))
    g = await collect(good, lambda g: commits(g) >= 5, timeout=30)
    T.check("fast client gets all %d big rows (%.1fs)" % (sum(1 for x in g if x[0] == "I"),
                                                          time.time() - t0),
            sum(1 for x in g if x[0] == "I") == 401)

    # it is not cut off: it catches up from the change log, then live
    t1 = time.time()
    c.sql("INSERT INTO t VALUES (3, 'after')")
    c.sql("UPDATE t SET v = 'x' WHERE id = 2")
    await collect(good, lambda g: commits(g) >= 2, timeout=30)
    got, err = [], None
    slow.s.settimeout(30)
    while commits(got) < 6 and err is None:
        j = json.loads(slow.recv_message())
        if isinstance(j, dict):
            err = j if j.get("type") == "error" else None
        else:
            got.append(j)
    T.check("slow consumer is not cut off: no error", err is None, err)
    T.check("it catches up: the 4 big transactions, then the 2 live ones (%.1fs)" % (time.time() - t1),
            [sum(1 for x in got if x[0] in "IU")] == [402] and commits(got) == 6 and
            ops(got).count("B") == 6, (commits(got), ops(got)[:12]))
    T.check("each row once", sorted(x[3][0] for x in got if x[0] == "I") ==
            [3] + list(range(1000, 1400)), len(got))
    c.create_extension()
    for _ in range(20):
        n = c.sql("SELECT count(*) FROM pgsync.clients")[0][0]
        if n == 2:
            break
        await asyncio.sleep(0.1)
    T.check("both clients still listed", n == 2,
            (n, c.sql("SELECT * FROM pgsync.clients"), c.sql("SELECT * FROM pgsync.status")))
    slow.close()
    await asyncio.sleep(0.5)


async def main(c):
    c.sql("CREATE TABLE t(id int PRIMARY KEY, v text)")
    good = await wsutil.connect(c)
    r = await subscribe(good, ["public.t"])
    T.check("good client subscribed", r.get("type") == "ok", r)
    await errors(c, good)
    await slow_consumer(c, good)
    await good.close()


def run():
    return run_worker_test(main, T, ["pgsync.client_queue_bytes = '256kB'", "pgsync.max_message_bytes = '64kB'"])


if __name__ == "__main__":
    sys.exit(run())
