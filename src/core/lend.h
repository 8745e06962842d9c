/* lend.h - event loops lend their idle CPU to one background thread.
 *
 * Why: on the VMs we measure (docs/OPERATIONS.md, "Sizing") a background
 * thread that runs freely beside an event loop on the same core is costly
 * in a way its own CPU time does not show: every request that wakes the
 * blocked loop must preempt the thread, and that cross-CPU wake-up cost the
 * loop about as much CPU again as the request itself. A loan avoids it: a
 * loop with nothing ready hands its CPU to the thread and waits for it to
 * come back, so the loop is never asleep in epoll_wait while the thread
 * runs, and requests that arrive meanwhile wake nobody. A loan lasts up to
 * a slice; after LEND_MIN_US the borrower looks every LEND_POLL_US whether
 * the loop has work and ends the loan then, so a request waits ~70 us at
 * most, not a slice. Measured at 80k redirects/s on one core, synthetic
 * work got 2x the CPU it got as a free SCHED_IDLE thread, with unchanged
 * p99; at saturation the loop served 1.03x instead of 0.95x. Short loans do
 * little: the borrower starts each one cold in cache (docs/OPERATIONS.md,
 * "Sizing", has the slice measurements).
 *
 * Roles:
 *   - the borrower: exactly ONE thread (the analytics worker). It asks for
 *     a loan (wl_lend_wait), works, and calls wl_lend_yield() at points
 *     where it may pause; it gives the loan back (wl_lend_return) before
 *     anything that may block or take long in one call (fsync, a COMMIT, a
 *     sleep). Without a loan it runs as before (free, SCHED_IDLE).
 *   - lenders: any number of event-loop threads. A loop with nothing ready
 *     calls wl_lend_wanted() (a few atomic loads) and, if true,
 *     wl_lend_give(), which blocks the loop for up to one slice. One loan at
 *     a time; a loop that finds another loop lending just carries on.
 *   - producers: whoever adds work the borrower waits for calls
 *     wl_lend_post() (the click appender), so an idle borrower is lent CPU
 *     only when there is something new for it.
 *
 * The borrower never waits for a loan for long: when none comes within
 * 2 ms (the loops are busy or asleep) it runs free, exactly as a
 * thread without loans. Lifetime: a wl_lend outlives the borrower and the
 * lenders (owned by the analytics service); it holds no resources. */
#ifndef WL_CORE_LEND_H
#define WL_CORE_LEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A loan runs at least LEND_MIN_US (or its whole slice if shorter); then
 * the borrower looks every LEND_POLL_US whether its lender has work. */
#define LEND_MIN_US 50
#define LEND_POLL_US 20

/* What the borrower is waiting for (wl_lend.want). */
enum wl_lend_want {
    WL_LEND_WANT_NONE = 0,
    WL_LEND_WANT_NEW,  /* a loan once wl_lend_post() was called since it parked */
    WL_LEND_WANT_MORE, /* a loan at the next idle moment: work is in hand */
};

typedef struct wl_lend {
    _Atomic uint32_t turn;    /* futex word: 1 while the borrower holds a loan */
    _Atomic uint32_t want;    /* enum wl_lend_want */
    _Atomic uint64_t posted;  /* wl_lend_post() calls */
    _Atomic uint64_t seen;    /* posted when the borrower parked for new work */
    _Atomic int64_t until_ns; /* end of the current loan (monotonic) */
    _Atomic int busy_fd;      /* readable when the lender has work; -1: none */
    atomic_bool lending;      /* a loan is out: one at a time */
    atomic_bool abandoned;    /* its lender stopped waiting (wl_lend_give) */
    _Atomic uint64_t loans;   /* loans given */
    _Atomic uint64_t lent_ns; /* loop time spent lending */
    int64_t slice_ns;
    /* borrower-only state */
    bool lent;               /* the borrower is running on a loan */
    uint32_t calls;          /* wl_lend_yield() calls since the last free-running check */
    int64_t next_poll_ns;    /* on a loan: when to look at busy_fd again */
    uint64_t posted_checked; /* posted at the last free-running check */
} wl_lend;

/* slice_us > 0. */
void wl_lend_init(wl_lend *l, unsigned slice_us);

/* ---- lenders (event loops) ---------------------------------------------- */

/* True when the borrower waits for a loan that makes sense now. */
static inline bool wl_lend_wanted(wl_lend *l)
{
    uint32_t w = atomic_load_explicit(&l->want, memory_order_acquire);
    return w == WL_LEND_WANT_MORE ||
           (w == WL_LEND_WANT_NEW && atomic_load_explicit(&l->posted, memory_order_relaxed) !=
                                         atomic_load_explicit(&l->seen, memory_order_relaxed));
}

/* Lends this thread's CPU for one slice if the borrower still wants it and
 * no other loop is lending; returns when the borrower gives it back: after
 * about slice_us, sooner when it runs out of work, and sooner when busy_fd
 * (the loop's epoll fd; -1: none) turns readable, which the borrower looks
 * at every LEND_POLL_US on the loan - a request that arrives during a loan
 * waits about that long, not a whole slice. At the latest
 * after slice_us + 1 ms: a borrower starved by other processes (it runs at
 * idle priority) must not hold a loop. An abandoned loan is then the
 * borrower's until it gives it back; no other is given meanwhile. False:
 * nothing was lent. */
bool wl_lend_give(wl_lend *l, int busy_fd);

/* ---- producers ---------------------------------------------------------- */

static inline void wl_lend_post(wl_lend *l)
{
    if (l)
        atomic_fetch_add_explicit(&l->posted, 1, memory_order_release);
}

/* ---- the borrower ------------------------------------------------------- */

/* Asks for a loan and waits up to timeout_ns for one. want is
 * WL_LEND_WANT_MORE (work in hand) or WL_LEND_WANT_NEW (parked until a
 * producer posts; the caller must have found no work AFTER reading
 * `posted_before`, the value of l->posted it read before looking). True: the
 * borrower now runs on a loan. */
bool wl_lend_wait(wl_lend *l, enum wl_lend_want want, uint64_t posted_before, int64_t timeout_ns);

/* A point where the borrower may pause. On a loan whose slice is over: gives
 * it back and waits (briefly) for the next. Running free: asks for a loan
 * again once producers were active since the last check (loops are awake
 * then, so a loan comes soon), at most every few hundred calls. */
void wl_lend_yield(wl_lend *l);

/* Gives the loan back, if any, before something that may block or take
 * long in one call. The borrower then runs free until its next
 * wl_lend_yield() or wl_lend_wait(). NULL is a no-op. */
void wl_lend_return(wl_lend *l);

#endif
