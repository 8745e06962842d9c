"""Custom aliases: POST /links/custom and POST /v1/shorten with custom_alias
(API.md "Links"): validation, uniqueness under concurrency, the negative
cache, and keys never being reused after DELETE."""

import random
import threading
import time

import pytest

from authutil import (Api, assert_link, assert_problem, assert_unauthorized, long_url,
                      run_threads, session, unique, TIMEOUT)
from conftest import report_figure

# API.md lists these reserved words ("and the like").
RESERVED = ["links", "v1", "user", "auth", "app", "api", "static", "problems", "healthz",
            "readyz", "metrics", "favicon.ico", "robots.txt"]


@pytest.fixture(scope="module")
def server(module_factory):
    # negative_ttl stays at conftest's 60 s, so a cached 404 would outlive the test
    return module_factory.start(opts={"login_rate": 100000, "login_burst": 100000})


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


@pytest.fixture(scope="module")
def user(api):
    return api.new_user("alias")


@pytest.fixture(scope="module")
def apikey(api, user):
    r = api.create_key(user.token, "aliases")
    assert r.status_code == 201, r.text
    return r.json()["key"]


def alias(n=None):
    a = unique("al")
    return a if n is None else (a * 10)[:n]


def assert_redirects(api, key, target):
    r = api.redirect(key)
    assert r.status_code == 302, (key, r.status_code, r.text)
    assert r.headers["Location"] == target


def test_custom_alias_201_jwt(api, user):
    a, url = alias(), long_url()
    r = api.custom(url, a, token=user.token)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert_link(doc, url)
    assert doc["key"] == a
    assert r.headers.get("Location") == "/links/" + a
    assert_redirects(api, a, url)


def test_custom_alias_201_apikey(api, apikey):
    a, url = alias(), long_url()
    r = api.custom(url, a, api_key=apikey)
    assert r.status_code == 201, r.text
    assert r.json()["key"] == a and r.json()["owner"] == "self"
    assert_redirects(api, a, url)


def test_shorten_custom_alias_201_409_400(api, apikey):
    a, url = alias(), long_url()
    r = api.shorten(url, a, api_key=apikey)
    assert r.status_code == 201, r.text
    assert r.json()["key"] == a
    assert_redirects(api, a, url)
    assert_problem(api.shorten(long_url(), a, api_key=apikey), 409, "alias-taken")
    assert_problem(api.shorten(long_url(), "ab", api_key=apikey), 400, "invalid-alias")
    assert_problem(api.shorten(long_url(), "Links", api_key=apikey), 400, "invalid-alias")


def test_custom_alias_requires_credentials(api):
    assert_unauthorized(api.custom(long_url(), alias()))


@pytest.mark.parametrize("length", [3, 64])
def test_alias_length_bounds_accepted(api, user, length):
    a = alias(length)
    assert len(a) == length
    r = api.custom(long_url(), a, token=user.token)
    assert r.status_code == 201, r.text
    assert r.json()["key"] == a


@pytest.mark.parametrize("bad", [
    "ab", "x" * 65, "a", "",
    "has space", "dot.ted", "sla/sh", "per%cent", "tab\tx", "uml\u00e4ut", "pl+us",
    "a?b", "a#b", "new\nline",
])
def test_invalid_alias_400(api, user, bad):
    assert_problem(api.custom(long_url(), bad, token=user.token), 400, "invalid-alias")


def test_alias_with_nul_400(api, user):
    """An escaped NUL is valid JSON; the server may refuse such strings in
    general (jansson does) but must answer 400, never store a truncated alias."""
    r = api.custom(long_url(), "nul\x00byte", token=user.token)
    assert_problem(r, 400)
    assert api.redirect("nul").status_code == 404


@pytest.mark.parametrize("word", RESERVED)
def test_reserved_alias_400_any_case(api, user, word):
    for variant in {word, word.upper(), word.capitalize(), word.swapcase()[:1] + word[1:]}:
        r = api.custom(long_url(), variant, token=user.token)
        assert_problem(r, 400, "invalid-alias")


def test_alias_wrong_type_or_missing_400(api, user):
    # docs/API.md: a missing or non-string custom_alias is invalid-alias
    r = api.req("POST", "/links/custom", {"long_url": long_url(), "custom_alias": 12345},
                token=user.token)
    assert_problem(r, 400, "invalid-alias")
    r = api.req("POST", "/links/custom", {"long_url": long_url()}, token=user.token)
    assert_problem(r, 400, "invalid-alias")


def test_post_links_ignores_custom_alias(api, user):
    """docs/API.md: POST /links ignores custom_alias (random key); the alias
    stays free."""
    a = alias()
    r = api.req("POST", "/links", {"long_url": long_url(), "custom_alias": a}, token=user.token)
    assert r.status_code == 201, r.text
    assert r.json()["key"] != a
    assert api.redirect(a).status_code == 404
    assert api.custom(long_url(), a, token=user.token).status_code == 201


def test_alias_taken_409(api, user):
    a = alias()
    url = long_url()
    assert api.custom(url, a, token=user.token).status_code == 201
    assert_problem(api.custom(long_url(), a, token=user.token), 409, "alias-taken")
    other = api.new_user("other")
    assert_problem(api.custom(long_url(), a, token=other.token), 409, "alias-taken")
    assert_redirects(api, a, url)  # the first claim stands


def test_aliases_case_sensitive(api, user):
    base = unique("CaSe")
    lo, up = base.lower(), base.upper()
    u1, u2 = long_url(), long_url()
    assert api.custom(u1, lo, token=user.token).status_code == 201
    r = api.custom(u2, up, token=user.token)
    assert r.status_code == 201, r.text
    assert_redirects(api, lo, u1)
    assert_redirects(api, up, u2)


def test_invalid_url_with_alias_400(api, user):
    a = alias()
    assert_problem(api.custom("not a url", a, token=user.token), 400, "invalid-url")
    # a refused request does not take the alias
    assert api.custom(long_url(), a, token=user.token).status_code == 201


def test_50_concurrent_claims_exactly_one_wins(server, api, user):
    a = alias()
    urls = [long_url(f"race/{i}") for i in range(50)]

    def claim(url):
        s = session()
        r = s.post(server.base + "/links/custom",
                   json={"long_url": url, "custom_alias": a},
                   headers={"Authorization": "Bearer " + user.token}, timeout=TIMEOUT * 3)
        return url, r.status_code, r

    results = run_threads(claim, [(u,) for u in urls])
    codes = sorted(c for _, c, _ in results)
    winners = [u for u, c, _ in results if c == 201]
    assert codes.count(201) == 1 and codes.count(409) == 49, codes
    for _, c, r in results:
        if c == 409:
            assert_problem(r, 409, "alias-taken")
    assert_redirects(api, a, winners[0])
    r = api.req("GET", "/links/" + a, token=user.token)
    assert r.status_code == 200 and r.json()["long_url"] == winners[0]
    report_figure("concurrent alias claims", f"50 threads -> {codes.count(201)} x 201, "
                  f"{codes.count(409)} x 409")


def test_negative_cache_does_not_outlive_claim(api, user):
    a, url = alias(), long_url()
    r = api.redirect(a)
    assert r.status_code == 404, r.text
    r = api.redirect(a)  # now certainly cached as unknown, if the server caches 404s
    assert r.status_code == 404, r.text
    assert api.custom(url, a, token=user.token).status_code == 201
    assert_redirects(api, a, url)  # immediately, no waiting


def test_negative_cache_shorten_path(api, apikey):
    a, url = alias(), long_url()
    assert api.redirect(a).status_code == 404
    assert api.shorten(url, a, api_key=apikey).status_code == 201
    assert_redirects(api, a, url)


def test_deleted_alias_stops_at_once_and_is_never_reused(api, user):
    a, url = alias(), long_url()
    assert api.custom(url, a, token=user.token).status_code == 201
    assert_redirects(api, a, url)  # warm any cache
    r = api.req("DELETE", "/links/" + a, token=user.token)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert api.redirect(a).status_code == 404
    assert_problem(api.req("GET", "/links/" + a, token=user.token), 404, "not-found")
    assert_problem(api.req("DELETE", "/links/" + a, token=user.token), 404, "not-found")
    # never reused: neither by the owner nor by anyone else
    assert_problem(api.custom(long_url(), a, token=user.token), 409, "alias-taken")
    other = api.new_user("reuse")
    assert_problem(api.custom(long_url(), a, token=other.token), 409, "alias-taken")
    assert api.redirect(a).status_code == 404


def test_deleted_random_key_cannot_be_claimed(api, user):
    url = long_url()
    r = api.create(url, token=user.token)
    assert r.status_code == 201
    key = r.json()["key"]
    assert_redirects(api, key, url)
    assert api.req("DELETE", "/links/" + key, token=user.token).status_code == 204
    assert api.redirect(key).status_code == 404
    assert_problem(api.custom(long_url(), key, token=user.token), 409, "alias-taken")


def test_random_key_cannot_be_claimed_as_alias(api, user):
    url = long_url()
    key = api.create(url).json()["key"]
    assert_problem(api.custom(long_url(), key, token=user.token), 409, "alias-taken")
    assert_redirects(api, key, url)


# -- races between a write and the first read of a key ------------------------------
# The read path caches what it read from the store (positive or "unknown").
# A read that started before a write committed must not plant its stale
# answer in the cache after the write invalidated it. Each trial fires the
# write and, after a random delay spread over the write's own measured
# latency, the first GET of the key; then checks the key at once.
RACE_WORKERS = 4          # independent trial loops in parallel
RACE_TRIALS = 200         # per worker


def _race_worker(api, make_key, write, expect_after, lat, bad, lock):
    sess_w, sess_r = session(), session()
    for i in range(RACE_TRIALS):
        key = make_key(sess_w, i)
        with lock:
            spread = sorted(lat)[len(lat) // 2] if lat else 0.002
        delay = random.uniform(0, spread)
        out = {}

        def do_write():
            t0 = time.perf_counter()
            out["w"] = write(sess_w, key).status_code
            with lock:
                lat.append(time.perf_counter() - t0)

        def do_read():
            time.sleep(delay)
            out["r"] = sess_r.get(api.base + "/" + key, allow_redirects=False,
                                  timeout=TIMEOUT).status_code

        ts = [threading.Thread(target=do_write), threading.Thread(target=do_read)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(TIMEOUT)
        assert out.get("w") in (201, 204), out
        after = sess_r.get(api.base + "/" + key, allow_redirects=False, timeout=TIMEOUT)
        if after.status_code != expect_after:
            with lock:
                bad.append((key, out, after.status_code, round(delay * 1000, 2)))


def _race(api, make_key, write, expect_after, label):
    lat, bad, lock = [], [], threading.Lock()
    run_threads(_race_worker, [(api, make_key, write, expect_after, lat, bad, lock)] *
                RACE_WORKERS)
    n = RACE_WORKERS * RACE_TRIALS
    report_figure(f"{label}: stale answers after the write returned", f"{len(bad)} of {n}")
    assert not bad, f"{len(bad)}/{n} keys answered stale after the write: {bad[:5]}"


def test_race_delete_vs_first_get(api, user):
    """DELETE -> 204 means the key stops redirecting at once, even when a GET
    was reading it at that moment."""
    auth = {"Authorization": "Bearer " + user.token}

    def make_key(s, i):
        r = s.post(api.base + "/links", json={"long_url": long_url(f"drace/{i}")},
                   headers=auth, timeout=TIMEOUT)
        assert r.status_code == 201
        return r.json()["key"]

    def write(s, key):
        return s.delete(api.base + "/links/" + key, headers=auth, timeout=TIMEOUT)

    _race(api, make_key, write, 404, "delete vs first GET")


def test_race_claim_vs_first_get(api, user):
    """201 for an alias means it redirects at once, even when a GET of the
    (then unknown) alias was in flight."""
    auth = {"Authorization": "Bearer " + user.token}

    def write(s, key):
        return s.post(api.base + "/links/custom", headers=auth, timeout=TIMEOUT,
                      json={"long_url": long_url("crace/" + key), "custom_alias": key})

    _race(api, lambda s, i: alias(), write, 302, "claim vs first GET")
