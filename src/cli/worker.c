/* worker.c - `warplink worker`: the analytics worker as its own process.
 *
 * Runs next to `warplink serve --no-worker` on the same data directory (or
 * instead of the server's worker thread on a busy node). Only one consumer
 * may hold a queue: a second `warplink worker` exits at once with status 1
 * and says so, rather than wait and confuse whoever started it.
 *
 * SIGTERM/SIGINT raise a flag; the worker finishes (commits) the batch in
 * hand, which takes at most --batch-wait-ms plus one commit, and exits 0
 * after printing a summary of its counters (it serves no metrics). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "analytics/astore_sqlite.h"
#include "analytics/worker.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"

/* Consecutive failed steps before the worker reopens its queue and store. */
#define MAX_STEP_FAILURES 10

static atomic_bool stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true); /* lock-free: async-signal-safe */
}

static void print_summary(wl_worker_metrics *m, int64_t started_ms)
{
    uint64_t batches = atomic_load(&m->batches), ns = atomic_load(&m->commit_ns_sum);
    uint64_t commits = 0;
    for (int i = 0; i <= WL_WORKER_COMMIT_BUCKETS; i++)
        commits += atomic_load(&m->commit_hist[i]);
    fprintf(stderr,
            "warplink: worker stopped after %.1f s: %llu events consumed, %llu corrupt, %llu "
            "torn bytes, %llu commits (%llu with events, mean %.2f ms), %llu commit errors, "
            "queue depth %llu bytes\n",
            (double)(wl_now_ms() - started_ms) / 1000.0,
            (unsigned long long)atomic_load(&m->consumed),
            (unsigned long long)atomic_load(&m->corrupt),
            (unsigned long long)atomic_load(&m->torn_bytes), (unsigned long long)batches,
            (unsigned long long)commits, commits ? (double)ns / 1e6 / (double)commits : 0.0,
            (unsigned long long)atomic_load(&m->commit_errors),
            (unsigned long long)atomic_load(&m->depth_bytes));
}

/* Holds the queue until stopped; reopens after persistent failures. Returns
 * the exit status. */
static int consume(const wl_config *cfg, const wl_worker_config *wc)
{
    bool first = true;
    for (;;) {
        char err[1200];
        wl_worker *w;
        wl_status st = wl_worker_open(wc, &w, err, sizeof(err));
        if (st == WL_EBUSY) {
            fprintf(stderr, "warplink: another worker is consuming %s\n", cfg->data_dir);
            return 1;
        }
        if (st != WL_OK) {
            fprintf(stderr, "warplink: %s\n", err);
            return 1;
        }
        if (first)
            fprintf(stderr, "warplink: worker consuming %s\n", cfg->data_dir);
        first = false;
        st = wl_worker_run(w, &stop_requested, MAX_STEP_FAILURES);
        if (st != WL_OK)
            wl_error("worker: %s; reopening", wl_worker_errmsg(w));
        wl_worker_close(w);
        if (atomic_load(&stop_requested))
            return st == WL_OK ? 0 : 1;
    }
}

int wl_cli_worker(int argc, char **argv)
{
    wl_config cfg;
    int nargs;
    int rc = wl_cli_config(&cfg, WL_OPT_WORKER, "warplink worker [options]", argc, argv, &nargs);
    if (rc >= 0)
        return rc;
    if (nargs) {
        fprintf(stderr, "warplink: worker takes no arguments ('%s')\n", argv[0]);
        return 2;
    }
    if (cfg.batch_max == 0) {
        fprintf(stderr, "warplink: --batch-max must be at least 1\n");
        return 2;
    }
    if (mkdir(cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "warplink: cannot create data directory %s: %s\n", cfg.data_dir,
                strerror(errno));
        return 1;
    }
    char queue_dir[1100], db_path[1100];
    snprintf(queue_dir, sizeof(queue_dir), "%s/queue", cfg.data_dir);
    snprintf(db_path, sizeof(db_path), "%s/%s", cfg.data_dir, WL_ASTORE_SQLITE_FILE);
    static wl_worker_metrics metrics;
    wl_worker_config wc = {
        .queue_dir = queue_dir,
        .astore_backend = "sqlite",
        .astore_dsn = db_path,
        .geoip_db = cfg.geoip_db,
        .batch_max = cfg.batch_max,
        .batch_wait_ms = cfg.batch_wait_ms,
        .metrics = &metrics,
    };
    wl_cli_on_stop_signals(on_stop_signal);
    int64_t started = wl_now_ms();
    rc = consume(&cfg, &wc);
    if (rc == 0)
        print_summary(&metrics, started);
    return rc;
}
