/* jwt_keyfile.c - the JWT key file: load it, or create it on first start.
 *
 * Format: one key per line, "<kid> <base64url secret>", '#' comments and
 * blank lines ignored; the first key signs, the others still verify (key
 * rotation without logging everyone out). Created atomically (temp file,
 * fsync, link(), directory fsync) with mode 0600; a file readable by group
 * or others is refused, as ssh refuses private keys. */
#include "core/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define KEYFILE_MAX 8192

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
        st = wl_jwt_keyring_add_n(kr, kid, kid_len, secret, n);
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
