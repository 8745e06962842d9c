/* config.h - WarpLink's settings: defaults, then WARPLINK_* environment
 * variables, then command-line flags (highest precedence).
 *
 * One table describes every option (name, env var, default, help), so
 * --help, the environment and the flags can never disagree. */
#ifndef WL_CONFIG_H
#define WL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

typedef struct wl_config {
    char listen[256]; /* host:port, [v6]:port */
    char data_dir[1024];
    char public_url[512];    /* base of short_url, no trailing slash */
    bool public_url_derived; /* not configured: made from listen */
    unsigned threads;        /* loop threads; 0 = one per core */
    unsigned offload_threads;
    uint64_t cache_bytes;
    unsigned cache_ttl_s;
    unsigned negative_ttl_s;
    unsigned max_connections;
    unsigned header_timeout_s;
    unsigned idle_timeout_s;
    unsigned drain_timeout_s;
    bool anonymous_create;
    bool worker;              /* run the analytics worker thread in serve */
    unsigned worker_slice_us; /* CPU loans of idle loops to that worker; 0 = none */
    bool analytics;           /* capture clicks at all (off: no queue, no worker) */
    char log_level[16];
    /* analytics and queue */
    uint64_t queue_budget_bytes;
    unsigned queue_fsync_ms;
    unsigned batch_max;
    unsigned batch_wait_ms;
    char geoip_db[1024];
    /* auth and rate limits */
    unsigned jwt_ttl_s;
    char jwt_issuer[128];
    char jwt_audience[128];
    double anon_create_rate; /* tokens per second per client IP */
    unsigned anon_create_burst;
    double login_rate;
    unsigned login_burst;
    double apikey_rate;
    unsigned apikey_burst;
    char trusted_proxies[512]; /* comma-separated IPs whose X-Forwarded-For we trust */
    /* admin commands */
    char user[256]; /* --user EMAIL */
    char name[128]; /* --name NAME (API keys) */
} wl_config;

/* Which options a subcommand accepts. */
enum wl_config_scope {
    WL_OPT_SERVE = 1u << 0,
    WL_OPT_WORKER = 1u << 1,
    WL_OPT_ADMIN = 1u << 2,
};

void wl_config_defaults(wl_config *cfg);

/* Applies WARPLINK_* variables, then argv flags of the given scope.
 * Non-option arguments are moved to the front of argv and counted in
 * *nargs. On error writes a message to err and returns WL_EINVAL. */
wl_status wl_config_load(wl_config *cfg, unsigned scope, int argc, char **argv, int *nargs,
                         char *err, size_t errcap);

/* Prints the options of a scope with their env var and default. */
void wl_config_print_help(FILE *f, unsigned scope);

/* Fills derived values (public_url from listen, threads from cores). */
void wl_config_finish(wl_config *cfg);

/* Splits cfg->listen into host and port. */
wl_status wl_config_listen_parts(const wl_config *cfg, char *host, size_t hostcap, unsigned *port);

#endif
