/* embedded_internal.h - what embedded.c (queue, producers, group commit) and
 * embedded_read.c (consumer) share: the on-disk naming of the embedded log
 * and the directory walks over it. Private to src/queue/embedded*.c.
 *
 * Ownership. Everything here is stateless: the helpers own no memory and no
 * fd beyond a call, except wl_qemb_take_lock(), whose fd (the lock) belongs
 * to the caller. The queue and producer structs (emb_queue, emb_producer)
 * are owned by embedded.c and the consumer structs (emb_consumer,
 * emb_reader) by embedded_read.c; neither side sees the other's. The ops
 * table wl_queue_embedded_ops lives in embedded.c and takes its consumer
 * entries from embedded_read.c (declared at the end of this file). */
#ifndef WL_QUEUE_EMBEDDED_INTERNAL_H
#define WL_QUEUE_EMBEDDED_INTERNAL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue.h"

#define WL_QEMB_SEG_DIGITS 20

/* ---- names and directory walks ------------------------------------------- */

static inline int wl_qemb_parse_digits(const char *s, size_t n, uint64_t *out)
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
static inline int wl_qemb_parse_seg_name(const char *name, uint64_t *seq)
{
    return strlen(name) == WL_QEMB_SEG_DIGITS + 4 &&
                   strcmp(name + WL_QEMB_SEG_DIGITS, ".seg") == 0 &&
                   wl_qemb_parse_digits(name, WL_QEMB_SEG_DIGITS, seq) == 0 && *seq > 0
               ? 0
               : -1;
}

/* "part-NNN" -> partition. */
static inline int wl_qemb_parse_part_name(const char *name, unsigned *part)
{
    uint64_t v;
    if (strlen(name) != 8 || strncmp(name, "part-", 5) != 0 ||
        wl_qemb_parse_digits(name + 5, 3, &v) || v >= WL_QUEUE_MAX_PARTITIONS)
        return -1;
    *part = (unsigned)v;
    return 0;
}

static inline int wl_qemb_part_path(char *buf, const char *dir, unsigned part)
{
    int n = snprintf(buf, PATH_MAX, "%s/part-%03u", dir, part);
    return n > 0 && n < PATH_MAX ? 0 : -1;
}

static inline int wl_qemb_seg_path(char *buf, const char *pdir, uint64_t seq)
{
    int n = snprintf(buf, PATH_MAX, "%s/%0*" PRIu64 ".seg", pdir, WL_QEMB_SEG_DIGITS, seq);
    return n > 0 && n < PATH_MAX ? 0 : -1;
}

static inline uint64_t wl_qemb_file_size_at(int dfd, const char *name)
{
    struct stat sb;
    return fstatat(dfd, name, &sb, 0) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Calls fn for every segment of partition directory pdir; a missing
 * directory has no segments. -1 when it cannot be read. */
typedef void (*wl_qemb_seg_fn)(void *ctx, int dfd, const char *name, uint64_t seq);

static inline int wl_qemb_seg_each(const char *pdir, wl_qemb_seg_fn fn, void *ctx)
{
    DIR *d = opendir(pdir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    uint64_t seq;
    while ((de = readdir(d)))
        if (wl_qemb_parse_seg_name(de->d_name, &seq) == 0)
            fn(ctx, dirfd(d), de->d_name, seq);
    closedir(d);
    return 0;
}

typedef struct wl_qemb_seg_bounds {
    uint64_t after, next, max; /* next: smallest seq > after; 0 = none */
} wl_qemb_seg_bounds;

static inline void wl_qemb_bounds_visit(void *ctx, int dfd, const char *name, uint64_t seq)
{
    wl_qemb_seg_bounds *b = ctx;
    (void)dfd, (void)name;
    if (seq > b->after && (b->next == 0 || seq < b->next))
        b->next = seq;
    if (seq > b->max)
        b->max = seq;
}

static inline wl_qemb_seg_bounds wl_qemb_find_segments(const char *pdir, uint64_t after)
{
    wl_qemb_seg_bounds b = {after, 0, 0};
    wl_qemb_seg_each(pdir, wl_qemb_bounds_visit, &b);
    return b;
}

/* Segment bytes at or after position pp (all of them when pp is NULL). */
typedef struct wl_qemb_seg_sum {
    const wl_queue_part_pos *from;
    uint64_t bytes;
} wl_qemb_seg_sum;

static inline void wl_qemb_sum_visit(void *ctx, int dfd, const char *name, uint64_t seq)
{
    wl_qemb_seg_sum *s = ctx;
    if (s->from && seq < s->from->segment)
        return;
    uint64_t size = wl_qemb_file_size_at(dfd, name);
    if (s->from && seq == s->from->segment)
        size -= size < s->from->offset ? size : s->from->offset;
    s->bytes += size;
}

/* Calls fn(ctx, partition) for every partition directory of the queue. */
static inline int wl_qemb_part_each(const char *dir, void (*fn)(void *, unsigned), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    unsigned part;
    while ((de = readdir(d)))
        if (wl_qemb_parse_part_name(de->d_name, &part) == 0)
            fn(ctx, part);
    closedir(d);
    return 0;
}

typedef struct wl_qemb_disk_scan {
    const char *dir;
    const wl_queue_pos *from; /* NULL: every byte */
    uint64_t bytes;
} wl_qemb_disk_scan;

static inline void wl_qemb_disk_scan_part(void *ctx, unsigned part)
{
    wl_qemb_disk_scan *ds = ctx;
    char pdir[PATH_MAX];
    wl_qemb_seg_sum s = {ds->from ? &ds->from->part[part] : NULL, 0};
    if (wl_qemb_part_path(pdir, ds->dir, part) == 0 &&
        wl_qemb_seg_each(pdir, wl_qemb_sum_visit, &s) == 0)
        ds->bytes += s.bytes;
}

static inline int wl_qemb_measure_disk(const char *dir, const wl_queue_pos *from, uint64_t *out)
{
    wl_qemb_disk_scan ds = {dir, from, 0};
    if (wl_qemb_part_each(dir, wl_qemb_disk_scan_part, &ds) != 0)
        return -1;
    *out = ds.bytes;
    return 0;
}

static inline int wl_qemb_make_dir(const char *path, bool *created)
{
    *created = mkdir(path, 0755) == 0;
    return *created || errno == EEXIST ? 0 : -1;
}

/* Opens (creating) lock file `name` in dir and takes an exclusive flock.
 * -2 when someone else holds it. */
static inline int wl_qemb_take_lock(const char *dir, const char *name)
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

/* ---- the consumer's ops (embedded_read.c) --------------------------------- */

wl_status wl_qemb_consumer_open(const wl_queue_config *cfg, wl_queue_consumer **out);
void wl_qemb_consumer_close(wl_queue_consumer *c_);
wl_status wl_qemb_read(wl_queue_consumer *c_, const wl_queue_pos *from, uint32_t max_records,
                       uint32_t max_wait_ms, wl_queue_record_fn fn, void *ctx, wl_queue_pos *next);
wl_status wl_qemb_reclaim(wl_queue_consumer *c_, const wl_queue_pos *committed);
void wl_qemb_consumer_stats_get(wl_queue_consumer *c_, wl_queue_consumer_stats *out);

#endif
