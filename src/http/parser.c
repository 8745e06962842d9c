/* parser.c - strict in-place HTTP/1.1 request-head parser.
 *
 * The head is re-parsed from its first byte each time more bytes arrive. That
 * keeps the parser stateless (and trivially fuzzable); the cost is bounded
 * because a head never exceeds WL_HTTP_MAX_HEAD bytes, and nearly every
 * request arrives in one read anyway. */
#include "http/parser.h"

#include <string.h>

#define MAX_LEADING_EMPTY_LINES 4

/* RFC 9110 tchar: the bytes allowed in methods and header names. */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

typedef struct cursor {
    const char *buf;
    size_t len; /* bytes available, already capped at WL_HTTP_MAX_HEAD */
    size_t pos;
    bool truncated; /* the real buffer had more than len bytes */
} cursor;

/* Result of reading one line: OK, INCOMPLETE (or TOO_LARGE at the cap), BAD. */
static wl_http_parse_status need_more(const cursor *c)
{
    return c->truncated ? WL_HTTP_PARSE_TOO_LARGE : WL_HTTP_PARSE_INCOMPLETE;
}

/* Finds the end of the current line. Requires CRLF; a bare LF is an error. */
static wl_http_parse_status find_eol(const cursor *c, size_t *eol, const char **why)
{
    const char *p = memchr(c->buf + c->pos, '\n', c->len - c->pos);
    if (!p) {
        if (c->len - c->pos && c->buf[c->len - 1] != '\r' &&
            memchr(c->buf + c->pos, '\r', c->len - c->pos)) {
            *why = "a CR not followed by LF";
            return WL_HTTP_PARSE_BAD;
        }
        return need_more(c);
    }
    size_t at = (size_t)(p - c->buf);
    if (at == c->pos || c->buf[at - 1] != '\r') {
        *why = "lines must end with CRLF";
        return WL_HTTP_PARSE_BAD;
    }
    *eol = at - 1;
    return WL_HTTP_PARSE_OK;
}

static wl_http_method method_of(wl_slice m)
{
    static const struct {
        const char *name;
        wl_http_method method;
    } known[] = {
        {"GET", WL_HTTP_GET},         {"HEAD", WL_HTTP_HEAD},     {"POST", WL_HTTP_POST},
        {"PUT", WL_HTTP_PUT},         {"DELETE", WL_HTTP_DELETE}, {"PATCH", WL_HTTP_PATCH},
        {"OPTIONS", WL_HTTP_OPTIONS},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (wl_slice_eq(m, known[i].name))
            return known[i].method;
    return WL_HTTP_OTHER;
}

static bool split_target(wl_http_request *req)
{
    const char *t = req->target.ptr;
    size_t n = req->target.len;
    if (n == 1 && t[0] == '*') {
        req->path = req->target;
        req->query = wl_slice_make(t + 1, 0);
        return true;
    }
    size_t skip = 0;
    if (n >= 7 && strncasecmp(t, "http://", 7) == 0)
        skip = 7;
    else if (n >= 8 && strncasecmp(t, "https://", 8) == 0)
        skip = 8;
    if (skip) { /* absolute-form: drop scheme and authority */
        const char *slash = memchr(t + skip, '/', n - skip);
        if (!slash)
            slash = t + n;
        n -= (size_t)(slash - t);
        t = slash;
    }
    if (n == 0) {
        req->path = WL_SLICE_LIT("/");
        req->query = wl_slice_make(t, 0);
        return true;
    }
    if (t[0] != '/')
        return false;
    const char *q = memchr(t, '?', n);
    size_t plen = q ? (size_t)(q - t) : n;
    req->path = wl_slice_make(t, plen);
    req->query = q ? wl_slice_make(q + 1, n - plen - 1) : wl_slice_make(t + n, 0);
    return true;
}

static wl_http_parse_status parse_request_line(cursor *c, wl_http_request *req, const char **why)
{
    size_t eol;
    wl_http_parse_status st = find_eol(c, &eol, why);
    if (st != WL_HTTP_PARSE_OK)
        return st;
    const char *s = c->buf + c->pos, *end = c->buf + eol;
    const char *p = s;
    while (p < end && tchar[(unsigned char)*p])
        p++;
    if (p == s || p == end || *p != ' ' || p - s > 16) {
        *why = "malformed request method";
        return WL_HTTP_PARSE_BAD;
    }
    req->method_name = wl_slice_make(s, (size_t)(p - s));
    req->method = method_of(req->method_name);
    const char *t = ++p;
    while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    if (p == t || p == end || *p != ' ') {
        *why = "malformed request target";
        return WL_HTTP_PARSE_BAD;
    }
    req->target = wl_slice_make(t, (size_t)(p - t));
    p++;
    if (end - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
        p[7] < '0' || p[7] > '9') {
        *why = "malformed HTTP version";
        return WL_HTTP_PARSE_BAD;
    }
    if (p[5] != '1')
        return WL_HTTP_PARSE_VERSION;
    req->minor_version = p[7] == '0' ? 0 : 1;
    if (!split_target(req)) {
        *why = "the request target must be a path";
        return WL_HTTP_PARSE_BAD;
    }
    c->pos = eol + 2;
    return WL_HTTP_PARSE_OK;
}

static bool parse_content_length(wl_slice v, int64_t *out)
{
    if (v.len == 0 || v.len > 18)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        n = n * 10 + (v.ptr[i] - '0');
    }
    *out = n;
    return true;
}

/* Reads Connection's comma-separated tokens for "close" and "keep-alive". */
static void parse_connection(wl_slice v, bool *close, bool *keep)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == ','))
            i++;
        size_t start = i;
        while (i < v.len && v.ptr[i] != ',' && v.ptr[i] != ' ' && v.ptr[i] != '\t')
            i++;
        wl_slice tok = wl_slice_make(v.ptr + start, i - start);
        if (wl_slice_ieq(tok, "close"))
            *close = true;
        else if (wl_slice_ieq(tok, "keep-alive"))
            *keep = true;
    }
}

typedef struct head_flags {
    bool has_cl, has_te, has_host, conn_close, conn_keep;
    wl_slice te;
} head_flags;

static wl_http_parse_status note_header(wl_http_request *req, const wl_http_header *h,
                                        head_flags *f, const char **why)
{
    wl_slice n = h->name;
    switch (n.len) {
    case 4:
        if (wl_slice_ieq(n, "host")) {
            if (f->has_host) {
                *why = "more than one Host header";
                return WL_HTTP_PARSE_BAD;
            }
            f->has_host = true;
            req->host = h->value;
        }
        break;
    case 6:
        if (wl_slice_ieq(n, "accept"))
            req->accept = h->value;
        else if (wl_slice_ieq(n, "expect") && wl_slice_ieq(h->value, "100-continue"))
            req->expect_continue = true;
        break;
    case 7:
        if (wl_slice_ieq(n, "referer"))
            req->referer = h->value;
        break;
    case 9:
        if (wl_slice_ieq(n, "x-api-key"))
            req->api_key = h->value;
        break;
    case 10:
        if (wl_slice_ieq(n, "connection"))
            parse_connection(h->value, &f->conn_close, &f->conn_keep);
        else if (wl_slice_ieq(n, "user-agent"))
            req->user_agent = h->value;
        break;
    case 12:
        if (wl_slice_ieq(n, "content-type"))
            req->content_type = h->value;
        break;
    case 13:
        if (wl_slice_ieq(n, "authorization"))
            req->authorization = h->value;
        break;
    case 14:
        if (wl_slice_ieq(n, "content-length")) {
            if (f->has_cl || !parse_content_length(h->value, &req->content_length)) {
                *why = "invalid or repeated Content-Length";
                return WL_HTTP_PARSE_BAD;
            }
            f->has_cl = true;
        }
        break;
    case 15:
        if (wl_slice_ieq(n, "x-forwarded-for"))
            req->forwarded_for = h->value;
        break;
    case 17:
        if (wl_slice_ieq(n, "transfer-encoding")) {
            if (f->has_te) {
                *why = "repeated Transfer-Encoding";
                return WL_HTTP_PARSE_BAD;
            }
            f->has_te = true;
            f->te = h->value;
        }
        break;
    }
    return WL_HTTP_PARSE_OK;
}

static wl_http_parse_status parse_header_line(cursor *c, size_t eol, wl_http_header *h,
                                              const char **why)
{
    const char *s = c->buf + c->pos, *end = c->buf + eol;
    if (*s == ' ' || *s == '\t') {
        *why = "folded header lines (obs-fold) are not accepted";
        return WL_HTTP_PARSE_BAD;
    }
    const char *p = s;
    while (p < end && tchar[(unsigned char)*p])
        p++;
    if (p == s || p == end || *p != ':') {
        *why = "malformed header name";
        return WL_HTTP_PARSE_BAD;
    }
    h->name = wl_slice_make(s, (size_t)(p - s));
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *v = p;
    for (; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            *why = "control character in a header value";
            return WL_HTTP_PARSE_BAD;
        }
    }
    while (p > v && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    h->value = wl_slice_make(v, (size_t)(p - v));
    c->pos = eol + 2;
    return WL_HTTP_PARSE_OK;
}

/* Accepts exactly "chunked"; a list ending in chunked names codings we do
 * not implement (501), a list where chunked is not last is malformed. */
static wl_http_parse_status check_te(wl_http_request *req, wl_slice te, const char **why)
{
    if (wl_slice_ieq(te, "chunked")) {
        req->chunked = true;
        return WL_HTTP_PARSE_OK;
    }
    size_t n = te.len;
    if (n >= 7 && strncasecmp(te.ptr + n - 7, "chunked", 7) == 0) {
        *why = "only the chunked transfer coding is supported";
        return WL_HTTP_PARSE_UNSUPPORTED_TE;
    }
    *why = "chunked must be the final transfer coding";
    return WL_HTTP_PARSE_BAD;
}

static wl_http_parse_status finish_head(wl_http_request *req, const head_flags *f, const char **why)
{
    if (f->has_te) {
        if (f->has_cl) {
            *why = "Content-Length together with Transfer-Encoding";
            return WL_HTTP_PARSE_BAD;
        }
        if (req->minor_version == 0) {
            *why = "Transfer-Encoding in an HTTP/1.0 request";
            return WL_HTTP_PARSE_BAD;
        }
        wl_http_parse_status st = check_te(req, f->te, why);
        if (st != WL_HTTP_PARSE_OK)
            return st;
    }
    if (req->minor_version == 1 && !f->has_host) {
        *why = "HTTP/1.1 requests need a Host header";
        return WL_HTTP_PARSE_BAD;
    }
    if (req->minor_version == 1)
        req->keep_alive = !f->conn_close;
    else
        req->keep_alive = f->conn_keep && !f->conn_close;
    return WL_HTTP_PARSE_OK;
}

wl_http_parse_status wl_http_parse(const char *buf, size_t len, wl_http_request *req,
                                   const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    /* Past the cap every failure is a 431 unless a rule says otherwise. */
    *why = len > WL_HTTP_MAX_HEAD ? "the request line and headers are limited to 8 KiB"
                                  : "malformed request";
    memset(req, 0, offsetof(wl_http_request, headers));
    req->content_length = -1;
    req->host = req->accept = req->authorization = req->api_key = req->content_type =
        req->user_agent = req->referer = req->forwarded_for = wl_slice_make(buf, 0);
    cursor c = {buf, len > WL_HTTP_MAX_HEAD ? WL_HTTP_MAX_HEAD : len, 0, len > WL_HTTP_MAX_HEAD};

    /* RFC 9112 2.2: a server SHOULD ignore empty lines before a request. */
    for (int i = 0; i < MAX_LEADING_EMPTY_LINES && c.pos + 1 < c.len; i++) {
        if (c.buf[c.pos] != '\r' || c.buf[c.pos + 1] != '\n')
            break;
        c.pos += 2;
    }
    wl_http_parse_status st = parse_request_line(&c, req, why);
    if (st != WL_HTTP_PARSE_OK)
        return st;
    head_flags f = {0};
    for (;;) {
        size_t eol;
        st = find_eol(&c, &eol, why);
        if (st != WL_HTTP_PARSE_OK)
            return st;
        if (eol == c.pos) { /* empty line: end of head */
            c.pos += 2;
            break;
        }
        if (req->nheaders == WL_HTTP_MAX_HEADERS) {
            *why = "too many header fields";
            return WL_HTTP_PARSE_TOO_LARGE;
        }
        wl_http_header *h = &req->headers[req->nheaders];
        st = parse_header_line(&c, eol, h, why);
        if (st != WL_HTTP_PARSE_OK)
            return st;
        req->nheaders++;
        st = note_header(req, h, &f, why);
        if (st != WL_HTTP_PARSE_OK)
            return st;
    }
    req->head_len = c.pos;
    return finish_head(req, &f, why);
}

#define CHUNK_LINE_MAX 1024 /* size line with extensions */
#define TRAILERS_MAX 8192

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads "<hex>[;ext]CRLF" at buf[*pos]; sets *size and moves *pos. */
static wl_http_parse_status chunk_size_line(const char *buf, size_t len, size_t *pos, size_t *size)
{
    size_t i = *pos, v = 0, digits = 0;
    for (; i < len && hexval(buf[i]) >= 0; i++, digits++) {
        if (digits == 8)
            return WL_HTTP_PARSE_BAD;
        v = v * 16 + (size_t)hexval(buf[i]);
    }
    if (i == len)
        return len - *pos > CHUNK_LINE_MAX ? WL_HTTP_PARSE_BAD : WL_HTTP_PARSE_INCOMPLETE;
    if (digits == 0)
        return WL_HTTP_PARSE_BAD;
    for (; i < len && buf[i] != '\r'; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f || i - *pos > CHUNK_LINE_MAX)
            return WL_HTTP_PARSE_BAD;
    }
    if (i + 1 >= len)
        return WL_HTTP_PARSE_INCOMPLETE;
    if (buf[i + 1] != '\n')
        return WL_HTTP_PARSE_BAD;
    *pos = i + 2;
    *size = v;
    return WL_HTTP_PARSE_OK;
}

/* Skips trailer fields up to and including the final empty line. */
static wl_http_parse_status skip_trailers(const char *buf, size_t len, size_t *pos)
{
    size_t i = *pos, start = *pos;
    for (;;) {
        const char *lf = memchr(buf + i, '\n', len - i);
        if (!lf)
            return len - start > TRAILERS_MAX ? WL_HTTP_PARSE_BAD : WL_HTTP_PARSE_INCOMPLETE;
        size_t at = (size_t)(lf - buf);
        if (at == i || buf[at - 1] != '\r')
            return WL_HTTP_PARSE_BAD;
        for (size_t k = i; k + 1 < at; k++) {
            unsigned char c = (unsigned char)buf[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return WL_HTTP_PARSE_BAD;
        }
        bool empty = at == i + 1;
        i = at + 1;
        if (i - start > TRAILERS_MAX)
            return WL_HTTP_PARSE_BAD;
        if (empty) {
            *pos = i;
            return WL_HTTP_PARSE_OK;
        }
    }
}

wl_http_parse_status wl_http_chunked_scan(const char *buf, size_t len, size_t max_decoded,
                                          size_t *encoded_len, size_t *decoded_len)
{
    size_t pos = 0, total = 0;
    for (;;) {
        size_t size;
        wl_http_parse_status st = chunk_size_line(buf, len, &pos, &size);
        if (st != WL_HTTP_PARSE_OK)
            return st;
        if (size == 0)
            break;
        if (size > max_decoded - total)
            return WL_HTTP_PARSE_TOO_LARGE;
        if (len - pos < size + 2)
            return WL_HTTP_PARSE_INCOMPLETE;
        if (buf[pos + size] != '\r' || buf[pos + size + 1] != '\n')
            return WL_HTTP_PARSE_BAD;
        pos += size + 2;
        total += size;
    }
    wl_http_parse_status st = skip_trailers(buf, len, &pos);
    if (st != WL_HTTP_PARSE_OK)
        return st;
    *encoded_len = pos;
    *decoded_len = total;
    return WL_HTTP_PARSE_OK;
}

size_t wl_http_chunked_decode(char *buf, size_t encoded_len)
{
    size_t pos = 0, out = 0;
    for (;;) {
        size_t size;
        if (chunk_size_line(buf, encoded_len, &pos, &size) != WL_HTTP_PARSE_OK || size == 0)
            return out;
        memmove(buf + out, buf + pos, size); /* out <= pos: moves left only */
        out += size;
        pos += size + 2;
    }
}

wl_slice wl_http_header_get(const wl_http_request *req, const char *name)
{
    for (unsigned i = 0; i < req->nheaders; i++)
        if (wl_slice_ieq(req->headers[i].name, name))
            return req->headers[i].value;
    return wl_slice_make(NULL, 0);
}

int wl_http_parse_status_code(wl_http_parse_status st)
{
    switch (st) {
    case WL_HTTP_PARSE_TOO_LARGE:
        return 431;
    case WL_HTTP_PARSE_VERSION:
        return 505;
    case WL_HTTP_PARSE_UNSUPPORTED_TE:
        return 501;
    default:
        return 400;
    }
}
