/* test_queue.c - the click queue (src/queue/): framing, positions and the
 * embedded log on real files in a fresh mkdtemp() directory per test.
 *
 * Test payloads are self-describing - partition, sequence number and a
 * filler derived from both - so every delivered record can be checked for
 * integrity and for exactly-once, in-order delivery per partition. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "queue/embedded.h"
#include "queue/queue.h"
#include "queue/record.h"

#define MAX_SEQ 400000

/* ---- fixtures ------------------------------------------------------------ */

typedef struct fixture {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/wl-test-queue-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    wl_queue_embedded_set_write_fn(NULL);
    wl_test_rmtree(f->dir);
    free(f);
    return 0;
}

static wl_queue_config config(const fixture *f, uint32_t segment_bytes, uint64_t budget)
{
    wl_queue_config cfg = {f->dir, budget, segment_bytes, 10};
    return cfg;
}

static wl_queue *open_queue(const wl_queue_config *cfg)
{
    wl_queue *q = NULL;
    assert_int_equal(wl_queue_open("embedded", cfg, &q), WL_OK);
    return q;
}

static wl_queue_producer *new_producer(wl_queue *q, unsigned part)
{
    wl_queue_producer *p = NULL;
    assert_int_equal(wl_queue_producer_new(q, part, &p), WL_OK);
    return p;
}

static wl_queue_consumer *open_consumer(const wl_queue_config *cfg)
{
    wl_queue_consumer *c = NULL;
    assert_int_equal(wl_queue_consumer_open("embedded", cfg, &c), WL_OK);
    return c;
}

/* ---- payloads ---------------------------------------------------------- */

static size_t payload_len(uint32_t seq)
{
    return 5 + 10 + seq % 190;
}

static void fill_payload(uint8_t *b, unsigned part, uint32_t seq)
{
    size_t n = payload_len(seq);
    b[0] = (uint8_t)part;
    memcpy(b + 1, &seq, 4);
    for (size_t i = 5; i < n; i++)
        b[i] = (uint8_t)(seq * 7 + i + part);
}

static int payload_ok(const uint8_t *b, size_t len, unsigned part, uint32_t *seq)
{
    if (len < 5 || b[0] != part)
        return 0;
    memcpy(seq, b + 1, 4);
    if (len != payload_len(*seq))
        return 0;
    for (size_t i = 5; i < len; i++)
        if (b[i] != (uint8_t)(*seq * 7 + i + part))
            return 0;
    return 1;
}

/* Appends events [first, first+n) to p as one batch. */
static wl_status append_events(wl_queue_producer *p, unsigned part, uint32_t first, uint32_t n)
{
    wl_queue_batch b;
    assert_int_equal(wl_queue_batch_init(&b, 64 * 1024), WL_OK);
    for (uint32_t s = first; s < first + n; s++) {
        uint8_t *w = wl_queue_batch_reserve(&b, payload_len(s));
        assert_non_null(w);
        fill_payload(w, part, s);
        wl_queue_batch_commit(&b, payload_len(s));
    }
    assert_int_equal(b.count, n);
    wl_status st = wl_queue_append(p, &b);
    assert_int_equal(b.count, 0);
    assert_int_equal(b.len, 0);
    wl_queue_batch_release(&b);
    return st;
}

/* ---- collecting what a consumer delivers --------------------------------- */

typedef struct collector {
    uint32_t next[2]; /* next expected seq per partition (strict mode) */
    uint8_t *seen[2]; /* per-seq delivery count (gap mode) */
    uint64_t total;
    int strict;       /* require consecutive seqs */
    int bad;          /* integrity or ordering failures */
    uint32_t last[2]; /* last seq delivered per partition (gap mode ordering) */
    int have_last[2];
} collector;

static void collector_init(collector *col, int strict)
{
    memset(col, 0, sizeof *col);
    col->strict = strict;
    for (int i = 0; i < 2; i++)
        col->seen[i] = calloc(MAX_SEQ, 1);
}

static void collector_free(collector *col)
{
    for (int i = 0; i < 2; i++)
        free(col->seen[i]);
}

static int collect(void *ctx, unsigned part, const uint8_t *payload, size_t len)
{
    collector *col = ctx;
    uint32_t seq;
    if (part > 1 || !payload_ok(payload, len, part, &seq) || seq >= MAX_SEQ) {
        col->bad++;
        return 0;
    }
    if (col->strict && seq != col->next[part])
        col->bad++;
    if (col->have_last[part] && seq <= col->last[part])
        col->bad++;
    col->next[part] = seq + 1;
    col->last[part] = seq;
    col->have_last[part] = 1;
    col->seen[part][seq]++;
    col->total++;
    return 0;
}

/* Reads until nothing more arrives within wait_ms; returns records read. */
static uint64_t drain(wl_queue_consumer *c, wl_queue_pos *pos, collector *col, uint32_t wait_ms)
{
    uint64_t before = col->total;
    wl_queue_pos *next = malloc(sizeof *next);
    for (;;) {
        wl_status st = wl_queue_read(c, pos, 1000, wait_ms, collect, col, next);
        memcpy(pos, next, sizeof *pos);
        if (st == WL_EAGAIN)
            break;
        assert_int_equal(st, WL_OK);
    }
    free(next);
    return col->total - before;
}

static unsigned count_segments(const fixture *f, unsigned part)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s/part-%03u | grep -c '\\.seg$'", f->dir, part);
    FILE *p = popen(cmd, "r");
    unsigned n = 0;
    assert_int_equal(fscanf(p, "%u", &n), 1);
    pclose(p);
    return n;
}

static void seg_file(const fixture *f, unsigned part, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s/part-%03u/%020" PRIu64 ".seg", f->dir, part, seq);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* ---- framing and positions --------------------------------------------------- */

static void test_batch_limits(void **state)
{
    (void)state;
    wl_queue_batch b;
    assert_int_equal(wl_queue_batch_init(&b, 4), WL_EINVAL);
    assert_int_equal(wl_queue_batch_init(&b, 100), WL_OK);
    assert_null(wl_queue_batch_reserve(&b, WL_RECORD_MAX_PAYLOAD + 1));
    assert_null(wl_queue_batch_reserve(&b, 100 - WL_RECORD_HEADER + 1));
    uint8_t *w = wl_queue_batch_reserve(&b, 100 - WL_RECORD_HEADER);
    assert_non_null(w);
    memset(w, 1, 40);
    wl_queue_batch_commit(&b, 40);
    wl_queue_batch_commit(&b, 0); /* abandons nothing: a no-op */
    assert_int_equal(b.count, 1);
    assert_int_equal(b.len, 52);
    assert_null(wl_queue_batch_reserve(&b, 37));
    assert_non_null(wl_queue_batch_reserve(&b, 36));
    wl_queue_batch_release(&b);
}

static void test_scan_active_vs_sealed(void **state)
{
    (void)state;
    uint8_t buf[3 * 64];
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        memset(buf + off + WL_RECORD_HEADER, 'a' + i, 20);
        wl_record_frame(buf + off, 20);
        off += WL_RECORD_HEADER + 20;
    }
    size_t cut = off - 7; /* the third record is incomplete */
    wl_record_scan_result r;
    wl_record_scan(buf, cut, WL_RECORD_AT_EOF, 10, NULL, NULL, &r);
    assert_int_equal(r.records, 2);
    assert_true(r.need_more);
    assert_int_equal(r.consumed, 2 * (WL_RECORD_HEADER + 20));
    wl_record_scan(buf, cut, WL_RECORD_AT_EOF | WL_RECORD_SEALED, 10, NULL, NULL, &r);
    assert_int_equal(r.records, 2);
    assert_false(r.need_more);
    assert_int_equal(r.consumed, cut);
    assert_int_equal(r.torn_bytes, WL_RECORD_HEADER + 20 - 7);
    assert_int_equal(r.corrupt_records, 0);
    /* Every prefix of a frame is "not yet written", never corrupt. */
    for (size_t n = 0; n < WL_RECORD_HEADER + 20; n++) {
        wl_record rec;
        assert_int_equal(wl_record_decode(buf, n, &rec), WL_EAGAIN);
    }
}

static void test_pos_text(void **state)
{
    (void)state;
    wl_queue_pos *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    char text[WL_QUEUE_POS_TEXT_MAX];
    size_t len;
    wl_queue_pos_init(a);
    assert_int_equal(wl_queue_pos_format(a, text, sizeof text, &len), WL_OK);
    assert_string_equal(text, "wlq1");
    a->part[0] = (wl_queue_part_pos){7, 1048576};
    a->part[3] = (wl_queue_part_pos){UINT64_MAX, 0};
    a->part[WL_QUEUE_MAX_PARTITIONS - 1] = (wl_queue_part_pos){1, 2};
    assert_int_equal(wl_queue_pos_format(a, text, sizeof text, &len), WL_OK);
    assert_string_equal(text, "wlq1 0:7:1048576 3:18446744073709551615:0 255:1:2");
    assert_int_equal(wl_queue_pos_parse(text, len, b), WL_OK);
    assert_memory_equal(a, b, sizeof *a);
    assert_int_equal(wl_queue_pos_format(a, text, 10, &len), WL_ETOOBIG);
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++)
        a->part[i] = (wl_queue_part_pos){UINT64_MAX, UINT64_MAX};
    assert_int_equal(wl_queue_pos_format(a, text, sizeof text, &len), WL_OK);
    static const char *const bad[] = {
        "",
        "wlq2",
        "wlq1 ",
        "wlq1 0:1",
        "wlq1 0:1:2:3",
        "wlq1 1:1:1 0:1:1",
        "wlq1 0:1:1 0:2:2",
        "wlq1 256:1:1",
        "wlq1 0:18446744073709551616:0",
        "wlq1 0:-1:0",
        "wlq1  0:1:1",
        "wlq1 0:1:1 ",
        "wlq1 0:+1:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (wl_queue_pos_parse(bad[i], strlen(bad[i]), b) != WL_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    free(a);
    free(b);
}

/* ---- the embedded log ---------------------------------------------------------- */

typedef struct producer_job {
    wl_queue *q;
    unsigned part;
    uint32_t batches, per_batch;
    int failures;
} producer_job;

static void *produce(void *arg)
{
    producer_job *job = arg;
    wl_queue_producer *p = NULL;
    if (wl_queue_producer_new(job->q, job->part, &p) != WL_OK) {
        job->failures++;
        return NULL;
    }
    uint32_t seq = 0;
    for (uint32_t i = 0; i < job->batches; i++) {
        uint32_t n = 1 + (i * 7 + job->part) % job->per_batch;
        if (append_events(p, job->part, seq, n) != WL_OK)
            job->failures++;
        seq += n;
    }
    wl_queue_producer_free(p);
    return NULL;
}

static uint32_t batch_total(unsigned part, uint32_t batches, uint32_t per_batch)
{
    uint32_t t = 0;
    for (uint32_t i = 0; i < batches; i++)
        t += 1 + (i * 7 + part) % per_batch;
    return t;
}

static void test_two_producers_exactly_once(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 64 * 1024, 0);
    wl_queue *q = open_queue(&cfg);
    producer_job jobs[2] = {{q, 0, 400, 20, 0}, {q, 1, 400, 20, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, produce, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(jobs[0].failures + jobs[1].failures, 0);
    uint32_t want0 = batch_total(0, 400, 20), want1 = batch_total(1, 400, 20);
    wl_queue_stats qs;
    wl_queue_stats_get(q, &qs);
    assert_int_equal(qs.appended_events, want0 + want1);
    assert_int_equal(qs.dropped_full + qs.dropped_io, 0);
    wl_queue_close(q);

    wl_queue_consumer *c = open_consumer(&cfg);
    collector col;
    collector_init(&col, 1);
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    assert_int_equal(drain(c, pos, &col, 0), want0 + want1);
    assert_int_equal(col.bad, 0);
    assert_int_equal(col.next[0], want0);
    assert_int_equal(col.next[1], want1);
    wl_queue_consumer_stats cs;
    wl_queue_consumer_stats_get(c, &cs);
    assert_int_equal(cs.records_read, want0 + want1);
    assert_int_equal(cs.corrupt_records + cs.torn_bytes, 0);
    assert_int_equal(cs.depth_bytes, 0);
    wl_queue_consumer_close(c);
    collector_free(&col);
    free(pos);
}

static void test_resume_after_reopen(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 4096, 0);
    wl_queue *q = open_queue(&cfg);
    wl_queue_producer *p = new_producer(q, 0);
    for (uint32_t s = 0; s < 1000; s += 10)
        assert_int_equal(append_events(p, 0, s, 10), WL_OK);

    /* Read 300 records, keep only the text form of the position. */
    wl_queue_consumer *c = open_consumer(&cfg);
    collector col;
    collector_init(&col, 1);
    wl_queue_pos *pos = calloc(1, sizeof *pos), *next = calloc(1, sizeof *next);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wl_queue_read(c, pos, 100, 0, collect, &col, next), WL_OK);
        memcpy(pos, next, sizeof *pos);
    }
    assert_int_equal(col.total, 300);
    char text[WL_QUEUE_POS_TEXT_MAX];
    size_t len;
    assert_int_equal(wl_queue_pos_format(pos, text, sizeof text, &len), WL_OK);
    wl_queue_consumer_close(c);

    /* More events while no consumer runs; a new consumer resumes exactly. */
    for (uint32_t s = 1000; s < 1500; s += 10)
        assert_int_equal(append_events(p, 0, s, 10), WL_OK);
    c = open_consumer(&cfg);
    assert_int_equal(wl_queue_pos_parse(text, len, pos), WL_OK);
    assert_int_equal(drain(c, pos, &col, 0), 1200);
    assert_int_equal(col.bad, 0);
    assert_int_equal(col.next[0], 1500);

    /* Re-reading from an old position re-delivers (at-least-once). */
    wl_queue_pos_init(pos);
    collector again;
    collector_init(&again, 1);
    assert_int_equal(drain(c, pos, &again, 0), 1500);
    wl_queue_consumer_close(c);
    wl_queue_producer_free(p);
    wl_queue_close(q);
    collector_free(&col);
    collector_free(&again);
    free(pos);
    free(next);
}

static void test_rotation_and_reclaim(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 1024, 0);
    wl_queue *q = open_queue(&cfg);
    wl_queue_producer *p = new_producer(q, 0);
    for (uint32_t s = 0; s < 2000; s += 5)
        assert_int_equal(append_events(p, 0, s, 5), WL_OK);
    unsigned segs = count_segments(f, 0);
    assert_true(segs > 200);

    wl_queue_consumer *c = open_consumer(&cfg);
    collector col;
    collector_init(&col, 1);
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    assert_int_equal(drain(c, pos, &col, 0), 2000);
    assert_int_equal(col.bad, 0);

    wl_queue_stats before, after;
    wl_queue_stats_get(q, &before);
    assert_true(before.disk_bytes > 100 * 1024);
    assert_int_equal(wl_queue_reclaim(c, pos), WL_OK);
    assert_int_equal(count_segments(f, 0), 1);
    wl_queue_consumer_stats cs;
    wl_queue_consumer_stats_get(c, &cs);
    assert_int_equal(cs.segments_reclaimed, segs - 1);
    /* The producer side sees the reclaim at its next group-commit tick. */
    int64_t deadline = wl_mono_ms() + 3000;
    do {
        usleep(5000);
        wl_queue_stats_get(q, &after);
    } while (after.disk_bytes >= 2048 && wl_mono_ms() < deadline);
    assert_true(after.disk_bytes < 2048);
    assert_true(after.fsyncs > 0);

    /* A bogus position far ahead never deletes the active segment. */
    pos->part[0].segment = UINT64_MAX;
    assert_int_equal(wl_queue_reclaim(c, pos), WL_OK);
    assert_int_equal(count_segments(f, 0), 1);
    assert_int_equal(append_events(p, 0, 2000, 5), WL_OK);
    wl_queue_consumer_close(c);
    wl_queue_producer_free(p);
    wl_queue_close(q);
    collector_free(&col);
    free(pos);
}

static void test_disk_budget_drops_and_counts(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 0, 8192);
    wl_queue *q = open_queue(&cfg);
    wl_queue_producer *p = new_producer(q, 0);
    uint64_t ok_events = 0, full_events = 0;
    uint32_t seq = 0;
    for (int i = 0; i < 200; i++) {
        uint32_t n = 1 + i % 4;
        wl_status st = append_events(p, 0, seq, n);
        assert_true(st == WL_OK || st == WL_EFULL);
        if (st == WL_OK)
            ok_events += n;
        else
            full_events += n;
        seq += n;
    }
    assert_true(ok_events > 0 && full_events > 0);
    wl_queue_stats qs;
    wl_queue_stats_get(q, &qs);
    assert_int_equal(qs.appended_events, ok_events);
    assert_int_equal(qs.dropped_full, full_events);
    assert_true(qs.disk_bytes <= 8192);

    wl_queue_consumer *c = open_consumer(&cfg);
    collector col;
    collector_init(&col, 0);
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    assert_int_equal(drain(c, pos, &col, 0), ok_events);
    assert_int_equal(col.bad, 0);
    wl_queue_consumer_close(c);
    wl_queue_producer_free(p);
    wl_queue_close(q);
    collector_free(&col);
    free(pos);
}

static void test_torn_tail_then_new_producer(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 0, 0);
    wl_queue *q = open_queue(&cfg);
    wl_queue_producer *p = new_producer(q, 0);
    for (uint32_t s = 0; s < 100; s += 10)
        assert_int_equal(append_events(p, 0, s, 10), WL_OK);
    wl_queue_producer_free(p);

    /* A crash mid-write: the last record is cut 5 bytes short. */
    char path[512];
    seg_file(f, 0, 1, path, sizeof path);
    off_t size = file_size(path);
    assert_int_equal(truncate(path, size - 5), 0);

    /* Before a new producer starts, the torn record is "not yet written". */
    wl_queue_consumer *c = open_consumer(&cfg);
    collector col;
    collector_init(&col, 0);
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    assert_int_equal(drain(c, pos, &col, 0), 99);

    p = new_producer(q, 0);
    for (uint32_t s = 100; s < 150; s += 10)
        assert_int_equal(append_events(p, 0, s, 10), WL_OK);
    assert_int_equal(drain(c, pos, &col, 0), 50);
    assert_int_equal(col.bad, 0);
    for (uint32_t s = 0; s < 150; s++)
        assert_int_equal(col.seen[0][s], s == 99 ? 0 : 1);
    wl_queue_consumer_stats cs;
    wl_queue_consumer_stats_get(c, &cs);
    assert_int_equal(cs.torn_bytes, WL_RECORD_HEADER + payload_len(99) - 5);
    assert_int_equal(cs.corrupt_records, 0);
    assert_int_equal(pos->part[0].segment, 2);
    wl_queue_consumer_close(c);
    wl_queue_producer_free(p);
    wl_queue_close(q);
    collector_free(&col);
    free(pos);
}

/* Offset of record `target` in a segment holding records 0.. in order. */
static off_t record_offset(uint32_t target)
{
    off_t off = 0;
    for (uint32_t s = 0; s < target; s++)
        off += (off_t)(WL_RECORD_HEADER + payload_len(s));
    return off;
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void test_corruption_is_skipped(void **state)
{
    fixture *f = *state;
    /* Which byte of record 50 to damage: magic, length, crc, payload. */
    static const int where[] = {0, 5, 9, 30};
    wl_queue_config cfg = config(f, 0, 0);
    wl_queue *q = open_queue(&cfg);
    wl_queue_consumer *c = open_consumer(&cfg);
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    uint64_t corrupt = 0;
    for (unsigned k = 0; k < sizeof where / sizeof where[0]; k++) {
        /* Segment 2k+1 gets records 0..99; the next producer seals it with
         * the empty segment 2k+2. */
        wl_queue_producer *p = new_producer(q, 0);
        for (uint32_t s = 0; s < 100; s += 10)
            assert_int_equal(append_events(p, 0, s, 10), WL_OK);
        wl_queue_producer_free(p);
        char path[512];
        seg_file(f, 0, 2 * k + 1, path, sizeof path);
        flip_byte(path, record_offset(50) + where[k]);
        if (k == 3) /* and a second damaged region further on */
            flip_byte(path, record_offset(80) + 20);
        wl_queue_producer_free(new_producer(q, 0));

        collector col;
        collector_init(&col, 0);
        uint32_t want = k == 3 ? 98 : 99;
        assert_int_equal(drain(c, pos, &col, 0), want);
        assert_int_equal(col.bad, 0);
        assert_int_equal(col.seen[0][50], 0);
        wl_queue_consumer_stats cs;
        wl_queue_consumer_stats_get(c, &cs);
        corrupt += 100 - want;
        assert_int_equal(cs.corrupt_records, corrupt);
        assert_int_equal(cs.torn_bytes, 0);
        collector_free(&col);
    }
    wl_queue_consumer_close(c);
    wl_queue_close(q);
    free(pos);
}

static void test_second_consumer_and_producer_busy(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 0, 0);
    wl_queue_consumer *c1 = open_consumer(&cfg), *c2 = NULL;
    assert_int_equal(wl_queue_consumer_open("embedded", &cfg, &c2), WL_EBUSY);
    wl_queue_consumer_close(c1);
    c2 = open_consumer(&cfg);
    wl_queue_consumer_close(c2);

    wl_queue *q = open_queue(&cfg);
    wl_queue_producer *p1 = new_producer(q, 3), *p2 = NULL;
    assert_int_equal(wl_queue_producer_new(q, 3, &p2), WL_EBUSY);
    assert_int_equal(wl_queue_producer_new(q, WL_QUEUE_MAX_PARTITIONS, &p2), WL_EINVAL);
    wl_queue_producer_free(p1);
    wl_queue_close(q);
    assert_int_equal(wl_queue_open("nope", &cfg, &q), WL_EUNSUPPORTED);
}

/* A reader chasing a writer: every record delivered is whole, in order, once. */
typedef struct chase {
    wl_queue_consumer *c;
    collector col;
    uint64_t want;
} chase;

static void *consume(void *arg)
{
    chase *ch = arg;
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    int64_t deadline = wl_mono_ms() + 60000;
    while (ch->col.total < ch->want && wl_mono_ms() < deadline) {
        wl_status st = wl_queue_read(ch->c, pos, 777, 20, collect, &ch->col, pos);
        if (st != WL_OK && st != WL_EAGAIN)
            ch->col.bad++;
    }
    free(pos);
    return NULL;
}

static void test_concurrent_reader_sees_whole_records(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 256 * 1024, 0);
    wl_queue *q = open_queue(&cfg);
    producer_job jobs[2] = {{q, 0, 8000, 64, 0}, {q, 1, 8000, 64, 0}};
    chase ch = {.c = open_consumer(&cfg)};
    collector_init(&ch.col, 1);
    ch.want = batch_total(0, 8000, 64) + batch_total(1, 8000, 64);
    assert_true(batch_total(0, 8000, 64) < MAX_SEQ && batch_total(1, 8000, 64) < MAX_SEQ);
    pthread_t th[3];
    pthread_create(&th[2], NULL, consume, &ch);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, produce, &jobs[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(jobs[0].failures + jobs[1].failures, 0);
    assert_int_equal(ch.col.bad, 0);
    assert_int_equal(ch.col.total, ch.want);
    wl_queue_consumer_stats cs;
    wl_queue_consumer_stats_get(ch.c, &cs);
    assert_int_equal(cs.corrupt_records + cs.torn_bytes, 0);
    wl_queue_consumer_close(ch.c);
    wl_queue_close(q);
    collector_free(&ch.col);
}

/* Fault injection: the disk fills up in the middle of a batch. */
static ssize_t write_half_then_enospc(int fd, const void *buf, size_t len)
{
    static int calls;
    if (calls++ % 2 == 0)
        return write(fd, buf, len / 2);
    errno = ENOSPC;
    return -1;
}

static void test_write_error_counts_exactly(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 0, 0);
    wl_queue *q = open_queue(&cfg);
    wl_queue_producer *p = new_producer(q, 0);
    assert_int_equal(append_events(p, 0, 0, 10), WL_OK);
    wl_queue_embedded_set_write_fn(write_half_then_enospc);
    assert_int_equal(append_events(p, 0, 10, 10), WL_EIO);
    wl_queue_embedded_set_write_fn(NULL);
    assert_int_equal(append_events(p, 0, 20, 10), WL_OK);

    /* Records wholly written before the error are kept; count them. */
    size_t half = 0;
    for (uint32_t s = 10; s < 20; s++)
        half += WL_RECORD_HEADER + payload_len(s);
    half /= 2;
    uint32_t kept = 0;
    for (size_t used = 0; kept < 10; kept++) {
        used += WL_RECORD_HEADER + payload_len(10 + kept);
        if (used > half)
            break;
    }
    wl_queue_stats qs;
    wl_queue_stats_get(q, &qs);
    assert_int_equal(qs.dropped_io, 10 - kept);
    assert_int_equal(qs.appended_events, 20 + kept);
    assert_int_equal(count_segments(f, 0), 2); /* the failed segment was left behind */

    wl_queue_consumer *c = open_consumer(&cfg);
    collector col;
    collector_init(&col, 0);
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    assert_int_equal(drain(c, pos, &col, 0), 20 + kept);
    assert_int_equal(col.bad, 0);
    wl_queue_consumer_stats cs;
    wl_queue_consumer_stats_get(c, &cs);
    assert_true(cs.torn_bytes > 0);
    wl_queue_consumer_close(c);
    wl_queue_producer_free(p);
    wl_queue_close(q);
    collector_free(&col);
    free(pos);
}

static void test_read_waits_for_data(void **state)
{
    fixture *f = *state;
    wl_queue_config cfg = config(f, 0, 0);
    wl_queue_consumer *c = open_consumer(&cfg);
    wl_queue_pos *pos = calloc(1, sizeof *pos);
    collector col;
    collector_init(&col, 1);
    int64_t t0 = wl_mono_ms();
    assert_int_equal(wl_queue_read(c, pos, 10, 50, collect, &col, pos), WL_EAGAIN);
    assert_true(wl_mono_ms() - t0 >= 50);
    assert_int_equal(wl_queue_read(c, pos, 0, 0, collect, &col, pos), WL_EINVAL);
    wl_queue_consumer_close(c);
    collector_free(&col);
    free(pos);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_limits),
        cmocka_unit_test(test_scan_active_vs_sealed),
        cmocka_unit_test(test_pos_text),
        cmocka_unit_test_setup_teardown(test_two_producers_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_reclaim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_budget_drops_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_then_new_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_consumer_and_producer_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_reader_sees_whole_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_counts_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_waits_for_data, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
