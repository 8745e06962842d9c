/* worker_bench.c - analytics worker throughput from a pre-filled queue.
 *
 * Fills a fresh queue (in a mkdtemp() dir under $TMPDIR or /tmp) with N click
 * events over 4 partitions - LINKS links (default 1,000) picked by DIST
 * (uniform: link (i * 7919) % LINKS, every link equally often, 100,000 is the
 * hard case; zipf: link floor((LINKS+1)^u) - 1 with u uniform in [0,1) from a
 * fixed-seed splitmix64, the law of bench/redirect.lua's zipf), 3 days, a mix
 * of browser and bot user agents, 50 referrers, 5,000 client addresses -
 * then times one wl_worker from open to caught up and prints events/s. The
 * worker does the real work: decode, classify, referrer host, visitor hash,
 * aggregate, one SQLite transaction (WAL, synchronous=FULL) per batch,
 * reclaim. It also prints the CPU time of the worker phase (all threads),
 * steadier than wall time on a shared machine.
 *
 *   bench/worker.sh [events] [runs] [batch_max] [links] [dist]   (builds, runs,
 *   prints medians), or by hand:
 *   make BUILD=build-worker build-worker/libwarplink.a
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/worker_bench.c build-worker/libwarplink.a \
 *      $(pkg-config --libs sqlite3 libsodium jansson libmaxminddb libisal) -pthread -lm \
 *      -o build-worker/worker_bench
 *   build-worker/worker_bench [events=1000000] [batch_max=10000] [links=1000] [dist=uniform]
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/event.h"
#include "analytics/worker.h"
#include "core/clock.h"
#include "queue/queue.h"

#define PARTS 4

static const char *const uas[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
};

/* CPU seconds of the whole process (every thread) so far. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64 with a fixed seed: every run fills the same queue */
static uint64_t rng_s = 42;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Continuous Zipf(s=1) over 0..links-1: floor((links+1)^u) - 1, u ~ U[0,1),
 * as bench/redirect.lua and bench/loadgen.c -Z (link r gets ~1/(r ln links)). */
static unsigned long zipf(unsigned long links)
{
    double u = (double)(rng_next() >> 11) * 0x1.0p-53;
    double r = floor(exp(u * log((double)links + 1)));
    return r < 1 ? 0 : r > (double)links ? links - 1 : (unsigned long)r - 1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int fill(const char *qdir, unsigned long n, unsigned long links, int use_zipf)
{
    wl_queue_config qc = {.dir = qdir, .disk_budget_bytes = 8ull << 30};
    wl_queue *q;
    wl_queue_producer *p[PARTS];
    wl_queue_batch b[PARTS];
    if (wl_queue_open("embedded", &qc, &q) != WL_OK)
        return -1;
    for (unsigned i = 0; i < PARTS; i++)
        if (wl_queue_producer_new(q, i, &p[i]) != WL_OK || wl_queue_batch_init(&b[i], 256 * 1024))
            return -1;
    int64_t now = wl_now_ms();
    for (unsigned long i = 0; i < n; i++) {
        char key[16], ref[64];
        snprintf(key, sizeof(key), "L%05lu", use_zipf ? zipf(links) : (i * 7919) % links);
        snprintf(ref, sizeof(ref), "https://site%lu.example/a/b", i % 50);
        const char *ua = uas[i % 4];
        wl_click_event ev = {.version = WL_CLICK_EVENT_VERSION,
                             .time_ms = now - (int64_t)(i % 3) * 86400000,
                             .addr_family = WL_ADDR_IPV4,
                             .addr = {192, 0, (uint8_t)(i % 5000 / 256), (uint8_t)(i % 5000)},
                             .key = {key, strlen(key)},
                             .referrer = {ref, strlen(ref)},
                             .user_agent = {ua, strlen(ua)}};
        unsigned part = (unsigned)(i % PARTS);
        uint8_t *w = wl_queue_batch_reserve(&b[part], WL_CLICK_EVENT_MAX_ENCODED);
        size_t len;
        if (!w || wl_click_event_encode(&ev, w, WL_CLICK_EVENT_MAX_ENCODED, &len) != WL_OK)
            return -1;
        wl_queue_batch_commit(&b[part], len);
        /* a loop iteration's worth of events per write() */
        if (b[part].count == 256 && wl_queue_append(p[part], &b[part]) != WL_OK)
            return -1;
    }
    for (unsigned i = 0; i < PARTS; i++) {
        if (wl_queue_append(p[i], &b[i]) != WL_OK)
            return -1;
        wl_queue_producer_free(p[i]);
        wl_queue_batch_release(&b[i]);
    }
    wl_queue_close(q);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    unsigned batch = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 10000;
    unsigned long links = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000;
    const char *dist = argc > 4 ? argv[4] : "uniform";
    if (!links)
        return fprintf(stderr, "links must be > 0\n"), 1;
    if (strcmp(dist, "uniform") != 0 && strcmp(dist, "zipf") != 0)
        return fprintf(stderr, "dist must be uniform or zipf\n"), 1;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], qdir[600], db[600], err[1200];
    snprintf(dir, sizeof(dir), "%s/wl-worker-bench-XXXXXX", tmp);
    if (!mkdtemp(dir))
        return perror("mkdtemp"), 1;
    snprintf(qdir, sizeof(qdir), "%s/queue", dir);
    snprintf(db, sizeof(db), "%s/analytics.db", dir);
    int64_t t0 = wl_mono_ms();
    if (fill(qdir, n, links, dist[0] == 'z') != 0)
        return fprintf(stderr, "fill failed\n"), 1;
    int64_t t1 = wl_mono_ms();
    static wl_worker_metrics m;
    wl_worker_config wc = {.queue_dir = qdir,
                           .astore_backend = "sqlite",
                           .astore_dsn = db,
                           .batch_max = batch,
                           .batch_wait_ms = 0,
                           .metrics = &m};
    wl_worker *w;
    double c1 = cpu_s();
    if (wl_worker_open(&wc, &w, err, sizeof(err)) != WL_OK)
        return fprintf(stderr, "%s\n", err), 1;
    wl_status st;
    while ((st = wl_worker_step(w)) == WL_OK)
        ;
    int64_t t2 = wl_mono_ms();
    double c2 = cpu_s();
    wl_worker_close(w);
    uint64_t done = atomic_load(&m.consumed), commits = atomic_load(&m.batches);
    printf(
        "filled %lu events (%lu links, %s) in %.2f s; worker (batch_max %u): %llu events in %.2f s = "
        "%.0f "
        "events/s, cpu %.2f s (%.0f events/cpu-s), %llu commits, mean commit %.1f ms, result %s\n",
        n, links, dist, (double)(t1 - t0) / 1000, batch, (unsigned long long)done,
        (double)(t2 - t1) / 1000, (double)done * 1000.0 / (double)(t2 - t1 ? t2 - t1 : 1), c2 - c1,
        (double)done / (c2 - c1 > 0 ? c2 - c1 : 1e-9), (unsigned long long)commits,
        commits ? (double)atomic_load(&m.commit_ns_sum) / 1e6 / (double)commits : 0.0,
        wl_strerror(st));
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return done == n ? 0 : 1;
}
