/* sqlite_internal.h - shared by the two halves of the SQLite store backend:
 * sqlite.c (connection, statements, errors, links, the ops table) and
 * sqlite_accounts.c (users and API keys). Nothing else includes it; the
 * public contract is sqlite.h.
 *
 * Ownership and lifetime
 * - struct sq_store owns its connection and every prepared statement; both
 *   are created by the open op and released only by the close op
 *   (sqlite.c). The accounts half borrows them for the duration of a call.
 * - Every statement is prepared once at open (SQLITE_PREPARE_PERSISTENT), one
 *   per enum sq_stmt_id, and reused. Each file owns the SQL of its statements
 *   (sq_sql in sqlite.c, wl_sqlite_accounts_sql). A use of a statement binds,
 *   steps, and ends with wl_sqlite_done() (reset + clear bindings) before the
 *   op returns; the wl_sqlite_* runners below do so for their caller unless
 *   they say otherwise. Resetting before returning matters under WAL: a
 *   statement left mid-result pins its read snapshot, so a read-only
 *   connection would stop seeing other connections' commits and would hold
 *   back checkpoints.
 * - Strings are bound SQLITE_STATIC (no copy): the caller's memory outlives
 *   the call, and the bindings are cleared before we return.
 * - Strings a row decoder yields point into SQLite's row memory, valid until
 *   the statement's use ends; ops that return rows copy them out first
 *   (wl_sqlite_out_pair) or hand them to a row callback only meanwhile.
 *
 * Runner convention: `rc` is the result of binding the statement's
 * parameters. The statement runs only when it is SQLITE_OK; otherwise, as
 * for any engine failure, the engine's message is recorded in the handle's
 * err (wl_store_sqlite_errmsg()), the use is ended and the mapped status is
 * returned. */
#ifndef WL_STORE_SQLITE_INTERNAL_H
#define WL_STORE_SQLITE_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

enum sq_stmt_id {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SCHEMA_VERSION,
    SQ_LINK_GET,
    SQ_LINK_INSERT,
    SQ_LINK_DELETE,
    SQ_LINK_LIST_FIRST,
    SQ_LINK_LIST_AFTER,
    SQ_USER_INSERT,
    SQ_USER_BY_EMAIL,
    SQ_USER_BY_ID,
    SQ_USER_SET_PWHASH,
    SQ_USER_LIST,
    SQ_KEY_INSERT,
    SQ_KEY_BY_HASH,
    SQ_KEY_LIST,
    SQ_KEY_REVOKE,
    SQ_KEY_TOUCH,
    SQ_STMT_COUNT_
};

/* One open handle: one connection, used by one thread at a time. */
struct sq_store {
    wl_store base; /* first, so a wl_store * is a struct sq_store * */
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ_STMT_COUNT_];
    char err[256]; /* see wl_store_sqlite_errmsg() */
};

static inline struct sq_store *wl_sqlite_cast(wl_store *st)
{
    return (struct sq_store *)st;
}

static inline sqlite3_stmt *wl_sqlite_stmt(struct sq_store *s, enum sq_stmt_id id)
{
    return s->stmt[id];
}

/* Ends a use of a statement: releases its snapshot and the caller's memory. */
static inline void wl_sqlite_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Binds a (ptr, len) string without copying it. A NULL ptr binds "" so that
 * NOT NULL columns see an empty string, not NULL. */
static inline int wl_sqlite_bind_str(sqlite3_stmt *st, int idx, const char *p, size_t len)
{
    if (len > INT_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_text(st, idx, p ? p : "", (int)len, SQLITE_STATIC);
}

/* Reads a text column; *p points into the row (never NULL). */
static inline void wl_sqlite_col_text(sqlite3_stmt *st, int col, const char **p, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    *p = t ? (const char *)t : "";
}

/* The rest is defined in sqlite.c. */

/* Steps a bound single-row query. WL_OK leaves the row current for the caller,
 * who must end the use (wl_sqlite_done() or wl_sqlite_out_pair()); any other
 * status, WL_ENOTFOUND for no row included, has already ended it. */
wl_status wl_sqlite_fetch_one(struct sq_store *s, sqlite3_stmt *q, int rc);

/* Runs a bound statement that returns no rows. On WL_OK, *changed (unless
 * NULL) tells whether it changed a row. */
wl_status wl_sqlite_write(struct sq_store *s, sqlite3_stmt *q, int rc, int *changed);

/* wl_sqlite_write() for an UPDATE of one row: WL_ENOTFOUND when none matched. */
wl_status wl_sqlite_update_one(struct sq_store *s, sqlite3_stmt *q, int rc);

/* Called for each row of wl_sqlite_each() while the row is current. Returns
 * nonzero to stop early; *ws (WL_OK on entry) is then what each returns. */
typedef int (*wl_sqlite_row_fn)(void *ctx, sqlite3_stmt *q, wl_status *ws);

/* A caller's row callback and its context, as ctx of a wl_sqlite_row_fn that
 * decodes the row and passes it on. */
struct wl_sqlite_visit {
    union {
        wl_link_fn link;
        wl_user_fn user;
        wl_apikey_fn apikey;
    } fn;
    void *ctx;
};

/* Steps a bound query to its end, or until row() stops it. */
wl_status wl_sqlite_each(struct sq_store *s, sqlite3_stmt *q, int rc, wl_sqlite_row_fn row,
                         void *ctx);

/* Copies two strings of q's current row into the caller's (buf, cap), NUL-
 * terminated, and repoints *a and *b at the copies; WL_ETOOBIG when they do
 * not fit (*a and *b are then unspecified). Ends q's use either way. */
wl_status wl_sqlite_out_pair(sqlite3_stmt *q, char *buf, size_t cap, const char **a, size_t a_len,
                             const char **b, size_t b_len);

/* Defined in sqlite_accounts.c. */

/* The SQL of the users and API keys statements, by enum sq_stmt_id; NULL for
 * the others. sqlite.c prepares them at open together with its own. */
extern const char *const wl_sqlite_accounts_sql[SQ_STMT_COUNT_];

/* The users and API keys ops (contract: store.h, sqlite.h). */
wl_status wl_sqlite_user_insert(wl_store *st, const char *email, size_t email_len,
                                const char *pwhash, int64_t created_at, int64_t *id_out);
wl_status wl_sqlite_user_get_by_email(wl_store *st, const char *email, size_t email_len,
                                      wl_user *out, char *buf, size_t cap);
wl_status wl_sqlite_user_get_by_id(wl_store *st, int64_t id, wl_user *out, char *buf, size_t cap);
wl_status wl_sqlite_user_set_pwhash(wl_store *st, int64_t id, const char *pwhash);
wl_status wl_sqlite_user_list(wl_store *st, wl_user_fn fn, void *ctx);
wl_status wl_sqlite_apikey_insert(wl_store *st, int64_t user_id, const char *name, size_t name_len,
                                  const char *prefix, size_t prefix_len,
                                  const unsigned char hash[WL_APIKEY_HASH_LEN], int64_t created_at,
                                  int64_t *id_out);
wl_status wl_sqlite_apikey_get_by_hash(wl_store *st, const unsigned char hash[WL_APIKEY_HASH_LEN],
                                       wl_apikey *out, char *buf, size_t cap);
wl_status wl_sqlite_apikey_list(wl_store *st, int64_t user_id, wl_apikey_fn fn, void *ctx);
wl_status wl_sqlite_apikey_revoke(wl_store *st, int64_t user_id, int64_t id, int64_t now);
wl_status wl_sqlite_apikey_touch(wl_store *st, int64_t id, int64_t when);

#endif
