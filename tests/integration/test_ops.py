"""Operations endpoints (API.md "Operations"): /healthz, /readyz, /metrics.
Metric names are the assumptions listed at the top of conftest.py."""

import secrets
import string

import pytest

from helpers import Conn, create_link, http, metric_sum, metric_value, parse_metrics, poll

B62 = string.ascii_letters + string.digits


def scrape(port):
    r = http(port, "GET", "/metrics")
    assert r.status == 200, r
    assert r.content_type == "text/plain", r
    return parse_metrics(r.body.decode("utf-8")), r.body.decode("utf-8")


def redirects_302(samples):
    return metric_value(samples, "warplink_http_requests_total",
                        route="redirect", status="302") or 0.0


def test_healthz(server):
    r = http(server.port, "GET", "/healthz")
    assert r.status == 200, r
    assert r.content_type == "application/json", r
    assert r.json() == {"status": "ok"}


def test_readyz(server):
    r = http(server.port, "GET", "/readyz")
    assert r.status == 200, r


REQUIRED = [
    ("warplink_http_requests_total", "counter"),
    ("warplink_http_request_duration_seconds", "histogram"),
    ("warplink_cache_hits_total", "counter"),
    ("warplink_cache_misses_total", "counter"),
    ("warplink_cache_evictions_total", "counter"),
    ("warplink_open_connections", "gauge"),
    ("warplink_kgs_collisions_total", "counter"),
]


@pytest.mark.parametrize("name,kind", REQUIRED)
def test_metrics_families_present_and_typed(server, name, kind):
    samples, text = scrape(server.port)
    assert f"# TYPE {name} {kind}" in text, f"no '# TYPE {name} {kind}' line"
    if kind == "histogram":
        assert metric_sum(samples, name + "_bucket", le="+Inf") is not None
        assert metric_sum(samples, name + "_count") is not None
        assert metric_sum(samples, name + "_sum") is not None
    else:
        assert metric_sum(samples, name) is not None, f"{name} has no sample"
        assert metric_sum(samples, name) >= 0


def test_redirect_counter_counts_each_redirect(server):
    key = create_link(server.port, "https://example.com/metrics/count")["key"]
    before, _ = scrape(server.port)
    with Conn(server.port) as c:
        for _ in range(3):
            assert c.request("GET", "/" + key).status == 302
    # A worker thread may count a request just after its response left, so
    # wait (bounded) for the count to arrive, then demand it is exact.
    poll(lambda: redirects_302(scrape(server.port)[0]) - redirects_302(before) >= 3, 2.0)
    after, _ = scrape(server.port)
    assert redirects_302(after) - redirects_302(before) == 3


def test_404_counted_under_redirect_route(server):
    def n404(s):
        return metric_value(s, "warplink_http_requests_total", route="redirect",
                            status="404") or 0.0
    before, _ = scrape(server.port)
    unknown = "".join(secrets.choice(B62) for _ in range(7))
    assert http(server.port, "GET", "/" + unknown).status == 404
    poll(lambda: n404(scrape(server.port)[0]) - n404(before) >= 1, 2.0)
    after, _ = scrape(server.port)
    assert n404(after) - n404(before) == 1


def test_second_redirect_is_cache_hit(server):
    key = create_link(server.port, "https://example.com/metrics/hit")["key"]
    assert http(server.port, "GET", "/" + key).status == 302  # now surely cached
    before, _ = scrape(server.port)
    assert http(server.port, "GET", "/" + key).status == 302
    after, _ = scrape(server.port)
    hits = metric_sum(after, "warplink_cache_hits_total") - metric_sum(
        before, "warplink_cache_hits_total")
    misses = metric_sum(after, "warplink_cache_misses_total") - metric_sum(
        before, "warplink_cache_misses_total")
    assert hits == 1, f"second GET: cache hits +{hits}"
    assert misses == 0, f"second GET: cache misses +{misses}"


def test_unknown_key_is_a_miss_first(server):
    before, _ = scrape(server.port)
    unknown = "".join(secrets.choice(B62) for _ in range(7))
    assert http(server.port, "GET", "/" + unknown).status == 404
    after, _ = scrape(server.port)
    misses = metric_sum(after, "warplink_cache_misses_total") - metric_sum(
        before, "warplink_cache_misses_total")
    assert misses == 1


def test_latency_histogram_consistent_and_counts(server):
    before, _ = scrape(server.port)
    for _ in range(5):
        assert http(server.port, "GET", "/healthz").status == 200
    name = "warplink_http_request_duration_seconds"

    def grew():
        s, _ = scrape(server.port)
        return metric_sum(s, name + "_count") - metric_sum(before, name + "_count") >= 5
    assert poll(grew, 2.0), "latency histogram _count did not grow by 5 requests"
    after, _ = scrape(server.port)
    # Per label set: buckets non-decreasing in le, +Inf bucket == _count.
    series = {}
    for (n, labels), v in after.items():
        if n == name + "_bucket":
            d = dict(labels)
            le = d.pop("le")
            series.setdefault(frozenset(d.items()), []).append(
                (float("inf") if le == "+Inf" else float(le), v))
    assert series, "no histogram buckets"
    for ls, buckets in series.items():
        buckets.sort()
        vals = [v for _, v in buckets]
        assert vals == sorted(vals), f"non-cumulative buckets for {dict(ls)}: {buckets}"
        assert buckets[-1][0] == float("inf"), f"no +Inf bucket for {dict(ls)}"
        assert buckets[-1][1] == after[(name + "_count", ls)], dict(ls)
        assert len(buckets) >= 3, "a latency histogram needs more than 2 buckets"


def test_open_connections_gauge_tracks_connections(server):
    def gauge():
        s, _ = scrape(server.port)
        return metric_sum(s, "warplink_open_connections")
    extra = [Conn(server.port) for _ in range(4)]
    try:
        for c in extra:  # surely accepted once answered
            assert c.request("GET", "/healthz").status == 200
        held = gauge()
        assert held >= 4, f"4 connections held open, gauge says {held}"
    finally:
        for c in extra:
            c.close()
    # Other tests' closed connections may also drop out meanwhile: compare
    # with the value while held, not with a baseline taken before.
    assert poll(lambda: gauge() <= held - 4, 3.0), \
        f"gauge did not drop by 4 within 3 s of closing 4 connections (held: {held})"


def test_evictions_with_small_cache(server_factory):
    # 200 links of ~1.2 KB = ~240 KB through a 96 KiB cache: by pigeonhole
    # it must evict; every redirect must still be right.
    cache_bytes = 96 * 1024
    s = server_factory.start(opts={"cache_bytes": cache_bytes})
    links = []
    for i in range(200):
        url = f"https://example.com/evict/{i}/" + "e" * 1200
        links.append((create_link(s.port, url)["key"], url))
    assert sum(len(k) + len(u) for k, u in links) > 2 * cache_bytes
    with Conn(s.port) as c:
        for key, url in links:
            r = c.request("GET", "/" + key)
            assert r.status == 302 and r.header("location") == url
    samples, _ = scrape(s.port)
    assert metric_sum(samples, "warplink_cache_evictions_total") > 0
