"""test/lib/gapless_check.py: the verdicts of the gapless checker.

Owns the comparison of what each client applied with the reference:
per epoch (a run of connections continuing one another, see
test/lib/gapless_client.py), the expected stream is the reference
filtered by the client's first subscription, after the epoch's base or,
for a snapshot epoch, the transactions the snapshot did not see; every
epoch must have applied exactly the expected transactions up to where it
ended, the last one all of them.  Problems are (kind, text): gap,
duplicate, order, differs, unexpected, heartbeat, and the kinds the
client records as messages arrive.  Also: crashes in the server log other
than the deliberate kills.  See test/lib/gapless.py.
"""
import bisect
import re

from gapless_model import lsn_str, snapshot_sees


def compare(expected, got, conns, label=""):
    """Problems between the expected and applied streams of an epoch."""
    if expected == got:
        return []
    problems = []
    exp = {e[0]: e for e in expected}
    seen = {}
    top = 0
    for i, g in enumerate(got):
        if g[0] in seen:
            problems.append(("duplicate", "%sduplicate: transaction %s applied twice (positions %d and %d)"
                             % (label, lsn_str(g[0]), seen[g[0]], i)))
            continue
        seen[g[0]] = i
        if g[0] < top:
            problems.append(("order", "%sout of order: %s applied after %s" % (label, lsn_str(g[0]), lsn_str(top))))
        top = max(top, g[0])
        e = exp.get(g[0])
        if e is None:
            problems.append(("unexpected", "%sunexpected transaction %s (%d changes): not in the reference for"
                             " this subscription" % (label, lsn_str(g[0]), g[1])))
        elif e != g:
            problems.append(("differs", "%stransaction %s differs: expected %d changes (digest %s), got %d"
                             " (digest %s)" % (label, lsn_str(g[0]), e[1], e[2][:8], g[1], g[2][:8])))
    got_lsns = sorted(seen)
    missing = [e for e in expected if e[0] not in seen]
    for e in missing[:10]:
        j = bisect.bisect_left(got_lsns, e[0])
        before = lsn_str(got_lsns[j - 1]) if j else "-"
        after = lsn_str(got_lsns[j]) if j < len(got_lsns) else "-"
        # the connections that were positioned before it and went past it (or ended)
        near = [c for c in conns if (c.resume or 0) < e[0] and (c.last is None or c.last >= e[0])]
        problems.append(("gap", "%sgap: transaction %s (%d changes) never applied; applied before it: %s,"
                         " after it: %s; connections around it: %s"
                         % (label, lsn_str(e[0]), e[1], before, after, "; ".join(map(repr, near[-3:])) or "-")))
    if len(missing) > 10:
        problems.append(("gap", "%s... %d transactions missing in all" % (label, len(missing))))
    if not problems:
        problems.append(("streams", "%sstreams differ (expected %d transactions, got %d)"
                         % (label, len(expected), len(got))))
    return problems


def heartbeat_problems(expected, conns, label=""):
    """A heartbeat H promises every transaction up to H was delivered: on
    each connection, no expected transaction may lie between the last one
    applied before the highest heartbeat and that heartbeat."""
    lsns = [e[0] for e in expected]
    out = []
    for c in conns:
        if c.hb is None or c.hb <= c.hb_at:
            continue
        lo = bisect.bisect_right(lsns, c.hb_at)
        hi = bisect.bisect_right(lsns, c.hb)
        if hi > lo:
            out.append(("heartbeat", "%sheartbeat %s on conn#%d (%s from %s) came when the last applied"
                        " transaction was %s: %d expected transactions in between (%s .. %s) were not"
                        " delivered before it" % (label, lsn_str(c.hb), c.num, c.mode, lsn_str(c.resume or 0),
                                                  lsn_str(c.hb_at), hi - lo, lsn_str(lsns[lo]),
                                                  lsn_str(lsns[hi - 1]))))
    return out


def epoch_expected(expected, ref, ep):
    out = expected
    if ep.base is not None:
        out = [e for e in out if e[0] > ep.base]
    if ep.snap is not None:
        out = [e for e in out if not snapshot_sees(ep.snap, ref.xid[e[0]])]
    return out


def check_client(c, expected, ref):
    """(problems, heartbeat problems) of client c against its expected stream."""
    problems, hb = [], []
    for i, ep in enumerate(c.epochs):
        final = i == len(c.epochs) - 1
        label = "epoch %d (%r): " % (i + 1, ep) if len(c.epochs) > 1 else ""
        if ep.kind == "snapshot" and ep.snap is None:
            if ep.applied:
                problems.append(("protocol", "%stransactions applied before any snapshot_begin" % label))
            continue
        exp = epoch_expected(expected, ref, ep)
        hb += heartbeat_problems(exp, ep.conns, label)
        if not final:
            if not ep.applied:
                continue
            top = max(g[0] for g in ep.applied)
            exp = [e for e in exp if e[0] <= top]
        problems += compare(exp, ep.applied, ep.conns, label)
    return problems, hb


def caught_up(c, expected):
    """Has client c received everything it is due (or given up)?"""
    return c.fatal or not expected or max(c.pos, c.hb) >= expected[-1][0]


def crash_problems(log, kills):
    """Crashes in the server log that are not the deliberate SIGKILLs."""
    out = []
    sigs = re.findall(r"terminated by signal (\d+)", log)
    if sigs.count("9") != kills:
        out.append("%d processes terminated by signal 9 in the server log, %d kills" % (sigs.count("9"), kills))
    for line in log.splitlines():
        if (re.search(r"terminated by (signal (?!9\b)\d+|exception)|PANIC:|TRAP:", line)
                and len(out) < 10):
            out.append(line.strip()[:300])
    return out
