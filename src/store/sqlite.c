/* sqlite.c - the SQLite backend of the store (contract: store.h, sqlite.h).
 *
 * Design notes
 * - One wl_store is one sqlite3 connection, opened SQLITE_OPEN_NOMUTEX: the
 *   store contract already gives each handle to a single thread, so SQLite's
 *   per-connection mutex would only cost time.
 * - Every statement is prepared once at open (SQLITE_PREPARE_PERSISTENT) and
 *   reused; a call binds, steps, and resets + clears bindings before it
 *   returns. Resetting before returning matters under WAL: a statement left
 *   mid-result pins its read snapshot, so a read-only connection would stop
 *   seeing other connections' commits and would hold back checkpoints.
 * - Strings are bound SQLITE_STATIC (no copy) because the caller's memory
 *   outlives the call and the bindings are cleared before we return. So the
 *   redirect path (link_get) allocates nothing beyond what SQLite does inside.
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

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "store/migrations.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_KEY_MAX (sizeof(((wl_link_cursor *)0)->key) - 1)

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

/* Column lists shared by the statements that feed the row decoders below. */
#define SQ_LINK_COLS "key, long_url, created_at, expires_at, owner_id, flags"
#define SQ_USER_COLS "id, email, pwhash, created_at"
#define SQ_KEY_COLS "id, user_id, name, prefix, hash, created_at, last_used_at, revoked_at"

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
    [SQ_USER_INSERT] = "INSERT INTO users(email, pwhash, created_at) VALUES (?1, ?2, ?3)",
    [SQ_USER_BY_EMAIL] = "SELECT " SQ_USER_COLS " FROM users WHERE email = ?1",
    [SQ_USER_BY_ID] = "SELECT " SQ_USER_COLS " FROM users WHERE id = ?1",
    [SQ_USER_SET_PWHASH] = "UPDATE users SET pwhash = ?2 WHERE id = ?1",
    [SQ_USER_LIST] = "SELECT " SQ_USER_COLS " FROM users ORDER BY id",
    [SQ_KEY_INSERT] = "INSERT INTO api_keys(user_id, name, prefix, hash, created_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_KEY_BY_HASH] = "SELECT " SQ_KEY_COLS " FROM api_keys"
                       " WHERE hash = ?1 AND revoked_at IS NULL",
    [SQ_KEY_LIST] = "SELECT " SQ_KEY_COLS " FROM api_keys WHERE user_id = ?1 ORDER BY id",
    [SQ_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?3"
                      " WHERE id = ?2 AND user_id = ?1 AND revoked_at IS NULL",
    /* max() instead of a WHERE filter so that an existing row always counts
     * as changed and 0 changes can only mean "no such key". */
    [SQ_KEY_TOUCH] = "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?2), ?2)"
                     " WHERE id = ?1",
};

struct sq_store {
    wl_store base; /* first, so a wl_store * is a struct sq_store * */
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ_STMT_COUNT_];
    char err[256]; /* see wl_store_sqlite_errmsg() */
};

/* Why this thread's last open failed: the handle is gone by then. */
static _Thread_local char sq_open_err[512];

static struct sq_store *sq_cast(wl_store *st)
{
    return (struct sq_store *)st;
}

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

static sqlite3_stmt *sq_stmt(struct sq_store *s, enum sq_stmt_id id)
{
    return s->stmt[id];
}

/* Ends a use of a statement: releases its snapshot and the caller's memory. */
static void sq_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Binds a (ptr, len) string without copying it. A NULL ptr binds "" so that
 * NOT NULL columns see an empty string, not NULL. */
static int sq_bind_str(sqlite3_stmt *st, int idx, const char *p, size_t len)
{
    if (len > INT_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_text(st, idx, p ? p : "", (int)len, SQLITE_STATIC);
}

/* Binds v, or NULL for 0 (our spelling of "none"). */
static int sq_bind_opt(sqlite3_stmt *st, int idx, int64_t v)
{
    return v ? sqlite3_bind_int64(st, idx, v) : sqlite3_bind_null(st, idx);
}

/* Steps a statement that returns no rows. Ends its use on success only, so
 * that on failure sq_check() can still read the engine's message. */
static int sq_run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        return rc;
    sq_done(st);
    return SQLITE_OK;
}

/* Fails (and notes why) unless rc is SQLITE_OK; ends st's use on failure. */
static wl_status sq_check(struct sq_store *s, sqlite3_stmt *st, int rc)
{
    if (rc == SQLITE_OK)
        return WL_OK;
    wl_status ws = sq_fail(s, rc);
    sq_done(st);
    return ws;
}

/* ---- copying out ----------------------------------------------------- */

/* A caller's (buf, cap), filled front to back. */
struct sq_out {
    char *p;
    size_t cap;
    size_t used;
};

/* Copies (*str, len) into the buffer, NUL-terminates it and repoints *str at
 * the copy. Fails, leaving the buffer's contents unspecified, when it is full. */
static wl_status sq_out_put(struct sq_out *o, const char **str, size_t len)
{
    if (o->cap - o->used < len + 1)
        return WL_ETOOBIG;
    char *dst = o->p + o->used;
    if (len)
        memcpy(dst, *str, len);
    dst[len] = '\0';
    o->used += len + 1;
    *str = dst;
    return WL_OK;
}

static void sq_col_text(sqlite3_stmt *st, int col, const char **p, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    *p = t ? (const char *)t : "";
}

/* ---- row decoders: strings point into SQLite's row memory ------------ */

static void sq_row_link(sqlite3_stmt *st, wl_link *l)
{
    sq_col_text(st, 0, &l->key, &l->key_len);
    sq_col_text(st, 1, &l->long_url, &l->long_url_len);
    l->created_at = sqlite3_column_int64(st, 2);
    l->expires_at = sqlite3_column_int64(st, 3);
    l->owner_id = sqlite3_column_int64(st, 4);
    l->flags = (uint32_t)sqlite3_column_int64(st, 5);
}

/* wl_user has no pwhash length, so it comes back separately. */
static void sq_row_user(sqlite3_stmt *st, wl_user *u, size_t *pwhash_len)
{
    u->id = sqlite3_column_int64(st, 0);
    sq_col_text(st, 1, &u->email, &u->email_len);
    sq_col_text(st, 2, &u->pwhash, pwhash_len);
    u->created_at = sqlite3_column_int64(st, 3);
}

static wl_status sq_row_apikey(sqlite3_stmt *st, wl_apikey *k)
{
    k->id = sqlite3_column_int64(st, 0);
    k->user_id = sqlite3_column_int64(st, 1);
    sq_col_text(st, 2, &k->name, &k->name_len);
    sq_col_text(st, 3, &k->prefix, &k->prefix_len);
    const void *hash = sqlite3_column_blob(st, 4);
    if (sqlite3_column_bytes(st, 4) != WL_APIKEY_HASH_LEN)
        return WL_ECORRUPT;
    memcpy(k->hash, hash, WL_APIKEY_HASH_LEN);
    k->created_at = sqlite3_column_int64(st, 5);
    k->last_used_at = sqlite3_column_int64(st, 6);
    k->revoked_at = sqlite3_column_int64(st, 7);
    return WL_OK;
}

/* ---- single-row reads ------------------------------------------------ */

/* Steps a bound single-row query. WL_OK leaves the row current for the caller
 * (who must sq_done() it); any other status has already ended the use. */
static wl_status sq_fetch_one(struct sq_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return WL_OK;
    if (rc == SQLITE_DONE) {
        sq_done(st);
        return WL_ENOTFOUND;
    }
    return sq_check(s, st, rc);
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
    sq_destroy(sq_cast(st));
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
        int rc =
            sqlite3_prepare_v3(s->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
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
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q = sq_stmt(s, SQ_SCHEMA_VERSION);
    wl_status ws = sq_fetch_one(s, q);
    if (ws != WL_OK)
        return ws == WL_ENOTFOUND ? WL_EIO : ws;
    *out = sqlite3_column_int(q, 0);
    sq_done(q);
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
    struct sq_store *s = sq_cast(st);
    if (!sq_key_ok(key_len))
        return WL_ENOTFOUND; /* could never have been inserted */
    sqlite3_stmt *q = sq_stmt(s, SQ_LINK_GET);
    wl_status ws = sq_check(s, q, sq_bind_str(q, 1, key, key_len));
    if (ws == WL_OK)
        ws = sq_fetch_one(s, q);
    if (ws != WL_OK)
        return ws;
    wl_link l;
    sq_row_link(q, &l);
    struct sq_out o = {buf, buf ? cap : 0, 0};
    ws = sq_out_put(&o, &l.key, l.key_len);
    if (ws == WL_OK)
        ws = sq_out_put(&o, &l.long_url, l.long_url_len);
    sq_done(q);
    if (ws == WL_OK)
        *out = l;
    return ws;
}

/* Binds and runs the conditional insert; *added is 1 when the row is new. */
static wl_status sq_link_put(struct sq_store *s, const wl_link *l, int *added)
{
    if (!sq_key_ok(l->key_len) || !l->key || !l->long_url || !l->long_url_len)
        return WL_EINVAL;
    sqlite3_stmt *q = sq_stmt(s, SQ_LINK_INSERT);
    int rc = sq_bind_str(q, 1, l->key, l->key_len);
    if (rc == SQLITE_OK)
        rc = sq_bind_str(q, 2, l->long_url, l->long_url_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, l->created_at);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt(q, 4, l->expires_at);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt(q, 5, l->owner_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 6, l->flags);
    wl_status ws = sq_check(s, q, rc);
    if (ws != WL_OK)
        return ws;
    rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        return sq_check(s, q, rc);
    *added = sqlite3_changes(s->db) > 0;
    sq_done(q);
    return WL_OK;
}

static wl_status sq_link_insert(wl_store *st, const wl_link *link)
{
    int added = 0;
    wl_status ws = sq_link_put(sq_cast(st), link, &added);
    if (ws == WL_OK && !added)
        return WL_EEXISTS;
    return ws;
}

static wl_status sq_link_delete(wl_store *st, const char *key, size_t key_len, int64_t owner_id)
{
    struct sq_store *s = sq_cast(st);
    if (!sq_key_ok(key_len))
        return WL_ENOTFOUND;
    sqlite3_stmt *q = sq_stmt(s, SQ_LINK_DELETE);
    int rc = sq_bind_str(q, 1, key, key_len);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt(q, 2, owner_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, wl_now_ms());
    if (rc == SQLITE_OK)
        rc = sq_run(q);
    wl_status ws = sq_check(s, q, rc);
    if (ws != WL_OK)
        return ws;
    return sqlite3_changes(s->db) > 0 ? WL_OK : WL_ENOTFOUND;
}

/* Binds the keyset bounds; picks the statement for a zeroed/NULL cursor. */
static wl_status sq_list_bind(struct sq_store *s, int64_t owner_id, const wl_link_cursor *after,
                              unsigned limit, sqlite3_stmt **out)
{
    int first = !after || (after->created_at == 0 && after->key[0] == '\0');
    sqlite3_stmt *q = sq_stmt(s, first ? SQ_LINK_LIST_FIRST : SQ_LINK_LIST_AFTER);
    int rc = sq_bind_opt(q, 1, owner_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, limit);
    if (!first) {
        size_t klen = strnlen(after->key, sizeof after->key);
        if (klen == sizeof after->key) {
            sq_done(q);
            return WL_EINVAL; /* unterminated cursor key */
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(q, 3, after->created_at);
        if (rc == SQLITE_OK)
            rc = sq_bind_str(q, 4, after->key, klen);
    }
    *out = q;
    return sq_check(s, q, rc);
}

static wl_status sq_link_list(wl_store *st, int64_t owner_id, const wl_link_cursor *after,
                              unsigned limit, wl_link_fn fn, void *ctx)
{
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q;
    wl_status ws = sq_list_bind(s, owner_id, after, limit, &q);
    if (ws != WL_OK)
        return ws;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        wl_link l;
        sq_row_link(q, &l);
        if (fn(ctx, &l))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_check(s, q, rc);
    sq_done(q);
    return WL_OK;
}

/* Runs one of the prepared transaction-control statements. */
static wl_status sq_tx(struct sq_store *s, enum sq_stmt_id id)
{
    sqlite3_stmt *q = sq_stmt(s, id);
    return sq_check(s, q, sq_run(q));
}

/* Abandons the open transaction, if a failed COMMIT did not already end it.
 * Its own outcome is ignored so the caller's first error, the one that says
 * why we roll back, stays the recorded message. */
static void sq_rollback(struct sq_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    sqlite3_stmt *q = sq_stmt(s, SQ_ROLLBACK);
    sqlite3_step(q);
    sq_done(q);
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
    struct sq_store *s = sq_cast(st);
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

/* ---- users ----------------------------------------------------------- */

static wl_status sq_user_insert(wl_store *st, const char *email, size_t email_len,
                                const char *pwhash, int64_t created_at, int64_t *id_out)
{
    struct sq_store *s = sq_cast(st);
    if (!email || !email_len || !pwhash)
        return WL_EINVAL;
    sqlite3_stmt *q = sq_stmt(s, SQ_USER_INSERT);
    int rc = sq_bind_str(q, 1, email, email_len);
    if (rc == SQLITE_OK)
        rc = sq_bind_str(q, 2, pwhash, strlen(pwhash));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, created_at);
    if (rc == SQLITE_OK)
        rc = sq_run(q);
    wl_status ws = sq_check(s, q, rc);
    if (ws == WL_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(s->db);
    return ws;
}

/* Copies the current user row out and ends the statement's use. */
static wl_status sq_user_out(sqlite3_stmt *q, wl_user *out, char *buf, size_t cap)
{
    wl_user u;
    size_t pwhash_len;
    sq_row_user(q, &u, &pwhash_len);
    struct sq_out o = {buf, buf ? cap : 0, 0};
    wl_status ws = sq_out_put(&o, &u.email, u.email_len);
    if (ws == WL_OK)
        ws = sq_out_put(&o, &u.pwhash, pwhash_len);
    sq_done(q);
    if (ws == WL_OK)
        *out = u;
    return ws;
}

static wl_status sq_user_get_by_email(wl_store *st, const char *email, size_t email_len,
                                      wl_user *out, char *buf, size_t cap)
{
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q = sq_stmt(s, SQ_USER_BY_EMAIL);
    wl_status ws = sq_check(s, q, sq_bind_str(q, 1, email, email_len));
    if (ws == WL_OK)
        ws = sq_fetch_one(s, q);
    return ws == WL_OK ? sq_user_out(q, out, buf, cap) : ws;
}

static wl_status sq_user_get_by_id(wl_store *st, int64_t id, wl_user *out, char *buf, size_t cap)
{
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q = sq_stmt(s, SQ_USER_BY_ID);
    wl_status ws = sq_check(s, q, sqlite3_bind_int64(q, 1, id));
    if (ws == WL_OK)
        ws = sq_fetch_one(s, q);
    return ws == WL_OK ? sq_user_out(q, out, buf, cap) : ws;
}

static wl_status sq_user_set_pwhash(wl_store *st, int64_t id, const char *pwhash)
{
    struct sq_store *s = sq_cast(st);
    if (!pwhash)
        return WL_EINVAL;
    sqlite3_stmt *q = sq_stmt(s, SQ_USER_SET_PWHASH);
    int rc = sqlite3_bind_int64(q, 1, id);
    if (rc == SQLITE_OK)
        rc = sq_bind_str(q, 2, pwhash, strlen(pwhash));
    if (rc == SQLITE_OK)
        rc = sq_run(q);
    wl_status ws = sq_check(s, q, rc);
    if (ws != WL_OK)
        return ws;
    return sqlite3_changes(s->db) > 0 ? WL_OK : WL_ENOTFOUND;
}

static wl_status sq_user_list(wl_store *st, wl_user_fn fn, void *ctx)
{
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q = sq_stmt(s, SQ_USER_LIST);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        wl_user u;
        size_t pwhash_len;
        sq_row_user(q, &u, &pwhash_len);
        if (fn(ctx, &u))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_check(s, q, rc);
    sq_done(q);
    return WL_OK;
}

/* ---- api keys -------------------------------------------------------- */

static wl_status sq_apikey_insert(wl_store *st, int64_t user_id, const char *name, size_t name_len,
                                  const char *prefix, size_t prefix_len,
                                  const unsigned char hash[WL_APIKEY_HASH_LEN], int64_t created_at,
                                  int64_t *id_out)
{
    struct sq_store *s = sq_cast(st);
    if (!hash)
        return WL_EINVAL;
    sqlite3_stmt *q = sq_stmt(s, SQ_KEY_INSERT);
    int rc = sqlite3_bind_int64(q, 1, user_id);
    if (rc == SQLITE_OK)
        rc = sq_bind_str(q, 2, name, name_len);
    if (rc == SQLITE_OK)
        rc = sq_bind_str(q, 3, prefix, prefix_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(q, 4, hash, WL_APIKEY_HASH_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 5, created_at);
    if (rc == SQLITE_OK)
        rc = sq_run(q);
    wl_status ws = sq_check(s, q, rc);
    if (ws == WL_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(s->db);
    return ws;
}

static wl_status sq_apikey_get_by_hash(wl_store *st, const unsigned char hash[WL_APIKEY_HASH_LEN],
                                       wl_apikey *out, char *buf, size_t cap)
{
    struct sq_store *s = sq_cast(st);
    if (!hash)
        return WL_EINVAL;
    sqlite3_stmt *q = sq_stmt(s, SQ_KEY_BY_HASH);
    wl_status ws = sq_check(s, q, sqlite3_bind_blob(q, 1, hash, WL_APIKEY_HASH_LEN, SQLITE_STATIC));
    if (ws == WL_OK)
        ws = sq_fetch_one(s, q);
    if (ws != WL_OK)
        return ws;
    wl_apikey k;
    ws = sq_row_apikey(q, &k);
    struct sq_out o = {buf, buf ? cap : 0, 0};
    if (ws == WL_OK)
        ws = sq_out_put(&o, &k.name, k.name_len);
    if (ws == WL_OK)
        ws = sq_out_put(&o, &k.prefix, k.prefix_len);
    sq_done(q);
    if (ws == WL_OK)
        *out = k;
    return ws;
}

static wl_status sq_apikey_list(wl_store *st, int64_t user_id, wl_apikey_fn fn, void *ctx)
{
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q = sq_stmt(s, SQ_KEY_LIST);
    wl_status ws = sq_check(s, q, sqlite3_bind_int64(q, 1, user_id));
    if (ws != WL_OK)
        return ws;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        wl_apikey k;
        ws = sq_row_apikey(q, &k);
        if (ws != WL_OK || fn(ctx, &k))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_check(s, q, rc);
    sq_done(q);
    return ws;
}

/* Runs a bound UPDATE; WL_ENOTFOUND when it matched no row. */
static wl_status sq_update_one(struct sq_store *s, sqlite3_stmt *q, int rc)
{
    if (rc == SQLITE_OK)
        rc = sq_run(q);
    wl_status ws = sq_check(s, q, rc);
    if (ws != WL_OK)
        return ws;
    return sqlite3_changes(s->db) > 0 ? WL_OK : WL_ENOTFOUND;
}

static wl_status sq_apikey_revoke(wl_store *st, int64_t user_id, int64_t id, int64_t now)
{
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q = sq_stmt(s, SQ_KEY_REVOKE);
    int rc = sqlite3_bind_int64(q, 1, user_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, now);
    return sq_update_one(s, q, rc);
}

static wl_status sq_apikey_touch(wl_store *st, int64_t id, int64_t when)
{
    struct sq_store *s = sq_cast(st);
    sqlite3_stmt *q = sq_stmt(s, SQ_KEY_TOUCH);
    int rc = sqlite3_bind_int64(q, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, when);
    return sq_update_one(s, q, rc);
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
    .user_insert = sq_user_insert,
    .user_get_by_email = sq_user_get_by_email,
    .user_get_by_id = sq_user_get_by_id,
    .user_set_pwhash = sq_user_set_pwhash,
    .user_list = sq_user_list,
    .apikey_insert = sq_apikey_insert,
    .apikey_get_by_hash = sq_apikey_get_by_hash,
    .apikey_list = sq_apikey_list,
    .apikey_revoke = sq_apikey_revoke,
    .apikey_touch = sq_apikey_touch,
};
