/* worker.c - the analytics consumer loop (contract: worker.h).
 *
 * Design notes:
 * - A step is read -> enrich + aggregate (in the read callback, so a record
 *   is never copied) -> one store transaction -> reclaim. Any failure before
 *   the commit abandons the whole batch: the position does not move, so the
 *   same records are read again later. A failed commit keeps the batch (and
 *   the visitor keys created for it) pending and retries exactly that.
 * - Visitor keys exist only for yesterday, today and tomorrow (UTC, by the
 *   worker's clock; tomorrow covers producers whose clocks run a little
 *   ahead). A day's key is created the first time an event of that day is
 *   seen and is inserted in the same transaction as the batch that used it;
 *   keys of days before yesterday are deleted by every commit. Clicks of
 *   days without a key still count, only not as visitors (visitor.h).
 * - Catching up: while every read returns a full batch_max records the queue
 *   is behind, and the step keeps reading (without waiting) into the same
 *   aggregate, up to CATCHUP_READS reads, CATCHUP_ROWS distinct rows or
 *   CATCHUP_MS, before its one commit. With many distinct links the commit
 *   costs per distinct row, not per event, so a bigger batch folds more
 *   events into each row: falling behind makes the worker more efficient
 *   until it has caught up. A caught-up worker reads less than batch_max and
 *   commits at once, so freshness is unchanged. Exactly-once is unchanged
 *   too: whatever was read commits with the position after it, or nothing.
 * - When the queue is idle the worker still commits (position-only) about
 *   once a second, so the store's as_of keeps meaning "every event appended
 *   before this instant is counted" instead of going stale.
 * - User-agent classification and referrer parsing are memoised
 *   (enrich_memo.h): a few distinct values make up most traffic. */
#include "analytics/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "analytics/aggregate.h"
#include "analytics/astore.h"
#include "analytics/enrich_memo.h"
#include "analytics/event.h"
#include "analytics/geo.h"
#include "analytics/referrer.h"
#include "analytics/ua.h"
#include "analytics/visitor.h"
#include "core/buf.h"
#include "core/clock.h"
#include "queue/queue.h"

#define HEARTBEAT_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_DAY_KEYS 3 /* yesterday, today, tomorrow */
/* Event times outside [1970, 10000) cannot be real clicks and would not
 * fit a wl_day: such records count as corrupt. */
#define TIME_MAX_MS 253402300800000LL
/* Reads of batch_max folded into one commit at most. 400, not 40: at the
 * benchmark's --batch-max 10000, a million clicks over 100,000 links took
 * three commits of 300k rows each instead of one (worker 533k vs 723k
 * events/s); the row and time bounds below keep memory and latency bounded. */
#define CATCHUP_READS 400
#define CATCHUP_ROWS 1000000 /* aggregate rows (day + dim) in memory, ~60-250 B each */
/* Reading time of one step at most. 3 s rather than 1: with clicks spread
 * evenly over 100,000 links a worker sharing a core with a loop at 68k
 * redirects/s fell further behind with 1 s steps and held a 2-5 s lag with
 * 3 s ones (the longer step folds more clicks into each row it commits). */
#define CATCHUP_MS 3000
#define YIELD_EVERY 8 /* records between pause points on a CPU loan (~5 us) */

const double wl_worker_commit_bounds[WL_WORKER_COMMIT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05,  0.1,    0.25,  1.0,  5.0};

typedef struct day_key {
    wl_day day;
    wl_visitor_key key;
    bool used;
} day_key;

struct wl_worker {
    wl_queue_consumer *consumer;
    wl_astore *store;
    wl_geo *geo;
    wl_worker_metrics *m;
    int64_t (*now_ms)(void);
    uint32_t batch_max, batch_wait_ms;
    wl_lend *lend; /* NULL: no loans (worker.h) */

    wl_queue_pos pos;  /* committed */
    wl_queue_pos next; /* after the batch being built or pending */
    wl_agg agg;
    bool pending;           /* agg + next are waiting to be committed */
    wl_status pending_rc;   /* what the step reports once committed */
    int64_t pending_as_of;  /* 0 when the batch did not drain the queue */
    uint64_t batch_records; /* delivered by the queue, decodable or not */
    uint64_t batch_corrupt;
    wl_status cb_error; /* set by the read callback to abandon the batch */
    int64_t last_commit_ms;
    uint64_t queue_corrupt_seen, queue_torn_seen;

    wl_enrich_memo *memo;

    wl_day today;
    day_key keys[MAX_DAY_KEYS];
    wl_astore_day_key new_keys[MAX_DAY_KEYS];
    size_t nnew_keys;
    char err[512];
};

static int64_t default_now(void)
{
    return wl_now_ms();
}

/* ---- visitor keys -------------------------------------------------------- */

/* Drops in-memory keys of days before yesterday (wiped: visitor.h). */
static void keys_roll(wl_worker *w)
{
    for (int i = 0; i < MAX_DAY_KEYS; i++) {
        if (w->keys[i].used && w->keys[i].day < w->today - 1) {
            wl_visitor_key_wipe(&w->keys[i].key);
            w->keys[i].used = false;
        }
    }
}

/* Forgets keys created for an abandoned batch: they were never stored, and
 * the batch's records will be hashed again under whatever key exists then. */
static void keys_abandon(wl_worker *w)
{
    for (size_t n = 0; n < w->nnew_keys; n++) {
        for (int i = 0; i < MAX_DAY_KEYS; i++) {
            if (w->keys[i].used && w->keys[i].day == w->new_keys[n].day) {
                wl_visitor_key_wipe(&w->keys[i].key);
                w->keys[i].used = false;
            }
        }
        wl_visitor_key_wipe(&w->new_keys[n].key);
    }
    w->nnew_keys = 0;
}

/* The key of `day`, or NULL when the day has none (too old or too far
 * ahead) or on error (w->cb_error set). */
static const wl_visitor_key *key_for(wl_worker *w, wl_day day)
{
    if (day < w->today - 1 || day > w->today + 1)
        return NULL;
    day_key *slot = NULL;
    for (int i = 0; i < MAX_DAY_KEYS; i++) {
        if (w->keys[i].used && w->keys[i].day == day)
            return &w->keys[i].key;
        if (!w->keys[i].used)
            slot = &w->keys[i];
    }
    if (!slot) /* cannot happen: keys_roll keeps at most the three days */
        return NULL;
    wl_status st = wl_astore_visitor_key_get(w->store, day, &slot->key);
    if (st == WL_ENOTFOUND) {
        st = wl_visitor_key_generate(&slot->key);
        if (st == WL_OK) {
            w->new_keys[w->nnew_keys].day = day;
            w->new_keys[w->nnew_keys++].key = slot->key;
        }
    }
    if (st != WL_OK) {
        snprintf(w->err, sizeof(w->err), "visitor key of day %d: %s", day, wl_strerror(st));
        w->cb_error = st;
        return NULL;
    }
    slot->day = day;
    slot->used = true;
    return &slot->key;
}

/* ---- enrichment ---------------------------------------------------------- */

static const char *country_of(wl_worker *w, const wl_click_event *ev, char out[3])
{
    if (!w->geo || ev->addr_family == WL_ADDR_NONE)
        return "unknown";
    int fam = ev->addr_family == WL_ADDR_IPV4 ? AF_INET : AF_INET6;
    return wl_geo_country(w->geo, ev->addr, fam, out) == WL_OK ? out : "unknown";
}

static void add_visitor(wl_worker *w, const wl_click_event *ev, wl_click_facts *f)
{
    const wl_visitor_key *k = key_for(w, wl_day_from_ms(ev->time_ms));
    if (!k)
        return;
    size_t alen = ev->addr_family == WL_ADDR_IPV4 ? 4 : ev->addr_family == WL_ADDR_IPV6 ? 16 : 0;
    f->visitor_hash = wl_visitor_hash(k, ev->addr, alen, ev->user_agent.ptr, ev->user_agent.len);
    f->has_visitor = true;
}

static int on_record(void *ctx, unsigned partition, const uint8_t *payload, size_t len)
{
    (void)partition;
    wl_worker *w = ctx;
    if (w->lend && w->batch_records % YIELD_EVERY == 0)
        wl_lend_yield(w->lend);
    w->batch_records++;
    wl_click_event ev;
    if (wl_click_event_decode(payload, len, &ev) != WL_OK || ev.time_ms < 0 ||
        ev.time_ms >= TIME_MAX_MS) {
        w->batch_corrupt++;
        return 0;
    }
    wl_agg_prefetch(&w->agg, ev.key, ev.time_ms);
    const wl_ua_info *ua = wl_enrich_memo_ua(w->memo, ev.user_agent.ptr, ev.user_agent.len,
                                             ev.method == WL_CLICK_HEAD);
    wl_click_facts f = {.key = ev.key, .time_ms = ev.time_ms, .is_bot = ua->is_bot};
    char buf[WL_REFERRER_HOST_MAX + 1], country[3];
    if (!ua->is_bot) {
        const char *host = wl_enrich_memo_referrer(w->memo, ev.referrer.ptr, ev.referrer.len, buf);
        f.dims[WL_DIM_REF] = *host ? host : "unknown";
        if (*host) /* the visitor hash below hides the misses */
            wl_agg_prefetch_rows(&w->agg, ev.key, ev.time_ms, WL_DIM_REF, host);
        f.dims[WL_DIM_COUNTRY] = country_of(w, &ev, country);
        f.dims[WL_DIM_DEVICE] = ua->device;
        f.dims[WL_DIM_BROWSER] = ua->browser;
        f.dims[WL_DIM_OS] = ua->os;
        add_visitor(w, &ev, &f);
        if (w->cb_error != WL_OK)
            return 1; /* stop: the batch is abandoned */
    }
    if (wl_agg_add(&w->agg, &f) != WL_OK)
        w->batch_corrupt++;
    return 0;
}

/* ---- metrics ------------------------------------------------------------- */

static void observe_queue(wl_worker *w)
{
    wl_queue_consumer_stats cs;
    wl_queue_consumer_stats_get(w->consumer, &cs);
    atomic_store_explicit(&w->m->depth_bytes, cs.depth_bytes, memory_order_relaxed);
    if (cs.corrupt_records > w->queue_corrupt_seen) {
        /* damaged regions the queue skipped are events lost to corruption too */
        atomic_fetch_add_explicit(&w->m->corrupt, cs.corrupt_records - w->queue_corrupt_seen,
                                  memory_order_relaxed);
        w->queue_corrupt_seen = cs.corrupt_records;
    }
    if (cs.torn_bytes > w->queue_torn_seen) {
        /* a torn tail is a click lost to a crashed writer: say so, once per tail seen */
        uint64_t n = cs.torn_bytes - w->queue_torn_seen;
        atomic_fetch_add_explicit(&w->m->torn_bytes, n, memory_order_relaxed);
        w->queue_torn_seen = cs.torn_bytes;
        fprintf(stderr,
                "warplink: worker: skipped %llu torn bytes at the end of a segment (a writer "
                "stopped mid-record)\n",
                (unsigned long long)n);
    }
}

static void observe_commit(wl_worker *w, int64_t ns)
{
    wl_worker_metrics *m = w->m;
    atomic_fetch_add_explicit(&m->consumed, w->agg.events, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->corrupt, w->batch_corrupt, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->batches, 1, memory_order_relaxed);
    if (w->pending_as_of)
        atomic_store_explicit(&m->as_of_ms, w->pending_as_of, memory_order_relaxed);
    if (w->agg.newest_ms > atomic_load_explicit(&m->newest_event_ms, memory_order_relaxed))
        atomic_store_explicit(&m->newest_event_ms, w->agg.newest_ms, memory_order_relaxed);
    if (!w->batch_records)
        return; /* an idle heartbeat says nothing about batch size or cost */
    atomic_store_explicit(&m->last_batch, w->batch_records, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commit_ns_sum, (uint64_t)ns, memory_order_relaxed);
    double s = (double)ns / 1e9;
    int b = 0;
    while (b < WL_WORKER_COMMIT_BUCKETS && s > wl_worker_commit_bounds[b])
        b++;
    atomic_fetch_add_explicit(&m->commit_hist[b], 1, memory_order_relaxed);
}

/* ---- the step ------------------------------------------------------------ */

/* The step's first read, waiting up to batch_wait_ms for a record. With
 * loans the wait happens outside the queue (a loan must not block): read
 * without waiting, and when there is nothing, give the loan back and park
 * until a loop appends clicks and lends again (or the wait is over). */
static wl_status first_read(wl_worker *w)
{
    if (!w->lend)
        return wl_queue_read(w->consumer, &w->pos, w->batch_max, w->batch_wait_ms, on_record, w,
                             &w->next);
    uint64_t posted = atomic_load_explicit(&w->lend->posted, memory_order_acquire);
    wl_status st = wl_queue_read(w->consumer, &w->pos, w->batch_max, 0, on_record, w, &w->next);
    if (st != WL_EAGAIN || !w->batch_wait_ms)
        return st;
    wl_lend_return(w->lend);
    if (!wl_lend_wait(w->lend, WL_LEND_WANT_NEW, posted, (int64_t)w->batch_wait_ms * 1000000))
        return WL_EAGAIN;
    return wl_queue_read(w->consumer, &w->pos, w->batch_max, 0, on_record, w, &w->next);
}

/* Reads and aggregates one batch. WL_OK: a batch is pending (possibly a
 * position-only one); WL_EAGAIN: nothing to commit; else an error with the
 * batch abandoned. */
static wl_status read_batch(wl_worker *w)
{
    wl_agg_reset(&w->agg);
    w->batch_records = w->batch_corrupt = 0;
    w->cb_error = WL_OK;
    int64_t start = w->now_ms(), last = start;
    w->today = wl_day_from_ms(start);
    keys_roll(w);
    wl_status st = first_read(w);
    uint64_t got = w->batch_records; /* by the last read */
    /* behind (a full read): fold more reads into this commit (top of file) */
    for (int reads = 1;
         st == WL_OK && w->cb_error == WL_OK && got == w->batch_max && reads < CATCHUP_READS &&
         w->agg.ndays + w->agg.ndims < CATCHUP_ROWS && w->now_ms() - start < CATCHUP_MS;
         reads++) {
        wl_queue_pos from;
        memcpy(&from, &w->next, sizeof(from));
        last = w->now_ms();
        got = w->batch_records;
        st = wl_queue_read(w->consumer, &from, w->batch_max, 0, on_record, w, &w->next);
        got = w->batch_records - got;
        if (st == WL_EAGAIN)
            st = WL_OK; /* drained: the earlier reads delivered records */
    }
    if (w->cb_error != WL_OK || (st != WL_OK && st != WL_EAGAIN)) {
        if (w->cb_error == WL_OK) {
            snprintf(w->err, sizeof(w->err), "reading the click queue: %s", wl_strerror(st));
            atomic_fetch_add_explicit(&w->m->read_errors, 1, memory_order_relaxed);
        }
        keys_abandon(w);
        return w->cb_error != WL_OK ? w->cb_error : st;
    }
    if (st == WL_EAGAIN) {
        bool moved = memcmp(&w->next, &w->pos, sizeof(w->pos)) != 0;
        if (!moved && start - w->last_commit_ms < HEARTBEAT_MS) {
            observe_queue(w);
            return WL_EAGAIN;
        }
    }
    w->pending = true;
    w->pending_rc = st;
    /* A read that returned fewer records than it may has seen the end of
     * every partition, so everything appended before it started is in. */
    w->pending_as_of = got < w->batch_max ? last : 0;
    return WL_OK;
}

/* wl_astore_batch.pace: the transaction's statements run on loans; its
 * sorts and its COMMIT (WAL write, fsync) do not. */
static void pace(void *ctx, bool long_call)
{
    wl_worker *w = ctx;
    if (long_call)
        wl_lend_return(w->lend);
    else
        wl_lend_yield(w->lend);
}

static wl_status commit_pending(wl_worker *w)
{
    int64_t now = w->now_ms();
    wl_astore_batch b = {
        .agg = &w->agg,
        .pos = &w->next,
        .new_keys = w->new_keys,
        .nnew_keys = w->nnew_keys,
        .forget_keys_before = w->today - 1,
        .events = w->agg.events,
        .corrupt = w->batch_corrupt,
        .as_of_ms = w->pending_as_of,
        .now_ms = now,
        .pace = w->lend ? pace : NULL,
        .pace_ctx = w,
    };
    int64_t t0 = wl_mono_ns();
    wl_status st = wl_astore_apply(w->store, &b);
    if (st != WL_OK) {
        snprintf(w->err, sizeof(w->err), "committing a batch of %llu events: %s: %s",
                 (unsigned long long)w->agg.events, wl_strerror(st), wl_astore_errmsg(w->store));
        atomic_fetch_add_explicit(&w->m->commit_errors, 1, memory_order_relaxed);
        return st;
    }
    observe_commit(w, wl_mono_ns() - t0);
    for (size_t i = 0; i < w->nnew_keys; i++)
        wl_visitor_key_wipe(&w->new_keys[i].key); /* the cache keeps its own copy */
    w->nnew_keys = 0;
    w->pending = false;
    w->last_commit_ms = now;
    memcpy(&w->pos, &w->next, sizeof(w->pos));
    /* Reclaiming is housekeeping: the position is already durable, and a
     * failure here only leaves segments for the next reclaim. */
    if (wl_queue_reclaim(w->consumer, &w->pos) != WL_OK)
        atomic_fetch_add_explicit(&w->m->reclaim_errors, 1, memory_order_relaxed);
    observe_queue(w);
    return w->pending_rc;
}

static wl_status step(wl_worker *w)
{
    if (!w->pending) {
        wl_status st = read_batch(w);
        if (st != WL_OK)
            return st;
    }
    return commit_pending(w);
}

wl_status wl_worker_step(wl_worker *w)
{
    wl_status st = step(w);
    wl_lend_return(w->lend); /* the caller may sleep (backoff) or close */
    return st;
}

/* Sleeps ms in short slices, returning early when *stop is raised. */
static void nap(unsigned ms, const atomic_bool *stop)
{
    while (ms && !atomic_load(stop)) {
        unsigned slice = ms < 20 ? ms : 20;
        struct timespec ts = {0, (long)slice * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(stop))
            ;
        ms -= slice;
    }
}

wl_status wl_worker_run(wl_worker *w, const atomic_bool *stop, unsigned max_failures)
{
    unsigned fails = 0, backoff = BACKOFF_MIN_MS;
    while (!atomic_load(stop)) {
        wl_status st = wl_worker_step(w);
        if (st == WL_OK || st == WL_EAGAIN) {
            fails = 0;
            backoff = BACKOFF_MIN_MS;
            continue;
        }
        if (max_failures && ++fails >= max_failures)
            return st;
        nap(backoff, stop);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    /* A batch whose commit failed gets one last try; if that fails too it
     * is dropped whole and re-read by the next worker. */
    if (!w->pending)
        return WL_OK;
    wl_status st = wl_worker_step(w); /* commits the pending batch, reads nothing */
    return w->pending ? st : WL_OK;
}

/* ---- open / close -------------------------------------------------------- */

static wl_status open_parts(wl_worker *w, const wl_worker_config *cfg, char *err, size_t cap)
{
    wl_queue_config qc = {.dir = cfg->queue_dir};
    wl_status st = wl_queue_consumer_open("embedded", &qc, &w->consumer);
    if (st != WL_OK) {
        snprintf(err, cap,
                 st == WL_EBUSY ? "another worker is consuming %s"
                                : "cannot open the click queue %s as consumer: %s",
                 cfg->queue_dir, wl_strerror(st));
        return st;
    }
    st = wl_astore_open(cfg->astore_backend, cfg->astore_dsn, 0, &w->store);
    if (st != WL_OK) {
        snprintf(err, cap, "cannot open the analytics store %s: %s", cfg->astore_dsn,
                 wl_strerror(st));
        return st;
    }
    if (cfg->geoip_db && *cfg->geoip_db && (st = wl_geo_open(cfg->geoip_db, &w->geo)) != WL_OK) {
        snprintf(err, cap, "cannot open the GeoIP database %s: %s", cfg->geoip_db, wl_strerror(st));
        return st;
    }
    wl_astore_consumer c;
    st = wl_astore_consumer_get(w->store, &c);
    if (st == WL_ENOTFOUND) {
        wl_queue_pos_init(&w->pos);
        return WL_OK;
    }
    if (st != WL_OK) {
        snprintf(err, cap, "cannot load the committed queue position: %s: %s", wl_strerror(st),
                 wl_astore_errmsg(w->store));
        return st;
    }
    memcpy(&w->pos, &c.pos, sizeof(w->pos));
    atomic_store_explicit(&w->m->as_of_ms, c.as_of_ms, memory_order_relaxed);
    atomic_store_explicit(&w->m->newest_event_ms, c.newest_event_ms, memory_order_relaxed);
    return WL_OK;
}

wl_status wl_worker_open(const wl_worker_config *cfg, wl_worker **out, char *err, size_t errcap)
{
    if (!cfg || !out || !cfg->queue_dir || !cfg->astore_dsn || !cfg->metrics ||
        cfg->batch_max == 0) {
        snprintf(err, errcap, "invalid worker configuration");
        return WL_EINVAL;
    }
    wl_worker *w = wl_xcalloc(1, sizeof(*w));
    w->m = cfg->metrics;
    w->now_ms = cfg->now_ms ? cfg->now_ms : default_now;
    w->batch_max = cfg->batch_max;
    w->batch_wait_ms = cfg->batch_wait_ms;
    w->lend = cfg->lend;
    w->memo = wl_enrich_memo_new();
    wl_agg_init(&w->agg);
    const char *backend = cfg->astore_backend ? cfg->astore_backend : "sqlite";
    wl_worker_config c = *cfg;
    c.astore_backend = backend;
    wl_status st = open_parts(w, &c, err, errcap);
    if (st != WL_OK) {
        wl_worker_close(w);
        return st;
    }
    observe_queue(w);
    *out = w;
    return WL_OK;
}

const char *wl_worker_errmsg(const wl_worker *w)
{
    return w->err;
}

void wl_worker_close(wl_worker *w)
{
    if (!w)
        return;
    keys_abandon(w);
    for (int i = 0; i < MAX_DAY_KEYS; i++)
        wl_visitor_key_wipe(&w->keys[i].key);
    wl_agg_release(&w->agg);
    wl_enrich_memo_free(w->memo);
    wl_geo_close(w->geo);
    wl_astore_close(w->store);
    wl_queue_consumer_close(w->consumer);
    free(w);
}
