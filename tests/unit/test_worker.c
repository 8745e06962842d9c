/* test_worker.c - the analytics worker end to end, in process: real click
 * events (wl_click_event_encode) appended with the real queue producer into
 * a fresh mkdtemp() data dir, consumed by wl_worker, read back through the
 * analytics store. Counts are asserted exactly, across restarts and across
 * a commit that "crashes" (the store's test hook refuses the COMMIT).
 *
 * The worker's clock is pinned (NOW) so the events' three UTC days and the
 * visitor-key window are deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/astore.h"
#include "analytics/astore_sqlite.h"
#include "analytics/event.h"
#include "analytics/worker.h"
#include "queue/queue.h"

#define TODAY 20422 /* 2025-11-30 */
#define NOW ((int64_t)TODAY * WL_DAY_MS + 12 * 3600 * 1000)
#define NKEYS 3
#define NDAYS 3 /* today, yesterday, the day before (no visitor key any more) */

static const char *const link_keys[NKEYS] = {"aB3xY9z", "promo", "k"};
static const char *const human_uas[2] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36"};

typedef struct fixture {
    char dir[64];
    char queue_dir[96];
    char db[96];
    wl_queue *q;
    wl_queue_producer *prod[2];
    wl_worker_metrics metrics;
    /* expected figures per link and day (index 0 = today) */
    uint64_t clicks[NKEYS][NDAYS], bots[NKEYS][NDAYS];
    uint64_t produced;
} fixture;

static int64_t pinned_now(void)
{
    return NOW;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/wl-test-worker-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->queue_dir, sizeof(f->queue_dir), "%s/queue", f->dir);
    snprintf(f->db, sizeof(f->db), "%s/analytics.db", f->dir);
    wl_queue_config qc = {.dir = f->queue_dir, .fsync_interval_ms = 10};
    if (wl_queue_open("embedded", &qc, &f->q) != WL_OK)
        return -1;
    for (unsigned p = 0; p < 2; p++)
        if (wl_queue_producer_new(f->q, p, &f->prod[p]) != WL_OK)
            return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    wl_astore_sqlite_set_commit_hook(NULL, NULL);
    for (unsigned p = 0; p < 2; p++)
        wl_queue_producer_free(f->prod[p]);
    wl_queue_close(f->q);
    wl_test_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- producing ------------------------------------------------------------ */

/* Event i: a link, a day, GET or HEAD, a human or a bot user agent, one of
 * 40 client addresses. Records what the worker must count. */
static void make_event(fixture *f, uint64_t i, wl_click_event *ev, char ref[64])
{
    unsigned k = (unsigned)(i % NKEYS), d = (unsigned)((i / 3) % NDAYS);
    bool head = i % 11 == 0, bot_ua = i % 7 == 0;
    memset(ev, 0, sizeof(*ev));
    ev->version = WL_CLICK_EVENT_VERSION;
    ev->time_ms = NOW - (int64_t)d * WL_DAY_MS - (int64_t)(i % 1000);
    ev->method = head ? WL_CLICK_HEAD : WL_CLICK_GET;
    ev->addr_family = WL_ADDR_IPV4;
    ev->addr[0] = 10;
    ev->addr[3] = (uint8_t)(i % 40);
    ev->key = wl_slice_make(link_keys[k], strlen(link_keys[k]));
    snprintf(ref, 64, "https://site%u.example/page", (unsigned)(i % 25));
    ev->referrer = wl_slice_make(ref, strlen(ref));
    const char *ua = bot_ua ? "curl/8.4.0" : human_uas[i % 2];
    ev->user_agent = wl_slice_make(ua, strlen(ua));
    if (head || bot_ua)
        f->bots[k][d]++;
    else
        f->clicks[k][d]++;
}

/* Appends events [first, first + n) over both partitions, plus `garbage`
 * records that are framed correctly but are not click events. */
static void produce(fixture *f, uint64_t first, uint64_t n, unsigned garbage)
{
    wl_queue_batch b[2];
    for (unsigned p = 0; p < 2; p++)
        assert_int_equal(wl_queue_batch_init(&b[p], 256 * 1024), WL_OK);
    for (uint64_t i = first; i < first + n; i++) {
        wl_queue_batch *qb = &b[i % 2];
        wl_click_event ev;
        char ref[64];
        make_event(f, i, &ev, ref);
        uint8_t *w = wl_queue_batch_reserve(qb, WL_CLICK_EVENT_MAX_ENCODED);
        if (!w) {
            assert_int_equal(wl_queue_append(f->prod[i % 2], qb), WL_OK);
            w = wl_queue_batch_reserve(qb, WL_CLICK_EVENT_MAX_ENCODED);
        }
        size_t len;
        assert_int_equal(wl_click_event_encode(&ev, w, WL_CLICK_EVENT_MAX_ENCODED, &len), WL_OK);
        wl_queue_batch_commit(qb, len);
    }
    for (unsigned g = 0; g < garbage; g++) {
        uint8_t *w = wl_queue_batch_reserve(&b[0], 8);
        memcpy(w, "\x63garbage", 8); /* unknown version byte */
        wl_queue_batch_commit(&b[0], 8);
    }
    for (unsigned p = 0; p < 2; p++) {
        assert_int_equal(wl_queue_append(f->prod[p], &b[p]), WL_OK);
        wl_queue_batch_release(&b[p]);
    }
    f->produced += n;
}

/* ---- consuming ------------------------------------------------------------ */

static wl_worker *open_worker(fixture *f, uint32_t batch_max)
{
    wl_worker_config wc = {.queue_dir = f->queue_dir,
                           .astore_backend = "sqlite",
                           .astore_dsn = f->db,
                           .batch_max = batch_max,
                           .batch_wait_ms = 0,
                           .metrics = &f->metrics,
                           .now_ms = pinned_now};
    wl_worker *w = NULL;
    char err[512];
    wl_status st = wl_worker_open(&wc, &w, err, sizeof(err));
    if (st != WL_OK)
        fail_msg("wl_worker_open: %s", err);
    return w;
}

/* Steps until the queue has nothing new; returns the committed batches. */
static unsigned run_until_caught_up(wl_worker *w)
{
    unsigned batches = 0;
    wl_status st;
    while ((st = wl_worker_step(w)) == WL_OK)
        batches++;
    assert_int_equal(st, WL_EAGAIN);
    return batches;
}

static void assert_counts(fixture *f)
{
    wl_astore *r = NULL;
    assert_int_equal(wl_astore_open("sqlite", f->db, WL_ASTORE_READONLY, &r), WL_OK);
    wl_astore_stats *s = malloc(sizeof(*s));
    uint64_t all = 0;
    for (unsigned k = 0; k < NKEYS; k++) {
        const char *key = link_keys[k];
        assert_int_equal(wl_astore_stats_get(r, key, strlen(key), TODAY - 2, TODAY, s), WL_OK);
        uint64_t clicks = 0, bots = 0;
        for (unsigned d = 0; d < NDAYS; d++) {
            assert_int_equal(s->daily[2 - d], f->clicks[k][d]);
            clicks += f->clicks[k][d];
            bots += f->bots[k][d];
        }
        assert_int_equal(s->clicks, clicks);
        assert_int_equal(s->bot_clicks, bots);
        for (int m = 0; m < WL_DIM_COUNT_; m++) {
            uint64_t sum = 0;
            for (size_t i = 0; i < s->nitems[m]; i++)
                sum += s->items[m][i].clicks;
            assert_int_equal(sum, clicks); /* breakdowns count humans only */
        }
        assert_int_equal(s->nitems[WL_DIM_REF], WL_TOP_N + 1); /* 25 sites: top 20 + other */
        assert_string_equal(s->items[WL_DIM_REF][WL_TOP_N].value, "other");
        assert_string_equal(s->items[WL_DIM_COUNTRY][0].value, "unknown"); /* no GeoIP */
        /* visitors: 40 addresses x 2 user agents, counted only on the days
         * that still have a key (today and yesterday); HLL is approximate */
        if (clicks > 500) {
            assert_true(s->unique_visitors >= 60 && s->unique_visitors <= 100);
        }
        all += clicks + bots;
    }
    assert_int_equal(all, f->produced);
    free(s);
    wl_astore_close(r);
}

static void test_end_to_end_exact_counts(void **state)
{
    fixture *f = *state;
    produce(f, 0, 6000, 5);
    wl_worker *w = open_worker(f, 700);
    unsigned batches = run_until_caught_up(w);
    assert_true(batches >= 1); /* catching up folds reads into one commit */
    wl_worker_close(w);
    assert_counts(f);
    assert_int_equal(atomic_load(&f->metrics.consumed), 6000);
    assert_int_equal(atomic_load(&f->metrics.corrupt), 5);
    assert_int_equal(atomic_load(&f->metrics.depth_bytes), 0);
    assert_int_not_equal(atomic_load(&f->metrics.as_of_ms), 0);
}

/* A worker that is behind folds up to 400 full reads of batch_max into one
 * commit; the last (short) read drains the queue and sets as_of. */
static void test_catch_up_folds_reads(void **state)
{
    fixture *f = *state;
    produce(f, 0, 4005, 0);
    wl_worker *w = open_worker(f, 5);
    assert_int_equal(wl_worker_step(w), WL_OK);
    assert_int_equal(atomic_load(&f->metrics.last_batch), 2000);
    assert_int_equal(atomic_load(&f->metrics.as_of_ms), 0); /* not drained yet */
    assert_int_equal(run_until_caught_up(w), 2);            /* 2000, 5 */
    assert_int_equal(atomic_load(&f->metrics.last_batch), 5);
    assert_int_not_equal(atomic_load(&f->metrics.as_of_ms), 0);
    wl_worker_close(w);
    assert_int_equal(atomic_load(&f->metrics.batches), 3);
    assert_counts(f);
}

static void test_restart_never_double_counts(void **state)
{
    fixture *f = *state;
    produce(f, 0, 2000, 0);
    wl_worker *w = open_worker(f, 300);
    run_until_caught_up(w);
    wl_worker_close(w);
    assert_counts(f);

    /* same queue, same store: the second worker resumes after the first */
    produce(f, 2000, 1500, 0);
    w = open_worker(f, 300);
    run_until_caught_up(w);
    wl_worker_close(w);
    assert_counts(f);

    /* and a third with nothing new counts nothing */
    w = open_worker(f, 300);
    assert_int_equal(wl_worker_step(w), WL_EAGAIN);
    wl_worker_close(w);
    assert_counts(f);
}

typedef struct crash_plan {
    int commits_before_crash;
    int calls;
} crash_plan;

static int crash_at(void *ctx)
{
    crash_plan *p = ctx;
    return p->calls++ == p->commits_before_crash;
}

static void test_crash_before_commit_then_exact(void **state)
{
    fixture *f = *state;
    produce(f, 0, 3000, 0);
    crash_plan plan = {.commits_before_crash = 2};
    wl_astore_sqlite_set_commit_hook(crash_at, &plan);
    wl_worker *w = open_worker(f, 1); /* catching up: 400 reads of 1 a commit */
    assert_int_equal(wl_worker_step(w), WL_OK);
    assert_int_equal(wl_worker_step(w), WL_OK);
    /* the third batch is aggregated and written, then the commit dies */
    assert_int_equal(wl_worker_step(w), WL_EIO);
    wl_worker_close(w); /* the pending batch is dropped, as a crash would */
    wl_astore_sqlite_set_commit_hook(NULL, NULL);

    wl_astore *r = NULL;
    wl_astore_consumer c;
    assert_int_equal(wl_astore_open("sqlite", f->db, WL_ASTORE_READONLY, &r), WL_OK);
    assert_int_equal(wl_astore_consumer_get(r, &c), WL_OK);
    assert_int_equal(c.events_total, 800); /* exactly the two committed batches */
    wl_astore_close(r);

    w = open_worker(f, 400);
    run_until_caught_up(w);
    wl_worker_close(w);
    assert_counts(f);
}

static void test_failed_commit_is_retried_in_place(void **state)
{
    fixture *f = *state;
    produce(f, 0, 1000, 0);
    crash_plan plan = {.commits_before_crash = 0};
    wl_astore_sqlite_set_commit_hook(crash_at, &plan);
    wl_worker *w = open_worker(f, 10000);
    assert_int_equal(wl_worker_step(w), WL_EIO); /* refused once ... */
    assert_int_equal(wl_worker_step(w), WL_OK);  /* ... then the same batch commits */
    assert_int_equal(wl_worker_step(w), WL_EAGAIN);
    wl_worker_close(w);
    assert_int_equal(atomic_load(&f->metrics.commit_errors), 1);
    assert_counts(f);
}

static void test_second_worker_is_refused(void **state)
{
    fixture *f = *state;
    wl_worker *w = open_worker(f, 100);
    wl_worker_config wc = {
        .queue_dir = f->queue_dir, .astore_dsn = f->db, .batch_max = 100, .metrics = &f->metrics};
    wl_worker *w2 = NULL;
    char err[512];
    assert_int_equal(wl_worker_open(&wc, &w2, err, sizeof(err)), WL_EBUSY);
    assert_null(w2);
    assert_non_null(strstr(err, "another worker is consuming"));
    wl_worker_close(w);
    assert_int_equal(wl_worker_open(&wc, &w2, err, sizeof(err)), WL_OK);
    wl_worker_close(w2);
}

static void test_run_stops_on_flag(void **state)
{
    fixture *f = *state;
    produce(f, 0, 500, 0);
    wl_worker *w = open_worker(f, 100);
    atomic_bool stop = true;
    /* raised before the first step: run commits nothing and returns */
    assert_int_equal(wl_worker_run(w, &stop, 0), WL_OK);
    assert_int_equal(atomic_load(&f->metrics.consumed), 0);
    run_until_caught_up(w);
    wl_worker_close(w);
    assert_counts(f);
}

/* A sealed segment whose last record was cut short (a writer that crashed
 * mid-write): the intact records count, the torn bytes are reported in the
 * metrics, and nothing is counted as corrupt. */
static void test_torn_tail_is_reported(void **state)
{
    fixture *f = *state;
    produce(f, 0, 100, 0);
    wl_queue_producer_free(f->prod[0]);
    f->prod[0] = NULL;
    char seg[160];
    snprintf(seg, sizeof(seg), "%s/part-000/%020d.seg", f->queue_dir, 1);
    struct stat sb;
    assert_int_equal(stat(seg, &sb), 0);
    assert_int_equal(truncate(seg, sb.st_size - 10), 0);
    /* a new producer starts a new segment: the cut one is sealed now */
    assert_int_equal(wl_queue_producer_new(f->q, 0, &f->prod[0]), WL_OK);
    wl_worker *w = open_worker(f, 64);
    run_until_caught_up(w);
    wl_worker_close(w);
    assert_int_equal(atomic_load(&f->metrics.consumed), f->produced - 1);
    assert_int_equal(atomic_load(&f->metrics.corrupt), 0);
    uint64_t torn = atomic_load(&f->metrics.torn_bytes);
    assert_true(torn > 0 && torn < WL_CLICK_EVENT_MAX_ENCODED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_end_to_end_exact_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catch_up_folds_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_never_double_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_before_commit_then_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_is_retried_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_worker_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_stops_on_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
