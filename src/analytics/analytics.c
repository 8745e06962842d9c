/* analytics.c - wires the click queue and the analytics worker thread into
 * `serve` (contract: analytics.h).
 *
 * The worker thread is a small supervisor around wl_worker: open (take the
 * queue's consumer lock), run until stopped, and on failure close everything
 * and reopen after a pause. Losing the lock race to another process is not
 * an error: it is logged once and retried every RETRY_MS, and each later
 * acquisition after a failure or a loss counts in
 * warplink_worker_restarts_total.
 *
 * The lag monitor is a second, always-running thread: every LAG_TICK_MS it
 * reads the store's committed as_of (read-only connection, opened lazily)
 * and notes whether this process published clicks since its last tick.
 * The metrics renderer then combines those atomics (lag_since). */
#include "analytics/analytics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "analytics/astore_sqlite.h"
#include "analytics/worker.h"
#include "core/clock.h"
#include "core/log.h"
#include "queue/queue.h"

#define RETRY_MS 5000
/* Consecutive failed steps after which the thread reopens the queue and
 * the store from scratch (each step already backs off up to 5 s). */
#define MAX_STEP_FAILURES 10
#define LAG_TICK_MS 250
/* Segment size bounds (see analytics.h, "Queue segments"). */
#define SEGMENT_MIN (4u * 1024u)
#define SEGMENT_MAX WL_QUEUE_DEFAULT_SEGMENT

struct wl_analytics {
    wl_queue *queue;
    char queue_dir[1100];
    char db_path[1100];
    char geoip_db[1024];
    unsigned batch_max, batch_wait_ms;
    wl_lend lend;     /* CPU loans of the loops to the worker thread */
    wl_lend *lending; /* &lend when the worker borrows (--worker-slice-us > 0), else NULL */

    bool sync_init, thread_started, monitor_started;
    pthread_t thread, monitor;
    atomic_bool stop;
    atomic_bool consuming; /* the thread holds the consumer lock */
    pthread_mutex_t mu;    /* with cv: wakes the threads' pauses on stop */
    pthread_cond_t cv;
    wl_worker_metrics metrics;

    /* Lag inputs, written by the monitor thread (lag_since reads them). */
    wl_astore *reader;               /* monitor thread only; NULL until the store exists */
    bool reader_err_logged;          /* monitor thread only */
    _Atomic int64_t store_as_of_ms;  /* the store's committed as_of; 0 = none yet */
    _Atomic uint64_t seen_appended;  /* appended_events at the last tick */
    _Atomic int64_t last_publish_ms; /* tick that saw new appends (or start); 0 = none */
    _Atomic int64_t first_publish_ms;
};

/* Waits up to ms or until stop is raised. */
static void pause_unless_stopped(wl_analytics *a, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    while (!atomic_load(&a->stop) && pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&a->mu);
}

static wl_worker_config worker_config(wl_analytics *a)
{
    return (wl_worker_config){
        .queue_dir = a->queue_dir,
        .astore_backend = "sqlite",
        .astore_dsn = a->db_path,
        .geoip_db = a->geoip_db,
        .batch_max = a->batch_max,
        .batch_wait_ms = a->batch_wait_ms,
        .metrics = &a->metrics,
        .lend = a->lending,
    };
}

static void *worker_main(void *arg)
{
    wl_analytics *a = arg;
    /* Redirects first: this thread only gets CPU the event loops leave idle
     * (SCHED_IDLE). Under saturation clicks wait in the queue (bounded by
     * --queue-budget) instead of the worker taking CPU from redirects. */
    struct sched_param idle = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0)
        wl_warn("analytics worker: cannot lower its scheduling priority");
    wl_worker_config wc = worker_config(a);
    bool acquired_before = false, failed = false, busy_logged = false;
    while (!atomic_load(&a->stop)) {
        char err[1200];
        wl_worker *w;
        wl_status st = wl_worker_open(&wc, &w, err, sizeof(err));
        if (st != WL_OK) {
            if (st != WL_EBUSY)
                wl_error("analytics worker: %s; retrying in %d s", err, RETRY_MS / 1000);
            else if (!busy_logged)
                wl_warn("analytics worker: %s; this server will not count clicks while it does "
                        "(retrying every %d s)",
                        err, RETRY_MS / 1000);
            busy_logged |= st == WL_EBUSY;
            failed = true;
            pause_unless_stopped(a, RETRY_MS);
            continue;
        }
        if (acquired_before || failed)
            atomic_fetch_add(&a->metrics.restarts, 1);
        acquired_before = true;
        failed = busy_logged = false;
        atomic_store(&a->consuming, true);
        wl_info("analytics worker consuming %s", a->queue_dir);
        st = wl_worker_run(w, &a->stop, MAX_STEP_FAILURES);
        if (st != WL_OK)
            wl_error("analytics worker: %s; reopening", wl_worker_errmsg(w));
        wl_worker_close(w);
        atomic_store(&a->consuming, false);
        if (st != WL_OK) {
            failed = true;
            pause_unless_stopped(a, RETRY_MS);
        }
    }
    return NULL;
}

/* ---- lag monitor --------------------------------------------------------- */

/* Reads the committed as_of through the monitor's read-only connection. A
 * store that does not exist yet (WL_ENOTFOUND) is retried every tick; any
 * other error drops the connection, keeps the last value and is logged
 * once. */
static void refresh_as_of(wl_analytics *a)
{
    wl_status st = WL_OK;
    if (!a->reader)
        st = wl_astore_open("sqlite", a->db_path, WL_ASTORE_READONLY, &a->reader);
    wl_astore_consumer c;
    if (st == WL_OK && (st = wl_astore_consumer_get(a->reader, &c)) == WL_OK) {
        atomic_store_explicit(&a->store_as_of_ms, c.as_of_ms, memory_order_relaxed);
        a->reader_err_logged = false;
        return;
    }
    if (st == WL_ENOTFOUND)
        return; /* no store, or no commit yet: as_of stays what it was */
    if (!a->reader_err_logged)
        wl_warn("analytics lag: cannot read %s: %s: %s", a->db_path, wl_strerror(st),
                wl_astore_errmsg(a->reader));
    a->reader_err_logged = true;
    wl_astore_close(a->reader);
    a->reader = NULL;
}

/* Notes the tick at which this process's appends were last seen growing;
 * last_publish_ms is stored before seen_appended (release), so a renderer
 * that sees the new count also sees the new time. */
static void note_publishes(wl_analytics *a, int64_t now)
{
    wl_queue_stats qs;
    wl_queue_stats_get(a->queue, &qs);
    if (qs.appended_events == atomic_load_explicit(&a->seen_appended, memory_order_relaxed))
        return;
    int64_t zero = 0;
    atomic_compare_exchange_strong(&a->first_publish_ms, &zero, now);
    atomic_store_explicit(&a->last_publish_ms, now, memory_order_relaxed);
    atomic_store_explicit(&a->seen_appended, qs.appended_events, memory_order_release);
}

static void *monitor_main(void *arg)
{
    wl_analytics *a = arg;
    while (!atomic_load(&a->stop)) {
        note_publishes(a, wl_now_ms());
        refresh_as_of(a);
        pause_unless_stopped(a, LAG_TICK_MS);
    }
    wl_astore_close(a->reader);
    a->reader = NULL;
    return NULL;
}

static void init_sync(wl_analytics *a)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&a->mu, NULL);
    a->sync_init = true;
}

static wl_status start_monitor(wl_analytics *a, const wl_config *cfg, char *err, size_t errcap)
{
    snprintf(a->db_path, sizeof(a->db_path), "%s/%s", cfg->data_dir, WL_ASTORE_SQLITE_FILE);
    /* Bytes already queued may be unconsumed: they count as published at
     * start until a commit's as_of passes it. */
    wl_queue_stats qs;
    wl_queue_stats_get(a->queue, &qs);
    if (qs.disk_bytes) {
        int64_t now = wl_now_ms();
        atomic_store(&a->first_publish_ms, now);
        atomic_store(&a->last_publish_ms, now);
    }
    if (pthread_create(&a->monitor, NULL, monitor_main, a) != 0) {
        snprintf(err, errcap, "cannot start the analytics lag monitor thread");
        return WL_EIO;
    }
    a->monitor_started = true;
    return WL_OK;
}

/* ---- worker thread ------------------------------------------------------- */

static wl_status start_worker(wl_analytics *a, const wl_config *cfg, char *err, size_t errcap)
{
    snprintf(a->geoip_db, sizeof(a->geoip_db), "%s", cfg->geoip_db);
    a->batch_max = cfg->batch_max ? cfg->batch_max : 1;
    a->batch_wait_ms = cfg->batch_wait_ms;
    if (cfg->worker_slice_us > 0) {
        wl_lend_init(&a->lend, cfg->worker_slice_us);
        a->lending = &a->lend;
    }
    if (pthread_create(&a->thread, NULL, worker_main, a) != 0) {
        snprintf(err, errcap, "cannot start the analytics worker thread");
        return WL_EIO;
    }
    a->thread_started = true;
    return WL_OK;
}

/* The rule documented in analytics.h ("Queue segments"). */
static uint32_t segment_bytes(const wl_config *cfg)
{
    uint64_t budget = cfg->queue_budget_bytes ? cfg->queue_budget_bytes : WL_QUEUE_DEFAULT_BUDGET;
    uint64_t div = cfg->threads > 4 ? 2 * (uint64_t)cfg->threads : 8;
    uint64_t seg = budget / div;
    return seg < SEGMENT_MIN ? SEGMENT_MIN : seg > SEGMENT_MAX ? SEGMENT_MAX : (uint32_t)seg;
}

wl_status wl_analytics_open(const wl_config *cfg, wl_analytics **out, char *err, size_t errcap)
{
    wl_analytics *a = wl_xcalloc(1, sizeof(*a));
    snprintf(a->queue_dir, sizeof(a->queue_dir), "%s/queue", cfg->data_dir);
    wl_queue_config qc = {
        .dir = a->queue_dir,
        .disk_budget_bytes = cfg->queue_budget_bytes,
        .segment_bytes = segment_bytes(cfg),
        .fsync_interval_ms = cfg->queue_fsync_ms,
    };
    wl_status st = wl_queue_open("embedded", &qc, &a->queue);
    if (st != WL_OK) {
        snprintf(err, errcap, "cannot open the click queue in %s: %s", a->queue_dir,
                 wl_strerror(st));
        free(a);
        return st;
    }
    init_sync(a);
    st = start_monitor(a, cfg, err, errcap);
    if (st == WL_OK && cfg->worker)
        st = start_worker(a, cfg, err, errcap);
    if (st != WL_OK) {
        wl_analytics_close(a);
        return st;
    }
    *out = a;
    return WL_OK;
}

void wl_analytics_close(wl_analytics *a)
{
    if (!a)
        return;
    if (a->sync_init) {
        pthread_mutex_lock(&a->mu);
        atomic_store(&a->stop, true);
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        if (a->thread_started)
            pthread_join(a->thread, NULL);
        if (a->monitor_started)
            pthread_join(a->monitor, NULL);
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
    }
    wl_queue_close(a->queue);
    free(a);
}

wl_status wl_analytics_clicks_open(wl_analytics *a, unsigned partition, wl_clicks **out)
{
    return wl_clicks_open(a->queue, partition, a->lending, out);
}

bool wl_analytics_ready(wl_analytics *a)
{
    return a->queue != NULL;
}

wl_lend *wl_analytics_lend(wl_analytics *a)
{
    return a && a->thread_started ? a->lending : NULL;
}

/* ---- metrics ------------------------------------------------------------- */

static void counter(wl_buf *out, const char *name, const char *help, const char *type, uint64_t v)
{
    wl_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    wl_buf_add_u64(out, v);
    wl_buf_adds(out, "\n");
}

static uint64_t rd(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void render_commit_histogram(wl_worker_metrics *m, wl_buf *out)
{
    const char *n = "warplink_worker_commit_seconds";
    wl_buf_addf(out,
                "# HELP %s Time to commit one batch (aggregates + queue position) to the "
                "analytics store.\n# TYPE %s histogram\n",
                n, n);
    uint64_t cum = 0;
    for (int i = 0; i <= WL_WORKER_COMMIT_BUCKETS; i++) {
        cum += rd(&m->commit_hist[i]);
        if (i < WL_WORKER_COMMIT_BUCKETS)
            wl_buf_addf(out, "%s_bucket{le=\"%g\"} ", n, wl_worker_commit_bounds[i]);
        else
            wl_buf_addf(out, "%s_bucket{le=\"+Inf\"} ", n);
        wl_buf_add_u64(out, cum);
        wl_buf_adds(out, "\n");
    }
    wl_buf_addf(out, "%s_sum %.6f\n%s_count ", n, (double)rd(&m->commit_ns_sum) / 1e9, n);
    wl_buf_add_u64(out, cum);
    wl_buf_adds(out, "\n");
}

/* The instant since which clicks may be waiting uncounted; 0 = none.
 *
 * as_of is the latest committed "every event appended before this instant
 * is counted" (the store's, or this process's worker's if newer). The
 * worker commits it about once a second even when idle, whoever runs it.
 * If this process has published nothing since as_of (publishes are known
 * to within one monitor tick, and any not yet seen by the monitor count as
 * now), nothing it published is waiting: 0. Otherwise the answer is as_of,
 * or, when nothing was ever committed, the first publish (or the start,
 * when the queue already held bytes then). */
static int64_t lag_since(wl_analytics *a, uint64_t appended, int64_t now)
{
    int64_t as_of = atomic_load_explicit(&a->store_as_of_ms, memory_order_relaxed);
    int64_t mine = atomic_load_explicit(&a->metrics.as_of_ms, memory_order_relaxed);
    if (mine > as_of)
        as_of = mine;
    int64_t last = appended != atomic_load_explicit(&a->seen_appended, memory_order_acquire)
                       ? now
                       : atomic_load_explicit(&a->last_publish_ms, memory_order_relaxed);
    if (!last || last <= as_of)
        return 0;
    if (as_of)
        return as_of;
    int64_t first = atomic_load_explicit(&a->first_publish_ms, memory_order_relaxed);
    return first ? first : last;
}

static uint64_t lag_seconds(wl_analytics *a, uint64_t appended)
{
    int64_t now = wl_now_ms();
    int64_t since = lag_since(a, appended, now);
    int64_t lag = since ? (now - since) / 1000 : 0;
    return lag > 0 ? (uint64_t)lag : 0;
}

static void render_worker(wl_analytics *a, const wl_queue_stats *qs, wl_buf *out)
{
    wl_worker_metrics *m = &a->metrics;
    uint64_t depth = rd(&m->depth_bytes);
    counter(out, "warplink_worker_consuming",
            "1 while this process's analytics worker holds the click queue.", "gauge",
            atomic_load(&a->consuming) ? 1 : 0);
    counter(out, "warplink_click_events_consumed_total",
            "Click events counted in the analytics store (committed).", "counter",
            rd(&m->consumed));
    counter(out, "warplink_click_events_corrupt_total",
            "Queue records skipped because they failed to decode or their checksum.", "counter",
            rd(&m->corrupt));
    counter(out, "warplink_click_events_torn_bytes_total",
            "Bytes skipped at the end of sealed queue segments because a writer stopped "
            "mid-record (crash or failed write); the clicks in them are lost.",
            "counter", rd(&m->torn_bytes));
    counter(out, "warplink_queue_depth_bytes",
            "Bytes of click-queue segments not yet consumed by the worker.", "gauge", depth);
    /* Records are variable-sized; the count is estimated from the mean frame
     * this process appended (exact counting would mean scanning segments). */
    counter(out, "warplink_queue_depth_events",
            "Click events not yet consumed, estimated as depth bytes / mean event bytes "
            "appended by this process.",
            "gauge", qs->appended_bytes ? depth * qs->appended_events / qs->appended_bytes : 0);
    counter(out, "warplink_worker_batch_size", "Records in the last batch the worker committed.",
            "gauge", rd(&m->last_batch));
    render_commit_histogram(m, out);
    counter(out, "warplink_worker_commit_errors_total",
            "Batch commits that failed (the batch is retried, never half-applied).", "counter",
            rd(&m->commit_errors));
    counter(out, "warplink_worker_restarts_total",
            "Times the worker thread (re)acquired the queue after losing it or failing.", "counter",
            rd(&m->restarts));
    counter(out, "warplink_worker_loans_total",
            "CPU slices idle event loops lent the worker (--worker-slice-us).", "counter",
            rd(&a->lend.loans));
    wl_buf_adds(out, "# HELP warplink_worker_loan_seconds_total Event-loop time lent to the "
                     "worker.\n# TYPE warplink_worker_loan_seconds_total counter\n"
                     "warplink_worker_loan_seconds_total ");
    wl_buf_addf(out, "%.6f\n", (double)rd(&a->lend.lent_ns) / 1e9);
}

void wl_analytics_render_metrics(wl_analytics *a, wl_buf *out)
{
    wl_queue_stats qs;
    wl_queue_stats_get(a->queue, &qs);
    counter(out, "warplink_click_events_published_total", "Click events appended to the queue.",
            "counter", qs.appended_events);
    wl_buf_adds(out, "# HELP warplink_click_events_dropped_total Click events dropped, by "
                     "reason.\n# TYPE warplink_click_events_dropped_total counter\n");
    wl_buf_adds(out, "warplink_click_events_dropped_total{reason=\"disk_budget\"} ");
    wl_buf_add_u64(out, qs.dropped_full);
    wl_buf_adds(out, "\nwarplink_click_events_dropped_total{reason=\"io_error\"} ");
    wl_buf_add_u64(out, qs.dropped_io);
    wl_buf_adds(out, "\n");
    counter(out, "warplink_queue_disk_bytes", "Bytes of click-queue segments on disk.", "gauge",
            qs.disk_bytes);
    counter(out, "warplink_queue_fsyncs_total", "Group-commit fsyncs of the click queue.",
            "counter", qs.fsyncs);
    counter(out, "warplink_queue_lag_seconds",
            "0 when every click this process published was appended before as_of, the "
            "analytics store's instant before which every queued click is counted (the worker, "
            "in this process or `warplink worker`, advances it about once a second while it "
            "keeps up); else seconds since as_of, or before any commit since this process's "
            "first publish (its start if the queue already held clicks). An upper bound on the "
            "age of the oldest uncounted click.",
            "gauge", lag_seconds(a, qs.appended_events));
    /* With --no-worker the consumer lives in another process, whose figures
     * this one does not have: better no series than zeros that look real.
     * (The lag above comes from the store, so it is honest either way.) */
    if (a->thread_started)
        render_worker(a, &qs, out);
}
