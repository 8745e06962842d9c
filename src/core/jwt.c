/* jwt.c - HS256 JSON Web Tokens: keyring, sign, verify (key file: jwt_keyfile.c).
 *
 * Design notes
 * - The verifier trusts nothing in a token before its signature checks out:
 *   the header is parsed only to find "alg" (which must already be the one
 *   algorithm we support) and "kid" (to pick a key from OUR ring). The
 *   payload JSON is not even base64-decoded until the MAC has matched, so an
 *   unauthenticated attacker can only reach the small header parser.
 * - The MAC is compared with sodium_memcmp (constant time) so response
 *   timing does not reveal how many leading signature bytes were right.
 * - Base64url is strict: no padding, no foreign characters, and libsodium
 *   rejects non-zero trailing bits, so each token has exactly one spelling.
 * - jansson parses with JSON_REJECT_DUPLICATES: {"alg":"none","alg":"HS256"}
 *   would otherwise mean different things to different parsers.
 * - Everything works in fixed stack buffers bounded by WL_JWT_MAX_TOKEN;
 *   the only heap use is jansson's, freed before returning. */
#include "core/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/slice.h"

#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define MAC_LEN crypto_auth_hmacsha256_BYTES

/* ---- keyring ---------------------------------------------------------- */

static bool kid_char_ok(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* kids are restricted to a JSON- and file-safe alphabet so they can be
 * written into the header and the key file without escaping. */
static bool kid_valid(const char *kid, size_t len)
{
    if (len == 0 || len > WL_JWT_KID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!kid_char_ok(kid[i]))
            return false;
    return true;
}

static int kid_find(const wl_jwt_keyring *kr, const char *kid, size_t len)
{
    for (unsigned i = 0; i < kr->count; i++) {
        const char *k = kr->keys[i].kid;
        if (strlen(k) == len && memcmp(k, kid, len) == 0)
            return (int)i;
    }
    return -1;
}

void wl_jwt_keyring_init(wl_jwt_keyring *kr)
{
    memset(kr, 0, sizeof *kr);
}

void wl_jwt_keyring_clear(wl_jwt_keyring *kr)
{
    sodium_memzero(kr, sizeof *kr);
}

wl_status wl_jwt_keyring_add_n(wl_jwt_keyring *kr, const char *kid, size_t kid_len,
                               const unsigned char *secret, size_t secret_len)
{
    if (!kid_valid(kid, kid_len) || !secret || secret_len < WL_JWT_SECRET_MIN ||
        secret_len > WL_JWT_SECRET_MAX)
        return WL_EINVAL;
    if (kid_find(kr, kid, kid_len) >= 0)
        return WL_EEXISTS;
    if (kr->count >= WL_JWT_MAX_KEYS)
        return WL_EFULL;
    wl_jwt_key *k = &kr->keys[kr->count];
    memcpy(k->kid, kid, kid_len);
    k->kid[kid_len] = '\0';
    memcpy(k->secret, secret, secret_len);
    k->secret_len = secret_len;
    if (kr->count == 0)
        kr->signer = 0;
    kr->count++;
    return WL_OK;
}

wl_status wl_jwt_keyring_add(wl_jwt_keyring *kr, const char *kid, const unsigned char *secret,
                             size_t secret_len)
{
    if (!kr || !kid)
        return WL_EINVAL;
    return wl_jwt_keyring_add_n(kr, kid, strnlen(kid, WL_JWT_KID_MAX + 1), secret, secret_len);
}

wl_status wl_jwt_keyring_set_signer(wl_jwt_keyring *kr, const char *kid)
{
    int i = kid ? kid_find(kr, kid, strlen(kid)) : -1;
    if (i < 0)
        return WL_ENOTFOUND;
    kr->signer = (unsigned)i;
    return WL_OK;
}

wl_status wl_jwt_keyring_remove(wl_jwt_keyring *kr, const char *kid)
{
    int i = kid ? kid_find(kr, kid, strlen(kid)) : -1;
    if (i < 0)
        return WL_ENOTFOUND;
    if ((unsigned)i == kr->signer)
        return WL_EBUSY;
    unsigned idx = (unsigned)i;
    memmove(&kr->keys[idx], &kr->keys[idx + 1], (kr->count - idx - 1) * sizeof kr->keys[0]);
    kr->count--;
    sodium_memzero(&kr->keys[kr->count], sizeof kr->keys[0]);
    if (kr->signer > idx)
        kr->signer--;
    return WL_OK;
}

/* ---- signing ---------------------------------------------------------- */

static void mac_compute(const wl_jwt_key *k, const char *msg, size_t len,
                        unsigned char mac[MAC_LEN])
{
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, k->secret, k->secret_len);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)msg, len);
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_memzero(&s, sizeof s);
}

/* Appends base64url(src) at out[*pos]; false when it would not fit in cap
 * (leaving room for the final NUL). */
static bool b64_append(char *out, size_t cap, size_t *pos, const void *src, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, B64_VARIANT); /* includes the NUL */
    if (need > cap - *pos)
        return false;
    sodium_bin2base64(out + *pos, need, src, n, B64_VARIANT);
    *pos += need - 1;
    return true;
}

static bool char_append(char *out, size_t cap, size_t *pos, char ch)
{
    if (cap - *pos < 2)
        return false;
    out[(*pos)++] = ch;
    out[*pos] = '\0';
    return true;
}

static bool claim_str_ok(const char *s, size_t arr_size)
{
    size_t n = strnlen(s, arr_size);
    return n > 0 && n < arr_size;
}

static bool claims_ok(const wl_jwt_claims *c)
{
    return claim_str_ok(c->sub, sizeof c->sub) && claim_str_ok(c->iss, sizeof c->iss) &&
           claim_str_ok(c->aud, sizeof c->aud) && c->iat >= 0 && c->exp > c->iat;
}

/* Serialises the payload with jansson so arbitrary claim strings are
 * escaped correctly. json_pack fails on strings that are not UTF-8 (or on
 * allocation failure, which the server treats as fatal elsewhere anyway). */
static wl_status payload_json(const wl_jwt_claims *c, char *buf, size_t cap, size_t *len)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", c->iss, "sub", c->sub, "aud", c->aud,
                          "iat", (json_int_t)c->iat, "exp", (json_int_t)c->exp);
    if (!o)
        return WL_EINVAL;
    *len = json_dumpb(o, buf, cap, JSON_COMPACT);
    json_decref(o);
    return *len > 0 && *len <= cap ? WL_OK : WL_ETOOBIG;
}

wl_status wl_jwt_sign(const wl_jwt_keyring *kr, const wl_jwt_claims *c, char *out, size_t cap,
                      size_t *len)
{
    if (!kr || kr->count == 0 || !c || !out || !claims_ok(c))
        return WL_EINVAL;
    const wl_jwt_key *k = &kr->keys[kr->signer];
    char hdr[96], body[WL_JWT_MAX_TOKEN];
    int hn =
        snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->kid);
    size_t bn = 0;
    wl_status st = payload_json(c, body, sizeof body, &bn);
    if (st != WL_OK)
        return st;
    if (hn <= 0 || (size_t)hn >= sizeof hdr)
        return WL_EINVAL; /* unreachable: kids are at most 32 bytes */

    size_t lim = cap < WL_JWT_MAX_TOKEN + 1 ? cap : WL_JWT_MAX_TOKEN + 1;
    size_t pos = 0;
    unsigned char mac[MAC_LEN];
    if (lim == 0 || !b64_append(out, lim, &pos, hdr, (size_t)hn) ||
        !char_append(out, lim, &pos, '.') || !b64_append(out, lim, &pos, body, bn))
        return WL_ETOOBIG;
    mac_compute(k, out, pos, mac);
    if (!char_append(out, lim, &pos, '.') || !b64_append(out, lim, &pos, mac, sizeof mac))
        return WL_ETOOBIG;
    if (len)
        *len = pos;
    return WL_OK;
}

/* ---- verification ----------------------------------------------------- */

typedef struct jwt_parts {
    wl_slice hdr, body, sig;
    size_t signed_len; /* bytes of "hdr.body" */
} jwt_parts;

static bool b64url_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* Splits into exactly three non-empty parts of base64url characters. */
static bool split_token(const char *t, size_t len, jwt_parts *p)
{
    size_t dots[2], nd = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (nd == 2)
                return false;
            dots[nd++] = i;
        } else if (!b64url_char(t[i])) {
            return false;
        }
    }
    if (nd != 2 || dots[0] == 0 || dots[1] == dots[0] + 1 || dots[1] + 1 == len)
        return false;
    p->hdr = wl_slice_make(t, dots[0]);
    p->body = wl_slice_make(t + dots[0] + 1, dots[1] - dots[0] - 1);
    p->sig = wl_slice_make(t + dots[1] + 1, len - dots[1] - 1);
    p->signed_len = dots[1];
    return true;
}

static bool b64_decode(wl_slice in, unsigned char *out, size_t cap, size_t *n)
{
    const char *end = NULL;
    return sodium_base642bin(out, cap, in.ptr, in.len, NULL, n, &end, B64_VARIANT) == 0 &&
           end == in.ptr + in.len;
}

/* Decodes a base64url part and parses it as a JSON object; NULL otherwise. */
static json_t *decode_object(wl_slice part)
{
    unsigned char buf[WL_JWT_MAX_TOKEN];
    size_t n = 0;
    if (!b64_decode(part, buf, sizeof buf, &n))
        return NULL;
    json_error_t err;
    json_t *o = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &err);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static bool json_str_eq(const json_t *v, const char *want)
{
    size_t n = strlen(want);
    return json_is_string(v) && json_string_length(v) == n &&
           memcmp(json_string_value(v), want, n) == 0;
}

/* Checks the header and picks the key; returns the reason it fails. */
static wl_jwt_reason check_header(const wl_jwt_keyring *kr, wl_slice hdr, const wl_jwt_key **key)
{
    json_t *h = decode_object(hdr);
    if (!h)
        return WL_JWT_R_BAD_HEADER;
    wl_jwt_reason r = WL_JWT_R_OK;
    const json_t *typ = json_object_get(h, "typ");
    const json_t *kid = json_object_get(h, "kid");
    int idx = -1;
    if (!json_str_eq(json_object_get(h, "alg"), "HS256"))
        r = WL_JWT_R_BAD_ALG;
    else if (json_object_get(h, "crit") ||
             (typ && !(json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0)))
        r = WL_JWT_R_BAD_HEADER;
    else if (!json_is_string(kid) ||
             (idx = kid_find(kr, json_string_value(kid), json_string_length(kid))) < 0)
        r = WL_JWT_R_UNKNOWN_KID;
    if (r == WL_JWT_R_OK)
        *key = &kr->keys[idx];
    json_decref(h);
    return r;
}

static bool check_signature(const wl_jwt_key *k, const char *token, const jwt_parts *p)
{
    unsigned char sig[MAC_LEN + 1], mac[MAC_LEN];
    size_t n = 0;
    if (!b64_decode(p->sig, sig, sizeof sig, &n) || n != MAC_LEN)
        return false;
    mac_compute(k, token, p->signed_len, mac);
    return sodium_memcmp(sig, mac, MAC_LEN) == 0;
}

static bool get_time(const json_t *o, const char *name, bool required, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!v)
        return !required;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool aud_matches(const json_t *v, const char *aud)
{
    if (json_is_string(v))
        return json_str_eq(v, aud);
    if (!json_is_array(v))
        return false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (json_str_eq(json_array_get(v, i), aud))
            return true;
    return false;
}

static wl_jwt_reason check_claims(const json_t *o, const char *iss, const char *aud, int64_t now,
                                  wl_jwt_claims *c)
{
    const json_t *sub = json_object_get(o, "sub");
    int64_t nbf = 0;
    if (!json_is_string(sub) || json_string_length(sub) == 0 ||
        json_string_length(sub) > WL_JWT_SUB_MAX || !get_time(o, "iat", true, &c->iat) ||
        !get_time(o, "exp", true, &c->exp) || !get_time(o, "nbf", false, &nbf))
        return WL_JWT_R_BAD_PAYLOAD;
    if (!json_str_eq(json_object_get(o, "iss"), iss))
        return WL_JWT_R_BAD_ISSUER;
    if (!aud_matches(json_object_get(o, "aud"), aud))
        return WL_JWT_R_BAD_AUDIENCE;
    if (c->exp <= now)
        return WL_JWT_R_EXPIRED;
    /* Written as x - leeway > now: x >= 0 so this cannot overflow. */
    if (c->iat - WL_JWT_LEEWAY_S > now || nbf - WL_JWT_LEEWAY_S > now)
        return WL_JWT_R_NOT_YET_VALID;
    memcpy(c->sub, json_string_value(sub), json_string_length(sub) + 1);
    return WL_JWT_R_OK;
}

static wl_jwt_reason verify_parts(const wl_jwt_keyring *kr, const char *token, size_t len,
                                  const char *iss, const char *aud, int64_t now, wl_jwt_claims *c)
{
    jwt_parts p;
    const wl_jwt_key *key = NULL;
    if (len == 0 || len > WL_JWT_MAX_TOKEN)
        return WL_JWT_R_TOO_LONG;
    if (!split_token(token, len, &p))
        return WL_JWT_R_MALFORMED;
    wl_jwt_reason r = check_header(kr, p.hdr, &key);
    if (r != WL_JWT_R_OK)
        return r;
    if (!check_signature(key, token, &p))
        return WL_JWT_R_BAD_SIGNATURE;
    json_t *body = decode_object(p.body); /* authenticated from here on */
    if (!body)
        return WL_JWT_R_BAD_PAYLOAD;
    r = check_claims(body, iss, aud, now, c);
    json_decref(body);
    return r;
}

wl_status wl_jwt_verify(const wl_jwt_keyring *kr, const char *token, size_t len, const char *iss,
                        const char *aud, int64_t now_s, wl_jwt_claims *out, wl_jwt_reason *why)
{
    if (why)
        *why = WL_JWT_R_OK;
    if (!kr || !iss || !aud || !*iss || !*aud || strlen(iss) > WL_JWT_ISS_MAX ||
        strlen(aud) > WL_JWT_AUD_MAX)
        return WL_EINVAL;
    wl_jwt_claims c;
    memset(&c, 0, sizeof c);
    wl_jwt_reason r = token ? verify_parts(kr, token, len, iss, aud, now_s, &c) : WL_JWT_R_TOO_LONG;
    if (why)
        *why = r;
    if (r != WL_JWT_R_OK)
        return WL_EDENIED;
    if (out) {
        strcpy(c.iss, iss);
        strcpy(c.aud, aud);
        *out = c;
    }
    return WL_OK;
}

const char *wl_jwt_reason_name(wl_jwt_reason r)
{
    static const char *const names[WL_JWT_R_COUNT_] = {
        [WL_JWT_R_OK] = "ok",
        [WL_JWT_R_TOO_LONG] = "empty or too long",
        [WL_JWT_R_MALFORMED] = "malformed token",
        [WL_JWT_R_BAD_HEADER] = "bad header",
        [WL_JWT_R_BAD_ALG] = "algorithm not HS256",
        [WL_JWT_R_UNKNOWN_KID] = "unknown or missing kid",
        [WL_JWT_R_BAD_SIGNATURE] = "bad signature",
        [WL_JWT_R_BAD_PAYLOAD] = "bad payload",
        [WL_JWT_R_BAD_ISSUER] = "wrong issuer",
        [WL_JWT_R_BAD_AUDIENCE] = "wrong audience",
        [WL_JWT_R_EXPIRED] = "expired",
        [WL_JWT_R_NOT_YET_VALID] = "not yet valid",
    };
    if ((unsigned)r >= WL_JWT_R_COUNT_ || !names[r])
        return "unknown reason";
    return names[r];
}
