/* ratelimit.c - sharded token buckets with bounded, LRU-recycled slots. */
#include "core/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define SHARDS 16
#define KEY_MAX 48

typedef struct bucket {
    char key[KEY_MAX];
    uint8_t key_len;
    bool used;
    double tokens;
    int64_t updated_ms;
} bucket;

typedef struct shard {
    pthread_mutex_t lock;
    bucket *slots;
    unsigned nslots;
} shard;

struct wl_ratelimit {
    double rate;
    unsigned burst;
    shard shards[SHARDS];
};

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: keys are not attacker-costly here */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

wl_status wl_ratelimit_new(double rate, unsigned burst, unsigned max_keys, wl_ratelimit **out)
{
    wl_ratelimit *rl = wl_xcalloc(1, sizeof(*rl));
    rl->rate = rate;
    rl->burst = burst ? burst : 1;
    unsigned per = max_keys / SHARDS + 1;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].lock, NULL);
        rl->shards[i].slots = wl_xcalloc(per, sizeof(bucket));
        rl->shards[i].nslots = per;
    }
    *out = rl;
    return WL_OK;
}

void wl_ratelimit_free(wl_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_destroy(&rl->shards[i].lock);
        free(rl->shards[i].slots);
    }
    free(rl);
}

/* Finds key's bucket, or recycles the stalest slot for it. Linear scan: a
 * shard holds few hundred slots and this runs on offload threads only. */
static bucket *find_bucket(wl_ratelimit *rl, shard *s, const char *key, size_t n, int64_t now)
{
    bucket *oldest = &s->slots[0];
    for (unsigned i = 0; i < s->nslots; i++) {
        bucket *b = &s->slots[i];
        if (b->used && b->key_len == n && memcmp(b->key, key, n) == 0)
            return b;
        if (!b->used || (oldest->used && b->updated_ms < oldest->updated_ms))
            oldest = b;
    }
    memset(oldest, 0, sizeof(*oldest));
    oldest->used = true;
    memcpy(oldest->key, key, n);
    oldest->key_len = (uint8_t)n;
    oldest->tokens = rl->burst;
    oldest->updated_ms = now;
    return oldest;
}

bool wl_ratelimit_take(wl_ratelimit *rl, const char *key, size_t key_len, int64_t now_ms,
                       unsigned *retry_after_s)
{
    if (rl->rate <= 0)
        return true;
    if (key_len > KEY_MAX)
        key_len = KEY_MAX;
    shard *s = &rl->shards[hash_key(key, key_len) % SHARDS];
    pthread_mutex_lock(&s->lock);
    bucket *b = find_bucket(rl, s, key, key_len, now_ms);
    double elapsed = (double)(now_ms - b->updated_ms) / 1000.0;
    if (elapsed > 0)
        b->tokens = fmin((double)rl->burst, b->tokens + elapsed * rl->rate);
    b->updated_ms = now_ms;
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else if (retry_after_s)
        *retry_after_s = (unsigned)ceil((1.0 - b->tokens) / rl->rate);
    pthread_mutex_unlock(&s->lock);
    if (!ok && retry_after_s && *retry_after_s == 0)
        *retry_after_s = 1;
    return ok;
}

void wl_ratelimit_refund(wl_ratelimit *rl, const char *key, size_t key_len)
{
    if (key_len > KEY_MAX)
        key_len = KEY_MAX;
    shard *s = &rl->shards[hash_key(key, key_len) % SHARDS];
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->nslots; i++) {
        bucket *b = &s->slots[i];
        if (b->used && b->key_len == key_len && memcmp(b->key, key, key_len) == 0)
            b->tokens = fmin((double)rl->burst, b->tokens + 1.0);
    }
    pthread_mutex_unlock(&s->lock);
}
