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
 * Owned by wl_app for the life of the server; thread-safe except where
 * noted. */
#ifndef WL_ANALYTICS_H
#define WL_ANALYTICS_H

#include <stdbool.h>

#include "api/clicks.h"
#include "core/buf.h"
#include "core/config.h"

typedef struct wl_analytics wl_analytics;

/* Opens the queue in <data_dir>/queue and, when cfg->worker, starts the
 * worker thread (which opens <data_dir>/analytics.db itself). err receives a
 * sentence on failure. */
wl_status wl_analytics_open(const wl_config *cfg, wl_analytics **out, char *err, size_t errcap);
/* Stops the worker (its current batch is committed first, or dropped whole
 * if the commit fails), joins it, then closes the queue (final fsync). All
 * wl_clicks must be closed first. NULL is a no-op. */
void wl_analytics_close(wl_analytics *a);
/* A producer for loop thread `partition`. */
wl_status wl_analytics_clicks_open(wl_analytics *a, unsigned partition, wl_clicks **out);
bool wl_analytics_ready(wl_analytics *a);
/* Appends the queue's metrics and, when the worker thread runs, the
 * worker's (warplink_click_events_consumed_total, ..._corrupt_total,
 * warplink_queue_depth_bytes, warplink_queue_lag_seconds,
 * warplink_worker_batch_size, warplink_worker_commit_seconds,
 * warplink_worker_restarts_total, warplink_worker_consuming). Reads only
 * atomics: safe on a loop thread. */
void wl_analytics_render_metrics(wl_analytics *a, wl_buf *out);

#endif
