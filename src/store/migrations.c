/* migrations.c - versioned schema steps for the sqlite store backend.
 *
 * To change the schema, APPEND a step to `steps` (never edit a shipped one:
 * databases in the field already ran it). A step is plain SQL run inside the
 * transaction that also records its version, so it is all-or-nothing:
 * SQLite DDL is transactional.
 *
 * Concurrency: the server's writer threads and the admin CLI may open the
 * same file with WL_STORE_MIGRATE at the same moment. Each step therefore
 * starts with BEGIN IMMEDIATE (take the write lock, waiting via busy_timeout)
 * and only then re-reads the version, so a step another connection applied
 * while we waited is seen and skipped rather than applied twice. */
#include "store/migrations.h"

#include <stdio.h>

#include "core/clock.h"

struct migration {
    const char *what; /* for error messages */
    const char *sql;
};

/* Tables are STRICT so a wrongly typed bind is an error rather than a value
 * silently stored with another type. links is WITHOUT ROWID: the key is the
 * only way rows are looked up, so clustering on it saves the second b-tree
 * probe (and the extra index write) a rowid table would need per redirect. */
static const struct migration steps[] = {
    {
        "1 (users, links, api_keys)",
        "CREATE TABLE users ("
        "  id INTEGER PRIMARY KEY,"
        "  email TEXT NOT NULL UNIQUE,"
        "  pwhash TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE TABLE links ("
        "  key TEXT PRIMARY KEY,"
        "  long_url TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  expires_at INTEGER,"
        "  owner_id INTEGER REFERENCES users(id),"
        "  flags INTEGER NOT NULL DEFAULT 0,"
        "  deleted_at INTEGER"
        ") STRICT, WITHOUT ROWID;"
        "CREATE INDEX links_by_owner ON links(owner_id, created_at DESC, key DESC);"
        "CREATE TABLE api_keys ("
        "  id INTEGER PRIMARY KEY,"
        "  user_id INTEGER NOT NULL REFERENCES users(id),"
        "  name TEXT NOT NULL,"
        "  prefix TEXT NOT NULL,"
        "  hash BLOB NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL,"
        "  last_used_at INTEGER,"
        "  revoked_at INTEGER"
        ") STRICT;"
        "CREATE INDEX api_keys_by_user ON api_keys(user_id);",
    },
};

#define STEP_COUNT ((int)(sizeof steps / sizeof steps[0]))

int wl_sqlite_schema_latest(void)
{
    return STEP_COUNT;
}

/* Runs a one-row, one-integer query; *out is 0 when it yields no row. */
static int query_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    *out = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int wl_sqlite_schema_current(sqlite3 *db, int *version)
{
    /* A brand-new file has no schema_migrations yet: that is version 0, not
     * an error, so look the table up before querying it. */
    int exists;
    int rc = query_int(db,
                       "SELECT count(*) FROM sqlite_master"
                       " WHERE type = 'table' AND name = 'schema_migrations'",
                       &exists);
    if (rc != SQLITE_OK)
        return rc;
    if (!exists) {
        *version = 0;
        return SQLITE_OK;
    }
    return query_int(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", version);
}

static int record_step(sqlite3 *db, int version)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db, "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int(st, 1, version);
    sqlite3_bind_int64(st, 2, wl_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Body of one step's transaction (the caller holds the write lock). Sets
 * *done when the schema is already current. */
static int apply_next(sqlite3 *db, int *done, const char **what)
{
    int version;
    int rc = sqlite3_exec(db,
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "  version INTEGER PRIMARY KEY,"
                          "  applied_at INTEGER NOT NULL) STRICT",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = wl_sqlite_schema_current(db, &version);
    if (rc != SQLITE_OK)
        return rc;
    if (version >= STEP_COUNT) {
        *done = 1;
        return SQLITE_OK;
    }
    *what = steps[version].what;
    rc = sqlite3_exec(db, steps[version].sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = record_step(db, version + 1);
    return rc;
}

static void set_error(sqlite3 *db, const char *what, char *err, size_t cap)
{
    if (cap)
        snprintf(err, cap, "schema migration %s: %s (sqlite code %d)", what, sqlite3_errmsg(db),
                 sqlite3_extended_errcode(db));
}

int wl_sqlite_migrate(sqlite3 *db, char *err, size_t cap)
{
    int version;
    int rc = wl_sqlite_schema_current(db, &version);
    if (rc != SQLITE_OK) {
        set_error(db, "version check", err, cap);
        return rc;
    }
    /* Common case: nothing to do, so don't take the write lock at all. */
    while (version < STEP_COUNT) {
        int done = 0;
        const char *what = "start";
        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = apply_next(db, &done, &what);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            set_error(db, what, err, cap); /* before ROLLBACK replaces the message */
            if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if (done)
            break;
        version++;
    }
    return SQLITE_OK;
}
