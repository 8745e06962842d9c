/* test_apikey.c - API key generation, format check and hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/apikey.h"

#define N_KEYS 10000

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, WL_APIKEY_LEN + 1);
}

static void test_generate_many(void **state)
{
    (void)state;
    char(*keys)[WL_APIKEY_LEN + 1] = calloc(N_KEYS, sizeof *keys);
    assert_non_null(keys);
    unsigned counts[256] = {0};
    for (int i = 0; i < N_KEYS; i++) {
        char prefix[WL_APIKEY_PREFIX_LEN + 1];
        unsigned char hash[WL_APIKEY_DIGEST_LEN], again[WL_APIKEY_DIGEST_LEN];
        assert_int_equal(wl_apikey_generate(keys[i], sizeof keys[i], prefix, sizeof prefix, hash),
                         WL_OK);
        assert_int_equal(strlen(keys[i]), WL_APIKEY_LEN);
        assert_int_equal(strlen(prefix), WL_APIKEY_PREFIX_LEN);
        assert_memory_equal(keys[i], prefix, WL_APIKEY_PREFIX_LEN);
        assert_memory_equal(keys[i], "wl_", 3);
        wl_apikey_hash(keys[i], WL_APIKEY_LEN, again);
        assert_true(wl_apikey_hash_equal(hash, again));
        assert_true(wl_apikey_plausible(keys[i], WL_APIKEY_LEN));
        for (int j = WL_APIKEY_TAG_LEN; j < WL_APIKEY_TAG_LEN + WL_APIKEY_RANDOM_CHARS; j++)
            counts[(unsigned char)keys[i][j]]++;
    }
    qsort(keys, N_KEYS, sizeof *keys, cmp_key);
    for (int i = 1; i < N_KEYS; i++)
        assert_int_not_equal(memcmp(keys[i - 1], keys[i], WL_APIKEY_LEN), 0);
    /* All 62 characters occur, each near 320000/62 = 5161 times (a bias
     * like "byte % 62" would push the first 8 up by ~25%). */
    int used = 0;
    for (int c = 0; c < 256; c++) {
        if (!counts[c])
            continue;
        used++;
        assert_true(counts[c] > 4700 && counts[c] < 5650);
    }
    assert_int_equal(used, 62);
    free(keys);
}

static void test_hash_is_sha256(void **state)
{
    (void)state;
    unsigned char got[WL_APIKEY_DIGEST_LEN], want[crypto_hash_sha256_BYTES];
    const char *k = "wl_anything";
    wl_apikey_hash(k, strlen(k), got);
    crypto_hash_sha256(want, (const unsigned char *)k, strlen(k));
    assert_memory_equal(got, want, sizeof want);
    unsigned char other[WL_APIKEY_DIGEST_LEN];
    wl_apikey_hash(k, strlen(k) - 1, other);
    assert_false(wl_apikey_hash_equal(got, other));
}

static void test_generate_buffers(void **state)
{
    (void)state;
    char key[WL_APIKEY_LEN + 1], prefix[WL_APIKEY_PREFIX_LEN + 1];
    unsigned char hash[WL_APIKEY_DIGEST_LEN];
    assert_int_equal(wl_apikey_generate(key, WL_APIKEY_LEN, prefix, sizeof prefix, hash),
                     WL_ETOOBIG);
    assert_int_equal(wl_apikey_generate(key, sizeof key, prefix, WL_APIKEY_PREFIX_LEN, hash),
                     WL_ETOOBIG);
    assert_int_equal(wl_apikey_generate(NULL, sizeof key, prefix, sizeof prefix, hash), WL_EINVAL);
}

static void test_plausible_rejects(void **state)
{
    (void)state;
    char key[WL_APIKEY_LEN + 1], prefix[WL_APIKEY_PREFIX_LEN + 1], bad[WL_APIKEY_LEN + 2];
    unsigned char hash[WL_APIKEY_DIGEST_LEN];
    assert_int_equal(wl_apikey_generate(key, sizeof key, prefix, sizeof prefix, hash), WL_OK);

    assert_false(wl_apikey_plausible(NULL, 0));
    assert_false(wl_apikey_plausible("", 0));
    assert_false(wl_apikey_plausible("wl_", 3));
    assert_false(wl_apikey_plausible(key, WL_APIKEY_LEN - 1)); /* truncated */
    memcpy(bad, key, WL_APIKEY_LEN);
    bad[WL_APIKEY_LEN] = 'x';
    assert_false(wl_apikey_plausible(bad, WL_APIKEY_LEN + 1)); /* too long */
    /* Wrong tag. */
    memcpy(bad, key, WL_APIKEY_LEN + 1);
    bad[0] = 'W';
    assert_false(wl_apikey_plausible(bad, WL_APIKEY_LEN));
    memcpy(bad, key, WL_APIKEY_LEN + 1);
    bad[2] = '-';
    assert_false(wl_apikey_plausible(bad, WL_APIKEY_LEN));
    /* Characters outside base62, anywhere after the tag. */
    static const char foreign[] = {'-', '_', '+', '/', '=', ' ', '\0', '\n', (char)0xc3};
    for (size_t f = 0; f < sizeof foreign; f++) {
        memcpy(bad, key, WL_APIKEY_LEN + 1);
        bad[10] = foreign[f];
        assert_false(wl_apikey_plausible(bad, WL_APIKEY_LEN));
    }
    /* Any one-character typo breaks the checksum. */
    for (size_t i = WL_APIKEY_TAG_LEN; i < WL_APIKEY_LEN; i++) {
        memcpy(bad, key, WL_APIKEY_LEN + 1);
        bad[i] = bad[i] == 'a' ? 'b' : 'a';
        assert_false(wl_apikey_plausible(bad, WL_APIKEY_LEN));
    }
    /* Two adjacent characters swapped. */
    for (size_t i = WL_APIKEY_TAG_LEN; i + 1 < WL_APIKEY_LEN; i++) {
        if (key[i] == key[i + 1])
            continue;
        memcpy(bad, key, WL_APIKEY_LEN + 1);
        bad[i] = key[i + 1];
        bad[i + 1] = key[i];
        assert_false(wl_apikey_plausible(bad, WL_APIKEY_LEN));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_many),
        cmocka_unit_test(test_hash_is_sha256),
        cmocka_unit_test(test_generate_buffers),
        cmocka_unit_test(test_plausible_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
