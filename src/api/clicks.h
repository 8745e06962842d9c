/* clicks.h - the redirect path's side of click analytics.
 *
 * Each loop thread owns one wl_clicks: a producer on its own queue partition
 * and a batch buffer. wl_clicks_record() encodes an event into the batch
 * (memory only); wl_clicks_flush() appends the batch with one write() and
 * runs in the loop's before_flush hook, i.e. before that iteration's
 * responses are written. Nothing here fsyncs or waits. */
#ifndef WL_API_CLICKS_H
#define WL_API_CLICKS_H

#include <stdint.h>

#include "core/lend.h"
#include "http/server.h"
#include "queue/queue.h"

typedef struct wl_clicks wl_clicks;

/* lend (may be NULL) is told of every append (wl_lend_post), so a worker
 * parked for new clicks is lent CPU only when there are some. */
wl_status wl_clicks_open(wl_queue *q, unsigned partition, wl_lend *lend, wl_clicks **out);
/* Flushes what is batched, then frees. NULL is a no-op. */
void wl_clicks_close(wl_clicks *c);
/* Records one redirect (GET or HEAD) of key, seen from addr. */
void wl_clicks_record(wl_clicks *c, const wl_http_request *req, const uint8_t *addr, uint8_t family,
                      wl_slice key, int64_t now_ms);
void wl_clicks_flush(wl_clicks *c);

#endif
