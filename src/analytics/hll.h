/* hll.h - HyperLogLog sketch for approximate unique-visitor counts.
 *
 * Precision p = 12: 4096 one-byte registers, a standard error of about
 * 1.04 / sqrt(4096) = 1.6%. A wl_hll is a plain value (no pointers, no heap):
 * embed it, copy it with memcpy, free it by freeing whatever holds it. Not
 * thread-safe; the analytics worker owns its sketches.
 *
 * Input is a 64-bit hash that must already be uniformly distributed (see
 * visitor.h): the top 12 bits pick a register, the remaining 52 bits give the
 * rank (position of the first 1 bit, 1..53).
 *
 * Serialised form (stored as a SQLite BLOB per link and day):
 *   byte 0     format version, WL_HLL_VERSION (1)
 *   byte 1     encoding: 0 = dense, 1 = sparse
 *   dense:     4096 bytes, register i at offset 2 + i, each 0..53
 *   sparse:    2-byte big-endian count n (0..4096), then n entries of 3 bytes,
 *              big-endian (index << 8 | rank): index 0..4095 strictly
 *              increasing, rank 1..53; registers not listed are 0.
 * The serialiser writes sparse while that is smaller (at most 1364
 * non-zero registers), so a link with a handful of visitors costs a few bytes
 * rather than 4 KiB. The parser accepts either encoding and rejects anything
 * else with WL_ECORRUPT: unknown version or encoding, a length that is not
 * exactly the one the header implies, out-of-range ranks or indices, and
 * unsorted or repeated sparse indices. */
#ifndef WL_HLL_H
#define WL_HLL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define WL_HLL_P 12
#define WL_HLL_REGISTERS (1u << WL_HLL_P)
#define WL_HLL_MAX_RANK (64 - WL_HLL_P + 1)
#define WL_HLL_VERSION 1
/* Largest serialised size (dense): a buffer this big always suffices. */
#define WL_HLL_MAX_SERIALIZED (2 + WL_HLL_REGISTERS)

typedef struct wl_hll {
    uint8_t reg[WL_HLL_REGISTERS];
} wl_hll;

/* Empties the sketch. */
void wl_hll_init(wl_hll *h);

/* Adds one item, given its 64-bit hash. Adding the same hash twice changes
 * nothing, which is what makes the count a count of distinct items. */
void wl_hll_add_hash(wl_hll *h, uint64_t hash);

/* dst becomes the sketch of the union of both inputs. src is not changed. */
void wl_hll_merge(wl_hll *dst, const wl_hll *src);

/* Estimated number of distinct items added. Uses linear counting while the
 * raw estimate is below 2.5 * 4096 and some register is still zero, which is
 * where plain HyperLogLog is biased; 64-bit hashes need no large-range fix. */
uint64_t wl_hll_count(const wl_hll *h);

/* Bytes wl_hll_serialize() will write for h (at most WL_HLL_MAX_SERIALIZED). */
size_t wl_hll_serialized_size(const wl_hll *h);

/* Writes h into out[0..cap) and sets *out_len. WL_EFULL if cap is smaller
 * than wl_hll_serialized_size(h); out is then unspecified. */
wl_status wl_hll_serialize(const wl_hll *h, uint8_t *out, size_t cap, size_t *out_len);

/* Parses buf[0..len) into *h. WL_ECORRUPT on any malformed input, in which
 * case *h is left unchanged. */
wl_status wl_hll_deserialize(wl_hll *h, const uint8_t *buf, size_t len);

/* The serialised sketch of the union of the serialised sketches a and b,
 * written to out (*out_len bytes), in the form wl_hll_serialize() would
 * choose. Two sparse inputs whose union stays sparse are merged without
 * expanding them to 4096 registers, which is the common case: a link's
 * stored day and a batch's few visitors. WL_ECORRUPT (out unspecified) if
 * either input is malformed. */
wl_status wl_hll_union_serialized(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                  uint8_t out[WL_HLL_MAX_SERIALIZED], size_t *out_len);

#endif
