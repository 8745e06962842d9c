/* shard.h - one shard of the read cache: its entries, its chained hash
 * table and its CLOCK ring (internal to src/cache; cache.c explains the
 * design, its locking and its accounting).
 *
 * cache.c owns the locking: every function here expects the shard's write
 * lock held, except wl_cshard_init/release (no other thread may use the
 * shard then) and shard_find (read or write lock). Entries removed under
 * the lock are pushed onto a caller's `garbage` list and freed with
 * wl_cshard_free_entries() once the lock is dropped. */
#ifndef WL_CACHE_SHARD_H
#define WL_CACHE_SHARD_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/status.h"

#define INITIAL_BUCKETS 16u
#define CACHE_LINE 64

/* One cached key. Allocated by a writer in one block (header, key, value) and
 * freed by a writer after it is unlinked under the write lock; readers only
 * look at it while holding the read lock. Every field except `referenced` is
 * immutable once the entry is linked. */
struct cache_entry {
    struct cache_entry *chain;       /* next in the bucket chain */
    struct cache_entry *prev, *next; /* CLOCK ring neighbours */
    uint64_t hash;
    int64_t expires_ms; /* valid while now_ms < expires_ms */
    uint32_t value_len;
    uint8_t key_len;
    bool negative;
    atomic_uchar referenced; /* set by gets, cleared by the CLOCK hand */
    char bytes[];            /* key_len bytes of key, then value_len of value */
};

#define ENTRY_OVERHEAD (sizeof(struct cache_entry) + sizeof(struct cache_entry *))

/* A shard. Aligned to a cache line so neighbouring shards' locks and counters
 * do not share one. The table and ring are guarded by `lock`; the counters are
 * atomics so wl_cache_stats_get() can read them without it. */
struct cache_shard {
    alignas(CACHE_LINE) pthread_rwlock_t lock;
    struct cache_entry **buckets;
    size_t bucket_mask;
    struct cache_entry *hand; /* next entry the CLOCK hand examines */
    atomic_uint_fast64_t hits, negative_hits, misses, busy;
    atomic_uint_fast64_t evictions, expirations, entries, bytes;
    atomic_uint_fast64_t invalidations; /* fill tokens: see wl_cache_fill_token() */
};

static inline void counter_inc(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* For counters only written under the shard's write lock: a load and a store
 * are enough and cheaper than a locked add. */
static inline void counter_add_locked(atomic_uint_fast64_t *c, int64_t delta)
{
    uint_fast64_t v = atomic_load_explicit(c, memory_order_relaxed);
    atomic_store_explicit(c, v + (uint_fast64_t)delta, memory_order_relaxed);
}

static inline uint64_t load_counter(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static inline size_t entry_cost(size_t key_len, size_t value_len)
{
    return ENTRY_OVERHEAD + key_len + value_len;
}

static inline size_t entry_cost_of(const struct cache_entry *e)
{
    return entry_cost(e->key_len, e->value_len);
}

static inline bool entry_matches(const struct cache_entry *e, uint64_t hash, const char *key,
                                 size_t key_len)
{
    return e->hash == hash && e->key_len == key_len && memcmp(e->bytes, key, key_len) == 0;
}

static inline bool entry_expired(const struct cache_entry *e, int64_t now_ms)
{
    return e->expires_ms <= now_ms;
}

/* ---- lookup (read or write lock held) --------------------------------- */

static inline struct cache_entry *shard_find(const struct cache_shard *s, uint64_t hash,
                                             const char *key, size_t key_len)
{
    for (struct cache_entry *e = s->buckets[hash & s->bucket_mask]; e; e = e->chain)
        if (entry_matches(e, hash, key, key_len))
            return e;
    return NULL;
}

/* ---- structure changes (write lock held; shard.c) ----------------------- */

/* Links e (not yet in the shard) into its bucket chain and the ring. */
void wl_cshard_link(struct cache_shard *s, struct cache_entry *e);
/* Removes key's entry, if any, plus any expired entries on the same chain. */
void wl_cshard_remove_key(struct cache_shard *s, uint64_t hash, const char *key, size_t key_len,
                          int64_t now_ms, struct cache_entry **garbage);
/* Evicts (CLOCK) until `cost` more bytes fit in the shard's budget. */
void wl_cshard_make_room(struct cache_shard *s, size_t budget, size_t cost, int64_t now_ms,
                         struct cache_entry **garbage);
/* Doubles the bucket array once entries outnumber buckets. */
void wl_cshard_maybe_grow(struct cache_shard *s);
/* Frees a garbage list (linked through `chain`). */
void wl_cshard_free_entries(struct cache_entry *list);

/* ---- lifecycle (shard.c) ------------------------------------------------ */

/* WL_ENOMEM when the table or the lock cannot be set up. */
wl_status wl_cshard_init(struct cache_shard *s);
/* Frees every entry, the table and the lock. */
void wl_cshard_release(struct cache_shard *s);

#endif
