/* visitor.h - keyed visitor hashing for privacy-preserving unique counts.
 *
 * A "unique visitor" of a link on a day is a distinct (client address, user
 * agent) pair. The worker feeds wl_visitor_hash() of that pair into the
 * link's HyperLogLog sketch for the day (hll.h); the address itself is never
 * stored anywhere by the analytics side.
 *
 * Hash: keyed BLAKE2b (libsodium crypto_generichash) with a 32-byte key and a
 * WarpLink-specific personalisation, truncated to 64 bits. A keyed hash is a
 * pseudo-random function: without the key nobody can test whether a given
 * address visited (an unkeyed hash of an IPv4 address is reversed by trying
 * all 2^32), and its output is uniform, which HyperLogLog needs. BLAKE2b over
 * SipHash (crypto_shorthash): it takes the 32-byte key the design asks for,
 * hashes the user agent in place through its streaming API instead of copying
 * it into a bounded buffer, and costs well under a microsecond, which does
 * not matter off the redirect path.
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

typedef struct wl_visitor_key {
    uint8_t bytes[WL_VISITOR_KEY_BYTES];
} wl_visitor_key;

/* Fills *key from the OS CSPRNG. WL_EIO if libsodium cannot initialise. */
wl_status wl_visitor_key_generate(wl_visitor_key *key);

/* Overwrites *key with zeros in a way the compiler may not remove. */
void wl_visitor_key_wipe(wl_visitor_key *key);

/* The 64-bit keyed hash of (addr[0..addr_len), ua[0..ua_len)).
 * addr is the raw network-order address: 4 bytes for IPv4, 16 for IPv6. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) hashes like the plain IPv4
 * address, so a dual-stack listener does not split one client in two.
 * addr_len must be at most 16 (longer input is truncated to 16 bytes). The
 * user agent is hashed whole and may be empty (ua NULL with ua_len 0). The two
 * fields are length-framed, so no two different pairs feed the same bytes. */
uint64_t wl_visitor_hash(const wl_visitor_key *key, const uint8_t *addr, size_t addr_len,
                         const char *ua, size_t ua_len);

#endif
