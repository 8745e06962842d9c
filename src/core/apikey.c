/* apikey.c - API key generation and checks (see apikey.h for the format).
 *
 * Base62 characters are drawn by rejection sampling: a random byte is used
 * only when it is below 248 (= 4 * 62), so each of the 62 characters is
 * exactly equally likely. Taking every byte modulo 62 would make the first
 * 8 characters slightly more likely and cost entropy. */
#include "core/apikey.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <isa-l/crc.h>

#include "store/store.h"

/* The store keeps exactly the digest this module makes. */
_Static_assert(WL_APIKEY_DIGEST_LEN == WL_APIKEY_HASH_LEN, "api key digest size");

static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc = -1;

static void sodium_setup(void)
{
    sodium_rc = sodium_init();
}

static bool b62_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* Fills out[0..n) with uniformly random base62 characters. */
static void random_b62(char *out, size_t n)
{
    unsigned char pool[64];
    size_t used = sizeof pool, i = 0;
    while (i < n) {
        if (used == sizeof pool) {
            randombytes_buf(pool, sizeof pool);
            used = 0;
        }
        unsigned char b = pool[used++];
        if (b < 248)
            out[i++] = B62[b % 62];
    }
    sodium_memzero(pool, sizeof pool);
}

/* Writes the fixed-width base62 CRC-32 of key[0..len) (62^6 > 2^32). */
static void checksum_b62(const char *key, size_t len, char out[WL_APIKEY_CHECK_CHARS])
{
    uint32_t c = crc32_gzip_refl(0, (const unsigned char *)key, len); /* = zlib crc32 */
    for (int i = WL_APIKEY_CHECK_CHARS - 1; i >= 0; i--) {
        out[i] = B62[c % 62];
        c /= 62;
    }
}

wl_status wl_apikey_generate(char *key_out, size_t cap, char *prefix_out, size_t prefix_cap,
                             unsigned char hash_out[WL_APIKEY_DIGEST_LEN])
{
    if (!key_out || !prefix_out || !hash_out)
        return WL_EINVAL;
    if (cap < WL_APIKEY_LEN + 1 || prefix_cap < WL_APIKEY_PREFIX_LEN + 1)
        return WL_ETOOBIG;
    pthread_once(&sodium_once, sodium_setup);
    if (sodium_rc < 0)
        return WL_EIO;
    size_t body = WL_APIKEY_TAG_LEN + WL_APIKEY_RANDOM_CHARS;
    memcpy(key_out, WL_APIKEY_TAG, WL_APIKEY_TAG_LEN);
    random_b62(key_out + WL_APIKEY_TAG_LEN, WL_APIKEY_RANDOM_CHARS);
    checksum_b62(key_out, body, key_out + body);
    key_out[WL_APIKEY_LEN] = '\0';
    memcpy(prefix_out, key_out, WL_APIKEY_PREFIX_LEN);
    prefix_out[WL_APIKEY_PREFIX_LEN] = '\0';
    wl_apikey_hash(key_out, WL_APIKEY_LEN, hash_out);
    return WL_OK;
}

void wl_apikey_hash(const char *key, size_t len, unsigned char out[WL_APIKEY_DIGEST_LEN])
{
    crypto_hash_sha256(out, (const unsigned char *)key, len);
}

bool wl_apikey_plausible(const char *key, size_t len)
{
    if (!key || len != WL_APIKEY_LEN || memcmp(key, WL_APIKEY_TAG, WL_APIKEY_TAG_LEN) != 0)
        return false;
    for (size_t i = WL_APIKEY_TAG_LEN; i < len; i++)
        if (!b62_char(key[i]))
            return false;
    size_t body = WL_APIKEY_TAG_LEN + WL_APIKEY_RANDOM_CHARS;
    char want[WL_APIKEY_CHECK_CHARS];
    checksum_b62(key, body, want);
    return memcmp(want, key + body, WL_APIKEY_CHECK_CHARS) == 0;
}

bool wl_apikey_hash_equal(const unsigned char a[WL_APIKEY_DIGEST_LEN],
                          const unsigned char b[WL_APIKEY_DIGEST_LEN])
{
    return sodium_memcmp(a, b, WL_APIKEY_DIGEST_LEN) == 0;
}
