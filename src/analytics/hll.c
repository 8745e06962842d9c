/* hll.c - HyperLogLog (Flajolet et al., 2007) with p = 12.
 *
 * The classic estimator with the linear-counting correction for small
 * cardinalities is enough here: a 64-bit hash makes the large-range
 * correction unnecessary, and the unique-visitor figure is documented as
 * approximate. The serialised layout is described in hll.h. */
#include "analytics/hll.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

enum { ENC_DENSE = 0, ENC_SPARSE = 1 };
enum { HEADER_LEN = 2, SPARSE_COUNT_LEN = 2, SPARSE_ENTRY_LEN = 3 };

void wl_hll_init(wl_hll *h)
{
    memset(h->reg, 0, sizeof h->reg);
}

void wl_hll_add_hash(wl_hll *h, uint64_t hash)
{
    uint32_t idx = (uint32_t)(hash >> (64 - WL_HLL_P));
    uint64_t rest = hash << WL_HLL_P; /* the 52 bits left, at the top */
    uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : WL_HLL_MAX_RANK;
    if (rank > h->reg[idx])
        h->reg[idx] = rank;
}

void wl_hll_merge(wl_hll *dst, const wl_hll *src)
{
    for (size_t i = 0; i < WL_HLL_REGISTERS; i++)
        if (src->reg[i] > dst->reg[i])
            dst->reg[i] = src->reg[i];
}

uint64_t wl_hll_count(const wl_hll *h)
{
    const double m = WL_HLL_REGISTERS;
    const double alpha = 0.7213 / (1.0 + 1.079 / m);
    double sum = 0.0;
    unsigned zeros = 0;

    for (size_t i = 0; i < WL_HLL_REGISTERS; i++) {
        sum += ldexp(1.0, -(int)h->reg[i]);
        zeros += h->reg[i] == 0;
    }
    double est = alpha * m * m / sum;
    if (est <= 2.5 * m && zeros > 0)
        est = m * log(m / (double)zeros);
    return (uint64_t)llround(est);
}

static size_t nonzero_registers(const wl_hll *h)
{
    size_t n = 0;
    for (size_t i = 0; i < WL_HLL_REGISTERS; i++)
        n += h->reg[i] != 0;
    return n;
}

static size_t sparse_size(size_t nonzero)
{
    return HEADER_LEN + SPARSE_COUNT_LEN + SPARSE_ENTRY_LEN * nonzero;
}

size_t wl_hll_serialized_size(const wl_hll *h)
{
    size_t sparse = sparse_size(nonzero_registers(h));
    return sparse < WL_HLL_MAX_SERIALIZED ? sparse : WL_HLL_MAX_SERIALIZED;
}

static void write_sparse(const wl_hll *h, size_t nonzero, uint8_t *out)
{
    out[1] = ENC_SPARSE;
    out[2] = (uint8_t)(nonzero >> 8);
    out[3] = (uint8_t)nonzero;
    uint8_t *p = out + HEADER_LEN + SPARSE_COUNT_LEN;
    for (size_t i = 0; i < WL_HLL_REGISTERS; i++) {
        if (!h->reg[i])
            continue;
        p[0] = (uint8_t)(i >> 8);
        p[1] = (uint8_t)i;
        p[2] = h->reg[i];
        p += SPARSE_ENTRY_LEN;
    }
}

wl_status wl_hll_serialize(const wl_hll *h, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t nonzero = nonzero_registers(h);
    bool use_sparse = sparse_size(nonzero) < WL_HLL_MAX_SERIALIZED;
    size_t need = use_sparse ? sparse_size(nonzero) : WL_HLL_MAX_SERIALIZED;
    if (cap < need)
        return WL_EFULL;
    out[0] = WL_HLL_VERSION;
    if (use_sparse) {
        write_sparse(h, nonzero, out);
    } else {
        out[1] = ENC_DENSE;
        memcpy(out + HEADER_LEN, h->reg, WL_HLL_REGISTERS);
    }
    *out_len = need;
    return WL_OK;
}

static uint32_t sparse_index(const uint8_t *e)
{
    return (uint32_t)e[0] << 8 | e[1];
}

static wl_status check_dense(const uint8_t *regs, size_t len)
{
    if (len != WL_HLL_REGISTERS)
        return WL_ECORRUPT;
    for (size_t i = 0; i < len; i++)
        if (regs[i] > WL_HLL_MAX_RANK)
            return WL_ECORRUPT;
    return WL_OK;
}

static wl_status check_sparse(const uint8_t *body, size_t len)
{
    if (len < SPARSE_COUNT_LEN)
        return WL_ECORRUPT;
    size_t n = (size_t)body[0] << 8 | body[1];
    if (n > WL_HLL_REGISTERS || len != SPARSE_COUNT_LEN + SPARSE_ENTRY_LEN * n)
        return WL_ECORRUPT;
    const uint8_t *e = body + SPARSE_COUNT_LEN;
    long prev = -1;
    for (size_t i = 0; i < n; i++, e += SPARSE_ENTRY_LEN) {
        long idx = (long)sparse_index(e);
        if (idx >= (long)WL_HLL_REGISTERS || idx <= prev || e[2] == 0 || e[2] > WL_HLL_MAX_RANK)
            return WL_ECORRUPT;
        prev = idx;
    }
    return WL_OK;
}

/* Validates everything first and only then writes, so a corrupt blob never
 * leaves a half-filled sketch behind. */
wl_status wl_hll_deserialize(wl_hll *h, const uint8_t *buf, size_t len)
{
    if (!buf || len < HEADER_LEN || buf[0] != WL_HLL_VERSION)
        return WL_ECORRUPT;
    const uint8_t *body = buf + HEADER_LEN;
    size_t body_len = len - HEADER_LEN;
    if (buf[1] == ENC_DENSE) {
        if (check_dense(body, body_len) != WL_OK)
            return WL_ECORRUPT;
        memcpy(h->reg, body, WL_HLL_REGISTERS);
        return WL_OK;
    }
    if (buf[1] != ENC_SPARSE || check_sparse(body, body_len) != WL_OK)
        return WL_ECORRUPT;
    size_t n = (size_t)body[0] << 8 | body[1];
    wl_hll_init(h);
    for (const uint8_t *e = body + SPARSE_COUNT_LEN; n > 0; n--, e += SPARSE_ENTRY_LEN)
        h->reg[sparse_index(e)] = e[2];
    return WL_OK;
}

/* Entries of a validated sparse blob, and how many. */
static const uint8_t *sparse_entries(const uint8_t *buf, size_t *n)
{
    *n = (size_t)buf[HEADER_LEN] << 8 | buf[HEADER_LEN + 1];
    return buf + HEADER_LEN + SPARSE_COUNT_LEN;
}

static bool is_sparse(const uint8_t *buf, size_t len)
{
    return len >= HEADER_LEN && buf[0] == WL_HLL_VERSION && buf[1] == ENC_SPARSE &&
           check_sparse(buf + HEADER_LEN, len - HEADER_LEN) == WL_OK;
}

/* Merge-join of two valid sparse blobs; false when the union has too many
 * registers for the sparse form (the caller goes dense). */
static bool union_sparse(const uint8_t *a, const uint8_t *b, uint8_t *out, size_t *out_len)
{
    size_t na, nb, i = 0, j = 0, m = 0;
    const uint8_t *ea = sparse_entries(a, &na), *eb = sparse_entries(b, &nb);
    uint8_t *o = out + HEADER_LEN + SPARSE_COUNT_LEN;
    while (i < na || j < nb) {
        uint32_t ia = i < na ? sparse_index(ea + SPARSE_ENTRY_LEN * i) : UINT32_MAX;
        uint32_t ib = j < nb ? sparse_index(eb + SPARSE_ENTRY_LEN * j) : UINT32_MAX;
        uint32_t idx = ia < ib ? ia : ib;
        uint8_t rank = 0;
        if (ia == idx)
            rank = ea[SPARSE_ENTRY_LEN * i++ + 2];
        if (ib == idx && eb[SPARSE_ENTRY_LEN * j + 2] > rank)
            rank = eb[SPARSE_ENTRY_LEN * j + 2];
        j += ib == idx;
        if (sparse_size(++m) >= WL_HLL_MAX_SERIALIZED)
            return false;
        o[0] = (uint8_t)(idx >> 8), o[1] = (uint8_t)idx, o[2] = rank;
        o += SPARSE_ENTRY_LEN;
    }
    out[0] = WL_HLL_VERSION, out[1] = ENC_SPARSE;
    out[2] = (uint8_t)(m >> 8), out[3] = (uint8_t)m;
    *out_len = sparse_size(m);
    return true;
}

wl_status wl_hll_union_serialized(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                  uint8_t out[WL_HLL_MAX_SERIALIZED], size_t *out_len)
{
    if (is_sparse(a, alen) && is_sparse(b, blen) && union_sparse(a, b, out, out_len))
        return WL_OK;
    wl_hll ha, hb; /* 8 KiB of stack: only for sketches with many visitors */
    if (wl_hll_deserialize(&ha, a, alen) != WL_OK || wl_hll_deserialize(&hb, b, blen) != WL_OK)
        return WL_ECORRUPT;
    wl_hll_merge(&ha, &hb);
    return wl_hll_serialize(&ha, out, WL_HLL_MAX_SERIALIZED, out_len);
}
