/* links.c - creating, reading, listing and deleting links (FR1, FR3).
 *
 * Creation is a conditional insert in the store: a random KGS key is retried
 * on the rare collision (counted), a custom alias is granted to exactly one
 * claimant (409 for the rest). A 201 is sent only after the insert is
 * committed and synced. The read cache is invalidated for the key so a
 * cached "unknown key" answer cannot outlive the creation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "core/alias.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/url.h"
#include "http/response.h"

#define MAX_KEY_ATTEMPTS 16
#define LIST_DEFAULT 50
#define LIST_MAX 200

static void reply_link(wl_tctx *t, wl_exchange *ex, int status, const wl_link *link, int64_t viewer)
{
    wl_buf body = WL_BUF_INIT;
    wl_link_json(t->app, link, viewer, &body);
    char location[96];
    snprintf(location, sizeof(location), "/links/%.*s", (int)link->key_len, link->key);
    wl_reply_json(ex, status, body.data, body.len, status == 201 ? location : NULL);
    wl_buf_release(&body);
}

static void reply_store_error(wl_exchange *ex, wl_status st)
{
    wl_error("store: %s", wl_strerror(st));
    wl_reply_problem(ex, 503, "unavailable", "the link store is temporarily unavailable");
}

/* Validates long_url and expires_at; replies 400 and returns false if bad. */
static bool read_link_fields(wl_tctx *t, wl_exchange *ex, json_t *obj, wl_link *link)
{
    int r = wl_body_string(obj, "long_url", &link->long_url, &link->long_url_len);
    if (r <= 0) {
        wl_reply_problem(ex, 400, "invalid-url",
                         r < 0 ? "long_url must be a string" : "long_url is required");
        return false;
    }
    wl_url_verdict v =
        wl_url_check(link->long_url, link->long_url_len, t->app->self_host, t->app->self_host_len);
    if (v != WL_URL_OK) {
        wl_reply_problem(ex, 400, "invalid-url", wl_url_verdict_text(v));
        return false;
    }
    const char *exp;
    size_t exp_len;
    r = wl_body_string(obj, "expires_at", &exp, &exp_len);
    if (r < 0 || (r > 0 && wl_time_parse_rfc3339(exp, exp_len, &link->expires_at) != 0)) {
        wl_reply_problem(ex, 400, "invalid-body",
                         "expires_at must be an RFC 3339 time such as 2026-12-31T23:59:59Z");
        return false;
    }
    if (r > 0 && link->expires_at <= link->created_at) {
        wl_reply_problem(ex, 400, "invalid-body", "expires_at must be in the future");
        return false;
    }
    return true;
}

static wl_status insert_random(wl_tctx *t, wl_link *link, char key[WL_KEY_LEN])
{
    link->key = key;
    link->key_len = WL_KEY_LEN;
    for (int i = 0; i < MAX_KEY_ATTEMPTS; i++) {
        wl_kgs_next(&t->kgs, key);
        wl_status st = wl_store_link_insert(t->store, link);
        if (st != WL_EEXISTS)
            return st;
        wl_kgs_note_collision();
    }
    return WL_EIO; /* 16 collisions in a row: the key space is not random */
}

/* Reads and checks custom_alias; replies 400 and returns -1 when bad, 0 when
 * absent (only allowed when !required), 1 when present. */
static int read_alias(wl_exchange *ex, json_t *obj, bool required, wl_link *link)
{
    int r = wl_body_string(obj, "custom_alias", &link->key, &link->key_len);
    if (r == 0 && !required)
        return 0;
    if (r <= 0) {
        wl_reply_problem(ex, 400, "invalid-alias",
                         r < 0 ? "custom_alias must be a string" : "custom_alias is required");
        return -1;
    }
    wl_alias_verdict v = wl_alias_check(link->key, link->key_len);
    if (v != WL_ALIAS_OK) {
        wl_reply_problem(ex, 400, "invalid-alias", wl_alias_verdict_text(v));
        return -1;
    }
    return 1;
}

void wl_api_link_create(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_create_mode mode)
{
    json_t *obj = wl_body_object(ex);
    if (!obj)
        return;
    wl_link link = {.created_at = t->now_ms, .owner_id = who->user_id};
    char key[WL_KEY_LEN];
    int alias = 0;
    if (read_link_fields(t, ex, obj, &link) &&
        (mode == WL_CREATE_RANDOM ||
         (alias = read_alias(ex, obj, mode == WL_CREATE_ALIAS_REQUIRED, &link)) >= 0)) {
        wl_status st;
        if (alias) {
            link.flags |= WL_LINK_CUSTOM;
            st = wl_store_link_insert(t->store, &link);
        } else {
            st = insert_random(t, &link, key);
        }
        if (st == WL_OK) {
            wl_cache_invalidate(t->app->cache, link.key, link.key_len);
            reply_link(t, ex, 201, &link, who->user_id);
        } else if (st == WL_EEXISTS) {
            wl_reply_problem(ex, 409, "alias-taken", "this alias is already taken");
        } else {
            reply_store_error(ex, st);
        }
    }
    json_decref(obj);
}

void wl_api_link_get(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key)
{
    char buf[WL_URL_MAX + 512];
    wl_link link;
    wl_status st = wl_store_link_get(t->store, key.ptr, key.len, &link, buf, sizeof(buf));
    if (st == WL_OK && link.owner_id && link.owner_id == who->user_id)
        reply_link(t, ex, 200, &link, who->user_id);
    else if (st == WL_OK || st == WL_ENOTFOUND || st == WL_ETOOBIG)
        wl_reply_problem(ex, 404, "not-found", "you have no link with this key");
    else
        reply_store_error(ex, st);
}

void wl_api_link_delete(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key)
{
    wl_status st = wl_store_link_delete(t->store, key.ptr, key.len, who->user_id);
    if (st == WL_OK) {
        /* This node stops redirecting at once; other nodes within their
         * cache TTL (documented in docs/OPERATIONS.md). */
        wl_cache_invalidate(t->app->cache, key.ptr, key.len);
        ex->status = 204;
        wl_resp_start(ex->out, 204, NULL, 0, ex->close);
        wl_resp_end(ex->out);
    } else if (st == WL_ENOTFOUND) {
        wl_reply_problem(ex, 404, "not-found", "you have no link with this key");
    } else {
        reply_store_error(ex, st);
    }
}

typedef struct list_ctx {
    const wl_app *app;
    int64_t viewer;
    wl_buf *out;
    unsigned count, limit;
    bool more;
    wl_link_cursor last;
} list_ctx;

static int list_row(void *ctx, const wl_link *link)
{
    list_ctx *lc = ctx;
    if (lc->count == lc->limit) {
        lc->more = true;
        return 1;
    }
    if (lc->count++)
        wl_buf_add(lc->out, ",", 1);
    wl_link_json(lc->app, link, lc->viewer, lc->out);
    lc->last.created_at = link->created_at;
    size_t n = link->key_len < sizeof(lc->last.key) - 1 ? link->key_len : sizeof(lc->last.key) - 1;
    memcpy(lc->last.key, link->key, n);
    lc->last.key[n] = 0;
    return 0;
}

/* Reads a query parameter's raw value (no percent-decoding: our cursor and
 * limit values never need it). */
static wl_slice query_param(wl_slice q, const char *name)
{
    size_t n = strlen(name);
    size_t i = 0;
    while (i < q.len) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        if (end - i > n && memcmp(q.ptr + i, name, n) == 0 && q.ptr[i + n] == '=')
            return wl_slice_make(q.ptr + i + n + 1, end - i - n - 1);
        i = end + 1;
    }
    return wl_slice_make(NULL, 0);
}

/* Cursor text: "<created_at ms>.<key>". */
static bool parse_cursor(wl_slice s, wl_link_cursor *c)
{
    memset(c, 0, sizeof(*c));
    if (!s.ptr)
        return true;
    const char *dot = memchr(s.ptr, '.', s.len);
    if (!dot || dot == s.ptr)
        return false;
    int64_t v = 0;
    for (const char *p = s.ptr; p < dot; p++) {
        if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    size_t klen = s.len - (size_t)(dot + 1 - s.ptr);
    if (klen == 0 || klen >= sizeof(c->key) || wl_alias_check(dot + 1, klen) == WL_ALIAS_CHARS)
        return false;
    c->created_at = v;
    memcpy(c->key, dot + 1, klen);
    return true;
}

static bool parse_limit(wl_slice s, unsigned *limit)
{
    *limit = LIST_DEFAULT;
    if (!s.ptr)
        return true;
    unsigned v = 0;
    if (s.len == 0 || s.len > 4)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s.ptr[i] - '0');
    }
    if (v == 0)
        return false;
    *limit = v > LIST_MAX ? LIST_MAX : v;
    return true;
}

void wl_api_link_list(wl_tctx *t, wl_exchange *ex, const wl_principal *who)
{
    wl_link_cursor after;
    unsigned limit;
    if (!parse_limit(query_param(ex->req->query, "limit"), &limit) ||
        !parse_cursor(query_param(ex->req->query, "cursor"), &after)) {
        wl_reply_problem(ex, 400, "invalid-query",
                         "limit must be 1-200 and cursor a value from next_cursor");
        return;
    }
    wl_buf body = WL_BUF_INIT;
    wl_buf_adds(&body, "{\"items\":[");
    list_ctx lc = {.app = t->app, .viewer = who->user_id, .out = &body, .limit = limit};
    /* One row more than asked tells whether another page exists. */
    wl_status st = wl_store_link_list(t->store, who->user_id, &after, limit + 1, list_row, &lc);
    if (st != WL_OK) {
        wl_buf_release(&body);
        reply_store_error(ex, st);
        return;
    }
    wl_buf_adds(&body, "],\"next_cursor\":");
    if (lc.more)
        wl_buf_addf(&body, "\"%lld.%s\"}", (long long)lc.last.created_at, lc.last.key);
    else
        wl_buf_adds(&body, "null}");
    wl_reply_json(ex, 200, body.data, body.len, NULL);
    wl_buf_release(&body);
}
