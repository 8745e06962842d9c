"""API keys (API.md "API keys", FR6) and POST /v1/shorten (FR7); no plaintext
secrets at rest."""

import os
from pathlib import Path

import pytest

from authutil import (PASSWORD, Api, assert_link, assert_problem, assert_unauthorized,
                      long_url, unique_email)
from helpers import RFC3339_Z

OPTS = {"login_rate": 100000, "login_burst": 100000}


@pytest.fixture(scope="module")
def api(module_factory):
    return Api(module_factory.start(opts=OPTS))


@pytest.fixture(scope="module")
def user(api):
    return api.new_user("keys")


def make_key(api, user, name="ci"):
    r = api.create_key(user.token, name)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_201_shape(api, user):
    r = api.create_key(user.token, "ci")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["name"] == "ci"
    assert isinstance(doc["id"], str) and doc["id"].isdigit()  # docs/API.md: decimal string
    assert doc["key"].startswith("wl_"), doc
    assert doc["prefix"].startswith("wl_"), doc
    assert doc["key"].startswith(doc["prefix"]) and len(doc["prefix"]) < len(doc["key"])
    assert RFC3339_Z.match(doc["created_at"]), doc


def test_key_shown_once(api, user):
    k = make_key(api, user, "once")
    r = api.list_keys(user.token)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    mine = [i for i in items if i["id"] == k["id"]]
    assert len(mine) == 1, items
    item = mine[0]
    assert set(item) >= {"id", "name", "prefix", "created_at", "last_used_at"}, item
    assert "key" not in item
    assert item["prefix"] == k["prefix"] and item["name"] == "once"
    assert item["created_at"] == k["created_at"]
    assert k["key"] not in r.text  # the full key is nowhere in the listing
    for i in items:
        assert "key" not in i


def test_keys_are_distinct(api, user):
    a, b = make_key(api, user), make_key(api, user)
    assert a["key"] != b["key"] and a["id"] != b["id"]


def test_shorten_with_apikey_201(api, user):
    k = make_key(api, user)
    url = long_url()
    r = api.shorten(url, api_key=k["key"])
    assert r.status_code == 201, r.text
    assert_link(r.json(), url, owner="self")
    # owned by the key's user: visible to the user's JWT
    r2 = api.req("GET", "/links/" + r.json()["key"], token=user.token)
    assert r2.status_code == 200 and r2.json()["long_url"] == url


def test_shorten_with_bearer_401(api, user):
    assert_unauthorized(api.shorten(long_url(), token=user.token))


def test_shorten_without_credentials_401(api):
    assert_unauthorized(api.shorten(long_url()))


def test_shorten_with_unknown_key_401(api, user):
    k = make_key(api, user)["key"]
    # same shape, one character changed
    last = "A" if k[-1] != "A" else "B"
    assert_unauthorized(api.shorten(long_url(), api_key=k[:-1] + last))
    assert_unauthorized(api.shorten(long_url(), api_key=k + "x"))
    assert_unauthorized(api.shorten(long_url(), api_key=k[:-1]))


def test_shorten_invalid_url_400(api, user):
    k = make_key(api, user)["key"]
    assert_problem(api.shorten("ftp:/nope", api_key=k), 400, "invalid-url")


def test_apikey_works_on_links_endpoints(api, user):
    k = make_key(api, user)["key"]
    url = long_url()
    r = api.create(url, api_key=k)
    assert r.status_code == 201 and r.json()["owner"] == "self", r.text
    key = r.json()["key"]
    r = api.req("GET", "/links/" + key, api_key=k)
    assert r.status_code == 200 and r.json()["long_url"] == url
    assert key in [i["key"] for i in api.list_all(api_key=k)]
    assert api.req("DELETE", "/links/" + key, api_key=k).status_code == 204
    assert api.redirect(key).status_code == 404


def test_revoked_key_fails_on_next_request(api, user):
    k = make_key(api, user)
    assert api.shorten(long_url(), api_key=k["key"]).status_code == 201
    r = api.revoke_key(user.token, k["id"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    # the very next request, no pause
    assert_unauthorized(api.shorten(long_url(), api_key=k["key"]))
    assert_unauthorized(api.create(long_url(), api_key=k["key"]))
    assert_unauthorized(api.req("GET", "/links", api_key=k["key"]))
    # docs/API.md: revoked keys disappear from the listing
    ids = [i["id"] for i in api.list_keys(user.token).json()["items"]]
    assert k["id"] not in ids


def test_revoke_unknown_id_404(api, user):
    assert_problem(api.revoke_key(user.token, "999999999"), 404, "not-found")
    assert_problem(api.revoke_key(user.token, "not-a-number"), 404, "not-found")


def test_last_used_at_set_after_use(api, user):
    k = make_key(api, user, "touch")

    def item():
        items = api.list_keys(user.token).json()["items"]
        return [i for i in items if i["id"] == k["id"]][0]

    assert item()["last_used_at"] is None
    assert api.shorten(long_url(), api_key=k["key"]).status_code == 201
    used = item()["last_used_at"]
    assert used is not None and RFC3339_Z.match(used), used
    assert used >= k["created_at"]


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/user/api-keys", None),
    ("POST", "/user/api-keys", {"name": "via-key"}),
    ("DELETE", "/user/api-keys/{id}", None),
])
def test_apikey_management_is_jwt_only(api, user, method, path, body):
    k = make_key(api, user)
    r = api.req(method, path.format(id=k["id"]), body, api_key=k["key"])
    assert_unauthorized(r)
    # and the DELETE attempt did not revoke it
    assert api.shorten(long_url(), api_key=k["key"]).status_code == 201


def test_create_key_bad_name_400(api, user):
    r = api.req("POST", "/user/api-keys", {"name": 42}, token=user.token)
    assert_problem(r, 400)


# -- secrets at rest ---------------------------------------------------------------
def _files(root):
    for dirpath, _, names in os.walk(root):
        for n in names:
            yield Path(dirpath) / n


def _grep(root, needles):
    hits = []
    for p in _files(root):
        data = p.read_bytes()
        for label, n in needles.items():
            if n in data:
                hits.append((str(p), label))
    return hits


def test_no_plaintext_secrets_at_rest(server_factory):
    srv = server_factory.start(opts=OPTS)
    api = Api(srv)
    email = unique_email("rest")
    assert api.register(email, PASSWORD).status_code == 201
    r = api.login(email, PASSWORD)
    assert r.status_code == 200
    token = r.json()["access_token"]
    k = api.create_key(token, "rest").json()
    assert api.shorten(long_url(), api_key=k["key"]).status_code == 201  # writes last_used_at
    needles = {"password": PASSWORD.encode(), "api key": k["key"].encode()}
    files = list(_files(srv.data_dir))
    names = {p.name for p in files}
    assert any(n.endswith("-wal") for n in names), names  # the WAL is covered while live
    hits_live = _grep(srv.data_dir, needles)
    assert srv.stop() == 0
    hits_stopped = _grep(srv.data_dir, needles)
    assert not hits_live, hits_live
    assert not hits_stopped, hits_stopped
    # and nothing sensitive in the server's own log
    log = "\n".join(srv.err.lines + srv.out.lines)
    assert PASSWORD not in log and k["key"] not in log and token not in log
