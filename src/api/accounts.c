/* accounts.c - POST /auth/register, POST /auth/login and the API-key
 * endpoints (FR5, FR6).
 *
 * Login answers unknown emails and wrong passwords identically (same
 * status, body and, through a dummy Argon2id verify, similar timing). Only
 * failed logins drain the per-IP bucket. Argon2id work is bounded by the
 * password module's semaphore; a caller that cannot get a slot gets 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/client.h"
#include "core/apikey.h"
#include "core/email.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/password.h"
#include "core/ratelimit.h"
#include "http/response.h"

#define EMAIL_MAX 254
#define NAME_MAX_LEN 100

typedef struct credentials {
    char email[EMAIL_MAX + 1];
    size_t email_len;
    const char *password;
    size_t password_len;
} credentials;

static void reply_busy(wl_exchange *ex)
{
    wl_reply_problem(ex, 503, "overloaded", "too many logins at once; retry in a moment");
}

/* Reads {"email","password"}; replies 400 and returns false when unusable.
 * For a login (for_login), an email that cannot be normalized is not a 400:
 * no account can have it, so it is a wrong email and must be answered like
 * any other (API.md: 401 invalid-credentials, identical for both). It is
 * passed on with email_len 0. */
static bool read_credentials(wl_exchange *ex, json_t *obj, credentials *c, bool for_login)
{
    const char *email;
    size_t elen;
    if (wl_body_string(obj, "email", &email, &elen) <= 0 ||
        wl_body_string(obj, "password", &c->password, &c->password_len) <= 0) {
        wl_reply_problem(ex, 400, "invalid-body", "email and password are required strings");
        return false;
    }
    if (wl_email_normalize(email, elen, c->email, sizeof(c->email), &c->email_len) != WL_OK) {
        c->email_len = 0;
        if (for_login)
            return true;
        wl_reply_problem(ex, 400, "invalid-email", "this is not a usable email address");
        return false;
    }
    return true;
}

void wl_api_register(wl_tctx *t, wl_exchange *ex)
{
    json_t *obj = wl_body_object(ex);
    if (!obj)
        return;
    credentials c;
    if (!read_credentials(ex, obj, &c, false)) {
        json_decref(obj);
        return;
    }
    char hash[crypto_pwhash_STRBYTES];
    int64_t id = 0;
    wl_status st = WL_OK;
    if (!wl_password_acceptable(c.password, c.password_len)) {
        wl_reply_problem(ex, 400, "weak-password", "passwords are 8 to 1024 characters long");
    } else if ((st = wl_password_hash(c.password, c.password_len, hash)) == WL_EBUSY) {
        reply_busy(ex);
    } else if (st != WL_OK || (st = wl_store_user_insert(t->store, c.email, c.email_len, hash,
                                                         t->now_ms, &id)) == WL_EIO) {
        wl_reply_problem(ex, 503, "unavailable", "the account could not be stored");
    } else if (st == WL_EEXISTS) {
        wl_reply_problem(ex, 409, "email-taken", "an account with this email exists already");
    } else {
        wl_buf body = WL_BUF_INIT;
        wl_buf_addf(&body, "{\"user_id\":\"%lld\",\"email\":", (long long)id);
        wl_json_escape(&body, c.email, c.email_len);
        wl_buf_adds(&body, "}");
        wl_reply_json(ex, 201, body.data, body.len, NULL);
        wl_buf_release(&body);
    }
    sodium_memzero(hash, sizeof(hash));
    json_decref(obj);
}

/* Checks the password of an existing user; rehashes when parameters rose. */
static wl_status check_password(wl_tctx *t, const credentials *c, int64_t *user_id)
{
    char buf[1024];
    wl_user u;
    wl_status st = c->email_len ? wl_store_user_get_by_email(t->store, c->email, c->email_len, &u,
                                                             buf, sizeof(buf))
                                : WL_ENOTFOUND; /* unusable email: same path as an unknown one */
    if (st == WL_ENOTFOUND) {
        st = wl_password_dummy_verify(c->password, c->password_len);
        return st == WL_EBUSY ? st : WL_EDENIED;
    }
    if (st != WL_OK)
        return st;
    st = wl_password_verify(u.pwhash, c->password, c->password_len);
    if (st != WL_OK)
        return st;
    if (wl_password_needs_rehash(u.pwhash)) {
        char fresh[crypto_pwhash_STRBYTES];
        if (wl_password_hash(c->password, c->password_len, fresh) == WL_OK)
            (void)wl_store_user_set_pwhash(t->store, u.id, fresh);
    }
    *user_id = u.id;
    return WL_OK;
}

static void reply_token(wl_tctx *t, wl_exchange *ex, int64_t user_id)
{
    const char *iss, *aud;
    unsigned ttl;
    const wl_jwt_keyring *kr = wl_auth_keyring(t->app->auth, &iss, &aud, &ttl);
    wl_jwt_claims claims = {.iat = t->now_ms / 1000};
    claims.exp = claims.iat + ttl;
    snprintf(claims.sub, sizeof(claims.sub), "%lld", (long long)user_id);
    snprintf(claims.iss, sizeof(claims.iss), "%s", iss);
    snprintf(claims.aud, sizeof(claims.aud), "%s", aud);
    char token[WL_JWT_MAX_TOKEN];
    size_t len;
    if (wl_jwt_sign(kr, &claims, token, sizeof(token), &len) != WL_OK) {
        wl_reply_problem(ex, 500, "internal", "the access token could not be signed");
        return;
    }
    wl_buf body = WL_BUF_INIT;
    wl_buf_adds(&body, "{\"access_token\":\"");
    wl_buf_add(&body, token, len);
    wl_buf_addf(&body, "\",\"token_type\":\"Bearer\",\"expires_in\":%u}", ttl);
    wl_reply_json(ex, 200, body.data, body.len, NULL);
    wl_buf_release(&body);
}

void wl_api_login(wl_tctx *t, wl_exchange *ex)
{
    wl_client_addr ca;
    wl_client_addr_get(t->app, ex, &ca);
    char ip[64];
    size_t iplen = wl_client_addr_text(&ca, ip, sizeof(ip));
    wl_ratelimit *rl = wl_auth_login_limiter(t->app->auth);
    unsigned retry;
    if (!wl_ratelimit_take(rl, ip, iplen, t->now_ms, &retry)) {
        wl_reply_rate_limited(ex, retry);
        return;
    }
    json_t *obj = wl_body_object(ex);
    credentials c;
    if (!obj || !read_credentials(ex, obj, &c, true)) {
        json_decref(obj);
        return;
    }
    int64_t user_id = 0;
    wl_status st = check_password(t, &c, &user_id);
    if (st == WL_OK) {
        wl_ratelimit_refund(rl, ip, iplen);
        reply_token(t, ex, user_id);
    } else if (st == WL_EBUSY) {
        reply_busy(ex);
    } else if (st == WL_EDENIED) {
        wl_reply_problem(ex, 401, "invalid-credentials", "the email or password is wrong");
    } else {
        wl_reply_problem(ex, 503, "unavailable", "the account store is unavailable");
    }
    json_decref(obj);
}

static void create_key(wl_tctx *t, wl_exchange *ex, const wl_principal *who)
{
    json_t *obj = wl_body_object(ex);
    if (!obj)
        return;
    const char *name = "";
    size_t nlen = 0;
    int r = wl_body_string(obj, "name", &name, &nlen);
    if (r < 0 || nlen > NAME_MAX_LEN || memchr(name, 0, nlen)) {
        wl_reply_problem(ex, 400, "invalid-body", "name must be a string of at most 100 bytes");
        json_decref(obj);
        return;
    }
    char key[WL_APIKEY_LEN + 1], prefix[WL_APIKEY_PREFIX_LEN + 1];
    unsigned char hash[WL_APIKEY_DIGEST_LEN];
    int64_t id;
    wl_status st = wl_apikey_generate(key, sizeof(key), prefix, sizeof(prefix), hash);
    if (st == WL_OK)
        st = wl_store_apikey_insert(t->store, who->user_id, name, nlen, prefix, strlen(prefix),
                                    hash, t->now_ms, &id);
    if (st != WL_OK) {
        wl_reply_problem(ex, 503, "unavailable", "the API key could not be stored");
    } else {
        wl_buf body = WL_BUF_INIT;
        wl_buf_addf(&body, "{\"id\":\"%lld\",\"name\":", (long long)id);
        wl_json_escape(&body, name, nlen);
        wl_buf_addf(&body, ",\"key\":\"%s\",\"prefix\":\"%s\",\"created_at\":", key, prefix);
        wl_json_time(&body, t->now_ms);
        wl_buf_adds(&body, "}");
        wl_reply_json(ex, 201, body.data, body.len, NULL);
        sodium_memzero(body.data, body.len);
        wl_buf_release(&body);
    }
    sodium_memzero(key, sizeof(key));
    json_decref(obj);
}

typedef struct key_list {
    wl_buf *out;
    unsigned count;
} key_list;

static int key_row(void *ctx, const wl_apikey *k)
{
    key_list *kl = ctx;
    if (k->revoked_at)
        return 0;
    if (kl->count++)
        wl_buf_add(kl->out, ",", 1);
    wl_buf_addf(kl->out, "{\"id\":\"%lld\",\"name\":", (long long)k->id);
    wl_json_escape(kl->out, k->name, k->name_len);
    wl_buf_adds(kl->out, ",\"prefix\":");
    wl_json_escape(kl->out, k->prefix, k->prefix_len);
    wl_buf_adds(kl->out, ",\"created_at\":");
    wl_json_time(kl->out, k->created_at);
    wl_buf_adds(kl->out, ",\"last_used_at\":");
    wl_json_time(kl->out, k->last_used_at);
    wl_buf_adds(kl->out, "}");
    return 0;
}

static void list_keys(wl_tctx *t, wl_exchange *ex, const wl_principal *who)
{
    wl_buf body = WL_BUF_INIT;
    wl_buf_adds(&body, "{\"items\":[");
    key_list kl = {&body, 0};
    if (wl_store_apikey_list(t->store, who->user_id, key_row, &kl) != WL_OK) {
        wl_reply_problem(ex, 503, "unavailable", "the key store is unavailable");
    } else {
        wl_buf_adds(&body, "]}");
        wl_reply_json(ex, 200, body.data, body.len, NULL);
    }
    wl_buf_release(&body);
}

static void revoke_key(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice id)
{
    int64_t v = 0;
    bool ok = id.len > 0 && id.len <= 18;
    for (size_t i = 0; ok && i < id.len; i++) {
        ok = id.ptr[i] >= '0' && id.ptr[i] <= '9';
        v = v * 10 + (id.ptr[i] - '0');
    }
    wl_status st = ok ? wl_store_apikey_revoke(t->store, who->user_id, v, t->now_ms) : WL_ENOTFOUND;
    if (st == WL_OK) {
        ex->status = 204;
        wl_resp_start(ex->out, 204, NULL, 0, ex->close);
        wl_resp_end(ex->out);
    } else if (st == WL_ENOTFOUND) {
        wl_reply_problem(ex, 404, "not-found", "you have no API key with this id");
    } else {
        wl_reply_problem(ex, 503, "unavailable", "the key store is unavailable");
    }
}

void wl_api_apikeys(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice id)
{
    switch (ex->req->method) {
    case WL_HTTP_POST:
        create_key(t, ex, who);
        break;
    case WL_HTTP_DELETE:
        revoke_key(t, ex, who, id);
        break;
    default:
        list_keys(t, ex, who);
        break;
    }
}
