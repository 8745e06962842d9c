/* status.h - the one error vocabulary of WarpLink.
 *
 * Library layers return a wl_status and never print; the binary decides what
 * to log. wl_strerror() names a status in a short lower-case phrase. */
#ifndef WL_STATUS_H
#define WL_STATUS_H

typedef enum wl_status {
    WL_OK = 0,
    WL_ENOTFOUND,    /* no such key, user, record */
    WL_EEXISTS,      /* conditional insert lost: the key/alias/email is taken */
    WL_EINVAL,       /* malformed input; nothing was changed */
    WL_ENOMEM,       /* allocation failed or a fixed budget is exhausted */
    WL_EIO,          /* the OS or a storage engine failed */
    WL_EBUSY,        /* someone else holds the resource (lock, shard) */
    WL_EFULL,        /* a bounded buffer or disk budget is full */
    WL_ECORRUPT,     /* stored bytes fail their checksum or format */
    WL_EAGAIN,       /* nothing available yet; try later */
    WL_ETOOBIG,      /* input exceeds a documented limit */
    WL_EEXPIRED,     /* the object exists but has expired */
    WL_EDENIED,      /* credentials missing, wrong or revoked */
    WL_EUNSUPPORTED, /* backend or feature not built in */
    WL_STATUS_COUNT_
} wl_status;

const char *wl_strerror(wl_status st);

#endif
