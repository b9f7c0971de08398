#!/usr/bin/python3
"""Integration test: per-connection limits, refused while everyone else is served.

- pgsync.max_subscriptions_per_client (3 here): a subscribe over it gets
  too_many_subscriptions, the connection stays open and its subscriptions
  keep working; lowered by a reload, a connection keeps the subscriptions
  it holds and is refused new ones; raised, it may subscribe again.
- pgsync.max_requests_per_second (default 100, bursts of 200): a client
  sending 20,000 pings as fast as it can gets its burst answered, one
  rate_limited error, then rate_limited with its resume point and the
  close; a client at 4 times the rate is throttled (the rate served, at
  most one rate_limited a second) but not closed; a client at 40 requests
  a second is never refused; the canary is served on time throughout.
- Reloads: the rate lowered to 10 allows bursts of 20; 0 lifts the limit.
"""
import asyncio
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import websockets  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, quiet, subscribe  # noqa: E402
from canary import Canary  # noqa: E402

T = Checks()
P99_MS = 100


async def insert_all(c, ws, n):
    """One transaction inserting into t1..tn; the tables ws gets changes of."""
    names = dict(c.sql("SELECT oid::int, relname::text FROM pg_class WHERE relname ~ '^t[0-9]$'"))
    c.sql("BEGIN; " + "; ".join("INSERT INTO t%d VALUES (%d)" % (k, k) for k in range(1, n + 1)) +
          "; COMMIT")
    got = await collect(ws, lambda g: wsutil.commits(g) >= 1, timeout=10)
    return sorted(names.get(m[1], "?") for m in got if m[0] == "I")


async def set_conf(c, name, value):
    if value is None:
        c.sql("ALTER SYSTEM RESET %s" % name)
    else:
        c.sql("ALTER SYSTEM SET %s = %s" % (name, value))
    c.sql("SELECT pg_reload_conf()")


async def subscription_cap(c):
    """Subscriptions a fresh connection is allowed (at most 8 tried)."""
    ws = await wsutil.connect(c)
    n = 0
    try:
        while n < 8:
            r = await subscribe(ws, ["public.t1"], "p%d" % n)
            if r.get("type") != "ok":
                break
            n += 1
    finally:
        await ws.close()
    return n


async def wait_for(probe, want, timeout=5):
    """Poll probe() until it returns want (the worker applies a reload at
    its next loop iteration); the last value."""
    deadline = time.time() + timeout
    while True:
        v = await probe()
        if v == want or time.time() > deadline:
            return v
        await asyncio.sleep(0.05)


async def subscriptions(c):
    a = await wsutil.connect(c)
    for k in (1, 2, 3):
        r = await subscribe(a, ["public.t%d" % k], "r%d" % k)
        T.check("subscription %d of 3 accepted" % k, r.get("type") == "ok", r)
    r = await subscribe(a, ["public.t4"], "r4")
    T.check("the 4th: too_many_subscriptions, echoing its id, naming the setting",
            r.get("type") == "error" and r.get("code") == "too_many_subscriptions" and
            r.get("id") == "r4" and "max_subscriptions_per_client" in r.get("message", ""), r)
    r = await wsutil.request(a, {"type": "ping", "id": "alive"})
    T.check("the connection stays open", r == {"type": "pong", "id": "alive"}, r)
    got = await insert_all(c, a, 4)
    T.check("its 3 subscriptions keep working", got == ["t1", "t2", "t3"], got)

    # lowered to 2 by a reload: a keeps its 3, is refused a 4th
    await set_conf(c, "pgsync.max_subscriptions_per_client", 2)
    cap = await wait_for(lambda: subscription_cap(c), 2)
    T.check("reload to 2: a new connection gets 2", cap == 2, cap)
    got = await insert_all(c, a, 4)
    T.check("a connection above the lowered limit keeps all 3", got == ["t1", "t2", "t3"], got)
    r = await subscribe(a, ["public.t4"], "r5")
    T.check("and is refused a new one (holds 3, limit 2)",
            r.get("code") == "too_many_subscriptions" and "holds 3" in r.get("message", ""), r)
    r = await wsutil.request(a, {"type": "unsubscribe", "id": "u1", "subscription": "s1"})
    T.check("unsubscribe still answered", r.get("type") == "ok", r)
    r = await subscribe(a, ["public.t4"], "r6")
    T.check("2 held, 2 allowed: still refused", r.get("code") == "too_many_subscriptions", r)

    # raised to 5: room again
    await set_conf(c, "pgsync.max_subscriptions_per_client", 5)
    cap = await wait_for(lambda: subscription_cap(c), 5)
    T.check("reload to 5: a new connection gets 5", cap == 5, cap)
    oks = [(await subscribe(a, ["public.t%d" % k], "r%d" % (k + 3))).get("type") for k in (4, 5, 6)]
    r = await subscribe(a, ["public.t1"], "r10")
    T.check("the connection takes 3 more, the 6th is refused",
            oks == ["ok"] * 3 and r.get("code") == "too_many_subscriptions", (oks, r))
    got = await insert_all(c, a, 6)
    T.check("its 5 subscriptions deliver", got == ["t2", "t3", "t4", "t5", "t6"], got)
    await a.close()
    await set_conf(c, "pgsync.max_subscriptions_per_client", None)


def flood(port, n, out):
    """n pings as fast as possible on a raw socket, with a reader thread;
    out gets what the server said and when it closed."""
    raw = wsutil.RawClient(port, rcvbuf=1 << 20)
    out.update(sent=0, pongs=0, notices=[], closing=None, end=None, secs=None)
    t0 = time.time()

    def read():
        raw.s.settimeout(10)
        try:
            while True:
                m = raw.recv_message()
                if isinstance(m, tuple):
                    out["end"] = m
                    break
                j = json.loads(m)
                if j.get("type") == "pong":
                    out["pongs"] += 1
                elif j.get("type") == "error" and "resume_lsn" in j:
                    out["closing"] = j
                elif j.get("type") == "error":
                    out["notices"].append(j)
        except (OSError, EOFError) as e:
            out["end"] = ("eof", type(e).__name__)
        out["secs"] = time.time() - t0

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(n):
            raw.send_text('{"type":"ping","id":%d}' % i)
            out["sent"] += 1
    except OSError:
        pass
    reader.join()
    raw.close()


async def paced(c, per_second, secs, stats):
    """A client sending per_second pings (in batches every 50 ms) for secs,
    reading as it goes; stats: sent, pongs, notices, closed."""
    ws = await wsutil.connect(c)
    stats.update(sent=0, pongs=0, notices=0, other=[], closed=False)

    async def read():
        try:
            while True:
                m = json.loads(await ws.recv())
                if m.get("type") == "pong":
                    stats["pongs"] += 1
                elif m.get("code") == "rate_limited" and "resume_lsn" not in m:
                    stats["notices"] += 1
                elif m.get("type") != "heartbeat":
                    stats["other"].append(m)
        except Exception:
            stats["closed"] = True

    reader = asyncio.ensure_future(read())
    batch = max(1, per_second // 20)
    t0 = time.time()
    while time.time() - t0 < secs:
        for _ in range(batch):
            await ws.send('{"type":"ping","id":%d}' % stats["sent"])
            stats["sent"] += 1
        await asyncio.sleep(t0 + stats["sent"] / per_second - time.time())
    await asyncio.sleep(0.3)
    reader.cancel()
    stats["closed"] = stats["closed"] or ws.closed
    await ws.close()


async def rates(c):
    canary = Canary(c)
    r = await canary.start()
    T.check("canary subscribed", r.get("type") == "ok", r)
    await asyncio.sleep(0.3)
    since = len(canary.lat)
    await asyncio.sleep(1)
    n, p50, p99, worst = canary.window(since)
    print("# canary, nobody flooding: p50 %.1f ms, p99 %.1f ms, worst %.1f ms (%d rows)"
          % (p50, p99, worst, n))
    since = len(canary.lat)

    good, over, fl = {}, {}, {}
    tasks = [asyncio.ensure_future(paced(c, 40, 2.5, good)),
             asyncio.ensure_future(paced(c, 400, 2.5, over))]
    await asyncio.sleep(0.2)
    await asyncio.to_thread(flood, c.ws_port, 20000, fl)
    await asyncio.gather(*tasks)
    n, p50, p99, worst = canary.window(since)

    T.check("flood: its burst answered (%d pongs), one rate_limited first (%d)"
            % (fl["pongs"], len(fl["notices"])),
            200 <= fl["pongs"] <= 202 + 100 * fl["secs"] and len(fl["notices"]) == 1 and
            fl["notices"][0].get("code") == "rate_limited" and fl["notices"][0].get("id") is not None,
            fl)
    T.check("flood: then closed with rate_limited and its resume point, %.0f ms in, after %d of 20,000 pings"
            % ((fl["secs"] or 0) * 1000, fl["sent"]),
            fl["closing"] is not None and fl["closing"].get("code") == "rate_limited" and
            fl["end"] is not None and fl["end"][0] in ("close", "eof") and fl["sent"] < 20000, fl)
    print("# flood's close: %r" % (fl["end"],))
    T.check("4x the rate: throttled, not closed (%d pings, %d answered, %d rate_limited)"
            % (over["sent"], over["pongs"], over["notices"]),
            not over["closed"] and 350 <= over["pongs"] <= 480 and 1 <= over["notices"] <= 3 and
            not over["other"], over)
    T.check("40 requests a second: every one answered, never rate limited (%d)" % good["sent"],
            good["pongs"] == good["sent"] and good["notices"] == 0 and not good["other"] and
            not good["closed"], good)
    T.check("canary while flooded: p50 %.1f ms, p99 %.1f ms, worst %.1f ms (%d rows)"
            % (p50, p99, worst, n), n > 100 and p99 < P99_MS)
    ok = await canary.finish()
    T.check("canary: every row exactly once, in order (%d)" % canary.sent, ok)


async def burst(c, n):
    """(pongs, rate_limited errors, closed) for n pings sent at once."""
    ws = await wsutil.connect(c)
    try:
        for i in range(n):
            await ws.send('{"type":"ping","id":%d}' % i)
        got = await quiet(ws, 0.3)
    except websockets.ConnectionClosed:
        return None, None, True     # a flood (the reload not applied yet)
    pongs = sum(1 for m in got if m.get("type") == "pong")
    limited = sum(1 for m in got if m.get("code") == "rate_limited")
    closed = ws.closed
    await ws.close()
    return pongs, limited, closed


async def rate_reload(c):
    await set_conf(c, "pgsync.max_requests_per_second", 10)
    got = await wait_for(lambda: burst(c, 30), (20, 1, False))
    T.check("reload to 10/s: of 30 pings at once, 20 answered and one rate_limited", got == (20, 1, False), got)
    await set_conf(c, "pgsync.max_requests_per_second", 0)
    got = await wait_for(lambda: burst(c, 3000), (3000, 0, False))
    T.check("reload to 0: 3,000 pings at once, all answered", got == (3000, 0, False), got)
    await set_conf(c, "pgsync.max_requests_per_second", None)
    got = await wait_for(lambda: burst(c, 300), (200, 1, False))
    T.check("reset to 100/s: a burst of 200", got == (200, 1, False), got)


async def main(c):
    c.sql("; ".join("CREATE TABLE t%d(id int)" % k for k in range(1, 7)))
    t0 = time.time()
    await subscriptions(c)
    t1 = time.time()
    await rates(c)
    t2 = time.time()
    await rate_reload(c)
    print("# subscriptions %.1f s, rates %.1f s, reloads %.1f s" % (t1 - t0, t2 - t1, time.time() - t2))


if __name__ == "__main__":
    sys.exit(run_worker_test(main, T, ["pgsync.max_subscriptions_per_client = 3"]))
