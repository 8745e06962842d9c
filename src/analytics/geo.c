/* geo.c - country lookups through libmaxminddb; contract in geo.h. */
#include "analytics/geo.h"

#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct wl_geo {
    MMDB_s db;
};

static wl_status open_error(int mmdb_status, int saved_errno)
{
    switch (mmdb_status) {
    case MMDB_FILE_OPEN_ERROR:
        return saved_errno == ENOENT ? WL_ENOTFOUND : WL_EIO;
    case MMDB_OUT_OF_MEMORY_ERROR:
        return WL_ENOMEM;
    case MMDB_IO_ERROR:
        return WL_EIO;
    default: /* bad metadata, unknown format, corrupt tree or data */
        return WL_ECORRUPT;
    }
}

wl_status wl_geo_open(const char *mmdb_path, wl_geo **out)
{
    if (!mmdb_path || !out)
        return WL_EINVAL;
    wl_geo *g = calloc(1, sizeof *g);
    if (!g)
        return WL_ENOMEM;
    errno = 0;
    int rc = MMDB_open(mmdb_path, MMDB_MODE_MMAP, &g->db);
    if (rc != MMDB_SUCCESS) {
        wl_status st = open_error(rc, errno);
        free(g);
        return st;
    }
    *out = g;
    return WL_OK;
}

void wl_geo_close(wl_geo *g)
{
    if (!g)
        return;
    MMDB_close(&g->db);
    free(g);
}

static bool is_v4_mapped(const uint8_t *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, sizeof prefix) == 0;
}

/* Builds the sockaddr MMDB_lookup_sockaddr wants; false for a bad family. */
static bool make_sockaddr(const uint8_t *addr, int family, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET6 && is_v4_mapped(addr)) {
        addr += 12;
        family = AF_INET;
    }
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr, 4);
        return true;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr, 16);
        return true;
    }
    return false;
}

/* Copies map_name.iso_code into out when it is two ASCII letters. */
static bool read_iso_code(MMDB_entry_s *entry, const char *map_name, char out[3])
{
    MMDB_entry_data_s data;
    if (MMDB_get_value(entry, &data, map_name, "iso_code", NULL) != MMDB_SUCCESS ||
        !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2)
        return false;
    for (int i = 0; i < 2; i++) {
        char c = data.utf8_string[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - ('a' - 'A'));
        if (c < 'A' || c > 'Z')
            return false;
        out[i] = c;
    }
    out[2] = '\0';
    return true;
}

wl_status wl_geo_country(wl_geo *g, const uint8_t *addr, int family, char out[3])
{
    struct sockaddr_storage ss;
    int mmdb_error = MMDB_SUCCESS;

    if (out)
        out[0] = '\0';
    if (!g || !addr || !out || !make_sockaddr(addr, family, &ss))
        return WL_EINVAL;
    MMDB_lookup_result_s res =
        MMDB_lookup_sockaddr(&g->db, (const struct sockaddr *)&ss, &mmdb_error);
    if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
        return WL_ENOTFOUND;
    if (mmdb_error != MMDB_SUCCESS)
        return WL_ECORRUPT;
    if (!res.found_entry)
        return WL_ENOTFOUND;
    if (read_iso_code(&res.entry, "country", out) ||
        read_iso_code(&res.entry, "registered_country", out))
        return WL_OK;
    out[0] = '\0';
    return WL_ENOTFOUND;
}
