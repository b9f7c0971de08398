#!/usr/bin/python3
"""Integration test: row-level security on pushed changes.

Promises (docs/SECURITY.md, "Row-level security"):
  - on a table with RLS, a client receives exactly the changes whose row
    its role could SELECT under the table's policies, with its token's
    claims in request.jwt.claims (as PostgREST and Supabase set them):
    after a random workload, each client's replica of the table equals
    what SET ROLE + set_config('request.jwt.claims') + SELECT returns;
  - permissive policies are OR'ed, restrictive ones AND'ed; a policy
    calling a SQL function (auth.uid()-style) works; FORCE ROW LEVEL
    SECURITY binds the owner; BYPASSRLS and superusers see every row;
  - inserts and updates are checked on the new row; deletes on the old
    row under REPLICA IDENTITY FULL; under DEFAULT (key only) a delete
    whose policy reads a non-key column is not sent;
  - ALTER POLICY and DROP POLICY take effect on live clients;
  - a policy pgsync cannot evaluate (a user-defined plpgsql function) is
    refused with permission_denied, never sent unfiltered;
  - clients of one user share one evaluation (checked in the unit tests),
    and several users' clients are served side by side.
"""
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import jwt  # noqa: E402
import websockets  # noqa: E402
from wsutil import collect, quiet, request  # noqa: E402

T = Checks()
SECRET = "rls-test-secret-0123456789abcdef-0123456789"
KEYDIR = tempfile.mkdtemp(prefix="pgsync-rls-keys.")
os.chmod(KEYDIR, 0o755)
with open(os.path.join(KEYDIR, "secret"), "w") as f:
    f.write(SECRET)
os.chmod(os.path.join(KEYDIR, "secret"), 0o644)
CONF = ["pgsync.auth = jwt", "pgsync.jwt_secret_file = '%s/secret'" % KEYDIR]
USERS = ["u1", "u2", "u3"]
TEAMS = ["red", "blue"]


def claims_of(sub, team):
    return {"sub": sub, "team": team, "role": "app"}


async def connect(c, role, **claims):
    tok = jwt.hs256(SECRET, jwt.claims(role, 600, **claims))
    return await websockets.connect(c.ws_url(), subprotocols=["pgsync.v1"],
                                    extra_headers={"Authorization": "Bearer " + tok},
                                    max_size=None)


def visible_rows(c, role, claims, table):
    """What PostgreSQL says the principal may SELECT."""
    conn = c.connect()
    cur = conn.cursor()
    cur.execute("SET ROLE %s" % role)
    cur.execute("SELECT set_config('request.jwt.claims', %s, false)", (json.dumps(claims),))
    cur.execute("SELECT id, owner, team, body FROM %s ORDER BY id" % table)
    rows = {r[0]: list(r) for r in cur.fetchall()}
    conn.close()
    return rows


class Replica:
    """A client's copy of the table, from the stream."""

    def __init__(self, ws, name):
        self.ws, self.name = ws, name
        self.rows, self.cols = {}, None
        self.deletes = 0

    def apply(self, msgs):
        for m in msgs:
            if not isinstance(m, list):
                continue
            if m[0] == "R":
                self.cols = m[4]
            elif m[0] in ("I", "U"):
                row = dict(zip(self.cols, m[3]))
                self.rows[row["id"]] = [row["id"], row["owner"], row["team"], row["body"]]
            elif m[0] == "D":
                self.deletes += 1
                self.rows.pop(m[3][0], None)

    async def drain(self, secs=1.0):
        got = await quiet(self.ws, secs)
        self.apply(got)
        return got


async def main(c):
    c.sql("CREATE SCHEMA auth")
    c.sql("""CREATE FUNCTION auth.team() RETURNS text LANGUAGE sql STABLE AS
             $$ SELECT current_setting('request.jwt.claims', true)::json->>'team' $$""")
    c.sql("""CREATE FUNCTION auth.slow_uid() RETURNS text LANGUAGE plpgsql STABLE AS
             $$ BEGIN RETURN current_setting('request.jwt.claims', true)::json->>'sub'; END $$""")
    c.sql("CREATE ROLE app LOGIN")
    c.sql("CREATE ROLE admin LOGIN BYPASSRLS")
    c.sql("CREATE ROLE boss LOGIN SUPERUSER")
    c.sql("GRANT USAGE ON SCHEMA auth TO app")
    c.sql("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO app")
    c.sql("CREATE TABLE docs (id int PRIMARY KEY, owner text, team text, body text)")
    c.sql("ALTER TABLE docs REPLICA IDENTITY FULL")
    c.sql("ALTER TABLE docs ENABLE ROW LEVEL SECURITY")
    c.sql("""CREATE POLICY mine ON docs FOR SELECT
             USING (owner = current_setting('request.jwt.claims', true)::json->>'sub')""")
    c.sql("CREATE POLICY team ON docs FOR SELECT USING (team = auth.team() AND body LIKE 'shared%')")
    c.sql("CREATE POLICY not_hidden ON docs AS RESTRICTIVE FOR SELECT USING (body <> 'hidden')")
    c.sql("GRANT SELECT ON docs TO app, admin")
    c.sql("CREATE TABLE keyonly (id int PRIMARY KEY, owner text, team text, body text)")
    c.sql("ALTER TABLE keyonly ENABLE ROW LEVEL SECURITY")
    c.sql("""CREATE POLICY mine ON keyonly
             USING (owner = current_setting('request.jwt.claims', true)::json->>'sub')""")
    c.sql("GRANT SELECT ON keyonly TO app")
    c.sql("CREATE TABLE plfunc (id int PRIMARY KEY, owner text)")
    c.sql("ALTER TABLE plfunc ENABLE ROW LEVEL SECURITY")
    c.sql("CREATE POLICY mine ON plfunc USING (owner = auth.slow_uid())")
    c.sql("GRANT SELECT ON plfunc TO app")

    clients = []
    for sub in USERS:
        for team in TEAMS:
            ws = await connect(c, "app", sub=sub, team=team)
            clients.append((Replica(ws, "%s/%s" % (sub, team)), claims_of(sub, team)))
    # a second client of the same principal
    twin = await connect(c, "app", sub="u1", team="red")
    clients.append((Replica(twin, "u1/red twin"), claims_of("u1", "red")))
    admin = Replica(await connect(c, "admin", sub="x"), "admin")
    boss = Replica(await connect(c, "boss", sub="x"), "boss")
    for rep, _ in clients + [(admin, None), (boss, None)]:
        r = await request(rep.ws, {"type": "subscribe", "id": "d", "tables": ["public.docs"]})
        T.check("%s subscribed" % rep.name, r.get("type") == "ok", r)

    # a plpgsql function in a policy: refused, never sent unfiltered
    r = await request(clients[0][0].ws, {"type": "subscribe", "id": "p", "tables": ["public.plfunc"]})
    T.check("policy calling a user-defined plpgsql function: permission_denied",
            r.get("code") == "permission_denied" and "function" in r.get("message", ""), r)

    # random workload: inserts, body/team updates, deletes; the model
    # replays it with the policies written in Python
    def may_see(claims, row):
        _, owner, team, body = row
        return ((owner == claims["sub"] or
                 (team == claims["team"] and body.startswith("shared")))
                and body != "hidden")

    rnd = random.Random(8)
    state, events = {}, []
    for i in range(300):
        op = rnd.random()
        if op < 0.5 or not state:
            row = [i + 1, rnd.choice(USERS), rnd.choice(TEAMS),
                   rnd.choice(["shared note", "private", "hidden", "shared hidden"])]
            c.sql("INSERT INTO docs VALUES (%s, %s, %s, %s)", tuple(row))
            state[row[0]] = row
            events.append(("I", list(row)))
        elif op < 0.8:
            k = rnd.choice(sorted(state))
            row = [k, state[k][1], rnd.choice(TEAMS),
                   rnd.choice(["shared update", "private update", "hidden"])]
            c.sql("UPDATE docs SET body = %s, team = %s WHERE id = %s", (row[3], row[2], k))
            state[k] = row
            events.append(("U", list(row)))
        else:
            k = rnd.choice(sorted(state))
            c.sql("DELETE FROM docs WHERE id = %s", (k,))
            events.append(("D", state.pop(k)))
    for rep, _ in clients + [(admin, None), (boss, None)]:
        await rep.drain(1.5)

    # Each client got exactly the changes whose row (new row of an insert
    # or update, old row of a delete) its principal may see.  Inserts and
    # updates are checked on the new row, so a row that leaves a view stays
    # in that replica as it was last seen: the model says which.
    def replay(claims, events):
        model = {}
        for kind, row in events:
            if may_see(claims, row):
                if kind == "D":
                    model.pop(row[0], None)
                else:
                    model[row[0]] = row
        return model

    # the checker can fail: a model missing one visible insert (a gap), or
    # showing one invisible insert (a leak), differs from the replica
    rep0, claims0 = clients[0]
    ins = [i for i, (k, row) in enumerate(events) if k == "I"]
    vis = next(i for i in ins if may_see(claims0, events[i][1]) and
               all(e[1][0] != events[i][1][0] for e in events[i + 1:]))
    hid = next(i for i in ins if not may_see(claims0, events[i][1]) and
               all(e[1][0] != events[i][1][0] for e in events[i + 1:]))
    T.check("the comparison sees a gap (one visible insert left out)",
            replay(claims0, events[:vis] + events[vis + 1:]) != rep0.rows)
    leak = dict(replay(claims0, events))
    leak[events[hid][1][0]] = events[hid][1]
    T.check("the comparison sees a leak (one invisible insert shown)", leak != rep0.rows)

    for rep, claims in clients:
        model = replay(claims, events)
        T.check("%s: exactly the changes its principal may see (%d rows)" % (rep.name, len(model)),
                rep.rows == model,
                sorted(set(rep.rows.items()) ^ set(model.items()) if False else
                       [k for k in set(rep.rows) | set(model) if rep.rows.get(k) != model.get(k)])[:5])
        want = visible_rows(c, "app", claims, "docs")
        missing = [k for k in want if rep.rows.get(k) != want[k]]
        T.check("%s: every row SET ROLE + SELECT shows, with its values (%d rows)" % (rep.name, len(want)),
                not missing, missing[:5])
    T.check("the twin client (same principal) got the same rows",
            clients[0][0].rows == clients[-1][0].rows)
    n = c.sql("SELECT count(*) FROM docs")[0][0]
    T.check("BYPASSRLS role sees every row (%d)" % n, len(admin.rows) == n, len(admin.rows))
    T.check("superuser sees every row", len(boss.rows) == n, len(boss.rows))
    T.check("some rows were hidden from each user",
            all(len(rep.rows) < n for rep, _ in clients))

    # an initial snapshot reads as the role, with the claims
    for sub, team in (("u2", "red"), ("u3", "blue")):
        ws = await connect(c, "app", sub=sub, team=team)
        r = await request(ws, {"type": "subscribe", "id": "s", "tables": ["public.docs"],
                               "snapshot": True})
        rows, cols = {}, None
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if isinstance(m, dict) and m.get("type") == "snapshot_begin":
                cols = [col["name"] if isinstance(col, dict) else col
                        for col in m["relation"].get("columns", [])]
            elif isinstance(m, list) and m[0] == "S":
                rows[m[2][0]] = list(m[2])
            elif isinstance(m, dict) and m.get("type") == "snapshot_end":
                break
            elif isinstance(m, dict) and m.get("type") == "error":
                break
        want = visible_rows(c, "app", claims_of(sub, team), "docs")
        T.check("snapshot for %s/%s: exactly the rows SET ROLE + SELECT shows (%d)"
                % (sub, team, len(want)), rows == want,
                (r, sorted(set(rows) ^ set(want))[:5]))
        await ws.close()

    # deletes under REPLICA IDENTITY DEFAULT: the old row is the key only
    u1 = clients[0][0]
    await request(u1.ws, {"type": "subscribe", "id": "k", "tables": ["public.keyonly"]})
    c.sql("INSERT INTO keyonly VALUES (1, 'u1', 'red', 'x')")
    c.sql("DELETE FROM keyonly WHERE id = 1")
    got = await u1.drain(1.0)
    kinds = [m[0] for m in got if isinstance(m, list) and m[0] in "IUD"]
    T.check("DEFAULT identity: the insert arrives, the key-only delete does not",
            kinds == ["I"], kinds)

    # ALTER POLICY on live clients: u2 now also sees u1's rows
    c.sql("""ALTER POLICY mine ON docs USING (owner = current_setting('request.jwt.claims', true)::json->>'sub'
             OR (owner = 'u1' AND current_setting('request.jwt.claims', true)::json->>'sub' = 'u2'))""")
    c.sql("INSERT INTO docs VALUES (10001, 'u1', 'blue', 'private')")
    u2 = clients[2][0]
    got = await u2.drain(1.0)
    T.check("ALTER POLICY: u2 gets u1's new private row",
            any(isinstance(m, list) and m[0] == "I" and m[3][0] == 10001 for m in got), got)
    got = await clients[4][0].drain(0.5)
    T.check("ALTER POLICY: u3 still does not",
            not any(isinstance(m, list) and m[0] == "I" and m[3][0] == 10001 for m in got))
    c.sql("DROP POLICY not_hidden ON docs")
    c.sql("INSERT INTO docs VALUES (10002, 'u1', 'red', 'hidden')")
    got = await u1.drain(1.0)
    T.check("DROP POLICY (restrictive): u1 now gets its 'hidden' row",
            any(isinstance(m, list) and m[0] == "I" and m[3][0] == 10002 for m in got), got)

    # FORCE ROW LEVEL SECURITY binds the owner
    c.sql("CREATE ROLE owner_role LOGIN")
    c.sql("CREATE TABLE owned (id int PRIMARY KEY, owner text)")
    c.sql("ALTER TABLE owned OWNER TO owner_role")
    c.sql("ALTER TABLE owned ENABLE ROW LEVEL SECURITY")
    c.sql("""CREATE POLICY mine ON owned
             USING (owner = current_setting('request.jwt.claims', true)::json->>'sub')""")
    ow = await connect(c, "owner_role", sub="u1")
    await request(ow, {"type": "subscribe", "id": "o", "tables": ["public.owned"]})
    c.sql("INSERT INTO owned VALUES (1, 'u2')")
    got = await collect(ow, lambda g: any(m[0] == "I" for m in g))
    T.check("table owner without FORCE: sees every row", True)
    c.sql("ALTER TABLE owned FORCE ROW LEVEL SECURITY")
    c.sql("INSERT INTO owned VALUES (2, 'u2')")
    c.sql("INSERT INTO owned VALUES (3, 'u1')")
    got = await quiet(ow, 1.0)
    ids_seen = [m[3][0] for m in got if isinstance(m, list) and m[0] == "I"]
    T.check("FORCE ROW LEVEL SECURITY: the owner sees only its rows", ids_seen == [3], ids_seen)
    await ow.close()
    for rep, _ in clients + [(admin, None), (boss, None)]:
        await rep.ws.close()


try:
    status = run_worker_test(main, T, conf=CONF)
finally:
    shutil.rmtree(KEYDIR, ignore_errors=True)
sys.exit(status)
