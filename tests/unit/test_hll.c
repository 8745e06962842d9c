/* test_hll.c - HyperLogLog accuracy, merge, and the serialised format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/hll.h"

/* A well-mixed 64-bit hash of i (splitmix64's finaliser), standing in for the
 * keyed visitor hash: HLL only needs uniform bits. */
static uint64_t mix(uint64_t i)
{
    uint64_t z = i + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void add_range(wl_hll *h, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++)
        wl_hll_add_hash(h, mix(i));
}

static double rel_error(uint64_t est, uint64_t truth)
{
    double d = (double)est - (double)truth;
    return (d < 0 ? -d : d) / (double)truth;
}

static void test_empty(void **state)
{
    (void)state;
    wl_hll h;
    wl_hll_init(&h);
    assert_int_equal(wl_hll_count(&h), 0);
}

static void test_duplicates_ignored(void **state)
{
    (void)state;
    wl_hll h;
    wl_hll_init(&h);
    for (int r = 0; r < 50; r++)
        add_range(&h, 0, 10);
    assert_int_equal(wl_hll_count(&h), 10);
}

static void test_accuracy(void **state)
{
    (void)state;
    static const struct {
        uint64_t n;
        double tolerance;
    } cases[] = {{1000, 0.03}, {100000, 0.05}, {10, 0.0}, {20000, 0.05}, {1000000, 0.05}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        wl_hll h;
        wl_hll_init(&h);
        add_range(&h, 0, cases[c].n);
        uint64_t est = wl_hll_count(&h);
        printf("hll: n=%llu estimate=%llu error=%.2f%%\n", (unsigned long long)cases[c].n,
               (unsigned long long)est, 100.0 * rel_error(est, cases[c].n));
        assert_true(rel_error(est, cases[c].n) <= cases[c].tolerance);
    }
}

/* Merging two sketches gives exactly the sketch of the union. */
static void test_merge_is_union(void **state)
{
    (void)state;
    wl_hll a, b, all;
    wl_hll_init(&a);
    wl_hll_init(&b);
    wl_hll_init(&all);
    add_range(&a, 0, 60000);
    add_range(&b, 40000, 100000);
    add_range(&all, 0, 100000);
    wl_hll_merge(&a, &b);
    assert_memory_equal(a.reg, all.reg, WL_HLL_REGISTERS);
    assert_true(rel_error(wl_hll_count(&a), 100000) <= 0.05);
}

static void round_trip(const wl_hll *h, size_t expect_len)
{
    uint8_t buf[WL_HLL_MAX_SERIALIZED];
    size_t len = 0;
    assert_int_equal(wl_hll_serialized_size(h), expect_len);
    assert_int_equal(wl_hll_serialize(h, buf, sizeof buf, &len), WL_OK);
    assert_int_equal(len, expect_len);
    assert_int_equal(buf[0], WL_HLL_VERSION);
    wl_hll back;
    memset(&back, 0xaa, sizeof back);
    assert_int_equal(wl_hll_deserialize(&back, buf, len), WL_OK);
    assert_memory_equal(back.reg, h->reg, WL_HLL_REGISTERS);
}

static void test_round_trip(void **state)
{
    (void)state;
    wl_hll h;
    wl_hll_init(&h);
    round_trip(&h, 4); /* sparse, no entries */
    add_range(&h, 0, 5);
    round_trip(&h, 4 + 3 * 5);
    add_range(&h, 5, 100000);
    round_trip(&h, WL_HLL_MAX_SERIALIZED);
}

/* Sparse is used while it is smaller: 1364 registers (4096 bytes) still
 * sparse, 1365 (4099 bytes) dense. */
static void test_encoding_boundary(void **state)
{
    (void)state;
    wl_hll h;
    wl_hll_init(&h);
    for (size_t i = 0; i < 1364; i++)
        h.reg[i * 3] = (uint8_t)(1 + i % WL_HLL_MAX_RANK);
    round_trip(&h, 4 + 3 * 1364);
    h.reg[4095] = WL_HLL_MAX_RANK;
    round_trip(&h, WL_HLL_MAX_SERIALIZED);
}

static void test_serialize_small_buffer(void **state)
{
    (void)state;
    wl_hll h;
    wl_hll_init(&h);
    add_range(&h, 0, 3);
    uint8_t buf[12];
    size_t len = 0;
    assert_int_equal(wl_hll_serialize(&h, buf, sizeof buf, &len), WL_EFULL);
    uint8_t fits[13]; /* 2 header + 2 count + 3 * 3 entries */
    assert_int_equal(wl_hll_serialize(&h, fits, sizeof fits, &len), WL_OK);
    assert_int_equal(len, sizeof fits);
}

static void expect_corrupt(const uint8_t *buf, size_t len)
{
    wl_hll h, before;
    wl_hll_init(&h);
    add_range(&h, 0, 7);
    before = h;
    assert_int_equal(wl_hll_deserialize(&h, buf, len), WL_ECORRUPT);
    assert_memory_equal(h.reg, before.reg, WL_HLL_REGISTERS); /* untouched */
}

static void test_corrupt_rejected(void **state)
{
    (void)state;
    static uint8_t dense[WL_HLL_MAX_SERIALIZED + 1];
    memset(dense, 0, sizeof dense);
    dense[0] = WL_HLL_VERSION;
    dense[1] = 0;

    expect_corrupt(NULL, 0);
    expect_corrupt(dense, 0);
    expect_corrupt(dense, 1);
    expect_corrupt(dense, WL_HLL_MAX_SERIALIZED - 1); /* short dense */
    expect_corrupt(dense, WL_HLL_MAX_SERIALIZED + 1); /* long dense */
    dense[100] = WL_HLL_MAX_RANK + 1;
    expect_corrupt(dense, WL_HLL_MAX_SERIALIZED); /* rank out of range */
    dense[100] = 0;
    dense[0] = 2;
    expect_corrupt(dense, WL_HLL_MAX_SERIALIZED); /* unknown version */

    const uint8_t bad_enc[] = {1, 2, 0, 0};
    const uint8_t no_count[] = {1, 1, 0};
    const uint8_t count_long[] = {1, 1, 0, 2, 0x00, 0x01, 5};  /* says 2, has 1 */
    const uint8_t trailing[] = {1, 1, 0, 1, 0x00, 0x01, 5, 0}; /* one byte extra */
    const uint8_t unsorted[] = {1, 1, 0, 2, 0x00, 0x09, 5, 0x00, 0x01, 5};
    const uint8_t duplicate[] = {1, 1, 0, 2, 0x00, 0x01, 5, 0x00, 0x01, 6};
    const uint8_t rank_zero[] = {1, 1, 0, 1, 0x00, 0x01, 0};
    const uint8_t rank_high[] = {1, 1, 0, 1, 0x00, 0x01, WL_HLL_MAX_RANK + 1};
    const uint8_t index_high[] = {1, 1, 0, 1, 0x10, 0x00, 5}; /* index 4096 */
    const uint8_t too_many[] = {1, 1, 0x10, 0x01};            /* 4097 entries */
    expect_corrupt(bad_enc, sizeof bad_enc);
    expect_corrupt(no_count, sizeof no_count);
    expect_corrupt(count_long, sizeof count_long);
    expect_corrupt(trailing, sizeof trailing);
    expect_corrupt(unsorted, sizeof unsorted);
    expect_corrupt(duplicate, sizeof duplicate);
    expect_corrupt(rank_zero, sizeof rank_zero);
    expect_corrupt(rank_high, sizeof rank_high);
    expect_corrupt(index_high, sizeof index_high);
    expect_corrupt(too_many, sizeof too_many);

    /* and the well-formed neighbours of those are accepted */
    const uint8_t ok[] = {1, 1, 0, 2, 0x00, 0x01, 5, 0x0f, 0xff, WL_HLL_MAX_RANK};
    wl_hll h;
    assert_int_equal(wl_hll_deserialize(&h, ok, sizeof ok), WL_OK);
    assert_int_equal(h.reg[1], 5);
    assert_int_equal(h.reg[4095], WL_HLL_MAX_RANK);
}

/* wl_hll_union_serialized(a, b) must be byte-for-byte what serialising the
 * merged sketches gives, for every mix of encodings (sizes from empty to
 * dense, overlapping ranges so ranks compete) and either argument order. */
static void test_union_serialized_matches_merge(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {0, 1, 5, 300, 1364, 1500, 20000};
    static uint8_t sa[WL_HLL_MAX_SERIALIZED], sb[WL_HLL_MAX_SERIALIZED],
        want[WL_HLL_MAX_SERIALIZED], got[WL_HLL_MAX_SERIALIZED];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            wl_hll a, b, u;
            wl_hll_init(&a);
            wl_hll_init(&b);
            add_range(&a, 0, sizes[i]);
            add_range(&b, sizes[j] / 2, sizes[j] / 2 + sizes[j]);
            u = a;
            wl_hll_merge(&u, &b);
            size_t la, lb, lw, lg = 0;
            assert_int_equal(wl_hll_serialize(&a, sa, sizeof sa, &la), WL_OK);
            assert_int_equal(wl_hll_serialize(&b, sb, sizeof sb, &lb), WL_OK);
            assert_int_equal(wl_hll_serialize(&u, want, sizeof want, &lw), WL_OK);
            assert_int_equal(wl_hll_union_serialized(sa, la, sb, lb, got, &lg), WL_OK);
            assert_int_equal(lg, lw);
            assert_memory_equal(got, want, lw);
            assert_int_equal(wl_hll_union_serialized(sb, lb, sa, la, got, &lg), WL_OK);
            assert_int_equal(lg, lw);
            assert_memory_equal(got, want, lw);
        }
    }
}

static void test_union_serialized_rejects_corrupt(void **state)
{
    (void)state;
    const uint8_t ok[] = {1, 1, 0, 1, 0x00, 0x01, 5};
    const uint8_t unsorted[] = {1, 1, 0, 2, 0x00, 0x09, 5, 0x00, 0x01, 5};
    const uint8_t rank_high[] = {1, 1, 0, 1, 0x00, 0x01, WL_HLL_MAX_RANK + 1};
    const uint8_t short_dense[] = {1, 0, 0, 0};
    const uint8_t *bad[] = {unsorted, rank_high, short_dense};
    const size_t bad_len[] = {sizeof unsorted, sizeof rank_high, sizeof short_dense};
    uint8_t out[WL_HLL_MAX_SERIALIZED];
    size_t len;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(wl_hll_union_serialized(ok, sizeof ok, bad[i], bad_len[i], out, &len),
                         WL_ECORRUPT);
        assert_int_equal(wl_hll_union_serialized(bad[i], bad_len[i], ok, sizeof ok, out, &len),
                         WL_ECORRUPT);
    }
    assert_int_equal(wl_hll_union_serialized(NULL, 0, ok, sizeof ok, out, &len), WL_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_duplicates_ignored),
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_merge_is_union),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encoding_boundary),
        cmocka_unit_test(test_serialize_small_buffer),
        cmocka_unit_test(test_corrupt_rejected),
        cmocka_unit_test(test_union_serialized_matches_merge),
        cmocka_unit_test(test_union_serialized_rejects_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
