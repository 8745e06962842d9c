/* clicks.c - encodes click events into the loop's batch and appends it. */
#include "api/clicks.h"

#include <stdlib.h>

#include "analytics/event.h"
#include "core/buf.h"

#define BATCH_BYTES (256 * 1024)

struct wl_clicks {
    wl_queue_producer *producer;
    wl_queue_batch batch;
    wl_lend *lend;
};

wl_status wl_clicks_open(wl_queue *q, unsigned partition, wl_lend *lend, wl_clicks **out)
{
    wl_clicks *c = wl_xcalloc(1, sizeof(*c));
    c->lend = lend;
    wl_status st = wl_queue_producer_new(q, partition, &c->producer);
    if (st == WL_OK)
        st = wl_queue_batch_init(&c->batch, BATCH_BYTES);
    if (st != WL_OK) {
        wl_queue_producer_free(c->producer);
        free(c);
        return st;
    }
    *out = c;
    return WL_OK;
}

void wl_clicks_flush(wl_clicks *c)
{
    if (c && c->batch.count) {
        (void)wl_queue_append(c->producer, &c->batch); /* drops are counted inside */
        wl_lend_post(c->lend); /* after the write: the worker may read it at once */
    }
}

void wl_clicks_close(wl_clicks *c)
{
    if (!c)
        return;
    wl_clicks_flush(c);
    wl_queue_batch_release(&c->batch);
    wl_queue_producer_free(c->producer);
    free(c);
}

void wl_clicks_record(wl_clicks *c, const wl_http_request *req, const uint8_t *addr, uint8_t family,
                      wl_slice key, int64_t now_ms)
{
    if (!c)
        return;
    wl_click_event ev = {
        .version = WL_CLICK_EVENT_VERSION,
        .time_ms = now_ms,
        .method = req->method == WL_HTTP_HEAD ? WL_CLICK_HEAD : WL_CLICK_GET,
        .addr_family = family,
        .key = key,
        .referrer = req->referer,
        .user_agent = req->user_agent,
    };
    memcpy(ev.addr, addr, family == WL_ADDR_IPV6 ? 16 : family == WL_ADDR_IPV4 ? 4 : 0);
    size_t need = wl_click_event_encoded_max(&ev);
    uint8_t *p = wl_queue_batch_reserve(&c->batch, need);
    if (!p) { /* batch full: write it now, still before any response */
        wl_clicks_flush(c);
        p = wl_queue_batch_reserve(&c->batch, need);
        if (!p)
            return;
    }
    size_t len = 0;
    if (wl_click_event_encode(&ev, p, need, &len) != WL_OK)
        len = 0; /* abandons the reservation; cannot happen for a routed key */
    wl_queue_batch_commit(&c->batch, len);
}
