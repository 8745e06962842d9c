#!/usr/bin/python3
"""Summaries for bench/analytics.sh (Python 3 standard library only).

  analytics-report.py summary WORKDIR OUT.md   tables from WORKDIR/{runs.tsv,meta.env,
                                               worker-*.txt} -> OUT.md, stdout
  analytics-report.py splice OUT.md DOC.md     replace the "## Click analytics" section
                                               of DOC.md with OUT.md (append if missing)
"""
import os
import re
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (bench/report.py: wrk parsing, formatting)

SECTION = "## Click analytics"
MODES = {
    "A": "`serve --analytics off` (no capture, no worker)",
    "B": "`serve` (default: capture + in-process worker)",
    "C": "`serve --no-worker` (capture only)",
}


def med(vals):
    vals = [v for v in vals if v == v]
    return statistics.median(vals) if vals else float("nan")


def read_runs(workdir):
    rows = []
    with open(workdir + "/runs.tsv", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            row.update(report.parse_wrk(workdir + "/" + row["file"]))
            span = row["duration_s"] or 1.0
            req = row["requests"] or 1
            for k in ("cpu_s", "loop_s", "rest_s"):
                row[k] = float(row[k])
            row["cpu_us"] = row["cpu_s"] * 1e6 / req
            row["loop_us"] = row["loop_s"] * 1e6 / req
            row["rest_us"] = row["rest_s"] * 1e6 / req
            row["util"] = row["cpu_s"] / span
            row["wrk_util"] = row["wrk_cpu_s"] / span
            for k in ("published", "consumed", "dropped"):
                row[k] = int(float(row[k] or 0))
            row["depth_mb"] = float(row.get("depth_bytes") or 0) / 1e6
            row["lag_s"] = float(row["lag_s"]) if row.get("lag_s") else float("nan")
            if row.get("drain_s"):
                de, ds, dc = float(row["drain_events"]), float(row["drain_s"]), float(row["drain_cpu_s"])
                row["drain_rate"] = de / ds if ds > 0 else float("nan")
                row["drain_cpu_rate"] = de / dc if dc > 0 else float("nan")
            else:
                row["drain_rate"] = row["drain_cpu_rate"] = float("nan")
            rows.append(row)
    return rows


WORKER_CASES = ("1k", "100k-zipf", "100k-uniform")  # WORKDIR/worker-<case>.txt


def worker_sh(path):
    """Medians, per-run events/s and the fill parameters from worker.sh output, or None."""
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return None
    m1 = re.search(r"^worker: (\d+) events/s \(median of (\d+) runs\)", text, re.M)
    m2 = re.search(r"^cpu: (\d+) events/cpu-s", text, re.M)
    mf = re.search(r"\((\d+) links, (\w+)\) in [0-9.]+ s; worker \(batch_max (\d+)\)", text)
    if not m1 or not mf:
        return None
    return {"rate": int(m1.group(1)), "cpu_rate": int(m2.group(1)) if m2 else 0,
            "per_run": [int(x) for x in re.findall(r"= (\d+) events/s", text)],
            "runs": int(m1.group(2)), "links": int(mf.group(1)), "dist": mf.group(2),
            "batch": int(mf.group(3))}


def worker_ratios(ws):
    """A sentence comparing the worker_bench cases' events per CPU-second, or ""."""
    if "1k" not in ws:
        return ""
    base = ws["1k"]
    parts = ["%s links %s %.0f%%" % (fmt_int(w["links"]), w["dist"], 100.0 * w["cpu_rate"] / base["cpu_rate"])
             for k, w in ws.items() if k != "1k" and base["cpu_rate"]]
    if not parts:
        return ""
    return " Per CPU-second, relative to %s links %s: %s." % (
        fmt_int(base["links"]), base["dist"], ", ".join(parts))


def fresh_cases(meta):
    """The freshness cases in meta.env (fresh_<dist>_<frac>=n p50 p99 max timeouts), in order."""
    cases = []
    for k, v in meta.items():
        m = re.match(r"fresh_([a-z]+)_([0-9.]+)$", k)
        if not m or len(v.split()) != 5:
            continue
        c = dict(zip(("n", "p50", "p99", "max", "timeouts"), v.split()))
        c.update(dist=m.group(1), frac=m.group(2))
        for f in ("target", "rps", "p99_us", "cpu_util", "depth_end", "lag_end_s"):
            try:
                c[f] = float(meta.get("%s_%s" % (k, f)) or "nan")
            except ValueError:
                c[f] = float("nan")
        c["lag_end_s"] = "%.1f" % c["lag_end_s"] if c["lag_end_s"] == c["lag_end_s"] else "?"
        c["late"] = meta.get(k + "_late", "?")
        cases.append(c)
    return cases


def fmt_int(x):
    return "-" if x != x else "{:,.0f}".format(x)


def summary(workdir, out_md):
    meta = report.read_meta(workdir + "/meta.env")
    rows = read_runs(workdir)
    by = {m: [r for r in rows if r["mode"] == m] for m in MODES}
    L = []
    add = L.append
    add(SECTION)
    add("")
    add("Measured %s on %s (%s cores, `%s`, %s MiB RAM; load average %s at start, %s at the "
        "end); git %s." % (meta.get("date", "?"), meta.get("host", "?"), meta.get("nproc", "?"),
                           meta.get("cpu_model", "?"), meta.get("mem_mib", "?"),
                           meta.get("loadavg", "?"), meta.get("loadavg_end", "?"),
                           meta.get("git_rev", "?")))
    cmd = meta.get("command", "make bench")
    add("Command: `%s`%s." % (cmd, " (the analytics part is `bench/analytics.sh`, after "
                                   "`bench/run.sh`)" if cmd.endswith("make bench") else ""))
    add("")
    add("Setup: %s links imported with `warplink link import` (gen-keys.c, as above), copied "
        "into three data directories, one per configuration. Every round starts each of the "
        "three servers fresh (`serve --threads 1 --cache-bytes %s`, pinned to CPU %s), runs a "
        "discarded %s s warm-up and then one measured %s s `wrk -t1 -c%s` run (keep-alive, "
        "%s keys, pinned to CPU %s, nice %s), then stops the server (SIGTERM, must exit "
        "0); the order of A, B, C rotates from round to round; %s rounds, medians below. "
        "Every request carries a desktop Chrome `User-Agent` and a `Referer`, so each is a "
        "human click with a referrer host (~%d bytes of event). *CPU µs/req*: the server "
        "process's user+system CPU (all threads, /proc/PID/task/*/stat) over the measured run "
        "divided by completed requests — steadier than req/s on a shared machine. *loop*: the "
        "event-loop thread (serve's last-created thread; it also encodes the clicks and "
        "`write()`s them to the queue); *other threads*: all the rest (in B almost all of it "
        "is the analytics worker thread; also the queue's fsync and lag-monitor threads)." % (
            fmt_int(int(meta.get("links", 0))), meta.get("cache_bytes", "?"),
            meta.get("server_cpu", "?"), meta.get("warmup_s", "?"), meta.get("seconds", "?"),
            meta.get("conns", "?"), meta.get("dist", "uniform"), meta.get("wrk_cpu", "?"),
            meta.get("nice", "0"), meta.get("rounds", "?"),
            len(meta.get("ua", "")) + len(meta.get("referer", "")) + 30))
    add("")
    add("What the configurations and ratios mean:")
    add("")
    add("- **A** %s: the redirect path alone, the baseline." % MODES["A"])
    add("- **B** %s: the deployment default; the worker thread shares the single CPU with the "
        "event loop, so **B/A** is the whole cost of analytics on a one-core server — capture "
        "*and* aggregation paid from the redirect CPU." % MODES["B"])
    add("- **C** %s, `--queue-budget 8G` so nothing is dropped during the run: **C/A** is the "
        "cost analytics adds to the redirect path itself, the issue's target (≥ 0.97); where "
        "the worker runs on another core (or as `warplink worker` elsewhere), this is what "
        "redirects pay. After C rounds (the first BENCH_AN_DRAINS; table 2 says how many) `warplink worker` drains that round's clicks on "
        "the same CPU: the real binary's consume rate, table 2." % MODES["C"])
    add("")
    add("### 1. Redirects with analytics on vs off")
    add("")
    add("| config | req/s | best round | p50 | p99 | CPU µs/req | loop µs/req | other threads "
        "µs/req | CPU util | wrk CPU util | clicks published per run | queue backlog at end "
        "| dropped |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    mm = {}
    for m in MODES:
        rs = by[m]
        if not rs:
            continue
        x = {k: med([r[k] for r in rs]) for k in (
            "rps", "p50", "p99", "cpu_us", "loop_us", "rest_us", "util", "wrk_util",
            "published", "depth_mb", "lag_s")}
        x["best"] = max(r["rps"] for r in rs)
        x["dropped"] = sum(r["dropped"] for r in rs)
        mm[m] = x
        add("| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.0f%% | %.0f%% | %s | %s | %d |" % (
            m, fmt_int(x["rps"]), fmt_int(x["best"]), report.fmt_us(x["p50"]),
            report.fmt_us(x["p99"]), x["cpu_us"], x["loop_us"], x["rest_us"], 100 * x["util"],
            100 * x["wrk_util"], fmt_int(x["published"]) if m != "A" else "0",
            ("%.0f MB, lag %.1f s" % (x["depth_mb"], x["lag_s"])) if m == "B" else "-",
            x["dropped"]))
    add("")
    if "A" in mm:
        add("| ratio | req/s (ratio of medians) | req/s (median of per-round ratios) "
            "| CPU µs/req (ratio of medians) | CPU µs/req (median of per-round ratios) |")
        add("|---|---:|---:|---:|---:|")
        for m in ("B", "C"):
            if m not in mm:
                continue
            pr, pc = [], []
            for a in by["A"]:
                o = [r for r in by[m] if r["round"] == a["round"]]
                if o:
                    pr.append(o[0]["rps"] / a["rps"])
                    pc.append(o[0]["cpu_us"] / a["cpu_us"])
            add("| **%s/A** | **%.3f** | %.3f | %.3f | %.3f |" % (
                m, mm[m]["rps"] / mm["A"]["rps"], med(pr), mm[m]["cpu_us"] / mm["A"]["cpu_us"],
                med(pc)))
        add("")
        if "B" in mm and "C" in mm:
            add("Where the CPU goes: the loop thread spent %.2f µs per redirect with capture "
                "(C) vs %.2f without (A), %+.1f%%: capturing a click (encode into the loop's "
                "batch, one `write()` per loop iteration) is within this run's noise. In B the "
                "loop spent %.2f µs and the other threads — the worker — %.2f µs per redirect: "
                "on one shared core the in-process worker, not the capture, is what lowers B's "
                "req/s." % (mm["C"]["loop_us"], mm["A"]["loop_us"],
                            100 * (mm["C"]["loop_us"] / mm["A"]["loop_us"] - 1),
                            mm["B"]["loop_us"], mm["B"]["rest_us"]))
            add("")
        add("For CPU µs/req a ratio above 1 is the cost: 1.05 means 5% more server CPU per "
            "redirect; the req/s ratios are the issue's metric (≥ 0.97), the CPU ratios the "
            "steadier estimate of the same thing (req/s ≈ CPU util / CPU µs/req).")
        add("")

    add("### 2. Worker throughput")
    add("")
    add("| measurement | links | keys | events/s (median) | events per CPU-second (median) | runs |")
    add("|---|---:|---|---:|---:|---:|")
    ws = {}
    for name in WORKER_CASES:
        w = worker_sh(workdir + "/worker-%s.txt" % name)
        if not w:
            continue
        ws[name] = w
        add("| `worker_bench` (library): `bench/worker.sh %s %d %s %d %s` | %s | %s | **%s** | %s "
            "| %d (range %s–%s) |" % (
                meta.get("worker_events", "?"), w["runs"], w["batch"], w["links"], w["dist"],
                fmt_int(w["links"]), w["dist"], fmt_int(w["rate"]), fmt_int(w["cpu_rate"]),
                w["runs"], fmt_int(min(w["per_run"])) if w["per_run"] else "-",
                fmt_int(max(w["per_run"])) if w["per_run"] else "-"))
    dr = [r for r in by["C"] if r["drain_rate"] == r["drain_rate"]]
    if dr:
        add("| `warplink worker` (the binary, default `--batch-max 50000`) draining one C "
            "round's clicks (median %s events) | %s | %s (wrk) | **%s** | %s | %d (range %s–%s) |" % (
                fmt_int(med([float(r["drain_events"]) for r in dr])),
                fmt_int(int(meta.get("links", 0))), meta.get("dist", "uniform"),
                fmt_int(med([r["drain_rate"] for r in dr])),
                fmt_int(med([r["drain_cpu_rate"] for r in dr])), len(dr),
                fmt_int(min(r["drain_rate"] for r in dr)), fmt_int(max(r["drain_rate"] for r in dr))))
    add("")
    add("All pinned to CPU %s. `worker_bench` (bench/worker_bench.c) times the library worker "
        "(`wl_worker`) from open to caught up over a queue pre-filled with the clicks: 3 days, "
        "4 UAs incl. a bot, 50 referrers, 5,000 client addresses; *uniform*: every link equally "
        "often, *zipf*: Zipf(s=1) over the links as in the redirect benchmark (fixed seed), so a "
        "few hot links get most clicks. The binary's time runs from its \"worker consuming\" line "
        "to `consumer.events_total` in analytics.db reaching the round's clicks (polled every "
        "5 ms)." % meta.get("server_cpu", "?"))
    add("")
    add("The rows differ mainly in how many distinct (link, day) pairs a batch touches: each "
        "costs one upsert in the commit - the daily row holding its counters, its visitor "
        "sketch (HyperLogLog) and its breakdown values (both merged inside SQLite) - so clicks "
        "on few links (or on a few hot ones, zipf) collapse into few row updates per batch, "
        "while clicks spread uniformly over many links are nearly one row each: the worst "
        "case. worker_bench spreads its clicks over 3 days (300,000 rows at 100,000 links) and "
        "4 user agents; the binary's clicks (wrk) are all of one day (100,000 rows), with one user "
        "agent and one referrer.%s The binary's exit summaries (commits "
        "and mean commit time) are printed by analytics.sh: compare commit time × commits with "
        "the drain time to see how much of it is the SQLite commit." % worker_ratios(ws))
    add("")
    add("Events per CPU-second counts all the worker's CPU (start-up included for the binary), "
        "not its wall time: the figure other load on the machine disturbs least. Wall time "
        "also includes fsyncs (one SQLite transaction per batch, `synchronous=FULL`).")
    add("")

    add("### 3. Freshness: click → visible in stats")
    add("")
    cases = fresh_cases(meta)
    if cases:
        add("Default `serve` (`--threads 1`, in-process worker, `--batch-wait-ms 200`) pinned to "
            "CPU %s: its analytics worker thread runs at `SCHED_IDLE`, so it only gets the CPU "
            "the event loop leaves idle on that core. Each case starts a fresh server on a fresh "
            "copy of the imported store (no backlog from the rounds above) under a background "
            "load from `bench/loadgen.c` (pinned to CPU %s): open loop (request *i* due at t0 + "
            "*i*/rate, whatever happened to earlier ones), %s keep-alive connections, keys "
            "uniform or Zipf(s=1) over the %s imported links, the same Chrome `User-Agent` and "
            "`Referer` as wrk, so every background request is a human click with a referrer "
            "host. Target = load × B's median full-load req/s (table 1). After %s s of load, "
            "`bench/freshness.py probe` (also on CPU %s) registers a user, creates a link, then "
            "%s times: a random 0–100 ms pause, one `GET /{key}` with a browser User-Agent, then "
            "`GET /links/{key}/stats?from=<today>&to=<today>` every 5 ms (own keep-alive "
            "connection) until `clicks` counts it and every earlier click; delay = from just before "
            "the click to the first stats response that shows it (so it includes up to one poll "
            "interval and one stats request). After 3 clicks in a row not visible within 10 s the "
            "probe stops: the worker is falling behind the load and every further click would time "
            "out too. It also starts no click after its deadline (%s s, so the load outlasts every "
            "click). loadgen is started for far longer than the probe and must still be "
            "running when the probe ends, so every click was measured under load. *server CPU "
            "util*: the server's CPU time (all threads) over the probe's wall time; *backlog / "
            "lag at end*: `warplink_queue_depth_bytes` and `warplink_queue_lag_seconds` right "
            "after the probe; *redirect p99*: loadgen's, from each request's scheduled time "
            "(*late*: requests that waited for a free connection; loadgen shares its CPU with the "
            "probe). The server is confined to one core with its worker on purpose: loadgen keeps "
            "the other one busy (it spins between sends), so an unpinned server's worker would "
            "find no idle CPU there either." % (
                meta.get("server_cpu", "?"), meta.get("wrk_cpu", "?"), meta.get("fresh_conns", "16"),
                fmt_int(int(meta.get("links", 0))), meta.get("fresh_warmup_s", "?"),
                meta.get("wrk_cpu", "?"), meta.get("fresh_n", cases[0]["n"]),
                meta.get("fresh_deadline_s", "?")))
        add("")
        add("| keys | load | target req/s | achieved req/s | redirect p99 | server CPU util "
            "| clicks | p50 | p99 | max | not visible within 10 s | backlog / lag at end |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in cases:
            add("| %s | %.0f%% | %s | %s | %s | %.0f%% | %s | %s ms | **%s ms** | %s ms | %s "
                "| %.1f MB, lag %s s |" % (
                    c["dist"], 100 * float(c["frac"]), fmt_int(c["target"]), fmt_int(c["rps"]),
                    "%s (late %s)" % (report.fmt_us(c["p99_us"]), c["late"]),
                    100 * c["cpu_util"], c["n"] + (
                        "" if c["n"] == meta.get("fresh_n", c["n"]) else
                        " (stopped: 3 timeouts in a row)" if int(c["timeouts"]) >= 3 else
                        " (stopped at the probe's deadline)"),
                    c["p50"], c["p99"], c["max"], c["timeouts"],
                    c["depth_end"] / 1e6, c["lag_end_s"]))
        add("")
    else:
        add("(not measured)")
        add("")

    add("<details><summary>Every round</summary>")
    add("")
    add("| round | config | req/s | p50 | p99 | CPU µs/req | loop µs/req | other µs/req "
        "| CPU util | wrk CPU util | published | consumed | dropped | backlog MB | lag s "
        "| drain events/s | drain events/CPU-s |")
    add("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        add("| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.0f%% | %.0f%% | %s | %s | %d "
            "| %s | %s | %s | %s |" % (
                r["round"], r["mode"], fmt_int(r["rps"]), report.fmt_us(r["p50"]),
                report.fmt_us(r["p99"]), r["cpu_us"], r["loop_us"], r["rest_us"],
                100 * r["util"], 100 * r["wrk_util"], fmt_int(r["published"]),
                fmt_int(r["consumed"]), r["dropped"],
                "%.0f" % r["depth_mb"] if r["mode"] == "B" else "",
                "%.1f" % r["lag_s"] if r["mode"] == "B" else "", fmt_int(r["drain_rate"]),
                fmt_int(r["drain_cpu_rate"])))
    add("")
    add("</details>")
    add("")
    text = "\n".join(L)
    with open(out_md, "w", encoding="utf-8") as f:
        f.write(text)
    print(text.split("<details>")[0].rstrip())
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "summary":
        return summary(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "splice":
        return report.splice(argv[2], argv[3], SECTION)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
