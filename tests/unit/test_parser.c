/* test_parser.c - the HTTP request-head parser: accepted shapes, every
 * rejection rule (smuggling defenses), limits and incremental input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

static wl_http_parse_status parse(const char *s, wl_http_request *req)
{
    return wl_http_parse(s, strlen(s), req, NULL);
}

static void test_simple_get(void **state)
{
    (void)state;
    wl_http_request req;
    const char *s = "GET /abc?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t/1\r\n\r\n";
    assert_int_equal(parse(s, &req), WL_HTTP_PARSE_OK);
    assert_int_equal(req.method, WL_HTTP_GET);
    assert_true(wl_slice_eq(req.path, "/abc"));
    assert_true(wl_slice_eq(req.query, "x=1"));
    assert_true(wl_slice_eq(req.user_agent, "t/1"));
    assert_int_equal(req.head_len, strlen(s));
    assert_true(req.keep_alive);
    assert_int_equal(req.content_length, -1);
}

static void test_incomplete_every_prefix(void **state)
{
    (void)state;
    const char *s = "POST /links HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}";
    size_t head = strlen(s) - 2;
    wl_http_request req;
    for (size_t n = 0; n < head; n++)
        assert_int_equal(wl_http_parse(s, n, &req, NULL), WL_HTTP_PARSE_INCOMPLETE);
    assert_int_equal(wl_http_parse(s, head, &req, NULL), WL_HTTP_PARSE_OK);
    assert_int_equal(req.content_length, 2);
}

static void test_http10_keepalive(void **state)
{
    (void)state;
    wl_http_request req;
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req), WL_HTTP_PARSE_OK);
    assert_false(req.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req),
                     WL_HTTP_PARSE_OK);
    assert_true(req.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, close\r\n\r\n", &req),
                     WL_HTTP_PARSE_OK);
    assert_false(req.keep_alive);
}

typedef struct bad_case {
    const char *req;
    wl_http_parse_status want;
} bad_case;

static void test_rejections(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
         WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
         WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
         WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\nHost: a\n\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", WL_HTTP_PARSE_VERSION},
        {"GET x HTTP/1.1\r\nHost: a\r\n\r\n", WL_HTTP_PARSE_BAD},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
         WL_HTTP_PARSE_UNSUPPORTED_TE},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
         WL_HTTP_PARSE_BAD},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         WL_HTTP_PARSE_BAD},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", WL_HTTP_PARSE_BAD},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wl_http_request req;
        const char *why = NULL;
        wl_http_parse_status st = wl_http_parse(cases[i].req, strlen(cases[i].req), &req, &why);
        if (st != cases[i].want)
            fail_msg("case %zu: got %d want %d (%s)", i, st, cases[i].want, cases[i].req);
        assert_non_null(why);
    }
    /* A NUL inside a header value. */
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    wl_http_request req;
    assert_int_equal(wl_http_parse(nul, sizeof(nul) - 1, &req, NULL), WL_HTTP_PARSE_BAD);
}

static void test_head_limit(void **state)
{
    (void)state;
    size_t n = WL_HTTP_MAX_HEAD + 100;
    char *big = malloc(n + 1);
    int k = snprintf(big, n, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(big + k, 'a', n - (size_t)k);
    big[n] = 0;
    wl_http_request req;
    assert_int_equal(wl_http_parse(big, n, &req, NULL), WL_HTTP_PARSE_TOO_LARGE);
    /* Just under the limit, the head is still incomplete, not an error. */
    assert_int_equal(wl_http_parse(big, WL_HTTP_MAX_HEAD, &req, NULL), WL_HTTP_PARSE_INCOMPLETE);
    free(big);
}

static void test_too_many_headers(void **state)
{
    (void)state;
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < WL_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X%d: y\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
    wl_http_request req;
    assert_int_equal(wl_http_parse(buf, n, &req, NULL), WL_HTTP_PARSE_TOO_LARGE);
}

static void test_absolute_form_and_leading_crlf(void **state)
{
    (void)state;
    wl_http_request req;
    assert_int_equal(parse("\r\nGET http://h.example/k1?q HTTP/1.1\r\nHost: h\r\n\r\n", &req),
                     WL_HTTP_PARSE_OK);
    assert_true(wl_slice_eq(req.path, "/k1"));
    assert_true(wl_slice_eq(req.query, "q"));
    assert_int_equal(parse("GET http://h.example HTTP/1.1\r\nHost: h\r\n\r\n", &req),
                     WL_HTTP_PARSE_OK);
    assert_true(wl_slice_eq(req.path, "/"));
}

static void test_known_headers(void **state)
{
    (void)state;
    wl_http_request req;
    const char *s = "POST /v1/shorten HTTP/1.1\r\nhost: h\r\nX-API-KEY: k\r\n"
                    "authorization: Bearer t\r\nAccept: text/html\r\nReferer: r\r\n"
                    "X-Forwarded-For: 1.2.3.4\r\nContent-Type: application/json\r\n"
                    "Expect: 100-continue\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse(s, &req), WL_HTTP_PARSE_OK);
    assert_true(wl_slice_eq(req.api_key, "k"));
    assert_true(wl_slice_eq(req.authorization, "Bearer t"));
    assert_true(wl_slice_eq(req.accept, "text/html"));
    assert_true(wl_slice_eq(req.referer, "r"));
    assert_true(wl_slice_eq(req.forwarded_for, "1.2.3.4"));
    assert_true(req.expect_continue);
    assert_int_equal(req.content_length, 0);
    assert_true(wl_slice_eq(wl_http_header_get(&req, "content-type"), "application/json"));
    assert_null(wl_http_header_get(&req, "x-missing").ptr);
}

static void test_chunked(void **state)
{
    (void)state;
    wl_http_request req;
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &req),
        WL_HTTP_PARSE_OK);
    assert_true(req.chunked);
    char body[] = "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: y\r\n\r\nGET";
    size_t enc, dec, len = strlen(body);
    /* Every prefix short of the full framing is incomplete. */
    for (size_t n = 0; n < len - 3; n++)
        assert_int_equal(wl_http_chunked_scan(body, n, 100, &enc, &dec), WL_HTTP_PARSE_INCOMPLETE);
    assert_int_equal(wl_http_chunked_scan(body, len, 100, &enc, &dec), WL_HTTP_PARSE_OK);
    assert_int_equal(enc, len - 3); /* the pipelined "GET" is not part of it */
    assert_int_equal(dec, 9);
    assert_int_equal(wl_http_chunked_scan(body, len, 8, &enc, &dec), WL_HTTP_PARSE_TOO_LARGE);
    assert_int_equal(wl_http_chunked_decode(body, enc), 9);
    assert_memory_equal(body, "Wikipedia", 9);
    static const char *const bad[] = {"x\r\n", "4\r\nWikiXX", "4\nWiki\r\n0\r\n\r\n",
                                      "123456789\r\n", "0\r\nbad\nline\r\n\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(wl_http_chunked_scan(bad[i], strlen(bad[i]), 100, &enc, &dec),
                         WL_HTTP_PARSE_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_incomplete_every_prefix),
        cmocka_unit_test(test_http10_keepalive),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_absolute_form_and_leading_crlf),
        cmocka_unit_test(test_known_headers),
        cmocka_unit_test(test_chunked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
