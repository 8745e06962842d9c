/* cli.h - the binary's subcommands. Each takes the arguments after its
 * name and returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef WL_CLI_H
#define WL_CLI_H

#include "core/config.h"

#define WL_VERSION "0.1.0"

int wl_cli_serve(int argc, char **argv);
int wl_cli_worker(int argc, char **argv);
int wl_cli_link(int argc, char **argv);
int wl_cli_user(int argc, char **argv);
int wl_cli_apikey(int argc, char **argv);
int wl_cli_migrate(int argc, char **argv);

/* Loads defaults, environment and flags of `scope`; handles --help. Returns
 * -1 to continue, or an exit status. Non-option arguments end up in
 * argv[0..*nargs). */
int wl_cli_config(wl_config *cfg, unsigned scope, const char *usage, int argc, char **argv,
                  int *nargs);

/* Routes SIGTERM and SIGINT to handler (which must be async-signal-safe)
 * and ignores SIGPIPE: a peer that hangs up is an error code, not a signal. */
void wl_cli_on_stop_signals(void (*handler)(int));

#endif
