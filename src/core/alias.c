/* alias.c - custom alias validation.
 *
 * The reserved list holds the first path segment of every route WarpLink
 * serves (or may serve soon), because a link whose key equals such a segment
 * would be shadowed by that route and never redirect. It is compared without
 * regard to case so that a look-alike ("Links") cannot confuse a human
 * reading a short URL either. Entries that can never pass the character
 * check (favicon.ico, robots.txt, and v1 which is too short) stay listed so
 * the list keeps documenting every reserved name even if the rules loosen. */
#include "core/alias.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const char *const reserved_words[] = {
    "links",       "v1",         "user",     "users",   "auth",       "app",
    "api",         "static",     "problems", "healthz", "readyz",     "metrics",
    "favicon.ico", "robots.txt", "admin",    "login",   "logout",     "register",
    "dashboard",   "stats",      "assets",   "www",     "well-known",
};

static bool alias_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static bool alias_is_reserved(const char *alias, size_t len)
{
    for (size_t i = 0; i < sizeof reserved_words / sizeof reserved_words[0]; i++) {
        const char *w = reserved_words[i];
        /* strncasecmp stops at w's NUL, so check the length first: alias
         * need not be NUL-terminated and must match w in full. */
        if (strlen(w) == len && strncasecmp(alias, w, len) == 0)
            return true;
    }
    return false;
}

wl_alias_verdict wl_alias_check(const char *alias, size_t len)
{
    if (len < WL_ALIAS_MIN || len > WL_ALIAS_MAX)
        return WL_ALIAS_LENGTH;
    for (size_t i = 0; i < len; i++)
        if (!alias_char_ok((unsigned char)alias[i]))
            return WL_ALIAS_CHARS;
    if (alias_is_reserved(alias, len))
        return WL_ALIAS_RESERVED;
    return WL_ALIAS_OK;
}

const char *wl_alias_verdict_text(wl_alias_verdict v)
{
    switch (v) {
    case WL_ALIAS_OK:
        return "the alias is acceptable";
    case WL_ALIAS_LENGTH:
        return "the alias must be 3 to 64 characters long";
    case WL_ALIAS_CHARS:
        return "the alias may contain only letters A-Z and a-z, digits 0-9, '-' and '_'";
    case WL_ALIAS_RESERVED:
        return "the alias is a reserved word (it names one of WarpLink's own paths)";
    }
    return "the alias is invalid";
}
