/* store.h - the URL, user and API-key database behind one small ops table.
 *
 * A wl_store is ONE connection, owned by ONE thread: every thread that needs
 * the database (each loop thread for redirect misses, each offload worker for
 * writes) opens its own with wl_store_open() and closes it on exit. Nothing in
 * here is thread-safe; the engine provides cross-connection isolation.
 *
 * Backends are `const wl_store_ops` tables chosen by name ("sqlite" now,
 * "postgres" later). Callers use the inline wrappers below, never the table.
 *
 * Strings handed in are (ptr, len) pairs, not NUL-terminated. Strings handed
 * out are copied into a caller buffer (buf, cap) and the out-struct's
 * pointers point into that buffer: they live as long as the caller's buffer
 * and are NUL-terminated for convenience. WL_ETOOBIG when cap is too small.
 *
 * Durability: a write that returns WL_OK is committed and synced (SQLite:
 * WAL + synchronous=FULL), so a 201 built on it survives power loss. */
#ifndef WL_STORE_H
#define WL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum wl_link_flags {
    WL_LINK_CUSTOM = 1u << 0, /* key is a user-chosen alias */
};

typedef struct wl_link {
    const char *key;
    size_t key_len;
    const char *long_url;
    size_t long_url_len;
    int64_t created_at; /* Unix ms */
    int64_t expires_at; /* Unix ms; 0 = never */
    int64_t owner_id;   /* 0 = anonymous */
    uint32_t flags;     /* wl_link_flags */
} wl_link;

typedef struct wl_user {
    int64_t id; /* > 0 */
    const char *email;
    size_t email_len;
    const char *pwhash; /* libsodium crypto_pwhash_str() string */
    int64_t created_at;
} wl_user;

#define WL_APIKEY_HASH_LEN 32

typedef struct wl_apikey {
    int64_t id; /* > 0 */
    int64_t user_id;
    const char *name;
    size_t name_len;
    const char *prefix; /* visible part, e.g. "wl_AbC1" */
    size_t prefix_len;
    unsigned char hash[WL_APIKEY_HASH_LEN];
    int64_t created_at;
    int64_t last_used_at; /* 0 = never */
    int64_t revoked_at;   /* 0 = active */
} wl_apikey;

/* Keyset cursor for newest-first link listing: rows strictly older than
 * (created_at, key). A zeroed cursor starts at the newest. */
typedef struct wl_link_cursor {
    int64_t created_at;
    char key[65];
} wl_link_cursor;

/* Row callbacks: the struct's strings live only during the call. Return
 * non-zero to stop early (the call then returns WL_OK). */
typedef int (*wl_link_fn)(void *ctx, const wl_link *link);
typedef int (*wl_user_fn)(void *ctx, const wl_user *user);
typedef int (*wl_apikey_fn)(void *ctx, const wl_apikey *key);
/* Import source: fills *link and returns 1, returns 0 at the end, or < 0 on
 * error (the import then rolls back). */
typedef int (*wl_link_source_fn)(void *ctx, wl_link *link);

typedef struct wl_store wl_store;

typedef struct wl_store_ops {
    int version; /* 1 */
    const char *name;

    /* dsn: for sqlite, the database file path. Creates the file and runs
     * pending migrations when WL_STORE_MIGRATE is set. */
    wl_status (*open)(const char *dsn, unsigned flags, wl_store **out);
    void (*close)(wl_store *st);
    /* Highest applied schema version. */
    wl_status (*schema_version)(wl_store *st, int *out);

    /* Links. link_get: WL_ENOTFOUND when absent (deleted links are absent). */
    wl_status (*link_get)(wl_store *st, const char *key, size_t key_len, wl_link *out, char *buf,
                          size_t cap);
    /* Conditional insert: WL_EEXISTS when the key is taken (by a live or a
     * deleted link: keys are never reused). */
    wl_status (*link_insert)(wl_store *st, const wl_link *link);
    /* Deletes when owned by owner_id; WL_ENOTFOUND otherwise. */
    wl_status (*link_delete)(wl_store *st, const char *key, size_t key_len, int64_t owner_id);
    wl_status (*link_list)(wl_store *st, int64_t owner_id, const wl_link_cursor *after,
                           unsigned limit, wl_link_fn fn, void *ctx);
    /* Bulk load in one transaction; *inserted counts new rows, existing keys
     * are skipped. */
    wl_status (*link_import)(wl_store *st, wl_link_source_fn src, void *ctx, uint64_t *inserted);

    /* Users. Emails are stored as given (callers normalise). */
    wl_status (*user_insert)(wl_store *st, const char *email, size_t email_len, const char *pwhash,
                             int64_t created_at, int64_t *id_out);
    wl_status (*user_get_by_email)(wl_store *st, const char *email, size_t email_len, wl_user *out,
                                   char *buf, size_t cap);
    wl_status (*user_get_by_id)(wl_store *st, int64_t id, wl_user *out, char *buf, size_t cap);
    wl_status (*user_set_pwhash)(wl_store *st, int64_t id, const char *pwhash);
    wl_status (*user_list)(wl_store *st, wl_user_fn fn, void *ctx);

    /* API keys: only the hash of a key is ever stored. */
    wl_status (*apikey_insert)(wl_store *st, int64_t user_id, const char *name, size_t name_len,
                               const char *prefix, size_t prefix_len,
                               const unsigned char hash[WL_APIKEY_HASH_LEN], int64_t created_at,
                               int64_t *id_out);
    /* Finds an active (not revoked) key by hash; WL_ENOTFOUND otherwise. */
    wl_status (*apikey_get_by_hash)(wl_store *st, const unsigned char hash[WL_APIKEY_HASH_LEN],
                                    wl_apikey *out, char *buf, size_t cap);
    wl_status (*apikey_list)(wl_store *st, int64_t user_id, wl_apikey_fn fn, void *ctx);
    /* Revokes key id of user_id; WL_ENOTFOUND when not theirs or already revoked. */
    wl_status (*apikey_revoke)(wl_store *st, int64_t user_id, int64_t id, int64_t now);
    /* Raises last_used_at to at least `when` (never lowers it). */
    wl_status (*apikey_touch)(wl_store *st, int64_t id, int64_t when);
} wl_store_ops;

/* Every backend's handle starts with this. */
struct wl_store {
    const wl_store_ops *ops;
};

enum wl_store_flags {
    WL_STORE_MIGRATE = 1u << 0,  /* create/upgrade the schema on open */
    WL_STORE_READONLY = 1u << 1, /* a read-only connection (loop threads) */
};

/* Finds a backend by name; NULL when unknown or not built. */
const wl_store_ops *wl_store_backend(const char *name);

/* Opens a connection of the named backend. */
wl_status wl_store_open(const char *backend, const char *dsn, unsigned flags, wl_store **out);

static inline void wl_store_close(wl_store *st)
{
    if (st)
        st->ops->close(st);
}
static inline wl_status wl_store_link_get(wl_store *st, const char *key, size_t key_len,
                                          wl_link *out, char *buf, size_t cap)
{
    return st->ops->link_get(st, key, key_len, out, buf, cap);
}
static inline wl_status wl_store_link_insert(wl_store *st, const wl_link *link)
{
    return st->ops->link_insert(st, link);
}
static inline wl_status wl_store_link_delete(wl_store *st, const char *key, size_t key_len,
                                             int64_t owner_id)
{
    return st->ops->link_delete(st, key, key_len, owner_id);
}
static inline wl_status wl_store_link_list(wl_store *st, int64_t owner_id,
                                           const wl_link_cursor *after, unsigned limit,
                                           wl_link_fn fn, void *ctx)
{
    return st->ops->link_list(st, owner_id, after, limit, fn, ctx);
}
static inline wl_status wl_store_link_import(wl_store *st, wl_link_source_fn src, void *ctx,
                                             uint64_t *inserted)
{
    return st->ops->link_import(st, src, ctx, inserted);
}
static inline wl_status wl_store_user_insert(wl_store *st, const char *email, size_t email_len,
                                             const char *pwhash, int64_t created_at,
                                             int64_t *id_out)
{
    return st->ops->user_insert(st, email, email_len, pwhash, created_at, id_out);
}
static inline wl_status wl_store_user_get_by_email(wl_store *st, const char *email,
                                                   size_t email_len, wl_user *out, char *buf,
                                                   size_t cap)
{
    return st->ops->user_get_by_email(st, email, email_len, out, buf, cap);
}
static inline wl_status wl_store_user_get_by_id(wl_store *st, int64_t id, wl_user *out, char *buf,
                                                size_t cap)
{
    return st->ops->user_get_by_id(st, id, out, buf, cap);
}
static inline wl_status wl_store_user_set_pwhash(wl_store *st, int64_t id, const char *pwhash)
{
    return st->ops->user_set_pwhash(st, id, pwhash);
}
static inline wl_status wl_store_user_list(wl_store *st, wl_user_fn fn, void *ctx)
{
    return st->ops->user_list(st, fn, ctx);
}
static inline wl_status wl_store_apikey_insert(wl_store *st, int64_t user_id, const char *name,
                                               size_t name_len, const char *prefix,
                                               size_t prefix_len,
                                               const unsigned char hash[WL_APIKEY_HASH_LEN],
                                               int64_t created_at, int64_t *id_out)
{
    return st->ops->apikey_insert(st, user_id, name, name_len, prefix, prefix_len, hash, created_at,
                                  id_out);
}
static inline wl_status wl_store_apikey_get_by_hash(wl_store *st,
                                                    const unsigned char hash[WL_APIKEY_HASH_LEN],
                                                    wl_apikey *out, char *buf, size_t cap)
{
    return st->ops->apikey_get_by_hash(st, hash, out, buf, cap);
}
static inline wl_status wl_store_apikey_list(wl_store *st, int64_t user_id, wl_apikey_fn fn,
                                             void *ctx)
{
    return st->ops->apikey_list(st, user_id, fn, ctx);
}
static inline wl_status wl_store_apikey_revoke(wl_store *st, int64_t user_id, int64_t id,
                                               int64_t now)
{
    return st->ops->apikey_revoke(st, user_id, id, now);
}
static inline wl_status wl_store_apikey_touch(wl_store *st, int64_t id, int64_t when)
{
    return st->ops->apikey_touch(st, id, when);
}

#endif
