/* kgs.c - batched, lock-free random key generation.
 *
 * Design: each refill draws a pool of random bytes from libsodium and maps
 * each byte to one base62 character by rejection sampling. 256 = 4 * 62 + 8,
 * so "byte % 62" alone would make the first 8 alphabet characters appear
 * with probability 5/256 instead of 4/256 (25% more often): the keys would
 * be biased and easier to guess. Accepting only bytes < 248 (= 4 * 62) makes
 * every character exactly equally likely; 3% of bytes are thrown away, and
 * the pool is topped up if rejections exhaust it.
 *
 * The issued counter is bumped once per key with a relaxed atomic add rather
 * than once per batch: keys are only issued by link creation, which costs a
 * synced database write, so the atomic add is noise there, and the counter
 * stays exact (a batched counter would read 0 or 256 after 3 creations). */
#include "core/kgs.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alias.h"

/* Random bytes per pool draw: one batch needs WL_KGS_BATCH * WL_KEY_LEN =
 * 1792 accepted bytes, about 1850 drawn, so one draw almost always does. */
#define KGS_POOL_BYTES 2048
#define KGS_ACCEPT_BELOW 248 /* largest multiple of 62 that fits in a byte */

static const char kgs_alphabet[62] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static atomic_uint_fast64_t kgs_collision_count;
static atomic_uint_fast64_t kgs_issued_count;
static atomic_bool kgs_sodium_ready;

typedef struct kgs_pool {
    unsigned char bytes[KGS_POOL_BYTES];
    size_t used;
} kgs_pool;

/* main() calls sodium_init(), but tests and tools may not: sodium_init() is
 * idempotent and thread-safe, so calling it once from here is harmless. */
static void kgs_ensure_sodium(void)
{
    if (atomic_load_explicit(&kgs_sodium_ready, memory_order_acquire))
        return;
    if (sodium_init() < 0)
        abort(); /* no CSPRNG: issuing predictable keys would be worse */
    atomic_store_explicit(&kgs_sodium_ready, true, memory_order_release);
}

static unsigned char kgs_pool_byte(kgs_pool *p)
{
    if (p->used == sizeof p->bytes) {
        randombytes_buf(p->bytes, sizeof p->bytes);
        p->used = 0;
    }
    return p->bytes[p->used++];
}

/* One unbiased character: bytes >= 248 are redrawn, the rest split evenly
 * into 62 classes of 4. */
static char kgs_pool_char(kgs_pool *p)
{
    unsigned char b;
    do
        b = kgs_pool_byte(p);
    while (b >= KGS_ACCEPT_BELOW);
    return kgs_alphabet[b % 62];
}

static void kgs_make_key(kgs_pool *p, char key[WL_KEY_LEN])
{
    do {
        for (size_t i = 0; i < WL_KEY_LEN; i++)
            key[i] = kgs_pool_char(p);
    } while (wl_alias_check(key, WL_KEY_LEN) == WL_ALIAS_RESERVED);
}

static void kgs_refill(wl_kgs *k)
{
    kgs_pool pool;
    pool.used = sizeof pool.bytes; /* empty: the first byte triggers a draw */
    kgs_ensure_sodium();
    for (size_t i = 0; i < WL_KGS_BATCH; i++)
        kgs_make_key(&pool, k->keys[i]);
    k->next = 0;
}

void wl_kgs_init(wl_kgs *k)
{
    memset(k->keys, 0, sizeof k->keys);
    k->next = WL_KGS_BATCH;
}

void wl_kgs_next(wl_kgs *k, char out[WL_KEY_LEN])
{
    if (k->next >= WL_KGS_BATCH)
        kgs_refill(k);
    memcpy(out, k->keys[k->next], WL_KEY_LEN);
    k->next++;
    atomic_fetch_add_explicit(&kgs_issued_count, 1, memory_order_relaxed);
}

void wl_kgs_note_collision(void)
{
    atomic_fetch_add_explicit(&kgs_collision_count, 1, memory_order_relaxed);
}

uint64_t wl_kgs_collisions(void)
{
    return atomic_load_explicit(&kgs_collision_count, memory_order_relaxed);
}

uint64_t wl_kgs_issued(void)
{
    return atomic_load_explicit(&kgs_issued_count, memory_order_relaxed);
}
