/* test_geo.c - country lookups against a fixture database that
 * tests/fixtures/make-geoip.pl writes into a fresh temporary directory.
 * Run from the repository root (as `make unit` does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analytics/geo.h"

#define FIXTURE_SCRIPT "tests/fixtures/make-geoip.pl"
#define MODULE_MISSING 3 /* make-geoip.pl's exit status without the writer */

extern char **environ;

struct fixture {
    char dir[64];
    char path[96];
    wl_geo *geo;
};

/* Runs perl on the fixture script without a shell; returns its exit status
 * or -1 when it could not run. */
static int run_script(const char *out_path)
{
    char *argv[] = {"perl", FIXTURE_SCRIPT, (char *)out_path, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "perl", NULL, NULL, argv, environ) != 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    *state = &f;
    snprintf(f.dir, sizeof f.dir, "/tmp/wl-test-geo-XXXXXX");
    if (!mkdtemp(f.dir))
        return -1;
    snprintf(f.path, sizeof f.path, "%s/country.mmdb", f.dir);
    if (access(FIXTURE_SCRIPT, R_OK) != 0) {
        fprintf(stderr, "test_geo: %s not found; run from the repository root\n", FIXTURE_SCRIPT);
        return -1;
    }
    int rc = run_script(f.path);
    if (rc == MODULE_MISSING) {
        fprintf(stderr, "test_geo: SKIPPING lookups: libmaxmind-db-writer-perl is not "
                        "installed (scripts/deps.sh test installs it)\n");
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "test_geo: %s failed (status %d)\n", FIXTURE_SCRIPT, rc);
        return -1;
    }
    return wl_geo_open(f.path, &f.geo) == WL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wl_geo_close(f->geo);
    unlink(f->path);
    rmdir(f->dir);
    return 0;
}

static wl_geo *geo_or_skip(void **state)
{
    struct fixture *f = *state;
    if (!f->geo)
        skip();
    return f->geo;
}

static wl_status lookup(wl_geo *g, const char *text, char out[3])
{
    uint8_t addr[16];
    if (inet_pton(AF_INET, text, addr) == 1)
        return wl_geo_country(g, addr, AF_INET, out);
    assert_int_equal(inet_pton(AF_INET6, text, addr), 1);
    return wl_geo_country(g, addr, AF_INET6, out);
}

static void expect_country(wl_geo *g, const char *addr, const char *iso)
{
    char out[3] = "zz";
    wl_status st = lookup(g, addr, out);
    if (iso) {
        assert_int_equal(st, WL_OK);
        assert_string_equal(out, iso);
    } else {
        assert_int_equal(st, WL_ENOTFOUND);
        assert_string_equal(out, "");
    }
}

static void test_ipv4(void **state)
{
    wl_geo *g = geo_or_skip(state);
    expect_country(g, "127.0.0.1", "DE");
    expect_country(g, "127.0.255.255", "DE");
    expect_country(g, "127.1.0.1", "FR");
    expect_country(g, "127.2.0.1", NULL); /* not in the database */
    expect_country(g, "198.51.100.1", NULL);
}

static void test_registered_country_fallback(void **state)
{
    wl_geo *g = geo_or_skip(state);
    expect_country(g, "127.3.0.9", "SE");
}

static void test_ipv6(void **state)
{
    wl_geo *g = geo_or_skip(state);
    expect_country(g, "::1", "US");
    expect_country(g, "2001:db8::42", "JP");
    expect_country(g, "2001:db9::1", NULL);
    expect_country(g, "::ffff:127.1.2.3", "FR"); /* IPv4-mapped, dual-stack listener */
}

static void test_bad_arguments(void **state)
{
    wl_geo *g = geo_or_skip(state);
    uint8_t addr[16] = {127, 0, 0, 1};
    char out[3] = "zz";
    assert_int_equal(wl_geo_country(g, addr, AF_UNIX, out), WL_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(wl_geo_country(NULL, addr, AF_INET, out), WL_EINVAL);
    assert_int_equal(wl_geo_country(g, NULL, AF_INET, out), WL_EINVAL);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    wl_geo *g = NULL;
    char path[128];
    assert_int_equal(wl_geo_open(NULL, &g), WL_EINVAL);
    snprintf(path, sizeof path, "%s/missing.mmdb", f->dir);
    assert_int_equal(wl_geo_open(path, &g), WL_ENOTFOUND);
    snprintf(path, sizeof path, "%s/garbage.mmdb", f->dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("this is not a MaxMind database, it only has a .mmdb name\n", fp);
    fclose(fp);
    assert_int_equal(wl_geo_open(path, &g), WL_ECORRUPT);
    unlink(path);
    assert_null(g);
    wl_geo_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),        cmocka_unit_test(test_registered_country_fallback),
        cmocka_unit_test(test_ipv6),        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
