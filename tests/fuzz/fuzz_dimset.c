/* fuzz_dimset.c - libFuzzer target for the packed breakdown sets (dimset.h):
 * wl_dimset_decode() and the merge SQLite runs on every stored set a commit
 * touches (wl_dimset_merge: decode both, encode).
 *
 * The input is split at its first byte into two blobs a and b. Beyond "no
 * crash, no out-of-bounds access" (ASan/UBSan) it checks: a refused blob adds
 * nothing; the merge of two accepted blobs is itself accepted, keeps every
 * click (the sum over all entries, overflow included, unless it saturates),
 * keeps at most WL_DIMSET_MAX_VALUES values per dimension, and re-encodes to
 * the same bytes (encode is canonical). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "analytics/dimset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sum of all clicks in b's entries, false when it would pass UINT64_MAX. */
static bool total(const wl_dimset_buf *b, uint64_t *out)
{
    uint64_t t = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->e[i].clicks > UINT64_MAX - t)
            return false;
        t += b->e[i].clicks;
    }
    *out = t;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *a, *b;
    size_t alen, blen;
    if (!fuzz_split(data, size, &a, &alen, &b, &blen))
        return 0;

    static wl_dimset_buf set, check;
    set.n = check.n = 0;
    bool a_ok = wl_dimset_decode(&set, a, alen) == WL_OK;
    FUZZ_REQUIRE(a_ok || set.n == 0);
    size_t na = set.n;
    bool b_ok = wl_dimset_decode(&set, b, blen) == WL_OK;
    FUZZ_REQUIRE(b_ok || set.n == na);
    if (!a_ok || !b_ok) {
        set.n = 0;
        return 0;
    }
    uint64_t before = 0, after = 0;
    bool exact = total(&set, &before);
    wl_dimset_encode(&set);
    if (!set.len)
        return 0; /* two empty sets (a version byte each): stored as NULL */
    FUZZ_REQUIRE(wl_dimset_decode(&check, set.out, set.len) == WL_OK);
    if (exact)
        FUZZ_REQUIRE(total(&check, &after) && after == before);
    size_t values[WL_DIM_COUNT_] = {0};
    for (size_t i = 0; i < check.n; i++)
        values[check.e[i].dim] += check.e[i].len > 0;
    for (int d = 0; d < WL_DIM_COUNT_; d++)
        FUZZ_REQUIRE(values[d] <= WL_DIMSET_MAX_VALUES);
    wl_dimset_encode(&check);
    FUZZ_REQUIRE(check.len == set.len && memcmp(check.out, set.out, set.len) == 0);
    return 0;
}
