/* password.c - Argon2id hashing behind a counting semaphore.
 *
 * Design notes
 * - The semaphore is a mutex + condition variable rather than sem_t so the
 *   bounded wait can use CLOCK_MONOTONIC (a wall-clock step, or libfaketime
 *   in tests, must not turn a 2 s wait into hours or zero) and so the same
 *   lock protects the counters exposed by wl_password_stats_get().
 * - Parameters are copied out under the lock when a slot is taken, so a
 *   concurrent wl_password_init() never tears a hash in progress.
 * - The dummy hash is made from 32 random bytes nobody knows, with the
 *   current parameters, so a dummy verify costs what a real verify costs for
 *   a user whose hash is up to date, and can never succeed. */
#include "core/password.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wl_password_params params;
    unsigned max;
    unsigned wait_ms;
    unsigned in_use;
    unsigned peak;
    uint64_t busy;
    bool dummy_ready;
    char dummy[crypto_pwhash_STRBYTES];
    int sodium_rc;
} g;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static unsigned default_slots(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > 64 ? 64u : (unsigned)n;
}

static void g_setup(void)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&g.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g.cv, &ca);
    pthread_condattr_destroy(&ca);
    g.params.opslimit = WL_PASSWORD_OPSLIMIT_DEFAULT;
    g.params.memlimit = WL_PASSWORD_MEMLIMIT_DEFAULT;
    g.max = default_slots();
    g.wait_ms = WL_PASSWORD_WAIT_MS_DEFAULT;
    g.sodium_rc = sodium_init();
}

static void setup_once(void)
{
    pthread_once(&g_once, g_setup);
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Takes a slot, waiting at most wait_ms; copies the params to use. */
static wl_status slot_acquire(wl_password_params *params)
{
    setup_once();
    struct timespec deadline;
    pthread_mutex_lock(&g.mu);
    deadline_after(&deadline, g.wait_ms);
    while (g.in_use >= g.max) {
        if (pthread_cond_timedwait(&g.cv, &g.mu, &deadline) != 0 && g.in_use >= g.max) {
            g.busy++;
            pthread_mutex_unlock(&g.mu);
            return WL_EBUSY;
        }
    }
    g.in_use++;
    if (g.in_use > g.peak)
        g.peak = g.in_use;
    *params = g.params;
    pthread_mutex_unlock(&g.mu);
    return WL_OK;
}

static void slot_release(void)
{
    pthread_mutex_lock(&g.mu);
    g.in_use--;
    pthread_cond_signal(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

static bool params_valid(const wl_password_params *p)
{
    return p->opslimit >= WL_PASSWORD_OPSLIMIT_MIN && p->opslimit <= crypto_pwhash_OPSLIMIT_MAX &&
           p->memlimit >= WL_PASSWORD_MEMLIMIT_MIN && p->memlimit <= WL_PASSWORD_MEMLIMIT_MAX;
}

/* Hashes under a slot, with the params current when the slot was taken. */
static wl_status hash_in_slot(const char *pw, size_t len, char out[crypto_pwhash_STRBYTES])
{
    wl_password_params p;
    wl_status st = slot_acquire(&p);
    if (st != WL_OK)
        return st;
    if (crypto_pwhash_str_alg(out, pw, len, p.opslimit, p.memlimit, crypto_pwhash_ALG_ARGON2ID13) !=
        0)
        st = WL_ENOMEM;
    slot_release();
    return st;
}

/* (Re)makes the dummy hash; WL_OK when it is ready. */
static wl_status dummy_make(void)
{
    unsigned char secret[32];
    char h[crypto_pwhash_STRBYTES];
    randombytes_buf(secret, sizeof secret);
    wl_status st = hash_in_slot((const char *)secret, sizeof secret, h);
    sodium_memzero(secret, sizeof secret);
    if (st != WL_OK)
        return st;
    pthread_mutex_lock(&g.mu);
    memcpy(g.dummy, h, sizeof h);
    g.dummy_ready = true;
    pthread_mutex_unlock(&g.mu);
    return WL_OK;
}

wl_status wl_password_init(const wl_password_params *params, unsigned max_concurrent,
                           unsigned wait_ms)
{
    wl_password_params p = {WL_PASSWORD_OPSLIMIT_DEFAULT, WL_PASSWORD_MEMLIMIT_DEFAULT};
    if (params)
        p = *params;
    if (!params_valid(&p))
        return WL_EINVAL;
    setup_once();
    if (g.sodium_rc < 0)
        return WL_EIO;
    pthread_mutex_lock(&g.mu);
    g.params = p;
    g.max = max_concurrent ? max_concurrent : default_slots();
    g.wait_ms = wait_ms;
    g.peak = g.in_use;
    g.busy = 0;
    g.dummy_ready = false;
    pthread_cond_broadcast(&g.cv); /* more slots may exist now */
    pthread_mutex_unlock(&g.mu);
    return dummy_make();
}

wl_password_params wl_password_current_params(void)
{
    setup_once();
    pthread_mutex_lock(&g.mu);
    wl_password_params p = g.params;
    pthread_mutex_unlock(&g.mu);
    return p;
}

bool wl_password_acceptable(const char *pw, size_t len)
{
    if (!pw || len > WL_PASSWORD_MAX_BYTES)
        return false;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)pw[i] & 0xC0) != 0x80; /* not a continuation byte */
    return chars >= WL_PASSWORD_MIN_LEN && chars <= WL_PASSWORD_MAX_LEN;
}

wl_status wl_password_hash(const char *pw, size_t len, char out[crypto_pwhash_STRBYTES])
{
    if (!pw || !out || !wl_password_acceptable(pw, len))
        return WL_EINVAL;
    setup_once();
    if (g.sodium_rc < 0)
        return WL_EIO;
    return hash_in_slot(pw, len, out);
}

/* Verifies under a slot: WL_OK on a match, WL_EDENIED otherwise. */
static wl_status verify_in_slot(const char *hash, const char *pw, size_t len)
{
    wl_password_params unused;
    wl_status st = slot_acquire(&unused);
    if (st != WL_OK)
        return st;
    st = crypto_pwhash_str_verify(hash, pw, len) == 0 ? WL_OK : WL_EDENIED;
    slot_release();
    return st;
}

wl_status wl_password_verify(const char *hash, const char *pw, size_t len)
{
    if (!hash || (!pw && len) || len > WL_PASSWORD_MAX_BYTES ||
        strnlen(hash, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
        return WL_EDENIED;
    setup_once();
    if (g.sodium_rc < 0)
        return WL_EIO;
    return verify_in_slot(hash, pw ? pw : "", len);
}

/* Copies the dummy hash out; false when it has not been made yet. */
static bool dummy_copy(char h[crypto_pwhash_STRBYTES])
{
    pthread_mutex_lock(&g.mu);
    bool ready = g.dummy_ready;
    memcpy(h, g.dummy, crypto_pwhash_STRBYTES);
    pthread_mutex_unlock(&g.mu);
    return ready;
}

wl_status wl_password_dummy_verify(const char *pw, size_t len)
{
    char h[crypto_pwhash_STRBYTES];
    if ((!pw && len) || len > WL_PASSWORD_MAX_BYTES)
        return WL_EDENIED;
    setup_once();
    if (!dummy_copy(h)) {
        /* First use without wl_password_init(): pay for the hash once. */
        wl_status st = dummy_make();
        if (st != WL_OK)
            return st == WL_EBUSY ? WL_EBUSY : WL_EDENIED;
        dummy_copy(h);
    }
    wl_status st = verify_in_slot(h, pw ? pw : "", len);
    return st == WL_EBUSY ? WL_EBUSY : WL_EDENIED;
}

bool wl_password_needs_rehash(const char *hash)
{
    if (!hash || strnlen(hash, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
        return true;
    wl_password_params p = wl_password_current_params();
    return crypto_pwhash_str_needs_rehash(hash, p.opslimit, p.memlimit) != 0;
}

void wl_password_stats_get(wl_password_stats *out)
{
    setup_once();
    pthread_mutex_lock(&g.mu);
    out->max_concurrent = g.max;
    out->in_use = g.in_use;
    out->peak = g.peak;
    out->busy = g.busy;
    pthread_mutex_unlock(&g.mu);
}
