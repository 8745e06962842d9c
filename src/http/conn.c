/* conn.c - one client connection: read, parse, dispatch, write, close.
 *
 * A connection lives on exactly one loop thread. Input is parsed in place in
 * `in`; the consumed prefix is dropped (memmove) only before the next read,
 * so pipelined requests cost no copy. While a request is offloaded the
 * connection is PAUSED: nothing reads or moves `in`, because the pool thread
 * is reading the request's slices from it. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "http/internal.h"
#include "http/response.h"

#define MAX_READS_PER_WAKEUP 4
#define LINGER_MS 2000
#define IN_MAX (WL_HTTP_MAX_HEAD + WL_MAX_BODY + 1)

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void keep_alive_for_http10(const wl_exchange *ex, wl_buf *out, size_t start);

wl_conn *wl_conn_new(wl_loop *loop, int fd, const wl_peer *peer)
{
    wl_conn *c = wl_xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->loop = loop;
    c->peer = *peer;
    c->flags = CONN_CAN_WRITE;
    c->in_cap = WL_IN_INITIAL;
    c->in = wl_xmalloc(c->in_cap);
    wl_node_init(&c->ready_node);
    wl_node_init(&c->pending_node);
    wl_node_push_back(&loop->all, &c->all_node);
    /* A new connection must send a request within the header timeout. */
    c->head_started_ms = loop->now_ms;
    c->deadline_ms = loop->now_ms + loop->srv->cfg.header_timeout_ms;
    loop->nconns++;
    return c;
}

void wl_conn_mark_ready(wl_conn *c)
{
    if (!(c->flags & CONN_DEAD) && !wl_node_linked(&c->ready_node))
        wl_node_push_back(&c->loop->ready, &c->ready_node);
}

void wl_conn_mark_pending(wl_conn *c)
{
    if (!(c->flags & CONN_DEAD) && !wl_node_linked(&c->pending_node))
        wl_node_push_back(&c->loop->pending, &c->pending_node);
}

bool wl_conn_idle(const wl_conn *c)
{
    return !(c->flags & CONN_PAUSED) && c->in_off == c->in_len && c->out.len == c->out_sent;
}

static void conn_free(wl_conn *c)
{
    wl_buf_release(&c->out);
    wl_buf_release(&c->job.out);
    free(c->in);
    free(c);
}

/* Closes the socket at once. The memory is freed at the end of the loop
 * iteration (wl_conn_reap), never here: the iteration's epoll events may
 * still name this connection. A paused connection waits for its job first:
 * wl_conn_job_done() buries it. */
void wl_conn_close(wl_conn *c)
{
    wl_loop *loop = c->loop;
    if (c->fd >= 0) {
        close(c->fd); /* also removes it from the epoll set */
        c->fd = -1;
        loop->nconns--;
        atomic_fetch_sub_explicit(&loop->srv->open_conns, 1, memory_order_relaxed);
    }
    wl_node_unlink(&c->ready_node);
    wl_node_unlink(&c->pending_node);
    c->flags |= CONN_DEAD;
    if (c->flags & CONN_PAUSED)
        return;
    wl_node_unlink(&c->all_node);
    wl_node_push_back(&loop->graveyard, &c->all_node);
}

void wl_conn_reap(wl_node *graveyard)
{
    while (wl_node_linked(graveyard)) {
        wl_node *n = graveyard->next;
        wl_node_unlink(n);
        conn_free(WL_CONTAINER_OF(n, wl_conn, all_node));
    }
}

/* Half-closes after the last response so the client reads it before any
 * RST: closing with unread input would make the kernel reset the
 * connection and could destroy the response in flight. */
static void conn_linger(wl_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->flags |= CONN_LINGER;
    c->in_off = c->in_len = 0;
    c->deadline_ms = c->loop->now_ms + LINGER_MS;
    wl_conn_mark_ready(c);
}

/* Queues an error response and stops reading requests from this client. */
static void conn_fail(wl_conn *c, int status, const char *slug, const char *detail)
{
    wl_resp_problem(&c->out, status, slug, wl_http_reason(status), detail, true, false);
    c->flags |= CONN_CLOSE_AFTER;
    c->in_off = c->in_len = 0;
    atomic_fetch_add_explicit(&c->loop->srv->parse_errors, 1, memory_order_relaxed);
    wl_conn_mark_pending(c);
}

static const char *problem_slug(int status)
{
    switch (status) {
    case 413:
        return "body-too-large";
    case 431:
        return "headers-too-large";
    case 501:
        return "not-implemented";
    case 505:
        return "http-version";
    default:
        return "bad-request";
    }
}

static void conn_dispatch(wl_conn *c, size_t total)
{
    wl_loop *loop = c->loop;
    const wl_server_hooks *h = loop->srv->hooks;
    wl_exchange *ex = &c->job.ex;
    *ex = (wl_exchange){
        .req = &c->job.req,
        .peer = &c->peer,
        .out = &c->out,
        .close = !c->job.req.keep_alive || loop->draining,
        .draining = loop->draining,
        .start_ns = wl_mono_ns(),
    };
    c->flags &= ~CONN_SENT_CONTINUE;
    size_t start = c->out.len;
    if (h->on_request(h->ctx, loop->tctx, ex) == WL_ROUTE_OFFLOAD) {
        wl_buf_reset(&c->job.out);
        ex->out = &c->job.out;
        c->job.conn = c;
        c->job_bytes = total;
        c->flags |= CONN_PAUSED;
        c->deadline_ms = 0;
        wl_offload_submit(loop->srv, &c->job);
        return;
    }
    c->in_off += total;
    keep_alive_for_http10(ex, &c->out, start);
    if (h->on_response)
        h->on_response(h->ctx, loop->tctx, ex);
    if (ex->close)
        c->flags |= CONN_CLOSE_AFTER;
    wl_conn_mark_pending(c);
}

enum step { STEP_DONE, STEP_NEED_MORE, STEP_STOP };

/* HTTP/1.0 clients close after each response unless told otherwise: add
 * "Connection: keep-alive" after the status line of the response that
 * starts at out[start]. */
static void keep_alive_for_http10(const wl_exchange *ex, wl_buf *out, size_t start)
{
    static const char hdr[] = "Connection: keep-alive\r\n";
    if (ex->req->minor_version != 0 || ex->close || out->len <= start)
        return;
    const char *eol = memmem(out->data + start, out->len - start, "\r\n", 2);
    if (!eol)
        return;
    size_t at = (size_t)(eol - out->data) + 2;
    wl_buf_reserve(out, sizeof(hdr) - 1);
    memmove(out->data + at + sizeof(hdr) - 1, out->data + at, out->len - at);
    memcpy(out->data + at, hdr, sizeof(hdr) - 1);
    out->len += sizeof(hdr) - 1;
}

/* Makes room for `need` bytes of unparsed input, compacting then growing. */
static void conn_reserve_input(wl_conn *c, size_t need)
{
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (need > c->in_cap) {
        size_t cap = c->in_cap;
        while (cap < need)
            cap *= 2;
        if (cap > IN_MAX)
            cap = IN_MAX;
        c->in = wl_xrealloc(c->in, cap);
        c->in_cap = cap;
    }
}

static enum step conn_try_request(wl_conn *c)
{
    const char *why;
    size_t avail = c->in_len - c->in_off;
    wl_http_request *req = &c->job.req;
    wl_http_parse_status st = wl_http_parse(c->in + c->in_off, avail, req, &why);
    const wl_server_config *cfg = &c->loop->srv->cfg;
    if (!c->head_started_ms) {
        c->head_started_ms = c->loop->now_ms;
        c->deadline_ms = c->head_started_ms + cfg->header_timeout_ms;
    }
    if (st == WL_HTTP_PARSE_INCOMPLETE)
        return STEP_NEED_MORE; /* conn_read() grows a full buffer, up to past 8 KiB */
    if (st != WL_HTTP_PARSE_OK) {
        int code = wl_http_parse_status_code(st);
        conn_fail(c, code, problem_slug(code), why);
        return STEP_STOP;
    }
    if (req->content_length > WL_MAX_BODY) {
        conn_fail(c, 413, "body-too-large", "request bodies are limited to 64 KiB");
        return STEP_STOP;
    }
    size_t body = req->content_length > 0 ? (size_t)req->content_length : 0;
    size_t total = req->head_len + body;
    if (req->chunked) {
        size_t enc = 0;
        st = wl_http_chunked_scan(c->in + c->in_off + req->head_len, avail - req->head_len,
                                  WL_MAX_BODY, &enc, &body);
        if (st == WL_HTTP_PARSE_INCOMPLETE && avail >= IN_MAX - 1)
            st = WL_HTTP_PARSE_TOO_LARGE; /* chunk framing beyond any sane overhead */
        if (st == WL_HTTP_PARSE_TOO_LARGE) {
            conn_fail(c, 413, "body-too-large", "request bodies are limited to 64 KiB");
            return STEP_STOP;
        }
        if (st == WL_HTTP_PARSE_BAD) {
            conn_fail(c, 400, "bad-request", "malformed chunked body");
            return STEP_STOP;
        }
        total = st == WL_HTTP_PARSE_OK ? req->head_len + enc : IN_MAX;
    }
    if (avail < total) {
        if (req->expect_continue && !(c->flags & CONN_SENT_CONTINUE)) {
            wl_buf_add(&c->out, continue_100, sizeof(continue_100) - 1);
            c->flags |= CONN_SENT_CONTINUE;
            wl_conn_mark_pending(c);
        }
        conn_reserve_input(c, total);
        return STEP_NEED_MORE;
    }
    if (req->chunked) /* complete: decode in place, in front of any pipelined bytes */
        body = wl_http_chunked_decode(c->in + c->in_off + req->head_len, total - req->head_len);
    req->body = wl_slice_make(c->in + c->in_off + req->head_len, body);
    c->head_started_ms = 0;
    conn_dispatch(c, total);
    return STEP_DONE;
}

/* Reads once. Returns STEP_DONE after new bytes, STEP_NEED_MORE on EAGAIN,
 * STEP_STOP when the connection ended. */
static enum step conn_read(wl_conn *c)
{
    if (c->in_len == c->in_cap)
        conn_reserve_input(c, c->in_cap + 1);
    size_t space = c->in_cap - c->in_len;
    ssize_t n = read(c->fd, c->in + c->in_len, space);
    if (n > 0) {
        /* A short read drained the socket: skip the read that would only say
         * EAGAIN (one syscall per request). Data arriving later raises a new
         * edge; an EOF already signalled (PEER_DONE) is still read. */
        if ((size_t)n < space && !(c->flags & CONN_PEER_DONE))
            c->flags &= ~CONN_CAN_READ;
        if (c->flags & CONN_LINGER)
            return STEP_DONE; /* discarded */
        c->in_len += (size_t)n;
        return STEP_DONE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->flags &= ~CONN_CAN_READ;
        return STEP_NEED_MORE;
    }
    if (n < 0 && errno == EINTR)
        return STEP_DONE;
    /* EOF or error: answer what we have, then close. */
    c->flags &= ~CONN_CAN_READ;
    if ((c->flags & CONN_LINGER) || n < 0 || c->out.len == c->out_sent) {
        wl_conn_close(c);
    } else {
        c->flags |= CONN_CLOSE_AFTER;
        c->in_off = c->in_len = 0;
    }
    return STEP_STOP;
}

void wl_conn_process(wl_conn *c)
{
    unsigned handled = 0, reads = 0;
    while (!(c->flags & (CONN_DEAD | CONN_PAUSED))) {
        if (c->flags & CONN_LINGER) {
            if (!(c->flags & CONN_CAN_READ) || conn_read(c) == STEP_STOP)
                return;
            c->in_len = 0;
            continue;
        }
        if (c->flags & CONN_CLOSE_AFTER)
            return;
        if (c->out.len - c->out_sent > WL_OUT_HIGH_WATER)
            return; /* flush resumes us once the client reads */
        if (c->in_len > c->in_off) {
            enum step s = conn_try_request(c);
            if (s == STEP_STOP)
                return;
            if (s == STEP_DONE) {
                if (++handled == WL_MAX_REQS_PER_WAKEUP) {
                    wl_conn_mark_ready(c);
                    return;
                }
                continue;
            }
        }
        if (!(c->flags & CONN_CAN_READ))
            break;
        if (reads++ == MAX_READS_PER_WAKEUP) {
            wl_conn_mark_ready(c);
            return;
        }
        if (conn_read(c) != STEP_DONE)
            return;
    }
    if (!(c->flags & (CONN_DEAD | CONN_PAUSED)) && c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        c->head_started_ms = 0;
        c->deadline_ms = c->loop->now_ms + c->loop->srv->cfg.idle_timeout_ms;
    }
}

void wl_conn_flush(wl_conn *c)
{
    bool was_high = c->out.len - c->out_sent > WL_OUT_HIGH_WATER;
    while (c->out_sent < c->out.len && (c->flags & CONN_CAN_WRITE)) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_sent += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->flags &= ~CONN_CAN_WRITE;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            wl_conn_close(c);
            return;
        }
    }
    if (c->out_sent < c->out.len)
        return; /* EPOLLOUT brings us back */
    wl_buf_reset(&c->out);
    c->out_sent = 0;
    if (c->flags & CONN_CLOSE_AFTER) {
        if (c->flags & CONN_PAUSED)
            return;
        conn_linger(c);
        return;
    }
    if (was_high || (c->loop->draining && wl_conn_idle(c)))
        wl_conn_mark_ready(c);
    if (c->loop->draining && wl_conn_idle(c))
        wl_conn_close(c);
}

void wl_conn_on_events(wl_conn *c, uint32_t events)
{
    if (c->flags & CONN_DEAD)
        return; /* closed earlier in this iteration; freed after it */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->flags |= CONN_PEER_DONE;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        c->flags |= CONN_CAN_READ;
        wl_conn_mark_ready(c);
    }
    if (events & EPOLLOUT) {
        c->flags |= CONN_CAN_WRITE;
        if (c->out.len > c->out_sent)
            wl_conn_mark_pending(c);
    }
}

void wl_conn_job_done(wl_conn *c)
{
    c->flags &= ~CONN_PAUSED;
    if (c->flags & CONN_DEAD) {
        wl_node_unlink(&c->all_node);
        wl_node_push_back(&c->loop->graveyard, &c->all_node);
        return;
    }
    wl_exchange *ex = &c->job.ex;
    if (c->loop->draining)
        ex->close = true; /* the response says so only if built after the stop */
    keep_alive_for_http10(ex, &c->job.out, 0);
    wl_buf_add(&c->out, c->job.out.data, c->job.out.len);
    c->in_off += c->job_bytes;
    c->job_bytes = 0;
    if (ex->close || c->loop->draining)
        c->flags |= CONN_CLOSE_AFTER;
    wl_conn_mark_pending(c);
    wl_conn_mark_ready(c);
    c->deadline_ms = c->loop->now_ms + c->loop->srv->cfg.idle_timeout_ms;
}

void wl_conn_on_timer(wl_conn *c, int64_t now_ms)
{
    if (!c->deadline_ms || now_ms < c->deadline_ms || (c->flags & CONN_PAUSED))
        return;
    atomic_fetch_add_explicit(&c->loop->srv->timeouts, 1, memory_order_relaxed);
    if ((c->flags & CONN_LINGER) || c->out.len > c->out_sent || !c->head_started_ms ||
        c->in_len == c->in_off) {
        wl_conn_close(c); /* idle, lingering, or a client that stopped reading */
        return;
    }
    /* A request that did not arrive in time. */
    conn_fail(c, 408, "request-timeout", "the request was not received in time");
    c->deadline_ms = now_ms + LINGER_MS;
}

void wl_conn_begin_drain(wl_conn *c)
{
    if (wl_conn_idle(c) && !(c->flags & CONN_LINGER) && c->in_len == c->in_off) {
        /* A request may sit in the socket, sent before the stop but not yet
         * read: answer it (with Connection: close) rather than drop it. */
        char b;
        if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1) {
            c->flags |= CONN_CAN_READ;
            wl_conn_mark_ready(c);
            return;
        }
        wl_conn_close(c);
    } else if (!(c->flags & CONN_PAUSED) && c->out.len > c->out_sent && c->in_len == c->in_off) {
        c->flags |= CONN_CLOSE_AFTER;
    }
}
