/* kgs.h - the key generation service: random 7-character base62 link keys.
 *
 * Keys are drawn from libsodium's CSPRNG, so they are unguessable, but they
 * are NOT unique by construction: 62^7 (about 3.5e12) keys make a repeat
 * likely after a few million (birthday bound). Uniqueness is the store's
 * conditional insert; on WL_EEXISTS the create handler calls
 * wl_kgs_note_collision() and asks for another key.
 *
 * A wl_kgs is owned by ONE thread (embed it in the loop or worker state) and
 * has no locks. It holds a batch of pre-generated keys; wl_kgs_next() only
 * copies one out, and touches libsodium (a getrandom() syscall) only when the
 * batch is used up. No key that is a reserved alias word (e.g. "healthz",
 * "metrics", in any case) is ever issued, because such a key would be shadowed
 * by WarpLink's own route. The counters are process-wide relaxed atomics,
 * readable from any thread (for /metrics). */
#ifndef WL_KGS_H
#define WL_KGS_H

#include <stdint.h>

#define WL_KEY_LEN 7
#define WL_KGS_BATCH 256

/* keys[] are NOT NUL-terminated; next indexes the next unused key and equals
 * WL_KGS_BATCH when the batch is used up (or was never filled). */
typedef struct wl_kgs {
    char keys[WL_KGS_BATCH][WL_KEY_LEN];
    unsigned next;
} wl_kgs;

/* Makes k empty; the first wl_kgs_next() fills a batch. Needs no release. */
void wl_kgs_init(wl_kgs *k);

/* Writes the next key (exactly WL_KEY_LEN bytes of [0-9A-Za-z], no NUL) to
 * out. Aborts the process if the system cannot supply randomness at all,
 * since no safe key could then be issued. */
void wl_kgs_next(wl_kgs *k, char out[WL_KEY_LEN]);

/* Counts one key that the store already held. Any thread. */
void wl_kgs_note_collision(void);

/* Collisions noted so far in this process. */
uint64_t wl_kgs_collisions(void);

/* Keys handed out by wl_kgs_next() so far in this process, over all threads. */
uint64_t wl_kgs_issued(void);

#endif
