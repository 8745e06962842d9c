/* fuzz_check.h - what the fuzz targets share: the one assertion they use: a property that
 * fails aborts, which libFuzzer reports as a crash with its reproducer
 * (assert() would vanish under -DNDEBUG; this never does). */
#ifndef WL_FUZZ_CHECK_H
#define WL_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Two blobs from one input, for targets that merge a pair: its first byte
 * says where the rest splits (cut to what is there). false when the input
 * is empty. */
static inline int fuzz_split(const uint8_t *data, size_t size, const uint8_t **a, size_t *alen,
                             const uint8_t **b, size_t *blen)
{
    if (size < 1)
        return 0;
    size_t split = data[0] < size - 1 ? data[0] : size - 1;
    *a = data + 1;
    *alen = split;
    *b = data + 1 + split;
    *blen = size - 1 - split;
    return 1;
}

#endif
