/* response.c - status lines, headers and problem+json bodies. */
#include "http/response.h"

#include <stdio.h>
#include <time.h>

const char *wl_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

const char *wl_http_date(void)
{
    static _Thread_local char date[40];
    static _Thread_local time_t cached = -1;
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return date;
}

void wl_resp_start(wl_buf *out, int status, const char *content_type, size_t content_length,
                   bool close)
{
    wl_buf_addf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, wl_http_reason(status),
                wl_http_date());
    if (content_type) {
        wl_buf_adds(out, "Content-Type: ");
        wl_buf_adds(out, content_type);
        wl_buf_adds(out, "\r\n");
    }
    /* RFC 9110 8.6: a 204 never has a body and MUST NOT carry Content-Length. */
    if (status != 204) {
        wl_buf_adds(out, "Content-Length: ");
        wl_buf_add_u64(out, content_length);
        wl_buf_adds(out, "\r\n");
    }
    if (close)
        wl_buf_adds(out, "Connection: close\r\n");
}

void wl_resp_header(wl_buf *out, const char *name, const char *value, size_t value_len)
{
    wl_buf_adds(out, name);
    wl_buf_add(out, ": ", 2);
    wl_buf_add(out, value, value_len);
    wl_buf_add(out, "\r\n", 2);
}

void wl_resp_end(wl_buf *out)
{
    wl_buf_add(out, "\r\n", 2);
}

void wl_resp_body(wl_buf *out, int status, const char *content_type, const char *body, size_t len,
                  bool close, bool head_only)
{
    wl_resp_start(out, status, content_type, len, close);
    wl_resp_end(out);
    if (!head_only)
        wl_buf_add(out, body, len);
}

void wl_json_escape(wl_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    wl_buf_add(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            wl_buf_add(out, esc, 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            wl_buf_add(out, esc, 6);
        } else {
            wl_buf_add(out, &s[i], 1);
        }
    }
    wl_buf_add(out, "\"", 1);
}

void wl_resp_problem(wl_buf *out, int status, const char *slug, const char *title,
                     const char *detail, bool close, bool head_only)
{
    char body[1024];
    wl_buf tmp = WL_BUF_INIT;
    tmp.data = body;
    tmp.cap = sizeof(body);
    /* tmp uses the stack while it fits; wl_buf_reserve() would realloc a
     * stack pointer, so fall back to a heap buffer when details are long. */
    size_t need = 96 + strlen(slug) + 6 * strlen(title) + (detail ? 6 * strlen(detail) : 0);
    if (need > sizeof(body)) {
        tmp.data = NULL;
        tmp.cap = 0;
    }
    wl_buf_adds(&tmp, "{\"type\":\"/problems/");
    wl_buf_adds(&tmp, slug);
    wl_buf_adds(&tmp, "\",\"title\":");
    wl_json_escape(&tmp, title, strlen(title));
    wl_buf_addf(&tmp, ",\"status\":%d", status);
    if (detail) {
        wl_buf_adds(&tmp, ",\"detail\":");
        wl_json_escape(&tmp, detail, strlen(detail));
    }
    wl_buf_adds(&tmp, "}");
    wl_resp_body(out, status, "application/problem+json", tmp.data, tmp.len, close, head_only);
    if (tmp.data != body)
        wl_buf_release(&tmp);
}
