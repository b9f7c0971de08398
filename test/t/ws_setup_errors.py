#!/usr/bin/python3
"""Integration test: the worker cannot get its slot.

With the plugin not allowed (output_plugin_libraries) or wal_level below
logical, the worker logs the reason, shows it in pgsync.status, keeps
serving WebSocket requests, and starts streaming once the cause is fixed
(where that needs no restart).  Also: with the library loaded only as an
output plugin (not preloaded), the plugin works and no worker runs; with
pgsync.port taken by another program at start, the worker says so, keeps
running (a failed listen once closed the worker's own epoll descriptor
later: it then restarted every second), and listens once the port is
free.
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Cluster, Checks  # noqa: E402
import wsutil  # noqa: E402

T = Checks()


def wait_status(c, pred, timeout=15):
    deadline = time.time() + timeout
    row = None
    while time.time() < deadline:
        row = c.sql("SELECT state, last_error FROM pgsync.status")[0]
        if pred(row):
            return row
        time.sleep(0.2)
    return row


async def ping(c):
    ws = await wsutil.connect(c)
    r = await wsutil.request(ws, {"type": "ping", "id": 1})
    await ws.close()
    return r == {"type": "pong", "id": 1}


def not_allowed():
    c = Cluster(["output_plugin_libraries = 'pgoutput'"])
    if not c.has_plugin_allowlist():
        print("skip: server has no output_plugin_libraries")
        return
    c.start()
    try:
        time.sleep(1)
        c.create_extension()
        row = wait_status(c, lambda r: r[1] is not None)
        T.check("plugin not allowed: state waiting", row[0] == "waiting for slot", row)
        T.check("plugin not allowed: last_error says why",
                row[1] and "may not be used as an output plugin" in row[1], row)
        T.check("plugin not allowed: logged", "may not be used as an output plugin" in c.log())
        T.check("plugin not allowed: WebSocket still served", asyncio.run(ping(c)))
        c.sql("ALTER SYSTEM SET output_plugin_libraries = pgsync, pgoutput")
        c.sql("SELECT pg_reload_conf()")
        row = wait_status(c, lambda r: r[0] == "streaming", timeout=20)
        T.check("after allowing the plugin: streaming, error cleared",
                row[0] == "streaming" and row[1] is None, row)
    finally:
        c.stop()


def wal_level_replica():
    c = Cluster(["wal_level = replica"]).start()
    try:
        time.sleep(1)
        c.create_extension()
        row = wait_status(c, lambda r: r[1] is not None)
        T.check("wal_level replica: reported", row[1] and "wal_level" in row[1], row)
        T.check("wal_level replica: WebSocket still served", asyncio.run(ping(c)))
    finally:
        c.stop()


def plugin_only():
    c = Cluster(["shared_preload_libraries = ''"]).start()
    try:
        c.sql("SELECT pg_create_logical_replication_slot('p', 'pgsync')")
        c.sql("CREATE TABLE t(id int)")
        c.sql("INSERT INTO t VALUES (1)")
        rows = c.sql("SELECT data FROM pg_logical_slot_get_changes('p', NULL, NULL)")
        T.check("not preloaded: output plugin works", any('"op":"I"' in r[0] for r in rows), rows)
        T.check("not preloaded: no worker", c.worker_pid() is None)
        c.create_extension()
        # the slot's WAL retention stays visible without the worker
        row = c.sql("SELECT state, worker_pid, retained_wal_bytes FROM pgsync.status")[0]
        T.check("not preloaded: status says so (and shows the slot's retention)",
                row[0] == "not loaded" and row[1] is None, row)
    finally:
        c.stop()


def port_taken():
    import socket
    c = Cluster().start()
    blocker = None
    try:
        c.wait_worker_ready()
        c.create_extension()
        c.pg_ctl("stop", "-m", "fast")
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", c.ws_port))
        blocker.listen(1)
        c.pg_ctl("start", "-w", "-l", c.log_path())
        row = wait_status(c, lambda r: r[1] and "cannot start WebSocket server" in r[1])
        T.check("port taken: pgsync.status says the server cannot listen", row and row[1]
                and "cannot start WebSocket server" in row[1], row)
        pid = c.worker_pid()
        time.sleep(3)
        T.check("port taken: the worker keeps running (no restart, no epoll error)",
                c.worker_pid() == pid and "epoll_wait() failed" not in c.log(), (pid, c.worker_pid()))
        blocker.close()
        blocker = None
        deadline = time.time() + 15
        ok = False
        while time.time() < deadline and not ok:
            try:
                ok = asyncio.run(ping(c))
            except Exception:
                time.sleep(0.5)
        T.check("port taken: once free, the worker listens and answers", ok)
        T.check("port taken: still the same worker", c.worker_pid() == pid, (pid, c.worker_pid()))
    finally:
        if blocker is not None:
            blocker.close()
        c.stop()


def run():
    for f in (not_allowed, wal_level_replica, plugin_only, port_taken):
        try:
            f()
        except Exception as e:
            import traceback
            traceback.print_exc()
            T.check("%s: no exception" % f.__name__, False, repr(e))
    return T.finish()


if __name__ == "__main__":
    sys.exit(run())
