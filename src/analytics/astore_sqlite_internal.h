/* astore_sqlite_internal.h - shared by the two halves of the SQLite
 * analytics store backend: astore_sqlite.c (open, schema, apply) and
 * astore_sqlite_stats.c (stats reads). Not for other modules. */
#ifndef WL_ASTORE_SQLITE_INTERNAL_H
#define WL_ASTORE_SQLITE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "analytics/astore.h"
#include "analytics/dimset.h"

enum stmt_id {
    S_DAILY_UPSERT,
    S_DAILY_UPSERT_N,
    S_CONSUMER_GET,
    S_KEY_GET,
    S_KEY_INSERT,
    S_KEY_FORGET,
    S_CONSUMER_PUT,
    S_STATS_DAILY,
    S_COUNT_
};

/* One open handle: one connection, used by one thread at a time. */
typedef struct sq_astore {
    wl_astore base; /* first: a wl_astore * is a sq_astore * */
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT_];
    const wl_agg_day **order; /* apply's rows in primary-key order */
    size_t order_cap;
    /* apply's blobs of the rows of one upsert statement, bound SQLITE_STATIC:
     * [UPSERT_ROWS][WL_HLL_MAX_SERIALIZED] sketches, [UPSERT_ROWS] sets */
    uint8_t *sketches;
    wl_dimset_buf *dimsets;
    wl_dimset_buf merge;          /* wl_dimset_merge()'s scratch */
    bool blob_corrupt;            /* set by a merge function when a stored blob is malformed */
    const wl_astore_batch *batch; /* during apply only: for its pace callback */
    char err[256];
} sq_astore;

/* Records the connection's message in s->err and maps the SQLite code. */
wl_status wl_asq_fail(sq_astore *s, int rc);

/* Runs SQL text without results (BEGIN, COMMIT, PRAGMAs). */
wl_status wl_asq_exec(sq_astore *s, const char *text);

/* Statement id, prepared on first use and kept; reset and unbound. NULL
 * (s->err set) if it cannot be prepared. Valid until the handle closes. */
sqlite3_stmt *wl_asq_stmt(sq_astore *s, enum stmt_id id);

/* The same with ?1 = key and ?2 = day bound, as most statements need. */
sqlite3_stmt *wl_asq_stmt_kd(sq_astore *s, enum stmt_id id, const char *key, size_t key_len,
                             wl_day day);

/* Registers the SQL functions of astore_sqlite_fn.c on s->db (user data s).
 * An SQLite result code. */
int wl_asq_register_functions(sq_astore *s);

/* astore.h's stats_get for this backend (astore_sqlite_stats.c). */
wl_status wl_asq_stats_get(wl_astore *base, const char *key, size_t key_len, wl_day from, wl_day to,
                           wl_astore_stats *out);

#endif
