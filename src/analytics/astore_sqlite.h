/* astore_sqlite.h - the SQLite backend of the analytics store (contract:
 * astore.h). The worker's database is <data_dir>/analytics.db.
 *
 * Schema (version 2; days are INTEGER days since 1970-01-01 UTC):
 *   daily(key, day, clicks, bot_clicks,            PRIMARY KEY (key, day)
 *         dev_desktop, ..., os_unknown)            human clicks per device, browser
 *                                                  and os value of ua.h (version 2)
 *   dim(key, dim, day, value, clicks)              PRIMARY KEY (key, dim, day, value)
 *       dim in ('ref','country','device','browser','os'); human clicks only;
 *       device/browser/os rows only for values without a daily column (and
 *       those written before version 2): a breakdown sums both; no new
 *       'unknown' ref/country rows (WL_AGG_UNKNOWN: derived when read, older
 *       rows added to it)
 *   uniq(key, day, hll BLOB)                       PRIMARY KEY (key, day)
 *   visitor_keys(day PRIMARY KEY, key BLOB(32))
 *   consumer(id = 1, position TEXT, updated_ms, as_of_ms, newest_event_ms,
 *            events_total, corrupt_total)
 * The schema version is PRAGMA user_version; migrations are versioned steps.
 * No client address is stored: only sketches of keyed hashes. */
#ifndef WL_ASTORE_SQLITE_H
#define WL_ASTORE_SQLITE_H

#include <stddef.h>

#include "analytics/astore.h"

/* The file name of the analytics database inside the data directory. */
#define WL_ASTORE_SQLITE_FILE "analytics.db"

/* Test hook (crash injection): when set, apply() calls fn(ctx) after every
 * statement of the transaction has run and just before COMMIT; a non-zero
 * return rolls the transaction back and apply() returns WL_EIO, exactly as if
 * the process had died there. Process-wide; set it only while no store is in
 * use by another thread. NULL clears it. */
void wl_astore_sqlite_set_commit_hook(int (*fn)(void *ctx), void *ctx);

/* ---- internal to the backend (astore_sqlite.c, astore_migrations.c) ---- */

/* The daily columns of wl_agg_ua_values[] (aggregate.h), in its order:
 * X(name) for each, joined by sep. */
#define WL_ASTORE_UA_COLUMNS(X, sep)                                                               \
    X("dev_desktop")                                                                               \
    sep X("dev_mobile") sep X("dev_tablet") sep X("dev_unknown") sep X("br_chrome")                \
        sep X("br_firefox") sep X("br_safari") sep X("br_edge") sep X("br_opera")                  \
            sep X("br_samsung") sep X("br_other") sep X("br_unknown") sep X("os_windows")          \
                sep X("os_macos") sep X("os_ios") sep X("os_android") sep X("os_linux")            \
                    sep X("os_chromeos") sep X("os_unknown")

/* The schema steps, step i taking version i to i + 1, and how many. */
extern const char *const wl_astore_sqlite_migrations[];
extern const int wl_astore_sqlite_migration_count;
struct sqlite3;
/* PRAGMA user_version of db; an SQLite result code. */
int wl_astore_sqlite_schema_version(struct sqlite3 *db, int *out);
/* Applies every pending step, each in its own transaction; an SQLite
 * result code, and on error a sentence in err[0..cap). */
int wl_astore_sqlite_migrate(struct sqlite3 *db, char *err, size_t cap);

#endif
