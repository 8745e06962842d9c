/* ua.h - user-agent classification for the analytics worker.
 *
 * Runs only in the analytics worker (ARCHITECTURE.md §2 step 5), never on the
 * redirect path. wl_ua_classify() reads at most WL_UA_MAX_SCAN bytes of the
 * user agent, allocates nothing, keeps no state and is thread-safe.
 *
 * Every string it stores in wl_ua_info is a static constant: it lives for the
 * whole program and must not be freed. The values are exactly the ones the
 * stats API reports (docs: API.md, Analytics).
 *
 * Bot policy (is_bot == true):
 *   - an empty user agent, and every HEAD request: browsers following a link
 *     send GET, so HEAD comes from link checkers and preview fetchers;
 *   - named crawlers and link-preview fetchers (Googlebot, facebookexternalhit,
 *     Slack-ImgProxy, WhatsApp, Embedly, ...);
 *   - command-line tools and HTTP client libraries (curl, Wget,
 *     python-requests, Go-http-client, okhttp, Java, axios, ...) and headless
 *     browsers: a person clicking a short link uses a browser, so these are
 *     scripts, monitors and scrapers. A human testing with curl counts as a bot;
 *     that is the price of keeping scripted traffic out of the human numbers;
 *   - any product token containing "bot", "crawler", "spider" or "preview",
 *     compared case-insensitively (except the phone brand "Cubot").
 *
 * device is "bot" whenever is_bot is set; browser and os are still derived
 * from the string (a bot may claim to be Chrome on Android), so the worker can
 * decide what to do with them. browser is "unknown" only for an empty user
 * agent; a non-empty one that names no known family is "Other".
 *
 * Known limit: iPadOS 13+ Safari sends a macOS desktop user agent by default,
 * so those iPads count as desktop/macOS; nothing in the header tells them apart. */
#ifndef WL_UA_H
#define WL_UA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a user agent that are examined; the rest is ignored. Real browser
 * user agents are 100-300 bytes, so the cap bounds the work per event. */
#define WL_UA_MAX_SCAN 512

typedef struct wl_ua_info {
    bool is_bot;
    const char *device;  /* "desktop" "mobile" "tablet" "bot" "unknown" */
    const char *browser; /* "Chrome" "Firefox" "Safari" "Edge" "Opera"
                            "Samsung Internet" "Other" "unknown" */
    const char *os;      /* "Windows" "macOS" "iOS" "Android" "Linux"
                            "ChromeOS" "unknown" */
} wl_ua_info;

/* Classifies the user agent ua[0..len) (need not be NUL-terminated; NULL with
 * len 0 is an empty user agent). method_is_head is nonzero for HEAD requests.
 * Always fills every field of *out. */
void wl_ua_classify(const char *ua, size_t len, uint8_t method_is_head, wl_ua_info *out);

/* Checks the invariant the classifier's table lookup relies on (its rules are
 * sorted). For the unit test; true when the table is well-formed. */
bool wl_ua_selfcheck(void);

#endif
