/* test_aggregate.c - in-memory aggregation of enriched clicks, the day
 * helpers and the top-N + "other" breakdown rule (src/analytics/aggregate.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "analytics/aggregate.h"
#include "analytics/hll.h"

#define DAY0 ((int64_t)20422 * WL_DAY_MS) /* 2025-11-30 00:00 UTC */

static wl_click_facts human(const char *key, int64_t t, const char *ref, const char *browser)
{
    wl_click_facts f = {.key = wl_slice_make(key, strlen(key)), .time_ms = t};
    f.dims[WL_DIM_REF] = ref;
    f.dims[WL_DIM_COUNTRY] = "unknown";
    f.dims[WL_DIM_DEVICE] = "desktop";
    f.dims[WL_DIM_BROWSER] = browser;
    f.dims[WL_DIM_OS] = "Linux";
    return f;
}

static const wl_agg_day *find_day(const wl_agg *a, const char *key, wl_day day)
{
    for (size_t i = 0; i < a->ndays; i++)
        if (a->days[i].day == day && a->days[i].key_len == strlen(key) &&
            memcmp(a->days[i].key, key, a->days[i].key_len) == 0)
            return &a->days[i];
    return NULL;
}

static uint64_t dim_sum(const wl_agg *a, const char *key, wl_day day, wl_dim dim)
{
    uint64_t n = 0;
    for (size_t i = 0; i < a->ndims; i++)
        if (a->dims[i].dim == dim && a->dims[i].day == day && strcmp(a->dims[i].key, key) == 0)
            n += a->dims[i].clicks;
    const wl_agg_day *d = find_day(a, key, day);
    for (int c = 0; d && c < WL_AGG_UA_COLS; c++)
        if (wl_agg_ua_dim(c) == dim)
            n += d->ua[c];
    return n;
}

static void test_breakdowns_sum_to_human_clicks(void **state)
{
    (void)state;
    wl_agg a;
    wl_agg_init(&a);
    const char *refs[] = {"a.example", "b.example", "unknown"};
    const char *browsers[] = {"Firefox", "Chrome"};
    uint64_t humans[2][2] = {{0}}, bots[2][2] = {{0}}, unknown_ref[2][2] = {{0}};
    /* enough rows to force several index and array growths */
    for (int i = 0; i < 20000; i++) {
        const char *key = i % 2 ? "k1" : "key-two";
        int day = (i / 7) % 2;
        wl_click_facts f = human(key, DAY0 + day * WL_DAY_MS + i, refs[i % 3], browsers[i % 2]);
        char ref[32];
        if (i % 5 == 0) {
            f.is_bot = true;
            memset(f.dims, 0, sizeof(f.dims)); /* bots need no dimensions */
            bots[i % 2][day]++;
        } else {
            snprintf(ref, sizeof(ref), "r%d.example", i % 700);
            if (i % 3 == 0)
                f.dims[WL_DIM_REF] = ref;
            unknown_ref[i % 2][day] += strcmp(f.dims[WL_DIM_REF], "unknown") == 0;
            f.has_visitor = true;
            f.visitor_hash = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
            humans[i % 2][day]++;
        }
        assert_int_equal(wl_agg_add(&a, &f), WL_OK);
    }
    assert_int_equal(a.events, 20000);
    assert_int_equal(a.ndays, 4);
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "k1" : "key-two";
        for (int d = 0; d < 2; d++) {
            const wl_agg_day *row = find_day(&a, key, 20422 + d);
            assert_non_null(row);
            assert_int_equal(row->clicks, humans[k][d]);
            assert_int_equal(row->bot_clicks, bots[k][d]);
            assert_int_equal(row->nvisitors, humans[k][d]);
            /* every human click has one value per dimension; an unknown
             * referrer or country has no row (WL_AGG_UNKNOWN) */
            assert_true(unknown_ref[k][d] > 0);
            assert_int_equal(dim_sum(&a, key, 20422 + d, WL_DIM_REF),
                             humans[k][d] - unknown_ref[k][d]);
            assert_int_equal(dim_sum(&a, key, 20422 + d, WL_DIM_COUNTRY), 0);
            for (int m = WL_DIM_DEVICE; m <= WL_DIM_OS; m++)
                assert_int_equal(dim_sum(&a, key, 20422 + d, (wl_dim)m), humans[k][d]);
        }
    }
    /* device, browser and os values of ua.h are counters of the day row */
    for (size_t i = 0; i < a.ndims; i++) {
        assert_true(a.dims[i].dim == WL_DIM_REF || a.dims[i].dim == WL_DIM_COUNTRY);
        assert_string_not_equal(a.dims[i].value, "unknown");
    }
    assert_int_equal(find_day(&a, "k1", 20422)->ua[wl_agg_ua_col(WL_DIM_BROWSER, "Chrome")],
                     humans[1][0]);
    /* reset keeps memory and starts from zero */
    wl_agg_reset(&a);
    assert_int_equal(a.ndays, 0);
    assert_int_equal(a.ndims, 0);
    wl_click_facts f = human("k1", DAY0, "x", "Firefox");
    assert_int_equal(wl_agg_add(&a, &f), WL_OK);
    assert_int_equal(a.ndays, 1);
    assert_int_equal(a.days[0].clicks, 1);
    assert_int_equal(a.ndims, 1);    /* ref (the country is unknown: no row) */
    f.dims[WL_DIM_BROWSER] = "Lynx"; /* not one of ua.h's: a dimension row */
    assert_int_equal(wl_agg_add(&a, &f), WL_OK);
    assert_int_equal(a.ndims, 2);
    assert_int_equal(dim_sum(&a, "k1", 20422, WL_DIM_BROWSER), 2);
    assert_int_equal(wl_agg_ua_col(WL_DIM_OS, "unknown"), WL_AGG_UA_COLS - 1);
    assert_int_equal(wl_agg_ua_col(WL_DIM_REF, "unknown"), -1);
    f.dims[WL_DIM_OS] = NULL;
    assert_int_equal(wl_agg_add(&a, &f), WL_EINVAL);
    f.key.len = 0;
    assert_int_equal(wl_agg_add(&a, &f), WL_EINVAL);
    wl_agg_release(&a);
}

static void test_days(void **state)
{
    (void)state;
    assert_int_equal(wl_day_from_ms(0), 0);
    assert_int_equal(wl_day_from_ms(WL_DAY_MS - 1), 0);
    assert_int_equal(wl_day_from_ms(-1), -1);
    wl_day d;
    assert_int_equal(wl_day_parse("2026-11-30", 10, &d), 0);
    char s[16];
    assert_int_equal(wl_day_format(d, s, sizeof(s)), 10);
    assert_string_equal(s, "2026-11-30");
    assert_int_equal(wl_day_parse("2024-02-29", 10, &d), 0);
    assert_int_equal(wl_day_parse("2026-02-29", 10, &d), -1);
    assert_int_equal(wl_day_parse("2026-13-01", 10, &d), -1);
    assert_int_equal(wl_day_parse("2026-1-01", 9, &d), -1);
    assert_int_equal(wl_day_parse("2026/11/30", 10, &d), -1);
    assert_int_equal(wl_day_parse("1969-12-31", 10, &d), -1);
    assert_int_equal(wl_day_parse("2026-11-3x", 10, &d), -1);
    assert_string_equal(wl_dim_name(WL_DIM_REF), "ref");
    assert_string_equal(wl_dim_name(WL_DIM_OS), "os");
}

static void test_top_n_and_other(void **state)
{
    (void)state;
    wl_breakdown_item items[31];
    size_t n = 30;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(items[i].value, sizeof(items[i].value), "v%02zu", i);
        items[i].clicks = i + 1; /* v29 has most */
        total += i + 1;
    }
    wl_breakdown_finish(items, &n, 31, total + 5); /* 5 clicks of values never listed */
    assert_int_equal(n, WL_TOP_N + 1);
    assert_string_equal(items[0].value, "v29");
    assert_int_equal(items[0].clicks, 30);
    assert_string_equal(items[19].value, "v10");
    assert_string_equal(items[20].value, "other");
    assert_int_equal(items[20].clicks, (1 + 10) * 10 / 2 + 5); /* v00..v09 + unlisted */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += items[i].clicks;
    assert_int_equal(sum, total + 5);

    /* few values, exact total: no "other"; ties sort by value */
    wl_breakdown_item few[3] = {{"b", 2}, {"a", 2}, {"c", 5}};
    n = 3;
    wl_breakdown_finish(few, &n, 3, 9);
    assert_int_equal(n, 3);
    assert_string_equal(few[0].value, "c");
    assert_string_equal(few[1].value, "a");
    assert_string_equal(few[2].value, "b");

    /* a real value "other" absorbs the remainder instead of repeating */
    wl_breakdown_item with_other[3] = {{"other", 1}, {"x", 4}};
    n = 2;
    wl_breakdown_finish(with_other, &n, 3, 8);
    assert_int_equal(n, 2);
    assert_string_equal(with_other[1].value, "other");
    assert_int_equal(with_other[1].clicks, 4);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_hash(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng * 0x2545f4914f6cdd1dULL;
}

/* The sparse fast path agrees byte for byte with hll.h (an empty sketch,
 * every visitor added, serialised) and steps aside when it would not fit. */
static void test_sketch_sparse_matches_hll(void **state)
{
    (void)state;
    static uint64_t vis[2000];
    wl_agg_day d = {.visitors = vis, .cap = 2000}; /* a heap array (aggregate.h) */
    uint8_t want[WL_HLL_MAX_SERIALIZED], got[WL_AGG_SKETCH_MAX];
    size_t wantlen, gotlen;
    unsigned sizes[] = {0, 1, 3, 50, 400, 600, 1364, 1365, 2000};
    for (size_t round = 0; round < sizeof(sizes) / sizeof(sizes[0]); round++) {
        d.nvisitors = sizes[round];
        for (unsigned i = 0; i < d.nvisitors; i++) /* some repeats: one register, two ranks */
            vis[i] = (i % 7 == 3 && i > 10) ? vis[i - 5] : next_hash();
        int rc = wl_agg_sketch_sparse(&d, got, &gotlen);
        if (d.nvisitors == 0) {
            assert_int_equal(rc, 0);
            continue;
        }
        if (d.nvisitors > 1364) {
            assert_int_equal(rc, -1); /* may be dense: hll.h's job */
            continue;
        }
        wl_hll h;
        wl_hll_init(&h);
        for (unsigned i = 0; i < d.nvisitors; i++)
            wl_hll_add_hash(&h, vis[i]);
        assert_int_equal(wl_hll_serialize(&h, want, sizeof(want), &wantlen), WL_OK);
        assert_int_equal(want[1], 1); /* sparse */
        assert_int_equal(rc, 1);
        assert_int_equal(gotlen, wantlen);
        assert_memory_equal(got, want, wantlen);
    }
    /* two hashes in one register: the larger rank wins, whatever the order */
    vis[0] = 0x0010010000000000ULL; /* register 1, rank 12 */
    vis[1] = 0x0018000000000000ULL; /* register 1, rank 1 */
    d.nvisitors = 2;
    assert_int_equal(wl_agg_sketch_sparse(&d, got, &gotlen), 1);
    const uint8_t one[] = {WL_HLL_VERSION, 1, 0, 1, 0, 1, 12};
    assert_int_equal(gotlen, sizeof(one));
    assert_memory_equal(got, one, sizeof(one));
}

/* Rows sort in the store's primary-key order (SQLite BINARY text). */
static void test_sort_rows(void **state)
{
    (void)state;
    wl_agg_day d[] = {{.key = "b", .key_len = 1, .day = 1},
                      {.key = "a", .key_len = 1, .day = 3},
                      {.key = "ab", .key_len = 2, .day = 0},
                      {.key = "a", .key_len = 1, .day = -1}};
    const wl_agg_day *q[4] = {&d[0], &d[1], &d[2], &d[3]};
    wl_agg_sort_days(q, 4); /* a/-1, a/3, ab (the shorter key first), b */
    assert_ptr_equal(q[0], &d[3]);
    assert_ptr_equal(q[1], &d[1]);
    assert_ptr_equal(q[2], &d[2]);
    assert_ptr_equal(q[3], &d[0]);
}

/* A batch of many rows leaves no memory behind after reset (a catch-up
 * burst), a small one keeps its arrays for the next batch; either way the
 * next batch counts from zero. */
static void test_reset_returns_big_batches(void **state)
{
    (void)state;
    wl_agg a;
    wl_agg_init(&a);
    const char *dims[] = {"r.example", "unknown", "desktop", "Chrome", "Linux"};
    for (int round = 0; round < 2; round++) {
        int n = round ? 100 : 70000; /* over 65,536 rows, then few */
        for (int i = 0; i < n; i++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", i);
            wl_click_facts f = {.key = wl_slice_make(key, strlen(key)),
                                .has_visitor = true,
                                .visitor_hash = (uint64_t)i};
            memcpy(f.dims, dims, sizeof(dims));
            assert_int_equal(wl_agg_add(&a, &f), WL_OK);
        }
        assert_int_equal(a.ndays, (size_t)n);
        assert_int_equal(a.ndims, (size_t)n);
        wl_agg_reset(&a);
        assert_int_equal(a.ndays, 0);
        if (round == 0) {
            assert_null(a.days);
            assert_null(a.dims);
            assert_null(a.day_idx.slots);
        } else {
            assert_non_null(a.days);
            assert_non_null(a.day_idx.slots);
        }
    }
    wl_agg_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breakdowns_sum_to_human_clicks),
        cmocka_unit_test(test_days),
        cmocka_unit_test(test_top_n_and_other),
        cmocka_unit_test(test_sketch_sparse_matches_hll),
        cmocka_unit_test(test_sort_rows),
        cmocka_unit_test(test_reset_returns_big_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
