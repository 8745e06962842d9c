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

/* What the daily rows of a range add up to, before ranking. */
typedef struct range_sums {
    wl_hll visitors; /* union of the days' sketches */
    wl_buf blobs;    /* the rows' breakdown sets, end to end */
    size_t *ends;    /* blobs' end offsets, one per row with a set */
    size_t nblobs, cap;
} range_sums;

static void keep_blob(range_sums *r, const void *blob, size_t len)
{
    if (r->nblobs == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ends = wl_xrealloc(r->ends, r->cap * sizeof(*r->ends));
    }
    wl_buf_add(&r->blobs, blob, len);
    r->ends[r->nblobs++] = r->blobs.len;
}

/* Sums one daily row into out and r. WL_ECORRUPT for a malformed sketch. */
static wl_status add_row(sqlite3_stmt *st, wl_day from, wl_astore_stats *out, range_sums *r)
{
    int64_t day = sqlite3_column_int64(st, 0);
    uint64_t c = (uint64_t)sqlite3_column_int64(st, 1);
    out->daily[day - from] += c;
    out->clicks += c;
    out->bot_clicks += (uint64_t)sqlite3_column_int64(st, 2);
    const int hll = 3, dims = 4;
    if (sqlite3_column_type(st, dims) != SQLITE_NULL)
        keep_blob(r, sqlite3_column_blob(st, dims), (size_t)sqlite3_column_bytes(st, dims));
    if (sqlite3_column_type(st, hll) == SQLITE_NULL)
        return WL_OK;
    wl_hll one;
    if (wl_hll_deserialize(&one, sqlite3_column_blob(st, hll),
                           (size_t)sqlite3_column_bytes(st, hll)) != WL_OK)
        return WL_ECORRUPT;
    wl_hll_merge(&r->visitors, &one);
    return WL_OK;
}

static wl_status read_rows(sq_astore *s, const char *key, size_t key_len, wl_day from, wl_day to,
                           wl_astore_stats *out, range_sums *r)
{
    sqlite3_stmt *st = wl_asq_stmt_kd(s, S_STATS_DAILY, key, key_len, from);
    if (!st)
        return WL_EIO;
    sqlite3_bind_int64(st, 3, to);
    int rc;
    wl_status ws = WL_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (add_row(st, from, out, r) != WL_OK)
            ws = WL_ECORRUPT;
    sqlite3_reset(st);
    out->unique_visitors = wl_hll_count(&r->visitors);
    if (rc != SQLITE_DONE)
        return wl_asq_fail(s, rc);
    if (ws != WL_OK)
        snprintf(s->err, sizeof(s->err), "a stored visitor sketch is corrupt");
    return ws;
}

/* Ranks one dimension's summed entries e[0..n) (sorted by value, the
 * overflow entry first) into out->items[dim]: the top WL_TOP_N values, then
 * "other" for the rest up to the human clicks (every human click has exactly
 * one value per dimension). Referrers and countries have no "unknown"
 * values (aggregate.h: it is what the human clicks have beyond the known
 * ones and the overflow), except in stores written before that rule, whose
 * "unknown" values are added to it. */
static void rank_dim(wl_dim dim, wl_dimset_entry *e, size_t n, wl_astore_stats *out)
{
    bool derive_unknown = dim == WL_DIM_REF || dim == WL_DIM_COUNTRY;
    uint64_t counted = 0, unknown = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        counted += e[i].clicks;
        if (derive_unknown && e[i].len == strlen(WL_AGG_UNKNOWN) &&
            memcmp(e[i].value, WL_AGG_UNKNOWN, e[i].len) == 0)
            unknown += e[i].clicks;
        else if (e[i].len) /* not the overflow entry: "other" holds it */
            e[m++] = e[i];
    }
    if (derive_unknown && out->clicks > counted)
        unknown += out->clicks - counted;
    wl_dimset_rank(e, m);
    /* the top WL_TOP_N + 1 values and "unknown" hold the top WL_TOP_N of all */
    wl_breakdown_item list[WL_TOP_N + 3];
    size_t k = m < WL_TOP_N + 1 ? m : WL_TOP_N + 1;
    for (size_t i = 0; i < k; i++) {
        memcpy(list[i].value, e[i].value, e[i].len);
        list[i].value[e[i].len] = '\0';
        list[i].clicks = e[i].clicks;
    }
    if (unknown) {
        snprintf(list[k].value, sizeof(list[k].value), "%s", WL_AGG_UNKNOWN);
        list[k++].clicks = unknown;
    }
    wl_breakdown_finish(list, &k, WL_TOP_N + 3, out->clicks);
    memcpy(out->items[dim], list, k * sizeof(*list)); /* k <= WL_TOP_N + 1 */
    out->nitems[dim] = k;
}

/* The breakdowns: every kept set summed per (dim, value), each dimension
 * ranked. */
static wl_status rank_dims(sq_astore *s, range_sums *r, wl_astore_stats *out)
{
    wl_dimset_buf set = WL_DIMSET_BUF_INIT;
    wl_status ws = WL_OK;
    for (size_t i = 0; ws == WL_OK && i < r->nblobs; i++) {
        size_t start = i ? r->ends[i - 1] : 0;
        ws = wl_dimset_decode(&set, (const uint8_t *)r->blobs.data + start, r->ends[i] - start);
    }
    size_t n = ws == WL_OK ? wl_dimset_sum(&set) : 0;
    for (int d = 0, i = 0; ws == WL_OK && d < WL_DIM_COUNT_; d++) {
        int j = i;
        while ((size_t)j < n && set.e[j].dim == d)
            j++;
        rank_dim((wl_dim)d, set.e + i, (size_t)(j - i), out);
        i = j;
    }
    if (ws != WL_OK)
        snprintf(s->err, sizeof(s->err), "stored breakdown values are corrupt");
    wl_dimset_buf_release(&set);
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
    range_sums *r = wl_xcalloc(1, sizeof(*r)); /* 8 KiB sketch: not on the stack */
    wl_hll_init(&r->visitors);
    ws = read_rows(s, key, key_len, from, to, out, r);
    if (ws == WL_OK)
        ws = rank_dims(s, r, out);
    wl_buf_release(&r->blobs);
    free(r->ends);
    free(r);
    wl_astore_consumer c;
    wl_status cs = ws == WL_OK ? wl_astore_consumer_get(base, &c) : ws;
    if (cs == WL_OK)
        out->as_of_ms = c.as_of_ms;
    else if (cs != WL_ENOTFOUND)
        ws = cs;
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL); /* ends a read: nothing to lose */
    return ws;
}
