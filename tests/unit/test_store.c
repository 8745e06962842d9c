/* test_store.c - the store contract (store.h) against the sqlite backend.
 *
 * Every test gets a fresh mkdtemp() directory holding real database files,
 * removed in teardown. Tests that involve other processes fork BEFORE the
 * parent opens the file they share: SQLite connections must not cross a
 * fork. The contract checks go through the generic wrappers only, so the
 * same bodies can later run against another backend. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite.h"
#include "store/store.h"

#define BACKEND "sqlite"

struct fx {
    char dir[64];
    char path[128]; /* dir/main.db, opened writable + migrated as st */
    wl_store *st;
};

static void fx_file(const struct fx *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/wl-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    fx_file(f, "main.db", f->path, sizeof f->path);
    assert_int_equal(wl_store_open(BACKEND, f->path, WL_STORE_MIGRATE, &f->st), WL_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    wl_store_close(f->st);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static wl_link mk_link(const char *key, const char *url, int64_t created_at, int64_t owner)
{
    wl_link l = {0};
    l.key = key;
    l.key_len = strlen(key);
    l.long_url = url;
    l.long_url_len = strlen(url);
    l.created_at = created_at;
    l.owner_id = owner;
    return l;
}

static wl_status put(wl_store *st, const char *key, int64_t created_at, int64_t owner)
{
    wl_link l = mk_link(key, "https://example.com/x", created_at, owner);
    return wl_store_link_insert(st, &l);
}

static int64_t mk_user(wl_store *st, const char *email)
{
    int64_t id = 0;
    assert_int_equal(wl_store_user_insert(st, email, strlen(email), "$argon2id$h", 1, &id), WL_OK);
    assert_true(id > 0);
    return id;
}

/* Counts schema_migrations rows behind the store's back. */
static int count_migration_rows(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    int n = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &q, NULL),
                     SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* ---- registry and open ---------------------------------------------- */

static void test_registry(void **state)
{
    (void)state;
    assert_ptr_equal(wl_store_backend("sqlite"), &wl_store_sqlite_ops);
    assert_null(wl_store_backend("postgres"));
    assert_null(wl_store_backend(NULL));
    wl_store *st = (wl_store *)1;
    assert_int_equal(wl_store_open("postgres", "x", 0, &st), WL_EUNSUPPORTED);
    assert_null(st);
}

static void test_open_migrate_idempotent(void **state)
{
    struct fx *f = *state;
    int v1 = 0, v2 = 0;
    assert_int_equal(wl_store_sqlite_ops.schema_version(f->st, &v1), WL_OK);
    assert_true(v1 >= 1);

    wl_store *again, *plain;
    assert_int_equal(wl_store_open(BACKEND, f->path, WL_STORE_MIGRATE, &again), WL_OK);
    assert_int_equal(again->ops->schema_version(again, &v2), WL_OK);
    assert_int_equal(v1, v2);
    assert_int_equal(count_migration_rows(f->path), v1);
    assert_int_equal(wl_store_open(BACKEND, f->path, 0, &plain), WL_OK);
    wl_store_close(plain);
    wl_store_close(again);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    char missing[256];
    fx_file(f, "missing.db", missing, sizeof missing);
    wl_store *st = NULL;

    /* Without MIGRATE nothing is created. */
    assert_int_not_equal(wl_store_open(BACKEND, missing, 0, &st), WL_OK);
    assert_null(st);
    assert_true(strlen(wl_store_sqlite_errmsg(NULL)) > 0);
    assert_int_not_equal(wl_store_open(BACKEND, missing, WL_STORE_READONLY, &st), WL_OK);
    assert_int_equal(access(missing, F_OK), -1);

    assert_int_equal(wl_store_open(BACKEND, f->path, WL_STORE_MIGRATE | WL_STORE_READONLY, &st),
                     WL_EINVAL);
    assert_int_equal(wl_store_open(BACKEND, f->path, 1u << 7, &st), WL_EINVAL);

    /* An existing but unmigrated file is refused until migrated. */
    char empty[256];
    fx_file(f, "empty.db", empty, sizeof empty);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(empty, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(wl_store_open(BACKEND, empty, 0, &st), WL_EUNSUPPORTED);
    assert_non_null(strstr(wl_store_sqlite_errmsg(NULL), "older"));

    /* A schema from a newer build is refused, migrating or not. */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 0)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(wl_store_open(BACKEND, f->path, 0, &st), WL_EUNSUPPORTED);
    assert_non_null(strstr(wl_store_sqlite_errmsg(NULL), "newer"));
    assert_int_equal(wl_store_open(BACKEND, f->path, WL_STORE_MIGRATE, &st), WL_EUNSUPPORTED);
    assert_null(st);
}

/* Several processes racing to create and migrate the same new file. */
static void test_concurrent_migrate(void **state)
{
    struct fx *f = *state;
    char path[256];
    fx_file(f, "race.db", path, sizeof path);
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    enum { KIDS = 4 };
    pid_t kids[KIDS];
    for (int i = 0; i < KIDS; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            char c;
            close(gate[1]);
            (void)!read(gate[0], &c, 1); /* returns at EOF: the start signal */
            wl_store *st;
            int v = 0;
            wl_status ws = wl_store_open(BACKEND, path, WL_STORE_MIGRATE, &st);
            if (ws == WL_OK)
                ws = st->ops->schema_version(st, &v);
            else
                fprintf(stderr, "child open: %s\n", wl_store_sqlite_errmsg(NULL));
            wl_store_close(st);
            _exit(ws == WL_OK && v >= 1 ? 0 : 1);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (int i = 0; i < KIDS; i++) {
        int status;
        assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    int latest;
    assert_int_equal(wl_store_sqlite_ops.schema_version(f->st, &latest), WL_OK);
    assert_int_equal(count_migration_rows(path), latest);
}

/* ---- links ----------------------------------------------------------- */

static void test_link_crud(void **state)
{
    struct fx *f = *state;
    int64_t uid = mk_user(f->st, "a@example.com");
    wl_link in = mk_link("abc123", "https://example.com/a?b=c", 1000, uid);
    in.expires_at = 5000;
    in.flags = WL_LINK_CUSTOM;
    assert_int_equal(wl_store_link_insert(f->st, &in), WL_OK);

    char buf[256];
    wl_link out;
    assert_int_equal(wl_store_link_get(f->st, "abc123", 6, &out, buf, sizeof buf), WL_OK);
    assert_int_equal(out.key_len, 6);
    assert_string_equal(out.key, "abc123");
    assert_string_equal(out.long_url, "https://example.com/a?b=c");
    assert_int_equal(out.long_url_len, strlen("https://example.com/a?b=c"));
    assert_true(out.key >= buf && out.long_url < buf + sizeof buf);
    assert_int_equal(out.created_at, 1000);
    assert_int_equal(out.expires_at, 5000);
    assert_int_equal(out.owner_id, uid);
    assert_int_equal(out.flags, WL_LINK_CUSTOM);

    /* Keys are compared exactly, including case and length. */
    assert_int_equal(wl_store_link_get(f->st, "ABC123", 6, &out, buf, sizeof buf), WL_ENOTFOUND);
    assert_int_equal(wl_store_link_get(f->st, "abc1234", 6, &out, buf, sizeof buf), WL_OK);
    assert_int_equal(wl_store_link_get(f->st, "abc12", 5, &out, buf, sizeof buf), WL_ENOTFOUND);

    assert_int_equal(wl_store_link_insert(f->st, &in), WL_EEXISTS);
    assert_int_equal(wl_store_link_delete(f->st, "abc123", 6, uid), WL_OK);
    assert_int_equal(wl_store_link_get(f->st, "abc123", 6, &out, buf, sizeof buf), WL_ENOTFOUND);
    assert_int_equal(wl_store_link_delete(f->st, "abc123", 6, uid), WL_ENOTFOUND);
    /* A deleted key is never reused. */
    assert_int_equal(wl_store_link_insert(f->st, &in), WL_EEXISTS);

    /* Anonymous links: owner 0 in, 0 out. */
    assert_int_equal(put(f->st, "anon", 7, 0), WL_OK);
    assert_int_equal(wl_store_link_get(f->st, "anon", 4, &out, buf, sizeof buf), WL_OK);
    assert_int_equal(out.owner_id, 0);
    assert_int_equal(out.expires_at, 0);
}

static void test_link_invalid(void **state)
{
    struct fx *f = *state;
    char key[80];
    memset(key, 'k', sizeof key);
    key[65] = '\0';
    assert_int_equal(put(f->st, key, 1, 0), WL_EINVAL); /* 65 bytes: longer than a cursor */
    key[64] = '\0';
    assert_int_equal(put(f->st, key, 1, 0), WL_OK);
    assert_int_equal(put(f->st, "", 1, 0), WL_EINVAL);
    wl_link l = mk_link("nourl", "", 1, 0);
    assert_int_equal(wl_store_link_insert(f->st, &l), WL_EINVAL);
    /* An owner that does not exist is the caller's mistake. */
    assert_int_equal(put(f->st, "ghost", 1, 4242), WL_EINVAL);
    assert_true(strlen(wl_store_sqlite_errmsg(f->st)) > 0);
}

struct racer {
    const char *path;
    pthread_barrier_t *bar;
    int rounds;
    wl_status *results;
};

static void *race_thread(void *arg)
{
    struct racer *r = arg;
    wl_store *st;
    if (wl_store_open(BACKEND, r->path, 0, &st) != WL_OK)
        return (void *)1;
    for (int i = 0; i < r->rounds; i++) {
        char key[32];
        snprintf(key, sizeof key, "race%d", i);
        pthread_barrier_wait(r->bar);
        r->results[i] = put(st, key, i, 0);
    }
    wl_store_close(st);
    return NULL;
}

/* Two connections insert the same key at the same moment: one wins. */
static void test_insert_race(void **state)
{
    struct fx *f = *state;
    enum { ROUNDS = 60 };
    wl_status res[2][ROUNDS];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct racer r[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        r[i] = (struct racer){f->path, &bar, ROUNDS, res[i]};
        assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < ROUNDS; i++) {
        int ok = (res[0][i] == WL_OK) + (res[1][i] == WL_OK);
        int lost = (res[0][i] == WL_EEXISTS) + (res[1][i] == WL_EEXISTS);
        assert_int_equal(ok, 1);
        assert_int_equal(lost, 1);
    }
}

/* A second process (the admin CLI) writes while we write: both wait for the
 * lock instead of failing. */
static void test_cross_process_writers(void **state)
{
    struct fx *f = *state;
    char path[256];
    fx_file(f, "procs.db", path, sizeof path);
    wl_store *st;
    assert_int_equal(wl_store_open(BACKEND, path, WL_STORE_MIGRATE, &st), WL_OK);
    wl_store_close(st); /* nothing open across the fork */

    enum { N = 150 };
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        int bad = wl_store_open(BACKEND, path, 0, &st) != WL_OK;
        for (int i = 0; i < N && !bad; i++) {
            char key[32];
            snprintf(key, sizeof key, "child%d", i);
            bad = put(st, key, i, 0) != WL_OK;
        }
        wl_store_close(st);
        _exit(bad);
    }
    assert_int_equal(wl_store_open(BACKEND, path, 0, &st), WL_OK);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "parent%d", i);
        assert_int_equal(put(st, key, i, 0), WL_OK);
    }
    int status;
    assert_int_equal(waitpid(kid, &status, 0), kid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char buf[128];
    wl_link out;
    assert_int_equal(wl_store_link_get(st, "child149", 8, &out, buf, sizeof buf), WL_OK);
    wl_store_close(st);
}

/* ---- listing --------------------------------------------------------- */

struct page {
    wl_link_cursor cur;
    int n;
    char keys[64][16];
    int64_t created[64];
};

static int page_add(void *ctx, const wl_link *l)
{
    struct page *p = ctx;
    snprintf(p->keys[p->n], sizeof p->keys[0], "%s", l->key);
    p->created[p->n] = l->created_at;
    p->n++;
    p->cur.created_at = l->created_at;
    snprintf(p->cur.key, sizeof p->cur.key, "%.*s", (int)l->key_len, l->key);
    return 0;
}

/* Lists every page of owner's links with `limit` rows per page into all. */
static void list_all(wl_store *st, int64_t owner, unsigned limit, struct page *all)
{
    wl_link_cursor cur;
    memset(&cur, 0, sizeof cur);
    memset(all, 0, sizeof *all);
    for (;;) {
        struct page p;
        memset(&p, 0, sizeof p);
        assert_int_equal(wl_store_link_list(st, owner, &cur, limit, page_add, &p), WL_OK);
        assert_true(p.n <= (int)limit);
        for (int i = 0; i < p.n; i++) {
            assert_true(all->n < 64);
            memcpy(all->keys[all->n], p.keys[i], sizeof p.keys[i]);
            all->created[all->n++] = p.created[i];
        }
        if (p.n < (int)limit)
            break;
        cur = p.cur;
    }
}

static void test_list_pagination(void **state)
{
    struct fx *f = *state;
    int64_t uid = mk_user(f->st, "lister@example.com");
    /* 24 links over 6 timestamps, four per timestamp, inserted out of order. */
    for (int i = 23; i >= 0; i--) {
        char key[16];
        snprintf(key, sizeof key, "k%02d", (i * 7) % 24);
        assert_int_equal(put(f->st, key, 100 + i / 4, uid), WL_OK);
    }
    assert_int_equal(wl_store_link_delete(f->st, "k00", 3, uid), WL_OK);

    for (unsigned limit = 1; limit <= 30; limit += 4) {
        struct page all;
        list_all(f->st, uid, limit, &all);
        assert_int_equal(all.n, 23);
        for (int i = 1; i < all.n; i++) {
            /* strictly newest first by (created_at, key) */
            int newer =
                all.created[i - 1] > all.created[i] ||
                (all.created[i - 1] == all.created[i] && strcmp(all.keys[i - 1], all.keys[i]) > 0);
            assert_true(newer);
            assert_string_not_equal(all.keys[i], "k00");
        }
    }
    /* NULL cursor and early stop. */
    struct page p;
    memset(&p, 0, sizeof p);
    assert_int_equal(wl_store_link_list(f->st, uid, NULL, 3, page_add, &p), WL_OK);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.created[0], 105);
}

static int stop_at_first(void *ctx, const wl_link *l)
{
    (void)l;
    ++*(int *)ctx;
    return 1;
}

static void test_owner_isolation(void **state)
{
    struct fx *f = *state;
    int64_t a = mk_user(f->st, "a@example.com");
    int64_t b = mk_user(f->st, "b@example.com");
    assert_int_equal(put(f->st, "a1", 1, a), WL_OK);
    assert_int_equal(put(f->st, "a2", 2, a), WL_OK);
    assert_int_equal(put(f->st, "b1", 3, b), WL_OK);
    assert_int_equal(put(f->st, "anon1", 4, 0), WL_OK);

    struct page pa, pb, p0;
    list_all(f->st, a, 10, &pa);
    list_all(f->st, b, 10, &pb);
    list_all(f->st, 0, 10, &p0);
    assert_int_equal(pa.n, 2);
    assert_int_equal(pb.n, 1);
    assert_string_equal(pb.keys[0], "b1");
    assert_int_equal(p0.n, 1);

    assert_int_equal(wl_store_link_delete(f->st, "a1", 2, b), WL_ENOTFOUND);
    assert_int_equal(wl_store_link_delete(f->st, "a1", 2, 0), WL_ENOTFOUND);
    assert_int_equal(wl_store_link_delete(f->st, "anon1", 5, a), WL_ENOTFOUND);
    char buf[128];
    wl_link out;
    assert_int_equal(wl_store_link_get(f->st, "a1", 2, &out, buf, sizeof buf), WL_OK);
    assert_int_equal(wl_store_link_delete(f->st, "a1", 2, a), WL_OK);

    int calls = 0;
    assert_int_equal(wl_store_link_list(f->st, a, NULL, 10, stop_at_first, &calls), WL_OK);
    assert_int_equal(calls, 1);
}

/* ---- users ----------------------------------------------------------- */

static int count_users(void *ctx, const wl_user *u)
{
    (void)u;
    ++*(int *)ctx;
    return 0;
}

static void test_users(void **state)
{
    struct fx *f = *state;
    int64_t id = 0, id2 = 0;
    const char *email = "Ann@Example.com";
    assert_int_equal(wl_store_user_insert(f->st, email, strlen(email), "$argon2id$one", 77, &id),
                     WL_OK);
    assert_int_equal(wl_store_user_insert(f->st, email, strlen(email), "$argon2id$two", 78, &id2),
                     WL_EEXISTS);
    assert_non_null(strstr(wl_store_sqlite_errmsg(f->st), "UNIQUE"));
    assert_int_equal(wl_store_user_insert(f->st, "bo@x.io", 7, "$h", 79, &id2), WL_OK);
    assert_true(id2 != id);

    char buf[128];
    wl_user u;
    assert_int_equal(wl_store_user_get_by_email(f->st, email, strlen(email), &u, buf, sizeof buf),
                     WL_OK);
    assert_int_equal(u.id, id);
    assert_string_equal(u.email, email);
    assert_int_equal(u.email_len, strlen(email));
    assert_string_equal(u.pwhash, "$argon2id$one");
    assert_int_equal(u.created_at, 77);
    /* Stored as given: callers normalise case. */
    assert_int_equal(wl_store_user_get_by_email(f->st, "ann@example.com", 15, &u, buf, sizeof buf),
                     WL_ENOTFOUND);

    assert_int_equal(wl_store_user_set_pwhash(f->st, id, "$argon2id$new"), WL_OK);
    assert_int_equal(wl_store_user_get_by_id(f->st, id, &u, buf, sizeof buf), WL_OK);
    assert_string_equal(u.pwhash, "$argon2id$new");
    assert_string_equal(u.email, email);
    assert_int_equal(wl_store_user_get_by_id(f->st, 9999, &u, buf, sizeof buf), WL_ENOTFOUND);
    assert_int_equal(wl_store_user_set_pwhash(f->st, 9999, "$x"), WL_ENOTFOUND);

    int n = 0;
    assert_int_equal(wl_store_user_list(f->st, count_users, &n), WL_OK);
    assert_int_equal(n, 2);
}

/* ---- api keys -------------------------------------------------------- */

static void fill_hash(unsigned char h[WL_APIKEY_HASH_LEN], unsigned char seed)
{
    for (int i = 0; i < WL_APIKEY_HASH_LEN; i++)
        h[i] = (unsigned char)(seed + i);
}

struct keylist {
    int n;
    int64_t ids[8];
    int64_t revoked[8];
};

static int key_add(void *ctx, const wl_apikey *k)
{
    struct keylist *kl = ctx;
    kl->ids[kl->n] = k->id;
    kl->revoked[kl->n++] = k->revoked_at;
    return 0;
}

static void test_apikeys(void **state)
{
    struct fx *f = *state;
    int64_t ann = mk_user(f->st, "ann@x.io"), bob = mk_user(f->st, "bob@x.io");
    unsigned char h1[WL_APIKEY_HASH_LEN], h2[WL_APIKEY_HASH_LEN], h3[WL_APIKEY_HASH_LEN];
    fill_hash(h1, 1);
    fill_hash(h2, 2);
    fill_hash(h3, 3);
    int64_t k1, k2, dup;
    assert_int_equal(wl_store_apikey_insert(f->st, ann, "ci", 2, "wl_AbC1", 7, h1, 10, &k1), WL_OK);
    assert_int_equal(wl_store_apikey_insert(f->st, ann, "cli", 3, "wl_XyZ2", 7, h2, 11, &k2),
                     WL_OK);
    assert_int_equal(wl_store_apikey_insert(f->st, bob, "x", 1, "wl_q", 4, h1, 12, &dup),
                     WL_EEXISTS);
    assert_int_equal(wl_store_apikey_insert(f->st, 999, "x", 1, "wl_q", 4, h3, 12, &dup),
                     WL_EINVAL);

    char buf[64];
    wl_apikey k;
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h1, &k, buf, sizeof buf), WL_OK);
    assert_int_equal(k.id, k1);
    assert_int_equal(k.user_id, ann);
    assert_string_equal(k.name, "ci");
    assert_string_equal(k.prefix, "wl_AbC1");
    assert_int_equal(k.prefix_len, 7);
    assert_memory_equal(k.hash, h1, WL_APIKEY_HASH_LEN);
    assert_int_equal(k.created_at, 10);
    assert_int_equal(k.last_used_at, 0);
    assert_int_equal(k.revoked_at, 0);
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h3, &k, buf, sizeof buf), WL_ENOTFOUND);

    /* touch only ever raises last_used_at */
    assert_int_equal(wl_store_apikey_touch(f->st, k1, 500), WL_OK);
    assert_int_equal(wl_store_apikey_touch(f->st, k1, 300), WL_OK);
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h1, &k, buf, sizeof buf), WL_OK);
    assert_int_equal(k.last_used_at, 500);
    assert_int_equal(wl_store_apikey_touch(f->st, k1, 501), WL_OK);
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h1, &k, buf, sizeof buf), WL_OK);
    assert_int_equal(k.last_used_at, 501);
    assert_int_equal(wl_store_apikey_touch(f->st, 9999, 1), WL_ENOTFOUND);

    /* revoke: only the owner's own active key */
    assert_int_equal(wl_store_apikey_revoke(f->st, bob, k1, 600), WL_ENOTFOUND);
    assert_int_equal(wl_store_apikey_revoke(f->st, ann, k1, 600), WL_OK);
    assert_int_equal(wl_store_apikey_revoke(f->st, ann, k1, 601), WL_ENOTFOUND);
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h1, &k, buf, sizeof buf), WL_ENOTFOUND);
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h2, &k, buf, sizeof buf), WL_OK);

    struct keylist kl = {0}, kb = {0};
    assert_int_equal(wl_store_apikey_list(f->st, ann, key_add, &kl), WL_OK);
    assert_int_equal(kl.n, 2);
    assert_int_equal(kl.ids[0], k1);
    assert_int_equal(kl.revoked[0], 600);
    assert_int_equal(kl.ids[1], k2);
    assert_int_equal(kl.revoked[1], 0);
    assert_int_equal(wl_store_apikey_list(f->st, bob, key_add, &kb), WL_OK);
    assert_int_equal(kb.n, 0);
}

/* ---- import ---------------------------------------------------------- */

struct gen {
    int next, count, fail_at;
    char key[32];
};

/* Yields count links; every 97th repeats an earlier key. */
static int gen_links(void *ctx, wl_link *l)
{
    struct gen *g = ctx;
    if (g->next == g->fail_at)
        return -1;
    if (g->next >= g->count)
        return 0;
    int i = g->next++;
    int k = (i % 97 == 96) ? i - 50 : i;
    snprintf(g->key, sizeof g->key, "imp%06d", k);
    *l = mk_link(g->key, "https://example.com/imported", i, 0);
    return 1;
}

static void test_import(void **state)
{
    struct fx *f = *state;
    /* 40 keys exist already, one of them deleted: all must be skipped. */
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof key, "imp%06d", i * 200);
        assert_int_equal(put(f->st, key, 1, 0), WL_OK);
    }
    assert_int_equal(wl_store_link_delete(f->st, "imp000200", 9, 0), WL_OK);

    /* A failing source imports nothing. */
    struct gen bad = {.count = 10000, .fail_at = 5000};
    uint64_t n = 123;
    assert_int_equal(wl_store_link_import(f->st, gen_links, &bad, &n), WL_EINVAL);
    assert_int_equal(n, 0);
    char buf[128];
    wl_link out;
    assert_int_equal(wl_store_link_get(f->st, "imp000001", 9, &out, buf, sizeof buf), WL_ENOTFOUND);

    struct gen g = {.count = 10000, .fail_at = -1};
    assert_int_equal(wl_store_link_import(f->st, gen_links, &g, &n), WL_OK);
    int dups = 10000 / 97; /* repeats within the source */
    int pre = 0;           /* pre-existing keys the source also yields once */
    for (int i = 0; i < 40; i++)
        pre += ((i * 200) % 97 != 96);
    assert_int_equal(n, (uint64_t)(10000 - dups - pre));
    assert_int_equal(wl_store_link_get(f->st, "imp009999", 9, &out, buf, sizeof buf), WL_OK);
    assert_int_equal(wl_store_link_get(f->st, "imp000200", 9, &out, buf, sizeof buf), WL_ENOTFOUND);

    /* Importing again adds nothing. */
    g.next = 0;
    assert_int_equal(wl_store_link_import(f->st, gen_links, &g, &n), WL_OK);
    assert_int_equal(n, 0);
}

/* ---- read-only connections ------------------------------------------ */

static void test_readonly_sees_commits(void **state)
{
    struct fx *f = *state;
    wl_store *ro;
    assert_int_equal(wl_store_open(BACKEND, f->path, WL_STORE_READONLY, &ro), WL_OK);
    char buf[128];
    wl_link out;
    assert_int_equal(wl_store_link_get(ro, "fresh", 5, &out, buf, sizeof buf), WL_ENOTFOUND);
    assert_int_equal(put(f->st, "fresh", 1, 0), WL_OK);
    assert_int_equal(wl_store_link_get(ro, "fresh", 5, &out, buf, sizeof buf), WL_OK);
    assert_int_equal(wl_store_link_delete(f->st, "fresh", 5, 0), WL_OK);
    assert_int_equal(wl_store_link_get(ro, "fresh", 5, &out, buf, sizeof buf), WL_ENOTFOUND);

    /* Writes are refused, as an engine error with a message. */
    assert_int_equal(put(ro, "nope", 1, 0), WL_EIO);
    assert_non_null(strstr(wl_store_sqlite_errmsg(ro), "readonly"));
    wl_store_close(ro);

    /* A reader opened when no writer is around (no -wal file) still works
     * and still sees later commits. */
    wl_store_close(f->st);
    f->st = NULL;
    assert_int_equal(wl_store_open(BACKEND, f->path, WL_STORE_READONLY, &ro), WL_OK);
    assert_int_equal(wl_store_link_get(ro, "later", 5, &out, buf, sizeof buf), WL_ENOTFOUND);
    assert_int_equal(wl_store_open(BACKEND, f->path, 0, &f->st), WL_OK);
    assert_int_equal(put(f->st, "later", 1, 0), WL_OK);
    assert_int_equal(wl_store_link_get(ro, "later", 5, &out, buf, sizeof buf), WL_OK);
    wl_store_close(ro);
}

/* ---- buffers --------------------------------------------------------- */

static void test_buffer_too_small(void **state)
{
    struct fx *f = *state;
    const char *url = "https://example.com/0123456789"; /* 30 bytes */
    wl_link in = mk_link("key1", url, 1, 0);
    assert_int_equal(wl_store_link_insert(f->st, &in), WL_OK);
    /* "key1\0" + url + "\0" = 5 + 31 = 36 bytes exactly */
    char buf[36];
    wl_link out = {0};
    assert_int_equal(wl_store_link_get(f->st, "key1", 4, &out, buf, 35), WL_ETOOBIG);
    assert_null(out.key); /* untouched on failure */
    assert_int_equal(wl_store_link_get(f->st, "key1", 4, &out, NULL, 0), WL_ETOOBIG);
    assert_int_equal(wl_store_link_get(f->st, "key1", 4, &out, buf, 36), WL_OK);
    assert_string_equal(out.long_url, url);
    /* The statement was reset after ETOOBIG: the connection still works. */
    assert_int_equal(put(f->st, "key2", 2, 0), WL_OK);

    int64_t uid = mk_user(f->st, "long-email@example.com");
    wl_user u;
    assert_int_equal(wl_store_user_get_by_id(f->st, uid, &u, buf, 20), WL_ETOOBIG);
    unsigned char h[WL_APIKEY_HASH_LEN];
    fill_hash(h, 9);
    int64_t kid;
    assert_int_equal(wl_store_apikey_insert(f->st, uid, "n", 1, "wl_AbC1", 7, h, 1, &kid), WL_OK);
    wl_apikey k;
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h, &k, buf, 9), WL_ETOOBIG);
    assert_int_equal(wl_store_apikey_get_by_hash(f->st, h, &k, buf, 10), WL_OK);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        T(test_open_migrate_idempotent),
        T(test_open_errors),
        T(test_concurrent_migrate),
        T(test_link_crud),
        T(test_link_invalid),
        T(test_insert_race),
        T(test_cross_process_writers),
        T(test_list_pagination),
        T(test_owner_isolation),
        T(test_users),
        T(test_apikeys),
        T(test_import),
        T(test_readonly_sees_commits),
        T(test_buffer_too_small),
    };
    return cmocka_run_group_tests_name("store/" BACKEND, tests, NULL, NULL);
}
