#!/usr/bin/python3
"""Integration test: row filters on WebSocket subscriptions.

A real cluster with the worker and real WebSocket clients: every operator
on int, bigint, numeric, text, boolean, timestamptz and date columns,
and/or/not, several clients with different filters on one table each
getting exactly their rows, updates (the new row decides), deletes
filtered on the key, bad filters refused with bad_filter while the
connection and the other clients go on, a wildcard subscription whose
filter does not fit one of the tables (error event, table skipped, until
ALTER TABLE adds the column), and a filter on a column added by ALTER
TABLE.
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, quiet, subscribe  # noqa: E402

T = Checks()


def cmp(col, op, value=None, values=None):
    f = {"col": col, "op": op}
    if value is not None:
        f["value"] = value
    if values is not None:
        f["values"] = values
    return f


# (name, filter, ids of the rows below it lets through)
INSERT_CASES = [
    ("int eq", cmp("id", "eq", 2), {2}),
    ("int neq", cmp("id", "neq", 2), {1, 3, 4}),
    ("int in", cmp("id", "in", values=[1, 4, 99]), {1, 4}),
    ("bigint lt", cmp("big", "lt", 0), {3}),
    ("bigint lte", cmp("big", "lte", 10), {1, 3, 4}),
    ("bigint gt beyond 2^53", cmp("big", "gt", 9007199254740992), {2}),
    ("bigint gte string literal", cmp("big", "gte", "10"), {1, 2}),
    ("numeric gte (NULL is unknown)", cmp("amount", "gte", 99.99), {2, 4}),
    ("numeric eq string", cmp("amount", "eq", "100"), {2}),
    ("numeric is_null", cmp("amount", "is_null"), {3}),
    ("text in", cmp("name", "in", values=["apple", "cherry"]), {1, 3}),
    ("text lt (C order)", cmp("name", "lt", "b"), {1}),
    ("text is_not_null", cmp("name", "is_not_null"), {1, 2, 3}),
    ("boolean eq", cmp("flag", "eq", True), {1, 4}),
    ("boolean neq", cmp("flag", "neq", True), {2}),
    ("timestamptz gt", cmp("ts", "gt", "2024-03-01T00:00:00Z"), {2, 4}),
    ("timestamptz eq other offset", cmp("ts", "eq", "2024-06-01T10:00:00Z"), {2}),
    ("date lte", cmp("d", "lte", "2024-06-01"), {1, 2}),
    ("date gte", cmp("d", "gte", "2024-06-01"), {2, 4}),
    ("and", {"and": [cmp("flag", "eq", True), cmp("amount", "lt", 50)]}, {1}),
    ("or", {"or": [cmp("id", "eq", 1), cmp("name", "eq", "cherry")]}, {1, 3}),
    ("not (NULL stays unknown)", {"not": cmp("flag", "eq", True)}, {2}),
    ("nested", {"or": [{"and": [cmp("big", "gt", 0), {"not": cmp("name", "eq", "apple")}]},
                       cmp("ts", "is_null")]}, {2, 3}),
]


def ids(msgs, op="I"):
    return sorted(m[3][0] for m in msgs if isinstance(m, list) and m[0] == op)


def errors(msgs):
    return [m for m in msgs if isinstance(m, dict) and m.get("type") == "error"]


async def filtered_inserts(c):
    clients = []
    for name, flt, want in INSERT_CASES:
        ws = await wsutil.connect(c)
        r = await subscribe(ws, ["public.f"], "f", filter=flt)
        T.check("subscribe with filter: %s" % name, r.get("type") == "ok", r)
        clients.append((name, ws, want))
    plain = await wsutil.connect(c)
    await subscribe(plain, ["public.f"], "p")
    c.sql("""INSERT INTO f VALUES
        (1, 10, 1.50, 'apple', true, '2024-01-01T00:00:00Z', '2024-01-01'),
        (2, 9007199254740993, 100.00, 'banana', false, '2024-06-01T12:00:00+02:00', '2024-06-01'),
        (3, -5, NULL, 'cherry', NULL, NULL, NULL),
        (4, 0, 99.99, NULL, true, '2025-01-01T00:00:00Z', '2025-01-01')""")
    got = await collect(plain, lambda g: commits(g) >= 1)
    T.check("unfiltered client gets every row", ids(got) == [1, 2, 3, 4], got)
    results = await asyncio.gather(*(quiet(ws, 0.8) for _, ws, _ in clients))
    for (name, ws, want), got in zip(clients, results):
        shape = [m[0] for m in got if isinstance(m, list)]
        ok = ids(got) == sorted(want) and not errors(got)
        ok = ok and shape == ["B", "R"] + ["I"] * len(want) + ["C"]
        T.check("%s: exactly rows %s" % (name, sorted(want)), ok, got)
    for _, ws, _ in clients:
        await ws.close()
    return plain


async def updates_and_deletes(c, plain):
    up = await wsutil.connect(c)
    await subscribe(up, ["public.f"], "u", filter=cmp("amount", "gt", 50), ops=["update"])
    dk = await wsutil.connect(c)
    await subscribe(dk, ["public.f"], "d", filter=cmp("id", "eq", 4), ops=["delete"])
    dn = await wsutil.connect(c)
    await subscribe(dn, ["public.f"], "n", filter=cmp("name", "eq", "cherry"), ops=["delete"])
    c.sql("UPDATE f SET amount = 200 WHERE id = 1")    # new row matches
    c.sql("UPDATE f SET amount = 1 WHERE id = 2")      # old matched, new does not
    c.sql("DELETE FROM f WHERE id IN (3, 4)")
    await collect(plain, lambda g: commits(g) >= 3)
    got = await quiet(up, 0.6)
    T.check("update delivered when the new row matches (only id 1)",
            ids(got, "U") == [1] and [m[0] for m in got] == ["B", "R", "U", "C"], got)
    got = await quiet(dk, 0.6)
    T.check("delete filtered on the key", ids(got, "D") == [4] and
            [m[0] for m in got] == ["B", "R", "D", "C"], got)
    got = await quiet(dn, 0.6)
    T.check("delete filtered on a non-key column is not delivered (UNKNOWN)", got == [], got)
    for ws in (up, dk, dn):
        await ws.close()


BAD = [
    ("unknown column", cmp("nope", "eq", 1), "no column"),
    ("wrong type literal", cmp("id", "eq", "abc"), "needs a number"),
    ("bad operator", cmp("id", "like", 1), "unknown operator"),
    ("ordering on boolean", cmp("flag", "lt", True), "does not apply"),
    ("too deep", None, "deeper"),
    ("syntax", {"col": "id", "op": "eq"}, "takes \"value\""),
    ("null literal", cmp("id", "eq", None) | {"value": None}, "null"),
]


async def bad_filters(c):
    other = await wsutil.connect(c)
    await subscribe(other, ["public.f"], "o", filter=cmp("id", "gte", 100))
    ws = await wsutil.connect(c)
    deep = cmp("id", "eq", 1)
    for _ in range(20):
        deep = {"not": deep}
    for name, flt, text in BAD:
        r = await subscribe(ws, ["public.f"], "b", filter=flt if flt is not None else deep)
        T.check("bad filter (%s) -> bad_filter" % name,
                r.get("type") == "error" and r.get("code") == "bad_filter" and
                r.get("id") == "b" and text in r.get("message", ""), r)
    r = await subscribe(ws, ["f"], "b2", filter=cmp("nope", "eq", 1))
    T.check("bad filter on a schema-less literal table names it",
            r.get("code") == "bad_filter" and "public.f" in r.get("message", ""), r)
    r = await wsutil.request(ws, {"type": "ping", "id": 1})
    T.check("connection kept after bad filters", r == {"type": "pong", "id": 1}, r)
    r = await subscribe(ws, ["public.f"], "g", filter=cmp("id", "eq", 100))
    T.check("a good filter on the same connection", r.get("type") == "ok", r)
    c.sql("INSERT INTO f(id, name) VALUES (100, 'after errors'), (101, 'x')")
    got = await collect(ws, lambda g: commits(g) >= 1)
    T.check("same connection receives its rows", ids(got) == [100], got)
    got = await collect(other, lambda g: commits(g) >= 1)
    T.check("other client unaffected", ids(got) == [100, 101], got)
    await ws.close()
    await other.close()


async def alter_and_patterns(c):
    c.sql("CREATE TABLE g1(id int PRIMARY KEY, extra int); CREATE TABLE g2(id int PRIMARY KEY)")
    pat = await wsutil.connect(c)
    r = await subscribe(pat, ["public.g*"], "p", filter=cmp("extra", "eq", 1))
    T.check("wildcard subscription: filter checked per table later", r.get("type") == "ok", r)
    early = await wsutil.connect(c)
    await subscribe(early, ["public.f"], "e", filter=cmp("id", "in", values=[200, 202]))
    r = await subscribe(early, ["public.f"], "e2", filter=cmp("color", "eq", "red"))
    T.check("filter on a column that does not exist yet is refused",
            r.get("code") == "bad_filter", r)

    c.sql("BEGIN; INSERT INTO g1 VALUES (1, 1), (2, 2); INSERT INTO g2 VALUES (1); COMMIT")
    got = await collect(pat, lambda g: commits(g) >= 1)
    got += await quiet(pat, 0.3)
    errs = errors(got)
    T.check("matching table: its rows", ids(got) == [1] and got[1][3] == "g1", got)
    T.check("table the filter does not fit: one bad_filter event naming it",
            len(errs) == 1 and errs[0].get("code") == "bad_filter" and
            errs[0].get("subscription") == "s1" and errs[0].get("table") == "public.g2" and
            "extra" in errs[0].get("message", ""), errs)
    c.sql("INSERT INTO g2 VALUES (2)")
    T.check("skipped table stays skipped, no repeated event", await quiet(pat, 0.5) == [])

    c.sql("ALTER TABLE g2 ADD COLUMN extra int")
    c.sql("INSERT INTO g2 VALUES (3, 1), (4, 5)")
    got = await collect(pat, lambda g: commits(g) >= 1)
    T.check("after ALTER TABLE ADD COLUMN the filter compiles for the table",
            ids(got) == [3] and [m[0] for m in got] == ["B", "R", "I", "C"] and
            got[1][4] == ["id", "extra"], got)

    c.sql("ALTER TABLE f ADD COLUMN color text")
    late = await wsutil.connect(c)
    r = await subscribe(late, ["public.f"], "l", filter=cmp("color", "eq", "red"))
    T.check("filter using a column added by ALTER TABLE", r.get("type") == "ok", r)
    c.sql("INSERT INTO f(id, color) VALUES (200, 'red'), (201, 'blue'), (202, 'red')")
    got = await collect(late, lambda g: commits(g) >= 1)
    T.check("new column filter: only the red rows",
            ids(got) == [200, 202] and got[1][4][-1] == "color", got)
    got = await collect(early, lambda g: commits(g) >= 1)
    T.check("filter compiled before ALTER TABLE is recompiled and still works",
            ids(got) == [200, 202] and got[1][4][-1] == "color", got)
    for ws in (pat, early, late):
        await ws.close()


async def main(c):
    c.sql("""CREATE TABLE f(id int PRIMARY KEY, big bigint, amount numeric(10,2),
             name text, flag boolean, ts timestamptz, d date)""")
    plain = await filtered_inserts(c)
    await updates_and_deletes(c, plain)
    await plain.close()
    await bad_filters(c)
    await alter_and_patterns(c)


def run():
    return run_worker_test(main, T, ())


if __name__ == "__main__":
    sys.exit(run())
