/* queue.h - the click queue between the redirect path and the analytics
 * worker, behind one small ops table.
 *
 * Producer side (the HTTP loop threads). Each loop thread owns one
 * wl_queue_producer on its own partition, builds a wl_queue_batch of framed
 * click events during a loop iteration and hands the whole batch to
 * wl_queue_append() before it writes that iteration's responses: one write()
 * per iteration, so a click whose 302 left the server survives kill -9.
 * Appending never fsyncs, never waits on a lock held across I/O and never
 * blocks on a full disk budget (the batch is dropped and counted instead).
 * Power loss may lose the last fsync_interval_ms of clicks (group commit by a
 * background thread).
 *
 * Consumer side (the analytics worker, in the server or in `warplink worker`
 * on the same data dir). Exactly one consumer per queue (WL_EBUSY for a
 * second). It reads records from a wl_queue_pos the caller supplies, gets the
 * position after them, commits that position together with its aggregates in
 * its own database, and only then calls wl_queue_reclaim() with it. The queue
 * itself remembers no consumer position: the worker's database is the single
 * source of truth, which is what makes counts exactly-once across crashes.
 * Delivery is at-least-once from the queue's view (re-reading from an old
 * position re-delivers) and in order within a partition; there is no order
 * across partitions.
 *
 * Backends are `const wl_queue_ops` tables chosen by name ("embedded": a
 * durable log of segment files in cfg->dir; a broker backend later). Callers
 * use the inline wrappers below, never the table.
 *
 * Threads: wl_queue_open/close and wl_queue_stats_get are thread-safe; a
 * producer is used by one thread at a time; a consumer likewise. Free every
 * producer before closing its queue. */
#ifndef WL_QUEUE_H
#define WL_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Partitions are numbered 0..WL_QUEUE_MAX_PARTITIONS-1 (one per loop thread). */
#define WL_QUEUE_MAX_PARTITIONS 256

#define WL_QUEUE_DEFAULT_BUDGET (1ull << 30)           /* 1 GiB of segments */
#define WL_QUEUE_DEFAULT_SEGMENT (32u * 1024u * 1024u) /* 32 MiB */
#define WL_QUEUE_DEFAULT_FSYNC_MS 200u

typedef struct wl_queue wl_queue;
typedef struct wl_queue_producer wl_queue_producer;
typedef struct wl_queue_consumer wl_queue_consumer;

/* Zero fields take the defaults above. cfg and dir are only read during the
 * open call. */
typedef struct wl_queue_config {
    const char *dir; /* the queue's directory (created if missing) */
    uint64_t disk_budget_bytes;
    uint32_t segment_bytes;
    uint32_t fsync_interval_ms;
} wl_queue_config;

typedef struct wl_queue_stats {
    uint64_t appended_events, appended_bytes;
    uint64_t dropped_full; /* events refused because the disk budget was exhausted */
    uint64_t dropped_io;   /* events lost to a write error */
    uint64_t fsyncs;
    uint64_t disk_bytes; /* all segment bytes, including the consumer's reclaims
                            (picked up within one fsync interval) */
    uint64_t fsync_errors;
} wl_queue_stats;

/* ---- positions -------------------------------------------------------- */

/* Where a consumer stands in one partition. Embedded: the segment number and
 * the byte offset in it (segment 0 = "before the oldest segment"). A broker
 * backend maps its own stream sequence onto the same two numbers; callers
 * treat them as opaque and only store, load and pass them back. */
typedef struct wl_queue_part_pos {
    uint64_t segment;
    uint64_t offset;
} wl_queue_part_pos;

/* A consumer position over all partitions. A zeroed one means "from the
 * beginning of what is retained". About 4 KiB: pass it by pointer. */
typedef struct wl_queue_pos {
    wl_queue_part_pos part[WL_QUEUE_MAX_PARTITIONS];
} wl_queue_pos;

/* Longest text form: "wlq1" and, per partition, " ppp:segment:offset". */
#define WL_QUEUE_POS_TEXT_MAX (4 + WL_QUEUE_MAX_PARTITIONS * (1 + 3 + 1 + 20 + 1 + 20) + 1)

void wl_queue_pos_init(wl_queue_pos *pos);
/* Text form for the worker's database, e.g. "wlq1 0:7:1048576 1:3:0" (only
 * partitions that have moved). NUL-terminated; *len excludes the NUL.
 * WL_ETOOBIG when cap is too small (WL_QUEUE_POS_TEXT_MAX always suffices). */
wl_status wl_queue_pos_format(const wl_queue_pos *pos, char *buf, size_t cap, size_t *len);
/* Parses the text form back (strict: WL_EINVAL on anything else). */
wl_status wl_queue_pos_parse(const char *s, size_t len, wl_queue_pos *out);

/* ---- batches (backend-independent, caller memory) ---------------------- */

/* A run of framed records in caller memory, reused every loop iteration: no
 * allocation per event. buf is owned by the batch (init/release). */
typedef struct wl_queue_batch {
    uint8_t *buf;
    size_t len, cap;
    uint32_t count;
} wl_queue_batch;

/* Allocates cap bytes (WL_EINVAL if cap cannot hold one small record). */
wl_status wl_queue_batch_init(wl_queue_batch *b, size_t cap);
void wl_queue_batch_release(wl_queue_batch *b);
/* Space for one payload of up to max_payload bytes (<= 64 KiB); NULL when
 * the batch is full. The pointer is valid until the next commit/append. */
uint8_t *wl_queue_batch_reserve(wl_queue_batch *b, size_t max_payload);
/* Frames the payload written at the reserved pointer: length + checksum.
 * payload_len must not exceed the reservation; 0 abandons it. */
void wl_queue_batch_commit(wl_queue_batch *b, size_t payload_len);

/* ---- consumer callback ------------------------------------------------- */

/* One record: payload lives only during the call. Return non-zero to stop
 * after this record (it counts as read: next points past it). */
typedef int (*wl_queue_record_fn)(void *ctx, unsigned partition, const uint8_t *payload,
                                  size_t len);

typedef struct wl_queue_consumer_stats {
    uint64_t records_read, bytes_read; /* payload bytes */
    uint64_t corrupt_records;          /* damaged regions skipped */
    uint64_t corrupt_bytes;
    uint64_t torn_bytes; /* incomplete tails of sealed segments (writer crashed) */
    uint64_t segments_reclaimed, bytes_reclaimed;
    uint64_t depth_bytes; /* segment bytes after the last returned position */
} wl_queue_consumer_stats;

/* ---- the ops table ----------------------------------------------------- */

typedef struct wl_queue_ops {
    int version; /* 1 */
    const char *name;

    wl_status (*open)(const wl_queue_config *cfg, wl_queue **out);
    void (*close)(wl_queue *q);
    wl_status (*producer_new)(wl_queue *q, unsigned partition, wl_queue_producer **out);
    void (*producer_free)(wl_queue_producer *p);
    /* Appends count framed records (buf[0..len), made by wl_queue_batch). */
    wl_status (*append)(wl_queue_producer *p, const uint8_t *buf, size_t len, uint32_t count);
    void (*stats_get)(wl_queue *q, wl_queue_stats *out);

    wl_status (*consumer_open)(const wl_queue_config *cfg, wl_queue_consumer **out);
    void (*consumer_close)(wl_queue_consumer *c);
    wl_status (*read)(wl_queue_consumer *c, const wl_queue_pos *from, uint32_t max_records,
                      uint32_t max_wait_ms, wl_queue_record_fn fn, void *ctx, wl_queue_pos *next);
    wl_status (*reclaim)(wl_queue_consumer *c, const wl_queue_pos *committed);
    void (*consumer_stats_get)(wl_queue_consumer *c, wl_queue_consumer_stats *out);
} wl_queue_ops;

/* Every backend's handles start with their ops. */
struct wl_queue {
    const wl_queue_ops *ops;
};
struct wl_queue_producer {
    const wl_queue_ops *ops;
};
struct wl_queue_consumer {
    const wl_queue_ops *ops;
};

/* Finds a backend by name; NULL when unknown or not built. */
const wl_queue_ops *wl_queue_backend(const char *name);

/* Opens the producer side: creates cfg->dir if needed and starts the group
 * commit thread. WL_EUNSUPPORTED for an unknown backend. */
wl_status wl_queue_open(const char *backend, const wl_queue_config *cfg, wl_queue **out);

/* Stops the group-commit thread after a final fsync of everything written,
 * then frees q. All producers must have been freed. NULL is a no-op. */
static inline void wl_queue_close(wl_queue *q)
{
    if (q)
        q->ops->close(q);
}

/* A producer for one partition (< WL_QUEUE_MAX_PARTITIONS). It always starts
 * a new segment, never appending after a possibly torn tail. WL_EBUSY when
 * another producer (in any process) holds the partition. */
static inline wl_status wl_queue_producer_new(wl_queue *q, unsigned partition,
                                              wl_queue_producer **out)
{
    return q->ops->producer_new(q, partition, out);
}

/* Hands the producer's files to the group-commit thread (fsynced at the next
 * tick or at close) and frees it. NULL is a no-op. */
static inline void wl_queue_producer_free(wl_queue_producer *p)
{
    if (p)
        p->ops->producer_free(p);
}

/* Appends the whole batch with one write() and resets it, whatever the
 * outcome. WL_OK: the records are in the OS page cache (survive kill -9).
 * WL_EFULL: over the disk budget; the batch's events are dropped and counted
 * in dropped_full (concurrent appends cannot pass on the same room; the
 * periodic re-measure of the files can be off by an append in flight until
 * the next one). WL_EIO: the write failed; records that reached the
 * file before the error are kept (and will be read), the rest are counted in
 * dropped_io, and the next append starts a new segment. */
static inline wl_status wl_queue_append(wl_queue_producer *p, wl_queue_batch *b)
{
    wl_status st = WL_OK;
    if (b->count)
        st = p->ops->append(p, b->buf, b->len, b->count);
    b->len = 0;
    b->count = 0;
    return st;
}

/* Relaxed snapshot of the counters of all producers of q. */
static inline void wl_queue_stats_get(wl_queue *q, wl_queue_stats *out)
{
    q->ops->stats_get(q, out);
}

/* Opens the consumer side of the queue in cfg->dir (only dir is used by the
 * embedded backend; the directory is created if missing). WL_EBUSY: another
 * consumer, in this or another process, already has this queue open; it
 * holds the lock until it closes or its process dies. */
wl_status wl_queue_consumer_open(const char *backend, const wl_queue_config *cfg,
                                 wl_queue_consumer **out);

/* Releases the lock and frees c. NULL is a no-op. */
static inline void wl_queue_consumer_close(wl_queue_consumer *c)
{
    if (c)
        c->ops->consumer_close(c);
}

/* Delivers up to max_records records (> 0) after position *from, in order
 * within each partition, to fn; waits up to max_wait_ms for the first one.
 * *next is set to the position after the last delivered or skipped byte
 * (next may equal from). Returns WL_OK when at least one record was
 * delivered, WL_EAGAIN when none arrived in time (*next may still have moved
 * past damaged bytes or empty segments: store it like any other), WL_EIO on
 * a read error, WL_EINVAL for bad arguments. Damaged records are skipped and
 * counted in the consumer stats; a record is never delivered in part. */
static inline wl_status wl_queue_read(wl_queue_consumer *c, const wl_queue_pos *from,
                                      uint32_t max_records, uint32_t max_wait_ms,
                                      wl_queue_record_fn fn, void *ctx, wl_queue_pos *next)
{
    return c->ops->read(c, from, max_records, max_wait_ms, fn, ctx, next);
}

/* Everything before *committed is durably processed: delete what is wholly
 * before it (embedded: segments older than each partition's position; the
 * newest segment of a partition is never deleted). */
static inline wl_status wl_queue_reclaim(wl_queue_consumer *c, const wl_queue_pos *committed)
{
    return c->ops->reclaim(c, committed);
}

/* Counters since open; depth_bytes is computed now (it stats segment files). */
static inline void wl_queue_consumer_stats_get(wl_queue_consumer *c, wl_queue_consumer_stats *out)
{
    c->ops->consumer_stats_get(c, out);
}

#endif
