/* jwt.h - HS256 JSON Web Tokens for the Bearer credentials of /auth/login.
 *
 * Only HS256 exists here. The algorithm is pinned by the verifier: the "alg"
 * of a token is checked to be exactly "HS256" and is never used to choose
 * anything, so "none", HS512, RS256 and every case variant are refused.
 *
 * Keys live in a wl_jwt_keyring: up to WL_JWT_MAX_KEYS keys, each a kid
 * (1..32 bytes of [A-Za-z0-9._-]) and a 32..64-byte secret. One key is the
 * signer; every key in the ring verifies. Rotation: add the new key, make it
 * the signer, and drop the old key once the longest token lifetime has
 * passed (or, with the key file, put the new line first and keep the old
 * line below it for that long).
 *
 * Ownership: a keyring is a plain value the caller owns (usually one per
 * process). It holds secrets, so end its life with wl_jwt_keyring_clear(),
 * which wipes them. Sign and verify only read the ring: once it is set up it
 * may be shared by any number of threads without locking; mutating it while
 * other threads verify is the caller's race to prevent.
 *
 * Library code: nothing here prints; reasons for a refusal are returned as a
 * wl_jwt_reason for the caller to log. */
#ifndef WL_JWT_H
#define WL_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define WL_JWT_MAX_KEYS 8
#define WL_JWT_KID_MAX 32
#define WL_JWT_SECRET_MIN 32
#define WL_JWT_SECRET_MAX 64
/* Tokens longer than this are refused unread (and wl_jwt_sign never makes one). */
#define WL_JWT_MAX_TOKEN 4096
/* Tolerated clock skew, in seconds, for "iat" and "nbf" lying in the future
 * (tokens issued by a node whose clock runs slightly ahead). "exp" gets no
 * leeway: expiring a few seconds early costs a re-login, never a breach. */
#define WL_JWT_LEEWAY_S 30
#define WL_JWT_SUB_MAX 64
#define WL_JWT_ISS_MAX 128
#define WL_JWT_AUD_MAX 128

typedef struct wl_jwt_key {
    char kid[WL_JWT_KID_MAX + 1]; /* NUL-terminated */
    unsigned char secret[WL_JWT_SECRET_MAX];
    size_t secret_len;
} wl_jwt_key;

typedef struct wl_jwt_keyring {
    wl_jwt_key keys[WL_JWT_MAX_KEYS];
    unsigned count;
    unsigned signer; /* index into keys; meaningful when count > 0 */
} wl_jwt_keyring;

/* The claims WarpLink issues and accepts. Strings are NUL-terminated copies
 * held in the struct itself, so a filled struct owns everything it says. */
typedef struct wl_jwt_claims {
    char sub[WL_JWT_SUB_MAX + 1]; /* subject: the user id in decimal; non-empty */
    char iss[WL_JWT_ISS_MAX + 1]; /* issuer; non-empty */
    char aud[WL_JWT_AUD_MAX + 1]; /* audience; non-empty */
    int64_t iat;                  /* issued at, Unix seconds, >= 0 */
    int64_t exp;                  /* expires at, Unix seconds, > iat */
} wl_jwt_claims;

/* Why wl_jwt_verify() refused a token, for logs only: clients must get the
 * same 401 whatever the reason. */
typedef enum wl_jwt_reason {
    WL_JWT_R_OK = 0,
    WL_JWT_R_TOO_LONG,      /* empty or longer than WL_JWT_MAX_TOKEN */
    WL_JWT_R_MALFORMED,     /* not three non-empty unpadded base64url parts */
    WL_JWT_R_BAD_HEADER,    /* header not a JSON object, bad "typ", has "crit" */
    WL_JWT_R_BAD_ALG,       /* "alg" missing or not exactly "HS256" */
    WL_JWT_R_UNKNOWN_KID,   /* "kid" missing or names no key in the ring */
    WL_JWT_R_BAD_SIGNATURE, /* signature is not the HMAC of header.payload */
    WL_JWT_R_BAD_PAYLOAD,   /* payload not an object, or a claim missing/mistyped */
    WL_JWT_R_BAD_ISSUER,    /* "iss" differs from the expected issuer */
    WL_JWT_R_BAD_AUDIENCE,  /* "aud" neither equals nor contains the expected one */
    WL_JWT_R_EXPIRED,       /* now >= exp */
    WL_JWT_R_NOT_YET_VALID, /* iat or nbf later than now + WL_JWT_LEEWAY_S */
    WL_JWT_R_COUNT_
} wl_jwt_reason;

/* A short static lower-case phrase for a reason; never NULL. */
const char *wl_jwt_reason_name(wl_jwt_reason r);

/* Starts an empty ring. */
void wl_jwt_keyring_init(wl_jwt_keyring *kr);

/* Wipes every secret (sodium_memzero) and leaves an empty ring. */
void wl_jwt_keyring_clear(wl_jwt_keyring *kr);

/* Copies a key into the ring. kid is NUL-terminated. The first key added
 * becomes the signer; later keys only verify until wl_jwt_keyring_set_signer.
 * WL_EINVAL: bad kid or secret length; WL_EEXISTS: kid already present;
 * WL_EFULL: WL_JWT_MAX_KEYS keys already. */
wl_status wl_jwt_keyring_add(wl_jwt_keyring *kr, const char *kid, const unsigned char *secret,
                             size_t secret_len);

/* Makes the key named kid the signer. WL_ENOTFOUND when absent. */
/* As wl_jwt_keyring_add with a (kid, kid_len) pair (used by the key file). */
wl_status wl_jwt_keyring_add_n(wl_jwt_keyring *kr, const char *kid, size_t kid_len,
                               const unsigned char *secret, size_t secret_len);
wl_status wl_jwt_keyring_set_signer(wl_jwt_keyring *kr, const char *kid);

/* Removes (and wipes) the key named kid: tokens it signed stop verifying.
 * WL_ENOTFOUND when absent; WL_EBUSY when it is the signer (choose another
 * signer first). */
wl_status wl_jwt_keyring_remove(wl_jwt_keyring *kr, const char *kid);

enum wl_jwt_keyfile_flags {
    WL_JWT_KEYFILE_CREATED = 1u << 0, /* the file did not exist and was made now */
};

/* Fills kr (replacing its contents) from the key file at path, creating the
 * file first when it does not exist.
 *
 * Key file format (text, UTF-8/ASCII, at most 8 KiB):
 *     # comment lines and blank lines are ignored
 *     <kid> <secret>
 * one key per line, kid and secret separated by spaces or tabs, secret in
 * unpadded base64url (RFC 4648 section 5) decoding to 32..64 bytes. The first
 * key line is the signer; further lines are older keys that still verify.
 * At most WL_JWT_MAX_KEYS keys, kids unique.
 *
 * Creation writes one fresh key (16 hex-digit random kid, 256-bit secret
 * from the CSPRNG) to a temporary file opened O_CREAT|O_EXCL with mode 0600,
 * fsyncs it, link()s it to path (so path appears complete or not at all, and
 * of two processes racing to create it exactly one wins and the other loads
 * the winner's key), then fsyncs the directory.
 *
 * The file must be a regular file with no permission bits for group or
 * others: a secret anyone else can read lets them mint tokens for any user,
 * so such a file is refused (WL_EINVAL; fix with chmod 600), as ssh refuses
 * a private key. Symlinks are followed (mounted secrets are often symlinks).
 *
 * *flags_out (may be NULL) receives wl_jwt_keyfile_flags.
 * Errors: WL_EINVAL bad mode or not a regular file; WL_ECORRUPT bad syntax,
 * no keys, too many keys, duplicate kid, file too big; WL_EIO the OS failed.
 * On error kr is left empty. */
wl_status wl_jwt_keyring_load_or_create(wl_jwt_keyring *kr, const char *path, unsigned *flags_out);

/* Signs c with the ring's signer into out as a NUL-terminated compact JWT;
 * *len (may be NULL) gets its length without the NUL. The header is
 * {"alg":"HS256","typ":"JWT","kid":"<signer kid>"}, the payload
 * {"iss","sub","aud","iat","exp"}.
 * WL_EINVAL: empty ring, or claims out of range (empty strings, strings not
 * NUL-terminated within their arrays or not UTF-8, iat < 0, exp <= iat);
 * WL_ETOOBIG: cap too small (WL_JWT_MAX_TOKEN + 1 always suffices). */
wl_status wl_jwt_sign(const wl_jwt_keyring *kr, const wl_jwt_claims *c, char *out, size_t cap,
                      size_t *len);

/* Verifies token[0..len) (need not be NUL-terminated) at time now_s (Unix
 * seconds) against the ring, the expected issuer and the expected audience
 * (both NUL-terminated, non-empty).
 *
 * Rules, in order: 1..WL_JWT_MAX_TOKEN bytes; exactly three non-empty
 * unpadded base64url parts; the header is a JSON object whose "alg" is
 * exactly "HS256", whose "kid" names a key in the ring (a missing kid is
 * refused even for a one-key ring, so adding a second key never changes
 * which tokens verify), with "typ" absent or "JWT" and no "crit"; the
 * signature (exactly 32 bytes) matches HMAC-SHA256 of "header.payload"
 * under that key in constant time - and only then is the payload parsed;
 * the payload is a JSON object with "sub" a non-empty string of at most
 * WL_JWT_SUB_MAX bytes, "iat" and "exp" non-negative integers, "iss" equal
 * to iss, "aud" equal to aud or an array containing it, "nbf" (optional) a
 * non-negative integer; exp > now_s; iat and nbf <= now_s + WL_JWT_LEEWAY_S.
 * JSON with duplicate member names is malformed.
 *
 * Returns WL_OK and fills *out (may be NULL; untouched on failure), or
 * WL_EDENIED with *why (may be NULL) saying which rule failed, or WL_EINVAL
 * when kr/iss/aud are NULL or empty (a programming error, not a bad token).
 * Safe on any input bytes. */
wl_status wl_jwt_verify(const wl_jwt_keyring *kr, const char *token, size_t len, const char *iss,
                        const char *aud, int64_t now_s, wl_jwt_claims *out, wl_jwt_reason *why);

#endif
