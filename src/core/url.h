/* url.h - validation of the long URLs that WarpLink agrees to redirect to.
 *
 * The rules (API.md, "invalid-url"), in the order they are checked:
 *   1. not empty, at most WL_URL_MAX bytes;
 *   2. every byte is printable ASCII (0x21-0x7E): no spaces, tabs, CR/LF or
 *      other controls, and no raw bytes >= 0x80 - clients percent-encode
 *      non-ASCII paths and write internationalized hosts in punycode
 *      ("xn--..."). Raw UTF-8 is refused rather than guessed at because the
 *      URL goes verbatim into a Location header;
 *   3. the scheme is http or https, in any letter case;
 *   4. "//" and a non-empty authority follow the scheme;
 *   5. the authority holds no userinfo (no '@' at all), because
 *      "http://bank.com@evil.example/" is a classic phishing disguise;
 *   6. the host is a DNS name (labels of letters, digits and '-', 1-63 bytes
 *      each, at most 253 bytes, one optional trailing dot), a dotted-quad
 *      IPv4 address in plain decimal, or a bracketed IPv6 address (no zone).
 *      A name whose last label looks numeric ("127.1", "2130706433",
 *      "1.2.3.0x4") is refused, because browsers read it as an IPv4 address
 *      in a form that would dodge the self-host check. No percent-encoding
 *      and no '\' in the host (browsers and RFC 3986 split those differently);
 *      an optional ":port" is 1-65535 in decimal digits (an empty port or 0
 *      is refused);
 *   7. the host is not WarpLink's own public host (a redirect loop), compared
 *      case-insensitively, ignoring the port and a trailing dot; IP addresses
 *      are compared as addresses ("[::ffff:127.0.0.1]" is 127.0.0.1). Names
 *      are compared as written: no DNS lookup happens here.
 * The path, query and fragment may hold any printable ASCII, including
 * "<>\^`{|} which browsers accept and percent-encode themselves; whoever
 * embeds a URL in HTML must escape it.
 *
 * Pure functions: no allocation, no global state, safe from any thread.
 * Input strings are (ptr, len) and need not be NUL-terminated. */
#ifndef WL_URL_H
#define WL_URL_H

#include <stddef.h>

#define WL_URL_MAX 8000

typedef enum wl_url_verdict {
    WL_URL_OK,
    WL_URL_EMPTY,      /* zero bytes */
    WL_URL_TOO_LONG,   /* more than WL_URL_MAX bytes */
    WL_URL_BAD_SCHEME, /* not http: or https: */
    WL_URL_NO_HOST,    /* no "//" after the scheme, or an empty authority */
    WL_URL_BAD_HOST,   /* host or port syntax */
    WL_URL_USERINFO,   /* '@' in the authority */
    WL_URL_BAD_CHAR,   /* control, whitespace or non-ASCII byte anywhere */
    WL_URL_SELF        /* points at self_host */
} wl_url_verdict;

/* Checks url[0..len) against the rules above. self_host is the host of the
 * configured public base URL ("127.0.0.1", "sho.rt", "[::1]"; a ":port" on
 * it is ignored); pass NULL/0 to skip rule 7. The first failing rule wins. */
wl_url_verdict wl_url_check(const char *url, size_t len, const char *self_host,
                            size_t self_host_len);

/* A sentence for the problem+json "detail" of an invalid-url answer, e.g.
 * "the URL must start with http:// or https://". Static; never NULL. */
const char *wl_url_verdict_text(wl_url_verdict v);

/* Finds the host of url[0..len): on success returns 0 and sets *host and
 * *host_len to a slice INTO url (valid as long as url is), without brackets,
 * port, userinfo or a trailing dot, and in the letter case the URL used
 * (callers lowercase if they need to). Returns -1 when there is no
 * "scheme://" authority with a non-empty host.
 *
 * Always succeeds for a URL that wl_url_check() accepted. It also accepts any
 * other scheme and skips userinfo, so analytics can take the host of an
 * unchecked Referer ("android-app://com.example/" -> "com.example"); for
 * such input the host's characters are not validated. */
int wl_url_host(const char *url, size_t len, const char **host, size_t *host_len);

#endif
