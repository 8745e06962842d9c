/* fuzz_url.c - libFuzzer target for wl_url_check() and wl_url_host().
 *
 * Beyond "no crash, no out-of-bounds read" (ASan/UBSan), it checks that
 * every accepted URL has a non-empty host inside the input, holds only
 * printable ASCII, and is refused as WL_URL_SELF when its own host is
 * configured as the public host (so the self check and the host extractor
 * agree on what the host is). wl_url_host() alone must stay in bounds on any
 * input, since analytics feeds it unchecked Referer values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_host_slice(const char *url, size_t len, const char *host, size_t host_len)
{
    FUZZ_REQUIRE(host_len > 0);
    FUZZ_REQUIRE(host >= url && host_len <= len && (size_t)(host - url) <= len - host_len);
}

static void check_accepted(const char *url, size_t len)
{
    const char *host;
    size_t host_len;
    FUZZ_REQUIRE(len > 0 && len <= WL_URL_MAX);
    for (size_t i = 0; i < len; i++)
        FUZZ_REQUIRE((unsigned char)url[i] > 0x20 && (unsigned char)url[i] < 0x7f);
    FUZZ_REQUIRE(wl_url_host(url, len, &host, &host_len) == 0);
    check_host_slice(url, len, host, host_len);
    FUZZ_REQUIRE(memchr(host, '@', host_len) == NULL);
    FUZZ_REQUIRE(wl_url_check(url, len, host, host_len) == WL_URL_SELF);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *url = (const char *)data;
    const char *host;
    size_t host_len;
    wl_url_verdict v = wl_url_check(url, size, NULL, 0);
    FUZZ_REQUIRE(wl_url_verdict_text(v) != NULL);
    if (v == WL_URL_OK)
        check_accepted(url, size);
    else
        FUZZ_REQUIRE(wl_url_check(url, size, "sho.rt", 6) == v);
    if (wl_url_host(url, size, &host, &host_len) == 0)
        check_host_slice(url, size, host, host_len);
    return 0;
}
