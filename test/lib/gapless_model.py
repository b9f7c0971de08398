"""test/lib/gapless_model.py: what the gapless checker compares.

Owns the constants and schema, LSN and xid helpers, the options, the
subscriptions (tables, ops, row filters evaluated on the plugin's values,
auxiliary subscriptions, snapshots), the snapshot join rule and the
reference stream read from a second slot.  See test/lib/gapless.py.
"""
import fnmatch
import hashlib
import json
import random


REF_SLOT = "gapless_ref"
ROLLBACK_MARK = "RB!"          # in every value written by a rolled-back (sub)transaction
TABLES = ("gl_a", "gl_b", "gl_c")

SCHEMA = """
CREATE TABLE gl_a(id int PRIMARY KEY, grp int NOT NULL, val text);
CREATE TABLE gl_b(id int PRIMARY KEY, grp int NOT NULL, amount numeric(12,2), note text);
ALTER TABLE gl_b REPLICA IDENTITY FULL;
CREATE TABLE gl_c(id bigint PRIMARY KEY, grp int, payload text);
CREATE TABLE gapless_marker(id serial PRIMARY KEY, note text);
"""

# Subscriptions, given to clients in turn.  Filters are on grp (int or,
# after an ALTER, bigint); whether a delete passes depends on the replica
# identity in effect (the ALTERs switch it), the reference knows which.
# "aux": more subscriptions on the same connection (subscribed right after
# the first, some unsubscribed while it replays); "snapshot": the client
# (re)loads through an initial snapshot.  Only the first subscription is
# checked for exactly-once; the others must deliver nothing once gone.
CLIENT_SPECS = [
    {"tables": ["public.gl_a", "public.gl_b", "public.gl_c"]},
    {"tables": ["public.gl_b"], "filter": {"col": "grp", "op": "in", "values": [0, 3, 6, 9]},
     "snapshot": True},
    {"tables": ["public.gl_a"], "ops": ["insert", "delete"]},
    {"tables": ["public.gl_b", "gl_c"], "filter": {"col": "grp", "op": "lt", "value": 5},
     "aux": [{"tables": ["public.gl_a"], "filter": {"col": "grp", "op": "eq", "value": 7}},
             {"tables": ["public.gl_c"], "ops": ["insert"]}]},
    {"tables": ["public.gl_a", "public.gl_c"], "ops": ["insert", "update", "truncate"],
     "filter": {"or": [{"col": "grp", "op": "in", "values": [1, 2]},
                       {"not": {"col": "grp", "op": "gte", "value": 7}}]}},
    {"tables": ["public.gl_*"]},
    {"tables": ["public.gl_c"], "ops": ["update", "delete", "truncate"]},
]

OP_NAMES = {"I": "insert", "U": "update", "D": "delete", "T": "truncate"}


def lsn_int(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def lsn_str(v):
    return "%X/%X" % (v >> 32, v & 0xFFFFFFFF)


class Options:
    def __init__(self, **kw):
        self.changes = 100000       # row changes to commit (approximately; the reference counts)
        self.clients = 7
        self.writers = 4
        self.kills = 3              # SIGKILLs of the worker (crash restarts)
        self.restarts = 2           # pg_ctl restart, alternately -m immediate and -m fast
        self.drops = 6              # voluntary disconnects per client
        self.stalls = 4             # times per client it stops reading for a while (it lags:
        #                             the server catches it up from the log, no disconnect)
        self.big_rows = (500, 3000)  # rows of a large transaction
        self.seed = None
        self.hb_resume = 0.5        # how often a reconnect resumes from a later heartbeat LSN
        self.strict_heartbeats = True   # a heartbeat ahead of the stream fails (else a note)
        self.quiet = 0.75           # share of chaos events run as hand-over events (writers paused,
        #                             clients rewinding far back right after the restart)
        self.alter_every = 2.0      # seconds between ALTER TABLEs (0: none)
        self.prepared = 0.01        # share of prepared transactions (COMMIT / ROLLBACK PREPARED)
        self.storms = 0.002         # share of savepoint storms (subtransactions spilling)
        self.streamed = 0.006       # share of streamed scripts: large, past decoding_work_mem, with
        #                             savepoints rolled back after their rows were streamed, nested
        #                             and released ones, then COMMIT or (30%) ROLLBACK
        self.terms = 2              # SIGTERMs of the worker (it restarts alone) in the middle of a
        #                             streamed transaction of the chaos's own, which then ends
        self.held = 0.8             # share of kills/restarts made in the middle of a streamed
        #                             transaction of the chaos's own (which they kill)
        self.self_test = False      # inject one early and one late resume: must be flagged
        self.catchup_timeout = 120
        self.write_timeout = 300    # seconds: the writers give up (the server is gone)
        self.verbose = False
        self.extra_conf = ["pgsync.log_segment_size = '64kB'", "pgsync.log_retention_size = '3MB'",
                           "pgsync.heartbeat_interval = '200ms'", "pgsync.decoding_work_mem = '64kB'",
                           "max_prepared_transactions = 20", "max_wal_size = '2GB'",
                           "pgsync.client_queue_bytes = '128kB'"]
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError("unknown option %s" % k)
            setattr(self, k, v)
        if self.seed is None:
            self.seed = random.randrange(1 << 30)

    def setting(self, name):
        for line in self.extra_conf:
            k, _, v = line.partition("=")
            if k.strip() == name:
                return v.strip().strip("'")
        return None


def say(*a):
    print("#", *a, flush=True)


# ---------------------------------------------------------------------------
# Subscriptions: which changes a client gets

class Relations:
    """relid -> (schema.table, columns, key indexes, identity), from R messages."""

    def __init__(self):
        self.rels = {}

    def add(self, m):
        self.rels[m[1]] = ("%s.%s" % (m[2], m[3]), m[4], m[6], m[7])


def value_count_problem(rels, m):
    """None, or what is wrong with the number of values of change m
    against the R in effect for its relation."""
    if m[0] == "T":
        return None
    r = rels.rels.get(m[1])
    if r is None:
        return "no R for relation %d" % m[1]
    ncols, nkeys = len(r[1]), len(r[2])
    if m[0] in ("I", "U") and len(m[3]) != ncols:
        return "%d new values, the R in effect lists %d columns %s" % (len(m[3]), ncols, r[1])
    old = m[4] if m[0] == "U" and len(m) > 4 else (m[3] if m[0] == "D" else None)
    if isinstance(old, list) and len(old) != nkeys:
        return "%d old values, the R in effect lists %d key columns" % (len(old), nkeys)
    return None


def pattern_matches(pattern, qualified):
    if "." not in pattern:
        pattern = "*." + pattern
    return fnmatch.fnmatchcase(qualified, pattern)


def eval_filter(f, row):
    """SQL three-valued logic: True, False or None (UNKNOWN).  row maps
    column names to values; a column absent from it (not logged) is UNKNOWN."""
    if "and" in f:
        vals = [eval_filter(x, row) for x in f["and"]]
        return False if False in vals else (True if all(v is True for v in vals) else None)
    if "or" in f:
        vals = [eval_filter(x, row) for x in f["or"]]
        return True if True in vals else (False if all(v is False for v in vals) else None)
    if "not" in f:
        v = eval_filter(f["not"], row)
        return None if v is None else not v
    if f["col"] not in row:
        return None
    v = row[f["col"]]
    op = f["op"]
    if op == "is_null":
        return v is None
    if op == "is_not_null":
        return v is not None
    if v is None:
        return None
    if op == "in":
        return v in f["values"]
    w = f["value"]
    return {"eq": v == w, "neq": v != w, "lt": v < w, "lte": v <= w,
            "gt": v > w, "gte": v >= w}[op]


class Subscription:
    def __init__(self, spec):
        self.spec = spec
        self.ops = set(spec.get("ops") or OP_NAMES.values())
        self.filter = spec.get("filter")
        self.table_cache = {}

    def request(self, rid, resume_lsn=None, snapshot=False):
        req = {"type": "subscribe", "id": rid, "tables": self.spec["tables"]}
        for k in ("ops", "filter"):
            if k in self.spec:
                req[k] = self.spec[k]
        if resume_lsn is not None:
            req["resume_lsn"] = lsn_str(resume_lsn)
        if snapshot:
            req["snapshot"] = True
        return req

    def has_table(self, rels, relid):
        hit = self.table_cache.get(relid)
        if hit is None:
            name = rels.rels[relid][0]
            hit = self.table_cache[relid] = any(pattern_matches(p, name) for p in self.spec["tables"])
        return hit

    def row_passes(self, cols, values):
        return self.filter is None or eval_filter(self.filter, dict(zip(cols, values))) is True

    def wants(self, rels, m):
        """Does this subscription get change message m (parsed)?"""
        kind = m[0]
        if OP_NAMES[kind] not in self.ops:
            return False
        if kind == "T":
            return any(self.has_table(rels, r) for r in m[2] if r in rels.rels)
        if m[1] not in rels.rels or not self.has_table(rels, m[1]):
            return False
        if self.filter is None:
            return True
        _, cols, keys, _ = rels.rels[m[1]]
        if kind in ("I", "U"):
            row = dict(zip(cols, m[3]))
            for i in (m[5] if len(m) > 5 else ()):    # unchanged TOAST: UNKNOWN
                row.pop(cols[i], None)
        else:
            row = dict(zip((cols[i] for i in keys), m[3] or ()))
        return eval_filter(self.filter, row) is True


def change_digest():
    return hashlib.blake2b(digest_size=16)


# ---------------------------------------------------------------------------
# The snapshot join rule (docs/SNAPSHOT.md)

def widen_xid(xmin, xid):
    """The full xid nearest to xmin with these low 32 bits."""
    x = (xmin & ~0xFFFFFFFF) | xid
    if x - xmin > 1 << 31:
        x -= 1 << 32
    elif xmin - x > 1 << 31:
        x += 1 << 32
    return x


def snapshot_sees(snap, xid):
    """Is the transaction with 32-bit xid visible in snapshot snap?"""
    x = widen_xid(snap["xmin"], xid)
    return x < snap["xmin"] or (x < snap["xmax"] and x not in snap["xip_set"])


# ---------------------------------------------------------------------------
# The reference: the second slot, peeked at the end

class Reference:
    def __init__(self):
        self.txns = 0
        self.changes = 0
        self.last_lsn = 0
        self.rollback_marks = 0
        self.value_count_problems = []
        self.xid = {}           # commit lsn -> 32-bit xid
        self.expected = []      # per client: [(commit lsn, n changes, digest)]


def read_reference(cluster, after_lsn, subs):
    """Peek the reference slot; the expected stream of each subscription."""
    ref = Reference()
    ref.expected = [[] for _ in subs]
    rels = Relations()
    conn = cluster.connect(autocommit=False)
    try:
        cur = conn.cursor("gapless_ref")
        cur.itersize = 20000
        cur.execute("SELECT data FROM pg_logical_slot_peek_changes(%s, NULL, NULL, 'format', 'compact')",
                    (REF_SLOT,))
        lsn, parts = None, None
        for (data,) in cur:
            kind = data[2]
            if kind == "B":
                b = json.loads(data)
                lsn, xid = lsn_int(b[2]), b[1]
                parts = [[] for _ in subs]
                ntx = 0
            elif kind == "R":
                rels.add(json.loads(data))
            elif kind == "C":
                if lsn > after_lsn and ntx:
                    ref.txns += 1
                    ref.changes += ntx
                    ref.last_lsn = lsn
                    ref.xid[lsn] = xid
                    for i, p in enumerate(parts):
                        if p:
                            h = change_digest()
                            for d in p:
                                h.update(d.encode())
                                h.update(b"\n")
                            ref.expected[i].append((lsn, len(p), h.hexdigest()))
                lsn = None
            elif kind in OP_NAMES and lsn is not None and lsn > after_lsn:
                m = json.loads(data)
                if kind != "T" and rels.rels[m[1]][0].split(".")[1] not in TABLES:
                    continue
                bad = value_count_problem(rels, m)
                if bad and len(ref.value_count_problems) < 10:
                    ref.value_count_problems.append("%s: %s" % (data[:120], bad))
                ntx += 1
                if ROLLBACK_MARK in data:
                    ref.rollback_marks += 1
                for i, s in enumerate(subs):
                    if s.wants(rels, m):
                        parts[i].append(data)
        cur.close()
    finally:
        conn.close()
    return ref


# ---------------------------------------------------------------------------
# Which transactions of the load are streamed

class Streamed:
    """What PostgreSQL streams of the reference slot's transactions at the
    worker's decoding memory (the worker decodes the same WAL with the same
    limit): which top-level transactions were streamed while in progress,
    and how each ended."""

    def __init__(self):
        self.txns = 0           # streamed at least once
        self.committed = 0
        self.rolled_back = 0    # top-level abort after a chunk (PostgreSQL reports one for a
        #                         transaction a crash ended, too)
        self.subxact_aborts = 0     # ROLLBACK TO SAVEPOINT after a chunk
        self.with_subxact_aborts = 0    # committed transactions that had some
        self.died = 0           # neither, by the end of the WAL

    def line(self):
        return ("%d streamed transactions: %d committed (%d of them with %d savepoints rolled back after a "
                "chunk), %d rolled back (a crash's too), %d never ended"
                % (self.txns, self.committed, self.with_subxact_aborts, self.subxact_aborts,
                   self.rolled_back, self.died))


def read_streamed(cluster, work_mem):
    """Peek the reference slot again, streaming at work_mem; only the
    control messages and commits are fetched."""
    st = Streamed()
    chunked, aborted_sub = set(), set()
    conn = cluster.connect(autocommit=False)
    try:
        cur = conn.cursor()
        cur.execute("SET logical_decoding_work_mem = %s", (work_mem,))
        cur.execute("SELECT data FROM pg_logical_slot_peek_changes(%s, NULL, NULL, 'format', 'compact', "
                    "'stream-in-progress', 'true', 'actions', 'insert,update,delete,truncate') WHERE left(data, 5) IN ('[\"s\",', '[\"a\",', '[\"B\",')",
                    (REF_SLOT,))
        for (data,) in cur.fetchall():
            m = json.loads(data)
            if m[0] == "s":
                chunked.add(m[1])
            elif m[0] == "a" and m[1] == m[2]:
                st.rolled_back += 1
                chunked.discard(m[1])
                st.txns += 1
            elif m[0] == "a":
                st.subxact_aborts += 1
                aborted_sub.add(m[1])
            elif m[0] == "B" and m[1] in chunked:
                st.committed += 1
                st.with_subxact_aborts += m[1] in aborted_sub
                chunked.discard(m[1])
                st.txns += 1
        st.died = len(chunked)
        st.txns += st.died
    finally:
        conn.close()
    return st
