/* test_visitor.c - keyed visitor hash: determinism, key dependence, framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/hll.h"
#include "analytics/visitor.h"
#include "core/clock.h"

static const uint8_t v4[4] = {203, 0, 113, 7};
static const uint8_t v4_mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7};
static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const char ua[] = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

static uint64_t h(const wl_visitor_key *k, const uint8_t *a, size_t alen, const char *u)
{
    return wl_visitor_hash(k, a, alen, u, u ? strlen(u) : 0);
}

static void test_same_inputs_same_hash(void **state)
{
    (void)state;
    wl_visitor_key k;
    assert_int_equal(wl_visitor_key_generate(&k), WL_OK);
    wl_visitor_key copy = k;
    assert_true(h(&k, v4, 4, ua) == h(&copy, v4, 4, ua));
    assert_true(h(&k, v6, 16, ua) == h(&k, v6, 16, ua));
}

static void test_different_key_different_hash(void **state)
{
    (void)state;
    wl_visitor_key k1, k2;
    assert_int_equal(wl_visitor_key_generate(&k1), WL_OK);
    assert_int_equal(wl_visitor_key_generate(&k2), WL_OK);
    assert_memory_not_equal(k1.bytes, k2.bytes, WL_VISITOR_KEY_BYTES);
    assert_true(h(&k1, v4, 4, ua) != h(&k2, v4, 4, ua));
    /* one flipped key bit is enough */
    wl_visitor_key k3 = k1;
    k3.bytes[31] ^= 1;
    assert_true(h(&k1, v4, 4, ua) != h(&k3, v4, 4, ua));
}

static void test_inputs_matter(void **state)
{
    (void)state;
    wl_visitor_key k;
    assert_int_equal(wl_visitor_key_generate(&k), WL_OK);
    uint8_t other[4] = {203, 0, 113, 8};
    assert_true(h(&k, v4, 4, ua) != h(&k, other, 4, ua));
    assert_true(h(&k, v4, 4, ua) != h(&k, v4, 4, "curl/8.4.0"));
    assert_true(h(&k, v4, 4, ua) != h(&k, v6, 16, ua));
    assert_true(h(&k, v4, 4, "") == h(&k, v4, 4, NULL)); /* empty UA either way */
}

/* The length byte keeps (addr, ua) pairs apart that would otherwise feed
 * the same bytes: address 1.2.3.4 + "5abc" vs 1.2.3 + "45abc". */
static void test_framing(void **state)
{
    (void)state;
    wl_visitor_key k;
    assert_int_equal(wl_visitor_key_generate(&k), WL_OK);
    const uint8_t a4[4] = {1, 2, 3, 4};
    const uint8_t a3[3] = {1, 2, 3};
    const char *ua_a = "\005abc", *ua_b = "\004\005abc";
    assert_true(wl_visitor_hash(&k, a4, 4, ua_a, 4) != wl_visitor_hash(&k, a3, 3, ua_b, 5));
}

static void test_v4_mapped_same_as_v4(void **state)
{
    (void)state;
    wl_visitor_key k;
    assert_int_equal(wl_visitor_key_generate(&k), WL_OK);
    assert_true(h(&k, v4, 4, ua) == h(&k, v4_mapped, 16, ua));
}

/* Known answers, computed independently with Python:
 *   BLAKE2B keys: hashlib.blake2b(b"\x04" + addr + ua, key=bytes(range(32)),
 *     digest_size=16, person=b"warplink-vis-v1\x00").digest()[:8], little-endian;
 *   SIPHASH keys: SipHash-2-4 written from the paper (checked against its
 *     test vector 0xa129ca6149be45e5) over the same bytes, keyed with
 *     bytes(range(16)) XOR bytes(range(16, 32)).
 * The values are part of the stored data's meaning (one day's sketches must
 * agree across restarts and releases), so a change here is a format change;
 * a key keeps its alg for its whole life (visitor.h). */
static void test_known_answer(void **state)
{
    (void)state;
    wl_visitor_key k = {.alg = WL_VISITOR_BLAKE2B};
    for (int i = 0; i < WL_VISITOR_KEY_BYTES; i++)
        k.bytes[i] = (uint8_t)i;
    assert_true(h(&k, v4, 4, ua) == 0xcd3c1a11b52c63bbu);
    assert_true(wl_visitor_hash(&k, NULL, 0, NULL, 0) == 0x9c41085203dc0ad1u);
    k.alg = WL_VISITOR_SIPHASH;
    assert_true(h(&k, v4, 4, ua) == 0x811cf259ba55598bu);
    assert_true(wl_visitor_hash(&k, NULL, 0, NULL, 0) == 0xe96732fd4c80ea04u);
}

/* New keys use SipHash; the alg is what decides, not the key bytes. */
static void test_new_keys_use_siphash(void **state)
{
    (void)state;
    wl_visitor_key k;
    assert_int_equal(wl_visitor_key_generate(&k), WL_OK);
    assert_int_equal(k.alg, WL_VISITOR_SIPHASH);
    wl_visitor_key old = k;
    old.alg = WL_VISITOR_BLAKE2B;
    assert_true(h(&k, v4, 4, ua) != h(&old, v4, 4, ua));
}

static void test_wipe(void **state)
{
    (void)state;
    wl_visitor_key k, zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(wl_visitor_key_generate(&k), WL_OK);
    wl_visitor_key_wipe(&k);
    assert_memory_equal(&k, &zero, sizeof k);
}

/* End to end with the sketch: 20,000 distinct clients, each clicking three
 * times, count as about 20,000 visitors. Also prints the cost per hash. */
static void test_feeds_hll(void **state)
{
    (void)state;
    wl_visitor_key k;
    assert_int_equal(wl_visitor_key_generate(&k), WL_OK);
    wl_hll sketch;
    wl_hll_init(&sketch);
    size_t ua_len = strlen(ua);
    int64_t t0 = wl_mono_ns();
    for (uint32_t i = 0; i < 20000; i++) {
        uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        for (int r = 0; r < 3; r++)
            wl_hll_add_hash(&sketch, wl_visitor_hash(&k, a, 4, ua, ua_len));
    }
    int64_t t1 = wl_mono_ns();
    printf("visitor: %.0f ns per hash\n", (double)(t1 - t0) / 60000.0);
    uint64_t n = wl_hll_count(&sketch);
    assert_true(n > 19000 && n < 21000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_inputs_same_hash),
        cmocka_unit_test(test_different_key_different_hash),
        cmocka_unit_test(test_inputs_matter),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_v4_mapped_same_as_v4),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_new_keys_use_siphash),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_feeds_hll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
