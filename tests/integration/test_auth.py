"""POST /auth/register and POST /auth/login (API.md "Users and auth"), and the
401 `unauthorized` answer for missing or invalid credentials ("Conventions")."""

import statistics
import time

import pytest

from authutil import (PASSWORD, Api, assert_problem, assert_unauthorized, jwt_parts,
                      long_url, run_threads, session, unique, unique_email)
from conftest import report_figure

# Failed logins are rate-limited per IP (default burst 10); this module makes
# several on purpose, so the limit is lifted here. test_ratelimits.py tests it.
OPTS = {"login_rate": 100000, "login_burst": 100000}


@pytest.fixture(scope="module")
def api(module_factory):
    return Api(module_factory.start(opts=OPTS))


# -- register -------------------------------------------------------------------
def test_register_201(api):
    email = unique_email("reg")
    r = api.register(email)
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    doc = r.json()
    assert doc["email"] == email
    assert isinstance(doc["user_id"], str) and doc["user_id"].isdigit(), doc  # docs/API.md


def test_register_user_ids_distinct(api):
    a = api.register(unique_email("ida")).json()["user_id"]
    b = api.register(unique_email("idb")).json()["user_id"]
    assert a != b


@pytest.mark.parametrize("length", [0, 1, 7])
def test_register_short_password_weak(api, length):
    r = api.register(unique_email("weak"), "p" * length)
    # An empty password is "fewer than 8 characters" too; a server may call a
    # missing-value body invalid instead, but it must be a 400.
    if length == 0:
        assert r.status_code == 400, r.text
    else:
        assert_problem(r, 400, "weak-password")


def test_register_1025_char_password_weak(api):
    assert_problem(api.register(unique_email("long"), "x" * 1025), 400, "weak-password")


@pytest.mark.parametrize("length", [8, 1024])
def test_register_password_length_bounds_accepted(api, length):
    email = unique_email("bound")
    pw = ("abcdefgh" * 200)[:length]
    assert api.register(email, pw).status_code == 201
    assert api.login(email, pw).status_code == 200


@pytest.mark.parametrize("ch", ["\u00e9", "\U0001F600"], ids=["2-byte", "4-byte"])
def test_weak_password_counts_characters_not_bytes(api, ch):
    """API.md: "fewer than 8 characters, or longer than 1024". Seven multi-byte
    characters are 7 characters (14 or 28 bytes): weak. 1024 of them are 1024
    characters (2048 or 4096 bytes): acceptable; 1025 are not."""
    assert_problem(api.register(unique_email("mb7"), ch * 7), 400, "weak-password")
    assert_problem(api.register(unique_email("mb1025"), ch * 1025), 400, "weak-password")
    email = unique_email("mb1024")
    r = api.register(email, ch * 1024)
    assert r.status_code == 201, r.text
    assert api.login(email, ch * 1024).status_code == 200
    assert_problem(api.login(email, ch * 1023), 401, "invalid-credentials")


def test_register_email_taken_409(api):
    email = unique_email("taken")
    assert api.register(email).status_code == 201
    assert_problem(api.register(email, "another password"), 409, "email-taken")


def test_register_email_domain_case_variant_taken(api):
    """The domain of an address is case-insensitive (docs/API.md:
    "A@EXAMPLE.com and A@example.com are the same account")."""
    local = unique("Case")
    r = api.register(f"{local}@example.com")
    assert r.status_code == 201, r.text
    assert_problem(api.register(f"{local}@EXAMPLE.com"), 409, "email-taken")
    assert_problem(api.register(f"{local}@Example.COM"), 409, "email-taken")
    # and the account answers to either spelling of the domain
    assert api.login(f"{local}@EXAMPLE.COM").status_code == 200


def test_register_local_part_case_preserved(api):
    """The local part keeps its case (docs/API.md; RFC 5321 lets "Bob" and
    "bob" be different mailboxes); the domain is lower-cased."""
    local = unique("MiXeD")
    r = api.register(f"{local}@EXAMPLE.com")
    assert r.status_code == 201, r.text
    assert r.json()["email"] == f"{local}@example.com"
    # a different local-part case is a different account
    r = api.register(f"{local.lower()}@example.com")
    assert r.status_code == 201, r.text
    assert r.json()["email"] == f"{local.lower()}@example.com"


@pytest.mark.parametrize("body", [
    {"email": "x@example.com"},
    {"password": PASSWORD},
    {"email": 5, "password": PASSWORD},
    {"email": "not-an-address", "password": PASSWORD},
])
def test_register_bad_body_400(api, body):
    r = api.req("POST", "/auth/register", body)
    assert_problem(r, 400)


# -- login ------------------------------------------------------------------------
def test_login_200_token(api):
    email = unique_email("login")
    assert api.register(email).status_code == 201
    r = api.login(email)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["token_type"] == "Bearer"
    assert doc["expires_in"] == 3600  # API.md, with the default --jwt-ttl
    hdr, payload, sig = jwt_parts(doc["access_token"])
    assert hdr["alg"] == "HS256" and sig
    assert payload["exp"] - payload["iat"] == doc["expires_in"]
    # the token works
    r = api.create(long_url(), token=doc["access_token"])
    assert r.status_code == 201 and r.json()["owner"] == "self", r.text


def test_login_invalid_credentials_identical(api):
    email = unique_email("ident")
    assert api.register(email).status_code == 201
    wrong_pw = api.login(email, "wrong " + PASSWORD)
    unknown = api.login(unique_email("nobody"), "wrong " + PASSWORD)
    assert_problem(wrong_pw, 401, "invalid-credentials")
    assert_problem(unknown, 401, "invalid-credentials")
    assert wrong_pw.content == unknown.content
    assert wrong_pw.headers.get("Content-Type") == unknown.headers.get("Content-Type")
    drop = {"date"}
    h1 = {k.lower(): v for k, v in wrong_pw.headers.items() if k.lower() not in drop}
    h2 = {k.lower(): v for k, v in unknown.headers.items() if k.lower() not in drop}
    assert h1 == h2


def test_login_wrong_password_does_not_work_with_other_case_local_part(api):
    local = unique("Kim")
    assert api.register(f"{local}@example.com").status_code == 201
    assert_problem(api.login(f"{local.lower()}@example.com"), 401, "invalid-credentials")


def test_login_latency_figures(api):
    email = unique_email("lat")
    assert api.register(email).status_code == 201

    def timed(fn):
        t0 = time.perf_counter()
        r = fn()
        return time.perf_counter() - t0, r

    ok, wrong, unknown = [], [], []
    for _ in range(20):
        dt, r = timed(lambda: api.login(email))
        assert r.status_code == 200
        ok.append(dt)
    for _ in range(3):
        dt, r = timed(lambda: api.login(email, "nope " + PASSWORD))
        assert r.status_code == 401
        wrong.append(dt)
        dt, r = timed(lambda: api.login(unique_email("ghost"), "nope " + PASSWORD))
        assert r.status_code == 401
        unknown.append(dt)
    report_figure("login latency p50 (20 correct logins)",
                  f"{statistics.median(ok) * 1000:.1f} ms")
    report_figure("login latency p50 wrong password / unknown email (3 each)",
                  f"{statistics.median(wrong) * 1000:.1f} ms / "
                  f"{statistics.median(unknown) * 1000:.1f} ms")


# -- 401 unauthorized -----------------------------------------------------------
PROTECTED = [
    ("POST", "/links/custom", {"long_url": "https://example.com/x", "custom_alias": "abc-def"}),
    ("GET", "/links", None),
    ("GET", "/links/abcdefg", None),
    ("DELETE", "/links/abcdefg", None),
    ("GET", "/links/abcdefg/stats", None),
    ("POST", "/v1/shorten", {"long_url": "https://example.com/x"}),
    ("GET", "/user/api-keys", None),
    ("POST", "/user/api-keys", {"name": "x"}),
    ("DELETE", "/user/api-keys/1", None),
]


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_missing_credentials_401(api, method, path, body):
    assert_unauthorized(api.req(method, path, body))


BAD_BEARERS = ["", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"]


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_invalid_credentials_401(api, method, path, body):
    for tok in BAD_BEARERS:
        assert_unauthorized(api.req(method, path, body, headers={"Authorization": "Bearer " + tok}))
    assert_unauthorized(api.req(method, path, body, headers={"Authorization": "Basic dTpw"}))
    assert_unauthorized(api.req(method, path, body, api_key="wl_not_a_real_key"))


def test_invalid_credentials_on_optional_endpoint_401(api):
    """POST /links takes optional credentials; invalid ones must not silently
    fall back to an anonymous link."""
    assert_unauthorized(api.create(long_url(), headers={"Authorization": "Bearer garbage"}))
    assert_unauthorized(api.create(long_url(), api_key="wl_not_a_real_key"))


def test_concurrent_registration_one_winner(api):
    """Ten simultaneous registrations of one address: exactly one account."""
    email = unique_email("conc")
    pws = [f"password-{i}-{unique('p')}" for i in range(10)]

    def reg(pw):
        r = session().post(api.base + "/auth/register", json={"email": email, "password": pw},
                           timeout=30)
        return pw, r

    results = run_threads(reg, [(pw,) for pw in pws])
    codes = sorted(r.status_code for _, r in results)
    assert codes == [201] + [409] * 9, codes
    for _, r in results:
        if r.status_code == 409:
            assert_problem(r, 409, "email-taken")
    winner = [pw for pw, r in results if r.status_code == 201][0]
    assert api.login(email, winner).status_code == 200
    loser = [pw for pw in pws if pw != winner][0]
    assert_problem(api.login(email, loser), 401, "invalid-credentials")
