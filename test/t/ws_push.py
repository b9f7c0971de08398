#!/usr/bin/python3
"""Integration test: real-time push of committed changes over WebSocket.

Covers: subscribe and receive insert/update/delete/truncate in commit order
with begin/commit; latency from commit (latch wake-up, no polling); several
clients with different subscriptions on one table; rolled-back transactions
never reach anyone; a client disconnecting while another keeps going; the
pgsync.status and pgsync.clients views.
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, ops, quiet, subscribe  # noqa: E402

T = Checks()


async def main(c):
    c.sql("CREATE TABLE orders(id int PRIMARY KEY, amount numeric, note text)")
    c.sql("CREATE TABLE other(id int PRIMARY KEY)")
    c.sql("CREATE SCHEMA app; CREATE TABLE app.items(id int PRIMARY KEY, name text)")

    a = await wsutil.connect(c)       # everything on orders
    b = await wsutil.connect(c)       # inserts only on orders
    d = await wsutil.connect(c)       # app.* only
    r = await subscribe(a, ["public.orders"], "r1")
    T.check("subscribe replies ok with id and subscription",
            r.get("type") == "ok" and r.get("id") == "r1" and r.get("subscription") == "s1", r)
    r = await subscribe(b, ["orders"], "r2", ops=["insert"])
    T.check("subscribe with ops", r.get("type") == "ok", r)
    r = await subscribe(d, ["app.*"], "r3")
    T.check("subscribe with a glob", r.get("type") == "ok", r)

    # one transaction per operation, in commit order
    t0 = time.time()
    c.sql("INSERT INTO orders VALUES (1, 10.5, 'first')")
    got = await collect(a, lambda g: commits(g) >= 1)
    latency = (time.time() - t0) * 1000
    T.check("begin, relation, insert, commit", ops(got) == ["B", "R", "I", "C"], got)
    T.check("relation message names the table",
            got[1][2:4] == ["public", "orders"], got[1])
    T.check("insert values", got[2][3] == [1, "10.5", "first"], got[2])
    T.check("commit-to-client latency under 200 ms (latch wake-up): %.1f ms" % latency,
            latency < 200)

    c.sql("UPDATE orders SET note = 'second' WHERE id = 1")
    c.sql("DELETE FROM orders WHERE id = 1")
    c.sql("INSERT INTO orders VALUES (2, 1, 'x'), (3, 2, 'y')")
    c.sql("TRUNCATE orders")
    got = await collect(a, lambda g: commits(g) >= 4)
    T.check("update, delete, multi-row insert, truncate in commit order",
            ops(got) == ["B", "U", "C", "B", "D", "C", "B", "I", "I", "C", "B", "T", "C"], ops(got))
    T.check("relation message not repeated", "R" not in ops(got))

    gb = await collect(b, lambda g: commits(g) >= 2)
    T.check("insert-only client gets only inserts, each in begin/commit",
            ops(gb) == ["B", "R", "I", "C", "B", "I", "I", "C"], ops(gb))
    gb = await quiet(b, 0.3)
    T.check("insert-only client gets nothing else", gb == [], gb)
    gd = await quiet(d, 0.3)
    T.check("app.* client gets nothing from public.orders", gd == [], gd)

    # a transaction touching both tables: each client sees its part only
    c.sql("BEGIN; INSERT INTO orders VALUES (4, 4, 'z'); INSERT INTO app.items VALUES (1, 'i'); COMMIT")
    ga = await collect(a, lambda g: commits(g) >= 1)
    gd = await collect(d, lambda g: commits(g) >= 1)
    T.check("mixed transaction: orders part", ops(ga) == ["B", "I", "C"], ops(ga))
    T.check("mixed transaction: app part with its relation message",
            ops(gd) == ["B", "R", "I", "C"] and gd[1][2:4] == ["app", "items"], gd)
    T.check("same transaction: same begin LSN", ga[0][2] == gd[0][2], (ga[0], gd[0]))
    gb = await collect(b, lambda g: commits(g) >= 1)
    T.check("mixed transaction: insert-only client", ops(gb) == ["B", "I", "C"], ops(gb))

    # rolled-back transactions never reach anyone
    with c.connect() as conn:
        conn.autocommit = False
        cur = conn.cursor()
        cur.execute("INSERT INTO orders VALUES (100, 0, 'rolled back')")
        cur.execute("INSERT INTO app.items VALUES (100, 'rolled back')")
        conn.rollback()
    c.sql("INSERT INTO other VALUES (1)")   # something committed after it
    for name, ws in (("a", a), ("b", b), ("d", d)):
        g = await quiet(ws, 0.4)
        T.check("rolled-back transaction not sent to client %s" % name,
                all("rolled back" not in str(m) for m in g) and g == [], g)

    # a client leaves while another keeps going
    await b.close()
    for i in range(5):
        c.sql("INSERT INTO orders VALUES (%d, %d, 'after')" % (10 + i, i))
    ga = await collect(a, lambda g: commits(g) >= 5)
    T.check("after a client left, the other gets every commit",
            ops(ga) == ["B", "I", "C"] * 5, ops(ga))

    # unsubscribe
    r = await wsutil.request(a, {"type": "unsubscribe", "id": "u1", "subscription": "s1"})
    T.check("unsubscribe ok", r.get("type") == "ok" and r.get("id") == "u1", r)
    c.sql("INSERT INTO orders VALUES (50, 0, 'unsubscribed')")
    T.check("nothing after unsubscribe", await quiet(a, 0.4) == [])
    r = await wsutil.request(a, {"type": "ping", "id": 7})
    T.check("ping gets pong with numeric id", r == {"type": "pong", "id": 7}, r)

    # asynchronous commit: the worker flushes the WAL itself instead of
    # waiting for the WAL writer (wal_writer_delay is 200 ms)
    r = await subscribe(a, ["public.orders"], "r9")
    conn = c.connect()
    cur = conn.cursor()
    cur.execute("SET synchronous_commit = off")
    lats = []
    for i in range(5):
        t0 = time.time()
        cur.execute("INSERT INTO orders VALUES (%d, 0, 'async')" % (200 + i))
        await collect(a, lambda g: commits(g) >= 1)
        lats.append((time.time() - t0) * 1000)
    conn.close()
    lats.sort()
    T.check("asynchronous commit pushed without waiting for the WAL writer "
            "(median %.1f ms)" % lats[2], lats[2] < 50, lats)

    # views
    c.create_extension()
    await asyncio.sleep(0.5)
    st = c.sql("SELECT slot_name, state, worker_pid, clients, messages_sent > 0, "
               "confirmed_flush_lsn IS NOT NULL, retained_wal_bytes >= 0, last_error "
               "FROM pgsync.status")
    T.check("pgsync.status", st and st[0][0] == "pgsync" and st[0][1] == "streaming"
            and st[0][2] == c.worker_pid() and st[0][3] == 2 and st[0][4] and st[0][5]
            and st[0][6] and st[0][7] is None, st)
    cl = c.sql("SELECT peer, subscriptions, queued_bytes, connected_since <= now() "
               "FROM pgsync.clients ORDER BY subscriptions")
    T.check("pgsync.clients lists the two clients", len(cl) == 2 and
            cl[0][1] == "s1:app.*" and cl[0][0].startswith("127.0.0.1:") and
            cl[1][1] == "s2:public.orders", cl)
    n, ka = wsutil.keepalive_timers(c.ws_port)
    T.check("dead peers: every client socket has a TCP keepalive timer (%d of %d)" % (ka, n), n >= 2 and ka == n)
    await a.close()
    await d.close()


def run():
    return run_worker_test(main, T, ())


if __name__ == "__main__":
    sys.exit(run())
