#!/usr/bin/python3
"""watch.py: a small example client of the pgsync WebSocket worker.

Connects with the subprotocol pgsync.v1, subscribes to tables and prints
every message it receives, one JSON text per line on stdout.  Comments
(resume points, disconnects) go to stderr, prefixed with '#'.

    watch.py public.orders
    watch.py --ops insert,update --filter '{"col":"amount","op":"gt","value":100}' public.orders
    watch.py --resume-lsn 0/1A2B3C4 public.orders     # everything committed after 0/1A2B3C4
    watch.py --reconnect 'app.*'                      # reconnect and resume on disconnect

It follows the resume contract of docs/WEBSOCKET.md: a transaction counts
as processed only at its commit message ("C"); its commit LSN (element 2
of "B" and "C") is the resume point.  Heartbeats carry a valid resume
point too.  A transaction cut by a disconnect is discarded; with
--reconnect the client subscribes again with resume_lsn and gets it again,
whole.

Needs only /usr/bin/python3 and python3-websockets (Debian bookworm).
"""
import argparse
import asyncio
import json
import os
import signal
import sys

import websockets


def lsn_value(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def note(msg):
    print("# " + msg, file=sys.stderr, flush=True)


class Watcher:
    def __init__(self, args):
        self.args = args
        self.resume = args.resume_lsn      # last resume point (string) or None
        self.partial = 0                   # messages of the open transaction
        self.committed = 0                 # transactions seen whole

    def advance(self, lsn):
        """Move the resume point forward (never back, never to 0/0)."""
        if not lsn or lsn == "0/0":
            return
        if self.resume is None or lsn_value(lsn) > lsn_value(self.resume):
            self.resume = lsn

    def request(self):
        req = {"type": "subscribe", "id": "watch", "tables": self.args.tables}
        if self.args.ops:
            req["ops"] = [o.strip() for o in self.args.ops.split(",") if o.strip()]
        if self.args.filter:
            req["filter"] = json.loads(self.args.filter)
        if self.resume:
            req["resume_lsn"] = self.resume
        elif self.args.snapshot:
            req["snapshot"] = True      # current rows first (docs/WEBSOCKET.md)
        return req

    async def session(self):
        """One connection.  Returns True when done (--count reached)."""
        headers = {}
        if self.args.token:
            headers["Authorization"] = "Bearer " + self.args.token
        async with websockets.connect(self.args.url, subprotocols=["pgsync.v1"],
                                      max_size=None, extra_headers=headers) as ws:
            req = self.request()
            await ws.send(json.dumps(req))
            note("connected to %s, subscribed to %s%s" % (
                self.args.url, ", ".join(self.args.tables),
                " after %s" % self.resume if self.resume else ""))
            async for text in ws:
                msg = json.loads(text)
                if isinstance(msg, list):
                    print(text, flush=True)
                    if msg[0] == "B":
                        self.partial = 1
                    elif msg[0] == "C":
                        # the transaction is complete: apply it here, then
                        # remember its commit LSN as the resume point
                        self.partial = 0
                        self.committed += 1
                        self.advance(msg[2])
                        if self.args.show_resume_points:
                            note("resume point %s" % msg[2])
                        if self.args.count and self.committed >= self.args.count:
                            return True
                    elif self.partial:
                        self.partial += 1
                    continue
                kind = msg.get("type")
                if kind == "heartbeat":
                    self.advance(msg.get("lsn"))
                    if self.args.heartbeats:
                        print(text, flush=True)
                    continue
                print(text, flush=True)
                if kind == "error":
                    self.advance(msg.get("resume_lsn"))
                    if msg.get("id") == "watch":
                        # the subscription itself was refused
                        raise SystemExit(2)
        return False

    async def run(self):
        while True:
            try:
                if await self.session():
                    return 0
                note("connection closed by the server")
            except (OSError, websockets.exceptions.WebSocketException) as e:
                note("connection lost: %s" % e)
            if self.partial:
                note("discarding a partial transaction (%d messages): it will be sent again" %
                     self.partial)
                self.partial = 0
            if self.resume:
                note("resume with: --resume-lsn %s" % self.resume)
            if not self.args.reconnect:
                return 1
            await asyncio.sleep(1)


def main():
    p = argparse.ArgumentParser(description="Print the changes pgsync pushes over WebSocket.")
    p.add_argument("tables", nargs="*", default=["public.orders"],
                   help="table patterns (schema.table, globs: app.*, *.orders); default public.orders")
    p.add_argument("--url", default=os.environ.get("PGSYNC_URL", "ws://127.0.0.1:8090/"),
                   help="WebSocket URL (default $PGSYNC_URL or ws://127.0.0.1:8090/)")
    p.add_argument("--token", default=os.environ.get("PGSYNC_TOKEN"),
                   help="JWT for pgsync.auth = jwt (default $PGSYNC_TOKEN; scripts/make-token makes one)")
    p.add_argument("--ops", help="comma list of insert, update, delete, truncate (default all)")
    p.add_argument("--filter", help="row filter, JSON (docs/FILTERS.md)")
    p.add_argument("--resume-lsn", help="resume after this commit LSN (docs/WEBSOCKET.md, Resume)")
    p.add_argument("--snapshot", action="store_true",
                   help="first the table's current rows, then the stream (one table)")
    p.add_argument("--reconnect", action="store_true",
                   help="on disconnect, reconnect and resume from the last resume point")
    p.add_argument("--heartbeats", action="store_true", help="print heartbeats too")
    p.add_argument("--show-resume-points", action="store_true",
                   help="note the resume point after each transaction on stderr")
    p.add_argument("--count", type=int, default=0,
                   help="exit after this many complete transactions")
    args = p.parse_args()
    if args.filter:
        try:
            json.loads(args.filter)
        except ValueError as e:
            p.error("--filter is not valid JSON: %s" % e)
    w = Watcher(args)
    # Ctrl-C and kill (even when started in the background) end it cleanly
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return asyncio.run(w.run())
    except KeyboardInterrupt:
        if w.resume:
            note("resume with: --resume-lsn %s" % w.resume)
        return 130


if __name__ == "__main__":
    sys.exit(main())
