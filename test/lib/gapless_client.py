"""test/lib/gapless_client.py: one WebSocket client of the gapless checker.

Owns what a client does and what it records.  A client applies each
transaction at its C (commit LSN, number of changes, digest of the bytes),
drops its connection at random points and resumes; after a hand-over
event it resumes from far back (rewind), from beyond the log's end (jump)
or reloads through a snapshot; after resume_too_old it reloads (snapshot,
or from the oldest_lsn the server names).  Each start from a new point is
an epoch, checked on its own against the reference (test/lib/gapless_check.py).

Checked as messages arrive: positions given to the client are monotone
(every C above, every heartbeat and closing error's resume_lsn at or above
what the connection already has, its own resume_lsn included); every
change follows an R of its relation and has as many values as that R lists
columns (key columns for old values); heartbeats come between
transactions; snapshot rows pass the filter; with several subscriptions
on one connection, nothing arrives that no remaining subscription covers
once an unsubscribe is answered.  Self-test: one resume one transaction
early and one resume one transaction late, which the check must flag.
"""
import asyncio
import bisect
import json

import websockets

from gapless_model import *  # noqa: F401,F403


class Epoch:
    """A run of connections continuing one another: from base (a resume
    point) or from a snapshot (snap), with what was applied."""

    def __init__(self, kind, base=None):
        self.kind = kind
        self.base = base
        self.snap = None
        self.applied = []           # (commit lsn, changes, digest)
        self.conns = []

    def __repr__(self):
        return "%s%s" % (self.kind, " from %s" % lsn_str(self.base) if self.base is not None else "")


class Conn:
    """One connection of a client: where it resumed and how it ended."""

    def __init__(self, num, mode, resume, epoch):
        self.num = num
        self.mode = mode
        self.resume = resume
        self.epoch = epoch
        self.first = None           # first commit LSN applied
        self.last = None            # last commit LSN applied
        self.txns = 0
        self.hb = None              # highest heartbeat LSN received
        self.hb_at = None           # the last applied commit LSN when it came
        self.top = resume or 0      # highest position seen on it (C, heartbeat, resume_lsn)
        self.given = resume or 0    # highest resume point given to it
        self.rels = Relations()
        self.end = "?"

    def __repr__(self):
        f = lambda v: lsn_str(v) if v is not None else "-"  # noqa: E731
        return "conn#%d %s resume_lsn=%s applied %d txns [%s .. %s], heartbeat %s (when at %s), ended: %s" % (
            self.num, self.mode, f(self.resume), self.txns, f(self.first), f(self.last), f(self.hb),
            f(self.hb_at), self.end)


class Pending:
    """The transaction being received."""

    def __init__(self, lsn, void, unsub_oks):
        self.lsn = lsn
        self.unsub_oks = unsub_oks  # unsubscribes answered before its B
        self.n = 0
        self.digest = change_digest()
        self.void = void            # the main subscription is leaving: not applied


class Client:
    def __init__(self, num, spec, url, start_lsn, opts, rng, state):
        self.num = num
        self.sub = Subscription(spec)
        self.aux = [Subscription(a) for a in spec.get("aux", ())]
        self.url = url
        self.opts = opts
        self.rng = rng
        self.state = state          # shared: stop, resume supported, hand-over, writers
        self.epochs = []
        self.pos = start_lsn        # resume point: last applied commit (or join heartbeat)
        self.hb = start_lsn         # last heartbeat LSN seen outside a transaction
        self.positioned = True      # False: snapshot not joined yet, no resume point
        self.need = "snapshot" if spec.get("snapshot") else None
        self.oldest = None
        self.points = []            # (resume point, writers' changes then): for rewinds
        self.epoch = None if self.need else self.new_epoch("start", start_lsn)
        self.changes = 0
        self.conns = []
        self.counts = dict.fromkeys(("drops", "mid_txn_drops", "lost", "resumes", "hb_resumes", "slow", "stalls",
                                     "heartbeats", "rewinds", "jumps", "snapshots", "too_old", "retries",
                                     "unsubscribes", "snapshot_failed"), 0)
        self.violations = []
        self.fatal = None
        self.subscribed = asyncio.Event()
        self.ws = None
        self.drop_in = None         # messages until the next voluntary drop
        self.stall_in = None        # messages until it next stops reading a while
        self.drop_mode = None
        self.handover_seen = 0
        self.handover_done = 0
        self.slow = 0               # messages still to read slowly
        self.hold = False           # no voluntary drop on this connection
        self.inject = {}            # self-test: "early"/"late" -> the commit LSN concerned
        self.late_from = None

    def name(self):
        return "client %d %s" % (self.num, json.dumps(self.sub.spec, separators=(",", ":")))

    def violation(self, kind, what):
        if len(self.violations) < 30 and (kind, what) not in self.violations:
            self.violations.append((kind, what))

    def abort(self):
        if self.ws is not None:
            self.ws.transport.abort()

    def new_epoch(self, kind, base=None):
        self.epoch = Epoch(kind, base)
        self.epochs.append(self.epoch)
        self.pos = self.hb = base or 0
        return self.epoch

    def add_point(self, lsn):
        w = self.state.get("writers")
        self.points.append((lsn, w.changes if w else 0))

    async def run(self):
        backoff = 0.05
        while not self.state["stop"] and self.fatal is None:
            try:
                ws = await websockets.connect(self.url, subprotocols=["pgsync.v1"],
                                              max_size=None, ping_interval=None,
                                              open_timeout=5, close_timeout=1)
            except Exception:       # refused, reset, timeout, handshake: the server restarts
                await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self.ws = ws
            try:
                await self.session(ws)
            finally:
                self.ws = None
                ws.transport.abort()
                try:
                    await asyncio.wait_for(ws.wait_closed(), 2)
                except Exception:
                    pass
            if not self.state["stop"]:
                await asyncio.sleep(self.rng.uniform(0, 0.3))

    # -- where the next connection starts ------------------------------------

    def rewind_point(self, max_back):
        """A resume point far back: up to max_back changes back (so that the
        live fan-out, counting from 0 after the restart, reaches the length
        of the replay before the next restart), or the oldest."""
        now = self.points[-1][1]
        r = self.rng.random()
        back = (self.rng.uniform(300, 3000) if r < 0.5 else
                self.rng.uniform(3000, max(4000, max_back)) if r < 0.85 else 1e12)
        i = bisect.bisect_right([p[1] for p in self.points], now - back)
        return self.points[max(i - 1, 0)][0]

    def plan(self):
        """(mode, resume_lsn or None, snapshot?) of the next connection."""
        h = self.state.get("handover")
        role = "resume"
        if h and h["gen"] > self.handover_seen:
            self.handover_seen = h["gen"]
            role = h["roles"].get(self.num, "resume")
        # a hand-over connection (or the reload after it) is not dropped on purpose
        self.hold = role != "resume" or (self.need is not None and self.hold)
        self.slow = 0
        if self.need == "snapshot" or (role == "snapshot" and self.sub.spec.get("snapshot")):
            self.need = None
            self.positioned = False
            self.new_epoch("snapshot")
            self.counts["snapshots"] += 1
            return "snapshot", None, True
        if self.need == "oldest":
            self.need = None
            self.new_epoch("oldest", self.oldest)
            return "oldest", self.oldest, False
        if role == "slow" and h["oldest"] and h["oldest"] < self.pos:
            self.slow = 20000               # messages read slowly
            self.counts["rewinds"] += 1
            self.new_epoch("slow", h["oldest"])
            return "slow, from the oldest", h["oldest"], False
        if role == "mirror" and h["mirror"] is not None:
            self.counts["rewinds"] += 1
            self.new_epoch("mirror", h["mirror"])
            return "mirror", h["mirror"], False
        if role == "rewind" and self.points:
            p = self.rewind_point(h["max_back"])
            self.counts["rewinds"] += 1
            self.new_epoch("rewind", p)
            return "rewind", p, False
        if role == "jump" and h["jump"] > self.pos:
            self.counts["jumps"] += 1
            self.new_epoch("jump", h["jump"])
            return "jump", h["jump"], False
        if self.opts.self_test and self.num == 1:
            if self.late_from is not None:
                p, self.late_from = self.late_from, None
                self.inject["late"] = p
                return "late (self-test)", p, False
            if "early" not in self.inject and len(self.epoch.applied) >= 2 and self.counts["drops"] >= 2:
                p = self.epoch.applied[-2][0]
                self.inject["early"] = self.epoch.applied[-1][0]
                return "early (self-test)", p, False
        if self.hb > self.pos and self.rng.random() < self.opts.hb_resume:
            self.counts["hb_resumes"] += 1
            return "heartbeat", self.hb, False
        return "resume", self.pos, False

    def plan_drop(self):
        """Drop this connection after a random number of messages: at that
        message ("any"), inside a transaction ("mid"), between two
        ("between"), all by an abort, or with a close handshake ("close")."""
        # (self-test: the late connection is not dropped; cut inside its first
        # transaction, it would leave the resume point before the skipped one,
        # and the next resume would heal the injected gap)
        late = self.opts.self_test and self.conns and self.conns[-1].mode.startswith("late")
        if self.state["resume"] and self.counts["drops"] < self.opts.drops and not self.hold and not late:
            self.drop_in = self.rng.randint(1, 2 * self.state["drop_every"])
            self.drop_mode = self.rng.choice(["mid", "mid", "between", "any", "close"])
            if self.opts.self_test and self.num == 1 and "late" not in self.inject and "early" in self.inject:
                self.drop_mode = "mid"
        else:
            self.drop_in = None

    # -- one connection -----------------------------------------------------

    async def session(self, ws):
        mode, resume, snapshot = self.plan()
        if self.conns and mode != "snapshot":
            self.counts["resumes"] += 1
        conn = Conn(len(self.conns) + 1, mode, resume, self.epoch)
        self.conns.append(conn)
        self.epoch.conns.append(conn)
        s = Session(self, ws, conn)
        try:
            await ws.send(json.dumps(self.sub.request("m", resume, snapshot)))
            self.plan_drop()
            await s.loop()
        except websockets.ConnectionClosed:
            if self.state["stop"]:
                conn.end = "stopped"
            else:
                self.counts["lost"] += 1
                if conn.end == "?":
                    conn.end = "closed by the server%s" % (" in transaction %s" % lsn_str(s.pending.lsn)
                                                           if s.pending else "")
        except asyncio.TimeoutError:
            conn.end = "ended %.1fs after unsubscribing the first subscription" % s.linger
        if not self.positioned:
            self.need = "snapshot"      # no resume point yet: a new snapshot


class Session:
    """The receive loop of one connection."""

    def __init__(self, client, ws, conn):
        self.c = client
        self.ws = ws
        self.conn = conn
        self.pending = None
        self.multi = bool(client.aux)
        self.subs = {"m": client.sub}           # request id -> subscription
        self.state = {"m": "pending"}           # pending, active, leaving, gone
        self.server_id = {}                     # request id -> the server's subscription id
        self.unsub_in = None
        self.unsub_oks = 0                      # unsubscribes answered
        self.linger = 0
        self.deadline = None
        self.snap_cols = None
        self.snap_rows = 0

    def open_txn(self):
        """Is a transaction open (B without C)?  One cut by an unsubscribe
        answered after its B may be left without its C."""
        p = self.pending
        return p is not None and p.unsub_oks == self.unsub_oks

    def main_live(self):
        return self.state["m"] in ("pending", "active")

    async def recv(self):
        if self.deadline is None:
            return await self.ws.recv()
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(self.ws.recv(), max(0.0, self.deadline - loop.time()))

    async def loop(self):
        c = self.c
        while True:
            s = await self.recv()
            if c.slow > 0:
                c.slow -= 1
                await asyncio.sleep(0.002)
            if c.counts["stalls"] < c.opts.stalls and not c.hold:
                # stop reading for a while: the queue (pgsync.client_queue_bytes)
                # fills, the client lags and is caught up from the change log
                if c.stall_in is None:
                    c.stall_in = c.rng.randint(1, 2 * c.state["drop_every"])
                c.stall_in -= 1
                if c.stall_in <= 0:
                    c.stall_in = None
                    c.counts["stalls"] += 1
                    await asyncio.sleep(c.rng.uniform(0.3, 1.5))
            # (self-test: the early connection first applies the duplicate)
            early = c.opts.self_test and self.conn.mode.startswith("early") and self.conn.txns == 0
            if c.drop_in is not None and not early:
                c.drop_in -= 1
                if c.drop_in <= 0 and {"mid": self.pending is not None,
                                       "between": self.pending is None}.get(c.drop_mode, True):
                    self.dropped()
                    if c.drop_mode == "close":
                        await self.ws.close()
                    return
            if self.unsub_in is not None:
                self.unsub_in -= 1
                if self.unsub_in <= 0:
                    await self.unsubscribe()
            if s[0] == "{":
                if await self.control(json.loads(s), s) == "end":
                    return
            else:
                self.stream(s)

    def dropped(self):
        c = self.c
        c.counts["drops"] += 1
        c.drop_in = None
        p = self.pending
        if p is not None:
            c.counts["mid_txn_drops"] += 1
            # resume from the cut transaction itself: it is skipped (unless it
            # is the one the early resume sends again, applied once already:
            # skipping it would cancel the injected duplicate; seed 413116046)
            if c.opts.self_test and c.num == 1 and "early" in c.inject and "late" not in c.inject \
                    and not p.void and c.positioned and p.lsn != c.inject["early"]:
                c.late_from = p.lsn
        self.conn.end = "dropped by the client%s" % (" in transaction %s" % lsn_str(p.lsn) if p else "")

    async def unsubscribe(self):
        """Unsubscribe the first subscription (once it applied something
        on this connection, and not in the final catch-up) or another one."""
        c = self.c
        self.unsub_in = None
        w = c.state.get("writers")
        main_ok = self.state["m"] == "active" and self.conn.txns > 0 and not (w and w.done())
        aux = [k for k, v in self.state.items() if v == "active" and k != "m"]
        if main_ok and c.rng.random() < 0.3:
            k = "m"
        elif aux:
            k = c.rng.choice(aux)
        else:                           # not yet: the oks may come after a long replay
            self.unsub_in = c.rng.randint(1, 400)
            return
        self.state[k] = "leaving"
        c.counts["unsubscribes"] += 1
        if k == "m":
            if self.pending is not None:
                self.pending.void = True
            loop = asyncio.get_running_loop()
            self.linger = self.c.rng.uniform(0.3, 1.0)
            self.deadline = loop.time() + self.linger
        await self.ws.send(json.dumps({"type": "unsubscribe", "id": "u" + k, "subscription": self.server_id[k]}))

    async def control(self, m, s):
        c, conn = self.c, self.conn
        t = m.get("type")
        rid = m.get("id")
        if t == "heartbeat":
            c.counts["heartbeats"] += 1
            if self.state["m"] == "pending" and not self.server_id:
                return None     # about the connection before its subscription: nothing due
            return self.heartbeat(lsn_int(m["lsn"]))
        if t == "ok":
            if rid in self.subs:
                self.state[rid] = "active"
                self.server_id[rid] = m.get("subscription")
                if rid == "m":
                    c.subscribed.set()
                    if self.multi:
                        await self.subscribe_aux()
            elif isinstance(rid, str) and rid.startswith("u") and rid[1:] in self.state:
                self.state[rid[1:]] = "gone"
                self.unsub_oks += 1
            return None
        if t == "snapshot_begin":
            rel = m["relation"]
            sn = rel["snapshot"]
            conn.epoch.snap = {"xmin": int(sn["xmin"]), "xmax": int(sn["xmax"]),
                               "xip_set": set(int(x) for x in sn["xip"]), "lsn": sn.get("lsn")}
            self.snap_cols = rel["columns"]
            return None
        if t == "snapshot_end":
            if m.get("rows") != self.snap_rows:
                c.violation("snapshot", "conn#%d: snapshot_end says %s rows, %d received"
                            % (conn.num, m.get("rows"), self.snap_rows))
            return None
        if t == "error":
            return self.error(m, s)
        return None

    async def subscribe_aux(self):
        for i, a in enumerate(self.c.aux):
            if self.c.rng.random() < 0.75:
                k = "a%d" % i
                self.subs[k] = a
                self.state[k] = "pending"
                await self.ws.send(json.dumps(a.request(k)))
        self.unsub_in = self.c.rng.randint(1, 400)

    def heartbeat(self, h):
        c, conn = self.c, self.conn
        if self.open_txn():
            c.violation("protocol", "conn#%d: heartbeat %s inside transaction %s"
                        % (conn.num, lsn_str(h), lsn_str(self.pending.lsn)))
        self.pending = None
        if h < conn.top:
            c.violation("positions", "conn#%d (%s from %s): heartbeat %s below position %s already given"
                        % (conn.num, conn.mode, lsn_str(conn.resume or 0), lsn_str(h), lsn_str(conn.top)))
        conn.top = max(conn.top, h)
        conn.given = max(conn.given, h)
        h_state = c.state.get("handover")
        if h_state and h_state["gen"] > c.handover_seen:
            conn.end = "ended for hand-over %d" % h_state["gen"]
            return "end"
        if self.state["m"] != "active":
            return None
        if conn.hb is None or h > conn.hb:
            conn.hb, conn.hb_at = h, conn.last or conn.resume or 0
        if not c.positioned:                # the join heartbeat: first resume point
            c.positioned = True
            c.pos = h
        if self.pending is None:
            c.hb = max(c.hb, h)
            c.add_point(h)
        if c.handover_done < c.handover_seen:
            c.handover_done = c.handover_seen
        return None

    def error(self, m, s):
        c, conn = self.c, self.conn
        code = m.get("code")
        rid = m.get("id")
        if "resume_lsn" in m:               # closes the connection: a position given
            r = lsn_int(m["resume_lsn"])
            if r < conn.given and not (r == 0 and conn.resume is None and not c.positioned):
                c.violation("positions", "conn#%d (%s from %s): error %s carries resume_lsn %s below position"
                            " %s already given" % (conn.num, conn.mode, lsn_str(conn.resume or 0), code,
                                                  m["resume_lsn"], lsn_str(conn.given)))
        conn.end = "error %s" % code
        if code == "slow_consumer":
            c.counts["slow"] += 1
        elif code == "resume_too_old":
            c.counts["too_old"] += 1
            if c.opts.self_test and conn.mode.endswith("(self-test)"):
                # retention took its position: nothing was injected, again later
                c.inject.pop(conn.mode.split()[0], None)
            if c.sub.spec.get("snapshot"):
                c.need = "snapshot"
            elif rid == "m":
                c.need, c.oldest = "oldest", lsn_int(m["oldest_lsn"])
            return "end"
        elif code == "internal_error" and rid == "m":
            c.counts["retries"] += 1        # the change log is not open yet: retry
            return "end"
        elif code == "snapshot_failed":
            c.counts["snapshot_failed"] += 1
            c.need = "snapshot"
            return "end"
        elif rid in self.subs:
            if rid == "m":
                c.fatal = "subscribe refused: %s" % s
            else:
                c.violation("protocol", "conn#%d: subscribe %s refused: %s" % (conn.num, rid, s))
            return "end"
        elif code != "shutting_down":
            c.violation("protocol", "conn#%d: error %s" % (conn.num, s))
        return None

    def stream(self, s):
        c, conn = self.c, self.conn
        k = s[2]
        if k == "B":
            if self.open_txn():
                c.violation("protocol", "conn#%d: B %s inside transaction %s"
                            % (conn.num, s, lsn_str(self.pending.lsn)))
            self.pending = Pending(lsn_int(json.loads(s)[2]), not self.main_live(), self.unsub_oks)
        elif k == "R":
            conn.rels.add(json.loads(s))
        elif k == "C":
            self.commit(s)
        elif k == "S":
            m = json.loads(s)
            self.snap_rows += 1
            if self.snap_cols is None or len(m[2]) != len(self.snap_cols):
                c.violation("columns", "conn#%d: snapshot row %s: %d values for columns %s"
                            % (conn.num, s[:120], len(m[2]), self.snap_cols))
            elif not c.sub.row_passes(self.snap_cols, m[2]):
                c.violation("snapshot", "conn#%d: snapshot row does not pass the filter: %s" % (conn.num, s[:200]))
        elif k in OP_NAMES:
            self.change(s)

    def change(self, s):
        c, conn = self.c, self.conn
        p = self.pending
        if p is None:
            c.violation("protocol", "conn#%d: change outside a transaction: %s" % (conn.num, s[:200]))
            return
        m = json.loads(s)
        known = m[0] == "T" or m[1] in conn.rels.rels
        if not known:
            c.violation("protocol", "conn#%d: change of relation %d before its R (txn %s)"
                        % (conn.num, m[1], lsn_str(p.lsn)))
        else:
            bad = value_count_problem(conn.rels, m)
            if bad:
                c.violation("columns", "conn#%d: txn %s: %s: %s" % (conn.num, lsn_str(p.lsn), s[:160], bad))
        if ROLLBACK_MARK in s:
            c.violation("protocol", "conn#%d: rolled-back change delivered: %s" % (conn.num, s[:200]))
        if self.multi and known:
            allowed = [k for k, v in self.state.items() if v != "gone" and self.subs[k].wants(conn.rels, m)]
            if not allowed:
                gone = [k for k, v in self.state.items() if v == "gone" and self.subs[k].wants(conn.rels, m)]
                c.violation("unsubscribe", "conn#%d: txn %s: %s wanted by %s" % (
                    conn.num, lsn_str(p.lsn), s[:160],
                    "no subscription of the connection" if not gone else
                    "only subscriptions %s, after the ok of their unsubscribe" % gone))
            if "m" not in allowed:
                return          # not part of the first subscription's stream
        if p.void:
            return
        p.n += 1
        p.digest.update(s.encode())
        p.digest.update(b"\n")

    def commit(self, s):
        c, conn = self.c, self.conn
        m = json.loads(s)
        lsn = lsn_int(m[2])
        p = self.pending
        self.pending = None
        if p is None or p.lsn != lsn:
            c.violation("protocol", "conn#%d: C %s without its B" % (conn.num, s))
            return
        if lsn <= conn.top:
            c.violation("positions", "conn#%d (%s from %s): C %s not above position %s already given"
                        % (conn.num, conn.mode, lsn_str(conn.resume or 0), m[2], lsn_str(conn.top)))
        conn.top = max(conn.top, lsn)
        if p.void or (self.multi and p.n == 0):
            return
        conn.epoch.applied.append((lsn, p.n, p.digest.hexdigest()))
        c.changes += p.n
        conn.txns += 1
        conn.last = lsn
        if conn.first is None:
            conn.first = lsn
        if c.positioned:
            conn.given = max(conn.given, lsn)
            c.pos = lsn
            c.hb = max(c.hb, lsn)
            c.add_point(lsn)
