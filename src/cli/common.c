/* common.c - what every subcommand shares: configuration loading with
 * --help, and signal routing. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

int wl_cli_config(wl_config *cfg, unsigned scope, const char *usage, int argc, char **argv,
                  int *nargs)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\noptions:\n", usage);
            wl_config_print_help(stdout, scope);
            return 0;
        }
    }
    char err[256];
    wl_config_defaults(cfg);
    if (wl_config_load(cfg, scope, argc, argv, nargs, err, sizeof(err)) != WL_OK) {
        fprintf(stderr, "warplink: %s\n", err);
        return 2;
    }
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(cfg->log_level, levels[i]))
            wl_log_set_level((wl_log_level)i);
    return -1;
}

void wl_cli_on_stop_signals(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
