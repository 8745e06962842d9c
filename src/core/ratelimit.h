/* ratelimit.h - token buckets keyed by a short string (client IP, API key).
 *
 * A bucket holds up to `burst` tokens and refills at `rate` per second; a
 * request takes one token or is refused with the seconds until one is back
 * (for Retry-After). The table is bounded (max_keys): when full, the
 * least-recently-touched bucket is recycled, which can only make a limit
 * more lenient for a key idle long enough to be the oldest. Thread-safe:
 * sharded, one mutex per shard. */
#ifndef WL_RATELIMIT_H
#define WL_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct wl_ratelimit wl_ratelimit;

/* rate 0 disables the limiter (every take succeeds). */
wl_status wl_ratelimit_new(double rate, unsigned burst, unsigned max_keys, wl_ratelimit **out);
void wl_ratelimit_free(wl_ratelimit *rl);
/* Takes a token for key at now_ms. Returns true when allowed; otherwise
 * *retry_after_s (>= 1) says when to come back. */
bool wl_ratelimit_take(wl_ratelimit *rl, const char *key, size_t key_len, int64_t now_ms,
                       unsigned *retry_after_s);
/* Gives one token back (e.g. a login that succeeded costs nothing, so only
 * failures drain the bucket). */
void wl_ratelimit_refund(wl_ratelimit *rl, const char *key, size_t key_len);

#endif
