"""test/lib/gapless_load.py: the writers of the gapless checker.

Owns the write load: threads committing small and large transactions,
rollbacks, rolled-back savepoints, savepoint storms (hundreds of
subtransactions, spilling past pgsync.decoding_work_mem), streamed scripts
(large transactions past pgsync.decoding_work_mem, decoded while in
progress, with savepoints rolled back after their rows were streamed,
nested and released savepoints, committed or rolled back), prepared
transactions (COMMIT PREPARED / ROLLBACK PREPARED, resolved after crashes)
and truncates, reconnecting after crashes; and pausing on request (the
hand-over events of test/lib/gapless_chaos.py).  See test/lib/gapless.py.
"""
import random
import threading
import time

import psycopg2

from gapless_model import *  # noqa: F401,F403


class Writers:
    """Threads committing a random mix of transactions until `changes` row
    changes were committed (as far as they know) and the chaos is over."""

    def __init__(self, cluster, opts):
        self.cluster = cluster
        self.opts = opts
        self.lock = threading.Lock()
        self.changes = 0
        self.commits = 0
        self.rollbacks = 0
        self.savepoint_rollbacks = 0
        self.prepared = 0
        self.rollback_prepared = 0
        self.storms = 0
        self.streamed = 0           # streamed scripts committed
        self.streamed_rollbacks = 0     # ... rolled back
        self.forced_streamed = set()    # writers whose first script was forced
        self.big_rollbacks = 0      # rolled-back transactions of big_rows rows or more
        self.errors = 0
        self.fatal = None           # a bug of the harness itself
        self.chaos_over = threading.Event()     # set by Chaos: write until then
        self.running = threading.Event()        # cleared: writers pause between transactions
        self.running.set()
        self.idle = set()
        self.stop = False
        self.threads = []

    def start(self):
        for w in range(self.opts.writers):
            t = threading.Thread(target=self.loop, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)

    def done(self):
        return not any(t.is_alive() for t in self.threads)

    def pause(self, timeout=60):
        """Stop every writer between two transactions (prepared ones
        resolved); True once all are idle."""
        self.running.clear()
        deadline = time.time() + timeout
        while time.time() < deadline:
            alive = {i for i, t in enumerate(self.threads) if t.is_alive()}
            if alive <= self.idle:
                return True
            time.sleep(0.02)
        return False

    def resume(self):
        self.running.set()

    def count(self, n, kind):
        with self.lock:
            if kind in ("commit", "savepoint", "storm", "prepared", "streamed"):
                self.changes += n
                self.commits += 1
            if kind == "rollback":
                self.rollbacks += 1
            elif kind == "savepoint":
                self.savepoint_rollbacks += 1
            elif kind == "storm":
                self.storms += 1
            elif kind == "streamed":
                self.streamed += 1
            elif kind == "streamed_rollback":
                self.streamed_rollbacks += 1
                self.big_rollbacks += 1
            elif kind == "big_rollback":
                self.rollbacks += 1
                self.big_rollbacks += 1
            elif kind == "prepared":
                self.prepared += 1
            elif kind == "rollback_prepared":
                self.rollback_prepared += 1

    def loop(self, w):
        rng = random.Random(self.opts.seed * 1000 + w)
        base = (w + 1) * 10_000_000
        nxt = {t: base for t in TABLES}
        conn = None
        backoff = 0.05
        seq = [0]
        deadline = time.time() + self.opts.write_timeout
        while not self.stop and (self.changes < self.opts.changes or not self.chaos_over.is_set()):
            if time.time() > deadline:
                self.fatal = "writer %d: still writing after %ds (%d changes)" % (
                    w, self.opts.write_timeout, self.changes)
                break
            try:
                if conn is None:
                    conn = self.cluster.connect(autocommit=False)
                    self.resolve_prepared(conn, w)
                if not self.running.is_set():
                    self.idle.add(w)
                    self.running.wait(0.2)
                    continue
                self.idle.discard(w)
                n, kind = self.one(conn, rng, w, base, nxt, seq)
                backoff = 0.05
                self.count(n, kind)
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
        self.idle.add(w)
        if conn is not None:
            conn.close()

    def resolve_prepared(self, conn, w):
        """After a reconnect: finish this writer's prepared transactions
        (the gid says whether it was to commit or roll back)."""
        conn.rollback()
        conn.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE %s", ("gl_w%d\\_%%" % w,))
            for (gid,) in cur.fetchall():
                cur.execute("%s PREPARED %%s" % ("COMMIT" if gid.endswith("_c") else "ROLLBACK"), (gid,))
                self.count(0, "prepared" if gid.endswith("_c") else "rollback_prepared")
        finally:
            conn.autocommit = False

    def streamed_script(self, conn, rng, ins, upd, dele, rollback=None):
        """A transaction decoded while in progress: each large statement
        passes 64kB of decoding memory on its own, so it is streamed before
        what follows it.  Savepoints: one rolled back after its rows were
        streamed; nested ones, the inner rolled back through its released
        child; released ones whose rows stay.  Sometimes slow (a kill or
        restart may land inside), sometimes rolled back at the end (every
        value then carries ROLLBACK_MARK).  Returns (row changes, kind)."""
        cur = conn.cursor()
        if rollback is None:
            rollback = rng.random() < 0.3
        keep = ROLLBACK_MARK if rollback else ""
        slow = rng.random() < 0.4
        big = lambda: rng.randint(500, 1500)  # noqa: E731
        n = 0

        def nap():
            if slow:
                time.sleep(rng.uniform(0.05, 0.2))

        n += ins(rng.choice(TABLES), big(), keep)
        nap()
        cur.execute("SAVEPOINT s1")             # rolled back after its rows were streamed
        ins(rng.choice(TABLES), big(), ROLLBACK_MARK)
        upd(rng.choice(TABLES), rng.randint(1, 50), ROLLBACK_MARK)
        nap()
        cur.execute("ROLLBACK TO SAVEPOINT s1")
        n += upd(rng.choice(TABLES), rng.randint(1, 50), keep)
        cur.execute("SAVEPOINT s2")             # nested: s3 rolled back with its released child s4
        n += ins(rng.choice(TABLES), rng.randint(1, 20), keep)
        cur.execute("SAVEPOINT s3")
        ins(rng.choice(TABLES), rng.randint(1, 20), ROLLBACK_MARK)
        cur.execute("SAVEPOINT s4")
        ins(rng.choice(TABLES), big(), ROLLBACK_MARK)
        cur.execute("RELEASE SAVEPOINT s4")
        upd(rng.choice(TABLES), rng.randint(1, 20), ROLLBACK_MARK)
        nap()
        cur.execute("ROLLBACK TO SAVEPOINT s3")
        cur.execute("RELEASE SAVEPOINT s2")
        cur.execute("SAVEPOINT s5")             # released: its rows and its child's stay
        n += ins(rng.choice(TABLES), big(), keep)
        cur.execute("SAVEPOINT s6")
        n += dele(rng.choice(TABLES), rng.randint(1, 50))
        cur.execute("RELEASE SAVEPOINT s6")
        cur.execute("RELEASE SAVEPOINT s5")
        n += upd(rng.choice(TABLES), rng.randint(1, 20), keep)
        nap()
        if rollback:
            conn.rollback()
            return 0, "streamed_rollback"
        conn.commit()
        return n, "streamed"

    def one(self, conn, rng, w, base, nxt, seq):
        """One transaction; returns (row changes, what it was)."""
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

        def mixed(k):
            m = 0
            for _ in range(k):
                t = rng.choice(TABLES)
                op = rng.random()
                if op < 0.5:
                    m += ins(t, small())
                elif op < 0.8:
                    m += upd(t, small())
                else:
                    m += dele(t, small())
            return m

        small = lambda: rng.randint(1, 5)  # noqa: E731
        # a small run may draw no streamed script, which the checks require:
        # the first of writer 0 is one committed, of writer 1 one rolled back
        with self.lock:
            force = self.opts.streamed > 0 and w < 2 and w not in self.forced_streamed
            self.forced_streamed.add(w)
        if force:
            return self.streamed_script(conn, rng, ins, upd, dele, rollback=(w == 1))
        r = rng.random()
        lo, hi = self.opts.big_rows
        if r < self.opts.prepared:                      # prepared: commit or roll back later
            seq[0] += 1
            commit = rng.random() < 0.7
            gid = "gl_w%d_%d_%s" % (w, seq[0], "c" if commit else "r")
            conn.tpc_begin(gid)
            if commit:
                n += mixed(rng.randint(1, 3))
            else:
                ins(rng.choice(TABLES), small(), ROLLBACK_MARK)
            conn.tpc_prepare()
            time.sleep(rng.uniform(0, 0.05))        # others commit meanwhile
            if commit:
                conn.tpc_commit()
            else:
                conn.tpc_rollback()
            return n, "prepared" if commit else "rollback_prepared"
        r -= self.opts.prepared
        if r < self.opts.storms:                        # savepoint storm: subtransactions, some rolled back
            k = rng.randint(300, 1500)
            lo_id, lo_b = nxt["gl_a"], nxt["gl_b"]
            nxt["gl_a"] += k
            nxt["gl_b"] += k
            cur.execute("""DO $$ BEGIN
                FOR i IN 0..%d LOOP
                  BEGIN
                    INSERT INTO gl_a(id, grp, val) VALUES (%d + i, mod(i, 10),
                        CASE WHEN mod(i, 7) = 3 THEN '%s' ELSE '' END || 's' || i);
                    IF mod(i, 3) = 0 THEN
                      INSERT INTO gl_b(id, grp, amount, note) VALUES (%d + i, mod(i, 10), i,
                          CASE WHEN mod(i, 7) = 3 THEN '%s' ELSE '' END || 's');
                    END IF;
                    IF mod(i, 7) = 3 THEN RAISE EXCEPTION 'rb'; END IF;
                  EXCEPTION WHEN raise_exception THEN NULL;
                  END;
                END LOOP; END $$""" % (k - 1, lo_id, ROLLBACK_MARK, lo_b, ROLLBACK_MARK))
            conn.commit()
            return k - k // 7 + k // 3, "storm"
        r -= self.opts.storms
        if r < self.opts.streamed:
            return self.streamed_script(conn, rng, ins, upd, dele)
        r = rng.random()
        if r < 0.015:                                   # large insert
            n += ins(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.025:                                 # large update
            n += upd(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.03:                                  # large delete
            n += dele(rng.choice(TABLES), rng.randint(lo, hi))
        elif r < 0.10:                                  # rollback, sometimes large
            k = rng.choice([small(), small(), rng.randint(lo, hi)])
            ins(rng.choice(TABLES), k, ROLLBACK_MARK)
            upd(rng.choice(TABLES), small(), ROLLBACK_MARK)
            conn.rollback()
            return 0, "big_rollback" if k >= lo else "rollback"
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
            n += mixed(rng.randint(1, 4))
        conn.commit()
        return n, "commit"
