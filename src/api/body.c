/* body.c - JSON request bodies (jansson) and JSON response pieces. */
#include <string.h>

#include "api/handlers.h"
#include "core/clock.h"
#include "http/response.h"

json_t *wl_body_object(wl_exchange *ex)
{
    json_error_t err;
    wl_slice b = ex->req->body;
    json_t *obj = json_loadb(b.ptr ? b.ptr : "", b.len, JSON_REJECT_DUPLICATES, &err);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        wl_reply_problem(ex, 400, "invalid-body",
                         b.len ? "the body must be a JSON object" : "a JSON body is required");
        return NULL;
    }
    return obj;
}

int wl_body_string(json_t *obj, const char *name, const char **s, size_t *len)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *s = json_string_value(v);
    *len = json_string_length(v);
    return 1;
}

void wl_json_time(wl_buf *out, int64_t ms)
{
    if (!ms) {
        wl_buf_adds(out, "null");
        return;
    }
    char t[40];
    size_t n = wl_time_rfc3339(ms, t, sizeof(t));
    wl_buf_add(out, "\"", 1);
    wl_buf_add(out, t, n);
    wl_buf_add(out, "\"", 1);
}

void wl_link_json(const wl_app *app, const wl_link *link, int64_t viewer_id, wl_buf *out)
{
    wl_buf_adds(out, "{\"key\":");
    wl_json_escape(out, link->key, link->key_len);
    wl_buf_adds(out, ",\"short_url\":\"");
    wl_buf_adds(out, app->cfg.public_url); /* validated at start: no quotes */
    wl_buf_add(out, "/", 1);
    wl_buf_add(out, link->key, link->key_len); /* [A-Za-z0-9_-] only */
    wl_buf_adds(out, "\",\"long_url\":");
    wl_json_escape(out, link->long_url, link->long_url_len);
    wl_buf_adds(out, ",\"created_at\":");
    wl_json_time(out, link->created_at);
    wl_buf_adds(out, ",\"expires_at\":");
    wl_json_time(out, link->expires_at);
    wl_buf_adds(out, ",\"owner\":");
    wl_buf_adds(out, link->owner_id && link->owner_id == viewer_id ? "\"self\"" : "null");
    wl_buf_adds(out, "}");
}
