/* fuzz_api.c - libFuzzer target over the whole request path in-process:
 * parser -> router -> handlers (JSON bodies, auth, store writes) -> response.
 *
 * The app runs on a data directory in /dev/shm (tmpfs: fsync is free, so the
 * fuzzer is not bound by disk). Inputs are raw HTTP requests; the tokens
 * "@@JWT@@" and "@@KEY@@" are replaced by a valid access token and API key of
 * a fuzz user so the fuzzer reaches the authenticated handlers. Invariants:
 * every request gets exactly one well-formed response and never a 500. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/auth.h"
#include "core/apikey.h"
#include "core/jwt.h"
#include "core/password.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wl_app app;
static wl_tctx *loop_t, *pool_t;
static char jwt[WL_JWT_MAX_TOKEN], apikey[WL_APIKEY_LEN + 1];

static void make_credentials(void)
{
    char hash[crypto_pwhash_STRBYTES];
    int64_t uid, kid;
    wl_password_hash("fuzz-password", 13, hash);
    wl_store_user_insert(pool_t->store, "fuzz@example.com", 16, hash, 1, &uid);
    char prefix[WL_APIKEY_PREFIX_LEN + 1];
    unsigned char kh[WL_APIKEY_DIGEST_LEN];
    wl_apikey_generate(apikey, sizeof(apikey), prefix, sizeof(prefix), kh);
    wl_store_apikey_insert(pool_t->store, uid, "fuzz", 4, prefix, strlen(prefix), kh, 1, &kid);
    const char *iss, *aud;
    unsigned ttl;
    const wl_jwt_keyring *kr = wl_auth_keyring(app.auth, &iss, &aud, &ttl);
    wl_jwt_claims c = {.iat = 1, .exp = 4102444800};
    snprintf(c.sub, sizeof(c.sub), "%lld", (long long)uid);
    snprintf(c.iss, sizeof(c.iss), "%s", iss);
    snprintf(c.aud, sizeof(c.aud), "%s", aud);
    size_t len;
    wl_jwt_sign(kr, &c, jwt, sizeof(jwt), &len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/dev/shm/wl-fuzz-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    wl_config cfg;
    wl_config_defaults(&cfg);
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
    cfg.worker = false;
    cfg.threads = 1;
    cfg.anon_create_rate = 0; /* no limits: the fuzzer would only hit 429s */
    cfg.login_rate = 0;
    cfg.apikey_rate = 0;
    wl_config_finish(&cfg);
    char err[256];
    if (wl_app_init(&app, &cfg, err, sizeof(err)) != WL_OK) {
        fprintf(stderr, "fuzz_api: %s\n", err);
        abort();
    }
    wl_password_params cheap = {WL_PASSWORD_OPSLIMIT_MIN, WL_PASSWORD_MEMLIMIT_MIN};
    wl_password_init(&cheap, 1, 1000);
    loop_t = app.hooks.thread_init(&app, true, 0);
    pool_t = app.hooks.thread_init(&app, false, 0);
    make_credentials();
    return 0;
}

/* Copies data into buf replacing the credential placeholders. */
static size_t expand(const uint8_t *data, size_t size, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < size && n < cap;) {
        const char *rep = NULL;
        if (size - i >= 7 && !memcmp(data + i, "@@JWT@@", 7))
            rep = jwt;
        else if (size - i >= 7 && !memcmp(data + i, "@@KEY@@", 7))
            rep = apikey;
        if (rep) {
            size_t r = strlen(rep);
            if (n + r > cap)
                break;
            memcpy(buf + n, rep, r);
            n += r;
            i += 7;
        } else {
            buf[n++] = (char)data[i++];
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[WL_HTTP_MAX_HEAD + WL_MAX_BODY + 8192];
    size_t n = expand(data, size, buf, sizeof(buf));
    wl_http_request req;
    if (wl_http_parse(buf, n, &req, NULL) != WL_HTTP_PARSE_OK || req.content_length > WL_MAX_BODY)
        return 0;
    size_t body = req.content_length > 0 ? (size_t)req.content_length : 0;
    if (n - req.head_len < body)
        return 0;
    req.body = wl_slice_make(buf + req.head_len, body);
    wl_peer peer = {.addr_len = sizeof(struct sockaddr_in)};
    peer.addr.ss_family = AF_INET;
    wl_buf out = WL_BUF_INIT;
    wl_exchange ex = {.req = &req, .peer = &peer, .out = &out};
    if (wl_app_on_request(&app, loop_t, &ex) == WL_ROUTE_OFFLOAD)
        wl_app_offload(&app, pool_t, &ex);
    assert(out.len > 12 && !memcmp(out.data, "HTTP/1.1 ", 9));
    int status = atoi(out.data + 9);
    assert(status == ex.status && status >= 200 && status < 600 && status != 500);
    assert(memmem(out.data, out.len, "\r\n\r\n", 4));
    wl_buf_release(&out);
    return 0;
}
