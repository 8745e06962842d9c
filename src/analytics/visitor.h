/* visitor.h - keyed visitor hashing for privacy-preserving unique counts.
 *
 * A "unique visitor" of a link on a day is a distinct (client address, user
 * agent) pair. The worker feeds wl_visitor_hash() of that pair into the
 * link's HyperLogLog sketch for the day (hll.h); the address itself is never
 * stored anywhere by the analytics side.
 *
 * Hash: a keyed pseudo-random function of the pair, 64 bits. Keyed, so
 * without the key nobody can test whether a given address visited (an
 * unkeyed hash of an IPv4 address is reversed by trying all 2^32), and
 * uniform, which HyperLogLog needs. Which function a key is used with is
 * part of the key (wl_visitor_key.alg) and stored with it, so every visitor
 * of a day is hashed the same way even across an upgrade:
 *   WL_VISITOR_SIPHASH (keys made since schema 4): SipHash-2-4 (libsodium
 *     crypto_shorthash) keyed with the key's two 16-byte halves XORed. About 5x cheaper
 *     than BLAKE2b over a user agent: the worker hashes every human click,
 *     and BLAKE2b was a fifth of its time at a million clicks a second.
 *   WL_VISITOR_BLAKE2B (older keys): keyed BLAKE2b (crypto_generichash)
 *     with all 32 bytes and a WarpLink personalisation, truncated.
 *
 * Key life cycle (implemented by the worker, which owns the key storage):
 *   1. When the worker first sees an event for UTC day D, it creates the key
 *      for D with wl_visitor_key_generate() and stores it in the analytics
 *      database in the same transaction as that batch's aggregates, so a
 *      crash can never hash one day's visitors under two keys.
 *   2. Every event stamped on day D is hashed with D's key, so the same
 *      visitor maps to the same register across batches and restarts.
 *   3. Once D plus a grace period (the latest an event may arrive, e.g. 48 h)
 *      has passed, the worker deletes D's key (with SQLite secure_delete on,
 *      so the page is overwritten) and calls wl_visitor_key_wipe() on any copy
 *      in memory. From then on D's sketches cannot be linked to any address,
 *      even by someone holding the database and a list of candidates. Events
 *      for D arriving later still count as clicks but not as visitors.
 * Keys change daily, so the same person counts once per day per link; unique
 * visitors over a range are the merge (union) of the daily sketches, which
 * over-counts a person seen on several days (documented as approximate).
 *
 * All functions are thread-safe; keys are plain values owned by the caller. */
#ifndef WL_VISITOR_H
#define WL_VISITOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define WL_VISITOR_KEY_BYTES 32
/* Longest user agent hashed; longer ones are hashed up to here (the click
 * event holds at most 512 bytes anyway, event.h). */
#define WL_VISITOR_UA_MAX 1024

typedef enum wl_visitor_alg {
    WL_VISITOR_BLAKE2B = 1,
    WL_VISITOR_SIPHASH = 2,
} wl_visitor_alg;

typedef struct wl_visitor_key {
    uint8_t bytes[WL_VISITOR_KEY_BYTES];
    uint8_t alg; /* a wl_visitor_alg; stored with the key */
} wl_visitor_key;

/* Fills *key from the OS CSPRNG, alg WL_VISITOR_SIPHASH. WL_EIO if libsodium
 * cannot initialise. */
wl_status wl_visitor_key_generate(wl_visitor_key *key);

/* Overwrites *key with zeros in a way the compiler may not remove. */
void wl_visitor_key_wipe(wl_visitor_key *key);

/* The 64-bit keyed hash of (addr[0..addr_len), ua[0..ua_len)).
 * addr is the raw network-order address: 4 bytes for IPv4, 16 for IPv6. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) hashes like the plain IPv4
 * address, so a dual-stack listener does not split one client in two.
 * addr_len must be at most 16 (longer input is truncated to 16 bytes). The
 * user agent (at most WL_VISITOR_UA_MAX bytes of it) may be empty (ua NULL
 * with ua_len 0). The two fields are length-framed, so no two different
 * pairs feed the same bytes. A key of an unknown alg hashes as BLAKE2B. */
uint64_t wl_visitor_hash(const wl_visitor_key *key, const uint8_t *addr, size_t addr_len,
                         const char *ua, size_t ua_len);

#endif
