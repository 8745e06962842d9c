/* fuzz_check.h - the one assertion the fuzz targets use: a property that
 * fails aborts, which libFuzzer reports as a crash with its reproducer
 * (assert() would vanish under -DNDEBUG; this never does). */
#ifndef WL_FUZZ_CHECK_H
#define WL_FUZZ_CHECK_H

#include <stdlib.h>

#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#endif
