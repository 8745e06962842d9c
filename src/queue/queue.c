/* queue.c - what every queue backend shares: the backend registry, batch
 * framing in caller memory, and the text form of positions. */
#include "queue/queue.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/embedded.h"
#include "queue/record.h"

static const wl_queue_ops *const backends[] = {
    &wl_queue_embedded_ops,
};

const wl_queue_ops *wl_queue_backend(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (name && strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

wl_status wl_queue_open(const char *backend, const wl_queue_config *cfg, wl_queue **out)
{
    const wl_queue_ops *ops = wl_queue_backend(backend);
    if (!ops)
        return WL_EUNSUPPORTED;
    if (!cfg || !out)
        return WL_EINVAL;
    return ops->open(cfg, out);
}

wl_status wl_queue_consumer_open(const char *backend, const wl_queue_config *cfg,
                                 wl_queue_consumer **out)
{
    const wl_queue_ops *ops = wl_queue_backend(backend);
    if (!ops)
        return WL_EUNSUPPORTED;
    if (!cfg || !out)
        return WL_EINVAL;
    return ops->consumer_open(cfg, out);
}

/* ---- batches ------------------------------------------------------------ */

wl_status wl_queue_batch_init(wl_queue_batch *b, size_t cap)
{
    memset(b, 0, sizeof *b);
    if (cap <= WL_RECORD_HEADER)
        return WL_EINVAL;
    b->buf = malloc(cap);
    if (!b->buf)
        return WL_ENOMEM;
    b->cap = cap;
    return WL_OK;
}

void wl_queue_batch_release(wl_queue_batch *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

uint8_t *wl_queue_batch_reserve(wl_queue_batch *b, size_t max_payload)
{
    if (max_payload > WL_RECORD_MAX_PAYLOAD || b->cap - b->len < WL_RECORD_HEADER ||
        b->cap - b->len - WL_RECORD_HEADER < max_payload)
        return NULL;
    return b->buf + b->len + WL_RECORD_HEADER;
}

void wl_queue_batch_commit(wl_queue_batch *b, size_t payload_len)
{
    if (payload_len == 0)
        return;
    assert(payload_len <= WL_RECORD_MAX_PAYLOAD);
    assert(b->cap - b->len >= WL_RECORD_HEADER + payload_len);
    wl_record_frame(b->buf + b->len, payload_len);
    b->len += WL_RECORD_HEADER + payload_len;
    b->count++;
}

/* ---- positions ---------------------------------------------------------- */

void wl_queue_pos_init(wl_queue_pos *pos)
{
    memset(pos, 0, sizeof *pos);
}

wl_status wl_queue_pos_format(const wl_queue_pos *pos, char *buf, size_t cap, size_t *len)
{
    size_t n = (size_t)snprintf(buf, cap, "wlq1");
    if (n >= cap)
        return WL_ETOOBIG;
    for (unsigned i = 0; i < WL_QUEUE_MAX_PARTITIONS; i++) {
        const wl_queue_part_pos *pp = &pos->part[i];
        if (pp->segment == 0 && pp->offset == 0)
            continue;
        int w = snprintf(buf + n, cap - n, " %u:%" PRIu64 ":%" PRIu64, i, pp->segment, pp->offset);
        if (w < 0 || (size_t)w >= cap - n)
            return WL_ETOOBIG;
        n += (size_t)w;
    }
    *len = n;
    return WL_OK;
}

/* A decimal number without sign, leading '+' or overflow. */
static int parse_u64(const char **s, const char *end, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (p == end || *p < '0' || *p > '9')
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *s = p;
    *out = v;
    return 0;
}

static int expect(const char **s, const char *end, char c)
{
    if (*s == end || **s != c)
        return -1;
    (*s)++;
    return 0;
}

wl_status wl_queue_pos_parse(const char *s, size_t len, wl_queue_pos *out)
{
    const char *p = s, *end = s + len;
    wl_queue_pos_init(out);
    if (len < 4 || memcmp(s, "wlq1", 4) != 0)
        return WL_EINVAL;
    p += 4;
    long last = -1; /* partitions must ascend: one canonical form per position */
    while (p < end) {
        uint64_t part, seg, off;
        if (expect(&p, end, ' ') || parse_u64(&p, end, &part) || expect(&p, end, ':') ||
            parse_u64(&p, end, &seg) || expect(&p, end, ':') || parse_u64(&p, end, &off) ||
            part >= WL_QUEUE_MAX_PARTITIONS || (long)part <= last)
            goto bad;
        out->part[part].segment = seg;
        out->part[part].offset = off;
        last = (long)part;
    }
    return WL_OK;
bad:
    wl_queue_pos_init(out);
    return WL_EINVAL;
}
