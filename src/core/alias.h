/* alias.h - validation of user-chosen custom aliases (POST /links/custom,
 * POST /v1/shorten).
 *
 * An alias is 3-64 bytes of [A-Za-z0-9_-], compared case-sensitively as a
 * key, and is not one of the reserved words (compared case-INsensitively, so
 * "API" and "Links" are refused too) that name WarpLink's own routes. Whether
 * the alias is free is the store's business, not this module's.
 *
 * Pure functions: no allocation, no global state, safe from any thread. */
#ifndef WL_ALIAS_H
#define WL_ALIAS_H

#include <stddef.h>

#define WL_ALIAS_MIN 3
#define WL_ALIAS_MAX 64

typedef enum wl_alias_verdict {
    WL_ALIAS_OK,
    WL_ALIAS_LENGTH,  /* shorter than WL_ALIAS_MIN or longer than WL_ALIAS_MAX */
    WL_ALIAS_CHARS,   /* a byte outside [A-Za-z0-9_-] */
    WL_ALIAS_RESERVED /* a reserved word in any letter case */
} wl_alias_verdict;

/* Checks alias[0..len), which need not be NUL-terminated (alias may be NULL
 * when len is 0). The checks run in the order length, characters, reserved
 * word, and the first failure is returned. */
wl_alias_verdict wl_alias_check(const char *alias, size_t len);

/* A sentence for the problem+json "detail" of an invalid-alias answer. The
 * returned string is static; never NULL. */
const char *wl_alias_verdict_text(wl_alias_verdict v);

#endif
