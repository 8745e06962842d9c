/* test_astore.c - the analytics store contract (astore.h) on the sqlite
 * backend, with real files in a fresh mkdtemp() directory per test: apply +
 * read round trip, the position surviving a reopen, all-or-nothing commits,
 * visitor-key life cycle, read-only handles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/astore.h"
#include "analytics/astore_sqlite.h"
#include "analytics/hll.h"

#define DAY 20422 /* 2025-11-30 */

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/wl-test-astore-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/analytics.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    wl_astore_sqlite_set_commit_hook(NULL, NULL);
    wl_test_rmtree(f->dir);
    free(f);
    return 0;
}

static wl_astore *open_store(const fixture *f, unsigned flags)
{
    wl_astore *s = NULL;
    assert_int_equal(wl_astore_open("sqlite", f->path, flags, &s), WL_OK);
    return s;
}

/* n human clicks from distinct visitors + bots bot clicks on (key, day). */
static void add_clicks(wl_agg *a, const char *key, wl_day day, int n, int bots, const char *ref)
{
    for (int i = 0; i < n + bots; i++) {
        wl_click_facts f = {.key = wl_slice_make(key, strlen(key)),
                            .time_ms = (int64_t)day * WL_DAY_MS + i};
        f.is_bot = i >= n;
        f.dims[WL_DIM_REF] = ref;
        f.dims[WL_DIM_COUNTRY] = "DE";
        f.dims[WL_DIM_DEVICE] = "mobile";
        f.dims[WL_DIM_BROWSER] = "Firefox";
        f.dims[WL_DIM_OS] = "Android";
        f.has_visitor = true;
        f.visitor_hash = ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ULL;
        assert_int_equal(wl_agg_add(a, &f), WL_OK);
    }
}

/* n human clicks on link "t" on DAY with the given ref, country, device,
 * browser and os. */
static void add_humans(wl_agg *a, const char *const dims[WL_DIM_COUNT_], int n)
{
    for (int i = 0; i < n; i++) {
        wl_click_facts c = {.key = wl_slice_make("t", 1), .time_ms = (int64_t)DAY * WL_DAY_MS};
        memcpy(c.dims, dims, sizeof(c.dims));
        assert_int_equal(wl_agg_add(a, &c), WL_OK);
    }
}

static wl_astore_batch batch_of(const wl_agg *a, const wl_queue_pos *pos)
{
    return (wl_astore_batch){.agg = a,
                             .pos = pos,
                             .forget_keys_before = DAY - 1,
                             .events = a->events,
                             .as_of_ms = 1000,
                             .now_ms = 2000};
}

static void test_apply_and_read_round_trip(void **state)
{
    fixture *f = *state;
    wl_astore *s = open_store(f, 0);
    wl_agg a;
    wl_agg_init(&a);
    add_clicks(&a, "abc", DAY, 10, 3, "news.example");
    add_clicks(&a, "abc", DAY + 2, 5, 0, "unknown");
    add_clicks(&a, "other", DAY, 7, 1, "x.example");
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    pos.part[3].segment = 7;
    pos.part[3].offset = 4096;
    wl_astore_batch b = batch_of(&a, &pos);
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    assert_int_equal(wl_astore_apply(s, &b), WL_OK); /* counters add up */

    wl_astore *r = open_store(f, WL_ASTORE_READONLY);
    wl_astore_stats *st = malloc(sizeof(*st));
    assert_int_equal(wl_astore_stats_get(r, "abc", 3, DAY, DAY + 2, st), WL_OK);
    assert_int_equal(st->clicks, 30);
    assert_int_equal(st->bot_clicks, 6);
    assert_int_equal(st->daily[0], 20);
    assert_int_equal(st->daily[1], 0);
    assert_int_equal(st->daily[2], 10);
    assert_int_equal(st->unique_visitors, 10); /* same hashes twice: still 10 */
    assert_int_equal(st->nitems[WL_DIM_REF], 2);
    assert_string_equal(st->items[WL_DIM_REF][0].value, "news.example");
    assert_int_equal(st->items[WL_DIM_REF][0].clicks, 20);
    assert_string_equal(st->items[WL_DIM_REF][1].value, "unknown");
    assert_int_equal(st->nitems[WL_DIM_COUNTRY], 1);
    assert_int_equal(st->items[WL_DIM_COUNTRY][0].clicks, 30);
    assert_int_equal(st->as_of_ms, 1000);
    /* a range without the link's days, and bad ranges */
    assert_int_equal(wl_astore_stats_get(r, "abc", 3, DAY + 3, DAY + 9, st), WL_OK);
    assert_int_equal(st->clicks, 0);
    assert_int_equal(st->nitems[WL_DIM_OS], 0);
    assert_int_equal(wl_astore_stats_get(r, "abc", 3, DAY, DAY - 1, st), WL_EINVAL);
    assert_int_equal(wl_astore_stats_get(r, "abc", 3, DAY, DAY + 366, st), WL_EINVAL);
    free(st);
    wl_astore_close(r);
    wl_agg_release(&a);
    wl_astore_close(s);
}

static void test_position_survives_reopen(void **state)
{
    fixture *f = *state;
    wl_astore *s = open_store(f, 0);
    wl_astore_consumer c;
    assert_int_equal(wl_astore_consumer_get(s, &c), WL_ENOTFOUND);
    wl_agg a;
    wl_agg_init(&a);
    add_clicks(&a, "abc", DAY, 4, 0, "unknown");
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    pos.part[0].segment = 2;
    pos.part[0].offset = 99;
    pos.part[200].segment = 5;
    pos.part[200].offset = 1;
    wl_astore_batch b = batch_of(&a, &pos);
    b.corrupt = 2;
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    wl_astore_close(s);

    s = open_store(f, 0);
    assert_int_equal(wl_astore_consumer_get(s, &c), WL_OK);
    assert_memory_equal(&c.pos, &pos, sizeof(pos));
    assert_int_equal(c.events_total, 4);
    assert_int_equal(c.corrupt_total, 2);
    assert_int_equal(c.updated_ms, 2000);
    assert_int_equal(c.as_of_ms, 1000);
    assert_int_equal(c.newest_event_ms, (int64_t)DAY * WL_DAY_MS + 3);
    /* a batch that did not drain keeps the stored as_of */
    wl_agg_reset(&a);
    b = batch_of(&a, &pos);
    b.as_of_ms = 0;
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    assert_int_equal(wl_astore_consumer_get(s, &c), WL_OK);
    assert_int_equal(c.as_of_ms, 1000);
    assert_int_equal(c.newest_event_ms, (int64_t)DAY * WL_DAY_MS + 3);
    wl_agg_release(&a);
    wl_astore_close(s);
}

static int refuse(void *ctx)
{
    (*(int *)ctx)++;
    return 1;
}

static void test_failed_commit_changes_nothing(void **state)
{
    fixture *f = *state;
    wl_astore *s = open_store(f, 0);
    wl_agg a;
    wl_agg_init(&a);
    add_clicks(&a, "abc", DAY, 3, 1, "unknown");
    wl_queue_pos p1, p2;
    wl_queue_pos_init(&p1);
    p1.part[0].segment = 1;
    wl_astore_batch b = batch_of(&a, &p1);
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);

    int calls = 0;
    wl_astore_sqlite_set_commit_hook(refuse, &calls);
    wl_queue_pos_init(&p2);
    p2.part[0].segment = 9;
    wl_astore_day_key k = {.day = DAY};
    memset(k.key.bytes, 7, sizeof(k.key.bytes));
    b = batch_of(&a, &p2);
    b.new_keys = &k;
    b.nnew_keys = 1;
    assert_int_equal(wl_astore_apply(s, &b), WL_EIO);
    assert_int_equal(calls, 1);
    wl_astore_sqlite_set_commit_hook(NULL, NULL);

    wl_astore_consumer c;
    assert_int_equal(wl_astore_consumer_get(s, &c), WL_OK);
    assert_memory_equal(&c.pos, &p1, sizeof(p1));
    assert_int_equal(c.events_total, 4);
    wl_visitor_key got;
    assert_int_equal(wl_astore_visitor_key_get(s, DAY, &got), WL_ENOTFOUND);
    wl_astore_stats *st = malloc(sizeof(*st));
    assert_int_equal(wl_astore_stats_get(s, "abc", 3, DAY, DAY, st), WL_OK);
    assert_int_equal(st->clicks, 3);
    assert_int_equal(st->bot_clicks, 1);
    free(st);
    wl_agg_release(&a);
    wl_astore_close(s);
}

static void test_visitor_keys_life_cycle(void **state)
{
    fixture *f = *state;
    wl_astore *s = open_store(f, 0);
    wl_agg a;
    wl_agg_init(&a);
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    wl_astore_day_key keys[2] = {{.day = DAY - 1}, {.day = DAY}};
    memset(keys[0].key.bytes, 1, WL_VISITOR_KEY_BYTES);
    memset(keys[1].key.bytes, 2, WL_VISITOR_KEY_BYTES);
    keys[0].key.alg = WL_VISITOR_BLAKE2B; /* the hash travels with the key */
    keys[1].key.alg = WL_VISITOR_SIPHASH;
    wl_astore_batch b = batch_of(&a, &pos);
    b.new_keys = keys;
    b.nnew_keys = 2;
    b.forget_keys_before = DAY - 1;
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    wl_visitor_key got;
    assert_int_equal(wl_astore_visitor_key_get(s, DAY - 1, &got), WL_OK);
    assert_memory_equal(got.bytes, keys[0].key.bytes, WL_VISITOR_KEY_BYTES);
    assert_int_equal(got.alg, WL_VISITOR_BLAKE2B);
    assert_int_equal(wl_astore_visitor_key_get(s, DAY, &got), WL_OK);
    assert_int_equal(got.alg, WL_VISITOR_SIPHASH);
    /* the day rolls over: yesterday's yesterday is destroyed */
    b = batch_of(&a, &pos);
    b.forget_keys_before = DAY;
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    assert_int_equal(wl_astore_visitor_key_get(s, DAY - 1, &got), WL_ENOTFOUND);
    assert_int_equal(wl_astore_visitor_key_get(s, DAY, &got), WL_OK);
    /* a second key for the same day is refused (one key per day, ever) */
    b.new_keys = &keys[1];
    b.nnew_keys = 1;
    assert_int_not_equal(wl_astore_apply(s, &b), WL_OK);
    wl_agg_release(&a);
    wl_astore_close(s);
}

static void test_readonly_handles(void **state)
{
    fixture *f = *state;
    wl_astore *r = NULL;
    assert_int_equal(wl_astore_open("sqlite", f->path, WL_ASTORE_READONLY, &r), WL_ENOTFOUND);
    assert_null(r);
    assert_int_equal(wl_astore_open("postgres", f->path, 0, &r), WL_EUNSUPPORTED);
    wl_astore_close(open_store(f, 0));
    r = open_store(f, WL_ASTORE_READONLY);
    wl_agg a;
    wl_agg_init(&a);
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    wl_astore_batch b = batch_of(&a, &pos);
    assert_int_not_equal(wl_astore_apply(r, &b), WL_OK);
    wl_astore_consumer c;
    assert_int_equal(wl_astore_consumer_get(r, &c), WL_ENOTFOUND);
    wl_agg_release(&a);
    wl_astore_close(r);
}

/* A version 1 file (device/browser/os as dim rows) migrates when the writer
 * opens it, and breakdowns sum its old rows with the new daily columns and
 * with values that have no column - ranked exactly as before. */
static void test_v1_store_migrates_and_merges(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, wl_astore_sqlite_migrations[0], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA user_version = 1;"
                     "INSERT INTO visitor_keys VALUES (20422, zeroblob(32));"
                     "INSERT INTO uniq VALUES ('k', 20422, x'01010002000101000202');"
                     "INSERT INTO daily VALUES ('k', 20422, 7, 1);"
                     "INSERT INTO dim VALUES ('k', 'ref', 20422, 'a.example', 7),"
                     " ('k', 'country', 20422, 'DE', 7), ('k', 'device', 20422, 'mobile', 7),"
                     " ('k', 'browser', 20422, 'Firefox', 2), ('k', 'browser', 20422, 'Lynx', 5),"
                     " ('k', 'os', 20422, 'Android', 7)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    wl_astore *s = open_store(f, 0); /* migrates: dims and sketch into the daily row */
    wl_visitor_key key;
    assert_int_equal(wl_astore_visitor_key_get(s, DAY, &key), WL_OK);
    assert_int_equal(key.alg, WL_VISITOR_BLAKE2B); /* an old key keeps its hash */
    wl_agg a;
    wl_agg_init(&a);
    add_clicks(&a, "k", DAY, 4, 0, "a.example"); /* mobile, Firefox, Android: columns */
    wl_click_facts odd = {.key = wl_slice_make("k", 1), .time_ms = (int64_t)DAY * WL_DAY_MS};
    const char *dims[] = {"a.example", "DE", "mobile", "w3m", "Android"};
    memcpy(odd.dims, dims, sizeof(dims));
    assert_int_equal(wl_agg_add(&a, &odd), WL_OK); /* w3m: a dim row */
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    wl_astore_batch b = batch_of(&a, &pos);
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    wl_astore *r = open_store(f, WL_ASTORE_READONLY);
    wl_astore_stats *st = malloc(sizeof(*st));
    assert_int_equal(wl_astore_stats_get(r, "k", 1, DAY, DAY, st), WL_OK);
    assert_int_equal(st->clicks, 12);
    assert_int_equal(st->bot_clicks, 1);
    assert_int_equal(st->nitems[WL_DIM_DEVICE], 1);
    assert_string_equal(st->items[WL_DIM_DEVICE][0].value, "mobile");
    assert_int_equal(st->items[WL_DIM_DEVICE][0].clicks, 12);
    assert_int_equal(st->nitems[WL_DIM_BROWSER], 3); /* Firefox 6, Lynx 5, w3m 1 */
    assert_string_equal(st->items[WL_DIM_BROWSER][0].value, "Firefox");
    assert_int_equal(st->items[WL_DIM_BROWSER][0].clicks, 6);
    assert_string_equal(st->items[WL_DIM_BROWSER][1].value, "Lynx");
    assert_string_equal(st->items[WL_DIM_BROWSER][2].value, "w3m");
    assert_int_equal(st->items[WL_DIM_OS][0].clicks, 12);
    assert_int_equal(st->items[WL_DIM_REF][0].clicks, 12);
    assert_int_equal(st->nitems[WL_DIM_COUNTRY], 1); /* DE: 7 migrated + 5 new */
    assert_int_equal(st->items[WL_DIM_COUNTRY][0].clicks, 12);
    /* the batch's 4 visitors (the odd click has none) + the migrated sketch's 2 */
    assert_int_equal(st->unique_visitors, 6);
    free(st);
    wl_astore_close(r);
    wl_agg_release(&a);
    wl_astore_close(s);
}

/* A version 2 file (device/browser/os as daily columns) migrates: the
 * column counts become breakdown values, ranked as before. */
static void test_v2_columns_migrate(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(sqlite3_exec(db, wl_astore_sqlite_migrations[i], NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA user_version = 2;"
                                  "INSERT INTO daily(key, day, clicks, dev_mobile, br_firefox,"
                                  " br_other, os_android) VALUES ('k', 20422, 3, 3, 2, 1, 3);"
                                  "INSERT INTO daily(key, day, bot_clicks) VALUES ('k', 20421, 4);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    wl_astore_close(open_store(f, 0)); /* migrates */
    wl_astore *r = open_store(f, WL_ASTORE_READONLY);
    wl_astore_stats *st = malloc(sizeof(*st));
    assert_int_equal(wl_astore_stats_get(r, "k", 1, DAY - 1, DAY, st), WL_OK);
    assert_int_equal(st->clicks, 3);
    assert_int_equal(st->bot_clicks, 4);
    assert_int_equal(st->nitems[WL_DIM_DEVICE], 1);
    assert_string_equal(st->items[WL_DIM_DEVICE][0].value, "mobile");
    assert_int_equal(st->items[WL_DIM_DEVICE][0].clicks, 3);
    assert_int_equal(st->nitems[WL_DIM_BROWSER], 2);
    assert_string_equal(st->items[WL_DIM_BROWSER][0].value, "Firefox");
    assert_int_equal(st->items[WL_DIM_BROWSER][0].clicks, 2);
    assert_string_equal(st->items[WL_DIM_BROWSER][1].value, "Other");
    assert_string_equal(st->items[WL_DIM_OS][0].value, "Android");
    free(st);
    wl_astore_close(r);
}

/* More device/browser/os values than the top N: ranked and cut to "other"
 * across columns and rows together. */
static void test_column_breakdown_top_n(void **state)
{
    fixture *f = *state;
    wl_astore *s = open_store(f, 0);
    wl_agg a;
    wl_agg_init(&a);
    char names[30][16];
    for (int v = 0; v < 30; v++) { /* value v gets v + 1 clicks */
        snprintf(names[v], sizeof(names[v]), "b%02d", v);
        const char *dims[] = {"r", "DE", "desktop", v == 29 ? "Chrome" : names[v], "Linux"};
        add_humans(&a, dims, v + 1);
    }
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    wl_astore_batch b = batch_of(&a, &pos);
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    wl_astore_stats *st = malloc(sizeof(*st));
    assert_int_equal(wl_astore_stats_get(s, "t", 1, DAY, DAY, st), WL_OK);
    assert_int_equal(st->nitems[WL_DIM_BROWSER], WL_TOP_N + 1);
    assert_string_equal(st->items[WL_DIM_BROWSER][0].value, "Chrome");
    assert_int_equal(st->items[WL_DIM_BROWSER][0].clicks, 30);
    assert_string_equal(st->items[WL_DIM_BROWSER][1].value, "b28");
    assert_string_equal(st->items[WL_DIM_BROWSER][WL_TOP_N].value, "other");
    assert_int_equal(st->items[WL_DIM_BROWSER][WL_TOP_N].clicks, 55); /* b00..b09: 1 + ... + 10 */
    free(st);
    wl_agg_release(&a);
    wl_astore_close(s);
}

/* Referrers: "unknown" has no rows; the reader derives it from the human
 * clicks, adds rows an older store wrote for it, and ranks it like any
 * value. 30 known referrers (value v: v + 1 clicks, 465 in all) and 100
 * clicks without one, 7 of them stored the old way. */
static void test_unknown_is_derived(void **state)
{
    fixture *f = *state;
    wl_astore *s = open_store(f, 0);
    wl_agg a;
    wl_agg_init(&a);
    char names[30][24];
    for (int v = 0; v < 31; v++) {
        if (v < 30)
            snprintf(names[v], sizeof(names[v]), "r%02d.example", v);
        const char *dims[] = {v < 30 ? names[v] : "unknown", "unknown", "desktop", "Chrome",
                              "Linux"};
        add_humans(&a, dims, v < 30 ? v + 1 : 93);
    }
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    wl_astore_batch b = batch_of(&a, &pos);
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);
    sqlite3 *raw; /* what a store written before the rule holds, the next day: 7 clicks
                   * of ref "unknown" (dimset.h: version, dim 0, length 7, value, 7) */
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "INSERT INTO daily(key, day, clicks, dims) VALUES"
                                  " ('t', 20423, 7, x'010007756e6b6e6f776e07');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);

    wl_astore_stats *st = malloc(sizeof(*st));
    assert_int_equal(wl_astore_stats_get(s, "t", 1, DAY, DAY + 1, st), WL_OK);
    assert_int_equal(st->clicks, 565);
    assert_int_equal(st->nitems[WL_DIM_REF], WL_TOP_N + 1);
    assert_string_equal(st->items[WL_DIM_REF][0].value, "unknown");
    assert_int_equal(st->items[WL_DIM_REF][0].clicks, 100);
    assert_string_equal(st->items[WL_DIM_REF][1].value, "r29.example");
    assert_string_equal(st->items[WL_DIM_REF][WL_TOP_N].value, "other");
    assert_int_equal(st->items[WL_DIM_REF][WL_TOP_N].clicks, 66); /* r00..r10: 1 + ... + 11 */
    uint64_t sum = 0;
    for (size_t i = 0; i < st->nitems[WL_DIM_REF]; i++)
        sum += st->items[WL_DIM_REF][i].clicks;
    assert_int_equal(sum, st->clicks);
    assert_int_equal(st->nitems[WL_DIM_COUNTRY], 1); /* every click: unknown */
    assert_string_equal(st->items[WL_DIM_COUNTRY][0].value, "unknown");
    assert_int_equal(st->items[WL_DIM_COUNTRY][0].clicks, 565);
    free(st);
    wl_agg_release(&a);
    wl_astore_close(s);
}

/* Visitors of one (link, day) over three batches: sparse + sparse while few,
 * then enough to make the stored sketch dense. The union is merged inside
 * SQLite (wl_hll_union) and must estimate exactly what one sketch of all
 * the same visitor hashes estimates. */
static void test_sketches_merge_across_batches(void **state)
{
    fixture *f = *state;
    wl_astore *s = open_store(f, 0);
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    /* visitors [from, to) per batch: disjoint, then overlapping and large */
    const uint64_t from[] = {0, 10, 5}, to[] = {10, 20, 3005};
    wl_hll all;
    wl_hll_init(&all);
    wl_astore_stats *st = malloc(sizeof(*st));
    for (int round = 0; round < 3; round++) {
        wl_agg a;
        wl_agg_init(&a);
        for (uint64_t v = from[round]; v < to[round]; v++) {
            uint64_t h = (v + 1) * 0x9e3779b97f4a7c15ULL; /* splitmix64's finaliser */
            h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
            h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
            h ^= h >> 31;
            wl_click_facts fc = {.key = wl_slice_make("abc", 3),
                                 .time_ms = (int64_t)DAY * WL_DAY_MS,
                                 .has_visitor = true,
                                 .visitor_hash = h};
            fc.dims[WL_DIM_REF] = fc.dims[WL_DIM_COUNTRY] = "x";
            fc.dims[WL_DIM_DEVICE] = "mobile";
            fc.dims[WL_DIM_BROWSER] = "Firefox";
            fc.dims[WL_DIM_OS] = "Android";
            assert_int_equal(wl_agg_add(&a, &fc), WL_OK);
            wl_hll_add_hash(&all, h);
        }
        wl_astore_batch b = batch_of(&a, &pos);
        assert_int_equal(wl_astore_apply(s, &b), WL_OK);
        wl_agg_release(&a);
        assert_int_equal(wl_astore_stats_get(s, "abc", 3, DAY, DAY, st), WL_OK);
        assert_int_equal(st->unique_visitors, wl_hll_count(&all));
    }
    printf("astore: 3005 visitors over 3 batches, estimate %llu\n",
           (unsigned long long)st->unique_visitors);
    assert_true(st->unique_visitors > 2900 && st->unique_visitors < 3100);
    free(st);
    wl_astore_close(s);
}

/* Commits a batch for "abc", damages its stored row with `damage` (SQL),
 * then checks that the next batch fails whole with WL_ECORRUPT and an error
 * naming `what`, that the position did not move, and that the stats read
 * refuses the row too. */
static void check_corrupt_row_fails_batch(fixture *f, const char *damage, const char *what)
{
    wl_astore *s = open_store(f, 0);
    wl_agg a;
    wl_agg_init(&a);
    add_clicks(&a, "abc", DAY, 5, 0, "r.example");
    wl_queue_pos pos;
    wl_queue_pos_init(&pos);
    wl_astore_batch b = batch_of(&a, &pos);
    assert_int_equal(wl_astore_apply(s, &b), WL_OK);

    sqlite3 *raw;
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, damage, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    pos.part[0].offset = 999;
    assert_int_equal(wl_astore_apply(s, &b), WL_ECORRUPT);
    assert_non_null(strstr(wl_astore_errmsg(s), what));
    wl_astore_consumer c;
    assert_int_equal(wl_astore_consumer_get(s, &c), WL_OK);
    assert_int_equal(c.pos.part[0].offset, 0);
    wl_astore_stats *st = malloc(sizeof(*st));
    wl_astore *r = open_store(f, WL_ASTORE_READONLY);
    assert_int_equal(wl_astore_stats_get(r, "abc", 3, DAY, DAY, st), WL_ECORRUPT);
    free(st);
    wl_astore_close(r);
    wl_agg_release(&a);
    wl_astore_close(s);
}

/* A stored sketch that does not parse fails the whole batch: nothing of it
 * is committed, and the store says why. */
static void test_corrupt_stored_sketch_fails_batch(void **state)
{
    /* says 2 entries, has none */
    check_corrupt_row_fails_batch(*state, "UPDATE daily SET hll = x'010100020001'", "sketch");
}

/* Likewise a stored breakdown set that does not parse (dimset.h): an entry
 * cut after its dim byte. */
static void test_corrupt_stored_dims_fail_batch(void **state)
{
    check_corrupt_row_fails_batch(*state, "UPDATE daily SET dims = x'0100'", "corrupt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_and_read_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_position_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_visitor_keys_life_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_store_migrates_and_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_columns_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_column_breakdown_top_n, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_is_derived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sketches_merge_across_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_stored_sketch_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_stored_dims_fail_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
