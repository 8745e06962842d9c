/* redirect.c - GET/HEAD /{key}: the product's hot path (FR2, M3).
 *
 * cache -> (miss) this thread's read-only store connection -> cache put ->
 * 302 from prebuilt bytes + Location. Nothing here allocates once buffers are
 * warm, and nothing blocks: a cache shard busy with a writer sends us to the
 * store rather than making us wait. The click is recorded into the loop's
 * batch, which reaches the queue before this response is written.
 *
 * Cache values are the link's expiry (8 bytes, native order; 0 = never)
 * followed by the long URL, so an expired link answers 410 from the cache. */
#include <string.h>

#include "analytics/event.h"
#include "api/app.h"
#include "api/client.h"
#include "api/clicks.h"
#include "core/alias.h"
#include "core/url.h"
#include "http/response.h"

#define VALUE_MAX (sizeof(int64_t) + WL_URL_MAX + 64)

static const char head_302[] = "HTTP/1.1 302 Found\r\nCache-Control: private, max-age=0\r\n"
                               "Content-Length: 0\r\nDate: ";

static bool key_plausible(wl_slice key)
{
    if (key.len == 0 || key.len > WL_ALIAS_MAX)
        return false;
    for (size_t i = 0; i < key.len; i++) {
        char c = key.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static void reply_missing(wl_exchange *ex, int status)
{
    const char *slug = status == 410 ? "gone" : "not-found";
    const char *detail =
        status == 410 ? "this short link has expired" : "no short link has this key";
    if (!wl_wants_html(ex->req)) {
        wl_reply_problem(ex, status, slug, detail);
        return;
    }
    static const char html404[] =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Link not found</title>"
        "</head><body><h1>Link not found</h1><p>No short link has this address. Check it "
        "for typos.</p></body></html>\n";
    static const char html410[] =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Link expired</title>"
        "</head><body><h1>Link expired</h1><p>This short link has expired.</p></body>"
        "</html>\n";
    ex->status = status;
    const char *body = status == 410 ? html410 : html404;
    size_t len = status == 410 ? sizeof(html410) - 1 : sizeof(html404) - 1;
    wl_resp_body(ex->out, status, "text/html; charset=utf-8", body, len, ex->close,
                 ex->req->method == WL_HTTP_HEAD);
}

static void reply_302(wl_exchange *ex, const char *url, size_t len)
{
    ex->status = 302;
    wl_buf *out = ex->out;
    wl_buf_reserve(out, sizeof(head_302) + 64 + len + 32);
    wl_buf_add(out, head_302, sizeof(head_302) - 1);
    wl_buf_adds(out, wl_http_date());
    wl_buf_add(out, "\r\nLocation: ", 12);
    wl_buf_add(out, url, len);
    if (ex->close)
        wl_buf_add(out, "\r\nConnection: close", 19);
    wl_buf_add(out, "\r\n\r\n", 4);
}

/* Reads the link from the store and caches the answer (either way). */
static wl_status load_from_store(wl_tctx *t, wl_slice key, char *value, size_t *value_len)
{
    wl_app *app = t->app;
    char buf[VALUE_MAX + 128];
    wl_link link;
    uint64_t token = wl_cache_fill_token(app->cache, key.ptr, key.len);
    wl_status st = wl_store_link_get(t->store, key.ptr, key.len, &link, buf, sizeof(buf));
    int64_t now = t->now_ms;
    if (st == WL_ENOTFOUND) {
        wl_cache_put_negative_if(app->cache, key.ptr, key.len,
                                 now + (int64_t)app->cfg.negative_ttl_s * 1000, token);
        return st;
    }
    if (st != WL_OK || link.long_url_len > WL_URL_MAX + 64)
        return st == WL_OK ? WL_ETOOBIG : st;
    memcpy(value, &link.expires_at, sizeof(int64_t));
    memcpy(value + sizeof(int64_t), link.long_url, link.long_url_len);
    *value_len = sizeof(int64_t) + link.long_url_len;
    wl_cache_put_if(app->cache, key.ptr, key.len, value, *value_len,
                    now + (int64_t)app->cfg.cache_ttl_s * 1000, token);
    return WL_OK;
}

void wl_api_redirect(wl_tctx *t, wl_exchange *ex, wl_slice key)
{
    if (!key_plausible(key)) {
        reply_missing(ex, 404);
        return;
    }
    char value[VALUE_MAX];
    size_t len = 0;
    wl_status st =
        wl_cache_get(t->app->cache, key.ptr, key.len, t->now_ms, value, sizeof(value), &len);
    if (st == WL_EAGAIN || st == WL_EBUSY || st == WL_ETOOBIG)
        st = load_from_store(t, key, value, &len);
    if (st == WL_ENOTFOUND) {
        reply_missing(ex, 404);
        return;
    }
    if (st != WL_OK || len < sizeof(int64_t)) {
        wl_reply_problem(ex, 503, "unavailable", "the link store could not be read");
        return;
    }
    int64_t expires_at;
    memcpy(&expires_at, value, sizeof(expires_at));
    if (expires_at && t->now_ms >= expires_at) {
        reply_missing(ex, 410);
        return;
    }
    if (t->clicks) {
        wl_client_addr ca;
        wl_client_addr_get(t->app, ex, &ca);
        wl_clicks_record(t->clicks, ex->req, ca.addr, ca.family, key, t->now_ms);
    }
    reply_302(ex, value + sizeof(int64_t), len - sizeof(int64_t));
}
