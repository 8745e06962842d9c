/* metrics.c - per-thread request counters and the Prometheus rendering. */
#include "api/metrics.h"

#include <stdlib.h>

static const int status_codes[WL_STATUS_SLOTS - 1] = {200, 201, 204, 302, 400, 401, 403, 404,
                                                      405, 408, 409, 410, 411, 413, 415, 429,
                                                      431, 500, 501, 503, 505, 100, 304};

static const double bucket_le[WL_LATENCY_BUCKETS - 1] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

static const char *const route_names[WL_ROUTE_COUNT] = {
    [WL_ROUTE_REDIRECT] = "redirect",
    [WL_ROUTE_LINKS_CREATE] = "links_create",
    [WL_ROUTE_LINKS_CUSTOM] = "links_custom",
    [WL_ROUTE_LINKS_LIST] = "links_list",
    [WL_ROUTE_LINK_GET] = "link_get",
    [WL_ROUTE_LINK_DELETE] = "link_delete",
    [WL_ROUTE_LINK_STATS] = "link_stats",
    [WL_ROUTE_SHORTEN] = "shorten",
    [WL_ROUTE_AUTH_REGISTER] = "auth_register",
    [WL_ROUTE_AUTH_LOGIN] = "auth_login",
    [WL_ROUTE_APIKEYS] = "api_keys",
    [WL_ROUTE_HEALTHZ] = "healthz",
    [WL_ROUTE_READYZ] = "readyz",
    [WL_ROUTE_METRICS] = "metrics",
    [WL_ROUTE_PROBLEMS] = "problems",
    [WL_ROUTE_OTHER] = "other",
};

const char *wl_route_name(unsigned route)
{
    return route < WL_ROUTE_COUNT ? route_names[route] : "other";
}

void wl_metrics_init(wl_metrics *m, unsigned nshards)
{
    m->nshards = nshards;
    atomic_init(&m->used, 0);
    m->shards = wl_xcalloc(nshards, sizeof(*m->shards));
}

void wl_metrics_release(wl_metrics *m)
{
    free(m->shards);
    m->shards = NULL;
}

wl_metrics_shard *wl_metrics_claim(wl_metrics *m)
{
    unsigned i = atomic_fetch_add(&m->used, 1);
    if (i >= m->nshards)
        abort(); /* sized at start for every thread that answers requests */
    return &m->shards[i];
}

static unsigned status_slot(int status)
{
    for (unsigned i = 0; i < WL_STATUS_SLOTS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return WL_STATUS_SLOTS - 1;
}

static inline void bump(_Atomic uint64_t *c, uint64_t by)
{
    /* Single writer: a relaxed load+store is an ordinary add. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

void wl_metrics_observe(wl_metrics_shard *s, unsigned route, int status, int64_t elapsed_ns)
{
    if (route >= WL_ROUTE_COUNT)
        route = WL_ROUTE_OTHER;
    bump(&s->requests[route][status_slot(status)], 1);
    double secs = (double)elapsed_ns / 1e9;
    unsigned b = 0;
    while (b < WL_LATENCY_BUCKETS - 1 && secs > bucket_le[b])
        b++;
    bump(&s->latency[route][b], 1);
    bump(&s->latency_sum_ns[route], elapsed_ns > 0 ? (uint64_t)elapsed_ns : 0);
}

static uint64_t sum_over(wl_metrics *m, size_t offset)
{
    uint64_t total = 0;
    unsigned used = atomic_load(&m->used);
    for (unsigned i = 0; i < used && i < m->nshards; i++)
        total += atomic_load_explicit((_Atomic uint64_t *)((char *)&m->shards[i] + offset),
                                      memory_order_relaxed);
    return total;
}

static void render_requests(wl_metrics *m, wl_buf *out)
{
    wl_buf_adds(out, "# HELP warplink_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE warplink_http_requests_total counter\n");
    for (unsigned r = 0; r < WL_ROUTE_COUNT; r++) {
        for (unsigned s = 0; s < WL_STATUS_SLOTS; s++) {
            uint64_t v = sum_over(m, offsetof(wl_metrics_shard, requests[r][s]));
            if (!v)
                continue;
            if (s < WL_STATUS_SLOTS - 1)
                wl_buf_addf(out, "warplink_http_requests_total{route=\"%s\",status=\"%d\"} ",
                            route_names[r], status_codes[s]);
            else
                wl_buf_addf(out, "warplink_http_requests_total{route=\"%s\",status=\"other\"} ",
                            route_names[r]);
            wl_buf_add_u64(out, v);
            wl_buf_adds(out, "\n");
        }
    }
}

static void render_latency(wl_metrics *m, wl_buf *out)
{
    wl_buf_adds(out, "# HELP warplink_http_request_duration_seconds Time from a parsed request "
                     "to its queued response.\n"
                     "# TYPE warplink_http_request_duration_seconds histogram\n");
    for (unsigned r = 0; r < WL_ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (unsigned b = 0; b < WL_LATENCY_BUCKETS; b++)
            cum += sum_over(m, offsetof(wl_metrics_shard, latency[r][b]));
        if (!cum && r != WL_ROUTE_REDIRECT)
            continue;
        cum = 0;
        for (unsigned b = 0; b < WL_LATENCY_BUCKETS; b++) {
            cum += sum_over(m, offsetof(wl_metrics_shard, latency[r][b]));
            if (b < WL_LATENCY_BUCKETS - 1)
                wl_buf_addf(out,
                            "warplink_http_request_duration_seconds_bucket{route=\"%s\","
                            "le=\"%g\"} ",
                            route_names[r], bucket_le[b]);
            else
                wl_buf_addf(out,
                            "warplink_http_request_duration_seconds_bucket{route=\"%s\","
                            "le=\"+Inf\"} ",
                            route_names[r]);
            wl_buf_add_u64(out, cum);
            wl_buf_adds(out, "\n");
        }
        double sum = (double)sum_over(m, offsetof(wl_metrics_shard, latency_sum_ns[r])) / 1e9;
        wl_buf_addf(out, "warplink_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
                    route_names[r], sum);
        wl_buf_addf(out, "warplink_http_request_duration_seconds_count{route=\"%s\"} ",
                    route_names[r]);
        wl_buf_add_u64(out, cum);
        wl_buf_adds(out, "\n");
    }
}

void wl_metrics_render(wl_metrics *m, wl_buf *out)
{
    render_requests(m, out);
    render_latency(m, out);
}
