/* sqlite_accounts.c - users and API keys for the SQLite store backend
 * (contract: store.h, sqlite.h; shared machinery: sqlite_internal.h).
 *
 * The connection, the prepared statements and the error mapping live in
 * sqlite.c; this file only binds, runs and decodes the account statements,
 * following the same rules (see the notes at the top of sqlite.c). Optional
 * values (last_used_at, revoked_at) are NULL in the database and 0 in the C
 * structs. */
#include <string.h>

#include "store/sqlite_internal.h"

/* Columns read by the row decoders below, which decode them by position. */
#define SQ_USER_COLS "id, email, pwhash, created_at"
#define SQ_KEY_COLS "id, user_id, name, prefix, hash, created_at, last_used_at, revoked_at"

const char *const wl_sqlite_accounts_sql[SQ_STMT_COUNT_] = {
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

/* ---- row decoders: strings point into SQLite's row memory ------------ */

/* wl_user has no pwhash length, so it comes back separately. */
static void sq_row_user(sqlite3_stmt *st, wl_user *u, size_t *pwhash_len)
{
    u->id = sqlite3_column_int64(st, 0);
    wl_sqlite_col_text(st, 1, &u->email, &u->email_len);
    wl_sqlite_col_text(st, 2, &u->pwhash, pwhash_len);
    u->created_at = sqlite3_column_int64(st, 3);
}

static wl_status sq_row_apikey(sqlite3_stmt *st, wl_apikey *k)
{
    k->id = sqlite3_column_int64(st, 0);
    k->user_id = sqlite3_column_int64(st, 1);
    wl_sqlite_col_text(st, 2, &k->name, &k->name_len);
    wl_sqlite_col_text(st, 3, &k->prefix, &k->prefix_len);
    const void *hash = sqlite3_column_blob(st, 4);
    if (sqlite3_column_bytes(st, 4) != WL_APIKEY_HASH_LEN)
        return WL_ECORRUPT;
    memcpy(k->hash, hash, WL_APIKEY_HASH_LEN);
    k->created_at = sqlite3_column_int64(st, 5);
    k->last_used_at = sqlite3_column_int64(st, 6);
    k->revoked_at = sqlite3_column_int64(st, 7);
    return WL_OK;
}

/* Runs a bound INSERT and reports the new row's id (id_out may be NULL). */
static wl_status sq_insert(struct sq_store *s, sqlite3_stmt *q, int rc, int64_t *id_out)
{
    wl_status ws = wl_sqlite_write(s, q, rc, NULL);
    if (ws == WL_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(s->db);
    return ws;
}

/* ---- users ----------------------------------------------------------- */

wl_status wl_sqlite_user_insert(wl_store *st, const char *email, size_t email_len,
                                const char *pwhash, int64_t created_at, int64_t *id_out)
{
    struct sq_store *s = wl_sqlite_cast(st);
    if (!email || !email_len || !pwhash)
        return WL_EINVAL;
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_USER_INSERT);
    int rc = wl_sqlite_bind_str(q, 1, email, email_len);
    if (rc == SQLITE_OK)
        rc = wl_sqlite_bind_str(q, 2, pwhash, strlen(pwhash));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, created_at);
    return sq_insert(s, q, rc, id_out);
}

/* Fetches the user row q is bound to and copies it out. */
static wl_status sq_user_get(struct sq_store *s, sqlite3_stmt *q, int rc, wl_user *out, char *buf,
                             size_t cap)
{
    wl_status ws = wl_sqlite_fetch_one(s, q, rc);
    if (ws != WL_OK)
        return ws;
    wl_user u;
    size_t pwhash_len;
    sq_row_user(q, &u, &pwhash_len);
    ws = wl_sqlite_out_pair(q, buf, cap, &u.email, u.email_len, &u.pwhash, pwhash_len);
    if (ws == WL_OK)
        *out = u;
    return ws;
}

wl_status wl_sqlite_user_get_by_email(wl_store *st, const char *email, size_t email_len,
                                      wl_user *out, char *buf, size_t cap)
{
    struct sq_store *s = wl_sqlite_cast(st);
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_USER_BY_EMAIL);
    return sq_user_get(s, q, wl_sqlite_bind_str(q, 1, email, email_len), out, buf, cap);
}

wl_status wl_sqlite_user_get_by_id(wl_store *st, int64_t id, wl_user *out, char *buf, size_t cap)
{
    struct sq_store *s = wl_sqlite_cast(st);
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_USER_BY_ID);
    return sq_user_get(s, q, sqlite3_bind_int64(q, 1, id), out, buf, cap);
}

wl_status wl_sqlite_user_set_pwhash(wl_store *st, int64_t id, const char *pwhash)
{
    struct sq_store *s = wl_sqlite_cast(st);
    if (!pwhash)
        return WL_EINVAL;
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_USER_SET_PWHASH);
    int rc = sqlite3_bind_int64(q, 1, id);
    if (rc == SQLITE_OK)
        rc = wl_sqlite_bind_str(q, 2, pwhash, strlen(pwhash));
    return wl_sqlite_update_one(s, q, rc);
}

static int sq_user_row(void *ctx, sqlite3_stmt *q, wl_status *ws)
{
    (void)ws;
    struct wl_sqlite_visit *v = ctx;
    wl_user u;
    size_t pwhash_len;
    sq_row_user(q, &u, &pwhash_len);
    return v->fn.user(v->ctx, &u);
}

wl_status wl_sqlite_user_list(wl_store *st, wl_user_fn fn, void *ctx)
{
    struct sq_store *s = wl_sqlite_cast(st);
    struct wl_sqlite_visit v = {.fn.user = fn, .ctx = ctx};
    return wl_sqlite_each(s, wl_sqlite_stmt(s, SQ_USER_LIST), SQLITE_OK, sq_user_row, &v);
}

/* ---- api keys -------------------------------------------------------- */

wl_status wl_sqlite_apikey_insert(wl_store *st, int64_t user_id, const char *name, size_t name_len,
                                  const char *prefix, size_t prefix_len,
                                  const unsigned char hash[WL_APIKEY_HASH_LEN], int64_t created_at,
                                  int64_t *id_out)
{
    struct sq_store *s = wl_sqlite_cast(st);
    if (!hash)
        return WL_EINVAL;
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_KEY_INSERT);
    int rc = sqlite3_bind_int64(q, 1, user_id);
    if (rc == SQLITE_OK)
        rc = wl_sqlite_bind_str(q, 2, name, name_len);
    if (rc == SQLITE_OK)
        rc = wl_sqlite_bind_str(q, 3, prefix, prefix_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(q, 4, hash, WL_APIKEY_HASH_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 5, created_at);
    return sq_insert(s, q, rc, id_out);
}

wl_status wl_sqlite_apikey_get_by_hash(wl_store *st, const unsigned char hash[WL_APIKEY_HASH_LEN],
                                       wl_apikey *out, char *buf, size_t cap)
{
    struct sq_store *s = wl_sqlite_cast(st);
    if (!hash)
        return WL_EINVAL;
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_KEY_BY_HASH);
    int rc = sqlite3_bind_blob(q, 1, hash, WL_APIKEY_HASH_LEN, SQLITE_STATIC);
    wl_status ws = wl_sqlite_fetch_one(s, q, rc);
    if (ws != WL_OK)
        return ws;
    wl_apikey k;
    ws = sq_row_apikey(q, &k);
    if (ws != WL_OK) {
        wl_sqlite_done(q);
        return ws;
    }
    ws = wl_sqlite_out_pair(q, buf, cap, &k.name, k.name_len, &k.prefix, k.prefix_len);
    if (ws == WL_OK)
        *out = k;
    return ws;
}

/* A row that does not decode stops the walk with its status. */
static int sq_apikey_row(void *ctx, sqlite3_stmt *q, wl_status *ws)
{
    struct wl_sqlite_visit *v = ctx;
    wl_apikey k;
    *ws = sq_row_apikey(q, &k);
    return *ws != WL_OK || v->fn.apikey(v->ctx, &k);
}

wl_status wl_sqlite_apikey_list(wl_store *st, int64_t user_id, wl_apikey_fn fn, void *ctx)
{
    struct sq_store *s = wl_sqlite_cast(st);
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_KEY_LIST);
    struct wl_sqlite_visit v = {.fn.apikey = fn, .ctx = ctx};
    return wl_sqlite_each(s, q, sqlite3_bind_int64(q, 1, user_id), sq_apikey_row, &v);
}

wl_status wl_sqlite_apikey_revoke(wl_store *st, int64_t user_id, int64_t id, int64_t now)
{
    struct sq_store *s = wl_sqlite_cast(st);
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_KEY_REVOKE);
    int rc = sqlite3_bind_int64(q, 1, user_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, now);
    return wl_sqlite_update_one(s, q, rc);
}

wl_status wl_sqlite_apikey_touch(wl_store *st, int64_t id, int64_t when)
{
    struct sq_store *s = wl_sqlite_cast(st);
    sqlite3_stmt *q = wl_sqlite_stmt(s, SQ_KEY_TOUCH);
    int rc = sqlite3_bind_int64(q, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, when);
    return wl_sqlite_update_one(s, q, rc);
}
