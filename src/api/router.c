/* router.c - maps a request to its handler, and decides where it runs.
 *
 * Only the redirect and the cheap operational endpoints run on the loop
 * thread. Everything that parses JSON, writes the database or hashes a
 * password is offloaded so it can never stall redirects. */
#include <stdio.h>
#include <string.h>

#include "api/app.h"
#include "api/handlers.h"
#include "core/clock.h"
#include "http/response.h"

typedef struct route_match {
    unsigned route;
    wl_slice arg; /* key, id or slug taken from the path */
    bool offload;
    const char *allow; /* methods allowed on the path, for 405 */
    bool method_ok;
} route_match;

static bool seg_eq(wl_slice path, const char *lit)
{
    return wl_slice_eq(path, lit);
}

static bool has_prefix(wl_slice path, const char *lit, wl_slice *rest)
{
    size_t n = strlen(lit);
    if (path.len <= n || memcmp(path.ptr, lit, n) != 0)
        return false;
    *rest = wl_slice_make(path.ptr + n, path.len - n);
    return true;
}

static bool no_slash(wl_slice s)
{
    return s.len > 0 && !memchr(s.ptr, '/', s.len);
}

static void set(route_match *m, unsigned route, bool offload, const char *allow, bool ok)
{
    m->route = route;
    m->offload = offload;
    m->allow = allow;
    m->method_ok = ok;
}

/* /links, /links/custom, /links/{key}, /links/{key}/stats */
static bool match_links(wl_slice path, wl_http_method mth, route_match *m)
{
    wl_slice rest;
    if (seg_eq(path, "/links")) {
        if (mth == WL_HTTP_GET)
            set(m, WL_ROUTE_LINKS_LIST, true, "GET, POST", true);
        else
            set(m, WL_ROUTE_LINKS_CREATE, true, "GET, POST", mth == WL_HTTP_POST);
        return true;
    }
    if (!has_prefix(path, "/links/", &rest))
        return false;
    /* "custom" is a valid alias, so only POST /links/custom creates; GET and
     * DELETE fall through to the link named "custom" like any other key. */
    if (seg_eq(path, "/links/custom") && mth != WL_HTTP_GET && mth != WL_HTTP_DELETE) {
        set(m, WL_ROUTE_LINKS_CUSTOM, true, "GET, POST, DELETE", mth == WL_HTTP_POST);
        return true;
    }
    const char *slash = memchr(rest.ptr, '/', rest.len);
    if (!slash) {
        m->arg = rest;
        if (mth == WL_HTTP_DELETE)
            set(m, WL_ROUTE_LINK_DELETE, true, "GET, DELETE", true);
        else
            set(m, WL_ROUTE_LINK_GET, true, "GET, DELETE", mth == WL_HTTP_GET);
        return true;
    }
    m->arg = wl_slice_make(rest.ptr, (size_t)(slash - rest.ptr));
    wl_slice tail = wl_slice_make(slash, rest.len - m->arg.len);
    if (m->arg.len && seg_eq(tail, "/stats")) {
        set(m, WL_ROUTE_LINK_STATS, true, "GET", mth == WL_HTTP_GET);
        return true;
    }
    return false;
}

static bool match_api(wl_slice path, wl_http_method mth, route_match *m)
{
    wl_slice rest;
    if (seg_eq(path, "/v1/shorten")) {
        set(m, WL_ROUTE_SHORTEN, true, "POST", mth == WL_HTTP_POST);
        return true;
    }
    if (seg_eq(path, "/auth/register") || seg_eq(path, "/auth/login")) {
        set(m, path.len == 14 ? WL_ROUTE_AUTH_REGISTER : WL_ROUTE_AUTH_LOGIN, true, "POST",
            mth == WL_HTTP_POST);
        return true;
    }
    if (seg_eq(path, "/user/api-keys")) {
        set(m, WL_ROUTE_APIKEYS, true, "GET, POST", mth == WL_HTTP_GET || mth == WL_HTTP_POST);
        return true;
    }
    if (has_prefix(path, "/user/api-keys/", &rest) && no_slash(rest)) {
        m->arg = rest;
        set(m, WL_ROUTE_APIKEYS, true, "DELETE", mth == WL_HTTP_DELETE);
        return true;
    }
    return match_links(path, mth, m);
}

static bool match_ops(wl_slice path, wl_http_method mth, route_match *m)
{
    bool get = mth == WL_HTTP_GET || mth == WL_HTTP_HEAD;
    wl_slice rest;
    if (seg_eq(path, "/healthz"))
        set(m, WL_ROUTE_HEALTHZ, false, "GET, HEAD", get);
    else if (seg_eq(path, "/readyz"))
        set(m, WL_ROUTE_READYZ, false, "GET, HEAD", get);
    else if (seg_eq(path, "/metrics"))
        set(m, WL_ROUTE_METRICS, false, "GET, HEAD", get);
    else if (has_prefix(path, "/problems/", &rest) && no_slash(rest)) {
        m->arg = rest;
        set(m, WL_ROUTE_PROBLEMS, false, "GET, HEAD", get);
    } else
        return false;
    return true;
}

static void match(const wl_http_request *req, route_match *m)
{
    wl_slice path = req->path;
    wl_http_method mth = req->method;
    *m = (route_match){.route = WL_ROUTE_OTHER, .allow = "GET, HEAD"};
    if (match_ops(path, mth, m) || match_api(path, mth, m))
        return;
    wl_slice key;
    if (has_prefix(path, "/", &key) && no_slash(key)) {
        m->arg = key;
        set(m, WL_ROUTE_REDIRECT, false, "GET, HEAD", mth == WL_HTTP_GET || mth == WL_HTTP_HEAD);
        return;
    }
    m->method_ok = true; /* unknown path: 404 whatever the method */
}

static void reply_not_found(wl_exchange *ex)
{
    wl_reply_problem(ex, 404, "not-found", "there is nothing at this address");
}

static void reply_method(wl_exchange *ex, const char *allow)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"type\":\"/problems/method-not-allowed\",\"title\":\"Method Not "
                     "Allowed\",\"status\":405,\"detail\":\"this address accepts %s\"}",
                     allow);
    ex->status = 405;
    wl_resp_start(ex->out, 405, "application/problem+json", (size_t)n, ex->close);
    wl_resp_header(ex->out, "Allow", allow, strlen(allow));
    wl_resp_end(ex->out);
    if (ex->req->method != WL_HTTP_HEAD)
        wl_buf_add(ex->out, body, (size_t)n);
}

wl_route_action wl_app_on_request(void *ctx, void *tctx, wl_exchange *ex)
{
    (void)ctx;
    wl_tctx *t = tctx;
    route_match m;
    match(ex->req, &m);
    ex->route = m.route;
    t->now_ms = wl_now_ms();
    if (!m.method_ok) {
        reply_method(ex, m.allow);
        return WL_ROUTE_DONE;
    }
    if (m.offload) {
        /* The path argument is re-derived on the pool thread from the same
         * request bytes; nothing else needs to cross threads. */
        return WL_ROUTE_OFFLOAD;
    }
    switch (m.route) {
    case WL_ROUTE_REDIRECT:
        wl_api_redirect(t, ex, m.arg);
        break;
    case WL_ROUTE_HEALTHZ:
        wl_api_healthz(t, ex);
        break;
    case WL_ROUTE_READYZ:
        wl_api_readyz(t, ex);
        break;
    case WL_ROUTE_METRICS:
        wl_api_metrics(t, ex);
        break;
    case WL_ROUTE_PROBLEMS:
        wl_api_problem_page(t, ex, m.arg);
        break;
    default:
        reply_not_found(ex);
    }
    return WL_ROUTE_DONE;
}

void wl_app_offload(void *ctx, void *tctx, wl_exchange *ex)
{
    (void)ctx;
    wl_tctx *t = tctx;
    route_match m;
    match(ex->req, &m);
    wl_handlers_dispatch(t, ex, m.route, m.arg);
}
