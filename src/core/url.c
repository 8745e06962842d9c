/* url.c - long-URL validation and host extraction.
 *
 * The checker is a single forward pass over an RFC 3986 absolute URL,
 * restricted to what is safe to put in a Location header and to hand to a
 * browser: it never allocates or copies more than one IPv6 literal into a
 * stack buffer (inet_pton needs a NUL), and it never resolves names. The
 * rules and their reasons are listed in url.h. */
#include "core/url.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define URL_HOST_MAX 253   /* DNS name, without the trailing dot */
#define URL_LABEL_MAX 63   /* one DNS label */
#define URL_V6_TEXT_MAX 45 /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */

/* The host of an authority, split from its optional port. */
typedef struct url_hostport {
    const char *host;
    size_t host_len;
    const char *port; /* after the ':'; meaningful when has_port */
    size_t port_len;
    bool has_port;
    bool bracketed; /* host was "[...]"; host excludes the brackets */
} url_hostport;

/* What a host denotes, for the self-host comparison: an address (IPv4 is
 * stored IPv4-mapped so both families compare alike) or a name. */
typedef struct url_host_id {
    bool is_ip;
    unsigned char ip[16];
    const char *name;
    size_t name_len;
} url_host_id;

static bool url_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool url_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool url_is_hex(unsigned char c)
{
    return url_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Printable ASCII only: rejects controls, space, DEL and every byte >= 0x80. */
static bool url_bytes_ok(const char *url, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

/* Length of a leading "http:" or "https:" (any case), or 0. */
static size_t url_http_scheme_len(const char *url, size_t len)
{
    if (len >= 5 && strncasecmp(url, "http:", 5) == 0)
        return 5;
    if (len >= 6 && strncasecmp(url, "https:", 6) == 0)
        return 6;
    return 0;
}

/* The authority runs to the first '/', '?' or '#' (RFC 3986 section 3.2). */
static size_t url_authority_len(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != '/' && p[i] != '?' && p[i] != '#')
        i++;
    return i;
}

/* Splits "host[:port]" or "[v6][:port]". False when a '[' is unclosed or
 * something other than ":port" follows the host. */
static bool url_split_hostport(const char *a, size_t n, url_hostport *hp)
{
    size_t host_end;
    memset(hp, 0, sizeof *hp);
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return false;
        hp->bracketed = true;
        hp->host = a + 1;
        hp->host_len = (size_t)(close - a) - 1;
        host_end = (size_t)(close - a) + 1;
    } else {
        const char *colon = memchr(a, ':', n);
        hp->host = a;
        hp->host_len = colon ? (size_t)(colon - a) : n;
        host_end = hp->host_len;
    }
    if (host_end == n)
        return true;
    if (a[host_end] != ':')
        return false;
    hp->has_port = true;
    hp->port = a + host_end + 1;
    hp->port_len = n - host_end - 1;
    return true;
}

/* Decimal 1-65535; leading zeros are tolerated as browsers do. */
static bool url_port_ok(const char *p, size_t n)
{
    uint32_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!url_is_digit((unsigned char)p[i]))
            return false;
        v = v * 10 + (uint32_t)(p[i] - '0');
        if (v > 65535)
            return false;
    }
    return v != 0;
}

/* One dotted-quad part: "0" or 1-3 digits without a leading zero, <= 255.
 * Leading zeros are refused because browsers read them as octal. */
static bool url_ipv4_part(const char *p, size_t n, unsigned char *out)
{
    unsigned v = 0;
    if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!url_is_digit((unsigned char)p[i]))
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > 255)
        return false;
    *out = (unsigned char)v;
    return true;
}

/* Strict "a.b.c.d" in plain decimal; writes the IPv4-mapped IPv6 form. */
static bool url_ipv4_parse(const char *h, size_t n, unsigned char ip[16])
{
    size_t start = 0, part = 0;
    memset(ip, 0, 16);
    ip[10] = ip[11] = 0xff;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && h[i] != '.')
            continue;
        if (part == 4 || !url_ipv4_part(h + start, i - start, &ip[12 + part]))
            return false;
        part++;
        start = i + 1;
    }
    return part == 4;
}

static bool url_ipv6_parse(const char *h, size_t n, unsigned char ip[16])
{
    char text[URL_V6_TEXT_MAX + 1];
    if (n < 2 || n > URL_V6_TEXT_MAX)
        return false;
    memcpy(text, h, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, ip) == 1;
}

/* WHATWG URL parsers treat a host whose last label is a number (decimal, or
 * hex with "0x") as an IPv4 address in some form, so such a name is never a
 * plain DNS name. */
static bool url_label_numeric(const char *l, size_t n)
{
    size_t i = 0;
    if (n >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) {
        for (i = 2; i < n; i++)
            if (!url_is_hex((unsigned char)l[i]))
                return false;
        return true;
    }
    for (i = 0; i < n; i++)
        if (!url_is_digit((unsigned char)l[i]))
            return false;
    return n > 0;
}

static bool url_label_ok(const char *l, size_t n)
{
    if (n == 0 || n > URL_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)l[i];
        if (!url_is_alpha(c) && !url_is_digit(c) && c != '-')
            return false;
    }
    return true;
}

/* A DNS name without its trailing dot (the caller strips it). */
static bool url_name_ok(const char *h, size_t n)
{
    size_t start = 0;
    if (n == 0 || n > URL_HOST_MAX)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && h[i] != '.')
            continue;
        if (!url_label_ok(h + start, i - start))
            return false;
        if (i == n && url_label_numeric(h + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

static size_t url_strip_trailing_dot(const char *h, size_t n)
{
    return (n > 1 && h[n - 1] == '.') ? n - 1 : n;
}

/* Validates a host and says what it denotes. */
static bool url_host_identify(const char *h, size_t n, bool bracketed, url_host_id *id)
{
    memset(id, 0, sizeof *id);
    if (bracketed) {
        id->is_ip = true;
        return url_ipv6_parse(h, n, id->ip);
    }
    if (url_ipv4_parse(h, n, id->ip)) {
        id->is_ip = true;
        return true;
    }
    id->name = h;
    id->name_len = url_strip_trailing_dot(h, n);
    return url_name_ok(id->name, id->name_len);
}

/* The configured self host may come with brackets, a port, or as a bare
 * IPv6 address; if it is not a valid host it is compared as a plain name. */
static void url_self_identify(const char *s, size_t n, url_host_id *id)
{
    url_hostport hp;
    const char *first_colon = memchr(s, ':', n);
    bool bare_v6 = first_colon && memchr(first_colon + 1, ':', n - (size_t)(first_colon - s) - 1);
    if (n > 0 && s[0] != '[' && bare_v6) {
        hp.host = s;
        hp.host_len = n;
        hp.bracketed = true;
    } else if (!url_split_hostport(s, n, &hp)) {
        hp.host = s;
        hp.host_len = n;
        hp.bracketed = false;
    }
    if (url_host_identify(hp.host, hp.host_len, hp.bracketed, id))
        return;
    memset(id, 0, sizeof *id);
    id->name = hp.host;
    id->name_len = url_strip_trailing_dot(hp.host, hp.host_len);
}

static bool url_host_id_eq(const url_host_id *a, const url_host_id *b)
{
    if (a->is_ip != b->is_ip)
        return false;
    if (a->is_ip)
        return memcmp(a->ip, b->ip, 16) == 0;
    return a->name_len == b->name_len && strncasecmp(a->name, b->name, a->name_len) == 0;
}

static wl_url_verdict url_check_authority(const char *a, size_t n, const char *self_host,
                                          size_t self_host_len)
{
    url_hostport hp;
    url_host_id id;
    if (n == 0)
        return WL_URL_NO_HOST;
    if (memchr(a, '@', n))
        return WL_URL_USERINFO;
    if (!url_split_hostport(a, n, &hp) || (hp.has_port && !url_port_ok(hp.port, hp.port_len)))
        return WL_URL_BAD_HOST;
    if (hp.host_len == 0 && !hp.bracketed)
        return WL_URL_NO_HOST; /* "http://:80/" */
    if (!url_host_identify(hp.host, hp.host_len, hp.bracketed, &id))
        return WL_URL_BAD_HOST;
    if (self_host && self_host_len > 0) {
        url_host_id self;
        url_self_identify(self_host, self_host_len, &self);
        if (url_host_id_eq(&id, &self))
            return WL_URL_SELF;
    }
    return WL_URL_OK;
}

wl_url_verdict wl_url_check(const char *url, size_t len, const char *self_host,
                            size_t self_host_len)
{
    size_t scheme_len;
    const char *auth;
    if (len == 0)
        return WL_URL_EMPTY;
    if (len > WL_URL_MAX)
        return WL_URL_TOO_LONG;
    if (!url_bytes_ok(url, len))
        return WL_URL_BAD_CHAR;
    scheme_len = url_http_scheme_len(url, len);
    if (scheme_len == 0)
        return WL_URL_BAD_SCHEME;
    if (len - scheme_len < 2 || url[scheme_len] != '/' || url[scheme_len + 1] != '/')
        return WL_URL_NO_HOST;
    auth = url + scheme_len + 2;
    return url_check_authority(auth, url_authority_len(auth, len - scheme_len - 2), self_host,
                               self_host_len);
}

const char *wl_url_verdict_text(wl_url_verdict v)
{
    switch (v) {
    case WL_URL_OK:
        return "the URL is acceptable";
    case WL_URL_EMPTY:
        return "the URL is empty";
    case WL_URL_TOO_LONG:
        return "the URL is longer than 8000 bytes";
    case WL_URL_BAD_SCHEME:
        return "the URL must start with http:// or https://";
    case WL_URL_NO_HOST:
        return "the URL must be absolute, with a host name after http:// or https://";
    case WL_URL_BAD_HOST:
        return "the URL's host must be a domain name (letters, digits, hyphens and dots; "
               "internationalized names in punycode), a dotted-decimal IPv4 address or a "
               "bracketed IPv6 address, optionally followed by a port from 1 to 65535";
    case WL_URL_USERINFO:
        return "the URL must not contain a user name or password (an '@' before the host)";
    case WL_URL_BAD_CHAR:
        return "the URL contains a space, a control character or a non-ASCII byte; "
               "percent-encode them (and write internationalized host names in punycode)";
    case WL_URL_SELF:
        return "the URL points at this link shortener itself";
    }
    return "the URL is invalid";
}

/* Length of a leading "scheme:" per RFC 3986 (ALPHA *(ALPHA/DIGIT/+/-/.)),
 * colon included, or 0. */
static size_t url_any_scheme_len(const char *url, size_t len)
{
    size_t i = 0;
    if (len == 0 || !url_is_alpha((unsigned char)url[0]))
        return 0;
    for (i = 1; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c == ':')
            return i + 1;
        if (!url_is_alpha(c) && !url_is_digit(c) && c != '+' && c != '-' && c != '.')
            return 0;
    }
    return 0;
}

int wl_url_host(const char *url, size_t len, const char **host, size_t *host_len)
{
    size_t s = url_any_scheme_len(url, len);
    const char *auth, *at;
    size_t n;
    url_hostport hp;
    if (s == 0 || len - s < 2 || url[s] != '/' || url[s + 1] != '/')
        return -1;
    auth = url + s + 2;
    n = url_authority_len(auth, len - s - 2);
    /* Userinfo ends at the LAST '@', as browsers split it. */
    while ((at = memchr(auth, '@', n)) != NULL) {
        n -= (size_t)(at - auth) + 1;
        auth = at + 1;
    }
    if (!url_split_hostport(auth, n, &hp))
        return -1;
    if (!hp.bracketed && hp.host_len > 0 && hp.host[hp.host_len - 1] == '.')
        hp.host_len--;
    if (hp.host_len == 0)
        return -1;
    *host = hp.host;
    *host_len = hp.host_len;
    return 0;
}
