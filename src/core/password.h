/* password.h - Argon2id password hashing with a bound on concurrent work.
 *
 * Hashes are libsodium crypto_pwhash_str() strings ("$argon2id$v=19$m=...,
 * t=...,p=1$salt$hash"), self-describing, so parameters can be raised later:
 * verify accepts any Argon2id/Argon2i string and wl_password_needs_rehash()
 * says when to store a fresh hash after a successful login.
 *
 * Each hash or verify needs memlimit bytes of RAM for ~tens of ms. To keep a
 * login flood from allocating without bound, every hash/verify first takes a
 * slot of a process-wide counting semaphore (max_concurrent slots). A caller
 * that cannot get a slot within wait_ms gets WL_EBUSY (answer 429/503), so
 * peak memory is max_concurrent * memlimit.
 *
 * Global state: one configuration per process, set by wl_password_init()
 * (thread-safe; callable again to reconfigure). Functions called before
 * wl_password_init() use the defaults below. All functions are thread-safe.
 * They block the calling thread while hashing: call them from worker
 * threads, never from an event-loop thread. */
#ifndef WL_PASSWORD_H
#define WL_PASSWORD_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Policy (API.md weak-password): 8..1024 bytes. */
#define WL_PASSWORD_MIN_LEN 8
#define WL_PASSWORD_MAX_LEN 1024   /* characters (UTF-8 code points) */
#define WL_PASSWORD_MAX_BYTES 4096 /* 1024 characters of up to 4 bytes */

/* The floor wl_password_init() accepts: OWASP's minimum Argon2id
 * configuration (m = 19 MiB, t = 2, p = 1). Also the cheapest params tests
 * may use. */
#define WL_PASSWORD_OPSLIMIT_MIN 2ULL
#define WL_PASSWORD_MEMLIMIT_MIN ((size_t)19 * 1024 * 1024)
/* The default: libsodium's INTERACTIVE (m = 64 MiB, t = 2, p = 1). */
#define WL_PASSWORD_OPSLIMIT_DEFAULT 2ULL
#define WL_PASSWORD_MEMLIMIT_DEFAULT ((size_t)64 * 1024 * 1024)
/* Upper bound on memlimit, against a configuration typo eating all RAM. */
#define WL_PASSWORD_MEMLIMIT_MAX ((size_t)1024 * 1024 * 1024)
#define WL_PASSWORD_WAIT_MS_DEFAULT 2000u

typedef struct wl_password_params {
    unsigned long long opslimit; /* Argon2id t (passes); >= WL_PASSWORD_OPSLIMIT_MIN */
    size_t memlimit;             /* bytes; WL_PASSWORD_MEMLIMIT_MIN..WL_PASSWORD_MEMLIMIT_MAX */
} wl_password_params;

typedef struct wl_password_stats {
    unsigned max_concurrent; /* configured slots */
    unsigned in_use;         /* slots held right now */
    unsigned peak;           /* most slots ever held at once (since init/reset) */
    uint64_t busy;           /* calls refused with WL_EBUSY (since init) */
} wl_password_stats;

/* Configures hashing: params (NULL = defaults), max_concurrent slots (0 =
 * number of online CPUs), and how long a caller waits for a slot (wait_ms).
 * Also precomputes the dummy hash for wl_password_dummy_verify() with the
 * new params, so it costs one hash. Resets the stats.
 * WL_EINVAL: params outside the documented bounds; WL_EIO: libsodium could
 * not initialise; WL_ENOMEM. */
wl_status wl_password_init(const wl_password_params *params, unsigned max_concurrent,
                           unsigned wait_ms);

/* The current configuration, for logging at startup. */
wl_password_params wl_password_current_params(void);

/* true when pw is an acceptable new password: 8..1024 characters (counted
 * as UTF-8 code points, as API.md's "characters"). */
bool wl_password_acceptable(const char *pw, size_t len);

/* Hashes pw[0..len) (need not be NUL-terminated; any bytes) with a fresh
 * random salt into out, NUL-terminated.
 * WL_EINVAL: !wl_password_acceptable(len); WL_EBUSY: no slot within wait_ms;
 * WL_ENOMEM: Argon2 could not get its memory. */
wl_status wl_password_hash(const char *pw, size_t len, char out[crypto_pwhash_STRBYTES]);

/* Checks pw[0..len) against hash (NUL-terminated crypto_pwhash_str string,
 * as stored). WL_OK on a match; WL_EDENIED on a mismatch, a malformed hash,
 * or len > WL_PASSWORD_MAX_LEN (refused before hashing); WL_EBUSY: no slot
 * within wait_ms. The stored hash is trusted: its own m/t parameters decide
 * the cost of this call. */
wl_status wl_password_verify(const char *hash, const char *pw, size_t len);

/* For a login with an unknown email: does the work of a real verify (same
 * slot, same params) against a hash of a random secret, and always answers
 * WL_EDENIED (or WL_EBUSY), so the reply and its timing match a wrong
 * password for an existing user. */
wl_status wl_password_dummy_verify(const char *pw, size_t len);

/* true when hash was made with parameters other than the current ones (or
 * is not a well-formed Argon2id string): after a successful verify, hash
 * the password again and store the new string. */
bool wl_password_needs_rehash(const char *hash);

/* A snapshot of the slot counters (for /metrics and for tests). */
void wl_password_stats_get(wl_password_stats *out);

#endif
