/* Unit and stress tests for fut.h's "writing your own combinator" section: fut_node (an
 * output you settle and release), fut_input (one input whose fn runs exactly once),
 * fut_work; and the journey of an owned pointer through then -> then_result -> when_all
 * -> a pipeline stage, destroyed exactly once on every path that drops it. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "batch.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

static long dtors(void) { return atomic_load(&tu_dtor_calls); }

/* ---- a node for the tests: counts its callbacks ------------------------------------ */

typedef struct tnode {
    fut_node node;
    _Atomic int cancels, frees;
} tnode;

static _Atomic int g_frees; /* frees of heap tnodes (the object is gone then) */

static void tnode_cancel(fut_node *n, fut_work *w)
{
    (void)w;
    atomic_fetch_add(&((tnode *)(void *)n)->cancels, 1);
}
static void tnode_free_static(fut_node *n) { atomic_fetch_add(&((tnode *)(void *)n)->frees, 1); }
static void tnode_free_heap(fut_node *n)
{
    atomic_fetch_add(&g_frees, 1);
    free(n);
}
static const fut_node_ops static_ops = {tnode_cancel, tnode_free_static};
static const fut_node_ops heap_ops = {tnode_cancel, tnode_free_heap};
static const fut_node_ops no_free_ops = {tnode_cancel, NULL};

/* ---- an input for the tests: records what fn got ----------------------------------- */

typedef struct tin {
    fut_input in;
    _Atomic int calls;
    fut_result got;
    pthread_t thread;
} tin;

static void tin_fn(fut_input *in, fut_result r, fut_work *w)
{
    (void)w;
    tin *t = (tin *)(void *)in;
    t->got = r;
    t->thread = pthread_self();
    atomic_fetch_add(&t->calls, 1);
}

static void hook_count(void *ctx) { atomic_fetch_add((_Atomic int *)ctx, 1); }

/* ======================================================================================
 * fut_node
 * ====================================================================================== */

Test(fut_node_init, null_node_ops_or_free_is_einval)
{
    tnode t;
    cr_assert_eq(fut_node_init(NULL, &static_ops, NULL), EINVAL);
    cr_assert_eq(fut_node_init(&t.node, NULL, NULL), EINVAL);
    cr_assert_eq(fut_node_init(&t.node, &no_free_ops, NULL), EINVAL);
    cr_assert_eq(fut_node_init(&t.node, &static_ops, NULL), 0);
    fut_future f = fut_node_future(&t.node);
    fut_node_release(&t.node);
    fut_drop(&f);
}

Test(fut_node_future, a_second_call_is_einval)
{
    tnode t = {0};
    cr_assert_eq(fut_node_init(&t.node, &static_ops, NULL), 0);
    fut_future f = fut_node_future(&t.node);
    fut_future g = fut_node_future(&t.node);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    fut_future z = fut_node_future(NULL);
    cr_assert_eq(fut_get(&z).err, EINVAL);
    fut_node_release(&t.node);
    fut_drop(&f);
    cr_assert_eq(atomic_load(&t.frees), 1);
}

Test(fut_node_settle, delivers_once_then_ealready)
{
    tnode t = {0};
    cr_assert_eq(fut_node_init(&t.node, &static_ops, NULL), 0);
    fut_future f = fut_node_future(&t.node);
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_node_settle(&t.node, fut_ok(fut_i64(42)), NULL), 0);
    cr_assert_eq(fut_node_settle(&t.node, fut_ok(fut_i64(43)), NULL), EALREADY);
    cr_assert_eq(fut_node_settle(NULL, fut_ok(fut_i64(43)), NULL), EINVAL);
    fut_result r = fut_get(&f);
    cr_assert(r.err == 0 && r.value.i64 == 42);
    cr_assert_eq(atomic_load(&t.frees), 0, "the producer side still holds it");
    fut_node_release(&t.node);
    cr_assert_eq(atomic_load(&t.frees), 1);
    cr_assert_eq(atomic_load(&t.cancels), 0);
}

Test(fut_node_settle, a_pointer_with_a_destructor_reaches_the_taker_whole)
{
    tnode t = {0};
    int cell;
    fut_node_init(&t.node, &static_ops, NULL);
    fut_future f = fut_node_future(&t.node);
    cr_assert_eq(fut_node_settle(&t.node, fut_ok_ptr(&cell, tu_dtor_count), NULL), 0);
    fut_node_release(&t.node);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.value.ptr, &cell);
    cr_assert_eq(r.dtor, tu_dtor_count);
    fut_result_drop(&r);
    fut_result_drop(&r); /* a second drop does nothing */
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(atomic_load(&t.frees), 1);
}

Test(fut_node_release, unsettled_gives_a_broken_promise)
{
    tnode t = {0};
    fut_node_init(&t.node, &static_ops, NULL);
    fut_future f = fut_node_future(&t.node);
    fut_node_release(&t.node);
    cr_assert_eq(atomic_load(&t.frees), 0, "the future still holds it");
    cr_assert_eq(fut_get(&f).err, FUT_EBROKEN);
    cr_assert_eq(atomic_load(&t.frees), 1);
    fut_node_release(NULL); /* ignored */
}

Test(fut_node, cancelling_the_future_calls_cancel_once_and_refuses_the_settle)
{
    tnode t = {0};
    int cell;
    fut_node_init(&t.node, &static_ops, NULL);
    fut_future f = fut_node_future(&t.node);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    cr_assert_eq(atomic_load(&t.cancels), 1);
    fut_result r = fut_ok_ptr(&cell, tu_dtor_count);
    cr_assert_eq(fut_node_settle(&t.node, r, NULL), ECANCELED);
    cr_assert_eq(dtors(), 0, "a refused value stays the caller's");
    fut_result_drop(&r);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(atomic_load(&t.frees), 0);
    fut_node_release(&t.node);
    cr_assert_eq(atomic_load(&t.frees), 1);
}

Test(fut_node, a_value_settled_after_the_future_was_dropped_is_destroyed)
{
    tnode *t = calloc(1, sizeof *t);
    int cell;
    fut_node_init(&t->node, &heap_ops, NULL);
    fut_future f = fut_node_future(&t->node);
    fut_drop(&f);
    cr_assert_eq(fut_node_settle(&t->node, fut_ok_ptr(&cell, tu_dtor_count), NULL), 0);
    cr_assert_eq(dtors(), 1, "nobody can take it");
    fut_node_release(&t->node);
    cr_assert_eq(atomic_load(&g_frees), 1);
}

static fut_future times3(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 * 3));
}

Test(fut_node, continuations_chained_on_the_future_run_on_settle)
{
    fut_sched inl;
    fut_inline_init(&inl);
    tnode t = {0};
    fut_node_init(&t.node, &static_ops, NULL);
    fut_future f = fut_node_future(&t.node);
    fut_future g = fut_then(&f, &inl, times3, NULL);
    cr_assert_eq(fut_is_ready(&g), 0);
    cr_assert_eq(fut_node_settle(&t.node, fut_ok(fut_i64(14)), NULL), 0);
    cr_assert_eq(fut_get(&g).value.i64, 42);
    fut_node_release(&t.node);
    cr_assert_eq(atomic_load(&t.frees), 1);
}

/* ======================================================================================
 * fut_input
 * ====================================================================================== */

Test(fut_input_attach, a_ready_value_runs_fn_inside_the_call)
{
    tin t = {0};
    fut_input_init(&t.in, tin_fn);
    fut_future f = fut_ready(fut_i64(5));
    fut_input_attach(&t.in, &f, NULL);
    cr_assert_eq(atomic_load(&t.calls), 1);
    cr_assert(t.got.err == 0 && t.got.value.i64 == 5);
    cr_assert(pthread_equal(t.thread, pthread_self()));
    cr_assert_eq(fut_get(&f).err, EINVAL, "f was consumed");
    cr_assert_eq(fut_input_cancel(&t.in, NULL), EALREADY);
}

Test(fut_input_attach, empty_spent_or_null_futures_arrive_as_einval)
{
    tin a = {0}, b = {0}, c = {0};
    fut_input_init(&a.in, tin_fn);
    fut_input_init(&b.in, tin_fn);
    fut_input_init(&c.in, tin_fn);
    fut_future empty = {0}, spent = fut_ready(fut_i64(1));
    fut_drop(&spent);
    fut_input_attach(&a.in, &empty, NULL);
    fut_input_attach(&b.in, &spent, NULL);
    fut_input_attach(&c.in, NULL, NULL);
    cr_assert(atomic_load(&a.calls) == 1 && a.got.err == EINVAL);
    cr_assert(atomic_load(&b.calls) == 1 && b.got.err == EINVAL);
    cr_assert(atomic_load(&c.calls) == 1 && c.got.err == EINVAL);
}

Test(fut_input_attach, a_null_input_drops_the_future)
{
    int cell;
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_input_attach(NULL, &f, NULL);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_input_attach, a_pending_future_runs_fn_once_on_the_settling_thread_with_its_destructor)
{
    tin t = {0};
    int cell;
    fut_input_init(&t.in, tin_fn);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_input_attach(&t.in, &f, NULL);
    cr_assert_eq(atomic_load(&t.calls), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    cr_assert_eq(atomic_load(&t.calls), 1);
    cr_assert(t.got.value.ptr == &cell && t.got.dtor == tu_dtor_count);
    cr_assert_eq(dtors(), 0, "fn owns it");
    cr_assert_eq(fut_input_cancel(&t.in, NULL), EALREADY);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_input_cancel, a_linked_input_is_cancelled_upstream_and_fn_gets_ecanceled)
{
    tin t = {0};
    _Atomic int hooked = 0;
    fut_input_init(&t.in, tin_fn);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    fut_input_attach(&t.in, &f, NULL);
    cr_assert_eq(fut_input_cancel(&t.in, NULL), 0);
    cr_assert_eq(atomic_load(&t.calls), 1);
    cr_assert_eq(t.got.err, ECANCELED);
    cr_assert_eq(atomic_load(&hooked), 1, "the promise saw the cancel");
    cr_assert_eq(fut_input_cancel(&t.in, NULL), EALREADY);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(fut_input_cancel(NULL, NULL), EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_input_cancel, before_attach_is_remembered_and_the_attach_cancels_a_pending_future)
{
    tin t = {0};
    _Atomic int hooked = 0;
    fut_input_init(&t.in, tin_fn);
    cr_assert_eq(fut_input_cancel(&t.in, NULL), 0);
    cr_assert_eq(atomic_load(&t.calls), 0, "nothing to cancel yet");
    cr_assert_eq(fut_input_cancel(&t.in, NULL), EALREADY);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, hook_count, &hooked), 0);
    fut_input_attach(&t.in, &f, NULL);
    cr_assert_eq(atomic_load(&t.calls), 1);
    cr_assert_eq(t.got.err, ECANCELED);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_input_cancel, before_attach_destroys_a_ready_pointer_once)
{
    tin t = {0};
    int cell;
    fut_input_init(&t.in, tin_fn);
    fut_input_cancel(&t.in, NULL);
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_input_attach(&t.in, &f, NULL);
    cr_assert_eq(atomic_load(&t.calls), 1);
    cr_assert_eq(t.got.err, ECANCELED);
    cr_assert_eq(dtors(), 1);
}

Test(fut_input_cancel, after_the_outcome_arrived_is_ealready_and_the_value_is_fns)
{
    tin t = {0};
    int cell;
    fut_input_init(&t.in, tin_fn);
    fut_promise p;
    fut_future f;
    fut_promise_new(&p, &f);
    fut_input_attach(&t.in, &f, NULL);
    fut_promise_set_ptr(&p, &cell, tu_dtor_count);
    cr_assert_eq(fut_input_cancel(&t.in, NULL), EALREADY);
    cr_assert_eq(atomic_load(&t.calls), 1);
    cr_assert_eq(t.got.value.ptr, &cell);
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

static fut_future pass_on(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready_result(r);
}

Test(fut_input_cancel, travels_up_a_chain_to_the_promise)
{
    fut_sched inl;
    fut_inline_init(&inl);
    tin t = {0};
    _Atomic int hooked = 0;
    fut_input_init(&t.in, tin_fn);
    fut_promise p;
    fut_future f;
    fut_promise_new(&p, &f);
    fut_promise_on_cancel(&p, hook_count, &hooked);
    fut_future g = fut_then(&f, &inl, pass_on, NULL);
    fut_future h = fut_then_result(&g, &inl, pass_on, NULL);
    fut_input_attach(&t.in, &h, NULL);
    cr_assert_eq(fut_input_cancel(&t.in, NULL), 0);
    cr_assert_eq(atomic_load(&hooked), 1);
    cr_assert_eq(t.got.err, ECANCELED);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * fut_work
 * ====================================================================================== */

static fut_future count_cont(void *ctx, fut_result r)
{
    atomic_fetch_add((_Atomic int *)ctx, 1);
    return fut_ready_result(r);
}

Test(fut_work, continuations_of_a_node_settled_with_a_work_list_wait_for_its_run)
{
    fut_sched inl;
    fut_inline_init(&inl);
    tnode t = {0};
    _Atomic int ran = 0;
    fut_node_init(&t.node, &static_ops, NULL);
    fut_future f = fut_node_future(&t.node);
    fut_future g = fut_then(&f, &inl, count_cont, &ran);
    fut_work w;
    fut_work_init(&w);
    cr_assert_eq(fut_node_settle(&t.node, fut_ok(fut_i64(3)), &w), 0);
    cr_assert_eq(atomic_load(&ran), 0, "queued on w");
    fut_work_run(&w);
    cr_assert_eq(atomic_load(&ran), 1);
    fut_work_run(&w); /* empty: nothing */
    fut_work_run(NULL);
    fut_work_init(NULL);
    cr_assert_eq(atomic_load(&ran), 1);
    cr_assert_eq(fut_get(&g).value.i64, 3);
    fut_node_release(&t.node);
}

/* ======================================================================================
 * Stress: attach, settle and cancel race on one input; fn runs exactly once and every
 * value is destroyed or taken exactly once.
 * ====================================================================================== */

typedef struct race {
    fut_input in;
    _Atomic int calls, go;
    _Atomic long taken; /* values fn got (it destroys them) */
    fut_promise p;
    fut_future f;
    int64_t *cell;
} race;

static void race_fn(fut_input *in, fut_result r, fut_work *w)
{
    (void)w;
    race *x = (race *)(void *)in;
    if (r.err == 0) {
        atomic_fetch_add(&x->taken, 1);
        fut_result_drop(&r); /* destroys the cell: counted as a destructor call */
    }
    atomic_fetch_add(&x->calls, 1);
}

static void *race_settler(void *arg)
{
    race *x = arg;
    while (!atomic_load(&x->go))
        sched_yield();
    int rc = fut_promise_set_ptr(&x->p, x->cell, tu_dtor_free);
    if (rc != 0)
        tu_dtor_free(x->cell); /* cancelled first: the value stayed ours */
    return NULL;
}

static void *race_canceller(void *arg)
{
    race *x = arg;
    while (!atomic_load(&x->go))
        sched_yield();
    for (int i = 0; i < 3; i++)
        fut_input_cancel(&x->in, NULL);
    return NULL;
}

Test(fut_input_stress, attach_settle_and_cancel_race_fn_runs_once_and_every_value_is_destroyed_once)
{
    long iters = TU_ITERS(3000);
    long before = dtors();
    long taken = 0;
    for (long i = 0; i < iters; i++) {
        race *x = calloc(1, sizeof *x);
        x->cell = malloc(sizeof *x->cell);
        fut_input_init(&x->in, race_fn);
        cr_assert_eq(fut_promise_new(&x->p, &x->f), 0);
        pthread_t a, b;
        pthread_create(&a, NULL, race_settler, x);
        pthread_create(&b, NULL, race_canceller, x);
        atomic_store(&x->go, 1);
        fut_input_attach(&x->in, &x->f, NULL); /* races both */
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        cr_assert_eq(atomic_load(&x->calls), 1, "iteration %ld: fn ran %d times", i, atomic_load(&x->calls));
        taken += atomic_load(&x->taken);
        free(x);
    }
    cr_assert_eq(dtors() - before, iters, "every cell destroyed exactly once (%ld taken by fn)", taken);
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * An owned pointer's journey: then -> then_result -> when_all -> a pipeline stage.
 * Whatever drops it, its destructor runs exactly once; whoever takes it owns it.
 * ====================================================================================== */

typedef enum { J_TAKE, J_DROP, J_CANCEL, J_STAGE_FAILS, J_SIBLING_FAILS, J_DROP_MIDWAY } jend;

static fut_future stage_pass(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready_result(r); /* the block (and the pointer in it) goes on */
}

static fut_future stage_fail(void *ctx, fut_result r)
{
    (void)ctx;
    fut_result_drop(&r); /* the stage owns what it got: it lets it go */
    return fut_ready_error(EDOM);
}

static void journey(jend how)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    int64_t *cell = malloc(sizeof *cell);
    *cell = 7;
    fut_promise p, q;
    fut_future f, other;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_new(&q, &other), 0);
    fut_future g = fut_then(&f, &inl, pass_on, NULL);
    fut_future h = fut_then_result(&g, &m.sched, pass_on, NULL); /* queued: runs later */
    if (how == J_DROP_MIDWAY) {
        fut_drop(&h);
        fut_drop(&other);
        fut_promise_drop(&q);
        cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
        fut_manual_run_all(&m);
        fut_manual_destroy(&m);
        return;
    }
    fut_future both[2] = {h, other};
    fut_future all = fut_when_all(both, 2);
    fut_stage st = {&inl, how == J_STAGE_FAILS ? stage_fail : stage_pass, NULL};
    fut_pipeline pl;
    cr_assert_eq(fut_pipeline_init(&pl, &st, 1, 0), 0);
    fut_future out = fut_pipeline_push(&pl, &all);
    cr_assert_eq(fut_promise_set_ptr(&p, cell, tu_dtor_free), 0);
    if (how == J_SIBLING_FAILS)
        cr_assert_eq(fut_promise_set_error(&q, EIO), 0);
    else
        cr_assert_eq(fut_promise_set(&q, fut_i64(1)), 0);
    if (how == J_CANCEL)
        fut_cancel(&out);
    fut_manual_run_all(&m);
    if (how == J_TAKE) {
        fut_result r = fut_get(&out);
        cr_assert_eq(r.err, 0);
        fut_result *v = r.value.ptr;
        cr_assert_eq(*(int64_t *)v[0].value.ptr, 7);
        cr_assert_eq(v[0].dtor, tu_dtor_free, "the destructor travelled");
        cr_assert_eq(v[1].value.i64, 1);
        cr_assert_eq(dtors(), 0);
        fut_result_drop(&r); /* the block's destructor: the block and the pointer in it */
    } else if (how == J_STAGE_FAILS) {
        cr_assert_eq(fut_get(&out).err, EDOM);
    } else if (how == J_SIBLING_FAILS) {
        cr_assert_eq(fut_get(&out).err, EIO);
    } else if (how == J_CANCEL) {
        cr_assert_eq(fut_get(&out).err, ECANCELED);
    } else {
        fut_drop(&out);
    }
    cr_assert_eq(fut_pipeline_destroy(&pl), 0);
    fut_manual_destroy(&m);
}

static void journey_check(jend how)
{
    journey(how);
    cr_assert_eq(dtors(), 1, "path %d: the pointer's destructor ran %ld times", (int)how, dtors());
    cr_assert_eq(tu_live(), 0);
}

Test(fut_result_journey, taken_at_the_end_by_the_blocks_destructor) { journey_check(J_TAKE); }
Test(fut_result_journey, dropped_at_the_end) { journey_check(J_DROP); }
Test(fut_result_journey, cancelled_at_the_end) { journey_check(J_CANCEL); }
Test(fut_result_journey, dropped_by_a_failing_stage) { journey_check(J_STAGE_FAILS); }
Test(fut_result_journey, dropped_when_a_sibling_fails_the_when_all) { journey_check(J_SIBLING_FAILS); }
Test(fut_result_journey, dropped_midway_before_the_when_all) { journey_check(J_DROP_MIDWAY); }

static void count_free(void *p) { (*(int *)p)++; }

/* NULL is ignored by the three calls that return nothing; an input without fn (made by
 * hand, zeroed) drops what it is given. */
Test(fut_input_init, null_input_and_null_work_lists_are_ignored)
{
    fut_input_init(NULL, tin_fn);
    fut_work_init(NULL);
    fut_work_run(NULL);
    fut_input zeroed;
    fut_input_init(&zeroed, NULL);
    int freed = 0;
    fut_future f = fut_ready_ptr(&freed, count_free);
    fut_input_attach(&zeroed, &f, NULL);
    cr_assert_eq(freed, 1, "an input without fn destroys the value it drops");
    cr_assert_eq(fut_get(&f).err, EINVAL, "f was consumed");
    cr_assert_eq(fut_input_cancel(NULL, NULL), EINVAL);
}
