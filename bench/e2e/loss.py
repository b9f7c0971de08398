"""bench/e2e/loss.py: changes lost when the server side or the client
restarts mid-stream.

A writer commits single-row inserts at a steady rate; one client receives
them; at a third of the run either the system restarts (pgsync: its worker
is terminated and the postmaster starts a new one; a bridge: its process
is stopped and started again) or the client drops its connection for a
second.  The client reconnects as a real user of each system would:

  - pgsync: it applies a transaction at its commit ("C") and keeps that
    commit LSN; on reconnect it subscribes with "resume_lsn"
    (docs/WEBSOCKET.md, "Resume");
  - a bridge has no resume: the client reconnects and subscribes again.

Lost = rows committed during the run that the client never received;
duplicates are counted too.  Not a throughput test: one client, python3
websockets (Debian's), one writer thread.
"""
import asyncio
import json
import threading
import time

import websockets


def bridge_row_id(msg):
    """The id of the row in a bridge's change message, or None."""
    m = json.loads(msg)
    row = m.get("row") if isinstance(m, dict) else None
    return int(row["id"]) if row and "id" in row else None


class Writer(threading.Thread):
    def __init__(self, c, rate, secs):
        super().__init__(daemon=True)
        self.c, self.rate, self.secs = c, rate, secs
        self.ids = []

    def run(self):
        conn = self.c.connect()
        cur = conn.cursor()
        t0 = time.time()
        k = 0
        while time.time() - t0 < self.secs:
            cur.execute("INSERT INTO lat(pad) VALUES ('x') RETURNING id")
            self.ids.append(cur.fetchone()[0])
            k += 1
            delay = t0 + k / self.rate - time.time()
            if delay > 0:
                time.sleep(delay)
        conn.close()


async def client(system, received, stop, drop):
    """Receive until stop is set; drop = {"at": t, "for": s} closes the
    connection once at time t and stays away s seconds."""
    resume = None
    url = system.url()
    while not stop.is_set():
        try:
            async with websockets.connect(url, subprotocols=["pgsync.v1"], open_timeout=2) as ws:
                req = json.loads(system.subscribe_text())
                if system.name == "pgsync" and resume:
                    req["resume_lsn"] = resume
                await ws.send(json.dumps(req))
                pending = []
                while not stop.is_set():
                    if drop.get("at") and time.time() >= drop["at"]:
                        drop["at"] = None
                        await ws.close()
                        await asyncio.sleep(drop["for"])
                        break
                    try:
                        msg = await asyncio.wait_for(ws.recv(), 0.05)
                    except asyncio.TimeoutError:
                        continue
                    if system.name != "pgsync":
                        rid = bridge_row_id(msg)
                        if rid is not None:
                            received.append(rid)
                        continue
                    m = json.loads(msg)
                    if isinstance(m, dict):
                        if m.get("type") == "ok" and m.get("resume_lsn") and resume is None:
                            resume = m["resume_lsn"]
                        continue
                    if m[0] == "B":
                        pending = []
                    elif m[0] == "I":
                        pending.append(int(m[3][0]))
                    elif m[0] == "C":
                        received.extend(pending)
                        pending = []
                        resume = m[2]
        except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.1)


def run(system, c, scenario, rate=500, secs=10):
    """scenario "server" or "client"; returns the counts."""
    received = []
    stop = threading.Event()
    drop = {}
    writer = Writer(c, rate, secs)

    async def main():
        task = asyncio.ensure_future(client(system, received, stop, drop))
        await asyncio.sleep(1.0)            # subscribed before the first insert
        writer.start()
        await asyncio.sleep(secs / 3)
        t_event = time.time()
        if scenario == "server":
            await asyncio.get_running_loop().run_in_executor(None, system.restart)
        else:
            drop.update({"at": time.time(), "for": 1.0})
        back = time.time() - t_event
        while writer.is_alive():
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)            # let the stream drain
        stop.set()
        await task
        return back

    back = asyncio.run(main())
    want = set(writer.ids)
    got = [i for i in received if i in want]
    lost = len(want - set(got))
    return {"scenario": scenario, "rate": rate, "secs": secs, "committed": len(want),
            "received": len(set(got)), "lost": lost, "duplicates": len(got) - len(set(got)),
            "restart_s": back if scenario == "server" else None}
