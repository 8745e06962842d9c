/* astore_migrations.c - the schema of the SQLite analytics store
 * (astore_sqlite.h lists the tables) and the code that migrates a file to it.
 *
 * Versioned migrations: step i brings the schema from version i to i + 1.
 * Never edit a released step; append a new one. The schema version lives in
 * the file header (PRAGMA user_version), so it is read without a table
 * lookup and written in the step's transaction. */
#include <sqlite3.h>
#include <stdio.h>

#include "analytics/astore_sqlite.h"

#define UA_COLUMN(name) "ALTER TABLE daily ADD COLUMN " name " INTEGER NOT NULL DEFAULT 0;"
#define NAME(name) name

const char *const wl_astore_sqlite_migrations[] = {
    "CREATE TABLE daily (key TEXT NOT NULL, day INTEGER NOT NULL,"
    "  clicks INTEGER NOT NULL DEFAULT 0, bot_clicks INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (key, day)) WITHOUT ROWID, STRICT;"
    "CREATE TABLE dim (key TEXT NOT NULL,"
    "  dim TEXT NOT NULL CHECK (dim IN ('ref', 'country', 'device', 'browser', 'os')),"
    "  day INTEGER NOT NULL, value TEXT NOT NULL, clicks INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (key, dim, day, value)) WITHOUT ROWID, STRICT;"
    "CREATE TABLE uniq (key TEXT NOT NULL, day INTEGER NOT NULL, hll BLOB NOT NULL,"
    "  PRIMARY KEY (key, day)) WITHOUT ROWID, STRICT;"
    "CREATE TABLE visitor_keys (day INTEGER PRIMARY KEY,"
    "  key BLOB NOT NULL CHECK (length(key) = 32)) STRICT;"
    "CREATE TABLE consumer (id INTEGER PRIMARY KEY CHECK (id = 1), position TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL, as_of_ms INTEGER NOT NULL DEFAULT 0,"
    "  newest_event_ms INTEGER NOT NULL DEFAULT 0, events_total INTEGER NOT NULL DEFAULT 0,"
    "  corrupt_total INTEGER NOT NULL DEFAULT 0) STRICT;",
    /* 2: human clicks per device, browser and os value of ua.h in the daily
     * row (aggregate.h, wl_agg_ua_values); older dim rows stay and count */
    WL_ASTORE_UA_COLUMNS(UA_COLUMN, ""),
    /* 3: one row per (link, day) holds everything (astore_sqlite.h): the
     * visitor sketch moves from uniq, the breakdown values from dim (packed
     * by wl_dimset_pack, dimset.h). A sketch or value without a daily row
     * cannot be written, but gets one here rather than being dropped. */
    "ALTER TABLE daily ADD COLUMN hll BLOB;"
    "ALTER TABLE daily ADD COLUMN dims BLOB;"
    "INSERT INTO daily(key, day) SELECT key, day FROM uniq WHERE true"
    "  ON CONFLICT DO NOTHING;"
    "INSERT INTO daily(key, day) SELECT DISTINCT key, day FROM dim WHERE true"
    "  ON CONFLICT DO NOTHING;"
    "UPDATE daily SET hll = u.hll FROM uniq AS u WHERE u.key = daily.key AND u.day = daily.day;"
    "UPDATE daily SET dims = p.packed FROM (SELECT key, day,"
    "  wl_dimset_pack(dim, value, clicks) AS packed FROM dim GROUP BY key, day) AS p"
    "  WHERE p.key = daily.key AND p.day = daily.day;"
    "DROP TABLE uniq;"
    "DROP TABLE dim;",
    /* 4: which hash a day's key is used with (visitor.h); keys made before
     * were used with BLAKE2b (1) and keep it until they are destroyed */
    "ALTER TABLE visitor_keys ADD COLUMN alg INTEGER NOT NULL DEFAULT 1;",
    /* 5: the device/browser/os columns of step 2 become dims entries
     * (wl_dimset_ua packs them) and go: a byte per column of every row,
     * a fifth of a typical row, written again by every commit that touches
     * the row. One copy of the table rather than 19 DROP COLUMNs, which
     * would rewrite it 19 times. */
    "CREATE TABLE daily_v5 (key TEXT NOT NULL, day INTEGER NOT NULL,"
    "  clicks INTEGER NOT NULL DEFAULT 0, bot_clicks INTEGER NOT NULL DEFAULT 0,"
    "  hll BLOB, dims BLOB, PRIMARY KEY (key, day)) WITHOUT ROWID, STRICT;"
    "INSERT INTO daily_v5 SELECT key, day, clicks, bot_clicks, hll,"
    "  wl_dimset_merge(dims, wl_dimset_ua(" WL_ASTORE_UA_COLUMNS(
        NAME, ", ") ")) FROM daily;"
                    "DROP TABLE daily;"
                    "ALTER TABLE daily_v5 RENAME TO daily;",
};

const int wl_astore_sqlite_migration_count =
    (int)(sizeof(wl_astore_sqlite_migrations) / sizeof(wl_astore_sqlite_migrations[0]));

int wl_astore_sqlite_schema_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Applies every pending step, each in its own write transaction that
 * re-reads the version under the lock (another process may have migrated
 * in between). */
int wl_astore_sqlite_migrate(sqlite3 *db, char *err, size_t cap)
{
    for (;;) {
        int v = 0, rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = wl_astore_sqlite_schema_version(db, &v);
        if (rc == SQLITE_OK && v < wl_astore_sqlite_migration_count) {
            char bump[64];
            snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
            rc = sqlite3_exec(db, wl_astore_sqlite_migrations[v], NULL, NULL, NULL);
            if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, bump, NULL, NULL, NULL);
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, cap, "migrating to version %d: %s (sqlite code %d)", v + 1,
                     sqlite3_errmsg(db), rc);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if (v >= wl_astore_sqlite_migration_count - 1)
            return SQLITE_OK;
    }
}
