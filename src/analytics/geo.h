/* geo.h - client country from a MaxMind GeoIP2/GeoLite2 database (.mmdb).
 *
 * Used by the analytics worker when a database is configured; without one the
 * worker records every country as "unknown". Lookups read the memory-mapped
 * file and allocate nothing.
 *
 * Ownership and threads: wl_geo_open() returns a handle the caller owns and
 * releases with wl_geo_close(). Any number of threads may call
 * wl_geo_country() on one open handle at the same time (libmaxminddb lookups
 * only read the mapped database); closing must not race with lookups. To load
 * a newer database, open a second handle, switch to it, then close the old
 * one once no lookup uses it. */
#ifndef WL_GEO_H
#define WL_GEO_H

#include <stdint.h>

#include "core/status.h"

typedef struct wl_geo wl_geo;

/* Opens and maps the database at mmdb_path.
 * WL_ENOTFOUND: no such file; WL_ECORRUPT: not a valid MaxMind DB;
 * WL_ENOMEM; WL_EIO: any other failure to open or read it;
 * WL_EINVAL: NULL arguments. *out is set only on WL_OK. */
wl_status wl_geo_open(const char *mmdb_path, wl_geo **out);

/* Looks up the country of addr: 4 network-order bytes when family is AF_INET,
 * 16 when AF_INET6 (an IPv4-mapped ::ffff:a.b.c.d is looked up as IPv4).
 * The country is the record's country.iso_code, falling back to
 * registered_country.iso_code for networks without a physical country
 * (anonymous proxies, satellite providers).
 * WL_OK: out holds a two-letter upper-case ISO 3166-1 code and its NUL.
 * WL_ENOTFOUND: the address is not in the database or has no usable code;
 * WL_EINVAL: bad family or NULL; WL_ECORRUPT: the database failed the lookup.
 * On every error out is "" and the caller records the country as "unknown". */
wl_status wl_geo_country(wl_geo *g, const uint8_t *addr, int family, char out[3]);

/* Unmaps the database and frees the handle. NULL is a no-op. */
void wl_geo_close(wl_geo *g);

#endif
