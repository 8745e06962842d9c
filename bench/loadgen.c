/* loadgen: open-loop, paced HTTP/1.1 GET load generator for bench/halfload.sh.
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE bench/loadgen.c -o bench/out/loadgen -lm
 *
 *   loadgen -p PORT -k KEYFILE -r RATE [-c CONNS] [-d SECONDS] [-w WARMUP_S]
 *           [-H HOST] [-s SEED] [-g GRACE_S] [-Z] [-A 'Name: value' ...]
 *   loadgen -p PORT -k KEYFILE -r 0 -S [-c CONNS]     (walk: every key once)
 *
 * Open loop (RATE > 0): request i is due at t0 + i/RATE, whatever happened to
 * earlier requests (a fixed timetable, not "send when the last one came
 * back"). A due request goes to the next connection, round-robin, that has no
 * request in flight. If every connection is busy it waits in a queue and is
 * counted as *late*; its latency is still measured from its scheduled time,
 * so a stalled server shows up in the percentiles instead of silently
 * lowering the offered rate (coordinated omission). The generator's own
 * lateness (a wake-up after the due time) is included the same way.
 *
 * With -Z keys follow a Zipf(s=1) law by line number instead (see rng_zipf).
 *
 * Latency = scheduled time -> last byte of the response (status line +
 * headers + Content-Length bytes of body); "svc" is the same from the actual
 * write() instead. Histograms: 1 us buckets below 10 ms, 100 us buckets up to
 * 10 s, then one overflow bucket; max is exact. Keys: one per line, each
 * request picks one uniformly at random (-S: in file order, once each).
 *
 * SIGINT or SIGTERM stops it early: the recorded window and the timetable
 * then end at the stop, so the figures describe the time it actually ran.
 *
 * The first WARMUP_S seconds are run at RATE but not recorded; then SECONDS
 * are recorded. Afterwards loadgen waits up to GRACE_S for requests scheduled
 * in the window; any still unanswered count as "unfinished" and enter the
 * histogram at (deadline - scheduled time).
 *
 * -A adds a header line to every request (repeatable, up to 8; e.g. a
 * browser User-Agent and a Referer, so WarpLink counts human clicks).
 *
 * Closed loop (-r 0): each connection sends its next request as soon as the
 * previous response is complete (used to warm every key once with -S).
 *
 * Output: a human line on stderr and one key=value line on stdout:
 *   target_rps achieved_rps sent completed p50_us p90_us p99_us p999_us
 *   max_us svc_p50_us svc_p99_us svc_p999_us late max_backlog errors
 *   non3xx unfinished reconnects window_s gen_gap_max_us gen_gaps_over_200us
 * (gen_gap_*: loadgen's own stalls - the longest gap between two polling
 * passes of its loop in the window, and how many exceeded 200 us; a stall of
 * the generator delays sends and so also shows up in the latency and "late")
 * Exit status 0 even with errors (the caller decides); 2 on bad usage.
 *
 * Only for 127.0.0.1-style benchmarks: no TLS, no chunked bodies, no
 * pipelining (one request in flight per connection).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- time --- */
static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ----------------------------------------------------------- histogram --- */
#define FINE_N 10000            /* 1 us buckets: [0, 10 ms) */
#define COARSE_W 100            /* us */
#define COARSE_N 99900          /* [10 ms, 10 s) in 100 us buckets */
typedef struct {
  uint64_t fine[FINE_N];
  uint64_t coarse[COARSE_N];
  uint64_t over;
  uint64_t n;
  int64_t max_ns;
} hist_t;

static void hist_add(hist_t *h, int64_t ns) {
  if (ns < 0) ns = 0;
  int64_t us = ns / 1000;
  if (us < FINE_N)
    h->fine[us]++;
  else if (us < FINE_N + (int64_t)COARSE_N * COARSE_W)
    h->coarse[(us - FINE_N) / COARSE_W]++;
  else
    h->over++;
  h->n++;
  if (ns > h->max_ns) h->max_ns = ns;
}

/* value (us) at quantile q: the smallest bucket whose cumulative count
 * reaches ceil(q*n); reported as the bucket's lower edge (fine buckets:
 * the latency truncated to whole us). */
static double hist_q(const hist_t *h, double q) {
  if (h->n == 0) return 0;
  uint64_t want = (uint64_t)(q * (double)h->n);
  if ((double)want < q * (double)h->n) want++;
  if (want == 0) want = 1;
  uint64_t c = 0;
  for (int i = 0; i < FINE_N; i++)
    if ((c += h->fine[i]) >= want) return i;
  for (int i = 0; i < COARSE_N; i++)
    if ((c += h->coarse[i]) >= want) return FINE_N + (double)i * COARSE_W;
  return h->max_ns / 1000.0;
}

/* ----------------------------------------------------------------- rng --- */
static uint64_t rng_s;
static inline uint64_t rng_next(void) { /* splitmix64 */
  uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline uint32_t rng_below(uint32_t n) { /* Lemire, bias < 2^-32 */
  return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}
/* -Z: key index floor((n+1)^u) - 1, u ~ U[0,1): the inverse of the continuous
 * Zipf(s=1) CDF, exactly as bench/redirect.lua's zipf (line r of the file
 * gets ~1/(r ln n) of the requests) */
static int zipf_mode;
static inline uint32_t rng_zipf(uint32_t n) {
  double u = (double)(rng_next() >> 11) * 0x1.0p-53;
  double r = floor(exp(u * log((double)n + 1)));
  return r < 1 ? 0 : r > n ? n - 1 : (uint32_t)r - 1;
}

/* ---------------------------------------------------------- connection --- */
#define RBUF 16384
typedef struct {
  int fd;
  int busy;            /* request in flight */
  int64_t sched_ns;    /* its scheduled time */
  int64_t sent_ns;     /* its write() time */
  int record;          /* inside the measured window */
  char wbuf[1024];
  int wlen, woff;      /* unsent part of the request (EAGAIN) */
  char rbuf[RBUF];
  int rlen;
} conn_t;

static struct sockaddr_in addr;
static int epfd;
static const char *host_hdr;
static char extra_buf[768]; /* -A lines, each ending in CRLF */
static const char *extra_hdrs = extra_buf;
static char *keybuf;
static char **keys;
static uint32_t nkeys, seq_next;
static int seq_mode;

static hist_t h_lat, h_svc;
static uint64_t n_completed, n_errors, n_non3xx, n_reconnects, n_sent;
static uint64_t n_late, n_unfinished, n_ok_window;
static volatile sig_atomic_t stop_flag;
/* the generator's own stalls: gaps between two loop passes that did not sleep
 * (at high rates loadgen never sleeps: it polls), inside the recorded window */
static int last_wait_polled;
static int64_t gen_gap_max_ns;
static uint64_t gen_gaps_over_200us;

static void on_sig(int s) { (void)s; stop_flag = 1; }

static void die(const char *m) {
  perror(m);
  exit(1);
}

static int conn_open(conn_t *c, int idx) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  c->fd = fd;
  c->busy = 0;
  c->rlen = 0;
  c->wlen = c->woff = 0;
  return 0;
}

static void conn_reset(conn_t *c, int idx) { /* error: count, reconnect */
  n_errors++;
  n_reconnects++;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->busy = 0;
  for (int tries = 0; conn_open(c, idx) != 0; tries++) {
    if (tries > 100) die("connect (reconnect)");
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
}

static int conn_flush(conn_t *c, int idx) {
  while (c->woff < c->wlen) {
    ssize_t w = write(c->fd, c->wbuf + c->woff, (size_t)(c->wlen - c->woff));
    if (w > 0) {
      c->woff += (int)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)idx};
      epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
      return 0;
    } else {
      return -1;
    }
  }
  return 0;
}

static void conn_send(conn_t *c, int idx, int64_t sched, int record) {
  uint32_t k = seq_mode ? seq_next++ : zipf_mode ? rng_zipf(nkeys) : rng_below(nkeys);
  c->wlen = snprintf(c->wbuf, sizeof c->wbuf, "GET /%s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                     keys[k], host_hdr, extra_hdrs);
  c->woff = 0;
  c->busy = 1;
  c->sched_ns = sched;
  c->record = record;
  c->sent_ns = now_ns();
  n_sent++;
  if (conn_flush(c, idx) != 0) conn_reset(c, idx);
}

/* 1: a complete response was consumed; 0: need more bytes; -1: bad */
static int parse_response(conn_t *c, int *status) {
  char *b = c->rbuf;
  int n = c->rlen;
  char *end = memmem(b, (size_t)n, "\r\n\r\n", 4);
  if (!end) return n >= RBUF ? -1 : 0;
  int hlen = (int)(end - b) + 4;
  if (n < 12 || memcmp(b, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(b + 9);
  long clen = -1;
  for (char *p = memchr(b, '\n', (size_t)hlen); p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
    p++;
    if (end - p >= 15 && strncasecmp(p, "content-length:", 15) == 0)
      clen = strtol(p + 15, NULL, 10);
    else if (end - p >= 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
      return -1; /* chunked: not supported */
  }
  if (clen < 0) clen = 0; /* 302/404 without a length: treat as empty */
  if (hlen + clen > RBUF) return -1;
  if (n < hlen + clen) return 0;
  if (n > hlen + clen) return -1; /* we never pipeline: extra bytes are a bug */
  c->rlen = 0;
  return 1;
}

static void on_readable(conn_t *c, int idx, int64_t *t_now) {
  for (;;) {
    ssize_t r = read(c->fd, c->rbuf + c->rlen, (size_t)(RBUF - c->rlen));
    if (r > 0) {
      c->rlen += (int)r;
      int status = 0, pr = parse_response(c, &status);
      if (pr == 0) continue;
      if (pr < 0 || !c->busy) {
        conn_reset(c, idx);
        return;
      }
      int64_t t = now_ns();
      *t_now = t;
      c->busy = 0;
      n_completed++;
      if (status < 200 || status >= 400) n_non3xx++;
      if (c->record) {
        n_ok_window++;
        hist_add(&h_lat, t - c->sched_ns);
        hist_add(&h_svc, t - c->sent_ns);
      }
      return;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    conn_reset(c, idx); /* EOF or error */
    return;
  }
}

/* One epoll event of connection idx: finish a pending write (then wait for
 * the response only), read what arrived. */
static void on_event(conn_t *c, int idx, uint32_t events, int64_t *t_now) {
  if (events & EPOLLOUT) {
    if (conn_flush(c, idx) != 0) conn_reset(c, idx);
    else if (c->woff == c->wlen) {
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};
      epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, idx, t_now);
}

static void usage(const char *p) {
  fprintf(stderr,
          "usage: %s -p PORT -k KEYFILE -r RATE [-c CONNS] [-d SECONDS] [-w WARMUP_S]\n"
          "          [-H HOST] [-s SEED] [-g GRACE_S] [-S] [-Z] [-A 'Name: value' ...]\n"
          "  -Z: keys Zipf(s=1)-distributed by line (as redirect.lua's zipf) instead of uniform\n"
          "  -r 0: closed loop; -S: keys in file order, each once, then stop\n",
          p);
  exit(2);
}

static void load_keys(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  keybuf = malloc((size_t)sz + 1);
  if (!keybuf || fread(keybuf, 1, (size_t)sz, f) != (size_t)sz) die("read keys");
  fclose(f);
  keybuf[sz] = 0;
  uint32_t cap = 1024;
  keys = malloc(cap * sizeof *keys);
  for (char *p = keybuf; *p;) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    size_t l = strlen(p);
    if (l && p[l - 1] == '\r') p[--l] = 0;
    if (l > 0 && l < 256) {
      if (nkeys == cap) keys = realloc(keys, (cap *= 2) * sizeof *keys);
      keys[nkeys++] = p;
    }
    if (!nl) break;
    p = nl + 1;
  }
  if (nkeys == 0) {
    fprintf(stderr, "no keys in %s\n", path);
    exit(1);
  }
}

/* wait for events until deadline (ns, absolute; <0: no wait). Sleeps in the
 * kernel until ~SPIN_NS before the deadline, then polls without blocking. */
#define SPIN_NS 50000
static int wait_events(struct epoll_event *evs, int maxev, int64_t deadline) {
  int64_t left = deadline < 0 ? 0 : deadline - now_ns();
  last_wait_polled = left <= SPIN_NS;
  if (left <= SPIN_NS) return epoll_wait(epfd, evs, maxev, 0);
  int64_t sleep = left - SPIN_NS;
  if (sleep > 100000000) sleep = 100000000; /* re-check signals at least every 100 ms */
#ifdef SYS_epoll_pwait2
  struct timespec ts = {(time_t)(sleep / 1000000000), (long)(sleep % 1000000000)};
  int r = (int)syscall(SYS_epoll_pwait2, epfd, evs, maxev, &ts, NULL, 0);
  if (r >= 0 || errno != ENOSYS) return r;
#endif
  return epoll_wait(epfd, evs, maxev, (int)(sleep / 1000000)); /* ms: rounds down */
}

int main(int argc, char **argv) {
  int port = 0, nconn = 16;
  double rate = -1, secs = 10, warm = 1, grace = 2;
  const char *keyfile = NULL, *host = "127.0.0.1";
  uint64_t seed = 0;
  int opt, nextra = 0;
  size_t extra_len = 0;
  while ((opt = getopt(argc, argv, "p:k:r:c:d:w:H:s:g:SA:Z")) != -1) {
    switch (opt) {
    case 'p': port = atoi(optarg); break;
    case 'k': keyfile = optarg; break;
    case 'r': rate = atof(optarg); break;
    case 'c': nconn = atoi(optarg); break;
    case 'd': secs = atof(optarg); break;
    case 'w': warm = atof(optarg); break;
    case 'H': host = optarg; break;
    case 's': seed = strtoull(optarg, NULL, 10); break;
    case 'g': grace = atof(optarg); break;
    case 'S': seq_mode = 1; break;
    case 'Z': zipf_mode = 1; break;
    case 'A':
      if (++nextra > 8 || strpbrk(optarg, "\r\n") || !strchr(optarg, ':') ||
          extra_len + strlen(optarg) + 2 >= sizeof extra_buf) {
        fprintf(stderr, "-A: at most 8 'Name: value' lines, %zu bytes in all\n", sizeof extra_buf - 1);
        return 2;
      }
      extra_len += (size_t)snprintf(extra_buf + extra_len, sizeof extra_buf - extra_len, "%s\r\n", optarg);
      break;
    default: usage(argv[0]);
    }
  }
  if (port <= 0 || !keyfile || rate < 0 || nconn < 1 || nconn > 4096 || secs <= 0 || warm < 0)
    usage(argv[0]);
  if (seq_mode && rate != 0) {
    fprintf(stderr, "-S needs -r 0\n");
    return 2;
  }
  rng_s = seed ? seed : (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
  load_keys(keyfile);

  char hostport[300];
  snprintf(hostport, sizeof hostport, "%s:%d", host, port);
  host_hdr = hostport;
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "bad IPv4 address %s\n", host);
    return 2;
  }
  /* the default 50 us timer slack would make every sleep up to 50 us late */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_sig);
  signal(SIGTERM, on_sig);

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  conn_t *cs = calloc((size_t)nconn, sizeof *cs);
  if (!cs) die("calloc");
  for (int i = 0; i < nconn; i++)
    if (conn_open(&cs[i], i) != 0) die("connect");

  struct epoll_event evs[256];
  int64_t t_now = now_ns();
  int64_t t0 = t_now + 1000000; /* first request 1 ms from now */
  int64_t rec_from = t0 + (int64_t)(warm * 1e9);
  int64_t rec_to = rec_from + (int64_t)(secs * 1e9);
  double interval = rate > 0 ? 1e9 / rate : 0;
  uint64_t next_i = 0;      /* next request index to send */
  uint64_t late_upto = 0;   /* requests < late_upto already counted late */
  uint64_t max_backlog = 0;
  uint64_t n_window = 0;    /* scheduled inside [rec_from, rec_to) */
  int rr = 0;
  int64_t t_end = 0;

  if (rate == 0) { /* ------------------------------------- closed loop --- */
    rec_from = t_now;
    uint32_t limit = seq_mode ? nkeys : UINT32_MAX;
    rec_to = seq_mode ? INT64_MAX : t_now + (int64_t)(secs * 1e9);
    for (int i = 0; i < nconn && n_sent < limit; i++) conn_send(&cs[i], i, now_ns(), 1);
    while (!stop_flag) {
      int inflight = 0;
      for (int i = 0; i < nconn; i++) inflight += cs[i].busy;
      if (inflight == 0) break;
      int n = epoll_wait(epfd, evs, 256, 100);
      if (n < 0 && errno != EINTR) die("epoll_wait");
      for (int e = 0; e < n; e++) {
        int idx = (int)evs[e].data.u32;
        on_event(&cs[idx], idx, evs[e].events, &t_now);
        if (!cs[idx].busy && n_sent < limit && now_ns() < rec_to) conn_send(&cs[idx], idx, now_ns(), 1);
      }
    }
    t_end = now_ns();
    n_window = n_sent;
    rec_to = t_end;
  } else { /* --------------------------------------------------- open loop --- */
    /* request i is scheduled at sched(i) = t0 + i*interval, i < total;
     * requests i >= first_rec are recorded */
    uint64_t total = (uint64_t)((double)(rec_to - t0) / interval);
    uint64_t first_rec = (uint64_t)((double)(rec_from - t0) / interval);
    if (first_rec > total) first_rec = total;
    n_window = total - first_rec;
    int64_t hard_end = rec_to + (int64_t)(grace * 1e9);
#define SCHED(i) (t0 + (int64_t)((double)(i) * interval))
    int64_t prev_top = 0;
    for (;;) {
      t_now = now_ns();
      if (last_wait_polled && prev_top && t_now >= rec_from && t_now < rec_to) {
        int64_t gap = t_now - prev_top;
        if (gap > gen_gap_max_ns) gen_gap_max_ns = gap;
        if (gap > 200000) gen_gaps_over_200us++;
      }
      prev_top = t_now;
      /* send everything that is due, while connections are free */
      while (next_i < total && SCHED(next_i) <= t_now) {
        int idx = -1;
        for (int j = 0; j < nconn; j++) {
          int k = rr + j < nconn ? rr + j : rr + j - nconn;
          if (!cs[k].busy) { idx = k; break; }
        }
        if (idx < 0) break;
        rr = idx + 1 < nconn ? idx + 1 : 0;
        conn_send(&cs[idx], idx, SCHED(next_i), next_i >= first_rec);
        next_i++;
      }
      /* due but not sent: every connection busy -> late (counted once) */
      if (t_now >= t0 && next_i < total) {
        uint64_t due = (uint64_t)((double)(t_now - t0) / interval) + 1;
        if (due > total) due = total;
        if (due > next_i) {
          uint64_t from = next_i > late_upto ? next_i : late_upto;
          if (from < first_rec) from = first_rec;
          if (due > from) n_late += due - from;
          if (due > late_upto) late_upto = due;
          if (due - next_i > max_backlog) max_backlog = due - next_i;
        }
      }
      int inflight = 0;
      for (int i = 0; i < nconn; i++) inflight += cs[i].busy;
      if (stop_flag || (next_i >= total && inflight == 0) || t_now >= hard_end) break;
      /* wait until the next send is due; if it is already due (backlog) or
       * all are sent, only a response can make progress */
      int64_t deadline = hard_end;
      if (next_i < total && SCHED(next_i) > t_now) deadline = SCHED(next_i);
      int n = wait_events(evs, 256, deadline);
      if (n < 0 && errno != EINTR) die("epoll_wait");
      for (int e = 0; e < n; e++) {
        int idx = (int)evs[e].data.u32;
        on_event(&cs[idx], idx, evs[e].events, &t_now);
      }
    }
    t_end = now_ns();
    if (stop_flag && t_end < rec_to) { /* stopped early (SIGINT): the window ends now */
      rec_to = t_end > rec_from ? t_end : rec_from;
      uint64_t due = t_end > t0 ? (uint64_t)((double)(t_end - t0) / interval) + 1 : 0;
      if (due < total) total = due;
      if (first_rec > total) first_rec = total;
      n_window = total - first_rec;
    }
    /* recorded requests that never completed (in flight or never sent) enter
     * the histogram at (end - scheduled time) */
    for (int i = 0; i < nconn; i++)
      if (cs[i].busy && cs[i].record) {
        hist_add(&h_lat, t_end - cs[i].sched_ns);
        n_unfinished++;
      }
    for (uint64_t i = next_i > first_rec ? next_i : first_rec; i < total; i++) {
      hist_add(&h_lat, t_end - SCHED(i));
      n_unfinished++;
    }
  }

  double win_s = (double)(rec_to - rec_from) / 1e9;
  double achieved = win_s > 0 ? (double)n_ok_window / win_s : 0;
  if (rate == 0) achieved = (double)n_completed / ((double)(t_end - rec_from) / 1e9);
  fprintf(stderr,
          "loadgen :%d rate %.0f conns %d window %.2fs: achieved %.0f req/s, %llu sent, "
          "%llu completed; latency from schedule p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f max %.0f us; "
          "from send p50 %.0f p99 %.0f p99.9 %.0f us; late %llu (max backlog %llu), errors %llu, "
          "non-3xx %llu, unfinished %llu; loadgen's longest stall %.0f us\n",
          port, rate, nconn, win_s, achieved, (unsigned long long)n_sent,
          (unsigned long long)n_completed, hist_q(&h_lat, .5), hist_q(&h_lat, .9),
          hist_q(&h_lat, .99), hist_q(&h_lat, .999), h_lat.max_ns / 1000.0, hist_q(&h_svc, .5),
          hist_q(&h_svc, .99), hist_q(&h_svc, .999), (unsigned long long)n_late,
          (unsigned long long)max_backlog, (unsigned long long)n_errors,
          (unsigned long long)n_non3xx, (unsigned long long)n_unfinished, gen_gap_max_ns / 1000.0);
  printf("target_rps=%.0f achieved_rps=%.1f sent=%llu completed=%llu window_requests=%llu "
         "p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.1f "
         "svc_p50_us=%.0f svc_p99_us=%.0f svc_p999_us=%.0f late=%llu max_backlog=%llu "
         "errors=%llu non3xx=%llu unfinished=%llu reconnects=%llu window_s=%.3f "
         "gen_gap_max_us=%.0f gen_gaps_over_200us=%llu\n",
         rate, achieved, (unsigned long long)n_sent, (unsigned long long)n_completed,
         (unsigned long long)n_window, hist_q(&h_lat, .5), hist_q(&h_lat, .9),
         hist_q(&h_lat, .99), hist_q(&h_lat, .999), h_lat.max_ns / 1000.0, hist_q(&h_svc, .5),
         hist_q(&h_svc, .99), hist_q(&h_svc, .999), (unsigned long long)n_late,
         (unsigned long long)max_backlog, (unsigned long long)n_errors,
         (unsigned long long)n_non3xx, (unsigned long long)n_unfinished,
         (unsigned long long)n_reconnects, win_s, gen_gap_max_ns / 1000.0,
         (unsigned long long)gen_gaps_over_200us);
  for (int i = 0; i < nconn; i++) close(cs[i].fd);
  return 0;
}
