"""test/lib/gapless_load.py: the load and the chaos of the gapless checker.

Writers (small and large transactions, rollbacks, truncates, reconnecting
after crashes) and the crash schedule (SIGKILL of the worker, immediate
restarts).  See test/lib/gapless.py.
"""
import os
import random
import signal
import threading
import time

import psycopg2


from gapless_model import *  # noqa: F401,F403


class Writers:
    """Threads committing a random mix of transactions until `changes` row
    changes were committed (as far as they know)."""

    def __init__(self, cluster, opts):
        self.cluster = cluster
        self.opts = opts
        self.lock = threading.Lock()
        self.changes = 0
        self.commits = 0
        self.rollbacks = 0
        self.savepoint_rollbacks = 0
        self.errors = 0
        self.fatal = None           # a bug of the harness itself
        self.chaos_over = threading.Event()     # set by Chaos: write until then
        self.stop = False
        self.threads = []

    def start(self):
        for w in range(self.opts.writers):
            t = threading.Thread(target=self.loop, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)

    def done(self):
        return not any(t.is_alive() for t in self.threads)

    def loop(self, w):
        rng = random.Random(self.opts.seed * 1000 + w)
        base = (w + 1) * 10_000_000
        nxt = {t: base for t in TABLES}
        conn = None
        backoff = 0.05
        while not self.stop and (self.changes < self.opts.changes or not self.chaos_over.is_set()):
            try:
                if conn is None:
                    conn = self.cluster.connect(autocommit=False)
                n, kind = self.one(conn, rng, w, base, nxt)
                backoff = 0.05
                with self.lock:
                    if kind == "commit":
                        self.changes += n
                        self.commits += 1
                    elif kind == "rollback":
                        self.rollbacks += 1
                    else:
                        self.changes += n
                        self.commits += 1
                        self.savepoint_rollbacks += 1
            except psycopg2.Error:
                with self.lock:
                    self.errors += 1
                try:
                    if conn is not None:
                        conn.close()
                except psycopg2.Error:
                    pass
                conn = None
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception as e:
                self.fatal = "writer %d: %r" % (w, e)
                raise
        if conn is not None:
            conn.close()

    def one(self, conn, rng, w, base, nxt):
        """One transaction; returns (row changes, commit|rollback|savepoint)."""
        cur = conn.cursor()
        n = 0

        def ins(table, k, mark=""):
            lo = nxt[table]
            nxt[table] += k
            if table == "gl_a":
                cur.execute("INSERT INTO gl_a SELECT g, mod(g, 10), %s || g FROM generate_series(%s, %s) g",
                            (mark + "a", lo, lo + k - 1))
            elif table == "gl_b":
                cur.execute("INSERT INTO gl_b SELECT g, mod(g, 10), mod(g, 1000) / 7.0, %s || md5(g::text) "
                            "FROM generate_series(%s, %s) g", (mark + "b", lo, lo + k - 1))
            else:
                cur.execute("INSERT INTO gl_c SELECT g, CASE WHEN mod(g, 11) = 0 THEN NULL ELSE mod(g, 10) END, "
                            "%s || repeat('x', mod(g, 50)::int) FROM generate_series(%s, %s) g",
                            (mark + "c", lo, lo + k - 1))
            return cur.rowcount

        def rng_range(table, k):
            hi = nxt[table]
            lo = max(base, hi - 20000)
            a = rng.randrange(lo, hi) if hi > lo else lo
            return a, a + k

        def upd(table, k, mark=""):
            a, b = rng_range(table, k)
            col = {"gl_a": "val", "gl_b": "note", "gl_c": "payload"}[table]
            cur.execute("UPDATE %s SET grp = mod(coalesce(grp, 0) + 3, 10), %s = %%s || id "
                        "WHERE id BETWEEN %%s AND %%s" % (table, col), (mark + "u", a, b))
            return cur.rowcount

        def dele(table, k):
            a, b = rng_range(table, k)
            cur.execute("DELETE FROM %s WHERE id BETWEEN %%s AND %%s AND mod(id, 3) <> 1" % table, (a, b))
            return cur.rowcount

        small = lambda: rng.randint(1, 5)  # noqa: E731
        r = rng.random()
        lo, hi = self.opts.big_rows
        if r < 0.015:                                   # large insert
            n += ins(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.025:                                 # large update
            n += upd(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.03:                                  # large delete
            n += dele(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.10:                                  # rollback, sometimes large
            ins(rng.choice(TABLES), rng.choice([small(), small(), rng.randint(lo, hi)]), ROLLBACK_MARK)
            upd(rng.choice(TABLES), small(), ROLLBACK_MARK)
            conn.rollback()
            return 0, "rollback"
        elif r < 0.15:                                  # savepoint rolled back inside a commit
            n += ins(rng.choice(TABLES), small())
            cur.execute("SAVEPOINT s")
            ins(rng.choice(TABLES), small(), ROLLBACK_MARK)
            upd(rng.choice(TABLES), small(), ROLLBACK_MARK)
            cur.execute("ROLLBACK TO SAVEPOINT s")
            n += upd(rng.choice(TABLES), small())
            conn.commit()
            return n, "savepoint"
        elif r < 0.152 and w == 0:                      # rare truncate
            cur.execute("TRUNCATE gl_c")
            n += 1
        else:                                           # small, one or several tables
            for _ in range(rng.randint(1, 4)):
                t = rng.choice(TABLES)
                op = rng.random()
                if op < 0.5:
                    n += ins(t, small())
                elif op < 0.8:
                    n += upd(t, small())
                else:
                    n += dele(t, small())
        conn.commit()
        return n, "commit"


# ---------------------------------------------------------------------------
# Chaos: worker kills and immediate restarts at points of the workload

def wait_serving(cluster, old_pid=None, timeout=120):
    """Wait for a worker (other than old_pid) that streams and listens."""
    pid = cluster.wait_new_worker(old_pid, timeout)
    if not pid:
        raise RuntimeError("worker not back after %ds\n%s" % (timeout, cluster.log()[-3000:]))
    return pid


class Chaos:
    def __init__(self, cluster, writers, opts, rng):
        self.cluster = cluster
        self.writers = writers
        self.events = ["kill"] * opts.kills + ["restart"] * opts.restarts
        rng.shuffle(self.events)
        n = len(self.events)
        self.at = [opts.changes * (i + 1) // (n + 1) for i in range(n)]
        self.kills = 0
        self.restarts = 0
        self.downtime = 0.0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.thread.start()

    def loop(self):
        try:
            self.run_events()
        finally:
            self.writers.chaos_over.set()

    def run_events(self):
        for ev, at in zip(self.events, self.at):
            while self.writers.changes < at and not self.writers.done():
                time.sleep(0.05)
            if self.writers.done():
                return
            t0 = time.time()
            if ev == "kill":
                pid = wait_serving(self.cluster)
                os.kill(pid, signal.SIGKILL)
                self.kills += 1
                wait_serving(self.cluster, pid)
            else:
                self.cluster.pg_ctl("restart", "-m", "immediate", "-w", "-t", "120",
                                    "-l", self.cluster.log_path())
                self.restarts += 1
                wait_serving(self.cluster)
            self.downtime += time.time() - t0
            say("%s %d done at %d changes (%.1fs to serve again)"
                % (ev, self.kills if ev == "kill" else self.restarts, self.writers.changes, time.time() - t0))


# ---------------------------------------------------------------------------
# Clients
