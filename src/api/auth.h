/* auth.h - authentication (JWT, API keys), the auth endpoints, API-key
 * management and the rate limits around them (FR5, FR6, FR7).
 *
 * wl_auth is owned by wl_app; its functions run on offload threads. */
#ifndef WL_API_AUTH_H
#define WL_API_AUTH_H

#include "api/handlers.h"

typedef struct wl_auth wl_auth;

typedef enum wl_auth_need {
    WL_AUTH_NONE,     /* credentials ignored */
    WL_AUTH_OPTIONAL, /* anonymous allowed; bad credentials still 401 */
    WL_AUTH_USER,     /* JWT or API key */
    WL_AUTH_JWT,      /* JWT only */
    WL_AUTH_APIKEY,   /* x-api-key only */
} wl_auth_need;

/* Loads (or creates) <data_dir>/jwt.key and sets up the rate limiters. */
wl_status wl_auth_new(const wl_config *cfg, wl_auth **out, char *err, size_t errcap);
void wl_auth_free(wl_auth *a);

/* Fills *who. Returns false after replying 401 (bad/missing credentials) or
 * 429 (API key over its rate). */
bool wl_auth_identify(wl_tctx *t, wl_exchange *ex, wl_auth_need need, wl_principal *who);
/* Anonymous creation: off by configuration, or rate-limited per client IP.
 * Returns false after replying. */
bool wl_auth_allow_anonymous_create(wl_tctx *t, wl_exchange *ex);

void wl_api_register(wl_tctx *t, wl_exchange *ex);
void wl_api_login(wl_tctx *t, wl_exchange *ex);
/* GET/POST /user/api-keys and DELETE /user/api-keys/{id} (id in arg). */
void wl_api_apikeys(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice id);
/* GET /links/{key}/stats (stats.c). */
void wl_api_link_stats(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key);

/* For accounts.c: the login limiter and the token-signing settings. */
struct wl_ratelimit *wl_auth_login_limiter(wl_auth *a);
const struct wl_jwt_keyring *wl_auth_keyring(wl_auth *a, const char **iss, const char **aud,
                                             unsigned *ttl_s);

/* Replies 429 with Retry-After. */
void wl_reply_rate_limited(wl_exchange *ex, unsigned retry_after_s);

#endif
