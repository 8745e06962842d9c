/* astore_sqlite_stats.c - the reading half of the SQLite analytics store:
 * GET /links/{key}/stats (astore.h, stats_get). The writing half and the
 * schema are astore_sqlite.c; astore_sqlite_internal.h is what they share.
 * Reads run on read-only handles, one statement at a time, each reset
 * before the next so no read holds a snapshot between requests. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/astore_sqlite.h"
#include "analytics/astore_sqlite_internal.h"
#include "analytics/hll.h"
#include "core/buf.h"

/* ua[] gets the sums of the device/browser/os columns (wl_agg_ua_values). */
static wl_status read_daily(sq_astore *s, const char *key, size_t key_len, wl_day from, wl_day to,
                            wl_astore_stats *out, uint64_t ua[WL_AGG_UA_COLS])
{
    sqlite3_stmt *st = wl_asq_stmt_kd(s, S_STATS_DAILY, key, key_len, from);
    if (!st)
        return WL_EIO;
    sqlite3_bind_int64(st, 3, to);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t day = sqlite3_column_int64(st, 0);
        uint64_t c = (uint64_t)sqlite3_column_int64(st, 1);
        out->daily[day - from] += c;
        out->clicks += c;
        out->bot_clicks += (uint64_t)sqlite3_column_int64(st, 2);
        for (int i = 0; i < WL_AGG_UA_COLS; i++)
            ua[i] += (uint64_t)sqlite3_column_int64(st, 3 + i);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WL_OK : wl_asq_fail(s, rc);
}

/* Device, browser and os: their daily columns (ua) plus any dim rows, read
 * whole (a handful of values) and ranked; the remainder up to the human
 * clicks (every human click has exactly one value per dimension) becomes
 * "other". */
static wl_status read_dim_cols(sq_astore *s, sqlite3_stmt *st, wl_dim dim,
                               const uint64_t ua[WL_AGG_UA_COLS], wl_astore_stats *out)
{
    size_t n = 0, cap = 8;
    wl_breakdown_item *list = wl_xmalloc(cap * sizeof(*list));
    for (int i = 0; i < WL_AGG_UA_COLS; i++)
        if (ua[i] && wl_agg_ua_dim(i) == dim)
            wl_breakdown_add(&list, &n, &cap, wl_agg_ua_values[i], ua[i]);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        wl_breakdown_add(&list, &n, &cap, v ? v : "", (uint64_t)sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        wl_breakdown_finish(list, &n, cap, out->clicks);
        memcpy(out->items[dim], list, n * sizeof(*list)); /* n <= WL_TOP_N + 1 */
        out->nitems[dim] = n;
    }
    free(list);
    return rc == SQLITE_DONE ? WL_OK : wl_asq_fail(s, rc);
}

/* Referrers and countries: the rows come sorted by clicks; the first
 * WL_TOP_N + 1 known values are kept and the rest only summed. "unknown"
 * has no rows (aggregate.h: it is what the human clicks have beyond the
 * known values), except in stores written before that rule, whose
 * "unknown" rows are added to it. Then top WL_TOP_N + "other". */
static wl_status read_dim_values(sq_astore *s, sqlite3_stmt *st, wl_dim dim, wl_astore_stats *out)
{
    wl_breakdown_item list[WL_TOP_N + 2];
    size_t n = 0;
    uint64_t known = 0, unknown = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        uint64_t c = (uint64_t)sqlite3_column_int64(st, 1);
        if (v && strcmp(v, WL_AGG_UNKNOWN) == 0) {
            unknown += c;
            continue;
        }
        known += c;
        if (n < WL_TOP_N + 1) {
            snprintf(list[n].value, sizeof(list[n].value), "%s", v ? v : "");
            list[n++].clicks = c;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return wl_asq_fail(s, rc);
    unknown += out->clicks > known + unknown ? out->clicks - known - unknown : 0;
    if (unknown) {
        snprintf(list[n].value, sizeof(list[n].value), "%s", WL_AGG_UNKNOWN);
        list[n++].clicks = unknown;
    }
    wl_breakdown_finish(list, &n, WL_TOP_N + 2, out->clicks);
    memcpy(out->items[dim], list, n * sizeof(*list)); /* n <= WL_TOP_N + 1 */
    out->nitems[dim] = n;
    return WL_OK;
}

static wl_status read_dim(sq_astore *s, const char *key, size_t key_len, wl_day from, wl_day to,
                          wl_dim dim, const uint64_t ua[WL_AGG_UA_COLS], wl_astore_stats *out)
{
    sqlite3_stmt *st = wl_asq_stmt(s, S_STATS_DIM);
    if (!st)
        return WL_EIO;
    sqlite3_bind_text(st, 1, key, (int)key_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, wl_dim_name(dim), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, from);
    sqlite3_bind_int64(st, 4, to);
    bool cols = dim >= WL_DIM_DEVICE && dim <= WL_DIM_OS;
    return cols ? read_dim_cols(s, st, dim, ua, out) : read_dim_values(s, st, dim, out);
}

static wl_status read_uniq(sq_astore *s, const char *key, size_t key_len, wl_day from, wl_day to,
                           wl_astore_stats *out)
{
    sqlite3_stmt *st = wl_asq_stmt_kd(s, S_STATS_UNIQ, key, key_len, from);
    if (!st)
        return WL_EIO;
    sqlite3_bind_int64(st, 3, to);
    wl_hll all, one; /* 8 KiB of stack, on a thread that has plenty */
    wl_hll_init(&all);
    int rc;
    wl_status ws = WL_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (wl_hll_deserialize(&one, sqlite3_column_blob(st, 0),
                               (size_t)sqlite3_column_bytes(st, 0)) == WL_OK)
            wl_hll_merge(&all, &one);
        else
            ws = WL_ECORRUPT;
    }
    sqlite3_reset(st);
    out->unique_visitors = wl_hll_count(&all);
    if (rc != SQLITE_DONE)
        return wl_asq_fail(s, rc);
    if (ws != WL_OK)
        snprintf(s->err, sizeof(s->err), "a stored visitor sketch is corrupt");
    return ws;
}

wl_status wl_asq_stats_get(wl_astore *base, const char *key, size_t key_len, wl_day from, wl_day to,
                           wl_astore_stats *out)
{
    sq_astore *s = (sq_astore *)base;
    if (from > to || (int64_t)to - from >= WL_STATS_MAX_DAYS)
        return WL_EINVAL;
    memset(out, 0, sizeof(*out));
    /* one read transaction: every figure comes from the same commit */
    wl_status ws = wl_asq_exec(s, "BEGIN");
    if (ws != WL_OK)
        return ws;
    uint64_t ua[WL_AGG_UA_COLS] = {0};
    ws = read_daily(s, key, key_len, from, to, out, ua);
    for (int d = 0; ws == WL_OK && d < WL_DIM_COUNT_; d++)
        ws = read_dim(s, key, key_len, from, to, (wl_dim)d, ua, out);
    if (ws == WL_OK)
        ws = read_uniq(s, key, key_len, from, to, out);
    wl_astore_consumer c;
    wl_status cs = ws == WL_OK ? wl_astore_consumer_get(base, &c) : ws;
    if (cs == WL_OK)
        out->as_of_ms = c.as_of_ms;
    else if (cs != WL_ENOTFOUND)
        ws = cs;
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL); /* ends a read: nothing to lose */
    return ws;
}
