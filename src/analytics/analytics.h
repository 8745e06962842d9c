/* analytics.h - click analytics as one service of `warplink serve`: the
 * click queue the redirect path appends to, and (unless --no-worker) the
 * analytics worker thread that consumes it.
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
 * worker thread. err receives a sentence on failure. */
wl_status wl_analytics_open(const wl_config *cfg, wl_analytics **out, char *err, size_t errcap);
/* Stops the worker (after its current batch), closes the queue (final
 * fsync). All wl_clicks must be closed first. */
void wl_analytics_close(wl_analytics *a);
/* A producer for loop thread `partition`. */
wl_status wl_analytics_clicks_open(wl_analytics *a, unsigned partition, wl_clicks **out);
bool wl_analytics_ready(wl_analytics *a);
void wl_analytics_render_metrics(wl_analytics *a, wl_buf *out);

#endif
