/* jwt.c - HS256 JSON Web Tokens: keyring, key file, sign, verify.
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
#define KEYFILE_MAX 8192

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

static wl_status keyring_add_n(wl_jwt_keyring *kr, const char *kid, size_t kid_len,
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
    return keyring_add_n(kr, kid, strnlen(kid, WL_JWT_KID_MAX + 1), secret, secret_len);
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

/* ---- key file --------------------------------------------------------- */

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Parses one "<kid> <secret>" line into kr. */
static wl_status keyfile_line(wl_jwt_keyring *kr, const char *p, const char *end)
{
    const char *kid = p;
    while (p < end && !is_blank(*p))
        p++;
    size_t kid_len = (size_t)(p - kid);
    while (p < end && is_blank(*p))
        p++;
    const char *b64 = p;
    while (p < end && !is_blank(*p))
        p++;
    size_t b64_len = (size_t)(p - b64);
    while (p < end && is_blank(*p))
        p++;
    if (p != end || b64_len == 0)
        return WL_ECORRUPT;

    unsigned char secret[WL_JWT_SECRET_MAX + 1];
    size_t n = 0;
    const char *b64_end = NULL;
    wl_status st = WL_ECORRUPT;
    if (sodium_base642bin(secret, sizeof secret, b64, b64_len, NULL, &n, &b64_end, B64_VARIANT) ==
            0 &&
        b64_end == b64 + b64_len) {
        st = keyring_add_n(kr, kid, kid_len, secret, n);
        if (st != WL_OK)
            st = WL_ECORRUPT; /* bad kid/length, duplicate or too many */
    }
    sodium_memzero(secret, sizeof secret);
    return st;
}

static wl_status keyfile_parse(wl_jwt_keyring *kr, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *q = p;
        while (q < eol && is_blank(*q))
            q++;
        if (q < eol && *q != '#') {
            wl_status st = keyfile_line(kr, q, eol);
            if (st != WL_OK)
                return st;
        }
        p = nl ? nl + 1 : end;
    }
    return kr->count > 0 ? WL_OK : WL_ECORRUPT;
}

/* Reads the whole (small) file; WL_ECORRUPT when it exceeds KEYFILE_MAX. */
static wl_status read_small(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return WL_EIO;
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap)
            return WL_ECORRUPT;
    }
    *len = n;
    return WL_OK;
}

static wl_status keyfile_load(wl_jwt_keyring *kr, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? WL_ENOTFOUND : WL_EIO;
    struct stat sb;
    wl_status st = WL_EIO;
    char buf[KEYFILE_MAX + 1];
    size_t len = 0;
    if (fstat(fd, &sb) != 0)
        goto out;
    st = WL_EINVAL;
    if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0)
        goto out;
    st = read_small(fd, buf, sizeof buf, &len);
    if (st == WL_OK)
        st = keyfile_parse(kr, buf, len);
out:
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return st;
}

static wl_status write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return WL_EIO;
        p += w;
        n -= (size_t)w;
    }
    return WL_OK;
}

/* Makes the new directory entry durable: without this a power cut after
 * startup could lose the file while tokens signed with its key are out. */
static wl_status fsync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return WL_EIO;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return WL_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? WL_OK : WL_EIO;
}

/* Formats a fresh one-key file into buf. */
static size_t keyfile_format(char *buf, size_t cap)
{
    unsigned char raw[8], secret[32];
    char kid[2 * sizeof raw + 1], b64[sodium_base64_ENCODED_LEN(sizeof secret, B64_VARIANT)];
    randombytes_buf(raw, sizeof raw);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(kid, sizeof kid, raw, sizeof raw);
    sodium_bin2base64(b64, sizeof b64, secret, sizeof secret, B64_VARIANT);
    int n = snprintf(buf, cap,
                     "# WarpLink JWT keys: <kid> <base64url secret>. The first key signs;\n"
                     "# later lines still verify (rotation). Keep this file mode 0600.\n"
                     "%s %s\n",
                     kid, b64);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(b64, sizeof b64);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static wl_status write_temp(const char *tmp)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return WL_EIO;
    char buf[512];
    size_t n = keyfile_format(buf, sizeof buf);
    wl_status st = n ? write_all(fd, buf, n) : WL_EIO;
    sodium_memzero(buf, sizeof buf);
    if (st == WL_OK && fsync(fd) != 0)
        st = WL_EIO;
    if (close(fd) != 0)
        st = WL_EIO;
    return st;
}

/* Creates path with a fresh key. WL_EEXISTS when someone else created it
 * first (their file is then the one to load). */
static wl_status keyfile_create(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-%08x", path, randombytes_random());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return WL_EINVAL;
    wl_status st = write_temp(tmp);
    if (st == WL_OK && link(tmp, path) != 0)
        st = errno == EEXIST ? WL_EEXISTS : WL_EIO;
    unlink(tmp);
    if (st == WL_OK)
        st = fsync_parent(path);
    return st;
}

wl_status wl_jwt_keyring_load_or_create(wl_jwt_keyring *kr, const char *path, unsigned *flags_out)
{
    if (flags_out)
        *flags_out = 0;
    if (!kr || !path || !*path)
        return WL_EINVAL;
    if (sodium_init() < 0)
        return WL_EIO;
    wl_jwt_keyring_clear(kr);
    wl_status st = keyfile_load(kr, path);
    if (st == WL_ENOTFOUND) {
        st = keyfile_create(path);
        if (st == WL_OK && flags_out)
            *flags_out |= WL_JWT_KEYFILE_CREATED;
        if (st == WL_OK || st == WL_EEXISTS)
            st = keyfile_load(kr, path);
    }
    if (st != WL_OK)
        wl_jwt_keyring_clear(kr);
    return st;
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
