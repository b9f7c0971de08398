#!/usr/bin/python3
"""Integration test: a slot left behind by a worker that no longer runs.

Covers: pgsync.drop_slot() is refused while the worker holds the slot;
without pgsync in shared_preload_libraries, pgsync.status still shows the
slot's retained WAL, wal_status and when it last advanced (state "not
loaded"); with pgsync.port = 0 the worker only watches the slot (state
"disabled") and logs the pgsync.slot_wal_warning WARNING as another
database writes; pgsync.drop_slot() then drops slot and change log
together and the watcher goes away; re-enabled, the worker makes a new
slot and a client resuming from before gets resume_too_old.
"""
import os
import sys
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks, run_worker_test  # noqa: E402
import walload  # noqa: E402
from walload import MB  # noqa: E402
import wsutil  # noqa: E402
from wsutil import collect, commits, subscribe  # noqa: E402

T = Checks()


def restart_with(c, *lines):
    with open(os.path.join(c.datadir, "postgresql.conf"), "a") as f:
        f.write("\n".join(lines) + "\n")
    c.pg_ctl("restart", "-w", "-t", "60", "-m", "fast", "-l", c.log_path())


def watcher_running(c):
    return c.sql("SELECT worker_pid FROM pgsync.status")[0][0] is not None


async def main(c):
    walload.setup(c)
    ws = await wsutil.connect(c)
    await subscribe(ws, ["public.t"])
    c.sql("INSERT INTO t VALUES (1, 'x')")
    got = await collect(ws, lambda g: commits(g) >= 1, 10)
    pos = [m for m in got if m[0] == "C"][-1][2]
    await ws.close()

    try:
        c.sql("SELECT pgsync.drop_slot()")
        T.check("drop_slot refused while the worker runs", False)
    except psycopg2.Error as e:
        T.check("drop_slot refused while the worker runs, with a hint",
                e.pgcode == "55006" and "is in use by process" in e.pgerror
                and "pgsync.port = 0" in e.pgerror, e.pgerror)

    # not preloaded: status still shows the slot
    restart_with(c, "shared_preload_libraries = ''")
    c.sql("SET search_path = pgsync, public")
    before = time.time()
    walload.write_other(c, 40)
    st = c.sql("SELECT state, worker_pid, retained_wal_bytes, wal_status, "
               "extract(epoch FROM slot_last_advanced) FROM pgsync.status")[0]
    T.check("not preloaded: status shows state, retained WAL, wal_status, last advance",
            st[0] == "not loaded" and st[1] is None and st[2] >= 40 * MB and st[3] in ("reserved", "extended")
            and st[4] is not None and st[4] <= before + 1, st)

    # disabled: the watcher warns
    restart_with(c, "shared_preload_libraries = 'pgsync'", "pgsync.port = 0",
                 "pgsync.slot_wal_warning = '16MB'")
    deadline = time.time() + 15
    while time.time() < deadline and "more than pgsync.slot_wal_warning" not in c.log():
        time.sleep(0.3)
    T.check("disabled worker: WARNING past pgsync.slot_wal_warning",
            "retains" in c.log() and "more than pgsync.slot_wal_warning (16 MB)" in c.log(), c.log()[-1500:])
    st = c.sql("SELECT state, worker_pid, retained_wal_bytes FROM pgsync.status")[0]
    T.check("disabled: state and retained WAL", st[0] == "disabled" and st[2] >= 40 * MB, st)
    T.check("disabled: a watcher runs while the slot exists", watcher_running(c))

    n = c.sql("SELECT pgsync.drop_slot()")[0][0]
    T.check("drop_slot drops the slot and removes the change log",
            n >= 1 and not c.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pgsync'")
            and not [f for f in os.listdir(os.path.join(c.datadir, "pg_pgsync", "log")) if f.endswith(".seg")],
            n)
    deadline = time.time() + 10
    while time.time() < deadline and watcher_running(c):
        time.sleep(0.3)
    T.check("the watcher exits once there is no slot", not watcher_running(c))
    st = c.sql("SELECT retained_wal_bytes, wal_status FROM pgsync.status")[0]
    T.check("status without a slot: NULLs", st == (None, None), st)

    # enabled again: a new slot, a new log; old positions are too old
    restart_with(c, "pgsync.port = %d" % c.ws_port)
    c.wait_worker_ready()
    ws = await wsutil.connect(c)
    r = await subscribe(ws, ["public.t"], resume_lsn=pos)
    T.check("resume from before the drop: resume_too_old", r.get("code") == "resume_too_old", r)
    await ws.close()
    ws = await wsutil.connect(c)
    await subscribe(ws, ["public.t"])
    c.sql("INSERT INTO t VALUES (2, 'y')")
    got = await collect(ws, lambda g: commits(g) >= 1, 10)
    T.check("streams again", [m[3][0] for m in got if m[0] == "I"] == [2], got)
    await ws.close()


def run():
    return run_worker_test(main, T, walload.WAL_CONF)


if __name__ == "__main__":
    sys.exit(run())
