/* server.h - the event-driven HTTP/1.1 server: one epoll loop per thread.
 *
 * DESIGN
 * Each loop thread owns a SO_REUSEPORT listening socket, an epoll set, an
 * eventfd for wake-ups and every connection it accepted; no connection state
 * is shared between threads. Sockets are edge-triggered; a connection with
 * more buffered input than one wake-up may process (WL_MAX_REQS_PER_WAKEUP)
 * is kept on the loop's ready list so no client starves the others.
 *
 * Requests are handed to the application's on_request hook on the loop
 * thread. The hook either answers at once (the redirect path: cache, store
 * read, prebuilt bytes) or asks for the request to be OFFLOADED: the
 * connection pauses (its input buffer stays untouched) and a thread of the
 * offload pool runs the hook's `offload` callback, which may block (SQL
 * writes, fsync, Argon2id). The pool posts the finished response back to the
 * loop through its eventfd and the connection resumes.
 *
 * Responses are appended to per-connection output buffers and written in
 * before-sleep, after the application's before_flush hook ran: the click log
 * is appended there, so a click is on disk (page cache) before its 302
 * leaves the server (the Redis AOF-in-beforeSleep pattern). Writes are tried
 * first; EPOLLOUT wakes us only when the socket buffer was full.
 *
 * CPU loans (wl_server_config.lend, core/lend.h): a loop with nothing ready
 * lends its CPU for one slice to the background thread that asked for it
 * (the analytics worker), instead of blocking in epoll_wait while that
 * thread runs beside it.
 *
 * SIGTERM/SIGINT (wl_server_stop): listening sockets close, idle
 * connections close, requests already received are answered with
 * "Connection: close", and the loops exit when no connection is left or the
 * drain timeout passes. */
#ifndef WL_HTTP_SERVER_H
#define WL_HTTP_SERVER_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/lend.h"
#include "core/status.h"
#include "http/parser.h"

#define WL_MAX_REQS_PER_WAKEUP 32
#define WL_MAX_BODY (64 * 1024)

typedef struct wl_server wl_server;
typedef struct wl_loop wl_loop;

/* The client's address as seen on the socket. */
typedef struct wl_peer {
    struct sockaddr_storage addr;
    socklen_t addr_len;
} wl_peer;

/* What on_request did with the request. */
typedef enum wl_route_action {
    WL_ROUTE_DONE,    /* response appended to `out` */
    WL_ROUTE_OFFLOAD, /* run hooks.offload on the pool, then send its output */
} wl_route_action;

/* One request in flight through the application. `out` receives the whole
 * response (status line, headers, body). `route` and `status` are set by the
 * application for metrics and logs. `close` asks to close after sending. */
typedef struct wl_exchange {
    const wl_http_request *req;
    const wl_peer *peer;
    wl_buf *out;
    unsigned route;
    int status;
    bool close;
    bool draining;    /* server is stopping: say Connection: close */
    int64_t start_ns; /* monotonic, when the head was parsed */
    void *route_ctx;  /* application data from on_request to offload */
} wl_exchange;

typedef struct wl_server_hooks {
    void *ctx;
    /* Per-thread state: called on each loop thread and each pool thread at
     * start (return value is that thread's `tctx`) and at exit. */
    void *(*thread_init)(void *ctx, bool is_loop, unsigned index);
    void (*thread_fini)(void *ctx, void *tctx);
    /* On the loop thread, for every complete request (body included). */
    wl_route_action (*on_request)(void *ctx, void *tctx, wl_exchange *ex);
    /* On a pool thread, for offloaded requests. */
    void (*offload)(void *ctx, void *tctx, wl_exchange *ex);
    /* On the loop thread, once per iteration before responses are written. */
    void (*before_flush)(void *ctx, void *tctx);
    /* After a response is queued: metrics. Loop thread or pool thread. */
    void (*on_response)(void *ctx, void *tctx, const wl_exchange *ex);
} wl_server_hooks;

typedef struct wl_server_config {
    const char *listen_host; /* numeric IPv4/IPv6 or a name */
    unsigned listen_port;    /* 0 picks a free port (see wl_server_port) */
    unsigned threads;        /* loop threads */
    unsigned offload_threads;
    unsigned max_connections;
    unsigned header_timeout_ms;
    unsigned idle_timeout_ms;
    unsigned drain_timeout_ms;
    /* CPU loans to a background thread (core/lend.h); NULL: none. Must
     * outlive the server. */
    wl_lend *lend;
} wl_server_config;

typedef struct wl_server_stats {
    uint64_t accepted;
    uint64_t rejected_full; /* refused over max_connections */
    uint64_t open;          /* currently open */
    uint64_t timeouts;      /* closed by header or idle timeout */
    uint64_t parse_errors;
} wl_server_stats;

/* Binds the listening sockets (so the port is known and errors surface
 * before threads start). `hooks` must outlive the server. */
wl_status wl_server_new(const wl_server_config *cfg, const wl_server_hooks *hooks, wl_server **out);
unsigned wl_server_port(const wl_server *srv);
/* Runs the loops on their threads; returns when they have all stopped. */
wl_status wl_server_run(wl_server *srv);
/* Async-signal-safe: asks every loop to drain and stop. */
void wl_server_stop(wl_server *srv);
void wl_server_stats_get(wl_server *srv, wl_server_stats *out);
void wl_server_free(wl_server *srv);

#endif
