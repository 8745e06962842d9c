/* testutil.h - helpers shared by the C unit tests.
 *
 * Scratch directories: each test fixture makes its own under /tmp and removes
 * it, whole, in its teardown. */
#ifndef WL_TESTUTIL_H
#define WL_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int wl_test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes dir and everything below it (symlinks are not followed). */
static inline void wl_test_rmtree(const char *dir)
{
    nftw(dir, wl_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
