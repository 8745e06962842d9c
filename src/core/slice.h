/* slice.h - a borrowed (ptr, len) view of bytes owned by someone else.
 *
 * A slice never owns memory: its lifetime is the lifetime of the buffer it
 * points into, which every function returning one documents. */
#ifndef WL_SLICE_H
#define WL_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct wl_slice {
    const char *ptr;
    size_t len;
} wl_slice;

#define WL_SLICE_LIT(s) ((wl_slice){(s), sizeof(s) - 1})

static inline wl_slice wl_slice_make(const char *ptr, size_t len)
{
    return (wl_slice){ptr, len};
}

static inline bool wl_slice_eq(wl_slice a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && memcmp(a.ptr, lit, n) == 0;
}

static inline bool wl_slice_ieq(wl_slice a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && strncasecmp(a.ptr, lit, n) == 0;
}

#endif
