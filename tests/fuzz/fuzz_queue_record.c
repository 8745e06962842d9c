/* fuzz_queue_record.c - libFuzzer target for the click-queue reader.
 *
 * The input is read three ways, all through the functions the embedded
 * consumer itself uses:
 *  1. as a whole sealed segment (wl_record_scan with SEALED|AT_EOF): it must
 *     consume every byte, and every delivered payload is decoded as a click
 *     event;
 *  2. as the same segment read in two steps - the first as an active segment
 *     cut at a point chosen by the input, the second sealed from where the
 *     first stopped - which must deliver exactly the same records, as a
 *     consumer resuming from a stored position must;
 *  3. as one click event; an event that decodes must re-encode to the very
 *     same bytes (the encoding is canonical, so decode is strict enough). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <isa-l/crc.h>

#include "fuzz_check.h"
#include "analytics/event.h"
#include "queue/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Running digest of the delivered records, to compare two readings. */
typedef struct digest {
    uint32_t crc;
    uint64_t records;
} digest;

static void check_event(const uint8_t *buf, size_t len)
{
    wl_click_event ev;
    wl_status st = wl_click_event_decode(buf, len, &ev);
    FUZZ_REQUIRE(st == WL_OK || st == WL_ECORRUPT || st == WL_EUNSUPPORTED);
    if (st != WL_OK)
        return;
    FUZZ_REQUIRE(wl_click_event_encoded_max(&ev) == len);
    uint8_t *again = malloc(len);
    size_t n = 0;
    FUZZ_REQUIRE(again && wl_click_event_encode(&ev, again, len, &n) == WL_OK);
    FUZZ_REQUIRE(n == len && memcmp(again, buf, len) == 0);
    free(again);
}

static int on_record(void *ctx, const uint8_t *payload, size_t len)
{
    digest *d = ctx;
    FUZZ_REQUIRE(len >= 1 && len <= WL_RECORD_MAX_PAYLOAD);
    d->crc = crc32_gzip_refl(d->crc, payload, len);
    d->records++;
    check_event(payload, len);
    return 0;
}

static digest scan_whole(const uint8_t *buf, size_t len)
{
    digest d = {0, 0};
    wl_record_scan_result res;
    wl_record_scan(buf, len, WL_RECORD_AT_EOF | WL_RECORD_SEALED, UINT32_MAX, on_record, &d, &res);
    FUZZ_REQUIRE(res.consumed == len && !res.need_more && !res.stopped);
    FUZZ_REQUIRE(res.records == d.records);
    FUZZ_REQUIRE(res.corrupt_bytes + res.torn_bytes <= len);
    return d;
}

static digest scan_in_two(const uint8_t *buf, size_t len, size_t cut)
{
    digest d = {0, 0};
    wl_record_scan_result res;
    wl_record_scan(buf, cut, WL_RECORD_AT_EOF, UINT32_MAX, on_record, &d, &res);
    FUZZ_REQUIRE(res.consumed <= cut);
    size_t at = res.consumed;
    wl_record_scan(buf + at, len - at, WL_RECORD_AT_EOF | WL_RECORD_SEALED, UINT32_MAX, on_record,
                   &d, &res);
    FUZZ_REQUIRE(at + res.consumed == len);
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_event(data, size);
    if (size < 2)
        return 0;
    /* Copy into an exact-size buffer after the first two (control) bytes, so
     * ASan sees any read past the segment's end. */
    size_t len = size - 2;
    uint8_t *seg = malloc(len ? len : 1);
    FUZZ_REQUIRE(seg);
    memcpy(seg, data + 2, len);
    size_t cut = len ? ((size_t)data[0] << 8 | data[1]) % (len + 1) : 0;
    digest whole = scan_whole(seg, len);
    digest split = scan_in_two(seg, len, cut);
    FUZZ_REQUIRE(whole.records == split.records && whole.crc == split.crc);
    free(seg);
    return 0;
}
