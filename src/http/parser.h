/* parser.h - a strict, in-place HTTP/1.1 request-head parser.
 *
 * wl_http_parse() reads the request line and headers at the start of a
 * buffer and fills a wl_http_request whose slices point INTO that buffer:
 * they are valid while the buffer is neither freed nor moved. It never
 * allocates and never writes to the buffer.
 *
 * Strictness is a security feature (request smuggling): CRLF line endings
 * only, no obs-fold, token-only header names with no space before the colon,
 * no control bytes in values, Content-Length must be one decimal number and
 * appear once, Content-Length together with Transfer-Encoding is rejected,
 * Transfer-Encoding must be exactly "chunked" (other codings: 501; chunked
 * not last: 400), HTTP/1.1 requires exactly one Host. The body is not parsed
 * here: the caller waits for content_length bytes after head_len, or runs
 * wl_http_chunked_scan() when `chunked`.
 *
 * One slice may point outside the buffer: the path of an absolute-form
 * target without a path ("GET http://host HTTP/1.1") is the static "/". */
#ifndef WL_HTTP_PARSER_H
#define WL_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

#define WL_HTTP_MAX_HEAD 8192 /* request line + headers (API.md: 431 beyond) */
#define WL_HTTP_MAX_HEADERS 64

typedef enum wl_http_method {
    WL_HTTP_OTHER = 0,
    WL_HTTP_GET,
    WL_HTTP_HEAD,
    WL_HTTP_POST,
    WL_HTTP_PUT,
    WL_HTTP_DELETE,
    WL_HTTP_PATCH,
    WL_HTTP_OPTIONS,
} wl_http_method;

typedef struct wl_http_header {
    wl_slice name;
    wl_slice value;
} wl_http_header;

typedef struct wl_http_request {
    wl_http_method method;
    wl_slice method_name;
    wl_slice target;       /* as sent */
    wl_slice path;         /* origin-form path, without the query */
    wl_slice query;        /* after '?', may be empty */
    uint8_t minor_version; /* HTTP/1.x */
    bool keep_alive;
    bool expect_continue;
    bool chunked;           /* Transfer-Encoding: chunked (no Content-Length) */
    int64_t content_length; /* -1 when absent */
    size_t head_len;        /* bytes of request line + headers + final CRLF */
    wl_slice body;          /* set by the connection once the body is in */
    unsigned nheaders;
    wl_http_header headers[WL_HTTP_MAX_HEADERS];
    /* Frequently read headers, found during the parse (empty when absent). */
    wl_slice host, accept, authorization, api_key, content_type, user_agent, referer, forwarded_for;
} wl_http_request;

typedef enum wl_http_parse_status {
    WL_HTTP_PARSE_OK = 0,
    WL_HTTP_PARSE_INCOMPLETE,    /* need more bytes */
    WL_HTTP_PARSE_BAD,           /* 400 */
    WL_HTTP_PARSE_TOO_LARGE,     /* 431: head over WL_HTTP_MAX_HEAD or too many headers */
    WL_HTTP_PARSE_VERSION,       /* 505 */
    WL_HTTP_PARSE_UNSUPPORTED_TE /* 501: a transfer coding other than chunked */
} wl_http_parse_status;

/* Parses the head at buf[0..len). On WL_HTTP_PARSE_BAD and friends, *why
 * (when non-NULL) gets a short static explanation for the error body. */
wl_http_parse_status wl_http_parse(const char *buf, size_t len, wl_http_request *req,
                                   const char **why);

/* Finds a header by case-insensitive name; empty slice when absent. */
wl_slice wl_http_header_get(const wl_http_request *req, const char *name);

/* Checks a chunked body at buf[0..len) without changing it: OK sets
 * *encoded_len (chunks, last chunk and trailers) and *decoded_len;
 * INCOMPLETE needs more bytes; BAD is malformed; TOO_LARGE when the decoded
 * body would exceed max_decoded. */
wl_http_parse_status wl_http_chunked_scan(const char *buf, size_t len, size_t max_decoded,
                                          size_t *encoded_len, size_t *decoded_len);
/* Decodes, in place, a body that wl_http_chunked_scan() accepted; returns
 * the decoded length (the data now starts at buf). */
size_t wl_http_chunked_decode(char *buf, size_t encoded_len);

/* The HTTP status code for a parse failure (400, 431, 505, 501). */
int wl_http_parse_status_code(wl_http_parse_status st);

#endif
