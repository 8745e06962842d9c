/* analytics.h - click analytics as one service of `warplink serve`: the
 * click queue the redirect path appends to, and (unless --no-worker) the
 * analytics worker thread that consumes it.
 *
 * The worker thread (worker.h) runs beside the HTTP loops and never blocks
 * them: loops only append to the queue, and the metrics renderer only reads
 * atomics. When another process already consumes the queue (`warplink
 * worker` on the same data dir), the thread logs it once and retries every
 * few seconds, so a duplicate worker never double-counts and the server
 * takes over if the other one exits.
 *
 * Queue lag. warplink_queue_lag_seconds is rendered whoever consumes the
 * queue (this process's thread, or `warplink worker` with --no-worker): a
 * small monitor thread reads the analytics store's committed as_of through
 * its own read-only connection (opened lazily: the worker creates the
 * store) and notes when this process last published a click. See
 * lag_since() in analytics.c for the exact definition.
 *
 * Queue segments. The queue's segment size scales with the disk budget:
 *   segment_bytes = clamp(budget / max(8, 2 * threads), 4 KiB, 32 MiB)
 * The newest segment of each partition (one per loop thread) can never be
 * reclaimed, so the segments still being written must hold well under the
 * budget for a consumer's reclaims to make room again; with the defaults
 * (1 GiB, one thread per core) that is 32 MiB, or less beyond 16 cores.
 * The queue also seals a non-empty segment when it refuses an append for
 * the budget (embedded.c), so even a budget below threads * 8 KiB frees
 * once a worker has caught up.
 *
 * Owned by wl_app for the life of the server; thread-safe except where
 * noted. */
#ifndef WL_ANALYTICS_H
#define WL_ANALYTICS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "api/clicks.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/lend.h"

typedef struct wl_analytics wl_analytics;

/* Opens the queue in <data_dir>/queue, starts the lag monitor and, when
 * cfg->worker, the worker thread (which opens <data_dir>/analytics.db
 * itself). err receives a sentence on failure. */
wl_status wl_analytics_open(const wl_config *cfg, wl_analytics **out, char *err, size_t errcap);
/* Stops the worker (its current batch is committed first, or dropped whole
 * if the commit fails) and the lag monitor, joins them, then closes the
 * queue (final fsync). All wl_clicks must be closed first. NULL is a no-op. */
void wl_analytics_close(wl_analytics *a);
/* A producer for loop thread `partition`. */
wl_status wl_analytics_clicks_open(wl_analytics *a, unsigned partition, wl_clicks **out);
bool wl_analytics_ready(wl_analytics *a);
/* The CPU loans the loops give the worker thread (core/lend.h), for
 * wl_server_config.lend; NULL when this process runs no worker or
 * --worker-slice-us is 0. Lives as long as a. */
wl_lend *wl_analytics_lend(wl_analytics *a);
/* Appends the queue's metrics (warplink_click_events_published_total,
 * ..._dropped_total, warplink_queue_disk_bytes, warplink_queue_fsyncs_total,
 * warplink_queue_lag_seconds: always) and, when the worker thread runs, the
 * worker's (warplink_click_events_consumed_total, ..._corrupt_total,
 * ..._torn_bytes_total, warplink_queue_depth_bytes,
 * warplink_worker_batch_size, warplink_worker_commit_seconds,
 * warplink_worker_restarts_total, warplink_worker_consuming). Reads only
 * atomics: safe on a loop thread. */
void wl_analytics_render_metrics(wl_analytics *a, wl_buf *out);

#endif
