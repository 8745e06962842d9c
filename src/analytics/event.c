/* event.c - click event encoding (see event.h for the byte layout).
 *
 * Decoding is written for hostile input: every read goes through a cursor
 * that checks the remaining length first, so a malformed record from a
 * damaged queue segment yields WL_ECORRUPT, never an out-of-bounds read. */
#include "analytics/event.h"

#include <string.h>

static size_t addr_len(uint8_t family)
{
    return family == WL_ADDR_IPV4 ? 4 : family == WL_ADDR_IPV6 ? 16 : 0;
}

static int family_valid(uint8_t family)
{
    return family == WL_ADDR_NONE || family == WL_ADDR_IPV4 || family == WL_ADDR_IPV6;
}

static size_t cap_len(size_t len, size_t cap)
{
    return len < cap ? len : cap;
}

size_t wl_click_event_encoded_max(const wl_click_event *ev)
{
    if (!ev)
        return WL_CLICK_EVENT_MAX_ENCODED;
    return WL_CLICK_EVENT_FIXED + addr_len(ev->addr_family) + ev->key.len +
           cap_len(ev->referrer.len, WL_CLICK_REFERRER_MAX) +
           cap_len(ev->user_agent.len, WL_CLICK_UA_MAX);
}

/* Writer: the caller has already checked that everything fits. */
static uint8_t *put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put_i64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(u >> (8 * i));
    return p + 8;
}

static uint8_t *put_bytes(uint8_t *p, const char *src, size_t n)
{
    if (n)
        memcpy(p, src, n);
    return p + n;
}

static wl_status check_encodable(const wl_click_event *ev)
{
    if (ev->version != 0 && ev->version != WL_CLICK_EVENT_VERSION)
        return WL_EUNSUPPORTED;
    if (ev->method > WL_CLICK_HEAD || !family_valid(ev->addr_family))
        return WL_EINVAL;
    if (ev->key.len == 0 || ev->key.len > WL_CLICK_KEY_MAX || !ev->key.ptr)
        return WL_EINVAL;
    if ((ev->referrer.len && !ev->referrer.ptr) || (ev->user_agent.len && !ev->user_agent.ptr))
        return WL_EINVAL;
    return WL_OK;
}

wl_status wl_click_event_encode(const wl_click_event *ev, uint8_t *buf, size_t cap, size_t *len)
{
    wl_status st = check_encodable(ev);
    if (st != WL_OK)
        return st;
    size_t need = wl_click_event_encoded_max(ev);
    if (need > cap)
        return WL_ETOOBIG;
    size_t ref_len = cap_len(ev->referrer.len, WL_CLICK_REFERRER_MAX);
    size_t ua_len = cap_len(ev->user_agent.len, WL_CLICK_UA_MAX);
    uint8_t *p = buf;
    *p++ = WL_CLICK_EVENT_VERSION;
    p = put_i64(p, ev->time_ms);
    *p++ = ev->method;
    *p++ = ev->addr_family;
    p = put_bytes(p, (const char *)ev->addr, addr_len(ev->addr_family));
    *p++ = (uint8_t)ev->key.len;
    p = put_bytes(p, ev->key.ptr, ev->key.len);
    p = put_u16(p, ref_len);
    p = put_bytes(p, ev->referrer.ptr, ref_len);
    p = put_u16(p, ua_len);
    p = put_bytes(p, ev->user_agent.ptr, ua_len);
    *len = (size_t)(p - buf);
    return WL_OK;
}

/* Reader cursor: each take_* fails (returns 0) instead of overrunning. */
typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor;

static int take(cursor *c, size_t n, const uint8_t **out)
{
    if (c->left < n)
        return 0;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 1;
}

static int take_u8(cursor *c, uint8_t *v)
{
    const uint8_t *b;
    if (!take(c, 1, &b))
        return 0;
    *v = b[0];
    return 1;
}

static int take_u16(cursor *c, size_t *v)
{
    const uint8_t *b;
    if (!take(c, 2, &b))
        return 0;
    *v = (size_t)b[0] | (size_t)b[1] << 8;
    return 1;
}

static int take_i64(cursor *c, int64_t *v)
{
    const uint8_t *b;
    if (!take(c, 8, &b))
        return 0;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)b[i] << (8 * i);
    *v = (int64_t)u;
    return 1;
}

/* A length-prefixed string no longer than max (and, for keys, not empty). */
static int take_str(cursor *c, size_t len, size_t min, size_t max, wl_slice *out)
{
    const uint8_t *b;
    if (len < min || len > max || !take(c, len, &b))
        return 0;
    *out = wl_slice_make((const char *)b, len);
    return 1;
}

static wl_status decode_v1(cursor *c, wl_click_event *out)
{
    const uint8_t *addr;
    uint8_t key_len;
    size_t ref_len, ua_len;
    if (!take_i64(c, &out->time_ms) || !take_u8(c, &out->method) || !take_u8(c, &out->addr_family))
        return WL_ECORRUPT;
    if (out->method > WL_CLICK_HEAD || !family_valid(out->addr_family))
        return WL_ECORRUPT;
    size_t alen = addr_len(out->addr_family);
    if (!take(c, alen, &addr))
        return WL_ECORRUPT;
    memset(out->addr, 0, sizeof out->addr);
    if (alen)
        memcpy(out->addr, addr, alen);
    if (!take_u8(c, &key_len) || !take_str(c, key_len, 1, WL_CLICK_KEY_MAX, &out->key))
        return WL_ECORRUPT;
    if (!take_u16(c, &ref_len) || !take_str(c, ref_len, 0, WL_CLICK_REFERRER_MAX, &out->referrer))
        return WL_ECORRUPT;
    if (!take_u16(c, &ua_len) || !take_str(c, ua_len, 0, WL_CLICK_UA_MAX, &out->user_agent))
        return WL_ECORRUPT;
    return c->left == 0 ? WL_OK : WL_ECORRUPT;
}

wl_status wl_click_event_decode(const uint8_t *buf, size_t len, wl_click_event *out)
{
    cursor c = {buf, len};
    uint8_t version;
    memset(out, 0, sizeof *out);
    if (!take_u8(&c, &version))
        return WL_ECORRUPT;
    if (version != WL_CLICK_EVENT_VERSION)
        return WL_EUNSUPPORTED;
    out->version = version;
    wl_status st = decode_v1(&c, out);
    if (st != WL_OK)
        memset(out, 0, sizeof *out);
    return st;
}
