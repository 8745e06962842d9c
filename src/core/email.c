/* email.c - email address validation and normal form (rules in email.h).
 *
 * Works on the trimmed input as a (ptr, len) view, checks the local part and
 * the domain separately, then writes the result in one pass. */
#include "core/email.h"

#include <stdbool.h>
#include <string.h>

#include "core/slice.h"

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static wl_slice trim(const char *in, size_t len)
{
    while (len > 0 && is_space(in[0])) {
        in++;
        len--;
    }
    while (len > 0 && is_space(in[len - 1]))
        len--;
    return wl_slice_make(in, len);
}

static bool local_char_ok(char ch)
{
    unsigned char u = (unsigned char)ch;
    return u > 0x20 && u < 0x7f && !strchr("()<>[]:;,\\\"@", ch);
}

static bool local_ok(wl_slice s)
{
    if (s.len == 0 || s.len > WL_EMAIL_LOCAL_MAX || s.ptr[0] == '.' || s.ptr[s.len - 1] == '.')
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!local_char_ok(s.ptr[i]))
            return false;
        if (s.ptr[i] == '.' && s.ptr[i + 1] == '.') /* i + 1 < len: last is not '.' */
            return false;
    }
    return true;
}

static bool is_alpha(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* One DNS label; *has_alpha reports whether it contains a letter. */
static bool label_ok(const char *p, size_t n, bool *has_alpha)
{
    if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
        return false;
    *has_alpha = false;
    for (size_t i = 0; i < n; i++) {
        if (is_alpha(p[i]))
            *has_alpha = true;
        else if (!is_digit(p[i]) && p[i] != '-')
            return false;
    }
    return true;
}

static bool domain_ok(wl_slice s)
{
    if (s.len == 0 || s.len > WL_EMAIL_DOMAIN_MAX)
        return false;
    size_t labels = 0, start = 0;
    bool alpha = false;
    for (size_t i = 0; i <= s.len; i++) {
        if (i < s.len && s.ptr[i] != '.')
            continue;
        if (!label_ok(s.ptr + start, i - start, &alpha))
            return false;
        labels++;
        start = i + 1;
    }
    /* alpha is the last label's: an all-digit TLD means an IP address. */
    return labels >= 2 && alpha;
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

wl_status wl_email_normalize(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    if (!in || !out)
        return WL_EINVAL;
    wl_slice s = trim(in, len);
    if (s.len == 0 || s.len > WL_EMAIL_MAX)
        return WL_EINVAL;
    const char *at = memchr(s.ptr, '@', s.len);
    if (!at)
        return WL_EINVAL;
    wl_slice local = wl_slice_make(s.ptr, (size_t)(at - s.ptr));
    wl_slice domain = wl_slice_make(at + 1, s.len - local.len - 1);
    /* local_ok refuses '@', and domain_ok any non-label byte: so exactly one '@'. */
    if (!local_ok(local) || !domain_ok(domain))
        return WL_EINVAL;
    if (cap < s.len + 1)
        return WL_ETOOBIG;
    memcpy(out, local.ptr, local.len);
    out[local.len] = '@';
    for (size_t i = 0; i < domain.len; i++)
        out[local.len + 1 + i] = lower(domain.ptr[i]);
    out[s.len] = '\0';
    if (out_len)
        *out_len = s.len;
    return WL_OK;
}
