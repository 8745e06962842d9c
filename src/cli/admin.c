/* admin.c - headless administration on a data directory, safe while the
 * server runs (SQLite serialises writers; busy_timeout makes us wait). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/apikey.h"
#include "core/clock.h"
#include "core/email.h"
#include "core/password.h"
#include "store/store.h"

static int open_store(const wl_config *cfg, wl_store **st)
{
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "warplink: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
        return 1;
    }
    char dsn[1100];
    snprintf(dsn, sizeof(dsn), "%s/links.db", cfg->data_dir);
    wl_status s = wl_store_open("sqlite", dsn, WL_STORE_MIGRATE, st);
    if (s != WL_OK) {
        fprintf(stderr, "warplink: cannot open %s: %s\n", dsn, wl_strerror(s));
        return 1;
    }
    return 0;
}

int wl_cli_migrate(int argc, char **argv)
{
    wl_config cfg;
    int nargs;
    int rc = wl_cli_config(&cfg, WL_OPT_ADMIN, "warplink migrate [options]", argc, argv, &nargs);
    if (rc >= 0)
        return rc;
    wl_store *st;
    if (open_store(&cfg, &st))
        return 1;
    int version = 0;
    st->ops->schema_version(st, &version);
    printf("link store at schema version %d\n", version);
    wl_store_close(st);
    return 0;
}

/* ---- link import -------------------------------------------------------- */

typedef struct import_ctx {
    FILE *f;
    char *line;
    size_t cap;
    unsigned long lineno;
    int64_t now;
    bool bad;
} import_ctx;

static int next_link(void *ctx, wl_link *link)
{
    import_ctx *ic = ctx;
    ssize_t n;
    while ((n = getline(&ic->line, &ic->cap, ic->f)) >= 0) {
        ic->lineno++;
        while (n > 0 && (ic->line[n - 1] == '\n' || ic->line[n - 1] == '\r'))
            ic->line[--n] = 0;
        if (n == 0 || ic->line[0] == '#')
            continue;
        char *tab = strchr(ic->line, '\t');
        if (!tab || tab == ic->line || !tab[1]) {
            fprintf(stderr, "warplink: line %lu: expected key<TAB>long_url\n", ic->lineno);
            ic->bad = true;
            return -1;
        }
        *link = (wl_link){.key = ic->line,
                          .key_len = (size_t)(tab - ic->line),
                          .long_url = tab + 1,
                          .long_url_len = (size_t)(n - (tab + 1 - ic->line)),
                          .created_at = ic->now,
                          .flags = WL_LINK_CUSTOM};
        return 1;
    }
    return 0;
}

static int link_import(const wl_config *cfg, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fprintf(stderr, "warplink: cannot open %s\n", path);
        return 1;
    }
    wl_store *st;
    if (open_store(cfg, &st)) {
        if (f != stdin)
            fclose(f);
        return 1;
    }
    import_ctx ic = {.f = f, .now = wl_now_ms()};
    uint64_t inserted = 0;
    wl_status s = wl_store_link_import(st, next_link, &ic, &inserted);
    free(ic.line);
    if (f != stdin)
        fclose(f);
    wl_store_close(st);
    if (s != WL_OK || ic.bad) {
        fprintf(stderr, "warplink: import failed: %s (nothing imported)\n", wl_strerror(s));
        return 1;
    }
    printf("imported %llu links\n", (unsigned long long)inserted);
    return 0;
}

int wl_cli_link(int argc, char **argv)
{
    wl_config cfg;
    int nargs;
    int rc = wl_cli_config(&cfg, WL_OPT_ADMIN, "warplink link import FILE [options]", argc, argv,
                           &nargs);
    if (rc >= 0)
        return rc;
    if (nargs == 2 && !strcmp(argv[0], "import"))
        return link_import(&cfg, argv[1]);
    fprintf(stderr, "usage: warplink link import FILE [--data-dir DIR]\n");
    return 2;
}

/* ---- users -------------------------------------------------------------- */

static int print_user(void *ctx, const wl_user *u)
{
    (void)ctx;
    char t[40];
    wl_time_rfc3339(u->created_at, t, sizeof(t));
    printf("%lld\t%s\t%s\n", (long long)u->id, u->email, t);
    return 0;
}

/* Reads the password: the first line of stdin, whole (never truncated). */
static char *read_password(size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    *len = (size_t)n;
    return line;
}

static int store_user(const wl_config *cfg, const char *email, size_t elen, const char *hash)
{
    wl_store *st;
    if (open_store(cfg, &st))
        return 1;
    int64_t id;
    wl_status s = wl_store_user_insert(st, email, elen, hash, wl_now_ms(), &id);
    wl_store_close(st);
    if (s == WL_EEXISTS) {
        fprintf(stderr, "warplink: an account for %s exists already\n", email);
        return 1;
    }
    if (s != WL_OK) {
        fprintf(stderr, "warplink: cannot store the account: %s\n", wl_strerror(s));
        return 1;
    }
    printf("%lld\t%s\n", (long long)id, email);
    return 0;
}

static int user_add(const wl_config *cfg, const char *email_in)
{
    char email[256];
    size_t elen, plen = 0;
    if (wl_email_normalize(email_in, strlen(email_in), email, sizeof(email), &elen) != WL_OK) {
        fprintf(stderr, "warplink: '%s' is not a usable email address\n", email_in);
        return 2;
    }
    char *pw = read_password(&plen);
    if (!pw) {
        fprintf(stderr, "warplink: give the password on standard input\n");
        return 2;
    }
    char hash[crypto_pwhash_STRBYTES];
    int rc = 0;
    if (!wl_password_acceptable(pw, plen)) {
        fprintf(stderr, "warplink: passwords are 8 to 1024 characters long\n");
        rc = 2;
    } else if (wl_password_hash(pw, plen, hash) != WL_OK) {
        fprintf(stderr, "warplink: cannot hash the password\n");
        rc = 1;
    }
    sodium_memzero(pw, plen);
    free(pw);
    return rc ? rc : store_user(cfg, email, elen, hash);
}

int wl_cli_user(int argc, char **argv)
{
    wl_config cfg;
    int nargs;
    int rc = wl_cli_config(&cfg, WL_OPT_ADMIN, "warplink user add EMAIL | user list [options]",
                           argc, argv, &nargs);
    if (rc >= 0)
        return rc;
    if (nargs == 2 && !strcmp(argv[0], "add"))
        return user_add(&cfg, argv[1]);
    if (nargs == 1 && !strcmp(argv[0], "list")) {
        wl_store *st;
        if (open_store(&cfg, &st))
            return 1;
        wl_status s = wl_store_user_list(st, print_user, NULL);
        wl_store_close(st);
        return s == WL_OK ? 0 : 1;
    }
    fprintf(stderr, "usage: warplink user add EMAIL (password on stdin) | warplink user list\n");
    return 2;
}

/* ---- API keys ----------------------------------------------------------- */

static int find_user(wl_store *st, const char *email_in, int64_t *id)
{
    char email[256], buf[1024];
    size_t elen;
    wl_user u;
    if (wl_email_normalize(email_in, strlen(email_in), email, sizeof(email), &elen) != WL_OK ||
        wl_store_user_get_by_email(st, email, elen, &u, buf, sizeof(buf)) != WL_OK) {
        fprintf(stderr, "warplink: no account for '%s'\n", email_in);
        return 1;
    }
    *id = u.id;
    return 0;
}

static int print_key(void *ctx, const wl_apikey *k)
{
    (void)ctx;
    char c[40], l[40] = "never";
    wl_time_rfc3339(k->created_at, c, sizeof(c));
    if (k->last_used_at)
        wl_time_rfc3339(k->last_used_at, l, sizeof(l));
    printf("%lld\t%s\t%s\t%s\tlast used %s%s\n", (long long)k->id, k->prefix, k->name, c, l,
           k->revoked_at ? "\trevoked" : "");
    return 0;
}

static int apikey_run(wl_store *st, const wl_config *cfg, int64_t uid, int nargs, char **argv)
{
    if (nargs == 1 && !strcmp(argv[0], "create")) {
        char key[WL_APIKEY_LEN + 1], prefix[WL_APIKEY_PREFIX_LEN + 1];
        unsigned char hash[WL_APIKEY_DIGEST_LEN];
        int64_t id;
        if (wl_apikey_generate(key, sizeof(key), prefix, sizeof(prefix), hash) != WL_OK ||
            wl_store_apikey_insert(st, uid, cfg->name, strlen(cfg->name), prefix, strlen(prefix),
                                   hash, wl_now_ms(), &id) != WL_OK)
            return 1;
        printf("%lld\t%s\n", (long long)id, key);
        fprintf(stderr, "warplink: store this key now; it is not shown again\n");
        return 0;
    }
    if (nargs == 1 && !strcmp(argv[0], "list"))
        return wl_store_apikey_list(st, uid, print_key, NULL) == WL_OK ? 0 : 1;
    if (nargs == 2 && !strcmp(argv[0], "revoke")) {
        wl_status s = wl_store_apikey_revoke(st, uid, strtoll(argv[1], NULL, 10), wl_now_ms());
        if (s == WL_ENOTFOUND)
            fprintf(stderr, "warplink: %s has no active API key %s\n", cfg->user, argv[1]);
        return s == WL_OK ? 0 : 1;
    }
    fprintf(stderr, "usage: warplink apikey create|list|revoke ID --user EMAIL\n");
    return 2;
}

int wl_cli_apikey(int argc, char **argv)
{
    wl_config cfg;
    int nargs;
    int rc = wl_cli_config(&cfg, WL_OPT_ADMIN,
                           "warplink apikey create|list|revoke ID --user EMAIL [--name NAME]", argc,
                           argv, &nargs);
    if (rc >= 0)
        return rc;
    if (!cfg.user[0] || nargs < 1) {
        fprintf(stderr, "usage: warplink apikey create|list|revoke ID --user EMAIL\n");
        return 2;
    }
    wl_store *st;
    int64_t uid;
    if (open_store(&cfg, &st))
        return 1;
    rc = find_user(st, cfg.user, &uid) ? 1 : apikey_run(st, &cfg, uid, nargs, argv);
    wl_store_close(st);
    return rc;
}
