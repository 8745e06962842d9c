/* clock.h - wall-clock time in Unix milliseconds.
 *
 * Everything that stamps or compares times goes through wl_now_ms(), which
 * reads CLOCK_REALTIME (so tests can drive it with libfaketime). */
#ifndef WL_CLOCK_H
#define WL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t wl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic milliseconds, for timeouts and latency. */
static inline int64_t wl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t wl_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Formats ms as RFC 3339 UTC ("2026-11-27T04:10:29Z") into out (>= 21 bytes).
 * Returns the length written. */
size_t wl_time_rfc3339(int64_t ms, char *out, size_t cap);

/* Parses an RFC 3339 timestamp (Z or +hh:mm offset, optional fraction).
 * Returns 0 and sets *ms, or -1 when malformed. */
int wl_time_parse_rfc3339(const char *s, size_t len, int64_t *ms);

#endif
