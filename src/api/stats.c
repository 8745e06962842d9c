/* stats.c - GET /links/{key}/stats (FR4): a link's aggregates for its owner.
 *
 * Runs on an offload thread. Ownership comes from the link store (a link
 * owned by someone else, anonymous or missing is the same 404); the figures
 * come from the analytics store, read through one read-only connection per
 * offload thread, opened on first use and closed when the thread exits (a
 * pthread key destructor, so wl_tctx needs no new field). Until the worker
 * has created the analytics database, every link has zero clicks.
 *
 * as_of is the analytics store's as_of: the start of the last read that
 * drained the queue before a commit. Every click appended before that
 * instant is counted; clicks after it may or may not be. null when the
 * worker has never committed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/astore.h"
#include "analytics/astore_sqlite.h"
#include "api/auth.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/url.h"

#define DEFAULT_DAYS 30

typedef struct reader {
    wl_astore *db;
    char path[1100];
} reader;

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_free(void *p)
{
    reader *r = p;
    wl_astore_close(r->db);
    free(r);
}

static void reader_key_create(void)
{
    if (pthread_key_create(&reader_key, reader_free) != 0)
        wl_oom(); /* only fails when the process is out of keys or memory */
}

/* This thread's read connection to the analytics store of data_dir.
 * WL_ENOTFOUND: the worker has not created the store yet. */
static wl_status reader_get(const char *data_dir, wl_astore **out)
{
    pthread_once(&reader_once, reader_key_create);
    reader *r = pthread_getspecific(reader_key);
    if (!r) {
        r = wl_xcalloc(1, sizeof(*r));
        pthread_setspecific(reader_key, r);
    }
    char path[sizeof(r->path)];
    snprintf(path, sizeof(path), "%s/%s", data_dir, WL_ASTORE_SQLITE_FILE);
    if (r->db && strcmp(path, r->path) != 0) {
        wl_astore_close(r->db);
        r->db = NULL;
    }
    if (!r->db) {
        wl_status st = wl_astore_open("sqlite", path, WL_ASTORE_READONLY, &r->db);
        if (st != WL_OK)
            return st;
        memcpy(r->path, path, sizeof(path));
    }
    *out = r->db;
    return WL_OK;
}

/* Drops this thread's connection after an error, so the next request starts
 * from a fresh one. */
static void reader_reset(void)
{
    reader *r = pthread_getspecific(reader_key);
    if (r) {
        wl_astore_close(r->db);
        r->db = NULL;
    }
}

/* ---- query --------------------------------------------------------------- */

/* The raw value of the first `name=` parameter; ptr NULL when absent. */
static wl_slice param(wl_slice q, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < q.len;) {
        const char *amp = memchr(q.ptr + i, '&', q.len - i);
        size_t end = amp ? (size_t)(amp - q.ptr) : q.len;
        if (end - i > n && memcmp(q.ptr + i, name, n) == 0 && q.ptr[i + n] == '=')
            return wl_slice_make(q.ptr + i + n + 1, end - i - n - 1);
        i = end + 1;
    }
    return wl_slice_make(NULL, 0);
}

/* Resolves from/to with the defaults; replies 400 and returns false when
 * bad. */
static bool parse_range(wl_exchange *ex, int64_t now_ms, wl_day *from, wl_day *to)
{
    wl_slice f = param(ex->req->query, "from"), t = param(ex->req->query, "to");
    if ((f.ptr && wl_day_parse(f.ptr, f.len, from) != 0) ||
        (t.ptr && wl_day_parse(t.ptr, t.len, to) != 0)) {
        wl_reply_problem(ex, 400, "invalid-query", "from and to must be dates like 2026-11-27");
        return false;
    }
    if (!t.ptr)
        *to = f.ptr && *from > wl_day_from_ms(now_ms) ? *from : wl_day_from_ms(now_ms);
    if (!f.ptr)
        *from = *to - (DEFAULT_DAYS - 1);
    if (*from > *to) {
        wl_reply_problem(ex, 400, "invalid-query", "from must not be after to");
        return false;
    }
    if ((int64_t)*to - *from >= WL_STATS_MAX_DAYS) {
        wl_reply_problem(ex, 400, "invalid-query", "the range may span at most 366 days");
        return false;
    }
    return true;
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_str(wl_buf *out, const char *s, size_t len)
{
    wl_buf_add(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            wl_buf_addf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            wl_buf_addf(out, "\\u%04x", c);
        else
            wl_buf_add(out, &s[i], 1);
    }
    wl_buf_add(out, "\"", 1);
}

static void json_day(wl_buf *out, wl_day d)
{
    char s[16];
    size_t n = wl_day_format(d, s, sizeof(s));
    json_str(out, s, n);
}

static void json_list(wl_buf *out, const char *name, const wl_breakdown_item *items, size_t n)
{
    wl_buf_addf(out, ",\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        wl_buf_adds(out, i ? ",{\"value\":" : "{\"value\":");
        json_str(out, items[i].value, strlen(items[i].value));
        wl_buf_addf(out, ",\"clicks\":%llu}", (unsigned long long)items[i].clicks);
    }
    wl_buf_adds(out, "]");
}

static void render(wl_buf *out, wl_slice key, wl_day from, wl_day to, const wl_astore_stats *s)
{
    static const char *const names[WL_DIM_COUNT_] = {"referrers", "countries", "devices",
                                                     "browsers", "os"};
    wl_buf_adds(out, "{\"key\":");
    json_str(out, key.ptr, key.len);
    wl_buf_adds(out, ",\"from\":");
    json_day(out, from);
    wl_buf_adds(out, ",\"to\":");
    json_day(out, to);
    wl_buf_addf(out, ",\"clicks\":%llu,\"bot_clicks\":%llu,\"unique_visitors\":%llu,\"daily\":[",
                (unsigned long long)s->clicks, (unsigned long long)s->bot_clicks,
                (unsigned long long)s->unique_visitors);
    for (wl_day d = from; d <= to; d++) {
        wl_buf_adds(out, d == from ? "{\"date\":" : ",{\"date\":");
        json_day(out, d);
        wl_buf_addf(out, ",\"clicks\":%llu}", (unsigned long long)s->daily[d - from]);
    }
    wl_buf_adds(out, "]");
    for (int i = 0; i < WL_DIM_COUNT_; i++)
        json_list(out, names[i], s->items[i], s->nitems[i]);
    wl_buf_adds(out, ",\"as_of\":");
    if (s->as_of_ms) {
        char t[32];
        size_t n = wl_time_rfc3339(s->as_of_ms, t, sizeof(t));
        json_str(out, t, n);
    } else {
        wl_buf_adds(out, "null");
    }
    wl_buf_adds(out, "}");
}

/* ---- handler ------------------------------------------------------------- */

/* Owner check: replies and returns false unless who owns the link. */
static bool owns(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key)
{
    char buf[WL_URL_MAX + 512];
    wl_link link;
    wl_status st = wl_store_link_get(t->store, key.ptr, key.len, &link, buf, sizeof(buf));
    if (st == WL_OK && link.owner_id && link.owner_id == who->user_id)
        return true;
    if (st == WL_OK || st == WL_ENOTFOUND || st == WL_ETOOBIG) {
        wl_reply_problem(ex, 404, "not-found", "you have no link with this key");
    } else {
        wl_error("store: %s", wl_strerror(st));
        wl_reply_problem(ex, 503, "unavailable", "the link store is temporarily unavailable");
    }
    return false;
}

void wl_api_link_stats(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key)
{
    wl_day from, to;
    if (!owns(t, ex, who, key) || !parse_range(ex, t->now_ms, &from, &to))
        return;
    wl_astore_stats *s = wl_xmalloc(sizeof(*s));
    wl_astore *db;
    wl_status st = reader_get(t->app->cfg.data_dir, &db);
    if (st == WL_OK && (st = wl_astore_stats_get(db, key.ptr, key.len, from, to, s)) != WL_OK) {
        wl_error("analytics store: %s: %s", wl_strerror(st), wl_astore_errmsg(db));
        reader_reset();
    }
    if (st == WL_ENOTFOUND) { /* no analytics database yet: nothing counted */
        memset(s, 0, sizeof(*s));
        st = WL_OK;
    }
    if (st == WL_OK) {
        wl_buf body = WL_BUF_INIT;
        render(&body, key, from, to, s);
        wl_reply_json(ex, 200, body.data, body.len, NULL);
        wl_buf_release(&body);
    } else {
        wl_reply_problem(ex, 503, "unavailable", "analytics are temporarily unavailable");
    }
    free(s);
}
