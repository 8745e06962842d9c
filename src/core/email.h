/* email.h - validation and normalisation of account email addresses.
 *
 * The normal form is what the store keys users by (store.h: "callers
 * normalise"), so two spellings that reach the same mailbox for certain map
 * to one account:
 *   - surrounding whitespace (space, \t, \r, \n, \v, \f) is trimmed;
 *   - the domain is lower-cased (DNS names are case-insensitive);
 *   - the local part keeps its case: RFC 5321 lets a server treat "Bob" and
 *     "bob" as different mailboxes, so folding it could merge two people.
 *
 * Accepted shape (deliberately narrower than RFC 5322; no quoted local parts,
 * comments or IP literals):
 *   local@domain, exactly one '@', at most WL_EMAIL_MAX bytes in all;
 *   local: 1..64 bytes of printable ASCII except space and ()<>[]:;,\"@,
 *          no leading, trailing or doubled '.';
 *   domain: two or more dot-separated labels of 1..63 bytes of [A-Za-z0-9-],
 *          no label starting or ending with '-', the last label not all
 *          digits, at most 253 bytes.
 * Non-ASCII is refused: internationalised domains must be given in their
 * xn-- (A-label) form. That keeps one normal form per address (no Unicode
 * case folding or normalisation to get wrong) and the stored value valid
 * UTF-8 for JSON.
 *
 * Pure function, safe from any thread; no allocation. */
#ifndef WL_EMAIL_H
#define WL_EMAIL_H

#include <stddef.h>

#include "core/status.h"

#define WL_EMAIL_MAX 254      /* bytes, without NUL */
#define WL_EMAIL_LOCAL_MAX 64 /* RFC 5321 section 4.5.3.1.1 */
#define WL_EMAIL_DOMAIN_MAX 253

/* Normalises in[0..len) (need not be NUL-terminated) into out as a
 * NUL-terminated string and sets *out_len (may be NULL) to its length.
 * WL_EINVAL: not an acceptable address (out is then unspecified);
 * WL_ETOOBIG: cap too small for the result (WL_EMAIL_MAX + 1 always
 * suffices). */
wl_status wl_email_normalize(const char *in, size_t len, char *out, size_t cap, size_t *out_len);

#endif
