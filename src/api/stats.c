/* stats.c - GET /links/{key}/stats (FR4). */
#include "api/auth.h"

void wl_api_link_stats(wl_tctx *t, wl_exchange *ex, const wl_principal *who, wl_slice key)
{
    (void)t;
    (void)who;
    (void)key;
    wl_reply_problem(ex, 503, "unavailable", "analytics are being built");
}
