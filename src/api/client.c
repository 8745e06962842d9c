/* client.c - the client address, honouring X-Forwarded-For only when the
 * socket peer is one of the operator's trusted proxies (otherwise anyone
 * could spoof their address past the rate limits). */
#include "api/client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "analytics/event.h"

static void from_sockaddr(const wl_peer *p, wl_client_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (p->addr.ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)&p->addr;
        out->family = WL_ADDR_IPV4;
        memcpy(out->addr, &s->sin_addr, 4);
    } else if (p->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&p->addr;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
            out->family = WL_ADDR_IPV4;
            memcpy(out->addr, &s->sin6_addr.s6_addr[12], 4);
        } else {
            out->family = WL_ADDR_IPV6;
            memcpy(out->addr, &s->sin6_addr, 16);
        }
    }
}

static bool parse_ip(const char *s, size_t len, wl_client_addr *out)
{
    char tmp[64];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (!len || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, tmp, out->addr) == 1)
        return out->family = WL_ADDR_IPV4, true;
    if (inet_pton(AF_INET6, tmp, out->addr) == 1)
        return out->family = WL_ADDR_IPV6, true;
    return false;
}

static bool is_trusted(const wl_app *app, const wl_client_addr *peer)
{
    const char *list = app->cfg.trusted_proxies;
    while (*list) {
        const char *comma = strchr(list, ',');
        size_t n = comma ? (size_t)(comma - list) : strlen(list);
        wl_client_addr t;
        if (parse_ip(list, n, &t) && t.family == peer->family &&
            memcmp(t.addr, peer->addr, peer->family == WL_ADDR_IPV4 ? 4 : 16) == 0)
            return true;
        if (!comma)
            break;
        list = comma + 1;
    }
    return false;
}

void wl_client_addr_get(const wl_app *app, const wl_exchange *ex, wl_client_addr *out)
{
    from_sockaddr(ex->peer, out);
    wl_slice xff = ex->req->forwarded_for;
    if (!xff.len || !app->cfg.trusted_proxies[0] || !is_trusted(app, out))
        return;
    /* The right-most entry is the one our trusted proxy appended. */
    const char *end = xff.ptr + xff.len, *p = end;
    while (p > xff.ptr && p[-1] != ',')
        p--;
    wl_client_addr fwd;
    if (parse_ip(p, (size_t)(end - p), &fwd))
        *out = fwd;
}

size_t wl_client_addr_text(const wl_client_addr *a, char *out, size_t cap)
{
    int af = a->family == WL_ADDR_IPV4 ? AF_INET : a->family == WL_ADDR_IPV6 ? AF_INET6 : 0;
    if (!af || !inet_ntop(af, a->addr, out, (socklen_t)cap)) {
        snprintf(out, cap, "unknown");
    }
    return strlen(out);
}
