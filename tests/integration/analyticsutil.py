"""Helpers for the click-analytics integration tests (test_analytics*.py,
test_queue_recovery.py).

Reuses conftest.py (Server, report_figure, child_env, warplink_bin) and
helpers.py (raw-socket Conn, metrics parsing) and authutil.py (accounts).

What is here:
  SCALE / scaled(n)   load sizes, divided by 3 under ASan or WARPLINK_SLOW=1
  figure(name, v)     prints a figure and adds it to the pytest terminal summary
  UA_*                user agents: human desktop/mobile ones and bot ones
  Owner               a registered user + helpers to create links and read stats
  wait_counted()      bounded polling of the stats endpoint until the count is
                      stable and equal to what is expected (fails with both)
  src_conn()          a keep-alive raw connection from a chosen loopback
                      source address (127.1.0.5 -> "FR" in the GeoIP fixture)
  Flood               N threads, each with one keep-alive connection, sending
                      GET /{key} one at a time and counting what came back
  Worker              a `warplink worker` process (ready line, drains, kill)
  make_geoip()        builds tests/fixtures/make-geoip.pl's database

Every wait is bounded in count and time: a hung server fails a test, never
hangs it.
"""

import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from authutil import Api, unique
from conftest import REPO, _Drain, child_env, report_figure, warplink_bin
from helpers import Conn, ConnectionClosed, metric_sum, metric_value, parse_metrics

SLOW = (os.environ.get("WARPLINK_SLOW") == "1"
        or "asan" in os.environ.get("WARPLINK_BIN", "").lower())
SCALE = 3 if SLOW else 1
# Time bounds grow under ASan (the binary is ~3x slower), loads shrink.
TSCALE = 3.0 if SLOW else 1.0


def scaled(n, minimum=1):
    return max(minimum, int(n / SCALE))


def figure(name, value):
    """A measured figure: printed (visible with -s) and listed in the pytest
    terminal summary (visible with -q)."""
    print(f"[figure] {name}: {value}")
    report_figure(name, value)


# -- user agents ---------------------------------------------------------------
UA_FIREFOX_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) "
                  "Gecko/20100101 Firefox/120.0")
UA_CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36")
UA_SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
                    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
                    "Mobile/15E148 Safari/604.1")
UA_CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
                 "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
UA_GOOGLEBOT = ("Mozilla/5.0 (compatible; Googlebot/2.1; "
                "+http://www.google.com/bot.html)")
UA_SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
UA_FACEBOOK = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
UA_CURL = "curl/8.4.0"
UA_PYREQ = "python-requests/2.28.1"

HUMAN_UA = UA_FIREFOX_WIN


# -- accounts, links, stats ----------------------------------------------------
class Owner:
    """A fresh user on `server` with a JWT; creates links it owns."""

    def __init__(self, server, prefix="an"):
        self.server = server
        self.api = Api(server)
        self.user = self.api.new_user(prefix)
        self.token = self.user.token

    def link(self, url=None):
        r = self.api.create(url or f"https://example.com/{unique('a')}", token=self.token)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()["key"]

    def rebind(self, server):
        """Talk to another server (a restart on the same data directory: the
        JWT stays valid, jwt.key is kept)."""
        self.server = server
        self.api = Api(server)

    def stats_raw(self, key, frm=None, to=None, query=None, token=None, api_key=None):
        q = query
        if q is None:
            parts = []
            if frm:
                parts.append("from=" + frm)
            if to:
                parts.append("to=" + to)
            q = "&".join(parts)
        path = f"/links/{key}/stats" + ("?" + q if q else "")
        if api_key is None and token is None:
            token = self.token
        return self.api.req("GET", path, token=token, api_key=api_key)

    def stats(self, key, frm=None, to=None):
        r = self.stats_raw(key, frm, to)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()


def today_utc():
    return time.strftime("%Y-%m-%d", time.gmtime())


def day_offset(days):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400 * days))


def total(doc):
    return doc["clicks"] + doc["bot_clicks"]


def wait_counted(read, expected, timeout=30.0, what="clicks+bot_clicks", value=total):
    """Polls read() (returns a stats doc) until value(doc) == expected and the
    same on two consecutive readings at least 0.3 s apart (so a count that is
    still moving, or overshoots, is caught). Bounded by timeout (scaled under
    ASan). Fails with expected and the last value. Returns the last doc."""
    deadline = time.monotonic() + timeout * TSCALE
    prev, last = None, None
    while True:
        doc = read()
        v = value(doc)
        if v == expected and prev == expected:
            return doc
        prev, last = v, doc
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: expected {expected}, got {v} after "
                                 f"{timeout * TSCALE:.0f}s; last stats: {last}")
        time.sleep(0.3)


def metrics(port):
    from helpers import http
    r = http(port, "GET", "/metrics")
    assert r.status == 200, r
    return parse_metrics(r.body.decode())


def metric(port, name, **labels):
    s = metrics(port)
    v = metric_value(s, name, **labels) if labels else metric_sum(s, name)
    return v


# -- raw connections from a chosen source address -------------------------------
def src_conn(port, src="127.0.0.1", timeout=5.0):
    """A helpers.Conn whose socket is bound to source address `src`."""
    c = Conn.__new__(Conn)
    c.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                      source_address=(src, 0))
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.buf = bytearray()
    c.eof = False
    return c


def click(port, key, ua=HUMAN_UA, referer=None, method="GET", src="127.0.0.1",
          extra=None, conn=None):
    """One request to /{key}; returns the status. Uses `conn` if given."""
    h = []
    if ua is not None:
        h.append(("User-Agent", ua))
    if referer is not None:
        h.append(("Referer", referer))
    h += list(extra or [])
    if conn is not None:
        return conn.request(method, "/" + key, h).status
    with src_conn(port, src) as c:
        return c.request(method, "/" + key, h).status


def clicks(port, key, n, **kw):
    """n requests on one keep-alive connection; returns the list of statuses."""
    with src_conn(port, kw.pop("src", "127.0.0.1")) as c:
        return [click(port, key, conn=c, **kw) for _ in range(n)]


# -- flood -----------------------------------------------------------------------
class Flood:
    """`threads` threads, each on one keep-alive connection, send GET /{key}
    one request at a time until stop() (or max_requests/max_seconds).

    Per request the outcome is exactly one of:
      ok302      a complete 302 response arrived;
      other      a complete response with another status;
      ambiguous  the request bytes were handed to the kernel but the
                 connection broke before a complete response (the server
                 may or may not have appended the event);
      unsent     the connection broke before the request was written
                 (cannot have been appended).
    sent = ok302 + other + ambiguous. The port may change while running
    (a restarted server): port_ref is a one-element list read per connect.
    """

    def __init__(self, port_ref, key, threads=3, ua=HUMAN_UA, max_requests=10**6,
                 max_seconds=120.0, pace=0.0):
        self.port_ref = port_ref if isinstance(port_ref, list) else [port_ref]
        self.key = key
        self.nthreads = threads
        self.ua = ua
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.pace = pace  # seconds between requests per thread (load shaping only)
        self.lock = threading.Lock()
        self.ok302 = self.other = self.ambiguous = self.unsent = 0
        self.other_statuses = []
        self.errors = []
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._threads = []
        self._issued = 0

    @property
    def sent(self):
        return self.ok302 + self.other + self.ambiguous

    def _take(self):
        with self.lock:
            if self._issued >= self.max_requests:
                return False
            self._issued += 1
            return True

    def _untake(self):
        with self.lock:
            self._issued -= 1

    def _add(self, field, status=None):
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)
            if status is not None and len(self.other_statuses) < 20:
                self.other_statuses.append(status)

    def _run(self):
        req = (f"GET /{self.key} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"User-Agent: {self.ua}\r\n\r\n").encode()
        deadline = time.monotonic() + self.max_seconds
        conn = None
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                if self._paused.is_set():
                    if conn:
                        conn.close()
                        conn = None
                    time.sleep(0.01)
                    continue
                if conn is None:
                    try:
                        conn = Conn(self.port_ref[0], timeout=5.0)
                    except OSError:
                        time.sleep(0.02)  # server restarting: retry (bounded by deadline)
                        continue
                if not self._take():
                    break
                try:
                    conn.send(req)
                except OSError:
                    self._untake()
                    self._add("unsent")
                    conn.close()
                    conn = None
                    continue
                try:
                    resp = conn.read_response("GET", timeout=5.0)
                except (ConnectionClosed, OSError):
                    self._add("ambiguous")
                    conn.close()
                    conn = None
                    continue
                if resp.status == 302:
                    self._add("ok302")
                else:
                    self._add("other", resp.status)
                if any(v.lower() == "close" for v in resp.header_all("connection")):
                    conn.close()
                    conn = None
                if self.pace:
                    time.sleep(self.pace)
        except BaseException as e:  # noqa: BLE001 - reported by stop()
            self.errors.append(repr(e))
        finally:
            if conn:
                conn.close()

    def start(self):
        for _ in range(self.nthreads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def pause(self):
        self._paused.set()

    def resume(self):
        self._paused.clear()

    def wait_sent(self, n, timeout):
        """Bounded wait until at least n requests were sent; returns sent."""
        deadline = time.monotonic() + timeout * TSCALE
        while self.sent < n and time.monotonic() < deadline and self.alive():
            time.sleep(0.005)
        return self.sent

    def alive(self):
        return any(t.is_alive() for t in self._threads)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(15)
        assert not self.alive(), "flood threads did not stop"
        assert not self.errors, self.errors
        return self

    def summary(self):
        return (f"sent={self.sent} 302={self.ok302} other={self.other} "
                f"ambiguous={self.ambiguous} unsent={self.unsent}")


# -- the standalone worker --------------------------------------------------------
WORKER_READY = "warplink: worker consuming"


class Worker:
    """A `warplink worker --data-dir D ARGS` process."""

    def __init__(self, data_dir, args=(), env=None, prefix=()):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.env = env or {}
        self.prefix = list(prefix)
        self.proc = None

    def start(self, wait_ready=True, timeout=10.0):
        self.cond = threading.Condition()
        argv = self.prefix + [warplink_bin(), "worker", "--data-dir", str(self.data_dir)] + \
            self.args
        self.proc = subprocess.Popen(argv, env=child_env(self.env), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err = _Drain(self.proc.stderr, self.cond)
        self.out = _Drain(self.proc.stdout, self.cond)
        self.err.start()
        self.out.start()
        if wait_ready:
            self.wait_line(WORKER_READY, timeout)
        return self

    def wait_line(self, needle, timeout):
        deadline = time.monotonic() + timeout * TSCALE
        with self.cond:
            while True:
                if any(needle in ln for ln in self.err.lines):
                    return
                if self.proc.poll() is not None and not self.err.is_alive():
                    raise AssertionError(f"worker exited {self.proc.returncode} before "
                                         f"{needle!r}; stderr:\n{self.stderr_text()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {needle!r} from the worker within "
                                         f"{timeout * TSCALE:.0f}s; stderr:\n"
                                         f"{self.stderr_text()}")
                self.cond.wait(min(left, 0.05))

    def stderr_text(self, tail=40):
        return "\n".join(self.err.lines[-tail:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.err.join(5)

    def term(self, timeout=15.0):
        """SIGTERM; returns the exit code (kills and fails on timeout)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * TSCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"worker did not exit within {timeout}s of SIGTERM; "
                                 f"stderr:\n{self.stderr_text()}")
        self.err.join(5)
        return rc

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait(5)


def make_geoip(out_path):
    """Builds the GeoIP fixture; skips when the Perl module is missing."""
    r = subprocess.run(["perl", str(REPO / "tests/fixtures/make-geoip.pl"), str(out_path)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 3:
        pytest.skip("libmaxmind-db-writer-perl missing: " + r.stderr.strip())
    assert r.returncode == 0, r.stderr
    return str(out_path)


def rand_ms(lo, hi, rng=random):
    return rng.uniform(lo, hi) / 1000.0


def parse_rfc3339(s):
    """Seconds since the epoch of an RFC 3339 UTC string (..Z, optional fraction)."""
    import calendar
    base, _, frac = s.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac else 0.0)


def wait_as_of(read, after_wall, timeout=30.0):
    """Polls read() (a stats doc) until as_of >= after_wall (epoch seconds)
    and the count is the same on two consecutive readings; returns the doc.
    API.md: "as_of: events up to this instant are included"."""
    deadline = time.monotonic() + timeout * TSCALE
    prev = None
    while True:
        doc = read()
        ok = doc["as_of"] is not None and parse_rfc3339(doc["as_of"]) >= after_wall
        if ok and prev is not None and total(prev) == total(doc):
            return doc
        prev = doc if ok else None
        if time.monotonic() >= deadline:
            raise AssertionError(f"as_of did not pass {after_wall:.1f} with a stable count "
                                 f"within {timeout * TSCALE:.0f}s; last stats: {doc}")
        time.sleep(0.3)


FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def faketime_env(when):
    """Environment that runs a child at wall-clock `when` ("YYYY-MM-DD
    HH:MM:SS", UTC), advancing from there: what `faketime -f '@when'` sets,
    without its fork (so signals reach the server itself)."""
    if not os.path.exists(FAKETIME_LIB):
        pytest.skip(f"{FAKETIME_LIB} missing (apt-get install faketime)")
    return {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": "@" + when, "TZ": "UTC",
            "ASAN_OPTIONS": "verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", "")}
