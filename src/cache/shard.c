/* shard.c - structure changes of one cache shard: bucket chains, the CLOCK
 * ring, eviction and growth (contract: shard.h; design: cache.c). */
#include "cache/shard.h"

#include <stdlib.h>

static void ring_insert(struct cache_shard *s, struct cache_entry *e)
{
    if (!s->hand) {
        e->prev = e->next = e;
        s->hand = e;
        return;
    }
    /* Just behind the hand: a new entry is the last the hand reaches. */
    e->next = s->hand;
    e->prev = s->hand->prev;
    e->prev->next = e;
    s->hand->prev = e;
}

static void ring_remove(struct cache_shard *s, struct cache_entry *e)
{
    if (e->next == e) {
        s->hand = NULL;
        return;
    }
    if (s->hand == e)
        s->hand = e->next;
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

void wl_cshard_link(struct cache_shard *s, struct cache_entry *e)
{
    struct cache_entry **head = &s->buckets[e->hash & s->bucket_mask];
    e->chain = *head;
    *head = e;
    ring_insert(s, e);
    counter_add_locked(&s->entries, 1);
    counter_add_locked(&s->bytes, (int64_t)entry_cost_of(e));
}

/* Unlinks *link (a pointer into a bucket chain) and pushes the entry onto
 * *garbage, to be freed once the lock is dropped. */
static void shard_unlink(struct cache_shard *s, struct cache_entry **link,
                         struct cache_entry **garbage)
{
    struct cache_entry *e = *link;
    *link = e->chain;
    ring_remove(s, e);
    counter_add_locked(&s->entries, -1);
    counter_add_locked(&s->bytes, -(int64_t)entry_cost_of(e));
    e->chain = *garbage;
    *garbage = e;
}

static struct cache_entry **chain_link_to(struct cache_shard *s, const struct cache_entry *e)
{
    struct cache_entry **link = &s->buckets[e->hash & s->bucket_mask];
    while (*link != e)
        link = &(*link)->chain;
    return link;
}

/* Removes key's entry, if any, plus any expired entries on the same chain. */
void wl_cshard_remove_key(struct cache_shard *s, uint64_t hash, const char *key, size_t key_len,
                          int64_t now_ms, struct cache_entry **garbage)
{
    struct cache_entry **link = &s->buckets[hash & s->bucket_mask];
    while (*link) {
        struct cache_entry *e = *link;
        if (entry_matches(e, hash, key, key_len)) {
            shard_unlink(s, link, garbage);
        } else if (entry_expired(e, now_ms)) {
            counter_add_locked(&s->expirations, 1);
            shard_unlink(s, link, garbage);
        } else {
            link = &e->chain;
        }
    }
}

/* Advances the CLOCK hand to the next victim. Ends within two laps: the
 * first clears every reference bit it passes. The shard must not be empty. */
static struct cache_entry *clock_victim(struct cache_shard *s, int64_t now_ms, bool *expired)
{
    for (;;) {
        struct cache_entry *e = s->hand;
        s->hand = e->next;
        if (entry_expired(e, now_ms)) {
            *expired = true;
            return e;
        }
        if (!atomic_load_explicit(&e->referenced, memory_order_relaxed)) {
            *expired = false;
            return e;
        }
        atomic_store_explicit(&e->referenced, 0, memory_order_relaxed);
    }
}

/* Evicts until `cost` more bytes fit in the shard's budget. */
void wl_cshard_make_room(struct cache_shard *s, size_t budget, size_t cost, int64_t now_ms,
                         struct cache_entry **garbage)
{
    while (load_counter(&s->bytes) + cost > budget) {
        bool expired;
        struct cache_entry *victim = clock_victim(s, now_ms, &expired);
        counter_add_locked(expired ? &s->expirations : &s->evictions, 1);
        shard_unlink(s, chain_link_to(s, victim), garbage);
    }
}

/* Doubles the bucket array once entries outnumber buckets. Failing to grow
 * only lengthens chains, so an allocation failure is ignored. */
void wl_cshard_maybe_grow(struct cache_shard *s)
{
    size_t n = s->bucket_mask + 1;
    if (load_counter(&s->entries) < n || n > SIZE_MAX / 2 / sizeof(*s->buckets))
        return;
    struct cache_entry **fresh = calloc(n * 2, sizeof(*fresh));
    if (!fresh)
        return;
    size_t mask = n * 2 - 1;
    for (size_t i = 0; i < n; i++) {
        struct cache_entry *e = s->buckets[i];
        while (e) {
            struct cache_entry *next = e->chain;
            e->chain = fresh[e->hash & mask];
            fresh[e->hash & mask] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = fresh;
    s->bucket_mask = mask;
}

void wl_cshard_free_entries(struct cache_entry *list)
{
    while (list) {
        struct cache_entry *next = list->chain;
        free(list);
        list = next;
    }
}

wl_status wl_cshard_init(struct cache_shard *s)
{
    memset(s, 0, sizeof(*s));
    s->buckets = calloc(INITIAL_BUCKETS, sizeof(*s->buckets));
    if (!s->buckets)
        return WL_ENOMEM;
    s->bucket_mask = INITIAL_BUCKETS - 1;

    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0) {
        free(s->buckets);
        return WL_ENOMEM;
    }
    /* Writer preference: see "Readers" above. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(s->buckets);
        return WL_ENOMEM;
    }
    return WL_OK;
}

void wl_cshard_release(struct cache_shard *s)
{
    for (size_t i = 0; i <= s->bucket_mask; i++)
        wl_cshard_free_entries(s->buckets[i]);
    free(s->buckets);
    pthread_rwlock_destroy(&s->lock);
}
