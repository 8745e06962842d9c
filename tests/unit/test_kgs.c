/* test_kgs.c - key generation: alphabet, uniqueness at scale, uniformity
 * (chi-square) with proof that the test catches modulo bias, batch refill,
 * rejection sampling and reserved-word skipping.
 *
 * Some tests swap libsodium's randombytes implementation for a counting, a
 * seeded or a scripted one (randombytes_set_implementation), so they can see
 * when the KGS draws bytes and can be reproduced exactly. Each test restores
 * the system implementation in its teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/alias.h"
#include "core/kgs.h"

#define ALPHABET "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define MILLION 1000000u
/* Chi-square critical value for 61 degrees of freedom (62 classes) at
 * p = 0.001. */
#define CHI2_61_P001 100.9

/* ---- replacement randombytes implementations ---------------------------- */

static unsigned long draw_calls;
static unsigned char seed[randombytes_SEEDBYTES];
static uint64_t seed_counter;
static const unsigned char *script;
static size_t script_len, script_pos;

static const char *impl_name(void)
{
    return "test";
}

static void counting_buf(void *const buf, const size_t size)
{
    draw_calls++;
    randombytes_sysrandom_implementation.buf(buf, size);
}

/* A reproducible stream: each call is the ChaCha20 output of the seed with
 * a call counter folded in, so a test sees the same bytes on every run. */
static void seeded_buf(void *const buf, const size_t size)
{
    seed_counter++;
    memcpy(seed, &seed_counter, sizeof seed_counter);
    randombytes_buf_deterministic(buf, size, seed);
}

/* The scripted bytes, then zeros. */
static void scripted_buf(void *const buf, const size_t size)
{
    unsigned char *out = buf;
    for (size_t i = 0; i < size; i++)
        out[i] = script_pos < script_len ? script[script_pos++] : 0;
}

static uint32_t impl_random(void)
{
    uint32_t v;
    randombytes_buf(&v, sizeof v);
    return v;
}

static randombytes_implementation counting_impl = {
    .implementation_name = impl_name, .random = impl_random, .buf = counting_buf};
static randombytes_implementation seeded_impl = {
    .implementation_name = impl_name, .random = impl_random, .buf = seeded_buf};
static randombytes_implementation scripted_impl = {
    .implementation_name = impl_name, .random = impl_random, .buf = scripted_buf};

static int restore_system_rng(void **state)
{
    (void)state;
    randombytes_set_implementation(&randombytes_sysrandom_implementation);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static int alphabet_index(char c)
{
    const char *p = memchr(ALPHABET, c, 62);
    return p ? (int)(p - ALPHABET) : -1;
}

/* A key as a 42-bit base62 number, plus one so 0 can mean "empty slot". */
static uint64_t key_code(const char key[WL_KEY_LEN])
{
    uint64_t v = 0;
    for (size_t i = 0; i < WL_KEY_LEN; i++)
        v = v * 62 + (uint64_t)alphabet_index(key[i]);
    return v + 1;
}

/* Open-addressing set; returns 1 when code was already present. */
static int set_insert(uint64_t *slots, unsigned bits, uint64_t code)
{
    size_t mask = ((size_t)1 << bits) - 1;
    size_t i = (size_t)((code * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    while (slots[i] != 0) {
        if (slots[i] == code)
            return 1;
        i = (i + 1) & mask;
    }
    slots[i] = code;
    return 0;
}

static double chi_square(const uint64_t counts[62], uint64_t total)
{
    double expected = (double)total / 62.0, sum = 0;
    for (size_t i = 0; i < 62; i++) {
        double d = (double)counts[i] - expected;
        sum += d * d / expected;
    }
    return sum;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_keys_use_alphabet(void **state)
{
    wl_kgs k;
    char key[WL_KEY_LEN];
    (void)state;
    wl_kgs_init(&k);
    for (unsigned n = 0; n < 20000; n++) {
        wl_kgs_next(&k, key);
        for (size_t i = 0; i < WL_KEY_LEN; i++)
            if (alphabet_index(key[i]) < 0)
                fail_msg("key %u has byte 0x%02x", n, (unsigned char)key[i]);
        assert_int_not_equal(wl_alias_check(key, WL_KEY_LEN), WL_ALIAS_RESERVED);
    }
}

/* Keys are random, not unique by construction: among n = 1e6 keys from
 * N = 62^7 = 3.52e12 the expected number of repeated pairs is
 * n^2 / 2N = 0.14 (birthday bound), so "all unique" would fail about one run
 * in eight with a perfect generator. Poisson(0.14) exceeds 3 with
 * probability 2e-5, while any real defect (a reused batch, a stuck or
 * low-entropy source) produces thousands of repeats. The store's
 * conditional insert is what makes keys unique in production. */
static void test_million_keys_unique(void **state)
{
    const unsigned bits = 21; /* 2M slots for 1M keys */
    uint64_t *slots = calloc((size_t)1 << bits, sizeof *slots);
    uint64_t issued_before = wl_kgs_issued();
    unsigned repeats = 0;
    wl_kgs k;
    char key[WL_KEY_LEN];
    (void)state;
    assert_non_null(slots);
    wl_kgs_init(&k);
    for (unsigned n = 0; n < MILLION; n++) {
        wl_kgs_next(&k, key);
        repeats += (unsigned)set_insert(slots, bits, key_code(key));
    }
    free(slots);
    assert_true(repeats <= 3);
    assert_int_equal(wl_kgs_issued() - issued_before, MILLION);
}

/* Pearson's chi-square over the 62 characters, for each of the 7 positions
 * and over all 7M characters, must stay under the p = 0.001 critical value
 * (100.9). The seeded source makes the outcome identical on every run.
 *
 * Why this catches "byte % 62": 256 = 4*62 + 8, so characters 0-7 would
 * come up with probability 5/256 and the other 54 with 4/256. Per position
 * (N = 1e6, expected 16129 per class) that adds about
 *   8  * N * (5/256 - 1/62)^2 / (1/62) = 5740 and
 *   54 * N * (4/256 - 1/62)^2 / (1/62) =  850,
 * a statistic near 6600, 65 times the threshold; test_chi_square_sensitive
 * below measures it on the same byte stream. */
static void test_chi_square_uniform(void **state)
{
    static uint64_t counts[WL_KEY_LEN][62];
    uint64_t all[62] = {0};
    wl_kgs k;
    char key[WL_KEY_LEN];
    (void)state;
    randombytes_set_implementation(&seeded_impl);
    memset(counts, 0, sizeof counts);
    wl_kgs_init(&k);
    for (unsigned n = 0; n < MILLION; n++) {
        wl_kgs_next(&k, key);
        for (size_t i = 0; i < WL_KEY_LEN; i++)
            counts[i][alphabet_index(key[i])]++;
    }
    for (size_t i = 0; i < WL_KEY_LEN; i++) {
        double x2 = chi_square(counts[i], MILLION);
        print_message("position %zu: chi-square %.1f\n", i, x2);
        if (x2 >= CHI2_61_P001)
            fail_msg("position %zu: chi-square %.1f >= %.1f", i, x2, CHI2_61_P001);
        for (size_t c = 0; c < 62; c++)
            all[c] += counts[i][c];
    }
    print_message("all positions: chi-square %.1f\n",
                  chi_square(all, (uint64_t)MILLION * WL_KEY_LEN));
    assert_true(chi_square(all, (uint64_t)MILLION * WL_KEY_LEN) < CHI2_61_P001);
}

/* The same statistic on the same stream mapped with a plain "% 62" must
 * blow far past the threshold, or the test above proves nothing. */
static void test_chi_square_sensitive(void **state)
{
    static unsigned char bytes[WL_KEY_LEN * 4096];
    uint64_t counts[62] = {0};
    uint64_t total = 0;
    (void)state;
    randombytes_set_implementation(&seeded_impl);
    while (total < MILLION) {
        randombytes_buf(bytes, sizeof bytes);
        for (size_t i = 0; i < sizeof bytes && total < MILLION; i++, total++)
            counts[bytes[i] % 62]++;
    }
    print_message("byte %% 62: chi-square %.1f\n", chi_square(counts, total));
    assert_true(chi_square(counts, total) > 20 * CHI2_61_P001);
}

/* The first key after init draws bytes; the rest of the batch does not;
 * key WL_KGS_BATCH + 1 draws again and differs from the first batch. */
static void test_batch_refill(void **state)
{
    wl_kgs k;
    char first[WL_KEY_LEN], key[WL_KEY_LEN];
    unsigned long after_first;
    (void)state;
    randombytes_set_implementation(&counting_impl);
    draw_calls = 0;
    wl_kgs_init(&k);
    assert_int_equal(draw_calls, 0);
    wl_kgs_next(&k, first);
    after_first = draw_calls;
    assert_true(after_first >= 1);
    assert_int_equal(k.next, 1);
    for (unsigned n = 1; n < WL_KGS_BATCH; n++)
        wl_kgs_next(&k, key);
    assert_int_equal(draw_calls, after_first);
    assert_int_equal(k.next, WL_KGS_BATCH);
    wl_kgs_next(&k, key);
    assert_true(draw_calls > after_first);
    assert_int_equal(k.next, 1);
    assert_memory_not_equal(first, key, WL_KEY_LEN);
}

/* Bytes >= 248 are skipped, bytes < 248 map to ALPHABET[b % 62], and keys
 * that spell a reserved word in any case are thrown away. */
static void test_rejection_and_reserved(void **state)
{
    /* clang-format off */
    static const unsigned char bytes[] = {
        43, 40, 36, 47, 55, 43, 61,                     /* "healthz": reserved */
        17, 14, 10, 21, 29, 17, 35,                     /* "HEALTHZ": reserved */
        248, 36, 255, 37 + 62, 38 + 124, 39 + 186, 40, 41, 42, /* "abcdefg", 2 rejects */
    };
    /* clang-format on */
    wl_kgs k;
    char key[WL_KEY_LEN];
    (void)state;
    script = bytes;
    script_len = sizeof bytes;
    script_pos = 0;
    randombytes_set_implementation(&scripted_impl);
    wl_kgs_init(&k);
    wl_kgs_next(&k, key);
    assert_memory_equal(key, "abcdefg", WL_KEY_LEN);
    wl_kgs_next(&k, key);
    assert_memory_equal(key, "0000000", WL_KEY_LEN);
}

static void test_collision_counter(void **state)
{
    uint64_t before = wl_kgs_collisions();
    (void)state;
    wl_kgs_note_collision();
    wl_kgs_note_collision();
    assert_int_equal(wl_kgs_collisions() - before, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_use_alphabet),
        cmocka_unit_test(test_million_keys_unique),
        cmocka_unit_test_teardown(test_chi_square_uniform, restore_system_rng),
        cmocka_unit_test_teardown(test_chi_square_sensitive, restore_system_rng),
        cmocka_unit_test_teardown(test_batch_refill, restore_system_rng),
        cmocka_unit_test_teardown(test_rejection_and_reserved, restore_system_rng),
        cmocka_unit_test(test_collision_counter),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
