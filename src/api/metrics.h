/* metrics.h - request counters and latency histograms, per thread.
 *
 * Each thread that answers requests owns one shard and is its only writer
 * (relaxed atomic load+store, which compiles to a plain add: no lock prefix
 * on the hot path). /metrics sums the shards with relaxed loads. */
#ifndef WL_API_METRICS_H
#define WL_API_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum wl_route {
    WL_ROUTE_REDIRECT = 0,
    WL_ROUTE_LINKS_CREATE,
    WL_ROUTE_LINKS_CUSTOM,
    WL_ROUTE_LINKS_LIST,
    WL_ROUTE_LINK_GET,
    WL_ROUTE_LINK_DELETE,
    WL_ROUTE_LINK_STATS,
    WL_ROUTE_SHORTEN,
    WL_ROUTE_AUTH_REGISTER,
    WL_ROUTE_AUTH_LOGIN,
    WL_ROUTE_APIKEYS,
    WL_ROUTE_HEALTHZ,
    WL_ROUTE_READYZ,
    WL_ROUTE_METRICS,
    WL_ROUTE_PROBLEMS,
    WL_ROUTE_OTHER,
    WL_ROUTE_COUNT
} wl_route;

#define WL_STATUS_SLOTS 24
#define WL_LATENCY_BUCKETS 15

typedef struct wl_metrics_shard {
    _Atomic uint64_t requests[WL_ROUTE_COUNT][WL_STATUS_SLOTS];
    _Atomic uint64_t latency[WL_ROUTE_COUNT][WL_LATENCY_BUCKETS]; /* last = +Inf */
    _Atomic uint64_t latency_sum_ns[WL_ROUTE_COUNT];
} wl_metrics_shard;

typedef struct wl_metrics {
    unsigned nshards;
    _Atomic unsigned used;
    wl_metrics_shard *shards;
} wl_metrics;

void wl_metrics_init(wl_metrics *m, unsigned nshards);
void wl_metrics_release(wl_metrics *m);
/* Hands out the next shard; each thread calls this once. */
wl_metrics_shard *wl_metrics_claim(wl_metrics *m);
void wl_metrics_observe(wl_metrics_shard *s, unsigned route, int status, int64_t elapsed_ns);
/* Appends the Prometheus text of the request metrics. */
void wl_metrics_render(wl_metrics *m, wl_buf *out);

const char *wl_route_name(unsigned route);

#endif
