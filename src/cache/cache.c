/* cache.c - the sharded, byte-bounded read cache (M3).
 *
 * DESIGN
 *
 * Sharding. A key is hashed once with SipHash (libsodium crypto_shorthash)
 * under a random per-cache key, so a client that chooses keys cannot aim them
 * all at one chain. The top bits of the hash pick the shard, the low bits the
 * bucket, so the two choices are independent.
 *
 * Shard. A pthread rwlock, a chained hash table (power-of-two buckets, grown
 * x2 when the entry count passes the bucket count) and a CLOCK ring of the same
 * entries. Each shard owns max_bytes / shards bytes of budget.
 *
 * Readers. wl_cache_get() try-locks for reading and returns WL_EBUSY rather
 * than wait. The lock prefers writers, so a steady stream of gets cannot starve
 * an invalidation: a get that arrives while a writer waits simply reports busy
 * and the caller reads the store. Under the read lock the only shared store a
 * get makes is the entry's reference bit (a relaxed atomic, written only when
 * it is clear, so hot entries do not bounce their cache line) and the shard's
 * counters (relaxed atomic adds). Nothing is allocated or unlinked.
 *
 * Writers. put/put_negative/invalidate allocate the new entry before taking
 * the write lock and free replaced or evicted entries after dropping it, so
 * the lock is held only for pointer surgery. Eviction is CLOCK: the hand walks
 * the ring; a referenced entry loses its bit and is skipped once, an
 * unreferenced one is evicted. An expired entry is a victim whatever its bit,
 * and writers also drop expired entries they meet on a bucket chain.
 *
 * Time. Puts carry an expiry but no "now". For their housekeeping writers use
 * the latest now_ms any get has passed in (now_hint), so the cache lives on
 * whatever clock its callers use - wall time in the server, made-up times in
 * tests. Until the first get nothing counts as expired for eviction.
 *
 * Accounting. An entry costs key_len + value_len + ENTRY_OVERHEAD, where the
 * overhead is the entry header plus one bucket pointer (the table is kept at
 * load factor <= 1). malloc's own header and rounding are not counted. */
#include "cache/cache.h"

#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache/shard.h"

#define DEFAULT_SHARDS 64u
#define MAX_SHARDS 65536u
#define KEY_MAX UCHAR_MAX /* key_len is stored in one byte */

struct wl_cache {
    struct cache_shard *shards;
    unsigned shard_count;
    unsigned shard_shift; /* 64 - log2(shard_count) */
    size_t shard_budget;  /* bytes per shard */
    size_t max_bytes;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    alignas(CACHE_LINE) atomic_int_least64_t now_hint; /* see "Time" above */
};

/* Callers pass key != NULL (an empty key is ""), so no NULL reaches
 * memcpy/memcmp or pointer arithmetic. */
static uint64_t hash_key(const wl_cache *c, const char *key, size_t key_len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)key, key_len, c->hash_key);
    memcpy(&h, out, sizeof(h));
    return h;
}

static inline struct cache_shard *shard_of(const wl_cache *c, uint64_t hash)
{
    /* A shift by 64 is undefined, so one shard needs its own case. */
    return &c->shards[c->shard_count == 1 ? 0 : hash >> c->shard_shift];
}

/* ---- lifecycle -------------------------------------------------------- */

static unsigned log2_of(unsigned pow2)
{
    unsigned bits = 0;
    while ((1u << bits) < pow2)
        bits++;
    return bits;
}

wl_status wl_cache_new(size_t max_bytes, unsigned shards, wl_cache **out)
{
    if (!out)
        return WL_EINVAL;
    *out = NULL;
    if (shards == 0)
        shards = DEFAULT_SHARDS;
    if (shards > MAX_SHARDS || (shards & (shards - 1)) != 0)
        return WL_EINVAL;
    /* A shard must hold at least one entry with a one-byte key. */
    if (max_bytes / shards < entry_cost(1, 0))
        return WL_EINVAL;
    if (sodium_init() < 0)
        return WL_EIO;

    wl_cache *c = aligned_alloc(CACHE_LINE, sizeof(*c));
    if (!c)
        return WL_ENOMEM;
    memset(c, 0, sizeof(*c));
    c->shards = aligned_alloc(CACHE_LINE, shards * sizeof(*c->shards));
    if (!c->shards) {
        free(c);
        return WL_ENOMEM;
    }
    c->shard_count = shards;
    c->shard_shift = 64 - log2_of(shards);
    c->shard_budget = max_bytes / shards;
    c->max_bytes = max_bytes;
    crypto_shorthash_keygen(c->hash_key);
    atomic_init(&c->now_hint, INT64_MIN);

    for (unsigned i = 0; i < shards; i++) {
        if (wl_cshard_init(&c->shards[i]) != WL_OK) {
            c->shard_count = i; /* release only the ones made */
            wl_cache_free(c);
            return WL_ENOMEM;
        }
    }
    *out = c;
    return WL_OK;
}

void wl_cache_free(wl_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->shard_count; i++)
        wl_cshard_release(&c->shards[i]);
    free(c->shards);
    free(c);
}

/* ---- get (the hot path) ----------------------------------------------- */

/* Records now_ms for writers' housekeeping. Stores only when time moved on,
 * i.e. about once per millisecond, so the line stays shared between cores.
 * Two racing stores may leave the smaller value; that only delays eviction
 * of an expired entry by a millisecond. */
static inline void note_time(wl_cache *c, int64_t now_ms)
{
    if (now_ms > atomic_load_explicit(&c->now_hint, memory_order_relaxed))
        atomic_store_explicit(&c->now_hint, now_ms, memory_order_relaxed);
}

static inline void entry_touch(struct cache_entry *e)
{
    if (!atomic_load_explicit(&e->referenced, memory_order_relaxed))
        atomic_store_explicit(&e->referenced, 1, memory_order_relaxed);
}

/* Answers from a found, unexpired entry. Read lock held. */
static wl_status entry_answer(struct cache_shard *s, struct cache_entry *e, char *buf, size_t cap,
                              size_t *len)
{
    entry_touch(e);
    if (e->negative) {
        counter_inc(&s->negative_hits);
        return WL_ENOTFOUND;
    }
    counter_inc(&s->hits);
    if (len)
        *len = e->value_len;
    if (e->value_len > cap)
        return WL_ETOOBIG;
    if (e->value_len)
        memcpy(buf, e->bytes + e->key_len, e->value_len);
    return WL_OK;
}

wl_status wl_cache_get(wl_cache *c, const char *key, size_t key_len, int64_t now_ms, char *buf,
                       size_t cap, size_t *len)
{
    if (!c || (!key && key_len) || (!buf && cap))
        return WL_EINVAL;
    if (key_len > KEY_MAX)
        return WL_EAGAIN; /* could never have been put */
    if (!key)
        key = "";

    uint64_t hash = hash_key(c, key, key_len);
    struct cache_shard *s = shard_of(c, hash);
    note_time(c, now_ms);

    if (pthread_rwlock_tryrdlock(&s->lock) != 0) {
        counter_inc(&s->busy);
        return WL_EBUSY;
    }
    struct cache_entry *e = shard_find(s, hash, key, key_len);
    wl_status st;
    if (!e || entry_expired(e, now_ms)) {
        counter_inc(&s->misses);
        st = WL_EAGAIN;
    } else {
        st = entry_answer(s, e, buf, cap, len);
    }
    pthread_rwlock_unlock(&s->lock);
    return st;
}

/* ---- writers ---------------------------------------------------------- */

static struct cache_entry *entry_new(uint64_t hash, const char *key, size_t key_len,
                                     const char *value, size_t value_len, bool negative,
                                     int64_t expires_ms)
{
    struct cache_entry *e = malloc(sizeof(*e) + key_len + value_len);
    if (!e)
        return NULL;
    e->chain = e->prev = e->next = NULL;
    e->hash = hash;
    e->expires_ms = expires_ms;
    e->value_len = (uint32_t)value_len;
    e->key_len = (uint8_t)key_len;
    e->negative = negative;
    atomic_init(&e->referenced, 0);
    if (key_len)
        memcpy(e->bytes, key, key_len);
    if (value_len)
        memcpy(e->bytes + key_len, value, value_len);
    return e;
}

static wl_status cache_insert(wl_cache *c, const char *key, size_t key_len, const char *value,
                              size_t value_len, bool negative, int64_t expires_ms,
                              const uint64_t *token)
{
    if (!c || (!key && key_len) || (!value && value_len))
        return WL_EINVAL;
    /* Checked one by one so entry_cost() cannot overflow. */
    if (key_len > KEY_MAX || value_len > c->shard_budget || value_len > UINT32_MAX ||
        entry_cost(key_len, value_len) > c->shard_budget)
        return WL_ETOOBIG;
    if (!key)
        key = "";

    uint64_t hash = hash_key(c, key, key_len);
    struct cache_entry *fresh =
        entry_new(hash, key, key_len, value, value_len, negative, expires_ms);
    if (!fresh)
        return WL_ENOMEM;

    struct cache_shard *s = shard_of(c, hash);
    int64_t now_ms = atomic_load_explicit(&c->now_hint, memory_order_relaxed);
    struct cache_entry *garbage = NULL;

    pthread_rwlock_wrlock(&s->lock);
    if (token && atomic_load_explicit(&s->invalidations, memory_order_relaxed) != *token) {
        /* A write invalidated this shard after the caller read the store:
         * what the caller read may be stale, so it is not cached. */
        pthread_rwlock_unlock(&s->lock);
        wl_cshard_free_entries(fresh);
        return WL_EBUSY;
    }
    wl_cshard_remove_key(s, hash, key, key_len, now_ms, &garbage);
    wl_cshard_make_room(s, c->shard_budget, entry_cost_of(fresh), now_ms, &garbage);
    wl_cshard_maybe_grow(s);
    wl_cshard_link(s, fresh);
    pthread_rwlock_unlock(&s->lock);

    wl_cshard_free_entries(garbage);
    return WL_OK;
}

wl_status wl_cache_put(wl_cache *c, const char *key, size_t key_len, const char *value,
                       size_t value_len, int64_t expires_ms)
{
    return cache_insert(c, key, key_len, value, value_len, false, expires_ms, NULL);
}

wl_status wl_cache_put_negative(wl_cache *c, const char *key, size_t key_len, int64_t expires_ms)
{
    return cache_insert(c, key, key_len, NULL, 0, true, expires_ms, NULL);
}

uint64_t wl_cache_fill_token(wl_cache *c, const char *key, size_t key_len)
{
    if (!c || (!key && key_len) || key_len > KEY_MAX)
        return 0;
    struct cache_shard *s = shard_of(c, hash_key(c, key ? key : "", key_len));
    return atomic_load_explicit(&s->invalidations, memory_order_acquire);
}

wl_status wl_cache_put_if(wl_cache *c, const char *key, size_t key_len, const char *value,
                          size_t value_len, int64_t expires_ms, uint64_t token)
{
    return cache_insert(c, key, key_len, value, value_len, false, expires_ms, &token);
}

wl_status wl_cache_put_negative_if(wl_cache *c, const char *key, size_t key_len, int64_t expires_ms,
                                   uint64_t token)
{
    return cache_insert(c, key, key_len, NULL, 0, true, expires_ms, &token);
}

void wl_cache_invalidate(wl_cache *c, const char *key, size_t key_len)
{
    if (!c || (!key && key_len) || key_len > KEY_MAX)
        return;
    if (!key)
        key = "";
    uint64_t hash = hash_key(c, key, key_len);
    struct cache_shard *s = shard_of(c, hash);
    int64_t now_ms = atomic_load_explicit(&c->now_hint, memory_order_relaxed);
    struct cache_entry *garbage = NULL;

    pthread_rwlock_wrlock(&s->lock);
    atomic_fetch_add_explicit(&s->invalidations, 1, memory_order_release);
    wl_cshard_remove_key(s, hash, key, key_len, now_ms, &garbage);
    pthread_rwlock_unlock(&s->lock);

    wl_cshard_free_entries(garbage);
}

/* ---- stats ------------------------------------------------------------ */

size_t wl_cache_entry_overhead(void)
{
    return ENTRY_OVERHEAD;
}

void wl_cache_stats_get(wl_cache *c, wl_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    for (unsigned i = 0; i < c->shard_count; i++) {
        struct cache_shard *s = &c->shards[i];
        out->hits += load_counter(&s->hits);
        out->negative_hits += load_counter(&s->negative_hits);
        out->misses += load_counter(&s->misses);
        out->busy += load_counter(&s->busy);
        out->evictions += load_counter(&s->evictions);
        out->expirations += load_counter(&s->expirations);
        out->entries += load_counter(&s->entries);
        out->bytes += load_counter(&s->bytes);
    }
    out->max_bytes = c->max_bytes;
}
