#!/usr/bin/python3
"""Analytics probes for bench/analytics.sh (Python 3 standard library only).

  freshness.py probe URL N OUT.tsv [POLL_MS=5] [TIMEOUT_S=10] [DEADLINE_S=0]
      Click -> visible in stats. Registers a user, logs in, creates a link, then
      N times: GET /<key> once with a browser User-Agent (a human click), then
      GET /links/<key>/stats?from=<today>&to=<today> every POLL_MS until
      "clicks" counts this click and every one before it. Each delay (from
      just before the click is sent to the first stats answer that shows it)
      goes to OUT.tsv; prints "n p50_ms p99_ms max_ms timeouts" (n: clicks
      measured). A random 0-100 ms gap between clicks keeps them from locking
      onto the worker's commit cycle. A click not visible after TIMEOUT_S
      counts as a timeout (delay TIMEOUT_S). The probe stops early after
      GIVE_UP (3) timeouts in a row - the worker is falling behind and every
      further click would time out too - or, with DEADLINE_S > 0, rather than
      start a click more than DEADLINE_S after it started (so a caller whose
      load lasts longer than DEADLINE_S + TIMEOUT_S knows it covered every
      measured click).

  freshness.py drain BIN DATA_DIR EVENTS CPUS [TIMEOUT_S=300]
      Starts `taskset -c CPUS BIN worker --data-dir DATA_DIR` on a queue that
      `serve --no-worker` filled and times it until the analytics store's
      consumer.events_total has grown by EVENTS (polled every 5 ms, read-only,
      from DATA_DIR/analytics.db). Then SIGTERM and its exit summary. Prints
      "events drain_s cpu_s ready_s": drain_s from the "worker consuming" line
      to the first poll that sees the last event committed, cpu_s the worker's
      user+system CPU from launch to then (start-up included), ready_s launch
      -> that line.
"""
import http.client
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")


def die(msg):
    sys.stderr.write("freshness.py: %s\n" % msg)
    sys.exit(1)


class Client:
    """One keep-alive HTTP/1.1 connection to the server; reconnects once on error."""

    def __init__(self, url):
        if not url.startswith("http://"):
            die("URL must be http://host:port")
        self.hostport = url[len("http://"):].rstrip("/")
        self.conn = None

    def req(self, method, path, body=None, headers=None):
        hdrs = {"User-Agent": BROWSER_UA}
        hdrs.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                host, port = self.hostport.rsplit(":", 1)
                self.conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, payload
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def pct(sorted_vals, p):
    """Nearest-rank percentile (p in 0..100) of an ascending list."""
    if not sorted_vals:
        return float("nan")
    k = max(1, -(-len(sorted_vals) * p // 100))  # ceil(n*p/100), at least 1
    return sorted_vals[int(k) - 1]


GIVE_UP = 3  # consecutive timeouts after which the probe stops


def probe(url, n, out, poll_ms=5.0, timeout_s=10.0, deadline_s=0.0):
    t_start = time.monotonic()
    api = Client(url)   # stats polls
    click = Client(url)  # the clicks: another connection, like another client
    email = "fresh-%d-%d@bench.example" % (os.getpid(), int(time.time()))
    pw = "bench-password-123"
    st, body = api.req("POST", "/auth/register", {"email": email, "password": pw})
    if st != 201:
        die("register: HTTP %d %r" % (st, body[:200]))
    st, body = api.req("POST", "/auth/login", {"email": email, "password": pw})
    if st != 200:
        die("login: HTTP %d %r" % (st, body[:200]))
    auth = {"Authorization": "Bearer " + json.loads(body)["access_token"]}
    st, body = api.req("POST", "/links", {"long_url": "https://example.org/freshness-probe"}, auth)
    if st != 201:
        die("create link: HTTP %d %r" % (st, body[:200]))
    key = json.loads(body)["key"]

    def clicks():
        today = time.strftime("%Y-%m-%d", time.gmtime())
        st, body = api.req("GET", "/links/%s/stats?from=%s&to=%s" % (key, today, today),
                           headers=auth)
        if st != 200:
            die("stats: HTTP %d %r" % (st, body[:200]))
        return json.loads(body)["clicks"]

    base = clicks()
    delays = []
    timeouts = run = 0
    rnd = random.Random(42)
    with open(out, "w", encoding="utf-8") as f:
        f.write("i\tdelay_ms\tpolls\n")
        for i in range(n):
            time.sleep(rnd.uniform(0, 0.1))  # decorrelate from the commit cycle
            t0 = time.monotonic()
            if run >= GIVE_UP or (deadline_s > 0 and t0 - t_start > deadline_s):
                break  # the worker is falling behind, or the caller's load ends soon
            st, _ = click.req("GET", "/" + key, headers={"Accept": "text/html"})
            if st != 302:
                die("click %d: GET /%s gave HTTP %d" % (i, key, st))
            polls = 0
            while True:
                # clicks i and all before it counted: a late earlier click
                # is never mistaken for this one
                c = clicks()
                polls += 1
                t1 = time.monotonic()
                if c >= base + i + 1:
                    run = 0
                    break
                if t1 - t0 > timeout_s:
                    timeouts += 1
                    run += 1
                    break
                time.sleep(poll_ms / 1000.0)
            d = (t1 - t0) * 1000.0
            delays.append(d)
            f.write("%d\t%.2f\t%d\n" % (i, d, polls))
    s = sorted(delays)
    print("%d %.1f %.1f %.1f %d" % (len(s), statistics.median(s), pct(s, 99), s[-1], timeouts))
    return 0


def events_total(db):
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=1.0)
        try:
            row = con.execute("SELECT events_total FROM consumer WHERE id = 1").fetchone()
        finally:
            con.close()
        return row[0] if row else 0
    except sqlite3.Error:
        return None  # not created yet, or busy: try again


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(binary, data_dir, events, cpus, timeout_s=300.0):
    db = os.path.join(data_dir, "analytics.db")
    before = events_total(db) or 0
    target = before + events
    t_launch = time.monotonic()
    p = subprocess.Popen(["taskset", "-c", cpus, binary, "worker", "--data-dir", data_dir],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = []
    ready = threading.Event()
    t_ready = [None]

    def read_err():
        for line in p.stderr:
            lines.append(line)
            if "worker consuming" in line and not ready.is_set():
                t_ready[0] = time.monotonic()
                ready.set()

    th = threading.Thread(target=read_err, daemon=True)
    th.start()
    deadline = t_launch + timeout_s
    t_done = None
    try:
        while time.monotonic() < deadline:
            if p.poll() is not None:
                die("worker exited early (%s): %s" % (p.returncode, "".join(lines)[-500:]))
            n = events_total(db)
            if n is not None and n >= target:
                t_done = time.monotonic()
                break
            time.sleep(0.005)
        if t_done is None:
            die("worker did not consume %d events in %.0f s (at %s of %d)" % (
                events, timeout_s, events_total(db), target))
        try:
            cpu_live = proc_cpu_s(p.pid)
        except OSError:
            cpu_live = float("nan")
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        th.join(timeout=5)
    summary = "".join(l for l in lines if "worker stopped" in l).strip()
    sys.stderr.write("  worker: %s\n" % (summary or "".join(lines)[-300:].strip()))
    if not ready.is_set():
        t_ready[0] = t_launch
    print("%d %.3f %.3f %.3f" % (events, t_done - t_ready[0], cpu_live, t_ready[0] - t_launch))
    return 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "probe":
        return probe(argv[2], int(argv[3]), argv[4],
                     float(argv[5]) if len(argv) > 5 else 5.0,
                     float(argv[6]) if len(argv) > 6 else 10.0,
                     float(argv[7]) if len(argv) > 7 else 0.0)
    if len(argv) >= 6 and argv[1] == "drain":
        return drain(argv[2], argv[3], int(argv[4]), argv[5],
                     float(argv[6]) if len(argv) > 6 else 300.0)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
