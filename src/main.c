/* main.c - the warplink binary: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: warplink <command> [options]\n\n"
               "commands:\n"
               "  serve                 serve HTTP (redirects, API, analytics worker)\n"
               "  worker                run the analytics worker alone (with serve --no-worker)\n"
               "  link import FILE      load key<TAB>long_url lines ('-' = stdin)\n"
               "  user add EMAIL        create an account (password on stdin)\n"
               "  user list             list accounts\n"
               "  apikey create --user EMAIL [--name NAME]\n"
               "  apikey list --user EMAIL\n"
               "  apikey revoke --user EMAIL ID\n"
               "  migrate               create or upgrade the databases\n"
               "  version               print the version\n\n"
               "`warplink <command> --help` lists the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("warplink %s\n", WL_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"serve", wl_cli_serve}, {"worker", wl_cli_worker}, {"link", wl_cli_link},
        {"user", wl_cli_user},   {"apikey", wl_cli_apikey}, {"migrate", wl_cli_migrate},
    };
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "warplink: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
