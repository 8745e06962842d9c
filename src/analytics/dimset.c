/* dimset.c - packed breakdown counts of one (link, day) (contract: dimset.h).
 *
 * Building a set is: collect entries (from a batch's rows, or decoded from
 * stored blobs), then one encode that sorts, sums equal entries and applies
 * the per-dimension bound. A merge of two blobs is two decodes and an
 * encode: sets are small (a handful of values per link and day), so one
 * simple path beats a hand-merged one. */
#include "analytics/dimset.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define VARINT_MAX 10
#define ENTRY_MAX (2 + WL_DIM_VALUE_MAX + VARINT_MAX)

void wl_dimset_buf_release(wl_dimset_buf *b)
{
    free(b->e);
    free(b->out);
    *b = (wl_dimset_buf)WL_DIMSET_BUF_INIT;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void push(wl_dimset_buf *b, uint8_t dim, const char *value, uint8_t len, uint64_t clicks)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->e = wl_xrealloc(b->e, b->cap * sizeof(*b->e));
    }
    b->e[b->n++] = (wl_dimset_entry){.dim = dim, .len = len, .value = value, .clicks = clicks};
}

void wl_dimset_add(wl_dimset_buf *b, wl_dim dim, const char *value, size_t len, uint64_t clicks)
{
    if (clicks && (unsigned)dim < WL_DIM_COUNT_)
        push(b, (uint8_t)dim, value, (uint8_t)(len > WL_DIM_VALUE_MAX ? WL_DIM_VALUE_MAX : len),
             clicks);
}

/* ---- ordering ------------------------------------------------------------ */

static int value_cmp(const wl_dimset_entry *a, const wl_dimset_entry *b)
{
    int c = memcmp(a->value, b->value, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* (dim, value): the stored order; the overflow entry (len 0) first */
static int entry_cmp(const void *pa, const void *pb)
{
    const wl_dimset_entry *a = pa, *b = pb;
    return a->dim != b->dim ? (a->dim > b->dim) - (a->dim < b->dim) : value_cmp(a, b);
}

/* most clicks first, ties by value: which values the bound keeps */
static int keep_cmp(const void *pa, const void *pb)
{
    const wl_dimset_entry *a = pa, *b = pb;
    return a->clicks != b->clicks ? (a->clicks < b->clicks) - (a->clicks > b->clicks)
                                  : value_cmp(a, b);
}

/* ---- decode -------------------------------------------------------------- */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t byte = *(*p)++;
        if (shift == 63 && byte > 1)
            return false; /* more than 64 bits */
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

wl_status wl_dimset_decode(wl_dimset_buf *b, const uint8_t *blob, size_t len)
{
    size_t first = b->n;
    const uint8_t *p = blob, *end = blob + len;
    if (!len || *p++ != WL_DIMSET_VERSION)
        goto corrupt;
    while (p < end) {
        if (end - p < 2 || p[0] >= WL_DIM_COUNT_ || p[1] > WL_DIM_VALUE_MAX || end - p - 2 < p[1])
            goto corrupt;
        uint8_t dim = p[0], vlen = p[1];
        const char *value = (const char *)p + 2;
        uint64_t clicks;
        p += 2 + vlen;
        if (memchr(value, '\0', vlen) || !read_varint(&p, end, &clicks) || !clicks)
            goto corrupt;
        push(b, dim, value, vlen, clicks);
        if (b->n - first > 1 && entry_cmp(&b->e[b->n - 2], &b->e[b->n - 1]) >= 0)
            goto corrupt; /* not strictly ascending */
    }
    return WL_OK;
corrupt:
    b->n = first;
    return WL_ECORRUPT;
}

/* ---- encode -------------------------------------------------------------- */

/* A batch's set has a handful of entries: insertion sort, no qsort call. */
static void sort_entries(wl_dimset_entry *e, size_t n)
{
    if (n > 16) {
        qsort(e, n, sizeof(*e), entry_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        wl_dimset_entry x = e[i];
        size_t j = i;
        for (; j > 0 && entry_cmp(&e[j - 1], &x) > 0; j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

/* Sorts and sums equal entries in place; returns the new count. */
static size_t sum_equal(wl_dimset_entry *e, size_t n)
{
    sort_entries(e, n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && entry_cmp(&e[m - 1], &e[i]) == 0)
            e[m - 1].clicks = add_sat(e[m - 1].clicks, e[i].clicks);
        else
            e[m++] = e[i];
    }
    return m;
}

/* Applies the bound to one dimension's sorted entries e[0..n) (overflow
 * entry first, if any): keeps the WL_DIMSET_MAX_VALUES most-clicked values
 * and moves the others' clicks into the overflow entry, which it creates
 * in e[0] when missing (the caller left one free slot before e when n is
 * over the bound and e[0] is not an overflow entry). Returns the new first
 * entry and count through first and n. */
size_t wl_dimset_sum(wl_dimset_buf *b)
{
    return b->n = sum_equal(b->e, b->n);
}

void wl_dimset_rank(wl_dimset_entry *e, size_t n)
{
    if (n > 1)
        qsort(e, n, sizeof(*e), keep_cmp);
}

static void bound_dim(wl_dimset_entry **first, size_t *n)
{
    wl_dimset_entry *e = *first;
    bool has_over = e[0].len == 0;
    size_t values = *n - has_over;
    if (values <= WL_DIMSET_MAX_VALUES)
        return;
    if (!has_over) {
        e--; /* the free slot */
        e[0] = (wl_dimset_entry){.dim = e[1].dim, .len = 0, .value = "", .clicks = 0};
    }
    wl_dimset_entry *v = e + 1;
    wl_dimset_rank(v, values);
    for (size_t i = WL_DIMSET_MAX_VALUES; i < values; i++)
        e[0].clicks = add_sat(e[0].clicks, v[i].clicks);
    qsort(v, WL_DIMSET_MAX_VALUES, sizeof(*v), entry_cmp);
    *first = e;
    *n = 1 + WL_DIMSET_MAX_VALUES;
}

static uint8_t *put_entry(uint8_t *o, const wl_dimset_entry *e)
{
    *o++ = e->dim;
    *o++ = e->len;
    memcpy(o, e->value, e->len);
    o += e->len;
    uint64_t v = e->clicks;
    for (; v >= 0x80; v >>= 7)
        *o++ = (uint8_t)(v | 0x80);
    *o++ = (uint8_t)v;
    return o;
}

void wl_dimset_encode(wl_dimset_buf *b)
{
    b->len = 0;
    size_t n = sum_equal(b->e, b->n);
    b->n = 0;
    if (!n)
        return;
    size_t need = 1 + n * ENTRY_MAX;
    if (need > b->out_cap) {
        b->out_cap = need + need / 2;
        free(b->out);
        b->out = wl_xmalloc(b->out_cap);
    }
    /* one free slot before each dimension's run for bound_dim: shift by one */
    if (n == b->cap)
        b->e = wl_xrealloc(b->e, (b->cap = b->cap * 2) * sizeof(*b->e));
    memmove(b->e + 1, b->e, n * sizeof(*b->e));
    uint8_t *o = b->out;
    *o++ = WL_DIMSET_VERSION;
    for (size_t i = 1; i <= n;) {
        size_t j = i;
        while (j <= n && b->e[j].dim == b->e[i].dim)
            j++;
        wl_dimset_entry *run = b->e + i;
        size_t len = j - i;
        bound_dim(&run, &len);
        for (size_t k = 0; k < len; k++)
            o = put_entry(o, &run[k]);
        i = j;
    }
    b->len = (size_t)(o - b->out);
}
