/* test_event.c - click event encoding (src/analytics/event.c): round trips,
 * truncation of client-controlled fields, and a table of malformed inputs
 * that must all be refused without reading outside the buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "analytics/event.h"

static wl_click_event sample(void)
{
    wl_click_event ev = {0};
    ev.time_ms = 1795000000123;
    ev.method = WL_CLICK_GET;
    ev.addr_family = WL_ADDR_IPV6;
    for (int i = 0; i < 16; i++)
        ev.addr[i] = (uint8_t)(0xA0 + i);
    ev.key = WL_SLICE_LIT("aB3xY9z");
    ev.referrer = WL_SLICE_LIT("https://example.com/page?q=1");
    ev.user_agent = WL_SLICE_LIT("Mozilla/5.0 (X11; Linux x86_64)");
    return ev;
}

static size_t encode_ok(const wl_click_event *ev, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    assert_int_equal(wl_click_event_encode(ev, buf, cap, &len), WL_OK);
    assert_int_equal(len, wl_click_event_encoded_max(ev));
    return len;
}

static void assert_slice(wl_slice s, const char *ptr, size_t len)
{
    assert_int_equal(s.len, len);
    assert_memory_equal(s.ptr, ptr, len);
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t buf[WL_CLICK_EVENT_MAX_ENCODED];
    wl_click_event ev = sample(), out;
    size_t len = encode_ok(&ev, buf, sizeof buf);
    assert_int_equal(wl_click_event_decode(buf, len, &out), WL_OK);
    assert_int_equal(out.version, WL_CLICK_EVENT_VERSION);
    assert_true(out.time_ms == ev.time_ms);
    assert_int_equal(out.method, ev.method);
    assert_int_equal(out.addr_family, ev.addr_family);
    assert_memory_equal(out.addr, ev.addr, 16);
    assert_slice(out.key, ev.key.ptr, ev.key.len);
    assert_slice(out.referrer, ev.referrer.ptr, ev.referrer.len);
    assert_slice(out.user_agent, ev.user_agent.ptr, ev.user_agent.len);
    /* Decoded slices borrow the input buffer. */
    assert_true((const uint8_t *)out.key.ptr > buf && (const uint8_t *)out.key.ptr < buf + len);
}

static void test_ipv4_head_negative_time_empty_fields(void **state)
{
    (void)state;
    uint8_t buf[WL_CLICK_EVENT_MAX_ENCODED];
    wl_click_event ev = {0}, out;
    ev.time_ms = -5;
    ev.method = WL_CLICK_HEAD;
    ev.addr_family = WL_ADDR_IPV4;
    memcpy(ev.addr, "\x7f\x00\x00\x01", 4);
    ev.key = WL_SLICE_LIT("k");
    size_t len = encode_ok(&ev, buf, sizeof buf);
    assert_int_equal(len, WL_CLICK_EVENT_FIXED + 4 + 1);
    assert_int_equal(wl_click_event_decode(buf, len, &out), WL_OK);
    assert_true(out.time_ms == -5);
    assert_int_equal(out.method, WL_CLICK_HEAD);
    assert_memory_equal(out.addr, "\x7f\x00\x00\x01\x00", 5);
    assert_int_equal(out.referrer.len, 0);
    assert_int_equal(out.user_agent.len, 0);

    ev.addr_family = WL_ADDR_NONE;
    len = encode_ok(&ev, buf, sizeof buf);
    assert_int_equal(wl_click_event_decode(buf, len, &out), WL_OK);
    assert_int_equal(out.addr_family, WL_ADDR_NONE);
}

static void test_truncates_referrer_and_ua(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'r', sizeof big);
    uint8_t buf[WL_CLICK_EVENT_MAX_ENCODED];
    wl_click_event ev = sample(), out;
    ev.referrer = wl_slice_make(big, sizeof big);
    ev.user_agent = wl_slice_make(big, WL_CLICK_UA_MAX + 1);
    size_t len = encode_ok(&ev, buf, sizeof buf);
    assert_int_equal(wl_click_event_decode(buf, len, &out), WL_OK);
    assert_int_equal(out.referrer.len, WL_CLICK_REFERRER_MAX);
    assert_int_equal(out.user_agent.len, WL_CLICK_UA_MAX);

    /* The worst case really is the worst case. */
    ev.key = wl_slice_make(big, WL_CLICK_KEY_MAX);
    assert_int_equal(wl_click_event_encoded_max(&ev), WL_CLICK_EVENT_MAX_ENCODED);
    assert_int_equal(wl_click_event_encoded_max(NULL), WL_CLICK_EVENT_MAX_ENCODED);
    encode_ok(&ev, buf, sizeof buf);
}

static void test_encode_refuses_bad_events(void **state)
{
    (void)state;
    char big[WL_CLICK_KEY_MAX + 1];
    memset(big, 'k', sizeof big);
    uint8_t buf[WL_CLICK_EVENT_MAX_ENCODED];
    size_t len;
    wl_click_event ev = sample();
    assert_int_equal(wl_click_event_encode(&ev, buf, wl_click_event_encoded_max(&ev) - 1, &len),
                     WL_ETOOBIG);
    ev.key = wl_slice_make(big, sizeof big);
    assert_int_equal(wl_click_event_encode(&ev, buf, sizeof buf, &len), WL_EINVAL);
    ev.key = wl_slice_make("", 0);
    assert_int_equal(wl_click_event_encode(&ev, buf, sizeof buf, &len), WL_EINVAL);
    ev = sample();
    ev.method = 2;
    assert_int_equal(wl_click_event_encode(&ev, buf, sizeof buf, &len), WL_EINVAL);
    ev = sample();
    ev.addr_family = 5;
    assert_int_equal(wl_click_event_encode(&ev, buf, sizeof buf, &len), WL_EINVAL);
    ev = sample();
    ev.version = 9;
    assert_int_equal(wl_click_event_encode(&ev, buf, sizeof buf, &len), WL_EUNSUPPORTED);
}

/* A malformed-input case: start from a valid encoding, apply one edit. */
typedef struct bad_case {
    const char *name;
    size_t at;       /* byte to overwrite (SIZE_MAX: none) */
    uint8_t value;   /* its new value */
    long len_change; /* bytes added (zeros) or removed at the end */
    wl_status want;
} bad_case;

/* Offsets in the encoding of sample(): version 0, time 1..8, method 9,
 * family 10, addr 11..26, key_len 27, key 28..34, ref_len 35..36. */
static const bad_case bad_cases[] = {
    {"unknown version", 0, 2, 0, WL_EUNSUPPORTED},
    {"version zero", 0, 0, 0, WL_EUNSUPPORTED},
    {"bad method", 9, 7, 0, WL_ECORRUPT},
    {"bad family", 10, 5, 0, WL_ECORRUPT},
    {"family shrinks to v4", 10, WL_ADDR_IPV4, 0, WL_ECORRUPT},
    {"empty key", 27, 0, 0, WL_ECORRUPT},
    {"key runs past end", 27, 255, 0, WL_ECORRUPT},
    {"referrer over cap", 36, 0x02, 0, WL_ECORRUPT}, /* 0x02xx > 512 */
    {"referrer runs past end", 35, 0xff, 0, WL_ECORRUPT},
    {"trailing byte", SIZE_MAX, 0, 1, WL_ECORRUPT},
    {"missing last byte", SIZE_MAX, 0, -1, WL_ECORRUPT},
};

static void test_malformed_table(void **state)
{
    (void)state;
    uint8_t good[WL_CLICK_EVENT_MAX_ENCODED];
    wl_click_event ev = sample(), out;
    size_t len = encode_ok(&ev, good, sizeof good);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *bc = &bad_cases[i];
        size_t n = (size_t)((long)len + bc->len_change);
        /* An exact-size heap copy, so ASan catches any over-read. */
        uint8_t *b = calloc(1, n);
        assert_non_null(b);
        memcpy(b, good, n < len ? n : len);
        if (bc->at != SIZE_MAX)
            b[bc->at] = bc->value;
        wl_status st = wl_click_event_decode(b, n, &out);
        if (st != bc->want)
            fail_msg("case '%s': got %s", bc->name, wl_strerror(st));
        free(b);
    }
}

static void test_every_prefix_is_refused(void **state)
{
    (void)state;
    uint8_t good[WL_CLICK_EVENT_MAX_ENCODED];
    wl_click_event ev = sample(), out;
    size_t len = encode_ok(&ev, good, sizeof good);
    assert_int_equal(wl_click_event_decode(good, 0, &out), WL_ECORRUPT);
    for (size_t n = 1; n < len; n++) {
        uint8_t *b = malloc(n);
        assert_non_null(b);
        memcpy(b, good, n);
        assert_int_equal(wl_click_event_decode(b, n, &out), WL_ECORRUPT);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_ipv4_head_negative_time_empty_fields),
        cmocka_unit_test(test_truncates_referrer_and_ua),
        cmocka_unit_test(test_encode_refuses_bad_events),
        cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_every_prefix_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
