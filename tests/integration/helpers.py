"""Raw-socket HTTP/1.1 helpers for the WarpLink integration tests.

`requests` hides exactly what the protocol tests must see (byte-exact headers,
pipelining, what the server does to a connection after an error), so these
helpers speak HTTP over a plain socket:

  Conn            one TCP connection with its own read buffer;
  Conn.request()  send one request and read its response;
  Conn.read_response()  parse one response (Content-Length, chunked, or
                  read-to-close), honouring HEAD and 1xx/204/304 (no body);
  Conn.wait_closed()    bounded wait for the server to close (EOF or RST);
  build_request() the bytes of a request, with full control over framing.

Plus small helpers for the JSON API (create_link) and for the Prometheus text
format (parse_metrics / metric_value / metric_sum).

Every wait here is bounded by an explicit timeout: a server that hangs makes
a test fail, never hang.
"""

import errno
import json
import re
import select
import socket
import time

DEFAULT_TIMEOUT = 5.0

# RFC 3339 UTC with a literal Z, optional fraction (API.md, "Conventions").
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
KEY_RE = re.compile(r"^[0-9A-Za-z]{7}$")


class ConnectionClosed(Exception):
    """The server closed the connection before a complete response arrived."""

    def __init__(self, msg, partial=b""):
        super().__init__(msg)
        self.partial = partial


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.raw_head = raw_head

    def header_all(self, name):
        name = name.lower()
        return [v for (k, v) in self.headers if k.lower() == name]

    def header(self, name):
        """The single value of header `name`, or None. Fails on duplicates:
        a response with two Location or Content-Type headers is a bug."""
        vals = self.header_all(name)
        assert len(vals) <= 1, f"duplicate {name} headers: {vals!r}"
        return vals[0] if vals else None

    @property
    def content_type(self):
        ct = self.header("content-type")
        return ct.split(";")[0].strip().lower() if ct else None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return (f"<Response {self.version} {self.status} {self.reason!r} "
                f"headers={self.headers!r} body={self.body[:200]!r}>")


def build_request(method, target, headers=None, body=b"", version="HTTP/1.1",
                  host="127.0.0.1", content_length=True):
    """Bytes of one request. `headers` is a list of (name, value) pairs or raw
    lines (str/bytes without CRLF), sent in order and verbatim. A Host header
    is added first unless host is None; Content-Length is added for a
    non-empty body unless content_length is False."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {target} {version}".encode()]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    for h in headers or []:
        if isinstance(h, tuple):
            k, v = h
            k = k.encode() if isinstance(k, str) else k
            v = v.encode() if isinstance(v, str) else v
            lines.append(k + b": " + v)
        else:
            lines.append(h.encode() if isinstance(h, str) else h)
    if body and content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending -----------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send_tolerant(self, data, timeout=DEFAULT_TIMEOUT):
        """Send while also reading, so a server that answers early (413, 400)
        and closes cannot deadlock us or make us lose its answer to a reset.
        Stops sending quietly on EPIPE/ECONNRESET. Returns bytes sent."""
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        sent = 0
        deadline = time.monotonic() + timeout
        self.sock.setblocking(False)
        try:
            while sent < len(data):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, w, _ = select.select([self.sock], [self.sock], [], left)
                if r and not self.eof:
                    self._recv_nb()
                    if self.eof:
                        break
                if w:
                    try:
                        sent += self.sock.send(view[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        break
        finally:
            self.sock.setblocking(True)
        return sent

    # -- receiving ---------------------------------------------------------
    def _recv_nb(self):
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self.eof = True
            return
        if not chunk:
            self.eof = True
        self.buf += chunk

    def _fill(self, deadline):
        """Read more bytes into buf; False on EOF/reset. TimeoutError when the
        deadline passes with nothing new."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out waiting for the server")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server") from None
        except ConnectionResetError:
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker, deadline):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                return i
            if not self._fill(deadline):
                raise ConnectionClosed(
                    f"connection closed before {marker!r}", bytes(self.buf))

    def _take(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosed(
                    f"connection closed with {len(self.buf)} of {n} body bytes",
                    bytes(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_response(self, method="GET", timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            end = self._read_until(b"\r\n\r\n", deadline)
            head = bytes(self.buf[:end])
            del self.buf[:end + 4]
            lines = head.split(b"\r\n")
            m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
            assert m, f"malformed status line {lines[0]!r}"
            version = m.group(1).decode()
            status = int(m.group(2))
            reason = (m.group(3) or b"").decode("latin-1")
            headers = []
            for ln in lines[1:]:
                assert b":" in ln, f"malformed response header line {ln!r}"
                k, v = ln.split(b":", 1)
                assert k == k.strip() and k, f"bad response header name {k!r}"
                headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
            resp = Response(version, status, reason, headers, b"", head)
            if 100 <= status < 200:
                continue  # interim response; the final one follows
            break
        if method.upper() == "HEAD" or status in (204, 304):
            return resp
        te = resp.header("transfer-encoding")
        cl = resp.header("content-length")
        if te is not None:
            assert te.lower() == "chunked", f"unexpected Transfer-Encoding {te!r}"
            assert cl is None, "response has both Content-Length and Transfer-Encoding"
            body = bytearray()
            while True:
                i = self._read_until(b"\r\n", deadline)
                size = int(bytes(self.buf[:i]).split(b";")[0], 16)
                del self.buf[:i + 2]
                if size == 0:
                    self._read_until(b"\r\n", deadline)  # no trailers expected
                    j = self.buf.find(b"\r\n")
                    del self.buf[:j + 2]
                    break
                body += self._take(size, deadline)
                assert self._take(2, deadline) == b"\r\n", "bad chunk terminator"
            resp.body = bytes(body)
        elif cl is not None:
            assert re.fullmatch(r"\d+", cl), f"bad response Content-Length {cl!r}"
            resp.body = self._take(int(cl), deadline)
        else:
            # Delimited by close (HTTP/1.0 style).
            while self._fill(deadline):
                pass
            resp.body = bytes(self.buf)
            self.buf.clear()
        return resp

    def request(self, method, target, headers=None, body=b"", timeout=DEFAULT_TIMEOUT,
                **kw):
        self.send(build_request(method, target, headers, body, **kw))
        return self.read_response(method, timeout)

    def wait_closed(self, timeout):
        """Wait up to `timeout` s for the server to close this connection.
        Returns True on EOF/RST. Bytes that arrive meanwhile stay in buf
        (e.g. a 408 sent before the close)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not self._fill(deadline):
                    return True
            except TimeoutError:
                return False

    def no_data_within(self, timeout):
        """True when nothing arrives (and no close) within `timeout` s."""
        if self.buf or self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], timeout)
        return not r


def http(port, method, target, headers=None, body=b"", timeout=DEFAULT_TIMEOUT, **kw):
    """One request on a fresh connection; returns the Response."""
    with Conn(port, timeout=timeout) as c:
        return c.request(method, target, headers, body, timeout=timeout, **kw)


def assert_problem(resp, status, slug=None):
    """Assert an RFC 7807 problem+json answer (API.md, "Conventions")."""
    assert resp.status == status, resp
    assert resp.content_type == "application/problem+json", resp
    p = resp.json()
    assert isinstance(p, dict), p
    assert isinstance(p.get("type"), str) and p["type"].startswith("/problems/"), p
    if slug is not None:
        assert p["type"] == "/problems/" + slug, p
    assert p.get("status") == status, p
    assert isinstance(p.get("title"), str) and p["title"], p
    assert isinstance(p.get("detail"), str), p
    return p


def create_link(port, long_url, extra=None, headers=None):
    """POST /links and assert 201; returns the link object."""
    doc = {"long_url": long_url}
    if extra:
        doc.update(extra)
    body = json.dumps(doc).encode()
    r = http(port, "POST", "/links",
             [("Content-Type", "application/json")] + list(headers or []), body)
    assert r.status == 201, f"create {long_url[:80]!r}: {r!r}"
    return r.json()


def get_redirect(conn_or_port, key, method="GET", headers=None):
    if isinstance(conn_or_port, Conn):
        return conn_or_port.request(method, "/" + key, headers)
    return http(conn_or_port, method, "/" + key, headers)


# -- Prometheus text exposition -------------------------------------------
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(text):
    """{(name, frozenset(labels.items())): float}. Fails on malformed lines,
    so an invalid exposition is caught too."""
    out = {}
    for ln in text.splitlines():
        if not ln.strip() or ln.startswith("#"):
            continue
        m = _SAMPLE.match(ln)
        assert m, f"malformed metrics line {ln!r}"
        labels = {}
        if m.group(3):
            rest = m.group(3)
            pos = 0
            while pos < len(rest):
                lm = _LABEL.match(rest, pos)
                assert lm, f"malformed labels in {ln!r}"
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        key = (m.group(1), frozenset(labels.items()))
        assert key not in out, f"duplicate sample {ln!r}"
        out[key] = float(m.group(4))
    return out


def metric_value(samples, name, **labels):
    """Value of the sample with exactly these labels, or None."""
    return samples.get((name, frozenset(labels.items())))


def metric_sum(samples, name, **labels):
    """Sum of all samples of `name` whose labels include `labels`; None when
    there is no such sample at all."""
    want = set(labels.items())
    vals = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    return sum(vals) if vals else None


def poll(predicate, timeout, interval=0.02):
    """Bounded polling: call predicate() until truthy or timeout; returns its
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def connect_outcome(port, request=b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3.0):
    """Try one connection + request. Returns ('refused', None), ('closed', None)
    (EOF/RST without a response), ('response', Response) or ('timeout', None)."""
    try:
        c = Conn(port, timeout=timeout)
    except ConnectionRefusedError:
        return "refused", None
    except OSError as e:
        if e.errno in (errno.ECONNREFUSED, errno.ECONNRESET):
            return "refused", None
        raise
    with c:
        try:
            c.send(request)
        except (BrokenPipeError, ConnectionResetError):
            return "closed", None
        try:
            return "response", c.read_response(timeout=timeout)
        except ConnectionClosed as e:
            return ("closed", None) if not e.partial else ("truncated-response", e.partial)
        except TimeoutError:
            return "timeout", None
