#!/usr/bin/python3
"""Integration test: what a client may read is decided by PostgreSQL's
privileges for its token's role (docs/SECURITY.md, "Authorization").

Promises:
  - subscribing to a table the role may not SELECT is permission_denied,
    naming the table; so is a table where a row-level security policy
    that pgsync cannot evaluate (a subquery) applies to the role: refused,
    never sent unfiltered (policies it evaluates: test/t/ws_rls.py); a
    table where only some columns are granted is readable, those columns
    only (test/t/ws_columns.py has the details);
  - a wildcard subscription silently skips the tables the role may not
    read: no row and no relation message of them, even in a transaction
    that also changes a readable table;
  - REVOKE on a live client: the changes committed after the REVOKE stop
    (the ones before it all arrive), and the client gets one
    permission_denied event naming the subscription and table; GRANT again
    and the rows come again;
  - superuser and BYPASSRLS roles read as in PostgreSQL;
  - another client's role is unaffected throughout.
Each check compares with what the role can SELECT (SET ROLE).
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
from wsutil import JwtSecret, collect, quiet, request  # noqa: E402

T = Checks()
KEYS = JwtSecret("privileges-test-secret-0123456789abcdef", "pgsync-priv-keys.")


async def connect(c, role):
    return await KEYS.connect(c, role)


def can_select(c, role, table, columns="*"):
    """What PostgreSQL says: can role SELECT columns FROM table?"""
    conn = c.connect()
    cur = conn.cursor()
    try:
        cur.execute("SET ROLE %s" % role)
        cur.execute("SELECT %s FROM %s LIMIT 0" % (columns, table))
        return True
    except Exception:
        return False
    finally:
        conn.close()


def tables_seen(msgs):
    """Relation names of the R messages, and relids of the rows."""
    rels = {m[1]: "%s.%s" % (m[2], m[3]) for m in msgs if m[0] == "R"}
    rows = [rels.get(m[1], m[1]) for m in msgs if m[0] in ("I", "U", "D")]
    return set(rels.values()), rows


async def main(c):
    for t in ("a", "b", "c", "d"):
        c.sql("CREATE TABLE %s (id int PRIMARY KEY, secret text, owner text)" % t)
    c.sql("CREATE ROLE reader LOGIN")
    c.sql("CREATE ROLE other LOGIN")
    c.sql("CREATE ROLE boss LOGIN SUPERUSER")
    c.sql("CREATE ROLE bypass LOGIN BYPASSRLS")
    c.sql("GRANT SELECT ON a TO reader, other, bypass")
    c.sql("GRANT SELECT ON c TO reader, bypass")
    c.sql("ALTER TABLE c ENABLE ROW LEVEL SECURITY")
    c.sql("CREATE TABLE members (name text)")
    c.sql("CREATE POLICY own ON c USING (owner IN (SELECT name FROM members))")
    c.sql("GRANT SELECT (id, owner) ON d TO reader")

    # subscribe-time refusals agree with SET ROLE + SELECT
    ws = await connect(c, "reader")
    for t in ("public.a", "public.b", "public.c", "public.d"):
        r = await request(ws, {"type": "subscribe", "id": t, "tables": [t]})
        # some column readable (d: SELECT (id, owner)), and no RLS policy (c)
        allowed = can_select(c, "reader", t, "id") and t != "public.c"
        if allowed:
            T.check("reader may subscribe to %s" % t, r.get("type") == "ok", r)
            await request(ws, {"type": "unsubscribe", "id": "u", "subscription": r.get("subscription")})
        else:
            T.check("reader subscribing to %s: permission_denied naming it" % t,
                    r.get("code") == "permission_denied" and t in r.get("message", ""), r)
            if t == "public.c":
                T.check("the refusal says the policy has a subquery",
                        "subquery" in r.get("message", ""), r)
    r = await request(ws, {"type": "subscribe", "id": "ab", "tables": ["public.a", "public.b"]})
    T.check("a list with one unreadable table is refused",
            r.get("code") == "permission_denied" and "public.b" in r.get("message", ""), r)
    await ws.close()
    T.check("SET ROLE reader may SELECT a, not b", can_select(c, "reader", "a") and
            not can_select(c, "reader", "b"))

    # wildcard: only readable tables, not even their relation messages
    rd = await connect(c, "reader")
    ot = await connect(c, "other")
    boss = await connect(c, "boss")
    byp = await connect(c, "bypass")
    for ws in (rd, ot, boss, byp):
        r = await request(ws, {"type": "subscribe", "id": "w", "tables": ["public.*"]})
        T.check("wildcard subscription ok", r.get("type") == "ok", r)
    c.sql("BEGIN; INSERT INTO a VALUES (1,'x','reader'); INSERT INTO b VALUES (1,'x','reader');"
          " INSERT INTO c VALUES (1,'x','reader'); INSERT INTO d VALUES (1,'x','reader'); COMMIT")
    c.sql("INSERT INTO b VALUES (2,'x','reader')")
    c.sql("INSERT INTO a VALUES (2,'x','reader')")
    got = await collect(rd, lambda g: sum(1 for m in g if m[0] == "C") >= 2)
    rels, rows = tables_seen(got)
    T.check("reader (wildcard) gets only a, and d's granted columns: relations",
            rels == {"public.a", "public.d"} and
            [m[4] for m in got if m[0] == "R" and m[3] == "d"] == [["id", "owner"]], got)
    T.check("reader (wildcard) gets only a and d: rows",
            rows == ["public.a", "public.d", "public.a"], rows)
    T.check("no transaction of b alone reaches reader",
            sum(1 for m in got if m[0] == "B") == 2, [m[0] for m in got])
    got = await collect(boss, lambda g: sum(1 for m in g if m[0] == "C") >= 3)
    rels, rows = tables_seen(got)
    T.check("superuser reads every table", rels == {"public.a", "public.b", "public.c", "public.d"}, rels)
    got = await collect(byp, lambda g: sum(1 for m in g if m[0] == "C") >= 2)
    rels, _ = tables_seen(got)
    T.check("BYPASSRLS role reads a and c (granted), not b or d", rels == {"public.a", "public.c"}, rels)
    await collect(ot, lambda g: sum(1 for m in g if m[0] == "C") >= 2)

    # revocation on a live client
    c.sql("INSERT INTO a VALUES (3,'before','x')")
    c.sql("REVOKE SELECT ON a FROM reader")
    c.sql("INSERT INTO a VALUES (4,'after','x')")
    c.sql("INSERT INTO a VALUES (5,'after','x')")
    got = await quiet(rd, 2)
    rows = [m[3][0] for m in got if isinstance(m, list) and m[0] == "I"]
    ev = [m for m in got if isinstance(m, dict) and m.get("code") == "permission_denied"]
    T.check("REVOKE: the change before it arrives, none after", rows == [3], rows)
    T.check("REVOKE: one permission_denied event naming subscription and table",
            len(ev) == 1 and ev[0].get("table") == "public.a" and ev[0].get("subscription"), ev)
    got = await collect(ot, lambda g: sum(1 for m in g if m[0] == "I") >= 3)
    T.check("other role unaffected by reader's REVOKE",
            [m[3][0] for m in got if m[0] == "I"] == [3, 4, 5])
    c.sql("GRANT SELECT ON a TO reader")
    c.sql("INSERT INTO a VALUES (6,'again','x')")
    got = await collect(rd, lambda g: any(m[0] == "I" for m in g if isinstance(m, list)))
    T.check("GRANT again: rows come again",
            [m[3][0] for m in got if isinstance(m, list) and m[0] == "I"] == [6])

    # privileges through role membership
    c.sql("CREATE ROLE grp NOLOGIN")
    c.sql("GRANT SELECT ON b TO grp")
    c.sql("GRANT grp TO other")
    c.sql("INSERT INTO b VALUES (7,'via group','x')")
    got = await collect(ot, lambda g: any(m[0] == "I" and m[3][0] == 7 for m in g))
    T.check("GRANT of a role holding SELECT: b's rows reach its member", True)
    c.sql("REVOKE grp FROM other")
    c.sql("INSERT INTO b VALUES (8,'after revoke of role','x')")
    c.sql("INSERT INTO a VALUES (9,'marker','x')")
    got = await collect(ot, lambda g: any(isinstance(m, list) and m[0] == "I" and m[3][0] == 9 for m in g))
    T.check("REVOKE of the role: b's rows stop",
            not any(isinstance(m, list) and m[0] == "I" and m[3][0] == 8 for m in got))
    for ws in (rd, ot, boss, byp):
        await ws.close()


try:
    status = run_worker_test(main, T, conf=KEYS.conf)
finally:
    KEYS.cleanup()
sys.exit(status)
