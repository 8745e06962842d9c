"""Click analytics, end to end (API.md "Analytics", README "Click analytics").

A real `warplink serve` with its in-server worker; clicks are real GET/HEAD
requests; the figures come from GET /links/{key}/stats, polled (bounded)
until they are stable and equal to what was sent. Exactness is the point:
every expected number below is what the test itself sent.

Classification used (API.md + the brief): a human click needs a browser
user agent; crawlers, link previews, command-line tools / HTTP libraries,
an empty or missing user agent, and every HEAD request are bot_clicks.
Breakdowns (referrers, countries, devices, browsers, os) describe the
clicks, so each list sums to `clicks` (bots are not clicks).
"""

import datetime as dt
import re

import pytest

from analyticsutil import (UA_CHROME_ANDROID, UA_CHROME_MAC, UA_CURL, UA_FACEBOOK,
                           UA_FIREFOX_WIN, UA_GOOGLEBOT, UA_PYREQ, UA_SAFARI_IPHONE, UA_SLACK,
                           Owner, click, clicks, day_offset, figure, make_geoip,
                           src_conn, today_utc, wait_counted)
from authutil import assert_problem, assert_unauthorized
from helpers import RFC3339_Z

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LISTS = ("referrers", "countries", "devices", "browsers", "os")


@pytest.fixture(scope="module")
def srv(module_factory):
    return module_factory.start(opts={"batch_wait_ms": 50})


@pytest.fixture(scope="module")
def owner(srv):
    return Owner(srv)


def as_map(items):
    """{"value": clicks} of a breakdown list, checking its shape."""
    out = {}
    for it in items:
        assert set(it) == {"value", "clicks"}, it
        assert isinstance(it["value"], str) and it["value"], it
        assert isinstance(it["clicks"], int) and it["clicks"] > 0, it
        assert it["value"] not in out, f"duplicate value in breakdown: {items}"
        out[it["value"]] = it["clicks"]
    return out


def check_shape(doc, key, frm=None, to=None):
    for f in ("key", "from", "to", "clicks", "bot_clicks", "unique_visitors", "daily",
              "as_of") + LISTS:
        assert f in doc, (f, doc)
    assert doc["key"] == key, doc
    assert DAY_RE.match(doc["from"]) and DAY_RE.match(doc["to"]), doc
    if frm:
        assert doc["from"] == frm, doc
    if to:
        assert doc["to"] == to, doc
    for f in ("clicks", "bot_clicks", "unique_visitors"):
        assert isinstance(doc[f], int) and doc[f] >= 0, (f, doc)
    assert doc["as_of"] is None or RFC3339_Z.match(doc["as_of"]), doc["as_of"]
    for name in LISTS:
        items = doc[name]
        assert isinstance(items, list), (name, doc)
        counts = [it["clicks"] for it in items if it.get("value") != "other"]
        assert counts == sorted(counts, reverse=True), f"{name} not sorted desc: {items}"
        assert len([1 for it in items if it.get("value") != "other"]) <= 20, (name, items)
        as_map(items)
    # daily: every day of [from, to], in order, zeros included
    d0 = dt.date.fromisoformat(doc["from"])
    d1 = dt.date.fromisoformat(doc["to"])
    dates = [e["date"] for e in doc["daily"]]
    want = [(d0 + dt.timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)]
    assert dates == want, f"daily dates {dates} != every day of the range {want}"
    for e in doc["daily"]:
        assert set(e) == {"date", "clicks"} and isinstance(e["clicks"], int), e
    assert sum(e["clicks"] for e in doc["daily"]) == doc["clicks"], doc


def settle(owner, key, expected, frm=None, to=None, timeout=30.0):
    doc = wait_counted(lambda: owner.stats(key, frm, to), expected, timeout)
    check_shape(doc, key, frm, to)
    return doc


def test_exact_counts_and_breakdowns(srv, owner):
    key = owner.link()
    port = srv.port
    sent = []
    # humans: 5 Firefox/Windows via HN, 3 Chrome/Android via t.co, 2 iPhone direct
    sent += clicks(port, key, 5, ua=UA_FIREFOX_WIN,
                   referer="https://news.ycombinator.com/item?id=1")
    sent += clicks(port, key, 3, ua=UA_CHROME_ANDROID, referer="https://t.co/abc")
    sent += clicks(port, key, 2, ua=UA_SAFARI_IPHONE)
    humans = 10
    assert sent == [302] * humans, sent
    t = today_utc()
    doc = settle(owner, key, humans, t, t)
    figure("analytics: human clicks counted / sent", f"{doc['clicks']}/{humans}")
    assert doc["clicks"] == humans and doc["bot_clicks"] == 0, doc
    assert as_map(doc["browsers"]) == {"Firefox": 5, "Chrome": 3, "Safari": 2}, doc
    assert as_map(doc["os"]) == {"Windows": 5, "Android": 3, "iOS": 2}, doc
    assert as_map(doc["devices"]) == {"desktop": 5, "mobile": 5}, doc
    assert as_map(doc["referrers"]) == {"news.ycombinator.com": 5, "t.co": 3,
                                        "unknown": 2}, doc
    # no --geoip-db: every country is unknown
    assert as_map(doc["countries"]) == {"unknown": humans}, doc
    assert doc["daily"] == [{"date": t, "clicks": humans}], doc
    # three (address, browser) pairs, all from 127.0.0.1: at least one visitor,
    # never more visitors than clicks
    assert 1 <= doc["unique_visitors"] <= humans, doc
    assert doc["as_of"] is not None, doc
    figure("analytics: unique_visitors for 3 browsers on 1 address", doc["unique_visitors"])


def test_bots_and_head_are_not_clicks(srv, owner):
    key = owner.link()
    port = srv.port
    st = []
    st += clicks(port, key, 2, ua=UA_GOOGLEBOT)
    st += clicks(port, key, 1, ua=UA_SLACK)
    st += clicks(port, key, 1, ua=UA_FACEBOOK)
    st += clicks(port, key, 1, ua=UA_CURL)
    st += clicks(port, key, 1, ua=UA_PYREQ)
    st += clicks(port, key, 1, ua=None)          # no User-Agent header at all
    st += clicks(port, key, 1, ua="")            # empty User-Agent
    assert st == [302] * 8, st
    # HEAD with a browser user agent: same status, recorded as non-human
    with src_conn(port) as c:
        for _ in range(3):
            r = c.request("HEAD", "/" + key, [("User-Agent", UA_FIREFOX_WIN)])
            assert r.status == 302 and r.body == b"", r
            assert r.header("location"), r
    bots = 8 + 3
    # and 2 humans, so "bots are not clicks" is checked against a non-zero count
    assert clicks(port, key, 2, ua=UA_CHROME_MAC) == [302, 302]
    t = today_utc()
    doc = settle(owner, key, bots + 2, t, t)
    figure("analytics: bot_clicks counted / sent (crawlers, previews, CLI, empty UA, HEAD)",
           f"{doc['bot_clicks']}/{bots}")
    assert doc["bot_clicks"] == bots, doc
    assert doc["clicks"] == 2, doc
    assert as_map(doc["browsers"]) == {"Chrome": 2}, doc
    assert as_map(doc["os"]) == {"macOS": 2}, doc
    assert as_map(doc["devices"]) == {"desktop": 2}, doc
    assert doc["daily"] == [{"date": t, "clicks": 2}], doc


def test_every_day_in_range_zeros_included(srv, owner):
    key = owner.link()
    assert clicks(srv.port, key, 3) == [302] * 3
    t = today_utc()
    frm, to = day_offset(-9), day_offset(2)   # 12 days, today is the 10th
    doc = settle(owner, key, 3, frm, to)
    days = {e["date"]: e["clicks"] for e in doc["daily"]}
    assert len(doc["daily"]) == 12, doc["daily"]
    assert days[t] == 3 and sum(days.values()) == 3, doc["daily"]
    # a range without the click: all zeros, every day still listed
    frm2, to2 = day_offset(-40), day_offset(-31)
    doc2 = owner.stats(key, frm2, to2)
    check_shape(doc2, key, frm2, to2)
    assert len(doc2["daily"]) == 10 and doc2["clicks"] == 0 and doc2["bot_clicks"] == 0, doc2
    assert all(e["clicks"] == 0 for e in doc2["daily"]), doc2
    assert all(doc2[name] == [] for name in LISTS), doc2
    # one day; month and year boundaries are walked too
    doc3 = owner.stats(key, "2025-12-30", "2026-01-02")
    check_shape(doc3, key, "2025-12-30", "2026-01-02")
    assert [e["date"] for e in doc3["daily"]] == ["2025-12-30", "2025-12-31", "2026-01-01",
                                                 "2026-01-02"], doc3
    doc4 = owner.stats(key, "2028-02-28", "2028-03-01")   # leap year
    assert [e["date"] for e in doc4["daily"]] == ["2028-02-28", "2028-02-29",
                                                 "2028-03-01"], doc4
    # no parameters: the last 30 days, ending today
    doc5 = owner.stats(key)
    check_shape(doc5, key)
    assert doc5["to"] == t and len(doc5["daily"]) == 30, doc5
    assert doc5["clicks"] == 3, doc5
    figure("analytics: days listed for a 12-day range / default range",
           f"{len(doc['daily'])}/{len(doc5['daily'])}")


def test_top20_and_other(srv, owner):
    key = owner.link()
    n_hosts = 25
    expected = {}
    with src_conn(srv.port) as c:
        for i in range(n_hosts):
            host = f"h{i:02d}.example.org"
            expected[host] = i + 1          # distinct counts: no ties at the cut
            for _ in range(i + 1):
                assert click(srv.port, key, referer=f"https://{host}/p?q={i}", conn=c) == 302
    humans = sum(expected.values())
    t = today_utc()
    doc = settle(owner, key, humans, t, t)
    got = as_map(doc["referrers"])
    top = dict(sorted(expected.items(), key=lambda kv: -kv[1])[:20])
    rest = humans - sum(top.values())
    figure("analytics: referrers listed for 25 hosts (top 20 + other), other=",
           f"{len(doc['referrers'])}, {got.get('other')}")
    assert {k: v for k, v in got.items() if k != "other"} == top, doc["referrers"]
    assert got.get("other") == rest, doc["referrers"]
    assert sum(got.values()) == humans


def test_unique_visitors_50_addresses(srv, owner):
    key = owner.link()
    n_addr = 50
    for i in range(n_addr):
        src = f"127.0.0.{10 + i}"
        # two clicks each: repeat visits must not count as new visitors
        assert clicks(srv.port, key, 2, src=src, ua=UA_FIREFOX_WIN) == [302, 302], src
    t = today_utc()
    doc = settle(owner, key, 2 * n_addr, t, t)
    uv = doc["unique_visitors"]
    figure("analytics: unique_visitors for 50 addresses x 2 clicks (same UA)", uv)
    assert doc["clicks"] == 2 * n_addr, doc
    # "approximate": within 10% of the truth
    assert abs(uv - n_addr) <= n_addr // 10, f"unique_visitors {uv} for {n_addr} visitors"


def test_stats_authorization(srv, owner):
    key = owner.link()
    assert clicks(srv.port, key, 1) == [302]
    other = Owner(srv, "intruder")
    # someone else's link: exactly like a link that does not exist
    r_other = owner.stats_raw(key, token=other.token)
    p_other = assert_problem(r_other, 404, "not-found")
    r_missing = owner.stats_raw("zzzzzzz", token=other.token)
    p_missing = assert_problem(r_missing, 404, "not-found")
    assert p_other == p_missing, (p_other, p_missing)
    # an anonymous link has no owner: 404 for everyone
    r = owner.api.create("https://example.com/anon-stats")
    assert r.status_code == 201, r.text
    anon = r.json()["key"]
    assert_problem(owner.stats_raw(anon), 404, "not-found")
    # no / bad credentials: 401
    assert_unauthorized(owner.api.req("GET", f"/links/{key}/stats"))
    assert_unauthorized(owner.stats_raw(key, token="not.a.jwt"))
    # API keys: the owner's works, another user's gets 404
    mine = owner.api.create_key(owner.token, "stats").json()["key"]
    theirs = other.api.create_key(other.token, "stats").json()["key"]
    r = owner.stats_raw(key, api_key=mine)
    assert r.status_code == 200 and r.json()["key"] == key, (r.status_code, r.text)
    assert_problem(owner.stats_raw(key, api_key=theirs), 404, "not-found")
    figure("analytics: stats of another user's link", f"{r_other.status_code} (same body "
           f"as a missing key: {p_other == p_missing})")


@pytest.mark.parametrize("query", [
    "from=2026-13-01&to=2026-12-01",
    "from=2026-02-30&to=2026-03-01",
    "from=2026-1-1&to=2026-01-02",
    "from=20260101&to=20260102",
    "from=yesterday",
    "to=2026-11-31",
    "from=&to=2026-01-02",
    "from=2026-01-01T00:00:00Z&to=2026-01-02",
    "from=2026-01-10&to=2026-01-01",          # from after to
    "from=-001-01-01&to=2026-01-02",
])
def test_invalid_dates_400(srv, owner, query):
    key = owner.link()
    r = owner.stats_raw(key, query=query)
    assert_problem(r, 400)


def test_geo_countries(module_factory, tmp_path_factory):
    db = make_geoip(tmp_path_factory.mktemp("geo") / "test.mmdb")
    s = module_factory.start(opts={"batch_wait_ms": 50, "geoip_db": db})
    o = Owner(s, "geo")
    key = o.link()
    plan = {"127.0.0.7": 4, "127.0.3.9": 1,      # DE
            "127.1.0.5": 3, "127.1.200.1": 2,    # FR
            "127.2.0.9": 2}                      # not in the database
    for src, n in plan.items():
        assert clicks(s.port, key, n, src=src) == [302] * n, src
    # a bot from FR is a bot, not a French click
    assert clicks(s.port, key, 1, src="127.1.0.6", ua=UA_GOOGLEBOT) == [302]
    t = today_utc()
    doc = wait_counted(lambda: o.stats(key, t, t), sum(plan.values()) + 1)
    check_shape(doc, key, t, t)
    got = as_map(doc["countries"])
    figure("analytics: countries from the GeoIP fixture", got)
    assert got == {"DE": 5, "FR": 5, "unknown": 2}, doc["countries"]
    assert doc["bot_clicks"] == 1, doc

