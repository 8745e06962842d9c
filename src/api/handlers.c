/* handlers.c - dispatch of offloaded routes, after authentication.
 *
 * Credentials decide the principal once, here, so no handler can forget to
 * check them: routes that require a user get 401 before their handler runs,
 * and ownership checks inside handlers compare against principal.user_id. */
#include "api/handlers.h"

#include "api/auth.h"
#include "core/clock.h"

void wl_handlers_dispatch(wl_tctx *t, wl_exchange *ex, unsigned route, wl_slice arg)
{
    t->now_ms = wl_now_ms();
    wl_principal who = {0};
    wl_auth_need need = WL_AUTH_OPTIONAL;
    switch (route) {
    case WL_ROUTE_AUTH_REGISTER:
    case WL_ROUTE_AUTH_LOGIN:
        need = WL_AUTH_NONE;
        break;
    case WL_ROUTE_APIKEYS:
        need = WL_AUTH_JWT;
        break;
    case WL_ROUTE_SHORTEN:
        need = WL_AUTH_APIKEY;
        break;
    case WL_ROUTE_LINKS_CREATE:
        need = WL_AUTH_OPTIONAL;
        break;
    default:
        need = WL_AUTH_USER;
        break;
    }
    if (!wl_auth_identify(t, ex, need, &who))
        return; /* replied 401/429 */
    switch (route) {
    case WL_ROUTE_LINKS_CREATE:
        if (!who.user_id && !wl_auth_allow_anonymous_create(t, ex))
            return;
        wl_api_link_create(t, ex, &who, WL_CREATE_RANDOM);
        break;
    case WL_ROUTE_LINKS_CUSTOM:
        wl_api_link_create(t, ex, &who, WL_CREATE_ALIAS_REQUIRED);
        break;
    case WL_ROUTE_SHORTEN:
        wl_api_link_create(t, ex, &who, WL_CREATE_ALIAS_OPTIONAL);
        break;
    case WL_ROUTE_LINKS_LIST:
        wl_api_link_list(t, ex, &who);
        break;
    case WL_ROUTE_LINK_GET:
        wl_api_link_get(t, ex, &who, arg);
        break;
    case WL_ROUTE_LINK_DELETE:
        wl_api_link_delete(t, ex, &who, arg);
        break;
    case WL_ROUTE_LINK_STATS:
        wl_api_link_stats(t, ex, &who, arg);
        break;
    case WL_ROUTE_AUTH_REGISTER:
        wl_api_register(t, ex);
        break;
    case WL_ROUTE_AUTH_LOGIN:
        wl_api_login(t, ex);
        break;
    case WL_ROUTE_APIKEYS:
        wl_api_apikeys(t, ex, &who, arg);
        break;
    default:
        wl_reply_problem(ex, 404, "not-found", "there is nothing at this address");
    }
}
