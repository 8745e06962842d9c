/* test_alias.c - custom alias rules: length bounds, charset, reserved words
 * in every letter case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alias.h"

typedef struct alias_case {
    const char *alias;
    wl_alias_verdict want;
} alias_case;

static const alias_case alias_cases[] = {
    {"", WL_ALIAS_LENGTH},
    {"ab", WL_ALIAS_LENGTH},
    {"abc", WL_ALIAS_OK},
    {"my-event", WL_ALIAS_OK},
    {"My_Event-2026", WL_ALIAS_OK},
    {"---", WL_ALIAS_OK},
    {"_a_", WL_ALIAS_OK},
    {"aB3xY9z", WL_ALIAS_OK}, /* key-shaped: no special rule */
    {"0123456789", WL_ALIAS_OK},
    {"linksx", WL_ALIAS_OK}, /* reserved words match whole, not as prefixes */
    {"xapi", WL_ALIAS_OK},
    {"my event", WL_ALIAS_CHARS},
    {"my.event", WL_ALIAS_CHARS},
    {"my/event", WL_ALIAS_CHARS},
    {"my%20", WL_ALIAS_CHARS},
    {"caf\xc3\xa9", WL_ALIAS_CHARS},
    {"abc\n", WL_ALIAS_CHARS},
    {"a+b", WL_ALIAS_CHARS},
    {"a~b", WL_ALIAS_CHARS},
    {"?abc", WL_ALIAS_CHARS},
    {"favicon.ico", WL_ALIAS_CHARS}, /* reserved, but the charset refuses it first */
    {"robots.txt", WL_ALIAS_CHARS},
    {"v1", WL_ALIAS_LENGTH}, /* reserved, but too short first */
    {"V1", WL_ALIAS_LENGTH},
};

static const char *const reserved[] = {
    "links",    "user",      "users",  "auth",    "app",   "api",        "static",
    "problems", "healthz",   "readyz", "metrics", "admin", "login",      "logout",
    "register", "dashboard", "stats",  "assets",  "www",   "well-known",
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof alias_cases / sizeof alias_cases[0]; i++) {
        const alias_case *c = &alias_cases[i];
        wl_alias_verdict got = wl_alias_check(c->alias, strlen(c->alias));
        if (got != c->want)
            fail_msg("alias \"%s\": got %d, want %d", c->alias, (int)got, (int)c->want);
    }
}

static void test_length_boundaries(void **state)
{
    char buf[WL_ALIAS_MAX + 2];
    (void)state;
    memset(buf, 'a', sizeof buf);
    assert_int_equal(wl_alias_check(buf, 2), WL_ALIAS_LENGTH);
    assert_int_equal(wl_alias_check(buf, 3), WL_ALIAS_OK);
    assert_int_equal(wl_alias_check(buf, 64), WL_ALIAS_OK);
    assert_int_equal(wl_alias_check(buf, 65), WL_ALIAS_LENGTH);
    assert_int_equal(wl_alias_check(NULL, 0), WL_ALIAS_LENGTH);
}

/* Not NUL-terminated input: only len bytes may count. */
static void test_length_is_len_not_nul(void **state)
{
    (void)state;
    assert_int_equal(wl_alias_check("apixyz", 3), WL_ALIAS_RESERVED);
    assert_int_equal(wl_alias_check("abc\0def", 7), WL_ALIAS_CHARS);
}

/* Lower, upper, and alternating case of every reserved word. */
static void test_reserved_any_case(void **state)
{
    char buf[WL_ALIAS_MAX + 1];
    (void)state;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        size_t n = strlen(reserved[i]);
        for (int variant = 0; variant < 3; variant++) {
            for (size_t j = 0; j < n; j++) {
                char c = reserved[i][j];
                int upper = variant == 1 || (variant == 2 && j % 2 == 0);
                buf[j] = (upper && c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
            }
            if (wl_alias_check(buf, n) != WL_ALIAS_RESERVED)
                fail_msg("reserved word variant \"%.*s\" accepted", (int)n, buf);
        }
    }
    assert_int_equal(wl_alias_check("Links", 5), WL_ALIAS_RESERVED);
    assert_int_equal(wl_alias_check("API", 3), WL_ALIAS_RESERVED);
}

static void test_texts(void **state)
{
    (void)state;
    for (int v = WL_ALIAS_OK; v <= WL_ALIAS_RESERVED; v++) {
        const char *t = wl_alias_verdict_text((wl_alias_verdict)v);
        assert_non_null(t);
        assert_true(strlen(t) > 10);
    }
    assert_non_null(wl_alias_verdict_text((wl_alias_verdict)99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_length_boundaries),
        cmocka_unit_test(test_length_is_len_not_nul),
        cmocka_unit_test(test_reserved_any_case),
        cmocka_unit_test(test_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
