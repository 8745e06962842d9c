/* test_url.c - long-URL validation: one row per rule and boundary, then
 * generated boundaries (8000/8001 bytes, 63/64-byte labels) and host
 * extraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/url.h"

typedef struct url_case {
    const char *url;
    const char *self; /* NULL: no self-host check */
    wl_url_verdict want;
} url_case;

static const url_case url_cases[] = {
    /* accepted */
    {"http://example.com", NULL, WL_URL_OK},
    {"https://example.com/", NULL, WL_URL_OK},
    {"HTTP://Example.COM/Path?q=1#frag", NULL, WL_URL_OK},
    {"HtTpS://example.com", NULL, WL_URL_OK},
    {"http://example.com:65535/", NULL, WL_URL_OK},
    {"http://example.com:1", NULL, WL_URL_OK},
    {"http://example.com:0080/", NULL, WL_URL_OK},
    {"http://[::1]/", NULL, WL_URL_OK},
    {"http://[2001:db8::1]:8080/x", NULL, WL_URL_OK},
    {"http://[::ffff:192.0.2.1]/", NULL, WL_URL_OK},
    {"http://192.0.2.1/", NULL, WL_URL_OK},
    {"http://0.0.0.0/", NULL, WL_URL_OK},
    {"http://example.com./", NULL, WL_URL_OK},
    {"http://xn--bcher-kva.example/", NULL, WL_URL_OK},
    {"https://a.b-c.d/p?x=<>\"{}|\\^`", NULL, WL_URL_OK},
    {"http://example.com?q", NULL, WL_URL_OK},
    {"http://example.com#f", NULL, WL_URL_OK},
    {"http://localhost", NULL, WL_URL_OK},
    {"http://1e100.net/", NULL, WL_URL_OK},
    {"http://example.com/a@b", NULL, WL_URL_OK},
    {"http://example.com/%E2%82%AC", NULL, WL_URL_OK},
    /* scheme */
    {"ftp://example.com", NULL, WL_URL_BAD_SCHEME},
    {"javascript:alert(1)", NULL, WL_URL_BAD_SCHEME},
    {"//example.com", NULL, WL_URL_BAD_SCHEME},
    {"example.com", NULL, WL_URL_BAD_SCHEME},
    {"httpx://example.com", NULL, WL_URL_BAD_SCHEME},
    {"http", NULL, WL_URL_BAD_SCHEME},
    /* no host */
    {"http:", NULL, WL_URL_NO_HOST},
    {"http:example.com", NULL, WL_URL_NO_HOST},
    {"http:/example.com", NULL, WL_URL_NO_HOST},
    {"http:\\\\example.com", NULL, WL_URL_NO_HOST},
    {"http://", NULL, WL_URL_NO_HOST},
    {"http:///x", NULL, WL_URL_NO_HOST},
    {"https:?", NULL, WL_URL_NO_HOST},
    {"http://?q", NULL, WL_URL_NO_HOST},
    {"http://#f", NULL, WL_URL_NO_HOST},
    {"http://:80/", NULL, WL_URL_NO_HOST},
    /* userinfo */
    {"http://a@b", NULL, WL_URL_USERINFO},
    {"http://user:pass@example.com/", NULL, WL_URL_USERINFO},
    {"http://example.com@evil.example/", NULL, WL_URL_USERINFO},
    {"http://@example.com/", NULL, WL_URL_USERINFO},
    {"http://evil.com\\@good.com/", NULL, WL_URL_USERINFO},
    /* characters */
    {"http://exa mple.com", NULL, WL_URL_BAD_CHAR},
    {"http://example.com/\t", NULL, WL_URL_BAD_CHAR},
    {"http://example.com/\r\nLocation: x", NULL, WL_URL_BAD_CHAR},
    {"http://example.com/\x7f", NULL, WL_URL_BAD_CHAR},
    {"http://example.com/\x01", NULL, WL_URL_BAD_CHAR},
    {"http://b\xc3\xbc"
     "cher.example/",
     NULL, WL_URL_BAD_CHAR},
    {"http://example.com/\xff", NULL, WL_URL_BAD_CHAR},
    {" http://example.com", NULL, WL_URL_BAD_CHAR},
    {"http://example.com ", NULL, WL_URL_BAD_CHAR},
    /* host and port */
    {"http://example.com:0/", NULL, WL_URL_BAD_HOST},
    {"http://example.com:65536/", NULL, WL_URL_BAD_HOST},
    {"http://example.com:99999999999999999999/", NULL, WL_URL_BAD_HOST},
    {"http://example.com:/", NULL, WL_URL_BAD_HOST},
    {"http://example.com:80a/", NULL, WL_URL_BAD_HOST},
    {"http://example.com:-1/", NULL, WL_URL_BAD_HOST},
    {"http://example.com:80:80/", NULL, WL_URL_BAD_HOST},
    {"http://exa_mple.com/", NULL, WL_URL_BAD_HOST},
    {"http://exa%6Dple.com/", NULL, WL_URL_BAD_HOST},
    {"http://a..b/", NULL, WL_URL_BAD_HOST},
    {"http://.example.com/", NULL, WL_URL_BAD_HOST},
    {"http://./", NULL, WL_URL_BAD_HOST},
    {"http://example.com../", NULL, WL_URL_BAD_HOST},
    {"http://evil.com\\.good.com/", NULL, WL_URL_BAD_HOST},
    {"http://[::1/", NULL, WL_URL_BAD_HOST},
    {"http://[::1]x/", NULL, WL_URL_BAD_HOST},
    {"http://[::1]:/", NULL, WL_URL_BAD_HOST},
    {"http://[::1]:65536/", NULL, WL_URL_BAD_HOST},
    {"http://[fe80::1%25eth0]/", NULL, WL_URL_BAD_HOST},
    {"http://[v1.x]/", NULL, WL_URL_BAD_HOST},
    {"http://[]/", NULL, WL_URL_BAD_HOST},
    {"http://[127.0.0.1]/", NULL, WL_URL_BAD_HOST},
    {"http://[1:2:3:4:5:6:7:8:9]/", NULL, WL_URL_BAD_HOST},
    {"http://::1/", NULL, WL_URL_BAD_HOST},
    {"http://127.1/", NULL, WL_URL_BAD_HOST},
    {"http://2130706433/", NULL, WL_URL_BAD_HOST},
    {"http://0x7f.0.0.1/", NULL, WL_URL_BAD_HOST},
    {"http://1.2.3.0x4/", NULL, WL_URL_BAD_HOST},
    {"http://010.0.0.1/", NULL, WL_URL_BAD_HOST},
    {"http://256.0.0.1/", NULL, WL_URL_BAD_HOST},
    {"http://1.2.3.4.5/", NULL, WL_URL_BAD_HOST},
    {"http://127.0.0.1./", NULL, WL_URL_BAD_HOST},
    {"http://example.123/", NULL, WL_URL_BAD_HOST},
    /* self host: case, port, trailing dot, address forms */
    {"http://sho.rt/x", "sho.rt", WL_URL_SELF},
    {"http://SHO.RT/x", "sho.rt", WL_URL_SELF},
    {"http://sho.rt./x", "sho.rt", WL_URL_SELF},
    {"https://sho.rt:8443/x", "sho.rt", WL_URL_SELF},
    {"http://sho.rt/x", "SHO.RT.", WL_URL_SELF},
    {"http://sho.rt/x", "sho.rt:8080", WL_URL_SELF},
    {"http://127.0.0.1:8080/x", "127.0.0.1", WL_URL_SELF},
    {"http://127.0.0.1/x", "127.0.0.1:8080", WL_URL_SELF},
    {"http://[::1]:8080/", "::1", WL_URL_SELF},
    {"http://[0:0::1]/", "[::1]", WL_URL_SELF},
    {"http://[::1]/", "[::1]:8080", WL_URL_SELF},
    {"http://[::ffff:127.0.0.1]/", "127.0.0.1", WL_URL_SELF},
    {"http://www.sho.rt/x", "sho.rt", WL_URL_OK},
    {"http://sho.rt.evil.com/", "sho.rt", WL_URL_OK},
    {"http://sho.rtx/", "sho.rt", WL_URL_OK},
    {"http://127.0.0.2/", "127.0.0.1", WL_URL_OK},
    {"http://[::2]/", "::1", WL_URL_OK},
    {"http://sho.rt/", NULL, WL_URL_OK},
    {"http://sho.rt/", "", WL_URL_OK},
};

static void test_table(void **state)
{
    size_t n = sizeof url_cases / sizeof url_cases[0];
    (void)state;
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        const url_case *c = &url_cases[i];
        size_t self_len = c->self ? strlen(c->self) : 0;
        wl_url_verdict got = wl_url_check(c->url, strlen(c->url), c->self, self_len);
        if (got != c->want)
            fail_msg("row %zu \"%s\" (self \"%s\"): got %d, want %d", i, c->url,
                     c->self ? c->self : "", (int)got, (int)c->want);
    }
}

static void test_empty(void **state)
{
    (void)state;
    assert_int_equal(wl_url_check(NULL, 0, NULL, 0), WL_URL_EMPTY);
    assert_int_equal(wl_url_check("http://x.y", 0, NULL, 0), WL_URL_EMPTY);
}

/* An embedded NUL is a control byte, and only len bytes are read. */
static void test_len_not_nul(void **state)
{
    (void)state;
    assert_int_equal(wl_url_check("http://a.b\0/x", 13, NULL, 0), WL_URL_BAD_CHAR);
    assert_int_equal(wl_url_check("http://a.b@c.d", 10, NULL, 0), WL_URL_OK);
}

static void test_length_boundary(void **state)
{
    static char buf[WL_URL_MAX + 2];
    const char *prefix = "https://example.com/";
    (void)state;
    memset(buf, 'a', sizeof buf);
    memcpy(buf, prefix, strlen(prefix));
    assert_int_equal(wl_url_check(buf, WL_URL_MAX, NULL, 0), WL_URL_OK);
    assert_int_equal(wl_url_check(buf, WL_URL_MAX + 1, NULL, 0), WL_URL_TOO_LONG);
    /* Too long wins over every later rule. */
    buf[30] = ' ';
    assert_int_equal(wl_url_check(buf, WL_URL_MAX + 1, NULL, 0), WL_URL_TOO_LONG);
}

static void test_label_and_name_length(void **state)
{
    char buf[400];
    size_t n = 0;
    (void)state;
    n += (size_t)sprintf(buf, "http://");
    memset(buf + n, 'a', 63);
    memcpy(buf + n + 63, ".com", 4);
    assert_int_equal(wl_url_check(buf, n + 67, NULL, 0), WL_URL_OK);
    memset(buf + n, 'a', 64);
    memcpy(buf + n + 64, ".com", 4);
    assert_int_equal(wl_url_check(buf, n + 68, NULL, 0), WL_URL_BAD_HOST);
    /* 253 bytes of name is the DNS maximum; 254 is one too many. */
    for (size_t i = 0; i < 253; i++)
        buf[n + i] = (i % 50 == 49) ? '.' : 'a';
    assert_int_equal(wl_url_check(buf, n + 253, NULL, 0), WL_URL_OK);
    buf[n + 253] = 'a';
    assert_int_equal(wl_url_check(buf, n + 254, NULL, 0), WL_URL_BAD_HOST);
    buf[n + 253] = '.';
    assert_int_equal(wl_url_check(buf, n + 254, NULL, 0), WL_URL_OK);
}

static void expect_host(const char *url, const char *want)
{
    const char *host = NULL;
    size_t host_len = 0;
    int rc = wl_url_host(url, strlen(url), &host, &host_len);
    if (!want) {
        if (rc != -1)
            fail_msg("\"%s\": expected no host, got \"%.*s\"", url, (int)host_len, host);
        return;
    }
    if (rc != 0)
        fail_msg("\"%s\": expected host \"%s\", got none", url, want);
    assert_true(host >= url && host + host_len <= url + strlen(url));
    if (host_len != strlen(want) || memcmp(host, want, host_len) != 0)
        fail_msg("\"%s\": expected host \"%s\", got \"%.*s\"", url, want, (int)host_len, host);
}

static void test_host(void **state)
{
    (void)state;
    expect_host("http://example.com", "example.com");
    expect_host("HTTPS://Example.COM.:443/x?y#z", "Example.COM");
    expect_host("http://[::1]:80/", "::1");
    expect_host("http://[2001:db8::1]", "2001:db8::1");
    expect_host("http://192.0.2.1:8080", "192.0.2.1");
    expect_host("http://h?q", "h");
    expect_host("http://h#f", "h");
    expect_host("http://user:pw@host.example/", "host.example");
    expect_host("http://a@b@c/", "c");
    expect_host("android-app://com.example.app/", "com.example.app");
    expect_host("", NULL);
    expect_host("http:", NULL);
    expect_host("http:/x", NULL);
    expect_host("http:///x", NULL);
    expect_host("http://:80", NULL);
    expect_host("http://./", NULL);
    expect_host("http://@/", NULL);
    expect_host("http://[::1", NULL);
    expect_host("mailto:a@b.c", NULL);
    expect_host("1http://x/", NULL);
    expect_host("//x/", NULL);
}

/* Every accepted row of the table has a host inside the URL. */
static void test_host_of_every_valid_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        const char *u = url_cases[i].url, *host;
        size_t host_len;
        if (wl_url_check(u, strlen(u), NULL, 0) != WL_URL_OK)
            continue;
        assert_int_equal(wl_url_host(u, strlen(u), &host, &host_len), 0);
        assert_true(host_len > 0 && host > u && host + host_len <= u + strlen(u));
    }
}

static void test_texts(void **state)
{
    (void)state;
    for (int v = WL_URL_OK; v <= WL_URL_SELF; v++) {
        const char *t = wl_url_verdict_text((wl_url_verdict)v);
        assert_non_null(t);
        assert_true(strlen(t) > 10);
    }
    assert_non_null(strstr(wl_url_verdict_text(WL_URL_BAD_SCHEME), "http:// or https://"));
    assert_non_null(strstr(wl_url_verdict_text(WL_URL_BAD_CHAR), "percent-encode"));
    assert_non_null(wl_url_verdict_text((wl_url_verdict)99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_len_not_nul),
        cmocka_unit_test(test_length_boundary),
        cmocka_unit_test(test_label_and_name_length),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_host_of_every_valid_row),
        cmocka_unit_test(test_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
