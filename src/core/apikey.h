/* apikey.h - generation, format check and hashing of API keys (x-api-key).
 *
 * A key is "wl_" + 32 random base62 characters (~190 bits from the CSPRNG)
 * + 6 base62 characters of CRC-32 over everything before them, 41 bytes in
 * all, e.g. "wl_4fT0...Qz9a" + "0b1X3c". The checksum is not a secret and
 * not a MAC: it lets wl_apikey_plausible() drop typos and junk before any
 * database lookup, and lets secret scanners recognise leaked keys.
 *
 * The prefix shown in listings is "wl_" + the first 4 random characters
 * (API.md's "wl_xxxx"); it reveals ~24 of the ~190 random bits.
 *
 * Only SHA-256(key) is stored. A fast hash is right here, unlike for
 * passwords: with ~166 unknown random bits even after the prefix, nobody can
 * search the key space whatever the hash costs, and a deterministic unsalted
 * hash lets the store find a key by an indexed equality lookup, at the cost
 * of microseconds per request rather than Argon2's tens of milliseconds.
 *
 * Pure functions, safe from any thread; no allocation. */
#ifndef WL_APIKEY_H
#define WL_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

#define WL_APIKEY_TAG "wl_"
#define WL_APIKEY_TAG_LEN 3
#define WL_APIKEY_RANDOM_CHARS 32
#define WL_APIKEY_CHECK_CHARS 6
/* Length of a key, without NUL (41). */
#define WL_APIKEY_LEN (WL_APIKEY_TAG_LEN + WL_APIKEY_RANDOM_CHARS + WL_APIKEY_CHECK_CHARS)
/* Length of a prefix, without NUL (7). */
#define WL_APIKEY_PREFIX_LEN (WL_APIKEY_TAG_LEN + 4)
#define WL_APIKEY_DIGEST_LEN 32 /* == WL_APIKEY_HASH_LEN of store.h */

/* Makes a new key into key_out (NUL-terminated; cap >= WL_APIKEY_LEN + 1),
 * its prefix into prefix_out (NUL-terminated; prefix_cap >=
 * WL_APIKEY_PREFIX_LEN + 1) and its SHA-256 into hash_out. The key is the
 * only copy of the secret: show it once, store only the hash and prefix, and
 * wipe key_out (sodium_memzero) when done.
 * WL_ETOOBIG: a buffer is too small; WL_EINVAL: a NULL argument; WL_EIO:
 * libsodium could not initialise. */
wl_status wl_apikey_generate(char *key_out, size_t cap, char *prefix_out, size_t prefix_cap,
                             unsigned char hash_out[WL_APIKEY_DIGEST_LEN]);

/* SHA-256 of key[0..len) (need not be NUL-terminated; any bytes). */
void wl_apikey_hash(const char *key, size_t len, unsigned char out[WL_APIKEY_DIGEST_LEN]);

/* true when key[0..len) has the exact shape of a key this module makes:
 * length, "wl_" tag, base62 alphabet, matching checksum. A plausible key
 * may still be unknown or revoked; an implausible one never needs a lookup. */
bool wl_apikey_plausible(const char *key, size_t len);

/* Constant-time equality of two digests (sodium_memcmp). */
bool wl_apikey_hash_equal(const unsigned char a[WL_APIKEY_DIGEST_LEN],
                          const unsigned char b[WL_APIKEY_DIGEST_LEN]);

#endif
