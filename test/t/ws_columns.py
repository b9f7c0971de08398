#!/usr/bin/python3
"""Integration test: column privileges (docs/SECURITY.md, "Authorization").

A role with SELECT (id, owner) on tables that also have a column named
"secret" -- under REPLICA IDENTITY DEFAULT, FULL, and with the hidden
column as the key -- next to a role that may read the whole tables.

Promises:
  - the restricted client's raw WebSocket frames never hold a secret value
    nor the hidden column's name: not in relation messages, new rows, old
    keys or rows, unchanged-TOAST or oversized lists, snapshot headers or
    rows;
  - each change it gets is the unrestricted client's change with the
    hidden column taken out (an independent Python projection), and the
    table rebuilt from its stream equals what SET ROLE + SELECT id, owner
    returns; its snapshot rows too; a resume from the change log gets
    the same changes;
  - the unrestricted client sees every column;
  - a row filter on the hidden column is refused (bad_filter at subscribe
    time for a table named literally, as an event for a wildcard), for
    the stream and a snapshot; a filter on a visible column works;
  - GRANT SELECT (secret) on a live client: the next change carries the
    column (with a new relation message); REVOKE: the next one no longer;
    also inside one transaction (decoded in one pass, so only the
    invalidation of the column's catalog entry can tell the worker).
"""
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
from wsutil import JwtSecret  # noqa: E402

T = Checks()
KEYS = JwtSecret("columns-test-secret-0123456789abcdef", "pgsync-cols-keys.")
CONF = KEYS.conf + ["pgsync.max_value_bytes = '4kB'"]
TABLES = ["public.acct", "public.full_t", "public.keyed"]
VISIBLE = {"id", "owner"}
HIDDEN_VALUE = "TOPSECRET"      # every value of the hidden column holds it
HIDDEN_NAME = "secret"


class Client:
    """A connection that keeps every raw text frame it receives."""

    def __init__(self, ws):
        self.ws = ws
        self.raw = []

    async def recv(self, timeout):
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        self.raw.append(text)
        return json.loads(text)

    async def request(self, msg):
        await self.ws.send(json.dumps(msg))
        while True:
            m = await self.recv(5)
            if not (isinstance(m, dict) and m.get("type") == "heartbeat"):
                return m

    async def until(self, done, timeout=15):
        """Messages (heartbeats left out) until done(messages)."""
        got = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done(got):
            m = await self.recv(max(deadline - loop.time(), 0.01))
            if not (isinstance(m, dict) and m.get("type") == "heartbeat"):
                got.append(m)
        return got

    def leaks(self, since=0):
        """Raw frames holding a hidden value or the hidden column's name."""
        return [t[:200] for t in self.raw[since:] if HIDDEN_VALUE in t or HIDDEN_NAME in t]


def commits(n):
    return lambda g: sum(1 for m in g if isinstance(m, list) and m[0] == "C") >= n


def project(msg, names, keys):
    """The change msg (of a relation with these column names and key
    indexes) as a client that may read only VISIBLE must get it, per
    docs/PROTOCOL.md: hidden values and indexes out, the rest renumbered,
    emptied lists null, trailing nulls dropped."""
    pos, k = {}, 0
    for i, n in enumerate(names):
        if n in VISIBLE:
            pos[i], k = k, k + 1
    ext = msg + [None] * (8 - len(msg))

    def row(vals):
        return None if vals is None else [v for i, v in enumerate(vals) if i in pos]

    def old(vals):
        return None if vals is None else [v for j, v in enumerate(vals) if keys[j] in pos]

    def indexes(lst):
        return [pos[i] for i in lst or [] if i in pos] or None

    def pairs(lst):
        return [[pos[p[0]], p[1]] for p in lst or [] if p[0] in pos] or None

    if msg[0] == "D":
        ov = pairs(ext[7])
        return msg[:3] + [old(msg[3])] + ([None, None, None, ov] if ov else [])
    tail = [old(ext[4]) or None if msg[0] == "U" else None,
            indexes(ext[5]), pairs(ext[6]), pairs(ext[7])]
    while tail and tail[-1] is None:
        tail.pop()
    return msg[:3] + [row(msg[3])] + tail


def rebuild(msgs, relname):
    """{key: row} of relname from a stream of one column set: unchanged
    TOAST keeps the value it had, an oversized value is ("oversized", N)."""
    rel, rows = None, {}
    for m in msgs:
        if not isinstance(m, list):
            continue
        if m[0] == "R" and m[3] == relname:
            rel = m
        if m[0] not in ("I", "U", "D") or rel is None or m[1] != rel[1]:
            continue
        ext = m + [None] * (8 - len(m))
        key = rel[6][0]
        if m[0] == "D":
            rows.pop(m[3][0], None)
            continue
        new = list(m[3])
        for col, size in ext[6] or []:
            new[col] = ("oversized", size)
        before = rows.pop(ext[4][0] if ext[4] else new[key], None)
        for col in ext[5] or []:
            new[col] = before[col]
        rows[new[key]] = new
    return rows


def as_reader(c, query):
    conn = c.connect()
    try:
        cur = conn.cursor()
        cur.execute("SET ROLE reader")
        cur.execute(query)
        return cur.fetchall()
    finally:
        conn.close()


def same_as_select(rows, selected):
    """The rebuilt rows against SELECT's: an oversized value by its JSON size."""
    if sorted(rows) != sorted(r[0] for r in selected):
        return False
    for r in selected:
        for got, want in zip(rows[r[0]], r):
            if isinstance(got, tuple):
                if got[1] != len(json.dumps(want)):
                    return False
            elif got != want:
                return False
    return True


async def main(c):
    c.create_extension()
    c.sql("CREATE TABLE acct (id int PRIMARY KEY, secret text, owner text)")
    c.sql("ALTER TABLE acct ALTER secret SET STORAGE EXTERNAL, ALTER owner SET STORAGE EXTERNAL")
    c.sql("CREATE TABLE full_t (id int PRIMARY KEY, secret text, owner text)")
    c.sql("ALTER TABLE full_t REPLICA IDENTITY FULL")
    c.sql("CREATE TABLE keyed (id int, secret text PRIMARY KEY, owner text)")
    c.sql("CREATE ROLE reader LOGIN")
    c.sql("CREATE ROLE viewer LOGIN")
    for t in TABLES:
        c.sql("GRANT SELECT (id, owner) ON %s TO reader" % t)
        c.sql("GRANT SELECT ON %s TO viewer" % t)
    try:
        as_reader(c, "SELECT secret FROM acct")
        T.check("setup: SET ROLE reader may not SELECT secret", False)
    except Exception:
        T.check("setup: SET ROLE reader may not SELECT secret", True)

    rd = Client(await KEYS.connect(c, "reader"))
    vw = Client(await KEYS.connect(c, "viewer"))
    r = await rd.request({"type": "subscribe", "id": "r1", "tables": TABLES})
    T.check("column-restricted role may subscribe to its tables", r.get("type") == "ok", r)
    start = r.get("resume_lsn")
    r = await vw.request({"type": "subscribe", "id": "v1", "tables": TABLES})
    T.check("unrestricted role subscribes", r.get("type") == "ok", r)

    # filters: on the hidden column refused, on a visible one applied
    fl = Client(await KEYS.connect(c, "reader"))
    r = await fl.request({"type": "subscribe", "id": "f1", "tables": ["public.acct"],
                          "filter": {"col": "secret", "op": "eq", "value": "x"}})
    T.check("filter on the hidden column: bad_filter \"no column\"",
            r.get("code") == "bad_filter" and 'no column "secret"' in r.get("message", ""), r)
    r = await fl.request({"type": "subscribe", "id": "f2", "tables": ["public.acct"],
                          "filter": {"col": "owner", "op": "eq", "value": "alice"}})
    T.check("filter on a visible column accepted", r.get("type") == "ok", r)
    wild = Client(await KEYS.connect(c, "reader"))
    r = await wild.request({"type": "subscribe", "id": "w1", "tables": ["public.acc*"],
                            "filter": {"col": "secret", "op": "is_null"}})
    T.check("wildcard subscription with a filter on the hidden column accepted",
            r.get("type") == "ok", r)

    big = lambda n: "'%s' || repeat('x', %d)" % (HIDDEN_VALUE, n)  # noqa: E731
    steps = [
        "INSERT INTO acct VALUES (1, '%s-1', 'alice')" % HIDDEN_VALUE,
        # hidden column too large to send, then unchanged TOAST
        "INSERT INTO acct VALUES (2, %s, 'bob')" % big(9000),
        "UPDATE acct SET owner = 'bob2' WHERE id = 2",
        # visible column too large to send, then unchanged TOAST
        "INSERT INTO acct VALUES (3, '%s-3', repeat('o', 9000))" % HIDDEN_VALUE,
        "UPDATE acct SET secret = '%s-3b' WHERE id = 3" % HIDDEN_VALUE,
        # the key changes (old key sent), and a delete
        "UPDATE acct SET id = 10, secret = '%s-10' WHERE id = 1" % HIDDEN_VALUE,
        "INSERT INTO acct VALUES (4, '%s-4', 'carl')" % HIDDEN_VALUE,
        "DELETE FROM acct WHERE id = 4",
        # REPLICA IDENTITY FULL: old rows, oversized old values
        "INSERT INTO full_t VALUES (1, '%s-F1', 'dora')" % HIDDEN_VALUE,
        "UPDATE full_t SET secret = '%s-F2', owner = 'dora2' WHERE id = 1" % HIDDEN_VALUE,
        "INSERT INTO full_t VALUES (2, %s, 'erin')" % big(9000),
        "DELETE FROM full_t",
        # the key is the hidden column
        "INSERT INTO keyed VALUES (1, '%s-K', 'fred')" % HIDDEN_VALUE,
        "UPDATE keyed SET owner = 'fred2', secret = '%s-K2'" % HIDDEN_VALUE,
        "DELETE FROM keyed",
    ]
    for s in steps:
        c.sql(s)
    got_r = await rd.until(commits(len(steps)))
    got_v = await vw.until(commits(len(steps)))
    T.check("restricted client: no frame holds a hidden value or the column's name",
            rd.leaks() == [], rd.leaks()[:3])
    T.check("unrestricted client sees the hidden values",
            any(HIDDEN_VALUE in t for t in vw.raw) and any(HIDDEN_NAME in t for t in vw.raw))

    rels_r = {m[3]: m for m in got_r if m[0] == "R"}
    rels_v = {m[3]: m for m in got_v if m[0] == "R"}
    T.check("relation message: visible columns, their types, key renumbered",
            rels_r["acct"][4:8] == [["id", "owner"], ["integer", "text"], [0], "default"],
            rels_r["acct"])
    T.check("relation message under FULL: every visible column a key",
            rels_r["full_t"][4:8] == [["id", "owner"], ["integer", "text"], [0, 1], "full"],
            rels_r["full_t"])
    T.check("relation message: a hidden key is left out",
            rels_r["keyed"][4:8] == [["id", "owner"], ["integer", "text"], [], "default"],
            rels_r["keyed"])
    changes_r = [m for m in got_r if m[0] in ("I", "U", "D")]
    changes_v = [m for m in got_v if m[0] in ("I", "U", "D")]
    by_relid = {m[1]: m for m in rels_v.values()}
    expected = [project(m, by_relid[m[1]][4], by_relid[m[1]][6]) for m in changes_v]
    T.check("every change is the unrestricted one without the hidden column (%d changes)"
            % len(changes_v), changes_r == expected,
            [(g, w) for g, w in zip(changes_r, expected) if g != w][:3])
    shapes = {json.dumps(m[4:]) for m in changes_v}
    T.check("the changes include unchanged TOAST, oversized new and old values and old keys",
            any("[1]" in s for s in shapes) and any("[2]" in s for s in shapes) and
            any(m[0] == "D" and len(m) == 8 for m in changes_v) and
            any(m[0] == "U" and len(m) > 4 and m[4] for m in changes_v), shapes)
    selected = as_reader(c, "SELECT id, owner FROM acct")
    rebuilt = rebuild(got_r, "acct")
    T.check("acct rebuilt from the stream == SET ROLE reader; SELECT id, owner",
            same_as_select(rebuilt, selected), (rebuilt, selected))

    # a replay of the change log (resume) goes through the same projection
    rs = Client(await KEYS.connect(c, "reader"))
    r = await rs.request({"type": "subscribe", "id": "r2", "tables": TABLES, "resume_lsn": start})
    got = await rs.until(commits(len(steps)))
    T.check("resume from the change log: the same projected changes, nothing hidden",
            [m for m in got if m[0] in ("I", "U", "D")] == changes_r and rs.leaks() == [],
            (got[:6], rs.leaks()[:2]))
    await rs.ws.close()

    # filters at work
    got = await fl.until(commits(1))
    T.check("visible-column filter passes alice's insert only",
            [m[3] for m in got if m[0] in ("I", "U", "D")] == [[1, "alice"]], got)
    got = await wild.until(lambda g: any(isinstance(m, dict) for m in g))
    ev = [m for m in got if isinstance(m, dict)]
    T.check("wildcard: one bad_filter event naming the table, no rows",
            ev[0].get("code") == "bad_filter" and ev[0].get("table") == "public.acct" and
            not any(isinstance(m, list) and m[0] in ("I", "U", "D") for m in got), got)

    # GRANT and REVOKE of the column on a live client
    c.sql("GRANT SELECT (secret) ON acct TO reader")
    c.sql("INSERT INTO acct VALUES (20, '%s-20', 'gina')" % HIDDEN_VALUE)
    got = await rd.until(commits(1))
    rel = [m for m in got if m[0] == "R"]
    T.check("GRANT SELECT (secret): a new relation message with the column",
            len(rel) == 1 and rel[0][4] == ["id", "secret", "owner"], got)
    T.check("GRANT SELECT (secret): the next change carries it",
            [m[3] for m in got if m[0] == "I"] == [[20, HIDDEN_VALUE + "-20", "gina"]], got)
    c.sql("REVOKE SELECT (secret) ON acct FROM reader")
    mark = len(rd.raw)
    c.sql("INSERT INTO acct VALUES (21, '%s-21', 'hank')" % HIDDEN_VALUE)
    got = await rd.until(commits(1))
    rel = [m for m in got if m[0] == "R"]
    T.check("REVOKE: a relation message without the column, and the next change without it",
            len(rel) == 1 and rel[0][4] == ["id", "owner"] and
            [m[3] for m in got if m[0] == "I"] == [[21, "hank"]], got)
    T.check("REVOKE: no frame after it holds a hidden value", rd.leaks(mark) == [],
            rd.leaks(mark))

    # within one transaction, decoded in one pass: privileges as of each
    # change, so the column invalidation must reach the cached decision
    mark = len(rd.raw)
    c.sql("BEGIN; INSERT INTO acct VALUES (30, '{0}-30', 'ivy');"
          " GRANT SELECT (secret) ON acct TO reader;"
          " INSERT INTO acct VALUES (31, '{0}-31', 'jon');"
          " REVOKE SELECT (secret) ON acct FROM reader;"
          " INSERT INTO acct VALUES (32, '{0}-32', 'kim'); COMMIT".format(HIDDEN_VALUE))
    got = await rd.until(commits(1))
    T.check("GRANT and REVOKE inside one transaction: each change as of its privileges",
            [(m[0], m[4] if m[0] == "R" else m[3]) for m in got if m[0] in ("R", "I")] ==
            [("I", [30, "ivy"]), ("R", ["id", "secret", "owner"]),
             ("I", [31, HIDDEN_VALUE + "-31", "jon"]), ("R", ["id", "owner"]), ("I", [32, "kim"])],
            got)
    c.sql("DELETE FROM acct WHERE id >= 30")
    await rd.until(commits(1))

    # initial snapshot
    sn = Client(await KEYS.connect(c, "reader"))
    r = await sn.request({"type": "subscribe", "id": "s1", "tables": ["public.acct"],
                          "snapshot": True})
    T.check("snapshot for the restricted role accepted", r.get("type") == "ok", r)
    got = await sn.until(lambda g: any(isinstance(m, dict) and m.get("type") == "snapshot_end"
                                       for m in g), 30)
    begin = [m for m in got if isinstance(m, dict) and m.get("type") == "snapshot_begin"][0]
    rows = [m for m in got if isinstance(m, list) and m[0] == "S"]
    T.check("snapshot header: visible columns only",
            begin["relation"]["columns"] == ["id", "owner"] and
            begin["relation"]["types"] == ["integer", "text"] and begin["relation"]["key"] == [0],
            begin)
    snap = {}
    for m in rows:
        row = list(m[2])
        for col, size in (m[3] if len(m) > 3 else []):
            row[col] = ("oversized", size)
        snap[row[0]] = row
    T.check("snapshot rows == SET ROLE reader; SELECT id, owner",
            same_as_select(snap, as_reader(c, "SELECT id, owner FROM acct")), (snap, rows))
    T.check("snapshot: no frame holds a hidden value or the column's name", sn.leaks() == [],
            sn.leaks()[:3])
    sf = Client(await KEYS.connect(c, "reader"))
    r = await sf.request({"type": "subscribe", "id": "s2", "tables": ["public.acct"],
                          "snapshot": True, "filter": {"col": "secret", "op": "is_null"}})
    T.check("snapshot with a filter on the hidden column: bad_filter",
            r.get("code") == "bad_filter", r)
    r = await sf.request({"type": "subscribe", "id": "s3", "tables": ["public.acct"],
                          "snapshot": True, "filter": {"col": "owner", "op": "eq", "value": "gina"}})
    got = await sf.until(lambda g: any(isinstance(m, dict) and m.get("type") == "snapshot_end"
                                       for m in g), 30)
    T.check("snapshot with a filter on a visible column: its rows",
            [m[2] for m in got if isinstance(m, list) and m[0] == "S"] == [[20, "gina"]], got)
    for w in (rd, vw, fl, wild, sn, sf):
        await w.ws.close()


try:
    status = run_worker_test(main, T, conf=CONF)
finally:
    KEYS.cleanup()
sys.exit(status)
