/* enrich_memo.c - the worker's memo of user-agent and referrer results
 * (contract: enrich_memo.h). */
#include "analytics/enrich_memo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define MEMO_SLOTS 256   /* per memo; a power of two */
#define REF_MEMO_MAX 256 /* longer referrers are parsed every time */

/* wl_ua_classify() reads only the first WL_UA_MAX_SCAN bytes, so those
 * (and the HEAD flag) are the memo key. */
typedef struct ua_slot {
    uint32_t len;
    bool used, head;
    wl_ua_info info; /* static strings (ua.h) */
    char ua[WL_UA_MAX_SCAN];
} ua_slot;

typedef struct ref_slot {
    uint32_t len;
    bool used;
    char ref[REF_MEMO_MAX];
    char host[WL_REFERRER_HOST_MAX + 1]; /* "" when there is none */
} ref_slot;

struct wl_enrich_memo {
    ua_slot ua[MEMO_SLOTS];
    ref_slot ref[MEMO_SLOTS];
};

wl_enrich_memo *wl_enrich_memo_new(void)
{
    return wl_xcalloc(1, sizeof(wl_enrich_memo));
}

void wl_enrich_memo_free(wl_enrich_memo *m)
{
    free(m);
}

/* A fast non-cryptographic hash of p[0..n), for picking a memo slot. */
static size_t memo_slot(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, v;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, p + i, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    v = 0;
    memcpy(&v, p + i, n - i);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ULL;
    return (size_t)(h >> 40) & (MEMO_SLOTS - 1);
}

const wl_ua_info *wl_enrich_memo_ua(wl_enrich_memo *m, const char *ua, size_t len, bool head)
{
    size_t n = len < WL_UA_MAX_SCAN ? len : WL_UA_MAX_SCAN;
    ua_slot *e = &m->ua[n ? memo_slot(ua, n) : 0];
    if (e->used && e->len == n && e->head == head && (!n || memcmp(e->ua, ua, n) == 0))
        return &e->info;
    wl_ua_classify(ua, n, head, &e->info);
    if (n)
        memcpy(e->ua, ua, n);
    e->len = (uint32_t)n;
    e->head = head;
    e->used = true;
    return &e->info;
}

const char *wl_enrich_memo_referrer(wl_enrich_memo *m, const char *ref, size_t len,
                                    char buf[WL_REFERRER_HOST_MAX + 1])
{
    if (len > REF_MEMO_MAX || !len) {
        wl_referrer_host(ref, len, buf, WL_REFERRER_HOST_MAX + 1);
        return buf;
    }
    ref_slot *e = &m->ref[memo_slot(ref, len)];
    if (!e->used || e->len != len || memcmp(e->ref, ref, len) != 0) {
        wl_referrer_host(ref, len, e->host, sizeof(e->host));
        memcpy(e->ref, ref, len);
        e->len = (uint32_t)len;
        e->used = true;
    }
    return e->host;
}
