/* test_email.c - email validation and normal form, as a table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/email.h"

typedef struct email_case {
    const char *in;
    const char *want; /* NULL: refused with WL_EINVAL */
} email_case;

static const email_case CASES[] = {
    {"alice@example.com", "alice@example.com"},
    {"  Alice@Example.COM \r\n", "Alice@example.com"}, /* trim; domain only lowered */
    {"\tBOB.Smith+tag@Mail.Example.Co.UK\t", "BOB.Smith+tag@mail.example.co.uk"},
    {"o'neil_x-y!#$%&*/=?^`{|}~@a-b.example", "o'neil_x-y!#$%&*/=?^`{|}~@a-b.example"},
    {"x@xn--bcher-kva.de", "x@xn--bcher-kva.de"},
    {"a@b.c0", "a@b.c0"},
    {"", NULL},
    {"   ", NULL},
    {"plainaddress", NULL},
    {"@example.com", NULL},           /* empty local part */
    {"alice@", NULL},                 /* empty domain */
    {"alice@@example.com", NULL},     /* two '@' */
    {"al@ice@example.com", NULL},     /* two '@' */
    {"alice@localhost", NULL},        /* single label */
    {"alice@example.", NULL},         /* empty last label */
    {"alice@.example.com", NULL},     /* empty first label */
    {"alice@example..com", NULL},     /* empty middle label */
    {"alice@-example.com", NULL},     /* label starts with '-' */
    {"alice@example-.com", NULL},     /* label ends with '-' */
    {"alice@exa_mple.com", NULL},     /* '_' in domain */
    {"alice@1.2.3.4", NULL},          /* IP address */
    {"alice@[1.2.3.4]", NULL},        /* IP literal */
    {"al ice@example.com", NULL},     /* inner space */
    {"alice@exam ple.com", NULL},     /* inner space in domain */
    {"al\tice@example.com", NULL},    /* control character */
    {"alice@example.com\x7f", NULL},  /* DEL */
    {"\"al ice\"@example.com", NULL}, /* quoted local part */
    {"a(b)@example.com", NULL},       /* comment characters */
    {"a,b@example.com", NULL},
    {".alice@example.com", NULL},      /* leading dot */
    {"alice.@example.com", NULL},      /* trailing dot */
    {"al..ice@example.com", NULL},     /* doubled dot */
    {"j\xc3\xb6rg@example.com", NULL}, /* non-ASCII local part */
    {"a@b\xc3\xbc"
     "cher.de",
     NULL}, /* non-ASCII domain */
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const email_case *t = &CASES[i];
        char out[WL_EMAIL_MAX + 1];
        size_t len = 0;
        wl_status st = wl_email_normalize(t->in, strlen(t->in), out, sizeof out, &len);
        if (!t->want) {
            if (st != WL_EINVAL)
                fail_msg("'%s': want refusal, got %s", t->in, wl_strerror(st));
            continue;
        }
        if (st != WL_OK)
            fail_msg("'%s': want '%s', got %s", t->in, t->want, wl_strerror(st));
        assert_string_equal(out, t->want);
        assert_int_equal(len, strlen(t->want));
    }
}

static void test_embedded_nul(void **state)
{
    (void)state;
    char out[WL_EMAIL_MAX + 1];
    const char in[] = "alice@example.com\0.evil";
    assert_int_equal(wl_email_normalize(in, sizeof in - 1, out, sizeof out, NULL), WL_EINVAL);
    /* The length, not a NUL, ends the input. */
    assert_int_equal(wl_email_normalize(in, 17, out, sizeof out, NULL), WL_OK);
}

/* Builds local@domain with a local part of ll bytes and a domain of dl
 * bytes made of 63-byte labels. */
static size_t build(char *buf, size_t ll, size_t dl)
{
    size_t n = 0;
    memset(buf, 'l', ll);
    n = ll;
    buf[n++] = '@';
    for (size_t i = 0; i < dl; i++)
        buf[n + i] = (i % 64 == 63) ? '.' : 'd';
    n += dl;
    buf[n] = '\0';
    return n;
}

static void test_lengths(void **state)
{
    (void)state;
    char in[600], out[WL_EMAIL_MAX + 1];
    size_t len;
    /* 64-byte local part is fine, 65 is not. */
    len = (size_t)snprintf(in, sizeof in, "%064d@example.com", 0);
    assert_int_equal(wl_email_normalize(in, len, out, sizeof out, NULL), WL_OK);
    len = (size_t)snprintf(in, sizeof in, "%065d@example.com", 0);
    assert_int_equal(wl_email_normalize(in, len, out, sizeof out, NULL), WL_EINVAL);
    /* 254 bytes in all is the maximum: 62 + 1 + 191 (three 63-byte labels). */
    len = build(in, 62, 191);
    assert_int_equal(len, 254);
    assert_int_equal(wl_email_normalize(in, len, out, sizeof out, &len), WL_OK);
    assert_int_equal(len, 254);
    len = build(in, 63, 191);
    assert_int_equal(wl_email_normalize(in, len, out, sizeof out, NULL), WL_EINVAL);
    /* A 64-byte label is too long. */
    len = (size_t)snprintf(in, sizeof in, "a@%064d.com", 0);
    assert_int_equal(wl_email_normalize(in, len, out, sizeof out, NULL), WL_EINVAL);
    /* Trimmed whitespace does not count against the limit. */
    char padded[600];
    len = build(in, 62, 191);
    int n = snprintf(padded, sizeof padded, "   %s   ", in);
    assert_int_equal(wl_email_normalize(padded, (size_t)n, out, sizeof out, NULL), WL_OK);
    /* Output buffer too small. */
    assert_int_equal(wl_email_normalize("a@b.co", 6, out, 6, NULL), WL_ETOOBIG);
    assert_int_equal(wl_email_normalize("a@b.co", 6, out, 7, NULL), WL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
