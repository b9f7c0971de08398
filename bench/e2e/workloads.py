"""bench/e2e/workloads.py: the measured workloads, the same for every system.

Each function takes the system (systems.py) and the shared cluster, drives
the load client (bench/loadclient/pgsync-load) and the writers (pgbench or
one DO block), and returns a dict of figures.  What is counted:

  - latency: for every row a client receives, arrival time - the row's
    clock_timestamp() taken at INSERT (so it includes the commit itself);
    pgbench's per-transaction log gives the commit's own duration (INSERT +
    COMMIT round trip, schedule lag removed).
  - cpu_s_per_M: utime+stime (/proc) of the system's delivery processes
    over the run, per million rows delivered to clients.
  - memory per idle client: VmRSS and RssAnon of the delivery processes
    with N idle subscribed clients minus without, over N.
"""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from systems import proc_cpu_s, proc_mem_kb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "loadclient"))
import loadclient  # noqa: E402
from loadclient import LoadClient  # noqa: E402

PGBENCH_CONNECTIONS = 32


def source_addrs(clients):
    """Several loopback source addresses past 1,000 clients, so that
    10,000 connections (and the TIME_WAITs of earlier runs) never run out
    of ephemeral ports."""
    n = 1 if clients < 1000 else 4
    return ",".join("127.0.0.%d" % (i + 1) for i in range(n))


def start_clients(system, clients, mode, hist_out=None):
    """pgsync-load with clients connections subscribed to lat, once ready."""
    return LoadClient(system.url(), clients, system.subscribe_text(), mode=mode,
                      threads=2 if clients >= 1000 else 1, source_addrs=source_addrs(clients),
                      hist_out=hist_out).start()


def cpu_of(pids):
    return sum(proc_cpu_s(p) for p in pids)


def mem_of(pids, field):
    return sum(proc_mem_kb(p, field) for p in pids)


def settle(pids, cap, busy_s=0.01, step=0.5, min_wait=1.0):
    """Wait (at least min_wait, at most cap seconds) until pids use less
    than busy_s CPU seconds per step: the system has delivered what it had,
    or given up.  Returns the seconds waited."""
    t0 = time.time()
    time.sleep(min_wait)
    last = cpu_of(pids)
    while time.time() - t0 < cap:
        time.sleep(step)
        now = cpu_of(pids)
        if now - last < busy_s:
            break
        last = now
    return time.time() - t0


def last_id(c):
    return c.sql("SELECT coalesce(max(id), 0) FROM lat")[0][0]


def commit_durations(logdir):
    """Per-transaction durations (us) from pgbench -l logs, schedule lag
    removed: the INSERT + COMMIT round trip as the writer saw it."""
    out = []
    for path in glob.glob(os.path.join(logdir, "pgb*")):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 7:
                    out.append(int(p[2]) - int(p[6]))
                elif len(p) >= 3:
                    out.append(int(p[2]))
    return sorted(out)


def pct(sorted_vals, q):
    if not sorted_vals:
        return 0
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def pgbench(c, rate, secs):
    """Single-row insert transactions at `rate` per second for `secs`;
    returns the commit durations (us)."""
    logdir = tempfile.mkdtemp(prefix="e2e-pgbench.")
    script = os.path.join(logdir, "ins.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO lat(pad) VALUES ('x');\n")
    os.chmod(logdir, 0o777)
    subprocess.run(["pgbench", "-n", "-h", c.tmp, "-p", str(c.port), "-U", "postgres",
                    "-c", str(PGBENCH_CONNECTIONS), "-j", "2", "-R", str(rate), "-T", str(secs),
                    "-l", "--log-prefix", os.path.join(logdir, "pgb"), "-f", script, "postgres"],
                   check=True, capture_output=True, cwd=logdir)
    d = commit_durations(logdir)
    subprocess.run(["rm", "-rf", logdir])
    return d


def commit_batches(c, rows, per_txn):
    """rows rows in transactions of per_txn, as fast as one backend can."""
    c.sql("DO $$ BEGIN FOR i IN 1..%d LOOP "
          "INSERT INTO lat(pad) SELECT 'x' FROM generate_series(1, %d); COMMIT; END LOOP; END $$"
          % (rows // per_txn, per_txn))


def latency(system, c, clients, rate, secs, hist_out):
    pids = system.delivery_pids()
    settle(pids, 60)
    lc = start_clients(system, clients, "latency", hist_out)
    time.sleep(0.5)
    first = last_id(c)
    cpu0 = cpu_of(pids)
    commits = pgbench(c, rate, secs)
    rows = last_id(c) - first
    drained = settle(pids + [lc.pid], 60)
    cpu = cpu_of(pids) - cpu0
    r = lc.stop()
    lat = r["lat_us"]
    return {
        "clients": clients, "rate": rate, "secs": secs, "ready": lc.ready, "rows_committed": rows,
        "expected": rows * lc.ready, "received": r["rows"], "messages": r["messages"],
        "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000, "p999_ms": lat["p999"] / 1000,
        "max_ms": lat["max"] / 1000, "commit_p50_ms": pct(commits, 0.5) / 1000,
        "commit_p99_ms": pct(commits, 0.99) / 1000, "commit_p999_ms": pct(commits, 0.999) / 1000,
        "drain_s": drained, "cpu_s": cpu,
        "cpu_s_per_M": cpu / r["rows"] * 1e6 if r["rows"] else None, "client": r,
    }


def commit_in_parallel(c, rows, per_txn, writers):
    """rows rows in per_txn-row transactions from `writers` backends at
    once; returns (start, end) times."""
    threads = [threading.Thread(target=commit_batches, args=(c, rows // writers, per_txn))
               for _ in range(writers)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return t0, time.time()


def throughput(system, c, rows, per_txn, backlog, writers=2):
    """One client; rows committed in per_txn-row transactions as fast as
    `writers` backends can; the rate at which the client receives them,
    from its first row to its last.

    backlog False ("live"): the system runs while the rows are committed;
    if it keeps up, the figure is the writers' rate.  backlog True: the
    system's delivering process is stopped (SIGSTOP: pgsync's worker, the
    bridge's node process) while the rows are committed, then continued:
    the rate at which it delivers what waits for it, whatever the writers'
    speed (the slot, the notification queue or the WAL holds the rows)."""
    pids = system.delivery_pids()
    settle(pids, 60)
    lc = start_clients(system, 1, "latency")
    time.sleep(0.5)
    cpu0 = cpu_of(pids)
    paused = system.pausable_pid() if backlog else None
    if paused:
        os.kill(paused, signal.SIGSTOP)
    try:
        t0, t1 = commit_in_parallel(c, rows, per_txn, writers)
    finally:
        if paused:
            os.kill(paused, signal.SIGCONT)
    settle(pids + [lc.pid], 120)
    cpu = cpu_of(pids) - cpu0
    r = lc.stop()
    span = (r["last_msg_unix"] - r["first_msg_unix"]) if r["rows"] else 0
    return {
        "rows": rows, "per_txn": per_txn, "backlog": backlog, "commit_rows_per_s": rows / (t1 - t0),
        "received": r["rows"], "recv_rows_per_s": r["rows"] / span if span > 0 else 0,
        "behind_at_end_s": max(0.0, r["last_msg_unix"] - t1) if r["rows"] else None,
        "kept_up": r["rows"] == rows and r["last_msg_unix"] - t1 < 1.0,
        "cpu_s": cpu, "cpu_s_per_M": cpu / r["rows"] * 1e6 if r["rows"] else None, "client": r,
    }


def fanout(system, c, clients, txns, per_txn, overhead):
    """clients idle subscribed clients (memory per idle client), then txns
    transactions of per_txn rows committed at once; messages/s delivered.
    overhead(txns): messages per client that are not rows (pgsync also
    sends begin and commit around each transaction, and the relation)."""
    pids = system.delivery_pids()
    settle(pids, 60)
    rss0, anon0 = mem_of(pids, "VmRSS"), mem_of(pids, "RssAnon")
    t0 = time.time()
    lc = start_clients(system, clients, "count")
    connect_s = time.time() - t0
    settle(pids, 30)
    rss1, anon1 = mem_of(pids, "VmRSS"), mem_of(pids, "RssAnon")
    cpu0 = cpu_of(pids)
    commit_batches(c, txns * per_txn, per_txn)
    settle(pids + [lc.pid], 120)
    cpu = cpu_of(pids) - cpu0
    r = lc.stop()
    rows = max(0, r["messages"] - lc.ready * overhead(txns))
    share = rows / r["messages"] if r["messages"] else 0
    return {
        "clients": clients, "ready": lc.ready, "connect_s": connect_s, "txns": txns, "per_txn": per_txn,
        "expected_rows": txns * per_txn * lc.ready, "messages": r["messages"], "rows": rows,
        "msgs_per_s": r["msgs_per_sec"], "rows_per_s": r["msgs_per_sec"] * share,
        "idle_rss_kb_per_client": (rss1 - rss0) / max(lc.ready, 1),
        "idle_anon_kb_per_client": (anon1 - anon0) / max(lc.ready, 1),
        "cpu_s": cpu, "cpu_s_per_M": cpu / rows * 1e6 if rows else None, "client": r,
    }


def backend_cpu_for_inserts(c, n):
    """CPU seconds of one backend committing n single-row inserts."""
    conn = c.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            t0 = proc_cpu_s(pid)
            cur.execute("DO $$ BEGIN FOR i IN 1..%d LOOP INSERT INTO lat(pad) VALUES ('x'); COMMIT; "
                        "END LOOP; END $$" % n)
            return proc_cpu_s(pid) - t0
    finally:
        conn.close()


def trigger_cost(notify_system, c, n):
    """The writers' CPU per insert with and without the notify trigger
    (with the bridge listening), in microseconds."""
    with_t = backend_cpu_for_inserts(c, n)
    notify_system.detach_trigger()
    try:
        without = backend_cpu_for_inserts(c, n)
    finally:
        notify_system.attach_trigger()
    return {"inserts": n, "with_trigger_us": with_t / n * 1e6, "without_us": without / n * 1e6}
