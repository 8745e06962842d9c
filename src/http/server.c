/* server.c - listening sockets, the per-thread event loop, timers, and the
 * graceful stop. See server.h for the design. */
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/lend.h"
#include "core/log.h"
#include "http/internal.h"

#define MAX_EVENTS 256
#define MAX_ACCEPTS_PER_WAKEUP 64
#define SWEEP_INTERVAL_MS 250

#define BUSY_BODY                                                                                  \
    "{\"type\":\"/problems/overloaded\",\"title\":\"Service Unavailable\",\"status\":503,"         \
    "\"detail\":\"too many connections\"}"
static const char busy_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Content-Type: application/problem+json\r\n"
                               "Connection: close\r\nRetry-After: 1\r\nContent-Length: ";
static const char busy_body[] = BUSY_BODY;

/* Opens one SO_REUSEPORT listening socket; *port is updated when it was 0. */
static wl_status listen_socket(const char *host, unsigned *port, int *fd_out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", *port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return WL_EINVAL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    wl_status st = WL_EIO;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 &&
        bind(fd, res->ai_addr, res->ai_addrlen) == 0 && listen(fd, 4096) == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
            st = WL_OK;
        }
    }
    freeaddrinfo(res);
    if (st != WL_OK) {
        if (fd >= 0)
            close(fd);
        return st;
    }
    *fd_out = fd;
    return WL_OK;
}

static wl_status loop_init(wl_server *srv, wl_loop *loop, unsigned index)
{
    loop->srv = srv;
    loop->index = index;
    loop->listen_fd = loop->epfd = loop->wake_fd = -1;
    wl_node_init(&loop->all);
    wl_node_init(&loop->ready);
    wl_node_init(&loop->pending);
    wl_node_init(&loop->graveyard);
    pthread_mutex_init(&loop->inbox.lock, NULL);
    wl_status st = listen_socket(srv->cfg.listen_host, &srv->port, &loop->listen_fd);
    if (st != WL_OK)
        return st;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || loop->wake_fd < 0)
        return WL_EIO;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &loop->listen_fd};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &loop->wake_fd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->listen_fd, &ev) != 0 ||
        epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &wev) != 0)
        return WL_EIO;
    return WL_OK;
}

wl_status wl_server_new(const wl_server_config *cfg, const wl_server_hooks *hooks, wl_server **out)
{
    wl_server *srv = wl_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    if (!srv->cfg.threads)
        srv->cfg.threads = 1;
    srv->hooks = hooks;
    srv->port = cfg->listen_port;
    pthread_mutex_init(&srv->pool.lock, NULL);
    pthread_cond_init(&srv->pool.cond, NULL);
    srv->loops = wl_xcalloc(srv->cfg.threads, sizeof(*srv->loops));
    for (unsigned i = 0; i < srv->cfg.threads; i++) {
        /* The first bind resolves port 0; the others join that port. */
        wl_status st = loop_init(srv, &srv->loops[i], i);
        if (st != WL_OK) {
            srv->cfg.threads = i + 1;
            wl_server_free(srv);
            return st;
        }
    }
    *out = srv;
    return WL_OK;
}

unsigned wl_server_port(const wl_server *srv)
{
    return srv->port;
}

void wl_loop_post_done(wl_loop *loop, wl_job *job)
{
    pthread_mutex_lock(&loop->inbox.lock);
    bool was_empty = loop->inbox.head == NULL;
    job->next = loop->inbox.head;
    loop->inbox.head = job;
    pthread_mutex_unlock(&loop->inbox.lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(loop->wake_fd, &one, sizeof(one));
        (void)w; /* EAGAIN means a wake-up is already pending */
    }
}

static void loop_accept(wl_loop *loop)
{
    wl_server *srv = loop->srv;
    for (int i = 0; i < MAX_ACCEPTS_PER_WAKEUP; i++) {
        wl_peer peer = {.addr_len = sizeof(peer.addr)};
        int fd = accept4(loop->listen_fd, (struct sockaddr *)&peer.addr, &peer.addr_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                wl_warn("accept: %s", strerror(errno));
            return;
        }
        atomic_fetch_add_explicit(&srv->accepted, 1, memory_order_relaxed);
        unsigned open = atomic_fetch_add_explicit(&srv->open_conns, 1, memory_order_relaxed);
        if (open >= srv->cfg.max_connections) {
            atomic_fetch_sub_explicit(&srv->open_conns, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&srv->rejected_full, 1, memory_order_relaxed);
            char msg[512];
            int n = snprintf(msg, sizeof(msg), "%s%zu\r\n\r\n%s", busy_503, sizeof(busy_body) - 1,
                             busy_body);
            ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        wl_conn *c = wl_conn_new(loop, fd, &peer);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            wl_conn_close(c);
    }
}

static void loop_begin_drain(wl_loop *loop)
{
    if (loop->draining)
        return;
    loop->draining = true;
    loop->drain_deadline_ms = loop->now_ms + loop->srv->cfg.drain_timeout_ms;
    if (loop->listen_fd >= 0) {
        close(loop->listen_fd);
        loop->listen_fd = -1;
    }
    wl_node *n = loop->all.next;
    while (n != &loop->all) {
        wl_node *next = n->next;
        wl_conn_begin_drain(WL_CONTAINER_OF(n, wl_conn, all_node));
        n = next;
    }
}

static void loop_on_wake(wl_loop *loop)
{
    uint64_t v;
    ssize_t r = read(loop->wake_fd, &v, sizeof(v));
    (void)r;
    if (atomic_load(&loop->srv->stopping))
        loop_begin_drain(loop);
    pthread_mutex_lock(&loop->inbox.lock);
    wl_job *job = loop->inbox.head;
    loop->inbox.head = NULL;
    pthread_mutex_unlock(&loop->inbox.lock);
    while (job) {
        wl_job *next = job->next;
        wl_conn_job_done(job->conn);
        job = next;
    }
}

static void loop_sweep(wl_loop *loop)
{
    if (loop->now_ms < loop->next_sweep_ms)
        return;
    loop->next_sweep_ms = loop->now_ms + SWEEP_INTERVAL_MS;
    wl_node *n = loop->all.next;
    while (n != &loop->all) {
        wl_node *next = n->next;
        wl_conn_on_timer(WL_CONTAINER_OF(n, wl_conn, all_node), loop->now_ms);
        n = next;
    }
}

/* Processes every connection on `list`; those that want another turn put
 * themselves back on the loop's list, not on this one. */
static void loop_run_list(wl_node *list, bool flush)
{
    wl_node local;
    wl_node_init(&local);
    wl_node_splice(&local, list);
    while (wl_node_linked(&local)) {
        wl_node *n = local.next;
        wl_node_unlink(n);
        if (flush)
            wl_conn_flush(WL_CONTAINER_OF(n, wl_conn, pending_node));
        else
            wl_conn_process(WL_CONTAINER_OF(n, wl_conn, ready_node));
    }
}

static bool loop_has_paused(wl_loop *loop)
{
    for (wl_node *n = loop->all.next; n != &loop->all; n = n->next)
        if (WL_CONTAINER_OF(n, wl_conn, all_node)->flags & CONN_PAUSED)
            return true;
    return false;
}

static bool loop_done(wl_loop *loop)
{
    if (!loop->draining)
        return false;
    if (!wl_node_linked(&loop->all))
        return true;
    /* Past the deadline, stop once no pool thread holds a connection. */
    return loop->now_ms >= loop->drain_deadline_ms && !loop_has_paused(loop);
}

/* Lends the loop's CPU (core/lend.h) when nothing is ready and the
 * borrower wants it. Returns the ready count of the poll (> 0: no loan), 0
 * after a loan (the caller polls again), or -2 when nothing was lent and the
 * loop should wait as usual. */
static int loop_lend(wl_loop *loop, struct epoll_event *evs)
{
    wl_lend *lend = loop->srv->cfg.lend;
    if (!lend || !wl_lend_wanted(lend))
        return -2;
    int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, 0);
    if (n != 0)
        return n;
    return wl_lend_give(lend, loop->epfd) ? 0 : -2;
}

/* Waits for events, up to timeout_ms. A loop with nothing ready lends its
 * CPU to the analytics worker first when the worker asks (core/lend.h): on
 * the VMs we measure, a request that wakes a loop blocked in epoll_wait
 * while the worker runs beside it on the core costs the loop about as much
 * CPU again as the request (docs/OPERATIONS.md, "Sizing"); during a loan
 * the loop is not asleep, so arriving requests wake no one and wait at most
 * one slice. */
static int loop_wait(wl_loop *loop, struct epoll_event *evs, int timeout_ms)
{
    int n;
    if (timeout_ms && (n = loop_lend(loop, evs)) != -2)
        return n;
    return epoll_wait(loop->epfd, evs, MAX_EVENTS, timeout_ms);
}

static void loop_iterate(wl_loop *loop, struct epoll_event *evs)
{
    int timeout = wl_node_linked(&loop->ready) ? 0 : SWEEP_INTERVAL_MS;
    int n = loop_wait(loop, evs, timeout);
    loop->now_ms = wl_mono_ms();
    for (int i = 0; i < n; i++) {
        void *p = evs[i].data.ptr;
        if (p == &loop->listen_fd)
            loop_accept(loop);
        else if (p == &loop->wake_fd)
            loop_on_wake(loop);
        else
            wl_conn_on_events(p, evs[i].events);
    }
    loop_run_list(&loop->ready, false);
    const wl_server_hooks *h = loop->srv->hooks;
    if (h->before_flush)
        h->before_flush(h->ctx, loop->tctx);
    loop_run_list(&loop->pending, true);
    loop_sweep(loop);
    wl_conn_reap(&loop->graveyard);
}

static void *loop_main(void *arg)
{
    wl_loop *loop = arg;
    const wl_server_hooks *h = loop->srv->hooks;
    loop->tctx = h->thread_init ? h->thread_init(h->ctx, true, loop->index) : NULL;
    struct epoll_event evs[MAX_EVENTS];
    loop->now_ms = wl_mono_ms();
    if (atomic_load(&loop->srv->stopping))
        loop_begin_drain(loop);
    while (!loop_done(loop))
        loop_iterate(loop, evs);
    while (wl_node_linked(&loop->all))
        wl_conn_close(WL_CONTAINER_OF(loop->all.next, wl_conn, all_node));
    wl_conn_reap(&loop->graveyard);
    if (h->before_flush)
        h->before_flush(h->ctx, loop->tctx);
    if (h->thread_fini)
        h->thread_fini(h->ctx, loop->tctx);
    return NULL;
}

wl_status wl_server_run(wl_server *srv)
{
    wl_status st = wl_offload_start(srv);
    unsigned started = 0;
    for (; st == WL_OK && started < srv->cfg.threads; started++)
        if (pthread_create(&srv->loops[started].thread, NULL, loop_main, &srv->loops[started]) != 0)
            st = WL_EIO;
    if (st != WL_OK)
        wl_server_stop(srv);
    for (unsigned i = 0; i < started; i++)
        pthread_join(srv->loops[i].thread, NULL);
    wl_offload_stop(srv);
    return st;
}

void wl_server_stop(wl_server *srv)
{
    atomic_store(&srv->stopping, true);
    for (unsigned i = 0; i < srv->cfg.threads; i++) {
        uint64_t one = 1;
        if (srv->loops[i].wake_fd >= 0) {
            ssize_t w = write(srv->loops[i].wake_fd, &one, sizeof(one));
            (void)w;
        }
    }
}

void wl_server_stats_get(wl_server *srv, wl_server_stats *out)
{
    out->accepted = atomic_load_explicit(&srv->accepted, memory_order_relaxed);
    out->rejected_full = atomic_load_explicit(&srv->rejected_full, memory_order_relaxed);
    out->open = atomic_load_explicit(&srv->open_conns, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&srv->timeouts, memory_order_relaxed);
    out->parse_errors = atomic_load_explicit(&srv->parse_errors, memory_order_relaxed);
}

void wl_server_free(wl_server *srv)
{
    if (!srv)
        return;
    for (unsigned i = 0; i < srv->cfg.threads; i++) {
        wl_loop *loop = &srv->loops[i];
        if (loop->listen_fd >= 0)
            close(loop->listen_fd);
        if (loop->epfd >= 0)
            close(loop->epfd);
        if (loop->wake_fd >= 0)
            close(loop->wake_fd);
        pthread_mutex_destroy(&loop->inbox.lock);
    }
    pthread_mutex_destroy(&srv->pool.lock);
    pthread_cond_destroy(&srv->pool.cond);
    free(srv->loops);
    free(srv);
}
