/* embedded.c - the "embedded" click queue: a durable append-only log in the
 * data directory. Not a general message broker: one producer per partition,
 * one consumer per queue, positions kept by the consumer.
 *
 * Layout
 *   <dir>/part-NNN/<20-digit seq>.seg   segments of partition NNN (one per
 *                                       loop thread, so producers never contend)
 *   <dir>/part-NNN/producer.lock        flock: one producer per partition
 *   <dir>/consumer.lock                 flock: one consumer per queue
 * A segment is a plain concatenation of frames (record.h), no file header.
 *
 * Write path. A producer appends a batch with one write() to its active
 * segment, without locks: the segment's fd belongs to the loop thread. Every
 * new producer creates a new segment (max seq + 1), so nothing is ever
 * appended after the torn tail a crash may have left. It rotates to a fresh
 * segment when the next batch would cross segment_bytes, and after a failed
 * write (whose partial batch stays behind as a torn tail).
 *
 * Group commit. A background thread wakes every fsync_interval_ms, and under
 * the queue mutex - held only for bookkeeping, never across I/O - dup()s the
 * fd of every producer that wrote since its last visit, takes the list of
 * "retired" fds, then fsyncs and closes them with no lock held. A rotating
 * producer does not close its old segment: it swaps fds under the mutex and
 * retires the old one to the thread, which fsyncs it before closing. So every
 * fd the thread touches is its own (a dup or a handed-over one) and no fd is
 * used after close, and the loop thread never waits for an fsync. New
 * segments also mark the partition directory for an fsync (the file's name
 * must survive power loss too).
 *
 * Disk budget. disk_bytes is an atomic counter: producers reserve what they
 * are about to write (compare-and-swap, so concurrent producers never pass
 * on the same room) and give back what a failed write did not; each
 * commit-thread tick re-measures the segment files and applies
 * the difference, which picks up reclaims done by a consumer in any process.
 * An append is refused (dropped, counted) when it would exceed the budget;
 * the producer then also rotates away from a non-empty active segment, so
 * everything it wrote is in sealed segments a consumer can reclaim (the
 * newest segment of a partition never is) and the budget frees once the
 * consumer has caught up, whatever segment_bytes is.
 *
 * Read path: see the note at the top of embedded_read.c.
 *
 * Files. This file owns the queue (emb_queue), its producers and the
 * group-commit thread, and the ops table; embedded_read.c owns the consumer;
 * embedded_internal.h holds the stateless on-disk layout helpers both use. */
#include "queue/embedded.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/embedded_internal.h"
#include "queue/record.h"

typedef struct emb_producer emb_producer;

typedef struct emb_queue {
    wl_queue base;
    char dir[PATH_MAX];
    uint64_t budget;
    uint32_t segment_bytes, fsync_ms;
    _Atomic uint64_t disk_bytes, appended_events, appended_bytes, dropped_full, dropped_io;
    _Atomic uint64_t fsyncs, fsync_errors;
    pthread_mutex_t mu; /* guards everything below; never held across I/O */
    pthread_cond_t cond;
    bool stop;
    emb_producer *producers[WL_QUEUE_MAX_PARTITIONS];
    int *retired; /* fds to fsync then close */
    size_t nretired, retired_cap;
    pthread_t thread;
} emb_queue;

struct emb_producer {
    wl_queue_producer base;
    emb_queue *q;
    unsigned partition;
    char dir[PATH_MAX];
    int dirfd, lockfd;
    int fd;                   /* active segment; changed only under q->mu, by this producer */
    uint64_t seq;             /* active segment number */
    uint64_t seg_size;        /* bytes in the active segment */
    bool broken;              /* a write failed: rotate before the next append */
    bool dir_dirty;           /* under q->mu: a segment was created since the last dir fsync */
    _Atomic uint64_t written; /* bytes ever written, compared by the commit thread */
    uint64_t synced;          /* under q->mu: `written` at the commit thread's last visit */
};

static wl_queue_write_fn write_hook;

void wl_queue_embedded_set_write_fn(wl_queue_write_fn fn)
{
    write_hook = fn;
}

/* ---- files --------------------------------------------------------------- */

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* ---- group commit -------------------------------------------------------- */

static void sync_and_close(emb_queue *q, const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fsync(fds[i]) == 0)
            atomic_fetch_add_explicit(&q->fsyncs, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&q->fsync_errors, 1, memory_order_relaxed);
        close(fds[i]);
    }
}

/* Hands fd to the commit thread; false when the list cannot grow (the
 * caller then syncs it itself). Called with q->mu held. */
static bool retire_locked(emb_queue *q, int fd)
{
    if (q->nretired == q->retired_cap) {
        size_t cap = q->retired_cap ? q->retired_cap * 2 : 16;
        int *r = realloc(q->retired, cap * sizeof *r);
        if (!r)
            return false;
        q->retired = r;
        q->retired_cap = cap;
    }
    q->retired[q->nretired++] = fd;
    return true;
}

static void retire(emb_queue *q, int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&q->mu);
    bool ok = retire_locked(q, fd);
    pthread_mutex_unlock(&q->mu);
    if (!ok)
        sync_and_close(q, &fd, 1);
}

/* Re-measures the segment files and corrects disk_bytes by the difference
 * from its value before the walk. An append in flight (reserved, not yet
 * written) or written during the walk makes it off by that append until the
 * next tick. */
static void remeasure_disk(emb_queue *q)
{
    uint64_t before = atomic_load(&q->disk_bytes), now;
    if (wl_qemb_measure_disk(q->dir, NULL, &now) == 0)
        atomic_fetch_add(&q->disk_bytes, now - before); /* wraps for a decrease */
}

/* One group commit: collect fds under the lock, fsync them without it. */
static void commit_tick(emb_queue *q)
{
    int fds[2 * WL_QUEUE_MAX_PARTITIONS];
    size_t n = 0;
    pthread_mutex_lock(&q->mu);
    int *retired = q->retired;
    size_t nretired = q->nretired;
    q->retired = NULL;
    q->nretired = q->retired_cap = 0;
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++) {
        emb_producer *p = q->producers[i];
        if (!p)
            continue;
        uint64_t w = atomic_load(&p->written);
        if (w != p->synced && (fds[n] = dup(p->fd)) >= 0) {
            n++;
            p->synced = w;
        }
        if (p->dir_dirty && (fds[n] = dup(p->dirfd)) >= 0) {
            n++;
            p->dir_dirty = false;
        }
    }
    pthread_mutex_unlock(&q->mu);
    sync_and_close(q, retired, nretired);
    free(retired);
    sync_and_close(q, fds, n);
    remeasure_disk(q);
}

static void *commit_main(void *arg)
{
    emb_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += q->fsync_ms / 1000;
        ts.tv_nsec += (long)(q->fsync_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!q->stop && pthread_cond_timedwait(&q->cond, &q->mu, &ts) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&q->mu);
        commit_tick(q);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    /* Files retired while the last tick ran (producers freed just before
     * close) are synced here, so close really ends with a final fsync. */
    commit_tick(q);
    return NULL;
}

/* ---- the queue ------------------------------------------------------------ */

static void queue_free(emb_queue *q)
{
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    free(q->retired);
    free(q);
}

static wl_status queue_init(emb_queue *q, const wl_queue_config *cfg)
{
    bool created;
    if (!cfg->dir || !*cfg->dir || strlen(cfg->dir) >= sizeof q->dir - 32)
        return WL_EINVAL;
    strcpy(q->dir, cfg->dir);
    q->budget = cfg->disk_budget_bytes ? cfg->disk_budget_bytes : WL_QUEUE_DEFAULT_BUDGET;
    q->segment_bytes = cfg->segment_bytes ? cfg->segment_bytes : WL_QUEUE_DEFAULT_SEGMENT;
    q->fsync_ms = cfg->fsync_interval_ms ? cfg->fsync_interval_ms : WL_QUEUE_DEFAULT_FSYNC_MS;
    uint64_t disk = 0;
    if (wl_qemb_make_dir(q->dir, &created) != 0 || wl_qemb_measure_disk(q->dir, NULL, &disk) != 0)
        return WL_EIO;
    atomic_store(&q->disk_bytes, disk);
    return WL_OK;
}

static wl_status emb_open(const wl_queue_config *cfg, wl_queue **out)
{
    emb_queue *q = calloc(1, sizeof *q);
    if (!q)
        return WL_ENOMEM;
    q->base.ops = &wl_queue_embedded_ops;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    wl_status st = queue_init(q, cfg);
    if (st == WL_OK && pthread_create(&q->thread, NULL, commit_main, q) != 0)
        st = WL_ENOMEM;
    if (st != WL_OK) {
        queue_free(q);
        return st;
    }
    *out = &q->base;
    return WL_OK;
}

static void emb_close(wl_queue *q_)
{
    emb_queue *q = (emb_queue *)q_;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    queue_free(q);
}

static void emb_stats_get(wl_queue *q_, wl_queue_stats *out)
{
    emb_queue *q = (emb_queue *)q_;
    out->appended_events = atomic_load_explicit(&q->appended_events, memory_order_relaxed);
    out->appended_bytes = atomic_load_explicit(&q->appended_bytes, memory_order_relaxed);
    out->dropped_full = atomic_load_explicit(&q->dropped_full, memory_order_relaxed);
    out->dropped_io = atomic_load_explicit(&q->dropped_io, memory_order_relaxed);
    out->fsyncs = atomic_load_explicit(&q->fsyncs, memory_order_relaxed);
    out->disk_bytes = atomic_load_explicit(&q->disk_bytes, memory_order_relaxed);
    out->fsync_errors = atomic_load_explicit(&q->fsync_errors, memory_order_relaxed);
}

/* ---- producers ------------------------------------------------------------ */

/* Creates the first free segment numbered >= seq. O_EXCL guarantees a fresh
 * file even if a crashed predecessor raced us to the number. */
static int create_segment(const char *pdir, uint64_t seq, uint64_t *out_seq)
{
    char path[PATH_MAX];
    for (int tries = 0; tries < 64; tries++, seq++) {
        if (wl_qemb_seg_path(path, pdir, seq) != 0)
            return -1;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            *out_seq = seq;
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* Switches to a new segment; the old fd goes to the commit thread, which
 * fsyncs it before closing it. */
static wl_status rotate(emb_producer *p)
{
    uint64_t seq;
    int fd = create_segment(p->dir, p->seq + 1, &seq);
    if (fd < 0)
        return WL_EIO;
    pthread_mutex_lock(&p->q->mu);
    int old = p->fd;
    p->fd = fd;
    p->dir_dirty = true;
    bool handed = retire_locked(p->q, old);
    pthread_mutex_unlock(&p->q->mu);
    if (!handed)
        sync_and_close(p->q, &old, 1);
    p->seq = seq;
    p->seg_size = 0;
    p->broken = false;
    return WL_OK;
}

static void producer_destroy(emb_producer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->dirfd >= 0)
        close(p->dirfd);
    if (p->lockfd >= 0)
        close(p->lockfd);
    free(p);
}

/* Directory, lock and first segment of a new producer. Start-up path, so the
 * directory fsyncs happen right here. */
static wl_status producer_setup(emb_producer *p)
{
    bool created;
    if (wl_qemb_part_path(p->dir, p->q->dir, p->partition) != 0 ||
        wl_qemb_make_dir(p->dir, &created) != 0)
        return WL_EIO;
    if (created && fsync_path(p->q->dir) != 0)
        return WL_EIO;
    p->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->dirfd < 0)
        return WL_EIO;
    p->lockfd = wl_qemb_take_lock(p->dir, "producer.lock");
    if (p->lockfd < 0)
        return p->lockfd == -2 ? WL_EBUSY : WL_EIO;
    wl_qemb_seg_bounds b = wl_qemb_find_segments(p->dir, 0);
    p->fd = create_segment(p->dir, b.max + 1, &p->seq);
    if (p->fd < 0 || fsync(p->dirfd) != 0)
        return WL_EIO;
    return WL_OK;
}

static wl_status emb_producer_new(wl_queue *q_, unsigned partition, wl_queue_producer **out)
{
    emb_queue *q = (emb_queue *)q_;
    if (partition >= WL_QUEUE_MAX_PARTITIONS || !out)
        return WL_EINVAL;
    emb_producer *p = calloc(1, sizeof *p);
    if (!p)
        return WL_ENOMEM;
    p->base.ops = &wl_queue_embedded_ops;
    p->q = q;
    p->partition = partition;
    p->fd = p->dirfd = p->lockfd = -1;
    wl_status st = producer_setup(p);
    if (st != WL_OK) {
        producer_destroy(p);
        return st;
    }
    pthread_mutex_lock(&q->mu);
    q->producers[partition] = p; /* the flock above makes the slot ours */
    pthread_mutex_unlock(&q->mu);
    *out = &p->base;
    return WL_OK;
}

static void emb_producer_free(wl_queue_producer *p_)
{
    emb_producer *p = (emb_producer *)p_;
    emb_queue *q = p->q;
    pthread_mutex_lock(&q->mu);
    q->producers[p->partition] = NULL;
    pthread_mutex_unlock(&q->mu);
    retire(q, p->fd);
    retire(q, p->dirfd);
    p->fd = p->dirfd = -1;
    producer_destroy(p);
}

/* write() until done or failed; returns the bytes that reached the file. */
static size_t write_all(int fd, const uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n =
            write_hook ? write_hook(fd, buf + done, len - done) : write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

/* Whole records within the first `len` bytes of a batch. */
static uint32_t complete_records(const uint8_t *buf, size_t len, size_t *bytes)
{
    wl_record rec;
    uint32_t n = 0;
    size_t off = 0;
    while (wl_record_decode(buf + off, len - off, &rec) == WL_OK) {
        off += rec.frame_len;
        n++;
    }
    *bytes = off;
    return n;
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Takes len bytes of the budget, all or nothing: producers of several loop
 * threads append at once, and a check followed by an add let two of them
 * pass on the same remaining room (the budget overshot by a batch). */
static bool reserve(emb_queue *q, size_t len)
{
    uint64_t cur = atomic_load_explicit(&q->disk_bytes, memory_order_relaxed);
    do {
        if (cur + len > q->budget)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&q->disk_bytes, &cur, cur + len,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

static void unreserve(emb_queue *q, size_t len)
{
    atomic_fetch_sub_explicit(&q->disk_bytes, len, memory_order_relaxed);
}

static wl_status emb_append(wl_queue_producer *p_, const uint8_t *buf, size_t len, uint32_t events)
{
    emb_producer *p = (emb_producer *)p_;
    emb_queue *q = p->q;
    if (!reserve(q, len)) {
        /* Seal what this producer wrote, so that a consumer can reclaim all
         * of it (the newest segment never is): see "Disk budget" above. A
         * failed rotation is retried at the next refused append. */
        if (p->seg_size > 0)
            (void)rotate(p);
        count(&q->dropped_full, events);
        return WL_EFULL;
    }
    if ((p->broken || (p->seg_size > 0 && p->seg_size + len > q->segment_bytes)) &&
        rotate(p) != WL_OK) {
        unreserve(q, len);
        count(&q->dropped_io, events);
        return WL_EIO;
    }
    size_t done = write_all(p->fd, buf, len);
    p->seg_size += done;
    if (done < len)
        unreserve(q, len - done);
    atomic_fetch_add_explicit(&p->written, done, memory_order_relaxed);
    if (done == len) {
        count(&q->appended_events, events);
        count(&q->appended_bytes, len);
        return WL_OK;
    }
    /* The records that made it will be read; the torn rest is dropped. */
    size_t kept_bytes;
    uint32_t kept = complete_records(buf, done, &kept_bytes);
    count(&q->appended_events, kept);
    count(&q->appended_bytes, kept_bytes);
    count(&q->dropped_io, events - kept);
    p->broken = true;
    return WL_EIO;
}

/* The consumer entries are defined in embedded_read.c. */
const wl_queue_ops wl_queue_embedded_ops = {
    .version = 1,
    .name = "embedded",
    .open = emb_open,
    .close = emb_close,
    .producer_new = emb_producer_new,
    .producer_free = emb_producer_free,
    .append = emb_append,
    .stats_get = emb_stats_get,
    .consumer_open = wl_qemb_consumer_open,
    .consumer_close = wl_qemb_consumer_close,
    .read = wl_qemb_read,
    .reclaim = wl_qemb_reclaim,
    .consumer_stats_get = wl_qemb_consumer_stats_get,
};
