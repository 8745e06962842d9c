/* test_referrer.c - referrer host extraction: a table of inputs and hosts
 * ("" means rejected, so the worker records "unknown"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/referrer.h"

struct ref_case {
    const char *in;
    const char *host;
};

static const struct ref_case cases[] = {
    /* ordinary referrers */
    {"https://news.ycombinator.com/item?id=1", "news.ycombinator.com"},
    {"https://www.google.com/", "google.com"},
    {"https://t.co/abc", "t.co"},
    {"http://example.com", "example.com"},
    {"https://example.com?q=1", "example.com"},
    {"https://example.com#top", "example.com"},
    {"https://x.com/someone/status/1", "x.com"},
    {"https://www.x.com/someone", "x.com"},
    /* case, port, userinfo, trailing dot */
    {"HTTPS://WWW.Example.COM/Path", "example.com"},
    {"https://example.com:8443/a", "example.com"},
    {"https://example.com:/a", "example.com"},
    {"https://user:secret@example.com/", "example.com"},
    {"https://a@b@example.com/", "example.com"},
    {"https://example.com./", "example.com"},
    {"https://www.example.com.:443/", "example.com"},
    /* www. is only stripped as a whole label with a dotted name left */
    {"https://www.com/", "www.com"},
    {"https://www2.example.com/", "www2.example.com"},
    {"https://m.example.com/", "m.example.com"},
    {"https://wwwexample.com/", "wwwexample.com"},
    /* addresses, underscores, punycode */
    {"http://192.0.2.10:8080/x", "192.0.2.10"},
    {"http://[2001:DB8::1]:8080/x", "[2001:db8::1]"},
    {"http://[::1]/", "[::1]"},
    {"https://my_host.example.com/", "my_host.example.com"},
    {"https://xn--bcher-kva.example/", "xn--bcher-kva.example"},
    /* backslash ends the authority, as in browsers */
    {"https://example.com\\evil.com/", "example.com"},
    /* rejected: not http(s), or malformed */
    {"", ""},
    {"-", ""},
    {"example.com", ""},
    {"//example.com/", ""},
    {"ftp://example.com/", ""},
    {"android-app://com.google.android.gm/", ""},
    {"javascript:alert(1)", ""},
    {"http://", ""},
    {"https:///path", ""},
    {"https://:80/", ""},
    {"https://user@/", ""},
    {"https://example.com:80a/", ""},
    {"https://example.com:123456/", ""},
    {"https://exa mple.com/", ""},
    {"https://exa%41mple.com/", ""},
    {"https://b\xc3\xbc"
     "cher.example/",
     ""},
    {"https://a..b/", ""},
    {"https://.example.com/", ""},
    {"https://example.com../", ""},
    {"https://[2001:db8::1/", ""},
    {"https://[zz::1]/", ""},
    {"https://[1.2.3.4]/", ""},
    {"https://[::1]x/", ""},
    {"https://[fe80::1%25eth0]/", ""},
};

#define CASE_COUNT (sizeof cases / sizeof cases[0])

static void test_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < CASE_COUNT; i++) {
        char out[WL_REFERRER_HOST_MAX + 1];
        memset(out, 'X', sizeof out);
        size_t n = wl_referrer_host(cases[i].in, strlen(cases[i].in), out, sizeof out);
        if (n != strlen(cases[i].host) || strcmp(out, cases[i].host) != 0) {
            print_error("referrer \"%s\": got \"%s\" (%zu), want \"%s\"\n", cases[i].in, out, n,
                        cases[i].host);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Only ref[0..len) is read: the host ends where the length does. */
static void test_not_nul_terminated(void **state)
{
    (void)state;
    const char s[] = "https://example.comEVIL";
    char out[64];
    assert_int_equal(wl_referrer_host(s, 19, out, sizeof out), 11);
    assert_string_equal(out, "example.com");
}

static void test_output_capacity(void **state)
{
    (void)state;
    const char *s = "https://example.com/";
    char out[12];
    assert_int_equal(wl_referrer_host(s, strlen(s), out, 12), 11); /* exactly fits */
    assert_int_equal(wl_referrer_host(s, strlen(s), out, 11), 0);  /* no room for NUL */
    assert_string_equal(out, "");
    assert_int_equal(wl_referrer_host(s, strlen(s), out, 0), 0);
    assert_int_equal(wl_referrer_host(NULL, 5, out, sizeof out), 0);
    assert_int_equal(wl_referrer_host(s, strlen(s), NULL, 5), 0);
}

static void test_length_limits(void **state)
{
    (void)state;
    char url[600], out[WL_REFERRER_HOST_MAX + 1];
    /* a 63-byte label is fine, 64 is not */
    snprintf(url, sizeof url, "https://%.63s.example/",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(wl_referrer_host(url, strlen(url), out, sizeof out), 63 + 8);
    snprintf(url, sizeof url, "https://%.64s.example/",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(wl_referrer_host(url, strlen(url), out, sizeof out), 0);
    /* 253 bytes in all is fine (4 labels of 63 + 3 dots = 255 is not) */
    char host[300];
    memset(host, 'b', sizeof host);
    for (int i = 63; i < 300; i += 64)
        host[i] = '.';
    snprintf(url, sizeof url, "https://%.253s/", host);
    assert_int_equal(wl_referrer_host(url, strlen(url), out, sizeof out), 253);
    snprintf(url, sizeof url, "https://%.255s/", host);
    assert_int_equal(wl_referrer_host(url, strlen(url), out, sizeof out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_output_capacity),
        cmocka_unit_test(test_length_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
