/* dimset.h - the breakdown counts of one (link, UTC day) packed into one
 * blob: the `dims` column of the analytics store's daily row
 * (astore_sqlite.h). One row per (link, day) holds everything the worker
 * adds for it, so a click costs one b-tree upsert, not one per breakdown
 * value (docs/ARCHITECTURE.md, "The analytics store").
 *
 * Format (version 1): one byte WL_DIMSET_VERSION, then entries sorted
 * strictly ascending by (dim, value), value compared as SQLite's BINARY
 * collation does (bytes, then the shorter first):
 *   u8 dim       a wl_dim (aggregate.h)
 *   u8 len       value length, 0..WL_DIM_VALUE_MAX; 0 = the dimension's
 *                overflow entry (below)
 *   len bytes    the value, no NUL byte
 *   varint       human clicks, > 0 (LEB128, at most 10 bytes)
 * An empty set is stored as SQL NULL, never as a blob.
 *
 * Bound: at most WL_DIMSET_MAX_VALUES values per dimension. When a merge or
 * an encode would keep more, the least-clicked values (ties: the larger
 * value) are folded into the dimension's overflow entry, whose clicks the
 * stats read adds to "other". So a blob stays a few KiB at most however many
 * referrer hosts a link sees in a day, and a hot row costs the same to
 * rewrite every batch; totals are never lost, only attribution of a day's
 * long tail, which the API's top-20 lists never show.
 *
 * A wl_dimset_buf is scratch owned by one thread: entries point into the
 * blobs decoded and the strings added, which must stay valid until the
 * next wl_dimset_encode() on the buffer returns. */
#ifndef WL_ANALYTICS_DIMSET_H
#define WL_ANALYTICS_DIMSET_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/aggregate.h"
#include "core/status.h"

#define WL_DIMSET_VERSION 1
#define WL_DIMSET_MAX_VALUES 512

typedef struct wl_dimset_entry {
    uint8_t dim;       /* wl_dim */
    uint8_t len;       /* value length; 0 = overflow entry */
    const char *value; /* borrowed; not NUL-terminated */
    uint64_t clicks;
} wl_dimset_entry;

typedef struct wl_dimset_buf {
    wl_dimset_entry *e; /* the entries collected since the last encode */
    size_t n, cap;
    uint8_t *out; /* the last encode's blob: out[0..len) */
    size_t len, out_cap;
} wl_dimset_buf;

#define WL_DIMSET_BUF_INIT                                                                         \
    {                                                                                              \
        NULL, 0, 0, NULL, 0, 0                                                                     \
    }

/* Frees the buffer's memory; it is left empty and reusable. */
void wl_dimset_buf_release(wl_dimset_buf *b);

/* Adds clicks of (dim, value[0..len)) to the set being built; len is cut to
 * WL_DIM_VALUE_MAX, and len 0 adds to the overflow entry. The value is
 * borrowed (see the top of this file). */
void wl_dimset_add(wl_dimset_buf *b, wl_dim dim, const char *value, size_t len, uint64_t clicks);

/* Adds every entry of blob[0..len) to the set being built. WL_ECORRUPT
 * (nothing added) when the blob breaks the format in any way. */
wl_status wl_dimset_decode(wl_dimset_buf *b, const uint8_t *blob, size_t len);

/* Sorts the set being built by (dim, value) and sums equal entries, with no
 * bound: b->e[0..return value) (the stats read, which ranks each run). */
size_t wl_dimset_sum(wl_dimset_buf *b);

/* Sorts e[0..n) by clicks, most first, ties by value ascending: the order of
 * the API's breakdown lists and of which values the bound keeps. */
void wl_dimset_rank(wl_dimset_entry *e, size_t n);

/* Sums equal (dim, value) entries, applies the bound and writes the blob to
 * b->out[0..b->len) (len 0: the set is empty, store NULL). Empties the set
 * being built. */
void wl_dimset_encode(wl_dimset_buf *b);

#endif
