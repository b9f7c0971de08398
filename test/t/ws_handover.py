#!/usr/bin/python3
"""Integration test: where a replay (resume, snapshot) meets live push.

Regression tests for the defects of the exactly-once issue, each
deterministic:
- the hand-over loss: a client replayed a long stretch of the log right
  after a restart joins live push and must get every later change (a stale
  per-fan-out routing mark used to skip one);
- an unsubscribe sent during a replay stops the replay's stream at once;
- a subscribe sent during a replay is answered once the client has joined
  live push, and starts there;
- positions: the ok of a connection's first subscription carries its first
  resume point (null for a snapshot, whose join heartbeat names the
  subscription); a client that resumed beyond the log's end is never sent
  a lower heartbeat.
"""
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, lsn_value, subscribe  # noqa: E402
from wsutil import transactions as txns  # noqa: E402

T = Checks()


async def handover_after_restart(c):
    """The issue's reproduction: X resumes over 3,001 replayed changes right
    after a restart, then live push routes 3,000 changes before X's row."""
    c.sql("CREATE TABLE a(id int, pad text)")
    c.sql("CREATE TABLE b(id int PRIMARY KEY)")
    w = await wsutil.connect(c)
    r = await subscribe(w, ["public.b"], "w")
    T.check("fresh subscription's ok carries resume_lsn",
            r.get("type") == "ok" and isinstance(r.get("resume_lsn"), str), r)
    c.sql("INSERT INTO b VALUES (1)")
    l0 = txns(await collect(w, lambda g: commits(g) >= 1))[0][0]
    c.sql("INSERT INTO a SELECT g, 'x' FROM generate_series(1, 3000) g")
    c.sql("INSERT INTO b VALUES (2)")
    got = txns(await collect(w, lambda g: commits(g) >= 1))
    T.check("watcher got b=2", [v for _, ch in got for v in ch] == [2], got)
    await w.close()

    c.pg_ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", c.log_path())
    c.wait_worker_ready()

    x = await wsutil.connect(c)
    r = await subscribe(x, ["public.b"], "x", resume_lsn=l0)
    T.check("resume ok echoes resume_lsn", r.get("type") == "ok" and r.get("resume_lsn") == l0, r)
    got = txns(await collect(x, lambda g: commits(g) >= 1))
    T.check("X replayed b=2 from the log", [v for _, ch in got for v in ch] == [2], got)
    y = await wsutil.connect(c)
    r = await subscribe(y, ["public.b"], "y")
    T.check("Y subscribed", r.get("type") == "ok", r)
    await asyncio.sleep(0.3)        # X joins live push (its replay is over)

    c.sql("INSERT INTO a SELECT g, 'x' FROM generate_series(1, 3000) g")
    c.sql("INSERT INTO b VALUES (3)")
    c.sql("INSERT INTO b VALUES (4)")
    gx = txns(await collect(x, lambda g: commits(g) >= 2, 10))
    gy = txns(await collect(y, lambda g: commits(g) >= 2, 10))
    T.check("X (replayed, then live) gets b=3 and b=4",
            [v for _, ch in gx for v in ch] == [3, 4], gx)
    T.check("Y (fresh) gets b=3 and b=4", [v for _, ch in gy for v in ch] == [3, 4], gy)
    await x.close()
    await y.close()


async def replay_requests(c):
    """Unsubscribe and subscribe while a client replays a large log."""
    c.sql("CREATE TABLE big(id int, pad text)")
    c.sql("CREATE TABLE other(id int)")
    w = await wsutil.connect(c)
    await subscribe(w, ["public.other"], "w")
    c.sql("INSERT INTO other VALUES (0)")
    start = txns(await collect(w, lambda g: commits(g) >= 1))[0][0]
    await w.close()
    conn = c.connect()
    with conn.cursor() as cur:
        for k in range(100):          # 100 transactions, 200,000 rows, ~25 MB of log
            cur.execute("INSERT INTO big SELECT g, repeat('p', 80) FROM generate_series(%s, %s) g",
                        (k * 2000, k * 2000 + 1999))
    conn.close()

    # unsubscribe during the replay: nothing of it after the ok
    u = await wsutil.connect(c, max_queue=1)
    r = await subscribe(u, ["public.big"], "u", resume_lsn=start)
    T.check("replay subscribed", r.get("type") == "ok", r)
    await asyncio.sleep(1.0)          # read nothing meanwhile: the replay waits on us
    await u.send(json.dumps({"type": "unsubscribe", "id": "unsub", "subscription": r["subscription"]}))
    before, after, ok = 0, 0, None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        try:
            m = json.loads(await asyncio.wait_for(u.recv(), 2 if ok else deadline - loop.time()))
        except asyncio.TimeoutError:
            break
        if isinstance(m, dict) and m.get("id") == "unsub":
            ok = m
        elif isinstance(m, list) and m[0] == "I":
            if ok:
                after += 1
            else:
                before += 1
    T.check("unsubscribe during a replay answered ok", ok is not None and ok.get("type") == "ok", ok)
    T.check("nothing of the subscription after its ok (%d inserts before it)" % before,
            after == 0 and before < 200000, (before, after))
    # the client is live now: a new subscription works at once
    r = await subscribe(u, ["public.other"], "again")
    T.check("then a new subscription on the same connection", r.get("type") == "ok", r)
    c.sql("INSERT INTO other VALUES (1)")
    got = txns(await collect(u, lambda g: commits(g) >= 1))
    T.check("it gets live changes", [v for _, ch in got for v in ch] == [1], got)
    await u.close()

    # subscribe during the replay: answered after the replay, starts live
    s = await wsutil.connect(c)
    r = await subscribe(s, ["public.big"], "s1", resume_lsn=start,
                        filter={"col": "id", "op": "lt", "value": 3})
    T.check("filtered replay subscribed", r.get("type") == "ok", r)
    await s.send(json.dumps({"type": "subscribe", "id": "s2", "tables": ["public.other"]}))
    msgs = []
    while True:
        m = json.loads(await asyncio.wait_for(s.recv(), 60))
        msgs.append(m)
        if isinstance(m, dict) and m.get("id") == "s2":
            break
    replayed = txns(msgs)
    T.check("the second subscribe is answered after the whole replay (%d transactions)" % len(replayed),
            len(replayed) == 1 and msgs[-1].get("type") == "ok" and "resume_lsn" not in msgs[-1],
            (replayed[:3], msgs[-1]))
    c.sql("INSERT INTO other VALUES (2)")
    c.sql("INSERT INTO big VALUES (1, 'live')")
    got = txns(await collect(s, lambda g: commits(g) >= 2))
    T.check("both subscriptions live after it",
            [v for _, ch in got for v in ch] == [2, 1], got)
    await s.close()


async def positions(c):
    """No position below what the client holds; snapshot join marked."""
    # resumed beyond the log's end (what a client may hold after a crash)
    last = c.sql("SELECT log_last_lsn::text FROM pgsync.status")[0][0]
    ahead = "%X/%X" % divmod(lsn_value(last) + (1 << 20), 1 << 32)
    h = await wsutil.connect(c)
    r = await subscribe(h, ["public.other"], "h", resume_lsn=ahead)
    T.check("resume beyond the log's end accepted", r.get("type") == "ok", r)
    c.sql("INSERT INTO other VALUES (3)")
    got = await wsutil.quiet(h, 1.0, heartbeats=True)
    # then the log passes it: heartbeats resume, none below it
    c.sql("INSERT INTO big SELECT g, repeat('q', 80) FROM generate_series(1, 20000) g")
    got += await wsutil.quiet(h, 1.5, heartbeats=True)
    hbs = [m["lsn"] for m in got if isinstance(m, dict) and m.get("type") == "heartbeat"]
    T.check("no heartbeat below its resume_lsn %s, some above it (%d heartbeats)" % (ahead, len(hbs)),
            hbs and all(lsn_value(l) >= lsn_value(ahead) for l in hbs), hbs)
    T.check("and no transaction at or below it", not [m for m in got if isinstance(m, list)], got)
    await h.close()

    # a snapshot: ok with resume_lsn null, then a join heartbeat naming it
    sn = await wsutil.connect(c)
    r = await subscribe(sn, ["public.b"], "sn", snapshot=True)
    T.check("snapshot ok: resume_lsn null", r.get("type") == "ok" and "resume_lsn" in r
            and r["resume_lsn"] is None, r)
    joined = None
    for _ in range(200):
        m = json.loads(await asyncio.wait_for(sn.recv(), 10))
        if isinstance(m, dict) and m.get("type") == "heartbeat":
            joined = m
            break
    T.check("the first heartbeat after a snapshot joins it to the stream",
            joined is not None and joined.get("snapshot_joined") == r.get("subscription"), joined)
    await sn.close()


async def main(c):
    c.create_extension()
    await handover_after_restart(c)
    await replay_requests(c)
    await positions(c)


if __name__ == "__main__":
    sys.exit(run_worker_test(main, T, ["pgsync.client_queue_bytes = '256kB'",
                                      "pgsync.heartbeat_interval = '200ms'"]))
