/* serve.c - `warplink serve`: configuration, signals, and the server's run. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "api/app.h"
#include "cli/cli.h"
#include "core/log.h"

/* A loan blocks its loop: longer slices would show in redirect latency. */
#define WORKER_SLICE_US_MAX 1000u

static wl_server *running;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (running)
        wl_server_stop(running); /* async-signal-safe: an atomic store and write()s */
}

static wl_server_config server_config(const wl_config *cfg, const wl_app *app, const char *host,
                                      unsigned port)
{
    return (wl_server_config){
        .lend = wl_analytics_lend(app->analytics),
        .listen_host = host,
        .listen_port = port,
        .threads = cfg->threads,
        .offload_threads = cfg->offload_threads,
        .max_connections = cfg->max_connections,
        .header_timeout_ms = cfg->header_timeout_s * 1000,
        .idle_timeout_ms = cfg->idle_timeout_s * 1000,
        .drain_timeout_ms = cfg->drain_timeout_s * 1000,
    };
}

int wl_cli_serve(int argc, char **argv)
{
    wl_config cfg;
    int nargs;
    int rc = wl_cli_config(&cfg, WL_OPT_SERVE, "warplink serve [options]", argc, argv, &nargs);
    if (rc >= 0)
        return rc;
    if (nargs) {
        fprintf(stderr, "warplink: serve takes no arguments ('%s')\n", argv[0]);
        return 2;
    }
    if (cfg.worker_slice_us > WORKER_SLICE_US_MAX) {
        fprintf(stderr, "warplink: --worker-slice-us must be at most %u (1 ms)\n",
                WORKER_SLICE_US_MAX);
        return 2;
    }
    char host[256], err[512];
    unsigned port;
    if (wl_config_listen_parts(&cfg, host, sizeof(host), &port) != WL_OK) {
        fprintf(stderr, "warplink: --listen '%s' is not host:port\n", cfg.listen);
        return 2;
    }
    static wl_app app;
    if (wl_app_init(&app, &cfg, err, sizeof(err)) != WL_OK) {
        fprintf(stderr, "warplink: %s\n", err);
        return 1;
    }
    wl_server_config sc = server_config(&cfg, &app, host, port);
    wl_server *srv;
    wl_status st = wl_server_new(&sc, &app.hooks, &srv);
    if (st != WL_OK) {
        fprintf(stderr, "warplink: cannot listen on %s: %s\n", cfg.listen, wl_strerror(st));
        wl_app_release(&app);
        return 1;
    }
    app.server = srv;
    if (cfg.public_url_derived && port == 0) { /* --listen host:0: use the real port */
        bool brackets = strchr(host, ':') != NULL;
        snprintf(app.cfg.public_url, sizeof(app.cfg.public_url), "http://%s%s%s:%u",
                 brackets ? "[" : "", host, brackets ? "]" : "", wl_server_port(srv));
    }
    running = srv;
    wl_cli_on_stop_signals(on_stop_signal);
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "warplink: listening on http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "",
            wl_server_port(srv));
    st = wl_server_run(srv);
    running = NULL;
    wl_server_free(srv);
    app.server = NULL;
    wl_app_release(&app);
    if (st != WL_OK) {
        fprintf(stderr, "warplink: server failed: %s\n", wl_strerror(st));
        return 1;
    }
    wl_info("stopped cleanly");
    return 0;
}
