/* embedded.h - the "embedded" click-queue backend: a durable log of segment
 * files in the data directory (design notes at the top of embedded.c).
 *
 * Callers use queue.h; this header exists for the backend registry and for
 * tests that inject write faults. */
#ifndef WL_QUEUE_EMBEDDED_H
#define WL_QUEUE_EMBEDDED_H

#include <sys/types.h>

#include "queue/queue.h"

extern const wl_queue_ops wl_queue_embedded_ops;

/* Test hook: replaces write(2) for every embedded producer in the process
 * (NULL restores it). Set it only while no producer is appending. */
typedef ssize_t (*wl_queue_write_fn)(int fd, const void *buf, size_t len);
void wl_queue_embedded_set_write_fn(wl_queue_write_fn fn);

#endif
