"""Deviations from /work/shared/API.md (and the HTTP rules it relies on) found
by the API audit: one test per fix, each failing on the code before it."""

import pytest

from authutil import Api, assert_link, assert_problem, long_url
from helpers import Conn, build_request
from helpers import assert_problem as assert_raw_problem

# Several failed logins on purpose; the limiter has its own tests.
OPTS = {"login_rate": 100000, "login_burst": 100000}


@pytest.fixture(scope="module")
def api(module_factory):
    return Api(module_factory.start(opts=OPTS))


def test_alias_custom_is_readable_and_deletable_by_its_owner(api):
    owner, other = api.new_user("own"), api.new_user("oth")
    url = long_url("custom-alias")
    r = api.custom(url, "custom", token=owner.token)
    assert r.status_code == 201, r.text

    r = api.req("GET", "/links/custom", token=owner.token)
    assert r.status_code == 200, r.text
    assert_link(r.json(), url)
    assert r.json()["key"] == "custom"
    assert_problem(api.req("GET", "/links/custom", token=other.token), 404, "not-found")
    assert_problem(api.req("DELETE", "/links/custom", token=other.token), 404, "not-found")

    r = api.req("DELETE", "/links/custom", token=owner.token)
    assert r.status_code == 204, r.text
    assert_problem(api.redirect("custom"), 404, "not-found")

    # POST still creates custom aliases; other methods are still 405.
    assert api.custom(long_url(), "after-custom", token=owner.token).status_code == 201
    r = api.req("PUT", "/links/custom", token=owner.token)
    assert_problem(r, 405, "method-not-allowed")
    assert "POST" in r.headers.get("Allow", "")


@pytest.mark.parametrize("email", ["not-an-email", "", "a@", "@example.com"])
def test_login_with_unusable_email_is_invalid_credentials(api, email):
    user = api.new_user("login")
    wrong_pw = api.login(user.email, "wrong password 1")
    bad_email = api.login(email, "wrong password 1")
    assert_problem(wrong_pw, 401, "invalid-credentials")
    assert_problem(bad_email, 401, "invalid-credentials")
    assert bad_email.json() == wrong_pw.json()
    # Registration still refuses such an address.
    assert_problem(api.register(email), 400)


def _raw(api, method, path, token):
    port = int(api.base.rsplit(":", 1)[1])
    with Conn(port) as c:
        first = c.request(method, path, [("Authorization", "Bearer " + token)])
        # The connection stays usable: the 204 framing did not confuse it.
        second = c.request("GET", "/healthz")
    return first, second


def test_204_responses_have_no_content_length(api):
    user = api.new_user("nocl")
    key = api.create(long_url(), token=user.token).json()["key"]
    resp, after = _raw(api, "DELETE", "/links/" + key, user.token)
    assert resp.status == 204, resp
    assert resp.header("Content-Length") is None, resp
    assert resp.body == b""
    assert after.status == 200, after

    key_id = api.create_key(user.token).json()["id"]
    resp, after = _raw(api, "DELETE", f"/user/api-keys/{key_id}", user.token)
    assert resp.status == 204, resp
    assert resp.header("Content-Length") is None, resp
    assert after.status == 200, after


EMITTED_SLUGS = [
    "invalid-url", "invalid-alias", "alias-taken", "invalid-body", "not-found", "gone",
    "unauthorized", "invalid-credentials", "email-taken", "weak-password", "rate-limited",
    "body-too-large", "headers-too-large", "bad-request", "invalid-query", "invalid-email",
    "method-not-allowed", "request-timeout", "not-implemented", "http-version", "unavailable",
    "overloaded", "not-ready", "internal",
]


@pytest.mark.parametrize("slug", EMITTED_SLUGS)
def test_every_emitted_problem_type_is_explained(api, slug):
    r = api.req("GET", "/problems/" + slug)
    assert r.status_code == 200, (slug, r.text)
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    assert r.text.strip()


def test_problem_types_of_live_errors_resolve(api):
    user = api.new_user("types")
    answers = [
        api.req("GET", "/links?limit=0", token=user.token),
        api.req("PUT", "/links"),
        api.register("nope", "long enough password"),
    ]
    for r in answers:
        t = r.json()["type"]
        assert api.req("GET", t).status_code == 200, (t, r.text)


def test_head_over_8_kib_is_431_naming_the_limit(api):
    port = int(api.base.rsplit(":", 1)[1])

    def head_of(n):
        req = build_request("GET", "/healthz", [("X-Pad", "")])
        pad = n - len(req)
        return build_request("GET", "/healthz", [("X-Pad", "a" * pad)])

    assert len(head_of(8192)) == 8192
    with Conn(port) as c:
        c.send(head_of(8192))
        assert c.read_response().status == 200
    with Conn(port) as c:
        c.send_tolerant(head_of(8193))
        resp = c.read_response()
    p = assert_raw_problem(resp, 431, "headers-too-large")
    assert "8 KiB" in p["detail"], p
