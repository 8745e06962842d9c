/* astore_sqlite.h - the SQLite backend of the analytics store (contract:
 * astore.h). The worker's database is <data_dir>/analytics.db.
 *
 * Schema (version 5; days are INTEGER days since 1970-01-01 UTC):
 *   daily(key, day, clicks, bot_clicks,            PRIMARY KEY (key, day); one
 *         hll BLOB, dims BLOB)                     row holds all of a link's day:
 *                                                  counters, the visitors' sketch
 *       (hll.h) and the breakdown values (dimset.h: (dim, value, clicks)
 *       entries; human clicks only; no "unknown" referrer/country entries -
 *       derived when read, older ones added to it). NULL blobs: no visitors
 *       (bots only) / no values.
 *   visitor_keys(day PRIMARY KEY, key BLOB(32),    alg: the hash the key is
 *                alg)                              used with (visitor.h, version 4)
 *   consumer(id = 1, position TEXT, updated_ms, as_of_ms, newest_event_ms,
 *            events_total, corrupt_total)
 * History: version 2 added device/browser/os columns to daily; version 3
 * folded the tables uniq(key, day, hll) and dim(key, dim, day, value,
 * clicks) into the daily row; version 5 folded the columns into dims
 * (astore_migrations.c).
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

/* The daily columns of wl_agg_ua_values[] (aggregate.h) in schema versions
 * 2-4, in its order: X(name) for each, joined by sep. Only the migrations
 * that add (2) and fold (5) them use it. */
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
