"""POST /links (API.md "Links", FR1): the link object, URL validation, body
validation and the 64 KiB body limit, against the real binary."""

import json
import time
from datetime import datetime, timezone

import pytest

from conftest import PUBLIC_HOST, PUBLIC_URL
from helpers import (KEY_RE, RFC3339_Z, Conn, assert_problem, build_request,
                     create_link, http)

BODY_LIMIT = 64 * 1024  # API.md: API bodies <= 64 KiB
URL_LIMIT = 8000        # API.md: long URLs <= 8,000 bytes
JSON_CT = ("Content-Type", "application/json")


def post_links(port, body, headers=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    with Conn(port) as c:
        c.send_tolerant(build_request("POST", "/links", [JSON_CT] + (headers or []), body))
        return c.read_response()


def parse_rfc3339(s):
    return datetime.strptime(s.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc)


def test_create_returns_link_object(server):
    long_url = "https://example.com/some/path?q=1&r=two#frag"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    r = post_links(server.port, {"long_url": long_url})
    after = datetime.now(timezone.utc)
    assert r.status == 201, r
    assert r.content_type == "application/json", r
    link = r.json()
    key = link["key"]
    assert KEY_RE.match(key), key
    assert r.header("location") == "/links/" + key
    assert link["short_url"] == PUBLIC_URL + "/" + key
    assert link["long_url"] == long_url
    assert RFC3339_Z.match(link["created_at"]), link["created_at"]
    created = parse_rfc3339(link["created_at"])
    assert before.timestamp() - 1 <= created.timestamp() <= after.timestamp() + 1, (
        before, link["created_at"], after)
    assert "expires_at" in link and link["expires_at"] is None
    assert "owner" in link and link["owner"] is None


def test_created_link_redirects_immediately(server):
    # No negative entry, no replication lag: the 302 works on the very next request.
    link = create_link(server.port, "https://example.org/fresh")
    r = http(server.port, "GET", "/" + link["key"])
    assert r.status == 302, r
    assert r.header("location") == "https://example.org/fresh"


def test_keys_are_distinct(server):
    keys = [create_link(server.port, f"https://example.com/d/{i}")["key"] for i in range(30)]
    assert len(set(keys)) == len(keys), keys
    assert all(KEY_RE.match(k) for k in keys)


def test_unknown_fields_are_ignored(server):
    r = post_links(server.port, {"long_url": "https://example.com/u", "utm": {"a": [1, 2]},
                                 "zzz": None})
    assert r.status == 201, r
    assert r.json()["long_url"] == "https://example.com/u"


INVALID_URLS = {
    "ftp": "ftp://example.com/file",
    "javascript": "javascript:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "no-scheme": "example.com/path",
    "no-host": "http://",
    "empty-authority": "http:///path",
    "scheme-only": "https:",
    "userinfo": "http://user:pass@example.com/",
    "userinfo-disguise": "https://bank.example@evil.example/",
    "space-in-host": "http://exa mple.com/",
    "space-in-path": "http://example.com/a b",
    "leading-space": " http://example.com/",
    "tab": "http://example.com/\tx",
    "newline": "http://example.com/\r\nSet-Cookie: x=1",
    "control-char": "http://example.com/\x01",
    "del": "http://example.com/\x7f",
    "too-long": "https://example.com/" + "a" * (URL_LIMIT - len("https://example.com/") + 1),
    "self-host": f"http://{PUBLIC_HOST}/abc",
    "self-host-case-port": f"HTTPS://{PUBLIC_HOST.upper()}:8443/abc",
    "self-host-trailing-dot": f"http://{PUBLIC_HOST}./abc",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(INVALID_URLS))
def test_invalid_url_is_400(server, name):
    r = post_links(server.port, {"long_url": INVALID_URLS[name]})
    assert_problem(r, 400, "invalid-url")


def test_invalid_url_nul(server):
    # "\u0000" inside a JSON string: a JSON library may refuse it before URL
    # validation runs, so any problem slug will do, as long as it is a 400.
    r = post_links(server.port, {"long_url": "http://example.com/\x00"})
    assert_problem(r, 400)


def test_invalid_url_raw_utf8(server):
    # url.h: raw bytes >= 0x80 are refused (clients percent-encode / punycode).
    r = post_links(server.port, '{"long_url": "https://example.com/caf\u00e9"}'.encode())
    assert_problem(r, 400, "invalid-url")


def test_url_length_boundary(server):
    prefix = "https://example.com/"
    exact = prefix + "b" * (URL_LIMIT - len(prefix))
    assert len(exact) == URL_LIMIT
    link = create_link(server.port, exact)
    assert link["long_url"] == exact
    r = http(server.port, "GET", "/" + link["key"])
    assert r.status == 302 and r.header("location") == exact


@pytest.mark.parametrize("body", [
    b"not json",
    b"{",
    b'{"long_url": "https://example.com/x"',
    b"[]",
    b'"https://example.com/"',
    b"null",
    b"{}",
    b'{"url": "https://example.com/"}',
    b'{"long_url": 5}',
    b'{"long_url": null}',
    b'{"long_url": ["https://example.com/"]}',
    b'{"long_url": {"href": "https://example.com/"}}',
    b'{"long_url": true}',
], ids=lambda b: b.decode()[:30])
def test_bad_body_is_400(server, body):
    r = post_links(server.port, body)
    assert_problem(r, 400)


def test_empty_body_is_400(server):
    with Conn(server.port) as c:
        r = c.request("POST", "/links", [JSON_CT, ("Content-Length", "0")])
    assert_problem(r, 400)


def test_bad_body_creates_nothing(server):
    # A 400 changes nothing: the next good create still works and nothing
    # half-created shows up as a 5xx later.
    post_links(server.port, b'{"long_url": 5}')
    assert create_link(server.port, "https://example.com/after-bad")["key"]


def padded_body(total):
    """A valid create body of exactly `total` bytes (padding in an unknown field)."""
    base = {"long_url": "https://example.com/padded", "pad": ""}
    n = total - len(json.dumps(base).encode())
    assert n >= 0
    base["pad"] = "p" * n
    body = json.dumps(base).encode()
    assert len(body) == total
    return body


def test_body_at_limit_is_accepted(server):
    r = post_links(server.port, padded_body(BODY_LIMIT))
    assert r.status == 201, r


def test_body_over_limit_is_413(server):
    r = post_links(server.port, padded_body(BODY_LIMIT + 1))
    assert r.status == 413, r
    assert r.content_type == "application/problem+json", r


def test_declared_huge_body_refused_without_reading_it(server):
    # Content-Length of 10 MB, no body sent: the server must answer 413 from
    # the header alone, not wait for (or buffer) the body.
    with Conn(server.port) as c:
        c.send(build_request("POST", "/links", [JSON_CT, ("Content-Length", str(10 << 20))]))
        t0 = time.monotonic()
        r = c.read_response(timeout=3)
        assert r.status == 413, r
        assert time.monotonic() - t0 < 3


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def test_chunked_body_is_accepted(server):
    # RFC 9112 6.1: every HTTP/1.1 recipient must parse chunked bodies.
    body = json.dumps({"long_url": "https://example.com/chunked"}).encode()
    with Conn(server.port) as c:
        c.send(build_request("POST", "/links", [JSON_CT, ("Transfer-Encoding", "chunked")],
                             chunked(body, 7), content_length=False))
        r = c.read_response()
    assert r.status == 201, r
    assert r.json()["long_url"] == "https://example.com/chunked"


def test_chunked_body_over_limit_is_413(server):
    body = padded_body(BODY_LIMIT + 100)
    with Conn(server.port) as c:
        c.send_tolerant(build_request("POST", "/links",
                                      [JSON_CT, ("Transfer-Encoding", "chunked")],
                                      chunked(body, 4096), content_length=False))
        r = c.read_response()
    assert r.status == 413, r


def test_anonymous_create_off_requires_credentials(server_factory):
    s = server_factory.start(opts={"anonymous_create": "off"})
    r = post_links(s.port, {"long_url": "https://example.com/anon"})
    assert_problem(r, 401, "unauthorized")


def test_anonymous_create_rate_limited(server_factory):
    # API.md: 429 rate-limited with Retry-After (seconds). A tiny refill rate
    # makes the burst the whole allowance during this test.
    burst = 3
    s = server_factory.start(opts={"anon_create_rate": 0.001, "anon_create_burst": burst})
    keys = []
    for i in range(burst):
        r = post_links(s.port, {"long_url": f"https://example.com/rl/{i}"})
        assert r.status == 201, r
        keys.append(r.json()["key"])
    r = post_links(s.port, {"long_url": "https://example.com/rl/over"})
    assert_problem(r, 429, "rate-limited")
    ra = r.header("retry-after")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, r
    # Redirects are not limited by the create limiter.
    for _ in range(2 * burst):
        assert http(s.port, "GET", "/" + keys[0]).status == 302
