/* record.h - the frame around every record in the click queue, and the one
 * scanner that turns a span of segment bytes back into records.
 *
 * Frame (little-endian, no padding):
 *
 *   u8[4] magic    C7 57 4C 31 ("\xC7WL1"): marks a frame start so a reader
 *                  can resynchronise after damage; a future frame format
 *                  gets a new magic
 *   u32   length   payload bytes, 1..WL_RECORD_MAX_PAYLOAD
 *   u32   crc32    CRC-32 (zlib's, ISO-HDLC) over the 4 length bytes, then the payload, so a
 *                  damaged length is caught as surely as damaged payload
 *   ...   payload  (a click event starts with its own version byte)
 *
 * The writer (wl_queue_batch_commit) and every reader (the embedded log's
 * consumer, the fuzzer) go through the functions below, so there is exactly
 * one definition of "a valid record". Nothing here allocates or does I/O. */
#ifndef WL_QUEUE_RECORD_H
#define WL_QUEUE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define WL_RECORD_HEADER 12
#define WL_RECORD_MAX_PAYLOAD (64u * 1024u)
#define WL_RECORD_MAX_FRAME (WL_RECORD_HEADER + WL_RECORD_MAX_PAYLOAD)

/* One decoded frame; payload points into the scanned buffer. */
typedef struct wl_record {
    const uint8_t *payload;
    size_t payload_len;
    size_t frame_len; /* header + payload */
} wl_record;

/* Writes the header into frame[0..WL_RECORD_HEADER) for the payload already
 * at frame + WL_RECORD_HEADER. payload_len must be 1..WL_RECORD_MAX_PAYLOAD. */
void wl_record_frame(uint8_t *frame, size_t payload_len);

/* Decodes the frame starting at buf[0]:
 *   WL_OK       a complete, valid frame: *out is set
 *   WL_EAGAIN   buf is a plausible prefix of a frame (magic matches as far as
 *               it goes, length plausible once present) but is too short
 *   WL_ECORRUPT no frame starts here (bad magic, implausible length, or a
 *               complete frame whose checksum does not match) */
wl_status wl_record_decode(const uint8_t *buf, size_t len, wl_record *out);

/* Where the next frame may start after a bad one at buf[0]: the smallest
 * i >= 1 at which wl_record_decode() does not say WL_ECORRUPT, or len when
 * there is none. */
size_t wl_record_resync(const uint8_t *buf, size_t len);

/* What the scanner may assume about the bytes it is given. */
enum wl_record_scan_flags {
    WL_RECORD_AT_EOF = 1u << 0, /* buf ends where the segment file ends (for now) */
    WL_RECORD_SEALED = 1u << 1, /* the segment will never grow again */
};

/* Called once per valid record, in order; payload lives only during the
 * call. Return non-zero to stop after this record. */
typedef int (*wl_record_fn)(void *ctx, const uint8_t *payload, size_t len);

typedef struct wl_record_scan_result {
    size_t consumed;          /* the caller may advance its position by this */
    uint32_t records;         /* valid records delivered */
    bool stopped;             /* max_records reached or the callback said stop */
    bool need_more;           /* consumed stops at an incomplete frame */
    uint64_t corrupt_records; /* damaged regions skipped (one per run of bad bytes) */
    uint64_t corrupt_bytes;   /* bytes in those regions */
    uint64_t torn_bytes;      /* incomplete tail of a sealed segment, dropped */
} wl_record_scan_result;

/* Walks buf[0..len) frame by frame, delivering up to max_records records.
 *
 * Damage (WL_ECORRUPT) is skipped by resynchronising on the next plausible
 * frame. An incomplete frame is "not yet written" and stops the scan with
 * need_more, unless the segment is sealed and buf reaches its end: then it is
 * a torn tail (or a damaged length) and is skipped too. So a scan never
 * delivers part of a record, and with SEALED|AT_EOF it always consumes all
 * of buf unless stopped. */
void wl_record_scan(const uint8_t *buf, size_t len, unsigned flags, uint32_t max_records,
                    wl_record_fn fn, void *ctx, wl_record_scan_result *res);

#endif
