/* test_dimset.c - packed breakdown sets (dimset.h): the byte format, merges
 * that sum, the per-dimension bound, and refusal of every malformed blob. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/dimset.h"

static void add(wl_dimset_buf *b, wl_dim dim, const char *v, uint64_t clicks)
{
    wl_dimset_add(b, dim, v, strlen(v), clicks);
}

/* Copies b's last blob out (the next encode reuses the buffer). */
static size_t take(const wl_dimset_buf *b, uint8_t *out)
{
    memcpy(out, b->out, b->len);
    return b->len;
}

/* The clicks of (dim, value) in blob, 0 when absent; value "" = overflow. */
static uint64_t clicks_of(const uint8_t *blob, size_t len, wl_dim dim, const char *v)
{
    wl_dimset_buf b = WL_DIMSET_BUF_INIT;
    assert_int_equal(wl_dimset_decode(&b, blob, len), WL_OK);
    uint64_t c = 0;
    for (size_t i = 0; i < b.n; i++)
        if (b.e[i].dim == dim && b.e[i].len == strlen(v) &&
            memcmp(b.e[i].value, v, b.e[i].len) == 0)
            c = b.e[i].clicks;
    wl_dimset_buf_release(&b);
    return c;
}

/* The exact bytes: sorted by (dim, value), the shorter value first, LEB128. */
static void test_format(void **state)
{
    (void)state;
    wl_dimset_buf b = WL_DIMSET_BUF_INIT;
    add(&b, WL_DIM_COUNTRY, "DE", 300);
    add(&b, WL_DIM_REF, "ab", 1);
    add(&b, WL_DIM_REF, "a", 2);
    wl_dimset_encode(&b);
    const uint8_t want[] = {1, 0, 1, 'a', 2, 0, 2, 'a', 'b', 1, 1, 2, 'D', 'E', 0xac, 0x02};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.out, want, sizeof want);
    assert_int_equal(b.n, 0); /* the set being built is empty again */
    wl_dimset_encode(&b);
    assert_int_equal(b.len, 0); /* empty: stored as NULL */
    wl_dimset_buf_release(&b);
}

/* A merge (two decodes, one encode) sums equal values and keeps the rest. */
static void test_merge_sums(void **state)
{
    (void)state;
    wl_dimset_buf b = WL_DIMSET_BUF_INIT;
    uint8_t x[256], y[256];
    add(&b, WL_DIM_REF, "a.example", 5);
    add(&b, WL_DIM_BROWSER, "w3m", 1);
    wl_dimset_encode(&b);
    size_t xl = take(&b, x);
    add(&b, WL_DIM_REF, "a.example", 7);
    add(&b, WL_DIM_REF, "b.example", 1);
    wl_dimset_encode(&b);
    size_t yl = take(&b, y);
    assert_int_equal(wl_dimset_decode(&b, x, xl), WL_OK);
    assert_int_equal(wl_dimset_decode(&b, y, yl), WL_OK);
    wl_dimset_encode(&b);
    assert_int_equal(clicks_of(b.out, b.len, WL_DIM_REF, "a.example"), 12);
    assert_int_equal(clicks_of(b.out, b.len, WL_DIM_REF, "b.example"), 1);
    assert_int_equal(clicks_of(b.out, b.len, WL_DIM_BROWSER, "w3m"), 1);
    wl_dimset_buf_release(&b);
}

/* Over WL_DIMSET_MAX_VALUES values in a dimension: the most-clicked stay,
 * the rest go to the overflow entry, no click is lost, other dimensions are
 * untouched; merging more into a full set folds only what loses. */
static void test_bound_folds_least_clicked(void **state)
{
    (void)state;
    enum { N = WL_DIMSET_MAX_VALUES + 10 };
    static char names[N][24];
    wl_dimset_buf b = WL_DIMSET_BUF_INIT;
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "h%04d.example", i);
        add(&b, WL_DIM_REF, names[i], (uint64_t)i + 1); /* h0000 least clicked */
        total += (uint64_t)i + 1;
    }
    add(&b, WL_DIM_COUNTRY, "FR", 3);
    wl_dimset_encode(&b);
    static uint8_t x[64 * 1024];
    size_t xl = take(&b, x);
    assert_int_equal(wl_dimset_decode(&b, x, xl), WL_OK);
    size_t refs = 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (b.e[i].dim == WL_DIM_REF) {
            refs += b.e[i].len > 0;
            sum += b.e[i].clicks;
        }
    }
    b.n = 0;
    assert_int_equal(refs, WL_DIMSET_MAX_VALUES);
    assert_int_equal(sum, total);
    assert_int_equal(clicks_of(x, xl, WL_DIM_REF, ""), 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10);
    assert_int_equal(clicks_of(x, xl, WL_DIM_REF, names[10]), 11); /* the least kept */
    assert_int_equal(clicks_of(x, xl, WL_DIM_COUNTRY, "FR"), 3);

    /* a new value with 100 clicks beats h0010 (11), which moves to overflow */
    assert_int_equal(wl_dimset_decode(&b, x, xl), WL_OK);
    add(&b, WL_DIM_REF, "new.example", 100);
    wl_dimset_encode(&b);
    assert_int_equal(clicks_of(b.out, b.len, WL_DIM_REF, "new.example"), 100);
    assert_int_equal(clicks_of(b.out, b.len, WL_DIM_REF, names[10]), 0);
    assert_int_equal(clicks_of(b.out, b.len, WL_DIM_REF, ""), 55 + 11);
    wl_dimset_buf_release(&b);
}

/* Every way a blob can break the format is refused, and adds nothing. */
static void test_malformed_refused(void **state)
{
    (void)state;
    static const struct {
        const char *why;
        uint8_t bytes[16];
        size_t len;
    } bad[] = {
        {"empty", {0}, 0},
        {"version", {2, 0, 1, 'a', 1}, 5},
        {"dim out of range", {1, WL_DIM_COUNT_, 1, 'a', 1}, 5},
        {"value past the end", {1, 0, 5, 'a', 1}, 5},
        {"no clicks", {1, 0, 1, 'a'}, 4},
        {"zero clicks", {1, 0, 1, 'a', 0}, 5},
        {"varint never ends", {1, 0, 1, 'a', 0x80, 0x80}, 6},
        {"varint over 64 bits",
         {1, 0, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
         14},
        {"NUL in value", {1, 0, 2, 'a', 0, 1}, 6},
        {"duplicate", {1, 0, 1, 'a', 1, 0, 1, 'a', 1}, 9},
        {"unsorted values", {1, 0, 1, 'b', 1, 0, 1, 'a', 1}, 9},
        {"unsorted dims", {1, 1, 1, 'a', 1, 0, 1, 'a', 1}, 9},
        {"trailing byte", {1, 0, 1, 'a', 1, 0}, 6},
    };
    wl_dimset_buf b = WL_DIMSET_BUF_INIT;
    add(&b, WL_DIM_REF, "kept", 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (wl_dimset_decode(&b, bad[i].bytes, bad[i].len) != WL_ECORRUPT)
            fail_msg("accepted: %s", bad[i].why);
        assert_int_equal(b.n, 1);
    }
    const uint8_t max[] = {1,    0,    1,    'a',  0xff, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(wl_dimset_decode(&b, max, sizeof max), WL_OK); /* UINT64_MAX */
    assert_true(b.e[1].clicks == UINT64_MAX);
    wl_dimset_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_merge_sums),
        cmocka_unit_test(test_bound_folds_least_clicked),
        cmocka_unit_test(test_malformed_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
