"""bench/e2e/report.py: the results table, the README block and the plot.

table(res) -> markdown; readme_block(res) -> the text between the e2e
markers of bench/README.md; write_svg(res, path): the latency
distributions (CDF of commit-to-client latency, log x axis), one panel
per latency configuration, one line per system, from the load client's
log-bucket histograms; the y axis stretches the tail (0.9, 0.99, 0.999,
0.9999 equally spaced).  The SVG is written by hand: no plotting library.
"""
import math
import re

COLORS = {"pgsync": "#1f77b4", "logical": "#d62728", "notify": "#2ca02c"}


def fmt_int(v):
    return "{:,.0f}".format(v) if v is not None else "-"


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.2f" % v if v < 10 else "%.0f" % v if v >= 100 else "%.1f" % v


def cell_latency(r):
    share = 100.0 * r["received"] / r["expected"] if r["expected"] else 0
    return "%s / %s / %s ms (commit p99 %s; %s/s; %.1f%%)" % (
        fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]), fmt_ms(r["p999_ms"]), fmt_ms(r["commit_p99_ms"]),
        fmt_int(r["rows_committed"] / r["secs"]), share)


def cell_fanout(r):
    out = "%s (%s)" % (fmt_int(r["msgs_per_s"]), fmt_int(r["rows_per_s"]))
    if r["ready"] < r["clients"]:
        out += "; %s of %s clients accepted" % (fmt_int(r["ready"]), fmt_int(r["clients"]))
    return out


def lat_key(clients, rate):
    return "%dx%d" % (clients, rate)


def table(res):
    systems = res["systems"]
    head = "| measure | " + " | ".join(res["labels"][s] for s in systems) + " |"
    lines = [head, "|---" * (len(systems) + 1) + "|"]

    def row(name, f):
        cells = []
        for s in systems:
            try:
                cells.append(f(res["results"][s]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        lines.append("| %s | %s |" % (name, " | ".join(cells)))

    for clients, rate in res["latency_configs"]:
        k = lat_key(clients, rate)
        row("latency p50 / p99 / p99.9, %s clients × %s commits/s (the commit's own p99; commits/s reached; rows received)" % (fmt_int(clients), fmt_int(rate)),
            lambda r, k=k: cell_latency(r["latency"][k]))
    k0 = lat_key(*res["latency_configs"][0])
    row("the commit itself (pgbench, same run %s) p50 / p99" % k0.replace("x", "×"),
        lambda r: "%s / %s ms" % (fmt_ms(r["latency"][k0]["commit_p50_ms"]), fmt_ms(r["latency"][k0]["commit_p99_ms"])))
    row("rows/s to one client, live: received (writers' rate; kept up?)",
        lambda r: "%s (%s; %s)" % (fmt_int(r["throughput"]["live"]["recv_rows_per_s"]),
                                   fmt_int(r["throughput"]["live"]["commit_rows_per_s"]),
                                   "yes" if r["throughput"]["live"]["kept_up"] else
                                   "no, %.1f s behind" % (r["throughput"]["live"]["behind_at_end_s"] or 0)))
    row("max sustained rows/s to one client (backlog drained after SIGCONT)",
        lambda r: fmt_int(r["throughput"]["backlog"]["recv_rows_per_s"]))
    for n in res["fanout_clients"]:
        row("fan-out to %s clients: messages/s (rows/s)" % fmt_int(n),
            lambda r, n=n: cell_fanout(r["fanout"][str(n)]))
    n1 = res["fanout_clients"][0]
    row("server CPU s per million rows delivered: fan-out %s clients" % fmt_int(n1),
        lambda r: "%.2f" % r["fanout"][str(n1)]["cpu_s_per_M"])
    row("server CPU s per million rows delivered: latency %s" % k0.replace("x", "×"),
        lambda r: "%.2f" % r["latency"][k0]["cpu_s_per_M"])
    nm = res["fanout_clients"][-1]
    row("memory per idle client (%s clients): private (RssAnon) / RSS" % fmt_int(nm),
        lambda r: "%.1f / %.1f kB" % (r["fanout"][str(nm)]["idle_anon_kb_per_client"],
                                      r["fanout"][str(nm)]["idle_rss_kb_per_client"]))
    for sc, label in (("server", "server side restarts"), ("client", "client reconnects after 1 s")):
        row("rows lost when the %s (of committed; duplicates)" % label,
            lambda r, sc=sc: "%d of %d (%d)" % (r["loss"][sc]["lost"], r["loss"][sc]["committed"],
                                                r["loss"][sc]["duplicates"]))
    row("writer CPU per insert, with / without the trigger",
        lambda r: "%.0f / %.0f µs" % (r["trigger"]["with_trigger_us"], r["trigger"]["without_us"]))
    return "\n".join(lines)


def targets(res):
    """The issue's three targets, judged on this run."""
    R = res["results"]
    bridges = [s for s in res["systems"] if s != "pgsync"]
    out = []
    if "pgsync" not in R or not bridges:
        return out
    k0 = lat_key(*res["latency_configs"][0])
    try:
        p = R["pgsync"]["latency"][k0]["p99_ms"]
        best = min(R[b]["latency"][k0]["p99_ms"] for b in bridges)
        out.append(("pgsync p99 at most 1/10 of the best bridge's (%s)" % k0.replace("x", "×"),
                    "%.2f ms vs %.2f ms (%.2fx)" % (p, best, p / best), p <= best / 10))
    except KeyError:
        pass
    try:
        t = R["pgsync"]["throughput"]["backlog"]["recv_rows_per_s"]
        best = max(R[b]["throughput"]["backlog"]["recv_rows_per_s"] for b in bridges)
        out.append(("throughput to one client at least 5x the best bridge's",
                    "%s vs %s rows/s (%.1fx)" % (fmt_int(t), fmt_int(best), t / best), t >= 5 * best))
    except (KeyError, ZeroDivisionError):
        pass
    try:
        L = R["pgsync"]["latency"][lat_key(100, 1000)]
        over = L["p99_ms"] - L["commit_p99_ms"]
        out.append(("p99 commit-to-client at 100 clients × 1,000 commits/s at most 1 ms over the commit's p99",
                    "%.2f ms - %.2f ms = %.2f ms" % (L["p99_ms"], L["commit_p99_ms"], over), over <= 1.0))
    except KeyError:
        pass
    return out


def targets_table(res):
    t = targets(res)
    if not t:
        return ""
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    for name, measured, ok in t:
        lines.append("| %s | %s | %s |" % (name, measured, "PASS" if ok else "MISS"))
    return "\n".join(lines)


def readme_block(res):
    m = res["meta"]
    return "\n".join([
        "### bench/e2e%s" % (" (--quick)" if m.get("quick") else ""),
        "",
        "%s; pgsync %s; %s; %s. %s" % (m["date"], m["commit"], m["postgres"], m["machine"], m["load"]),
        "Bridges: %s. fsync on, synchronous_commit on, %d pgbench connections; "
        "latency runs %d s each." % ("; ".join("%s: %s" % (res["labels"][s], res["versions"][s])
                                               for s in res["systems"] if s != "pgsync"),
                                     m["pgbench_connections"], m["secs"]),
        "",
        table(res),
        "",
        targets_table(res),
        "",
        "![latency distributions](e2e/latency.svg)",
    ])


def replace_block(text, block, begin="<!-- e2e:begin -->", end="<!-- e2e:end -->"):
    pat = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    new = begin + "\n" + block + "\n" + end
    if pat.search(text):
        return pat.sub(lambda _: new, text)
    return text.rstrip("\n") + "\n\n" + new + "\n"


def read_hist(path):
    rows = []
    try:
        with open(path) as f:
            next(f)
            for line in f:
                lo, hi, n = line.strip().split(",")
                rows.append((float(lo), float(hi), int(n)))
    except (OSError, StopIteration, ValueError):
        pass
    return rows


def write_svg(res, path):
    configs = res["latency_configs"]
    cols = 2
    rows_n = (len(configs) + cols - 1) // cols
    pw, ph, ml, mt, mb = 420, 260, 60, 40, 45
    W, H = cols * pw, rows_n * ph + 30
    lo_us, hi_us = 1e2, 1e7                     # 0.1 ms .. 10 s
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="11">' % (W, H), '<rect width="100%" height="100%" fill="white"/>']

    def y_of(q, y0, h):
        """Fraction q on a tail-stretching axis: 0.9, 0.99, 0.999, 0.9999
        equally spaced, so the tail is visible."""
        nines = min(-math.log10(max(1.0 - q, 1e-4)), 4.0)
        return y0 + h * (1 - nines / 4.0)

    def x_of(us, x0, w):
        us = min(max(us, lo_us), hi_us)
        return x0 + w * (math.log10(us) - math.log10(lo_us)) / (math.log10(hi_us) - math.log10(lo_us))

    for i, (clients, rate) in enumerate(configs):
        ox, oy = (i % cols) * pw, (i // cols) * ph
        x0, y0, w, h = ox + ml, oy + mt, pw - ml - 20, ph - mt - mb
        out.append('<text x="%d" y="%d" font-weight="bold">%s clients × %s commits/s</text>'
                   % (x0, oy + 20, fmt_int(clients), fmt_int(rate)))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (x0, y0, w, h))
        for e in range(2, 8):
            x = x_of(10 ** e, x0, w)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, y0, x, y0 + h))
            label = {2: "0.1 ms", 3: "1 ms", 4: "10 ms", 5: "100 ms", 6: "1 s", 7: "10 s"}[e]
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, y0 + h + 14, label))
        for q in (0, 0.5, 0.9, 0.99, 0.999, 0.9999):
            y = y_of(q, y0, h)
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (x0 - 4, y + 4, "%g" % q))
            if q > 0:
                out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (x0, y, x0 + w, y))
        for s in res["systems"]:
            hist = read_hist(res["hists"].get("%s-%s" % (s, lat_key(clients, rate)), ""))
            total = sum(n for _, _, n in hist)
            if not total:
                continue
            pts, acc = [(x_of(hist[0][0], x0, w), y0 + h)], 0
            for lo, hi, n in hist:
                acc += n
                pts.append((x_of(hi, x0, w), y_of(acc / total, y0, h)))
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>'
                       % (COLORS.get(s, "#000"), " ".join("%.1f,%.1f" % p for p in pts)))
        out.append('<text x="%d" y="%d" text-anchor="middle" fill="#444">commit-to-client latency '
                   '(fraction of rows at or below)</text>' % (x0 + w / 2, y0 + h + 30))
    lx = 10
    for s in res["systems"]:
        out.append('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (lx, H - 16, COLORS.get(s, "#000")))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 18, H - 11, res["labels"][s]))
        lx += 140
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
