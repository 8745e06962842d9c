/* astore_sqlite.c - the SQLite analytics store (contract: astore.h, astore_sqlite.h):
 * open, schema, apply. The stats reads are astore_sqlite_stats.c; what both
 * halves share is astore_sqlite_internal.h.
 * - One transaction per batch (BEGIN IMMEDIATE ... COMMIT) holding every
 *   upsert, the merged sketches, the visitor-key changes and the consumer
 *   row. With WAL and synchronous=FULL the COMMIT is durable when it
 *   returns, so the position in the consumer row never runs ahead of the
 *   counts it stands for: that is the exactly-once guarantee.
 * - One row per (link, day) holds everything a batch adds for it, and is
 *   one upsert: counters add (clicks = clicks + excluded.clicks), the
 *   batch's visitor sketch merges with the stored one in wl_hll_union()
 *   (hll.h; sparse sketches without expanding them) and its breakdown
 *   values with the stored ones in wl_dimset_merge() (dimset.h), SQL
 *   functions of astore_sqlite_fn.c, so no row is read back into C first.
 *   A batch touches one row per distinct (link, day) whatever the number of
 *   events, in primary-key order.
 * - secure_delete is on so a deleted visitor key is overwritten on disk, not
 *   just unlinked from the b-tree (visitor.h, key life cycle).
 * - Statements are prepared on first use (a read-only handle never prepares
 *   a write statement) and kept for the life of the handle. Counter rows go
 *   UPSERT_ROWS to a statement run (the tail one by one). */
#include "analytics/astore_sqlite.h"
#include "analytics/astore_sqlite_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/hll.h"
#include "core/buf.h"
#include "core/clock.h"

#define BUSY_TIMEOUT_MS 5000

#define UPSERT_ROWS 16
#define X4(r) r "," r "," r "," r /* X4(X4(row)): the UPSERT_ROWS rows */
#define DAILY_ROW "(?,?,?,?,?,?)"
#define DAILY_COLS 6 /* parameters of one row: DAILY_ROW */
#define DAILY_UPSERT(rows)                                                                         \
    "INSERT INTO daily(key, day, clicks, bot_clicks, hll, dims) VALUES " rows                      \
    " ON CONFLICT(key, day) DO UPDATE SET clicks = clicks + excluded.clicks,"                      \
    " bot_clicks = bot_clicks + excluded.bot_clicks,"                                              \
    " hll = wl_hll_union(hll, excluded.hll), dims = wl_dimset_merge(dims, excluded.dims)"

static const char *const sql[S_COUNT_] = {
    [S_DAILY_UPSERT] = DAILY_UPSERT(DAILY_ROW),
    [S_DAILY_UPSERT_N] = DAILY_UPSERT(X4(X4(DAILY_ROW))),
    [S_CONSUMER_GET] = "SELECT position, updated_ms, as_of_ms, newest_event_ms, events_total,"
                       " corrupt_total FROM consumer WHERE id = 1",
    [S_KEY_GET] = "SELECT key, alg FROM visitor_keys WHERE day = ?1",
    [S_KEY_INSERT] = "INSERT INTO visitor_keys(day, key, alg) VALUES (?1, ?2, ?3)",
    [S_KEY_FORGET] = "DELETE FROM visitor_keys WHERE day < ?1",
    [S_CONSUMER_PUT] =
        "INSERT INTO consumer(id, position, updated_ms, as_of_ms, newest_event_ms,"
        " events_total, corrupt_total) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT(id) DO UPDATE SET position = excluded.position,"
        " updated_ms = excluded.updated_ms,"
        " as_of_ms = CASE WHEN excluded.as_of_ms > 0 THEN excluded.as_of_ms ELSE as_of_ms END,"
        " newest_event_ms = max(newest_event_ms, excluded.newest_event_ms),"
        " events_total = events_total + excluded.events_total,"
        " corrupt_total = corrupt_total + excluded.corrupt_total",
    [S_STATS_DAILY] = "SELECT day, clicks, bot_clicks, hll, dims"
                      " FROM daily WHERE key = ?1 AND day BETWEEN ?2 AND ?3",
};

#define MIGRATIONS wl_astore_sqlite_migration_count

static int (*commit_hook)(void *ctx);
static void *commit_hook_ctx;

void wl_astore_sqlite_set_commit_hook(int (*fn)(void *ctx), void *ctx)
{
    commit_hook = fn;
    commit_hook_ctx = ctx;
}

static wl_status map_rc(int rc)
{
    static const int from[] = {SQLITE_OK,       SQLITE_ROW,   SQLITE_DONE,    SQLITE_BUSY,
                               SQLITE_LOCKED,   SQLITE_NOMEM, SQLITE_CORRUPT, SQLITE_NOTADB,
                               SQLITE_CANTOPEN, SQLITE_FULL};
    static const wl_status to[] = {WL_OK,     WL_OK,       WL_OK,       WL_EBUSY,     WL_EBUSY,
                                   WL_ENOMEM, WL_ECORRUPT, WL_ECORRUPT, WL_ENOTFOUND, WL_EFULL};
    for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++)
        if (from[i] == (rc & 0xff))
            return to[i];
    return WL_EIO;
}

/* Records the connection's message and maps the code. */
wl_status wl_asq_fail(sq_astore *s, int rc)
{
    snprintf(s->err, sizeof(s->err), "%s (sqlite code %d)", s->db ? sqlite3_errmsg(s->db) : "", rc);
    return map_rc(rc);
}

sqlite3_stmt *wl_asq_stmt(sq_astore *s, enum stmt_id id)
{
    if (!s->stmt[id] && sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                           &s->stmt[id], NULL) != SQLITE_OK)
        return wl_asq_fail(s, sqlite3_errcode(s->db)), NULL;
    sqlite3_reset(s->stmt[id]);
    sqlite3_clear_bindings(s->stmt[id]);
    return s->stmt[id];
}

/* The statement with ?1 = key and ?2 = day bound, as most here need. */
sqlite3_stmt *wl_asq_stmt_kd(sq_astore *s, enum stmt_id id, const char *key, size_t key_len,
                             wl_day day)
{
    sqlite3_stmt *st = wl_asq_stmt(s, id);
    if (st) {
        sqlite3_bind_text(st, 1, key, (int)key_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, day);
    }
    return st;
}

/* Runs a statement that returns no rows. */
static wl_status run(sq_astore *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WL_OK : wl_asq_fail(s, rc);
}

wl_status wl_asq_exec(sq_astore *s, const char *text)
{
    int rc = sqlite3_exec(s->db, text, NULL, NULL, NULL);
    return rc == SQLITE_OK ? WL_OK : wl_asq_fail(s, rc);
}

/* ---- open / migrate ------------------------------------------------------ */

static wl_status check_schema(sq_astore *s, bool readonly)
{
    int v;
    int rc = wl_astore_sqlite_schema_version(s->db, &v);
    if (rc != SQLITE_OK)
        return wl_asq_fail(s, rc);
    if (v == MIGRATIONS)
        return WL_OK;
    snprintf(s->err, sizeof(s->err), "analytics schema version %d, this build has %d", v,
             MIGRATIONS);
    /* a reader that finds no schema yet just has nothing to read */
    return v > MIGRATIONS ? WL_EUNSUPPORTED : readonly && v == 0 ? WL_ENOTFOUND : WL_EIO;
}

static wl_status configure_writer(sq_astore *s)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return wl_asq_fail(s, rc);
    rc = sqlite3_step(st);
    bool wal =
        rc == SQLITE_ROW && sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        snprintf(s->err, sizeof(s->err), "could not enable WAL journal mode");
        return WL_EIO;
    }
    if ((rc = wl_asq_register_functions(s)) != SQLITE_OK)
        return wl_asq_fail(s, rc);
    s->sketches = wl_xmalloc((size_t)UPSERT_ROWS * WL_HLL_MAX_SERIALIZED);
    s->dimsets = wl_xcalloc(UPSERT_ROWS, sizeof(*s->dimsets));
    /* 64 MiB page cache for the daily table. (Schemas 1-2 turned CHECKs off for dim's costly
     * IN list; the table is gone, and the CHECKs left cost nothing.) Checkpoint at 64 MiB of
     * WAL, not SQLite's 4 MiB: clicks spread over many links make every commit rewrite most
     * pages of the table, so checkpointing after each commit copied the whole table back
     * each time; every ~8th commit copies it once for all of them. Measured at 78k
     * redirects/s over 100,000 links on one shared core: freshness p50 0.66-0.69 s instead
     * of 1.01-1.04 s (docs/BENCHMARKS.md). The WAL then holds up to 64 MiB
     * (journal_size_limit truncates it back after a checkpoint). */
    return wl_asq_exec(s, "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;"
                          " PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -65536;"
                          " PRAGMA wal_autocheckpoint = 16384;");
}

static void sq_close(wl_astore *base)
{
    sq_astore *s = (sq_astore *)base; /* never NULL: the wrapper checks */
    for (int i = 0; i < S_COUNT_; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s->order);
    free(s->sketches);
    for (int i = 0; s->dimsets && i < UPSERT_ROWS; i++)
        wl_dimset_buf_release(&s->dimsets[i]);
    free(s->dimsets);
    wl_dimset_buf_release(&s->merge);
    free(s);
}

static wl_status sq_open(const char *dsn, unsigned flags, wl_astore **out)
{
    if (!dsn || !out)
        return WL_EINVAL;
    bool ro = flags & WL_ASTORE_READONLY;
    sq_astore *s = wl_xcalloc(1, sizeof(*s));
    s->base.ops = &wl_astore_sqlite_ops;
    int oflags = SQLITE_OPEN_NOMUTEX |
                 (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(dsn, &s->db, oflags, NULL);
    wl_status st = rc == SQLITE_OK ? WL_OK : wl_asq_fail(s, rc);
    if (st == WL_OK) {
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
        if (!ro && (st = configure_writer(s)) == WL_OK &&
            (rc = wl_astore_sqlite_migrate(s->db, s->err, sizeof(s->err))) != SQLITE_OK)
            st = map_rc(rc);
        if (st == WL_OK)
            st = check_schema(s, ro);
    }
    if (st != WL_OK) {
        sq_close(&s->base);
        return st;
    }
    *out = &s->base;
    return WL_OK;
}

static const char *sq_errmsg(wl_astore *base)
{
    return ((sq_astore *)base)->err;
}

/* ---- consumer and keys --------------------------------------------------- */

static wl_status sq_consumer_get(wl_astore *base, wl_astore_consumer *out)
{
    sq_astore *s = (sq_astore *)base;
    sqlite3_stmt *st = wl_asq_stmt(s, S_CONSUMER_GET);
    if (!st)
        return WL_EIO;
    memset(out, 0, sizeof(*out));
    int rc = sqlite3_step(st);
    wl_status ws = rc == SQLITE_DONE ? WL_ENOTFOUND : rc == SQLITE_ROW ? WL_OK : wl_asq_fail(s, rc);
    if (ws == WL_OK) {
        const char *pos = (const char *)sqlite3_column_text(st, 0);
        ws = wl_queue_pos_parse(pos, (size_t)sqlite3_column_bytes(st, 0), &out->pos);
        if (ws != WL_OK)
            snprintf(s->err, sizeof(s->err), "stored consumer position is malformed");
        out->updated_ms = sqlite3_column_int64(st, 1);
        out->as_of_ms = sqlite3_column_int64(st, 2);
        out->newest_event_ms = sqlite3_column_int64(st, 3);
        out->events_total = (uint64_t)sqlite3_column_int64(st, 4);
        out->corrupt_total = (uint64_t)sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    return ws == WL_EINVAL ? WL_ECORRUPT : ws;
}

static wl_status sq_visitor_key_get(wl_astore *base, wl_day day, wl_visitor_key *out)
{
    sq_astore *s = (sq_astore *)base;
    sqlite3_stmt *st = wl_asq_stmt(s, S_KEY_GET);
    if (!st)
        return WL_EIO;
    sqlite3_bind_int64(st, 1, day);
    int rc = sqlite3_step(st);
    wl_status ws = rc == SQLITE_DONE ? WL_ENOTFOUND : rc == SQLITE_ROW ? WL_OK : wl_asq_fail(s, rc);
    if (ws == WL_OK && sqlite3_column_bytes(st, 0) != WL_VISITOR_KEY_BYTES)
        ws = WL_ECORRUPT;
    else if (ws == WL_OK) {
        memcpy(out->bytes, sqlite3_column_blob(st, 0), WL_VISITOR_KEY_BYTES);
        out->alg = (uint8_t)sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    return ws;
}

/* ---- apply --------------------------------------------------------------- */

/* The batch's pace callback (astore.h), if any. */
static void pace(sq_astore *s, bool long_call)
{
    if (s->batch && s->batch->pace)
        s->batch->pace(s->batch->pace_ctx, long_call);
}

/* s->order[0..n) = a's day rows, sorted. */
static size_t sort_rows(sq_astore *s, const wl_agg *a)
{
    size_t n = a->ndays;
    pace(s, true); /* up to a million rows: not on a CPU loan */
    if (n > s->order_cap) {
        free(s->order);
        s->order_cap = n + n / 2;
        s->order = wl_xmalloc(s->order_cap * sizeof(*s->order));
    }
    for (size_t i = 0; i < n; i++)
        s->order[i] = &a->days[i];
    wl_agg_sort_days(s->order, n);
    return n;
}

/* Writes the serialised sketch of d's visitors (the batch's) to out. */
static wl_status batch_sketch(const wl_agg_day *d, uint8_t out[WL_HLL_MAX_SERIALIZED], size_t *len)
{
    if (wl_agg_sketch_sparse(d, out, len) == 1)
        return WL_OK; /* few visitors: sparse, without a 4 KiB sketch */
    wl_hll h;
    wl_hll_init(&h);
    const uint64_t *v = wl_agg_day_visitors(d);
    for (uint32_t i = 0; i < d->nvisitors; i++)
        wl_hll_add_hash(&h, v[i]);
    return wl_hll_serialize(&h, out, WL_HLL_MAX_SERIALIZED, len);
}

/* Packs the breakdown values of d (its device/browser/os counters and its
 * chain of dim rows in a) into set. */
static void batch_dimset(const wl_agg *a, const wl_agg_day *d, wl_dimset_buf *set)
{
    for (int c = 0; c < WL_AGG_UA_COLS; c++)
        if (d->ua[c])
            wl_dimset_add(set, wl_agg_ua_dim(c), wl_agg_ua_values[c], strlen(wl_agg_ua_values[c]),
                          d->ua[c]);
    for (uint32_t i = d->dims_head; i; i = a->dims[i - 1].next) {
        const wl_agg_dim *m = &a->dims[i - 1];
        wl_dimset_add(set, m->dim, m->value, m->value_len, m->clicks);
    }
    wl_dimset_encode(set);
}

/* Binds row r (parameters from r * DAILY_COLS + 1) of an upsert: d's counts,
 * its sketch (NULL without visitors: bots only) and its breakdown values
 * (NULL without any), both held in s's per-row buffers until the run. */
static wl_status bind_row(sq_astore *s, sqlite3_stmt *st, int r, const wl_agg *a,
                          const wl_agg_day *d)
{
    int p = r * DAILY_COLS;
    sqlite3_bind_text(st, p + 1, d->key, (int)d->key_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, p + 2, d->day);
    sqlite3_bind_int64(st, p + 3, (sqlite3_int64)d->clicks);
    sqlite3_bind_int64(st, p + 4, (sqlite3_int64)d->bot_clicks);
    uint8_t *sketch = s->sketches + (size_t)r * WL_HLL_MAX_SERIALIZED;
    size_t len;
    if (d->nvisitors && batch_sketch(d, sketch, &len) != WL_OK)
        return WL_EIO;
    if (d->nvisitors)
        sqlite3_bind_blob(st, p + 5, sketch, (int)len, SQLITE_STATIC);
    wl_dimset_buf *set = &s->dimsets[r];
    batch_dimset(a, d, set);
    if (set->len)
        sqlite3_bind_blob(st, p + 6, set->out, (int)set->len, SQLITE_STATIC);
    return WL_OK;
}

/* Sorted, the rows of a batch are scattered over memory: start loading the
 * day row PREFETCH_ROWS ahead, and what it points to (key, visitors, first
 * dim row) half as far ahead, when the row itself is in cache. */
#define PREFETCH_ROWS 8
static void prefetch_ahead(const sq_astore *s, const wl_agg *a, size_t i, size_t n)
{
    if (i + PREFETCH_ROWS < n)
        __builtin_prefetch(s->order[i + PREFETCH_ROWS]);
    if (i + PREFETCH_ROWS / 2 < n) {
        const wl_agg_day *d = s->order[i + PREFETCH_ROWS / 2];
        __builtin_prefetch(d->key);
        if (d->cap > WL_AGG_INLINE_VISITORS)
            __builtin_prefetch(d->visitors);
        if (d->dims_head)
            __builtin_prefetch(&a->dims[d->dims_head - 1]);
    }
}

/* Upserts the sorted day rows s->order[0..n), UPSERT_ROWS to a statement
 * (the tail one by one). */
static wl_status put_rows(sq_astore *s, const wl_agg *a, size_t n)
{
    wl_status ws = WL_OK;
    s->blob_corrupt = false;
    for (size_t i = 0; ws == WL_OK && i < n;) {
        int rows = n - i >= UPSERT_ROWS ? UPSERT_ROWS : 1;
        sqlite3_stmt *st = wl_asq_stmt(s, rows > 1 ? S_DAILY_UPSERT_N : S_DAILY_UPSERT);
        if (!st)
            return WL_EIO;
        for (int r = 0; ws == WL_OK && r < rows; r++, i++) {
            prefetch_ahead(s, a, i, n);
            ws = bind_row(s, st, r, a, s->order[i]);
        }
        if (ws == WL_OK)
            ws = run(s, st);
        pace(s, false);
    }
    if (ws != WL_OK && s->blob_corrupt) {
        snprintf(s->err, sizeof(s->err), "a stored visitor sketch or breakdown set is corrupt");
        return WL_ECORRUPT;
    }
    return ws;
}

static wl_status put_keys(sq_astore *s, const wl_astore_batch *b)
{
    sqlite3_stmt *st;
    wl_status ws = WL_OK;
    for (size_t i = 0; ws == WL_OK && i < b->nnew_keys; i++) {
        if (!(st = wl_asq_stmt(s, S_KEY_INSERT)))
            return WL_EIO;
        sqlite3_bind_int64(st, 1, b->new_keys[i].day);
        sqlite3_bind_blob(st, 2, b->new_keys[i].key.bytes, WL_VISITOR_KEY_BYTES, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, b->new_keys[i].key.alg);
        ws = run(s, st);
    }
    if (ws != WL_OK || !(st = wl_asq_stmt(s, S_KEY_FORGET)))
        return ws != WL_OK ? ws : WL_EIO;
    sqlite3_bind_int64(st, 1, b->forget_keys_before);
    return run(s, st);
}

static wl_status put_consumer(sq_astore *s, const wl_astore_batch *b)
{
    char text[WL_QUEUE_POS_TEXT_MAX];
    size_t len;
    wl_status ws = wl_queue_pos_format(b->pos, text, sizeof(text), &len);
    if (ws != WL_OK)
        return ws;
    sqlite3_stmt *st = wl_asq_stmt(s, S_CONSUMER_PUT);
    if (!st)
        return WL_EIO;
    sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
    const int64_t v[] = {b->now_ms, b->as_of_ms, b->agg ? b->agg->newest_ms : 0, (int64_t)b->events,
                         (int64_t)b->corrupt};
    for (int i = 0; i < 5; i++)
        sqlite3_bind_int64(st, i + 2, v[i]);
    return run(s, st);
}

/* Every statement of the batch; the caller owns the transaction. */
static wl_status apply_body(sq_astore *s, const wl_astore_batch *b)
{
    const wl_agg *a = b->agg;
    wl_status ws = a ? put_rows(s, a, sort_rows(s, a)) : WL_OK;
    if (ws == WL_OK)
        ws = put_keys(s, b);
    if (ws == WL_OK)
        ws = put_consumer(s, b);
    return ws;
}

static wl_status sq_apply(wl_astore *base, const wl_astore_batch *b)
{
    sq_astore *s = (sq_astore *)base;
    if (!b || !b->pos)
        return WL_EINVAL;
    wl_status ws = wl_asq_exec(s, "BEGIN IMMEDIATE");
    if (ws != WL_OK)
        return ws;
    s->batch = b;
    ws = apply_body(s, b);
    pace(s, true);
    s->batch = NULL;
    if (ws == WL_OK && commit_hook && commit_hook(commit_hook_ctx)) {
        snprintf(s->err, sizeof(s->err), "commit refused by the test hook");
        ws = WL_EIO;
    }
    if (ws == WL_OK)
        ws = wl_asq_exec(s, "COMMIT");
    if (ws != WL_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ws;
}

const wl_astore_ops wl_astore_sqlite_ops = {
    .version = 1,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .consumer_get = sq_consumer_get,
    .visitor_key_get = sq_visitor_key_get,
    .apply = sq_apply,
    .stats_get = wl_asq_stats_get,
    .errmsg = sq_errmsg,
};
