"""test/lib/gapless_chaos.py: the chaos of the gapless checker.

Owns what happens to the server while the writers write: SIGKILLs of the
worker (crash restarts), pg_ctl restarts (-m immediate and -m fast), most
of them while a large transaction of its own is in progress and already
streamed to the worker (its spool exists; the kill ends it), SIGTERMs of
the worker alone in the middle of such a transaction, which then goes on
(a savepoint rolled back, more rows) and commits or rolls back, ALTER
TABLEs while streaming (columns added and dropped, column types changed,
REPLICA IDENTITY FULL / DEFAULT, sometimes with changes before and after
in the same transaction), ALTERs racing the kills and restarts, and the
hand-over events: writers paused, kill or restart, then chosen clients
resume from far back in the log (long replays through a private fan-out),
from beyond the log's end, or reload through a snapshot, and the writers
start again only once they have joined live push; sometimes one client
replays from the oldest point slowly while the writers go on, so that
retention removes what it is still replaying (resume_too_old event).
Mirrored hand-overs write the same shape of transactions just before the
restart and just after the clients joined, the clients resuming from just
before the first copy: a replayed and a live change then have the same rank
in their fan-outs' counts (what exposed the stale route mark).  See test/lib/gapless.py.
"""
import itertools
import os
import random
import signal
import threading
import time

import psycopg2

from gapless_model import *  # noqa: F401,F403


def wait_serving(cluster, old_pid=None, timeout=120):
    """Wait for a worker (other than old_pid) that streams and listens."""
    pid = cluster.wait_new_worker(old_pid, timeout)
    if not pid:
        raise RuntimeError("worker not back after %ds\n%s" % (timeout, cluster.log()[-3000:]))
    return pid


class Alterer:
    """ALTER TABLE, at random intervals in its own thread and on demand."""

    def __init__(self, cluster, opts, rng):
        self.cluster = cluster
        self.opts = opts
        self.rng = rng
        self.ids = itertools.count(90_000_000)
        self.lock = threading.Lock()
        self.gate = threading.Lock()      # held by a hand-over: no ALTER meanwhile
        self.done = 0
        self.failed = 0
        self.streamed = 0       # ALTERs between rows enough to be streamed
        self.kinds = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        if self.opts.alter_every > 0:
            self.thread.start()

    def loop(self):
        while not self.stop.wait(self.rng.uniform(0.5, 1.5) * self.opts.alter_every):
            self.alter_once()

    def alter_once(self, gated=True, big=None):
        """One ALTER (and maybe rows around it, same transaction); errors
        (lock timeout, crash) are counted, not raised.  Gated: not while a
        hand-over holds the gate.  Big: the rows before and after it are
        enough for the transaction to be streamed while in progress, so the
        ALTER lands inside a streamed transaction (by default: until one
        did, then one time in four)."""
        if gated:
            with self.gate:
                return self.alter_once(False, big)
        with self.lock:
            rng_val = self.rng.random()
            pick = self.rng.randrange(1 << 30)
            if big is None:
                big = self.streamed == 0 or self.rng.random() < 0.25
            n = self.rng.randint(800, 1500) if big else 1
        try:
            conn = self.cluster.connect(autocommit=False)
        except psycopg2.Error:
            self.failed += 1
            return
        try:
            cur = conn.cursor()
            cur.execute("SET lock_timeout = '2s'")
            table, stmt = self.choose(cur, pick)
            if big or rng_val < 0.5:
                self.rows(cur, table, n)
            cur.execute(stmt)
            if big or rng_val < 0.7:
                self.rows(cur, table, n)
            conn.commit()
            kind = stmt.split(" ", 3)[3].split(" ")[0] + " " + table
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            self.done += 1
            self.streamed += big
        except psycopg2.Error:
            self.failed += 1
        finally:
            try:
                conn.close()
            except psycopg2.Error:
                pass

    def rows(self, cur, table, n, grp=None, mark=""):
        """n rows into table, ids of the alterer's range, grp given or id % 10,
        text values prefixed with mark."""
        with self.lock:
            first = next(self.ids)
            for _ in range(n - 1):
                next(self.ids)
        g = "mod(g, 10)" if grp is None else str(int(grp))
        cols = {"gl_a": "id, grp, val", "gl_b": "id, grp, amount, note", "gl_c": "id, grp, payload"}[table]
        more = {"gl_a": "%s || 'alter'", "gl_b": "1.5, %s || 'alter'", "gl_c": "%s || 'alter'"}[table]
        cur.execute("INSERT INTO %s(%s) SELECT g, %s, %s FROM generate_series(%%s, %%s) g"
                    % (table, cols, g, more), (mark, first, first + n - 1))

    def choose(self, cur, pick):
        """(table, ALTER statement), from the catalog as it is now."""
        table = TABLES[pick % 3]
        pick //= 3
        cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                    (table,))
        cols = dict(cur.fetchall())
        extra = [c for c in cols if c.startswith("x_")]
        what = pick % 4
        if what == 0:
            if extra and (len(extra) > 2 or pick % 8 >= 4):
                return table, "ALTER TABLE %s DROP COLUMN %s" % (table, extra[pick % len(extra)])
            n = next(self.ids) % 100000
            typ = ["int DEFAULT %d" % n, "text", "numeric(8,2) DEFAULT 1.25", "bigint"][pick % 4]
            return table, "ALTER TABLE %s ADD COLUMN x_%d %s" % (table, n, typ)
        if what == 1:
            cur.execute("SELECT relreplident FROM pg_class WHERE oid = %s::regclass", (table,))
            full = cur.fetchone()[0] == "f"
            return table, "ALTER TABLE %s REPLICA IDENTITY %s" % (table, "DEFAULT" if full else "FULL")
        # type changes that keep the filters compiling (grp stays an integer)
        if table == "gl_a":
            new = "varchar(200)" if cols["val"] == "text" else "text"
            return table, "ALTER TABLE gl_a ALTER COLUMN val TYPE %s" % new
        if table == "gl_b":
            if what == 2:
                new = "numeric(14,2)" if cols["amount"] == "numeric(12,2)" else "numeric(12,2)"
                return table, "ALTER TABLE gl_b ALTER COLUMN amount TYPE %s" % new
            new = "varchar(100)" if cols["note"] == "text" else "text"
            return table, "ALTER TABLE gl_b ALTER COLUMN note TYPE %s" % new
        new = "bigint" if cols["grp"] == "integer" else "integer"
        return table, "ALTER TABLE gl_c ALTER COLUMN grp TYPE %s" % new


class Chaos:
    """The kill/restart schedule, spread over the changes to write."""

    def __init__(self, cluster, writers, alterer, clients, state, opts, rng):
        self.cluster = cluster
        self.writers = writers
        self.alterer = alterer
        self.clients = clients
        self.state = state
        self.opts = opts
        self.rng = rng
        self.events = ["kill"] * opts.kills + ["restart"] * opts.restarts
        rng.shuffle(self.events)
        self.crash_events = len(self.events)
        for _ in range(opts.terms):       # never first: the first two kills/restarts are hand-overs
            self.events.insert(rng.randint(min(2, len(self.events)), len(self.events)), "term")
        n = len(self.events)
        self.at = [opts.changes * (i + 1) // (n + 1) for i in range(n)]
        self.kills = 0
        self.restarts = 0
        self.fast_restarts = 0
        self.terms = 0
        self.held = 0               # kills/restarts made while a streamed transaction was spooled
        self.term_spooled = 0       # SIGTERMs made so, and its transaction spooled again after
        self.term_commits = 0
        self.handovers = 0
        self.handover_timeouts = 0
        self.raced_alters = 0
        self.downtime = 0.0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.thread.start()

    def loop(self):
        try:
            self.run_events()
        except Exception as e:
            self.state["chaos_error"] = repr(e)
            raise
        finally:
            self.writers.resume()
            self.writers.chaos_over.set()

    def run_events(self):
        i = -1                                  # kills and restarts so far
        for ev, at in zip(self.events, self.at):
            while self.writers.changes < at and not self.writers.done():
                time.sleep(0.05)
            if self.writers.done():
                return
            if ev == "term":
                self.term()
                continue
            i += 1
            # with any hand-overs at all, the first is mirrored and the second is not
            quiet = self.opts.quiet > 0 and (i < 2 or self.rng.random() < self.opts.quiet)
            mirror = quiet and (i == 0 or (i > 1 and self.rng.random() < 0.6))
            if quiet:
                self.writers.pause()
                self.alterer.gate.acquire()     # nothing but what the hand-over writes
            try:
                if self.rng.random() < 0.5:     # an ALTER just before the kill / restart
                    self.alterer.alter_once(gated=False)
                    self.raced_alters += 1
                shape = before = None
                if mirror:
                    before = self.wait_decoded()
                    shape = self.mirror_shape()
                    self.write_shape(shape)
                if quiet:
                    self.wait_decoded()
                held = self.hold_streamed() if self.rng.random() < self.opts.held else None
                if held:
                    self.held += held[1]
                t0 = time.time()
                self.event(ev)
                if held:
                    held[0].close()
                if not mirror and self.rng.random() < 0.5:     # and one as soon as it serves again
                    self.alterer.alter_once(gated=False)
                    self.raced_alters += 1
                took = time.time() - t0
                self.downtime += took
                if quiet:
                    self.handover(before)
                if mirror:
                    self.write_shape(shape)
            finally:
                if quiet:
                    self.alterer.gate.release()
                    self.writers.resume()
            say("%s %d done at %d changes (%.1fs to serve again)%s%s"
                % (ev, self.kills if ev == "kill" else self.restarts, self.writers.changes, took,
                   ", hand-over %d%s" % (self.handovers, " (mirrored)" if mirror else "") if quiet else "",
                   "" if not held else ", in a streamed transaction (%s)" % (
                       "spooled" if held[1] else "NOT spooled")))

    def mirror_shape(self):
        """Transactions written before the restart (the clients' replays)
        and again after it (their first live changes), so that a client's
        last replayed change and its first live one have the same rank
        among the changes the fan-outs count: a big transaction most
        subscriptions filter out, then single rows that several of them
        take (gl_b grp 3: clients 2, 4; gl_a grp 1: clients 3, 5)."""
        rows = [("gl_c", 7, self.rng.randint(200, 3000)), ("gl_b", 3, 1), ("gl_a", 1, 1)]
        if self.rng.random() < 0.5:
            rows[1], rows[2] = rows[2], rows[1]
        return rows

    def write_shape(self, shape):
        conn = self.cluster.connect(autocommit=False)
        try:
            cur = conn.cursor()
            for table, grp, n in shape:
                self.alterer.rows(cur, table, n, grp)
                conn.commit()
        finally:
            conn.close()

    def wait_decoded(self, timeout=60):
        """Wait until the worker has logged everything committed so far, a
        marker transaction included: after the restart, the live fan-out
        then counts only new changes.  The marker's commit LSN."""
        before = lsn_int(self.cluster.sql("SELECT pg_current_wal_insert_lsn()::text")[0][0])
        self.cluster.sql("INSERT INTO gapless_marker(note) VALUES ('hand-over')")
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.cluster.sql("SELECT log_last_lsn::text FROM pgsync.status")
            if r and r[0][0] and lsn_int(r[0][0]) > before:
                return lsn_int(r[0][0])
            time.sleep(0.05)
        say("the worker's log did not pass %s in %ds" % (lsn_str(before), timeout))
        return None

    def spooled(self, xid, timeout=10):
        """Wait until the worker spools transaction xid (it streamed it)."""
        path = os.path.join(self.cluster.datadir, "pg_pgsync", "log", "%08X.spool" % xid)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(path):
                return True
            time.sleep(0.02)
        return False

    def hold_streamed(self, mark=ROLLBACK_MARK):
        """Begin a transaction of rows big enough to be streamed, and wait
        until the worker spools it: (connection, spooled?, xid), the
        transaction still open."""
        conn = self.cluster.connect(autocommit=False)
        cur = conn.cursor()
        cur.execute("SELECT txid_current() % (1::bigint << 32)")
        xid = cur.fetchone()[0]
        self.alterer.rows(cur, random.Random(self.rng.random()).choice(TABLES), self.rng.randint(800, 2000),
                          mark=mark)
        return conn, self.spooled(xid), xid

    def term(self):
        """SIGTERM the worker (it restarts alone, the cluster goes on) in
        the middle of a streamed transaction; the restarted worker decodes
        it again from its start.  The transaction then goes on: a savepoint
        rolled back after its rows are streamed again, more rows; then
        COMMIT, or ROLLBACK (every value then carries ROLLBACK_MARK)."""
        commit = self.rng.random() < 0.6
        keep = "" if commit else ROLLBACK_MARK
        self.writers.pause()        # the worker keeps up: the spool comes at once, the load does not run on
        try:
            self.term_held(commit, keep)
        finally:
            self.writers.resume()

    def term_held(self, commit, keep):
        conn, spooled, xid = self.hold_streamed(keep)
        try:
            cur = conn.cursor()
            pid = wait_serving(self.cluster)
            t0 = time.time()
            os.kill(pid, signal.SIGTERM)
            self.terms += 1
            wait_serving(self.cluster, pid)
            took = time.time() - t0
            cur.execute("SAVEPOINT t1")
            self.alterer.rows(cur, self.rng.choice(TABLES), self.rng.randint(800, 2000), mark=ROLLBACK_MARK)
            again = self.spooled(xid)
            cur.execute("ROLLBACK TO SAVEPOINT t1")
            self.alterer.rows(cur, self.rng.choice(TABLES), self.rng.randint(1, 500), mark=keep)
            self.term_spooled += spooled and again
            if commit:
                conn.commit()
                self.term_commits += 1
            else:
                conn.rollback()
        finally:
            conn.close()
        say("SIGTERM %d done at %d changes (%.1fs to serve again), in a streamed transaction (%s, %s), %s"
            % (self.terms, self.writers.changes, took, "spooled" if spooled else "NOT spooled",
               "spooled again" if again else "NOT spooled again", "committed" if commit else "rolled back"))

    def event(self, ev):
        if ev == "kill":
            pid = wait_serving(self.cluster)
            os.kill(pid, signal.SIGKILL)
            self.kills += 1
            wait_serving(self.cluster, pid)
            return
        mode = "fast" if self.restarts % 2 else "immediate"
        self.cluster.pg_ctl("restart", "-m", mode, "-w", "-t", "120", "-l", self.cluster.log_path())
        self.restarts += 1
        self.fast_restarts += mode == "fast"
        wait_serving(self.cluster)

    def handover(self, mirror_from=None, timeout=20):
        """Tell chosen clients how to come back after this restart (their
        connections died with it), wait until they have joined live push.
        Mirrored: most resume from mirror_from, just before the shape."""
        self.handovers += 1
        gen = self.handovers
        jump, oldest = self.cluster.sql("SELECT pg_current_wal_lsn()::text, log_oldest_lsn::text"
                                        " FROM pgsync.status")[0]
        roles = {}
        for c in self.clients:
            r = self.rng.random()
            if mirror_from is not None and r < 0.8:
                roles[c.num] = "mirror"
            elif c.sub.spec.get("snapshot"):
                roles[c.num] = "snapshot" if r < 0.4 else ("rewind" if r < 0.7 else "resume")
            else:
                roles[c.num] = "rewind" if r < 0.55 else ("jump" if r < 0.7 else "resume")
        if mirror_from is None:
            if "rewind" not in roles.values():
                roles[self.clients[0].num] = "rewind"
            if self.rng.random() < 0.5:         # one replays from the oldest point slowly, while the
                slow = self.rng.choice(self.clients)    # writers go on: retention trims under it
                roles[slow.num] = "slow"
        gap = self.opts.changes // (self.crash_events + 1)
        self.state["handover"] = {"gen": gen, "jump": lsn_int(jump), "roles": roles, "max_back": gap * 0.7,
                                  "oldest": lsn_int(oldest) if oldest else None, "mirror": mirror_from}
        waited = [c for c in self.clients if roles[c.num] != "slow"]
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(c.handover_done >= gen or c.fatal for c in waited):
                return
            time.sleep(0.05)
        self.handover_timeouts += 1
        say("hand-over %d: clients %s not back in live push after %ds"
            % (gen, [c.num for c in waited if c.handover_done < gen], timeout))
