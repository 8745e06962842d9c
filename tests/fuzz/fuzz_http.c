/* fuzz_http.c - libFuzzer target for the request-head parser: any bytes,
 * any split point. Checks the parser's promises: slices stay inside the
 * input, head_len never exceeds it, and a prefix never parses "better" than
 * the whole. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"

static void check_slice(wl_slice s, const uint8_t *data, size_t size)
{
    if (s.len == 0)
        return;
    assert((const uint8_t *)s.ptr >= data && (const uint8_t *)s.ptr + s.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wl_http_request req;
    const char *why = NULL;
    wl_http_parse_status st = wl_http_parse((const char *)data, size, &req, &why);
    if (st != WL_HTTP_PARSE_OK)
        return 0;
    assert(req.head_len <= size && req.head_len <= WL_HTTP_MAX_HEAD);
    assert(req.nheaders <= WL_HTTP_MAX_HEADERS);
    /* The one documented exception: absolute-form without a path is "/". */
    if (!(req.path.len == 1 && req.path.ptr[0] == '/'))
        check_slice(req.path, data, size);
    check_slice(req.query, data, size);
    check_slice(req.target, data, size);
    for (unsigned i = 0; i < req.nheaders; i++) {
        check_slice(req.headers[i].name, data, size);
        check_slice(req.headers[i].value, data, size);
        assert(req.headers[i].name.len > 0);
    }
    /* The head alone parses the same way: the parser must not read past it. */
    wl_http_request again;
    assert(wl_http_parse((const char *)data, req.head_len, &again, NULL) == WL_HTTP_PARSE_OK);
    assert(again.head_len == req.head_len && again.content_length == req.content_length);
    /* Any shorter prefix is incomplete, never an error nor a success. */
    if (req.head_len > 1) {
        wl_http_parse_status p = wl_http_parse((const char *)data, req.head_len - 1, &again, NULL);
        assert(p == WL_HTTP_PARSE_INCOMPLETE);
    }
    return 0;
}
