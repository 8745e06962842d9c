/* client.h - who the client is: its address, from the socket or, behind a
 * configured trusted proxy, from X-Forwarded-For. */
#ifndef WL_API_CLIENT_H
#define WL_API_CLIENT_H

#include <stdint.h>

#include "api/app.h"

typedef struct wl_client_addr {
    uint8_t family; /* WL_ADDR_IPV4 / WL_ADDR_IPV6 (analytics/event.h) or 0 */
    uint8_t addr[16];
} wl_client_addr;

void wl_client_addr_get(const wl_app *app, const wl_exchange *ex, wl_client_addr *out);
/* Text form for rate-limit keys and logs; returns length. */
size_t wl_client_addr_text(const wl_client_addr *a, char *out, size_t cap);

#endif
