/* Unit and stress tests for workers.h: bad input, every task runs exactly once (spawn,
 * raw submit, submit_many, continuations), the bound, both shutdown modes, stealing,
 * may_inline, the start/exit hooks, allocation failure in init. Waits for a condition
 * are bounded (WAIT_S) and report a hang as a failure; nothing asserts on time. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "workers.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

enum { WAIT_S = 60 };

/* Spins (yielding) until *flag >= want; fails the test after WAIT_S seconds. */
static void wait_for(_Atomic long *flag, long want, const char *what)
{
    uint64_t t0 = fut_now_ns();
    while (atomic_load(flag) < want) {
        cr_assert(fut_now_ns() - t0 < (uint64_t)WAIT_S * 1000000000u, "waited %d s for %s (%ld of %ld)",
                  WAIT_S, what, atomic_load(flag), want);
        sched_yield();
    }
}

/* A raw task that counts its runs and remembers its err and worker. */
typedef struct rtask {
    fut_task t;
    _Atomic int runs;
    int err;
    int worker;
    fut_workers *w;
    _Atomic long *done;
} rtask;

static void rtask_run(fut_task *t, int err)
{
    rtask *r = (rtask *)(void *)t;
    r->err = err;
    r->worker = fut_workers_self(r->w);
    atomic_fetch_add(&r->runs, 1);
    if (r->done != NULL)
        atomic_fetch_add(r->done, 1);
}

static rtask *rtasks(size_t n, fut_workers *w, _Atomic long *done)
{
    rtask *r = calloc(n, sizeof *r);
    cr_assert_not_null(r);
    for (size_t i = 0; i < n; i++) {
        r[i].t.run = rtask_run;
        r[i].w = w;
        r[i].done = done;
        r[i].worker = -2;
    }
    return r;
}

/* A gate: a task that blocks its worker until opened. */
typedef struct gate {
    fut_task t;
    _Atomic long entered;
    _Atomic int open;
} gate;

static void gate_run(fut_task *t, int err)
{
    (void)err;
    gate *g = (gate *)(void *)t;
    atomic_store(&g->entered, 1);
    uint64_t t0 = fut_now_ns();
    /* Bounded too, but at three times WAIT_S: a test's own wait_for fails first, so a
     * gate that opens by itself never passes for the thing a test waits for. */
    while (!atomic_load(&g->open) && fut_now_ns() - t0 < 3 * (uint64_t)WAIT_S * 1000000000u)
        sched_yield();
}

static void gate_init(gate *g)
{
    memset(g, 0, sizeof *g);
    g->t.run = gate_run;
}

/* A one-worker pool (with that bound) whose worker is blocked in g: what is submitted
 * next stays queued until g opens. */
static void start_blocked(fut_workers *w, gate *g, size_t bound)
{
    cr_assert_eq(fut_workers_init(w, &(fut_workers_config){.threads = 1, .bound = bound}), 0);
    gate_init(g);
    cr_assert_eq(fut_sched_submit(&w->sched, &g->t), 0);
    wait_for(&g->entered, 1, "the gate to block the worker"); /* taken: no longer queued */
}

/* ---- bad input ---------------------------------------------------------------------- */

Test(fut_workers, init_null_pool_null_config_or_zero_threads_is_einval)
{
    fut_workers w;
    fut_workers_config c = {.threads = 1};
    cr_assert_eq(fut_workers_init(NULL, &c), EINVAL);
    cr_assert_eq(fut_workers_init(&w, NULL), EINVAL);
    c.threads = 0;
    cr_assert_eq(fut_workers_init(&w, &c), EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_workers, shutdown_null_zeroed_twice_or_bad_how_is_einval)
{
    fut_workers w;
    memset(&w, 0, sizeof w);
    cr_assert_eq(fut_workers_shutdown(NULL, FUT_WORKERS_DRAIN), EINVAL);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), EINVAL);
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    cr_assert_eq(fut_workers_shutdown(&w, 7), EINVAL);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_workers, a_shut_down_pool_refuses_submits_with_einval_and_runs_them_once)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 1}), 0);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    rtask *r = rtasks(3, &w, NULL);
    cr_assert_eq(fut_sched_submit(&w.sched, &r[0].t), EINVAL);
    cr_assert_eq(atomic_load(&r[0].runs), 1, "fut_sched_submit runs a refused task with its error");
    cr_assert_eq(r[0].err, EINVAL);
    r[1].t.next = &r[2].t;
    cr_assert_eq(fut_sched_submit_many(&w.sched, &r[1].t, 2), 0);
    cr_assert(atomic_load(&r[1].runs) == 1 && atomic_load(&r[2].runs) == 1);
    cr_assert(r[1].err == EINVAL && r[2].err == EINVAL);
    fut_future f = fut_spawn(&w.sched, NULL, NULL);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    free(r);
    cr_assert_eq(tu_live(), 0);
}

typedef struct self_stop {
    fut_task t;
    fut_workers *w;
    int rc;
    _Atomic long done;
} self_stop;

static void self_stop_run(fut_task *t, int err)
{
    (void)err;
    self_stop *s = (self_stop *)(void *)t;
    s->rc = fut_workers_shutdown(s->w, FUT_WORKERS_DRAIN);
    atomic_store(&s->done, 1);
}

Test(fut_workers, shutdown_on_its_own_worker_is_edeadlk_and_does_nothing)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 1}), 0);
    self_stop s = {.t.run = self_stop_run, .w = &w, .rc = -1};
    atomic_init(&s.done, 0);
    cr_assert_eq(fut_sched_submit(&w.sched, &s.t), 0);
    wait_for(&s.done, 1, "the task to run");
    cr_assert_eq(s.rc, EDEADLK);
    rtask *r = rtasks(1, &w, NULL);
    cr_assert_eq(fut_sched_submit(&w.sched, &r[0].t), 0, "the pool still runs");
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(atomic_load(&r[0].runs), 1);
    free(r);
    cr_assert_eq(tu_live(), 0);
}

/* ---- every task exactly once ------------------------------------------------------- */

typedef struct job {
    fut_workers *w;
    int64_t in;
    _Atomic int runs;
} job;

static fut_future job_run(void *ctx, fut_result r)
{
    (void)r;
    job *j = ctx;
    atomic_fetch_add(&j->runs, 1);
    if (fut_workers_self(j->w) < 0)
        return fut_ready_error(EPROTO);
    return fut_ready(fut_i64(j->in * j->in));
}

static fut_future plus_one(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

static void spawn_and_chain(unsigned threads, size_t n)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = threads}), 0);
    cr_assert_eq(w.sched.workers, threads);
    job *j = calloc(n, sizeof *j);
    fut_future *f = calloc(n, sizeof *f);
    cr_assert(j != NULL && f != NULL);
    for (size_t i = 0; i < n; i++) {
        j[i].w = &w;
        j[i].in = (int64_t)i;
        fut_future s = fut_spawn(&w.sched, job_run, &j[i]);
        f[i] = fut_then(&s, &w.sched, plus_one, NULL);
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        fut_result r = fut_get(&f[i]);
        if (r.err != 0 || r.value.i64 != (int64_t)(i * i) + 1 || atomic_load(&j[i].runs) != 1)
            bad++;
    }
    cr_assert_eq(bad, 0, "%zu of %zu jobs gave a wrong value or did not run exactly once", bad, n);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    free(j);
    free(f);
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0, "%ld allocations left", tu_live());
}

Test(fut_workers, spawned_jobs_and_their_continuations_run_once_on_workers_1_thread)
{
    spawn_and_chain(1, 2000);
}

Test(fut_workers, spawned_jobs_and_their_continuations_run_once_on_workers_4_threads)
{
    spawn_and_chain(4, 20000);
}

Test(fut_workers, submit_many_hands_over_a_list_and_each_task_runs_once_on_a_worker)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 3}), 0);
    _Atomic long done;
    atomic_init(&done, 0);
    size_t n = 1000;
    rtask *r = rtasks(n, &w, &done);
    for (size_t i = 0; i + 1 < n; i++)
        r[i].t.next = &r[i + 1].t;
    cr_assert_eq(fut_sched_submit_many(&w.sched, &r[0].t, n), n);
    wait_for(&done, (long)n, "the list to run");
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&r[i].runs), 1, "task %zu ran %d times", i, atomic_load(&r[i].runs));
        cr_assert_eq(r[i].err, 0);
        cr_assert_geq(r[i].worker, 0, "task %zu ran off the workers", i);
    }
    free(r);
    cr_assert_eq(tu_live(), 0);
}

/* ---- the bound ---------------------------------------------------------------------- */

Test(fut_workers, the_bound_refuses_with_eagain_and_submit_many_takes_what_fits)
{
    fut_workers w;
    gate g;
    start_blocked(&w, &g, 4);
    _Atomic long done;
    atomic_init(&done, 0);
    rtask *r = rtasks(10, &w, &done);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(fut_sched_submit(&w.sched, &r[i].t), 0);
    for (int i = 2; i < 6; i++)
        r[i].t.next = i < 5 ? &r[i + 1].t : NULL;
    /* Room for 2 of the 4: the first two go, the other two are refused (run with EAGAIN). */
    cr_assert_eq(fut_sched_submit_many(&w.sched, &r[2].t, 4), 2);
    cr_assert(atomic_load(&r[4].runs) == 1 && r[4].err == EAGAIN);
    cr_assert(atomic_load(&r[5].runs) == 1 && r[5].err == EAGAIN);
    cr_assert_eq(w.sched.submit(&w.sched, &r[6].t), EAGAIN, "full");
    cr_assert_eq(atomic_load(&r[6].runs), 0, "a raw refusal leaves the task to the caller");
    atomic_store(&g.open, 1);
    wait_for(&done, 6, "the queued four and the two refused");
    cr_assert_eq(fut_sched_submit(&w.sched, &r[7].t), 0, "room again once taken");
    wait_for(&done, 7, "the last one");
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    for (int i = 0; i < 4; i++)
        cr_assert(atomic_load(&r[i].runs) == 1 && r[i].err == 0, "task %d", i);
    free(r);
    cr_assert_eq(tu_live(), 0);
}

/* ---- shutdown ----------------------------------------------------------------------- */

typedef struct stopper {
    fut_workers *w;
    int how, rc;
} stopper;

static void *stopper_main(void *arg)
{
    stopper *s = arg;
    s->rc = fut_workers_shutdown(s->w, s->how);
    return NULL;
}

/* Starts s's shutdown on thread *t and returns once it has closed the queues. */
static void stop_in_background(stopper *s, pthread_t *t)
{
    cr_assert_eq(pthread_create(t, NULL, stopper_main, s), 0);
    uint64_t t0 = fut_now_ns();
    while (!atomic_load(&s->w->stopping)) { /* the queues are closed before stopping is set */
        cr_assert(fut_now_ns() - t0 < (uint64_t)WAIT_S * 1000000000u, "shutdown never closed");
        sched_yield();
    }
}

static void shutdown_with_work_queued(int how)
{
    fut_workers w;
    gate g;
    start_blocked(&w, &g, 0);
    size_t n = 200;
    rtask *r = rtasks(n, &w, NULL);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(fut_sched_submit(&w.sched, &r[i].t), 0);
    stopper s = {&w, how, -1};
    pthread_t t;
    stop_in_background(&s, &t);
    rtask late = {.t.run = rtask_run, .w = &w};
    cr_assert_eq(fut_sched_submit(&w.sched, &late.t), FUT_ESHUTDOWN, "closed: refused");
    cr_assert_eq(atomic_load(&late.runs), 1);
    atomic_store(&g.open, 1);
    pthread_join(t, NULL);
    cr_assert_eq(s.rc, 0);
    size_t ran = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&r[i].runs), 1, "task %zu ran %d times", i, atomic_load(&r[i].runs));
        if (r[i].err == 0)
            ran++;
        else if (r[i].err == FUT_ESHUTDOWN && r[i].worker == -1)
            refused++; /* on the thread that shut down */
    }
    cr_assert_eq(ran + refused, n);
    if (how == FUT_WORKERS_DRAIN)
        cr_assert_eq(ran, n, "drain ran %zu of %zu", ran, n);
    else
        cr_assert_eq(refused, n, "discard refused %zu of %zu (nothing was taken with the gate)", refused, n);
    free(r);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_workers, drain_runs_every_queued_task_once_and_refuses_later_submits)
{
    shutdown_with_work_queued(FUT_WORKERS_DRAIN);
}

Test(fut_workers, discard_refuses_every_queued_task_once_with_eshutdown)
{
    shutdown_with_work_queued(FUT_WORKERS_DISCARD);
}

Test(fut_workers, discard_settles_pending_spawns_with_eshutdown)
{
    fut_workers w;
    gate g;
    start_blocked(&w, &g, 0);
    job j[8];
    fut_future f[8];
    for (int i = 0; i < 8; i++) {
        j[i] = (job){.w = &w, .in = i};
        atomic_init(&j[i].runs, 0);
        f[i] = fut_spawn(&w.sched, job_run, &j[i]);
    }
    stopper s = {&w, FUT_WORKERS_DISCARD, -1};
    pthread_t t;
    stop_in_background(&s, &t);
    atomic_store(&g.open, 1);
    pthread_join(t, NULL);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(fut_get(&f[i]).err, FUT_ESHUTDOWN);
        cr_assert_eq(atomic_load(&j[i].runs), 0);
    }
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0);
}

/* ---- stealing, may_inline, hooks ----------------------------------------------------- */

typedef struct spawner {
    fut_task t;
    gate *g;
    rtask *r;
    size_t n;
    fut_workers *w;
    _Atomic long *queued;
} spawner;

/* On a worker: submits n tasks (to its own queue), then blocks on the gate. */
static void spawner_run(fut_task *t, int err)
{
    (void)err;
    spawner *s = (spawner *)(void *)t;
    for (size_t i = 0; i < s->n; i++)
        fut_sched_submit(&s->w->sched, &s->r[i].t);
    atomic_store(s->queued, 1);
    gate_run(&s->g->t, 0);
}

Test(fut_workers, an_idle_worker_steals_from_a_blocked_ones_queue)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    _Atomic long done, queued;
    atomic_init(&done, 0);
    atomic_init(&queued, 0);
    size_t n = 500;
    rtask *r = rtasks(n, &w, &done);
    gate g;
    gate_init(&g);
    spawner sp = {.t.run = spawner_run, .g = &g, .r = r, .n = n, .w = &w, .queued = &queued};
    cr_assert_eq(fut_sched_submit(&w.sched, &sp.t), 0);
    wait_for(&queued, 1, "the spawner");
    /* Its own worker is blocked in the gate: only stealing can run them. */
    wait_for(&done, (long)n, "the other worker to steal every task");
    int thief = r[0].worker;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(r[i].worker, thief, "task %zu ran on worker %d", i, r[i].worker);
    atomic_store(&g.open, 1);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    free(r);
    cr_assert_eq(tu_live(), 0);
}

typedef struct probe {
    fut_task t;
    fut_workers *w;
    int inl, self;
    _Atomic long done;
} probe;

static void probe_run(fut_task *t, int err)
{
    (void)err;
    probe *p = (probe *)(void *)t;
    p->inl = p->w->sched.may_inline(&p->w->sched);
    p->self = fut_workers_self(p->w);
    atomic_store(&p->done, 1);
}

Test(fut_workers, may_inline_and_self_say_whether_the_caller_is_one_of_its_workers)
{
    fut_workers w, other;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    cr_assert_eq(fut_workers_init(&other, &(fut_workers_config){.threads = 1}), 0);
    cr_assert_eq(w.sched.may_inline(&w.sched), 0);
    cr_assert_eq(fut_workers_self(&w), -1);
    cr_assert_eq(fut_workers_self(NULL), -1);
    probe p = {.t.run = probe_run, .w = &w, .inl = -1, .self = -2};
    atomic_init(&p.done, 0);
    cr_assert_eq(fut_sched_submit(&w.sched, &p.t), 0);
    wait_for(&p.done, 1, "the probe");
    cr_assert_eq(p.inl, 1);
    cr_assert(p.self == 0 || p.self == 1);
    probe q = {.t.run = probe_run, .w = &w, .inl = -1, .self = -2};
    atomic_init(&q.done, 0);
    cr_assert_eq(fut_sched_submit(&other.sched, &q.t), 0); /* asks about w from other's worker */
    wait_for(&q.done, 1, "the probe on the other pool");
    cr_assert_eq(q.inl, 0);
    cr_assert_eq(q.self, -1);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(fut_workers_shutdown(&other, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(tu_live(), 0);
}

static _Atomic int started_mask, exited_mask;

static void on_start(void *ctx, unsigned i)
{
    cr_assert_eq(ctx, (void *)&started_mask);
    atomic_fetch_add(&started_mask, 1 << (i * 4));
}

static void on_exit_hook(void *ctx, unsigned i)
{
    (void)ctx;
    atomic_fetch_add(&exited_mask, 1 << (i * 4));
}

Test(fut_workers, start_and_exit_hooks_run_once_per_worker_with_its_index)
{
    fut_workers w;
    fut_workers_config c = {.threads = 3, .on_start = on_start, .on_exit = on_exit_hook, .ctx = &started_mask};
    cr_assert_eq(fut_workers_init(&w, &c), 0);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(atomic_load(&started_mask), 0x111);
    cr_assert_eq(atomic_load(&exited_mask), 0x111);
}

Test(fut_workers, init_survives_any_allocation_failing)
{
    for (long k = 1; k <= 3; k++) {
        atomic_store(&tu_fail_at, atomic_load(&tu_calls) + k);
        fut_workers w;
        int rc = fut_workers_init(&w, &(fut_workers_config){.threads = 4});
        if (rc == 0) {
            cr_assert_gt(k, 1, "the first allocation failed and init still succeeded");
            cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
            atomic_store(&tu_fail_at, 0);
            cr_assert_eq(tu_live(), 0);
            return; /* past the last allocation init makes */
        }
        cr_assert_eq(rc, ENOMEM, "k %ld: %d", k, rc);
        cr_assert_eq(tu_live(), 0, "k %ld: init failed and left %ld allocations", k, tu_live());
    }
    cr_assert_fail("init made more than 2 allocations (the queues, the threads)");
}

/* ---- stress: several outside threads and the workers submitting at once -------------- */

typedef struct feeder {
    fut_workers *w;
    size_t n;
    int64_t sum;
    int bad;
} feeder;

static fut_future twice_then(void *ctx, fut_result r)
{
    fut_workers *w = ctx;
    /* On a worker, submit more: a continuation chained from inside the pool. */
    fut_future g = fut_ready(fut_i64(r.value.i64 * 2));
    return fut_then(&g, &w->sched, plus_one, NULL);
}

static void *feeder_main(void *arg)
{
    feeder *f = arg;
    fut_future *fs = calloc(f->n, sizeof *fs);
    for (size_t i = 0; i < f->n; i++) {
        fut_promise p;
        fut_future x;
        if (fut_promise_new(&p, &x) != 0) {
            f->bad++;
            continue;
        }
        fs[i] = fut_then(&x, &f->w->sched, twice_then, f->w);
        fut_promise_set(&p, fut_i64((int64_t)i));
    }
    for (size_t i = 0; i < f->n; i++) {
        fut_result r = fut_get(&fs[i]);
        if (r.err != 0 || r.value.i64 != (int64_t)i * 2 + 1)
            f->bad++;
        f->sum += r.value.i64;
    }
    free(fs);
    fut_cache_flush();
    return NULL;
}

Test(fut_workers, outside_threads_and_workers_submitting_at_once_lose_nothing)
{
    unsigned threads = (unsigned)TU_THREADS();
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = threads, .bound = 0}), 0);
    enum { FEEDERS = 3 };
    feeder f[FEEDERS];
    pthread_t t[FEEDERS];
    size_t n = (size_t)TU_ITERS(20000) / 2;
    for (int i = 0; i < FEEDERS; i++) {
        f[i] = (feeder){.w = &w, .n = n};
        cr_assert_eq(pthread_create(&t[i], NULL, feeder_main, &f[i]), 0);
    }
    for (int i = 0; i < FEEDERS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    int64_t want = (int64_t)n * (int64_t)n; /* sum of 2i + 1 for i < n */
    for (int i = 0; i < FEEDERS; i++) {
        cr_assert_eq(f[i].bad, 0, "feeder %d: %d wrong results", i, f[i].bad);
        cr_assert_eq(f[i].sum, want);
    }
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0, "%ld allocations left", tu_live());
}

/* ---- stress: tasks that submit more while the pool drains -------------------------- */

typedef struct tree {
    fut_workers *w;
    _Atomic long runs, refused, started;
    int depth;
    struct node *nodes;
    _Atomic long next;
} tree;

typedef struct node {
    fut_task t;
    tree *tr;
    int depth;
    _Atomic int runs;
} node;

/* Each node run submits two children (until depth), accepted or refused: either way the
 * child runs exactly once, so a full tree of 2^(depth+1) - 1 runs is the invariant. */
static void node_run(fut_task *t, int err)
{
    node *n = (node *)(void *)t;
    tree *tr = n->tr;
    atomic_fetch_add(&n->runs, 1);
    atomic_fetch_add(&tr->runs, 1);
    atomic_fetch_add(&tr->started, 1);
    if (err != 0)
        atomic_fetch_add(&tr->refused, 1);
    if (n->depth == tr->depth)
        return;
    for (int k = 0; k < 2; k++) {
        node *c = &tr->nodes[atomic_fetch_add(&tr->next, 1)];
        c->t.run = node_run;
        c->tr = tr;
        c->depth = n->depth + 1;
        fut_sched_submit(&tr->w->sched, &c->t); /* a refusal runs c here, with its error */
    }
}

Test(fut_workers, a_tree_of_tasks_submitting_while_the_pool_drains_runs_every_node_once)
{
    for (int how = FUT_WORKERS_DRAIN; how <= FUT_WORKERS_DISCARD; how++) {
        fut_workers w;
        cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = (unsigned)TU_THREADS()}), 0);
        tree tr = {.w = &w, .depth = 14};
        long total = (1L << (tr.depth + 1)) - 1;
        tr.nodes = calloc((size_t)total, sizeof *tr.nodes);
        cr_assert_not_null(tr.nodes);
        atomic_init(&tr.runs, 0);
        atomic_init(&tr.refused, 0);
        atomic_init(&tr.started, 0);
        atomic_init(&tr.next, 1);
        tr.nodes[0] = (node){.t.run = node_run, .tr = &tr, .depth = 0};
        cr_assert_eq(fut_sched_submit(&w.sched, &tr.nodes[0].t), 0);
        wait_for(&tr.started, total / 8, "the tree to grow"); /* shut down mid-tree */
        cr_assert_eq(fut_workers_shutdown(&w, how), 0);
        cr_assert_eq(atomic_load(&tr.runs), total, "%s: %ld of %ld nodes ran",
                     how == FUT_WORKERS_DRAIN ? "drain" : "discard", atomic_load(&tr.runs), total);
        for (long i = 0; i < total; i++)
            cr_assert_eq(atomic_load(&tr.nodes[i].runs), 1, "node %ld ran %d times", i,
                         atomic_load(&tr.nodes[i].runs));
        cr_log_info("%s: %ld of %ld nodes refused", how == FUT_WORKERS_DRAIN ? "drain" : "discard",
                    atomic_load(&tr.refused), total);
        free(tr.nodes);
        cr_assert_eq(tu_live(), 0);
    }
}

/* ---- timers: fut_delay and fut_timeout on the pool ------------------------------------ */

static fut_workers *where_pool;
static fut_future note_worker(void *ctx, fut_result r)
{
    *(int *)ctx = fut_workers_self(where_pool);
    return fut_ready_result(r);
}

Test(fut_workers_timers, a_delay_settles_and_its_continuation_runs_on_a_worker)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    where_pool = &w;
    int worker = -2;
    fut_future d = fut_delay(&w.sched, 1000000u); /* 1 ms */
    fut_future g = fut_then(&d, &w.sched, note_worker, &worker);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 0);
    cr_assert(worker == 0 || worker == 1, "ran on worker %d", worker);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_workers_timers, a_timeout_fires_with_etimedout_and_cancels_upstream)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_timeout(&f, &w.sched, 2000000u); /* 2 ms */
    cr_assert_eq(fut_get(&g).err, ETIMEDOUT);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_workers_timers, a_value_before_the_deadline_wins_and_takes_the_timer_back)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future g = fut_timeout(&f, &w.sched, 3600ull * 1000000000u); /* an hour */
    cr_assert_eq(fut_promise_set(&p, fut_i64(6)), 0);
    cr_assert_eq(fut_get(&g).value.i64, 6);
    pthread_mutex_lock(&w.timer_lock);
    cr_assert_null(w.timers, "taken back");
    pthread_mutex_unlock(&w.timer_lock);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(tu_live(), 0);
}

/* A raw timer: counts its runs, notes its id in a shared log. */
typedef struct wtimer {
    fut_timer tm;
    int id, err;
    _Atomic int runs;
    int *log;
    _Atomic int *nlog;
} wtimer;

static void wtimer_run(fut_task *t, int err)
{
    wtimer *x = FUT_CONTAINER_OF(t, wtimer, tm.task);
    x->err = err;
    x->log[atomic_fetch_add(x->nlog, 1)] = x->id;
    atomic_fetch_add(&x->runs, 1);
}

Test(fut_workers_timers, raw_timers_come_due_in_deadline_order_on_one_worker)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 1}), 0);
    enum { N = 6 };
    int log[N];
    _Atomic int nlog = 0;
    wtimer t[N];
    uint64_t base = fut_now_ns() + 3000000u;
    uint64_t offs[N] = {5, 1, 4, 1, 3, 2}; /* ms; equal ones keep submit order */
    int want[N] = {1, 3, 5, 4, 2, 0};
    for (int i = 0; i < N; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].id = i;
        t[i].err = -1;
        t[i].log = log;
        t[i].nlog = &nlog;
        t[i].tm.task.run = wtimer_run;
        t[i].tm.deadline_ns = base + offs[i] * 1000000u;
    }
    /* The earliest is 4 ms ahead: all are in before any is due (were one late, the
     * order would still hold, as each comes due after those before it). */
    for (int i = 0; i < N; i++)
        cr_assert_eq(w.sched.submit_at(&w.sched, &t[i].tm), 0);
    uint64_t t0 = fut_now_ns();
    while (atomic_load(&nlog) < N) {
        cr_assert(fut_now_ns() - t0 < (uint64_t)WAIT_S * 1000000000u, "timers did not come due");
        sched_yield();
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(log[i], want[i], "position %d", i);
        cr_assert_eq(t[want[i]].err, 0);
        cr_assert_eq(atomic_load(&t[i].runs), 1);
    }
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
}

static void shutdown_gives_back_timers(int how)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    int log[3];
    _Atomic int nlog = 0;
    wtimer t[2];
    for (int i = 0; i < 2; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].id = i;
        t[i].log = log;
        t[i].nlog = &nlog;
        t[i].tm.task.run = wtimer_run;
        t[i].tm.deadline_ns = fut_now_ns() + 3600ull * 1000000000u;
        cr_assert_eq(w.sched.submit_at(&w.sched, &t[i].tm), 0);
    }
    cr_assert_eq(w.sched.cancel_timer(&w.sched, &t[1].tm), 0);
    cr_assert_eq(w.sched.cancel_timer(&w.sched, &t[1].tm), EALREADY);
    fut_future d = fut_delay(&w.sched, 3600ull * 1000000000u);
    cr_assert_eq(fut_workers_shutdown(&w, how), 0);
    cr_assert_eq(atomic_load(&t[0].runs), 1);
    cr_assert_eq(t[0].err, FUT_ESHUTDOWN);
    cr_assert_eq(atomic_load(&t[1].runs), 0, "taken back: never runs");
    cr_assert_eq(fut_get(&d).err, FUT_ESHUTDOWN);
    cr_assert_eq(w.sched.submit_at(&w.sched, &t[1].tm), EINVAL, "shut down");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_workers_timers, drain_gives_back_timers_not_yet_due_with_eshutdown_once)
{
    shutdown_gives_back_timers(FUT_WORKERS_DRAIN);
}

Test(fut_workers_timers, discard_gives_back_timers_not_yet_due_with_eshutdown_once)
{
    shutdown_gives_back_timers(FUT_WORKERS_DISCARD);
}

Test(fut_workers_timers, a_zeroed_pool_refuses_timers_with_einval)
{
    fut_workers w;
    memset(&w, 0, sizeof w);
    fut_future d = fut_delay(&w.sched, 1);
    cr_assert_eq(fut_get(&d).err, ENOTSUP, "a zeroed pool has no submit_at");
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 1}), 0);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    d = fut_delay(&w.sched, 1);
    cr_assert_eq(fut_get(&d).err, EINVAL, "shut down");
    cr_assert_eq(tu_live(), 0);
}

/* Timeouts of 0-2 ms racing values settled by another thread: each result is its value
 * or ETIMEDOUT, once, and every delivered value is destroyed exactly once. */
typedef struct wrace {
    fut_promise *ps;
    int *rc;
    long n;
} wrace;

static void *wrace_main(void *arg)
{
    wrace *a = arg;
    for (long i = 0; i < a->n; i++) {
        if (i % 64 == 0)
            sched_yield(); /* spread the settles over the deadlines */
        a->rc[i] = fut_promise_set_ptr(&a->ps[i], (void *)(intptr_t)(i + 1), tu_dtor_count);
    }
    return NULL;
}

Test(fut_workers_timers, values_racing_deadlines_settle_each_once_and_lose_nothing)
{
    long n = TU_ITERS(4000);
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = (unsigned)TU_THREADS()}), 0);
    fut_promise *ps = calloc((size_t)n, sizeof *ps);
    fut_future *gs = calloc((size_t)n, sizeof *gs);
    int *rc = calloc((size_t)n, sizeof *rc);
    cr_assert(ps != NULL && gs != NULL && rc != NULL);
    for (long i = 0; i < n; i++) {
        fut_future f;
        cr_assert_eq(fut_promise_new(&ps[i], &f), 0);
        gs[i] = fut_timeout(&f, &w.sched, (uint64_t)(i % 2000) * 1000u); /* 0-2 ms */
    }
    wrace a = {ps, rc, n};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, wrace_main, &a), 0);
    pthread_join(th, NULL);
    long values = 0, timedout = 0, delivered = 0;
    for (long i = 0; i < n; i++) {
        fut_result r = fut_get(&gs[i]);
        if (rc[i] == 0)
            delivered++;
        else
            cr_assert_eq(rc[i], ECANCELED, "item %ld", i);
        if (r.err == 0) {
            cr_assert_eq(r.value.ptr, (void *)(intptr_t)(i + 1));
            values++;
            fut_result_drop(&r);
        } else {
            cr_assert_eq(r.err, ETIMEDOUT, "item %ld: %d", i, r.err);
            timedout++;
        }
    }
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(values + timedout, n);
    cr_assert_eq(atomic_load(&tu_dtor_calls), delivered, "each delivered value destroyed once");
    cr_log_info("values %ld, timed out %ld, delivered but late %ld", values, timedout, delivered - values);
    free(ps);
    free(gs);
    free(rc);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_workers_timers, an_earlier_timer_wakes_a_timer_thread_asleep_on_a_later_one)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 1}), 0);
    fut_future late = fut_delay(&w.sched, 3600ull * 1000000000u);
    fut_future first = fut_delay(&w.sched, 1000000u);
    cr_assert_eq(fut_get(&first).err, 0); /* the thread ran: now it sleeps an hour */
    fut_future soon = fut_delay(&w.sched, 1000000u);
    /* Bounded: a missing wake-up is a failure after WAIT_S, not a hang. */
    cr_assert_eq(fut_wait_for(&soon, (uint64_t)WAIT_S * 1000000000u), 0, "not woken for the earlier timer");
    cr_assert_eq(fut_get(&soon).err, 0);
    cr_assert_eq(fut_is_ready(&late), 0);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(fut_get(&late).err, FUT_ESHUTDOWN);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_cancelled: a job sees that its future was cancelled ----------------------- */

typedef struct polljob {
    _Atomic int started, saw_cancel, before;
} polljob;

static fut_future poll_job(void *ctx, fut_result r)
{
    (void)r;
    polljob *j = ctx;
    atomic_store(&j->before, fut_cancelled());
    atomic_store(&j->started, 1);
    uint64_t t0 = fut_now_ns();
    while (!fut_cancelled() && fut_now_ns() - t0 < (uint64_t)WAIT_S * 1000000000u)
        sched_yield();
    atomic_store(&j->saw_cancel, fut_cancelled());
    return fut_ready(fut_i64(1)); /* unwanted: dropped */
}

Test(fut_cancelled, a_spawned_job_sees_a_cancel_from_another_thread)
{
    cr_assert_eq(fut_cancelled(), 0, "outside a continuation");
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    polljob j = {0};
    fut_future f = fut_spawn(&w.sched, poll_job, &j);
    while (!atomic_load(&j.started))
        sched_yield();
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0); /* the job has returned */
    cr_assert_eq(atomic_load(&j.before), 0);
    cr_assert_eq(atomic_load(&j.saw_cancel), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cancelled, a_timeout_downstream_reaches_the_job)
{
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    polljob j = {0};
    fut_future f = fut_spawn(&w.sched, poll_job, &j);
    fut_future g = fut_then(&f, &w.sched, note_worker, &(int){0});
    g = fut_timeout(&g, &w.sched, 2000000u);
    cr_assert_eq(fut_get(&g).err, ETIMEDOUT);
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(atomic_load(&j.saw_cancel), 1, "the cancel walked up the chain to the job");
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut_finally: a request's memory freed once its job has let go ------------------ */

/* A request as a server holds it: the job writes into it until its last act, the
 * cleanup frees it. Under AddressSanitizer a cleanup that ran while the job still ran
 * is a use after free; everywhere, a job that started must be done when the cleanup
 * sees it (a job cancelled while still queued never starts: that is the early out). */
typedef struct req {
    _Atomic int started, done;
    long work;
} req;

static _Atomic long cleaned, early, never_ran;

static fut_future req_job(void *ctx, fut_result r)
{
    (void)r;
    req *q = ctx;
    atomic_store(&q->started, 1);
    uint64_t t0 = fut_now_ns(), len = (uint64_t)(q->work % 3) * 1000000u;
    /* A third end at once, the rest (1 or 2 ms) are cut short by their deadline. */
    while (!fut_cancelled() && fut_now_ns() - t0 < len)
        q->work++;
    atomic_store(&q->done, 1); /* the job's last touch of q */
    return fut_ready(fut_i64(q->work));
}

static void req_cleanup(void *ctx, int err)
{
    (void)err;
    req *q = ctx;
    if (!atomic_load(&q->started))
        atomic_fetch_add(&never_ran, 1);
    else if (!atomic_load(&q->done))
        atomic_fetch_add(&early, 1);
    free(q);
    atomic_fetch_add(&cleaned, 1);
}

Test(fut_finally_jobs, every_request_is_freed_once_after_its_job_whatever_the_deadline_did)
{
    long n = TU_ITERS(600);
    fut_workers w;
    cr_assert_eq(fut_workers_init(&w, &(fut_workers_config){.threads = 2}), 0);
    long values = 0, timedout = 0;
    for (long i = 0; i < n; i++) {
        req *q = calloc(1, sizeof *q);
        cr_assert(q != NULL);
        q->work = i;
        fut_future f = fut_spawn(&w.sched, req_job, q);
        cr_assert_eq(fut_finally(&f, &w.sched, req_cleanup, q), 0);
        f = fut_timeout(&f, &w.sched, 500000u); /* 0.5 ms */
        fut_result r = fut_get(&f);
        if (r.err == 0)
            values++;
        else if (r.err == ETIMEDOUT)
            timedout++;
        else
            cr_assert_fail("item %ld: %d", i, r.err);
    }
    wait_for(&cleaned, n, "every cleanup, with the pool still running");
    cr_assert_eq(atomic_load(&early), 0, "a cleanup ran before its job let go");
    cr_assert_eq(fut_workers_shutdown(&w, FUT_WORKERS_DRAIN), 0);
    cr_assert_eq(atomic_load(&cleaned), n, "exactly once each");
    cr_log_info("values %ld, timed out %ld (%ld before their job started)", values, timedout,
                atomic_load(&never_ran));
    cr_assert_eq(tu_live(), 0);
}
