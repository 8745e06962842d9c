/* test_cache.c - unit tests for the read cache (src/cache/cache.c).
 *
 * The file under test is #included (as h2o's unit tests do) so that tests can
 * reach a shard's lock and the entry size without test-only public API; the
 * linker then takes no cache.o from libwarplink.a. Times are passed in
 * explicitly: nothing here sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache.c"

#define FOREVER INT64_MAX
#define NOW 1

/* ---- helpers ---------------------------------------------------------- */

static wl_cache *new_cache(size_t max_bytes, unsigned shards)
{
    wl_cache *c = NULL;
    assert_int_equal(wl_cache_new(max_bytes, shards, &c), WL_OK);
    assert_non_null(c);
    return c;
}

static wl_status put_str(wl_cache *c, const char *key, const char *value, int64_t expires_ms)
{
    return wl_cache_put(c, key, strlen(key), value, strlen(value), expires_ms);
}

static wl_status get_at(wl_cache *c, const char *key, int64_t now_ms)
{
    char buf[64];
    size_t len = 0;
    return wl_cache_get(c, key, strlen(key), now_ms, buf, sizeof(buf), &len);
}

static void assert_get_str(wl_cache *c, const char *key, int64_t now_ms, const char *want)
{
    char buf[256];
    size_t len = 0;
    assert_int_equal(wl_cache_get(c, key, strlen(key), now_ms, buf, sizeof(buf), &len), WL_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);
}

static wl_cache_stats stats_of(wl_cache *c)
{
    wl_cache_stats st;
    wl_cache_stats_get(c, &st);
    return st;
}

/* ---- basic contract --------------------------------------------------- */

static void test_new_rejects_bad_arguments(void **state)
{
    (void)state;
    wl_cache *c = NULL;
    assert_int_equal(wl_cache_new(1 << 20, 3, &c), WL_EINVAL);
    assert_int_equal(wl_cache_new(1 << 20, 1u << 17, &c), WL_EINVAL);
    assert_int_equal(wl_cache_new(10, 1, &c), WL_EINVAL); /* cannot hold one entry */
    assert_null(c);
    assert_int_equal(wl_cache_new(1 << 20, 0, &c), WL_OK); /* default shard count */
    assert_int_equal(c->shard_count, DEFAULT_SHARDS);
    wl_cache_free(c);
    wl_cache_free(NULL);
}

static void test_put_get_replace(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 0);
    assert_int_equal(get_at(c, "abc", NOW), WL_EAGAIN);

    assert_int_equal(put_str(c, "abc", "https://example.com/one", FOREVER), WL_OK);
    assert_get_str(c, "abc", NOW, "https://example.com/one");

    assert_int_equal(put_str(c, "abc", "https://example.com/2", FOREVER), WL_OK);
    assert_get_str(c, "abc", NOW, "https://example.com/2");

    /* A key that is a prefix of another is a different key. */
    assert_int_equal(get_at(c, "ab", NOW), WL_EAGAIN);

    wl_cache_stats st = stats_of(c);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, wl_cache_entry_overhead() + 3 + strlen("https://example.com/2"));
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.max_bytes, 1 << 20);
    wl_cache_free(c);
}

static void test_empty_value_and_empty_key(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 4);
    assert_int_equal(wl_cache_put(c, "", 0, "v", 1, FOREVER), WL_OK);
    assert_int_equal(wl_cache_put(c, "k", 1, NULL, 0, FOREVER), WL_OK);
    char buf[4];
    size_t len = 99;
    assert_int_equal(wl_cache_get(c, "", 0, NOW, buf, sizeof(buf), &len), WL_OK);
    assert_int_equal(len, 1);
    assert_int_equal(wl_cache_get(c, "k", 1, NOW, NULL, 0, &len), WL_OK);
    assert_int_equal(len, 0);
    wl_cache_free(c);
}

static void test_value_longer_than_cap(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 0);
    assert_int_equal(put_str(c, "k", "0123456789", FOREVER), WL_OK);

    char buf[4] = "xxx";
    size_t len = 0;
    assert_int_equal(wl_cache_get(c, "k", 1, NOW, buf, sizeof(buf), &len), WL_ETOOBIG);
    assert_int_equal(len, 10);
    assert_string_equal(buf, "xxx"); /* nothing written past or into a short buffer */

    char exact[10];
    assert_int_equal(wl_cache_get(c, "k", 1, NOW, exact, sizeof(exact), &len), WL_OK);
    assert_memory_equal(exact, "0123456789", 10);
    wl_cache_free(c);
}

static void test_key_length_limit(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 0);
    char key[KEY_MAX + 1];
    memset(key, 'k', sizeof(key));
    assert_int_equal(wl_cache_put(c, key, KEY_MAX + 1, "v", 1, FOREVER), WL_ETOOBIG);
    assert_int_equal(wl_cache_put_negative(c, key, KEY_MAX + 1, FOREVER), WL_ETOOBIG);
    char buf[4];
    assert_int_equal(wl_cache_get(c, key, KEY_MAX + 1, NOW, buf, sizeof(buf), NULL), WL_EAGAIN);

    assert_int_equal(wl_cache_put(c, key, KEY_MAX, "v", 1, FOREVER), WL_OK);
    assert_int_equal(wl_cache_get(c, key, KEY_MAX, NOW, buf, sizeof(buf), NULL), WL_OK);
    wl_cache_free(c);
}

static void test_ttl_expiry(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 0);
    assert_int_equal(put_str(c, "k", "https://e.com", 2000), WL_OK);
    assert_get_str(c, "k", 1999, "https://e.com");
    assert_int_equal(get_at(c, "k", 2000), WL_EAGAIN); /* expires_ms is exclusive */
    assert_int_equal(get_at(c, "k", 5000), WL_EAGAIN);

    /* A fresh put revives the key. */
    assert_int_equal(put_str(c, "k", "https://f.com", 9000), WL_OK);
    assert_get_str(c, "k", 5000, "https://f.com");
    wl_cache_free(c);
}

/* The cache-aside race: a reader reads the store, a writer changes the
 * store and invalidates, then the reader's stale put must not land. */
static void test_fill_token_drops_stale_puts(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 0);
    uint64_t tok = wl_cache_fill_token(c, "k1", 2);
    wl_cache_invalidate(c, "k1", 2); /* a delete (or alias claim) in between */
    assert_int_equal(wl_cache_put_if(c, "k1", 2, "old", 3, FOREVER, tok), WL_EBUSY);
    assert_int_equal(get_at(c, "k1", 1000), WL_EAGAIN);
    assert_int_equal(wl_cache_put_negative_if(c, "k1", 2, FOREVER, tok), WL_EBUSY);
    assert_int_equal(get_at(c, "k1", 1000), WL_EAGAIN);
    /* Without an intervening invalidation the fill lands. */
    tok = wl_cache_fill_token(c, "k1", 2);
    assert_int_equal(wl_cache_put_if(c, "k1", 2, "new", 3, FOREVER, tok), WL_OK);
    assert_get_str(c, "k1", 1000, "new");
    tok = wl_cache_fill_token(c, "k2", 2);
    assert_int_equal(wl_cache_put_negative_if(c, "k2", 2, FOREVER, tok), WL_OK);
    assert_int_equal(get_at(c, "k2", 1000), WL_ENOTFOUND);
    wl_cache_free(c);
}

static void test_negative_entries(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 0);
    assert_int_equal(wl_cache_put_negative(c, "nope", 4, 1500), WL_OK);
    assert_int_equal(get_at(c, "nope", 1000), WL_ENOTFOUND);
    assert_int_equal(get_at(c, "nope", 1499), WL_ENOTFOUND);
    assert_int_equal(get_at(c, "nope", 1500), WL_EAGAIN);

    /* Positive replaces negative and the other way round. */
    assert_int_equal(put_str(c, "nope", "https://now.exists", FOREVER), WL_OK);
    assert_get_str(c, "nope", 1600, "https://now.exists");
    assert_int_equal(wl_cache_put_negative(c, "nope", 4, 3000), WL_OK);
    assert_int_equal(get_at(c, "nope", 1600), WL_ENOTFOUND);

    wl_cache_stats st = stats_of(c);
    assert_int_equal(st.negative_hits, 3);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, wl_cache_entry_overhead() + 4);
    wl_cache_free(c);
}

static void test_invalidate(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 0);
    assert_int_equal(put_str(c, "pos", "https://p", FOREVER), WL_OK);
    assert_int_equal(wl_cache_put_negative(c, "neg", 3, FOREVER), WL_OK);
    assert_int_equal(put_str(c, "other", "https://o", FOREVER), WL_OK);

    wl_cache_invalidate(c, "pos", 3);
    wl_cache_invalidate(c, "neg", 3);
    wl_cache_invalidate(c, "absent", 6);
    assert_int_equal(get_at(c, "pos", NOW), WL_EAGAIN);
    assert_int_equal(get_at(c, "neg", NOW), WL_EAGAIN);
    assert_get_str(c, "other", NOW, "https://o");

    wl_cache_stats st = stats_of(c);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, wl_cache_entry_overhead() + 5 + 9);
    wl_cache_free(c);
}

/* ---- bounds and eviction ---------------------------------------------- */

static void test_entry_larger_than_shard_budget(void **state)
{
    (void)state;
    const size_t budget = 1024;
    wl_cache *c = new_cache(4 * budget, 4);
    static char value[2048];
    memset(value, 'v', sizeof(value));

    size_t fits = budget - wl_cache_entry_overhead() - 1; /* key "k" */
    assert_int_equal(wl_cache_put(c, "k", 1, value, fits + 1, FOREVER), WL_ETOOBIG);
    assert_int_equal(wl_cache_put(c, "k", 1, value, sizeof(value), FOREVER), WL_ETOOBIG);
    assert_int_equal(stats_of(c).entries, 0);

    assert_int_equal(wl_cache_put(c, "k", 1, value, fits, FOREVER), WL_OK);
    assert_int_equal(stats_of(c).bytes, budget);
    wl_cache_free(c);
}

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void test_byte_bound_holds(void **state)
{
    (void)state;
    const size_t max_bytes = 8 * 4096;
    wl_cache *c = new_cache(max_bytes, 8);
    static char value[1500];
    memset(value, 'u', sizeof(value));
    uint32_t rng = 12345;
    size_t inserted = 0;

    for (int i = 0; i < 20000; i++) {
        char key[16];
        int klen = snprintf(key, sizeof(key), "key-%u", xorshift32(&rng) % 5000);
        size_t vlen = xorshift32(&rng) % sizeof(value);
        assert_int_equal(wl_cache_put(c, key, (size_t)klen, value, vlen, FOREVER), WL_OK);
        inserted += entry_cost((size_t)klen, vlen);
        wl_cache_stats st = stats_of(c);
        assert_true(st.bytes <= max_bytes);
        /* Each shard keeps to its own share, not just the sum. */
        for (unsigned sh = 0; sh < c->shard_count; sh++)
            assert_true(load_counter(&c->shards[sh].bytes) <= c->shard_budget);
    }
    wl_cache_stats st = stats_of(c);
    assert_true(inserted > 20 * max_bytes);
    assert_true(st.evictions > 0);
    assert_true(st.entries > 0);
    wl_cache_free(c);
}

/* One shard sized for exactly N equal entries, so eviction order is exact. */
enum { CLOCK_N = 100 };

static wl_cache *full_single_shard(const char *prefix, const int64_t *expiries)
{
    char key[16];
    snprintf(key, sizeof(key), "%s000", prefix);
    wl_cache *c = new_cache(CLOCK_N * entry_cost(strlen(key), 16), 1);
    for (int i = 0; i < CLOCK_N; i++) {
        snprintf(key, sizeof(key), "%s%03d", prefix, i);
        int64_t exp = expiries ? expiries[i] : FOREVER;
        assert_int_equal(put_str(c, key, "0123456789abcdef", exp), WL_OK);
    }
    assert_int_equal(stats_of(c).entries, CLOCK_N);
    assert_int_equal(stats_of(c).evictions, 0);
    return c;
}

static void put_fresh_keys(wl_cache *c, int count)
{
    for (int i = 0; i < count; i++) {
        char key[16];
        snprintf(key, sizeof(key), "n%03d", i);
        assert_int_equal(put_str(c, key, "0123456789abcdef", FOREVER), WL_OK);
    }
}

static void test_recently_read_entries_survive(void **state)
{
    (void)state;
    wl_cache *c = full_single_shard("k", NULL);
    char key[16];
    /* Read the OLDEST half: plain FIFO would evict exactly these. */
    for (int i = 0; i < CLOCK_N / 2; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        assert_int_equal(get_at(c, key, NOW), WL_OK);
    }
    put_fresh_keys(c, CLOCK_N / 2);

    for (int i = 0; i < CLOCK_N; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        assert_int_equal(get_at(c, key, NOW), i < CLOCK_N / 2 ? WL_OK : WL_EAGAIN);
    }
    assert_int_equal(stats_of(c).evictions, CLOCK_N / 2);
    wl_cache_free(c);
}

static void test_expired_entries_evicted_first(void **state)
{
    (void)state;
    int64_t expiries[CLOCK_N];
    for (int i = 0; i < CLOCK_N; i++)
        expiries[i] = (i % 2) ? 100 : FOREVER;
    wl_cache *c = full_single_shard("k", expiries);
    char key[16];
    /* Read all while alive, so every entry carries a reference bit. */
    for (int i = 0; i < CLOCK_N; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        assert_int_equal(get_at(c, key, 50), WL_OK);
    }
    assert_int_equal(get_at(c, "absent", 200), WL_EAGAIN); /* time moves on */
    put_fresh_keys(c, CLOCK_N / 2);

    /* Without the expiry preference the first lap would clear all bits and
     * the second evict k000..k049, half of them live. */
    for (int i = 0; i < CLOCK_N; i += 2) {
        snprintf(key, sizeof(key), "k%03d", i);
        assert_int_equal(get_at(c, key, 200), WL_OK);
    }
    wl_cache_stats st = stats_of(c);
    assert_int_equal(st.expirations, CLOCK_N / 2);
    assert_int_equal(st.evictions, 0);
    wl_cache_free(c);
}

/* ---- concurrency ------------------------------------------------------ */

struct lock_holder {
    pthread_rwlock_t *lock;
    pthread_barrier_t *barrier;
};

static void *hold_write_lock(void *arg)
{
    struct lock_holder *h = arg;
    pthread_rwlock_wrlock(h->lock);
    pthread_barrier_wait(h->barrier); /* 1: lock is held */
    pthread_barrier_wait(h->barrier); /* 2: the get has returned */
    pthread_rwlock_unlock(h->lock);
    return NULL;
}

static void test_get_reports_busy_instead_of_waiting(void **state)
{
    (void)state;
    wl_cache *c = new_cache(1 << 20, 8);
    assert_int_equal(put_str(c, "k", "https://busy", FOREVER), WL_OK);

    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct lock_holder h = {&shard_of(c, hash_key(c, "k", 1))->lock, &barrier};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_write_lock, &h), 0);

    pthread_barrier_wait(&barrier);
    /* Had the get waited for the lock, this thread would never reach the
     * second barrier; the alarm turns that hang into a failure. */
    alarm(10);
    assert_int_equal(get_at(c, "k", NOW), WL_EBUSY);
    alarm(0);
    assert_int_equal(stats_of(c).busy, 1);
    pthread_barrier_wait(&barrier);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&barrier);

    assert_get_str(c, "k", NOW, "https://busy");
    wl_cache_free(c);
}

/* Stress: each thread owns a range of keys and is their only writer. Every
 * mutation of key k gets the next version; started[k] is published before
 * the call and done[k] after it. The owner's gets must see exactly its last
 * operation (or a miss / busy); other threads' gets must see a well-formed
 * value for that key with done <= version <= started, read around the get. */
enum { STRESS_THREADS = 4, KEYS_PER_THREAD = 64, OPS_PER_THREAD = 50000 };
enum { STRESS_KEYS = STRESS_THREADS * KEYS_PER_THREAD };
enum last_op { OP_NONE, OP_PUT, OP_NEGATIVE, OP_INVALIDATE };

struct stress {
    wl_cache *c;
    atomic_uint started[STRESS_KEYS];
    atomic_uint done[STRESS_KEYS];
    atomic_ulong gets; /* all gets issued, to check the counters add up */
    atomic_int failures;
};

struct stress_worker {
    struct stress *s;
    int id;
};

/* "key=<k> ver=<v> " then (v % 200) filler bytes derived from k and v, so a
 * torn or mixed-up value cannot pass the check. */
static size_t stress_value(int k, unsigned ver, char *out, size_t cap)
{
    int n = snprintf(out, cap, "key=%d ver=%u ", k, ver);
    size_t len = (size_t)n + ver % 200;
    for (size_t i = (size_t)n; i < len; i++)
        out[i] = (char)('a' + (k + ver + i) % 26);
    return len;
}

static bool stress_parse(int k, const char *v, size_t len, unsigned *ver)
{
    int key;
    if (sscanf(v, "key=%d ver=%u ", &key, ver) != 2 || key != k)
        return false;
    char want[512];
    size_t want_len = stress_value(k, *ver, want, sizeof(want));
    return want_len == len && memcmp(want, v, len) == 0;
}

static int stress_key(int k, char *out)
{
    return snprintf(out, 16, "s%d", k);
}

static void stress_fail(struct stress *s)
{
    atomic_fetch_add(&s->failures, 1);
}

/* The owner's view: exactly the last operation, or a miss/busy. */
static void stress_check_own(struct stress *s, int k, unsigned ver, enum last_op op)
{
    char key[16], buf[512];
    size_t len = 0;
    int klen = stress_key(k, key);
    wl_status st = wl_cache_get(s->c, key, (size_t)klen, NOW, buf, sizeof(buf), &len);
    atomic_fetch_add(&s->gets, 1);
    if (st == WL_EAGAIN || st == WL_EBUSY)
        return; /* evicted, or another key's writer holds the shard */
    unsigned got;
    if (op == OP_PUT && st == WL_OK && stress_parse(k, buf, len, &got) && got == ver)
        return;
    if (op == OP_NEGATIVE && st == WL_ENOTFOUND)
        return;
    stress_fail(s);
}

/* Someone else's view: a value no older than done and no newer than started. */
static void stress_check_other(struct stress *s, int k)
{
    char key[16], buf[512];
    size_t len = 0;
    int klen = stress_key(k, key);
    unsigned lo = atomic_load(&s->done[k]);
    wl_status st = wl_cache_get(s->c, key, (size_t)klen, NOW, buf, sizeof(buf), &len);
    unsigned hi = atomic_load(&s->started[k]);
    atomic_fetch_add(&s->gets, 1);
    if (st == WL_EAGAIN || st == WL_EBUSY || st == WL_ENOTFOUND)
        return;
    unsigned got;
    if (st == WL_OK && stress_parse(k, buf, len, &got) && lo <= got && got <= hi)
        return;
    stress_fail(s);
}

static enum last_op stress_mutate(struct stress *s, int k, unsigned ver, uint32_t dice)
{
    char key[16], value[512];
    int klen = stress_key(k, key);
    atomic_store(&s->started[k], ver);
    enum last_op op;
    if (dice < 80) {
        size_t vlen = stress_value(k, ver, value, sizeof(value));
        if (wl_cache_put(s->c, key, (size_t)klen, value, vlen, FOREVER) != WL_OK)
            stress_fail(s);
        op = OP_PUT;
    } else if (dice < 90) {
        if (wl_cache_put_negative(s->c, key, (size_t)klen, FOREVER) != WL_OK)
            stress_fail(s);
        op = OP_NEGATIVE;
    } else {
        wl_cache_invalidate(s->c, key, (size_t)klen);
        op = OP_INVALIDATE;
    }
    atomic_store(&s->done[k], ver);
    return op;
}

static void *stress_thread(void *arg)
{
    struct stress_worker *w = arg;
    struct stress *s = w->s;
    unsigned versions[KEYS_PER_THREAD] = {0};
    enum last_op last[KEYS_PER_THREAD] = {0};
    uint32_t rng = 0x9e3779b9u * (uint32_t)(w->id + 1);

    for (int i = 0; i < OPS_PER_THREAD; i++) {
        uint32_t r = xorshift32(&rng);
        int own = (int)(r % KEYS_PER_THREAD);
        int k = w->id * KEYS_PER_THREAD + own;
        uint32_t dice = (r >> 8) % 100;
        if (dice < 40) {
            stress_check_other(s, (int)((r >> 16) % STRESS_KEYS));
        } else if (dice < 70) {
            stress_check_own(s, k, versions[own], last[own]);
        } else {
            last[own] = stress_mutate(s, k, ++versions[own], xorshift32(&rng) % 100);
        }
    }
    return NULL;
}

static void test_concurrent_stress(void **state)
{
    (void)state;
    static struct stress s; /* large: keep it off the stack */
    memset(&s, 0, sizeof(s));
    /* Room for about a third of the keys, so eviction runs all the time. */
    const size_t max_bytes = 4 * 20 * entry_cost(5, 120);
    s.c = new_cache(max_bytes, 4);

    pthread_t threads[STRESS_THREADS];
    struct stress_worker workers[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        workers[i] = (struct stress_worker){&s, i};
        assert_int_equal(pthread_create(&threads[i], NULL, stress_thread, &workers[i]), 0);
    }
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(threads[i], NULL);

    assert_int_equal(atomic_load(&s.failures), 0);
    wl_cache_stats st = stats_of(s.c);
    assert_int_equal(st.hits + st.negative_hits + st.misses + st.busy, atomic_load(&s.gets));
    assert_true(st.bytes <= max_bytes);
    assert_true(st.evictions > 0);
    assert_true(st.hits > 0);
    wl_cache_free(s.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_arguments),
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_fill_token_drops_stale_puts),
        cmocka_unit_test(test_empty_value_and_empty_key),
        cmocka_unit_test(test_value_longer_than_cap),
        cmocka_unit_test(test_key_length_limit),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_negative_entries),
        cmocka_unit_test(test_invalidate),
        cmocka_unit_test(test_entry_larger_than_shard_budget),
        cmocka_unit_test(test_byte_bound_holds),
        cmocka_unit_test(test_recently_read_entries_survive),
        cmocka_unit_test(test_expired_entries_evicted_first),
        cmocka_unit_test(test_get_reports_busy_instead_of_waiting),
        cmocka_unit_test(test_concurrent_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
