/* handlers.h - the offloaded (blocking) API handlers and what they share.
 *
 * Every function here runs on an offload-pool thread with that thread's
 * wl_tctx: it may block on the store or on password hashing, never on a
 * loop thread's behalf. */
#ifndef WL_API_HANDLERS_H
#define WL_API_HANDLERS_H

#include <jansson.h>

#include "api/app.h"

/* Who is calling: from a JWT, an API key, or nobody. */
typedef struct wl_principal {
    int64_t user_id;   /* 0 = anonymous */
    int64_t apikey_id; /* > 0 when authenticated by API key */
} wl_principal;

/* Runs the handler of an offloaded route. */
void wl_handlers_dispatch(wl_tctx *t, wl_exchange *ex, unsigned route, wl_slice arg);

/* Parses the body as a JSON object; on failure replies 400 and returns NULL.
 * The caller json_decref()s the result. */
json_t *wl_body_object(wl_exchange *ex);
/* Reads an optional string member: 1 found, 0 absent or null, -1 wrong type. */
int wl_body_string(json_t *obj, const char *name, const char **s, size_t *len);

/* Appends the API's link object. viewer_id decides "owner": "self"/null. */
void wl_link_json(const wl_app *app, const wl_link *link, int64_t viewer_id, wl_buf *out);
/* Appends an RFC 3339 string or null for 0. */
void wl_json_time(wl_buf *out, int64_t ms);

/* Link handlers (links.c). */
typedef enum wl_create_mode {
    WL_CREATE_RANDOM,         /* POST /links: a KGS key; custom_alias is ignored */
    WL_CREATE_ALIAS_OPTIONAL, /* POST /v1/shorten: custom_alias if given */
    WL_CREATE_ALIAS_REQUIRED, /* POST /links/custom */
} wl_create_mode;
void wl_api_link_create(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_create_mode mode);
void wl_api_link_list(wl_tctx *t, wl_exchange *ex, const wl_principal *who);
void wl_api_link_get(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key);
void wl_api_link_delete(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key);

#endif
