/* astore_sqlite_fn.c - the SQL functions the writer's statements and
 * migrations call (astore_sqlite_internal.h, wl_asq_register_functions):
 *   wl_hll_union(stored, batch)        union of two serialised sketches (hll.h)
 *   wl_dimset_merge(stored, batch)     sum of two packed breakdown sets (dimset.h)
 *   wl_dimset_pack(dim, value, clicks) aggregate: dim rows (schema 2) -> a set
 *   wl_dimset_ua(dev_desktop, ...)     schema 2's device/browser/os columns -> a set
 * The two merges take NULL as the empty set, so one upsert serves rows with
 * and without visitors or breakdown values. A malformed stored blob fails
 * the statement, and so the batch, with s->blob_corrupt set: the store
 * reports WL_ECORRUPT rather than overwrite what it cannot read. All are
 * deterministic and direct-only (not callable from schema objects). */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/astore_sqlite_internal.h"
#include "analytics/dimset.h"
#include "analytics/hll.h"
#include "core/buf.h"

/* The non-NULL argument when one of two is NULL (its result is set: true). */
static bool either_null(sqlite3_context *ctx, sqlite3_value **argv)
{
    for (int i = 0; i < 2; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_value(ctx, argv[1 - i]);
            return true;
        }
    }
    return false;
}

static void corrupt(sqlite3_context *ctx, const char *what)
{
    sq_astore *s = sqlite3_user_data(ctx);
    s->blob_corrupt = true;
    sqlite3_result_error(ctx, what, -1);
}

static void fn_hll_union(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (either_null(ctx, argv))
        return;
    const uint8_t *a = sqlite3_value_blob(argv[0]), *b = sqlite3_value_blob(argv[1]);
    size_t alen = (size_t)sqlite3_value_bytes(argv[0]), blen = (size_t)sqlite3_value_bytes(argv[1]);
    uint8_t out[WL_HLL_MAX_SERIALIZED];
    size_t len;
    if (wl_hll_union_serialized(a, alen, b, blen, out, &len) != WL_OK)
        return corrupt(ctx, "stored visitor sketch is corrupt");
    sqlite3_result_blob(ctx, out, (int)len, SQLITE_TRANSIENT);
}

static void fn_dimset_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (either_null(ctx, argv))
        return;
    sq_astore *s = sqlite3_user_data(ctx);
    wl_dimset_buf *b = &s->merge;
    for (int i = 0; i < 2; i++) {
        if (wl_dimset_decode(b, sqlite3_value_blob(argv[i]),
                             (size_t)sqlite3_value_bytes(argv[i])) != WL_OK) {
            b->n = 0;
            return corrupt(ctx, "stored breakdown values are corrupt");
        }
    }
    wl_dimset_encode(b);
    sqlite3_result_blob(ctx, b->out, (int)b->len, SQLITE_TRANSIENT);
}

/* wl_dimset_ua(dev_desktop, ..., os_unknown): the device/browser/os columns
 * of schema 2 (wl_agg_ua_values' order) as a set, NULL when all are 0. */
static void fn_dimset_ua(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sq_astore *s = sqlite3_user_data(ctx);
    wl_dimset_buf *b = &s->merge;
    for (int c = 0; c < argc && c < WL_AGG_UA_COLS; c++) {
        sqlite3_int64 v = sqlite3_value_int64(argv[c]);
        if (v > 0)
            wl_dimset_add(b, wl_agg_ua_dim(c), wl_agg_ua_values[c], strlen(wl_agg_ua_values[c]),
                          (uint64_t)v);
    }
    wl_dimset_encode(b);
    if (b->len)
        sqlite3_result_blob(ctx, b->out, (int)b->len, SQLITE_TRANSIENT);
    else
        sqlite3_result_null(ctx);
}

/* ---- wl_dimset_pack ------------------------------------------------------ */

/* The aggregate's state: the set plus copies of the values it borrows. */
typedef struct pack_state {
    wl_dimset_buf set;
    char **copies;
    size_t ncopies, cap;
} pack_state;

static int dim_of(const char *name)
{
    for (int d = 0; name && d < WL_DIM_COUNT_; d++)
        if (strcmp(wl_dim_name((wl_dim)d), name) == 0)
            return d;
    return -1;
}

static void pack_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    pack_state *p = sqlite3_aggregate_context(ctx, sizeof(*p));
    int dim = dim_of((const char *)sqlite3_value_text(argv[0]));
    const char *value = (const char *)sqlite3_value_text(argv[1]);
    sqlite3_int64 clicks = sqlite3_value_int64(argv[2]);
    if (!p || dim < 0 || !value) {
        sqlite3_result_error(ctx, "wl_dimset_pack: bad dim row", -1);
        return;
    }
    if (clicks <= 0)
        return;
    if (p->ncopies == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->copies = wl_xrealloc(p->copies, p->cap * sizeof(*p->copies));
    }
    size_t len = strlen(value);
    char *copy = p->copies[p->ncopies++] = wl_xmalloc(len + 1);
    memcpy(copy, value, len + 1);
    /* an empty value would read as the overflow entry: it was an unknown one */
    if (!len)
        wl_dimset_add(&p->set, (wl_dim)dim, WL_AGG_UNKNOWN, strlen(WL_AGG_UNKNOWN),
                      (uint64_t)clicks);
    else
        wl_dimset_add(&p->set, (wl_dim)dim, copy, len, (uint64_t)clicks);
}

static void pack_final(sqlite3_context *ctx)
{
    pack_state *p = sqlite3_aggregate_context(ctx, 0);
    if (!p)
        return sqlite3_result_null(ctx);
    wl_dimset_encode(&p->set);
    if (p->set.len)
        sqlite3_result_blob(ctx, p->set.out, (int)p->set.len, SQLITE_TRANSIENT);
    else
        sqlite3_result_null(ctx);
    for (size_t i = 0; i < p->ncopies; i++)
        free(p->copies[i]);
    free(p->copies);
    wl_dimset_buf_release(&p->set);
}

int wl_asq_register_functions(sq_astore *s)
{
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
    int rc = sqlite3_create_function_v2(s->db, "wl_hll_union", 2, flags, s, fn_hll_union, NULL,
                                        NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(s->db, "wl_dimset_merge", 2, flags, s, fn_dimset_merge,
                                        NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(s->db, "wl_dimset_pack", 3, flags, s, NULL, pack_step,
                                        pack_final, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(s->db, "wl_dimset_ua", WL_AGG_UA_COLS, flags, s,
                                        fn_dimset_ua, NULL, NULL, NULL);
    return rc;
}
