/* app.c - assembles the application from its services and implements the
 * server's per-thread hooks. */
#include "api/app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analytics/analytics.h"
#include "api/auth.h"
#include "api/clicks.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/password.h"
#include "core/url.h"

static void *app_thread_init(void *ctx, bool is_loop, unsigned index);
static void app_thread_fini(void *ctx, void *tctx);
static void app_before_flush(void *ctx, void *tctx);
static void app_on_response(void *ctx, void *tctx, const wl_exchange *ex);

/* The host part of public_url, for refusing links back to ourselves. */
static wl_status derive_self_host(wl_app *app, char *err, size_t errcap)
{
    if (app->cfg.public_url_derived) { /* the listen host; its port may be 0 */
        unsigned port;
        if (wl_config_listen_parts(&app->cfg, app->self_host, sizeof(app->self_host), &port)) {
            snprintf(err, errcap, "--listen '%s' is not host:port", app->cfg.listen);
            return WL_EINVAL;
        }
        app->self_host_len = strlen(app->self_host);
        return WL_OK;
    }
    const char *u = app->cfg.public_url;
    size_t n = strlen(u);
    const char *host;
    size_t hlen;
    if (wl_url_check(u, n, NULL, 0) != WL_URL_OK || wl_url_host(u, n, &host, &hlen) != 0 ||
        hlen >= sizeof(app->self_host) || strpbrk(u, "\"\\")) {
        snprintf(err, errcap, "--public-url '%s' is not an absolute http(s) URL", u);
        return WL_EINVAL;
    }
    memcpy(app->self_host, host, hlen);
    app->self_host[hlen] = 0;
    app->self_host_len = hlen;
    return WL_OK;
}

static wl_status open_store(wl_app *app, char *err, size_t errcap)
{
    snprintf(app->store_backend, sizeof(app->store_backend), "sqlite");
    snprintf(app->store_dsn, sizeof(app->store_dsn), "%s/links.db", app->cfg.data_dir);
    wl_store *st = NULL;
    wl_status s = wl_store_open(app->store_backend, app->store_dsn, WL_STORE_MIGRATE, &st);
    if (s != WL_OK) {
        snprintf(err, errcap, "cannot open the link store %s: %s", app->store_dsn, wl_strerror(s));
        return s;
    }
    wl_store_close(st);
    return WL_OK;
}

wl_status wl_app_init(wl_app *app, const wl_config *cfg, char *err, size_t errcap)
{
    memset(app, 0, sizeof(*app));
    app->cfg = *cfg;
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create data directory %s: %s", cfg->data_dir,
                 strerror(errno));
        return WL_EIO;
    }
    wl_status st = derive_self_host(app, err, errcap);
    if (st == WL_OK)
        st = open_store(app, err, errcap);
    if (st == WL_OK && (st = wl_cache_new(cfg->cache_bytes, 0, &app->cache)) != WL_OK)
        snprintf(err, errcap, "cannot allocate the read cache");
    if (st == WL_OK)
        st = wl_auth_new(cfg, &app->auth, err, errcap);
    if (st == WL_OK && cfg->analytics)
        st = wl_analytics_open(cfg, &app->analytics, err, errcap);
    if (st == WL_OK)
        st = wl_password_init(NULL, 0, WL_PASSWORD_WAIT_MS_DEFAULT);
    if (st != WL_OK) {
        wl_app_release(app);
        return st;
    }
    wl_metrics_init(&app->metrics, cfg->threads + cfg->offload_threads + 1);
    app->hooks = (wl_server_hooks){
        .ctx = app,
        .thread_init = app_thread_init,
        .thread_fini = app_thread_fini,
        .on_request = wl_app_on_request,
        .offload = wl_app_offload,
        .before_flush = app_before_flush,
        .on_response = app_on_response,
    };
    return WL_OK;
}

void wl_app_release(wl_app *app)
{
    wl_analytics_close(app->analytics);
    app->analytics = NULL;
    wl_auth_free(app->auth);
    app->auth = NULL;
    wl_cache_free(app->cache);
    app->cache = NULL;
    wl_metrics_release(&app->metrics);
}

static void *app_thread_init(void *ctx, bool is_loop, unsigned index)
{
    wl_app *app = ctx;
    wl_tctx *t = wl_xcalloc(1, sizeof(*t));
    t->app = app;
    t->is_loop = is_loop;
    t->index = index;
    t->metrics = wl_metrics_claim(&app->metrics);
    wl_kgs_init(&t->kgs);
    unsigned flags = is_loop ? WL_STORE_READONLY : 0;
    wl_status st = wl_store_open(app->store_backend, app->store_dsn, flags, &t->store);
    if (st != WL_OK)
        wl_error("thread %u: cannot open the link store: %s", index, wl_strerror(st));
    if (is_loop && app->analytics) {
        st = wl_analytics_clicks_open(app->analytics, index, &t->clicks);
        if (st != WL_OK)
            wl_error("loop %u: click capture is off: %s", index, wl_strerror(st));
    }
    return t;
}

static void app_thread_fini(void *ctx, void *tctx)
{
    (void)ctx;
    wl_tctx *t = tctx;
    wl_clicks_close(t->clicks);
    wl_store_close(t->store);
    free(t);
}

static void app_before_flush(void *ctx, void *tctx)
{
    (void)ctx;
    wl_tctx *t = tctx;
    wl_clicks_flush(t->clicks);
}

static void app_on_response(void *ctx, void *tctx, const wl_exchange *ex)
{
    (void)ctx;
    wl_tctx *t = tctx;
    wl_metrics_observe(t->metrics, ex->route, ex->status, wl_mono_ns() - ex->start_ns);
}
