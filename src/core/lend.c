/* lend.c - CPU loans from event loops to one background thread (lend.h).
 *
 * The hand-off is one futex word, `turn`: a lender sets it to 1 and sleeps
 * until it is 0 again; the borrower sleeps until it is 1, works, and sets
 * it back to 0. A request for a loan (`want`) is claimed by the lender with
 * a compare-and-swap, and withdrawn by a borrower that stops waiting with
 * the same swap, so a loan is either given to a borrower that waits for it
 * or not given at all. */
#include "core/lend.h"

#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

/* How long the borrower waits for a loan before it runs free: a loop that
 * is awake finds an idle moment well within this; one that is not (all
 * asleep, or saturated) would not lend anyway. */
#define LEND_WAIT_NS 2000000
/* A lender waits at most this long past the slice for the loan to return. */
#define GIVE_GRACE_NS 1000000
/* Running free, the borrower looks for producer activity (and so for awake
 * loops that could lend) every this many wl_lend_yield() calls: one atomic
 * load, and free running beside a busy loop is what loans avoid. */
#define FREE_CHECK_CALLS 4

static void futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tp = &ts;
    }
    /* EAGAIN (the word changed), EINTR and ETIMEDOUT all mean: look again */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, tp, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void wl_lend_init(wl_lend *l, unsigned slice_us)
{
    *l = (wl_lend){.slice_ns = (int64_t)slice_us * 1000};
}

/* Waits until the borrower gives the loan back, or deadline. False: the
 * loan is abandoned, and the borrower ends it (wl_lend_return). The flag
 * and `turn` are sequentially consistent, so exactly one side ends it. */
static bool await_return(wl_lend *l, int64_t deadline)
{
    for (;;) {
        if (atomic_load(&l->turn) == 0)
            return true;
        int64_t left = deadline - wl_mono_ns();
        if (left <= 0)
            break;
        futex_wait(&l->turn, 1, left);
    }
    atomic_store(&l->abandoned, true);
    /* returned meanwhile, maybe without seeing the flag: end it here */
    return atomic_load(&l->turn) == 0 && atomic_exchange(&l->abandoned, false);
}

bool wl_lend_give(wl_lend *l, int busy_fd)
{
    uint32_t want = atomic_load_explicit(&l->want, memory_order_acquire);
    if (!wl_lend_wanted(l) || atomic_exchange_explicit(&l->lending, true, memory_order_acquire))
        return false;
    /* claim the request; the borrower may have withdrawn it meanwhile */
    if (!atomic_compare_exchange_strong_explicit(&l->want, &want, WL_LEND_WANT_NONE,
                                                 memory_order_acq_rel, memory_order_relaxed)) {
        atomic_store_explicit(&l->lending, false, memory_order_release);
        return false;
    }
    int64_t t0 = wl_mono_ns();
    atomic_store_explicit(&l->until_ns, t0 + l->slice_ns, memory_order_relaxed);
    atomic_store_explicit(&l->busy_fd, busy_fd, memory_order_relaxed);
    atomic_store_explicit(&l->turn, 1, memory_order_release);
    futex_wake(&l->turn);
    bool back = await_return(l, t0 + l->slice_ns + GIVE_GRACE_NS);
    atomic_fetch_add_explicit(&l->loans, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->lent_ns, (uint64_t)(wl_mono_ns() - t0), memory_order_relaxed);
    if (back)
        atomic_store_explicit(&l->lending, false, memory_order_release);
    return true;
}

static bool took_loan(wl_lend *l)
{
    l->lent = true;
    l->calls = 0;
    l->next_poll_ns = wl_mono_ns() + LEND_MIN_US * 1000;
    return true;
}

/* On a loan: true when it should end now (slice over, or the lender has
 * work waiting: a zero-timeout poll of its epoll fd, every LEND_POLL_US). */
static bool loan_over(wl_lend *l)
{
    int64_t now = wl_mono_ns();
    if (now >= atomic_load_explicit(&l->until_ns, memory_order_relaxed))
        return true;
    int fd = atomic_load_explicit(&l->busy_fd, memory_order_relaxed);
    if (fd < 0 || now < l->next_poll_ns)
        return false;
    l->next_poll_ns = now + LEND_POLL_US * 1000;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

bool wl_lend_wait(wl_lend *l, enum wl_lend_want want, uint64_t posted_before, int64_t timeout_ns)
{
    if (want == WL_LEND_WANT_NEW)
        atomic_store_explicit(&l->seen, posted_before, memory_order_relaxed);
    atomic_store_explicit(&l->want, (uint32_t)want, memory_order_release);
    int64_t deadline = wl_mono_ns() + timeout_ns;
    for (;;) {
        if (atomic_load_explicit(&l->turn, memory_order_acquire) == 1)
            return took_loan(l);
        int64_t left = deadline - wl_mono_ns();
        if (left <= 0)
            break;
        futex_wait(&l->turn, 0, left);
    }
    uint32_t expected = (uint32_t)want;
    if (atomic_compare_exchange_strong_explicit(&l->want, &expected, WL_LEND_WANT_NONE,
                                                memory_order_acq_rel, memory_order_relaxed))
        return false; /* withdrawn before any loop claimed it */
    /* a loop claimed it an instant ago: the loan is on its way */
    while (atomic_load_explicit(&l->turn, memory_order_acquire) != 1)
        futex_wait(&l->turn, 0, -1);
    return took_loan(l);
}

void wl_lend_return(wl_lend *l)
{
    if (!l || !l->lent)
        return;
    l->lent = false;
    l->calls = 0;
    atomic_store(&l->turn, 0);
    futex_wake(&l->turn);
    if (atomic_exchange(&l->abandoned, false))
        atomic_store_explicit(&l->lending, false, memory_order_release); /* its lender left */
}

void wl_lend_yield(wl_lend *l)
{
    if (!l)
        return;
    if (l->lent) {
        if (!loan_over(l))
            return;
        wl_lend_return(l);
        (void)wl_lend_wait(l, WL_LEND_WANT_MORE, 0, LEND_WAIT_NS);
        return;
    }
    if (++l->calls < FREE_CHECK_CALLS)
        return;
    l->calls = 0;
    uint64_t posted = atomic_load_explicit(&l->posted, memory_order_relaxed);
    if (posted == l->posted_checked)
        return; /* no traffic: running free costs the loops nothing */
    l->posted_checked = posted;
    (void)wl_lend_wait(l, WL_LEND_WANT_MORE, 0, LEND_WAIT_NS);
}
