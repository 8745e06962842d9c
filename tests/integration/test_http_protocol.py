"""HTTP/1.1 protocol behaviour of `warplink serve`: keep-alive, pipelining,
header limits, request smuggling defences, slow clients, timeouts and the
connection limit. Raw sockets throughout (helpers.Conn)."""

import time

import pytest

from conftest import report_figure
from helpers import (Conn, assert_problem, build_request,
                     connect_outcome, create_link, http, poll)

HEAD_LIMIT = 8 * 1024  # API.md: request line + headers <= 8 KiB, else 431
CLOSE_WAIT = 3.0       # how long the server may take to close after an error


@pytest.fixture(scope="module")
def keys(server):
    """50 links with distinct long URLs, index -> (key, url)."""
    out = []
    for i in range(50):
        url = f"https://example.com/pipe/{i}"
        out.append((create_link(server.port, url)["key"], url))
    return out


def assert_closed_after(c, what):
    assert c.wait_closed(CLOSE_WAIT), f"connection still open {CLOSE_WAIT}s after {what}"


# -- keep-alive and pipelining ----------------------------------------------
def test_keep_alive_serves_many_requests(server, keys):
    with Conn(server.port) as c:
        for key, url in keys[:10]:
            r = c.request("GET", "/" + key)
            assert r.status == 302 and r.header("location") == url, r
            assert (r.header("connection") or "").lower() != "close"
        assert c.request("GET", "/healthz").status == 200


def test_pipelining_50_in_order(server, keys):
    burst = b"".join(build_request("GET", "/" + k) for k, _ in keys)
    with Conn(server.port) as c:
        t0 = time.monotonic()
        c.send(burst)  # one sendall: the server sees them back to back
        got = [c.read_response() for _ in keys]
        elapsed = time.monotonic() - t0
        assert c.no_data_within(0.2), "extra bytes after the 50 responses"
    for (key, url), r in zip(keys, got):
        assert r.status == 302, (key, r)
        assert r.header("location") == url, (key, r)
    report_figure("pipelined 50 redirects on one connection", f"{elapsed * 1000:.1f} ms")


def test_pipelining_mixed_methods_and_errors(server, keys):
    # GET, HEAD, 404 and healthz interleaved: bodies and no-bodies must line up.
    reqs = [("GET", "/" + keys[0][0]), ("HEAD", "/" + keys[1][0]), ("GET", "/zzzzzzz0"),
            ("HEAD", "/zzzzzzz1"), ("GET", "/healthz"), ("GET", "/" + keys[2][0])]
    with Conn(server.port) as c:
        c.send(b"".join(build_request(m, p) for m, p in reqs))
        got = [c.read_response(m) for m, _ in reqs]
    assert [r.status for r in got] == [302, 302, 404, 404, 200, 302], got
    assert got[0].header("location") == keys[0][1]
    assert got[1].header("location") == keys[1][1]
    assert got[5].header("location") == keys[2][1]


def test_request_split_across_packets(server, keys):
    key, url = keys[3]
    raw = build_request("GET", "/" + key, [("User-Agent", "split-test")])
    cuts = [0, 3, 9, len(raw) // 2, len(raw) - 1, len(raw)]
    with Conn(server.port) as c:
        for a, b in zip(cuts, cuts[1:]):
            if a > 0:
                assert c.no_data_within(0.05), "answered an incomplete request"
            c.send(raw[a:b])
        r = c.read_response()
    assert r.status == 302 and r.header("location") == url


def test_http10_gets_response_and_close(server, keys):
    key, url = keys[4]
    with Conn(server.port) as c:
        r = c.request("GET", "/" + key, version="HTTP/1.0", host=None)
        assert r.status == 302 and r.header("location") == url, r
        assert_closed_after(c, "an HTTP/1.0 response without keep-alive")


def test_http10_keep_alive_when_asked(server, keys):
    with Conn(server.port) as c:
        for key, url in keys[5:8]:
            r = c.request("GET", "/" + key, [("Connection", "keep-alive")],
                          version="HTTP/1.0", host=None)
            assert r.status == 302 and r.header("location") == url, r
            assert (r.header("connection") or "").lower() == "keep-alive", r


def test_connection_close_honoured(server, keys):
    with Conn(server.port) as c:
        r = c.request("GET", "/" + keys[8][0], [("Connection", "close")])
        assert r.status == 302
        assert_closed_after(c, "Connection: close")


def test_http11_without_host_is_400(server):
    # RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
    with Conn(server.port) as c:
        r = c.request("GET", "/healthz", host=None)
        assert r.status == 400, r
        assert_closed_after(c, "400")


# -- limits -----------------------------------------------------------------
def head_of_size(total, target="/healthz"):
    """A GET whose request line + headers + final CRLF is exactly `total` bytes."""
    base = build_request("GET", target, [("X-Pad", "")])
    pad = total - len(base)
    assert pad >= 0
    raw = build_request("GET", target, [("X-Pad", "p" * pad)])
    assert len(raw) == total
    return raw


def test_headers_under_limit_accepted(server):
    with Conn(server.port) as c:
        c.send(head_of_size(HEAD_LIMIT - 256))
        assert c.read_response().status == 200


@pytest.mark.parametrize("shape", ["one-big-header", "many-headers", "long-target"])
def test_headers_over_limit_431(server, shape):
    if shape == "one-big-header":
        raw = head_of_size(HEAD_LIMIT + 256)
    elif shape == "many-headers":
        raw = build_request("GET", "/healthz",
                            [(f"X-H{i}", "v" * 60) for i in range(HEAD_LIMIT // 60 + 10)])
    else:
        raw = build_request("GET", "/" + "k" * (HEAD_LIMIT + 256))
    assert len(raw) > HEAD_LIMIT
    with Conn(server.port) as c:
        c.send_tolerant(raw)
        r = c.read_response()
    assert r.status == 431, r


def test_endless_header_stream_is_cut_off(server):
    # A client that never ends its headers must get 431 after ~8 KiB, not
    # make the server buffer without bound.
    with Conn(server.port) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Endless: " + b"e" * 100 + b"\r\n"
        c.send_tolerant(line * (4 * HEAD_LIMIT // len(line)))
        r = c.read_response()
        assert r.status == 431, r


# -- smuggling and malformed framing: 400, then close -----------------------
FOLLOW_UP = build_request("GET", "/healthz")

BAD_REQUESTS = {
    "cl-and-te": build_request("POST", "/links", [("Content-Length", "5"),
                                                 ("Transfer-Encoding", "chunked")],
                               b"0\r\n\r\n", content_length=False),
    "te-and-cl": build_request("POST", "/links", [("Transfer-Encoding", "chunked"),
                                                 ("Content-Length", "5")],
                               b"0\r\n\r\n", content_length=False),
    "two-different-cl": build_request("POST", "/links", [("Content-Length", "2"),
                                                        ("Content-Length", "4")],
                                      b"{}{}", content_length=False),
    "two-identical-cl": build_request("POST", "/links", [("Content-Length", "2"),
                                                        ("Content-Length", "2")],
                                      b"{}", content_length=False),
    "cl-list": build_request("POST", "/links", [("Content-Length", "2, 2")], b"{}",
                             content_length=False),
    "cl-abc": build_request("POST", "/links", [("Content-Length", "abc")]),
    "cl-negative": build_request("POST", "/links", [("Content-Length", "-1")]),
    "cl-two-numbers": build_request("POST", "/links", [("Content-Length", "1 2")]),
    "cl-plus": build_request("POST", "/links", [("Content-Length", "+2")], b"{}",
                             content_length=False),
    "cl-hex": build_request("POST", "/links", [("Content-Length", "0x2")], b"{}",
                            content_length=False),
    "cl-empty": build_request("POST", "/links", [b"Content-Length:"]),
    "cl-overflow": build_request("POST", "/links",
                                 [("Content-Length", "18446744073709551617")]),
    "te-unknown": build_request("POST", "/links", [("Transfer-Encoding", "xchunked")],
                                b"{}", content_length=False),
    "te-chunked-not-last": build_request("POST", "/links",
                                         [("Transfer-Encoding", "chunked, identity")],
                                         b"0\r\n\r\n", content_length=False),
    "bad-chunk-size": build_request("POST", "/links", [("Transfer-Encoding", "chunked")],
                                    b"zz\r\n{}\r\n0\r\n\r\n", content_length=False),
    "obs-fold-space": build_request("GET", "/healthz", [("X-A", "one"), b" folded"]),
    "obs-fold-tab": build_request("GET", "/healthz", [("X-A", "one"), b"\tfolded"]),
    "space-before-colon": build_request("GET", "/healthz", [b"X-Bad : v"]),
    "space-in-name": build_request("GET", "/healthz", [b"X Bad: v"]),
    "nul-in-name": build_request("GET", "/healthz", [b"X-\x00Bad: v"]),
    "no-colon": build_request("GET", "/healthz", [b"NoColonHere"]),
    "empty-name": build_request("GET", "/healthz", [b": v"]),
    "garbage-request-line": b"GARBAGE\r\n\r\n",
    "bad-version": b"GET /healthz HTTP/1.x\r\nHost: x\r\n\r\n",
    "two-hosts": build_request("GET", "/healthz", [("Host", "other")]),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_malformed_request_400_and_close(server, name):
    with Conn(server.port) as c:
        c.send_tolerant(BAD_REQUESTS[name] + FOLLOW_UP)
        r = c.read_response()
        # RFC 9112 6.1: an unknown transfer coding may get 501 instead.
        assert r.status in ({400, 501} if name == "te-unknown" else {400}), r
        # The follow-up request must NOT be answered: after a framing error
        # the stream cannot be trusted, so the server closes instead.
        assert_closed_after(c, f"400 for {name}")
        assert not c.buf, f"bytes after the 400: {bytes(c.buf)[:200]!r}"


def test_server_survives_malformed_requests(server, keys):
    # After everything above (and regardless of test order), still serving.
    assert http(server.port, "GET", "/" + keys[9][0]).header("location") == keys[9][1]


# -- methods ----------------------------------------------------------------
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_disallowed_method_on_key_405(server, keys, method):
    with Conn(server.port) as c:
        r = c.request(method, "/" + keys[10][0], [("Content-Length", "0")])
    assert_problem(r, 405)
    allow = {m.strip().upper() for m in (r.header("allow") or "").split(",")}
    assert {"GET", "HEAD"} <= allow, r


def test_unknown_method_405_or_501(server, keys):
    with Conn(server.port) as c:
        r = c.request("BREW", "/" + keys[10][0])
    assert r.status in (405, 501), r
    assert_problem(r, r.status)
    if r.status == 405:
        assert r.header("allow"), "405 without Allow (RFC 9110 15.5.6)"


# -- slow clients and timeouts ----------------------------------------------
@pytest.fixture(scope="module")
def fast_timeouts(module_factory):
    """A server with 1 s header and idle timeouts."""
    return module_factory.start(opts={"header_timeout": 1, "idle_timeout": 1})


def test_slow_client_does_not_block_others_and_is_cut(fast_timeouts):
    s = fast_timeouts
    slow = Conn(s.port)
    try:
        slow.send(b"GET /healthz HT")  # never finished
        t0 = time.monotonic()
        lat = []
        for _ in range(20):
            a = time.monotonic()
            r = http(s.port, "GET", "/healthz")
            lat.append(time.monotonic() - a)
            assert r.status == 200
        assert max(lat) < 1.0, f"other clients stalled by a slow one: max {max(lat):.3f}s"
        closed = slow.wait_closed(4.0 - (time.monotonic() - t0))
        took = time.monotonic() - t0
        assert closed, "slow client still connected 4 s after a 1 s header timeout"
        assert took >= 0.5, f"closed after {took:.2f}s, before the 1 s header timeout"
        if slow.buf:
            assert slow.buf.startswith(b"HTTP/1.1 408") or slow.buf.startswith(b"HTTP/1.0 408"), \
                bytes(slow.buf[:100])
        report_figure("header-timeout 1 s: partial request closed after", f"{took:.2f} s")
        report_figure("latency of others meanwhile (max of 20)", f"{max(lat) * 1000:.1f} ms")
    finally:
        slow.close()


def test_trickling_headers_are_cut_by_header_timeout(fast_timeouts):
    # Slowloris: one header byte every 100 ms keeps the socket busy but the
    # header timeout bounds the whole header phase, not the gap between bytes.
    with Conn(fast_timeouts.port) as c:
        c.send(b"GET /healthz HTTP/1.1\r\n")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 4.0:
            try:
                c.send(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if not c.no_data_within(0.1):  # the loop's pacing; also sees EOF/408
                closed = c.wait_closed(1.0)
                break
        took = time.monotonic() - t0
        assert closed, "trickling client survived 4 s with a 1 s header timeout"
        assert took < 3.0, f"trickling client cut only after {took:.2f}s"


def test_silent_connection_is_closed(fast_timeouts):
    with Conn(fast_timeouts.port) as c:
        t0 = time.monotonic()
        assert c.wait_closed(3.0), "connection that never sent a byte still open after 3 s"
        assert time.monotonic() - t0 >= 0.5


def test_idle_keep_alive_closed_after_idle_timeout(fast_timeouts):
    with Conn(fast_timeouts.port) as c:
        assert c.request("GET", "/healthz").status == 200
        t0 = time.monotonic()
        assert c.wait_closed(3.0), "idle keep-alive connection still open 3 s after 1 s idle timeout"
        took = time.monotonic() - t0
        assert took >= 0.5, f"closed after {took:.2f}s, before the idle timeout"
        if c.buf:  # a 408 before an idle close is allowed, nothing else
            assert bytes(c.buf[:12]) in (b"HTTP/1.1 408", b"HTTP/1.0 408"), bytes(c.buf[:100])
        report_figure("idle-timeout 1 s: keep-alive connection closed after", f"{took:.2f} s")


def test_active_connection_not_cut_by_idle_timeout(fast_timeouts):
    # Requests every 0.3 s for 2.5 s on one connection: never idle for 1 s.
    with Conn(fast_timeouts.port) as c:
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 2.5:
            assert c.request("GET", "/healthz").status == 200
            n += 1
            assert c.no_data_within(0.3)  # pacing; also proves no stray close
        assert n >= 5


# -- connection limit -------------------------------------------------------
def test_max_connections(server_factory):
    s = server_factory.start(opts={"max_connections": 5})
    held = [Conn(s.port) for _ in range(5)]
    try:
        for c in held:  # each is accepted and served, and stays open
            assert c.request("GET", "/healthz").status == 200
        outcomes = [connect_outcome(s.port, timeout=3.0) for _ in range(3)]
        for kind, resp in outcomes:
            ok = kind in ("refused", "closed") or (kind == "response" and resp.status == 503)
            assert ok, f"connection over the limit got {kind} {resp!r}"
        for c in held:  # the first five still work
            assert c.request("GET", "/healthz").status == 200
        held.pop().close()

        def served():
            kind, resp = connect_outcome(s.port, timeout=1.0)
            return kind == "response" and resp.status == 200
        assert poll(served, 3.0), "a freed slot was not reusable within 3 s"
    finally:
        for c in held:
            c.close()
