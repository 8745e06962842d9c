/* offload.c - the pool of threads that run blocking request work.
 *
 * Loop threads must never block, so requests that write to the database,
 * fsync or hash passwords are queued here (FIFO, one mutex + condvar; these
 * requests are rare next to redirects) and their responses are posted back
 * to the owning loop. Each pool thread has its own application context (its
 * own store connection, its own KGS batch). */
#include <stdlib.h>

#include "http/internal.h"

static void *pool_main(void *arg);

typedef struct pool_arg {
    wl_server *srv;
    unsigned index;
} pool_arg;

wl_status wl_offload_start(wl_server *srv)
{
    offload_pool *p = &srv->pool;
    p->nthreads = srv->cfg.offload_threads ? srv->cfg.offload_threads : 1;
    p->threads = wl_xcalloc(p->nthreads, sizeof(*p->threads));
    p->tctx = wl_xcalloc(p->nthreads, sizeof(*p->tctx));
    for (unsigned i = 0; i < p->nthreads; i++) {
        pool_arg *a = wl_xmalloc(sizeof(*a));
        *a = (pool_arg){srv, i};
        if (pthread_create(&p->threads[i], NULL, pool_main, a) != 0) {
            free(a);
            p->nthreads = i;
            return WL_EIO;
        }
    }
    return WL_OK;
}

void wl_offload_submit(wl_server *srv, wl_job *job)
{
    offload_pool *p = &srv->pool;
    job->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static wl_job *pool_take(offload_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (!p->head && !p->stopping)
        pthread_cond_wait(&p->cond, &p->lock);
    wl_job *job = p->head;
    if (job) {
        p->head = job->next;
        if (!p->head)
            p->tail = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    return job;
}

static void *pool_main(void *arg)
{
    pool_arg a = *(pool_arg *)arg;
    free(arg);
    wl_server *srv = a.srv;
    const wl_server_hooks *h = srv->hooks;
    void *tctx = h->thread_init ? h->thread_init(h->ctx, false, a.index) : NULL;
    srv->pool.tctx[a.index] = tctx;
    wl_job *job;
    /* Drains the queue even when stopping: every queued job belongs to a
     * paused connection whose loop waits for it. */
    while ((job = pool_take(&srv->pool))) {
        h->offload(h->ctx, tctx, &job->ex);
        if (h->on_response)
            h->on_response(h->ctx, tctx, &job->ex);
        wl_loop_post_done(job->conn->loop, job);
    }
    if (h->thread_fini)
        h->thread_fini(h->ctx, tctx);
    return NULL;
}

void wl_offload_stop(wl_server *srv)
{
    offload_pool *p = &srv->pool;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    free(p->tctx);
    p->threads = NULL;
    p->tctx = NULL;
    p->nthreads = 0;
}
