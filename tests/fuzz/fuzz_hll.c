/* fuzz_hll.c - libFuzzer target for the serialised visitor sketches (hll.h):
 * wl_hll_deserialize() and wl_hll_union_serialized(), which SQLite calls on
 * every stored sketch a commit touches (wl_hll_union).
 *
 * The input is split at its first byte into two blobs a and b. Beyond "no
 * crash, no out-of-bounds access" (ASan/UBSan) it checks against an oracle:
 * the union succeeds exactly when both blobs parse, and then equals the
 * serialisation of the merged parsed sketches byte for byte (so the sparse
 * merge-join and the dense path agree); a parsed sketch serialises to
 * something that parses back to the same registers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "analytics/hll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const wl_hll *h)
{
    static uint8_t buf[WL_HLL_MAX_SERIALIZED];
    static wl_hll back;
    size_t len;
    FUZZ_REQUIRE(wl_hll_serialize(h, buf, sizeof buf, &len) == WL_OK);
    FUZZ_REQUIRE(len == wl_hll_serialized_size(h));
    FUZZ_REQUIRE(wl_hll_deserialize(&back, buf, len) == WL_OK);
    FUZZ_REQUIRE(memcmp(back.reg, h->reg, sizeof h->reg) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *a, *b;
    size_t alen, blen;
    if (!fuzz_split(data, size, &a, &alen, &b, &blen))
        return 0;

    static wl_hll ha, hb;
    bool a_ok = wl_hll_deserialize(&ha, a, alen) == WL_OK;
    bool b_ok = wl_hll_deserialize(&hb, b, blen) == WL_OK;
    if (a_ok)
        check_round_trip(&ha);

    static uint8_t got[WL_HLL_MAX_SERIALIZED], want[WL_HLL_MAX_SERIALIZED];
    size_t got_len = 0, want_len = 0;
    wl_status st = wl_hll_union_serialized(a, alen, b, blen, got, &got_len);
    FUZZ_REQUIRE((st == WL_OK) == (a_ok && b_ok));
    if (st != WL_OK) {
        FUZZ_REQUIRE(st == WL_ECORRUPT);
        return 0;
    }
    wl_hll_merge(&ha, &hb);
    FUZZ_REQUIRE(wl_hll_serialize(&ha, want, sizeof want, &want_len) == WL_OK);
    FUZZ_REQUIRE(got_len == want_len && memcmp(got, want, want_len) == 0);
    return 0;
}
