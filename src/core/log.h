/* log.h - the binary's logging: one line per event on stderr.
 *
 * Library layers return statuses; only the binary's layers (server, CLI,
 * worker loop) call these. Lines are "warplink: LEVEL message". */
#ifndef WL_LOG_H
#define WL_LOG_H

typedef enum wl_log_level { WL_LOG_DEBUG, WL_LOG_INFO, WL_LOG_WARN, WL_LOG_ERROR } wl_log_level;

void wl_log_set_level(wl_log_level lvl);
void wl_log(wl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define wl_info(...) wl_log(WL_LOG_INFO, __VA_ARGS__)
#define wl_warn(...) wl_log(WL_LOG_WARN, __VA_ARGS__)
#define wl_error(...) wl_log(WL_LOG_ERROR, __VA_ARGS__)

#endif
