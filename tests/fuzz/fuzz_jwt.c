/* fuzz_jwt.c - libFuzzer driver for wl_jwt_verify (and wl_jwt_sign).
 *
 * A random token almost never carries a valid HMAC, so feeding raw bytes
 * only explores the splitter and the header parser. The first input byte
 * therefore picks a mode:
 *   0: the rest is a token, verified as is;
 *   1: the rest is "header JSON \n payload JSON", encoded and MACed with the
 *      ring's key here, so the fuzzer reaches the payload parser and the
 *      claim rules behind a valid signature;
 *   2: as 1 with a fixed good header, the rest all payload;
 *   3: the rest seeds claim strings and times: sign, then verify must
 *      accept exactly what sign produced.
 * Invariants checked: no crash/leak/UB (sanitizers), and a token verified
 * as WL_OK names a non-empty sub and an exp in the future. */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jwt.h"

#define NOW 1800000000LL
#define ISS "warplink"
#define AUD "warplink-api"
#define GOOD_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"fz\"}"

static wl_jwt_keyring ring;
static const unsigned char SECRET[32] = "fuzzing-secret-0123456789abcdef";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    wl_jwt_keyring_init(&ring);
    if (wl_jwt_keyring_add(&ring, "fz", SECRET, sizeof SECRET) != WL_OK)
        abort();
    return 0;
}

static void check(const char *tok, size_t len)
{
    wl_jwt_claims c;
    wl_jwt_reason why;
    wl_status st = wl_jwt_verify(&ring, tok, len, ISS, AUD, NOW, &c, &why);
    if (st == WL_OK && (why != WL_JWT_R_OK || c.sub[0] == '\0' || c.exp <= NOW))
        abort();
    if (st != WL_OK && (st != WL_EDENIED || why == WL_JWT_R_OK))
        abort();
}

/* Writes b64(hdr).b64(body).b64(HMAC) into tok; returns its length. */
static size_t build(char *tok, size_t cap, const uint8_t *hdr, size_t hn, const uint8_t *body,
                    size_t bn)
{
    const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    if (sodium_base64_ENCODED_LEN(hn, v) + sodium_base64_ENCODED_LEN(bn, v) + 64 > cap)
        return 0;
    sodium_bin2base64(tok, cap, hdr, hn, v);
    size_t n = strlen(tok);
    tok[n++] = '.';
    sodium_bin2base64(tok + n, cap - n, body, bn, v);
    n += strlen(tok + n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)tok, n, SECRET);
    tok[n++] = '.';
    sodium_bin2base64(tok + n, cap - n, mac, sizeof mac, v);
    return n + strlen(tok + n);
}

static void signed_parts(const uint8_t *d, size_t n, bool fixed_header)
{
    static char tok[3 * 8192];
    const uint8_t *nl = fixed_header ? NULL : memchr(d, '\n', n);
    size_t len;
    if (fixed_header)
        len = build(tok, sizeof tok, (const uint8_t *)GOOD_HDR, strlen(GOOD_HDR), d, n);
    else if (nl)
        len = build(tok, sizeof tok, d, (size_t)(nl - d), nl + 1, n - (size_t)(nl - d) - 1);
    else
        return;
    if (len)
        check(tok, len);
}

/* Copies up to cap-1 bytes of fuzz data into a NUL-terminated string. */
static void take_str(char *dst, size_t cap, const uint8_t **d, size_t *n)
{
    size_t k = *n ? (*d)[0] % cap : 0;
    if (*n)
        (*d)++, (*n)--;
    if (k > *n)
        k = *n;
    memcpy(dst, *d, k);
    dst[k] = '\0';
    *d += k;
    *n -= k;
}

static void sign_round_trip(const uint8_t *d, size_t n)
{
    wl_jwt_claims c;
    memset(&c, 0, sizeof c);
    take_str(c.sub, sizeof c.sub, &d, &n);
    take_str(c.iss, sizeof c.iss, &d, &n);
    take_str(c.aud, sizeof c.aud, &d, &n);
    c.iat = NOW - (n ? d[0] : 0);
    c.exp = NOW + 1 + (n > 1 ? d[1] : 0);
    char tok[WL_JWT_MAX_TOKEN + 1];
    size_t len = 0;
    if (wl_jwt_sign(&ring, &c, tok, sizeof tok, &len) != WL_OK)
        return; /* empty or NUL-cut strings, or invalid UTF-8 for jansson */
    wl_jwt_claims got;
    if (c.iss[0] && c.aud[0] &&
        wl_jwt_verify(&ring, tok, len, c.iss, c.aud, NOW, &got, NULL) != WL_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0:
        check((const char *)d, n);
        break;
    case 1:
        signed_parts(d, n, false);
        break;
    case 2:
        signed_parts(d, n, true);
        break;
    default:
        sign_round_trip(d, n);
        break;
    }
    return 0;
}
