/* enrich_memo.h - memoised enrichment for the analytics worker.
 *
 * User-agent classification (ua.h) and referrer hosts (referrer.h) are pure
 * functions of one field, and a few distinct values make up most traffic,
 * so each has a small direct-mapped memo keyed by a hash of the bytes. A
 * hit compares the bytes in full: a collision costs a miss, never a wrong
 * answer. The memo only caches results; nothing in it affects what is
 * committed.
 *
 * Owned by one worker, used by its thread only. Results point into the
 * memo (or into buf) and stay valid until the next call. */
#ifndef WL_ANALYTICS_ENRICH_MEMO_H
#define WL_ANALYTICS_ENRICH_MEMO_H

#include <stdbool.h>
#include <stddef.h>

#include "analytics/referrer.h"
#include "analytics/ua.h"

typedef struct wl_enrich_memo wl_enrich_memo;

/* Out of memory aborts (wl_xcalloc). */
wl_enrich_memo *wl_enrich_memo_new(void);
/* NULL is a no-op. */
void wl_enrich_memo_free(wl_enrich_memo *m);

/* wl_ua_classify() of ua[0..len) (it reads at most WL_UA_MAX_SCAN bytes,
 * so only those and head are the key). */
const wl_ua_info *wl_enrich_memo_ua(wl_enrich_memo *m, const char *ua, size_t len, bool head);

/* The referrer's host (wl_referrer_host()), "" when it has none; memoised
 * when the referrer is short enough, else written to buf. */
const char *wl_enrich_memo_referrer(wl_enrich_memo *m, const char *ref, size_t len,
                                    char buf[WL_REFERRER_HOST_MAX + 1]);

#endif
