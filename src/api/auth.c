/* auth.c - who is calling: JWTs, API keys, and the rate limits.
 *
 * JWTs are verified against the keyring with the algorithm pinned to HS256
 * (core/jwt.c). API keys are looked up by their SHA-256 in the store on
 * every request, so a revoked key fails on the very next request; the
 * stored hash is compared again in constant time. last_used_at is written
 * at most once per key per TOUCH_INTERVAL_MS, not once per request. */
#include "api/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client.h"
#include "core/apikey.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "http/response.h"

#define TOUCH_INTERVAL_MS 60000
#define TOUCH_SLOTS 1024
#define RATE_KEYS 65536

typedef struct touch_slot {
    int64_t id, written_ms;
} touch_slot;

struct wl_auth {
    wl_jwt_keyring keyring;
    char issuer[128], audience[128];
    unsigned ttl_s;
    bool anonymous_create;
    wl_ratelimit *anon_create, *login, *apikey;
    pthread_mutex_t touch_lock;
    touch_slot touched[TOUCH_SLOTS];
};

wl_status wl_auth_new(const wl_config *cfg, wl_auth **out, char *err, size_t errcap)
{
    wl_auth *a = wl_xcalloc(1, sizeof(*a));
    char path[1100];
    snprintf(path, sizeof(path), "%s/jwt.key", cfg->data_dir);
    wl_jwt_keyring_init(&a->keyring);
    unsigned flags = 0;
    wl_status st = wl_jwt_keyring_load_or_create(&a->keyring, path, &flags);
    if (st != WL_OK) {
        snprintf(err, errcap, "cannot load or create the JWT key file %s: %s", path,
                 wl_strerror(st));
        free(a);
        return st;
    }
    if (flags & WL_JWT_KEYFILE_CREATED)
        wl_info("created a new JWT signing key in %s", path);
    snprintf(a->issuer, sizeof(a->issuer), "%s", cfg->jwt_issuer);
    snprintf(a->audience, sizeof(a->audience), "%s", cfg->jwt_audience);
    a->ttl_s = cfg->jwt_ttl_s;
    a->anonymous_create = cfg->anonymous_create;
    wl_ratelimit_new(cfg->anon_create_rate, cfg->anon_create_burst, RATE_KEYS, &a->anon_create);
    wl_ratelimit_new(cfg->login_rate, cfg->login_burst, RATE_KEYS, &a->login);
    wl_ratelimit_new(cfg->apikey_rate, cfg->apikey_burst, RATE_KEYS, &a->apikey);
    pthread_mutex_init(&a->touch_lock, NULL);
    *out = a;
    return WL_OK;
}

void wl_auth_free(wl_auth *a)
{
    if (!a)
        return;
    wl_jwt_keyring_clear(&a->keyring);
    wl_ratelimit_free(a->anon_create);
    wl_ratelimit_free(a->login);
    wl_ratelimit_free(a->apikey);
    pthread_mutex_destroy(&a->touch_lock);
    free(a);
}

void wl_reply_rate_limited(wl_exchange *ex, unsigned retry_after_s)
{
    char ra[16];
    int n = snprintf(ra, sizeof(ra), "%u", retry_after_s);
    char body[160];
    int bn = snprintf(body, sizeof(body),
                      "{\"type\":\"/problems/rate-limited\",\"title\":\"Too Many Requests\","
                      "\"status\":429,\"detail\":\"retry in %u s\"}",
                      retry_after_s);
    ex->status = 429;
    wl_resp_start(ex->out, 429, "application/problem+json", (size_t)bn, ex->close);
    wl_resp_header(ex->out, "Retry-After", ra, (size_t)n);
    wl_resp_end(ex->out);
    wl_buf_add(ex->out, body, (size_t)bn);
}

static bool deny(wl_exchange *ex, const char *detail)
{
    ex->status = 401;
    wl_buf *out = ex->out;
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"type\":\"/problems/unauthorized\",\"title\":\"Unauthorized\","
                     "\"status\":401,\"detail\":\"%s\"}",
                     detail);
    wl_resp_start(out, 401, "application/problem+json", (size_t)n, ex->close);
    static const char www[] = "Bearer realm=\"warplink\"";
    wl_resp_header(out, "WWW-Authenticate", www, sizeof(www) - 1);
    wl_resp_end(out);
    wl_buf_add(out, body, (size_t)n);
    return false;
}

static bool from_jwt(wl_tctx *t, wl_exchange *ex, wl_slice authz, wl_principal *who)
{
    wl_auth *a = t->app->auth;
    if (authz.len < 8 || strncasecmp(authz.ptr, "Bearer ", 7) != 0)
        return deny(ex, "the Authorization header must be 'Bearer <token>'");
    wl_jwt_claims c;
    wl_jwt_reason why;
    if (wl_jwt_verify(&a->keyring, authz.ptr + 7, authz.len - 7, a->issuer, a->audience,
                      t->now_ms / 1000, &c, &why) != WL_OK)
        return deny(ex, "the access token is invalid or expired");
    char *end;
    long long id = strtoll(c.sub, &end, 10);
    if (*end || id <= 0)
        return deny(ex, "the access token is invalid or expired");
    /* A token outliving its user (deleted later) must not act for anyone. */
    char buf[1024];
    wl_user u;
    if (wl_store_user_get_by_id(t->store, id, &u, buf, sizeof(buf)) != WL_OK)
        return deny(ex, "the access token is invalid or expired");
    who->user_id = id;
    return true;
}

/* Writes last_used_at when this key was not written in the last interval. */
static void touch_key(wl_tctx *t, int64_t id)
{
    wl_auth *a = t->app->auth;
    touch_slot *s = &a->touched[(uint64_t)id % TOUCH_SLOTS];
    pthread_mutex_lock(&a->touch_lock);
    bool due = s->id != id || t->now_ms - s->written_ms >= TOUCH_INTERVAL_MS;
    if (due) {
        s->id = id;
        s->written_ms = t->now_ms;
    }
    pthread_mutex_unlock(&a->touch_lock);
    if (due)
        (void)wl_store_apikey_touch(t->store, id, t->now_ms);
}

static bool from_apikey(wl_tctx *t, wl_exchange *ex, wl_slice key, wl_principal *who)
{
    wl_auth *a = t->app->auth;
    if (!wl_apikey_plausible(key.ptr, key.len))
        return deny(ex, "the API key is invalid or revoked");
    unsigned char hash[WL_APIKEY_DIGEST_LEN];
    wl_apikey_hash(key.ptr, key.len, hash);
    wl_apikey k;
    char buf[1024];
    wl_status st = wl_store_apikey_get_by_hash(t->store, hash, &k, buf, sizeof(buf));
    if (st != WL_OK || !wl_apikey_hash_equal(hash, k.hash))
        return deny(ex, "the API key is invalid or revoked");
    char rk[24];
    int n = snprintf(rk, sizeof(rk), "k%lld", (long long)k.id);
    unsigned retry;
    if (!wl_ratelimit_take(a->apikey, rk, (size_t)n, t->now_ms, &retry)) {
        wl_reply_rate_limited(ex, retry);
        return false;
    }
    touch_key(t, k.id);
    who->user_id = k.user_id;
    who->apikey_id = k.id;
    return true;
}

bool wl_auth_identify(wl_tctx *t, wl_exchange *ex, wl_auth_need need, wl_principal *who)
{
    memset(who, 0, sizeof(*who));
    if (need == WL_AUTH_NONE)
        return true;
    const wl_http_request *req = ex->req;
    bool has_jwt = req->authorization.len > 0, has_key = req->api_key.len > 0;
    if (has_key && need != WL_AUTH_JWT)
        return from_apikey(t, ex, req->api_key, who);
    if (has_jwt && need != WL_AUTH_APIKEY)
        return from_jwt(t, ex, req->authorization, who);
    if (need == WL_AUTH_OPTIONAL && !has_jwt && !has_key)
        return true;
    if (need == WL_AUTH_APIKEY)
        return deny(ex, "this endpoint needs an 'x-api-key' header");
    if (need == WL_AUTH_JWT)
        return deny(ex, "this endpoint needs 'Authorization: Bearer <token>' from /auth/login");
    return deny(ex, "send 'Authorization: Bearer <token>' or 'x-api-key'");
}

bool wl_auth_allow_anonymous_create(wl_tctx *t, wl_exchange *ex)
{
    wl_auth *a = t->app->auth;
    if (!a->anonymous_create)
        return deny(ex, "anonymous link creation is turned off; log in or use an API key");
    wl_client_addr ca;
    wl_client_addr_get(t->app, ex, &ca);
    char ip[64];
    size_t n = wl_client_addr_text(&ca, ip, sizeof(ip));
    unsigned retry;
    if (!wl_ratelimit_take(a->anon_create, ip, n, t->now_ms, &retry)) {
        wl_reply_rate_limited(ex, retry);
        return false;
    }
    return true;
}

wl_ratelimit *wl_auth_login_limiter(wl_auth *a)
{
    return a->login;
}

const wl_jwt_keyring *wl_auth_keyring(wl_auth *a, const char **iss, const char **aud,
                                      unsigned *ttl_s)
{
    *iss = a->issuer;
    *aud = a->audience;
    *ttl_s = a->ttl_s;
    return &a->keyring;
}
