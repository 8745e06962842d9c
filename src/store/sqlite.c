/* sqlite.c - the SQLite backend of the store (contract: store.h, sqlite.h).
 *
 * This file holds the connection (open/close), statement preparation, error
 * mapping, the shared statement runners, the links ops and the ops table.
 * Users and API keys are in sqlite_accounts.c; what the two files share (the
 * handle, statement ids, helpers) is declared in sqlite_internal.h.
 *
 * Design notes
 * - One wl_store is one sqlite3 connection, opened SQLITE_OPEN_NOMUTEX: the
 *   store contract already gives each handle to a single thread, so SQLite's
 *   per-connection mutex would only cost time.
 * - Statement reuse and string lifetimes: see sqlite_internal.h. Binding
 *   without copies means the redirect path (link_get) allocates nothing beyond
 *   what SQLite does inside.
 * - Writable connections run WAL + synchronous=FULL: when a commit returns,
 *   the WAL is fsynced, which is what lets the HTTP layer answer 201.
 *   busy_timeout makes concurrent writers (other threads, the admin CLI
 *   process) queue for the write lock instead of failing. Single-statement
 *   writes use autocommit (SQLite itself retries a stale WAL snapshot there);
 *   the only multi-statement write, link_import, starts with BEGIN IMMEDIATE
 *   so the lock is taken, and waited for, up front rather than mid-way.
 * - Read-only connections (loop threads) use SQLITE_OPEN_READONLY. Under WAL
 *   they never wait for writers and each statement sees the latest commit.
 * - Deleted links keep their row with deleted_at set, so a key is never
 *   handed out twice: inserts conflict with it, reads filter it out.
 * - Optional values (expires_at, owner_id, last_used_at, revoked_at) are NULL
 *   in the database and 0 in the C structs. */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "store/migrations.h"
#include "store/sqlite_internal.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_KEY_MAX (sizeof(((wl_link_cursor *)0)->key) - 1)

/* Columns read by sq_row_link(), which decodes them by position. */
#define SQ_LINK_COLS "key, long_url, created_at, expires_at, owner_id, flags"

/* The SQL of every statement but the accounts ones (wl_sqlite_accounts_sql). */
static const char *const sq_sql[SQ_STMT_COUNT_] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
    [SQ_LINK_GET] = "SELECT " SQ_LINK_COLS " FROM links WHERE key = ?1 AND deleted_at IS NULL",
    /* DO NOTHING (and sqlite3_changes()) rather than a constraint error:
     * losing the race for a key is an expected outcome, not an engine error,
     * and the same statement serves link_import. A deleted row still holds
     * its key, so it conflicts too. */
    [SQ_LINK_INSERT] = "INSERT INTO links(key, long_url, created_at, expires_at, owner_id, flags)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(key) DO NOTHING",
    [SQ_LINK_DELETE] = "UPDATE links SET deleted_at = ?3"
                       " WHERE key = ?1 AND owner_id IS ?2 AND deleted_at IS NULL",
    /* `owner_id IS ?` so that NULL (anonymous) matches too; both forms walk
     * the links_by_owner index in order, so LIMIT stops the scan early. */
    [SQ_LINK_LIST_FIRST] = "SELECT " SQ_LINK_COLS " FROM links"
                           " WHERE owner_id IS ?1 AND deleted_at IS NULL"
                           " ORDER BY created_at DESC, key DESC LIMIT ?2",
    [SQ_LINK_LIST_AFTER] = "SELECT " SQ_LINK_COLS " FROM links"
                           " WHERE owner_id IS ?1 AND deleted_at IS NULL"
                           " AND (created_at, key) < (?3, ?4)"
                           " ORDER BY created_at DESC, key DESC LIMIT ?2",
};

/* Why this thread's last open failed: the handle is gone by then. */
static _Thread_local char sq_open_err[512];

/* ---- errors ---------------------------------------------------------- */

static wl_status sq_map(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return WL_EEXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return WL_EINVAL;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return WL_EBUSY;
    case SQLITE_NOMEM:
        return WL_ENOMEM;
    case SQLITE_TOOBIG:
        return WL_ETOOBIG;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return WL_ECORRUPT;
    default:
        return WL_EIO;
    }
}

/* Records the engine's message (it is overwritten by the next call, and
 * callers log after we return) and maps rc to a status. */
static wl_status sq_fail(struct sq_store *s, int rc)
{
    snprintf(s->err, sizeof s->err, "%s (sqlite code %d)", sqlite3_errmsg(s->db), rc);
    return sq_map(rc);
}

const char *wl_store_sqlite_errmsg(const wl_store *st)
{
    if (!st)
        return sq_open_err;
    if (st->ops != &wl_store_sqlite_ops)
        return "not a sqlite store handle";
    return ((const struct sq_store *)st)->err;
}

/* ---- statements ------------------------------------------------------ */

/* Binds v, or NULL for 0 (our spelling of "none"). */
static int sq_bind_opt(sqlite3_stmt *st, int idx, int64_t v)
{
    return v ? sqlite3_bind_int64(st, idx, v) : sqlite3_bind_null(st, idx);
}

/* Fails (and notes why) unless rc is SQLITE_OK; ends st's use on failure. */
static wl_status sq_check(struct sq_store *s, sqlite3_stmt *st, int rc)
{
    if (rc == SQLITE_OK)
        return WL_OK;
    wl_status ws = sq_fail(s, rc);
    wl_sqlite_done(st);
    return ws;
}

/* ---- runners (contract: sqlite_internal.h) --------------------------- */

wl_status wl_sqlite_fetch_one(struct sq_store *s, sqlite3_stmt *q, int rc)
{
    wl_status ws = sq_check(s, q, rc);
    if (ws != WL_OK)
        return ws;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        return WL_OK;
    if (rc == SQLITE_DONE) {
        wl_sqlite_done(q);
        return WL_ENOTFOUND;
    }
    return sq_check(s, q, rc);
}

wl_status wl_sqlite_write(struct sq_store *s, sqlite3_stmt *q, int rc, int *changed)
{
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE) {
        wl_sqlite_done(q);
        if (changed)
            *changed = sqlite3_changes(s->db) > 0;
        return WL_OK;
    }
    return sq_check(s, q, rc); /* still holds the engine's message */
}

wl_status wl_sqlite_update_one(struct sq_store *s, sqlite3_stmt *q, int rc)
{
    int changed = 0;
    wl_status ws = wl_sqlite_write(s, q, rc, &changed);
    if (ws != WL_OK)
        return ws;
    return changed ? WL_OK : WL_ENOTFOUND;
}

wl_status wl_sqlite_each(struct sq_store *s, sqlite3_stmt *q, int rc, wl_sqlite_row_fn row,
                         void *ctx)
{
    wl_status ws = sq_check(s, q, rc);
    if (ws != WL_OK)
        return ws;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (row(ctx, q, &ws))
            break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_check(s, q, rc);
    wl_sqlite_done(q);
    return ws;
}

/* ---- copying out ----------------------------------------------------- */

/* Copies (*str, len) to dst, NUL-terminates it, repoints *str at the copy and
 * returns the byte after it. */
static char *sq_copy(char *dst, const char **str, size_t len)
{
    if (len)
        memcpy(dst, *str, len);
    dst[len] = '\0';
    *str = dst;
    return dst + len + 1;
}

wl_status wl_sqlite_out_pair(sqlite3_stmt *q, char *buf, size_t cap, const char **a, size_t a_len,
                             const char **b, size_t b_len)
{
    /* Room for both terminated strings: a_len + 1 + b_len + 1 <= cap. */
    int fits = buf && a_len < cap && b_len < cap - a_len - 1;
    if (fits)
        sq_copy(sq_copy(buf, a, a_len), b, b_len);
    wl_sqlite_done(q);
    return fits ? WL_OK : WL_ETOOBIG;
}

/* ---- row decoder: strings point into SQLite's row memory ------------- */

static void sq_row_link(sqlite3_stmt *st, wl_link *l)
{
    wl_sqlite_col_text(st, 0, &l->key, &l->key_len);
    wl_sqlite_col_text(st, 1, &l->long_url, &l->long_url_len);
    l->created_at = sqlite3_column_int64(st, 2);
    l->expires_at = sqlite3_column_int64(st, 3);
    l->owner_id = sqlite3_column_int64(st, 4);
    l->flags = (uint32_t)sqlite3_column_int64(st, 5);
}

/* ---- open / close ---------------------------------------------------- */

static void sq_destroy(struct sq_store *s)
{
    for (int i = 0; i < SQ_STMT_COUNT_; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

static void sq_close(wl_store *st)
{
    sq_destroy(wl_sqlite_cast(st));
}

/* Runs PRAGMA journal_mode = WAL once; *is_wal tells whether it took. */
static int sq_try_wal(sqlite3 *db, int *is_wal)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    *is_wal = mode && sqlite3_stricmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Switching a new file to WAL upgrades a read lock to an exclusive one, and
 * when another connection does the same at that moment SQLite answers
 * SQLITE_BUSY at once instead of calling the busy handler (waiting could
 * deadlock). That is routine when the server and the CLI create the file
 * together, so retry here within the busy_timeout budget. Once the file is
 * in WAL mode the pragma takes no lock and returns at once. */
static int sq_enable_wal(sqlite3 *db, int *is_wal)
{
    int64_t deadline = wl_mono_ms() + SQ_BUSY_TIMEOUT_MS;
    for (;;) {
        int rc = sq_try_wal(db, is_wal);
        if ((rc & 0xff) != SQLITE_BUSY || wl_mono_ms() >= deadline)
            return rc;
        sqlite3_sleep(2);
    }
}

/* Sets the pragmas of a writable connection. WAL is persistent in the file,
 * but asking again is cheap and covers a file created by someone else. */
static wl_status sq_configure_writer(struct sq_store *s)
{
    int is_wal = 0;
    int rc = sq_enable_wal(s->db, &is_wal);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc);
    if (!is_wal) {
        /* Without WAL readers block behind writers; refuse rather than run
         * with latency nobody expects (e.g. a filesystem without shm). */
        snprintf(s->err, sizeof s->err, "could not enable WAL journal mode");
        return WL_EIO;
    }
    /* journal_size_limit: a big import leaves a WAL as large as the data it
     * wrote; without a limit the file keeps that size after checkpointing. */
    rc = sqlite3_exec(s->db,
                      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                      " PRAGMA journal_size_limit = 67108864",
                      NULL, NULL, NULL);
    return rc == SQLITE_OK ? WL_OK : sq_fail(s, rc);
}

/* Refuses a schema this build does not match: statements would fail later,
 * one request at a time, with less obvious messages. */
static wl_status sq_check_schema(struct sq_store *s)
{
    int have;
    int rc = wl_sqlite_schema_current(s->db, &have);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc);
    int want = wl_sqlite_schema_latest();
    if (have == want)
        return WL_OK;
    snprintf(s->err, sizeof s->err,
             have < want ? "schema version %d is older than this build's %d; open with migrate"
                         : "schema version %d is newer than this build's %d",
             have, want);
    return WL_EUNSUPPORTED;
}

static wl_status sq_prepare_all(struct sq_store *s)
{
    for (int i = 0; i < SQ_STMT_COUNT_; i++) {
        const char *sql = sq_sql[i] ? sq_sql[i] : wl_sqlite_accounts_sql[i];
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
        if (rc != SQLITE_OK)
            return sq_fail(s, rc);
    }
    return WL_OK;
}

/* Opens and readies the connection; *stage names the step that failed. */
static wl_status sq_setup(struct sq_store *s, const char *path, unsigned flags, const char **stage)
{
    int oflags = SQLITE_OPEN_NOMUTEX;
    if (flags & WL_STORE_READONLY)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | (flags & WL_STORE_MIGRATE ? SQLITE_OPEN_CREATE : 0);
    *stage = "open";
    int rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
    if (rc != SQLITE_OK)
        return s->db ? sq_fail(s, rc) : WL_ENOMEM;
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);

    wl_status ws = WL_OK;
    *stage = "configure";
    if (!(flags & WL_STORE_READONLY))
        ws = sq_configure_writer(s);
    if (ws != WL_OK)
        return ws;
    *stage = "migrate";
    if (flags & WL_STORE_MIGRATE) {
        rc = wl_sqlite_migrate(s->db, s->err, sizeof s->err);
        if (rc != SQLITE_OK)
            return sq_map(rc);
    }
    *stage = "check schema";
    ws = sq_check_schema(s);
    if (ws != WL_OK)
        return ws;
    *stage = "prepare";
    return sq_prepare_all(s);
}

static wl_status sq_open(const char *dsn, unsigned flags, wl_store **out)
{
    const unsigned known = WL_STORE_MIGRATE | WL_STORE_READONLY;
    if (!out)
        return WL_EINVAL;
    *out = NULL;
    sq_open_err[0] = '\0';
    if (!dsn || (flags & ~known) || (flags & known) == known) {
        snprintf(sq_open_err, sizeof sq_open_err, "invalid path or flags");
        return WL_EINVAL;
    }
    struct sq_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(sq_open_err, sizeof sq_open_err, "out of memory");
        return WL_ENOMEM;
    }
    s->base.ops = &wl_store_sqlite_ops;
    const char *stage = "";
    wl_status ws = sq_setup(s, dsn, flags, &stage);
    if (ws != WL_OK) {
        snprintf(sq_open_err, sizeof sq_open_err, "%s: %s: %s", dsn, stage, s->err);
        sq_destroy(s);
        return ws;
    }
    *out = &s->base;
    return WL_OK;
}

static wl_status sq_schema_version(wl_store *st, int *out)
{
    struct sq_store *s = wl_sqlite_cast(st);
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_SCHEMA_VERSION);
    wl_status ws = wl_sqlite_fetch_one(s, q, SQLITE_OK);
    if (ws != WL_OK)
        return ws == WL_ENOTFOUND ? WL_EIO : ws;
    *out = sqlite3_column_int(q, 0);
    wl_sqlite_done(q);
    return WL_OK;
}

/* ---- links ----------------------------------------------------------- */

static int sq_key_ok(size_t len)
{
    return len >= 1 && len <= SQ_KEY_MAX;
}

static wl_status sq_link_get(wl_store *st, const char *key, size_t key_len, wl_link *out, char *buf,
                             size_t cap)
{
    struct sq_store *s = wl_sqlite_cast(st);
    if (!sq_key_ok(key_len))
        return WL_ENOTFOUND; /* could never have been inserted */
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_LINK_GET);
    wl_status ws = wl_sqlite_fetch_one(s, q, wl_sqlite_bind_str(q, 1, key, key_len));
    if (ws != WL_OK)
        return ws;
    wl_link l;
    sq_row_link(q, &l);
    ws = wl_sqlite_out_pair(q, buf, cap, &l.key, l.key_len, &l.long_url, l.long_url_len);
    if (ws == WL_OK)
        *out = l;
    return ws;
}

/* Binds and runs the conditional insert; *added is 1 when the row is new. */
static wl_status sq_link_put(struct sq_store *s, const wl_link *l, int *added)
{
    if (!sq_key_ok(l->key_len) || !l->key || !l->long_url || !l->long_url_len)
        return WL_EINVAL;
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_LINK_INSERT);
    int rc = wl_sqlite_bind_str(q, 1, l->key, l->key_len);
    if (rc == SQLITE_OK)
        rc = wl_sqlite_bind_str(q, 2, l->long_url, l->long_url_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, l->created_at);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt(q, 4, l->expires_at);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt(q, 5, l->owner_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 6, l->flags);
    return wl_sqlite_write(s, q, rc, added);
}

static wl_status sq_link_insert(wl_store *st, const wl_link *link)
{
    int added = 0;
    wl_status ws = sq_link_put(wl_sqlite_cast(st), link, &added);
    if (ws == WL_OK && !added)
        return WL_EEXISTS;
    return ws;
}

static wl_status sq_link_delete(wl_store *st, const char *key, size_t key_len, int64_t owner_id)
{
    struct sq_store *s = wl_sqlite_cast(st);
    if (!sq_key_ok(key_len))
        return WL_ENOTFOUND;
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_LINK_DELETE);
    int rc = wl_sqlite_bind_str(q, 1, key, key_len);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt(q, 2, owner_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, wl_now_ms());
    return wl_sqlite_update_one(s, q, rc);
}

/* Binds the keyset bounds; picks the statement for a zeroed/NULL cursor. */
static wl_status sq_list_bind(struct sq_store *s, int64_t owner_id, const wl_link_cursor *after,
                              unsigned limit, sqlite3_stmt **out)
{
    int first = !after || (after->created_at == 0 && after->key[0] == '\0');
    sqlite3_stmt *q = wl_sqlite_stmt(s, first ? SQ_LINK_LIST_FIRST : SQ_LINK_LIST_AFTER);
    int rc = sq_bind_opt(q, 1, owner_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, limit);
    if (!first) {
        size_t klen = strnlen(after->key, sizeof after->key);
        if (klen == sizeof after->key) {
            wl_sqlite_done(q);
            return WL_EINVAL; /* unterminated cursor key */
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(q, 3, after->created_at);
        if (rc == SQLITE_OK)
            rc = wl_sqlite_bind_str(q, 4, after->key, klen);
    }
    *out = q;
    return sq_check(s, q, rc);
}

static int sq_link_row(void *ctx, sqlite3_stmt *q, wl_status *ws)
{
    (void)ws;
    struct wl_sqlite_visit *v = ctx;
    wl_link l;
    sq_row_link(q, &l);
    return v->fn.link(v->ctx, &l);
}

static wl_status sq_link_list(wl_store *st, int64_t owner_id, const wl_link_cursor *after,
                              unsigned limit, wl_link_fn fn, void *ctx)
{
    struct sq_store *s = wl_sqlite_cast(st);
    sqlite3_stmt *q;
    wl_status ws = sq_list_bind(s, owner_id, after, limit, &q);
    if (ws != WL_OK)
        return ws;
    struct wl_sqlite_visit v = {.fn.link = fn, .ctx = ctx};
    return wl_sqlite_each(s, q, SQLITE_OK, sq_link_row, &v);
}

/* Runs one of the prepared transaction-control statements. */
static wl_status sq_tx(struct sq_store *s, enum sq_stmt_id id)
{
    return wl_sqlite_write(s, wl_sqlite_stmt(s, id), SQLITE_OK, NULL);
}

/* Abandons the open transaction, if a failed COMMIT did not already end it.
 * Its own outcome is ignored so the caller's first error, the one that says
 * why we roll back, stays the recorded message. */
static void sq_rollback(struct sq_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_ROLLBACK);
    sqlite3_step(q);
    wl_sqlite_done(q);
}

/* Feeds the source into the open transaction; counts new rows. */
static wl_status sq_import_rows(struct sq_store *s, wl_link_source_fn src, void *ctx, uint64_t *n)
{
    for (;;) {
        wl_link l;
        memset(&l, 0, sizeof l);
        int more = src(ctx, &l);
        if (more == 0)
            return WL_OK;
        if (more < 0) {
            snprintf(s->err, sizeof s->err, "import source failed (%d)", more);
            return WL_EINVAL;
        }
        int added = 0;
        wl_status ws = sq_link_put(s, &l, &added);
        if (ws != WL_OK)
            return ws;
        *n += (uint64_t)added;
    }
}

static wl_status sq_link_import(wl_store *st, wl_link_source_fn src, void *ctx, uint64_t *inserted)
{
    struct sq_store *s = wl_sqlite_cast(st);
    uint64_t n = 0;
    if (inserted)
        *inserted = 0;
    wl_status ws = sq_tx(s, SQ_BEGIN);
    if (ws != WL_OK)
        return ws;
    ws = sq_import_rows(s, src, ctx, &n);
    if (ws == WL_OK)
        ws = sq_tx(s, SQ_COMMIT);
    if (ws != WL_OK) {
        sq_rollback(s);
        return ws;
    }
    if (inserted)
        *inserted = n;
    return WL_OK;
}

const wl_store_ops wl_store_sqlite_ops = {
    .version = 1,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .link_get = sq_link_get,
    .link_insert = sq_link_insert,
    .link_delete = sq_link_delete,
    .link_list = sq_link_list,
    .link_import = sq_link_import,
    .user_insert = wl_sqlite_user_insert,
    .user_get_by_email = wl_sqlite_user_get_by_email,
    .user_get_by_id = wl_sqlite_user_get_by_id,
    .user_set_pwhash = wl_sqlite_user_set_pwhash,
    .user_list = wl_sqlite_user_list,
    .apikey_insert = wl_sqlite_apikey_insert,
    .apikey_get_by_hash = wl_sqlite_apikey_get_by_hash,
    .apikey_list = wl_sqlite_apikey_list,
    .apikey_revoke = wl_sqlite_apikey_revoke,
    .apikey_touch = wl_sqlite_apikey_touch,
};
