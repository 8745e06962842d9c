/* visitor.c - keyed BLAKE2b of (client address, user agent); see visitor.h. */
#include "analytics/visitor.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

/* BLAKE2b personalisation (exactly 16 bytes): separates these hashes from any
 * other use of a key by mistake, and versions the input framing. */
static const unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES] = "warplink-vis-v1";

/* BLAKE2b's shortest output; we keep the first 8 bytes. */
#define DIGEST_BYTES crypto_generichash_blake2b_BYTES_MIN

wl_status wl_visitor_key_generate(wl_visitor_key *key)
{
    if (sodium_init() < 0)
        return WL_EIO;
    randombytes_buf(key->bytes, sizeof key->bytes);
    return WL_OK;
}

void wl_visitor_key_wipe(wl_visitor_key *key)
{
    sodium_memzero(key->bytes, sizeof key->bytes);
}

static bool is_v4_mapped(const uint8_t *a, size_t len)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return len == 16 && memcmp(a, prefix, sizeof prefix) == 0;
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t wl_visitor_hash(const wl_visitor_key *key, const uint8_t *addr, size_t addr_len,
                         const char *ua, size_t ua_len)
{
    if (addr_len > 16)
        addr_len = 16;
    if (is_v4_mapped(addr, addr_len)) {
        addr += 12;
        addr_len = 4;
    }
    /* Framing: one length byte, the address, then the user agent to the end. */
    unsigned char alen = (unsigned char)addr_len;
    unsigned char digest[DIGEST_BYTES];
    crypto_generichash_blake2b_state st;

    crypto_generichash_blake2b_init_salt_personal(&st, key->bytes, sizeof key->bytes, sizeof digest,
                                                  NULL, personal);
    crypto_generichash_blake2b_update(&st, &alen, 1);
    if (addr_len)
        crypto_generichash_blake2b_update(&st, addr, addr_len);
    if (ua_len)
        crypto_generichash_blake2b_update(&st, (const unsigned char *)ua, ua_len);
    crypto_generichash_blake2b_final(&st, digest, sizeof digest);
    sodium_memzero(&st, sizeof st);
    return load_le64(digest);
}
