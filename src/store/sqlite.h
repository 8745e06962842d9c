/* sqlite.h - the SQLite backend of the store (the default).
 *
 * Callers normally reach it by name through wl_store_open("sqlite", path,
 * flags, &st); the table is exported for the backend registry (store.c).
 * The dsn is a plain file path (no URI syntax). Open flags:
 *   WL_STORE_MIGRATE   create the file if missing and apply pending schema
 *                      migrations (writable connections only);
 *   WL_STORE_READONLY  SQLITE_OPEN_READONLY, for redirect lookups on loop
 *                      threads; the file must exist and be fully migrated.
 * Without WL_STORE_MIGRATE the file must exist and its schema must be exactly
 * the version this build knows: open fails with WL_EUNSUPPORTED otherwise
 * (an older schema needs a migrating open, a newer one a newer build).
 *
 * Status mapping, for every op: a taken key/email/hash is WL_EEXISTS; a
 * reference to a user that does not exist (link owner, api key user) is
 * WL_EINVAL; the busy timeout expiring is WL_EBUSY; SQLITE_CORRUPT/NOTADB is
 * WL_ECORRUPT; anything else the engine reports is WL_EIO. Keys must be 1..64
 * bytes (so that they fit a wl_link_cursor), else WL_EINVAL.
 *
 * Semantics the generic header leaves open:
 *   - owner_id 0 (anonymous) is stored as NULL; link_list and link_delete
 *     with owner_id 0 address the anonymous links;
 *   - link_list accepts after == NULL as "from the newest";
 *   - link_get returns expired links (the caller decides what expiry means);
 *   - link_import fails with WL_EINVAL, importing nothing, when the source
 *     returns < 0 or yields an invalid link;
 *   - apikey_list reports revoked keys too (revoked_at != 0), oldest first;
 *   - user_list is in id order;
 *   - apikey_touch is WL_ENOTFOUND for an unknown id.
 * Row callbacks must not call back into the same handle: its statement is
 * still running. */
#ifndef WL_STORE_SQLITE_H
#define WL_STORE_SQLITE_H

#include "store/store.h"

extern const wl_store_ops wl_store_sqlite_ops;

/* The engine's message for the most recent call on st that failed with an
 * engine error, e.g. "UNIQUE constraint failed: users.email"; "" if none.
 * With st == NULL: why the calling thread's most recent failed open failed
 * (the handle no longer exists then). The string lives until the next call on
 * st (or the next open on this thread); st must be a sqlite handle. */
const char *wl_store_sqlite_errmsg(const wl_store *st);

#endif
