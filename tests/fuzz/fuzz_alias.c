/* fuzz_alias.c - libFuzzer target for wl_alias_check().
 *
 * Beyond memory safety, an accepted alias must satisfy the documented rules
 * checked independently here (length 3-64, only [A-Za-z0-9_-]). libFuzzer
 * hands over a buffer of exactly size bytes, so ASan flags any read past len. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/alias.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int alias_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *alias = (const char *)data;
    wl_alias_verdict v = wl_alias_check(alias, size);
    FUZZ_REQUIRE(wl_alias_verdict_text(v) != NULL);
    if (v == WL_ALIAS_OK) {
        FUZZ_REQUIRE(size >= WL_ALIAS_MIN && size <= WL_ALIAS_MAX);
        for (size_t i = 0; i < size; i++)
            FUZZ_REQUIRE(alias_byte_ok(data[i]));
    }
    if (size < WL_ALIAS_MIN || size > WL_ALIAS_MAX)
        FUZZ_REQUIRE(v == WL_ALIAS_LENGTH);
    return 0;
}
