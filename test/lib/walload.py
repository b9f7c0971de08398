"""test/lib/walload.py: WAL from another database, and what the slot keeps.

Helpers for the WAL-retention tests (test/t/slot_wal_*.py): a writer in
a database pgsync does not stream, a sampler of the slot's retained WAL
(pg_current_wal_lsn() - restart_lsn) and of its peak, and the test
cluster settings that make checkpoints (and so running-xacts records,
where restart_lsn can move) frequent.
"""
import threading
import time

import psycopg2

MB = 1024 * 1024

# small checkpoint distance: a checkpoint (and its running-xacts record)
# every ~20 MB of WAL
WAL_CONF = ["max_wal_size = '48MB'", "min_wal_size = '32MB'",
            "checkpoint_timeout = '30s'", "wal_keep_size = 0"]

# one transaction of the other database: ~5 MB of WAL
TXN_ROWS = 20000


def setup(c):
    """pgsync's table public.t, the pgsync SQL objects, database other."""
    c.sql("CREATE TABLE t(id int PRIMARY KEY, v text)")
    c.create_extension()
    setup_other_db(c)


def setup_other_db(c, name="other"):
    c.sql("CREATE DATABASE %s" % name)
    o = c.connect(name)
    with o.cursor() as cur:
        cur.execute("CREATE TABLE big(id bigserial PRIMARY KEY, pad text)")
    o.close()


def retained(c):
    """pg_current_wal_lsn() - restart_lsn of slot pgsync (bytes), or None."""
    r = c.sql("SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots "
              "WHERE slot_name = 'pgsync'")
    return r[0][0] if r and r[0][0] is not None else None


def write_other(c, total_mb, name="other", stop=None):
    """Write about total_mb of WAL in database name, in transactions of
    TXN_ROWS rows; reconnects after a server crash restart.  Returns the
    WAL bytes written."""
    start = end = None
    conn = None
    while True:
        if stop is not None and stop.is_set():
            break
        try:
            if conn is None:
                conn = c.connect(name)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_current_wal_lsn()::text")
                lsn = cur.fetchone()[0]
                if start is None:
                    start = lsn
                cur.execute("INSERT INTO big(pad) SELECT repeat('x', 200) FROM generate_series(1, %d)"
                            % TXN_ROWS)
                cur.execute("SELECT (pg_current_wal_lsn() - %s::pg_lsn)::bigint", (start,))
                end = cur.fetchone()[0]
            if end >= total_mb * MB:
                break
        except psycopg2.Error:
            conn = None
            time.sleep(0.5)
    if conn is not None:
        conn.close()
    return end or 0


class Sampler:
    """Samples retained() every interval seconds in a thread; .peak."""

    def __init__(self, c, interval=0.2):
        self.c, self.interval = c, interval
        self.peak = 0
        self.samples = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                r = retained(self.c)
                if r is not None:
                    self.samples.append(r)
                    self.peak = max(self.peak, r)
            except psycopg2.Error:
                pass
            time.sleep(self.interval)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()
        return False


def settle(c, bound, timeout=20):
    """CHECKPOINT (a running-xacts record) until retained() <= bound;
    returns the last value seen."""
    deadline = time.time() + timeout
    r = None
    while time.time() < deadline:
        try:
            c.sql("CHECKPOINT")
            time.sleep(0.5)
            r = retained(c)
            if r is not None and r <= bound:
                return r
        except psycopg2.Error:
            time.sleep(0.5)
    return r
