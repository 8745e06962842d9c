/* reply.c - response helpers shared by the handlers. */
#include <string.h>

#include "api/app.h"
#include "http/response.h"

static bool is_head(const wl_exchange *ex)
{
    return ex->req->method == WL_HTTP_HEAD;
}

static const char *title_of(int status)
{
    return wl_http_reason(status);
}

void wl_reply_problem(wl_exchange *ex, int status, const char *slug, const char *detail)
{
    ex->status = status;
    wl_resp_problem(ex->out, status, slug, title_of(status), detail, ex->close, is_head(ex));
}

void wl_reply_json(wl_exchange *ex, int status, const char *json, size_t len, const char *location)
{
    ex->status = status;
    wl_resp_start(ex->out, status, status == 204 ? NULL : "application/json", len, ex->close);
    if (location)
        wl_resp_header(ex->out, "Location", location, strlen(location));
    wl_resp_end(ex->out);
    if (!is_head(ex))
        wl_buf_add(ex->out, json, len);
}

bool wl_wants_html(const wl_http_request *req)
{
    wl_slice a = req->accept;
    for (size_t i = 0; i + 9 <= a.len; i++)
        if (strncasecmp(a.ptr + i, "text/html", 9) == 0)
            return true;
    return false;
}
