#!/usr/bin/python3
"""Summaries for bench/run.sh (Python 3 standard library only).

  report.py wrk FILE               parse one `wrk --latency` output, print
                                   "rps p50_us p99_us requests errors non3xx"
  report.py summary WORKDIR OUT.md medians/ratios of WORKDIR/runs.tsv plus
                                   WORKDIR/meta.env -> OUT.md and stdout
  report.py splice OUT.md DOC.md   replace the "## Redirects vs nginx" section of
                                   DOC.md with OUT.md (create DOC.md if needed)
"""
import re
import statistics
import sys

UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
SECTION = "## Redirects vs nginx"
NAMES = {"wl": "WarpLink", "ngx": "nginx"}


def parse_time_us(tok):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", tok)
    if not m:
        raise ValueError("bad wrk time %r" % tok)
    return float(m.group(1)) * UNIT_US[m.group(2)]


def parse_wrk(path):
    """Numbers from `wrk --latency` text output. Raises if it is not there."""
    text = open(path, encoding="utf-8", errors="replace").read()
    r = {"errors": 0, "non3xx": 0}
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if not m:
        raise ValueError("%s: no Requests/sec line (wrk failed?)" % path)
    r["rps"] = float(m.group(1))
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+)", text, re.M)
    r["requests"] = int(m.group(1)) if m else 0
    r["duration_s"] = parse_time_us(m.group(2)) / 1e6 if m else 0.0
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s*%s%%\s+([0-9.]+\w+)" % pct, text, re.M)
        if not m:
            raise ValueError("%s: no %s%% latency (run wrk with --latency)" % (path, pct))
        r["p" + pct] = parse_time_us(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"^wrk CPU: ([0-9.]+) s", text, re.M)
    r["wrk_cpu_s"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["non3xx"] = int(m.group(1))
    return r


def read_meta(path):
    meta = {}
    for line in open(path, encoding="utf-8"):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            meta[k] = v
    return meta


def read_runs(workdir):
    rows = []
    with open(workdir + "/runs.tsv", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            row.update(parse_wrk(workdir + "/" + row["file"]))
            cpu = float(row["cpu_s"])
            wall = float(row["wall_s"])
            row["cpu_us_per_req"] = cpu * 1e6 / row["requests"] if row["requests"] else 0.0
            span = row["duration_s"] or wall  # wrk's own measuring window
            row["util"] = cpu / span if span > 0 else 0.0
            row["wrk_util"] = row["wrk_cpu_s"] / span if span > 0 else 0.0
            row["target"] = float(row["target"] or 0)
            rows.append(row)
    return rows


def med(rows, key):
    vals = [r[key] for r in rows]
    return statistics.median(vals) if vals else float("nan")


def fmt_us(us):
    if us != us:
        return "-"
    if us >= 10000:
        return "%.1f ms" % (us / 1000)
    if us >= 1000:
        return "%.2f ms" % (us / 1000)
    return "%.0f µs" % us


def fmt_rate(x):
    return "-" if x != x else "{:,.0f}".format(x)


def ratio(a, b):
    return "-" if not b or a != a or b != b else "%.2f×" % (a / b)


def summary(workdir, out_md):
    meta = read_meta(workdir + "/meta.env")
    rows = read_runs(workdir)
    dists = [d for d in ("uniform", "zipf") if any(r["dist"] == d for r in rows)]
    L = []
    add = L.append
    add(SECTION)
    add("")
    add("Measured %s on %s (%s cores, `%s`, %s MiB RAM; load average %s at start, %s at "
        "the end); git %s." % (meta.get("date", "?"), meta.get("host", "?"), meta.get("nproc", "?"),
                     meta.get("cpu_model", "?"), meta.get("mem_mib", "?"),
                     meta.get("loadavg", "?"), meta.get("loadavg_end", "?"),
                     meta.get("git_rev", "?")))
    add("Command: `%s`." % meta.get("command", "make bench"))
    add("")
    add("Setup: %s links (random 7-char base62 keys, unique ignoring case; URLs %s bytes), "
        "WarpLink `serve --threads %s --cache-bytes %s` vs nginx %s (`map $uri $target` + "
        "`return 302`, `worker_processes %s`, `access_log off`, keep-alive unlimited). "
        "Server pinned to CPU %s, `wrk -t1 -c%s` (keep-alive) pinned to CPU %s, both at nice %s. "
        "One discarded %ss warm-up per server and distribution, then %s alternating rounds "
        "(WarpLink, nginx, WarpLink, ...) of %ss each; medians below. "
        "*uniform*: every request picks a key uniformly; *zipf*: rank = ⌊(N+1)^u⌋, u~U[0,1) "
        "(continuous Zipf s=1: top key ≈5%% of requests, top 1000 keys ≈50%%). "
        "*CPU µs/req* is the server's user+system CPU time (all its processes/threads, "
        "/proc/PID/stat) divided by completed requests — the figure least affected by other "
        "load on the machine (WarpLink's includes its click capture and in-process analytics "
        "worker, nginx logs nothing); *CPU util* is that CPU time over wrk's measuring window, "
        "*wrk CPU util* the same for wrk (from `os.clock()` in redirect.lua): whichever is "
        "near 100%% was the bottleneck, both well below means other load on the machine took "
        "the CPU."
        % (meta.get("keys", "?"), meta.get("url_bytes", "60–100"), meta.get("workers", "?"),
           meta.get("cache_bytes", "?"), meta.get("nginx_version", "?"),
           meta.get("workers", "?"), meta.get("server_cpu", "?"), meta.get("conns", "?"),
           meta.get("wrk_cpu", "?"), meta.get("nice", "0"), meta.get("warmup_s", "?"), meta.get("rounds", "?"),
           meta.get("seconds", "?")))
    add("")

    add("### Full load")
    add("")
    add("| distribution | server | req/s | best round req/s | p50 | p99 | CPU µs/req | CPU util "
        "| wrk CPU util | errors / non-3xx |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    full = {}
    for d in dists:
        for s in ("wl", "ngx"):
            rs = [r for r in rows if r["phase"] == "full" and r["dist"] == d and r["server"] == s]
            if not rs:
                continue
            m = {k: med(rs, k) for k in ("rps", "p50", "p99", "cpu_us_per_req", "util", "wrk_util")}
            m["bad"] = sum(r["errors"] for r in rs), sum(r["non3xx"] for r in rs)
            m["n"] = len(rs)
            m["best"] = max(r["rps"] for r in rs)
            full[(d, s)] = m
            add("| %s | %s | %s | %s | %s | %s | %.2f | %.0f%% | %.0f%% | %d / %d |" % (
                d, NAMES[s], fmt_rate(m["rps"]), fmt_rate(m["best"]), fmt_us(m["p50"]), fmt_us(m["p99"]),
                m["cpu_us_per_req"], 100 * m["util"], 100 * m["wrk_util"], m["bad"][0], m["bad"][1]))
        if (d, "wl") in full and (d, "ngx") in full:
            a, b = full[(d, "wl")], full[(d, "ngx")]
            add("| %s | **WarpLink / nginx** | **%s** | %s | %s | %s | **%s** | | | |" % (
                d, ratio(a["rps"], b["rps"]), ratio(a["best"], b["best"]), ratio(a["p50"], b["p50"]),
                ratio(a["p99"], b["p99"]), ratio(a["cpu_us_per_req"], b["cpu_us_per_req"])))
    add("")

    half_rows = [r for r in rows if r["phase"] == "half"]
    if half_rows:
        add("### Half load (≈50% of each server's own full-load median)")
        add("")
        add("Rate capped with wrk's Lua `delay()` between a connection's requests. Its timers "
            "have whole-millisecond resolution, so this phase uses target/100 connections "
            "(each waits ~10 ms between requests) instead of %s; the delay is computed from "
            "target rate and connection count, corrected by the overhead measured in a %s s "
            "probe and in every round. A round counts if its achieved rate is within ±15%% of "
            "the target; p50/p99 are medians over those rounds. Requests leave wrk in 1-ms "
            "ticks (bursts of rate/1000) and wrk's timer bookkeeping for hundreds of "
            "connections adds to what it measures, so half-load latency is above full-load "
            "p50: compare the two servers here, not the two phases." %
            (meta.get("conns", "?"), meta.get("probe_s", "3")))
        add("")
        add("| distribution | server | target req/s | connections | achieved req/s (median) "
            "| rounds within ±15% | p50 | p99 | CPU µs/req |")
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for d in dists:
            hm = {}
            for s in ("wl", "ngx"):
                rs = [r for r in half_rows if r["dist"] == d and r["server"] == s]
                if not rs:
                    continue
                ok = [r for r in rs if abs(r["rps"] - r["target"]) <= 0.15 * r["target"]]
                use = ok or rs
                m = {k: med(use, k) for k in ("rps", "p50", "p99", "cpu_us_per_req", "target")}
                hm[s] = m
                add("| %s | %s | %s | %s | %s | %d of %d | %s | %s | %.2f |" % (
                    d, NAMES[s], fmt_rate(m["target"]), rs[0].get("conns", "?"),
                    fmt_rate(med(rs, "rps")),
                    len(ok), len(rs), fmt_us(m["p50"]), fmt_us(m["p99"]), m["cpu_us_per_req"]))
            if "wl" in hm and "ngx" in hm:
                add("| %s | **WarpLink / nginx** | | | | | %s | %s | %s |" % (
                    d, ratio(hm["wl"]["p50"], hm["ngx"]["p50"]),
                    ratio(hm["wl"]["p99"], hm["ngx"]["p99"]),
                    ratio(hm["wl"]["cpu_us_per_req"], hm["ngx"]["cpu_us_per_req"])))
        add("")

    add("### Memory")
    add("")
    try:
        before = int(meta["wl_rss_before_kb"])
        after = int(meta["wl_rss_after_kb"])
        walked = int(meta.get("walked", "0") or 0)
        per = (after - before) * 1024 / int(meta["keys"])
        add("| | RSS |")
        add("|---|---:|")
        add("| WarpLink after start (empty cache) | %.1f MiB |" % (before / 1024))
        add("| WarpLink after every key requested once (%s responses) | %.1f MiB |" % (
            "{:,}".format(walked), after / 1024))
        add("| **WarpLink per cached link** ((after − before) / %s) | **%.0f bytes** |" % (
            "{:,}".format(int(meta["keys"])), per))
        if meta.get("wl_rss_end_kb"):
            add("| WarpLink at the end of the run | %.1f MiB |" % (int(meta["wl_rss_end_kb"]) / 1024))
        if meta.get("wl_pss_kb"):
            add("| WarpLink PSS after the walk and warm-up | %.1f MiB |" % (int(meta["wl_pss_kb"]) / 1024))
        if meta.get("ngx_rss_kb"):
            add("| nginx total RSS (master + %s worker(s)), 1M-entry map | %.1f MiB |" % (
                meta.get("workers", "?"), int(meta["ngx_rss_kb"]) / 1024))
        if meta.get("ngx_pss_kb"):
            add("| nginx total PSS (pages shared by master and workers counted once) | %.1f MiB |" % (
                int(meta["ngx_pss_kb"]) / 1024))
    except (KeyError, ValueError):
        add("(not measured)")
    add("")
    if meta.get("import_s"):
        add("`warplink link import` of the %s links took %s s." % (
            "{:,}".format(int(meta.get("keys", 0))), meta["import_s"]))
        add("")
    if meta.get("notes"):
        add("Notes: " + meta["notes"])
        add("")

    add("<details><summary>Every round</summary>")
    add("")
    add("| phase | distribution | server | round | conns | req/s | target | delay ms | p50 | p99 "
        "| CPU µs/req | CPU util | wrk CPU util | errors | non-3xx |")
    add("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        add("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.0f%% | %.0f%% | %d | %d |" % (
            r["phase"], r["dist"], NAMES[r["server"]], r["round"], r.get("conns", ""),
            fmt_rate(r["rps"]), fmt_rate(r["target"]) if r["target"] else "",
            "%.2f" % float(r["delay_ms"]) if r["target"] else "",
            fmt_us(r["p50"]), fmt_us(r["p99"]),
            r["cpu_us_per_req"], 100 * r["util"], 100 * r["wrk_util"], r["errors"], r["non3xx"]))
    add("")
    add("</details>")
    add("")
    text = "\n".join(L)
    with open(out_md, "w", encoding="utf-8") as f:
        f.write(text)
    # stdout: the tables without the per-round details
    print(text.split("<details>")[0].rstrip())
    return 0


def splice(out_md, doc, section=SECTION):
    """Replaces the `section` heading's part of doc (up to the next "## ") with
    out_md, or appends it when doc has no such heading yet."""
    new = open(out_md, encoding="utf-8").read().rstrip("\n") + "\n"
    try:
        old = open(doc, encoding="utf-8").read()
    except FileNotFoundError:
        old = "# Benchmarks\n\n"
    lines = old.split("\n")
    start = next((i for i, l in enumerate(lines) if l.strip() == section), None)
    if start is None:
        text = old.rstrip("\n") + "\n\n" + new
    else:
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ")), len(lines))
        rest = "\n".join(lines[end:])
        text = "\n".join(lines[:start]) + ("\n" if start else "") + new + \
            ("\n" + rest if rest.strip() else "")
    with open(doc, "w", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n")
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "wrk":
        r = parse_wrk(argv[2])
        print("%.2f %.0f %.0f %d %d %d" % (r["rps"], r["p50"], r["p99"], r["requests"],
                                           r["errors"], r["non3xx"]))
        return 0
    if len(argv) == 4 and argv[1] == "summary":
        return summary(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "splice":
        return splice(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
