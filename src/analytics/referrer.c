/* referrer.c - reduce a Referer URL to its host; the rules are in referrer.h.
 *
 * This is deliberately not a general URL parser (core/url validates the
 * links users submit): it only needs the authority of an http(s) URL, and
 * anything it is unsure about becomes "unknown" rather than a wrong host. */
#include "analytics/referrer.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define LABEL_MAX 63

typedef struct span {
    const char *p;
    size_t n;
} span;

/* Length of an "http://" or "https://" prefix, or 0 when there is none. */
static size_t scheme_len(const char *s, size_t len)
{
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        return 7;
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        return 8;
    return 0;
}

/* The authority ends at the path, query or fragment. Browsers treat '\' as
 * '/' in http(s) URLs, so it ends the authority too. */
static span authority(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#' && s[i] != '\\')
        i++;
    return (span){s, i};
}

static span strip_userinfo(span a)
{
    for (size_t i = a.n; i > 0; i--)
        if (a.p[i - 1] == '@')
            return (span){a.p + i, a.n - i};
    return a;
}

static bool is_port(const char *p, size_t n)
{
    if (n > 5)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* Splits "host[:port]" or "[v6][:port]" and returns the host, or an empty
 * span when what follows the host is not a port. */
static span strip_port(span a)
{
    size_t host_end;
    if (a.n > 0 && a.p[0] == '[') {
        const char *close = memchr(a.p, ']', a.n);
        if (!close)
            return (span){a.p, 0};
        host_end = (size_t)(close - a.p) + 1;
    } else {
        const char *colon = memchr(a.p, ':', a.n);
        host_end = colon ? (size_t)(colon - a.p) : a.n;
    }
    if (host_end < a.n &&
        (a.p[host_end] != ':' || !is_port(a.p + host_end + 1, a.n - host_end - 1)))
        return (span){a.p, 0};
    return (span){a.p, host_end};
}

static bool is_v6_literal(span h)
{
    if (h.n < 4 || h.n > WL_REFERRER_HOST_MAX || h.p[0] != '[' || h.p[h.n - 1] != ']' ||
        !memchr(h.p, ':', h.n))
        return false;
    for (size_t i = 1; i + 1 < h.n; i++) {
        char c = h.p[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex && c != ':' && c != '.')
            return false;
    }
    return true;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Non-empty labels of name characters, each at most 63 bytes. */
static bool is_dns_name(span h)
{
    if (h.n == 0 || h.n > WL_REFERRER_HOST_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < h.n; i++) {
        if (h.p[i] == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (!is_name_char(h.p[i]) || ++label > LABEL_MAX) {
            return false;
        }
    }
    return label > 0;
}

/* "www." is dropped only when a dotted name remains ("www.com" stays). */
static span strip_www(span h)
{
    if (h.n > 4 && strncasecmp(h.p, "www.", 4) == 0 && memchr(h.p + 4, '.', h.n - 4))
        return (span){h.p + 4, h.n - 4};
    return h;
}

static size_t copy_lower(span h, char *out, size_t cap)
{
    if (h.n + 1 > cap)
        return 0;
    for (size_t i = 0; i < h.n; i++) {
        char c = h.p[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
    }
    out[h.n] = '\0';
    return h.n;
}

size_t wl_referrer_host(const char *ref, size_t len, char *out, size_t cap)
{
    if (!out || cap == 0)
        return 0;
    out[0] = '\0';
    if (!ref)
        return 0;
    size_t skip = scheme_len(ref, len);
    if (skip == 0)
        return 0;
    span host = strip_port(strip_userinfo(authority(ref + skip, len - skip)));
    if (host.n > 0 && host.p[0] == '[')
        return is_v6_literal(host) ? copy_lower(host, out, cap) : 0;
    if (host.n > 1 && host.p[host.n - 1] == '.')
        host.n--;
    if (!is_dns_name(host))
        return 0;
    return copy_lower(strip_www(host), out, cap);
}
