/* Unit tests for batch.h: the combinators over futures (when_all, when_all_settled,
 * when_any, fold), the chunked data-parallel ops (map, filter, reduce) on the inline
 * scheduler, the manual scheduler and a thread pool, task batching and pipelines. The
 * header's comments are the specification; each test names the behaviour it checks.
 * Criterion forks every test, so the counters of testutil.h start at zero.
 *
 * Tests marked "Regression" caught a bug in batch.h when they were written; they stay
 * to keep it fixed. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "batch.h"
#include "workers.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------- */

static long dtors(void) { return atomic_load(&tu_dtor_calls); }

/* Fails the k-th allocation attempt from now (1 = the next one). */
static void fail_nth(long k) { atomic_store(&tu_fail_at, atomic_load(&tu_calls) + k); }

static int64_t *cell(int64_t v)
{
    int64_t *c = malloc(sizeof *c);
    cr_assert_not_null(c);
    *c = v;
    return c;
}

static void hook_count(void *ctx) { atomic_fetch_add((_Atomic int *)ctx, 1); }

/* A destructor that records the pointers it was given (and frees nothing). */
static void *rec_seen[8];
static _Atomic int rec_count;
static void rec_dtor(void *p)
{
    int k = atomic_fetch_add(&rec_count, 1);
    if (k < 8)
        rec_seen[k] = p;
}

/* A set of promises and their futures, each promise with a cancel hook that counts. */
#define NP 8
typedef struct proms {
    fut_promise p[NP];
    fut_future f[NP];
    _Atomic int hooked[NP];
} proms;

static void proms_new(proms *x, size_t n)
{
    memset(x, 0, sizeof *x);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(fut_promise_new(&x->p[i], &x->f[i]), 0);
        cr_assert_eq(fut_promise_on_cancel(&x->p[i], hook_count, &x->hooked[i]), 0);
    }
}

static int hooked(proms *x, size_t i) { return atomic_load(&x->hooked[i]); }

/* A handle that has been consumed: fut_get on it gives EINVAL. */
static int is_spent(fut_future *f) { return fut_get(f).err == EINVAL; }

static fut_future add1(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

/* ======================================================================================
 * fut_when_all
 * ====================================================================================== */

Test(fut_when_all, values_arriving_out_of_order_land_in_input_order)
{
    proms x;
    proms_new(&x, 5);
    fut_future all = fut_when_all(x.f, 5);
    static const int order[5] = {3, 0, 4, 1, 2};
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(fut_is_ready(&all), 0, "settled after %d of 5 inputs", k);
        cr_assert_eq(fut_promise_set(&x.p[order[k]], fut_i64(100 + order[k])), 0);
    }
    cr_assert_eq(fut_is_ready(&all), 1);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    fut_result *v = r.value.ptr;
    cr_assert_not_null(v);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(v[i].value.i64, 100 + i, "slot %d holds %lld", i, (long long)v[i].value.i64);
    fut_results_free(v);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(hooked(&x, (size_t)i), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, mixes_ready_settled_and_pending_inputs)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise settled, pending, chained;
    fut_future fs[5], fc;
    fs[0] = fut_ready(fut_i64(10));
    cr_assert_eq(fut_promise_new(&settled, &fs[1]), 0);
    cr_assert_eq(fut_promise_set(&settled, fut_i64(11)), 0); /* settled state, before */
    cr_assert_eq(fut_promise_new(&pending, &fs[2]), 0);
    cr_assert_eq(fut_promise_new(&chained, &fc), 0);
    fs[3] = fut_then(&fc, &inl, add1, NULL); /* a pending continuation: 12 + 1 */
    fs[4] = fut_ready(fut_i64(14));
    fut_future all = fut_when_all(fs, 5);
    for (int i = 0; i < 5; i++)
        cr_assert(is_spent(&fs[i]), "input %d was not consumed", i);
    cr_assert_eq(fut_is_ready(&all), 0);
    cr_assert_eq(fut_promise_set(&chained, fut_i64(12)), 0);
    cr_assert_eq(fut_is_ready(&all), 0);
    cr_assert_eq(fut_promise_set(&pending, fut_i64(12)), 0);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    fut_result *v = r.value.ptr;
    static const int64_t want[5] = {10, 11, 12, 13, 14};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(v[i].value.i64, want[i], "slot %d", i);
    fut_results_free(v);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, inputs_all_ready_give_a_settled_block_at_once)
{
    fut_promise p;
    fut_future fs[3];
    fs[0] = fut_ready(fut_i64(1));
    cr_assert_eq(fut_promise_new(&p, &fs[1]), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), 0);
    fs[2] = fut_ready(fut_i64(3));
    fut_future all = fut_when_all(fs, 3);
    cr_assert_eq(fut_is_ready(&all), 1);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    fut_result *v = r.value.ptr;
    cr_assert(v[0].value.i64 == 1 && v[1].value.i64 == 2 && v[2].value.i64 == 3);
    fut_results_free(v);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, no_inputs_give_a_null_block_at_once)
{
    fut_future all = fut_when_all(NULL, 0);
    cr_assert_eq(fut_is_ready(&all), 1);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    cr_assert_null(r.value.ptr);
    fut_future none[1];
    none[0] = fut_ready(fut_i64(5)); /* not an input: n is 0 */
    all = fut_when_all(none, 0);
    r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    cr_assert_null(r.value.ptr);
    fut_results_free(NULL); /* ignored */
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, one_input_gives_a_block_of_one)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    fut_future all = fut_when_all(&f, 1);
    cr_assert(is_spent(&f));
    cr_assert_eq(fut_is_ready(&all), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(77)), 0);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(((fut_result *)r.value.ptr)[0].value.i64, 77);
    fut_results_free(r.value.ptr);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, null_array_with_inputs_is_einval)
{
    fut_future all = fut_when_all(NULL, 3);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, empty_or_spent_handle_counts_as_an_input_failing_with_einval)
{
    /* Beside a pending input: the EINVAL fails the whole at once and cancels the other. */
    proms x;
    proms_new(&x, 1);
    fut_future fs[2] = {x.f[0], {0}};
    fut_future all = fut_when_all(fs, 2);
    cr_assert_eq(fut_is_ready(&all), 1);
    cr_assert_eq(fut_get(&all).err, EINVAL);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    cr_assert_eq(hooked(&x, 0), 1);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(1)), ECANCELED);

    /* Beside ready inputs, with a spent handle. */
    fut_future spent = fut_ready(fut_i64(1));
    (void)fut_get(&spent);
    fut_future gs[2] = {fut_ready(fut_i64(2)), spent};
    all = fut_when_all(gs, 2);
    cr_assert_eq(fut_get(&all).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, first_error_settles_at_once_and_cancels_the_pending_inputs)
{
    proms x;
    proms_new(&x, 4);
    fut_future all = fut_when_all(x.f, 4);
    cr_assert_eq(fut_promise_set(&x.p[3], fut_i64(3)), 0);
    cr_assert_eq(fut_is_ready(&all), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EIO), 0);
    cr_assert_eq(fut_is_ready(&all), 1, "fail-fast: settled before the others");
    for (size_t i = 0; i < 4; i += 2) {
        cr_assert_eq(fut_promise_cancelled(&x.p[i]), 1, "input %zu not cancelled", i);
        cr_assert_eq(hooked(&x, i), 1, "hook of input %zu ran %d times", i, hooked(&x, i));
    }
    cr_assert_eq(hooked(&x, 3), 0, "an input settled before the error is not cancelled");
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), ECANCELED);
    cr_assert_eq(fut_promise_set_error(&x.p[2], EPERM), ECANCELED);
    cr_assert_eq(hooked(&x, 0), 1);
    cr_assert_eq(hooked(&x, 2), 1);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, EIO);
    cr_assert_eq(tu_live(), 0);
}

/* All inputs ready (the fast path, no node): the first error in input order wins, not
 * the last, and the values beside it are destroyed. */
Test(fut_when_all, all_ready_gives_the_first_error_in_input_order)
{
    fut_future fs[4] = {fut_ready(fut_i64(1)), fut_ready_error(EPERM), fut_ready(fut_i64(3)), fut_ready_error(EIO)};
    fut_future all = fut_when_all(fs, 4);
    cr_assert(fut_is_ready(&all), "no node: every input was ready");
    cr_assert_eq(fut_get(&all).err, EPERM);
    fut_future gs[3] = {fut_ready_error(ENOENT), fut_ready_error(EBADF), fut_ready_error(EIO)};
    all = fut_when_all(gs, 3);
    cr_assert_eq(fut_get(&all).err, ENOENT);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, all_failing_gives_the_first_error_in_settling_order)
{
    proms x;
    proms_new(&x, 3);
    fut_future all = fut_when_all(x.f, 3);
    cr_assert_eq(fut_promise_set_error(&x.p[2], EIO), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[0], EPERM), ECANCELED);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EBADF), ECANCELED);
    cr_assert_eq(fut_get(&all).err, EIO);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, cancelled_input_chain_reaches_the_promise_at_its_top)
{
    fut_sched inl;
    fut_inline_init(&inl);
    proms x;
    proms_new(&x, 2);
    fut_future fs[2];
    fs[0] = fut_then(&x.f[0], &inl, add1, NULL);
    fs[1] = x.f[1];
    fut_future all = fut_when_all(fs, 2);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EIO), 0);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    cr_assert_eq(hooked(&x, 0), 1);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(1)), ECANCELED);
    cr_assert_eq(fut_get(&all).err, EIO);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, taken_pointer_values_belong_to_the_taker)
{
    proms x;
    proms_new(&x, 2);
    int64_t *a = cell(1), *b = cell(2);
    fut_future all = fut_when_all(x.f, 2);
    cr_assert_eq(fut_promise_set_ptr(&x.p[1], b, tu_dtor_free), 0);
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], a, tu_dtor_free), 0);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    fut_result *v = r.value.ptr;
    cr_assert_eq(v[0].value.ptr, a);
    cr_assert_eq(v[1].value.ptr, b);
    fut_results_free(v);
    cr_assert_eq(dtors(), 0, "a taken value was destroyed");
    free(a);
    free(b);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, untaken_block_destroys_the_values_exactly_once)
{
    /* Dropped after it settled. */
    proms x;
    proms_new(&x, 3);
    fut_future all = fut_when_all(x.f, 3);
    for (int i = 2; i >= 0; i--)
        cr_assert_eq(fut_promise_set_ptr(&x.p[i], cell(i), tu_dtor_free), 0);
    cr_assert_eq(fut_is_ready(&all), 1);
    cr_assert_eq(dtors(), 0);
    fut_drop(&all);
    cr_assert_eq(dtors(), 3);

    /* Dropped while pending: the values are destroyed when they have all come. */
    proms_new(&x, 3);
    all = fut_when_all(x.f, 3);
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], cell(0), tu_dtor_free), 0);
    fut_drop(&all);
    cr_assert_eq(fut_promise_set_ptr(&x.p[2], cell(2), tu_dtor_free), 0);
    cr_assert_eq(fut_promise_set_ptr(&x.p[1], cell(1), tu_dtor_free), 0);
    cr_assert_eq(dtors(), 6);

    /* All ready at the call (the block is made at once), then dropped. */
    fut_future fs[2] = {fut_ready_ptr(cell(0), tu_dtor_free), fut_ready_ptr(cell(1), tu_dtor_free)};
    all = fut_when_all(fs, 2);
    fut_drop(&all);
    cr_assert_eq(dtors(), 8);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, values_that_arrived_before_a_failure_are_destroyed_exactly_once)
{
    proms x;
    proms_new(&x, 4);
    fut_future all = fut_when_all(x.f, 4);
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], cell(0), tu_dtor_free), 0);
    cr_assert_eq(fut_promise_set_ptr(&x.p[3], cell(3), tu_dtor_free), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EIO), 0);
    int64_t *late = cell(2);
    cr_assert_eq(fut_promise_set_ptr(&x.p[2], late, tu_dtor_free), ECANCELED);
    free(late); /* refused: still ours */
    cr_assert_eq(fut_get(&all).err, EIO);
    cr_assert_eq(dtors(), 2);
    cr_assert_eq(tu_live(), 0);

    /* The same when the error is a ready input found at the call. */
    proms_new(&x, 1);
    fut_future fs[3] = {fut_ready_ptr(cell(0), tu_dtor_free), x.f[0], fut_ready_error(EPERM)};
    all = fut_when_all(fs, 3);
    cr_assert_eq(fut_get(&all).err, EPERM);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    cr_assert_eq(dtors(), 3);
    fut_promise_drop(&x.p[0]);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, cancelling_the_result_cancels_every_pending_input)
{
    proms x;
    proms_new(&x, 3);
    fut_future all = fut_when_all(x.f, 3);
    cr_assert_eq(fut_promise_set_ptr(&x.p[1], cell(1), tu_dtor_free), 0);
    cr_assert_eq(fut_cancel(&all), 0);
    cr_assert_eq(fut_is_ready(&all), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[2]), 1);
    cr_assert_eq(hooked(&x, 0), 1);
    cr_assert_eq(hooked(&x, 2), 1);
    cr_assert_eq(hooked(&x, 1), 0);
    cr_assert_eq(dtors(), 1, "the value that had arrived is destroyed");
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), ECANCELED);
    cr_assert_eq(fut_promise_set_error(&x.p[2], EIO), ECANCELED);
    cr_assert_eq(fut_cancel(&all), EALREADY);
    cr_assert_eq(fut_get(&all).err, ECANCELED);
    cr_assert_eq(hooked(&x, 0), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, cancelling_a_continuation_of_the_result_reaches_the_inputs)
{
    fut_sched inl;
    fut_inline_init(&inl);
    proms x;
    proms_new(&x, 2);
    fut_future all = fut_when_all(x.f, 2);
    fut_future g = fut_then(&all, &inl, add1, NULL);
    cr_assert_eq(fut_cancel(&g), 0);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[1]), 1);
    cr_assert_eq(hooked(&x, 0) + hooked(&x, 1), 2);
    cr_assert_eq(fut_get(&g).err, ECANCELED);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), ECANCELED);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(0)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, nested_combinators_fail_fast_and_cancel_through_each_level)
{
    /* An inner input's error fails the inner when_all, which fails the outer one and
     * cancels the outer's other input - an inner when_all over a pending promise. */
    proms x;
    proms_new(&x, 3);
    fut_future inner_a[2] = {x.f[0], x.f[1]};
    fut_future inner_b[1] = {x.f[2]};
    fut_future outer_in[2] = {fut_when_all(inner_a, 2), fut_when_all(inner_b, 1)};
    fut_future outer = fut_when_all(outer_in, 2);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EIO), 0);
    cr_assert_eq(fut_is_ready(&outer), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[2]), 1, "the cancel crossed the inner when_all");
    cr_assert_eq(hooked(&x, 0) + hooked(&x, 2), 2);
    cr_assert_eq(fut_get(&outer).err, EIO);
    fut_promise_drop(&x.p[0]);
    fut_promise_drop(&x.p[2]);
    cr_assert_eq(tu_live(), 0);

    /* Cancelling a when_any over when_alls reaches every promise. */
    proms_new(&x, 3);
    fut_future ia[2] = {x.f[0], x.f[1]};
    fut_future ib[1] = {x.f[2]};
    fut_future any_in[2] = {fut_when_all(ia, 2), fut_when_all_settled(ib, 1)};
    fut_future any = fut_when_any_ok(any_in, 2);
    cr_assert_eq(fut_cancel(&any), 0);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(fut_promise_cancelled(&x.p[i]), 1, "promise %zu", i);
        cr_assert_eq(hooked(&x, i), 1);
        cr_assert_eq(fut_promise_set(&x.p[i], fut_i64(0)), ECANCELED);
    }
    cr_assert_eq(fut_get(&any).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all, allocation_failure_is_enomem_and_consumes_every_input)
{
    for (long k = 1; k <= 2; k++) { /* the node, then the block */
        proms x;
        proms_new(&x, 3);
        long base = tu_live();
        fail_nth(k);
        fut_future all = fut_when_all(x.f, 3);
        cr_assert_eq(fut_get(&all).err, ENOMEM, "failing allocation %ld", k);
        for (int i = 0; i < 3; i++)
            cr_assert(is_spent(&x.f[i]), "input %d not consumed", i);
        cr_assert_eq(tu_live(), base, "the failed call kept memory");
        long before = dtors();
        for (int i = 0; i < 3; i++)
            cr_assert_eq(fut_promise_set_ptr(&x.p[i], cell(i), tu_dtor_free), 0);
        cr_assert_eq(dtors() - before, 3, "the dropped inputs' values are destroyed");
        cr_assert_eq(tu_live(), 0);
    }
    /* All inputs ready: the block is the one allocation. */
    fut_future fs[2] = {fut_ready_ptr(cell(0), tu_dtor_free), fut_ready(fut_i64(1))};
    long before = dtors();
    tu_fail_next();
    fut_future all = fut_when_all(fs, 2);
    cr_assert_eq(fut_get(&all).err, ENOMEM);
    cr_assert(is_spent(&fs[0]) && is_spent(&fs[1]));
    cr_assert_eq(dtors() - before, 1);
    cr_assert_eq(tu_live(), 0);
}

/* Sums a fut_value[2] block it takes, and frees it. */
static fut_future sum_block(void *ctx, fut_result r)
{
    (void)ctx;
    if (r.err != 0)
        return fut_ready_error(r.err);
    fut_result *v = r.value.ptr;
    int64_t s = v[0].value.i64 + v[1].value.i64;
    fut_results_free(v);
    return fut_ready(fut_i64(s));
}

Test(fut_when_all, result_can_be_chained_and_delivers_the_block)
{
    fut_sched inl;
    fut_inline_init(&inl);
    proms x;
    proms_new(&x, 2);
    fut_future all = fut_when_all(x.f, 2);
    fut_future g = fut_then(&all, &inl, sum_block, NULL);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(1)), 0);
    cr_assert_eq(fut_is_ready(&g), 0);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(2)), 0);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 3);
    cr_assert_eq(tu_live(), 0);
}

/* Regression: A value settled into a state before the call, behind an input that
 * fails first, is never destroyed: the creator cancels its slot and lets go of the state
 * without discarding the outcome in it ("after fail-fast, values that had already
 * arrived are destroyed exactly once"; "a block nobody takes is destroyed with the
 * values in it"). */
Test(fut_when_all, a_value_settled_before_the_call_behind_an_error_is_destroyed)
{
    fut_promise early;
    fut_future fe;
    cr_assert_eq(fut_promise_new(&early, &fe), 0);
    cr_assert_eq(fut_promise_set_ptr(&early, cell(1), tu_dtor_free), 0);
    proms x;
    proms_new(&x, 1);
    fut_future fs[3] = {fut_ready_error(EIO), fe, x.f[0]}; /* x.f[0] pending: no fast path */
    fut_future all = fut_when_all(fs, 3);
    cr_assert_eq(fut_get(&all).err, EIO);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    fut_promise_drop(&x.p[0]);
    cr_assert_eq(dtors(), 1, "the settled value behind the error was not destroyed");
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * fut_when_all_settled
 * ====================================================================================== */

Test(fut_when_all_settled, gives_every_outcome_per_slot_and_waits_for_all)
{
    proms x;
    proms_new(&x, 3);
    fut_future fs[6] = {fut_ready(fut_i64(1)), fut_ready_error(EIO), x.f[0], x.f[1], {0}, x.f[2]};
    fut_future all = fut_when_all_settled(fs, 6);
    cr_assert_eq(fut_is_ready(&all), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EPERM), 0);
    cr_assert_eq(fut_is_ready(&all), 0, "no fail-fast");
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 0);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(3)), 0);
    cr_assert_eq(fut_is_ready(&all), 0);
    cr_assert_eq(fut_promise_set(&x.p[2], fut_i64(6)), 0);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    fut_result *v = r.value.ptr;
    cr_assert(v[0].err == 0 && v[0].value.i64 == 1);
    cr_assert_eq(v[1].err, EIO);
    cr_assert(v[2].err == 0 && v[2].value.i64 == 3);
    cr_assert_eq(v[3].err, EPERM);
    cr_assert_eq(v[4].err, EINVAL, "an empty handle is an input failing with EINVAL");
    cr_assert(v[5].err == 0 && v[5].value.i64 == 6);
    fut_results_free(v);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(hooked(&x, (size_t)i), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all_settled, inputs_all_ready_give_the_block_at_once)
{
    fut_promise p;
    fut_future c;
    cr_assert_eq(fut_promise_new(&p, &c), 0);
    fut_future keep = c;
    cr_assert_eq(fut_cancel(&keep), 0); /* a settled state: cancelled */
    fut_future fs[3] = {fut_ready_error(EIO), c, fut_ready(fut_i64(9))};
    fut_future all = fut_when_all_settled(fs, 3);
    cr_assert_eq(fut_is_ready(&all), 1);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    fut_result *v = r.value.ptr;
    cr_assert_eq(v[0].err, EIO);
    cr_assert_eq(v[1].err, ECANCELED);
    cr_assert(v[2].err == 0 && v[2].value.i64 == 9);
    fut_results_free(v);
    cr_assert_eq(fut_promise_set(&p, fut_i64(0)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all_settled, no_inputs_give_a_null_block_and_a_null_array_is_einval)
{
    fut_future all = fut_when_all_settled(NULL, 0);
    fut_result r = fut_get(&all);
    cr_assert_eq(r.err, 0);
    cr_assert_null(r.value.ptr);
    all = fut_when_all_settled(NULL, 2);
    cr_assert_eq(fut_get(&all).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all_settled, untaken_block_destroys_the_values_exactly_once)
{
    proms x;
    proms_new(&x, 3);
    fut_future all = fut_when_all_settled(x.f, 3);
    cr_assert_eq(fut_promise_set_ptr(&x.p[2], cell(2), tu_dtor_free), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EIO), 0);
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], cell(0), tu_dtor_free), 0);
    cr_assert_eq(fut_is_ready(&all), 1);
    fut_drop(&all);
    cr_assert_eq(dtors(), 2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all_settled, taken_pointer_values_belong_to_the_taker)
{
    proms x;
    proms_new(&x, 1);
    int64_t *a = cell(5);
    fut_future all = fut_when_all_settled(x.f, 1);
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], a, tu_dtor_free), 0);
    fut_result r = fut_get(&all);
    fut_result *v = r.value.ptr;
    cr_assert_eq(v[0].value.ptr, a);
    fut_results_free(v);
    cr_assert_eq(dtors(), 0);
    free(a);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all_settled, cancelling_the_result_cancels_the_pending_inputs)
{
    proms x;
    proms_new(&x, 2);
    fut_future all = fut_when_all_settled(x.f, 2);
    cr_assert_eq(fut_promise_set_error(&x.p[0], EIO), 0);
    cr_assert_eq(fut_cancel(&all), 0);
    cr_assert_eq(fut_promise_cancelled(&x.p[1]), 1);
    cr_assert_eq(hooked(&x, 1), 1);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(0)), ECANCELED);
    cr_assert_eq(fut_get(&all).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_all_settled, allocation_failure_is_enomem_and_consumes_every_input)
{
    proms x;
    proms_new(&x, 2);
    tu_fail_next();
    fut_future all = fut_when_all_settled(x.f, 2);
    cr_assert_eq(fut_get(&all).err, ENOMEM);
    cr_assert(is_spent(&x.f[0]) && is_spent(&x.f[1]));
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), 0);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(0)), 0);
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * fut_when_any_ok
 * ====================================================================================== */

Test(fut_when_any_ok, first_success_wins_with_its_index_and_value_and_the_others_are_cancelled)
{
    proms x;
    proms_new(&x, 4);
    fut_future any = fut_when_any_ok(x.f, 4);
    cr_assert_eq(fut_promise_set_error(&x.p[0], EIO), 0);
    cr_assert_eq(fut_is_ready(&any), 0, "an error before the success is ignored");
    cr_assert_eq(fut_promise_set_error(&x.p[3], EPERM), 0);
    cr_assert_eq(fut_is_ready(&any), 0);
    cr_assert_eq(fut_promise_set(&x.p[2], fut_i64(7)), 0);
    cr_assert_eq(fut_is_ready(&any), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[1]), 1);
    cr_assert_eq(hooked(&x, 1), 1);
    cr_assert_eq(hooked(&x, 0) + hooked(&x, 2) + hooked(&x, 3), 0);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(8)), ECANCELED);
    fut_result r = fut_get(&any);
    cr_assert_eq(r.err, 0);
    fut_any *a = r.value.ptr;
    cr_assert_eq(a->index, 2);
    cr_assert_eq(a->result.value.i64, 7);
    fut_results_free(a);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, all_failing_gives_the_error_of_the_last_to_fail)
{
    proms x;
    proms_new(&x, 3);
    fut_future any = fut_when_any_ok(x.f, 3);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EIO), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[2], EPERM), 0);
    cr_assert_eq(fut_is_ready(&any), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[0], EBADF), 0);
    cr_assert_eq(fut_get(&any).err, EBADF);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, a_ready_success_wins_at_once)
{
    proms x;
    proms_new(&x, 1);
    fut_future fs[3] = {fut_ready_error(EIO), fut_ready(fut_i64(4)), x.f[0]};
    fut_future any = fut_when_any_ok(fs, 3);
    cr_assert_eq(fut_is_ready(&any), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[0]), 1);
    fut_result r = fut_get(&any);
    cr_assert_eq(r.err, 0);
    fut_any *a = r.value.ptr;
    cr_assert_eq(a->index, 1);
    cr_assert_eq(a->result.value.i64, 4);
    fut_results_free(a);
    fut_promise_drop(&x.p[0]);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, no_inputs_is_enoent_and_a_null_array_is_einval)
{
    fut_future any = fut_when_any_ok(NULL, 0);
    cr_assert_eq(fut_get(&any).err, ENOENT);
    any = fut_when_any_ok(NULL, 2);
    cr_assert_eq(fut_get(&any).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, empty_handle_is_an_input_failing_with_einval)
{
    fut_future fs[2] = {{0}, fut_ready(fut_i64(5))};
    fut_future any = fut_when_any_ok(fs, 2);
    fut_result r = fut_get(&any);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(((fut_any *)r.value.ptr)->index, 1);
    fut_results_free(r.value.ptr);
    fut_future one[1] = {{0}};
    any = fut_when_any_ok(one, 1);
    cr_assert_eq(fut_get(&any).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, winners_pointer_value_belongs_to_the_taker)
{
    proms x;
    proms_new(&x, 2);
    int64_t *a = cell(42);
    fut_future any = fut_when_any_ok(x.f, 2);
    cr_assert_eq(fut_promise_set_ptr(&x.p[1], a, tu_dtor_free), 0);
    fut_result r = fut_get(&any);
    cr_assert_eq(r.err, 0);
    fut_any *w = r.value.ptr;
    cr_assert_eq(w->index, 1);
    cr_assert_eq(w->result.value.ptr, a);
    fut_results_free(w);
    cr_assert_eq(dtors(), 0, "the taken winner was destroyed");
    free(a);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, losers_values_are_destroyed)
{
    int64_t *a = cell(0);
    fut_future fs[3] = {fut_ready_ptr(a, tu_dtor_free), fut_ready_ptr(cell(1), tu_dtor_free),
                        fut_ready_ptr(cell(2), tu_dtor_free)};
    fut_future any = fut_when_any_ok(fs, 3);
    fut_result r = fut_get(&any);
    cr_assert_eq(r.err, 0);
    fut_any *w = r.value.ptr;
    cr_assert_eq(w->index, 0);
    cr_assert_eq(w->result.value.ptr, a);
    cr_assert_eq(dtors(), 2, "the two losers' values");
    fut_results_free(w);
    free(a);
    cr_assert_eq(tu_live(), 0);
}

/* Regression (the same leak as when_all's: a loser settled into a state before
 * the call, behind a winner found first, is let go without being destroyed). */
Test(fut_when_any_ok, a_loser_settled_before_the_call_is_destroyed)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    cr_assert_eq(fut_promise_set_ptr(&p, cell(9), tu_dtor_free), 0);
    fut_future gs[2] = {fut_ready(fut_i64(1)), f};
    fut_future any = fut_when_any_ok(gs, 2);
    fut_result r = fut_get(&any);
    cr_assert_eq(((fut_any *)r.value.ptr)->index, 0);
    fut_results_free(r.value.ptr);
    cr_assert_eq(dtors(), 1, "the loser's value was not destroyed");
    cr_assert_eq(tu_live(), 0);
}

/* Regression: The doc block: "a block nobody takes is destroyed with the values in
 * it (their destructors run)". The winner's destructor is called with the fut_any's
 * index instead of its value. */
Test(fut_when_any_ok, dropped_result_destroys_the_winners_value_once)
{
    proms x;
    proms_new(&x, 2);
    int64_t *a = cell(42);
    fut_future any = fut_when_any_ok(x.f, 2);
    cr_assert_eq(fut_promise_set_error(&x.p[0], EIO), 0);
    cr_assert_eq(fut_promise_set_ptr(&x.p[1], a, rec_dtor), 0);
    cr_assert_eq(fut_is_ready(&any), 1);
    fut_drop(&any);
    int n = atomic_load(&rec_count);
    void *seen = rec_seen[0];
    free(a); /* rec_dtor frees nothing */
    cr_assert_eq(n, 1, "destructor ran %d times", n);
    cr_assert_eq(seen, (void *)a, "destructor got %p, not the value %p", seen, (void *)a);
    cr_assert_eq(tu_live(), 0);
}

/* Regression (as above, the output dropped before the winner arrives). */
Test(fut_when_any_ok, result_dropped_before_the_win_destroys_the_winners_value_once)
{
    proms x;
    proms_new(&x, 1);
    int64_t *a = cell(42);
    fut_future any = fut_when_any_ok(x.f, 1);
    fut_drop(&any);
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], a, rec_dtor), 0);
    int n = atomic_load(&rec_count);
    void *seen = rec_seen[0];
    free(a);
    cr_assert_eq(n, 1, "destructor ran %d times", n);
    cr_assert_eq(seen, (void *)a, "destructor got %p, not the value %p", seen, (void *)a);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, cancelling_the_result_cancels_every_input)
{
    proms x;
    proms_new(&x, 3);
    fut_future any = fut_when_any_ok(x.f, 3);
    cr_assert_eq(fut_promise_set_error(&x.p[0], EIO), 0);
    cr_assert_eq(fut_cancel(&any), 0);
    cr_assert_eq(fut_promise_cancelled(&x.p[1]), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[2]), 1);
    cr_assert_eq(hooked(&x, 1) + hooked(&x, 2), 2);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(0)), ECANCELED);
    cr_assert_eq(fut_promise_set(&x.p[2], fut_i64(0)), ECANCELED);
    cr_assert_eq(fut_get(&any).err, ECANCELED);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_when_any_ok, allocation_failure_is_enomem_and_consumes_every_input)
{
    for (long k = 1; k <= 2; k++) {
        proms x;
        proms_new(&x, 2);
        fail_nth(k);
        fut_future any = fut_when_any_ok(x.f, 2);
        cr_assert_eq(fut_get(&any).err, ENOMEM);
        cr_assert(is_spent(&x.f[0]) && is_spent(&x.f[1]));
        cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), 0);
        cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(0)), 0);
        cr_assert_eq(tu_live(), 0);
    }
}

/* ======================================================================================
 * fut_fold
 * ====================================================================================== */

typedef struct foldlog {
    _Atomic int steps;
    int errs[NP];      /* the error each step got */
    int64_t accs[NP];  /* the accumulator each step got */
    pthread_t thread[NP];
    int fail_on;       /* return EDOM when the item equals this (ptr items: *cell) */
    int ptr_items;     /* items are heap cells: read and free them */
} foldlog;

static fut_result fold_digits(void *ctx, fut_result acc, fut_result item)
{
    foldlog *l = ctx;
    int k = atomic_load(&l->steps);
    if (k < NP) {
        l->errs[k] = item.err;
        l->accs[k] = acc.value.i64;
        l->thread[k] = pthread_self();
    }
    atomic_fetch_add(&l->steps, 1);
    if (item.err != 0)
        return fut_ok(fut_i64(acc.value.i64 * 10)); /* an error folds as a 0 digit */
    int64_t v = item.value.i64;
    if (l->ptr_items) {
        v = *(int64_t *)item.value.ptr;
        free(item.value.ptr); /* fn owns each item's value */
    }
    if (l->fail_on != 0 && v == l->fail_on)
        return fut_error(EDOM);
    return fut_ok(fut_i64(acc.value.i64 * 10 + v));
}

Test(fut_fold, folds_in_input_order_whatever_the_settling_order)
{
    proms x;
    proms_new(&x, 5);
    foldlog l;
    memset(&l, 0, sizeof l);
    fut_future f = fut_fold(x.f, 5, fut_ok(fut_i64(0)), fold_digits, &l);
    for (int i = 4; i >= 0; i--)
        cr_assert_eq(fut_promise_set(&x.p[i], fut_i64(i + 1)), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 12345);
    cr_assert_eq(atomic_load(&l.steps), 5);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, each_step_runs_as_soon_as_its_prefix_has_settled)
{
    proms x;
    proms_new(&x, 5);
    foldlog l;
    memset(&l, 0, sizeof l);
    fut_future f = fut_fold(x.f, 5, fut_ok(fut_i64(0)), fold_digits, &l);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(2)), 0);
    cr_assert_eq(atomic_load(&l.steps), 0, "input 0 has not settled");
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(1)), 0);
    cr_assert_eq(atomic_load(&l.steps), 2, "inputs 0 and 1 fold at once");
    cr_assert_eq(fut_promise_set(&x.p[3], fut_i64(4)), 0);
    cr_assert_eq(atomic_load(&l.steps), 2);
    cr_assert_eq(fut_promise_set(&x.p[2], fut_i64(3)), 0);
    cr_assert_eq(atomic_load(&l.steps), 4);
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_promise_set(&x.p[4], fut_i64(5)), 0);
    cr_assert_eq(atomic_load(&l.steps), 5);
    cr_assert_eq(l.accs[0], 0);
    cr_assert_eq(l.accs[1], 1);
    cr_assert_eq(l.accs[4], 1234);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.value.i64, 12345);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, an_error_from_fn_settles_at_once_and_cancels_the_inputs_not_folded)
{
    proms x;
    proms_new(&x, 4);
    foldlog l;
    memset(&l, 0, sizeof l);
    l.fail_on = 9;
    l.ptr_items = 1;
    fut_future f = fut_fold(x.f, 4, fut_ok(fut_i64(0)), fold_digits, &l);
    cr_assert_eq(fut_promise_set_ptr(&x.p[2], cell(2), tu_dtor_free), 0); /* delivered, not folded */
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], cell(1), tu_dtor_free), 0);
    cr_assert_eq(atomic_load(&l.steps), 1);
    cr_assert_eq(fut_promise_set_ptr(&x.p[1], cell(9), tu_dtor_free), 0); /* fn fails on it */
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(atomic_load(&l.steps), 2, "no step after the error");
    cr_assert_eq(fut_promise_cancelled(&x.p[3]), 1);
    cr_assert_eq(hooked(&x, 3), 1);
    cr_assert_eq(dtors(), 1, "the delivered, unfolded value is destroyed once");
    int64_t *late = cell(4);
    cr_assert_eq(fut_promise_set_ptr(&x.p[3], late, tu_dtor_free), ECANCELED);
    free(late);
    cr_assert_eq(fut_get(&f).err, EDOM);
    cr_assert_eq(dtors(), 1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, an_input_error_reaches_fn_as_an_error_result)
{
    proms x;
    proms_new(&x, 3);
    foldlog l;
    memset(&l, 0, sizeof l);
    fut_future f = fut_fold(x.f, 3, fut_ok(fut_i64(0)), fold_digits, &l);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(7)), 0);
    cr_assert_eq(fut_promise_set_error(&x.p[1], EIO), 0);
    cr_assert_eq(fut_promise_set(&x.p[2], fut_i64(8)), 0);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 708);
    cr_assert_eq(l.errs[0], 0);
    cr_assert_eq(l.errs[1], EIO);
    cr_assert_eq(l.errs[2], 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, ready_inputs_fold_at_once_with_empty_handles_as_einval)
{
    foldlog l;
    memset(&l, 0, sizeof l);
    fut_future fs[3] = {fut_ready(fut_i64(1)), {0}, fut_ready(fut_i64(3))};
    fut_future f = fut_fold(fs, 3, fut_ok(fut_i64(5)), fold_digits, &l);
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_get(&f).value.i64, 5103);
    cr_assert_eq(l.errs[1], EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, no_inputs_give_init)
{
    foldlog l;
    memset(&l, 0, sizeof l);
    fut_future f = fut_fold(NULL, 0, fut_ok(fut_i64(31)), fold_digits, &l);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 31);
    cr_assert_eq(atomic_load(&l.steps), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, null_fn_or_array_is_einval_and_the_inputs_are_consumed)
{
    proms x;
    proms_new(&x, 2);
    fut_future f = fut_fold(x.f, 2, fut_ok(fut_i64(0)), NULL, NULL);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    cr_assert(is_spent(&x.f[0]) && is_spent(&x.f[1]));
    cr_assert_eq(fut_promise_set_ptr(&x.p[0], cell(0), tu_dtor_free), 0);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(1)), 0);
    cr_assert_eq(dtors(), 1);
    foldlog l;
    memset(&l, 0, sizeof l);
    f = fut_fold(NULL, 2, fut_ok(fut_i64(0)), fold_digits, &l);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, cancelling_the_fold_cancels_the_inputs_not_folded)
{
    proms x;
    proms_new(&x, 3);
    foldlog l;
    memset(&l, 0, sizeof l);
    fut_future f = fut_fold(x.f, 3, fut_ok(fut_i64(0)), fold_digits, &l);
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(1)), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_promise_cancelled(&x.p[1]), 1);
    cr_assert_eq(fut_promise_cancelled(&x.p[2]), 1);
    cr_assert_eq(hooked(&x, 1) + hooked(&x, 2), 2);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(2)), ECANCELED);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(atomic_load(&l.steps), 1);
    fut_promise_drop(&x.p[2]);
    cr_assert_eq(tu_live(), 0);
}

typedef struct settler {
    fut_promise *p;
    int64_t v;
} settler;

static void *settle_main(void *arg)
{
    settler *s = arg;
    fut_promise_set(s->p, fut_i64(s->v));
    return NULL;
}

Test(fut_fold, steps_run_on_the_thread_that_settled_the_last_of_the_prefix)
{
    proms x;
    proms_new(&x, 2);
    foldlog l;
    memset(&l, 0, sizeof l);
    fut_future f = fut_fold(x.f, 2, fut_ok(fut_i64(0)), fold_digits, &l);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(2)), 0);
    settler s = {&x.p[0], 1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, settle_main, &s), 0);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&l.steps), 2);
    cr_assert(pthread_equal(l.thread[0], t));
    cr_assert(pthread_equal(l.thread[1], t));
    cr_assert_eq(fut_get(&f).value.i64, 12);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_fold, allocation_failure_is_enomem_and_consumes_every_input)
{
    proms x;
    proms_new(&x, 2);
    foldlog l;
    memset(&l, 0, sizeof l);
    tu_fail_next();
    fut_future f = fut_fold(x.f, 2, fut_ok(fut_i64(0)), fold_digits, &l);
    cr_assert_eq(fut_get(&f).err, ENOMEM);
    cr_assert(is_spent(&x.f[0]) && is_spent(&x.f[1]));
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), 0);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(0)), 0);
    cr_assert_eq(atomic_load(&l.steps), 0);
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * fut_map / fut_filter / fut_reduce
 * ====================================================================================== */

enum { K_INLINE, K_MANUAL, K_POOL };

typedef struct runner {
    int kind;
    fut_sched inl;
    fut_manual m;
    fut_workers tp;
    fut_sched *s;
} runner;

static void runner_open(runner *r, int kind)
{
    r->kind = kind;
    if (kind == K_INLINE) {
        fut_inline_init(&r->inl);
        r->s = &r->inl;
    } else if (kind == K_MANUAL) {
        cr_assert_eq(fut_manual_init(&r->m, 0), 0);
        r->s = &r->m.sched;
    } else {
        cr_assert_eq(fut_workers_init(&r->tp, &(fut_workers_config){.threads = 2, .bound = 1u << 16}), 0);
        r->s = &r->tp.sched;
    }
}

static fut_result runner_get(runner *r, fut_future *f)
{
    if (r->kind == K_MANUAL)
        fut_manual_run_all(&r->m);
    return fut_get(f);
}

static void runner_close(runner *r)
{
    if (r->kind == K_MANUAL) {
        cr_assert_eq(fut_manual_pending(&r->m), 0);
        fut_manual_destroy(&r->m);
    } else if (r->kind == K_POOL) {
        fut_workers_shutdown(&r->tp, FUT_WORKERS_DRAIN);
    }
}

#define BIG 100003
#define CH 100
static const size_t sizes[] = {0, 1, CH - 1, CH, CH + 1, BIG};
static const size_t chunks[] = {CH, 0};

static int32_t input_at(size_t i) { return (int32_t)((i * 2654435761u) % 1000u); }

static int32_t *make_input(size_t n)
{
    int32_t *a = malloc((n ? n : 1) * sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i++)
        a[i] = input_at(i);
    return a;
}

/* map: int32 -> int64, x * 3 + 1; counts the elements it processed. */
static void map_fn(void *ctx, const void *in, void *out, size_t count)
{
    const int32_t *a = in;
    int64_t *b = out;
    for (size_t i = 0; i < count; i++)
        b[i] = (int64_t)a[i] * 3 + 1;
    if (ctx != NULL)
        atomic_fetch_add((_Atomic size_t *)ctx, count);
}

/* filter: keeps multiples of 3. */
static size_t filter_fn(void *ctx, const void *in, void *out, size_t count)
{
    const int32_t *a = in;
    int32_t *b = out;
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (a[i] % 3 == 0)
            b[k++] = a[i];
    if (ctx != NULL)
        atomic_fetch_add((_Atomic size_t *)ctx, count);
    return k;
}

/* reduce: products of 2x2 matrices mod a prime, packed in 16-bit lanes: associative,
 * not commutative, identity I. */
#define PRIME 65521u
static uint64_t mat_pack(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return a | b << 16 | c << 32 | d << 48;
}
static uint64_t mat_get(uint64_t m, int k) { return (m >> (16 * k)) & 0xffffu; }
static uint64_t mat_mul(uint64_t x, uint64_t y)
{
    uint64_t a = mat_get(x, 0), b = mat_get(x, 1), c = mat_get(x, 2), d = mat_get(x, 3);
    uint64_t e = mat_get(y, 0), f = mat_get(y, 1), g = mat_get(y, 2), h = mat_get(y, 3);
    return mat_pack((a * e + b * g) % PRIME, (a * f + b * h) % PRIME, (c * e + d * g) % PRIME,
                    (c * f + d * h) % PRIME);
}
static uint64_t mat_of(int32_t x) { return mat_pack((uint64_t)x % PRIME, 1, 1, 0); }
static const uint64_t MAT_I = 1u | (uint64_t)1 << 48;

static fut_value reduce_chunk(void *ctx, const void *in, size_t count)
{
    const int32_t *a = in;
    uint64_t acc = MAT_I;
    for (size_t i = 0; i < count; i++)
        acc = mat_mul(acc, mat_of(a[i]));
    if (ctx != NULL)
        atomic_fetch_add((_Atomic size_t *)ctx, count);
    return fut_u64(acc);
}

static fut_value reduce_combine(void *ctx, fut_value a, fut_value b)
{
    (void)ctx;
    return fut_u64(mat_mul(a.u64, b.u64));
}

static void check_map(int kind)
{
    runner r;
    runner_open(&r, kind);
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            size_t n = sizes[k];
            int32_t *in = make_input(n);
            int64_t *out = malloc((n + 1) * sizeof *out);
            cr_assert_not_null(out);
            for (size_t i = 0; i <= n; i++)
                out[i] = INT64_MIN;
            _Atomic size_t done = 0;
            fut_future f =
                fut_map(r.s, &(fut_map_desc){.in = in, .out = out, .n = n, .in_size = sizeof *in,
                    .out_size = sizeof *out, .chunk = chunks[c], .fn = map_fn,
                    .ctx = (void *)&done});
            if (kind == K_MANUAL && n > 0) {
                cr_assert_eq(fut_is_ready(&f), 0, "n %zu: settled before run_all", n);
                cr_assert_eq(atomic_load(&done), 0);
                cr_assert_eq(out[0], INT64_MIN);
            }
            fut_result res = runner_get(&r, &f);
            cr_assert_eq(res.err, 0, "n %zu chunk %zu: err %d", n, chunks[c], res.err);
            cr_assert_eq(res.value.u64, n);
            cr_assert_eq(atomic_load(&done), n, "n %zu chunk %zu: %zu processed", n, chunks[c],
                         atomic_load(&done));
            size_t bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += out[i] != (int64_t)input_at(i) * 3 + 1;
            cr_assert_eq(bad, 0, "n %zu chunk %zu: %zu wrong", n, chunks[c], bad);
            cr_assert_eq(out[n], INT64_MIN, "wrote past the end");
            free(in);
            free(out);
        }
    }
    runner_close(&r);
    cr_assert_eq(tu_live(), 0);
}

static void check_filter(int kind)
{
    runner r;
    runner_open(&r, kind);
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            size_t n = sizes[k];
            int32_t *in = make_input(n);
            int32_t *out = malloc((n + 1) * sizeof *out);
            cr_assert_not_null(out);
            _Atomic size_t done = 0;
            fut_future f = fut_filter(r.s, &(fut_filter_desc){.in = in, .out = out, .n = n,
                .size = sizeof *in, .chunk = chunks[c], .fn = filter_fn, .ctx = (void *)&done});
            fut_result res = runner_get(&r, &f);
            cr_assert_eq(res.err, 0);
            size_t kept = 0, bad = 0;
            for (size_t i = 0; i < n; i++)
                if (input_at(i) % 3 == 0)
                    bad += out[kept++] != input_at(i);
            cr_assert_eq(res.value.u64, kept, "n %zu chunk %zu: kept %llu, want %zu", n, chunks[c],
                         (unsigned long long)res.value.u64, kept);
            cr_assert_eq(bad, 0, "n %zu chunk %zu: %zu out of order or wrong", n, chunks[c], bad);
            cr_assert_eq(atomic_load(&done), n);
            free(in);
            free(out);
        }
    }
    runner_close(&r);
    cr_assert_eq(tu_live(), 0);
}

static void check_reduce(int kind)
{
    runner r;
    runner_open(&r, kind);
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            size_t n = sizes[k];
            int32_t *in = make_input(n);
            uint64_t want = MAT_I;
            for (size_t i = 0; i < n; i++)
                want = mat_mul(want, mat_of(in[i]));
            _Atomic size_t done = 0;
            fut_future f = fut_reduce(r.s, &(fut_reduce_desc){.in = in, .n = n, .size = sizeof *in,
                .chunk = chunks[c], .fn = reduce_chunk, .combine = reduce_combine,
                .identity = fut_u64(MAT_I), .ctx = (void *)&done});
            fut_result res = runner_get(&r, &f);
            cr_assert_eq(res.err, 0);
            cr_assert_eq(res.value.u64, want, "n %zu chunk %zu: %llx != %llx", n, chunks[c],
                         (unsigned long long)res.value.u64, (unsigned long long)want);
            cr_assert_eq(atomic_load(&done), n);
            free(in);
        }
    }
    runner_close(&r);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, equals_a_serial_loop_on_the_inline_scheduler) { check_map(K_INLINE); }
Test(fut_map, equals_a_serial_loop_on_the_manual_scheduler_once_run) { check_map(K_MANUAL); }
Test(fut_map, equals_a_serial_loop_on_a_thread_pool) { check_map(K_POOL); }
Test(fut_filter, keeps_order_and_count_on_the_inline_scheduler) { check_filter(K_INLINE); }
Test(fut_filter, keeps_order_and_count_on_the_manual_scheduler_once_run) { check_filter(K_MANUAL); }
Test(fut_filter, keeps_order_and_count_on_a_thread_pool) { check_filter(K_POOL); }
Test(fut_reduce, equals_the_serial_left_fold_on_the_inline_scheduler) { check_reduce(K_INLINE); }
Test(fut_reduce, equals_the_serial_left_fold_on_the_manual_scheduler_once_run) { check_reduce(K_MANUAL); }
Test(fut_reduce, equals_the_serial_left_fold_on_a_thread_pool) { check_reduce(K_POOL); }

Test(fut_reduce, no_elements_give_the_identity)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_future f = fut_reduce(&m.sched, &(fut_reduce_desc){.in = NULL, .n = 0,
        .size = sizeof(int32_t), .fn = reduce_chunk, .combine = reduce_combine,
        .identity = fut_u64(12345)});
    cr_assert_eq(fut_is_ready(&f), 1, "nothing to schedule");
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 12345);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, no_elements_settle_at_once_with_null_arrays)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_future f = fut_map(&m.sched, &(fut_map_desc){.in = NULL, .out = NULL, .n = 0, .in_size = 4,
        .out_size = 8, .fn = map_fn});
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 0);
    f = fut_filter(&m.sched, &(fut_filter_desc){.in = NULL, .out = NULL, .n = 0, .size = 4,
        .fn = filter_fn});
    r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, bad_input_is_einval)
{
    fut_sched inl, nosubmit;
    fut_inline_init(&inl);
    memset(&nosubmit, 0, sizeof nosubmit);
    int32_t in[4] = {1, 2, 3, 4};
    int64_t out[4] = {0};
    fut_future fs[] = {
        fut_map(NULL, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = 4, .out_size = 8,
            .fn = map_fn}),
        fut_map(&nosubmit, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = 4,
            .out_size = 8, .fn = map_fn}),
        fut_map(&inl, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = 4, .out_size = 8,
            .fn = NULL}),
        fut_map(&inl, &(fut_map_desc){.in = NULL, .out = out, .n = 4, .in_size = 4, .out_size = 8,
            .fn = map_fn}),
        fut_map(&inl, &(fut_map_desc){.in = in, .out = NULL, .n = 4, .in_size = 4, .out_size = 8,
            .fn = map_fn}),
        fut_map(&inl, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = 0, .out_size = 8,
            .fn = map_fn}),
        fut_map(&inl, NULL),
        fut_map(NULL, &(fut_map_desc){.in = NULL, .out = NULL, .n = 0, .in_size = 4, .out_size = 8,
            .fn = map_fn}),
    };
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++)
        cr_assert_eq(fut_get(&fs[i]).err, EINVAL, "case %zu", i);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], 0, "a rejected call wrote out");
    cr_assert_eq(tu_live(), 0);
}

Test(fut_filter, bad_input_is_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int32_t in[4] = {3, 2, 3, 4}, out[4] = {0};
    fut_future fs[] = {
        fut_filter(NULL, &(fut_filter_desc){.in = in, .out = out, .n = 4, .size = 4,
            .fn = filter_fn}),
        fut_filter(&inl, &(fut_filter_desc){.in = in, .out = out, .n = 4, .size = 4, .fn = NULL}),
        fut_filter(&inl, &(fut_filter_desc){.in = NULL, .out = out, .n = 4, .size = 4,
            .fn = filter_fn}),
        fut_filter(&inl, &(fut_filter_desc){.in = in, .out = NULL, .n = 4, .size = 4,
            .fn = filter_fn}),
        fut_filter(&inl, &(fut_filter_desc){.in = in, .out = out, .n = 4, .size = 0,
            .fn = filter_fn}),
        fut_filter(&inl, NULL),
    };
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++)
        cr_assert_eq(fut_get(&fs[i]).err, EINVAL, "case %zu", i);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_reduce, bad_input_is_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int32_t in[4] = {1, 2, 3, 4};
    fut_future fs[] = {
        fut_reduce(NULL, &(fut_reduce_desc){.in = in, .n = 4, .size = 4, .fn = reduce_chunk,
            .combine = reduce_combine, .identity = fut_u64(MAT_I)}),
        fut_reduce(&inl, &(fut_reduce_desc){.in = in, .n = 4, .size = 4, .fn = NULL,
            .combine = reduce_combine, .identity = fut_u64(MAT_I)}),
        fut_reduce(&inl, &(fut_reduce_desc){.in = in, .n = 4, .size = 4, .fn = reduce_chunk,
            .combine = NULL, .identity = fut_u64(MAT_I)}),
        fut_reduce(&inl, &(fut_reduce_desc){.in = NULL, .n = 4, .size = 4, .fn = reduce_chunk,
            .combine = reduce_combine, .identity = fut_u64(MAT_I)}),
        fut_reduce(&inl, &(fut_reduce_desc){.in = in, .n = 4, .size = 0, .fn = reduce_chunk,
            .combine = reduce_combine, .identity = fut_u64(MAT_I)}),
        fut_reduce(&inl, &(fut_reduce_desc){.in = NULL, .n = 0, .size = 4, .fn = reduce_chunk,
            .combine = NULL, .identity = fut_u64(MAT_I)}),
        fut_reduce(&inl, NULL),
    };
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++)
        cr_assert_eq(fut_get(&fs[i]).err, EINVAL, "case %zu", i);
    cr_assert_eq(tu_live(), 0);
}

static void negate_fn(void *ctx, const void *in, void *out, size_t count)
{
    (void)ctx;
    const int32_t *a = in;
    int32_t *b = out;
    for (size_t i = 0; i < count; i++)
        b[i] = -a[i];
}

/* The description's zeros are defaults: out_size 0 is in_size, chunk 0 is automatic, and
 * the call reads the description only while it runs (a compound literal is enough). */
Test(fut_map, zero_fields_of_the_description_are_its_defaults)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 64), 0);
    int32_t in[1000], out[1000];
    for (int i = 0; i < 1000; i++) {
        in[i] = i;
        out[i] = 7;
    }
    fut_map_desc d = {.in = in, .out = out, .n = 1000, .in_size = sizeof *in, .fn = negate_fn};
    fut_future f = fut_map(&m.sched, &d);
    memset(&d, 0, sizeof d); /* no longer read */
    cr_assert_eq(fut_manual_pending(&m), 4, "1000 elements, one worker: four chunks of 256");
    fut_manual_run_all(&m);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 1000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(out[i], -i, "element %d: 4-byte outputs (out_size = in_size)", i);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, automatic_chunks_are_about_four_per_worker_and_never_under_the_minimum)
{
    static const struct {
        unsigned workers;
        size_t n, lo, hi;
    } cases[] = {
        {1, 100003, 3, 4},
        {3, 100003, 11, 12},
        {1, 1000, 3, 4},                 /* 250 < 256: 256-element chunks */
        {1, 300, 2, 2},                  /* never under the minimum */
        {1, 100, 1, 1},
        {8, FUT_MIN_CHUNK * 8, 8, 8},    /* 32 chunks would be under the minimum */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        fut_manual m;
        cr_assert_eq(fut_manual_init(&m, 0), 0);
        m.sched.workers = cases[k].workers;
        size_t n = cases[k].n;
        int32_t *in = make_input(n);
        int64_t *out = malloc(n * sizeof *out);
        fut_future f = fut_map(&m.sched, &(fut_map_desc){.in = in, .out = out, .n = n,
            .in_size = sizeof *in, .out_size = sizeof *out, .fn = map_fn});
        size_t chunks_made = fut_manual_pending(&m);
        cr_assert(chunks_made >= cases[k].lo && chunks_made <= cases[k].hi,
                  "%u workers, n %zu: %zu chunks", cases[k].workers, n, chunks_made);
        fut_manual_run_all(&m);
        cr_assert_eq(fut_get(&f).value.u64, n);
        fut_manual_destroy(&m);
        free(in);
        free(out);
    }
    cr_assert_eq(tu_live(), 0);
}

/* A manual scheduler that counts how it was handed work, then hands it on. */
typedef struct counting {
    fut_manual m; /* first: &c->m.sched is the scheduler */
    int (*submit)(fut_sched *s, fut_task *t);
    fut_task *(*submit_many)(fut_sched *s, fut_task *head, size_t n, int *err);
    int submits, submit_manys;
} counting;

static int counting_submit(fut_sched *s, fut_task *t)
{
    counting *c = (counting *)(void *)s;
    c->submits++;
    return c->submit(s, t);
}

static fut_task *counting_submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    counting *c = (counting *)(void *)s;
    c->submit_manys++;
    return c->submit_many(s, head, n, err);
}

Test(fut_map, all_chunks_are_submitted_in_one_hand_off)
{
    counting c;
    memset(&c, 0, sizeof c);
    cr_assert_eq(fut_manual_init(&c.m, 0), 0);
    c.submit = c.m.sched.submit;
    c.submit_many = c.m.sched.submit_many;
    c.m.sched.submit = counting_submit;
    c.m.sched.submit_many = counting_submit_many;
    int32_t *in = make_input(1000);
    int64_t out[1000];
    fut_future f = fut_map(&c.m.sched, &(fut_map_desc){.in = in, .out = out, .n = 1000,
        .in_size = sizeof *in, .out_size = sizeof *out, .chunk = 10, .fn = map_fn});
    cr_assert_eq(fut_manual_pending(&c.m), 100);
    cr_assert_eq(c.submit_manys, 1);
    cr_assert_eq(c.submits, 0);
    fut_manual_run_all(&c.m);
    cr_assert_eq(fut_get(&f).value.u64, 1000);
    fut_manual_destroy(&c.m);
    free(in);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, a_chunk_larger_than_the_input_gives_one_chunk)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    int32_t *in = make_input(10);
    int64_t out[10];
    fut_future f = fut_map(&m.sched, &(fut_map_desc){.in = in, .out = out, .n = 10,
        .in_size = sizeof *in, .out_size = sizeof *out, .chunk = 11, .fn = map_fn});
    cr_assert_eq(fut_manual_pending(&m), 1);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_get(&f).value.u64, 10);
    for (size_t i = 0; i < 10; i++)
        cr_assert_eq(out[i], (int64_t)in[i] * 3 + 1);
    fut_manual_destroy(&m);
    free(in);
    cr_assert_eq(tu_live(), 0);
}

/* Regression: "Each cuts n elements into chunks of `chunk`": a chunk of SIZE_MAX
 * (one chunk, whatever n) makes no chunk at all when n >= 2 - n + chunk - 1 overflows -
 * and the future never settles. */
Test(fut_map, a_chunk_of_size_max_gives_one_chunk)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int32_t *in = make_input(10);
    int64_t out[10] = {0};
    fut_future f = fut_map(&inl, &(fut_map_desc){.in = in, .out = out, .n = 10,
        .in_size = sizeof *in, .out_size = sizeof *out, .chunk = SIZE_MAX, .fn = map_fn});
    int ready = fut_is_ready(&f);
    int64_t first = out[0];
    free(in);
    cr_assert_eq(ready, 1, "the map never settles");
    cr_assert_eq(first, (int64_t)input_at(0) * 3 + 1);
    cr_assert_eq(fut_get(&f).value.u64, 10);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, a_refusing_scheduler_settles_it_with_the_error_and_runs_no_chunk)
{
    int32_t *in = make_input(1000);
    int64_t out[1000];
    /* Closed. */
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_close(&m);
    for (size_t i = 0; i < 1000; i++)
        out[i] = INT64_MIN;
    _Atomic size_t done = 0;
    fut_future f = fut_map(&m.sched, &(fut_map_desc){.in = in, .out = out, .n = 1000,
        .in_size = sizeof *in, .out_size = sizeof *out, .chunk = 100, .fn = map_fn,
        .ctx = (void *)&done});
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_get(&f).err, ESHUTDOWN);
    cr_assert_eq(atomic_load(&done), 0);
    cr_assert_eq(out[0], INT64_MIN);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
    /* Too small: a manual scheduler takes a list whole or not at all. */
    cr_assert_eq(fut_manual_init(&m, 4), 0);
    f = fut_map(&m.sched, &(fut_map_desc){.in = in, .out = out, .n = 1000, .in_size = sizeof *in,
        .out_size = sizeof *out, .chunk = 100, .fn = map_fn, .ctx = (void *)&done});
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_get(&f).err, EAGAIN);
    cr_assert_eq(atomic_load(&done), 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
    /* Reduce and filter the same way. */
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_close(&m);
    f = fut_reduce(&m.sched, &(fut_reduce_desc){.in = in, .n = 1000, .size = sizeof *in,
        .chunk = 100, .fn = reduce_chunk, .combine = reduce_combine, .identity = fut_u64(MAT_I)});
    cr_assert_eq(fut_get(&f).err, ESHUTDOWN);
    int32_t kept[1000];
    f = fut_filter(&m.sched, &(fut_filter_desc){.in = in, .out = kept, .n = 1000,
        .size = sizeof *in, .chunk = 100, .fn = filter_fn});
    cr_assert_eq(fut_get(&f).err, ESHUTDOWN);
    fut_manual_destroy(&m);
    free(in);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, a_pool_that_takes_only_part_settles_it_with_the_error)
{
    fut_workers tp;
    cr_assert_eq(fut_workers_init(&tp, &(fut_workers_config){.threads = 2, .bound = 2}), 0); /* room for 2 queued tasks */
    int32_t *in = make_input(1000);
    int64_t out[1000];
    fut_future f = fut_map(&tp.sched, &(fut_map_desc){.in = in, .out = out, .n = 1000,
        .in_size = sizeof *in, .out_size = sizeof *out, .chunk = 10, .fn = map_fn});
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, EAGAIN);
    fut_workers_shutdown(&tp, FUT_WORKERS_DRAIN);
    free(in);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, cancel_before_the_chunks_run_settles_ecanceled_and_the_chunks_do_no_work)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    int32_t *in = make_input(1000);
    int64_t out[1000];
    for (size_t i = 0; i < 1000; i++)
        out[i] = INT64_MIN;
    _Atomic size_t done = 0;
    fut_future f = fut_map(&m.sched, &(fut_map_desc){.in = in, .out = out, .n = 1000,
        .in_size = sizeof *in, .out_size = sizeof *out, .chunk = 100, .fn = map_fn,
        .ctx = (void *)&done});
    cr_assert_eq(fut_manual_pending(&m), 10);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_is_ready(&f), 1, "a cancel settles it at once");
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(fut_manual_run_all(&m), 10);
    cr_assert_eq(atomic_load(&done), 0, "cancelled chunks did work");
    size_t touched = 0;
    for (size_t i = 0; i < 1000; i++)
        touched += out[i] != INT64_MIN;
    cr_assert_eq(touched, 0);
    fut_manual_destroy(&m);
    free(in);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, cancel_after_some_chunks_ran_stops_the_rest)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    int32_t *in = make_input(1000);
    int64_t out[1000];
    _Atomic size_t done = 0;
    fut_future f = fut_map(&m.sched, &(fut_map_desc){.in = in, .out = out, .n = 1000,
        .in_size = sizeof *in, .out_size = sizeof *out, .chunk = 100, .fn = map_fn,
        .ctx = (void *)&done});
    cr_assert_eq(fut_manual_run_one(&m), 1);
    cr_assert_eq(fut_manual_run_one(&m), 1);
    cr_assert_eq(atomic_load(&done), 200);
    cr_assert_eq(fut_cancel(&f), 0);
    fut_drop(&f);
    fut_manual_run_all(&m);
    cr_assert_eq(atomic_load(&done), 200);
    fut_manual_destroy(&m);
    free(in);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_reduce, cancel_on_the_manual_scheduler_settles_ecanceled)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    int32_t *in = make_input(1000);
    _Atomic size_t done = 0;
    fut_future f = fut_reduce(&m.sched, &(fut_reduce_desc){.in = in, .n = 1000, .size = sizeof *in,
        .chunk = 100, .fn = reduce_chunk, .combine = reduce_combine, .identity = fut_u64(MAT_I),
        .ctx = (void *)&done});
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    fut_manual_run_all(&m);
    cr_assert_eq(atomic_load(&done), 0);
    fut_manual_destroy(&m);
    free(in);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_map, allocation_failure_is_enomem)
{
    fut_sched inl;
    fut_inline_init(&inl);
    int32_t in[4] = {1, 2, 3, 4};
    int64_t out[4] = {0};
    tu_fail_next();
    fut_future f = fut_map(&inl, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = 4,
        .out_size = 8, .fn = map_fn});
    cr_assert_eq(fut_get(&f).err, ENOMEM);
    cr_assert_eq(out[0], 0);
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * fut_batch
 * ====================================================================================== */

typedef struct mytask {
    fut_task t; /* first */
    int ran, err, order;
} mytask;

static int task_seq;

static void mytask_run(fut_task *t, int err)
{
    mytask *m = FUT_CONTAINER_OF(t, mytask, t);
    m->ran++;
    m->err = err;
    m->order = task_seq++;
}

static void mytasks_init(mytask *ts, size_t n)
{
    memset(ts, 0, n * sizeof *ts);
    for (size_t i = 0; i < n; i++)
        ts[i].t.run = mytask_run;
}

Test(fut_batch, init_rejects_a_null_batch_or_scheduler)
{
    fut_batch b;
    fut_sched inl, nosubmit;
    fut_inline_init(&inl);
    memset(&nosubmit, 0, sizeof nosubmit);
    cr_assert_eq(fut_batch_init(NULL, &inl, 4, NULL), EINVAL);
    cr_assert_eq(fut_batch_init(&b, NULL, 4, NULL), EINVAL);
    cr_assert_eq(fut_batch_init(&b, &nosubmit, 4, NULL), EINVAL);
    cr_assert_eq(fut_batch_init(&b, &inl, 4, NULL), 0);
}

Test(fut_batch, add_of_null_is_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &inl, 4, NULL), 0);
    mytask t;
    mytasks_init(&t, 1);
    cr_assert_eq(fut_batch_add(&b, NULL), EINVAL);
    cr_assert_eq(fut_batch_add(NULL, &t.t), EINVAL);
    t.t.run = NULL;
    cr_assert_eq(fut_batch_add(&b, &t.t), EINVAL);
    cr_assert_eq(fut_batch_flush(&b), 0, "nothing was added");
}

Test(fut_batch, the_threshold_th_add_hands_the_batch_over)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, NULL), 0);
    mytask ts[6];
    mytasks_init(ts, 6);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fut_batch_add(&b, &ts[i].t), 0);
        cr_assert_eq(fut_manual_pending(&m), 0, "submitted after %d adds", i + 1);
    }
    cr_assert_eq(fut_batch_add(&b, &ts[3].t), 0);
    cr_assert_eq(fut_manual_pending(&m), 4);
    cr_assert_eq(fut_batch_add(&b, &ts[4].t), 0);
    cr_assert_eq(fut_manual_pending(&m), 4, "a new batch starts");
    cr_assert_eq(fut_manual_run_all(&m), 4);
    for (int i = 0; i < 4; i++)
        cr_assert(ts[i].ran == 1 && ts[i].err == 0 && ts[i].order == i, "task %d", i);
    cr_assert_eq(ts[4].ran, 0);
    cr_assert_eq(fut_batch_flush(&b), 1);
    fut_manual_run_all(&m);
    cr_assert_eq(ts[4].ran, 1);
    cr_assert_eq(ts[5].ran, 0);
    fut_manual_destroy(&m);
}

Test(fut_batch, threshold_zero_means_64)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 0, NULL), 0);
    mytask ts[64];
    mytasks_init(ts, 64);
    for (int i = 0; i < 63; i++)
        cr_assert_eq(fut_batch_add(&b, &ts[i].t), 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    cr_assert_eq(fut_batch_add(&b, &ts[63].t), 0);
    cr_assert_eq(fut_manual_pending(&m), 64);
    fut_manual_run_all(&m);
    fut_manual_destroy(&m);
}

Test(fut_batch, flush_returns_how_many_the_scheduler_took)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 16, NULL), 0);
    mytask ts[3];
    mytasks_init(ts, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_batch_add(&b, &ts[i].t), 0);
    cr_assert_eq(fut_batch_flush(&b), 3);
    cr_assert_eq(fut_manual_pending(&m), 3);
    cr_assert_eq(fut_batch_flush(&b), 0, "empty after a flush");
    fut_manual_run_all(&m);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ts[i].order, i);
    fut_manual_destroy(&m);
}

Test(fut_batch, flush_of_an_empty_or_null_batch_is_zero)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, NULL), 0);
    cr_assert_eq(fut_batch_flush(&b), 0);
    cr_assert_eq(fut_batch_flush(NULL), 0);
    cr_assert_eq(fut_manual_pending(&m), 0);
    fut_manual_destroy(&m);
}

static fut_future spawned_fn(void *ctx, fut_result r)
{
    (void)r;
    int *ran = ctx;
    (*ran)++;
    return fut_ready(fut_i64(42 + *ran));
}

Test(fut_batch, spawn_returns_a_future_settled_when_the_task_runs)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 8, NULL), 0);
    int ran = 0;
    fut_future f = fut_batch_spawn(&b, spawned_fn, &ran);
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(fut_manual_pending(&m), 0, "waits in the batch");
    cr_assert_eq(fut_batch_flush(&b), 1);
    cr_assert_eq(fut_is_ready(&f), 0);
    cr_assert_eq(ran, 0);
    fut_manual_run_all(&m);
    cr_assert_eq(ran, 1);
    fut_result r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 43);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_batch, spawn_bad_input_is_einval_and_allocation_failure_enomem)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 8, NULL), 0);
    int ran = 0;
    fut_future f = fut_batch_spawn(NULL, spawned_fn, &ran);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    f = fut_batch_spawn(&b, NULL, &ran);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    tu_fail_next();
    f = fut_batch_spawn(&b, spawned_fn, &ran);
    cr_assert_eq(fut_get(&f).err, ENOMEM);
    cr_assert_eq(fut_batch_flush(&b), 0, "nothing was added");
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_batch, stats_count_batched_tasks_and_batches_exactly)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 4), 0);
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, &st), 0);
    int ran = 0;
    fut_future fs[10];
    for (int i = 0; i < 10; i++)
        fs[i] = fut_batch_spawn(&b, spawned_fn, &ran);
    cr_assert_eq(fut_manual_pending(&m), 8);
    cr_assert_eq(fut_batch_flush(&b), 2);
    cr_assert_eq(fut_batch_flush(&b), 0);
    mytask t;
    mytasks_init(&t, 1);
    cr_assert_eq(fut_batch_add(&b, &t.t), 0);
    cr_assert_eq(fut_batch_flush(&b), 1);
    fut_stats_snap s;
    cr_assert_eq(fut_stats_snapshot(&st, &s), 0);
    cr_assert_eq(s.c[FUT_STAT_BATCHED], 11);
    cr_assert_eq(s.c[FUT_STAT_BATCHES], 4);
    fut_manual_run_all(&m);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(fut_get(&fs[i]).err, 0);
    cr_assert_eq(ran, 10);
    fut_manual_destroy(&m);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_batch, a_refusing_scheduler_runs_every_task_with_its_error)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_close(&m);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, NULL), 0);
    int ran = 0;
    fut_future fs[3];
    for (int i = 0; i < 3; i++)
        fs[i] = fut_batch_spawn(&b, spawned_fn, &ran);
    mytask t;
    mytasks_init(&t, 1);
    cr_assert_eq(fut_batch_add(&b, &t.t), 0); /* the 4th: a refused threshold flush */
    cr_assert_eq(t.ran, 1);
    cr_assert_eq(t.err, ESHUTDOWN);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fut_is_ready(&fs[i]), 1);
        cr_assert_eq(fut_get(&fs[i]).err, ESHUTDOWN);
    }
    fut_future g = fut_batch_spawn(&b, spawned_fn, &ran);
    cr_assert_eq(fut_batch_flush(&b), 0, "the scheduler took none");
    cr_assert_eq(fut_get(&g).err, ESHUTDOWN);
    cr_assert_eq(ran, 0);
    fut_manual_destroy(&m);

    /* Too small for the batch: the manual scheduler refuses it whole with EAGAIN. */
    cr_assert_eq(fut_manual_init(&m, 2), 0);
    cr_assert_eq(fut_batch_init(&b, &m.sched, 16, NULL), 0);
    mytask ts[3];
    mytasks_init(ts, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_batch_add(&b, &ts[i].t), 0);
    cr_assert_eq(fut_batch_flush(&b), 0);
    for (int i = 0; i < 3; i++)
        cr_assert(ts[i].ran == 1 && ts[i].err == EAGAIN, "task %d", i);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_batch, count_says_how_many_tasks_wait)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 3, NULL), 0);
    cr_assert_eq(fut_batch_count(&b), 0);
    mytask ts[4];
    mytasks_init(ts, 4);
    cr_assert_eq(fut_batch_add(&b, &ts[0].t), 0);
    cr_assert_eq(fut_batch_add(&b, &ts[1].t), 0);
    cr_assert_eq(fut_batch_count(&b), 2);
    cr_assert_eq(fut_batch_add(&b, &ts[2].t), 0); /* the threshold: handed over */
    cr_assert_eq(fut_batch_count(&b), 0);
    cr_assert_eq(fut_batch_add(&b, &ts[3].t), 0);
    cr_assert_eq(fut_batch_count(&b), 1);
    cr_assert_eq(fut_batch_flush(&b), 1);
    cr_assert_eq(fut_batch_count(&b), 0);
    cr_assert_eq(fut_batch_count(NULL), 0);
    fut_manual_run_all(&m);
    fut_manual_destroy(&m);
}

Test(fut_batch, cancel_runs_every_waiting_task_here_with_ecanceled)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &m.sched, 16, NULL), 0);
    mytask ts[3];
    mytasks_init(ts, 3);
    int ran = 0;
    cr_assert_eq(fut_batch_add(&b, &ts[0].t), 0);
    fut_future f = fut_batch_spawn(&b, spawned_fn, &ran);
    cr_assert_eq(fut_batch_add(&b, &ts[1].t), 0);
    cr_assert_eq(fut_batch_add(&b, &ts[2].t), 0);
    cr_assert_eq(fut_batch_cancel(&b), 4);
    for (int i = 0; i < 3; i++)
        cr_assert(ts[i].ran == 1 && ts[i].err == ECANCELED, "task %d", i);
    cr_assert(ts[0].order < ts[1].order && ts[1].order < ts[2].order, "in add order");
    cr_assert_eq(fut_is_ready(&f), 1);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    cr_assert_eq(ran, 0, "a cancelled spawn does not run its function");
    cr_assert_eq(fut_manual_pending(&m), 0, "nothing reached the scheduler");
    cr_assert_eq(fut_batch_count(&b), 0);
    cr_assert_eq(fut_batch_flush(&b), 0);
    cr_assert_eq(fut_batch_cancel(&b), 0);
    cr_assert_eq(fut_batch_cancel(NULL), 0);
    /* The batch is usable again. */
    fut_future g = fut_batch_spawn(&b, spawned_fn, &ran);
    cr_assert_eq(fut_batch_flush(&b), 1);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_get(&g).value.i64, 43);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_batch, a_batch_that_failed_init_flushes_counts_and_cancels_nothing)
{
    fut_batch b;
    memset(&b, 0xab, sizeof b); /* whatever was there before */
    cr_assert_eq(fut_batch_init(&b, NULL, 4, NULL), EINVAL);
    cr_assert_eq(fut_batch_count(&b), 0);
    cr_assert_eq(fut_batch_flush(&b), 0);
    cr_assert_eq(fut_batch_cancel(&b), 0);
}

static fut_future count_fn(void *ctx, fut_result r)
{
    (void)r;
    atomic_fetch_add((_Atomic int *)ctx, 1);
    return fut_ready(fut_i64(1));
}

Test(fut_batch, spawned_tasks_run_on_a_thread_pool)
{
    fut_workers tp;
    cr_assert_eq(fut_workers_init(&tp, &(fut_workers_config){.threads = 2}), 0);
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, &tp.sched, 16, NULL), 0);
    _Atomic int ran = 0;
    fut_future fs[100];
    for (int i = 0; i < 100; i++)
        fs[i] = fut_batch_spawn(&b, count_fn, (void *)&ran);
    cr_assert_eq(fut_batch_flush(&b), 100 % 16);
    int64_t sum = 0;
    for (int i = 0; i < 100; i++)
        sum += fut_get(&fs[i]).value.i64;
    cr_assert_eq(sum, 100);
    cr_assert_eq(atomic_load(&ran), 100);
    fut_workers_shutdown(&tp, FUT_WORKERS_DRAIN);
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * fut_pipeline
 * ====================================================================================== */

/* Item values: the item's id in the low 32 bits, the stages it went through above. */
#define STAGE_ONE ((int64_t)1 << 32)
#define ID_OF(v) ((v) & 0xffffffff)

typedef struct plog {
    int n;
    int stage[256];
    int64_t id[256];
    int wrong; /* a stage saw an item that had not been through the stages before it */
} plog;

typedef struct pstage {
    int stage;
    plog *log;
    int64_t fail_id;     /* -1: none */
    fut_promise *inner;  /* flattening: the stage returns these pending futures in turn */
    fut_future *inner_f;
    int inner_next;
} pstage;

static fut_future stage_fn(void *ctx, fut_result r)
{
    pstage *s = ctx;
    int64_t v = r.value.i64;
    if (s->log->n < 256) {
        s->log->stage[s->log->n] = s->stage;
        s->log->id[s->log->n] = ID_OF(v);
        s->log->n++;
    }
    if ((v >> 32) != s->stage)
        s->log->wrong++;
    if (ID_OF(v) == s->fail_id)
        return fut_ready_error(EIO);
    if (s->inner != NULL) {
        int k = s->inner_next++;
        return s->inner_f[k]; /* settled later with the item's next value by the test */
    }
    return fut_ready(fut_i64(v + STAGE_ONE));
}

/* The ids a stage saw, in order. */
static int seen_by(const plog *l, int stage, int64_t *ids)
{
    int k = 0;
    for (int i = 0; i < l->n; i++)
        if (l->stage[i] == stage)
            ids[k++] = l->id[i];
    return k;
}

static void pstages(pstage *ps, fut_stage *st, int n, plog *log, fut_sched **scheds)
{
    for (int i = 0; i < n; i++) {
        memset(&ps[i], 0, sizeof ps[i]);
        ps[i].stage = i;
        ps[i].log = log;
        ps[i].fail_id = -1;
        st[i].sched = scheds[i];
        st[i].fn = stage_fn;
        st[i].ctx = &ps[i];
    }
}

Test(fut_pipeline, items_come_out_in_push_order_with_every_stage_applied)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_manual m0, m2;
    cr_assert_eq(fut_manual_init(&m0, 0), 0);
    cr_assert_eq(fut_manual_init(&m2, 0), 0);
    fut_sched *scheds[3] = {&m0.sched, &inl, &m2.sched};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[3];
    fut_stage st[3];
    pstages(ps, st, 3, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 3, 0), 0);
    fut_future out[6];
    for (int i = 0; i < 6; i++) {
        fut_future in = fut_ready(fut_i64(i));
        out[i] = fut_pipeline_push(&p, &in);
        cr_assert(is_spent(&in));
    }
    /* Step the schedulers in an order that favours later stages. */
    while (fut_manual_pending(&m0) + fut_manual_pending(&m2) > 0) {
        if (!fut_manual_run_one(&m2))
            fut_manual_run_one(&m0);
    }
    for (int i = 0; i < 6; i++) {
        fut_result r = fut_get(&out[i]);
        cr_assert_eq(r.err, 0);
        cr_assert_eq(r.value.i64, i + 3 * STAGE_ONE, "item %d: %llx", i, (unsigned long long)r.value.i64);
    }
    cr_assert_eq(log.wrong, 0);
    for (int s = 0; s < 3; s++) {
        int64_t ids[256];
        int k = seen_by(&log, s, ids);
        cr_assert_eq(k, 6, "stage %d saw %d items", s, k);
        for (int i = 0; i < 6; i++)
            cr_assert_eq(ids[i], i, "stage %d saw item %lld at %d", s, (long long)ids[i], i);
    }
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    fut_manual_destroy(&m0);
    fut_manual_destroy(&m2);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, item_k_plus_1_is_in_stage_0_while_item_k_is_in_stage_1)
{
    fut_manual m0, m1;
    cr_assert_eq(fut_manual_init(&m0, 0), 0);
    cr_assert_eq(fut_manual_init(&m1, 0), 0);
    fut_sched *scheds[2] = {&m0.sched, &m1.sched};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    pstages(ps, st, 2, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 0), 0);
    fut_future in0 = fut_ready(fut_i64(0)), in1 = fut_ready(fut_i64(1));
    fut_future out0 = fut_pipeline_push(&p, &in0);
    fut_future out1 = fut_pipeline_push(&p, &in1);
    cr_assert_eq(fut_manual_pending(&m0), 1, "one item at a time in stage 0");
    cr_assert_eq(fut_manual_pending(&m1), 0);
    cr_assert_eq(fut_manual_run_one(&m0), 1); /* item 0 leaves stage 0 */
    cr_assert_eq(fut_manual_pending(&m0), 1, "item 1 entered stage 0");
    cr_assert_eq(fut_manual_pending(&m1), 1, "item 0 entered stage 1");
    cr_assert_eq(fut_manual_run_one(&m1), 1); /* item 0 done */
    cr_assert_eq(fut_is_ready(&out0), 1);
    cr_assert_eq(fut_is_ready(&out1), 0);
    cr_assert_eq(fut_manual_run_one(&m0), 1);
    cr_assert_eq(fut_manual_run_one(&m1), 1);
    cr_assert_eq(fut_get(&out0).value.i64, 0 + 2 * STAGE_ONE);
    cr_assert_eq(fut_get(&out1).value.i64, 1 + 2 * STAGE_ONE);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    fut_manual_destroy(&m0);
    fut_manual_destroy(&m1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, max_in_flight_bounds_the_items_between_stage_0_and_the_end)
{
    fut_manual m0, m1;
    cr_assert_eq(fut_manual_init(&m0, 0), 0);
    cr_assert_eq(fut_manual_init(&m1, 0), 0);
    fut_sched *scheds[2] = {&m0.sched, &m1.sched};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    pstages(ps, st, 2, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 2), 0);
    fut_future out[3];
    for (int i = 0; i < 3; i++) {
        fut_future in = fut_ready(fut_i64(i));
        out[i] = fut_pipeline_push(&p, &in); /* never blocks */
    }
    cr_assert_eq(fut_manual_run_one(&m0), 1); /* item 0 -> stage 1, item 1 -> stage 0 */
    cr_assert_eq(fut_manual_run_one(&m0), 1); /* item 1 waits for stage 1 */
    cr_assert_eq(fut_manual_pending(&m0), 0, "a third item entered stage 0 with 2 in flight");
    int64_t ids[256];
    cr_assert_eq(seen_by(&log, 0, ids), 2);
    cr_assert_eq(fut_manual_run_one(&m1), 1); /* item 0 leaves the last stage */
    cr_assert_eq(fut_manual_pending(&m0), 1, "item 2 may enter now");
    fut_manual_run_all(&m0);
    fut_manual_run_all(&m1);
    fut_manual_run_all(&m0);
    fut_manual_run_all(&m1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_get(&out[i]).value.i64, i + 2 * STAGE_ONE);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    fut_manual_destroy(&m0);
    fut_manual_destroy(&m1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, max_in_flight_zero_is_unbounded)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_manual m1;
    cr_assert_eq(fut_manual_init(&m1, 0), 0);
    fut_sched *scheds[2] = {&inl, &m1.sched};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    pstages(ps, st, 2, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 0), 0);
    fut_future out[20];
    for (int i = 0; i < 20; i++) {
        fut_future in = fut_ready(fut_i64(i));
        out[i] = fut_pipeline_push(&p, &in);
    }
    int64_t ids[256];
    cr_assert_eq(seen_by(&log, 0, ids), 20, "every item passed stage 0 while stage 1 waits");
    fut_manual_run_all(&m1);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(fut_get(&out[i]).value.i64, i + 2 * STAGE_ONE);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    fut_manual_destroy(&m1);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, an_error_in_a_stage_skips_the_later_stages_for_that_item_only)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_sched *scheds[3] = {&inl, &inl, &inl};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[3];
    fut_stage st[3];
    pstages(ps, st, 3, &log, scheds);
    ps[0].fail_id = 1;
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 3, 0), 0);
    fut_future out[3];
    for (int i = 0; i < 3; i++) {
        fut_future in = fut_ready(fut_i64(i));
        out[i] = fut_pipeline_push(&p, &in);
    }
    cr_assert_eq(fut_get(&out[0]).value.i64, 0 + 3 * STAGE_ONE);
    cr_assert_eq(fut_get(&out[1]).err, EIO);
    cr_assert_eq(fut_get(&out[2]).value.i64, 2 + 3 * STAGE_ONE);
    int64_t ids[256];
    cr_assert_eq(seen_by(&log, 0, ids), 3);
    int k = seen_by(&log, 1, ids);
    cr_assert_eq(k, 2);
    cr_assert(ids[0] == 0 && ids[1] == 2);
    cr_assert_eq(seen_by(&log, 2, ids), 2);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, a_failed_input_skips_every_stage)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_sched *scheds[2] = {&inl, &inl};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    pstages(ps, st, 2, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 0), 0);
    fut_future in = fut_ready_error(EPERM);
    fut_future out = fut_pipeline_push(&p, &in);
    cr_assert_eq(fut_get(&out).err, EPERM);
    fut_future empty = {0};
    out = fut_pipeline_push(&p, &empty);
    cr_assert_eq(fut_get(&out).err, EINVAL);
    cr_assert_eq(log.n, 0);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, stages_returning_pending_futures_are_flattened)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_sched *scheds[2] = {&inl, &inl};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    pstages(ps, st, 2, &log, scheds);
    fut_promise q[2];
    fut_future qf[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(fut_promise_new(&q[i], &qf[i]), 0);
    ps[0].inner = q;
    ps[0].inner_f = qf;
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 0), 0);
    fut_future in0 = fut_ready(fut_i64(0)), in1 = fut_ready(fut_i64(1));
    fut_future out0 = fut_pipeline_push(&p, &in0);
    fut_future out1 = fut_pipeline_push(&p, &in1);
    int64_t ids[256];
    cr_assert_eq(seen_by(&log, 0, ids), 1, "stage 0 stays busy while its future is pending");
    cr_assert_eq(seen_by(&log, 1, ids), 0);
    cr_assert_eq(fut_pipeline_destroy(&p), EBUSY);
    cr_assert_eq(fut_promise_set(&q[0], fut_i64(0 + STAGE_ONE)), 0);
    cr_assert_eq(seen_by(&log, 1, ids), 1);
    cr_assert_eq(seen_by(&log, 0, ids), 2);
    cr_assert_eq(fut_get(&out0).value.i64, 0 + 2 * STAGE_ONE);
    cr_assert_eq(fut_is_ready(&out1), 0);
    cr_assert_eq(fut_promise_set(&q[1], fut_i64(1 + STAGE_ONE)), 0);
    cr_assert_eq(fut_get(&out1).value.i64, 1 + 2 * STAGE_ONE);
    cr_assert_eq(log.wrong, 0);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, pending_inputs_wait_and_keep_push_order)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_sched *scheds[2] = {&inl, &inl};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    pstages(ps, st, 2, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 0), 0);
    proms x;
    proms_new(&x, 3);
    fut_future out[3];
    for (int i = 0; i < 3; i++)
        out[i] = fut_pipeline_push(&p, &x.f[i]);
    cr_assert_eq(fut_promise_set(&x.p[2], fut_i64(2)), 0);
    cr_assert_eq(fut_promise_set(&x.p[1], fut_i64(1)), 0);
    cr_assert_eq(log.n, 0, "item 0 holds stage 0");
    cr_assert_eq(fut_promise_set(&x.p[0], fut_i64(0)), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_get(&out[i]).value.i64, i + 2 * STAGE_ONE);
    int64_t ids[256];
    cr_assert_eq(seen_by(&log, 0, ids), 3);
    cr_assert(ids[0] == 0 && ids[1] == 1 && ids[2] == 2);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, a_refusing_stage_scheduler_fails_the_item)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_close(&m);
    fut_sched *scheds[2] = {&m.sched, &inl};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    pstages(ps, st, 2, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 0), 0);
    fut_future in = fut_ready(fut_i64(0));
    fut_future out = fut_pipeline_push(&p, &in);
    cr_assert_eq(fut_get(&out).err, ESHUTDOWN);
    cr_assert_eq(log.n, 0);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, init_copies_the_stages)
{
    fut_sched inl;
    fut_inline_init(&inl);
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[1];
    fut_stage st[1];
    fut_sched *scheds[1] = {&inl};
    pstages(ps, st, 1, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 1, 0), 0);
    memset(st, 0, sizeof st); /* the caller's array may go away */
    fut_future in = fut_ready(fut_i64(5));
    fut_future out = fut_pipeline_push(&p, &in);
    cr_assert_eq(fut_get(&out).value.i64, 5 + STAGE_ONE);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(tu_live(), 0);
}

/* A continuation of one item's result pushes another item into the same pipeline. */
typedef struct repush {
    fut_pipeline *p;
    fut_future out;
    int pushed;
} repush;

static fut_future repush_fn(void *ctx, fut_result r)
{
    repush *rp = ctx;
    fut_future in = fut_ready(fut_i64(ID_OF(r.value.i64) + 100));
    rp->out = fut_pipeline_push(rp->p, &in);
    rp->pushed++;
    return fut_ready_result(r);
}

Test(fut_pipeline, a_continuation_of_a_result_may_push_into_the_same_pipeline)
{
    fut_sched inl;
    fut_inline_init(&inl);
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[2];
    fut_stage st[2];
    fut_sched *scheds[2] = {&inl, &inl};
    pstages(ps, st, 2, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 2, 1), 0);
    fut_promise q;
    fut_future f;
    cr_assert_eq(fut_promise_new(&q, &f), 0);
    fut_future out = fut_pipeline_push(&p, &f);
    repush rp = {&p, {0}, 0};
    fut_future g = fut_then(&out, &inl, repush_fn, &rp);
    cr_assert_eq(fut_promise_set(&q, fut_i64(1)), 0);
    cr_assert_eq(rp.pushed, 1);
    cr_assert_eq(fut_get(&g).value.i64, 1 + 2 * STAGE_ONE);
    cr_assert_eq(fut_is_ready(&rp.out), 1, "the pushed item ran through when the driver looped");
    cr_assert_eq(fut_get(&rp.out).value.i64, 101 + 2 * STAGE_ONE);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, destroy_is_ebusy_while_items_are_in_flight)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_sched *scheds[1] = {&m.sched};
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[1];
    fut_stage st[1];
    pstages(ps, st, 1, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 1, 0), 0);
    fut_future in = fut_ready(fut_i64(0));
    fut_future out = fut_pipeline_push(&p, &in);
    cr_assert_eq(fut_pipeline_destroy(&p), EBUSY);
    fut_manual_run_all(&m);
    cr_assert_eq(fut_get(&out).value.i64, STAGE_ONE);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(fut_pipeline_destroy(NULL), EINVAL);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, init_and_push_reject_bad_input)
{
    fut_sched inl, nosubmit;
    fut_inline_init(&inl);
    memset(&nosubmit, 0, sizeof nosubmit);
    fut_stage good = {&inl, stage_fn, NULL};
    fut_stage nosched = {NULL, stage_fn, NULL};
    fut_stage bad_sched = {&nosubmit, stage_fn, NULL};
    fut_stage nofn = {&inl, NULL, NULL};
    fut_stage two[2] = {good, nofn};
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(NULL, &good, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&p, NULL, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&p, &good, 0, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&p, &nosched, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&p, &bad_sched, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&p, &nofn, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&p, two, 2, 0), EINVAL);
    cr_assert_eq(tu_live(), 0);

    fut_promise q;
    fut_future f;
    cr_assert_eq(fut_promise_new(&q, &f), 0);
    fut_future out = fut_pipeline_push(NULL, &f);
    cr_assert_eq(fut_get(&out).err, EINVAL);
    cr_assert(is_spent(&f), "push consumes its input even when it fails");
    cr_assert_eq(fut_promise_set(&q, fut_i64(0)), 0);
    cr_assert_eq(fut_pipeline_init(&p, &good, 1, 0), 0);
    out = fut_pipeline_push(&p, NULL);
    cr_assert_eq(fut_get(&out).err, EINVAL);
    cr_assert_eq(fut_pipeline_destroy(&p), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pipeline, init_allocation_failure_is_enomem_without_leaks)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_stage st[2] = {{&inl, stage_fn, NULL}, {&inl, stage_fn, NULL}};
    for (long k = 1; k <= 4; k++) {
        fut_pipeline p;
        fail_nth(k);
        cr_assert_eq(fut_pipeline_init(&p, st, 2, 0), ENOMEM, "failing allocation %ld", k);
        cr_assert_eq(tu_live(), 0, "failing allocation %ld leaked", k);
    }
}

Test(fut_pipeline, push_allocation_failure_is_enomem_and_consumes_the_input)
{
    fut_sched inl;
    fut_inline_init(&inl);
    plog log;
    memset(&log, 0, sizeof log);
    pstage ps[1];
    fut_stage st[1];
    fut_sched *scheds[1] = {&inl};
    pstages(ps, st, 1, &log, scheds);
    fut_pipeline p;
    cr_assert_eq(fut_pipeline_init(&p, st, 1, 0), 0);
    long base = tu_live();
    for (long k = 1; k <= 2; k++) {
        fut_promise q;
        fut_future f;
        cr_assert_eq(fut_promise_new(&q, &f), 0);
        fail_nth(k);
        fut_future out = fut_pipeline_push(&p, &f);
        cr_assert_eq(fut_get(&out).err, ENOMEM, "failing allocation %ld", k);
        cr_assert(is_spent(&f));
        cr_assert_eq(fut_promise_set_ptr(&q, cell(1), tu_dtor_free), 0);
        cr_assert_eq(tu_live(), base);
    }
    cr_assert_eq(dtors(), 2);
    cr_assert_eq(log.n, 0);
    cr_assert_eq(fut_pipeline_destroy(&p), 0, "no item was left in the pipeline");
    cr_assert_eq(tu_live(), 0);
}

/* 10000 items through 3 inline stages, on a thread with a 256 KiB stack: first all held
 * behind a pending first input then released at once, then pushed ready one by one. */
#define LONG_ITEMS 10000

static fut_future long_stage(void *ctx, fut_result r)
{
    atomic_fetch_add((_Atomic long *)ctx, 1);
    return fut_ready(fut_i64(r.value.i64 + STAGE_ONE));
}

typedef struct longrun {
    _Atomic long steps;
    long bad, ok;
    int init_rc, destroy_rc;
} longrun;

static void *long_main(void *arg)
{
    longrun *lr = arg;
    fut_sched inl;
    fut_inline_init(&inl);
    fut_stage st[3];
    for (int i = 0; i < 3; i++)
        st[i] = (fut_stage){&inl, long_stage, (void *)&lr->steps};
    fut_pipeline p;
    lr->init_rc = fut_pipeline_init(&p, st, 3, 0);
    if (lr->init_rc != 0)
        return NULL;
    fut_promise *q = malloc(LONG_ITEMS * sizeof *q);
    fut_future *out = malloc(LONG_ITEMS * sizeof *out);
    if (q == NULL || out == NULL) {
        lr->bad = -1;
        return NULL;
    }
    for (int i = 0; i < LONG_ITEMS; i++) {
        fut_future f;
        if (fut_promise_new(&q[i], &f) != 0) {
            lr->bad = -1;
            return NULL;
        }
        out[i] = fut_pipeline_push(&p, &f);
    }
    for (int i = LONG_ITEMS - 1; i >= 0; i--) /* item 0 last: then everything moves */
        fut_promise_set(&q[i], fut_i64(i));
    for (int i = 0; i < LONG_ITEMS; i++) {
        fut_result r;
        if (fut_try_get(&out[i], &r) != 0 || r.err != 0 || r.value.i64 != i + 3 * STAGE_ONE)
            lr->bad++;
        else
            lr->ok++;
    }
    for (int i = 0; i < LONG_ITEMS; i++) {
        fut_future f = fut_ready(fut_i64(i));
        out[i] = fut_pipeline_push(&p, &f);
        fut_result r;
        if (fut_try_get(&out[i], &r) != 0 || r.err != 0 || r.value.i64 != i + 3 * STAGE_ONE)
            lr->bad++;
        else
            lr->ok++;
    }
    lr->destroy_rc = fut_pipeline_destroy(&p);
    free(q);
    free(out);
    return NULL;
}

Test(fut_pipeline, ten_thousand_items_on_inline_stages_finish_with_a_bounded_stack)
{
    longrun lr;
    memset(&lr, 0, sizeof lr);
    pthread_attr_t a;
    pthread_attr_init(&a);
    cr_assert_eq(pthread_attr_setstacksize(&a, 256 * 1024), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, &a, long_main, &lr), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&a);
    cr_assert_eq(lr.init_rc, 0);
    cr_assert_eq(lr.bad, 0, "%ld items wrong or unsettled", lr.bad);
    cr_assert_eq(lr.ok, 2 * LONG_ITEMS);
    cr_assert_eq(atomic_load(&lr.steps), 6L * LONG_ITEMS);
    cr_assert_eq(lr.destroy_rc, 0);
    cr_assert_eq(tu_live(), 0);
}

/* ---- depth: nested combinators on a small stack ------------------------------------ */

/* A million levels of combinators settle, fail and cancel on a 256 KiB thread stack, and
 * the nested result blocks are destroyed, without recursion per level (deliveries go on
 * the settling thread's work list, a walk's node cancels too, block destructors loop).
 * Sanitizers make each level several times bigger: 100,000 levels there, the same
 * assertions (at 908b207 1,000 levels crashed). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NEST_SANITIZED 1
#endif
#endif
#ifdef NEST_SANITIZED
enum { NEST = 100000 };
#else
enum { NEST = 1000000 };
#endif

enum { NEST_ALL, NEST_ANY, NEST_THEN, NEST_FOLD, NEST_MIXED, NEST_SPLIT };
enum { NEST_KINDS = 4 }; /* a mixed nest cycles through all, any, then and fold */
enum { NEST_SETTLE, NEST_FAIL, NEST_CANCEL };

typedef struct nest_job {
    int shape, end;
    int reentrant; /* the thens run on a scheduler whose submit runs the task at once */
    fut_result out;
    int cancel_rc;
    long head_cancelled, side_cancelled, sides, value_errors;
    _Atomic long ran;
} nest_job;

static fut_future nest_pass(void *ctx, fut_result r)
{
    atomic_fetch_add_explicit(&((nest_job *)ctx)->ran, 1, memory_order_relaxed);
    return fut_ready_result(r); /* the value goes on with its destructor */
}

/* A fold over one input that keeps the item (an error item stops the fold with it). */
static fut_result nest_fold_keep(void *ctx, fut_result acc, fut_result item)
{
    atomic_fetch_add_explicit(&((nest_job *)ctx)->ran, 1, memory_order_relaxed);
    fut_result_drop(&acc);
    return item;
}

static int nest_shape(const nest_job *j, long i)
{
    return j->shape == NEST_MIXED ? (int)(i % NEST_KINDS) : j->shape;
}

/* Walks the nest's result down, level by level, checking each (iteratively). */
static long nest_check_values(nest_job *j, const fut_result *outer)
{
    long bad = 0;
    const fut_result *r = outer;
    for (long i = NEST - 1; i >= 0; i--) {
        int shape = nest_shape(j, i);
        if (shape == NEST_THEN || shape == NEST_FOLD || shape == NEST_SPLIT)
            continue; /* the same value */
        if (r->err != 0 || r->value.ptr == NULL)
            return bad + 1;
        if (shape == NEST_ALL) {
            const fut_result *items = r->value.ptr;
            bad += items[1].err != 0 || items[1].value.i64 != i;
            r = &items[0];
        } else {
            const fut_any *a = r->value.ptr;
            bad += a->index != 0;
            r = &a->result;
        }
    }
    return bad + (r->err != 0 || r->value.i64 != -7);
}

/* A user scheduler that runs each task inside its submit (no may_inline). */
static int nest_run_in_submit(fut_sched *s, fut_task *t)
{
    (void)s;
    t->run(t, 0);
    return 0;
}

static void *nest_main(void *arg)
{
    nest_job *j = arg;
    fut_sched inl;
    fut_inline_init(&inl);
    if (j->reentrant)
        inl = (fut_sched){.submit = nest_run_in_submit};
    fut_promise head;
    fut_future acc;
    if (fut_promise_new(&head, &acc) != 0)
        return NULL;
    fut_promise *side = malloc(sizeof *side * NEST);
    if (side == NULL)
        return NULL;
    j->sides = 0;
    for (long i = 0; i < NEST; i++) {
        int shape = nest_shape(j, i);
        if (shape == NEST_ALL) {
            fut_future two[2] = {acc, fut_ready_error(EINVAL)};
            if (fut_promise_new(&side[j->sides], &two[1]) != 0)
                return NULL;
            j->sides++;
            acc = fut_when_all(two, 2);
        } else if (shape == NEST_ANY) {
            acc = fut_when_any_ok(&acc, 1);
        } else if (shape == NEST_THEN) {
            acc = fut_then(&acc, &inl, nest_pass, j);
        } else if (shape == NEST_FOLD) {
            acc = fut_fold(&acc, 1, fut_ok(fut_i64(0)), nest_fold_keep, j);
        } else {
            fut_future two[2];
            if (fut_split(&acc, 2, two) != 0)
                return NULL;
            fut_drop(&two[0]); /* the last output owns the value: keep that one */
            acc = two[1];
        }
    }
    if (j->end == NEST_CANCEL) {
        j->cancel_rc = fut_cancel(&acc);
        j->head_cancelled = fut_promise_cancelled(&head);
        for (long i = 0; i < j->sides; i++)
            j->side_cancelled += fut_promise_cancelled(&side[i]);
    } else {
        /* Side inputs first, in level order: level i's when_all gets value i. */
        for (long i = 0, k = 0; i < NEST; i++) {
            int shape = nest_shape(j, i);
            if (shape == NEST_ALL)
                (void)fut_promise_set(&side[k++], fut_i64(i));
        }
        if (j->end == NEST_FAIL)
            (void)fut_promise_set_error(&head, EIO);
        else
            (void)fut_promise_set(&head, fut_i64(-7));
    }
    for (long i = 0; i < j->sides; i++)
        fut_promise_drop(&side[i]); /* settled ones are spent: ignored */
    fut_promise_drop(&head);
    j->out = fut_get(&acc);
    if (j->end == NEST_SETTLE)
        j->value_errors = nest_check_values(j, &j->out);
    fut_result_drop(&j->out); /* a million nested blocks, destroyed in a loop */
    free(side);
    return NULL;
}

static void nest_run(nest_job *j)
{
    pthread_attr_t a;
    pthread_t t;
    j->out = fut_error(-1);
    j->cancel_rc = -1;
    j->value_errors = -1;
    cr_assert_eq(pthread_attr_init(&a), 0);
    cr_assert_eq(pthread_attr_setstacksize(&a, 256 * 1024), 0);
    cr_assert_eq(pthread_create(&t, &a, nest_main, j), 0);
    pthread_attr_destroy(&a);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

static void nest_expect_on(int shape, int end, int reentrant)
{
    nest_job j = {.shape = shape, .end = end, .reentrant = reentrant};
    nest_run(&j);
    long thens = shape == NEST_MIXED ? NEST / NEST_KINDS : 0; /* NEST is a multiple of 4 */
    long folds = shape == NEST_FOLD ? NEST : shape == NEST_MIXED ? NEST / NEST_KINDS : 0;
    if (end == NEST_SETTLE) {
        cr_assert_eq(j.out.err, 0);
        cr_assert_eq(j.value_errors, 0, "every level's value, exactly");
        cr_assert_eq(atomic_load(&j.ran), thens + folds, "every then and fold step ran once");
    } else if (end == NEST_FAIL) {
        cr_assert_eq(j.out.err, EIO, "the innermost error reaches the top");
        cr_assert_eq(atomic_load(&j.ran), folds, "no then runs on an error; each fold sees it once");
    } else {
        cr_assert_eq(j.cancel_rc, 0);
        cr_assert_eq(j.out.err, ECANCELED);
        cr_assert_eq(j.head_cancelled, 1, "the cancel reached the innermost promise");
        cr_assert_eq(j.side_cancelled, j.sides, "and every side input");
        cr_assert_eq(atomic_load(&j.ran), 0);
    }
    cr_assert_eq(tu_live(), 0, "every state and block freed");
}

static void nest_expect(int shape, int end) { nest_expect_on(shape, end, 0); }

Test(depth, a_million_nested_when_alls_settle_on_a_small_stack) { nest_expect(NEST_ALL, NEST_SETTLE); }
Test(depth, a_million_nested_when_alls_fail_on_a_small_stack) { nest_expect(NEST_ALL, NEST_FAIL); }
Test(depth, a_million_nested_when_alls_cancel_on_a_small_stack) { nest_expect(NEST_ALL, NEST_CANCEL); }
Test(depth, a_million_nested_when_any_oks_settle_on_a_small_stack) { nest_expect(NEST_ANY, NEST_SETTLE); }
Test(depth, a_million_nested_when_any_oks_fail_on_a_small_stack) { nest_expect(NEST_ANY, NEST_FAIL); }
Test(depth, a_million_nested_when_any_oks_cancel_on_a_small_stack) { nest_expect(NEST_ANY, NEST_CANCEL); }
Test(depth, a_million_mixed_combinators_and_thens_settle_on_a_small_stack) { nest_expect(NEST_MIXED, NEST_SETTLE); }
Test(depth, a_million_mixed_combinators_and_thens_fail_on_a_small_stack) { nest_expect(NEST_MIXED, NEST_FAIL); }
Test(depth, a_million_mixed_combinators_and_thens_cancel_on_a_small_stack) { nest_expect(NEST_MIXED, NEST_CANCEL); }
Test(depth, a_million_mixed_levels_with_thens_run_inside_submit_settle_on_a_small_stack)
{
    nest_expect_on(NEST_MIXED, NEST_SETTLE, 1);
}
Test(depth, a_million_mixed_levels_with_thens_run_inside_submit_fail_on_a_small_stack)
{
    nest_expect_on(NEST_MIXED, NEST_FAIL, 1);
}
Test(depth, a_million_nested_folds_settle_on_a_small_stack) { nest_expect(NEST_FOLD, NEST_SETTLE); }
Test(depth, a_million_nested_folds_cancel_on_a_small_stack) { nest_expect(NEST_FOLD, NEST_CANCEL); }
/* A cancel stops at a split output (the other outputs may still want the value), so a
 * split nest is settled and failed, not cancelled. */
Test(depth, a_million_nested_splits_settle_on_a_small_stack) { nest_expect(NEST_SPLIT, NEST_SETTLE); }
Test(depth, a_million_nested_splits_fail_on_a_small_stack) { nest_expect(NEST_SPLIT, NEST_FAIL); }
