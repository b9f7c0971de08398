#!/usr/bin/python3
"""Integration test: gapless delivery, the durable log's acceptance test.

Concurrent writers (small and large transactions, rollbacks, rolled-back
savepoints, savepoint storms that spill, prepared transactions committed
or rolled back, truncates; large transactions streamed to the worker while
in progress, with savepoints rolled back after their rows were streamed,
nested and released savepoints, committed or rolled back) while WebSocket clients with different
subscriptions (tables, ops, row filters, a snapshot, several
subscriptions on one connection with unsubscribes) drop their connections
at random points, mid-transaction too, and resume from their last
complete transaction; the worker is SIGKILLed (crash restart) and the
cluster restarted (-m immediate, -m fast), most of these in the middle of
a streamed transaction; the worker alone SIGTERMed in the middle of a
streamed transaction that then goes on and ends; tables are ALTERed meanwhile
(also racing the kills); the change log is trimmed by retention (clients
told resume_too_old reload); right after some restarts, with the writers
paused, clients resume from far back in the log, from beyond its end, or
reload through a snapshot.  At the end each client's applied transactions
must equal, exactly, the transactions of a reference slot filtered by its
subscription, per epoch; positions must be monotone, values must match
their R.  How: test/lib/gapless.py.

    test/t/gapless.py [--changes N] [--kills N] [--restarts N] [--terms N]
                      [--clients N] [--writers N] [--drops N] [--seed N]
                      [--network-workers N] [--self-test]

Streaming is proved, not hoped for: the reference slot is peeked again
streaming at the worker's pgsync.decoding_work_mem, which counts the
streamed transactions and how they ended, and the worker slot's
pg_stat_replication_slots counters are summed over the run; a run in which
nothing was streamed, or no streamed transaction was rolled back, fails.

--self-test: a small run in which client 1 resumes once one transaction
early and once one transaction late: passes iff the checker reports
exactly that duplicate and that gap (test/t/gapless_selftest.py).
bench/gapless runs the same at scale.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks  # noqa: E402
import gapless  # noqa: E402

SELF_TEST = dict(changes=30000, clients=2, kills=0, restarts=0, terms=0, drops=6, quiet=0, alter_every=0)


def parse_args(argv=None, **defaults):
    o = gapless.Options(**defaults)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for k in ("changes", "kills", "restarts", "terms", "clients", "writers", "drops", "stalls", "seed", "catchup_timeout"):
        p.add_argument("--" + k.replace("_", "-"), type=int, default=getattr(o, k))
    p.add_argument("--hb-resume", type=float, default=o.hb_resume,
                   help="probability that a reconnect resumes from a heartbeat LSN (default %(default)s)")
    p.add_argument("--lax-heartbeats", dest="strict_heartbeats", action="store_false",
                   help="heartbeats ahead of the delivered stream are notes, not failures")
    p.add_argument("--quiet", type=float, default=o.quiet,
                   help="share of kills/restarts run as hand-over events (default %(default)s)")
    p.add_argument("--alter-every", type=float, default=o.alter_every,
                   help="seconds between ALTER TABLEs, 0 for none (default %(default)s)")
    p.add_argument("--network-workers", type=int, default=0,
                   help="pgsync.network_workers: clients are served by N network workers (default %(default)s)")
    p.add_argument("--self-test", action="store_true",
                   help="inject one early and one late resume; pass iff exactly both are flagged")
    p.add_argument("--verbose", "-v", action="store_true", help="print every connection of every client")
    a = p.parse_args(argv)
    if a.self_test:
        for k, v in SELF_TEST.items():
            if getattr(a, k) == getattr(o, k):
                setattr(a, k, v)
    nw = a.network_workers
    del a.network_workers
    for k, v in vars(a).items():
        setattr(o, k, v)
    if nw > 0:
        o.extra_conf = o.extra_conf + ["pgsync.network_workers = %d" % nw]
    return o


COUNTS = [("drops", "drops"), ("stall", "stalls"), ("mid", "mid_txn_drops"), ("lost", "lost"), ("res", "resumes"),
          ("hb", "hb_resumes"), ("rew", "rewinds"), ("jump", "jumps"), ("snap", "snapshots"),
          ("old", "too_old"), ("unsub", "unsubscribes"), ("slow", "slow")]


def report(res, T):
    """Print the per-client table and record the checks."""
    ref, o = res.ref, res.opts
    T.check("reference: %d transactions, %d changes after the start point" % (ref.txns, ref.changes),
            ref.txns > 0)
    T.check("writers ran without harness errors", res.writers.fatal is None, res.writers.fatal)
    T.check("chaos ran without harness errors", res.chaos_error is None, res.chaos_error)
    T.check("reference holds no rolled-back change", ref.rollback_marks == 0, ref.rollback_marks)
    T.check("reference: every change has as many values as its R lists columns",
            not ref.value_count_problems, "; ".join(ref.value_count_problems[:3]))
    if res.resume_supported:
        T.check("worker SIGKILLed %d times" % res.chaos.kills, res.chaos.kills == o.kills)
        T.check("cluster restarted %d times (%d -m fast)" % (res.chaos.restarts, res.chaos.fast_restarts),
                res.chaos.restarts == o.restarts)
    T.check("server log: no crash but the %d kills" % res.chaos.kills, not res.crash_problems,
            "; ".join(res.crash_problems[:5]))
    report_streaming(res, T)
    # (not in the self-test: its short run proves the checker can fail, and
    # whether a stall there outlasts a queue is chance)
    if res.resume_supported and o.stalls > 0 and not o.self_test:
        T.check("lagging clients were caught up from the log without a disconnect (%d connections seen)"
                % res.lagging_caught_up, res.lagging_caught_up > 0)
    print("# %d hand-over events (%d timed out), %d ALTERs racing kills/restarts"
          % (res.chaos.handovers, res.chaos.handover_timeouts, res.chaos.raced_alters))
    print("%-3s %-64s %7s %8s " % ("#", "subscription", "txns", "changes") +
          " ".join("%5s" % h for h, _ in COUNTS))
    for c in res.clients:
        print("%-3d %-64s %7d %8d " % (c.num, c.name()[len("client %d " % c.num):][:64],
                                        sum(len(e.applied) for e in c.epochs), c.changes) +
              " ".join("%5d" % c.counts[k] for _, k in COUNTS))
    if o.self_test:
        return self_test_report(res, T)
    for c in res.clients:
        T.check("%s: applied exactly the %d expected transactions (%d changes) in order, in %d epochs"
                % (c.name(), c.expected_txns, c.expected_changes, len(c.epochs)), not c.problems)
        print_problems(c, o)
    sys.stdout.flush()


def report_streaming(res, T):
    """Was the new path exercised?  A run that streamed nothing, or rolled
    back nothing it streamed, proves nothing about it: a harness error."""
    st, w, ch, o = res.streamed, res.writers, res.chaos, res.opts
    print("# load: %d streamed scripts committed, %d rolled back; %d large transactions rolled back in all"
          % (w.streamed, w.streamed_rollbacks, w.big_rollbacks))
    T.check("reference at decoding_work_mem %s: %s" % (o.setting("pgsync.decoding_work_mem"), st.line()),
            st.committed > 0 and st.rolled_back > 0 and (st.with_subxact_aborts > 0 or o.streamed == 0),
            "the load did not exercise streaming (committed, rolled back, savepoints rolled back after a chunk)")
    T.check("worker slot streamed (pg_stat_replication_slots, a lower bound): %s"
            % ", ".join("%s %d" % kv for kv in res.slot_stats.items()), res.slot_stats["stream_txns"] > 0)
    if o.alter_every > 0:
        T.check("%d ALTERs between rows of a transaction large enough to be streamed" % res.alterer.streamed,
                res.alterer.streamed > 0)
    if res.resume_supported and o.held > 0 and o.kills + o.restarts > 0:
        T.check("%d of %d kills/restarts landed while the worker spooled a streamed transaction"
                % (ch.held, ch.kills + ch.restarts), ch.held > 0)
    if res.resume_supported and o.terms > 0:
        T.check("worker SIGTERMed %d times in a streamed transaction, spooled before and after (%d of them); "
                "%d committed" % (ch.terms, ch.term_spooled, ch.term_commits),
                ch.terms == o.terms and ch.term_spooled == ch.terms)


def print_problems(c, o):
    for kind, p in c.problems[:15]:
        print("    [%s] %s" % (kind, p))
    if not o.strict_heartbeats:
        for _, p in c.hb_problems[:5]:
            print("# note (heartbeat): " + p)
    if o.verbose or c.problems:
        for i, e in enumerate(c.epochs):
            print("    epoch %d %r: %d transactions applied" % (i + 1, e, len(e.applied)))
            for conn in e.conns[-12:] if not o.verbose else e.conns:
                print("      %r" % conn)


def self_test_report(res, T):
    """The checker must flag exactly the injected duplicate and gap."""
    inj = {}
    for c in res.clients:
        inj.update(c.inject)
    found = [(c, kind, p) for c in res.clients for kind, p in c.problems]
    dup = [f for f in found if f[1] == "duplicate"]
    gap = [f for f in found if f[1] == "gap"]
    other = [f for f in found if f[1] not in ("duplicate", "gap")]
    name = {k: gapless.lsn_str(v) for k, v in inj.items()}
    T.check("self-test: client 1 resumed one transaction early (%s applied again)" % name.get("early"),
            "early" in inj)
    T.check("self-test: client 1 resumed one transaction late (%s skipped)" % name.get("late"),
            "late" in inj)
    T.check("self-test: the checker reports exactly one duplicate, of that transaction",
            len(dup) == 1 and "early" in inj and name["early"] + " " in dup[0][2],
            [d[2] for d in dup])
    T.check("self-test: the checker reports exactly one gap, of that transaction",
            len(gap) == 1 and "late" in inj and name["late"] + " " in gap[0][2],
            [g[2] for g in gap])
    T.check("self-test: nothing else reported", not other, [o[2] for o in other[:5]])
    for c in res.clients:
        print_problems(c, res.opts)
    sys.stdout.flush()


def main():
    opts = parse_args()
    T = Checks()
    try:
        res = gapless.run(opts)
    except Exception as e:
        import traceback
        traceback.print_exc()
        T.check("no exception", False, repr(e))
        return T.finish()
    report(res, T)
    print("# seed %d; elapsed %.1fs (writers %.1fs, catch-up %.1fs); %d crash restarts in the server log"
          % (res.opts.seed, res.elapsed, res.write_time, res.catchup_time, res.crashes))
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
