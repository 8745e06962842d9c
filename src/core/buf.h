/* buf.h - a growable byte buffer.
 *
 * The buffer owns `data` (malloc'd); wl_buf_release() frees it and leaves an
 * empty buffer. Appends grow geometrically; running out of memory aborts
 * through wl_oom(), the server's single out-of-memory policy. Reset keeps
 * the capacity so a buffer reused per request stops allocating once warm. */
#ifndef WL_BUF_H
#define WL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct wl_buf {
    char *data;
    size_t len;
    size_t cap;
} wl_buf;

#define WL_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Aborts the process with a message: allocation failure is not recoverable
 * in the server (every buffer is bounded, so it means the host is broken). */
_Noreturn void wl_oom(void);

void *wl_xmalloc(size_t n);
void *wl_xcalloc(size_t n, size_t size);
void *wl_xrealloc(void *p, size_t n);

/* Ensures room for `extra` more bytes. */
void wl_buf_reserve(wl_buf *b, size_t extra);
void wl_buf_release(wl_buf *b);

static inline void wl_buf_reset(wl_buf *b)
{
    b->len = 0;
}

static inline void wl_buf_add(wl_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n)
        wl_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void wl_buf_adds(wl_buf *b, const char *s)
{
    wl_buf_add(b, s, strlen(s));
}

void wl_buf_addf(wl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wl_buf_add_u64(wl_buf *b, uint64_t v);

/* Removes the first n bytes, moving the rest to the front. */
void wl_buf_consume(wl_buf *b, size_t n);

#endif
