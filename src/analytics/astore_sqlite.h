/* astore_sqlite.h - the SQLite backend of the analytics store (contract:
 * astore.h). The worker's database is <data_dir>/analytics.db.
 *
 * Schema (version 1; days are INTEGER days since 1970-01-01 UTC):
 *   daily(key, day, clicks, bot_clicks)            PRIMARY KEY (key, day)
 *   dim(key, dim, day, value, clicks)              PRIMARY KEY (key, dim, day, value)
 *       dim in ('ref','country','device','browser','os'); human clicks only
 *   uniq(key, day, hll BLOB)                       PRIMARY KEY (key, day)
 *   visitor_keys(day PRIMARY KEY, key BLOB(32))
 *   consumer(id = 1, position TEXT, updated_ms, as_of_ms, newest_event_ms,
 *            events_total, corrupt_total)
 * The schema version is PRAGMA user_version; migrations are versioned steps.
 * No client address is stored: only sketches of keyed hashes. */
#ifndef WL_ASTORE_SQLITE_H
#define WL_ASTORE_SQLITE_H

#include "analytics/astore.h"

/* The file name of the analytics database inside the data directory. */
#define WL_ASTORE_SQLITE_FILE "analytics.db"

/* Test hook (crash injection): when set, apply() calls fn(ctx) after every
 * statement of the transaction has run and just before COMMIT; a non-zero
 * return rolls the transaction back and apply() returns WL_EIO, exactly as if
 * the process had died there. Process-wide; set it only while no store is in
 * use by another thread. NULL clears it. */
void wl_astore_sqlite_set_commit_hook(int (*fn)(void *ctx), void *ctx);

/* Internal to the backend (astore_migrations.c): the schema steps, step i
 * taking version i to i + 1, and how many there are. */
extern const char *const wl_astore_sqlite_migrations[];
extern const int wl_astore_sqlite_migration_count;

#endif
