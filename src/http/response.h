/* response.h - building HTTP/1.1 responses into a wl_buf.
 *
 * Every response carries Date, Content-Length (except a 204, which must not)
 * and, when the connection will close, "Connection: close". Bodies of HEAD
 * responses are left out by passing head_only. Errors are RFC 7807 problem+json. */
#ifndef WL_HTTP_RESPONSE_H
#define WL_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

const char *wl_http_reason(int status);

/* Status line + Date + (Content-Type) + Content-Length (none for 204) +
 * (Connection: close).
 * The head is left open: add headers with wl_resp_header(), then
 * wl_resp_end(). content_type may be NULL. */
void wl_resp_start(wl_buf *out, int status, const char *content_type, size_t content_length,
                   bool close);
void wl_resp_header(wl_buf *out, const char *name, const char *value, size_t value_len);
void wl_resp_end(wl_buf *out);

/* A complete response with a body (omitted when head_only). */
void wl_resp_body(wl_buf *out, int status, const char *content_type, const char *body, size_t len,
                  bool close, bool head_only);

/* A complete problem+json response: {"type":"/problems/<slug>","title",
 * "status","detail"}. detail may be NULL; strings are JSON-escaped. */
void wl_resp_problem(wl_buf *out, int status, const char *slug, const char *title,
                     const char *detail, bool close, bool head_only);

/* Appends s as a JSON string literal (quotes included). */
void wl_json_escape(wl_buf *out, const char *s, size_t len);

/* Current time as an IMF-fixdate, cached per thread per second. */
const char *wl_http_date(void);

#endif
