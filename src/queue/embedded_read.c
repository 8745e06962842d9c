/* embedded_read.c - the consumer side of the "embedded" click queue (design
 * notes and the on-disk layout at the top of embedded.c).
 *
 * One consumer per queue, held by an flock on <dir>/consumer.lock. It owns
 * its read buffer and one read-only fd per partition (emb_reader), and
 * reclaims (unlinks) segments the caller has committed past. It shares no
 * memory with the producers: everything goes through the segment files.
 *
 * Read path. A segment is "sealed" once a newer segment exists in its
 * partition: its producer had finished writing it before creating the next.
 * The reader checks for a newer segment BEFORE reading, so what it reads of a
 * sealed segment is final. In the active (newest) segment an incomplete frame
 * is "not yet written" and waits; in a sealed segment it is a torn tail and
 * ends the segment. Damage is skipped by resynchronising on the next valid
 * frame (record.c). */
#include "queue/embedded.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "queue/embedded_internal.h"
#include "queue/record.h"

#define READ_BUF (1024u * 1024u) /* must hold the largest frame */
#define POLL_MS 5

_Static_assert(READ_BUF >= WL_RECORD_MAX_FRAME, "a frame must fit the read buffer");

/* ---- the consumer ---------------------------------------------------------- */

typedef struct emb_reader {
    uint64_t seq; /* segment open in fd (0: none) */
    int fd;
    bool sealed; /* a newer segment existed before we last read */
} emb_reader;

typedef struct emb_consumer {
    wl_queue_consumer base;
    char dir[PATH_MAX];
    int lockfd;
    uint8_t *buf;
    emb_reader readers[WL_QUEUE_MAX_PARTITIONS];
    unsigned next_first; /* round-robin start, so no partition starves */
    wl_queue_consumer_stats stats;
    wl_queue_pos last; /* the last *next returned, for depth_bytes */
} emb_consumer;

/* One wl_queue_read() call in progress. */
typedef struct read_call {
    emb_consumer *c;
    wl_queue_record_fn fn;
    void *ctx;
    unsigned partition;
    uint32_t left; /* records still wanted */
    bool stop;     /* the caller's callback asked to stop */
} read_call;

static int deliver(void *ctx, const uint8_t *payload, size_t len)
{
    read_call *rc = ctx;
    rc->c->stats.bytes_read += len;
    if (rc->fn(rc->ctx, rc->partition, payload, len)) {
        rc->stop = true;
        return 1;
    }
    return 0;
}

static void reader_close(emb_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->seq = 0;
    r->sealed = false;
}

/* Points r at segment pos->segment, moving pos to the next existing segment
 * when that one is gone (or is 0). false when there is nothing to read. */
static bool reader_attach(emb_reader *r, const char *pdir, wl_queue_part_pos *pos)
{
    while (r->fd < 0 || r->seq != pos->segment) {
        reader_close(r);
        if (pos->segment != 0) {
            char path[PATH_MAX];
            if (wl_qemb_seg_path(path, pdir, pos->segment) != 0)
                return false;
            r->fd = open(path, O_RDONLY | O_CLOEXEC);
            if (r->fd >= 0) {
                r->seq = pos->segment;
                return true;
            }
        }
        wl_qemb_seg_bounds b = wl_qemb_find_segments(pdir, pos->segment);
        if (b.next == 0)
            return false;
        pos->segment = b.next;
        pos->offset = 0;
    }
    return true;
}

static void account_scan(emb_consumer *c, const wl_record_scan_result *res)
{
    c->stats.records_read += res->records;
    c->stats.corrupt_records += res->corrupt_records;
    c->stats.corrupt_bytes += res->corrupt_bytes;
    c->stats.torn_bytes += res->torn_bytes;
}

/* Reads what is ready in one partition, following sealed segments. */
static wl_status read_partition(read_call *rc, wl_queue_part_pos *pos)
{
    emb_consumer *c = rc->c;
    emb_reader *r = &c->readers[rc->partition];
    char pdir[PATH_MAX];
    if (wl_qemb_part_path(pdir, c->dir, rc->partition) != 0)
        return WL_EIO;
    while (rc->left > 0 && !rc->stop && reader_attach(r, pdir, pos)) {
        if (!r->sealed) /* before the read: see the note at the top */
            r->sealed = wl_qemb_find_segments(pdir, r->seq).next != 0;
        ssize_t n;
        while ((n = pread(r->fd, c->buf, READ_BUF, (off_t)pos->offset)) < 0 && errno == EINTR)
            ;
        if (n < 0)
            return WL_EIO;
        bool eof = (size_t)n < READ_BUF;
        unsigned flags = (eof ? WL_RECORD_AT_EOF : 0) | (r->sealed ? WL_RECORD_SEALED : 0);
        wl_record_scan_result res;
        wl_record_scan(c->buf, (size_t)n, flags, rc->left, deliver, rc, &res);
        account_scan(c, &res);
        pos->offset += res.consumed;
        rc->left -= res.records;
        if (res.stopped || (res.need_more && eof))
            break; /* enough, or waiting for the producer */
        if (!eof)
            continue;
        if (!r->sealed)
            break; /* at the end of the active segment */
        wl_qemb_seg_bounds b = wl_qemb_find_segments(pdir, r->seq);
        if (b.next == 0)
            break; /* the newer segment vanished (not by us): stay put */
        pos->segment = b.next;
        pos->offset = 0;
    }
    return WL_OK;
}

static void mark_present(void *ctx, unsigned part)
{
    ((bool *)ctx)[part] = true;
}

/* One pass over every partition; the number of records delivered. */
static wl_status read_pass(read_call *rc, wl_queue_pos *next, uint32_t *delivered)
{
    bool present[WL_QUEUE_MAX_PARTITIONS] = {false};
    uint32_t want = rc->left;
    wl_qemb_part_each(rc->c->dir, mark_present, present);
    for (unsigned k = 0; k < WL_QUEUE_MAX_PARTITIONS && rc->left && !rc->stop; k++) {
        unsigned i = (rc->c->next_first + k) % WL_QUEUE_MAX_PARTITIONS;
        if (!present[i])
            continue;
        rc->partition = i;
        wl_status st = read_partition(rc, &next->part[i]);
        if (st != WL_OK)
            return st;
    }
    rc->c->next_first = (rc->c->next_first + 1) % WL_QUEUE_MAX_PARTITIONS;
    *delivered = want - rc->left;
    return WL_OK;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

wl_status wl_qemb_read(wl_queue_consumer *c_, const wl_queue_pos *from, uint32_t max_records,
                       uint32_t max_wait_ms, wl_queue_record_fn fn, void *ctx, wl_queue_pos *next)
{
    emb_consumer *c = (emb_consumer *)c_;
    if (!from || !next || !fn || max_records == 0)
        return WL_EINVAL;
    if (next != from)
        memcpy(next, from, sizeof *next);
    read_call rc = {c, fn, ctx, 0, max_records, false};
    int64_t deadline = wl_mono_ms() + max_wait_ms;
    for (;;) {
        uint32_t got;
        wl_status st = read_pass(&rc, next, &got);
        memcpy(&c->last, next, sizeof c->last);
        if (st != WL_OK || got > 0 || rc.stop)
            return st;
        int64_t left = deadline - wl_mono_ms();
        if (left <= 0)
            return WL_EAGAIN;
        sleep_ms(left < POLL_MS ? left : POLL_MS);
    }
}

/* Deletes segments of one partition below `below` (never its newest). */
typedef struct reclaim_visit {
    emb_consumer *c;
    uint64_t below;
} reclaim_visit;

static void reclaim_one(void *ctx, int dfd, const char *name, uint64_t seq)
{
    reclaim_visit *rv = ctx;
    if (seq >= rv->below)
        return;
    uint64_t size = wl_qemb_file_size_at(dfd, name);
    if (unlinkat(dfd, name, 0) == 0) {
        rv->c->stats.segments_reclaimed++;
        rv->c->stats.bytes_reclaimed += size;
    }
}

wl_status wl_qemb_reclaim(wl_queue_consumer *c_, const wl_queue_pos *committed)
{
    emb_consumer *c = (emb_consumer *)c_;
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++) {
        uint64_t seg = committed->part[i].segment;
        char pdir[PATH_MAX];
        if (seg <= 1 || wl_qemb_part_path(pdir, c->dir, i) != 0)
            continue;
        wl_qemb_seg_bounds b = wl_qemb_find_segments(pdir, 0);
        /* The newest segment may be a producer's active one: never delete it,
         * whatever position we are handed. */
        reclaim_visit rv = {c, seg < b.max ? seg : b.max};
        if (wl_qemb_seg_each(pdir, reclaim_one, &rv) != 0)
            return WL_EIO;
    }
    return WL_OK;
}

void wl_qemb_consumer_stats_get(wl_queue_consumer *c_, wl_queue_consumer_stats *out)
{
    emb_consumer *c = (emb_consumer *)c_;
    *out = c->stats;
    if (wl_qemb_measure_disk(c->dir, &c->last, &out->depth_bytes) != 0)
        out->depth_bytes = 0;
}

void wl_qemb_consumer_close(wl_queue_consumer *c_)
{
    emb_consumer *c = (emb_consumer *)c_;
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++)
        reader_close(&c->readers[i]);
    if (c->lockfd >= 0)
        close(c->lockfd);
    free(c->buf);
    free(c);
}

wl_status wl_qemb_consumer_open(const wl_queue_config *cfg, wl_queue_consumer **out)
{
    bool created;
    if (!cfg->dir || !*cfg->dir || strlen(cfg->dir) >= PATH_MAX - 32)
        return WL_EINVAL;
    emb_consumer *c = calloc(1, sizeof *c);
    if (!c)
        return WL_ENOMEM;
    c->base.ops = &wl_queue_embedded_ops;
    strcpy(c->dir, cfg->dir);
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++)
        c->readers[i].fd = -1;
    c->lockfd = -1;
    wl_status st = WL_OK;
    if (wl_qemb_make_dir(c->dir, &created) != 0 ||
        (c->lockfd = wl_qemb_take_lock(c->dir, "consumer.lock")) < 0)
        st = c->lockfd == -2 ? WL_EBUSY : WL_EIO;
    else if (!(c->buf = malloc(READ_BUF)))
        st = WL_ENOMEM;
    if (st != WL_OK) {
        wl_qemb_consumer_close(&c->base);
        return st;
    }
    *out = &c->base;
    return WL_OK;
}
