/* astore.h - the analytics store: where the worker's aggregates, its queue
 * position and the daily visitor keys live, and where GET /links/{key}/stats
 * reads them.
 *
 * The exactly-once contract lives here: wl_astore_apply() writes a batch's
 * aggregates, the new visitor keys, the deletion of expired ones AND the
 * consumer position after the batch in ONE transaction. Either all of it is
 * durable (WL_OK) or none of it is (any error): a worker that restarts loads
 * the position with wl_astore_consumer_get() and re-reads exactly the events
 * whose counts are not in the store yet.
 *
 * A wl_astore is ONE connection used by ONE thread at a time (like
 * store.h). Writers: exactly one, the worker holding the queue's consumer
 * lock. Readers: any number (WL_ASTORE_READONLY), each on its own handle.
 *
 * Backends are `const wl_astore_ops` tables chosen by name: "sqlite" (dsn =
 * file path, WAL, synchronous=FULL, own versioned migrations), "postgres"
 * later. Callers use the inline wrappers, never the table.
 *
 * Privacy: no client address is ever passed to this interface; only keyed
 * visitor hashes folded into HyperLogLog sketches (visitor.h). */
#ifndef WL_ASTORE_H
#define WL_ASTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "analytics/aggregate.h"
#include "analytics/visitor.h"
#include "core/status.h"
#include "queue/queue.h"

/* The longest range GET /links/{key}/stats accepts, in days. */
#define WL_STATS_MAX_DAYS 366

enum wl_astore_flags {
    WL_ASTORE_READONLY = 1u << 0, /* refuse writes; never creates or migrates */
};

typedef struct wl_astore wl_astore;

/* What the worker last committed. */
typedef struct wl_astore_consumer {
    wl_queue_pos pos;        /* read from here on restart */
    int64_t updated_ms;      /* wall clock of the last commit */
    int64_t as_of_ms;        /* see wl_astore_batch.as_of_ms; 0 = never drained */
    int64_t newest_event_ms; /* largest event time ever committed */
    uint64_t events_total;   /* events counted (decoded) since the store was made */
    uint64_t corrupt_total;  /* records that failed to decode, skipped */
} wl_astore_consumer;

/* A visitor key created for `day` during this batch (visitor.h, life cycle). */
typedef struct wl_astore_day_key {
    wl_day day;
    wl_visitor_key key;
} wl_astore_day_key;

/* Everything one transaction applies. All pointers are borrowed for the
 * call. */
typedef struct wl_astore_batch {
    const wl_agg *agg;                 /* may be empty (a position-only commit) */
    const wl_queue_pos *pos;           /* position after the batch's last record */
    const wl_astore_day_key *new_keys; /* inserted; an existing day is an error */
    size_t nnew_keys;
    wl_day forget_keys_before; /* keys of days < this are deleted (destroyed) */
    uint64_t events;           /* decoded events in the batch (agg->events) */
    uint64_t corrupt;          /* records of the batch that failed to decode */
    /* Events appended before this instant are all included once this batch
     * commits (the start of a read that drained the queue); 0 keeps the
     * stored value (the batch did not reach the end of the queue). */
    int64_t as_of_ms;
    int64_t now_ms; /* stored as updated_ms */
    /* NULL, or called on the calling thread between the transaction's
     * statements (long_call false) and before each step that runs long in
     * one call: a sort of the batch's rows, the COMMIT (long_call true). The
     * worker pauses or gives back its CPU loan there (core/lend.h); it must
     * not touch the store. */
    void (*pace)(void *ctx, bool long_call);
    void *pace_ctx;
} wl_astore_batch;

/* One link's stats over [from, to] (to - from < WL_STATS_MAX_DAYS). */
typedef struct wl_astore_stats {
    uint64_t clicks, bot_clicks, unique_visitors;
    uint64_t daily[WL_STATS_MAX_DAYS]; /* human clicks of day from + i */
    wl_breakdown_item items[WL_DIM_COUNT_][WL_TOP_N + 1];
    size_t nitems[WL_DIM_COUNT_]; /* finished lists (wl_breakdown_finish) */
    int64_t as_of_ms;             /* 0: nothing was ever committed */
} wl_astore_stats;

typedef struct wl_astore_ops {
    int version; /* 1 */
    const char *name;

    /* Opens (and unless READONLY creates + migrates) the store at dsn. */
    wl_status (*open)(const char *dsn, unsigned flags, wl_astore **out);
    void (*close)(wl_astore *s);
    /* WL_ENOTFOUND when the worker never committed (start from a zeroed
     * position). */
    wl_status (*consumer_get)(wl_astore *s, wl_astore_consumer *out);
    /* WL_ENOTFOUND when no key exists (any more) for day. */
    wl_status (*visitor_key_get)(wl_astore *s, wl_day day, wl_visitor_key *out);
    wl_status (*apply)(wl_astore *s, const wl_astore_batch *b);
    wl_status (*stats_get)(wl_astore *s, const char *key, size_t key_len, wl_day from, wl_day to,
                           wl_astore_stats *out);
    /* Last error in words, for logs; valid until the next call on s. */
    const char *(*errmsg)(wl_astore *s);
} wl_astore_ops;

struct wl_astore {
    const wl_astore_ops *ops;
};

/* The backends built into this binary (astore_sqlite.c, ...). */
extern const wl_astore_ops wl_astore_sqlite_ops;

/* Finds a backend by name; NULL when unknown or not built. The registry is
 * this one inline function so that adding "postgres" touches one line. */
static inline const wl_astore_ops *wl_astore_backend(const char *name)
{
    static const wl_astore_ops *const backends[] = {&wl_astore_sqlite_ops};
    for (size_t i = 0; name && i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

/* Opens a store. WL_EUNSUPPORTED for an unknown backend or a schema newer
 * than this build; WL_ENOTFOUND when READONLY and the store does not exist
 * yet (the worker has not run); WL_EIO and friends otherwise. *out is set
 * only on WL_OK. */
static inline wl_status wl_astore_open(const char *backend, const char *dsn, unsigned flags,
                                       wl_astore **out)
{
    const wl_astore_ops *ops = wl_astore_backend(backend);
    /* a table of a newer interface revision may lay out its slots differently */
    if (!ops || ops->version != 1)
        return WL_EUNSUPPORTED;
    return ops->open(dsn, flags, out);
}

/* NULL is a no-op. */
static inline void wl_astore_close(wl_astore *s)
{
    if (s)
        s->ops->close(s);
}

static inline wl_status wl_astore_consumer_get(wl_astore *s, wl_astore_consumer *out)
{
    return s->ops->consumer_get(s, out);
}

static inline wl_status wl_astore_visitor_key_get(wl_astore *s, wl_day day, wl_visitor_key *out)
{
    return s->ops->visitor_key_get(s, day, out);
}

/* All or nothing, durable on WL_OK (see the top of this file). */
static inline wl_status wl_astore_apply(wl_astore *s, const wl_astore_batch *b)
{
    return s->ops->apply(s, b);
}

/* Fills *out (every field). WL_EINVAL when from > to or the range is longer
 * than WL_STATS_MAX_DAYS. */
static inline wl_status wl_astore_stats_get(wl_astore *s, const char *key, size_t key_len,
                                            wl_day from, wl_day to, wl_astore_stats *out)
{
    return s->ops->stats_get(s, key, key_len, from, to, out);
}

static inline const char *wl_astore_errmsg(wl_astore *s)
{
    return s ? s->ops->errmsg(s) : "no analytics store";
}

#endif
