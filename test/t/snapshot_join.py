#!/usr/bin/python3
"""snapshot_join: an initial snapshot joined with the change stream gives
every committed change exactly once.

A slot is created first; writers then run concurrent transactions
(inserts, updates, deletes, rollbacks, savepoints, some kept open for a
while so they are in flight when a snapshot is taken).  Meanwhile several
snapshots are exported with pgsync.snapshot_to_file().  Afterwards the slot
is decoded (compact format) and, for each snapshot, the transactions NOT
visible in it by the join rule (docs/SNAPSHOT.md) are applied to its rows,
strictly: an insert must not find its key (duplicate), an update or delete
must find it (gap).  The result must equal the table's final contents.
A naive rule that ignores xip is also tried, to show the test can tell.
Prints "N passed, N failed"; exits 0 only if all passed.
"""
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from cluster import Cluster  # noqa: E402

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what)


def widen(reference, xid):
    """32-bit xid to the full xid nearest reference (snapshot_widen_xid)."""
    if xid < 3:
        return xid
    diff = (xid - (reference & 0xFFFFFFFF)) & 0xFFFFFFFF
    if diff >= 1 << 31:
        diff -= 1 << 32
    full = reference + diff
    if full < 3:
        full += 1 << 32
    return full


def visible(snap, xid32):
    x = widen(snap["xmin"], xid32)
    return x < snap["xmin"] or (x < snap["xmax"] and x not in snap["xip_set"])


def visible_naive(snap, xid32):
    return widen(snap["xmin"], xid32) < snap["xmax"]


def writer(cluster, n, stop, errors, stats):
    rnd = random.Random(n)
    conn = cluster.connect(autocommit=False)
    cur = conn.cursor()
    next_id = 100000 * (n + 1)
    while not stop.is_set():
        try:
            kind = rnd.random()
            for _ in range(rnd.randint(1, 4)):
                op = rnd.random()
                if op < 0.4:
                    next_id += 1
                    cur.execute("INSERT INTO acct VALUES (%s, %s, %s)",
                                (next_id, rnd.randint(0, 1000), "w%d" % n))
                elif op < 0.8:
                    cur.execute("UPDATE acct SET v = v + 1, note = %s WHERE id = %s",
                                ("u%d" % n, rnd.choice([rnd.randint(1, 2000), next_id])))
                else:
                    cur.execute("DELETE FROM acct WHERE id = %s",
                                (rnd.randint(1, 2000),))
            if rnd.random() < 0.2:
                cur.execute("SAVEPOINT s")
                next_id += 1
                cur.execute("INSERT INTO acct VALUES (%s, -1, 'rolled back sub')",
                            (next_id,))
                cur.execute("ROLLBACK TO SAVEPOINT s")
            if kind < 0.15:
                time.sleep(rnd.uniform(0.05, 0.3))	# in flight at a snapshot
            if kind > 0.9:
                conn.rollback()
                stats["rollbacks"] += 1
            else:
                conn.commit()
                stats["commits"] += 1
        except Exception as e:  # serialization/deadlock: retry
            conn.rollback()
            if "deadlock" not in str(e):
                errors.append(repr(e))
                return
    conn.close()


def read_snapshot(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[-1] == ""
    header = json.loads(lines[0])
    trailer = json.loads(lines[-2])
    rows = [json.loads(l) for l in lines[1:-2]]
    s = header["snapshot"]
    s["xip_set"] = set(s["xip"])
    return header, rows, trailer


def apply_stream(rows, msgs, relid, snap, rule):
    """Apply the transactions not visible by rule; returns (table, errors)."""
    table = {}
    errors = []
    for r in rows:
        if r[0] in table:
            errors.append("duplicate key %d in snapshot" % r[0])
        table[r[0]] = r
    skip = True
    for m in msgs:
        kind = m[0]
        if kind == "B":
            skip = rule(snap, m[1])
        elif kind == "C" or kind == "R" or skip:
            continue
        elif m[1] != relid:
            continue
        elif kind == "I":
            row = m[3]
            if row[0] in table:
                errors.append("duplicate insert of %d" % row[0])
            table[row[0]] = row
        elif kind == "U":
            row = m[3]
            old_key = m[4][0] if len(m) > 4 and m[4] else row[0]
            if old_key not in table:
                errors.append("update of missing %d" % old_key)
            table.pop(old_key, None)
            table[row[0]] = row
        elif kind == "D":
            key = m[3][0]
            if key not in table:
                errors.append("delete of missing %d" % key)
            table.pop(key, None)
    return table, errors


def main():
    with Cluster(["max_worker_processes = 16"]) as c:
        conn = c.connect()
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION pgsync")
        cur.execute("CREATE TABLE acct (id int PRIMARY KEY, v int, note text)")
        cur.execute("INSERT INTO acct SELECT g, g, 'seed' FROM generate_series(1, 2000) g")
        # the slot exists (and is consistent) before any writer starts
        cur.execute("SELECT pg_create_logical_replication_slot('join', 'pgsync')")
        cur.execute("SELECT 'acct'::regclass::oid")
        relid = cur.fetchone()[0]

        stop = threading.Event()
        errors = []
        stats = {"commits": 0, "rollbacks": 0}
        threads = [threading.Thread(target=writer, args=(c, n, stop, errors, stats))
                   for n in range(4)]
        for t in threads:
            t.start()
        names = []
        held_xid = None
        for i in range(6):
            time.sleep(0.4)
            name = "join%d" % i
            held = None
            if i == 2:
                # deterministic in-flight case: an older transaction still
                # open while a newer one has committed puts it in xip
                held = c.connect(autocommit=False)
                hcur = held.cursor()
                hcur.execute("INSERT INTO acct VALUES (999999, 0, 'held')")
                hcur.execute("SELECT pg_current_xact_id()::text::bigint")
                held_xid = hcur.fetchone()[0]
                cur.execute("INSERT INTO acct VALUES (999998, 0, 'newer')")
            cur.execute("SELECT pgsync.snapshot_to_file('acct', %s)", (name,))
            names.append((name, cur.fetchone()[0]))
            if held is not None:
                held.commit()
                held.close()
        time.sleep(0.4)
        stop.set()
        for t in threads:
            t.join()
        check(not errors, "writers ran without errors %s" % errors[:3])
        print("# %d commits, %d rollbacks" % (stats["commits"], stats["rollbacks"]))

        cur.execute("SELECT id, v, note FROM acct ORDER BY id")
        final = {r[0]: list(r) for r in cur.fetchall()}
        cur.execute("SELECT data FROM pg_logical_slot_peek_changes('join', NULL, NULL, "
                    "'format', 'compact')")
        msgs = [json.loads(r[0]) for r in cur.fetchall()]
        print("# %d stream messages" % len(msgs))

        in_flight_total = 0
        naive_wrong = 0
        for name, count in names:
            path = os.path.join(c.datadir, "pg_pgsync", "snapshots", name)
            header, rows, trailer = read_snapshot(path)
            snap = header["snapshot"]
            check(trailer.get("done") is True and trailer["rows"] == count == len(rows),
                  "%s: complete file, %d rows" % (name, count))
            xids = [m[1] for m in msgs if m[0] == "B"]
            in_xip = [x for x in xids if widen(snap["xmin"], x) in snap["xip_set"]]
            in_flight_total += len(in_xip)
            table, errs = apply_stream(rows, msgs, relid, snap, visible)
            check(not errs, "%s: no gap, no duplicate %s" % (name, errs[:3]))
            check(table == final,
                  "%s: snapshot + not-visible transactions = final table "
                  "(xmin %d, xmax %d, %d in xip, %d of them in the stream)"
                  % (name, snap["xmin"], snap["xmax"], len(snap["xip"]), len(in_xip)))
            naive, nerrs = apply_stream(rows, msgs, relid, snap, visible_naive)
            if in_xip and (naive != final or nerrs):
                naive_wrong += 1
            if name == "join2":
                check(held_xid in snap["xip_set"],
                      "join2: the transaction held open is in xip")
                check(naive != final or bool(nerrs),
                      "join2: a rule ignoring xip loses the held transaction")
        print("# %d transactions in flight at a snapshot; the naive rule "
              "(ignoring xip) was wrong for %d snapshots" % (in_flight_total, naive_wrong))
        conn.close()

    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
