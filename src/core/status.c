/* status.c - names for wl_status values. */
#include "core/status.h"

const char *wl_strerror(wl_status st)
{
    static const char *const names[WL_STATUS_COUNT_] = {
        [WL_OK] = "ok",
        [WL_ENOTFOUND] = "not found",
        [WL_EEXISTS] = "already exists",
        [WL_EINVAL] = "invalid argument",
        [WL_ENOMEM] = "out of memory",
        [WL_EIO] = "input/output error",
        [WL_EBUSY] = "resource busy",
        [WL_EFULL] = "budget exhausted",
        [WL_ECORRUPT] = "corrupt data",
        [WL_EAGAIN] = "try again",
        [WL_ETOOBIG] = "too large",
        [WL_EEXPIRED] = "expired",
        [WL_EDENIED] = "access denied",
        [WL_EUNSUPPORTED] = "not supported in this build",
    };
    if ((unsigned)st >= WL_STATUS_COUNT_ || !names[st])
        return "unknown status";
    return names[st];
}
