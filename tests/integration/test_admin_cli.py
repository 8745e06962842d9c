"""Admin CLI against a running server on the same data dir: `warplink user
add/list`, `warplink apikey create/list/revoke`; what it does is visible over
HTTP at once."""

import re

import pytest

from authutil import (PASSWORD, Api, assert_problem, assert_unauthorized, cli, long_url,
                      unique_email)

OPTS = {"login_rate": 100000, "login_burst": 100000}


@pytest.fixture(scope="module")
def srv(module_factory):
    return module_factory.start(opts=OPTS)


@pytest.fixture(scope="module")
def api(srv):
    return Api(srv)


def user_add(srv, email, password=PASSWORD):
    return cli(["user", "add", email], srv.data_dir, stdin=password + "\n")


def key_create(srv, email, name=None):
    args = ["apikey", "create", "--user", email] + (["--name", name] if name else [])
    p = cli(args, srv.data_dir)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, p.stdout
    m = re.fullmatch(r"([^\t]+)\t(\S+)", lines[0])
    assert m, f"expected ID<TAB>KEY, got {lines[0]!r}"
    return m.group(1), m.group(2)


def test_user_add_then_login(srv, api):
    email = unique_email("cli")
    p = user_add(srv, email)
    assert p.returncode == 0, p.stderr
    r = api.login(email, PASSWORD)
    assert r.status_code == 200, r.text
    assert api.req("GET", "/user/api-keys", token=r.json()["access_token"]).status_code == 200
    assert_problem(api.login(email, "not " + PASSWORD), 401, "invalid-credentials")
    # the HTTP side agrees that the account exists
    assert_problem(api.register(email, PASSWORD), 409, "email-taken")


def test_user_add_existing_email_fails(srv, api):
    email = unique_email("dup")
    assert api.register(email).status_code == 201
    p = user_add(srv, email, "some other password")
    assert p.returncode != 0
    # the original password still works
    assert api.login(email).status_code == 200


def test_user_add_weak_password_fails(srv, api):
    email = unique_email("weakcli")
    p = user_add(srv, email, "short")
    assert p.returncode != 0
    assert_problem(api.login(email, "short"), 401, "invalid-credentials")


def test_user_add_long_multibyte_password(srv, api):
    """1024 two-byte characters (2048 bytes) is a valid password over HTTP
    (8..1024 characters); the CLI must store exactly it, not a prefix."""
    email = unique_email("climb")
    pw = "\u00e9" * 1024
    p = cli(["user", "add", email], srv.data_dir, stdin=pw + "\n")
    assert p.returncode == 0, p.stderr
    r = api.login(email, pw)
    assert r.status_code == 200, f"login with the password given to `user add`: {r.status_code}"


def test_user_list_shows_email(srv, api):
    e_cli, e_http = unique_email("listcli"), unique_email("listhttp")
    assert user_add(srv, e_cli).returncode == 0
    assert api.register(e_http).status_code == 201
    p = cli(["user", "list"], srv.data_dir)
    assert p.returncode == 0, p.stderr
    assert e_cli in p.stdout and e_http in p.stdout
    assert PASSWORD not in p.stdout and "argon2" not in p.stdout


def test_apikey_create_works_over_http(srv, api):
    email = unique_email("clikey")
    assert api.register(email).status_code == 201
    kid, key = key_create(srv, email, "deploy")
    url = long_url()
    r = api.shorten(url, api_key=key)
    assert r.status_code == 201, r.text
    assert r.json()["owner"] == "self"
    # visible in the user's HTTP listing with its prefix, without the key
    token = api.login(email).json()["access_token"]
    items = api.list_keys(token).json()["items"]
    mine = [i for i in items if i["id"] == kid]
    assert len(mine) == 1, items
    assert mine[0]["name"] == "deploy" and key.startswith(mine[0]["prefix"])
    assert "key" not in mine[0]
    # and the link is the user's
    assert api.req("GET", "/links/" + r.json()["key"], token=token).status_code == 200


def test_apikey_list(srv, api):
    email = unique_email("clilist")
    assert api.register(email).status_code == 201
    kid, key = key_create(srv, email, "listed")
    token = api.login(email).json()["access_token"]
    prefix = api.list_keys(token).json()["items"][0]["prefix"]
    p = cli(["apikey", "list", "--user", email], srv.data_dir)
    assert p.returncode == 0, p.stderr
    assert kid in p.stdout and prefix in p.stdout
    assert key not in p.stdout


def test_apikey_revoke_next_request_fails(srv, api):
    email = unique_email("clirev")
    assert api.register(email).status_code == 201
    kid, key = key_create(srv, email)
    assert api.shorten(long_url(), api_key=key).status_code == 201
    p = cli(["apikey", "revoke", kid, "--user", email], srv.data_dir)
    assert p.returncode == 0, p.stderr
    assert_unauthorized(api.shorten(long_url(), api_key=key))


def test_apikey_revoke_http_created_key(srv, api):
    user = api.new_user("clirevhttp")
    k = api.create_key(user.token).json()
    assert api.shorten(long_url(), api_key=k["key"]).status_code == 201
    p = cli(["apikey", "revoke", k["id"], "--user", user.email], srv.data_dir)
    assert p.returncode == 0, p.stderr
    assert_unauthorized(api.shorten(long_url(), api_key=k["key"]))


def test_apikey_revoke_other_users_key_refused(srv, api):
    a, b = unique_email("clia"), unique_email("clib")
    assert api.register(a).status_code == 201
    assert api.register(b).status_code == 201
    kid, key = key_create(srv, a)
    p = cli(["apikey", "revoke", kid, "--user", b], srv.data_dir)
    assert p.returncode != 0
    assert api.shorten(long_url(), api_key=key).status_code == 201


def test_apikey_create_unknown_user_fails(srv):
    p = cli(["apikey", "create", "--user", unique_email("ghost")], srv.data_dir)
    assert p.returncode != 0
    assert not re.search(r"\bwl_\w+", p.stdout)


def test_cli_key_not_at_rest(srv, api):
    email = unique_email("clirest")
    assert api.register(email).status_code == 201
    _, key = key_create(srv, email)
    assert api.shorten(long_url(), api_key=key).status_code == 201
    for p in srv.data_dir.rglob("*"):
        if p.is_file():
            assert key.encode() not in p.read_bytes(), p
