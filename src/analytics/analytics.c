/* analytics.c - wires the click queue (and the worker) into `serve`. */
#include "analytics/analytics.h"

#include <stdio.h>
#include <stdlib.h>

#include "queue/queue.h"

struct wl_analytics {
    wl_queue *queue;
};

wl_status wl_analytics_open(const wl_config *cfg, wl_analytics **out, char *err, size_t errcap)
{
    wl_analytics *a = wl_xcalloc(1, sizeof(*a));
    char dir[1100];
    snprintf(dir, sizeof(dir), "%s/queue", cfg->data_dir);
    wl_queue_config qc = {
        .dir = dir,
        .disk_budget_bytes = cfg->queue_budget_bytes,
        .fsync_interval_ms = cfg->queue_fsync_ms,
    };
    wl_status st = wl_queue_open("embedded", &qc, &a->queue);
    if (st != WL_OK) {
        snprintf(err, errcap, "cannot open the click queue in %s: %s", dir, wl_strerror(st));
        free(a);
        return st;
    }
    *out = a;
    return WL_OK;
}

void wl_analytics_close(wl_analytics *a)
{
    if (!a)
        return;
    wl_queue_close(a->queue);
    free(a);
}

wl_status wl_analytics_clicks_open(wl_analytics *a, unsigned partition, wl_clicks **out)
{
    return wl_clicks_open(a->queue, partition, out);
}

bool wl_analytics_ready(wl_analytics *a)
{
    return a->queue != NULL;
}

static void counter(wl_buf *out, const char *name, const char *help, const char *type, uint64_t v)
{
    wl_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    wl_buf_add_u64(out, v);
    wl_buf_adds(out, "\n");
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
}
