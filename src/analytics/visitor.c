/* visitor.c - keyed hash of (client address, user agent); see visitor.h. */
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
    key->alg = WL_VISITOR_SIPHASH;
    return WL_OK;
}

void wl_visitor_key_wipe(wl_visitor_key *key)
{
    sodium_memzero(key, sizeof *key);
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

_Static_assert(2 * crypto_shorthash_KEYBYTES == WL_VISITOR_KEY_BYTES, "two SipHash keys");
_Static_assert(crypto_shorthash_BYTES == 8, "SipHash-2-4: 64 bits");

/* Framing: one length byte, the address, then the user agent to the end. */
static uint64_t siphash_pair(const wl_visitor_key *key, const uint8_t *addr, size_t addr_len,
                             const char *ua, size_t ua_len)
{
    unsigned char in[1 + 16 + WL_VISITOR_UA_MAX], out[crypto_shorthash_BYTES];
    in[0] = (unsigned char)addr_len;
    if (addr_len) /* addr may be NULL then */
        memcpy(in + 1, addr, addr_len);
    if (ua_len)
        memcpy(in + 1 + addr_len, ua, ua_len);
    unsigned char k[crypto_shorthash_KEYBYTES]; /* both halves: every key bit counts */
    for (size_t i = 0; i < sizeof k; i++)
        k[i] = key->bytes[i] ^ key->bytes[i + sizeof k];
    crypto_shorthash(out, in, 1 + addr_len + ua_len, k);
    sodium_memzero(k, sizeof k);
    sodium_memzero(in, 1 + addr_len); /* the address, like BLAKE2b's state below */
    return load_le64(out);
}

static uint64_t blake2b_pair(const wl_visitor_key *key, const uint8_t *addr, size_t addr_len,
                             const char *ua, size_t ua_len)
{
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

uint64_t wl_visitor_hash(const wl_visitor_key *key, const uint8_t *addr, size_t addr_len,
                         const char *ua, size_t ua_len)
{
    if (addr_len > 16)
        addr_len = 16;
    if (is_v4_mapped(addr, addr_len)) {
        addr += 12;
        addr_len = 4;
    }
    if (ua_len > WL_VISITOR_UA_MAX)
        ua_len = WL_VISITOR_UA_MAX;
    return key->alg == WL_VISITOR_SIPHASH ? siphash_pair(key, addr, addr_len, ua, ua_len)
                                          : blake2b_pair(key, addr, addr_len, ua, ua_len);
}
