/* test_jwt.c - HS256 signing/verification, tampering, rotation, key file.
 *
 * Hostile tokens are built here by hand (header and payload JSON chosen by
 * the test, HMAC computed with libsodium directly), so each case exercises
 * exactly one rule of wl_jwt_verify(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/jwt.h"

#define NOW 1800000000LL
#define ISS "warplink"
#define AUD "warplink-api"

static unsigned char secret1[32], secret2[48];

static void ring_setup(wl_jwt_keyring *kr)
{
    memset(secret1, 0x11, sizeof secret1);
    memset(secret2, 0x22, sizeof secret2);
    wl_jwt_keyring_init(kr);
    assert_int_equal(wl_jwt_keyring_add(kr, "k1", secret1, sizeof secret1), WL_OK);
}

static wl_jwt_claims std_claims(void)
{
    wl_jwt_claims c;
    memset(&c, 0, sizeof c);
    strcpy(c.sub, "42");
    strcpy(c.iss, ISS);
    strcpy(c.aud, AUD);
    c.iat = NOW;
    c.exp = NOW + 3600;
    return c;
}

static size_t b64(char *out, size_t cap, const void *src, size_t n)
{
    sodium_bin2base64(out, cap, src, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

/* Builds b64(hdr).b64(body).b64(HMAC(secret)); secret NULL = empty signature. */
static size_t craft(char *out, size_t cap, const char *hdr, const char *body,
                    const unsigned char *secret, size_t secret_len)
{
    size_t n = b64(out, cap, hdr, strlen(hdr));
    out[n++] = '.';
    n += b64(out + n, cap - n, body, strlen(body));
    unsigned char mac[32];
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, secret ? secret : (const unsigned char *)"", secret_len);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)out, n);
    crypto_auth_hmacsha256_final(&s, mac);
    out[n++] = '.';
    out[n] = '\0';
    if (secret)
        n += b64(out + n, cap - n, mac, sizeof mac);
    return n;
}

static wl_jwt_reason verify_reason(const wl_jwt_keyring *kr, const char *tok, size_t len)
{
    wl_jwt_reason why = WL_JWT_R_COUNT_;
    wl_jwt_claims c;
    wl_status st = wl_jwt_verify(kr, tok, len, ISS, AUD, NOW, &c, &why);
    assert_int_equal(st, why == WL_JWT_R_OK ? WL_OK : WL_EDENIED);
    return why;
}

static void test_round_trip(void **state)
{
    (void)state;
    wl_jwt_keyring kr;
    ring_setup(&kr);
    wl_jwt_claims c = std_claims(), got;
    char tok[WL_JWT_MAX_TOKEN + 1];
    size_t len = 0;
    assert_int_equal(wl_jwt_sign(&kr, &c, tok, sizeof tok, &len), WL_OK);
    assert_int_equal(strlen(tok), len);
    wl_jwt_reason why;
    assert_int_equal(wl_jwt_verify(&kr, tok, len, ISS, AUD, NOW + 10, &got, &why), WL_OK);
    assert_int_equal(why, WL_JWT_R_OK);
    assert_string_equal(got.sub, "42");
    assert_string_equal(got.iss, ISS);
    assert_string_equal(got.aud, AUD);
    assert_int_equal(got.iat, NOW);
    assert_int_equal(got.exp, NOW + 3600);
    /* The header names the signer's kid. */
    char hdr[128];
    size_t hn = 0;
    const char *dot = strchr(tok, '.');
    assert_int_equal(sodium_base642bin((unsigned char *)hdr, sizeof hdr - 1, tok,
                                       (size_t)(dot - tok), NULL, &hn, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    hdr[hn] = '\0';
    assert_string_equal(hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}");
    wl_jwt_keyring_clear(&kr);
}

static void test_sign_rejects(void **state)
{
    (void)state;
    wl_jwt_keyring kr, empty;
    ring_setup(&kr);
    wl_jwt_keyring_init(&empty);
    char tok[WL_JWT_MAX_TOKEN + 1];
    wl_jwt_claims c = std_claims();
    assert_int_equal(wl_jwt_sign(&empty, &c, tok, sizeof tok, NULL), WL_EINVAL);
    assert_int_equal(wl_jwt_sign(&kr, &c, tok, 20, NULL), WL_ETOOBIG);
    c.sub[0] = '\0';
    assert_int_equal(wl_jwt_sign(&kr, &c, tok, sizeof tok, NULL), WL_EINVAL);
    c = std_claims();
    c.exp = c.iat;
    assert_int_equal(wl_jwt_sign(&kr, &c, tok, sizeof tok, NULL), WL_EINVAL);
    c = std_claims();
    memset(c.iss, 'x', sizeof c.iss); /* not NUL-terminated */
    assert_int_equal(wl_jwt_sign(&kr, &c, tok, sizeof tok, NULL), WL_EINVAL);
    /* Strings needing JSON escapes survive the round trip. */
    c = std_claims();
    strcpy(c.sub, "a\"b\\c\n");
    size_t len;
    wl_jwt_claims got;
    assert_int_equal(wl_jwt_sign(&kr, &c, tok, sizeof tok, &len), WL_OK);
    assert_int_equal(wl_jwt_verify(&kr, tok, len, ISS, AUD, NOW, &got, NULL), WL_OK);
    assert_string_equal(got.sub, c.sub);
    /* Not UTF-8: JSON cannot carry it. */
    strcpy(c.sub, "\xff\xfe");
    assert_int_equal(wl_jwt_sign(&kr, &c, tok, sizeof tok, NULL), WL_EINVAL);
}

#define H_OK "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define P_OK                                                                                       \
    "{\"iss\":\"warplink\",\"sub\":\"42\",\"aud\":\"warplink-api\",\"iat\":1800000000,"            \
    "\"exp\":1800003600}"
#define P_(fields) "{\"iss\":\"warplink\",\"sub\":\"42\",\"aud\":\"warplink-api\"," fields "}"
#define TIMES "\"iat\":1800000000,\"exp\":1800003600"

enum which_key { KEY1, KEY2, NO_SIG };

typedef struct crafted_case {
    const char *name;
    const char *hdr;
    const char *body;
    enum which_key key;
    wl_jwt_reason want;
} crafted_case;

static const crafted_case CRAFTED[] = {
    {"valid", H_OK, P_OK, KEY1, WL_JWT_R_OK},
    {"typ lower case", "{\"alg\":\"HS256\",\"typ\":\"jwt\",\"kid\":\"k1\"}", P_OK, KEY1,
     WL_JWT_R_OK},
    {"typ absent", "{\"alg\":\"HS256\",\"kid\":\"k1\"}", P_OK, KEY1, WL_JWT_R_OK},
    {"alg none signed", "{\"alg\":\"none\",\"kid\":\"k1\"}", P_OK, KEY1, WL_JWT_R_BAD_ALG},
    {"alg none unsigned", "{\"alg\":\"none\",\"kid\":\"k1\"}", P_OK, NO_SIG, WL_JWT_R_MALFORMED},
    {"alg HS512", "{\"alg\":\"HS512\",\"kid\":\"k1\"}", P_OK, KEY1, WL_JWT_R_BAD_ALG},
    {"alg hs256", "{\"alg\":\"hs256\",\"kid\":\"k1\"}", P_OK, KEY1, WL_JWT_R_BAD_ALG},
    {"alg RS256", "{\"alg\":\"RS256\",\"kid\":\"k1\"}", P_OK, KEY1, WL_JWT_R_BAD_ALG},
    {"alg missing", "{\"kid\":\"k1\"}", P_OK, KEY1, WL_JWT_R_BAD_ALG},
    {"alg not string", "{\"alg\":256,\"kid\":\"k1\"}", P_OK, KEY1, WL_JWT_R_BAD_ALG},
    {"alg trailing NUL", "{\"alg\":\"HS256\\u0000\",\"kid\":\"k1\"}", P_OK, KEY1,
     WL_JWT_R_BAD_HEADER},
    {"alg duplicated", "{\"alg\":\"none\",\"alg\":\"HS256\",\"kid\":\"k1\"}", P_OK, KEY1,
     WL_JWT_R_BAD_HEADER},
    {"crit present", "{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"exp\"]}", P_OK, KEY1,
     WL_JWT_R_BAD_HEADER},
    {"typ other", "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\",\"kid\":\"k1\"}", P_OK, KEY1,
     WL_JWT_R_BAD_HEADER},
    {"header array", "[\"HS256\"]", P_OK, KEY1, WL_JWT_R_BAD_HEADER},
    {"header not json", "HS256", P_OK, KEY1, WL_JWT_R_BAD_HEADER},
    {"kid missing", "{\"alg\":\"HS256\"}", P_OK, KEY1, WL_JWT_R_UNKNOWN_KID},
    {"kid unknown", "{\"alg\":\"HS256\",\"kid\":\"k9\"}", P_OK, KEY1, WL_JWT_R_UNKNOWN_KID},
    {"kid not string", "{\"alg\":\"HS256\",\"kid\":1}", P_OK, KEY1, WL_JWT_R_UNKNOWN_KID},
    {"kid prefix", "{\"alg\":\"HS256\",\"kid\":\"k\"}", P_OK, KEY1, WL_JWT_R_UNKNOWN_KID},
    {"wrong key", H_OK, P_OK, KEY2, WL_JWT_R_BAD_SIGNATURE},
    {"payload not json", H_OK, "not json", KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"payload array", H_OK, "[1,2]", KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"payload duplicate sub", H_OK, P_("\"sub\":\"1\"," TIMES), KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"expired", H_OK, P_("\"iat\":1799990000,\"exp\":1800000000"), KEY1, WL_JWT_R_EXPIRED},
    {"expires in 1s", H_OK, P_("\"iat\":1799990000,\"exp\":1800000001"), KEY1, WL_JWT_R_OK},
    {"iat 31s ahead", H_OK, P_("\"iat\":1800000031,\"exp\":1800003600"), KEY1,
     WL_JWT_R_NOT_YET_VALID},
    {"iat 30s ahead", H_OK, P_("\"iat\":1800000030,\"exp\":1800003600"), KEY1, WL_JWT_R_OK},
    {"nbf ahead", H_OK, P_(TIMES ",\"nbf\":1800000100"), KEY1, WL_JWT_R_NOT_YET_VALID},
    {"nbf past", H_OK, P_(TIMES ",\"nbf\":1799999999"), KEY1, WL_JWT_R_OK},
    {"nbf string", H_OK, P_(TIMES ",\"nbf\":\"0\""), KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"iat real", H_OK, P_("\"iat\":1800000000.0,\"exp\":1800003600"), KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"iat string", H_OK, P_("\"iat\":\"1800000000\",\"exp\":1800003600"), KEY1,
     WL_JWT_R_BAD_PAYLOAD},
    {"iat negative", H_OK, P_("\"iat\":-1,\"exp\":1800003600"), KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"iat huge", H_OK, P_("\"iat\":9223372036854775807,\"exp\":1800003600"), KEY1,
     WL_JWT_R_NOT_YET_VALID},
    {"exp missing", H_OK, P_("\"iat\":1800000000"), KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"iat missing", H_OK, P_("\"exp\":1800003600"), KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"sub missing", H_OK, "{\"iss\":\"warplink\",\"aud\":\"warplink-api\"," TIMES "}", KEY1,
     WL_JWT_R_BAD_PAYLOAD},
    {"sub empty", H_OK, "{\"iss\":\"warplink\",\"sub\":\"\",\"aud\":\"warplink-api\"," TIMES "}",
     KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"sub number", H_OK, "{\"iss\":\"warplink\",\"sub\":42,\"aud\":\"warplink-api\"," TIMES "}",
     KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"sub 65 bytes", H_OK,
     "{\"iss\":\"warplink\",\"sub\":\"" /* 65 x */
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "\",\"aud\":\"warplink-api\"," TIMES "}",
     KEY1, WL_JWT_R_BAD_PAYLOAD},
    {"wrong iss", H_OK, "{\"iss\":\"evil\",\"sub\":\"42\",\"aud\":\"warplink-api\"," TIMES "}",
     KEY1, WL_JWT_R_BAD_ISSUER},
    {"iss missing", H_OK, "{\"sub\":\"42\",\"aud\":\"warplink-api\"," TIMES "}", KEY1,
     WL_JWT_R_BAD_ISSUER},
    {"iss prefix", H_OK, "{\"iss\":\"warp\",\"sub\":\"42\",\"aud\":\"warplink-api\"," TIMES "}",
     KEY1, WL_JWT_R_BAD_ISSUER},
    {"wrong aud", H_OK, "{\"iss\":\"warplink\",\"sub\":\"42\",\"aud\":\"other\"," TIMES "}", KEY1,
     WL_JWT_R_BAD_AUDIENCE},
    {"aud missing", H_OK, "{\"iss\":\"warplink\",\"sub\":\"42\"," TIMES "}", KEY1,
     WL_JWT_R_BAD_AUDIENCE},
    {"aud array containing", H_OK,
     "{\"iss\":\"warplink\",\"sub\":\"42\",\"aud\":[\"x\",\"warplink-api\"]," TIMES "}", KEY1,
     WL_JWT_R_OK},
    {"aud array not containing", H_OK,
     "{\"iss\":\"warplink\",\"sub\":\"42\",\"aud\":[\"x\",1,null,[\"warplink-api\"]]," TIMES "}",
     KEY1, WL_JWT_R_BAD_AUDIENCE},
    {"aud empty array", H_OK, "{\"iss\":\"warplink\",\"sub\":\"42\",\"aud\":[]," TIMES "}", KEY1,
     WL_JWT_R_BAD_AUDIENCE},
};

static void test_crafted_table(void **state)
{
    (void)state;
    wl_jwt_keyring kr;
    ring_setup(&kr);
    char tok[WL_JWT_MAX_TOKEN * 2];
    for (size_t i = 0; i < sizeof CRAFTED / sizeof CRAFTED[0]; i++) {
        const crafted_case *t = &CRAFTED[i];
        const unsigned char *key = t->key == KEY1 ? secret1 : t->key == KEY2 ? secret2 : NULL;
        size_t key_len = t->key == KEY1 ? sizeof secret1 : sizeof secret2;
        size_t len = craft(tok, sizeof tok, t->hdr, t->body, key, key_len);
        wl_jwt_reason got = verify_reason(&kr, tok, len);
        if (got != t->want)
            fail_msg("case '%s': want %s, got %s", t->name, wl_jwt_reason_name(t->want),
                     wl_jwt_reason_name(got));
    }
}

static size_t signed_token(const wl_jwt_keyring *kr, char *tok, size_t cap)
{
    wl_jwt_claims c = std_claims();
    size_t len = 0;
    assert_int_equal(wl_jwt_sign(kr, &c, tok, cap, &len), WL_OK);
    return len;
}

/* Replaces tok[i] with another base64url character. */
static void flip_char(char *tok, size_t i)
{
    tok[i] = tok[i] == 'A' ? 'B' : 'A';
}

static void test_tampering(void **state)
{
    (void)state;
    wl_jwt_keyring kr;
    ring_setup(&kr);
    char tok[WL_JWT_MAX_TOKEN + 1], bad[WL_JWT_MAX_TOKEN + 8];
    size_t len = signed_token(&kr, tok, sizeof tok);
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    size_t sig_at = (size_t)(d2 - tok) + 1, body_at = (size_t)(d1 - tok) + 1;

    memcpy(bad, tok, len + 1);
    flip_char(bad, sig_at + 5);
    assert_int_equal(verify_reason(&kr, bad, len), WL_JWT_R_BAD_SIGNATURE);

    memcpy(bad, tok, len + 1);
    flip_char(bad, body_at + 3);
    assert_int_equal(verify_reason(&kr, bad, len), WL_JWT_R_BAD_SIGNATURE);

    /* A second spelling of the same signature bits (non-zero trailing bits)
     * is refused, so tokens are not malleable. */
    memcpy(bad, tok, len + 1);
    bad[len - 1] = (char)(bad[len - 1] + 1);
    assert_int_not_equal(verify_reason(&kr, bad, len), WL_JWT_R_OK);

    /* Every flipped byte anywhere is refused. */
    for (size_t i = 0; i < len; i++) {
        if (tok[i] == '.')
            continue;
        memcpy(bad, tok, len + 1);
        flip_char(bad, i);
        assert_int_not_equal(verify_reason(&kr, bad, len), WL_JWT_R_OK);
    }
    /* Every proper prefix is refused. */
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(verify_reason(&kr, tok, n), WL_JWT_R_OK);
}

static void test_structure(void **state)
{
    (void)state;
    wl_jwt_keyring kr;
    ring_setup(&kr);
    char tok[WL_JWT_MAX_TOKEN + 1], bad[WL_JWT_MAX_TOKEN + 16];
    size_t len = signed_token(&kr, tok, sizeof tok);
    const char *d2 = strrchr(tok, '.');

    static const char *const junk[] = {"a",  "a.b",    "a.b.c.d", ".b.c",    "a..c",  "a.b.",
                                       "..", "a.b.c ", "a+b.c.d", "a/b.c.d", "a=.b.c"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_equal(verify_reason(&kr, junk[i], strlen(junk[i])), WL_JWT_R_MALFORMED);
    assert_int_equal(verify_reason(&kr, "", 0), WL_JWT_R_TOO_LONG);

    /* Padding appended to a valid token. */
    memcpy(bad, tok, len);
    memcpy(bad + len, "=", 2);
    assert_int_equal(verify_reason(&kr, bad, len + 1), WL_JWT_R_MALFORMED);
    /* A fourth part. */
    memcpy(bad, tok, len);
    memcpy(bad + len, ".AAAA", 6);
    assert_int_equal(verify_reason(&kr, bad, len + 5), WL_JWT_R_MALFORMED);
    /* A 33-byte signature. */
    size_t head = (size_t)(d2 - tok) + 1;
    memcpy(bad, tok, head);
    unsigned char sig33[33] = {0};
    size_t n = head + b64(bad + head, sizeof bad - head, sig33, sizeof sig33);
    assert_int_equal(verify_reason(&kr, bad, n), WL_JWT_R_BAD_SIGNATURE);
    /* An embedded NUL: the length, not the NUL, delimits the token. */
    memcpy(bad, tok, len + 1);
    bad[5] = '\0';
    assert_int_equal(verify_reason(&kr, bad, len), WL_JWT_R_MALFORMED);
    /* NULL token. */
    assert_int_equal(wl_jwt_verify(&kr, NULL, 10, ISS, AUD, NOW, NULL, NULL), WL_EDENIED);
}

static void test_oversized(void **state)
{
    (void)state;
    wl_jwt_keyring kr;
    ring_setup(&kr);
    /* A correctly signed, otherwise valid token just over the cap. */
    static char body[4000], tok[8192];
    int n = snprintf(body, sizeof body,
                     "{\"pad\":\"%0*d\",\"iss\":\"warplink\",\"sub\":\"42\","
                     "\"aud\":\"warplink-api\"," TIMES "}",
                     2950, 0);
    assert_true(n > 0 && (size_t)n < sizeof body);
    size_t len = craft(tok, sizeof tok, H_OK, body, secret1, sizeof secret1);
    assert_true(len > WL_JWT_MAX_TOKEN);
    assert_int_equal(verify_reason(&kr, tok, len), WL_JWT_R_TOO_LONG);
    /* A smaller pad fits and verifies: the cap, not the padding, refused it. */
    n = snprintf(body, sizeof body,
                 "{\"pad\":\"%0*d\",\"iss\":\"warplink\",\"sub\":\"42\","
                 "\"aud\":\"warplink-api\"," TIMES "}",
                 2900, 0);
    len = craft(tok, sizeof tok, H_OK, body, secret1, sizeof secret1);
    assert_true(len <= WL_JWT_MAX_TOKEN);
    assert_int_equal(verify_reason(&kr, tok, len), WL_JWT_R_OK);
}

static void test_rotation(void **state)
{
    (void)state;
    wl_jwt_keyring kr;
    ring_setup(&kr);
    char t1[WL_JWT_MAX_TOKEN + 1], t2[WL_JWT_MAX_TOKEN + 1];
    size_t l1 = signed_token(&kr, t1, sizeof t1);
    assert_int_equal(wl_jwt_keyring_add(&kr, "k2", secret2, sizeof secret2), WL_OK);
    assert_int_equal(wl_jwt_keyring_set_signer(&kr, "k2"), WL_OK);
    size_t l2 = signed_token(&kr, t2, sizeof t2);
    assert_int_equal(verify_reason(&kr, t1, l1), WL_JWT_R_OK); /* old key still verifies */
    assert_int_equal(verify_reason(&kr, t2, l2), WL_JWT_R_OK);
    assert_int_equal(wl_jwt_keyring_remove(&kr, "k2"), WL_EBUSY); /* the signer */
    assert_int_equal(wl_jwt_keyring_remove(&kr, "k1"), WL_OK);
    assert_int_equal(wl_jwt_keyring_remove(&kr, "k1"), WL_ENOTFOUND);
    assert_int_equal(verify_reason(&kr, t1, l1), WL_JWT_R_UNKNOWN_KID);
    assert_int_equal(verify_reason(&kr, t2, l2), WL_JWT_R_OK);
    assert_int_equal(kr.count, 1);
    assert_string_equal(kr.keys[kr.signer].kid, "k2");
    /* A token claiming k2 but MACed with k1's secret is refused. */
    char forged[WL_JWT_MAX_TOKEN + 1];
    size_t lf = craft(forged, sizeof forged, "{\"alg\":\"HS256\",\"kid\":\"k2\"}", P_OK, secret1,
                      sizeof secret1);
    assert_int_equal(verify_reason(&kr, forged, lf), WL_JWT_R_BAD_SIGNATURE);
    wl_jwt_keyring_clear(&kr);
}

static void test_keyring_api(void **state)
{
    (void)state;
    wl_jwt_keyring kr;
    ring_setup(&kr);
    unsigned char s[65] = {0};
    assert_int_equal(wl_jwt_keyring_add(&kr, "", s, 32), WL_EINVAL);
    assert_int_equal(wl_jwt_keyring_add(&kr, "123456789012345678901234567890123", s, 32),
                     WL_EINVAL);
    assert_int_equal(wl_jwt_keyring_add(&kr, "12345678901234567890123456789012", s, 32), WL_OK);
    assert_int_equal(wl_jwt_keyring_add(&kr, "a b", s, 32), WL_EINVAL);
    assert_int_equal(wl_jwt_keyring_add(&kr, "a\"", s, 32), WL_EINVAL);
    assert_int_equal(wl_jwt_keyring_add(&kr, "ok", s, 31), WL_EINVAL);
    assert_int_equal(wl_jwt_keyring_add(&kr, "ok", s, 65), WL_EINVAL);
    assert_int_equal(wl_jwt_keyring_add(&kr, "k1", s, 32), WL_EEXISTS);
    char kid[16];
    for (int i = 2; i < WL_JWT_MAX_KEYS; i++) {
        snprintf(kid, sizeof kid, "x%d", i);
        assert_int_equal(wl_jwt_keyring_add(&kr, kid, s, 64), WL_OK);
    }
    assert_int_equal(wl_jwt_keyring_add(&kr, "one-more", s, 32), WL_EFULL);
    assert_int_equal(wl_jwt_keyring_set_signer(&kr, "nope"), WL_ENOTFOUND);
    assert_string_equal(kr.keys[kr.signer].kid, "k1"); /* first added signs */
    wl_jwt_keyring_clear(&kr);
    assert_int_equal(kr.count, 0);
    assert_int_equal(kr.keys[0].secret[0], 0);
    assert_int_equal(wl_jwt_verify(&kr, "a.b.c", 5, NULL, AUD, NOW, NULL, NULL), WL_EINVAL);
    assert_int_equal(wl_jwt_verify(&kr, "a.b.c", 5, ISS, "", NOW, NULL, NULL), WL_EINVAL);
    for (int r = 0; r <= WL_JWT_R_COUNT_; r++)
        assert_non_null(wl_jwt_reason_name((wl_jwt_reason)r));
}

/* ---- key file --------------------------------------------------------- */

static char tmpdir[64];

static int dir_setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/wl-jwt-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int dir_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[sizeof tmpdir + 256 + 2];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_keyfile_create_reload(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/jwt.keys", tmpdir);
    wl_jwt_keyring a, b;
    unsigned flags = 99;
    assert_int_equal(wl_jwt_keyring_load_or_create(&a, path, &flags), WL_OK);
    assert_int_equal(flags, WL_JWT_KEYFILE_CREATED);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(count_entries(tmpdir), 1); /* no temp file left behind */
    assert_int_equal(a.count, 1);
    assert_int_equal(a.keys[0].secret_len, 32);
    assert_int_equal(strlen(a.keys[0].kid), 16);

    assert_int_equal(wl_jwt_keyring_load_or_create(&b, path, &flags), WL_OK);
    assert_int_equal(flags, 0);
    assert_int_equal(b.count, a.count);
    assert_int_equal(b.signer, a.signer);
    assert_string_equal(b.keys[0].kid, a.keys[0].kid);
    assert_memory_equal(b.keys[0].secret, a.keys[0].secret, 32);

    char tok[WL_JWT_MAX_TOKEN + 1];
    size_t len = signed_token(&a, tok, sizeof tok);
    assert_int_equal(verify_reason(&b, tok, len), WL_JWT_R_OK);

    /* Readable by group: refused. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(wl_jwt_keyring_load_or_create(&b, path, NULL), WL_EINVAL);
    assert_int_equal(b.count, 0);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(wl_jwt_keyring_load_or_create(&b, path, NULL), WL_EINVAL);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(wl_jwt_keyring_load_or_create(&b, path, NULL), WL_OK);
    wl_jwt_keyring_clear(&a);
    wl_jwt_keyring_clear(&b);
}

#define S32 "ERERERERERERERERERERERERERERERERERERERERERE"                      /* 32 x 0x11 */
#define S48 "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIi" /* 48 x 0x22 */

static void test_keyfile_rotation_file(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/two.keys", tmpdir);
    write_file(path, "# comment\n\n  new-key\t" S48 "  \r\nold-key " S32 "\n", 0600);
    wl_jwt_keyring kr, old;
    assert_int_equal(wl_jwt_keyring_load_or_create(&kr, path, NULL), WL_OK);
    assert_int_equal(kr.count, 2);
    assert_string_equal(kr.keys[kr.signer].kid, "new-key");
    assert_memory_equal(kr.keys[kr.signer].secret, secret2, sizeof secret2);
    /* A token from the old key (signed before rotation) still verifies. */
    wl_jwt_keyring_init(&old);
    assert_int_equal(wl_jwt_keyring_add(&old, "old-key", secret1, sizeof secret1), WL_OK);
    char tok[WL_JWT_MAX_TOKEN + 1];
    size_t len = signed_token(&old, tok, sizeof tok);
    assert_int_equal(verify_reason(&kr, tok, len), WL_JWT_R_OK);
    /* Dropping the old line retires it. */
    write_file(path, "new-key " S48 "\n", 0600);
    assert_int_equal(wl_jwt_keyring_load_or_create(&kr, path, NULL), WL_OK);
    assert_int_equal(verify_reason(&kr, tok, len), WL_JWT_R_UNKNOWN_KID);
}

static void test_keyfile_corrupt(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",                                                /* no keys */
        "# only a comment\n",                              /* no keys */
        "k1\n",                                            /* no secret */
        "k1 " S32 " extra\n",                              /* extra field */
        "k1 " S32 "=\n",                                   /* padding */
        "k1 EREREREREREREREREREREREREREREREREREREREREQ\n", /* 31 bytes */
        "k1 " S32 "\nk1 " S48 "\n",                        /* duplicate kid */
        "k\"1 " S32 "\n",                                  /* bad kid */
        "k1 " S32 "+\n",                                   /* not base64url */
    };
    char path[128];
    snprintf(path, sizeof path, "%s/bad.keys", tmpdir);
    wl_jwt_keyring kr;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i], 0600);
        wl_status st = wl_jwt_keyring_load_or_create(&kr, path, NULL);
        if (st != WL_ECORRUPT)
            fail_msg("case %zu: got %s", i, wl_strerror(st));
        assert_int_equal(kr.count, 0);
    }
    /* Nine keys. */
    char text[2048] = "";
    for (int i = 0; i < 9; i++) {
        char line[128];
        snprintf(line, sizeof line, "k%d %s\n", i, S32);
        strcat(text, line);
    }
    write_file(path, text, 0600);
    assert_int_equal(wl_jwt_keyring_load_or_create(&kr, path, NULL), WL_ECORRUPT);
    /* A directory is not a key file; a missing directory cannot hold one. */
    assert_int_equal(wl_jwt_keyring_load_or_create(&kr, tmpdir, NULL), WL_EINVAL);
    snprintf(path, sizeof path, "%s/no/such/dir/k", tmpdir);
    assert_int_equal(wl_jwt_keyring_load_or_create(&kr, path, NULL), WL_EIO);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_sign_rejects),
        cmocka_unit_test(test_crafted_table),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_keyring_api),
        cmocka_unit_test(test_keyfile_create_reload),
        cmocka_unit_test(test_keyfile_rotation_file),
        cmocka_unit_test(test_keyfile_corrupt),
    };
    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
