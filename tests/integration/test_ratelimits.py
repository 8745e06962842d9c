"""Rate limits (API.md: 429 `rate-limited` + Retry-After in seconds):
failed logins per client IP (successes free), anonymous creation per client
IP, requests per API key; X-Forwarded-For only from --trusted-proxies; and
--anonymous-create off.

Token-bucket arithmetic instead of tuned numbers: with burst B and rate R,
a client that started with a full bucket and has been going for T seconds
has had at most B + R*T allowed requests, and at least B. Each test measures
T and checks both bounds, so a slow machine cannot make it flaky."""

import math
import time

from authutil import (PASSWORD, Api, assert_problem, assert_rate_limited, assert_unauthorized,
                      long_url, poll, unique_email)
from conftest import report_figure

NO_LOGIN_LIMIT = {"login_rate": 100000, "login_burst": 100000}


def drain(send, ok_status, burst, rate, max_extra=50):
    """Calls send() until a 429; checks that only ok_status came before, and
    that their number is within the token-bucket bounds. Returns the 429."""
    t0 = time.monotonic()
    allowed = 0
    for _ in range(burst + max_extra):
        r = send()
        if r.status_code == 429:
            elapsed = time.monotonic() - t0
            assert allowed >= burst, f"429 after {allowed} requests; burst is {burst}"
            bound = burst + math.floor(rate * elapsed) + 1
            assert allowed <= bound, (allowed, bound, elapsed)
            return r
        assert r.status_code == ok_status, (r.status_code, r.text)
        allowed += 1
    raise AssertionError(f"no 429 after {allowed} requests (burst {burst}, rate {rate}/s)")


# -- failed logins -------------------------------------------------------------------
LOGIN = {"login_burst": 3, "login_rate": 1}


def test_login_limit_and_retry_after(server_factory):
    api = Api(server_factory.start(opts=LOGIN))
    email = unique_email("rl")
    assert api.register(email).status_code == 201

    # correct logins never consume budget: 10 in a row at burst 3
    t0 = time.monotonic()
    codes = [api.login(email).status_code for _ in range(10)]
    elapsed = time.monotonic() - t0
    assert codes == [200] * 10, codes
    # meaningful only if the bucket could not have refilled for them all
    assert LOGIN["login_burst"] + LOGIN["login_rate"] * elapsed < 10, elapsed

    # failures: 3 x 401, then 429 (wrong password and unknown email alike)
    r = drain(lambda: api.login(email, "wrong " + PASSWORD), 401,
              LOGIN["login_burst"], LOGIN["login_rate"])
    t_block = time.monotonic()
    ra = assert_rate_limited(r)
    # while blocked even the right password is refused (else the limit would
    # still let an attacker test passwords: 200 vs 429)
    assert_rate_limited(api.login(email))
    assert_rate_limited(api.login(unique_email("ghost"), "wrong " + PASSWORD))

    # after Retry-After seconds a correct login succeeds (bounded polling)
    got = poll(lambda: api.login(email).status_code == 200, timeout=ra + 3.0, interval=0.1)
    waited = time.monotonic() - t_block
    assert got, f"still limited {waited:.1f}s after a Retry-After of {ra}s"
    report_figure("login limit (burst 3, 1/s): Retry-After / actual wait",
                  f"{ra} s / {waited:.2f} s")


def test_login_limit_is_per_ip_behind_trusted_proxy(server_factory):
    api = Api(server_factory.start(opts=dict(LOGIN, trusted_proxies="127.0.0.1")))
    email = unique_email("rlx")
    assert api.register(email).status_code == 201
    a = {"X-Forwarded-For": "203.0.113.7"}
    b = {"X-Forwarded-For": "203.0.113.8"}
    assert_rate_limited(drain(lambda: api.login(email, "bad " + PASSWORD, headers=a), 401,
                              LOGIN["login_burst"], LOGIN["login_rate"]))
    # right after a's 429: b (another client behind the same proxy) is not limited
    assert_problem(api.login(email, "bad " + PASSWORD, headers=b), 401, "invalid-credentials")
    assert api.login(email, headers=b).status_code == 200


# -- anonymous creation ----------------------------------------------------------------
ANON = {"anon_create_burst": 5, "anon_create_rate": 0.5}


def test_anonymous_create_limit(server_factory):
    api = Api(server_factory.start(opts=dict(ANON, **NO_LOGIN_LIMIT)))
    user = api.new_user("anon-rl")
    key = api.create_key(user.token).json()["key"]
    r = drain(lambda: api.create(long_url()), 201, ANON["anon_create_burst"],
              ANON["anon_create_rate"])
    ra = assert_rate_limited(r)
    report_figure("anonymous create limit (burst 5, 0.5/s): Retry-After", f"{ra} s")
    # authenticated creation is unaffected, from the same IP
    for _ in range(ANON["anon_create_burst"] + 2):
        r = api.create(long_url(), token=user.token)
        assert r.status_code == 201 and r.json()["owner"] == "self", r.text
    assert api.create(long_url(), api_key=key).status_code == 201
    assert api.custom(long_url(), "rl-" + user.user_id + "-x", token=user.token).status_code \
        == 201
    assert_rate_limited(api.create(long_url()))


def test_xff_ignored_without_trusted_proxies(server_factory):
    api = Api(server_factory.start(opts=ANON))
    n = iter(range(1, 10000))
    r = drain(lambda: api.create(long_url(), headers={"X-Forwarded-For": f"198.51.100.{next(n) % 250}"}),
              201, ANON["anon_create_burst"], ANON["anon_create_rate"])
    assert_rate_limited(r)


def test_xff_honoured_from_trusted_proxy(server_factory):
    api = Api(server_factory.start(opts=dict(ANON, trusted_proxies="127.0.0.1")))
    c1 = {"X-Forwarded-For": "198.51.100.1"}
    assert_rate_limited(drain(lambda: api.create(long_url(), headers=c1), 201,
                              ANON["anon_create_burst"], ANON["anon_create_rate"]))
    # a different forwarded client has its own bucket
    for ip in ("198.51.100.2", "198.51.100.3"):
        r = api.create(long_url(), headers={"X-Forwarded-For": ip})
        assert r.status_code == 201, (ip, r.text)
    # the proxy's own address (no XFF) is a bucket of its own too
    assert api.create(long_url()).status_code == 201
    # a client cannot escape by prepending a fake hop: the proxy appends the
    # real address at the right
    assert_rate_limited(api.create(long_url(),
                                   headers={"X-Forwarded-For": "192.0.2.99, 198.51.100.1"}))
    assert_rate_limited(api.create(long_url(), headers=c1))


def test_anonymous_create_off(server_factory):
    api = Api(server_factory.start(opts=dict(NO_LOGIN_LIMIT, anonymous_create="off")))
    assert_unauthorized(api.create(long_url()))
    user = api.new_user("anon-off")
    r = api.create(long_url(), token=user.token)
    assert r.status_code == 201 and r.json()["owner"] == "self", r.text
    key = api.create_key(user.token).json()["key"]
    assert api.create(long_url(), api_key=key).status_code == 201
    assert_unauthorized(api.create(long_url()))


# -- API keys --------------------------------------------------------------------------
KEYRL = {"apikey_burst": 3, "apikey_rate": 0.5}


def test_apikey_limit(server_factory):
    api = Api(server_factory.start(opts=dict(KEYRL, **NO_LOGIN_LIMIT)))
    user = api.new_user("key-rl")
    k1 = api.create_key(user.token, "one").json()["key"]
    k2 = api.create_key(user.token, "two").json()["key"]
    r = drain(lambda: api.shorten(long_url(), api_key=k1), 201, KEYRL["apikey_burst"],
              KEYRL["apikey_rate"])
    assert_rate_limited(r)
    # every request with that key is limited, not only /v1/shorten
    assert_rate_limited(api.req("GET", "/links", api_key=k1))
    # per key: the user's other key and the user's JWT are unaffected
    assert api.shorten(long_url(), api_key=k2).status_code == 201
    assert api.create(long_url(), token=user.token).status_code == 201
    assert api.req("GET", "/links", token=user.token).status_code == 200
