"""Helpers for the auth / authorization / rate-limit integration tests.

Servers are started with the fixtures of conftest.py (server_factory,
module_factory: the real binary, `--listen 127.0.0.1:0`, ready line on
stderr, SIGTERM -> exit 0 checked at teardown). conftest's defaults lift the
anonymous-create limit; the rate-limit tests pass their own values.

HTTP goes through `requests` with trust_env=False, so a developer's proxy
variables can never route 127.0.0.1 traffic elsewhere. Every request has a
timeout: a hung server fails a test, it never hangs it.

JWT minting (mint_jwt) uses only hmac + hashlib + base64 so a token can be
forged exactly as an attacker (or a test holding the real secret) would.
"""

import base64
import hashlib
import hmac
import itertools
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import requests

from conftest import child_env, warplink_bin

TIMEOUT = 10.0
JSON_CT = "application/json"
PROBLEM_CT = "application/problem+json"
PASSWORD = "correct horse battery staple"

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def unique(prefix="u"):
    """A name unique within this test run (and across runs: pid + time)."""
    with _counter_lock:
        n = next(_counter)
    return f"{prefix}{os.getpid()}x{int(time.time() * 1000) % 10**8}x{n}"


def unique_email(prefix="user"):
    return unique(prefix) + "@example.com"


def session():
    s = requests.Session()
    s.trust_env = False
    return s


class Api:
    """Thin JSON client for one server. All methods return requests.Response."""

    def __init__(self, server):
        self.server = server
        self.base = server.base
        self.s = session()

    def req(self, method, path, body=None, token=None, api_key=None, headers=None,
            raw=None, allow_redirects=False):
        h = {}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if api_key is not None:
            h["x-api-key"] = api_key
        if headers:
            h.update(headers)
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", JSON_CT)
        return self.s.request(method, self.base + path, data=data, headers=h,
                              timeout=TIMEOUT, allow_redirects=allow_redirects)

    # -- accounts ----------------------------------------------------------
    def register(self, email, password=PASSWORD, **kw):
        return self.req("POST", "/auth/register", {"email": email, "password": password}, **kw)

    def login(self, email, password=PASSWORD, **kw):
        return self.req("POST", "/auth/login", {"email": email, "password": password}, **kw)

    def new_user(self, prefix="user", password=PASSWORD):
        """Registers and logs in a fresh user; returns a User."""
        email = unique_email(prefix)
        r = self.register(email, password)
        assert r.status_code == 201, (r.status_code, r.text)
        uid = r.json()["user_id"]
        r = self.login(email, password)
        assert r.status_code == 200, (r.status_code, r.text)
        return User(email, password, uid, r.json()["access_token"])

    # -- links ---------------------------------------------------------------
    def create(self, long_url, **kw):
        return self.req("POST", "/links", {"long_url": long_url}, **kw)

    def custom(self, long_url, alias, **kw):
        return self.req("POST", "/links/custom", {"long_url": long_url, "custom_alias": alias},
                        **kw)

    def shorten(self, long_url, alias=None, **kw):
        body = {"long_url": long_url}
        if alias is not None:
            body["custom_alias"] = alias
        return self.req("POST", "/v1/shorten", body, **kw)

    def redirect(self, key, **kw):
        return self.req("GET", "/" + key, **kw)

    def list_all(self, **kw):
        """Every item of GET /links, following next_cursor (bounded)."""
        items, cursor = [], None
        for _ in range(1000):
            path = "/links?limit=200" + (f"&cursor={cursor}" if cursor else "")
            r = self.req("GET", path, **kw)
            assert r.status_code == 200, (r.status_code, r.text)
            doc = r.json()
            items += doc["items"]
            cursor = doc["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("GET /links pagination did not end")

    # -- api keys ------------------------------------------------------------
    def create_key(self, token, name="ci"):
        return self.req("POST", "/user/api-keys", {"name": name}, token=token)

    def list_keys(self, token, **kw):
        return self.req("GET", "/user/api-keys", token=token, **kw)

    def revoke_key(self, token, key_id):
        return self.req("DELETE", f"/user/api-keys/{key_id}", token=token)


class User:
    def __init__(self, email, password, user_id, token):
        self.email = email
        self.password = password
        self.user_id = user_id
        self.token = token

    def __repr__(self):
        return f"<User {self.email} id={self.user_id}>"


def long_url(tag=None):
    return f"https://example.com/{tag or unique('p')}"


def assert_problem(r, status, slug=None):
    """RFC 7807 answer (API.md "Conventions"); returns the parsed body."""
    assert r.status_code == status, (r.status_code, r.headers, r.text)
    ct = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    assert ct == PROBLEM_CT, (ct, r.text)
    p = r.json()
    assert isinstance(p, dict), p
    assert isinstance(p.get("type"), str) and p["type"].startswith("/problems/"), p
    if slug is not None:
        assert p["type"] == "/problems/" + slug, p
    assert p.get("status") == status, p
    assert isinstance(p.get("title"), str) and p["title"], p
    return p


def assert_unauthorized(r):
    return assert_problem(r, 401, "unauthorized")


def assert_rate_limited(r):
    """429 rate-limited with an integer Retry-After >= 1 (seconds); returns it."""
    assert_problem(r, 429, "rate-limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None, r.headers
    assert ra.isdigit(), f"Retry-After must be an integer number of seconds: {ra!r}"
    assert int(ra) >= 1, ra
    return int(ra)


def assert_link(doc, long_url_=None, owner="self"):
    for f in ("key", "short_url", "long_url", "created_at", "expires_at", "owner"):
        assert f in doc, (f, doc)
    if long_url_ is not None:
        assert doc["long_url"] == long_url_, doc
    assert doc["owner"] == owner, doc
    assert doc["short_url"].endswith("/" + doc["key"]), doc


def poll(predicate, timeout, interval=0.05):
    """Bounded polling for a condition; returns predicate's last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# -- JWT ----------------------------------------------------------------------
def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def read_jwt_keys(data_dir):
    """[(kid, secret bytes)] from DATA_DIR/jwt.key, in file order (first signs)."""
    out = []
    for ln in (Path(data_dir) / "jwt.key").read_text().splitlines():
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        kid, secret = ln.split()
        out.append((kid, b64url_decode(secret)))
    assert out, "jwt.key holds no key"
    return out


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


def mint_jwt(secret, header, payload, alg="HS256"):
    """header/payload: dicts. alg picks the MAC (HS256/HS384/HS512) or 'none'
    (empty signature). The header's "alg" is whatever the dict says."""
    signing_input = b64url(json.dumps(header, separators=(",", ":"))) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")))
    if alg == "none":
        return signing_input + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
              "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret, signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(sig)


# -- CLI ------------------------------------------------------------------------
def cli(args, data_dir, stdin=None, timeout=30):
    """Runs `warplink ARGS --data-dir D` (scrubbed env); returns CompletedProcess."""
    return subprocess.run([warplink_bin()] + list(args) + ["--data-dir", str(data_dir)],
                          env=child_env(), input=stdin, capture_output=True,
                          encoding="utf-8", errors="replace", timeout=timeout)


def run_threads(fn, args_list):
    """Runs fn(*args) in one thread per entry, released together by a barrier;
    returns results in order (exceptions are re-raised)."""
    barrier = threading.Barrier(len(args_list))
    results = [None] * len(args_list)
    errors = []

    def work(i, args):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 3)
    assert not any(t.is_alive() for t in threads), "worker threads did not finish"
    if errors:
        raise errors[0]
    return results
