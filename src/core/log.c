/* log.c - stderr logging with a level filter; each line is one write(). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static wl_log_level min_level = WL_LOG_INFO;

void wl_log_set_level(wl_log_level lvl)
{
    min_level = lvl;
}

void wl_log(wl_log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (lvl < min_level)
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), "warplink: %s: ", names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
}
