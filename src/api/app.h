/* app.h - the WarpLink application: the HTTP server's hooks, the shared
 * services every handler uses, and the per-thread context.
 *
 * Ownership: wl_app owns the cache, the click queue, the metrics shards and
 * the JWT keyring for the life of `serve`. Each thread that runs handlers
 * (loop threads and offload threads) gets a wl_tctx with its own store
 * connection, KGS batch and metrics shard; nothing in a wl_tctx is shared. */
#ifndef WL_API_APP_H
#define WL_API_APP_H

#include <stdbool.h>

#include "api/metrics.h"
#include "cache/cache.h"
#include "core/config.h"
#include "core/kgs.h"
#include "http/server.h"
#include "store/store.h"

typedef struct wl_app wl_app;

typedef struct wl_tctx {
    wl_app *app;
    bool is_loop;
    unsigned index;
    wl_store *store; /* this thread's connection (read-only on loop threads) */
    wl_kgs kgs;
    wl_metrics_shard *metrics;
    int64_t now_ms;           /* wall clock of the request being handled */
    struct wl_clicks *clicks; /* loop threads: the click batch (may be NULL) */
} wl_tctx;

struct wl_app {
    wl_config cfg;
    char store_backend[16];
    char store_dsn[1100];
    char self_host[256]; /* host of public_url, for the "no self links" rule */
    size_t self_host_len;
    wl_cache *cache;
    wl_metrics metrics;
    wl_server *server;
    struct wl_analytics *analytics; /* click queue + worker; NULL when off */
    struct wl_auth *auth;           /* JWT keyring, rate limiters */
    wl_server_hooks hooks;
};

/* Opens the stores (migrating the schema), the cache and the queue. */
wl_status wl_app_init(wl_app *app, const wl_config *cfg, char *err, size_t errcap);
void wl_app_release(wl_app *app);

/* Routing (router.c): decides inline vs offload. */
wl_route_action wl_app_on_request(void *ctx, void *tctx, wl_exchange *ex);
void wl_app_offload(void *ctx, void *tctx, wl_exchange *ex);

/* Handlers. Inline ones run on loop threads and must not block. */
void wl_api_redirect(wl_tctx *t, wl_exchange *ex, wl_slice key);
void wl_api_healthz(wl_tctx *t, wl_exchange *ex);
void wl_api_readyz(wl_tctx *t, wl_exchange *ex);
void wl_api_metrics(wl_tctx *t, wl_exchange *ex);
void wl_api_problem_page(wl_tctx *t, wl_exchange *ex, wl_slice slug);
void wl_api_links_create(wl_tctx *t, wl_exchange *ex);

/* Helpers shared by handlers (reply.c). */
void wl_reply_problem(wl_exchange *ex, int status, const char *slug, const char *detail);
void wl_reply_json(wl_exchange *ex, int status, const char *json, size_t len, const char *location);
/* True when the client prefers HTML (Accept mentions text/html). */
bool wl_wants_html(const wl_http_request *req);

#endif
