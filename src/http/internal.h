/* internal.h - structures shared by the server's own files (server.c,
 * conn.c, offload.c). Nothing outside src/http/ includes this. */
#ifndef WL_HTTP_INTERNAL_H
#define WL_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "http/server.h"

#define WL_IN_INITIAL 4096
#define WL_OUT_HIGH_WATER (256 * 1024) /* stop reading requests above this */

enum conn_flags {
    CONN_CAN_READ = 1u << 0, /* edge seen, EAGAIN not yet hit */
    CONN_CAN_WRITE = 1u << 1,
    CONN_PAUSED = 1u << 2,      /* a request is on the offload pool */
    CONN_CLOSE_AFTER = 1u << 3, /* close once `out` is written */
    CONN_DEAD = 1u << 4,        /* peer gone / error: free when not paused */
    CONN_SENT_CONTINUE = 1u << 7,
    CONN_LINGER = 1u << 8,    /* write side shut: discard input until EOF */
    CONN_PEER_DONE = 1u << 9, /* RDHUP/HUP/ERR seen: read until EOF or error */
};

/* Intrusive doubly-linked list node; a list is a sentinel node. */
typedef struct wl_node {
    struct wl_node *prev, *next;
} wl_node;

static inline void wl_node_init(wl_node *n)
{
    n->prev = n->next = n;
}
static inline bool wl_node_linked(const wl_node *n)
{
    return n->next != n;
}
static inline void wl_node_unlink(wl_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    wl_node_init(n);
}
static inline void wl_node_push_back(wl_node *list, wl_node *n)
{
    n->prev = list->prev;
    n->next = list;
    list->prev->next = n;
    list->prev = n;
}
/* Moves every node of `from` to the empty list `to`. */
static inline void wl_node_splice(wl_node *to, wl_node *from)
{
    if (!wl_node_linked(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    wl_node_init(from);
}
#define WL_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct wl_conn wl_conn;

/* The one offload job a connection can have outstanding; embedded in the
 * connection so offloading allocates nothing once the buffers are warm. */
typedef struct wl_job {
    struct wl_job *next;
    wl_conn *conn;
    wl_exchange ex;
    wl_http_request req; /* slices point into conn->in, untouched while paused */
    wl_buf out;
} wl_job;

struct wl_conn {
    int fd;
    unsigned flags;
    wl_loop *loop;
    wl_node all_node;     /* loop->all */
    wl_node ready_node;   /* loop->ready: unprocessed input */
    wl_node pending_node; /* loop->pending: output to write */
    wl_peer peer;
    char *in;                      /* input bytes: [0, in_len) */
    size_t in_off, in_len, in_cap; /* unparsed input is in[in_off, in_len) */
    size_t job_bytes;              /* request bytes the paused job consumes */
    wl_buf out;                    /* response bytes not yet written */
    size_t out_sent;               /* prefix of out already written */
    int64_t deadline_ms;           /* monotonic; 0 = none */
    int64_t head_started_ms;       /* first byte of the current request */
    wl_job job;
};

/* Lock-protected list of finished jobs posted back to a loop. */
typedef struct job_inbox {
    pthread_mutex_t lock;
    wl_job *head;
} job_inbox;

struct wl_loop {
    wl_server *srv;
    unsigned index;
    pthread_t thread;
    int epfd;
    int listen_fd;
    int wake_fd; /* eventfd: stop requests and finished jobs */
    void *tctx;
    wl_node all;       /* every connection */
    wl_node ready;     /* connections with unprocessed input */
    wl_node pending;   /* connections with output to write */
    wl_node graveyard; /* closed connections, freed after the iteration */
    job_inbox inbox;
    int64_t now_ms; /* monotonic, refreshed each iteration */
    int64_t next_sweep_ms;
    bool draining;
    int64_t drain_deadline_ms;
    unsigned nconns;
};

typedef struct offload_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    wl_job *head, *tail;
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
    void **tctx;
} offload_pool;

struct wl_server {
    wl_server_config cfg;
    const wl_server_hooks *hooks;
    unsigned port;
    wl_loop *loops;
    offload_pool pool;
    atomic_bool stopping;
    atomic_uint open_conns;
    atomic_uint_fast64_t accepted, rejected_full, timeouts, parse_errors;
};

/* conn.c */
wl_conn *wl_conn_new(wl_loop *loop, int fd, const wl_peer *peer);
void wl_conn_on_events(wl_conn *c, uint32_t events);
void wl_conn_process(wl_conn *c);
void wl_conn_flush(wl_conn *c);
void wl_conn_job_done(wl_conn *c);
void wl_conn_close(wl_conn *c);
void wl_conn_mark_pending(wl_conn *c);
void wl_conn_mark_ready(wl_conn *c);
bool wl_conn_idle(const wl_conn *c);
void wl_conn_on_timer(wl_conn *c, int64_t now_ms);
void wl_conn_begin_drain(wl_conn *c);
/* Frees the connections on `graveyard` (linked by all_node). */
void wl_conn_reap(wl_node *graveyard);

/* offload.c */
wl_status wl_offload_start(wl_server *srv);
void wl_offload_submit(wl_server *srv, wl_job *job);
void wl_offload_stop(wl_server *srv);

/* server.c */
void wl_loop_post_done(wl_loop *loop, wl_job *job);

#endif
