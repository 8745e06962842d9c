/* migrations.h - the SQLite schema as an ordered list of versioned steps.
 *
 * Internal to the sqlite store backend (src/store/sqlite.c); nothing else
 * should touch the schema. Step N (1-based) takes the schema from version
 * N-1 to N and is recorded as a row of schema_migrations(version, applied_at).
 *
 * All functions take a connection owned by the calling thread and return a
 * SQLite result code (SQLITE_OK on success). */
#ifndef WL_STORE_MIGRATIONS_H
#define WL_STORE_MIGRATIONS_H

#include <stddef.h>

#include <sqlite3.h>

/* The schema version this build knows: the number of migration steps. */
int wl_sqlite_schema_latest(void);

/* Reads the highest applied version into *version (0 for an empty database).
 * Only reads, so it works on a read-only connection. */
int wl_sqlite_schema_current(sqlite3 *db, int *version);

/* Applies every pending step, each in its own BEGIN IMMEDIATE transaction,
 * re-reading the version under the write lock so that two processes
 * migrating the same file at once apply each step exactly once. A database
 * that is already current is only read. On failure the failing step is
 * rolled back and a message naming it is copied into err (cap bytes,
 * NUL-terminated; err may be NULL when cap is 0). */
int wl_sqlite_migrate(sqlite3 *db, char *err, size_t cap);

#endif
