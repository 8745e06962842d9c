/* fuzz_ua.c - libFuzzer target for the analytics worker's input parsers.
 *
 * Every input goes through all three: user-agent classification (as GET and
 * as HEAD), referrer host extraction, and HyperLogLog deserialisation. Beyond
 * "no crash, no sanitizer report" it checks each function's contract:
 * classification fills every field with one of the documented values, a
 * returned host is a NUL-terminated lower-case string of the returned length,
 * and an accepted sketch blob round-trips through serialise/deserialise. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/hll.h"
#include "analytics/referrer.h"
#include "analytics/ua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
    if (!cond)
        abort();
}

static int one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return 1;
    return 0;
}

static void check_ua(const char *s, size_t n, uint8_t head)
{
    static const char *const devices[] = {"desktop", "mobile", "tablet", "bot", "unknown", NULL};
    static const char *const browsers[] = {"Chrome", "Firefox", "Safari",
                                           "Edge",   "Opera",   "Samsung Internet",
                                           "Other",  "unknown", NULL};
    static const char *const systems[] = {"Windows", "macOS",    "iOS",     "Android",
                                          "Linux",   "ChromeOS", "unknown", NULL};
    wl_ua_info info;
    memset(&info, 0, sizeof info);
    wl_ua_classify(s, n, head, &info);
    require(info.device && info.browser && info.os);
    require(one_of(info.device, devices) && one_of(info.browser, browsers) &&
            one_of(info.os, systems));
    require(info.is_bot == (strcmp(info.device, "bot") == 0));
    require(!head || info.is_bot);
}

static void check_referrer(const char *s, size_t n)
{
    char out[WL_REFERRER_HOST_MAX + 1];
    size_t len = wl_referrer_host(s, n, out, sizeof out);
    require(len <= WL_REFERRER_HOST_MAX && strlen(out) == len);
    for (size_t i = 0; i < len; i++)
        require(out[i] < 'A' || out[i] > 'Z');
}

static void check_hll(const uint8_t *data, size_t size)
{
    wl_hll h, back;
    if (wl_hll_deserialize(&h, data, size) != WL_OK)
        return;
    uint8_t buf[WL_HLL_MAX_SERIALIZED];
    size_t len = 0;
    require(wl_hll_serialize(&h, buf, sizeof buf, &len) == WL_OK);
    require(len == wl_hll_serialized_size(&h));
    require(wl_hll_deserialize(&back, buf, len) == WL_OK);
    require(memcmp(h.reg, back.reg, sizeof h.reg) == 0);
    (void)wl_hll_count(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so ASan flags any read past the end. */
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    if (size)
        memcpy(s, data, size);
    check_ua(s, size, 0);
    check_ua(s, size, 1);
    check_referrer(s, size);
    free(s);
    check_hll(data, size);
    return 0;
}
