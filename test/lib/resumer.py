"""test/lib/resumer.py: a WebSocket client that always comes back.

Subscribes to one table, applies transactions (the first column of each
inserted row, in order), keeps the largest resume point it was given (ok's
resume_lsn, C, heartbeat, a closing error's resume_lsn) and, whenever the
connection drops or the server is down, reconnects and resumes from it.
Used by the WAL-retention tests that kill the worker or lose the slot.
"""
import asyncio
import json

import wsutil


def lsn_value(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


class Resumer:
    def __init__(self, cluster, table="public.t"):
        self.c, self.table = cluster, table
        self.ids = []           # rows of applied transactions, in order
        self.pos = None         # largest resume point processed
        self.errors = []        # error codes received (resume_too_old, ...)
        self.connections = 0
        self.stop = False
        self.task = None

    def advance(self, lsn):
        if lsn and (self.pos is None or lsn_value(lsn) > lsn_value(self.pos)):
            self.pos = lsn

    async def session(self):
        ws = await wsutil.connect(self.c)
        self.connections += 1
        try:
            req = {"type": "subscribe", "id": "s", "tables": [self.table]}
            if self.pos is not None:
                req["resume_lsn"] = self.pos
            await ws.send(json.dumps(req))
            subscribed, cur = False, None
            while not self.stop:
                try:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                if isinstance(m, dict):
                    t = m.get("type")
                    if t == "ok":
                        subscribed = True
                        self.advance(m.get("resume_lsn"))
                    elif t == "heartbeat" and subscribed:
                        self.advance(m.get("lsn"))
                    elif t == "error":
                        self.errors.append(m.get("code"))
                        if subscribed:
                            self.advance(m.get("resume_lsn"))
                        if m.get("id") == "s":
                            return m        # refused: the caller decides
                elif m[0] == "B":
                    cur = []
                elif m[0] in ("I", "U", "D") and cur is not None:
                    cur.append(m[3][0])
                elif m[0] == "C" and cur is not None:
                    self.ids.extend(cur)
                    cur = None
                    self.advance(m[2])
        finally:
            await ws.close()

    async def run(self):
        while not self.stop:
            try:
                r = await self.session()
                if r is not None:
                    return r
            except Exception:
                await asyncio.sleep(0.3)
        return None

    def start(self):
        self.task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def finish(self):
        self.stop = True
        try:
            return await asyncio.wait_for(self.task, 5)
        except asyncio.TimeoutError:
            self.task.cancel()
            return None


async def start_resumers(cluster, n):
    """n Resumers subscribed to public.t, given a second to subscribe."""
    clients = [Resumer(cluster).start() for _ in range(n)]
    await asyncio.sleep(1.0)
    return clients
