/* Unit tests for fut.h: every public function, its normal path, its edges and its bad
 * input. The header's comments are the specification; each test names the behaviour it
 * checks. Criterion forks every test, so the counters of testutil.h start at zero. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "fut.h"

/* Built twice: test_fut (an own FUT_MALLOC turns the state cache off) and test_fut_cache
 * (-DFUT_STATE_CACHE=16, the default configuration's cache). There, states this thread
 * keeps for reuse are not leaks: tu_live flushes them first (other threads' caches are
 * freed when those threads exit), and tu_fail_next flushes so that the next state is a
 * malloc that can fail. */
#ifndef FUT_TEST_CACHE
_Static_assert(FUT_STATE_CACHE == 0, "an own FUT_MALLOC (testutil.h) turns the state cache off");
#else
_Static_assert(FUT_STATE_CACHE == 16, "test_fut_cache runs with the cache on");
#define tu_live() (fut_cache_flush(), tu_live())
#define tu_fail_next() (fut_cache_flush(), tu_fail_next()) /* the next state comes from malloc */
#endif
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#define MS 1000000ull

/* ---- helpers ----------------------------------------------------------------------- */

static long allocs(void) { return atomic_load(&tu_allocs); }
static long alloc_calls(void) { return atomic_load(&tu_calls); }
static long dtors(void) { return atomic_load(&tu_dtor_calls); }

/* Fails the k-th allocation attempt from now (1 = the next one). */
static void fail_nth(long k) { atomic_store(&tu_fail_at, atomic_load(&tu_calls) + k); }

/* A continuation's observer: how often it ran, what it got, where it ran, and what it
 * hands back where the continuation is one that returns a prepared future. */
typedef struct probe {
    _Atomic int calls;
    fut_result in;
    pthread_t thread;
    int err;          /* p_fail: the error to return */
    fut_future next;  /* p_return_next: moved out and returned */
} probe;

static void probe_note(probe *p, fut_result r)
{
    p->in = r;
    p->thread = pthread_self();
    atomic_fetch_add(&p->calls, 1);
}

static int calls(probe *p) { return atomic_load(&p->calls); }

/* value + 1 */
static fut_future p_add1(void *ctx, fut_result r)
{
    if (ctx != NULL)
        probe_note(ctx, r);
    return fut_ready(fut_i64(r.value.i64 + 1));
}

/* passes the outcome on with fut_ready_result (its destructor travels with it) */
static fut_future p_pass(void *ctx, fut_result r)
{
    probe_note(ctx, r);
    return fut_ready_result(r);
}

/* hands a pointer value on as an owned pointer again (destructor tu_dtor_count) */
static fut_future p_rewrap(void *ctx, fut_result r)
{
    probe_note(ctx, r);
    return r.err != 0 ? fut_ready_error(r.err) : fut_ready_ptr(r.value.ptr, tu_dtor_count);
}

static fut_future p_fail(void *ctx, fut_result r)
{
    probe *p = ctx;
    probe_note(p, r);
    return fut_ready_error(p->err);
}

/* turns an error into the value 1000 + err */
static fut_future p_recover_value(void *ctx, fut_result r)
{
    probe_note(ctx, r);
    return fut_ready(fut_i64(1000 + r.err));
}

static fut_future p_return_next(void *ctx, fut_result r)
{
    probe *p = ctx;
    probe_note(p, r);
    fut_future f = p->next;
    p->next = (fut_future){0};
    return f;
}

static fut_future p_return_empty(void *ctx, fut_result r)
{
    probe_note(ctx, r);
    return (fut_future){0};
}

static fut_future p_return_spent(void *ctx, fut_result r)
{
    probe_note(ctx, r);
    fut_future f = fut_ready(fut_i64(1));
    (void)fut_get(&f); /* f is spent now */
    return f;
}

/* Records the order continuations ran in: ctx is the index. */
static int order[64];
static int norder;
static void note(int id)
{
    if (norder < 64)
        order[norder++] = id;
}

static fut_future note_order(void *ctx, fut_result r)
{
    note((int)(intptr_t)ctx);
    return fut_ready_result(r);
}

static void hook_count(void *ctx) { atomic_fetch_add((_Atomic int *)ctx, 1); }

typedef struct hookrec {
    _Atomic int calls;
    pthread_t thread;
} hookrec;

static void hook_thread(void *ctx)
{
    hookrec *h = ctx;
    h->thread = pthread_self();
    atomic_fetch_add(&h->calls, 1);
}

/* A task that counts its runs and notes its id. */
typedef struct ttask {
    fut_task t; /* first: a fut_task * points here */
    int id, runs, err;
} ttask;

static void ttask_run(fut_task *t, int err)
{
    ttask *x = (ttask *)(void *)t;
    x->runs++;
    x->err = err;
    note(x->id);
}

/* n tasks with ids 0..n-1, linked by next and NULL-terminated. */
static void tasks_init(ttask *ts, int n)
{
    for (int i = 0; i < n; i++) {
        ts[i].id = i;
        ts[i].runs = 0;
        ts[i].err = -1;
        ts[i].t.run = ttask_run;
        ts[i].t.next = i + 1 < n ? &ts[i + 1].t : NULL;
    }
}

/* A task that, when it runs, submits a child to a manual scheduler. */
typedef struct spawner {
    fut_task t;
    fut_manual *m;
    ttask *child;
    int runs;
} spawner;

static void spawner_run(fut_task *t, int err)
{
    spawner *s = (spawner *)(void *)t;
    s->runs++;
    if (err == 0)
        (void)fut_sched_submit(&s->m->sched, &s->child->t);
}

/* A scheduler under test control: queues what it takes, answers may_inline as told,
 * can refuse everything, every second submit, or all but a prefix of a list. */
typedef struct qsched {
    fut_sched s; /* first: a fut_sched * points here */
    fut_task *queue[64];
    size_t queued, next;
    int inline_ok;
    int refuse;              /* submit answers this; 0 takes the task */
    int refuse_every_second; /* submit refuses its 2nd, 4th, ... call with EBUSY */
    size_t accept_many;      /* submit_many takes at most this many, refuses the rest */
    int submits, many_calls;
} qsched;

static int q_submit(fut_sched *s, fut_task *t)
{
    qsched *q = (qsched *)(void *)s;
    q->submits++;
    if (q->refuse != 0)
        return q->refuse;
    if (q->refuse_every_second && q->submits % 2 == 0)
        return EBUSY;
    q->queue[q->queued++] = t;
    return 0;
}

static fut_task *q_submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    qsched *q = (qsched *)(void *)s;
    q->many_calls++;
    size_t k = 0;
    fut_task *t = head;
    while (t != NULL && k < n && k < q->accept_many) {
        fut_task *next = t->next;
        q->queue[q->queued++] = t;
        t = next;
        k++;
    }
    *err = t != NULL ? EAGAIN : 0;
    return t;
}

static int q_may(fut_sched *s) { return ((qsched *)(void *)s)->inline_ok; }

static void q_init(qsched *q, int with_may_inline, int inline_ok)
{
    memset(q, 0, sizeof *q);
    q->s.submit = q_submit;
    q->s.submit_many = NULL;
    q->s.may_inline = with_may_inline ? q_may : NULL;
    q->s.workers = 1;
    q->inline_ok = inline_ok;
}

static size_t q_run(qsched *q)
{
    size_t n = 0;
    while (q->next < q->queued) {
        fut_task *t = q->queue[q->next++];
        t->run(t, 0);
        n++;
    }
    return n;
}

static void spin_until(_Atomic int *flag)
{
    while (!atomic_load(flag))
        sched_yield();
}

/* A thread that waits on a borrowed future, for at most ns (0: WAKE_BOUND_NS). The
 * bound turns a missing wake-up into a failure (rc ETIMEDOUT) instead of a hang; a wait
 * that is woken says nothing about how long it took. */
enum { WAKE_BOUND_S = 60 };
#define WAKE_BOUND_NS ((uint64_t)WAKE_BOUND_S * 1000000000u)
typedef struct fwait {
    const fut_future *f;
    _Atomic int started;
    int rc;
    uint64_t ns;
} fwait;

static void *fwait_main(void *arg)
{
    fwait *w = arg;
    uint64_t bound = w->ns != 0 ? w->ns : WAKE_BOUND_NS;
    uint64_t t0 = fut_now_ns();
    atomic_store(&w->started, 1);
    w->rc = fut_wait_for(w->f, bound);
    /* At the bound the wait finds the state settled and says 0: only the time shows
     * that nothing woke it. A woken wait is not timed. */
    if (w->rc == 0 && w->ns == 0 && fut_now_ns() - t0 >= bound)
        w->rc = ETIMEDOUT; /* a missing wake-up */
    return NULL;
}

/* A thread that settles a promise once told to. */
typedef struct settler {
    fut_promise p;
    _Atomic int go;
    int rc;
} settler;

static void *settler_main(void *arg)
{
    settler *s = arg;
    spin_until(&s->go);
    s->rc = fut_promise_set(&s->p, fut_i64(77));
    return NULL;
}

/* A thread that cancels a borrowed future. */
typedef struct canceller {
    const fut_future *f;
    int rc;
} canceller;

static void *canceller_main(void *arg)
{
    canceller *c = arg;
    c->rc = fut_cancel(c->f);
    return NULL;
}

/* A thread that waits on a manual scheduler, for at most WAKE_BOUND_NS: as fwait, a
 * wait that reaches the bound is a missing wake-up (rc ETIMEDOUT). */
typedef struct mwait {
    fut_manual *m;
    _Atomic int started;
    int rc;
} mwait;

/* Gives a waiter that said it started time to go to sleep, so that a missing wake-up
 * is seen (a wake that comes first is found under the lock and needs none). Nothing
 * depends on it for correctness: a waiter that is not asleep yet still passes. */
static void let_it_sleep(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void *mwait_main(void *arg)
{
    mwait *w = arg;
    uint64_t t0 = fut_now_ns();
    atomic_store(&w->started, 1);
    w->rc = fut_manual_wait(w->m, t0 + WAKE_BOUND_NS);
    /* At the bound a wait finds the queued task and says 0: only the time shows it. */
    if (w->rc == 0 && fut_now_ns() - t0 >= WAKE_BOUND_NS)
        w->rc = ETIMEDOUT;
    return NULL;
}

/* A bug that leaves a future pending must fail its test, not hang the run: every suite
 * has a time limit (nothing here comes near it when fut.h is right). */
TestSuite(fut_value);
TestSuite(fut_ready);
TestSuite(fut_ready_ptr);
TestSuite(fut_ready_error);
TestSuite(fut_ready_result);
TestSuite(fut_promise_new);
TestSuite(fut_promise_set);
TestSuite(fut_promise_set_ptr);
TestSuite(fut_promise_set_error);
TestSuite(fut_promise_set_result);
TestSuite(fut_promise_drop);
TestSuite(fut_promise_cancelled);
TestSuite(fut_promise_on_cancel);
TestSuite(fut_then);
TestSuite(fut_recover);
TestSuite(fut_then_result);
TestSuite(fut_split);
TestSuite(fut_sched_submit);
TestSuite(fut_sched_submit_many);
TestSuite(fut_sched);
TestSuite(fut_inline);
TestSuite(fut_manual);
TestSuite(fut_is_ready);
TestSuite(fut_wait);
TestSuite(fut_wait_for);
TestSuite(fut_wait_until);
TestSuite(fut_try_get);
TestSuite(fut_get);
TestSuite(fut_drop);
TestSuite(fut_now_ns);
TestSuite(fut_cancel);
TestSuite(fut_trampoline);

/* ---- values and results ------------------------------------------------------------ */

Test(fut_value, constructors_fill_the_member_they_name)
{
    int x;
    cr_assert_eq(fut_i64(-5).i64, -5);
    cr_assert_eq(fut_u64(UINT64_MAX).u64, UINT64_MAX);
    cr_assert_eq(fut_f64(1.5).f64, 1.5);
    cr_assert_eq(fut_ptr(&x).ptr, (void *)&x);
    fut_result ok = fut_ok(fut_i64(7));
    cr_assert_eq(ok.err, 0);
    cr_assert_eq(ok.value.i64, 7);
    fut_result bad = fut_error(EIO);
    cr_assert_eq(bad.err, EIO);
    cr_assert_eq(sizeof(fut_result), 24, "documented: 24 bytes");
}

/* ---- ready futures ----------------------------------------------------------------- */

Test(fut_ready, gives_its_value_without_allocating)
{
    fut_future f = fut_ready(fut_i64(42));
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_wait(&f), 0);
    cr_assert_eq(fut_wait_until(&f, 0), 0);
    cr_assert_eq(fut_wait_for(&f, 0), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 42);
    cr_assert_eq(alloc_calls(), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_ready, try_get_takes_the_value_at_once_and_spends_the_handle)
{
    fut_future f = fut_ready(fut_u64(UINT64_MAX));
    fut_result r;
    cr_assert_eq(fut_try_get(&f, &r), 0);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, UINT64_MAX);
    cr_assert_eq(fut_try_get(&f, &r), EINVAL);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_wait(&f), EINVAL);
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_ready_ptr, destructor_runs_on_drop_not_when_the_value_is_taken)
{
    int cell;
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.ptr, (void *)&cell);
    cr_assert_eq(dtors(), 0, "taking a value does not destroy it: it is the taker's");

    fut_future g = fut_ready_ptr(&cell, tu_dtor_count);
    fut_drop(&g);
    cr_assert_eq(dtors(), 1);
    fut_drop(&g);
    cr_assert_eq(dtors(), 1, "a second drop of the spent handle destroys nothing");
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_ready_ptr, dropping_an_untaken_heap_value_frees_it_once)
{
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    fut_future f = fut_ready_ptr(cell, tu_dtor_free);
    fut_drop(&f);
    cr_assert_eq(dtors(), 1);
}

Test(fut_ready_ptr, null_destructor_is_allowed)
{
    int cell;
    fut_future f = fut_ready_ptr(&cell, NULL);
    fut_future g = fut_ready_ptr(&cell, NULL);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.value.ptr, (void *)&cell);
    fut_drop(&g);
    cr_assert_eq(dtors(), 0);
}

Test(fut_ready_error, carries_the_error_code_without_allocating)
{
    fut_future f = fut_ready_error(EIO);
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_wait(&f), 0);
    cr_assert_eq(fut_get(&f).err, EIO);
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_ready_error, zero_error_becomes_einval)
{
    fut_future f = fut_ready_error(0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, EINVAL);
}

Test(fut_ready_result, value_result_gives_a_ready_value_without_allocating)
{
    int cell;
    fut_future f = fut_ready_result(fut_ok(fut_i64(-8)));
    fut_future g = fut_ready_result(fut_ok(fut_ptr(&cell)));
    cr_assert_eq(fut_is_ready(&f), 1);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, -8);
    fut_drop(&g); /* a result carries no destructor: the value was its holder's */
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_ready_result, error_result_gives_a_failed_future_and_ignores_the_value)
{
    fut_result in = fut_error(ENOENT);
    in.value.u64 = 12345; /* unused when err != 0 */
    fut_future f = fut_ready_result(in);
    fut_future g = fut_ready_result(in);
    cr_assert_eq(fut_get(&f).err, ENOENT);
    fut_drop(&g);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(alloc_calls(), 0);
}

/* ---- promises: create ---------------------------------------------------------------- */

Test(fut_promise_new, creates_a_pending_future_that_its_promise_settles)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_is_ready(&f), 0);
    fut_result r;
    cr_assert_eq(fut_try_get(&f, &r), EAGAIN);
    cr_assert_eq(fut_promise_set(&p, fut_i64(7)), 0);
    cr_assert_eq(fut_is_ready(&f), 1);
    r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 7);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_new, null_arguments_are_einval)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(NULL, &f), EINVAL);
    cr_assert_eq(fut_promise_new(&p, NULL), EINVAL);
    cr_assert_eq(fut_promise_new(NULL, NULL), EINVAL);
    cr_assert_eq(allocs(), 0);
}

Test(fut_promise_new, allocation_failure_is_enomem_and_leaves_both_handles_empty)
{
    /* Start from handles that would behave differently if left untouched: a spent
     * promise (settling it says EALREADY) and a ready future (it holds 5). */
    fut_promise p;
    fut_future tmp;
    cr_assert_eq(fut_promise_new(&p, &tmp), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    fut_drop(&tmp);
    fut_future f = fut_ready(fut_i64(5));

    tu_fail_next();
    cr_assert_eq(fut_promise_new(&p, &f), ENOMEM);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), EINVAL, "the promise is empty, not spent");
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_get(&f).err, EINVAL, "the future is empty");
    cr_assert_eq(tu_live(), 0);

    cr_assert_eq(fut_promise_new(&p, &f), 0, "the next allocation works again");
    fut_promise_drop(&p);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

/* ---- promises: settle -------------------------------------------------------------- */

Test(fut_promise_set, settles_the_future_with_each_kind_of_value)
{
    fut_promise p[4];
    fut_future f[4];
    int cell;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fut_promise_new(&p[i], &f[i]), 0);
    cr_assert_eq(fut_promise_set(&p[0], fut_i64(-3)), 0);
    cr_assert_eq(fut_promise_set(&p[1], fut_u64(UINT64_MAX)), 0);
    cr_assert_eq(fut_promise_set(&p[2], fut_f64(2.5)), 0);
    cr_assert_eq(fut_promise_set(&p[3], fut_ptr(&cell)), 0);
    fut_result r0 = fut_get(&f[0]), r1 = fut_get(&f[1]), r2 = fut_get(&f[2]), r3 = fut_get(&f[3]);
    cr_assert_eq(r0.err + r1.err + r2.err + r3.err, 0);
    cr_assert_eq(r0.value.i64, -3);
    cr_assert_eq(r1.value.u64, UINT64_MAX);
    cr_assert_eq(r2.value.f64, 2.5);
    cr_assert_eq(r3.value.ptr, (void *)&cell);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set, second_settle_through_the_same_handle_is_ealready)
{
    fut_promise p;
    fut_future f;
    int cell;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), EALREADY);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), EALREADY);
    cr_assert_eq(fut_promise_set_error(&p, EIO), EALREADY);
    cr_assert_eq(fut_promise_set_result(&p, fut_ok(fut_i64(3))), EALREADY);
    cr_assert_eq(dtors(), 0, "a refused pointer stays the caller's");
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 1, "the first settle wins");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set, empty_or_null_promise_is_einval)
{
    fut_promise e = {0};
    int cell;
    cr_assert_eq(fut_promise_set(&e, fut_i64(1)), EINVAL);
    cr_assert_eq(fut_promise_set_ptr(&e, &cell, tu_dtor_count), EINVAL);
    cr_assert_eq(fut_promise_set_error(&e, EIO), EINVAL);
    cr_assert_eq(fut_promise_set_result(&e, fut_ok(fut_i64(1))), EINVAL);
    cr_assert_eq(fut_promise_set(NULL, fut_i64(1)), EINVAL);
    cr_assert_eq(fut_promise_set_ptr(NULL, &cell, tu_dtor_count), EINVAL);
    cr_assert_eq(fut_promise_set_error(NULL, EIO), EINVAL);
    cr_assert_eq(fut_promise_set_result(NULL, fut_ok(fut_i64(1))), EINVAL);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_promise_set, settling_a_dropped_promise_is_ealready)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_promise_drop(&p);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), EALREADY);
    cr_assert_eq(fut_get(&f).err, EPIPE);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set, settling_after_the_future_was_dropped_succeeds)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_drop(&f);
    cr_assert_eq(fut_promise_cancelled(&p), 0, "dropping is not cancelling");
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_ptr, taken_pointer_is_not_destroyed)
{
    fut_promise p;
    fut_future f;
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    *cell = 9;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.ptr, (void *)cell);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(*(int64_t *)r.value.ptr, 9);
    free(r.value.ptr); /* the taker owns it */
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_ptr, settling_after_the_consumer_dropped_runs_the_destructor_once)
{
    fut_promise p;
    fut_future f;
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_drop(&f);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_ptr, dropping_the_settled_future_runs_the_destructor_once)
{
    fut_promise p;
    fut_future f;
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
    cr_assert_eq(dtors(), 0);
    fut_drop(&f);
    cr_assert_eq(dtors(), 1);
    fut_drop(&f);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_ptr, settling_after_cancel_is_ecanceled_and_the_value_stays_the_callers)
{
    fut_promise p;
    fut_future f;
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    *cell = 5;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), ECANCELED);
    cr_assert_eq(dtors(), 0, "the destructor must not run: the value is still ours");
    cr_assert_eq(*cell, 5);
    free(cell);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), EALREADY, "the ECANCELED settle consumed p");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_error, settles_the_future_with_the_error)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_error(&p, EIO), 0);
    cr_assert_eq(fut_get(&f).err, EIO);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_error, zero_error_settles_with_einval)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_error(&p, 0), 0);
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_error, failing_after_cancel_is_ecanceled)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_promise_set_error(&p, EIO), ECANCELED);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_result, settles_with_a_value_result_that_carries_no_destructor)
{
    int cell;
    fut_promise p, q;
    fut_future f, g;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &g), 0);
    cr_assert_eq(fut_promise_set_result(&p, fut_ok(fut_i64(-4))), 0);
    cr_assert_eq(fut_promise_set_result(&q, fut_ok(fut_ptr(&cell))), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, -4);
    fut_drop(&g);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(fut_promise_set_result(&p, fut_ok(fut_i64(1))), EALREADY);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_result, settles_with_an_error_result)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_result(&p, fut_error(ENOENT)), 0);
    cr_assert_eq(fut_get(&f).err, ENOENT);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_set_result, settling_after_cancel_is_ecanceled_and_destroys_nothing)
{
    int cell;
    fut_promise p;
    fut_future f;
    fut_result in = fut_ok(fut_ptr(&cell));
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_promise_set_result(&p, in), ECANCELED);
    cr_assert_eq(dtors(), 0);
    fut_drop(&f);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

/* ---- promises: drop ---------------------------------------------------------------- */

Test(fut_promise_drop, consumer_sees_epipe)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_promise_drop(&p);
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_get(&f).err, EPIPE);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_drop, dropping_a_settled_empty_or_null_promise_is_harmless)
{
    fut_promise p, e = {0};
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(5)), 0);
    fut_promise_drop(&p);
    fut_promise_drop(&e);
    fut_promise_drop(NULL);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0, "dropping a spent promise does not break the settled future");
    cr_assert_eq(r.value.i64, 5);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_drop, dropping_twice_is_harmless)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_promise_drop(&p);
    fut_promise_drop(&p);
    cr_assert_eq(fut_get(&f).err, EPIPE);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_drop, dropping_after_the_future_was_dropped_frees_the_state)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 1);
    fut_promise_drop(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_drop, dropping_after_cancel_frees_the_state)
{
    fut_promise p;
    fut_future f;
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    fut_promise_drop(&p);
    cr_assert_eq(atomic_load(&hooked), 1, "the hook ran once, at the cancel");
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

/* ---- promises: cancellation seen by the producer --------------------------------------- */

Test(fut_promise_cancelled, false_before_and_true_after_cancel)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(fut_promise_cancelled(&p), 1, "polling borrows p");
    fut_promise_drop(&p);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_cancelled, false_for_null_empty_and_spent_promises)
{
    fut_promise p, e = {0};
    fut_future f;
    cr_assert_eq(fut_promise_cancelled(NULL), 0);
    cr_assert_eq(fut_promise_cancelled(&e), 0);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 0);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_cancelled, dropping_the_future_is_not_cancelling)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_drop(&f);
    cr_assert_eq(fut_promise_cancelled(&p), 0);
    fut_promise_drop(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, hook_runs_exactly_once_on_cancel)
{
    fut_promise p;
    fut_future f;
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(atomic_load(&hooked), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, hook_runs_on_the_cancelling_thread)
{
    fut_promise p;
    fut_future f;
    hookrec h = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_thread, &h), 0);
    canceller c = {&f, -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, canceller_main, &c), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(atomic_load(&h.calls), 1);
    cr_assert(pthread_equal(h.thread, t), "the hook ran on the cancelling thread");
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    fut_promise_drop(&p);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, hook_never_runs_when_settled_first)
{
    fut_promise p;
    fut_future f;
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(3)), 0);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    cr_assert_eq(atomic_load(&hooked), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 3);
    cr_assert_eq(atomic_load(&hooked), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, hook_never_runs_when_the_promise_is_dropped_first)
{
    fut_promise p;
    fut_future f;
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    fut_promise_drop(&p);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    cr_assert_eq(fut_get(&f).err, EPIPE);
    cr_assert_eq(atomic_load(&hooked), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, hook_never_runs_when_the_future_is_only_dropped)
{
    fut_promise p;
    fut_future f;
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    fut_drop(&f);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(atomic_load(&hooked), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, second_registration_is_ebusy_and_only_the_first_hook_runs)
{
    fut_promise p;
    fut_future f;
    _Atomic int first = 0, second = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &first), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &second), EBUSY);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(atomic_load(&first), 1);
    cr_assert_eq(atomic_load(&second), 0);
    /* fut.h: "Once cancelled, every registration runs its hook at once on the calling
     * thread and returns ECANCELED; before that, a second hook gets EBUSY." */
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &second), ECANCELED,
                 "after the cancel a registration runs at once");
    cr_assert_eq(atomic_load(&second), 1);
    cr_assert_eq(atomic_load(&first), 1, "the first hook ran once only");
    fut_promise_drop(&p);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, registering_after_cancel_runs_the_hook_at_once_and_is_ecanceled)
{
    fut_promise p;
    fut_future f;
    hookrec h = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_thread, &h), ECANCELED);
    cr_assert_eq(atomic_load(&h.calls), 1);
    cr_assert(pthread_equal(h.thread, pthread_self()));
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(atomic_load(&h.calls), 1);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_promise_on_cancel, bad_input_is_refused_and_no_hook_runs)
{
    fut_promise p, e = {0};
    fut_future f;
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, NULL, &hooked), EINVAL);
    cr_assert_eq(fut_promise_on_cancel(NULL, hook_count, &hooked), EINVAL);
    cr_assert_eq(fut_promise_on_cancel(&e, hook_count, &hooked), EINVAL);
    /* The NULL hook registered nothing: a real one is still accepted. */
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    /* A spent (settled) promise: EINVAL per the rule for spent handles, or EALREADY per
     * the rule for settled promises; either way the hook must not run. */
    _Atomic int late = 0;
    int rc = fut_promise_on_cancel(&p, hook_count, &late);
    cr_assert(rc == EINVAL || rc == EALREADY, "rc = %d", rc);
    cr_assert_eq(atomic_load(&late), 0);
    cr_assert_eq(atomic_load(&hooked), 0);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_then ---------------------------------------------------------------------- */

Test(fut_then, runs_on_a_value_when_the_promise_settles_later)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(fut_is_ready(&g), 0);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(fut_get(&f).err, EINVAL, "fut_then consumed f");
    cr_assert_eq(fut_promise_set(&p, fut_i64(20)), 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(pr.in.err, 0);
    cr_assert_eq(pr.in.value.i64, 20);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 21);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, runs_at_once_on_an_already_settled_pending_future)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    long before = allocs();
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(allocs(), before, "a settled input on the inline scheduler allocates nothing");
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_is_ready(&g), 1);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, ready_value_on_the_inline_scheduler_runs_at_once_without_allocating)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(41));
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(alloc_calls(), 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert(pthread_equal(pr.thread, pthread_self()));
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 42);
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_then, passes_errors_through_without_calling)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe pr = {0};
    fut_future f = fut_ready_error(EIO);
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(fut_get(&g).err, EIO);

    fut_promise p;
    fut_future h;
    cr_assert_eq(fut_promise_new(&p, &h), 0);
    fut_future k = fut_then(&h, &inl, p_add1, &pr);
    cr_assert_eq(fut_promise_set_error(&p, ENOENT), 0);
    cr_assert_eq(fut_get(&k).err, ENOENT);

    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_promise q;
    fut_future j;
    cr_assert_eq(fut_promise_new(&q, &j), 0);
    fut_future l = fut_then(&j, &m.sched, p_add1, &pr);
    cr_assert_eq(fut_promise_set_error(&q, EDOM), 0);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_get(&l).err, EDOM);
    cr_assert_eq(calls(&pr), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, continuation_returning_an_error_settles_with_it)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe a = {.err = EDOM}, b = {.err = ERANGE};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &inl, p_fail, &a);
    cr_assert_eq(fut_get(&g).err, EDOM);

    fut_promise p;
    fut_future h;
    cr_assert_eq(fut_promise_new(&p, &h), 0);
    fut_future k = fut_then(&h, &inl, p_fail, &b);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_get(&k).err, ERANGE);
    cr_assert_eq(calls(&a) + calls(&b), 2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, flattens_a_pending_future_returned_by_the_continuation)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p, q;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_is_ready(&g), 0, "g waits on the inner future now");
    cr_assert_eq(fut_promise_set(&q, fut_i64(99)), 0);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 99);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, flattens_a_pending_future_returned_on_the_fast_path)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise q;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_is_ready(&g), 0);
    cr_assert_eq(fut_promise_set(&q, fut_i64(7)), 0);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 7);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, flattens_a_pending_future_returned_on_the_manual_scheduler)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_promise p, q;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    fut_future g = fut_then(&f, &m.sched, p_return_next, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(fut_is_ready(&g), 0);
    cr_assert_eq(fut_promise_set(&q, fut_i64(8)), 0);
    fut_manual_run_all(&m);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 8);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, flattens_an_already_settled_future)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p, q;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    cr_assert_eq(fut_promise_set(&q, fut_i64(55)), 0);
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 55);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, flattens_an_inner_error)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p, q;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    fut_promise_drop(&q);
    cr_assert_eq(fut_get(&g).err, EPIPE);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, flattened_pointer_keeps_its_destructor)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p, q;
    fut_future f;
    probe pr = {0};
    int cell;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_promise_set_ptr(&q, &cell, tu_dtor_count), 0);
    cr_assert_eq(dtors(), 0);
    fut_drop(&g);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, flattens_a_cancelled_inner_future_as_ecanceled)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p, q;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    cr_assert_eq(fut_cancel(&pr.next), 0);
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_get(&g).err, ECANCELED);
    cr_assert_eq(fut_promise_set(&q, fut_i64(1)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

/* Settles the promise in ctx from inside a continuation. */
typedef struct nested {
    fut_promise inner;
    int rc;
} nested;

static fut_future settle_inner(void *ctx, fut_result r)
{
    nested *n = ctx;
    n->rc = fut_promise_set(&n->inner, fut_i64(r.value.i64 * 10));
    return fut_ready(fut_i64(r.value.i64 + 1));
}

Test(fut_then, continuation_may_settle_another_promise_whose_chain_runs_too)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f, h;
    nested n = {{0}, -1};
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&n.inner, &h), 0);
    fut_future k = fut_then(&h, &inl, p_add1, &pr);
    fut_future g = fut_then(&f, &inl, settle_inner, &n);
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    cr_assert_eq(n.rc, 0);
    cr_assert_eq(calls(&pr), 1, "the nested settle ran its own continuation");
    cr_assert_eq(fut_get(&k).value.i64, 41);
    cr_assert_eq(fut_get(&g).value.i64, 5);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, continuation_returning_an_empty_future_gives_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe a = {0}, b = {0};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &inl, p_return_empty, &a);
    cr_assert_eq(calls(&a), 1);
    cr_assert_eq(fut_get(&g).err, EINVAL);

    fut_promise p;
    fut_future h;
    cr_assert_eq(fut_promise_new(&p, &h), 0);
    fut_future k = fut_then(&h, &inl, p_return_empty, &b);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(calls(&b), 1);
    cr_assert_eq(fut_get(&k).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, continuation_returning_a_spent_future_gives_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe a = {0}, b = {0};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &inl, p_return_spent, &a);
    cr_assert_eq(fut_get(&g).err, EINVAL);

    fut_promise p;
    fut_future h;
    cr_assert_eq(fut_promise_new(&p, &h), 0);
    fut_future k = fut_then(&h, &inl, p_return_spent, &b);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_get(&k).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, continuation_takes_ownership_of_a_pointer_value)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    int cell;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(pr.in.value.ptr, (void *)&cell);
    cr_assert_eq(dtors(), 0, "a taken value is not destroyed behind the taker's back");
    fut_drop(&g);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, null_scheduler_or_function_is_einval_and_consumes_the_input)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int cell;
    probe pr = {0};
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g = fut_then(&f, NULL, p_add1, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(dtors(), 1, "the consumed input's pointer is destroyed");
    cr_assert_eq(fut_get(&f).err, EINVAL, "f is spent");

    f = fut_ready_ptr(&cell, tu_dtor_count);
    g = fut_then(&f, &inl, NULL, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(dtors(), 2);
    cr_assert_eq(fut_get(&f).err, EINVAL);

    /* A pending input is let go of; its value is destroyed when it arrives. */
    fut_promise p;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    g = fut_then(&f, NULL, p_add1, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(fut_promise_cancelled(&p), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    cr_assert_eq(dtors(), 3);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, null_empty_or_spent_input_is_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe pr = {0};
    fut_future e = {0};
    fut_future g = fut_then(NULL, &inl, p_add1, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    g = fut_then(&e, &inl, p_add1, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    fut_future f = fut_ready(fut_i64(1));
    g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(calls(&pr), 1);
    fut_drop(&g);
    g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL, "f was spent by the first fut_then");
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, allocation_failure_on_a_pending_future_is_enomem_and_the_value_is_destroyed_on_arrival)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    tu_fail_next();
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(fut_is_ready(&g), 1);
    cr_assert_eq(fut_get(&g).err, ENOMEM);
    cr_assert_eq(fut_get(&f).err, EINVAL, "f was consumed");
    cr_assert_eq(fut_promise_cancelled(&p), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, allocation_failure_with_a_ready_value_is_enomem_and_destroys_it)
{
    /* A scheduler that may not run inline needs a record even for a ready value. */
    qsched q;
    q_init(&q, 1, 0);
    int cell;
    probe pr = {0};
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    tu_fail_next();
    fut_future g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(fut_get(&g).err, ENOMEM);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(q.submits, 0);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, refusing_scheduler_settles_with_its_error_and_destroys_the_input)
{
    qsched q;
    q_init(&q, 1, 0);
    q.refuse = EAGAIN;
    int cell;
    probe pr = {0};
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(q.submits, 1);
    cr_assert_eq(fut_get(&g).err, EAGAIN);
    cr_assert_eq(dtors(), 1);

    fut_promise p;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    cr_assert_eq(fut_get(&g).err, EAGAIN);
    cr_assert_eq(dtors(), 2);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, chain_on_the_manual_scheduler_runs_only_when_the_scheduler_runs)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g1 = fut_then(&f, &m.sched, p_add1, &pr);
    fut_future g2 = fut_then(&g1, &m.sched, p_add1, &pr);
    fut_future g3 = fut_then(&g2, &m.sched, p_add1, &pr);
    cr_assert_eq(fut_manual_pending(&m), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(10)), 0);
    cr_assert_eq(calls(&pr), 0, "nothing runs before the scheduler does");
    cr_assert_eq(fut_manual_pending(&m), 1);
    cr_assert_eq(fut_manual_run_one(&m), 1);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_is_ready(&g3), 0);
    cr_assert_eq(fut_manual_pending(&m), 1, "the next step is queued by the first");
    cr_assert_eq(fut_manual_run_all(&m), 2);
    cr_assert_eq(calls(&pr), 3);
    fut_result r = fut_get(&g3);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 13);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, independent_continuations_wait_in_the_manual_queue)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    probe pr = {0};
    fut_future g[4];
    for (int i = 0; i < 4; i++) {
        fut_future f = fut_ready(fut_i64(i * 10));
        g[i] = fut_then(&f, &m.sched, p_add1, &pr);
    }
    cr_assert_eq(fut_manual_pending(&m), 4);
    cr_assert_eq(calls(&pr), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fut_is_ready(&g[i]), 0);
    cr_assert_eq(fut_manual_run_all(&m), 4);
    for (int i = 0; i < 4; i++) {
        fut_result r = fut_get(&g[i]);
        cr_assert_eq(r.err, 0);
        cr_assert_eq(r.value.i64, i * 10 + 1);
    }
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, dropping_the_result_does_not_stop_the_continuation)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    fut_drop(&g);
    cr_assert_eq(fut_promise_cancelled(&p), 0, "dropping is not cancelling");
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(calls(&pr), 1, "work upstream goes on");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then, pointer_returned_with_a_destructor_is_destroyed_when_the_result_is_dropped)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    int cell;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &inl, p_rewrap, &pr);
    fut_drop(&g);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(dtors(), 1, "handed on to a dropped future: destroyed once");
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_recover ------------------------------------------------------------------- */

Test(fut_recover, runs_on_an_error_and_its_result_replaces_it)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe a = {0}, b = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_recover(&f, &inl, p_recover_value, &a);
    cr_assert_eq(calls(&a), 0);
    cr_assert_eq(fut_promise_set_error(&p, EIO), 0);
    cr_assert_eq(calls(&a), 1);
    cr_assert_eq(a.in.err, EIO);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 1000 + EIO);

    fut_future h = fut_ready_error(ENOENT);
    fut_future k = fut_recover(&h, &inl, p_recover_value, &b);
    cr_assert_eq(calls(&b), 1);
    r = fut_get(&k);
    cr_assert_eq(r.value.i64, 1000 + ENOENT);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_recover, passes_values_through_without_calling)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(5));
    long before = alloc_calls();
    fut_future g = fut_recover(&f, &inl, p_recover_value, &pr);
    cr_assert_eq(alloc_calls(), before, "fast path on the inline scheduler: no allocation");
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 5);

    fut_promise p;
    fut_future h;
    cr_assert_eq(fut_promise_new(&p, &h), 0);
    fut_future k = fut_recover(&h, &inl, p_recover_value, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(6)), 0);
    r = fut_get(&k);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 6);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_recover, passes_a_pointer_value_through_with_its_destructor)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    probe pr = {0};
    int cell;

    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g = fut_recover(&f, &inl, p_recover_value, &pr);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.value.ptr, (void *)&cell);
    cr_assert_eq(dtors(), 0, "taken: the taker's now");

    fut_promise p;
    fut_future h;
    cr_assert_eq(fut_promise_new(&p, &h), 0);
    fut_future k = fut_recover(&h, &m.sched, p_recover_value, &pr);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    fut_manual_run_all(&m);
    cr_assert_eq(dtors(), 0);
    fut_drop(&k);
    cr_assert_eq(dtors(), 1, "the untaken pointer is destroyed once, downstream");

    fut_future x = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future y = fut_recover(&x, &inl, p_recover_value, &pr);
    fut_drop(&y);
    cr_assert_eq(dtors(), 2);
    cr_assert_eq(calls(&pr), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_recover, null_function_or_scheduler_is_einval_and_consumes_the_input)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_future f = fut_ready_error(EIO);
    fut_future g = fut_recover(&f, &inl, NULL, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    int cell;
    probe pr = {0};
    f = fut_ready_ptr(&cell, tu_dtor_count);
    g = fut_recover(&f, NULL, p_recover_value, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(dtors(), 1);
    fut_future e = {0};
    g = fut_recover(&e, &inl, p_recover_value, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    g = fut_recover(NULL, &inl, p_recover_value, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_recover, sees_ecanceled_when_attached_after_a_cancel)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    fut_future g = fut_recover(&f, &inl, p_recover_value, &pr);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(pr.in.err, ECANCELED);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.value.i64, 1000 + ECANCELED);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_then_result ------------------------------------------------------------------- */

Test(fut_then_result, runs_on_a_value)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then_result(&f, &inl, p_pass, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(pr.in.err, 0);
    cr_assert_eq(pr.in.value.i64, 4);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.value.i64, 4);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then_result, runs_on_an_error)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0}, pr2 = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then_result(&f, &inl, p_pass, &pr);
    fut_promise_drop(&p);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(pr.in.err, EPIPE);
    cr_assert_eq(fut_get(&g).err, EPIPE);

    fut_future h = fut_ready_error(EIO);
    fut_future k = fut_then_result(&h, &inl, p_recover_value, &pr2);
    cr_assert_eq(calls(&pr2), 1);
    cr_assert_eq(pr2.in.err, EIO);
    fut_result r = fut_get(&k);
    cr_assert_eq(r.err, 0, "finally's result replaces the error");
    cr_assert_eq(r.value.i64, 1000 + EIO);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then_result, ready_value_on_the_inline_scheduler_allocates_nothing)
{
    fut_sched inl;
    fut_inline_init(&inl);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(3));
    fut_future g = fut_then_result(&f, &inl, p_pass, &pr);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_get(&g).value.i64, 3);
    cr_assert_eq(alloc_calls(), 0);
}

/* A pending future settled with &cell (destructor tu_dtor_count) after fn was chained on
 * it with fut_then_result on the inline scheduler; returns fn's future. */
static fut_future then_result_on_a_pointer(fut_fn fn, probe *pr, int *cell)
{
    static fut_sched inl; /* the record keeps a pointer to it */
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then_result(&f, &inl, fn, pr);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_count), 0);
    return g;
}

Test(fut_then_result, hands_a_pointer_on_when_it_returns_fut_ready_ptr)
{
    probe pr = {0};
    int cell;
    fut_future g = then_result_on_a_pointer(p_rewrap, &pr, &cell);
    cr_assert_eq(pr.in.value.ptr, (void *)&cell);
    cr_assert_eq(dtors(), 0);
    fut_drop(&g);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then_result, passing_the_outcome_on_keeps_its_destructor)
{
    /* fut_ready_result(r) hands the value on with its destructor: dropping the end of
     * the chain destroys it, once. */
    probe pr = {0};
    int cell;
    fut_future g = then_result_on_a_pointer(p_pass, &pr, &cell);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(pr.in.dtor, tu_dtor_count, "the continuation sees the destructor");
    cr_assert_eq(dtors(), 0);
    fut_drop(&g);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then_result, a_continuation_that_keeps_the_pointer_owns_it)
{
    /* A continuation's argument belongs to it: return something else and the library
     * no longer destroys the value. */
    probe pr = {0};
    int cell;
    fut_future g = then_result_on_a_pointer(p_add1, &pr, &cell);
    cr_assert_eq(calls(&pr), 1);
    fut_drop(&g);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_then_result, null_scheduler_or_function_is_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int cell;
    probe pr = {0};
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g = fut_then_result(&f, NULL, p_pass, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(dtors(), 1);
    f = fut_ready_error(EIO);
    g = fut_then_result(&f, &inl, NULL, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    g = fut_then_result(&f, &inl, p_pass, &pr);
    cr_assert_eq(fut_get(&g).err, EINVAL, "spent input");
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_split --------------------------------------------------------------------- */

Test(fut_split, bad_arguments_are_einval_and_leave_f_usable)
{
    fut_future out[3];
    fut_future e = {0};
    fut_future f = fut_ready(fut_i64(9));
    cr_assert_eq(fut_split(NULL, 2, out), EINVAL);
    cr_assert_eq(fut_split(&f, 0, out), EINVAL);
    cr_assert_eq(fut_split(&f, 2, NULL), EINVAL);
    cr_assert_eq(fut_split(&e, 2, out), EINVAL);
    cr_assert_eq(fut_is_ready(&f), 1, "f was not consumed");
    cr_assert_eq(fut_split(&f, 2, out), 0);
    cr_assert_eq(fut_split(&f, 2, out + 2), EINVAL, "spent f");
    for (int i = 0; i < 2; i++) {
        fut_result r = fut_get(&out[i]);
        cr_assert_eq(r.err, 0);
        cr_assert_eq(r.value.i64, 9);
    }
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, one_output_moves_the_handle_without_allocating)
{
    fut_promise p;
    fut_future f, out[1];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    long before = alloc_calls();
    cr_assert_eq(fut_split(&f, 1, out), 0);
    cr_assert_eq(alloc_calls(), before);
    cr_assert_eq(fut_get(&f).err, EINVAL, "f was moved");
    cr_assert_eq(fut_promise_set(&p, fut_i64(3)), 0);
    fut_result r = fut_get(&out[0]);
    cr_assert_eq(r.value.i64, 3);

    fut_future g = fut_ready(fut_i64(4));
    cr_assert_eq(fut_split(&g, 1, out), 0);
    cr_assert_eq(fut_get(&out[0]).value.i64, 4);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, every_output_gets_the_value_of_a_pending_input)
{
    fut_promise p;
    fut_future f, out[3];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_split(&f, 3, out), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_is_ready(&out[i]), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(7)), 0);
    for (int i = 0; i < 3; i++) {
        fut_result r = fut_get(&out[i]);
        cr_assert_eq(r.err, 0);
        cr_assert_eq(r.value.i64, 7);
    }
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, every_output_gets_the_outcome_of_a_settled_input)
{
    fut_promise p;
    fut_future f, out[3], g = fut_ready_error(ERANGE), eout[2];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(8)), 0);
    cr_assert_eq(fut_split(&f, 3, out), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fut_is_ready(&out[i]), 1);
        cr_assert_eq(fut_get(&out[i]).value.i64, 8);
    }
    cr_assert_eq(fut_split(&g, 2, eout), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(fut_get(&eout[i]).err, ERANGE);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, every_output_gets_an_error_that_arrives_later)
{
    fut_promise p;
    fut_future f, out[4];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_split(&f, 4, out), 0);
    fut_promise_drop(&p);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fut_get(&out[i]).err, EPIPE);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, outputs_settle_in_index_order_on_the_inline_scheduler)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f, out[4], g[4];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_split(&f, 4, out), 0);
    for (int i = 3; i >= 0; i--) /* attached in reverse: the order must come from the split */
        g[i] = fut_then(&out[i], &inl, note_order, (void *)(intptr_t)i);
    cr_assert_eq(norder, 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(norder, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(order[i], i, "order[%d] = %d", i, order[i]);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fut_get(&g[i]).value.i64, 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, outputs_settle_in_index_order_on_the_manual_scheduler)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_promise p;
    fut_future f, out[4], g[4];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_split(&f, 4, out), 0);
    for (int i = 3; i >= 0; i--)
        g[i] = fut_then(&out[i], &m.sched, note_order, (void *)(intptr_t)i);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_manual_pending(&m), 4);
    cr_assert_eq(fut_manual_run_all(&m), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(order[i], i, "order[%d] = %d", i, order[i]);
    for (int i = 0; i < 4; i++)
        fut_drop(&g[i]);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, only_the_last_output_owns_the_destructor)
{
    fut_promise p;
    fut_future f, out[3];
    int cell;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_split(&f, 3, out), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    fut_result r = fut_get(&out[0]);
    cr_assert_eq(r.value.ptr, (void *)&cell);
    cr_assert_eq(dtors(), 0);
    fut_drop(&out[1]);
    cr_assert_eq(dtors(), 0, "dropping a borrower destroys nothing");
    fut_drop(&out[2]);
    cr_assert_eq(dtors(), 1, "dropping the owner untaken destroys the pointer");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, taking_the_last_output_takes_ownership_so_nothing_is_destroyed)
{
    fut_future f, out[2];
    int cell;
    f = fut_ready_ptr(&cell, tu_dtor_count);
    cr_assert_eq(fut_split(&f, 2, out), 0);
    fut_result last = fut_get(&out[1]);
    cr_assert_eq(last.value.ptr, (void *)&cell);
    fut_drop(&out[0]);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, dropping_every_output_destroys_the_pointer_once)
{
    fut_promise p;
    fut_future f, out[3];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_split(&f, 3, out), 0);
    for (int i = 0; i < 3; i++)
        fut_drop(&out[i]);
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, cancelling_one_output_leaves_the_others_with_the_value)
{
    fut_promise p;
    fut_future f, out[3];
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(fut_split(&f, 3, out), 0);
    cr_assert_eq(fut_cancel(&out[1]), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 0, "the source is not cancelled");
    cr_assert_eq(atomic_load(&hooked), 0);
    cr_assert_eq(fut_is_ready(&out[0]), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(6)), 0);
    cr_assert_eq(fut_get(&out[0]).value.i64, 6);
    cr_assert_eq(fut_get(&out[1]).err, ECANCELED);
    cr_assert_eq(fut_get(&out[2]).value.i64, 6);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, cancelling_the_owning_output_destroys_the_pointer_once)
{
    fut_promise p;
    fut_future f, out[2];
    int cell;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_split(&f, 2, out), 0);
    cr_assert_eq(fut_cancel(&out[1]), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    fut_result r = fut_get(&out[0]);
    cr_assert_eq(r.value.ptr, (void *)&cell);
    cr_assert_eq(fut_get(&out[1]).err, ECANCELED);
    cr_assert_eq(dtors(), 1, "nobody took the owned pointer: destroyed exactly once");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_split, allocation_failure_is_enomem_and_leaves_f_usable)
{
    fut_promise p;
    fut_future f, out[3];
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    long live = tu_live();
    for (long k = 1; k <= 4; k++) { /* the hub, then each of the outputs */
        fail_nth(k);
        cr_assert_eq(fut_split(&f, 3, out), ENOMEM, "failing allocation %ld", k);
        cr_assert_eq(tu_live(), live, "nothing leaked after failing allocation %ld", k);
        cr_assert_eq(fut_is_ready(&f), 0);
    }
    atomic_store(&tu_fail_at, 0);
    cr_assert_eq(fut_split(&f, 3, out), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_get(&out[i]).value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

/* ---- schedulers: the interface ------------------------------------------------------- */

Test(fut_sched_submit, hands_the_task_to_the_scheduler)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    ttask t[1];
    tasks_init(t, 1);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), 0);
    cr_assert_eq(t[0].runs, 0);
    cr_assert_eq(fut_manual_pending(&m), 1);
    cr_assert_eq(fut_manual_run_one(&m), 1);
    cr_assert_eq(t[0].runs, 1);
    cr_assert_eq(t[0].err, 0);
    fut_manual_destroy(&m);
}

Test(fut_sched_submit, refused_task_runs_here_with_the_error_which_is_returned)
{
    qsched q;
    q_init(&q, 0, 0);
    q.refuse = EAGAIN;
    ttask t[1];
    tasks_init(t, 1);
    cr_assert_eq(fut_sched_submit(&q.s, &t[0].t), EAGAIN);
    cr_assert_eq(q.submits, 1);
    cr_assert_eq(t[0].runs, 1);
    cr_assert_eq(t[0].err, EAGAIN);
}

Test(fut_sched_submit, bad_input_is_einval_and_runs_nothing)
{
    qsched q;
    q_init(&q, 0, 0);
    ttask t[1];
    tasks_init(t, 1);
    cr_assert_eq(fut_sched_submit(NULL, &t[0].t), EINVAL);
    cr_assert_eq(fut_sched_submit(&q.s, NULL), EINVAL);
    t[0].t.run = NULL;
    cr_assert_eq(fut_sched_submit(&q.s, &t[0].t), EINVAL);
    cr_assert_eq(q.submits, 0);
    cr_assert_eq(t[0].runs, 0);
}

Test(fut_sched_submit_many, manual_takes_the_whole_list_in_order)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    ttask t[5];
    tasks_init(t, 5);
    cr_assert_eq(fut_sched_submit_many(&m.sched, &t[0].t, 5), 5);
    cr_assert_eq(fut_manual_pending(&m), 5);
    cr_assert_eq(norder, 0);
    cr_assert_eq(fut_manual_run_all(&m), 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(order[i], i);
        cr_assert_eq(t[i].runs, 1);
        cr_assert_eq(t[i].err, 0);
    }
    fut_manual_destroy(&m);
}

Test(fut_sched_submit_many, refused_rest_of_a_prefix_runs_here_with_the_error)
{
    qsched q;
    q_init(&q, 0, 0);
    q.s.submit_many = q_submit_many;
    q.accept_many = 2;
    ttask t[5];
    tasks_init(t, 5);
    cr_assert_eq(fut_sched_submit_many(&q.s, &t[0].t, 5), 2);
    cr_assert_eq(q.many_calls, 1);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(t[i].runs, 0, "accepted task %d is the scheduler's to run", i);
    for (int i = 2; i < 5; i++) {
        cr_assert_eq(t[i].runs, 1, "refused task %d ran once", i);
        cr_assert_eq(t[i].err, EAGAIN);
    }
    cr_assert_eq(norder, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(order[i], i + 2, "refused tasks run in list order");
    cr_assert_eq(q_run(&q), 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(t[i].runs, 1);
        cr_assert_eq(t[i].err, 0);
    }
}

Test(fut_sched_submit_many, submit_many_taking_everything_returns_n)
{
    qsched q;
    q_init(&q, 0, 0);
    q.s.submit_many = q_submit_many;
    q.accept_many = 10;
    ttask t[3];
    tasks_init(t, 3);
    cr_assert_eq(fut_sched_submit_many(&q.s, &t[0].t, 3), 3);
    cr_assert_eq(q.many_calls, 1);
    cr_assert_eq(norder, 0);
    cr_assert_eq(q_run(&q), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(t[i].err, 0);
}

Test(fut_sched_submit_many, without_submit_many_submits_one_by_one)
{
    qsched q;
    q_init(&q, 0, 0);
    q.refuse_every_second = 1;
    ttask t[5];
    tasks_init(t, 5);
    cr_assert_eq(fut_sched_submit_many(&q.s, &t[0].t, 5), 3);
    cr_assert_eq(q.submits, 5);
    for (int i = 1; i < 5; i += 2) {
        cr_assert_eq(t[i].runs, 1);
        cr_assert_eq(t[i].err, EBUSY);
    }
    for (int i = 0; i < 5; i += 2)
        cr_assert_eq(t[i].runs, 0);
    cr_assert_eq(q_run(&q), 3);
    for (int i = 0; i < 5; i += 2) {
        cr_assert_eq(t[i].runs, 1);
        cr_assert_eq(t[i].err, 0);
    }
}

Test(fut_sched_submit_many, manual_past_capacity_refuses_what_does_not_fit_with_eagain)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 2), 0);
    ttask t[3];
    tasks_init(t, 3);
    size_t took = fut_sched_submit_many(&m.sched, &t[0].t, 3);
    cr_assert_leq(took, 2, "capacity is 2");
    cr_assert_eq(fut_manual_pending(&m), took);
    int refused = 0;
    for (int i = 0; i < 3; i++) {
        if (t[i].runs == 1) {
            cr_assert_eq(t[i].err, EAGAIN);
            refused++;
        }
    }
    cr_assert_eq((size_t)refused, 3 - took);
    cr_assert_eq(fut_manual_run_all(&m), took);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(t[i].runs, 1);
    fut_manual_destroy(&m);
}

Test(fut_sched_submit_many, closed_manual_runs_every_task_with_eshutdown)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_close(&m);
    ttask t[3];
    tasks_init(t, 3);
    cr_assert_eq(fut_sched_submit_many(&m.sched, &t[0].t, 3), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(t[i].runs, 1);
        cr_assert_eq(t[i].err, ESHUTDOWN);
    }
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
}

Test(fut_sched_submit_many, bad_input_returns_zero_and_runs_nothing)
{
    qsched q;
    q_init(&q, 0, 0);
    ttask t[2];
    tasks_init(t, 2);
    cr_assert_eq(fut_sched_submit_many(NULL, &t[0].t, 2), 0);
    cr_assert_eq(fut_sched_submit_many(&q.s, NULL, 2), 0);
    cr_assert_eq(fut_sched_submit_many(&q.s, &t[0].t, 0), 0);
    cr_assert_eq(q.submits, 0);
    cr_assert_eq(t[0].runs + t[1].runs, 0);
}

/* ---- schedulers: may_inline ("scheduler skip") -------------------------------------- */

Test(fut_sched, may_inline_false_sends_a_ready_continuation_through_submit)
{
    qsched q;
    q_init(&q, 1, 0);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(calls(&pr), 0, "not allowed to run inline");
    cr_assert_eq(q.submits, 1);
    cr_assert_eq(fut_is_ready(&g), 0);
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_get(&g).value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_sched, may_inline_true_runs_a_ready_continuation_at_once_without_submit_or_allocation)
{
    qsched q;
    q_init(&q, 1, 1);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(calls(&pr), 1);
    cr_assert(pthread_equal(pr.thread, pthread_self()));
    cr_assert_eq(q.submits, 0);
    cr_assert_eq(alloc_calls(), 0);
    cr_assert_eq(fut_get(&g).value.i64, 2);
}

Test(fut_sched, may_inline_false_submits_the_continuation_when_the_promise_settles)
{
    qsched q;
    q_init(&q, 1, 0);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(q.submits, 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(q.submits, 1);
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(fut_get(&g).value.i64, 5);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_sched, may_inline_true_lets_the_continuation_run_for_a_settle)
{
    qsched q;
    q_init(&q, 1, 1);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    q_run(&q);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_get(&g).value.i64, 5);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_sched, missing_may_inline_never_runs_inline)
{
    qsched q;
    q_init(&q, 0, 1);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &q.s, p_add1, &pr);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(q.submits, 1);
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(fut_get(&g).value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

/* ---- schedulers: inline ------------------------------------------------------------ */

Test(fut_inline, init_sets_submit_may_inline_and_one_worker)
{
    fut_sched s;
    memset(&s, 0xab, sizeof s);
    fut_inline_init(&s);
    cr_assert(s.submit != NULL);
    cr_assert(s.submit_many == NULL);
    cr_assert(s.may_inline != NULL);
    cr_assert_eq(s.may_inline(&s), 1);
    cr_assert_eq(s.workers, 1);
}

Test(fut_inline, submit_runs_the_task_at_once)
{
    fut_sched s;
    fut_inline_init(&s);
    ttask t[3];
    tasks_init(t, 3);
    cr_assert_eq(fut_sched_submit(&s, &t[0].t), 0);
    cr_assert_eq(t[0].runs, 1);
    cr_assert_eq(t[0].err, 0);
    tasks_init(t, 3);
    cr_assert_eq(fut_sched_submit_many(&s, &t[0].t, 3), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(t[i].runs, 1);
}

Test(fut_inline, runs_continuations_on_the_settling_thread)
{
    fut_sched inl;
    fut_inline_init(&inl);
    settler s = {0};
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&s.p, &f), 0);
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    pthread_t t;
    atomic_store(&s.go, 1);
    cr_assert_eq(pthread_create(&t, NULL, settler_main, &s), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(s.rc, 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert(pthread_equal(pr.thread, t));
    cr_assert_eq(fut_get(&g).value.i64, 78);
    cr_assert_eq(tu_live(), 0);
}

/* ---- schedulers: manual ------------------------------------------------------------ */

Test(fut_manual, init_rejects_null)
{
    cr_assert_eq(fut_manual_init(NULL, 0), EINVAL);
}

Test(fut_manual, starts_empty_open_and_never_inline)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert(m.sched.submit != NULL);
    cr_assert(m.sched.may_inline == NULL || m.sched.may_inline(&m.sched) == 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    cr_assert_eq(fut_manual_run_one(&m), 0);
    cr_assert_eq(fut_manual_run_all(&m), 0);
    ttask t[1];
    tasks_init(t, 1);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), 0, "open");
    cr_assert_eq(fut_manual_run_all(&m), 1);
    fut_manual_destroy(&m);
}

Test(fut_manual, runs_tasks_in_fifo_order)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    ttask t[5];
    tasks_init(t, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(fut_sched_submit(&m.sched, &t[i].t), 0);
    cr_assert_eq(norder, 0);
    cr_assert_eq(fut_manual_pending(&m), 5);
    cr_assert_eq(fut_manual_run_one(&m), 1);
    cr_assert_eq(norder, 1);
    cr_assert_eq(order[0], 0, "the oldest runs first");
    cr_assert_eq(fut_manual_pending(&m), 4);
    cr_assert_eq(fut_manual_run_all(&m), 4);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(order[i], i);
        cr_assert_eq(t[i].runs, 1);
        cr_assert_eq(t[i].err, 0);
    }
    cr_assert_eq(fut_manual_run_one(&m), 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
}

Test(fut_manual, null_queue_runs_and_counts_nothing)
{
    cr_assert_eq(fut_manual_run_one(NULL), 0);
    cr_assert_eq(fut_manual_run_all(NULL), 0);
    cr_assert_eq(fut_manual_pending(NULL), 0);
    fut_manual_close(NULL);
    fut_manual_destroy(NULL);
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_manual, run_all_counts_tasks_queued_meanwhile)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    ttask child[1];
    tasks_init(child, 1);
    spawner s = {{NULL, spawner_run}, &m, &child[0], 0};
    cr_assert_eq(fut_sched_submit(&m.sched, &s.t), 0);
    cr_assert_eq(fut_manual_run_all(&m), 2);
    cr_assert_eq(s.runs, 1);
    cr_assert_eq(child[0].runs, 1);
    cr_assert_eq(child[0].err, 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
}

Test(fut_manual, capacity_refuses_with_eagain)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 1), 0);
    probe pr = {0};
    fut_future f1 = fut_ready(fut_i64(1)), f2 = fut_ready(fut_i64(2));
    fut_future g1 = fut_then(&f1, &m.sched, p_add1, &pr);
    fut_future g2 = fut_then(&f2, &m.sched, p_add1, &pr);
    cr_assert_eq(fut_manual_pending(&m), 1);
    cr_assert_eq(fut_is_ready(&g2), 1);
    cr_assert_eq(fut_get(&g2).err, EAGAIN);
    ttask t[2];
    tasks_init(t, 2);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), EAGAIN);
    cr_assert_eq(t[0].runs, 1);
    cr_assert_eq(t[0].err, EAGAIN);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_get(&g1).value.i64, 2);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[1].t), 0, "room again once drained");
    cr_assert_eq(fut_manual_run_all(&m), 1);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_manual, close_refuses_later_work_with_eshutdown_and_queued_work_still_runs)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    probe pr = {0};
    int cell;
    fut_future f1 = fut_ready(fut_i64(1));
    fut_future g1 = fut_then(&f1, &m.sched, p_add1, &pr);
    fut_manual_close(&m);
    fut_future f2 = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g2 = fut_then(&f2, &m.sched, p_add1, &pr);
    cr_assert_eq(fut_is_ready(&g2), 1);
    cr_assert_eq(fut_get(&g2).err, ESHUTDOWN);
    cr_assert_eq(dtors(), 1, "the refused continuation's input is destroyed");
    ttask t[1];
    tasks_init(t, 1);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), ESHUTDOWN);
    cr_assert_eq(t[0].err, ESHUTDOWN);
    cr_assert_eq(fut_manual_pending(&m), 1);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(fut_get(&g1).value.i64, 2);
    cr_assert_eq(calls(&pr), 1);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_manual, destroy_runs_queued_tasks_with_eshutdown)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    probe pr = {0};
    int cell;
    ttask t[2];
    tasks_init(t, 2);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), 0);
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g = fut_then(&f, &m.sched, p_add1, &pr);
    fut_promise p;
    fut_future h;
    cr_assert_eq(fut_promise_new(&p, &h), 0);
    fut_future k = fut_then(&h, &m.sched, p_add1, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[1].t), 0);
    cr_assert_eq(fut_manual_pending(&m), 4);
    fut_manual_destroy(&m);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(t[i].runs, 1);
        cr_assert_eq(t[i].err, ESHUTDOWN);
    }
    cr_assert_eq(order[0], 0);
    cr_assert_eq(order[1], 1);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(fut_get(&g).err, ESHUTDOWN);
    cr_assert_eq(fut_get(&k).err, ESHUTDOWN);
    cr_assert_eq(dtors(), 1, "the unrun continuation's pointer input is destroyed");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_manual, wait_times_out_on_an_empty_queue_with_a_past_deadline)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_manual_wait(&m, 0), ETIMEDOUT);
    cr_assert_eq(fut_manual_wait(&m, fut_now_ns()), ETIMEDOUT);
    fut_manual_destroy(&m);
}

Test(fut_manual, wait_is_eshutdown_when_closed_and_empty)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_close(&m);
    cr_assert_eq(fut_manual_wait(&m, UINT64_MAX), ESHUTDOWN);
    cr_assert_eq(fut_manual_wait(&m, 0), ESHUTDOWN);
    fut_manual_destroy(&m);
}

Test(fut_manual, wait_returns_zero_while_a_task_is_queued)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    ttask t[1];
    tasks_init(t, 1);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), 0);
    cr_assert_eq(fut_manual_wait(&m, UINT64_MAX), 0);
    cr_assert_eq(fut_manual_wait(&m, 0), 0, "a queued task beats a past deadline");
    fut_manual_close(&m);
    cr_assert_eq(fut_manual_wait(&m, UINT64_MAX), 0, "closed but not empty");
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(fut_manual_wait(&m, UINT64_MAX), ESHUTDOWN);
    fut_manual_destroy(&m);
}

Test(fut_manual, wait_rejects_null)
{
    cr_assert_eq(fut_manual_wait(NULL, 0), EINVAL);
    cr_assert_eq(fut_manual_wait(NULL, UINT64_MAX), EINVAL);
}

Test(fut_manual, wait_wakes_when_another_thread_submits)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    mwait w = {&m, 0, -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, mwait_main, &w), 0);
    spin_until(&w.started);
    let_it_sleep();
    ttask task[1];
    tasks_init(task, 1);
    cr_assert_eq(fut_sched_submit(&m.sched, &task[0].t), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    fut_manual_destroy(&m);
}

/* ---- fut_manual_set_notify: the loop adapter's hook ---- */

static _Atomic int notified;
static void count_notify(void *ctx)
{
    cr_assert_eq(ctx, (void *)&notified);
    atomic_fetch_add(&notified, 1);
}

Test(fut_manual, notify_runs_once_each_time_the_queue_goes_from_empty_to_non_empty)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_manual_set_notify(&m, count_notify, &notified), 0);
    ttask t[8];
    tasks_init(t, 8);
    for (int i = 0; i < 3; i++) {
        t[i].t.next = NULL;
        cr_assert_eq(fut_sched_submit(&m.sched, &t[i].t), 0);
    }
    cr_assert_eq(atomic_load(&notified), 1, "three submits onto an empty queue: one wake-up");
    cr_assert_eq(fut_manual_run_one(&m), 1);
    t[3].t.next = NULL;
    cr_assert_eq(fut_sched_submit(&m.sched, &t[3].t), 0);
    cr_assert_eq(atomic_load(&notified), 1, "not empty yet");
    cr_assert_eq(fut_manual_run_all(&m), 3);
    tasks_init(&t[4], 4); /* linked 4..7 */
    cr_assert_eq(fut_sched_submit_many(&m.sched, &t[4].t, 4), 4);
    cr_assert_eq(atomic_load(&notified), 2, "a list onto an empty queue: one wake-up");
    cr_assert_eq(fut_manual_run_all(&m), 4);
    cr_assert_eq(fut_manual_set_notify(&m, NULL, NULL), 0);
    t[0].t.next = NULL;
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), 0);
    cr_assert_eq(atomic_load(&notified), 2, "cleared");
    fut_manual_destroy(&m);
}

Test(fut_manual, notify_is_not_called_for_refused_submits)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 1), 0);
    cr_assert_eq(fut_manual_set_notify(&m, count_notify, &notified), 0);
    ttask t[3];
    tasks_init(t, 3);
    t[0].t.next = NULL;
    cr_assert_eq(fut_sched_submit(&m.sched, &t[0].t), 0);
    t[1].t.next = NULL;
    cr_assert_eq(fut_sched_submit(&m.sched, &t[1].t), EAGAIN);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    fut_manual_close(&m);
    cr_assert_eq(fut_sched_submit(&m.sched, &t[2].t), ESHUTDOWN);
    cr_assert_eq(atomic_load(&notified), 1);
    fut_manual_destroy(&m);
}

Test(fut_manual, set_notify_on_null_or_destroyed_is_einval)
{
    cr_assert_eq(fut_manual_set_notify(NULL, count_notify, NULL), EINVAL);
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(fut_manual_set_notify(&m, count_notify, NULL), EINVAL);
}

/* A loop adapter in a few lines: notify writes a byte to a pipe, and the loop thread
 * sleeps in poll() on it (as an epoll or libuv loop would), then drains the manual. */
typedef struct pipe_loop {
    fut_manual m;
    int fds[2];
    _Atomic long ran;
} pipe_loop;

static void pipe_notify(void *ctx)
{
    pipe_loop *l = ctx;
    char b = 1;
    cr_assert_eq(write(l->fds[1], &b, 1), 1);
}

typedef struct ctask {
    fut_task t;
    pipe_loop *l;
} ctask;

static void counted_run(fut_task *t, int err)
{
    (void)err;
    pipe_loop *l = ((ctask *)(void *)t)->l;
    atomic_fetch_add(&l->ran, 1);
}

typedef struct pfeeder {
    pipe_loop *l;
    ctask *ts;
    size_t n;
} pfeeder;

static void *pfeeder_main(void *arg)
{
    pfeeder *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        f->ts[i].t.run = counted_run;
        f->ts[i].l = f->l;
        fut_sched_submit(&f->l->m.sched, &f->ts[i].t);
        if (i % 64 == 0)
            sched_yield(); /* let the loop catch up, so the queue empties and refills */
    }
    return NULL;
}

Test(fut_manual, a_loop_woken_through_notify_runs_every_task_submitted_from_other_threads)
{
    pipe_loop l;
    atomic_init(&l.ran, 0);
    cr_assert_eq(pipe(l.fds), 0);
    cr_assert_eq(fut_manual_init(&l.m, 0), 0);
    cr_assert_eq(fut_manual_set_notify(&l.m, pipe_notify, &l), 0);
    enum { FEEDERS = 2, N = 20000 };
    ctask *ts = calloc(FEEDERS * N, sizeof *ts);
    cr_assert_not_null(ts);
    pfeeder f[FEEDERS];
    pthread_t t[FEEDERS];
    for (int i = 0; i < FEEDERS; i++) {
        f[i] = (pfeeder){&l, ts + i * N, N};
        cr_assert_eq(pthread_create(&t[i], NULL, pfeeder_main, &f[i]), 0);
    }
    long wakeups = 0;
    while (atomic_load(&l.ran) < FEEDERS * N) {
        struct pollfd p = {.fd = l.fds[0], .events = POLLIN};
        int rc = poll(&p, 1, WAKE_BOUND_S * 1000);
        cr_assert_eq(rc, 1, "no wake-up for %d s with %ld of %d run: a lost notify", WAKE_BOUND_S,
                     atomic_load(&l.ran), FEEDERS * N);
        char buf[256];
        wakeups += read(l.fds[0], buf, sizeof buf) > 0;
        fut_manual_run_all(&l.m);
    }
    for (int i = 0; i < FEEDERS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(fut_manual_run_all(&l.m), 0);
    cr_assert_eq(atomic_load(&l.ran), FEEDERS * N);
    cr_assert_gt(wakeups, 0);
    fut_manual_destroy(&l.m);
    close(l.fds[0]);
    close(l.fds[1]);
    free(ts);
}

Test(fut_manual, wait_wakes_with_eshutdown_when_another_thread_closes)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    mwait w = {&m, 0, -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, mwait_main, &w), 0);
    spin_until(&w.started);
    let_it_sleep();
    fut_manual_close(&m);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(w.rc, ESHUTDOWN);
    fut_manual_destroy(&m);
}

typedef struct mrunner {
    fut_manual *m;
    size_t ran;
} mrunner;

static void *mrunner_main(void *arg)
{
    mrunner *r = arg;
    r->ran = fut_manual_run_all(r->m);
    return NULL;
}

Test(fut_manual, continuations_run_on_the_thread_that_runs_the_queue)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &m.sched, p_add1, &pr);
    mrunner r = {&m, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, mrunner_main, &r), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(r.ran, 1);
    cr_assert(pthread_equal(pr.thread, t));
    cr_assert_eq(fut_get(&g).value.i64, 2);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

/* ---- wait and read ----------------------------------------------------------------- */

Test(fut_is_ready, reports_settled_ready_pending_and_invalid_handles)
{
    fut_promise p, q;
    fut_future f, g, e = {0};
    fut_future r = fut_ready(fut_i64(1)), x = fut_ready_error(EIO);
    cr_assert_eq(fut_is_ready(NULL), 0);
    cr_assert_eq(fut_is_ready(&e), 0);
    cr_assert_eq(fut_is_ready(&r), 1);
    cr_assert_eq(fut_is_ready(&x), 1);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &g), 0);
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_is_ready(&f), 1, "borrows f");
    cr_assert_eq(fut_cancel(&g), 0);
    cr_assert_eq(fut_is_ready(&g), 1, "a cancelled future is settled");
    fut_drop(&f);
    cr_assert_eq(fut_is_ready(&f), 0, "spent");
    fut_promise_drop(&q);
    fut_drop(&g);
    fut_drop(&r);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait, returns_at_once_on_ready_and_settled_futures_and_borrows)
{
    fut_promise p;
    fut_future f, r = fut_ready(fut_i64(1)), x = fut_ready_error(EIO);
    cr_assert_eq(fut_wait(&r), 0);
    cr_assert_eq(fut_wait(&x), 0);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), 0);
    cr_assert_eq(fut_wait(&f), 0);
    cr_assert_eq(fut_wait(&f), 0);
    cr_assert_eq(fut_get(&f).value.i64, 2);
    cr_assert_eq(fut_get(&r).value.i64, 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait, null_empty_or_spent_is_einval)
{
    fut_future e = {0}, r = fut_ready(fut_i64(1));
    cr_assert_eq(fut_wait(NULL), EINVAL);
    cr_assert_eq(fut_wait(&e), EINVAL);
    fut_drop(&r);
    cr_assert_eq(fut_wait(&r), EINVAL);
    cr_assert_eq(fut_wait_until(NULL, 0), EINVAL);
    cr_assert_eq(fut_wait_until(&e, UINT64_MAX), EINVAL);
    cr_assert_eq(fut_wait_for(NULL, 0), EINVAL);
    cr_assert_eq(fut_wait_for(&r, MS), EINVAL);
}

/* A waiter thread (fwait_main, waiting at most ns) on a pending future *f that this
 * thread settles with v once the waiter has likely parked. Returns the waiter's rc. */
static int settle_while_waited(fut_future *f, uint64_t ns, int64_t v)
{
    fut_promise p;
    cr_assert_eq(fut_promise_new(&p, f), 0);
    fwait w = {f, 0, -1, ns};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fwait_main, &w), 0);
    spin_until(&w.started);
    /* Nobody settles f yet, so this must time out; meanwhile the waiter likely parks. */
    cr_assert_eq(fut_wait_for(f, 10 * MS), ETIMEDOUT);
    cr_assert_eq(fut_promise_set(&p, fut_i64(v)), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    return w.rc;
}

/* UINT64_MAX means "no limit", not a deadline that wraps into the past. */
Test(fut_wait, for_uint64_max_waits_until_settled)
{
    fut_future f;
    int rc = settle_while_waited(&f, UINT64_MAX, 5);
    cr_assert_eq(rc, 0, "fut_wait_for(UINT64_MAX) gave %d before the settle", rc);
    cr_assert_eq(fut_wait_until(&f, UINT64_MAX), 0);
    cr_assert_eq(fut_get(&f).value.i64, 5);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait, wakes_a_waiter_thread_when_this_thread_settles)
{
    fut_future f;
    cr_assert_eq(settle_while_waited(&f, 0, 31), 0);
    cr_assert_eq(fut_get(&f).value.i64, 31);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait, wakes_this_thread_when_a_worker_settles)
{
    settler s = {0};
    fut_future f;
    cr_assert_eq(fut_promise_new(&s.p, &f), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, settler_main, &s), 0);
    atomic_store(&s.go, 1);
    cr_assert_eq(fut_wait(&f), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(s.rc, 0);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 77);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait, wakes_two_threads_waiting_on_the_same_future)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fwait w[2] = {{&f, 0, -1, 0}, {&f, 0, -1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, fwait_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        spin_until(&w[i].started);
    cr_assert_eq(fut_wait_for(&f, 10 * MS), ETIMEDOUT);
    cr_assert_eq(fut_promise_set(&p, fut_i64(5)), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_assert_eq(w[i].rc, 0);
    }
    cr_assert_eq(fut_get(&f).value.i64, 5);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait_for, times_out_on_a_pending_future_and_leaves_it_usable)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_wait_for(&f, MS), ETIMEDOUT);
    cr_assert_eq(fut_wait_for(&f, 0), ETIMEDOUT);
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(3)), 0);
    cr_assert_eq(fut_wait_for(&f, MS), 0);
    cr_assert_eq(fut_get(&f).value.i64, 3);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait_for, huge_timeout_on_a_settled_future_returns_zero)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(3)), 0);
    cr_assert_eq(fut_wait_for(&f, UINT64_MAX), 0);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait_until, past_deadline_times_out_on_a_pending_future)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_wait_until(&f, 0), ETIMEDOUT);
    cr_assert_eq(fut_wait_until(&f, fut_now_ns()), ETIMEDOUT);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_wait_until(&f, 0), 0, "settled beats a past deadline");
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_wait_until, future_deadline_returns_when_the_future_settles)
{
    settler s = {0};
    fut_future f;
    cr_assert_eq(fut_promise_new(&s.p, &f), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, settler_main, &s), 0);
    atomic_store(&s.go, 1);
    cr_assert_eq(fut_wait_until(&f, fut_now_ns() + 60000 * MS), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(fut_get(&f).value.i64, 77);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_try_get, pending_is_eagain_and_keeps_the_handle)
{
    fut_promise p;
    fut_future f;
    fut_result r = fut_error(-1);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_try_get(&f, &r), EAGAIN);
    cr_assert_eq(fut_try_get(&f, &r), EAGAIN);
    cr_assert_eq(fut_promise_set(&p, fut_i64(12)), 0);
    cr_assert_eq(fut_try_get(&f, &r), 0);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 12);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_try_get, settled_takes_the_outcome_and_spends_the_handle)
{
    fut_promise p;
    fut_future f;
    fut_result r;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_error(&p, EIO), 0);
    cr_assert_eq(fut_try_get(&f, &r), 0);
    cr_assert_eq(r.err, EIO);
    cr_assert_eq(fut_try_get(&f, &r), EINVAL);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_try_get, null_arguments_or_empty_future_are_einval_and_consume_nothing)
{
    fut_promise p;
    fut_future f, e = {0};
    fut_result r;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), 0);
    cr_assert_eq(fut_try_get(&f, NULL), EINVAL);
    cr_assert_eq(fut_try_get(NULL, &r), EINVAL);
    cr_assert_eq(fut_try_get(&e, &r), EINVAL);
    cr_assert_eq(fut_try_get(&f, &r), 0, "f survived the NULL out");
    cr_assert_eq(r.value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_try_get, cancelled_future_gives_ecanceled)
{
    fut_promise p;
    fut_future f;
    fut_result r;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_try_get(&f, &r), 0);
    cr_assert_eq(r.err, ECANCELED);
    fut_promise_drop(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_get, takes_values_and_errors)
{
    fut_promise p, q;
    fut_future f, g;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &g), 0);
    cr_assert_eq(fut_promise_set(&p, fut_f64(0.25)), 0);
    cr_assert_eq(fut_promise_set_error(&q, ETIMEDOUT), 0);
    fut_result a = fut_get(&f), b = fut_get(&g);
    cr_assert_eq(a.err, 0);
    cr_assert_eq(a.value.f64, 0.25);
    cr_assert_eq(b.err, ETIMEDOUT, "an error outcome is not a wait timeout: it is carried");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_get, bad_handle_gives_einval)
{
    fut_future e = {0}, r = fut_ready(fut_i64(1));
    cr_assert_eq(fut_get(NULL).err, EINVAL);
    cr_assert_eq(fut_get(&e).err, EINVAL);
    (void)fut_get(&r);
    cr_assert_eq(fut_get(&r).err, EINVAL);
}

Test(fut_drop, null_empty_and_spent_are_harmless)
{
    fut_future e = {0}, r = fut_ready_ptr(&e, tu_dtor_count);
    fut_drop(NULL);
    fut_drop(&e);
    cr_assert_eq(fut_get(&e).err, EINVAL);
    fut_drop(&r);
    fut_drop(&r);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(alloc_calls(), 0);
}

Test(fut_drop, dropping_a_pending_future_frees_it_when_the_promise_settles)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_drop(&f);
    cr_assert_eq(fut_get(&f).err, EINVAL, "spent");
    cr_assert_eq(fut_promise_cancelled(&p), 0);
    cr_assert_eq(fut_promise_set_error(&p, EIO), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_drop, dropping_a_settled_future_destroys_an_untaken_pointer)
{
    fut_promise p;
    fut_future f;
    int64_t *cell = malloc(sizeof *cell);
    cr_assert_not_null(cell);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
    fut_drop(&f);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_drop, dropping_an_error_destroys_nothing)
{
    fut_future x = fut_ready_error(EIO);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_error(&p, EIO), 0);
    fut_drop(&x);
    fut_drop(&f);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_now_ns, never_goes_backwards)
{
    uint64_t a = fut_now_ns();
    uint64_t b = fut_now_ns();
    cr_assert_gt(a, 0);
    cr_assert_geq(b, a);
}

/* ---- cancel ------------------------------------------------------------------------ */

Test(fut_cancel, pending_future_settles_with_ecanceled)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_wait(&f), 0);
    cr_assert_eq(fut_cancel(&f), EALREADY, "borrowed, and already settled now");
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, settled_future_is_ealready_and_keeps_its_value)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 4);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, ready_future_is_ealready_and_keeps_its_value)
{
    int cell;
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count), x = fut_ready_error(EIO);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    cr_assert_eq(fut_cancel(&x), EALREADY);
    cr_assert_eq(dtors(), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.value.ptr, (void *)&cell);
    cr_assert_eq(fut_get(&x).err, EIO);
}

Test(fut_cancel, null_empty_or_spent_is_einval)
{
    fut_future e = {0}, r = fut_ready(fut_i64(1));
    cr_assert_eq(fut_cancel(NULL), EINVAL);
    cr_assert_eq(fut_cancel(&e), EINVAL);
    fut_drop(&r);
    cr_assert_eq(fut_cancel(&r), EINVAL);
}

Test(fut_cancel, travels_upstream_through_three_thens)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    fut_future g1 = fut_then(&f, &inl, p_add1, &pr);
    fut_future g2 = fut_then(&g1, &inl, p_add1, &pr);
    fut_future g3 = fut_then(&g2, &inl, p_add1, &pr);
    cr_assert_eq(fut_cancel(&g3), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(calls(&pr), 0, "continuations between the cancel and the promise never run");
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(fut_get(&g3).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, travels_upstream_through_thens_on_the_manual_scheduler)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    fut_future g1 = fut_then(&f, &m.sched, p_add1, &pr);
    fut_future g2 = fut_recover(&g1, &m.sched, p_recover_value, &pr);
    fut_future g3 = fut_then_result(&g2, &m.sched, p_pass, &pr);
    cr_assert_eq(fut_cancel(&g3), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(fut_manual_pending(&m), 0);
    cr_assert_eq(fut_manual_run_all(&m), 0);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(fut_get(&g3).err, ECANCELED);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, reaches_the_inner_promise_of_a_flattened_chain)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p, q;
    fut_future f;
    probe pr = {0}, after = {0};
    _Atomic int outer_hook = 0, inner_hook = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &outer_hook), 0);
    cr_assert_eq(fut_promise_on_cancel(&q, hook_count, &inner_hook), 0);
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    fut_future h = fut_then(&g, &inl, p_add1, &after);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_is_ready(&h), 0);
    cr_assert_eq(fut_cancel(&h), 0);
    cr_assert_eq(fut_promise_cancelled(&q), 1, "the cancel reached the inner promise");
    cr_assert_eq(atomic_load(&inner_hook), 1);
    cr_assert_eq(atomic_load(&outer_hook), 0, "the outer promise had settled");
    cr_assert_eq(fut_promise_set(&q, fut_i64(2)), ECANCELED);
    cr_assert_eq(calls(&after), 0);
    cr_assert_eq(fut_get(&h).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, reaches_the_inner_promise_when_the_flattening_future_itself_is_cancelled)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p, q;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &pr.next), 0);
    fut_future g = fut_then(&f, &inl, p_return_next, &pr);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(fut_cancel(&g), 0);
    cr_assert_eq(fut_promise_cancelled(&q), 1);
    cr_assert_eq(fut_promise_set(&q, fut_i64(2)), ECANCELED);
    cr_assert_eq(fut_get(&g).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, wakes_a_thread_blocked_in_wait)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fwait w = {&f, 0, -1, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fwait_main, &w), 0);
    spin_until(&w.started);
    cr_assert_eq(fut_wait_for(&f, 10 * MS), ETIMEDOUT);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, of_a_split_output_does_not_cancel_the_source)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f, out[2];
    probe pr = {0};
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(fut_split(&f, 2, out), 0);
    fut_future g = fut_then(&out[0], &inl, p_add1, &pr);
    cr_assert_eq(fut_cancel(&g), 0);
    cr_assert_eq(fut_cancel(&out[1]), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 0);
    cr_assert_eq(atomic_load(&hooked), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(fut_get(&g).err, ECANCELED);
    cr_assert_eq(fut_get(&out[1]).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, queued_continuation_never_runs_and_its_input_is_destroyed)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    probe pr = {0};
    int cell;
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g = fut_then(&f, &m.sched, p_add1, &pr);
    cr_assert_eq(fut_manual_pending(&m), 1);
    cr_assert_eq(fut_cancel(&g), 0);
    cr_assert_eq(fut_get(&g).err, ECANCELED);
    fut_manual_run_all(&m);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(dtors(), 1);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancel, continuation_attached_after_the_cancel_sees_ecanceled)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    probe pr = {0};
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(fut_get(&g).err, ECANCELED);
    fut_promise_drop(&p);
    cr_assert_eq(tu_live(), 0);
}

/* ---- the inline trampoline: long chains on a small stack ---------------------------- */

enum { CHAIN = 1000000 };

typedef struct chain_job {
    long ran;
    int built;        /* every link was pending when made */
    int mixed;        /* chain_settle_main: then only (0), or then/recover/finally (1) */
    int settle_rc, cancel_rc, cancelled;
    size_t queued;    /* what a closed manual queue still held */
    void *sched;      /* chain_reentrant_main's scheduler */
    _Atomic int hooked;
    fut_result out;
} chain_job;

static fut_future step_add1(void *ctx, fut_result r)
{
    ++*(long *)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

/* value v -> error v + 1 */
static fut_future step_to_error(void *ctx, fut_result r)
{
    ++*(long *)ctx;
    return fut_ready_error((int)(r.value.i64 + 1));
}

/* error e -> value e + 1 */
static fut_future step_to_value(void *ctx, fut_result r)
{
    ++*(long *)ctx;
    return fut_ready(fut_i64((int64_t)r.err + 1));
}

/* value v -> value v + 1, seen through finally */
static fut_future step_finally_add1(void *ctx, fut_result r)
{
    ++*(long *)ctx;
    return fut_ready(fut_i64(r.err == 0 ? r.value.i64 + 1 : -1));
}

/* Builds CHAIN links of fut_then (mixed = 0) or of finally/recover (mixed = 1) on the
 * pending future f, on scheduler s; returns the end. */
static fut_future build_chain(chain_job *j, fut_future f, fut_sched *s, int mixed)
{
    j->built = 1;
    for (long i = 0; i < CHAIN; i++) {
        if (!mixed) {
            f = fut_then(&f, s, step_add1, &j->ran);
        } else {
            switch (i % 4) {
            case 0: f = fut_then_result(&f, s, step_to_error, &j->ran); break;
            case 1: f = fut_recover(&f, s, step_to_value, &j->ran); break;
            case 2: f = fut_recover(&f, s, step_to_value, &j->ran); break; /* passes a value */
            default: f = fut_then_result(&f, s, step_finally_add1, &j->ran); break;
            }
        }
        if (fut_is_ready(&f))
            j->built = 0;
    }
    return f;
}

static void *chain_settle_main(void *arg)
{
    chain_job *j = arg;
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    if (fut_promise_new(&p, &f) != 0)
        return NULL;
    f = build_chain(j, f, &inl, j->mixed);
    j->settle_rc = fut_promise_set(&p, fut_i64(0));
    j->out = fut_get(&f);
    return NULL;
}

static void *chain_cancel_main(void *arg)
{
    chain_job *j = arg;
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    if (fut_promise_new(&p, &f) != 0)
        return NULL;
    if (fut_promise_on_cancel(&p, hook_count, &j->hooked) != 0)
        return NULL;
    f = build_chain(j, f, &inl, 0);
    j->cancel_rc = fut_cancel(&f);
    j->cancelled = fut_promise_cancelled(&p);
    j->settle_rc = fut_promise_set(&p, fut_i64(0));
    j->out = fut_get(&f);
    return NULL;
}

static void *chain_drop_main(void *arg)
{
    chain_job *j = arg;
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p;
    fut_future f;
    if (fut_promise_new(&p, &f) != 0)
        return NULL;
    f = build_chain(j, f, &inl, 0);
    fut_promise_drop(&p);
    j->out = fut_get(&f);
    return NULL;
}

static void *chain_refused_main(void *arg)
{
    chain_job *j = arg;
    fut_manual m;
    if (fut_manual_init(&m, 0) != 0)
        return NULL;
    fut_promise p;
    fut_future f;
    if (fut_promise_new(&p, &f) != 0)
        return NULL;
    f = build_chain(j, f, &m.sched, 0);
    fut_manual_close(&m); /* every continuation will be refused when its input arrives */
    j->settle_rc = fut_promise_set(&p, fut_i64(0));
    j->out = fut_get(&f);
    j->queued = fut_manual_pending(&m);
    fut_manual_destroy(&m);
    return NULL;
}

/* A user scheduler whose submit runs the task before it returns (run: 0), or gives it
 * back at once (give_back: the task's run with ESHUTDOWN, submit still returns 0), and
 * says nothing through may_inline: fut must not recurse once per link through it. */
typedef struct reentrant_sched {
    fut_sched sched;
    int give_back;
    long submits, depth, max_depth; /* how deep submits nest on this thread */
} reentrant_sched;

static int reentrant_submit(fut_sched *s, fut_task *t)
{
    reentrant_sched *r = (reentrant_sched *)(void *)s;
    r->submits++;
    if (++r->depth > r->max_depth)
        r->max_depth = r->depth;
    t->run(t, r->give_back ? ESHUTDOWN : 0);
    r->depth--;
    return 0;
}

static void *chain_reentrant_main(void *arg)
{
    chain_job *j = arg;
    reentrant_sched *r = j->sched;
    fut_promise p;
    fut_future f;
    if (fut_promise_new(&p, &f) != 0)
        return NULL;
    f = build_chain(j, f, &r->sched, j->mixed);
    j->settle_rc = fut_promise_set(&p, fut_i64(0));
    j->out = fut_get(&f);
    return NULL;
}

static void run_on_small_stack(void *(*fn)(void *), chain_job *j)
{
    pthread_attr_t a;
    pthread_t t;
    j->out = fut_error(-1);
    j->settle_rc = j->cancel_rc = -1;
    cr_assert_eq(pthread_attr_init(&a), 0);
    cr_assert_eq(pthread_attr_setstacksize(&a, 256 * 1024), 0);
    cr_assert_eq(pthread_create(&t, &a, fn, j), 0);
    pthread_attr_destroy(&a);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

Test(fut_trampoline, a_million_thens_settle_on_a_small_stack_with_the_exact_value)
{
    chain_job j = {0};
    run_on_small_stack(chain_settle_main, &j);
    cr_assert_eq(j.built, 1, "every link was pending when made");
    cr_assert_eq(j.settle_rc, 0);
    cr_assert_eq(j.out.err, 0);
    cr_assert_eq(j.out.value.i64, CHAIN);
    cr_assert_eq(j.ran, CHAIN);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_trampoline, a_million_mixed_recover_and_finally_settle_on_a_small_stack)
{
    chain_job j = {.mixed = 1};
    run_on_small_stack(chain_settle_main, &j);
    cr_assert_eq(j.built, 1);
    cr_assert_eq(j.settle_rc, 0);
    cr_assert_eq(j.out.err, 0);
    /* each group of four: error, value, passed through, value + 1 => +3, three calls */
    cr_assert_eq(j.out.value.i64, CHAIN / 4 * 3);
    cr_assert_eq(j.ran, CHAIN / 4 * 3);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_trampoline, cancelling_the_end_of_a_million_chain_finishes_without_leaks)
{
    chain_job j = {0};
    run_on_small_stack(chain_cancel_main, &j);
    cr_assert_eq(j.built, 1);
    cr_assert_eq(j.cancel_rc, 0);
    cr_assert_eq(j.cancelled, 1, "the cancel reached the head promise");
    cr_assert_eq(atomic_load(&j.hooked), 1);
    cr_assert_eq(j.settle_rc, ECANCELED);
    cr_assert_eq(j.out.err, ECANCELED);
    cr_assert_eq(j.ran, 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_trampoline, dropping_the_head_promise_of_a_million_chain_finishes_without_leaks)
{
    chain_job j = {0};
    run_on_small_stack(chain_drop_main, &j);
    cr_assert_eq(j.built, 1);
    cr_assert_eq(j.out.err, EPIPE);
    cr_assert_eq(j.ran, 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_trampoline, a_million_continuations_refused_by_a_closed_scheduler_settle_on_a_small_stack)
{
    chain_job j = {0};
    run_on_small_stack(chain_refused_main, &j);
    cr_assert_eq(j.built, 1);
    cr_assert_eq(j.settle_rc, 0);
    cr_assert_eq(j.out.err, ESHUTDOWN);
    cr_assert_eq(j.ran, 0);
    cr_assert_eq(j.queued, 0, "nothing was queued");
    cr_assert_eq(tu_live(), 0);
}

static void reentrant_expect(int give_back, int mixed)
{
    reentrant_sched r = {.give_back = give_back};
    r.sched.submit = reentrant_submit; /* no may_inline, no submit_many: a plain user scheduler */
    chain_job j = {.mixed = mixed, .sched = &r};
    run_on_small_stack(chain_reentrant_main, &j);
    cr_assert_eq(j.built, 1);
    cr_assert_eq(j.settle_rc, 0);
    cr_assert_eq(r.submits, CHAIN, "each link was submitted once");
    cr_assert_eq(r.max_depth, 1, "no submit ran inside another: the chain stayed flat");
    if (give_back) {
        cr_assert_eq(j.out.err, ESHUTDOWN, "each link passes the scheduler's error on");
        cr_assert_eq(j.ran, 0);
    } else if (mixed) {
        cr_assert_eq(j.out.err, 0);
        cr_assert_eq(j.out.value.i64, CHAIN / 4 * 3);
        cr_assert_eq(j.ran, CHAIN / 4 * 3);
    } else {
        cr_assert_eq(j.out.err, 0);
        cr_assert_eq(j.out.value.i64, CHAIN);
        cr_assert_eq(j.ran, CHAIN, "every continuation ran once");
    }
    cr_assert_eq(tu_live(), 0);
}

Test(fut_trampoline, a_million_thens_on_a_scheduler_that_runs_tasks_inside_submit_settle_on_a_small_stack)
{
    reentrant_expect(0, 0);
}

Test(fut_trampoline, a_million_mixed_links_on_a_scheduler_that_runs_tasks_inside_submit_settle_on_a_small_stack)
{
    reentrant_expect(0, 1);
}

Test(fut_trampoline, a_million_thens_given_back_inside_submit_settle_on_a_small_stack)
{
    reentrant_expect(1, 0);
}

/* ---- refused continuations of every kind ------------------------------------------ */

static fut_future count_and_value(void *ctx, fut_result r)
{
    ++*(long *)ctx;
    fut_result_drop(&r);
    return fut_ready(fut_i64(1));
}

/* A refused recover or then_result (finally) never runs, not even on the error the
 * refusal brings: its future settles with the scheduler's error and its input (here an
 * owned pointer, or the error it would have recovered from) is destroyed. */
Test(fut_recover, and_then_result_refused_by_a_closed_scheduler_never_run_and_pass_the_refusal)
{
    for (int kind = 0; kind < 2; kind++) {
        fut_manual m;
        cr_assert_eq(fut_manual_init(&m, 0), 0);
        fut_manual_close(&m);
        fut_promise p;
        fut_future f;
        cr_assert_eq(fut_promise_new(&p, &f), 0);
        long ran = 0;
        long before = dtors();
        static int cell;
        fut_future g = kind == 0 ? fut_recover(&f, &m.sched, count_and_value, &ran)
                                 : fut_then_result(&f, &m.sched, count_and_value, &ran);
        if (kind == 0)
            cr_assert_eq(fut_promise_set_error(&p, EIO), 0);
        else
            cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
        cr_assert_eq(fut_manual_run_all(&m), 0);
        fut_result r = fut_get(&g);
        cr_assert_eq(r.err, ESHUTDOWN, "kind %d: the refusal, not a run", kind);
        cr_assert_eq(ran, 0, "kind %d: the continuation never ran", kind);
        cr_assert_eq(dtors() - before, kind == 1 ? 1 : 0, "the refused input destroyed once");
        fut_manual_destroy(&m);
        cr_assert_eq(tu_live(), 0);
    }
}

/* ---- cycles ------------------------------------------------------------------------ */

/* A continuation that returns its own future (moved into its ctx after fut_then gave it
 * back) would wait on itself for ever: it settles with EDEADLK and is freed, the error is
 * counted, and the promise's value reaches the continuation exactly once. */
typedef struct self_ret {
    fut_future own;
    long ran;
    int64_t got;
} self_ret;

static fut_future return_own_future(void *ctx, fut_result r)
{
    self_ret *x = ctx;
    x->ran++;
    x->got = r.value.i64;
    fut_future f = x->own;
    x->own = (fut_future){0};
    return f;
}

Test(fut_then, a_continuation_returning_its_own_future_settles_it_with_edeadlk_and_frees_it)
{
    for (int on_manual = 0; on_manual < 2; on_manual++) {
        fut_stats st;
        cr_assert_eq(fut_stats_init(&st, 2), 0);
        fut_env env;
        cr_assert_eq(fut_env_init(&env, NULL, &st), 0);
        fut_sched inl;
        fut_inline_init(&inl);
        fut_manual m;
        cr_assert_eq(fut_manual_init(&m, 0), 0);
        fut_promise p;
        fut_future f;
        cr_assert_eq(fut_promise_new_env(&p, &f, &env), 0);
        self_ret x = {.ran = 0};
        x.own = fut_then(&f, on_manual ? &m.sched : &inl, return_own_future, &x);
        cr_assert(!fut_is_ready(&x.own));
        cr_assert_eq(fut_promise_set(&p, fut_i64(41)), 0);
        cr_assert_eq(fut_manual_run_all(&m), (size_t)on_manual);
        cr_assert_eq(x.ran, 1, "the continuation ran once");
        cr_assert_eq(x.got, 41);
        fut_stats_snap snap;
        cr_assert_eq(fut_stats_snapshot(&st, &snap), 0);
        cr_assert_eq(snap.c[FUT_STAT_ERRORS], 1, "settled with an error (EDEADLK)");
        fut_manual_destroy(&m);
        fut_stats_destroy(&st);
        cr_assert_eq(tu_live(), 0, "the state is freed: no leak");
    }
}

static fut_future spawned_seven(void *ctx, fut_result r);

/* "spawned" counts jobs (fut_spawn, fut_spawn_task), "states" every shared state. */
Test(fut_spawn, spawned_counts_jobs_and_states_counts_shared_states)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 1), 0);
    fut_env env;
    cr_assert_eq(fut_env_init(&env, NULL, &st), 0);
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    m.sched.env = &env;
    fut_future fs[7];
    for (int i = 0; i < 5; i++)
        fs[i] = fut_spawn(&m.sched, spawned_seven, NULL);
    for (int i = 5; i < 7; i++) {
        fut_task *t;
        fs[i] = fut_spawn_task(&m.sched, spawned_seven, NULL, &t);
        cr_assert_eq(fut_sched_submit(&m.sched, t), 0);
    }
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new_env(&p, &f, &env), 0); /* a state, not a job */
    f = fut_then(&f, &m.sched, p_add1, NULL);           /* and its continuation's */
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    fut_manual_run_all(&m);
    for (int i = 0; i < 7; i++)
        cr_assert_eq(fut_get(&fs[i]).value.i64, 7);
    cr_assert_eq(fut_get(&f).value.i64, 2);
    fut_stats_snap snap;
    cr_assert_eq(fut_stats_snapshot(&st, &snap), 0);
    cr_assert_eq(snap.c[FUT_STAT_SPAWNED], 7, "one per fut_spawn / fut_spawn_task");
    cr_assert_eq(snap.c[FUT_STAT_STATES], 9, "7 jobs, a promise, a continuation");
    fut_manual_destroy(&m);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

/* ---- stale handles ----------------------------------------------------------------- */

/* Settle-once holds even through a copy of the handle taken before it was used: the
 * copy gets EALREADY (not ECANCELED), and the outcome stays the first one. */
Test(fut_promise_set, a_stale_copy_of_a_settled_promise_gets_ealready_and_changes_nothing)
{
    for (int first = 0; first < 3; first++) {
        fut_promise p, copy;
        fut_future f;
        cr_assert_eq(fut_promise_new(&p, &f), 0);
        copy = p;
        int rc;
        if (first == 0) {
            rc = fut_promise_set(&p, fut_i64(1));
        } else if (first == 1) {
            cr_assert_eq(fut_cancel(&f), 0);
            rc = fut_promise_set(&p, fut_i64(1));
            cr_assert_eq(rc, ECANCELED, "a real cancel still says ECANCELED");
            rc = 0;
        } else {
            fut_promise_drop(&p);
            rc = 0;
        }
        cr_assert_eq(rc, 0);
        fut_promise second = copy;
        cr_assert_eq(fut_promise_set(&copy, fut_i64(2)), EALREADY, "case %d", first);
        cr_assert_eq(fut_promise_set_error(&second, EIO), EALREADY, "case %d", first);
        fut_result r = fut_get(&f);
        if (first == 0) {
            cr_assert_eq(r.err, 0);
            cr_assert_eq(r.value.i64, 1, "the first value stays");
        } else {
            cr_assert_eq(r.err, first == 1 ? ECANCELED : FUT_EBROKEN);
        }
    }
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_move, fut_strerror, fut_spawn_task ---------------------------------------- */

Test(fut_move, moves_the_handle_and_leaves_the_source_spent)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_move(&f);
    cr_assert_eq(fut_get(&f).err, EINVAL, "the source is spent");
    cr_assert_eq(fut_promise_set(&p, fut_i64(7)), 0);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 7);
    fut_future h = fut_ready(fut_i64(3)); /* a ready handle moves the same way */
    fut_future k = fut_move(&h);
    cr_assert_eq(fut_get(&h).err, EINVAL);
    cr_assert_eq(fut_get(&k).value.i64, 3);
}

Test(fut_move, null_or_empty_gives_an_empty_future)
{
    fut_future g = fut_move(NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    fut_future e = {0};
    fut_future h = fut_move(&e);
    cr_assert_eq(fut_get(&h).err, EINVAL);
    cr_assert_eq(fut_get(&e).err, EINVAL, "an empty source stays empty");
}

Test(fut_strerror, spells_futs_codes_and_falls_back_to_strerror)
{
    cr_assert(strstr(fut_strerror(FUT_EBROKEN), "broken promise") != NULL);
    cr_assert(strstr(fut_strerror(ECANCELED), "cancelled") != NULL);
    cr_assert(strstr(fut_strerror(FUT_ESHUTDOWN), "shut down") != NULL);
    cr_assert(strstr(fut_strerror(EINVAL), "invalid") != NULL);
    cr_assert_str_eq(fut_strerror(0), "success");
    cr_assert_str_eq(fut_strerror(ENOSPC), strerror(ENOSPC), "a code fut does not use");
    cr_assert_not_null(fut_strerror(-1), "bad input still gives text");
    cr_assert_not_null(fut_strerror(INT_MAX));
}

static fut_future spawned_value(void *ctx, fut_result r)
{
    cr_assert_eq(r.err, 0);
    return fut_ready(fut_i64(*(int *)ctx));
}

Test(fut_spawn_task, the_task_runs_only_when_handed_to_a_scheduler)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    int v = 41;
    fut_task *t = NULL;
    fut_future f = fut_spawn_task(&m.sched, spawned_value, &v, &t);
    cr_assert_not_null(t);
    cr_assert_eq(fut_manual_pending(&m), 0, "not submitted by fut_spawn_task");
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_sched_submit(&m.sched, t), 0);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 41);
    fut_manual_destroy(&m);
}

Test(fut_spawn_task, a_refused_task_settles_with_the_error)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int v = 1;
    fut_task *t = NULL;
    fut_future f = fut_spawn_task(&inl, spawned_value, &v, &t);
    cr_assert_not_null(t);
    t->run(t, FUT_ESHUTDOWN);
    cr_assert_eq(fut_get(&f).err, FUT_ESHUTDOWN);
}

Test(fut_spawn_task, bad_input_is_einval_and_task_is_null)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int v = 1;
    fut_task *t = (fut_task *)&v; /* must be overwritten */
    fut_future f = fut_spawn_task(NULL, spawned_value, &v, &t);
    cr_assert_null(t);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    t = (fut_task *)&v;
    f = fut_spawn_task(&inl, NULL, &v, &t);
    cr_assert_null(t);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    f = fut_spawn_task(&inl, spawned_value, &v, NULL);
    cr_assert_eq(fut_get(&f).err, EINVAL);
}

/* ---- fut_deferred: a view that never runs a continuation inline ------------------- */

static int q_may_always(fut_sched *s)
{
    (void)s;
    return 1;
}

/* As settler_main, with a pointer value that tu_dtor_count destroys. */
static void *settler_main_ptr(void *arg)
{
    settler *s = arg;
    spin_until(&s->go);
    s->rc = fut_promise_set_ptr(&s->p, (void *)3, tu_dtor_count);
    return NULL;
}

Test(fut_deferred, a_settled_future_waits_for_the_queue_though_the_base_would_run_it_inline)
{
    qsched q;
    q_init(&q, 1, 1); /* the base says: inline is fine */
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &q.s), 0);
    probe direct = {0}, deferred = {0};
    fut_future f = fut_ready(fut_i64(41));
    fut_future g = fut_then(&f, &q.s, p_add1, &direct);
    cr_assert_eq(calls(&direct), 1, "the base runs it inside fut_then");
    cr_assert_eq(q.queued, 0);
    f = fut_ready(fut_i64(41));
    fut_future h = fut_then(&f, &d.sched, p_add1, &deferred);
    cr_assert_eq(calls(&deferred), 0, "the view never runs it inside fut_then");
    cr_assert_eq(q.queued, 1, "it went to the base's submit");
    cr_assert_eq(fut_is_ready(&h), 0);
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(calls(&deferred), 1);
    cr_assert_eq(fut_get(&g).value.i64, 42);
    cr_assert_eq(fut_get(&h).value.i64, 42);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_deferred, a_settle_on_this_thread_does_not_run_it_either)
{
    qsched q;
    q_init(&q, 1, 1);
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &q.s), 0);
    probe pr = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &d.sched, p_add1, &pr);
    fut_future h = fut_recover(&g, &d.sched, p_recover_value, &pr); /* a value: passes */
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    cr_assert_eq(calls(&pr), 0, "nothing ran inside fut_promise_set");
    cr_assert_eq(q.queued, 1);
    q_run(&q); /* runs then; recover is a pass-through that needs no submit */
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_get(&h).value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_deferred, a_continuation_that_settles_the_next_link_does_not_run_it_inline)
{
    qsched q;
    q_init(&q, 1, 1);
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &q.s), 0);
    probe a = {0}, b = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &d.sched, p_add1, &a);
    fut_future h = fut_then(&g, &d.sched, p_add1, &b);
    cr_assert_eq(fut_promise_set(&p, fut_i64(0)), 0);
    cr_assert_eq(q_run(&q), 2, "each link is its own task");
    cr_assert_eq(calls(&a), 1);
    cr_assert_eq(calls(&b), 1);
    cr_assert_eq(fut_get(&h).value.i64, 2);
}

static fut_future spawned_seven(void *ctx, fut_result r)
{
    (void)ctx;
    (void)r;
    return fut_ready(fut_i64(7));
}

Test(fut_deferred, spawn_goes_through_the_base)
{
    qsched q;
    q_init(&q, 1, 1);
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &q.s), 0);
    fut_future f = fut_spawn(&d.sched, spawned_seven, NULL);
    cr_assert_eq(q.queued, 1);
    cr_assert_eq(fut_is_ready(&f), 0);
    q_run(&q);
    cr_assert_eq(fut_get(&f).value.i64, 7);
}

Test(fut_deferred, submit_many_is_one_hand_off_when_the_base_has_one)
{
    qsched q;
    q_init(&q, 1, 1);
    q.s.submit_many = q_submit_many;
    q.accept_many = 2;
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &q.s), 0);
    cr_assert_not_null(d.sched.submit_many);
    ttask t[3];
    tasks_init(t, 3);
    cr_assert_eq(fut_sched_submit_many(&d.sched, &t[0].t, 3), 2);
    cr_assert_eq(q.many_calls, 1);
    cr_assert_eq(q.submits, 0);
    cr_assert_eq(t[2].runs, 1, "the refused task ran with the error");
    cr_assert_eq(t[2].err, EAGAIN);
    q_run(&q);
    cr_assert_eq(t[0].runs + t[1].runs, 2);
    cr_assert_eq(t[0].err, 0);

    qsched q1; /* a base without submit_many: the view has none, tasks go one by one */
    q_init(&q1, 0, 0);
    fut_deferred d1;
    cr_assert_eq(fut_deferred_init(&d1, &q1.s), 0);
    cr_assert_null(d1.sched.submit_many);
    tasks_init(t, 3);
    cr_assert_eq(fut_sched_submit_many(&d1.sched, &t[0].t, 3), 3);
    cr_assert_eq(q1.submits, 3);
    cr_assert_eq(q_run(&q1), 3);
}

Test(fut_deferred, a_refusing_base_settles_with_its_error_and_destroys_the_value)
{
    qsched q;
    q_init(&q, 1, 1);
    q.refuse = FUT_ESHUTDOWN;
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &q.s), 0);
    probe pr = {0};
    fut_future f = fut_ready_ptr((void *)1, tu_dtor_count);
    fut_future g = fut_then(&f, &d.sched, p_pass, &pr);
    cr_assert_eq(fut_get(&g).err, FUT_ESHUTDOWN);
    cr_assert_eq(calls(&pr), 0);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_deferred, copies_the_bases_workers_and_env_and_never_inlines)
{
    qsched q;
    q_init(&q, 1, 1);
    q.s.workers = 5;
    fut_env env = {NULL, NULL};
    q.s.env = &env;
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &q.s), 0);
    cr_assert_eq(d.sched.workers, 5);
    cr_assert_eq(d.sched.env, &env);
    cr_assert_null(d.sched.may_inline);
    cr_assert_eq(d.base, &q.s);
}

Test(fut_deferred, bad_input_is_einval_and_leaves_the_view_as_it_was)
{
    qsched q;
    q_init(&q, 0, 0);
    fut_deferred d, before;
    memset(&d, 0xab, sizeof d);
    before = d;
    cr_assert_eq(fut_deferred_init(NULL, &q.s), EINVAL);
    cr_assert_eq(fut_deferred_init(&d, NULL), EINVAL);
    fut_sched none = {0};
    cr_assert_eq(fut_deferred_init(&d, &none), EINVAL);
    cr_assert_eq(memcmp(&d, &before, sizeof d), 0);
}

Test(fut_deferred, over_the_inline_scheduler_it_runs_during_that_submit)
{
    /* Documented: a base that runs tasks inside submit leaves nowhere else to go. */
    fut_sched inl;
    fut_inline_init(&inl);
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &inl), 0);
    probe pr = {0};
    fut_future f = fut_ready(fut_i64(1));
    fut_future g = fut_then(&f, &d.sched, p_add1, &pr);
    cr_assert_eq(calls(&pr), 1);
    cr_assert_eq(fut_get(&g).value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_deferred, over_a_manual_queue_a_long_chain_runs_one_link_per_task)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    m.sched.may_inline = q_may_always; /* a loop that would inline on its own thread */
    fut_deferred d;
    cr_assert_eq(fut_deferred_init(&d, &m.sched), 0);
    fut_future f = fut_ready(fut_i64(0));
    for (int i = 0; i < 1000; i++)
        f = fut_then(&f, &d.sched, p_add1, NULL);
    cr_assert_eq(fut_manual_pending(&m), 1, "the first link waits in the queue");
    cr_assert_eq(fut_manual_run_all(&m), 1000);
    cr_assert_eq(fut_get(&f).value.i64, 1000);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_detach: fire and forget ---------------------------------------------------- */

typedef struct sinkrec {
    _Atomic int calls;
    fut_result got;
    pthread_t thread;
    int drop; /* fut_result_drop what it got */
} sinkrec;

static void sink_note(void *ctx, fut_result r)
{
    sinkrec *k = ctx;
    k->got = r;
    k->thread = pthread_self();
    if (k->drop)
        fut_result_drop(&r);
    atomic_fetch_add(&k->calls, 1);
}

Test(fut_detach, runs_the_sink_once_with_the_value_when_the_promise_settles_later)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach(&f, &q.s, sink_note, &k), 0);
    cr_assert_eq(f.tag, FUT__SPENT, "consumed");
    cr_assert_eq(atomic_load(&k.calls), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(41)), 0);
    cr_assert_eq(q.queued, 1);
    cr_assert_eq(atomic_load(&k.calls), 0);
    q_run(&q);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.err, 0);
    cr_assert_eq(k.got.value.i64, 41);
    cr_assert_eq(tu_live(), 0, "both states are freed: nothing to drop");
}

Test(fut_detach, a_ready_future_on_the_inline_scheduler_runs_at_once_without_allocating)
{
    fut_sched inl;
    fut_inline_init(&inl);
    sinkrec k = {0};
    long before = alloc_calls();
    fut_future f = fut_ready(fut_i64(5));
    cr_assert_eq(fut_detach(&f, &inl, sink_note, &k), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.value.i64, 5);
    cr_assert_eq(alloc_calls(), before);
    fut_promise p; /* settled before the detach: taken from the state, run here */
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(6)), 0);
    cr_assert_eq(fut_detach(&f, &inl, sink_note, &k), 0);
    cr_assert_eq(atomic_load(&k.calls), 2);
    cr_assert_eq(k.got.value.i64, 6);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach, a_ready_future_on_a_queue_is_submitted_not_run_here)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_future f = fut_ready_error(EIO);
    cr_assert_eq(fut_detach(&f, &q.s, sink_note, &k), 0);
    cr_assert_eq(atomic_load(&k.calls), 0);
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.err, EIO);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach, the_sink_owns_a_pointer_value_and_its_destructor)
{
    fut_sched inl;
    fut_inline_init(&inl);
    sinkrec k = {.drop = 1};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach(&f, &inl, sink_note, &k), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)7, tu_dtor_count), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.value.ptr, (void *)7);
    cr_assert(k.got.dtor == tu_dtor_count);
    cr_assert_eq(dtors(), 1, "destroyed once, by the sink");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach, errors_and_broken_promises_reach_the_sink)
{
    fut_sched inl;
    fut_inline_init(&inl);
    sinkrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach(&f, &inl, sink_note, &k), 0);
    cr_assert_eq(fut_promise_set_error(&p, EIO), 0);
    cr_assert_eq(k.got.err, EIO);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach(&f, &inl, sink_note, &k), 0);
    fut_promise_drop(&p);
    cr_assert_eq(atomic_load(&k.calls), 2);
    cr_assert_eq(k.got.err, FUT_EBROKEN);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach, a_refused_task_runs_the_sink_with_the_error_on_the_settling_thread)
{
    qsched q;
    q_init(&q, 0, 0);
    q.refuse = FUT_ESHUTDOWN;
    sinkrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach(&f, &q.s, sink_note, &k), 0);
    settler st = {.p = p};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, settler_main_ptr, &st), 0);
    atomic_store(&st.go, 1);
    pthread_join(th, NULL);
    cr_assert_eq(st.rc, 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.err, FUT_ESHUTDOWN);
    cr_assert(pthread_equal(k.thread, th), "ran where f settled");
    cr_assert_eq(dtors(), 1, "the value was destroyed before the sink ran");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach, bad_input_is_einval_and_keeps_f)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_sched none = {0};
    sinkrec k = {0};
    fut_future empty = {0};
    cr_assert_eq(fut_detach(NULL, &inl, sink_note, &k), EINVAL);
    cr_assert_eq(fut_detach(&empty, &inl, sink_note, &k), EINVAL);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach(&f, NULL, sink_note, &k), EINVAL);
    cr_assert_eq(fut_detach(&f, &none, sink_note, &k), EINVAL);
    cr_assert_eq(fut_detach(&f, &inl, NULL, &k), EINVAL);
    cr_assert_eq(atomic_load(&k.calls), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(3)), 0);
    cr_assert_eq(fut_get(&f).value.i64, 3, "f was kept");
    cr_assert_eq(fut_detach(&f, &inl, sink_note, &k), EINVAL, "spent");
    cr_assert_eq(atomic_load(&k.calls), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach, allocation_failure_is_enomem_and_keeps_f)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    tu_fail_next();
    cr_assert_eq(fut_detach(&f, &q.s, sink_note, &k), ENOMEM);
    cr_assert_eq(atomic_load(&k.calls), 0);
    fut_future r = fut_ready(fut_i64(9)); /* a ready value needs a state on a queue too */
    tu_fail_next();
    cr_assert_eq(fut_detach(&r, &q.s, sink_note, &k), ENOMEM);
    cr_assert_eq(fut_get(&r).value.i64, 9, "kept");
    cr_assert_eq(fut_detach(&f, &q.s, sink_note, &k), 0, "f was kept and can go now");
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    q_run(&q);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.value.i64, 4);
    cr_assert_eq(tu_live(), 0);
}

/* Many detached sinks settled from another thread: each ran once, no value lost. */
typedef struct detach_sum {
    _Atomic long calls;
    _Atomic long sum;
} detach_sum;

static void sink_sum(void *ctx, fut_result r)
{
    detach_sum *s = ctx;
    atomic_fetch_add(&s->sum, r.value.i64);
    atomic_fetch_add(&s->calls, 1);
}

typedef struct settle_all {
    fut_promise *ps;
    long n;
} settle_all;

static void *settle_all_main(void *arg)
{
    settle_all *a = arg;
    for (long i = 0; i < a->n; i++)
        (void)fut_promise_set(&a->ps[i], fut_i64(i));
    return NULL;
}

Test(fut_detach, sinks_settled_from_another_thread_each_run_once)
{
    enum { N = 20000 };
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise *ps = calloc(N, sizeof *ps);
    fut_future *fs = calloc(N, sizeof *fs);
    cr_assert(ps != NULL && fs != NULL);
    for (long i = 0; i < N; i++)
        cr_assert_eq(fut_promise_new(&ps[i], &fs[i]), 0);
    detach_sum s = {0};
    settle_all a = {ps, N};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, settle_all_main, &a), 0);
    for (long i = 0; i < N; i++) /* races the settles: some attach, some find it ready */
        cr_assert_eq(fut_detach(&fs[i], &inl, sink_sum, &s), 0);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&s.calls), N);
    cr_assert_eq(atomic_load(&s.sum), (long)N * (N - 1) / 2);
    free(ps);
    free(fs);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_detach_cancellable: a sink with a handle to cancel it --------------------- */

static void virtual_manual(fut_manual *m, uint64_t start);

Test(fut_detach_cancellable, the_sink_runs_once_with_the_value_and_the_handle_settles_with_0)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_promise p;
    fut_future f, h;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach_cancellable(&f, &q.s, sink_note, &k, &h), 0);
    cr_assert_eq(f.tag, FUT__SPENT, "consumed");
    cr_assert_eq(fut_is_ready(&h), 0, "pending until the sink has run");
    cr_assert_eq(fut_promise_set(&p, fut_i64(41)), 0);
    cr_assert_eq(fut_is_ready(&h), 0, "queued, not run");
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.value.i64, 41);
    cr_assert_eq(fut_cancel(&h), EALREADY, "too late: the sink ran");
    fut_result r = fut_get(&h);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(tu_live(), 0, "the handle was the last hold");
}

Test(fut_detach_cancellable, a_cancel_before_the_outcome_reaches_upstream_and_the_sink_still_runs_once)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    _Atomic int hooked = 0;
    fut_promise p;
    fut_future f, h;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    f = fut_then(&f, &q.s, p_add1, NULL); /* a then between: it must never run */
    cr_assert_eq(fut_detach_cancellable(&f, &q.s, sink_note, &k, &h), 0);
    cr_assert_eq(fut_cancel(&h), 0);
    cr_assert_eq(atomic_load(&hooked), 1, "the cancel reached the promise");
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(atomic_load(&k.calls), 0, "on its scheduler, not inside fut_cancel");
    cr_assert_eq(q_run(&q), 1, "the sink alone: the then was unlinked");
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.err, ECANCELED);
    cr_assert_eq(fut_cancel(&h), EALREADY);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)5, tu_dtor_count), ECANCELED);
    cr_assert_eq(dtors(), 0, "a refused value stays the setter's");
    cr_assert_eq(q_run(&q), 0);
    cr_assert_eq(atomic_load(&k.calls), 1, "once");
    cr_assert_eq(fut_get(&h).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach_cancellable, a_cancel_after_the_outcome_was_queued_runs_the_sink_with_ECANCELED)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_promise p;
    fut_future f, h;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach_cancellable(&f, &q.s, sink_note, &k, &h), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)5, tu_dtor_count), 0);
    cr_assert_eq(q.queued, 1, "the sink is queued with the value");
    cr_assert_eq(fut_cancel(&h), 0, "it has not run: the cancel wins");
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.err, ECANCELED, "unwanted now");
    cr_assert_eq(dtors(), 1, "the value it would have had is destroyed");
    fut_drop(&h);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach_cancellable, a_ready_input_that_was_submitted_is_cancelled_too)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_future f = fut_ready_ptr((void *)9, tu_dtor_count), h;
    cr_assert_eq(fut_detach_cancellable(&f, &q.s, sink_note, &k, &h), 0);
    cr_assert_eq(fut_cancel(&h), 0);
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(k.got.err, ECANCELED);
    cr_assert_eq(dtors(), 1);
    fut_drop(&h);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach_cancellable, on_an_inline_scheduler_the_cancelled_sink_runs_inside_the_cancel)
{
    fut_sched inl;
    fut_inline_init(&inl);
    sinkrec k = {0};
    fut_promise p;
    fut_future f, h;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach_cancellable(&f, &inl, sink_note, &k, &h), 0);
    cr_assert_eq(fut_cancel(&h), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.err, ECANCELED);
    cr_assert(pthread_equal(k.thread, pthread_self()));
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(atomic_load(&k.calls), 1);
    fut_drop(&h);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach_cancellable, a_ready_future_inline_runs_at_once_with_a_ready_handle_and_no_allocation)
{
    fut_sched inl;
    fut_inline_init(&inl);
    sinkrec k = {0};
    long before = alloc_calls();
    fut_future f = fut_ready(fut_i64(5)), h;
    cr_assert_eq(fut_detach_cancellable(&f, &inl, sink_note, &k, &h), 0);
    cr_assert_eq(alloc_calls(), before);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.value.i64, 5);
    cr_assert_eq(fut_is_ready(&h), 1);
    cr_assert_eq(fut_cancel(&h), EALREADY);
    cr_assert_eq(fut_get(&h).err, 0);
    cr_assert_eq(tu_live(), 0);
}

/* The handle dropped from inside the sink, as a server's reply does. */
typedef struct selfdrop {
    fut_future h;
    int calls, err;
} selfdrop;

static void sink_selfdrop(void *ctx, fut_result r)
{
    selfdrop *d = ctx;
    d->calls++;
    d->err = r.err;
    fut_drop(&d->h);
}

Test(fut_detach_cancellable, the_sink_may_drop_its_own_handle_both_ways)
{
    qsched q;
    q_init(&q, 0, 0);
    for (int cancel = 0; cancel < 2; cancel++) {
        selfdrop d = {0};
        fut_promise p;
        fut_future f;
        cr_assert_eq(fut_promise_new(&p, &f), 0);
        cr_assert_eq(fut_detach_cancellable(&f, &q.s, sink_selfdrop, &d, &d.h), 0);
        if (cancel)
            cr_assert_eq(fut_cancel(&d.h), 0);
        else
            cr_assert_eq(fut_promise_set(&p, fut_i64(3)), 0);
        cr_assert_eq(q_run(&q), 1);
        cr_assert_eq(d.calls, 1);
        cr_assert_eq(d.err, cancel ? ECANCELED : 0);
        fut_promise_drop(&p);
        cr_assert_eq(tu_live(), 0, "cancel=%d", cancel);
    }
}

Test(fut_detach_cancellable, a_cancel_through_a_timeout_takes_the_timer_back)
{
    fut_manual m;
    virtual_manual(&m, 1000);
    sinkrec k = {0};
    fut_promise p;
    fut_future f, h;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    f = fut_timeout(&f, &m.sched, 500);
    cr_assert_eq(fut_manual_next_deadline(&m), 1500);
    cr_assert_eq(fut_detach_cancellable(&f, &m.sched, sink_note, &k, &h), 0);
    cr_assert_eq(fut_cancel(&h), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX, "the timer was taken back");
    cr_assert_gt(fut_manual_run_all(&m), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.got.err, ECANCELED, "not ETIMEDOUT");
    cr_assert_eq(fut_manual_advance(&m, 1000), 0);
    fut_manual_run_all(&m);
    cr_assert_eq(atomic_load(&k.calls), 1);
    fut_promise_drop(&p);
    fut_drop(&h);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach_cancellable, a_refusing_scheduler_still_runs_the_cancelled_sink_once)
{
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_promise p;
    fut_future f, h;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach_cancellable(&f, &q.s, sink_note, &k, &h), 0);
    q.refuse = FUT_ESHUTDOWN;
    cr_assert_eq(fut_cancel(&h), 0);
    cr_assert_eq(atomic_load(&k.calls), 1, "refused: run here");
    cr_assert_eq(k.got.err, ECANCELED);
    fut_promise_drop(&p);
    fut_drop(&h);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_detach_cancellable, bad_input_and_allocation_failure_keep_f_and_empty_h)
{
    fut_sched inl;
    fut_inline_init(&inl);
    qsched q;
    q_init(&q, 0, 0);
    sinkrec k = {0};
    fut_promise p;
    fut_future f, h = fut_ready(fut_i64(1));
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_detach_cancellable(&f, &inl, sink_note, &k, NULL), EINVAL);
    cr_assert_eq(fut_detach_cancellable(NULL, &inl, sink_note, &k, &h), EINVAL);
    cr_assert_eq(h.tag, FUT__EMPTY, "emptied");
    h = fut_ready(fut_i64(1));
    cr_assert_eq(fut_detach_cancellable(&f, NULL, sink_note, &k, &h), EINVAL);
    cr_assert_eq(fut_detach_cancellable(&f, &inl, NULL, &k, &h), EINVAL);
    cr_assert_eq(h.tag, FUT__EMPTY);
    cr_assert_eq(fut_cancel(&h), EINVAL, "an emptied handle is bad input, not a crash");
    tu_fail_next();
    cr_assert_eq(fut_detach_cancellable(&f, &q.s, sink_note, &k, &h), ENOMEM);
    cr_assert_eq(h.tag, FUT__EMPTY);
    cr_assert_eq(atomic_load(&k.calls), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(3)), 0);
    cr_assert_eq(fut_get(&f).value.i64, 3, "f was kept");
    cr_assert_eq(tu_live(), 0);
}

/* Cancels racing settles from another thread: every sink ran exactly once, with its
 * value or ECANCELED, and every value was destroyed exactly once. */
typedef struct xsink {
    _Atomic long calls, got, cancelled;
} xsink;

static void sink_x(void *ctx, fut_result r)
{
    xsink *x = ctx;
    if (r.err == 0) {
        atomic_fetch_add(&x->got, 1);
        fut_result_drop(&r);
    } else {
        cr_assert_eq(r.err, ECANCELED);
        atomic_fetch_add(&x->cancelled, 1);
    }
    atomic_fetch_add(&x->calls, 1);
}

typedef struct settle_ptrs {
    fut_promise *ps;
    long n, refused; /* settles that lost to a cancel: those values stay ours */
} settle_ptrs;

static void *settle_all_ptr_main(void *arg)
{
    settle_ptrs *a = arg;
    for (long i = 0; i < a->n; i++)
        a->refused += fut_promise_set_ptr(&a->ps[i], (void *)(intptr_t)(i + 1), tu_dtor_count) == ECANCELED;
    return NULL;
}

Test(fut_detach_cancellable, cancels_racing_settles_from_another_thread_run_each_sink_once)
{
    enum { N = 20000 };
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise *ps = calloc(N, sizeof *ps);
    fut_future *fs = calloc(N, sizeof *fs), *hs = calloc(N, sizeof *hs);
    cr_assert(ps != NULL && fs != NULL && hs != NULL);
    for (long i = 0; i < N; i++)
        cr_assert_eq(fut_promise_new(&ps[i], &fs[i]), 0);
    xsink x = {0};
    for (long i = 0; i < N; i++)
        cr_assert_eq(fut_detach_cancellable(&fs[i], &inl, sink_x, &x, &hs[i]), 0);
    settle_ptrs a = {ps, N, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, settle_all_ptr_main, &a), 0);
    long won = 0;
    for (long i = 0; i < N; i++) { /* races the settles */
        int rc = fut_cancel(&hs[i]);
        cr_assert(rc == 0 || rc == EALREADY);
        won += rc == 0;
        fut_drop(&hs[i]);
    }
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&x.calls), N);
    cr_assert_eq(atomic_load(&x.got) + atomic_load(&x.cancelled), N);
    cr_assert_leq(atomic_load(&x.cancelled), won, "ECANCELED only where a cancel won");
    cr_assert_eq(dtors() + a.refused, N, "each value delivered was destroyed once");
    free(ps);
    free(fs);
    free(hs);
    cr_assert_eq(tu_live(), 0);
}

/* ---- timers on the manual scheduler: a virtual clock, no sleeping ------------------ */

/* A timer that counts its runs and notes its id (and the error it ran with). */
typedef struct ttimer {
    fut_timer tm;
    int id, runs, err;
} ttimer;

static void ttimer_run(fut_task *t, int err)
{
    ttimer *x = FUT_CONTAINER_OF(t, ttimer, tm.task);
    x->runs++;
    x->err = err;
    note(x->id);
}

static void ttimer_init(ttimer *x, int id, uint64_t deadline_ns)
{
    memset(x, 0, sizeof *x);
    x->id = id;
    x->err = -1;
    x->tm.task.run = ttimer_run;
    x->tm.deadline_ns = deadline_ns;
}

static void virtual_manual(fut_manual *m, uint64_t start)
{
    cr_assert_eq(fut_manual_init(m, 0), 0);
    cr_assert_eq(fut_manual_set_clock(m, start), 0);
}

Test(fut_manual_timers, a_timer_runs_when_the_virtual_clock_reaches_it_and_not_before)
{
    fut_manual m;
    virtual_manual(&m, 0);
    ttimer a;
    ttimer_init(&a, 0, 100);
    cr_assert_eq(m.sched.submit_at(&m.sched, &a.tm), 0);
    cr_assert_eq(fut_sched_now(&m.sched), 0);
    cr_assert_eq(fut_manual_next_deadline(&m), 100);
    cr_assert_eq(fut_manual_advance(&m, 99), 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    cr_assert_eq(fut_manual_run_all(&m), 0);
    cr_assert_eq(a.runs, 0);
    cr_assert_eq(fut_manual_advance(&m, 1), 0);
    cr_assert_eq(fut_sched_now(&m.sched), 100);
    cr_assert_eq(fut_manual_pending(&m), 1, "due: queued");
    cr_assert_eq(a.runs, 0, "queued, not run: the manual runs only when told");
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(a.runs, 1);
    cr_assert_eq(a.err, 0);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX);
    fut_manual_destroy(&m);
    cr_assert_eq(a.runs, 1);
}

Test(fut_manual_timers, timers_come_due_in_deadline_order_and_equal_deadlines_in_submit_order)
{
    fut_manual m;
    virtual_manual(&m, 0);
    ttimer t[5];
    uint64_t dl[5] = {30, 10, 20, 10, 40};
    norder = 0;
    for (int i = 0; i < 5; i++) {
        ttimer_init(&t[i], i, dl[i]);
        cr_assert_eq(m.sched.submit_at(&m.sched, &t[i].tm), 0);
    }
    ttask plain[1];
    tasks_init(plain, 1);
    plain[0].id = 9;
    cr_assert_eq(fut_sched_submit(&m.sched, &plain[0].t), 0);
    cr_assert_eq(fut_manual_advance(&m, 30), 0);
    cr_assert_eq(fut_manual_run_all(&m), 5);
    int want[] = {9, 1, 3, 2, 0}; /* the queued task first, then the due timers */
    cr_assert_eq(norder, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(order[i], want[i], "position %d", i);
    cr_assert_eq(fut_manual_next_deadline(&m), 40);
    fut_manual_destroy(&m);
    cr_assert_eq(t[4].runs, 1);
    cr_assert_eq(t[4].err, FUT_ESHUTDOWN, "destroy gives up a timer not yet due");
}

Test(fut_manual_timers, cancel_takes_back_a_timer_not_yet_due_and_is_ealready_once_it_is)
{
    fut_manual m;
    virtual_manual(&m, 0);
    ttimer a, b, c;
    ttimer_init(&a, 0, 10);
    ttimer_init(&b, 1, 10);
    ttimer_init(&c, 2, 20);
    cr_assert_eq(m.sched.submit_at(&m.sched, &a.tm), 0);
    cr_assert_eq(m.sched.submit_at(&m.sched, &b.tm), 0);
    cr_assert_eq(m.sched.submit_at(&m.sched, &c.tm), 0);
    cr_assert_eq(m.sched.cancel_timer(&m.sched, &c.tm), 0, "the tail");
    cr_assert_eq(m.sched.cancel_timer(&m.sched, &a.tm), 0, "the head");
    cr_assert_eq(m.sched.cancel_timer(&m.sched, &a.tm), EALREADY, "not held any more");
    cr_assert_eq(fut_manual_next_deadline(&m), 10);
    cr_assert_eq(fut_manual_advance(&m, 100), 0);
    cr_assert_eq(m.sched.cancel_timer(&m.sched, &b.tm), EALREADY, "due: it will run");
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(a.runs + c.runs, 0);
    cr_assert_eq(b.runs, 1);
    fut_manual_destroy(&m);
    cr_assert_eq(a.runs + c.runs, 0, "cancelled timers are the caller's again");
}

Test(fut_manual_timers, close_refuses_submit_at_and_timers_already_taken_still_come_due)
{
    fut_manual m;
    virtual_manual(&m, 0);
    ttimer a, b;
    ttimer_init(&a, 0, 5);
    ttimer_init(&b, 1, 5);
    cr_assert_eq(m.sched.submit_at(&m.sched, &a.tm), 0);
    fut_manual_close(&m);
    cr_assert_eq(m.sched.submit_at(&m.sched, &b.tm), FUT_ESHUTDOWN);
    cr_assert_eq(fut_manual_wait(&m, 0), ETIMEDOUT, "closed, but a timer is still to come");
    cr_assert_eq(fut_manual_advance(&m, 5), 0);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(a.err, 0);
    cr_assert_eq(b.runs, 0);
    cr_assert_eq(fut_manual_wait(&m, 0), FUT_ESHUTDOWN);
    fut_manual_destroy(&m);
}

Test(fut_manual_timers, clock_bad_input_and_edges)
{
    cr_assert_eq(fut_manual_set_clock(NULL, 0), EINVAL);
    cr_assert_eq(fut_manual_advance(NULL, 1), EINVAL);
    cr_assert_eq(fut_manual_next_deadline(NULL), UINT64_MAX);
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_manual_advance(&m, 1), EINVAL, "the real clock is not moved by hand");
    uint64_t t0 = fut_now_ns();
    cr_assert_geq(fut_sched_now(&m.sched), t0, "the real clock");
    cr_assert_eq(fut_manual_set_clock(&m, 500), 0);
    cr_assert_eq(fut_manual_set_clock(&m, 499), EINVAL, "never backwards");
    cr_assert_eq(fut_sched_now(&m.sched), 500);
    cr_assert_eq(fut_manual_set_clock(&m, 700), 0);
    cr_assert_eq(fut_manual_advance(&m, UINT64_MAX), 0);
    cr_assert_eq(fut_sched_now(&m.sched), UINT64_MAX, "saturates");
    fut_manual_destroy(&m);
    cr_assert_eq(fut_manual_set_clock(&m, 0), EINVAL, "destroyed");
    cr_assert_eq(fut_manual_advance(&m, 0), EINVAL);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX);
    fut_sched inl;
    fut_inline_init(&inl);
    cr_assert_null(inl.submit_at, "the inline scheduler has no timers");
    cr_assert_geq(fut_sched_now(&inl), t0);
    cr_assert_geq(fut_sched_now(NULL), t0);
}

Test(fut_manual_timers, notify_runs_when_a_timer_becomes_the_earliest_or_advance_makes_work)
{
    fut_manual m;
    virtual_manual(&m, 0);
    atomic_store(&notified, 0);
    cr_assert_eq(fut_manual_set_notify(&m, count_notify, (void *)&notified), 0);
    ttimer a, b, c;
    ttimer_init(&a, 0, 50);
    ttimer_init(&b, 1, 60);
    ttimer_init(&c, 2, 40);
    cr_assert_eq(m.sched.submit_at(&m.sched, &a.tm), 0);
    cr_assert_eq(atomic_load(&notified), 1, "the first timer is the earliest");
    cr_assert_eq(m.sched.submit_at(&m.sched, &b.tm), 0);
    cr_assert_eq(atomic_load(&notified), 1, "a later one moves nothing");
    cr_assert_eq(m.sched.submit_at(&m.sched, &c.tm), 0);
    cr_assert_eq(atomic_load(&notified), 2, "an earlier one: re-arm");
    cr_assert_eq(fut_manual_advance(&m, 45), 0);
    cr_assert_eq(atomic_load(&notified), 3, "advance queued work on an empty queue");
    cr_assert_eq(fut_manual_run_all(&m), 1);
    fut_manual_destroy(&m);
}

Test(fut_manual_timers, wait_returns_when_a_timer_on_the_real_clock_comes_due)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    ttimer a;
    ttimer_init(&a, 0, fut_now_ns() + 1000000u);
    cr_assert_eq(m.sched.submit_at(&m.sched, &a.tm), 0);
    cr_assert_eq(fut_manual_wait(&m, fut_now_ns() + WAKE_BOUND_NS), 0);
    cr_assert_eq(fut_manual_pending(&m), 1);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(a.err, 0);
    fut_manual_destroy(&m);
}

/* ---- fut_delay ---------------------------------------------------------------------- */

Test(fut_delay, settles_with_zero_once_the_virtual_clock_passes_the_duration)
{
    fut_manual m;
    virtual_manual(&m, 1000);
    fut_future d = fut_delay(&m.sched, 50);
    cr_assert_eq(fut_manual_next_deadline(&m), 1050);
    cr_assert_eq(fut_manual_advance(&m, 49), 0);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_is_ready(&d), 0);
    cr_assert_eq(fut_manual_advance(&m, 1), 0);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(fut_is_ready(&d), 1);
    fut_result r = fut_get(&d);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_delay, delay_until_a_past_deadline_comes_due_at_the_next_run)
{
    fut_manual m;
    virtual_manual(&m, 1000);
    fut_future d = fut_delay_until(&m.sched, 10);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(fut_get(&d).err, 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_delay, cancelling_takes_the_timer_back)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_future d = fut_delay(&m.sched, 50);
    cr_assert_eq(fut_cancel(&d), 0);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX, "taken back");
    cr_assert_eq(fut_get(&d).err, ECANCELED);
    cr_assert_eq(tu_live(), 0, "freed without the timer running");
    fut_manual_destroy(&m);
}

Test(fut_delay, a_chain_after_a_delay_runs_on_the_queue)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_future d = fut_delay(&m.sched, 10);
    fut_future g = fut_then(&d, &m.sched, p_add1, NULL);
    cr_assert_eq(fut_manual_advance(&m, 10), 0);
    cr_assert_eq(fut_manual_run_all(&m), 2, "the timer, then the continuation");
    cr_assert_eq(fut_get(&g).value.i64, 1);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_delay, bad_input_refusal_and_allocation_failure_are_errors)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_future d = fut_delay(NULL, 1);
    cr_assert_eq(fut_get(&d).err, EINVAL);
    d = fut_delay(&inl, 1);
    cr_assert_eq(fut_get(&d).err, ENOTSUP);
    fut_manual m;
    virtual_manual(&m, 0);
    tu_fail_next();
    d = fut_delay(&m.sched, 1);
    cr_assert_eq(fut_get(&d).err, ENOMEM);
    fut_manual_close(&m);
    d = fut_delay(&m.sched, 1);
    cr_assert_eq(fut_get(&d).err, FUT_ESHUTDOWN);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_delay, destroying_the_scheduler_settles_it_with_eshutdown)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_future d = fut_delay(&m.sched, 10);
    fut_manual_destroy(&m);
    cr_assert_eq(fut_get(&d).err, FUT_ESHUTDOWN);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_timeout / fut_deadline ------------------------------------------------------- */

Test(fut_timeout, the_value_wins_when_it_comes_first_and_the_timer_is_taken_back)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_timeout(&f, &m.sched, 100);
    cr_assert_eq(f.tag, FUT__SPENT, "consumed");
    cr_assert_eq(fut_manual_next_deadline(&m), 100);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)5, tu_dtor_count), 0);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX, "taken back");
    cr_assert_eq(fut_is_ready(&g), 1);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.ptr, (void *)5);
    cr_assert(r.dtor == tu_dtor_count, "the destructor came with it");
    fut_result_drop(&r);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(fut_manual_run_all(&m), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_timeout, etimedout_at_the_deadline_and_the_upstream_is_cancelled)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    _Atomic int hooked = 0;
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    fut_future g = fut_timeout(&f, &m.sched, 100);
    cr_assert_eq(fut_manual_advance(&m, 99), 0);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_is_ready(&g), 0);
    cr_assert_eq(atomic_load(&hooked), 0);
    cr_assert_eq(fut_manual_advance(&m, 1), 0);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(fut_get(&g).err, ETIMEDOUT);
    cr_assert_eq(atomic_load(&hooked), 1, "the producer was told");
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)1, tu_dtor_count), ECANCELED, "late: still yours");
    cr_assert_eq(dtors(), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_deadline, an_absolute_deadline_on_the_schedulers_clock)
{
    fut_manual m;
    virtual_manual(&m, 5000);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_deadline(&f, &m.sched, 5010);
    cr_assert_eq(fut_manual_next_deadline(&m), 5010);
    cr_assert_eq(fut_manual_advance(&m, 10), 0);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_get(&g).err, ETIMEDOUT);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_timeout, cancelling_the_result_cancels_upstream_and_takes_the_timer_back)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_timeout(&f, &m.sched, 100);
    cr_assert_eq(fut_cancel(&g), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX);
    cr_assert_eq(fut_get(&g).err, ECANCELED);
    fut_promise_drop(&p);
    cr_assert_eq(fut_manual_run_all(&m), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_timeout, an_error_that_comes_first_is_kept)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_timeout(&f, &m.sched, 100);
    fut_promise_drop(&p);
    cr_assert_eq(fut_get(&g).err, FUT_EBROKEN);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_timeout, a_ready_future_settles_it_at_once)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_future f = fut_ready(fut_i64(3));
    fut_future g = fut_timeout(&f, &m.sched, 100);
    cr_assert_eq(fut_is_ready(&g), 1);
    cr_assert_eq(fut_get(&g).value.i64, 3);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_timeout, uint64_max_is_no_deadline_and_allocates_nothing)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    long before = alloc_calls();
    fut_future g = fut_timeout(&f, &m.sched, UINT64_MAX);
    cr_assert_eq(alloc_calls(), before);
    cr_assert_eq(fut_manual_next_deadline(&m), UINT64_MAX);
    cr_assert_eq(fut_promise_set(&p, fut_i64(8)), 0);
    cr_assert_eq(fut_get(&g).value.i64, 8);
    f = fut_ready(fut_i64(1));
    g = fut_deadline(&f, NULL, UINT64_MAX);
    cr_assert_eq(fut_get(&g).value.i64, 1, "no deadline needs no scheduler");
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_timeout, a_late_timer_after_the_scheduler_is_destroyed_settles_with_eshutdown_and_cancels_f)
{
    fut_manual m;
    virtual_manual(&m, 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_timeout(&f, &m.sched, 100);
    fut_manual_destroy(&m);
    cr_assert_eq(fut_get(&g).err, FUT_ESHUTDOWN);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    fut_promise_drop(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_timeout, bad_input_refusal_and_allocation_failure_drop_f)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_future g = fut_timeout(NULL, &inl, 1);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    fut_future empty = {0};
    g = fut_timeout(&empty, &inl, 1);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    fut_future f = fut_ready_ptr((void *)1, tu_dtor_count);
    g = fut_timeout(&f, NULL, 1);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(f.tag, FUT__SPENT);
    cr_assert_eq(dtors(), 1, "f was dropped");
    f = fut_ready_ptr((void *)1, tu_dtor_count);
    g = fut_timeout(&f, &inl, 1);
    cr_assert_eq(fut_get(&g).err, ENOTSUP);
    cr_assert_eq(dtors(), 2);
    fut_manual m;
    virtual_manual(&m, 0);
    f = fut_ready_ptr((void *)1, tu_dtor_count);
    tu_fail_next();
    g = fut_timeout(&f, &m.sched, 1);
    cr_assert_eq(fut_get(&g).err, ENOMEM);
    cr_assert_eq(dtors(), 3);
    fut_promise p;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_manual_close(&m);
    g = fut_timeout(&f, &m.sched, 1);
    cr_assert_eq(fut_get(&g).err, FUT_ESHUTDOWN);
    cr_assert_eq(fut_promise_cancelled(&p), 0, "refused before it was attached: dropped");
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

/* Timeouts racing values settled from another thread while this thread moves the
 * virtual clock: each result is its value or ETIMEDOUT, exactly once, and every value
 * that was delivered (set returned 0) is destroyed exactly once - by the taker, or by
 * the timeout when the timer won while it was arriving. */
typedef struct race_settle {
    fut_promise *ps;
    int *rc;
    long n;
    _Atomic int go;
} race_settle;

static void *race_settle_main(void *arg)
{
    race_settle *a = arg;
    spin_until(&a->go);
    for (long i = 0; i < a->n; i++)
        a->rc[i] = fut_promise_set_ptr(&a->ps[i], (void *)(intptr_t)(i + 1), tu_dtor_count);
    return NULL;
}

Test(fut_timeout, values_racing_deadlines_from_another_thread_settle_each_once)
{
    enum { N = 4000 };
    fut_manual m;
    virtual_manual(&m, 0);
    fut_promise *ps = calloc(N, sizeof *ps);
    fut_future *gs = calloc(N, sizeof *gs);
    int *rc = calloc(N, sizeof *rc);
    cr_assert(ps != NULL && gs != NULL && rc != NULL);
    for (long i = 0; i < N; i++) {
        fut_future f;
        cr_assert_eq(fut_promise_new(&ps[i], &f), 0);
        gs[i] = fut_timeout(&f, &m.sched, (uint64_t)i + 1); /* deadlines 1..N */
    }
    race_settle a = {ps, rc, N, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, race_settle_main, &a), 0);
    atomic_store(&a.go, 1);
    for (long i = 0; i < N; i++) { /* the clock races the settles */
        cr_assert_eq(fut_manual_advance(&m, 1), 0);
        fut_manual_run_all(&m);
    }
    pthread_join(th, NULL);
    fut_manual_run_all(&m);
    long values = 0, timedout = 0, delivered = 0;
    for (long i = 0; i < N; i++) {
        if (rc[i] == 0)
            delivered++;
        else
            cr_assert_eq(rc[i], ECANCELED, "item %ld", i);
        fut_result r = fut_get(&gs[i]);
        if (r.err == 0) {
            cr_assert_eq(r.value.ptr, (void *)(intptr_t)(i + 1));
            cr_assert_eq(rc[i], 0);
            values++;
            fut_result_drop(&r);
        } else {
            cr_assert_eq(r.err, ETIMEDOUT, "item %ld", i);
            timedout++;
        }
    }
    cr_assert_eq(values + timedout, N);
    cr_assert_eq(dtors(), delivered, "each delivered value destroyed once");
    cr_log_info("values %ld, timed out %ld, delivered but late %ld", values, timedout, delivered - values);
    fut_manual_destroy(&m);
    free(ps);
    free(gs);
    free(rc);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_finally ------------------------------------------------------------------- */

/* A cleanup's observer: how often it ran, with what, and whether the producer had let go
 * by then (the test sets `producer_done` just before the producer's last act). */
typedef struct cleanrec {
    _Atomic int calls;
    int err;
    _Atomic int producer_done;
    int saw_done;
    int order; /* note(order) when it runs, if nonzero */
} cleanrec;

static void clean_note(void *ctx, int err)
{
    cleanrec *k = ctx;
    k->err = err;
    k->saw_done = atomic_load(&k->producer_done);
    if (k->order != 0)
        note(k->order);
    atomic_fetch_add(&k->calls, 1);
}

TestSuite(fut_finally);

Test(fut_finally, runs_once_after_the_value_and_passes_it_on_with_its_destructor)
{
    qsched q;
    q_init(&q, 0, 0);
    cleanrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_finally(&f, &q.s, clean_note, &k), 0);
    cr_assert(fut__is_state(f.tag), "f is now the cleanup's future");
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)7, tu_dtor_count), 0);
    cr_assert_eq(atomic_load(&k.calls), 0, "on the scheduler, not in the settle");
    cr_assert_eq(fut_is_ready(&f), 0, "settles after the cleanup ran");
    cr_assert_eq(q_run(&q), 1);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.ptr, (void *)7);
    cr_assert_eq(r.dtor, tu_dtor_count, "the destructor goes on");
    cr_assert_eq(dtors(), 0);
    fut_result_drop(&r);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, an_error_passes_through_and_the_cleanup_sees_it)
{
    fut_sched inl;
    fut_inline_init(&inl);
    cleanrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    cr_assert_eq(fut_promise_set_error(&p, ERANGE), 0);
    cr_assert_eq(atomic_load(&k.calls), 1, "inline: in the settle");
    cr_assert_eq(k.err, ERANGE);
    cr_assert_eq(fut_get(&f).err, ERANGE);
    fut_promise_new(&p, &f); /* a dropped promise: the cleanup runs with EPIPE */
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    fut_promise_drop(&p);
    cr_assert_eq(atomic_load(&k.calls), 2);
    cr_assert_eq(k.err, FUT_EBROKEN);
    cr_assert_eq(fut_get(&f).err, FUT_EBROKEN);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, a_ready_future_on_the_inline_scheduler_runs_here_and_allocates_nothing)
{
    fut_sched inl;
    fut_inline_init(&inl);
    cleanrec k = {0};
    long before = alloc_calls();
    fut_future f = fut_ready(fut_i64(3));
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, 0);
    cr_assert_eq(alloc_calls(), before);
    cr_assert_eq(fut_get(&f).value.i64, 3, "f keeps its value");
    f = fut_ready_error(EIO);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    cr_assert_eq(k.err, EIO);
    cr_assert_eq(fut_get(&f).err, EIO);
    fut_promise p; /* a settled state, producer gone: also here */
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    before = alloc_calls();
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    cr_assert_eq(atomic_load(&k.calls), 3);
    cr_assert_eq(alloc_calls(), before);
    cr_assert_eq(fut_get(&f).value.i64, 4);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, a_ready_future_on_a_queue_is_submitted_and_the_value_waits_for_it)
{
    qsched q;
    q_init(&q, 1, 0);
    cleanrec k = {0};
    fut_future f = fut_ready_ptr((void *)9, tu_dtor_count);
    cr_assert_eq(fut_finally(&f, &q.s, clean_note, &k), 0);
    cr_assert_eq(atomic_load(&k.calls), 0);
    cr_assert_eq(fut_is_ready(&f), 0);
    q_run(&q);
    cr_assert_eq(atomic_load(&k.calls), 1);
    fut_drop(&f); /* nobody takes the value: destroyed once */
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, cancelled_it_waits_for_the_producer_to_let_go_then_runs_once)
{
    qsched q;
    q_init(&q, 0, 0);
    cleanrec k = {0};
    _Atomic int hooked = 0;
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(fut_finally(&f, &q.s, clean_note, &k), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(atomic_load(&hooked), 1, "the cancel reached the producer");
    cr_assert_eq(fut_get(&f).err, ECANCELED, "the future does not wait for the cleanup");
    cr_assert_eq(q.queued, 0, "the producer still holds p: no cleanup yet");
    cr_assert_eq(atomic_load(&k.calls), 0);
    atomic_store(&k.producer_done, 1);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)1, tu_dtor_count), ECANCELED);
    cr_assert_eq(q.queued, 1, "letting go queued the cleanup");
    q_run(&q);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, ECANCELED);
    cr_assert_eq(k.saw_done, 1);
    cr_assert_eq(dtors(), 0, "the refused value is still the producer's");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, cancelled_then_the_promise_dropped_runs_it_too)
{
    fut_sched inl;
    fut_inline_init(&inl);
    cleanrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    fut_drop(&f); /* nobody holds the result either */
    cr_assert_eq(atomic_load(&k.calls), 0);
    fut_promise_drop(&p);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, dropping_the_future_is_not_a_cancel_the_cleanup_still_runs_on_settle)
{
    fut_sched inl;
    fut_inline_init(&inl);
    cleanrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    fut_drop(&f);
    cr_assert_eq(atomic_load(&k.calls), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)2, tu_dtor_count), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, 0);
    cr_assert_eq(dtors(), 1, "nobody took the value");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, a_timeout_downstream_cancels_through_it_and_the_cleanup_waits_for_the_producer)
{
    fut_manual m;
    virtual_manual(&m, 0);
    cleanrec k = {0};
    _Atomic int hooked = 0;
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    cr_assert_eq(fut_finally(&f, &m.sched, clean_note, &k), 0);
    probe pr = {0};
    fut_future g = fut_then(&f, &m.sched, p_add1, &pr);
    fut_future t = fut_timeout(&g, &m.sched, 50);
    cr_assert_eq(fut_manual_advance(&m, 50), 0);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_get(&t).err, ETIMEDOUT);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(atomic_load(&k.calls), 0, "the producer has not let go");
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(fut_manual_run_all(&m), 1);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, ECANCELED);
    cr_assert_eq(calls(&pr), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, a_future_cancelled_before_the_call_is_watched_until_its_producer_lets_go)
{
    fut_sched inl;
    fut_inline_init(&inl);
    cleanrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), 0);
    cr_assert_eq(atomic_load(&k.calls), 0, "p is still held: not yet, even inline");
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, ECANCELED);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, over_a_continuation_that_never_ran_it_runs_at_the_cancel)
{
    /* f is a then waiting on p: the cancel unlinks f's record, which will never run; p's
     * producer is p's business (attach a cleanup to p for it). */
    fut_sched inl;
    fut_inline_init(&inl);
    cleanrec k = {0};
    probe pr = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_then(&f, &inl, p_add1, &pr);
    cr_assert_eq(fut_finally(&g, &inl, clean_note, &k), 0);
    cr_assert_eq(fut_cancel(&g), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(k.err, ECANCELED);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(calls(&pr), 0);
    fut_drop(&g);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, two_cleanups_cancelled_from_the_outside_run_inner_first_after_the_producer)
{
    fut_sched inl;
    fut_inline_init(&inl);
    norder = 0;
    cleanrec inner = {.order = 1}, outer = {.order = 2};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &inner), 0);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &outer), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(norder, 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 2);
    cr_assert_eq(inner.err, ECANCELED);
    cr_assert_eq(outer.err, ECANCELED);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, a_refusing_scheduler_still_runs_it_with_the_error)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cleanrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_finally(&f, &m.sched, clean_note, &k), 0);
    fut_manual_close(&m);
    cr_assert_eq(fut_promise_set_ptr(&p, (void *)3, tu_dtor_count), 0);
    cr_assert_eq(atomic_load(&k.calls), 1, "on the settling thread");
    cr_assert_eq(k.err, FUT_ESHUTDOWN);
    cr_assert_eq(dtors(), 1, "the value was destroyed");
    cr_assert_eq(fut_get(&f).err, FUT_ESHUTDOWN);
    /* a queued cleanup given back by destroy runs too */
    fut_manual m2;
    cr_assert_eq(fut_manual_init(&m2, 0), 0);
    f = fut_ready(fut_i64(1));
    cr_assert_eq(fut_finally(&f, &m2.sched, clean_note, &k), 0);
    fut_manual_destroy(&m2);
    cr_assert_eq(atomic_load(&k.calls), 2);
    cr_assert_eq(k.err, FUT_ESHUTDOWN);
    fut_drop(&f);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_finally, bad_input_and_allocation_failure_leave_f_and_do_not_run_it)
{
    fut_sched inl, none;
    fut_inline_init(&inl);
    memset(&none, 0, sizeof none);
    cleanrec k = {0};
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_finally(NULL, &inl, clean_note, &k), EINVAL);
    fut_future e = {0};
    cr_assert_eq(fut_finally(&e, &inl, clean_note, &k), EINVAL);
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    uintptr_t tag = f.tag;
    cr_assert_eq(fut_finally(&f, NULL, clean_note, &k), EINVAL);
    cr_assert_eq(fut_finally(&f, &none, clean_note, &k), EINVAL);
    cr_assert_eq(fut_finally(&f, &inl, NULL, &k), EINVAL);
    cr_assert_eq(f.tag, tag, "left as it was");
    tu_fail_next();
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), ENOMEM);
    cr_assert_eq(f.tag, tag);
    cr_assert_eq(atomic_load(&k.calls), 0);
    fut_future spent = fut_move(&f);
    cr_assert_eq(fut_finally(&f, &inl, clean_note, &k), EINVAL, "spent");
    cr_assert_eq(fut_finally(&spent, &inl, clean_note, &k), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(5)), 0);
    cr_assert_eq(atomic_load(&k.calls), 1);
    cr_assert_eq(fut_get(&spent).value.i64, 5);
    cr_assert_eq(tu_live(), 0);
}

/* Cancels race settles from another thread: every cleanup runs exactly once, after its
 * producer's last act, and every value is destroyed once by whoever ends up with it. */
typedef struct fin_race {
    fut_promise *ps;
    cleanrec *ks;
    int *rc;
    long n;
    _Atomic int go;
} fin_race;

static void *fin_race_main(void *arg)
{
    fin_race *a = arg;
    spin_until(&a->go);
    for (long i = 0; i < a->n; i++) {
        atomic_store(&a->ks[i].producer_done, 1); /* the producer's last touch of ctx */
        a->rc[i] = fut_promise_set_ptr(&a->ps[i], (void *)(intptr_t)(i + 1), tu_dtor_count);
    }
    return NULL;
}

Test(fut_finally, cancels_racing_settles_from_another_thread_run_each_cleanup_once_after_the_producer)
{
    long n = TU_ITERS(20000);
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise *ps = calloc((size_t)n, sizeof *ps);
    fut_future *fs = calloc((size_t)n, sizeof *fs);
    cleanrec *ks = calloc((size_t)n, sizeof *ks);
    int *rc = calloc((size_t)n, sizeof *rc);
    cr_assert(ps != NULL && fs != NULL && ks != NULL && rc != NULL);
    for (long i = 0; i < n; i++) {
        cr_assert_eq(fut_promise_new(&ps[i], &fs[i]), 0);
        cr_assert_eq(fut_finally(&fs[i], &inl, clean_note, &ks[i]), 0);
    }
    fin_race a = {ps, ks, rc, n, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fin_race_main, &a), 0);
    atomic_store(&a.go, 1);
    long cancelled = 0;
    for (long i = 0; i < n; i++)
        cancelled += fut_cancel(&fs[i]) == 0;
    pthread_join(th, NULL);
    long delivered = 0, taken = 0;
    for (long i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&ks[i].calls), 1, "item %ld", i);
        cr_assert_eq(ks[i].saw_done, 1, "item %ld ran before its producer let go", i);
        delivered += rc[i] == 0;
        fut_result r = fut_get(&fs[i]);
        if (r.err == 0) {
            cr_assert_eq(r.value.ptr, (void *)(intptr_t)(i + 1));
            taken++;
            fut_result_drop(&r);
        } else {
            cr_assert_eq(r.err, ECANCELED, "item %ld", i);
        }
    }
    cr_assert_eq(taken + cancelled, n);
    cr_assert_eq(dtors(), delivered, "each delivered value destroyed once");
    cr_log_info("cancelled %ld, delivered %ld (late %ld)", cancelled, delivered, delivered - taken);
    free(ps);
    free(fs);
    free(ks);
    free(rc);
    cr_assert_eq(tu_live(), 0);
}
