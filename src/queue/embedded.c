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
 * Disk budget. disk_bytes is an atomic counter: producers add what they
 * write; each commit-thread tick re-measures the segment files and applies
 * the difference, which picks up reclaims done by a consumer in any process.
 * An append is refused (dropped, counted) when it would exceed the budget.
 *
 * Read path. A segment is "sealed" once a newer segment exists in its
 * partition: its producer had finished writing it before creating the next.
 * The reader checks for a newer segment BEFORE reading, so what it reads of a
 * sealed segment is final. In the active (newest) segment an incomplete frame
 * is "not yet written" and waits; in a sealed segment it is a torn tail and
 * ends the segment. Damage is skipped by resynchronising on the next valid
 * frame (record.c). */
#include "queue/embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "queue/record.h"

#define SEG_DIGITS 20
#define READ_BUF (1024u * 1024u) /* must hold the largest frame */
#define POLL_MS 5

_Static_assert(READ_BUF >= WL_RECORD_MAX_FRAME, "a frame must fit the read buffer");

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

/* ---- names and directory walks ------------------------------------------- */

static int parse_digits(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "<20 digits>.seg" -> seq > 0. */
static int parse_seg_name(const char *name, uint64_t *seq)
{
    return strlen(name) == SEG_DIGITS + 4 && strcmp(name + SEG_DIGITS, ".seg") == 0 &&
                   parse_digits(name, SEG_DIGITS, seq) == 0 && *seq > 0
               ? 0
               : -1;
}

/* "part-NNN" -> partition. */
static int parse_part_name(const char *name, unsigned *part)
{
    uint64_t v;
    if (strlen(name) != 8 || strncmp(name, "part-", 5) != 0 || parse_digits(name + 5, 3, &v) ||
        v >= WL_QUEUE_MAX_PARTITIONS)
        return -1;
    *part = (unsigned)v;
    return 0;
}

static int part_path(char *buf, const char *dir, unsigned part)
{
    int n = snprintf(buf, PATH_MAX, "%s/part-%03u", dir, part);
    return n > 0 && n < PATH_MAX ? 0 : -1;
}

static int seg_path(char *buf, const char *pdir, uint64_t seq)
{
    int n = snprintf(buf, PATH_MAX, "%s/%0*" PRIu64 ".seg", pdir, SEG_DIGITS, seq);
    return n > 0 && n < PATH_MAX ? 0 : -1;
}

static uint64_t file_size_at(int dfd, const char *name)
{
    struct stat sb;
    return fstatat(dfd, name, &sb, 0) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Calls fn for every segment of partition directory pdir; a missing
 * directory has no segments. -1 when it cannot be read. */
typedef void (*seg_fn)(void *ctx, int dfd, const char *name, uint64_t seq);

static int seg_each(const char *pdir, seg_fn fn, void *ctx)
{
    DIR *d = opendir(pdir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    uint64_t seq;
    while ((de = readdir(d)))
        if (parse_seg_name(de->d_name, &seq) == 0)
            fn(ctx, dirfd(d), de->d_name, seq);
    closedir(d);
    return 0;
}

typedef struct seg_bounds {
    uint64_t after, next, max; /* next: smallest seq > after; 0 = none */
} seg_bounds;

static void bounds_visit(void *ctx, int dfd, const char *name, uint64_t seq)
{
    seg_bounds *b = ctx;
    (void)dfd, (void)name;
    if (seq > b->after && (b->next == 0 || seq < b->next))
        b->next = seq;
    if (seq > b->max)
        b->max = seq;
}

static seg_bounds find_segments(const char *pdir, uint64_t after)
{
    seg_bounds b = {after, 0, 0};
    seg_each(pdir, bounds_visit, &b);
    return b;
}

/* Segment bytes at or after position pp (all of them when pp is NULL). */
typedef struct seg_sum {
    const wl_queue_part_pos *from;
    uint64_t bytes;
} seg_sum;

static void sum_visit(void *ctx, int dfd, const char *name, uint64_t seq)
{
    seg_sum *s = ctx;
    if (s->from && seq < s->from->segment)
        return;
    uint64_t size = file_size_at(dfd, name);
    if (s->from && seq == s->from->segment)
        size -= size < s->from->offset ? size : s->from->offset;
    s->bytes += size;
}

/* Calls fn(ctx, partition) for every partition directory of the queue. */
static int part_each(const char *dir, void (*fn)(void *, unsigned), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    unsigned part;
    while ((de = readdir(d)))
        if (parse_part_name(de->d_name, &part) == 0)
            fn(ctx, part);
    closedir(d);
    return 0;
}

typedef struct disk_scan {
    const char *dir;
    const wl_queue_pos *from; /* NULL: every byte */
    uint64_t bytes;
} disk_scan;

static void disk_scan_part(void *ctx, unsigned part)
{
    disk_scan *ds = ctx;
    char pdir[PATH_MAX];
    seg_sum s = {ds->from ? &ds->from->part[part] : NULL, 0};
    if (part_path(pdir, ds->dir, part) == 0 && seg_each(pdir, sum_visit, &s) == 0)
        ds->bytes += s.bytes;
}

static int measure_disk(const char *dir, const wl_queue_pos *from, uint64_t *out)
{
    disk_scan ds = {dir, from, 0};
    if (part_each(dir, disk_scan_part, &ds) != 0)
        return -1;
    *out = ds.bytes;
    return 0;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int make_dir(const char *path, bool *created)
{
    *created = mkdir(path, 0755) == 0;
    return *created || errno == EEXIST ? 0 : -1;
}

/* Opens (creating) lock file `name` in dir and takes an exclusive flock.
 * -2 when someone else holds it. */
static int take_lock(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        close(fd);
        return busy ? -2 : -1;
    }
    return fd;
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
 * from its value before the walk. Appends during the walk may be counted
 * twice until the next tick: an over-estimate, the safe direction. */
static void remeasure_disk(emb_queue *q)
{
    uint64_t before = atomic_load(&q->disk_bytes), now;
    if (measure_disk(q->dir, NULL, &now) == 0)
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
    if (make_dir(q->dir, &created) != 0 || measure_disk(q->dir, NULL, &disk) != 0)
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
        if (seg_path(path, pdir, seq) != 0)
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
    if (part_path(p->dir, p->q->dir, p->partition) != 0 || make_dir(p->dir, &created) != 0)
        return WL_EIO;
    if (created && fsync_path(p->q->dir) != 0)
        return WL_EIO;
    p->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->dirfd < 0)
        return WL_EIO;
    p->lockfd = take_lock(p->dir, "producer.lock");
    if (p->lockfd < 0)
        return p->lockfd == -2 ? WL_EBUSY : WL_EIO;
    seg_bounds b = find_segments(p->dir, 0);
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

static wl_status emb_append(wl_queue_producer *p_, const uint8_t *buf, size_t len, uint32_t events)
{
    emb_producer *p = (emb_producer *)p_;
    emb_queue *q = p->q;
    if (atomic_load_explicit(&q->disk_bytes, memory_order_relaxed) + len > q->budget) {
        count(&q->dropped_full, events);
        return WL_EFULL;
    }
    if ((p->broken || (p->seg_size > 0 && p->seg_size + len > q->segment_bytes)) &&
        rotate(p) != WL_OK) {
        count(&q->dropped_io, events);
        return WL_EIO;
    }
    size_t done = write_all(p->fd, buf, len);
    p->seg_size += done;
    count(&q->disk_bytes, done);
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
            if (seg_path(path, pdir, pos->segment) != 0)
                return false;
            r->fd = open(path, O_RDONLY | O_CLOEXEC);
            if (r->fd >= 0) {
                r->seq = pos->segment;
                return true;
            }
        }
        seg_bounds b = find_segments(pdir, pos->segment);
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
    if (part_path(pdir, c->dir, rc->partition) != 0)
        return WL_EIO;
    while (rc->left > 0 && !rc->stop && reader_attach(r, pdir, pos)) {
        if (!r->sealed) /* before the read: see the note at the top */
            r->sealed = find_segments(pdir, r->seq).next != 0;
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
        seg_bounds b = find_segments(pdir, r->seq);
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
    part_each(rc->c->dir, mark_present, present);
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

static wl_status emb_read(wl_queue_consumer *c_, const wl_queue_pos *from, uint32_t max_records,
                          uint32_t max_wait_ms, wl_queue_record_fn fn, void *ctx,
                          wl_queue_pos *next)
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
    uint64_t size = file_size_at(dfd, name);
    if (unlinkat(dfd, name, 0) == 0) {
        rv->c->stats.segments_reclaimed++;
        rv->c->stats.bytes_reclaimed += size;
    }
}

static wl_status emb_reclaim(wl_queue_consumer *c_, const wl_queue_pos *committed)
{
    emb_consumer *c = (emb_consumer *)c_;
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++) {
        uint64_t seg = committed->part[i].segment;
        char pdir[PATH_MAX];
        if (seg <= 1 || part_path(pdir, c->dir, i) != 0)
            continue;
        seg_bounds b = find_segments(pdir, 0);
        /* The newest segment may be a producer's active one: never delete it,
         * whatever position we are handed. */
        reclaim_visit rv = {c, seg < b.max ? seg : b.max};
        if (seg_each(pdir, reclaim_one, &rv) != 0)
            return WL_EIO;
    }
    return WL_OK;
}

static void emb_consumer_stats_get(wl_queue_consumer *c_, wl_queue_consumer_stats *out)
{
    emb_consumer *c = (emb_consumer *)c_;
    *out = c->stats;
    if (measure_disk(c->dir, &c->last, &out->depth_bytes) != 0)
        out->depth_bytes = 0;
}

static void emb_consumer_close(wl_queue_consumer *c_)
{
    emb_consumer *c = (emb_consumer *)c_;
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++)
        reader_close(&c->readers[i]);
    if (c->lockfd >= 0)
        close(c->lockfd);
    free(c->buf);
    free(c);
}

static wl_status emb_consumer_open(const wl_queue_config *cfg, wl_queue_consumer **out)
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
    if (make_dir(c->dir, &created) != 0 || (c->lockfd = take_lock(c->dir, "consumer.lock")) < 0)
        st = c->lockfd == -2 ? WL_EBUSY : WL_EIO;
    else if (!(c->buf = malloc(READ_BUF)))
        st = WL_ENOMEM;
    if (st != WL_OK) {
        emb_consumer_close(&c->base);
        return st;
    }
    *out = &c->base;
    return WL_OK;
}

const wl_queue_ops wl_queue_embedded_ops = {
    .version = 1,
    .name = "embedded",
    .open = emb_open,
    .close = emb_close,
    .producer_new = emb_producer_new,
    .producer_free = emb_producer_free,
    .append = emb_append,
    .stats_get = emb_stats_get,
    .consumer_open = emb_consumer_open,
    .consumer_close = emb_consumer_close,
    .read = emb_read,
    .reclaim = emb_reclaim,
    .consumer_stats_get = emb_consumer_stats_get,
};
