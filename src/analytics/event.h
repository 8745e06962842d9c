/* event.h - the click event: what the redirect path records for each hit and
 * the bytes it is stored as in the click queue.
 *
 * Encoding (version 1, all integers little-endian, no padding):
 *
 *   u8   version        WL_CLICK_EVENT_VERSION; decoders reject others
 *   i64  time_ms        Unix milliseconds of the redirect
 *   u8   method         0 GET, 1 HEAD
 *   u8   addr_family    0 none, 4 IPv4, 6 IPv6 (our codes, not AF_*)
 *   ...  addr           0, 4 or 16 bytes, by addr_family
 *   u8   key_len        1..WL_CLICK_KEY_MAX
 *   ...  key
 *   u16  referrer_len   0..WL_CLICK_REFERRER_MAX
 *   ...  referrer
 *   u16  ua_len         0..WL_CLICK_UA_MAX
 *   ...  user_agent
 *
 * The event must end exactly there: trailing bytes are corruption, because a
 * new field means a new version, never a silent extension.
 *
 * Referrer and user agent are truncated (not rejected) at their caps, since
 * clients control them and the redirect must not fail because of them. The
 * cut is on a byte boundary and may split a UTF-8 sequence: readers treat
 * these fields as bytes. Keys are never truncated (a cut key would count the
 * click for another link); an over-long key is refused. */
#ifndef WL_ANALYTICS_EVENT_H
#define WL_ANALYTICS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"
#include "core/status.h"

#define WL_CLICK_EVENT_VERSION 1
#define WL_CLICK_KEY_MAX 255
#define WL_CLICK_REFERRER_MAX 512
#define WL_CLICK_UA_MAX 512

enum wl_click_method {
    WL_CLICK_GET = 0,
    WL_CLICK_HEAD = 1,
};

enum wl_click_addr_family {
    WL_ADDR_NONE = 0,
    WL_ADDR_IPV4 = 4, /* addr[0..4) in network order */
    WL_ADDR_IPV6 = 6, /* addr[0..16) in network order */
};

/* Fixed bytes of an encoding: version, time, method, family, the three
 * length prefixes. */
#define WL_CLICK_EVENT_FIXED (1 + 8 + 1 + 1 + 1 + 2 + 2)
/* The longest encoding of any event: what a caller may reserve blindly. */
#define WL_CLICK_EVENT_MAX_ENCODED                                                                 \
    (WL_CLICK_EVENT_FIXED + 16 + WL_CLICK_KEY_MAX + WL_CLICK_REFERRER_MAX + WL_CLICK_UA_MAX)

typedef struct wl_click_event {
    uint8_t version; /* 0 or WL_CLICK_EVENT_VERSION when encoding; set by decode */
    int64_t time_ms;
    uint8_t method;      /* wl_click_method */
    uint8_t addr_family; /* wl_click_addr_family */
    uint8_t addr[16];
    /* Borrowed: encode copies them out; decode points them into its input,
     * so they live as long as the decoded buffer. */
    wl_slice key, referrer, user_agent;
} wl_click_event;

/* Exactly the number of bytes wl_click_event_encode() writes for ev (after
 * truncation), so a caller can reserve that much; with ev NULL, the worst
 * case for any event (WL_CLICK_EVENT_MAX_ENCODED). */
size_t wl_click_event_encoded_max(const wl_click_event *ev);

/* Encodes ev into buf[0..cap) and sets *len. WL_EINVAL when a field is out
 * of range (method, family, empty or over-long key), WL_EUNSUPPORTED for a
 * version other than 0/current, WL_ETOOBIG when cap is too small. Nothing
 * useful is left in buf on error. */
wl_status wl_click_event_encode(const wl_click_event *ev, uint8_t *buf, size_t cap, size_t *len);

/* Decodes buf[0..len) into *out; out's slices point into buf. WL_EUNSUPPORTED
 * for an unknown version byte, WL_ECORRUPT for anything else malformed
 * (short, trailing bytes, bad method/family, lengths over their caps).
 * Never reads outside buf. */
wl_status wl_click_event_decode(const uint8_t *buf, size_t len, wl_click_event *out);

#endif
