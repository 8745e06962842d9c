/* aggregate.c - sums a batch of enriched clicks in memory (contract:
 * aggregate.h).
 *
 * Two row arrays (per day, per dimension value) each with an open-addressing
 * index of row numbers, so a batch of N events costs O(N) hash lookups and
 * the store then writes one upsert per distinct row instead of one per event.
 * Strings are interned in an arena of fixed blocks that never move, which
 * lets rows keep plain pointers while the row arrays themselves grow. */
#include "analytics/aggregate.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/hll.h"
#include "core/buf.h"

#define ARENA_BLOCK 65536
#define KEEP_ROWS 65536 /* row capacity kept across batches (index_reset) */

struct wl_agg_arena {
    struct wl_agg_arena *next;
    size_t used;
    char data[ARENA_BLOCK];
};

static const char *const dim_names[WL_DIM_COUNT_] = {"ref", "country", "device", "browser", "os"};

const char *wl_dim_name(wl_dim d)
{
    return (unsigned)d < WL_DIM_COUNT_ ? dim_names[d] : "invalid";
}

/* ua.h's values per dimension; never reorder (aggregate.h) */
const char *const wl_agg_ua_values[WL_AGG_UA_COLS] = {
    "desktop",          "mobile",  "tablet",  "unknown",          /* device */
    "Chrome",           "Firefox", "Safari",  "Edge",    "Opera", /* browser */
    "Samsung Internet", "Other",   "unknown",                     /* browser */
    "Windows",          "macOS",   "iOS",     "Android", "Linux", "ChromeOS", "unknown", /* os */
};
/* the first column of device, browser, os, and the end */
static const int ua_first[] = {0, 4, 12, WL_AGG_UA_COLS};

wl_dim wl_agg_ua_dim(int col)
{
    return col < ua_first[1] ? WL_DIM_DEVICE : col < ua_first[2] ? WL_DIM_BROWSER : WL_DIM_OS;
}

int wl_agg_ua_col(wl_dim dim, const char *value)
{
    if (dim < WL_DIM_DEVICE || dim > WL_DIM_OS)
        return -1;
    int i = dim - WL_DIM_DEVICE;
    for (int c = ua_first[i]; c < ua_first[i + 1]; c++)
        if (strcmp(wl_agg_ua_values[c], value) == 0)
            return c;
    return -1;
}

/* ---- arena -------------------------------------------------------------- */

/* Copies s[0..len) plus a NUL; len is at most a few hundred bytes. */
static const char *intern(wl_agg *a, const char *s, size_t len)
{
    struct wl_agg_arena *b = a->arena;
    if (!b || ARENA_BLOCK - b->used < len + 1) {
        struct wl_agg_arena *nb = wl_xmalloc(sizeof(*nb));
        nb->next = b;
        nb->used = 0;
        a->arena = b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, len);
    p[len] = '\0';
    b->used += len + 1;
    return p;
}

static void arena_free(struct wl_agg_arena *b)
{
    while (b) {
        struct wl_agg_arena *next = b->next;
        free(b);
        b = next;
    }
}

/* ---- index -------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t hash_row(const char *key, size_t key_len, wl_day day, int dim, const char *value,
                         size_t value_len)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, key, key_len);
    h = fnv(h, &day, sizeof(day));
    h = fnv(h, &dim, sizeof(dim));
    return fnv(h, value, value_len);
}

/* The index tags (aggregate.h, wl_agg_index) of a (key, day) row and of a
 * (key, day, dim, value) row; value_len already cut to WL_DIM_VALUE_MAX. */
static uint32_t day_tag(const char *key, size_t key_len, wl_day day)
{
    return (uint32_t)hash_row(key, key_len, day, -1, "", 0);
}

static uint32_t dim_tag(const char *key, size_t key_len, wl_day day, wl_dim dim, const char *value,
                        size_t value_len)
{
    return (uint32_t)hash_row(key, key_len, day, (int)dim, value, value_len);
}

static size_t cut_len(const char *value)
{
    size_t n = strlen(value);
    return n > WL_DIM_VALUE_MAX ? WL_DIM_VALUE_MAX : n;
}

static uint32_t slot_row(uint64_t slot)
{
    return (uint32_t)slot; /* row index + 1 */
}

static uint32_t slot_tag(uint64_t slot)
{
    return (uint32_t)(slot >> 32);
}

/* Makes room for one more row: doubles the table past half full, moving
 * each slot by its tag (no row is read). */
static void index_reserve(wl_agg_index *ix)
{
    if (ix->slots && (ix->used + 1) * 2 <= ix->mask + 1)
        return;
    uint32_t size = ix->slots ? (ix->mask + 1) * 2 : 256;
    uint64_t *old = ix->slots;
    uint32_t old_size = old ? ix->mask + 1 : 0;
    ix->slots = wl_xcalloc(size, sizeof(uint64_t));
    ix->mask = size - 1;
    for (uint32_t i = 0; i < old_size; i++) {
        if (!old[i])
            continue;
        uint32_t s = slot_tag(old[i]) & ix->mask;
        while (ix->slots[s])
            s = (s + 1) & ix->mask;
        ix->slots[s] = old[i];
    }
    free(old);
}

/* The first slot of tag's probe sequence. */
static uint32_t index_start(const wl_agg_index *ix, uint32_t tag)
{
    return tag & ix->mask;
}

static void index_put(wl_agg_index *ix, uint32_t s, uint32_t tag, size_t row)
{
    ix->slots[s] = (uint64_t)tag << 32 | (uint32_t)(row + 1);
    ix->used++;
}

/* ---- rows --------------------------------------------------------------- */

static void days_reserve(wl_agg *a)
{
    if (a->ndays < a->days_cap)
        return;
    a->days_cap = a->days_cap ? a->days_cap * 2 : 64;
    a->days = wl_xrealloc(a->days, a->days_cap * sizeof(*a->days));
}

static void dims_reserve(wl_agg *a)
{
    if (a->ndims < a->dims_cap)
        return;
    a->dims_cap = a->dims_cap ? a->dims_cap * 2 : 256;
    a->dims = wl_xrealloc(a->dims, a->dims_cap * sizeof(*a->dims));
}

static wl_agg_day *find_day(wl_agg *a, wl_slice key, wl_day day)
{
    uint32_t tag = day_tag(key.ptr, key.len, day);
    index_reserve(&a->day_idx);
    uint32_t s = index_start(&a->day_idx, tag);
    for (uint64_t v; (v = a->day_idx.slots[s]) != 0; s = (s + 1) & a->day_idx.mask) {
        wl_agg_day *d = &a->days[slot_row(v) - 1];
        if (slot_tag(v) == tag && d->day == day && d->key_len == key.len &&
            memcmp(d->key, key.ptr, key.len) == 0)
            return d;
    }
    days_reserve(a);
    wl_agg_day *d = &a->days[a->ndays];
    memset(d, 0, sizeof(*d));
    d->key = intern(a, key.ptr, key.len);
    d->key_len = key.len;
    d->day = day;
    index_put(&a->day_idx, s, tag, a->ndays++);
    return d;
}

static wl_agg_dim *find_dim(wl_agg *a, wl_agg_day *d, wl_dim dim, const char *value)
{
    size_t vlen = cut_len(value);
    uint32_t tag = dim_tag(d->key, d->key_len, d->day, dim, value, vlen);
    index_reserve(&a->dim_idx);
    uint32_t s = index_start(&a->dim_idx, tag);
    for (uint64_t v; (v = a->dim_idx.slots[s]) != 0; s = (s + 1) & a->dim_idx.mask) {
        wl_agg_dim *m = &a->dims[slot_row(v) - 1];
        /* keys are interned once per day row, so the pointer identifies it */
        if (slot_tag(v) == tag && m->key == d->key && m->day == d->day && m->dim == dim &&
            m->value_len == vlen && memcmp(m->value, value, vlen) == 0)
            return m;
    }
    dims_reserve(a);
    wl_agg_dim *m = &a->dims[a->ndims];
    *m = (wl_agg_dim){
        .key = d->key, .key_len = d->key_len, .day = d->day, .dim = dim, .next = d->dims_head};
    m->value = intern(a, value, vlen);
    m->value_len = vlen;
    index_put(&a->dim_idx, s, tag, a->ndims++);
    d->dims_head = (uint32_t)a->ndims;
    return m;
}

/* ---- public ------------------------------------------------------------- */

void wl_agg_init(wl_agg *a)
{
    memset(a, 0, sizeof(*a));
}

/* Empties an index for the next batch of its row array of capacity cap:
 * keeps both up to KEEP_ROWS rows (a caught-up worker's batches reuse them
 * without allocating); beyond, frees the index and returns true: the caller
 * frees the rows, so that a catch-up burst of a million rows (~200 MB)
 * does not stay resident for the life of the process. */
static bool index_reset(wl_agg_index *ix, size_t cap)
{
    if (cap > KEEP_ROWS) {
        free(ix->slots);
        *ix = (wl_agg_index){0};
        return true;
    }
    if (ix->slots)
        memset(ix->slots, 0, (ix->mask + 1) * sizeof(uint64_t));
    ix->used = 0;
    return false;
}

void wl_agg_reset(wl_agg *a)
{
    for (size_t i = 0; i < a->ndays; i++)
        if (a->days[i].cap > WL_AGG_INLINE_VISITORS)
            free(a->days[i].visitors);
    a->ndays = a->ndims = 0;
    bool freed = false;
    if (index_reset(&a->day_idx, a->days_cap)) {
        free(a->days);
        a->days = NULL;
        a->days_cap = 0;
        freed = true;
    }
    if (index_reset(&a->dim_idx, a->dims_cap)) {
        free(a->dims);
        a->dims = NULL;
        a->dims_cap = 0;
        freed = true;
    }
    if (freed)
        malloc_trim(0); /* glibc keeps freed heap memory mapped; hand it back */
    /* keep one arena block for the next batch */
    if (a->arena) {
        arena_free(a->arena->next);
        a->arena->next = NULL;
        a->arena->used = 0;
    }
    a->events = 0;
    a->newest_ms = 0;
}

void wl_agg_release(wl_agg *a)
{
    wl_agg_reset(a);
    free(a->days);
    free(a->dims);
    free(a->day_idx.slots);
    free(a->dim_idx.slots);
    arena_free(a->arena);
    wl_agg_init(a);
}

static void add_visitor(wl_agg_day *d, uint64_t hash)
{
    if (d->nvisitors < WL_AGG_INLINE_VISITORS) {
        d->inline_visitors[d->nvisitors++] = hash;
        d->cap = WL_AGG_INLINE_VISITORS;
        return;
    }
    if (d->nvisitors == d->cap) {
        bool was_inline = d->cap <= WL_AGG_INLINE_VISITORS;
        d->cap = d->cap < 8 ? 8 : d->cap * 2;
        d->visitors = wl_xrealloc(was_inline ? NULL : d->visitors, d->cap * sizeof(uint64_t));
        if (was_inline)
            memcpy(d->visitors, d->inline_visitors, sizeof(d->inline_visitors));
    }
    d->visitors[d->nvisitors++] = hash;
}

wl_status wl_agg_add(wl_agg *a, const wl_click_facts *f)
{
    if (!f->key.len)
        return WL_EINVAL;
    if (!f->is_bot)
        for (int i = 0; i < WL_DIM_COUNT_; i++)
            if (!f->dims[i])
                return WL_EINVAL;
    wl_agg_day *d = find_day(a, f->key, wl_day_from_ms(f->time_ms));
    if (f->is_bot) {
        d->bot_clicks++;
    } else {
        d->clicks++;
        if (f->has_visitor) {
            add_visitor(d, f->visitor_hash);
        }
        /* d stays valid: find_dim grows only the dims array */
        for (int i = 0; i < WL_DIM_COUNT_; i++) {
            int c = wl_agg_ua_col((wl_dim)i, f->dims[i]);
            if (c >= 0 && d->ua[c] < UINT32_MAX)
                d->ua[c]++;
            else if (c >= 0 || strcmp(f->dims[i], WL_AGG_UNKNOWN) != 0)
                find_dim(a, d, (wl_dim)i, f->dims[i])->clicks++;
        }
    }
    a->events++;
    if (f->time_ms > a->newest_ms)
        a->newest_ms = f->time_ms;
    return WL_OK;
}

void wl_agg_prefetch(const wl_agg *a, wl_slice key, int64_t time_ms)
{
    if (!a->day_idx.slots)
        return;
    uint32_t tag = day_tag(key.ptr, key.len, wl_day_from_ms(time_ms));
    __builtin_prefetch(&a->day_idx.slots[index_start(&a->day_idx, tag)]);
}

void wl_agg_prefetch_rows(const wl_agg *a, wl_slice key, int64_t time_ms, wl_dim dim,
                          const char *value)
{
    if (!a->day_idx.slots || !a->dim_idx.slots)
        return;
    wl_day day = wl_day_from_ms(time_ms);
    uint32_t tag = day_tag(key.ptr, key.len, day);
    uint64_t v = a->day_idx.slots[index_start(&a->day_idx, tag)]; /* cached by wl_agg_prefetch */
    if (v && slot_tag(v) == tag)
        __builtin_prefetch(&a->days[slot_row(v) - 1]);
    tag = dim_tag(key.ptr, key.len, day, dim, value, cut_len(value));
    __builtin_prefetch(&a->dim_idx.slots[index_start(&a->dim_idx, tag)]);
}

/* ---- store helpers ------------------------------------------------------ */

static int text_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int day_cmp(const void *pa, const void *pb)
{
    const wl_agg_day *a = *(const wl_agg_day *const *)pa, *b = *(const wl_agg_day *const *)pb;
    int c = text_cmp(a->key, a->key_len, b->key, b->key_len);
    return c ? c : (a->day > b->day) - (a->day < b->day);
}

void wl_agg_sort_days(const wl_agg_day **rows, size_t n)
{
    if (n > 1) /* rows may be NULL when n is 0 */
        qsort(rows, n, sizeof(*rows), day_cmp);
}

/* The sparse form of hll.h: version 1, encoding 1, a 2-byte count, then
 * 3-byte (index << 8 | rank) entries with strictly increasing indices. */
#define HLL_P WL_HLL_P
#define HLL_MAX_RANK WL_HLL_MAX_RANK
#define SPARSE_MAX ((WL_AGG_SKETCH_MAX - 4) / 3) /* 1364 registers */
_Static_assert(WL_AGG_SKETCH_MAX == WL_HLL_MAX_SERIALIZED - 2, "sparse only while smaller");

static int u32_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

int wl_agg_sketch_sparse(const wl_agg_day *d, uint8_t out[WL_AGG_SKETCH_MAX], size_t *out_len)
{
    if (d->nvisitors > SPARSE_MAX)
        return -1;
    if (!d->nvisitors)
        return 0;
    /* (index << 8 | rank), sorted: per index the largest rank last */
    uint32_t add[SPARSE_MAX];
    for (uint32_t i = 0; i < d->nvisitors; i++) {
        uint64_t h = wl_agg_day_visitors(d)[i], rest = h << HLL_P;
        uint32_t rank = rest ? (uint32_t)__builtin_clzll(rest) + 1 : HLL_MAX_RANK;
        add[i] = (uint32_t)(h >> (64 - HLL_P)) << 8 | rank;
    }
    if (d->nvisitors > 16) {
        qsort(add, d->nvisitors, sizeof(add[0]), u32_cmp);
    } else { /* most rows of a batch: a visitor or two, no qsort call */
        for (uint32_t i = 1; i < d->nvisitors; i++) {
            uint32_t x = add[i], j = i;
            for (; j > 0 && add[j - 1] > x; j--)
                add[j] = add[j - 1];
            add[j] = x;
        }
    }
    uint8_t *o = out + 4;
    size_t m = 0;
    for (uint32_t j = 0; j < d->nvisitors; m++, o += 3) {
        uint32_t idx = add[j] >> 8, rank = 0;
        for (; j < d->nvisitors && add[j] >> 8 == idx; j++)
            rank = add[j] & 0xff; /* sorted: the last is the largest */
        o[0] = (uint8_t)(idx >> 8), o[1] = (uint8_t)idx, o[2] = (uint8_t)rank;
    }
    out[0] = WL_HLL_VERSION, out[1] = 1, out[2] = (uint8_t)(m >> 8), out[3] = (uint8_t)m;
    *out_len = 4 + 3 * m;
    return 1;
}

/* ---- days --------------------------------------------------------------- */

wl_day wl_day_from_ms(int64_t ms)
{
    int64_t d = ms / WL_DAY_MS;
    if (ms % WL_DAY_MS < 0)
        d--;
    return (wl_day)d;
}

size_t wl_day_format(wl_day d, char *out, size_t cap)
{
    time_t secs = (time_t)d * 86400;
    struct tm tm;
    if (cap < 11 || !gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return 0;
    return strftime(out, cap, "%Y-%m-%d", &tm);
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int wl_day_parse(const char *s, size_t len, wl_day *out)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    /* timegm normalises 2026-02-31 into March: a changed field means the
     * date does not exist. */
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != m - 1)
        return -1;
    *out = (wl_day)(t / 86400);
    return 0;
}

/* ---- breakdowns --------------------------------------------------------- */

static int by_clicks_desc(const void *pa, const void *pb)
{
    const wl_breakdown_item *a = pa, *b = pb;
    if (a->clicks != b->clicks)
        return a->clicks > b->clicks ? -1 : 1;
    return strcmp(a->value, b->value);
}

void wl_breakdown_finish(wl_breakdown_item *items, size_t *n, size_t cap, uint64_t total)
{
    qsort(items, *n, sizeof(*items), by_clicks_desc);
    size_t keep = *n < WL_TOP_N ? *n : WL_TOP_N;
    uint64_t kept = 0, all = 0;
    for (size_t i = 0; i < *n; i++) {
        all += items[i].clicks;
        if (i < keep)
            kept += items[i].clicks;
    }
    uint64_t rest = (total > all ? total : all) - kept;
    *n = keep;
    if (!rest)
        return;
    for (size_t i = 0; i < keep; i++) {
        if (strcmp(items[i].value, "other") == 0) {
            items[i].clicks += rest;
            return;
        }
    }
    if (keep >= cap)
        return; /* caller broke the capacity contract; drop rather than overflow */
    strcpy(items[keep].value, "other");
    items[keep].clicks = rest;
    *n = keep + 1;
}

void wl_breakdown_add(wl_breakdown_item **list, size_t *n, size_t *cap, const char *value,
                      uint64_t clicks)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*list)[i].value, value) == 0) {
            (*list)[i].clicks += clicks;
            return;
        }
    }
    if (*n + 1 >= *cap) {
        *cap = *cap * 2 + 8;
        *list = wl_xrealloc(*list, *cap * sizeof(**list));
    }
    wl_breakdown_item *it = &(*list)[(*n)++];
    size_t len = strlen(value);
    len = len > WL_DIM_VALUE_MAX ? WL_DIM_VALUE_MAX : len;
    memcpy(it->value, value, len);
    it->value[len] = '\0';
    it->clicks = clicks;
}
