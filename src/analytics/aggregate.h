/* aggregate.h - in-memory aggregation of one batch of enriched clicks, and
 * the small day/breakdown helpers the worker, the analytics store and the
 * stats endpoint share.
 *
 * The worker turns each click event into a wl_click_facts (enrichment is the
 * worker's job, not this module's) and adds it to a wl_agg. The wl_agg sums
 * them per (link, UTC day) and per (link, day, dimension, value), and
 * collects the visitor hashes per (link, day) for the day's HyperLogLog
 * sketch. The analytics store then applies the whole wl_agg in one
 * transaction (astore.h).
 *
 * Counting rules (API.md, Analytics):
 *   - a bot hit adds to bot_clicks only; it never appears in a breakdown and
 *     never adds a visitor;
 *   - a human click adds to clicks, to exactly one value of every dimension
 *     and, when it has a visitor hash, to the day's sketch. So for every
 *     (link, day, dimension) the breakdown sums to the human clicks.
 *
 * Ownership: a wl_agg owns copies of every key and value added (interned in
 * an arena whose blocks never move), so the caller's event buffers may be
 * reused at once. Pointers in wl_agg_day / wl_agg_dim rows stay valid until
 * wl_agg_reset() or wl_agg_release(). Not thread-safe: one worker owns it.
 * Memory comes from wl_xmalloc (out of memory aborts, the server's policy). */
#ifndef WL_ANALYTICS_AGGREGATE_H
#define WL_ANALYTICS_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"
#include "core/status.h"

/* A UTC day as days since 1970-01-01 (may be negative for old dates). */
typedef int32_t wl_day;

#define WL_DAY_MS 86400000LL

/* The breakdown dimensions, in the order the stats JSON lists them. */
typedef enum wl_dim {
    WL_DIM_REF = 0,
    WL_DIM_COUNTRY,
    WL_DIM_DEVICE,
    WL_DIM_BROWSER,
    WL_DIM_OS,
    WL_DIM_COUNT_
} wl_dim;

/* Longest dimension value (a referrer host, referrer.h) without its NUL. */
#define WL_DIM_VALUE_MAX 253
/* Breakdown lists carry the top WL_TOP_N values and then "other". */
#define WL_TOP_N 20

/* The name stored in the analytics database: "ref" "country" "device"
 * "browser" "os". Static strings. */
const char *wl_dim_name(wl_dim d);

/* The value of a dimension the worker could not determine (API.md). A
 * referrer or country that is WL_AGG_UNKNOWN gets no dim row: it is, by
 * definition, what a (link, day)'s human clicks have beyond the known
 * values, so readers derive it (astore_sqlite.c, read_dim_values) and the
 * commit skips a row per (link, day) that has no GeoIP database or direct
 * traffic. Device, browser and OS count it in their daily columns. */
#define WL_AGG_UNKNOWN "unknown"

/* One enriched click, as the worker hands it over. dims[] are NUL-terminated
 * strings (WL_AGG_UNKNOWN when unknown), ignored for bots; they are copied. */
typedef struct wl_click_facts {
    wl_slice key;
    int64_t time_ms;
    bool is_bot;
    const char *dims[WL_DIM_COUNT_];
    bool has_visitor; /* visitor_hash is set (humans on days with a key) */
    uint64_t visitor_hash;
} wl_click_facts;

/* The values of the device, browser and os dimensions that ua.h can
 * produce for a human click. They are counted in the (link, day) row
 * (wl_agg_day.ua, and in the store as columns of the daily row) instead of
 * as one dimension row each: a click then touches 3 rows fewer. Any other
 * value still becomes a wl_agg_dim row. Column c belongs to dimension
 * wl_agg_ua_dim(c) and has the value wl_agg_ua_values[c]; the order is part
 * of the store's schema (append only). */
#define WL_AGG_UA_COLS 19
extern const char *const wl_agg_ua_values[WL_AGG_UA_COLS];
wl_dim wl_agg_ua_dim(int col);
/* The column of (dim, value), or -1 when it has none. */
int wl_agg_ua_col(wl_dim dim, const char *value);

/* Totals of one (link, day). visitors[0..nvisitors) are the visitor hashes
 * seen in the batch, to be added to the stored sketch (duplicates allowed:
 * adding a hash twice changes nothing). */
typedef struct wl_agg_day {
    const char *key;
    size_t key_len;
    wl_day day;
    uint64_t clicks, bot_clicks;
    /* the hashes: wl_agg_day_visitors(); held in the row itself up to
     * WL_AGG_INLINE_VISITORS (most rows of a batch: no allocation), then in
     * `visitors` (cap > WL_AGG_INLINE_VISITORS) */
    uint64_t *visitors;
    uint64_t inline_visitors[2];
    uint32_t nvisitors, cap;
    uint32_t ua[WL_AGG_UA_COLS]; /* human clicks per wl_agg_ua_values[] */
    /* its dim rows: a->dims[dims_head - 1], then that row's .next, ...
     * (0 ends the chain; newest first) */
    uint32_t dims_head;
} wl_agg_day;

/* Human clicks of one (link, day, dimension, value) for values without a
 * wl_agg_day.ua counter. value is NUL-terminated. */
typedef struct wl_agg_dim {
    const char *key;
    size_t key_len;
    wl_day day;
    wl_dim dim;
    const char *value;
    size_t value_len;
    uint64_t clicks;
    uint32_t next; /* the next dim row of the same wl_agg_day, + 1; 0 = none */
} wl_agg_dim;

#define WL_AGG_INLINE_VISITORS 2

/* d's visitor hashes [0..d->nvisitors). Valid until d's row changes. */
static inline const uint64_t *wl_agg_day_visitors(const wl_agg_day *d)
{
    return d->cap > WL_AGG_INLINE_VISITORS ? d->visitors : d->inline_visitors;
}

struct wl_agg_arena;

/* Open-addressing index over one row array: a slot holds the row's hash in
 * its high 32 bits (placement and a first check that needs no row) and row
 * index + 1 in its low 32 (0: empty). */
typedef struct wl_agg_index {
    uint64_t *slots;
    uint32_t mask, used;
} wl_agg_index;

typedef struct wl_agg {
    wl_agg_day *days;
    size_t ndays, days_cap;
    wl_agg_dim *dims;
    size_t ndims, dims_cap;
    wl_agg_index day_idx, dim_idx;
    struct wl_agg_arena *arena;
    uint64_t events;   /* facts added since the last reset */
    int64_t newest_ms; /* largest time_ms added (0 when none) */
} wl_agg;

void wl_agg_init(wl_agg *a);
/* Empties a, keeping its memory for the next batch up to 65,536 rows of
 * each kind (more is freed: a catch-up burst's memory is returned). */
void wl_agg_reset(wl_agg *a);
/* Frees everything; a is left as after wl_agg_init(). */
void wl_agg_release(wl_agg *a);
/* Adds one click. WL_EINVAL for an empty key or a NULL dimension of a human
 * click (nothing is counted then). */
wl_status wl_agg_add(wl_agg *a, const wl_click_facts *f);

/* A hint, nothing else: starts loading the index slot where the (key, day)
 * row of a later wl_agg_add() is found or placed, so that the cache miss
 * overlaps the caller's work in between (the worker's enrichment of the
 * same click). With a few hundred thousand rows in a batch, that miss was
 * most of wl_agg_add's time. */
void wl_agg_prefetch(const wl_agg *a, wl_slice key, int64_t time_ms);
/* The second stage, some work after the first: the (key, day) row its slot
 * names, and the index slot of the row of (dim, value) on that day. */
void wl_agg_prefetch_rows(const wl_agg *a, wl_slice key, int64_t time_ms, wl_dim dim,
                          const char *value);

/* ---- store helpers ------------------------------------------------------ */

/* Sorts row pointers into the analytics store's primary-key order, (key,
 * day), the key compared as SQLite's BINARY collation does (bytes, then the
 * shorter first). Upserting in that order walks the b-tree front to back. */
void wl_agg_sort_days(const wl_agg_day **rows, size_t n);

/* Largest output of wl_agg_sketch_sparse(): a sparse sketch one register
 * short of the size where the dense encoding wins (hll.h). */
#define WL_AGG_SKETCH_MAX 4096

/* Fast path for the sketch of d's visitors alone (the batch's; the store
 * merges it with the stored one, hll.h wl_hll_union_serialized) without a
 * 4096-register wl_hll: returns 1 with it in out[0..*out_len) (sparse, byte
 * for byte what wl_hll_serialize writes), 0 when d has no visitors, or -1
 * when it has more than a sparse sketch holds: the caller then uses hll.h. */
int wl_agg_sketch_sparse(const wl_agg_day *d, uint8_t out[WL_AGG_SKETCH_MAX], size_t *out_len);

/* ---- days --------------------------------------------------------------- */

/* The UTC day of a Unix-millisecond time (floor division). */
wl_day wl_day_from_ms(int64_t ms);
/* Writes "YYYY-MM-DD" and its NUL into out (>= 11 bytes); returns 10, or 0
 * when the day is outside years 0001..9999. */
size_t wl_day_format(wl_day d, char *out, size_t cap);
/* Parses exactly "YYYY-MM-DD" (a real calendar date, years 1970..9999).
 * Returns 0 and sets *out, or -1. */
int wl_day_parse(const char *s, size_t len, wl_day *out);

/* ---- breakdowns --------------------------------------------------------- */

typedef struct wl_breakdown_item {
    char value[WL_DIM_VALUE_MAX + 1];
    uint64_t clicks;
} wl_breakdown_item;

/* Turns items[0..*n) into the API's list: sorted by clicks descending (ties
 * by value, so output is stable), the first WL_TOP_N kept, and everything
 * else - the dropped items plus whatever `total` has beyond the sum of all
 * items - summed into a final {"other", clicks} entry (merged into an
 * existing "other" value if one was kept). Needs cap >= min(*n, WL_TOP_N) + 1.
 * total smaller than the items' sum is treated as equal to it. */
void wl_breakdown_finish(wl_breakdown_item *items, size_t *n, size_t cap, uint64_t total);

/* Adds clicks to value in the heap list (*list)[0..*n) of capacity *cap,
 * appending it (value truncated to WL_DIM_VALUE_MAX bytes) when new and
 * growing the list so that one slot always stays free, as
 * wl_breakdown_finish() needs. free() the list. */
void wl_breakdown_add(wl_breakdown_item **list, size_t *n, size_t *cap, const char *value,
                      uint64_t clicks);

#endif
