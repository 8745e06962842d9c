/* test_password.c - Argon2id hashing, policy, rehash advice, slot bound.
 *
 * Runs with the cheapest parameters wl_password_init() accepts (the OWASP
 * floor) to stay fast. With WL_BENCH_PASSWORD=1 in the environment it also
 * prints the median hash/verify/dummy-verify time of 20 runs at the default
 * parameters (the numbers quoted in the module's report). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/password.h"

static const wl_password_params FLOOR = {WL_PASSWORD_OPSLIMIT_MIN, WL_PASSWORD_MEMLIMIT_MIN};

static int floor_setup(void **state)
{
    (void)state;
    return wl_password_init(&FLOOR, 2, 10000) == WL_OK ? 0 : -1;
}

static void test_acceptable(void **state)
{
    (void)state;
    static char pw[4 * 1025];
    memset(pw, 'a', sizeof(pw));
    assert_false(wl_password_acceptable(pw, 0));
    assert_false(wl_password_acceptable(pw, 7));
    assert_true(wl_password_acceptable(pw, 8));
    assert_true(wl_password_acceptable(pw, 1024));
    assert_false(wl_password_acceptable(pw, 1025));
    /* Characters, not bytes: 7 two-byte characters are too few, 1024
     * four-byte characters are fine, 1025 are too many. */
    static const char e7[] = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    assert_false(wl_password_acceptable(e7, sizeof(e7) - 1));
    for (size_t i = 0; i < sizeof(pw); i += 4)
        memcpy(pw + i, "\xf0\x9f\x98\x80", 4);
    assert_true(wl_password_acceptable(pw, 4 * 1024));
    assert_false(wl_password_acceptable(pw, 4 * 1025));
}

static void test_hash_verify(void **state)
{
    (void)state;
    const char *pw = "correct horse battery staple";
    char h1[crypto_pwhash_STRBYTES], h2[crypto_pwhash_STRBYTES];
    assert_int_equal(wl_password_hash(pw, strlen(pw), h1), WL_OK);
    assert_int_equal(wl_password_hash(pw, strlen(pw), h2), WL_OK);
    assert_string_not_equal(h1, h2); /* fresh salt each time */
    assert_true(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_int_equal(wl_password_verify(h1, pw, strlen(pw)), WL_OK);
    assert_int_equal(wl_password_verify(h1, pw, strlen(pw) - 1), WL_EDENIED);
    assert_int_equal(wl_password_verify(h1, "Correct horse battery staple", strlen(pw)),
                     WL_EDENIED);
    assert_int_equal(wl_password_verify(h1, "", 0), WL_EDENIED);
    assert_int_equal(wl_password_verify("garbage", pw, strlen(pw)), WL_EDENIED);
    assert_int_equal(wl_password_verify("", pw, strlen(pw)), WL_EDENIED);
    /* Embedded NUL bytes are part of the password. */
    const char nul[] = "abc\0defgh";
    assert_int_equal(wl_password_hash(nul, sizeof nul - 1, h2), WL_OK);
    assert_int_equal(wl_password_verify(h2, nul, sizeof nul - 1), WL_OK);
    assert_int_equal(wl_password_verify(h2, nul, 3), WL_EDENIED);
}

static void test_length_limits(void **state)
{
    (void)state;
    static char big[WL_PASSWORD_MAX_BYTES + 1];
    char h[crypto_pwhash_STRBYTES];
    memset(big, 'p', sizeof big);
    assert_int_equal(wl_password_hash(big, 7, h), WL_EINVAL);
    assert_int_equal(wl_password_hash(big, WL_PASSWORD_MAX_BYTES + 1, h), WL_EINVAL);
    assert_int_equal(wl_password_hash(big, WL_PASSWORD_MAX_LEN, h), WL_OK);
    assert_int_equal(wl_password_verify(h, big, WL_PASSWORD_MAX_LEN), WL_OK);
    assert_int_equal(wl_password_verify(h, big, WL_PASSWORD_MAX_LEN + 1), WL_EDENIED);
    assert_int_equal(wl_password_dummy_verify(big, WL_PASSWORD_MAX_LEN + 1), WL_EDENIED);
}

static void test_needs_rehash(void **state)
{
    (void)state;
    const char *pw = "hunter2hunter2";
    char cur[crypto_pwhash_STRBYTES], weak[crypto_pwhash_STRBYTES], old_alg[crypto_pwhash_STRBYTES];
    assert_int_equal(wl_password_hash(pw, strlen(pw), cur), WL_OK);
    assert_false(wl_password_needs_rehash(cur));
    /* Weaker than the current configuration: verifies, but should be redone. */
    assert_int_equal(
        crypto_pwhash_str_alg(weak, pw, strlen(pw), 1, 8u << 20, crypto_pwhash_ALG_ARGON2ID13), 0);
    assert_true(wl_password_needs_rehash(weak));
    assert_int_equal(wl_password_verify(weak, pw, strlen(pw)), WL_OK);
    /* Argon2i (not id): verifies, should be redone. */
    assert_int_equal(
        crypto_pwhash_str_alg(old_alg, pw, strlen(pw), 3, 8u << 20, crypto_pwhash_ALG_ARGON2I13),
        0);
    assert_true(wl_password_needs_rehash(old_alg));
    assert_int_equal(wl_password_verify(old_alg, pw, strlen(pw)), WL_OK);
    assert_true(wl_password_needs_rehash("not a hash"));
    assert_true(wl_password_needs_rehash(NULL));
    /* Raising the configured cost makes today's hashes stale. */
    wl_password_params up = {3, WL_PASSWORD_MEMLIMIT_MIN};
    assert_int_equal(wl_password_init(&up, 2, 10000), WL_OK);
    assert_true(wl_password_needs_rehash(cur));
    assert_int_equal(wl_password_init(&FLOOR, 2, 10000), WL_OK);
    assert_false(wl_password_needs_rehash(cur));
}

static void test_init_bounds(void **state)
{
    (void)state;
    wl_password_params p = {1, WL_PASSWORD_MEMLIMIT_MIN};
    assert_int_equal(wl_password_init(&p, 2, 100), WL_EINVAL);
    p = (wl_password_params){2, WL_PASSWORD_MEMLIMIT_MIN - 1};
    assert_int_equal(wl_password_init(&p, 2, 100), WL_EINVAL);
    p = (wl_password_params){2, WL_PASSWORD_MEMLIMIT_MAX + 1};
    assert_int_equal(wl_password_init(&p, 2, 100), WL_EINVAL);
    wl_password_params cur = wl_password_current_params();
    assert_int_equal(cur.opslimit, FLOOR.opslimit); /* refused init changed nothing */
    assert_int_equal(cur.memlimit, FLOOR.memlimit);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median wall time in ms of n runs of one call. */
enum op { OP_HASH, OP_VERIFY, OP_DUMMY };
static double median_ms(enum op op, const char *hash, int n)
{
    double t[32];
    char out[crypto_pwhash_STRBYTES];
    const char *pw = "correct horse battery staple";
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        if (op == OP_HASH)
            assert_int_equal(wl_password_hash(pw, strlen(pw), out), WL_OK);
        else if (op == OP_VERIFY)
            assert_int_equal(wl_password_verify(hash, "wrong password", 14), WL_EDENIED);
        else
            assert_int_equal(wl_password_dummy_verify("wrong password", 14), WL_EDENIED);
        t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[n / 2];
}

static void test_dummy_verify(void **state)
{
    (void)state;
    const char *pw = "correct horse battery staple";
    char h[crypto_pwhash_STRBYTES];
    assert_int_equal(wl_password_dummy_verify(pw, strlen(pw)), WL_EDENIED);
    assert_int_equal(wl_password_dummy_verify("", 0), WL_EDENIED);
    assert_int_equal(wl_password_hash(pw, strlen(pw), h), WL_OK);
    /* That the dummy does real Argon2id work (it needs a hashing slot) is
     * shown in test_busy_when_full; its timing is measured by
     * test_bench_default, not asserted here on a shared, noisy machine. */
}

/* ---- the slot bound --------------------------------------------------- */

static atomic_int sampler_stop;
static atomic_uint sampled_max;

static void *sampler(void *arg)
{
    (void)arg;
    while (!atomic_load(&sampler_stop)) {
        wl_password_stats s;
        wl_password_stats_get(&s);
        if (s.in_use > atomic_load(&sampled_max))
            atomic_store(&sampled_max, s.in_use);
        usleep(200);
    }
    return NULL;
}

static void *hasher(void *arg)
{
    char h[crypto_pwhash_STRBYTES];
    const char *pw = "parallel password";
    for (int i = 0; i < 2; i++)
        if (wl_password_hash(pw, strlen(pw), h) != WL_OK)
            *(int *)arg = 1;
    return NULL;
}

static void test_concurrency_bound(void **state)
{
    (void)state;
    enum { THREADS = 8, MAX = 2 };
    assert_int_equal(wl_password_init(&FLOOR, MAX, 30000), WL_OK);
    pthread_t th[THREADS], samp;
    int failed[THREADS] = {0};
    atomic_store(&sampler_stop, 0);
    atomic_store(&sampled_max, 0);
    assert_int_equal(pthread_create(&samp, NULL, sampler, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hasher, &failed[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(failed[i], 0);
    }
    atomic_store(&sampler_stop, 1);
    pthread_join(samp, NULL);
    wl_password_stats s;
    wl_password_stats_get(&s);
    assert_int_equal(s.max_concurrent, MAX);
    assert_int_equal(s.in_use, 0);
    assert_true(s.peak <= MAX);
    assert_true(atomic_load(&sampled_max) <= MAX);
    assert_int_equal(s.peak, MAX); /* 8 threads did contend */
    assert_int_equal(s.busy, 0);
}

static void test_busy_when_full(void **state)
{
    (void)state;
    assert_int_equal(wl_password_init(&FLOOR, 1, 1), WL_OK);
    pthread_t t;
    int failed = 0;
    assert_int_equal(pthread_create(&t, NULL, hasher, &failed), 0);
    wl_password_stats s;
    do {
        wl_password_stats_get(&s);
    } while (s.in_use == 0);
    char h[crypto_pwhash_STRBYTES];
    /* The one slot is held for tens of ms; a 1 ms wait cannot get it. */
    assert_int_equal(wl_password_hash("another one", 11, h), WL_EBUSY);
    assert_int_equal(wl_password_dummy_verify("another one", 11), WL_EBUSY);
    pthread_join(t, NULL);
    wl_password_stats_get(&s);
    assert_true(s.busy >= 2);
    assert_int_equal(wl_password_init(&FLOOR, 2, 10000), WL_OK);
}

static void test_bench_default(void **state)
{
    (void)state;
    if (!getenv("WL_BENCH_PASSWORD"))
        skip();
    assert_int_equal(wl_password_init(NULL, 0, 10000), WL_OK);
    wl_password_params p = wl_password_current_params();
    char h[crypto_pwhash_STRBYTES];
    assert_int_equal(wl_password_hash("correct horse battery staple", 28, h), WL_OK);
    double th = median_ms(OP_HASH, NULL, 20), tv = median_ms(OP_VERIFY, h, 20),
           td = median_ms(OP_DUMMY, NULL, 20);
    print_message("argon2id t=%llu m=%zu MiB: hash %.1f ms, verify %.1f ms, dummy %.1f ms "
                  "(median of 20)\n",
                  p.opslimit, p.memlimit >> 20, th, tv, td);
    assert_int_equal(wl_password_init(&FLOOR, 2, 10000), WL_OK);
    th = median_ms(OP_HASH, NULL, 20);
    char hf[crypto_pwhash_STRBYTES];
    assert_int_equal(wl_password_hash("correct horse battery staple", 28, hf), WL_OK);
    tv = median_ms(OP_VERIFY, hf, 20);
    print_message("argon2id t=2 m=19 MiB (floor): hash %.1f ms, verify %.1f ms (median of 20)\n",
                  th, tv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acceptable),        cmocka_unit_test(test_hash_verify),
        cmocka_unit_test(test_length_limits),     cmocka_unit_test(test_needs_rehash),
        cmocka_unit_test(test_init_bounds),       cmocka_unit_test(test_dummy_verify),
        cmocka_unit_test(test_concurrency_bound), cmocka_unit_test(test_busy_when_full),
        cmocka_unit_test(test_bench_default),
    };
    return cmocka_run_group_tests(tests, floor_setup, NULL);
}
