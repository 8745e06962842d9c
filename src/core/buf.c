/* buf.c - growable byte buffer and the process-wide out-of-memory policy. */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

_Noreturn void wl_oom(void)
{
    static const char msg[] = "warplink: out of memory\n";
    ssize_t r = write(2, msg, sizeof(msg) - 1);
    (void)r;
    abort();
}

void *wl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        wl_oom();
    return p;
}

void *wl_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        wl_oom();
    return p;
}

void *wl_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        wl_oom();
    return q;
}

void wl_buf_reserve(wl_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    b->data = wl_xrealloc(b->data, cap);
    b->cap = cap;
}

void wl_buf_release(wl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void wl_buf_addf(wl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        wl_buf_add(b, tmp, (size_t)n);
    } else {
        wl_buf_reserve(b, (size_t)n + 1);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void wl_buf_add_u64(wl_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    wl_buf_add(b, tmp + i, sizeof(tmp) - i);
}

void wl_buf_consume(wl_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
