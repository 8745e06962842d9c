/* worker.h - the analytics worker: consumes the click queue, enriches and
 * aggregates each batch, and commits the aggregates together with the queue
 * position in the analytics store (ARCHITECTURE.md §2 steps 5-6).
 *
 * One wl_worker holds the queue's consumer lock (single consumer: a second
 * wl_worker_open on the same queue gets WL_EBUSY), one writable analytics
 * store connection and, when configured, the GeoIP database. It is driven by
 * ONE thread: wl_worker_step() for one batch, or wl_worker_run() until a stop
 * flag is raised. Only wl_worker_metrics is read by other threads.
 *
 * Exactly-once: the position is loaded from the store at open; a batch's
 * counts and the position after it are committed in one transaction
 * (astore.h); only then is the queue told to reclaim. A batch whose commit
 * fails stays pending and the next step retries that same commit (same
 * aggregates, same visitor keys) instead of reading on; closing a worker with
 * a pending batch drops it whole, and the next worker re-reads it. */
#ifndef WL_ANALYTICS_WORKER_H
#define WL_ANALYTICS_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lend.h"
#include "core/status.h"

/* Upper bounds (seconds) of the commit-time histogram buckets; +Inf last. */
#define WL_WORKER_COMMIT_BUCKETS 10
extern const double wl_worker_commit_bounds[WL_WORKER_COMMIT_BUCKETS];

/* Counters shared with the metrics endpoint: written by the worker thread,
 * read (relaxed) by any thread. Owned by whoever runs the worker; it must
 * outlive every wl_worker that points at it. Zero-initialise it. */
typedef struct wl_worker_metrics {
    _Atomic uint64_t consumed;   /* events decoded and committed */
    _Atomic uint64_t corrupt;    /* records that failed to decode, skipped */
    _Atomic uint64_t torn_bytes; /* skipped torn tails of sealed segments (writer crashed) */
    _Atomic uint64_t batches;    /* committed transactions */
    _Atomic uint64_t commit_errors;
    _Atomic uint64_t read_errors;
    _Atomic uint64_t reclaim_errors;
    _Atomic uint64_t last_batch;  /* events in the last committed batch */
    _Atomic uint64_t depth_bytes; /* queue bytes after the last read position */
    _Atomic int64_t as_of_ms;     /* see wl_astore_batch.as_of_ms */
    _Atomic int64_t newest_event_ms;
    _Atomic uint64_t commit_ns_sum;
    _Atomic uint64_t commit_hist[WL_WORKER_COMMIT_BUCKETS + 1]; /* non-cumulative; +Inf last */
    _Atomic uint64_t restarts; /* maintained by the supervisor (analytics.c) */
} wl_worker_metrics;

typedef struct wl_worker_config {
    const char *queue_dir;      /* the queue's directory (<data_dir>/queue) */
    const char *astore_backend; /* "sqlite" */
    const char *astore_dsn;     /* <data_dir>/analytics.db */
    const char *geoip_db;       /* NULL or "" = every country "unknown" */
    uint32_t batch_max;         /* records per batch, > 0 */
    uint32_t batch_wait_ms;     /* longest wait for the first record */
    wl_worker_metrics *metrics; /* required; see above */
    int64_t (*now_ms)(void);    /* wall clock; NULL = wl_now_ms (tests pin it) */
    /* CPU loans from the server's event loops (core/lend.h), or NULL: the
     * worker then runs freely. With loans it reads, aggregates and runs the
     * transaction's statements on loans and gives them back before each
     * COMMIT and before waiting for clicks; it never waits inside the queue
     * read, it parks for new clicks instead. Must outlive the worker. */
    wl_lend *lend;
} wl_worker_config;

typedef struct wl_worker wl_worker;

/* Takes the consumer lock, opens (creating and migrating) the store, opens
 * the GeoIP database and loads the committed position. cfg's strings are
 * copied. WL_EBUSY: another consumer holds the queue. Any other error: err
 * holds a sentence naming what failed. */
wl_status wl_worker_open(const wl_worker_config *cfg, wl_worker **out, char *err, size_t errcap);

/* One batch: read up to batch_max records (waiting up to batch_wait_ms);
 * while reads come back full (catching up) keep reading into the same batch
 * (at most 400 reads, 1M distinct rows or 3 s), then aggregate, commit once,
 * reclaim. Returns WL_OK after committing a batch with at
 * least one record, WL_EAGAIN when the queue had nothing new (caught up),
 * or the error of the failed read (WL_EIO) or commit (the batch then stays
 * pending; the next call retries it). */
wl_status wl_worker_step(wl_worker *w);

/* Steps until *stop is set, backing off (up to 5 s) after errors. Returns
 * WL_OK when stopped, or the last error after `max_failures` consecutive
 * failed steps (0 = never give up), so a supervisor can reopen everything. */
wl_status wl_worker_run(wl_worker *w, const atomic_bool *stop, unsigned max_failures);

/* The last error in words (for logs). */
const char *wl_worker_errmsg(const wl_worker *w);

/* Releases the lock, the store and GeoIP; an uncommitted batch is dropped
 * whole. NULL is a no-op. */
void wl_worker_close(wl_worker *w);

#endif
