/* referrer.h - the host part of a Referer header, for the referrers breakdown.
 *
 * Runs in the analytics worker only. No allocation, no state, thread-safe.
 *
 * wl_referrer_host() accepts only absolute http:// and https:// URLs (scheme
 * compared case-insensitively) and reduces them to one lower-case host name:
 *   - userinfo ("user:pass@") and the port (":8080") are removed;
 *   - one trailing dot is removed ("example.com." is "example.com");
 *   - a leading "www." is removed when a dotted name remains, so
 *     "https://www.example.com/a" and "https://example.com/b" are counted as
 *     one referrer "example.com", while "news.ycombinator.com" and
 *     "m.example.com" stay as they are (only "www." is a pure alias by
 *     convention; other subdomains can be distinct sites);
 *   - an IPv6 literal keeps its brackets ("[2001:db8::1]").
 * The host must be a plausible DNS name or address literal: ASCII letters,
 * digits, '-', '_' and '.', non-empty labels of at most 63 bytes, at most
 * WL_REFERRER_HOST_MAX bytes in all. Browsers send internationalised names in
 * punycode, so bytes outside ASCII and percent-escapes are rejected.
 *
 * Returns 0 for an empty, non-http(s) or malformed referrer, and the caller
 * records "unknown" (API.md: an unknown value is "unknown"). */
#ifndef WL_REFERRER_H
#define WL_REFERRER_H

#include <stddef.h>

/* Longest host returned (the DNS limit); out needs one byte more. */
#define WL_REFERRER_HOST_MAX 253

/* Writes the host of ref[0..len) (need not be NUL-terminated) into out as a
 * NUL-terminated string and returns its length (without the NUL). Returns 0,
 * with out[0] = '\0' when cap > 0, if there is no valid host or it does not
 * fit in cap - 1 bytes. */
size_t wl_referrer_host(const char *ref, size_t len, char *out, size_t cap);

#endif
