#!/usr/bin/python3
"""Integration test: gapless delivery, the durable log's acceptance test.

Concurrent writers (small and large transactions, rollbacks, rolled-back
savepoints, truncates) while WebSocket clients with different
subscriptions (tables, ops, row filters) drop their connections at random
points, mid-transaction too, and resume from their last complete
transaction; the worker is SIGKILLed (crash restart of the cluster) and
the cluster restarted with `pg_ctl restart -m immediate`.  At the end each
client's applied transactions must equal, exactly, the transactions of a
reference slot filtered by its subscription.  How: test/lib/gapless.py.

    test/t/gapless.py [--changes N] [--kills N] [--restarts N] [--clients N]
                      [--writers N] [--drops N] [--seed N]

bench/gapless runs the same at scale.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Checks  # noqa: E402
import gapless  # noqa: E402


def parse_args(argv=None, **defaults):
    o = gapless.Options(**defaults)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for k in ("changes", "kills", "restarts", "clients", "writers", "drops", "seed", "catchup_timeout"):
        p.add_argument("--" + k.replace("_", "-"), type=int, default=getattr(o, k))
    p.add_argument("--hb-resume", type=float, default=o.hb_resume,
                   help="probability that a reconnect resumes from a heartbeat LSN (default %(default)s)")
    p.add_argument("--lax-heartbeats", dest="strict_heartbeats", action="store_false",
                   help="heartbeats ahead of the delivered stream are notes, not failures")
    p.add_argument("--verbose", "-v", action="store_true", help="print every connection of every client")
    a = p.parse_args(argv)
    for k, v in vars(a).items():
        setattr(o, k, v)
    return o


def report(res, T):
    """Print the per-client table and record the checks; returns totals."""
    ref = res.ref
    T.check("reference: %d transactions, %d changes after the start point" % (ref.txns, ref.changes),
            ref.txns > 0)
    T.check("writers ran without harness errors", res.writers.fatal is None, res.writers.fatal)
    T.check("reference holds no rolled-back change", ref.rollback_marks == 0, ref.rollback_marks)
    if res.resume_supported:
        T.check("worker SIGKILLed %d times" % res.chaos.kills, res.chaos.kills == res.opts.kills)
        T.check("cluster restarted -m immediate %d times" % res.chaos.restarts,
                res.chaos.restarts == res.opts.restarts)
    print("%-3s %-78s %8s %9s %6s %5s %5s %7s %5s %4s" % (
        "#", "subscription", "txns", "changes", "drops", "mid", "lost", "resumes", "hb", "slow"))
    for c in res.clients:
        print("%-3d %-78s %8d %9d %6d %5d %5d %7d %5d %4d" % (
            c.num, c.name()[len("client %d " % c.num):][:78], len(c.applied), c.changes, c.drops,
            c.mid_txn_drops, c.lost, c.resumes, c.hb_resumes, c.slow))
    for c in res.clients:
        ok = not c.problems
        T.check("%s: applied exactly the %d expected transactions (%d changes) in order"
                % (c.name(), c.expected_txns, c.expected_changes), ok)
        for p in c.problems[:15]:
            print("    " + p)
        if not res.opts.strict_heartbeats:
            for p in c.hb_problems[:5]:
                print("# note (heartbeat): " + p)
        if res.opts.verbose or c.problems:
            for conn in c.conns:
                print("    %r" % conn)
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
    print("# elapsed %.1fs (writers %.1fs, catch-up %.1fs); %d crash restarts in the server log"
          % (res.elapsed, res.write_time, res.catchup_time, res.crashes))
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
