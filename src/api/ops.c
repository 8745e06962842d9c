/* ops.c - operational endpoints: /healthz, /readyz, /metrics and the short
 * explanations served at the problem "type" URIs. Inline on loop threads:
 * each is a few microseconds of work. */
#include <string.h>

#include "analytics/analytics.h"
#include "api/app.h"
#include "core/kgs.h"
#include "http/response.h"

void wl_api_healthz(wl_tctx *t, wl_exchange *ex)
{
    (void)t;
    static const char body[] = "{\"status\":\"ok\"}";
    wl_reply_json(ex, 200, body, sizeof(body) - 1, NULL);
}

void wl_api_readyz(wl_tctx *t, wl_exchange *ex)
{
    int version = 0;
    bool store_ok =
        t->store && t->store->ops->schema_version(t->store, &version) == WL_OK && version > 0;
    bool queue_ok = !t->app->analytics || wl_analytics_ready(t->app->analytics);
    if (store_ok && queue_ok) {
        static const char body[] = "{\"status\":\"ready\"}";
        wl_reply_json(ex, 200, body, sizeof(body) - 1, NULL);
        return;
    }
    wl_reply_problem(ex, 503, "not-ready",
                     !store_ok ? "the link store is not usable" : "the click queue is not usable");
}

static void gauge(wl_buf *out, const char *name, const char *help, const char *type, uint64_t v)
{
    wl_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    wl_buf_add_u64(out, v);
    wl_buf_adds(out, "\n");
}

static void render_cache(wl_cache *cache, wl_buf *out)
{
    wl_cache_stats cs;
    wl_cache_stats_get(cache, &cs);
    gauge(out, "warplink_cache_hits_total", "Read-cache positive hits.", "counter", cs.hits);
    gauge(out, "warplink_cache_negative_hits_total", "Read-cache hits on 'unknown key'.", "counter",
          cs.negative_hits);
    gauge(out, "warplink_cache_misses_total", "Read-cache misses (absent or expired).", "counter",
          cs.misses + cs.busy);
    gauge(out, "warplink_cache_busy_total", "Cache reads that skipped a shard being written.",
          "counter", cs.busy);
    gauge(out, "warplink_cache_evictions_total", "Entries evicted to stay within budget.",
          "counter", cs.evictions);
    gauge(out, "warplink_cache_entries", "Entries in the read cache.", "gauge", cs.entries);
    gauge(out, "warplink_cache_bytes", "Bytes accounted in the read cache.", "gauge", cs.bytes);
}

static void render_server(wl_server *srv, wl_buf *out)
{
    wl_server_stats ss;
    wl_server_stats_get(srv, &ss);
    gauge(out, "warplink_open_connections", "Open client connections.", "gauge", ss.open);
    gauge(out, "warplink_connections_accepted_total", "Accepted connections.", "counter",
          ss.accepted);
    gauge(out, "warplink_connections_rejected_total", "Connections refused over the limit.",
          "counter", ss.rejected_full);
    gauge(out, "warplink_connection_timeouts_total", "Connections closed by a timeout.", "counter",
          ss.timeouts);
    gauge(out, "warplink_http_parse_errors_total", "Requests rejected by the parser.", "counter",
          ss.parse_errors);
}

void wl_api_metrics(wl_tctx *t, wl_exchange *ex)
{
    wl_app *app = t->app;
    wl_buf body = WL_BUF_INIT;
    wl_metrics_render(&app->metrics, &body);
    render_cache(app->cache, &body);
    if (app->server)
        render_server(app->server, &body);
    gauge(&body, "warplink_kgs_keys_issued_total", "Keys handed out by the KGS.", "counter",
          wl_kgs_issued());
    gauge(&body, "warplink_kgs_collisions_total", "Generated keys that were already taken.",
          "counter", wl_kgs_collisions());
    if (app->analytics)
        wl_analytics_render_metrics(app->analytics, &body);
    ex->status = 200;
    wl_resp_body(ex->out, 200, "text/plain; version=0.0.4; charset=utf-8", body.data, body.len,
                 ex->close, ex->req->method == WL_HTTP_HEAD);
    wl_buf_release(&body);
}

typedef struct problem_doc {
    const char *slug, *text;
} problem_doc;

static const problem_doc docs[] = {
    {"invalid-url", "The long URL must be an absolute http:// or https:// URL with a host, at "
                    "most 8,000 bytes, without spaces, control characters or user:password@, "
                    "and must not point at this shortener."},
    {"invalid-alias", "Custom aliases are 3 to 64 characters of A-Z a-z 0-9 _ - and must not "
                      "be a reserved word such as links, api or auth."},
    {"alias-taken", "Someone already owns this alias. Pick another one."},
    {"invalid-body", "The request body must be a JSON object with the documented fields."},
    {"not-found", "Nothing exists at this address, or it belongs to someone else."},
    {"gone", "This short link has expired."},
    {"unauthorized", "Send a valid 'Authorization: Bearer <token>' or 'x-api-key' header."},
    {"invalid-credentials", "The email or password is wrong."},
    {"email-taken", "An account with this email exists already."},
    {"weak-password", "Passwords are 8 to 1024 characters long."},
    {"rate-limited", "Too many requests. Wait for the number of seconds in Retry-After."},
    {"body-too-large", "Request bodies are limited to 64 KiB."},
    {"headers-too-large", "The request line and headers are limited to 8 KiB."},
    {"bad-request", "The request is not well-formed HTTP/1.1."},
    /* Every other slug the server emits, so each "type" URI explains itself. */
    {"invalid-query", "A query parameter is malformed: limit is 1 to 200, cursor is a "
                      "next_cursor value, from and to are dates like 2026-11-27."},
    {"invalid-email", "The email address is not usable."},
    {"method-not-allowed", "This address does not accept that method; see the Allow header."},
    {"request-timeout", "The whole request must arrive within the server's header timeout."},
    {"not-implemented", "Only the chunked transfer coding is supported."},
    {"http-version", "Only HTTP/1.0 and HTTP/1.1 are supported."},
    {"unavailable", "A store the request needs is temporarily unavailable. Retry later."},
    {"overloaded", "The server is at capacity. Retry in a moment."},
    {"not-ready", "The server cannot serve yet: a store or the click queue is not usable."},
    {"internal", "The server failed unexpectedly while handling the request."},
};

void wl_api_problem_page(wl_tctx *t, wl_exchange *ex, wl_slice slug)
{
    (void)t;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        if (wl_slice_eq(slug, docs[i].slug)) {
            ex->status = 200;
            wl_resp_body(ex->out, 200, "text/plain; charset=utf-8", docs[i].text,
                         strlen(docs[i].text), ex->close, ex->req->method == WL_HTTP_HEAD);
            return;
        }
    }
    wl_reply_problem(ex, 404, "not-found", "no such problem type");
}
