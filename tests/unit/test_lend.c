/* test_lend.c - CPU loans (core/lend.h) between a lender (this thread, in the
 * role of an event loop) and a borrower thread: nothing is lent unless it is
 * wanted, a parked borrower is lent CPU only after a post, a loan lasts at
 * least its slice when the borrower keeps working and ends when it gives it
 * back, a lender stops waiting for a loan the borrower holds too long, and
 * a borrower that stops waiting withdraws its request so no loan can reach
 * it afterwards. Threads synchronise on the lend's own atomics,
 * never on sleeps. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/lend.h"

#define LONG_WAIT_NS 10000000000LL /* 10 s: only a broken hand-off waits this long */

typedef struct borrower {
    wl_lend *l;
    enum wl_lend_want want;
    uint64_t posted_before;
    int64_t timeout_ns;
    bool got;          /* what wl_lend_wait returned */
    bool keep_working; /* on a loan: call wl_lend_yield until it is taken back */
    int64_t worked_ns; /* time spent on the loan */
    _Atomic bool done;
} borrower;

static void *borrow(void *arg)
{
    borrower *b = arg;
    b->got = wl_lend_wait(b->l, b->want, b->posted_before, b->timeout_ns);
    if (b->got) {
        int64_t t0 = wl_mono_ns();
        /* a yield that finds the slice over gives the loan back, then waits
         * briefly for another one that this test never gives */
        while (b->keep_working && b->l->lent)
            wl_lend_yield(b->l);
        b->worked_ns = wl_mono_ns() - t0;
        wl_lend_return(b->l);
    }
    atomic_store(&b->done, true);
    return NULL;
}

/* Waits (yielding the CPU) until the borrower has published its request. */
static void await_want(wl_lend *l, enum wl_lend_want want)
{
    while (atomic_load(&l->want) != (uint32_t)want)
        sched_yield();
}

static void test_nothing_lent_unless_wanted(void **state)
{
    (void)state;
    wl_lend l;
    wl_lend_init(&l, 100);
    assert_false(wl_lend_wanted(&l));
    assert_false(wl_lend_give(&l, -1));
    assert_int_equal(atomic_load(&l.loans), 0);
}

static void test_parked_borrower_needs_a_post(void **state)
{
    (void)state;
    wl_lend l;
    wl_lend_init(&l, 100);
    borrower b = {.l = &l, .want = WL_LEND_WANT_NEW, .timeout_ns = LONG_WAIT_NS};
    b.posted_before = atomic_load(&l.posted);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, borrow, &b), 0);
    await_want(&l, WL_LEND_WANT_NEW);
    assert_false(wl_lend_wanted(&l)); /* parked, and nothing new yet */
    assert_false(wl_lend_give(&l, -1));
    wl_lend_post(&l);
    assert_true(wl_lend_wanted(&l));
    assert_true(wl_lend_give(&l, -1)); /* returns once the borrower gives it back */
    pthread_join(t, NULL);
    assert_true(b.got);
    assert_int_equal(atomic_load(&l.loans), 1);
    assert_int_equal(atomic_load(&l.want), WL_LEND_WANT_NONE); /* the loan consumed the request */
    assert_false(wl_lend_give(&l, -1));
}

/* Starts a borrower that keeps working on its loan, lends it this thread's
 * CPU with busy_fd, and returns how long the loan lasted (ns). */
static int64_t lend_to_worker(wl_lend *l, int busy_fd, borrower *b)
{
    *b = (borrower){
        .l = l, .want = WL_LEND_WANT_MORE, .timeout_ns = LONG_WAIT_NS, .keep_working = true};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, borrow, b), 0);
    await_want(l, WL_LEND_WANT_MORE);
    int64_t t0 = wl_mono_ns();
    assert_true(wl_lend_give(l, busy_fd));
    int64_t lent = wl_mono_ns() - t0;
    pthread_join(t, NULL); /* after its yield's short wait for another loan */
    assert_true(b->got);
    return lent;
}

static void test_loan_lasts_its_slice(void **state)
{
    (void)state;
    wl_lend l;
    wl_lend_init(&l, 300);
    borrower b;
    int64_t lent = lend_to_worker(&l, -1, &b);
    assert_true(lent >= 300 * 1000); /* the borrower kept working: the whole slice */
    assert_true(b.worked_ns >= 300 * 1000);
    assert_true(atomic_load(&l.lent_ns) >= (uint64_t)300 * 1000);
    assert_false(l.lent);
}

static void test_loan_ends_when_the_lender_has_work(void **state)
{
    (void)state;
    wl_lend l;
    wl_lend_init(&l, 1000000);          /* a 1 s slice: only the busy fd can end it early */
    int efd = eventfd(1, EFD_NONBLOCK); /* readable: "a request is waiting" */
    assert_true(efd >= 0);
    borrower b;
    int64_t lent = lend_to_worker(&l, efd, &b);
    close(efd);
    assert_true(lent >= LEND_MIN_US * 1000); /* it looks only after the minimum */
    assert_true(lent < 500000000);           /* long before the slice's end */
}

static void test_timed_out_borrower_withdraws(void **state)
{
    (void)state;
    wl_lend l;
    wl_lend_init(&l, 100);
    borrower b = {.l = &l, .want = WL_LEND_WANT_MORE, .timeout_ns = 1000000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, borrow, &b), 0);
    pthread_join(t, NULL);
    assert_false(b.got);
    assert_int_equal(atomic_load(&l.want), WL_LEND_WANT_NONE);
    assert_false(wl_lend_wanted(&l));
    assert_false(wl_lend_give(&l, -1)); /* would block for ever if it lent to no one */
    assert_int_equal(atomic_load(&l.turn), 0);
}

typedef struct stuck {
    wl_lend *l;
    _Atomic bool release; /* set by the test: give the loan back */
    _Atomic bool returned;
} stuck;

/* Takes a loan and holds it, as a borrower starved by other processes
 * would, until the test releases it. */
static void *hold_loan(void *arg)
{
    stuck *b = arg;
    assert_true(wl_lend_wait(b->l, WL_LEND_WANT_MORE, 0, LONG_WAIT_NS));
    while (!atomic_load(&b->release))
        sched_yield();
    wl_lend_return(b->l);
    atomic_store(&b->returned, true);
    return NULL;
}

static void test_lender_leaves_a_held_loan(void **state)
{
    (void)state;
    wl_lend l;
    wl_lend_init(&l, 100);
    stuck b = {.l = &l};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_loan, &b), 0);
    await_want(&l, WL_LEND_WANT_MORE);
    int64_t t0 = wl_mono_ns();
    assert_true(wl_lend_give(&l, -1)); /* comes back although the loan is still out */
    int64_t waited = wl_mono_ns() - t0;
    assert_false(atomic_load(&b.returned));
    assert_true(waited >= 100 * 1000);    /* the slice, then the grace */
    assert_true(atomic_load(&l.lending)); /* still out: no second loan meanwhile */
    atomic_store(&l.want, WL_LEND_WANT_MORE);
    assert_false(wl_lend_give(&l, -1));
    atomic_store(&l.want, WL_LEND_WANT_NONE);
    atomic_store(&b.release, true);
    pthread_join(t, NULL);
    assert_false(atomic_load(&l.lending)); /* the borrower ended it */
    assert_false(atomic_load(&l.abandoned));
    assert_int_equal(atomic_load(&l.turn), 0);
}

static void test_free_borrower_asks_only_when_posted(void **state)
{
    (void)state;
    wl_lend l;
    wl_lend_init(&l, 100);
    /* no loan, no producer activity: yields never wait, never ask */
    for (int i = 0; i < 10000; i++)
        wl_lend_yield(&l);
    assert_int_equal(atomic_load(&l.want), WL_LEND_WANT_NONE);
    wl_lend_return(&l); /* without a loan: nothing happens */
    assert_int_equal(atomic_load(&l.turn), 0);
    assert_false(l.lent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_lent_unless_wanted),
        cmocka_unit_test(test_parked_borrower_needs_a_post),
        cmocka_unit_test(test_loan_lasts_its_slice),
        cmocka_unit_test(test_loan_ends_when_the_lender_has_work),
        cmocka_unit_test(test_timed_out_borrower_withdraws),
        cmocka_unit_test(test_lender_leaves_a_held_loan),
        cmocka_unit_test(test_free_borrower_asks_only_when_posted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
