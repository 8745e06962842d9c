/* store.c - the store backend registry: maps a backend name to its ops table.
 *
 * Only backends compiled into this build are listed; "postgres" is not built
 * yet, so wl_store_backend("postgres") is NULL and wl_store_open() reports
 * WL_EUNSUPPORTED for it. */
#include "store/store.h"

#include <string.h>

#include "store/sqlite.h"

static const wl_store_ops *const backends[] = {
    &wl_store_sqlite_ops,
};

const wl_store_ops *wl_store_backend(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    }
    return NULL;
}

wl_status wl_store_open(const char *backend, const char *dsn, unsigned flags, wl_store **out)
{
    if (!out)
        return WL_EINVAL;
    *out = NULL;
    const wl_store_ops *ops = wl_store_backend(backend);
    if (!ops)
        return WL_EUNSUPPORTED;
    /* A table from a newer interface revision could lay out its entries
     * differently; refuse it rather than call through the wrong slot. */
    if (ops->version != 1)
        return WL_EUNSUPPORTED;
    return ops->open(dsn, flags, out);
}
