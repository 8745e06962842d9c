"""Authorization matrix (API.md "Conventions": a resource owned by someone
else is answered exactly as if it did not exist, 404 `not-found`).

Users A and B; B acts with a JWT and, separately, with an API key. B never
reads, lists, deletes or gets stats of A's links, nor revokes A's API keys.
Anonymous links have "owner": null and nobody manages them via /links/{key}."""

import pytest

from authutil import Api, assert_problem, assert_unauthorized, long_url, unique

OPTS = {"login_rate": 100000, "login_burst": 100000}


@pytest.fixture(scope="module")
def api(module_factory):
    return Api(module_factory.start(opts=OPTS))


class Actor:
    def __init__(self, api, user, mode):
        self.user = user
        self.mode = mode
        if mode == "jwt":
            self.cred = {"token": user.token}
        else:
            r = api.create_key(user.token, "matrix")
            assert r.status_code == 201, r.text
            self.cred = {"api_key": r.json()["key"]}


@pytest.fixture(scope="module")
def world(api):
    a = api.new_user("A")
    b = api.new_user("B")
    url_random, url_alias = long_url("a-random"), long_url("a-alias")
    r = api.create(url_random, token=a.token)
    assert r.status_code == 201 and r.json()["owner"] == "self", r.text
    k_random = r.json()["key"]
    alias = unique("aAlias")
    r = api.custom(url_alias, alias, token=a.token)
    assert r.status_code == 201, r.text
    r = api.create_key(a.token, "a-key")
    assert r.status_code == 201
    a_key = r.json()
    return {"A": a, "B": b, "links": {k_random: url_random, alias: url_alias}, "a_key": a_key}


@pytest.fixture(params=["jwt", "apikey"])
def b(request, api, world):
    return Actor(api, world["B"], request.param)


def nonexistent_404(api, b, method, path):
    """The answer B gets for a key that never existed."""
    r = api.req(method, path.format(key=unique("none")), **b.cred)
    assert_problem(r, 404, "not-found")
    return r


def test_b_cannot_read(api, world, b):
    ref = nonexistent_404(api, b, "GET", "/links/{key}")
    for key in world["links"]:
        r = api.req("GET", "/links/" + key, **b.cred)
        assert_problem(r, 404, "not-found")
        assert r.content == ref.content, "existence leaks through the 404 body"
        assert key not in r.text


def test_b_cannot_list(api, world, b):
    b_url = long_url("b-own")
    r = api.create(b_url, **b.cred)
    assert r.status_code == 201, r.text
    b_keys = {i["key"] for i in api.list_all(**b.cred)}
    assert r.json()["key"] in b_keys  # control: B's own listing works
    assert not (b_keys & set(world["links"])), b_keys
    a_keys = {i["key"] for i in api.list_all(token=world["A"].token)}
    assert set(world["links"]) <= a_keys
    assert r.json()["key"] not in a_keys


def test_b_cannot_delete(api, world, b):
    ref = nonexistent_404(api, b, "DELETE", "/links/{key}")
    for key, url in world["links"].items():
        r = api.req("DELETE", "/links/" + key, **b.cred)
        assert_problem(r, 404, "not-found")
        assert r.content == ref.content
        red = api.redirect(key)
        assert red.status_code == 302 and red.headers["Location"] == url
        r = api.req("GET", "/links/" + key, token=world["A"].token)
        assert r.status_code == 200 and r.json()["long_url"] == url


def test_b_cannot_get_stats(api, world, b):
    ref = nonexistent_404(api, b, "GET", "/links/{key}/stats")
    for key in world["links"]:
        r = api.req("GET", f"/links/{key}/stats", **b.cred)
        assert_problem(r, 404, "not-found")
        assert r.content == ref.content


def test_owner_gets_stats(api, world):
    """Control for the test above: the owner is answered (else a blanket 404
    would pass it)."""
    for key in world["links"]:
        r = api.req("GET", f"/links/{key}/stats", token=world["A"].token)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.json()["key"] == key


def test_b_cannot_revoke_a_key(api, world):
    a_key = world["a_key"]
    ref = api.revoke_key(world["B"].token, "987654321")
    assert_problem(ref, 404, "not-found")
    r = api.revoke_key(world["B"].token, a_key["id"])
    assert_problem(r, 404, "not-found")
    assert r.content == ref.content
    # B's listing does not show it, A's does, and it still works
    assert a_key["id"] not in [i["id"] for i in api.list_keys(world["B"].token).json()["items"]]
    assert a_key["id"] in [i["id"] for i in api.list_keys(world["A"].token).json()["items"]]
    r = api.shorten(long_url(), api_key=a_key["key"])
    assert r.status_code == 201, r.text


def test_b_key_acts_as_b_not_a(api, world, b):
    """A link B creates is B's: A cannot see it."""
    r = api.shorten(long_url(), api_key=b.cred["api_key"]) if b.mode == "apikey" \
        else api.create(long_url(), **b.cred)
    assert r.status_code == 201
    key = r.json()["key"]
    assert_problem(api.req("GET", "/links/" + key, token=world["A"].token), 404, "not-found")


def test_anonymous_link_unmanageable(api, world):
    url = long_url("anon")
    r = api.create(url)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert "owner" in doc and doc["owner"] is None
    key = doc["key"]
    for actor in (world["A"], world["B"]):
        assert_problem(api.req("GET", "/links/" + key, token=actor.token), 404, "not-found")
        assert_problem(api.req("DELETE", "/links/" + key, token=actor.token), 404, "not-found")
        assert key not in {i["key"] for i in api.list_all(token=actor.token)}
    assert_unauthorized(api.req("GET", "/links/" + key))
    assert_unauthorized(api.req("DELETE", "/links/" + key))
    red = api.redirect(key)
    assert red.status_code == 302 and red.headers["Location"] == url


def test_anonymous_link_stats_404(api, world):
    r = api.create(long_url("anon-stats"))
    assert r.status_code == 201 and r.json()["owner"] is None
    key = r.json()["key"]
    for actor in (world["A"], world["B"]):
        assert_problem(api.req("GET", f"/links/{key}/stats", token=actor.token), 404,
                       "not-found")


def test_owner_sees_self(api, world):
    for key, url in world["links"].items():
        r = api.req("GET", "/links/" + key, token=world["A"].token)
        assert r.status_code == 200, r.text
        assert r.json()["owner"] == "self" and r.json()["long_url"] == url


def test_owner_delete_last(api, world):
    """Runs last in this module: A can delete what B could not."""
    for key in list(world["links"]):
        assert api.req("DELETE", "/links/" + key, token=world["A"].token).status_code == 204
        assert api.redirect(key).status_code == 404
