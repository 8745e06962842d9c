/* worker.c - `warplink worker`: the analytics worker as its own process. */
#include <stdio.h>

#include "cli/cli.h"

int wl_cli_worker(int argc, char **argv)
{
    wl_config cfg;
    int nargs;
    int rc = wl_cli_config(&cfg, WL_OPT_WORKER, "warplink worker [options]", argc, argv, &nargs);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "warplink: the standalone worker arrives with issue 4\n");
    return 1;
}
