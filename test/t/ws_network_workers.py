#!/usr/bin/python3
"""Integration test: network workers (pgsync.network_workers = 2).

Covers: the worker only decodes (it does not listen) and two network
workers serve the clients on the one port, the kernel spreading the
connections over them; pgsync.status and pgsync.clients show them (the
network_workers count, each client's worker_pid, the totals summed);
every client, on either network worker, gets every transaction in order
exactly once, with filters; a client that resumes gets exactly the
transactions after its point whichever network worker it lands on;
a lagging client (a tiny queue) is caught up from the log; a snapshot
joined to the stream under concurrent writes equals the table; the
worker terminated alone (it restarts and appends to the same log): the
network workers keep their clients, which get the transactions committed
meanwhile exactly once; a network worker terminated: its clients get
shutting_down, it restarts, and they resume with no gap or duplicate
while the other network worker's clients are not disturbed.
"""
import asyncio
import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, subscribe, transactions  # noqa: E402

T = Checks()
NCLIENTS = 16
FILTER = {"col": "v", "op": "lt", "value": 30}


def network_pids(c):
    return sorted(r[0] for r in c.sql(
        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgsync network worker'"))


def client_worker(c):
    """peer (address:port) -> worker_pid, from pgsync.clients."""
    return {r[0]: r[1] for r in c.sql("SELECT peer, worker_pid FROM pgsync.clients")}


def peer(ws):
    return "%s:%d" % ws.local_address[:2]


async def connect(c):
    # the test blocks its loop at times (SQL, a raw client): no keepalive
    return await wsutil.connect(c, ping_interval=None)


async def wait_for(pred, timeout=10, step=0.1):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        v = pred()
        if v:
            return v
        await asyncio.sleep(step)
    return pred()


async def txns_until(ws, last_id, timeout=30):
    """Transactions received until one holding id last_id."""
    got = await collect(ws, lambda g: any(ids and last_id in ids for _, ids in transactions(g)), timeout)
    return transactions(got)


async def main(c):
    c.sql("CREATE TABLE t(id int PRIMARY KEY, v int)")
    c.sql("CREATE TABLE u(id int PRIMARY KEY, v int)")
    c.create_extension()
    decoder = c.worker_pid()
    first_oldest = c.sql("SELECT log_oldest_lsn::text FROM pgsync.status")[0][0]
    nets = network_pids(c)
    T.check("two network workers run beside the worker", len(nets) == 2 and decoder not in nets, (decoder, nets))
    st = c.sql("SELECT network_workers FROM pgsync.status")[0][0]
    T.check("pgsync.status shows 2 network workers", st == 2, st)

    # --- clients spread over both, each gets everything exactly once
    clients = []
    for i in range(NCLIENTS):
        ws = await connect(c)
        flt = {"filter": FILTER} if i % 4 == 3 else {}
        r = await subscribe(ws, ["public.t"], "s%d" % i, **flt)
        if r.get("type") != "ok":
            T.check("client %d subscribed" % i, False, r)
        clients.append((ws, bool(flt), peer(ws)))
    seen = await wait_for(lambda: len(client_worker(c)) >= NCLIENTS)
    where = client_worker(c)
    pids = {where.get(sid) for _, _, sid in clients}
    T.check("pgsync.clients: every client served by a network worker, on both",
            pids == set(nets), (pids, nets, seen))
    n, ka = wsutil.keepalive_timers(c.ws_port)
    T.check("dead peers: every socket a network worker accepted has a TCP keepalive timer (%d of %d)" % (ka, n),
            n >= NCLIENTS and ka == n)
    tot = c.sql("SELECT clients FROM pgsync.status")[0][0]
    T.check("pgsync.status: the clients of both summed", tot == NCLIENTS, tot)

    for i in range(1, 41):
        c.sql("INSERT INTO t VALUES (%d, %d)" % (i, i))
    c.sql("BEGIN; INSERT INTO t SELECT g, g FROM generate_series(41, 60) g; INSERT INTO u VALUES (1, 1); COMMIT")
    want_all = [[i] for i in range(1, 41)] + [list(range(41, 61))]
    want_filtered = [[i] for i in range(1, 30)]
    c.sql("INSERT INTO t VALUES (0, 0)")
    ok = True
    for ws, filtered, _ in clients:
        got = await txns_until(ws, 0)
        ids = [x[1] for x in got][:-1]
        if ids != (want_filtered if filtered else want_all):
            ok = False
            print("# client got", ids[:5], "...", len(ids))
    T.check("every client on either network worker: every transaction once, in order (filters too)", ok)

    # --- resume on whichever worker a reconnect lands
    ws0, _, _ = clients[0]
    c.sql("INSERT INTO t VALUES (61, 0)")
    got = await txns_until(ws0, 61)
    point = got[-1][0]
    await ws0.close()
    await asyncio.sleep(0.3)
    for i in range(62, 72):
        c.sql("INSERT INTO t VALUES (%d, 0)" % i)
    landed = set()
    all_ok = True
    for attempt in range(6):
        ws = await connect(c)
        r = await subscribe(ws, ["public.t"], "r%d" % attempt, resume_lsn=point)
        got = await txns_until(ws, 71)
        await wait_for(lambda: peer(ws) in client_worker(c), 5)
        landed.add(client_worker(c).get(peer(ws)))
        if r.get("type") != "ok" or [x[1] for x in got] != [[i] for i in range(62, 72)]:
            all_ok = False
            print("# resume got", r, [x[1] for x in got])
        await ws.close()
    T.check("resume after a point: exactly the later transactions, on every landing (%d workers seen)"
            % len(landed - {None}), all_ok and len(landed - {None}) >= 1, landed)
    clients = clients[1:]

    # --- a lagging client catches up from the log
    c.sql("ALTER SYSTEM SET pgsync.client_queue_bytes = '64kB'")
    c.reload()
    await asyncio.sleep(0.5)
    slow = wsutil.RawClient(c.ws_port)
    slow.send_text(json.dumps({"type": "subscribe", "id": "slow", "tables": ["public.u"]}))
    while True:
        m = json.loads(slow.recv_message())
        if isinstance(m, dict) and m.get("id") == "slow":
            break
    c.sql("INSERT INTO u SELECT g, g FROM generate_series(2, 20001) g")
    c.sql("INSERT INTO u VALUES (20002, 0)")
    await asyncio.sleep(1.0)
    slow.s.settimeout(60)
    rows = []
    while not rows or rows[-1] != 20002:
        m = slow.recv_message()
        if isinstance(m, tuple):
            break
        m = json.loads(m)
        if isinstance(m, list) and m[0] == "I":
            rows.append(m[3][0])
    T.check("a client that stopped reading is caught up from the log: every row once, in order",
            rows == list(range(2, 20003)), (len(rows), rows[:3], rows[-3:]))
    slow.close()
    c.sql("ALTER SYSTEM RESET pgsync.client_queue_bytes")
    c.reload()

    # --- retention trimmed the log, then nothing more is written: the
    # oldest resume point a network worker reports is one it serves
    c.sql("CREATE TABLE padding(id int, pad text)")
    for i in range(6):
        c.sql("INSERT INTO padding SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g")
    await asyncio.sleep(1.0)
    oldest_now = c.sql("SELECT log_oldest_lsn::text FROM pgsync.status")[0][0]
    ok, seen = True, []
    for attempt in range(8):
        ws = await connect(c)
        r = await subscribe(ws, ["public.u"], "old", resume_lsn="0/1")
        ws2 = await connect(c)
        r2 = await subscribe(ws2, ["public.u"], "old2", resume_lsn=r.get("oldest_lsn", "0/1"))
        seen.append((r.get("code"), r.get("oldest_lsn"), r2.get("type"), r2.get("code")))
        ok &= r.get("code") == "resume_too_old" and r.get("oldest_lsn") == oldest_now and r2.get("type") == "ok"
        await ws.close()
        await ws2.close()
    T.check("retention moved the log's start (%s after %s)" % (oldest_now, first_oldest), oldest_now != first_oldest)
    T.check("idle after retention: resume_too_old names the log's oldest point, and a resume from it works, "
            "on either network worker", ok, seen[:3])

    # --- a snapshot under concurrent writes
    stop = threading.Event()

    def writer():
        i = 100000
        while not stop.is_set():
            c.sql("INSERT INTO t VALUES (%d, 1); UPDATE t SET v = v + 1 WHERE id = %d" % (i, 1 + i % 60))
            i += 1
    th = threading.Thread(target=writer)
    th.start()
    await asyncio.sleep(0.3)
    ws = await connect(c)
    r = await subscribe(ws, ["public.t"], "snap", snapshot=True)
    rows, pending, fails = {}, None, []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    snap_done = False
    while loop.time() < deadline:
        m = json.loads(await asyncio.wait_for(ws.recv(), deadline - loop.time()))
        if isinstance(m, dict):
            if m.get("type") == "snapshot_end":
                snap_done = True
                break
            continue
        if m[0] == "S":
            rows[m[2][0]] = m[2][1]
    await asyncio.sleep(0.5)
    stop.set()
    th.join()
    c.sql("INSERT INTO t VALUES (999999, 0)")
    deadline = loop.time() + 30
    while loop.time() < deadline:
        m = json.loads(await asyncio.wait_for(ws.recv(), deadline - loop.time()))
        if not isinstance(m, list):
            continue
        if m[0] == "B":
            pending = []
        elif m[0] in ("I", "U", "D"):
            pending.append(m)
        elif m[0] == "C":
            for ch in pending:
                if ch[0] == "I":
                    if ch[3][0] in rows:
                        fails.append(("insert of a present row", ch[3][0]))
                    rows[ch[3][0]] = ch[3][1]
                elif ch[0] == "U":
                    rows[ch[3][0]] = ch[3][1]
            if any(ch[0] == "I" and ch[3][0] == 999999 for ch in pending):
                break
    table = dict(c.sql("SELECT id, v FROM t"))
    T.check("snapshot on a network worker + its stream = the table", snap_done and not fails and rows == table,
            (snap_done, fails[:3], len(rows), len(table)))
    await ws.close()

    # --- the worker terminated alone: network workers keep their clients
    last = 999999
    c.sql("SELECT pg_terminate_backend(%d)" % decoder)
    for i in range(1, 11):
        c.sql("INSERT INTO t VALUES (%d, 0)" % (last + i))
    new = c.wait_new_worker(decoder)
    T.check("the worker restarted", new is not None and new != decoder, new)
    ok = True
    for ws, filtered, _ in clients:
        try:
            got = await txns_until(ws, last + 10)
            tail = [x[1] for x in got if x[1] and x[1][0] > last]
            want = [[last + i] for i in range(1, 11)]
            if tail != want:
                ok = False
                print("# after the worker's restart:", tail)
        except Exception as e:
            ok = False
            print("# after the worker's restart:", repr(e))
    T.check("the worker restarted alone: every client kept its connection and got the transactions "
            "committed meanwhile exactly once", ok)
    T.check("the network workers were not restarted", network_pids(c) == nets, network_pids(c))

    # --- a network worker terminated: its clients resume, the others go on
    victim = nets[0]
    where = client_worker(c)
    mine = [(ws, f) for ws, f, sid in clients if where.get(sid) == victim]
    others = [(ws, f) for ws, f, sid in clients if where.get(sid) != victim]
    c.sql("INSERT INTO t VALUES (2000001, 0)")
    points = {}
    for ws, f, _ in clients:
        got = await txns_until(ws, 2000001)
        points[id(ws)] = got[-1][0]
    c.sql("SELECT pg_terminate_backend(%d)" % victim)
    codes = []
    for ws, f in mine:
        try:
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if isinstance(m, dict) and m.get("type") == "error":
                    codes.append(m.get("code"))
                    break
        except Exception:
            codes.append("closed")
    T.check("a network worker terminated: its %d clients get shutting_down" % len(mine),
            len(mine) > 0 and all(x == "shutting_down" for x in codes), codes)
    for i in range(2000002, 2000012):
        c.sql("INSERT INTO t VALUES (%d, 0)" % i)
    await wait_for(lambda: len(network_pids(c)) == 2, 15)
    ok = True
    for ws, f in mine:
        ws2 = await connect(c)
        flt = {"filter": FILTER} if f else {}
        r = await subscribe(ws2, ["public.t"], "again", resume_lsn=points[id(ws)], **flt)
        got = await txns_until(ws2, 2000011)
        if r.get("type") != "ok" or [x[1] for x in got] != [[i] for i in range(2000002, 2000012)]:
            ok = False
            print("# resumed after the network worker's end:", r, [x[1] for x in got])
        await ws2.close()
    T.check("they resume with no gap and no duplicate", ok)
    ok = True
    for ws, f in others:
        got = await txns_until(ws, 2000011)
        if [x[1] for x in got] != [[i] for i in range(2000002, 2000012)]:
            ok = False
            print("# other network worker's client:", [x[1] for x in got])
    T.check("the other network worker's %d clients went on undisturbed" % len(others), len(others) > 0 and ok)
    for ws, _, _ in clients:
        await ws.close()


if __name__ == "__main__":
    sys.exit(run_worker_test(main, T, conf=["pgsync.network_workers = 2",
                                            "pgsync.heartbeat_interval = '200ms'",
                                            "pgsync.log_segment_size = '64kB'",
                                            "pgsync.log_retention_size = '1MB'"]))
