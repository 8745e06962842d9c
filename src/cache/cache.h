/* cache.h - the in-process read cache in front of the URL store (M3).
 *
 * Cache-aside: the redirect path asks the cache, on a miss reads the store and
 * puts the answer back; unknown keys are put as negative entries with a short
 * TTL so a flood of bad keys does not reach the store.
 *
 * Bounded by bytes (keys + values + a fixed per-entry overhead), evicting
 * entries of a shard not read since the CLOCK hand last passed them (an
 * approximation of least recently used) when a put would exceed its share;
 * expired entries go first. Sharded by key hash; every call is thread-safe.
 *
 * wl_cache_get() never blocks and never allocates: it try-locks the key's
 * shard for reading and, if a writer holds or awaits it, reports WL_EBUSY so
 * the caller can read the store instead of waiting. Writers block.
 *
 * Keys are at most 255 bytes. The cache copies keys and values on put; get
 * copies out into the caller's buffer, so no pointer into the cache is ever
 * handed out and entries may be freed as soon as a writer unlinks them.
 *
 * Time: an entry is valid while now_ms < expires_ms. Puts have no "now"; for
 * housekeeping (dropping expired entries) writers use the latest now_ms passed
 * to any get, so callers should use one clock for both. */
#ifndef WL_CACHE_H
#define WL_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct wl_cache wl_cache;

typedef struct wl_cache_stats {
    uint64_t hits;          /* positive hits */
    uint64_t negative_hits; /* negative entries found */
    uint64_t misses;        /* absent or expired */
    uint64_t busy;          /* gets that found their shard write-locked */
    uint64_t evictions;     /* entries dropped to make room */
    uint64_t expirations;   /* entries dropped because their TTL passed */
    uint64_t entries;
    uint64_t bytes;
    uint64_t max_bytes;
} wl_cache_stats;

/* max_bytes: total budget (split evenly over shards). shards: power of two up
 * to 65536, 0 picks the default (64). WL_EINVAL when shards is not a power of
 * two or a shard's share cannot hold one entry. The caller owns *out and
 * releases it with wl_cache_free() once no other thread uses it. */
wl_status wl_cache_new(size_t max_bytes, unsigned shards, wl_cache **out);
void wl_cache_free(wl_cache *c);

/* Looks key up at time now_ms. len may be NULL if the length is not wanted.
 *  WL_OK        positive entry: value copied to buf, *len set
 *  WL_ENOTFOUND negative entry (known unknown)
 *  WL_EAGAIN    not cached (or expired, or key longer than 255 bytes)
 *  WL_EBUSY     shard is being written: treat as a miss, do not wait
 *  WL_ETOOBIG   value longer than cap (*len says how long; counted as a hit)
 *  WL_EINVAL    c NULL, or NULL key/buf with a non-zero length */
wl_status wl_cache_get(wl_cache *c, const char *key, size_t key_len, int64_t now_ms, char *buf,
                       size_t cap, size_t *len);

/* Inserts or replaces key -> value until expires_ms. Copies both.
 * WL_ETOOBIG when the key is longer than 255 bytes or the entry alone exceeds
 * a shard's budget; WL_ENOMEM when the entry cannot be allocated (the old
 * entry, if any, is then left in place). */
wl_status wl_cache_put(wl_cache *c, const char *key, size_t key_len, const char *value,
                       size_t value_len, int64_t expires_ms);

/* Inserts or replaces a negative entry for key until expires_ms. */
wl_status wl_cache_put_negative(wl_cache *c, const char *key, size_t key_len, int64_t expires_ms);

/* Race-free cache-aside fill. A reader that misses takes a token BEFORE it
 * reads the store and passes it to the *_if puts; a put is dropped
 * (WL_EBUSY) when the key's shard saw an invalidation since the token was
 * taken, because the store value read may predate that write. Writers
 * commit to the store first, then call wl_cache_invalidate(). Tokens are per
 * shard, so an unrelated invalidation only costs one uncached answer. */
uint64_t wl_cache_fill_token(wl_cache *c, const char *key, size_t key_len);
wl_status wl_cache_put_if(wl_cache *c, const char *key, size_t key_len, const char *value,
                          size_t value_len, int64_t expires_ms, uint64_t token);
wl_status wl_cache_put_negative_if(wl_cache *c, const char *key, size_t key_len, int64_t expires_ms,
                                   uint64_t token);

/* Removes key (positive or negative). */
void wl_cache_invalidate(wl_cache *c, const char *key, size_t key_len);

/* The fixed bytes charged per entry on top of key_len + value_len (the entry
 * header and its bucket slot), for sizing max_bytes. */
size_t wl_cache_entry_overhead(void);

/* Sums the counters of all shards (relaxed reads: a snapshot, not atomic). */
void wl_cache_stats_get(wl_cache *c, wl_cache_stats *out);

#endif
