/* Reliability tests: the failure paths, tested as hard as the happy ones.
 *
 *   alloc_failure   each scenario runs once to count its allocations K, then once for
 *                   every k = 1..K with the k-th allocation failing (testutil.h's
 *                   tu_fail_at), each run in a fresh state.
 *   sched_refusal   the same with a scheduler that refuses its k-th submission (a
 *                   submit_many counts as one) with EAGAIN.
 *   bad_input       one test per row of docs/bad_input.md: NULL, empty and spent handles,
 *                   double settles, foreign pointers, zero counts and sizes.
 *   found           regressions for bugs the sweeps and the fuzzer (tests/fuzz) found.
 *
 * Every faulted run must: not crash; settle every future (no hang) with the value it
 * would have had or with the error the fault explains (ENOMEM, EAGAIN, or what the docs
 * say follows from them); settle or drop every promise; leak nothing (tu_live() == 0);
 * destroy every pointer value nobody took exactly once. Where the fault can be placed
 * (the k-th allocation fell inside a given call, the k-th submission was a given
 * continuation's) the expected outcome of each future is computed exactly.
 *
 * The suite `found` holds regressions for the bugs these sweeps and the fuzzer found. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "batch.h"
#include "workers.h"
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MS 1000000ull
#define SEC 1000000000ull

/* ======================================================================================
 * Sweep machinery
 * ====================================================================================== */

enum { BY_ALLOC, BY_REFUSAL };

/* One run of a scenario under one fault. Checks record the first failure and let the
 * run go on (so that it still cleans up); the driver reports every failing k. */
typedef struct sweep {
    int mode;      /* BY_ALLOC or BY_REFUSAL */
    long k;        /* the faulted allocation / submission (1-based); 0: none */
    long submits;  /* BY_REFUSAL: submissions the run made (set by the scenario) */
    int bad;       /* line of the first failed check */
    char why[400];
} sweep;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void check_(sweep *sw, int ok, int line, const char *fmt, ...)
{
    if (ok || sw->bad)
        return;
    sw->bad = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sw->why, sizeof sw->why, fmt, ap);
    va_end(ap);
}
#define CHECK(sw, cond, ...) check_((sw), (cond) ? 1 : 0, __LINE__, __VA_ARGS__)

static long calls_now(void) { return atomic_load(&tu_calls); }

/* Fresh counters for a run; the k-th allocation from now fails (0: none). */
static void tu_reset(long fail_at)
{
    atomic_store(&tu_fail_at, 0);
    atomic_store(&tu_calls, 0);
    atomic_store(&tu_allocs, 0);
    atomic_store(&tu_frees, 0);
    atomic_store(&tu_dtor_calls, 0);
    atomic_store(&tu_fail_at, fail_at);
}

/* Did the failing allocation fall inside the window that started at `before`? */
static int alloc_hit(const sweep *sw, long before)
{
    return sw->mode == BY_ALLOC && sw->k > before && sw->k <= calls_now();
}

/* The error a fault of this sweep gives. */
static int fault_err(const sweep *sw) { return sw->mode == BY_ALLOC ? ENOMEM : EAGAIN; }

/* Waiting. Every scenario here is driven to quiescence before it waits, so a future
 * that is still pending never settles: the first hang of a sweep gets a generous
 * timeout, later ones a short one (they are reported all the same). */
static int hung_before;

static void await(sweep *sw, const fut_future *f, const char *what)
{
    int rc = fut_wait_for(f, hung_before ? 20 * MS : 2 * SEC);
    if (rc != 0)
        hung_before = 1;
    CHECK(sw, rc == 0, "%s never settled (fut_wait_for gave %d)", what, rc);
}

/* An expected outcome. */
typedef struct oc {
    int err;
    int64_t v;
} oc;

static oc V(int64_t v) { return (oc){0, v}; }
static oc E(int err) { return (oc){err, 0}; }

static void expect_oc(sweep *sw, fut_result r, oc want, const char *what)
{
    if (want.err != 0)
        CHECK(sw, r.err == want.err, "%s: want error %d, got err %d value %lld", what, want.err, r.err,
              (long long)r.value.i64);
    else
        CHECK(sw, r.err == 0 && r.value.i64 == want.v, "%s: want %lld, got err %d value %lld", what,
              (long long)want.v, r.err, (long long)r.value.i64);
}

/* Waits for f and takes its outcome, which must be `want`. */
static void get_expect(sweep *sw, fut_future *f, oc want, const char *what)
{
    await(sw, f, what);
    fut_result r;
    int rc = fut_try_get(f, &r);
    CHECK(sw, rc == 0, "%s: try_get gave %d", what, rc);
    if (rc == 0)
        expect_oc(sw, r, want, what);
    else
        fut_drop(f);
}

/* ---- pointer values: heap cells whose end is counted --------------------------------- */

/* A cell ends exactly once: destroyed by the library (cell_dtor) or freed by whoever
 * took it (cell_take). Cells come from plain malloc so they do not move tu_calls. */
typedef struct cell {
    int id;
    int64_t v;
} cell;

static int cell_ends[16];

static cell *cell_new(int id, int64_t v)
{
    cell *c = malloc(sizeof *c);
    cr_assert_not_null(c);
    c->id = id;
    c->v = v;
    cell_ends[id] = 0;
    return c;
}

static void cell_dtor(void *p)
{
    cell *c = p;
    cell_ends[c->id]++;
    atomic_fetch_add(&tu_dtor_calls, 1);
    free(c);
}

static void cell_take(cell *c)
{
    cell_ends[c->id]++;
    free(c);
}

/* ---- the refusing scheduler ------------------------------------------------------------ */

/* Forwards to a fut_manual; refuses its refuse_at-th submission (submit, or one
 * submit_many for a whole list) with EAGAIN. */
typedef struct rsched {
    fut_sched s; /* first: a fut_sched * points here */
    fut_manual m;
    long submits, refuse_at;
} rsched;

static int rs_submit(fut_sched *s, fut_task *t)
{
    rsched *r = (rsched *)(void *)s;
    if (++r->submits == r->refuse_at)
        return EAGAIN;
    return r->m.sched.submit(&r->m.sched, t);
}

static fut_task *rs_submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    rsched *r = (rsched *)(void *)s;
    if (++r->submits == r->refuse_at) {
        *err = EAGAIN;
        return head;
    }
    return r->m.sched.submit_many(&r->m.sched, head, n, err);
}

/* with_many: offer submit_many (else fut_sched_submit_many submits one by one). */
static void rs_init(rsched *r, const sweep *sw, int with_many)
{
    memset(r, 0, sizeof *r);
    cr_assert_eq(fut_manual_init(&r->m, 0), 0);
    r->s.submit = rs_submit;
    r->s.submit_many = with_many ? rs_submit_many : NULL;
    r->s.may_inline = NULL;
    r->s.workers = 1;
    r->s.env = NULL;
    r->refuse_at = sw->mode == BY_REFUSAL ? sw->k : 0;
}

static size_t rs_drain(rsched *r) { return fut_manual_run_all(&r->m); }

static void rs_done(sweep *sw, rsched *r)
{
    CHECK(sw, fut_manual_pending(&r->m) == 0, "%zu tasks left queued", fut_manual_pending(&r->m));
    fut_manual_destroy(&r->m);
    sw->submits = r->submits;
}

/* Was the submission faulted the one (or among those) made since `before`? */
static int refusal_hit(const sweep *sw, const rsched *r, long before)
{
    return sw->mode == BY_REFUSAL && sw->k > before && sw->k <= r->submits;
}

/* ---- the driver ------------------------------------------------------------------------ */

typedef void (*scenario_fn)(sweep *sw, const void *arg);

/* Runs fn unfaulted to count its points, then once per point; asserts every run was
 * clean. Returns the number of points. */
static long sweep_all(const char *name, int mode, scenario_fn fn, const void *arg)
{
    hung_before = 0;
    sweep sw0 = {.mode = mode};
    tu_reset(0);
    fn(&sw0, arg);
    cr_assert_eq(sw0.bad, 0, "%s, no fault (line %d): %s", name, sw0.bad, sw0.why);
    cr_assert_eq(tu_live(), 0, "%s, no fault: %ld allocations leaked", name, tu_live());
    long points = mode == BY_ALLOC ? calls_now() : sw0.submits;
    cr_assert_gt(points, 0, "%s: the scenario has no fault points", name);

    long failed = 0;
    char list[512] = "";
    size_t len = 0;
    for (long k = 1; k <= points; k++) {
        sweep sw = {.mode = mode, .k = k};
        tu_reset(mode == BY_ALLOC ? k : 0);
        fn(&sw, arg);
        long seen = mode == BY_ALLOC ? calls_now() : sw.submits;
        CHECK(&sw, seen >= k, "the run made only %ld %s: the fault was never reached", seen,
              mode == BY_ALLOC ? "allocations" : "submissions");
        CHECK(&sw, tu_live() == 0, "%ld allocations leaked", tu_live());
        if (sw.bad) {
            failed++;
            cr_log_error("%s: fault at %ld (line %d): %s", name, k, sw.bad, sw.why);
            if (len < sizeof list - 16)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%ld", failed > 1 ? "," : "", k);
        }
    }
    atomic_store(&tu_fail_at, 0);
    cr_log_info("%s: %ld %s points exercised, %ld failed", name, points,
                mode == BY_ALLOC ? "allocation-failure" : "scheduler-refusal", failed);
    fprintf(stderr, "[reliability] %s: %ld %s points, %ld failed\n", name, points,
            mode == BY_ALLOC ? "allocation-failure" : "refusal", failed);
    cr_assert_eq(failed, 0, "%s: %ld of %ld faulted runs failed, at k = %s", name, failed, points, list);
    return points;
}

/* ======================================================================================
 * (a) a promise with a 5-link chain: then, then (fails), recover, then (flattens a
 * pending future it chains on itself), finally; settled, read.
 *
 *   p --then+1--> --then:EIO--> --recover:1000+err--> --then:flatten--> --finally-->
 *                                                        fut_then(inner, +saved)
 * Without a fault: 1 -> 2 -> EIO -> 1000+EIO -> 1000+EIO+5 -> the same.
 * ====================================================================================== */

typedef struct chain {
    fut_sched *s;
    fut_future inner;          /* the future of promise q; the flattening step chains on it */
    const sweep *sw;
    long nested_before;        /* tu_calls around the flattening step's own fut_then */
    int nested_hit, nested_ran;
    int64_t saved;
    int ran[5];                /* how often each link's function ran */
    fut_result fin_in;         /* what the finally link saw */
} chain;

static fut_future ch_add1(void *ctx, fut_result r)
{
    ((chain *)ctx)->ran[0]++;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

static fut_future ch_fail(void *ctx, fut_result r)
{
    (void)r;
    ((chain *)ctx)->ran[1]++;
    return fut_ready_error(EIO);
}

static fut_future ch_recover(void *ctx, fut_result r)
{
    ((chain *)ctx)->ran[2]++;
    return fut_ready(fut_i64(1000 + r.err));
}

static fut_future ch_add_saved(void *ctx, fut_result r)
{
    chain *c = ctx;
    c->nested_ran++;
    return fut_ready(fut_i64(c->saved + r.value.i64));
}

static fut_future ch_flatten(void *ctx, fut_result r)
{
    chain *c = ctx;
    c->ran[3]++;
    c->saved = r.value.i64;
    long before = calls_now();
    fut_future g = fut_then(&c->inner, c->s, ch_add_saved, c); /* pending: flattened */
    c->nested_hit = alloc_hit(c->sw, before);
    return g;
}

static fut_future ch_finally(void *ctx, fut_result r)
{
    chain *c = ctx;
    c->ran[4]++;
    c->fin_in = r;
    return fut_ready_result(r);
}

typedef struct chain_arg {
    int with_pool; /* shared states from a fut_pool env */
} chain_arg;

static void scen_chain(sweep *sw, const void *argp)
{
    const chain_arg *arg = argp;
    rsched rs;
    rs_init(&rs, sw, 1);
    chain c = {.s = &rs.s, .sw = sw};
    fut_pool pool;
    fut_env env;
    const fut_env *envp = NULL;
    if (arg->with_pool) {
        fut_pool_config cfg = {.size = fut_state_size(), .capacity = 8, .warm = 2};
        long b = calls_now();
        int rc = fut_pool_init(&pool, &cfg);
        if (rc != 0) {
            CHECK(sw, rc == ENOMEM && alloc_hit(sw, b), "fut_pool_init gave %d", rc);
            rs_done(sw, &rs);
            return;
        }
        CHECK(sw, fut_env_init(&env, &pool, NULL) == 0, "fut_env_init");
        envp = &env;
        /* This thread's magazine is made now, so that below only states allocate. If
         * that allocation is the failing one the pool absorbs it (the depot serves), and
         * the chain must come out exactly as without a fault: no window below is hit. */
        void *o = fut_pool_acquire(&pool);
        CHECK(sw, o != NULL, "a warm pool handed out NULL");
        CHECK(sw, fut_pool_release(&pool, o) == 0, "fut_pool_release");
    }

    fut_promise p, q;
    fut_future f;
    long b = calls_now();
    int rc_p = fut_promise_new_env(&p, &f, envp);
    int fault_p = alloc_hit(sw, b);
    CHECK(sw, rc_p == (fault_p ? ENOMEM : 0), "fut_promise_new(p) gave %d", rc_p);
    b = calls_now();
    int rc_q = fut_promise_new_env(&q, &c.inner, envp);
    int fault_q = alloc_hit(sw, b);
    CHECK(sw, rc_q == (fault_q ? ENOMEM : 0), "fut_promise_new(q) gave %d", rc_q);

    /* The links; each chain call's allocation window is noted. */
    int afault[5];
    fut_future g = f;
    static const fut_fn fns[5] = {ch_add1, ch_fail, ch_recover, ch_flatten, ch_finally};
    for (int i = 0; i < 5; i++) {
        b = calls_now();
        if (i == 2)
            g = fut_recover(&g, &rs.s, fns[i], &c);
        else if (i == 4)
            g = fut_then_result(&g, &rs.s, fns[i], &c);
        else
            g = fut_then(&g, &rs.s, fns[i], &c);
        afault[i] = alloc_hit(sw, b);
    }

    CHECK(sw, fut_promise_set(&p, fut_i64(1)) == (rc_p == 0 ? 0 : EINVAL), "fut_promise_set(p)");
    rs_drain(&rs);
    CHECK(sw, fut_promise_set(&q, fut_i64(5)) == (rc_q == 0 ? 0 : EINVAL), "fut_promise_set(q)");
    rs_drain(&rs);

    /* The expected outcome of each link. A refusal is placed by counting submissions in
     * the order the chain makes them: each record when its input arrives; the nested
     * record when q settles, before the finally link. */
    long sub = 0;
    int F = fault_err(sw);
#define LINK_FAULT(i) (sw->mode == BY_ALLOC ? afault[i] : ++sub == sw->k)
    oc src = rc_p != 0 ? E(EINVAL) : V(1); /* a chain on the empty f: EINVAL */
    int l0 = LINK_FAULT(0);
    oc o1 = l0 ? E(F) : src.err ? src : V(src.v + 1);
    int l1 = LINK_FAULT(1);
    oc o2 = l1 ? E(F) : o1.err ? o1 : E(EIO);
    int l2 = LINK_FAULT(2);
    oc o3 = l2 ? E(F) : o2.err ? V(1000 + o2.err) : o2;
    int l3 = LINK_FAULT(3);
    oc o4;
    int flat_runs = !l3 && o3.err == 0;
    if (l3)
        o4 = E(F);
    else if (o3.err != 0)
        o4 = o3;
    else if (rc_q != 0)
        o4 = E(EINVAL); /* the nested chain on the empty inner future */
    else if (sw->mode == BY_ALLOC ? c.nested_hit : ++sub == sw->k)
        o4 = E(F);
    else
        o4 = V(o3.v + 5);
    int l4 = LINK_FAULT(4);
    oc o5 = l4 ? E(F) : o4;
#undef LINK_FAULT

    get_expect(sw, &g, o5, "the chain's future");
    CHECK(sw, c.ran[0] == (!l0 && src.err == 0), "then+1 ran %d times", c.ran[0]);
    CHECK(sw, c.ran[1] == (!l1 && o1.err == 0), "then:EIO ran %d times", c.ran[1]);
    CHECK(sw, c.ran[2] == (!l2 && o2.err != 0), "recover ran %d times", c.ran[2]);
    CHECK(sw, c.ran[3] == flat_runs, "the flattening step ran %d times", c.ran[3]);
    CHECK(sw, c.ran[4] == !l4, "finally ran %d times", c.ran[4]);
    if (c.ran[4] == 1)
        expect_oc(sw, c.fin_in, o4, "what finally saw");

    fut_drop(&c.inner); /* if the flattening step never took it */
    rs_done(sw, &rs);
    if (arg->with_pool)
        fut_pool_destroy(&pool);
}

/* ======================================================================================
 * (b) fut_when_all over 8 futures: ready values, a ready pointer, pending promises settled
 * later (one with a pointer), and two continuations (one on a pending promise, one on a
 * ready value, so submitted at once).
 * ====================================================================================== */

static fut_future add1(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

static void scen_when_all(sweep *sw, const void *arg)
{
    (void)arg;
    rsched rs;
    rs_init(&rs, sw, 1);
    int F = fault_err(sw);
    cell *ca = cell_new(0, 12), *cb = cell_new(1, 14);
    fut_future in[8];
    fut_promise P[8] = {{0}};
    int pnew_fault[8] = {0}, then_fault[8] = {0};
    static const int promised[8] = {0, 1, 0, 1, 1, 0, 0, 1};
    for (int i = 0; i < 8; i++) {
        if (promised[i]) {
            long b = calls_now();
            int rc = fut_promise_new(&P[i], &in[i]);
            pnew_fault[i] = alloc_hit(sw, b);
            CHECK(sw, rc == (pnew_fault[i] ? ENOMEM : 0), "fut_promise_new(%d) gave %d", i, rc);
        }
    }
    in[0] = fut_ready(fut_i64(10));
    in[2] = fut_ready_ptr(ca, cell_dtor);
    in[5] = fut_ready(fut_i64(15));
    long b = calls_now();
    in[3] = fut_then(&in[3], &rs.s, add1, NULL); /* on P3: submitted when P3 settles */
    then_fault[3] = alloc_hit(sw, b);
    in[6] = fut_ready(fut_i64(15));
    b = calls_now();
    long s6 = rs.submits;
    in[6] = fut_then(&in[6], &rs.s, add1, NULL); /* on a ready value: submitted now */
    then_fault[6] = alloc_hit(sw, b) || refusal_hit(sw, &rs, s6);

    b = calls_now();
    fut_future all = fut_when_all(in, 8);
    int join_fault = alloc_hit(sw, b);
    for (int i = 0; i < 8; i++)
        CHECK(sw, fut_is_ready(&in[i]) == 0 && fut_wait_for(&in[i], 0) == EINVAL, "input %d not consumed", i);

    /* The first error in settling order. Input errors known at the call (an empty handle
     * from a failed fut_promise_new: EINVAL; a failed continuation) are met in input
     * order; a refusal of P3's continuation comes when P3 settles. */
    oc want = V(0);
    int decided_at_call = 0;
    if (join_fault) {
        want = E(ENOMEM);
    } else {
        for (int i = 0; i < 8 && want.err == 0; i++) {
            if (pnew_fault[i])
                want = E(EINVAL);
            else if (then_fault[i])
                want = E(F);
        }
        decided_at_call = want.err != 0;
    }

    /* Settle, in index order. After a decision the pending inputs were cancelled
     * upstream: their promises answer ECANCELED and keep their values. */
    static const int64_t pv[8] = {0, 11, 0, 12, 0, 0, 0, 17};
    int decided = decided_at_call;
    int cb_ours = 1; /* cb is ours until a set_ptr hands it over */
    for (int i = 0; i < 8; i++) {
        if (!promised[i])
            continue;
        long s0 = rs.submits;
        int rc = i == 4 ? fut_promise_set_ptr(&P[i], cb, cell_dtor) : fut_promise_set(&P[i], fut_i64(pv[i]));
        /* (P3's future went with a failed continuation: dropped, not cancelled.) */
        int want_rc = pnew_fault[i] ? EINVAL : decided && !then_fault[i] ? ECANCELED : 0;
        CHECK(sw, rc == want_rc, "setting P%d gave %d, want %d", i, rc, want_rc);
        if (i == 4 && rc == 0)
            cb_ours = 0;
        if (i == 3 && !decided && refusal_hit(sw, &rs, s0)) {
            want = E(EAGAIN); /* P3's continuation was refused: fail fast, now */
            decided = 1;
        }
    }
    if (cb_ours)
        cell_take(cb);
    rs_drain(&rs);

    await(sw, &all, "when_all");
    fut_result r;
    if (fut_try_get(&all, &r) == 0) {
        if (want.err != 0) {
            expect_oc(sw, r, want, "when_all");
        } else {
            CHECK(sw, r.err == 0, "when_all failed with %d", r.err);
            if (r.err == 0) {
                fut_result *v = r.value.ptr;
                static const int64_t wv[8] = {10, 11, -1, 13, -1, 15, 16, 17};
                for (int i = 0; i < 8; i++)
                    if (wv[i] >= 0)
                        CHECK(sw, v[i].value.i64 == wv[i], "when_all[%d] = %lld", i, (long long)v[i].value.i64);
                CHECK(sw, v[2].value.ptr == (void *)ca && v[4].value.ptr == (void *)cb, "the pointers in the block");
                cell_take(v[2].value.ptr); /* the block's values are the taker's */
                cell_take(v[4].value.ptr);
                fut_results_free(v);
            }
        }
    }
    CHECK(sw, cell_ends[0] == 1 && cell_ends[1] == 1, "the pointer values ended %d and %d times", cell_ends[0],
          cell_ends[1]);
    rs_done(sw, &rs);
}

/* ======================================================================================
 * (c) fut_map + fut_reduce over 10,000 ints: on the inline scheduler, on a fut_manual
 * drained with run_all (with submit_many, and one by one), on the teaching thread pool.
 * ====================================================================================== */

#define NMAP 10000
static int map_in[NMAP], map_out[NMAP];

static void map_2x1(void *ctx, const void *in, void *out, size_t count)
{
    (void)ctx;
    const int *a = in;
    int *o = out;
    for (size_t i = 0; i < count; i++)
        o[i] = 2 * a[i] + 1;
}

static fut_value sum_chunk(void *ctx, const void *in, size_t count)
{
    (void)ctx;
    const int *a = in;
    int64_t s = 0;
    for (size_t i = 0; i < count; i++)
        s += a[i];
    return fut_i64(s);
}

static fut_value sum_combine(void *ctx, fut_value a, fut_value b)
{
    (void)ctx;
    return fut_i64(a.i64 + b.i64);
}

enum { ON_INLINE, ON_MANUAL, ON_MANUAL_ONE_BY_ONE, ON_TPOOL };

/* The pool of ON_TPOOL, started before the sweep: its own allocations (queues, threads'
 * start blocks) are not the ones under test. */
static fut_workers g_tp;

static void scen_map_reduce(sweep *sw, const void *arg)
{
    int where = *(const int *)arg;
    rsched rs;
    rs_init(&rs, sw, where != ON_MANUAL_ONE_BY_ONE);
    fut_sched inl;
    fut_inline_init(&inl);
    fut_sched *s = &rs.s;
    if (where == ON_INLINE)
        s = &inl;
    if (where == ON_TPOOL)
        s = &g_tp.sched;
    int64_t sum = 0;
    for (int i = 0; i < NMAP; i++) {
        map_in[i] = i - 4000;
        map_out[i] = -1;
        sum += map_in[i];
    }
    long b = calls_now(), s0 = rs.submits;
    fut_future m = fut_map(s, &(fut_map_desc){.in = map_in, .out = map_out, .n = NMAP,
        .in_size = sizeof(int), .out_size = sizeof(int), .fn = map_2x1});
    int mfault = alloc_hit(sw, b) || refusal_hit(sw, &rs, s0);
    b = calls_now();
    s0 = rs.submits;
    fut_future r = fut_reduce(s, &(fut_reduce_desc){.in = map_in, .n = NMAP, .size = sizeof(int),
        .fn = sum_chunk, .combine = sum_combine, .identity = fut_i64(0)});
    int rfault = alloc_hit(sw, b) || refusal_hit(sw, &rs, s0);
    rs_drain(&rs);
    if (where == ON_TPOOL) {
        /* Let the workers finish before waiting: a wait that parks allocates a wait block
         * under FUT_NO_FUTEX, which would make the allocation count depend on timing. */
        uint64_t deadline = fut_now_ns() + 2 * SEC;
        while ((!fut_is_ready(&m) || !fut_is_ready(&r)) && fut_now_ns() < deadline)
            sched_yield();
    }
    get_expect(sw, &m, mfault ? E(fault_err(sw)) : V(NMAP), "fut_map");
    if (!mfault) {
        int wrong = 0;
        for (int i = 0; i < NMAP; i++)
            wrong += map_out[i] != 2 * map_in[i] + 1;
        CHECK(sw, wrong == 0, "fut_map wrote %d wrong elements", wrong);
    }
    get_expect(sw, &r, rfault ? E(fault_err(sw)) : V(sum), "fut_reduce");
    rs_done(sw, &rs);
}

/* ======================================================================================
 * (d) fut_pool_init with a warm-up of 16, then 32 acquire/release cycles of 1..24
 * objects (past the warm-up: misses allocate; past the capacity: evictions free).
 * ====================================================================================== */

static void scen_pool(sweep *sw, const void *arg)
{
    (void)arg;
    fut_pool pool;
    fut_pool_config cfg = {.size = 48, .capacity = 16, .warm = 16};
    long b = calls_now();
    int rc = fut_pool_init(&pool, &cfg);
    if (alloc_hit(sw, b)) {
        CHECK(sw, rc == ENOMEM, "fut_pool_init with a failed allocation gave %d", rc);
        return;
    }
    CHECK(sw, rc == 0, "fut_pool_init gave %d", rc);
    if (rc != 0)
        return;
    int nulls = 0;
    for (int cyc = 0; cyc < 32; cyc++) {
        void *objs[24];
        int want = 1 + (cyc * 7) % 24, got = 0;
        for (int i = 0; i < want; i++) {
            b = calls_now();
            void *o = fut_pool_acquire(&pool);
            if (o == NULL) {
                /* NULL only when memory is out: the failed allocation was this object's
                 * (a failed magazine allocation is absorbed: the depot serves). */
                CHECK(sw, alloc_hit(sw, b), "fut_pool_acquire gave NULL with memory to spare");
                nulls++;
                continue;
            }
            memset(o, 0xa5, cfg.size);
            objs[got++] = o;
        }
        for (int i = 0; i < got; i++)
            CHECK(sw, fut_pool_release(&pool, objs[i]) == 0, "fut_pool_release");
        fut_pool_counts pc;
        CHECK(sw, fut_pool_snapshot(&pool, &pc) == 0, "fut_pool_counts");
        CHECK(sw, pc.live == 0 && pc.idle <= cfg.capacity && pc.allocated == pc.idle + pc.evicted,
              "cycle %d: allocated %llu idle %llu evicted %llu live %llu", cyc, (unsigned long long)pc.allocated,
              (unsigned long long)pc.idle, (unsigned long long)pc.evicted, (unsigned long long)pc.live);
    }
    CHECK(sw, nulls <= 1, "%d acquisitions failed for one failed allocation", nulls);
    fut_pool_destroy(&pool);
}

/* ======================================================================================
 * (e) fut_split of a pending pointer value into 3, each output with a continuation. The
 * first two borrow the pointer (compared, never read), the last owns it and frees it.
 * ====================================================================================== */

typedef struct split_ctx {
    int index, ran;
    uintptr_t addr; /* the cell's address: borrowers compare, never dereference */
    int64_t seen;
} split_ctx;

static fut_future split_cont(void *ctx, fut_result r)
{
    split_ctx *x = ctx;
    x->ran++;
    if ((uintptr_t)r.value.ptr != x->addr)
        return fut_ready_error(EBADMSG);
    if (x->index < 2)
        return fut_ready(fut_i64(100 + x->index));
    cell *c = r.value.ptr; /* the owner: the value is ours */
    int64_t v = c->v;
    cell_take(c);
    return fut_ready(fut_i64(200 + v));
}

static void scen_split(sweep *sw, const void *arg)
{
    (void)arg;
    rsched rs;
    rs_init(&rs, sw, 1);
    fut_promise p;
    fut_future f, out[3], g[3];
    cell *c = cell_new(2, 7);
    long b = calls_now();
    int rc = fut_promise_new(&p, &f);
    if (alloc_hit(sw, b)) {
        CHECK(sw, rc == ENOMEM, "fut_promise_new gave %d", rc);
        cell_take(c);
        rs_done(sw, &rs);
        return;
    }
    b = calls_now();
    rc = fut_split(&f, 3, out);
    if (alloc_hit(sw, b)) {
        CHECK(sw, rc == ENOMEM, "fut_split with a failed allocation gave %d", rc);
        CHECK(sw, fut_is_ready(&f) == 0 && fut_wait_for(&f, 0) == ETIMEDOUT, "f was touched by a failed split");
        fut_drop(&f);
        CHECK(sw, fut_promise_set_ptr(&p, c, cell_dtor) == 0, "settling after the drop");
        CHECK(sw, cell_ends[2] == 1, "the dropped pointer ended %d times", cell_ends[2]);
        rs_done(sw, &rs);
        return;
    }
    CHECK(sw, rc == 0, "fut_split gave %d", rc);
    split_ctx x[3];
    int afault[3];
    for (int i = 0; i < 3; i++) {
        x[i] = (split_ctx){.index = i, .addr = (uintptr_t)c};
        b = calls_now();
        g[i] = fut_then(&out[i], &rs.s, split_cont, &x[i]);
        afault[i] = alloc_hit(sw, b);
    }
    CHECK(sw, fut_promise_set_ptr(&p, c, cell_dtor) == 0, "fut_promise_set_ptr");
    rs_drain(&rs);
    /* Refusals: the outputs settle in index order, so record i is submission i + 1. */
    long sub = 0;
    for (int i = 0; i < 3; i++) {
        int fault = sw->mode == BY_ALLOC ? afault[i] : (!afault[i] && ++sub == sw->k);
        oc want = fault ? E(fault_err(sw)) : V(i < 2 ? 100 + i : 207);
        char what[32];
        snprintf(what, sizeof what, "output %d", i);
        get_expect(sw, &g[i], want, what);
        CHECK(sw, x[i].ran == !fault, "output %d's continuation ran %d times", i, x[i].ran);
    }
    CHECK(sw, cell_ends[2] == 1, "the pointer ended %d times", cell_ends[2]);
    rs_done(sw, &rs);
}

/* ======================================================================================
 * (f) fut_pipeline with 2 stages (x10, +1) and 5 items, at most 2 in flight.
 * ====================================================================================== */

static fut_future st_x10(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 * 10));
}

static fut_future st_plus1(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

static void scen_pipeline(sweep *sw, const void *arg)
{
    (void)arg;
    rsched rs;
    rs_init(&rs, sw, 1);
    fut_stage st[2] = {{&rs.s, st_x10, NULL}, {&rs.s, st_plus1, NULL}};
    fut_pipeline pl;
    long b = calls_now();
    int rc = fut_pipeline_init(&pl, st, 2, 2);
    if (alloc_hit(sw, b)) {
        CHECK(sw, rc == ENOMEM, "fut_pipeline_init with a failed allocation gave %d", rc);
        rs_done(sw, &rs);
        return;
    }
    CHECK(sw, rc == 0, "fut_pipeline_init gave %d", rc);
    fut_future out[5];
    for (int i = 0; i < 5; i++) {
        fut_future in = fut_ready(fut_i64(i + 1));
        out[i] = fut_pipeline_push(&pl, &in);
        CHECK(sw, fut_wait_for(&in, 0) == EINVAL, "push did not consume its input");
    }
    rs_drain(&rs);
    /* One fault touches one item: its allocation, its promise, or one of its stage
     * continuations (an error skips the later stage). The others are untouched. */
    int faulted = 0;
    for (int i = 0; i < 5; i++) {
        char what[32];
        snprintf(what, sizeof what, "item %d", i);
        await(sw, &out[i], what);
        fut_result r;
        if (fut_try_get(&out[i], &r) != 0) {
            fut_drop(&out[i]);
            continue;
        }
        if (r.err != 0) {
            faulted++;
            CHECK(sw, r.err == fault_err(sw), "item %d failed with %d", i, r.err);
        } else {
            CHECK(sw, r.value.i64 == (i + 1) * 10 + 1, "item %d gave %lld", i, (long long)r.value.i64);
        }
    }
    CHECK(sw, faulted == (sw->k != 0), "%d items failed", faulted);
    rc = fut_pipeline_destroy(&pl);
    CHECK(sw, rc == 0, "fut_pipeline_destroy gave %d after every item settled", rc);
    rs_done(sw, &rs);
}

/* ======================================================================================
 * (g) fut_batch_spawn x 10, then one flush.
 * ====================================================================================== */

static fut_future sq(void *ctx, fut_result r)
{
    (void)r;
    int64_t i = (int64_t)(intptr_t)ctx;
    return fut_ready(fut_i64(i * i));
}

static void scen_batch(sweep *sw, const void *arg)
{
    int with_many = *(const int *)arg;
    rsched rs;
    rs_init(&rs, sw, with_many);
    fut_batch bt;
    CHECK(sw, fut_batch_init(&bt, &rs.s, 64, NULL) == 0, "fut_batch_init");
    fut_future g[10];
    int afault[10];
    for (int i = 0; i < 10; i++) {
        long b = calls_now();
        g[i] = fut_batch_spawn(&bt, sq, (void *)(intptr_t)i);
        afault[i] = alloc_hit(sw, b);
    }
    long s0 = rs.submits;
    size_t took = fut_batch_flush(&bt);
    rs_drain(&rs);
    /* One submit_many for the whole batch, or one submit per spawned task in order. */
    size_t want_took = 0;
    long sub = s0;
    for (int i = 0; i < 10; i++) {
        int fault = afault[i];
        if (!afault[i] && sw->mode == BY_REFUSAL)
            fault = with_many ? sw->k == s0 + 1 : ++sub == sw->k;
        want_took += !fault;
        char what[32];
        snprintf(what, sizeof what, "task %d", i);
        get_expect(sw, &g[i], fault ? E(fault_err(sw)) : V((int64_t)i * i), what);
    }
    CHECK(sw, took == want_took, "fut_batch_flush says %zu taken, want %zu", took, want_took);
    rs_done(sw, &rs);
}

/* ======================================================================================
 * (h) a request's lifecycle, as apps/httpd_fut.c runs it: a promise (the job) whose
 * cleanup is a fut_finally, and a reply attached with fut_detach_cancellable; with
 * `cancel`, the client leaves (fut_cancel on the reply's handle) before the job sets
 * its value. Under every fault: each call that returned 0 ran its function exactly
 * once, one that failed never did, the value ended exactly once, nothing leaked; and
 * with no fault hit the outcomes are exact.
 * ====================================================================================== */

typedef struct life {
    int cleanups, sinks, cleanup_err;
    fut_result got;
} life;

static void life_cleanup(void *ctx, int err)
{
    life *l = ctx;
    l->cleanups++;
    l->cleanup_err = err;
}

static void life_sink(void *ctx, fut_result r)
{
    life *l = ctx;
    l->sinks++;
    l->got = r;
    if (r.err == 0)
        cell_take(r.value.ptr);
}

static void scen_life(sweep *sw, const void *argp)
{
    int cancel = *(const int *)argp;
    rsched rs;
    rs_init(&rs, sw, 1);
    life l = {0};
    fut_promise p;
    fut_future f, h;
    long b = calls_now();
    int rc_p = fut_promise_new(&p, &f);
    CHECK(sw, rc_p == (alloc_hit(sw, b) ? ENOMEM : 0), "fut_promise_new gave %d", rc_p);
    b = calls_now();
    int rc_fin = fut_finally(&f, &rs.s, life_cleanup, &l);
    int hit_fin = alloc_hit(sw, b);
    CHECK(sw, rc_fin == (rc_p != 0 ? EINVAL : hit_fin ? ENOMEM : 0), "fut_finally gave %d", rc_fin);
    b = calls_now();
    int rc_det = fut_detach_cancellable(&f, &rs.s, life_sink, &l, &h);
    int hit_det = alloc_hit(sw, b);
    CHECK(sw, rc_det == (rc_p != 0 ? EINVAL : hit_det ? ENOMEM : 0), "fut_detach_cancellable gave %d", rc_det);
    if (rc_det != 0) {
        CHECK(sw, h.tag == 0, "a failed detach left h set");
        fut_drop(&f);
    }
    if (cancel && rc_det == 0)
        CHECK(sw, fut_cancel(&h) == 0, "fut_cancel(h)");
    rs_drain(&rs);
    cell *v = cell_new(0, 7);
    int rc_set = fut_promise_set_ptr(&p, v, cell_dtor);
    if (rc_set != 0)
        cell_take(v); /* refused (cancelled, or p empty): the value stayed ours */
    rs_drain(&rs);
    fut_drop(&h);
    CHECK(sw, cell_ends[0] == 1, "the value ended %d times", cell_ends[0]);
    CHECK(sw, l.cleanups == (rc_fin == 0), "the cleanup ran %d times (fut_finally gave %d)", l.cleanups, rc_fin);
    CHECK(sw, l.sinks == (rc_det == 0), "the sink ran %d times (detach gave %d)", l.sinks, rc_det);
    int refused = sw->mode == BY_REFUSAL && refusal_hit(sw, &rs, 0);
    int faulted = rc_p != 0 || hit_fin || hit_det || refused;
    if (!faulted) {
        CHECK(sw, rc_set == (cancel ? ECANCELED : 0), "fut_promise_set gave %d", rc_set);
        CHECK(sw, l.cleanup_err == (cancel ? ECANCELED : 0), "the cleanup saw %d", l.cleanup_err);
        CHECK(sw, l.got.err == (cancel ? ECANCELED : 0), "the sink saw %d", l.got.err);
    } else if (l.sinks == 1 && l.got.err != 0) {
        int F = fault_err(sw);
        CHECK(sw, l.got.err == F || l.got.err == ECANCELED || l.got.err == EINVAL, "the sink saw %d", l.got.err);
    }
    rs_done(sw, &rs);
}

/* ---- the sweeps ---------------------------------------------------------------------- */

TestSuite(alloc_failure);
TestSuite(sched_refusal);

Test(alloc_failure, chain_of_five_links_settled_and_read)
{
    chain_arg a = {0};
    sweep_all("(a) chain", BY_ALLOC, scen_chain, &a);
}

Test(alloc_failure, chain_of_five_links_with_states_from_a_pool)
{
    chain_arg a = {1};
    sweep_all("(a) chain, pool env", BY_ALLOC, scen_chain, &a);
}

Test(alloc_failure, when_all_over_eight_futures)
{
    sweep_all("(b) when_all", BY_ALLOC, scen_when_all, NULL);
}

Test(alloc_failure, map_and_reduce_on_the_inline_scheduler)
{
    int w = ON_INLINE;
    sweep_all("(c) map+reduce, inline", BY_ALLOC, scen_map_reduce, &w);
}

Test(alloc_failure, map_and_reduce_on_a_manual_scheduler)
{
    int w = ON_MANUAL;
    sweep_all("(c) map+reduce, manual", BY_ALLOC, scen_map_reduce, &w);
}

Test(alloc_failure, map_and_reduce_on_the_thread_pool)
{
    int w = ON_TPOOL;
    cr_assert_eq(fut_workers_init(&g_tp, &(fut_workers_config){.threads = 2}), 0);
    sweep_all("(c) map+reduce, fut_workers", BY_ALLOC, scen_map_reduce, &w);
    cr_assert_eq(fut_workers_shutdown(&g_tp, FUT_WORKERS_DRAIN), 0);
}

Test(alloc_failure, pool_warm_up_and_acquire_release_cycles)
{
    sweep_all("(d) pool", BY_ALLOC, scen_pool, NULL);
}

Test(alloc_failure, split_into_three_with_continuations)
{
    sweep_all("(e) split", BY_ALLOC, scen_split, NULL);
}

Test(alloc_failure, pipeline_of_two_stages_and_five_items)
{
    sweep_all("(f) pipeline", BY_ALLOC, scen_pipeline, NULL);
}

Test(alloc_failure, batch_of_ten_spawns_and_a_flush)
{
    int many = 1;
    sweep_all("(g) batch", BY_ALLOC, scen_batch, &many);
}

Test(alloc_failure, a_request_lifecycle_finally_and_a_cancellable_reply)
{
    for (int cancel = 0; cancel < 2; cancel++)
        sweep_all(cancel ? "(h) request, client left" : "(h) request", BY_ALLOC, scen_life, &cancel);
}

Test(sched_refusal, a_request_lifecycle_finally_and_a_cancellable_reply)
{
    for (int cancel = 0; cancel < 2; cancel++)
        sweep_all(cancel ? "(h) request, client left" : "(h) request", BY_REFUSAL, scen_life, &cancel);
}

Test(sched_refusal, chain_of_five_links_settled_and_read)
{
    chain_arg a = {0};
    sweep_all("(a) chain", BY_REFUSAL, scen_chain, &a);
}

Test(sched_refusal, when_all_over_eight_futures)
{
    sweep_all("(b) when_all", BY_REFUSAL, scen_when_all, NULL);
}

Test(sched_refusal, map_and_reduce_submitting_with_submit_many)
{
    int w = ON_MANUAL;
    sweep_all("(c) map+reduce, submit_many", BY_REFUSAL, scen_map_reduce, &w);
}

Test(sched_refusal, map_and_reduce_submitting_chunk_by_chunk)
{
    int w = ON_MANUAL_ONE_BY_ONE;
    sweep_all("(c) map+reduce, one by one", BY_REFUSAL, scen_map_reduce, &w);
}

Test(sched_refusal, split_into_three_with_continuations)
{
    sweep_all("(e) split", BY_REFUSAL, scen_split, NULL);
}

Test(sched_refusal, pipeline_of_two_stages_and_five_items)
{
    sweep_all("(f) pipeline", BY_REFUSAL, scen_pipeline, NULL);
}

Test(sched_refusal, batch_of_ten_spawns_flushed_with_submit_many)
{
    int many = 1;
    sweep_all("(g) batch, submit_many", BY_REFUSAL, scen_batch, &many);
}

Test(sched_refusal, batch_of_ten_spawns_flushed_one_by_one)
{
    int many = 0;
    sweep_all("(g) batch, one by one", BY_REFUSAL, scen_batch, &many);
}

/* ======================================================================================
 * The bad-input table (docs/bad_input.md): one test per row.
 * ====================================================================================== */

TestSuite(bad_input);

static fut_future ret_value(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64));
}

static int task_runs;
static int task_err;
static void count_task(fut_task *t, int err)
{
    (void)t;
    task_runs++;
    task_err = err;
}

static _Atomic int hook_runs;
static void count_hook(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&hook_runs, 1);
}

static long dtors(void) { return atomic_load(&tu_dtor_calls); }

/* A spent future: one whose outcome was taken. */
static fut_future spent_future(void)
{
    fut_future f = fut_ready(fut_i64(1));
    cr_assert_eq(fut_get(&f).err, 0);
    return f;
}

/* A pending future and its promise. */
static void pending(fut_promise *p, fut_future *f) { cr_assert_eq(fut_promise_new(p, f), 0); }

/* ---- stats.h --------------------------------------------------------------------------- */

Test(bad_input, fut_stats_init_null_or_shards_out_of_range_is_einval)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(NULL, 4), EINVAL);
    cr_assert_eq(fut_stats_init(&st, 0), EINVAL);
    cr_assert_eq(fut_stats_init(&st, 4097), EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_stats_destroy_null_zeroed_or_twice_is_harmless)
{
    fut_stats st, zero;
    memset(&zero, 0, sizeof zero);
    fut_stats_destroy(NULL);
    fut_stats_destroy(&zero);
    cr_assert_eq(fut_stats_init(&st, 2), 0);
    fut_stats_destroy(&st);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_stats_updates_on_null_zeroed_or_destroyed_blocks_are_ignored)
{
    fut_stats zero, st;
    memset(&zero, 0, sizeof zero);
    fut_stats_inc(NULL, FUT_STAT_SPAWNED);
    fut_stats_add(NULL, FUT_STAT_SPAWNED, 5);
    fut_stats_time(NULL, 100);
    fut_stats_inc(&zero, FUT_STAT_SPAWNED);
    fut_stats_add(&zero, FUT_STAT_ERRORS, 5);
    fut_stats_time(&zero, 100);
    cr_assert_eq(fut_stats_init(&st, 2), 0);
    fut_stats_destroy(&st);
    fut_stats_inc(&st, FUT_STAT_SPAWNED);
    fut_stats_time(&st, 100);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_stats_inc_counter_out_of_range_is_ignored)
{
    fut_stats st;
    fut_stats_snap s;
    cr_assert_eq(fut_stats_init(&st, 2), 0);
    fut_stats_inc(&st, (fut_stat)FUT_STAT_COUNT);
    fut_stats_add(&st, (fut_stat)(FUT_STAT_COUNT + 7), 3);
    fut_stats_inc(&st, (fut_stat)-1);
    cr_assert_eq(fut_stats_snapshot(&st, &s), 0);
    for (int i = 0; i < FUT_STAT_COUNT; i++)
        cr_assert_eq(s.c[i], 0, "counter %d", i);
    fut_stats_destroy(&st);
}

Test(bad_input, fut_stats_snapshot_null_or_zeroed_is_einval)
{
    fut_stats st, zero;
    fut_stats_snap s;
    memset(&zero, 0, sizeof zero);
    cr_assert_eq(fut_stats_init(&st, 2), 0);
    cr_assert_eq(fut_stats_snapshot(NULL, &s), EINVAL);
    cr_assert_eq(fut_stats_snapshot(&st, NULL), EINVAL);
    cr_assert_eq(fut_stats_snapshot(&zero, &s), EINVAL);
    fut_stats_destroy(&st);
    cr_assert_eq(fut_stats_snapshot(&st, &s), EINVAL, "a destroyed block");
}

Test(bad_input, fut_stats_reset_null_or_zeroed_is_ignored)
{
    fut_stats zero;
    memset(&zero, 0, sizeof zero);
    fut_stats_reset(NULL);
    fut_stats_reset(&zero);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_stats_rates_of_an_empty_snapshot_are_zero)
{
    fut_stats_snap s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(fut_stats_pool_hit_rate(&s), 0.0);
    cr_assert_eq(fut_stats_fast_path_rate(&s), 0.0);
    cr_assert_eq(fut_stats_percentile(&s, 50), 0);
}

Test(bad_input, fut_stats_rates_of_a_null_snapshot_are_zero)
{
    cr_assert_eq(fut_stats_percentile(NULL, 50), 0); /* the one that checks */
    cr_assert_eq(fut_stats_pool_hit_rate(NULL), 0.0);
    cr_assert_eq(fut_stats_fast_path_rate(NULL), 0.0);
}

Test(bad_input, fut_stats_percentile_out_of_range_is_clamped)
{
    fut_stats st;
    fut_stats_snap s;
    cr_assert_eq(fut_stats_init(&st, 1), 0);
    fut_stats_time(&st, 100);
    fut_stats_time(&st, 1000);
    cr_assert_eq(fut_stats_snapshot(&st, &s), 0);
    cr_assert_eq(fut_stats_percentile(&s, 1000.0), s.max_ns);
    cr_assert_leq(fut_stats_percentile(&s, -5.0), fut_stats_percentile(&s, 50));
    fut_stats_destroy(&st);
}

Test(bad_input, fut_stats_name_out_of_range_is_a_question_mark)
{
    cr_assert_str_eq(fut_stats_name((fut_stat)FUT_STAT_COUNT), "?");
    cr_assert_str_eq(fut_stats_name((fut_stat)-1), "?");
    cr_assert_str_eq(fut_stats_name(FUT_STAT_SPAWNED), "spawned");
}

Test(bad_input, fut_stats_format_null_snapshot_or_zero_capacity)
{
    char buf[8] = "xxxxxxx";
    cr_assert_eq(fut_stats_format(NULL, 0, buf, sizeof buf), 0);
    cr_assert_eq(buf[0], '\0', "a NULL snapshot gives the empty string");
    fut_stats_snap s;
    memset(&s, 0, sizeof s);
    memcpy(buf, "xxxxxxx", 8);
    size_t need = fut_stats_format(&s, FUT_STATS_JSON, buf, 0);
    cr_assert_gt(need, 0, "capacity 0 still counts, like snprintf");
    cr_assert_eq(buf[0], 'x', "capacity 0 writes nothing");
    cr_assert_eq(fut_stats_format(&s, FUT_STATS_JSON, NULL, 0), need);
    cr_assert_eq(fut_stats_format(&s, FUT_STATS_JSON, buf, sizeof buf), need);
    cr_assert_eq(strlen(buf), sizeof buf - 1, "truncated and terminated");
}

Test(bad_input, fut_stats_print_null_is_einval)
{
    fut_stats_snap s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(fut_stats_print(NULL, stdout, 0), EINVAL);
    cr_assert_eq(fut_stats_print(&s, NULL, 0), EINVAL);
}

/* ---- pool.h ---------------------------------------------------------------------------- */

Test(bad_input, fut_pool_init_null_zero_size_or_bad_align_is_einval)
{
    fut_pool p;
    fut_pool_config ok = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(NULL, &ok), EINVAL);
    cr_assert_eq(fut_pool_init(&p, NULL), EINVAL);
    fut_pool_config c = ok;
    c.size = 0;
    cr_assert_eq(fut_pool_init(&p, &c), EINVAL);
    c = ok;
    c.align = 24;
    cr_assert_eq(fut_pool_init(&p, &c), EINVAL);
    c.align = 8192;
    cr_assert_eq(fut_pool_init(&p, &c), EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_init_zero_capacity_keeps_nothing_idle)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 0, .warm = 8};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    fut_pool_counts n;
    cr_assert_eq(fut_pool_snapshot(&p, &n), 0);
    cr_assert_eq(n.idle, 0, "warm is at most capacity");
    void *o = fut_pool_acquire(&p);
    cr_assert_not_null(o);
    cr_assert_eq(fut_pool_release(&p, o), 0);
    cr_assert_eq(fut_pool_snapshot(&p, &n), 0);
    cr_assert_eq(n.idle, 0);
    cr_assert_eq(n.evicted, 1, "every release frees");
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_init_warm_beyond_capacity_is_clamped)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4, .warm = 100};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    fut_pool_counts n;
    cr_assert_eq(fut_pool_snapshot(&p, &n), 0);
    cr_assert_eq(n.idle, 4);
    cr_assert_eq(n.allocated, 4);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_destroy_null_is_ignored) { fut_pool_destroy(NULL); }

/* The second destroy locks and destroys the mutex the first destroyed: harmless on
 * glibc, undefined in POSIX (TSan: "use of an invalid mutex"). */
Test(bad_input, fut_pool_destroy_twice_is_harmless)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4, .warm = 2};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    fut_pool_destroy(&p);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_acquire_null_is_null) { cr_assert_null(fut_pool_acquire(NULL)); }

Test(bad_input, fut_pool_acquire_on_a_zeroed_pool_is_null)
{
    fut_pool p;
    memset(&p, 0, sizeof p);
    cr_assert_null(fut_pool_acquire(&p));
}

Test(bad_input, fut_pool_acquire_on_a_destroyed_pool_is_null)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    fut_pool_destroy(&p);
    void *o = fut_pool_acquire(&p);
    cr_assert_null(o, "a destroyed pool handed out an object (which no release can take back)");
}

Test(bad_input, fut_pool_release_null_is_einval)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *o = fut_pool_acquire(&p);
    cr_assert_eq(fut_pool_release(NULL, o), EINVAL);
    cr_assert_eq(fut_pool_release(&p, NULL), EINVAL);
    cr_assert_eq(fut_pool_release(&p, o), 0, "the object is still live and releasable");
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_release_object_of_another_pool_is_einval)
{
    fut_pool a, b;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&a, &c), 0);
    cr_assert_eq(fut_pool_init(&b, &c), 0);
    void *o = fut_pool_acquire(&b);
    cr_assert_eq(fut_pool_release(&a, o), EINVAL);
    cr_assert_eq(fut_pool_release(&b, o), 0);
    fut_pool_destroy(&a);
    fut_pool_destroy(&b);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_release_foreign_pointer_is_einval)
{
    /* A pointer with readable memory before it (the header the pool looks at). */
    static _Alignas(64) unsigned char buf[256];
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    cr_assert_eq(fut_pool_release(&p, buf + 128), EINVAL);
    fut_pool_destroy(&p);
}

Test(bad_input, fut_pool_release_pointer_into_callers_memory_is_einval)
{
    /* pool.h: "EINVAL for another pool's object or a pointer into memory of yours (those
     * bytes must be readable: a pointer to the start of an unrelated heap block is not
     * checkable)". A pointer into the middle of a block of the caller's. */
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    char *m = malloc(1000);
    memset(m, 0, 1000);
    cr_assert_eq(fut_pool_release(&p, m + 512), EINVAL);
    free(m);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_release_twice_while_idle_is_ealready)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *o = fut_pool_acquire(&p);
    cr_assert_eq(fut_pool_release(&p, o), 0);
    cr_assert_eq(fut_pool_release(&p, o), EALREADY);
    fut_pool_counts n;
    cr_assert_eq(fut_pool_snapshot(&p, &n), 0);
    cr_assert_eq(n.idle, 1, "the second release changed nothing");
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_release_on_a_zeroed_or_destroyed_pool_is_einval)
{
    fut_pool live, zero, dead;
    fut_pool_config c = {.size = 32, .capacity = 4};
    memset(&zero, 0, sizeof zero);
    cr_assert_eq(fut_pool_init(&live, &c), 0);
    cr_assert_eq(fut_pool_init(&dead, &c), 0);
    fut_pool_destroy(&dead);
    void *o = fut_pool_acquire(&live);
    cr_assert_eq(fut_pool_release(&zero, o), EINVAL);
    cr_assert_eq(fut_pool_release(&dead, o), EINVAL);
    cr_assert_eq(fut_pool_release(&live, o), 0, "the object is still live and releasable");
    fut_pool_destroy(&live);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_flush_null_zeroed_or_destroyed_is_ignored)
{
    fut_pool zero, dead;
    fut_pool_config c = {.size = 32, .capacity = 4};
    memset(&zero, 0, sizeof zero);
    fut_pool_flush(NULL);
    fut_pool_flush(&zero);
    cr_assert_eq(fut_pool_init(&dead, &c), 0);
    fut_pool_destroy(&dead);
    fut_pool_flush(&dead);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pool_counts_get_null_is_einval)
{
    fut_pool p;
    fut_pool_counts n;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    cr_assert_eq(fut_pool_snapshot(NULL, &n), EINVAL);
    cr_assert_eq(fut_pool_snapshot(&p, NULL), EINVAL);
    fut_pool_destroy(&p);
}

/* ---- fut.h: env, schedulers ------------------------------------------------------------ */

Test(bad_input, fut_env_init_null_env_or_small_pool_is_einval)
{
    fut_env env;
    fut_pool small;
    fut_pool_config c = {.size = 8, .capacity = 4};
    cr_assert_eq(fut_pool_init(&small, &c), 0);
    cr_assert_eq(fut_env_init(NULL, NULL, NULL), EINVAL);
    cr_assert_eq(fut_env_init(&env, &small, NULL), EINVAL);
    cr_assert_eq(fut_env_init(&env, NULL, NULL), 0, "both may be NULL");
    fut_pool_destroy(&small);
}

Test(bad_input, fut_sched_submit_null_or_incomplete_is_einval_and_runs_nothing)
{
    fut_manual m;
    fut_sched zero = {0};
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_task t = {NULL, count_task}, norun = {NULL, NULL};
    cr_assert_eq(fut_sched_submit(NULL, &t), EINVAL);
    cr_assert_eq(fut_sched_submit(&m.sched, NULL), EINVAL);
    cr_assert_eq(fut_sched_submit(&m.sched, &norun), EINVAL);
    cr_assert_eq(fut_sched_submit(&zero, &t), EINVAL);
    cr_assert_eq(fut_manual_run_all(&m), 0);
    cr_assert_eq(task_runs, 0);
    fut_manual_destroy(&m);
}

Test(bad_input, fut_sched_submit_many_null_or_zero_count_takes_nothing)
{
    fut_manual m;
    fut_sched zero = {0};
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_task t = {NULL, count_task};
    cr_assert_eq(fut_sched_submit_many(NULL, &t, 1), 0);
    cr_assert_eq(fut_sched_submit_many(&m.sched, NULL, 1), 0);
    cr_assert_eq(fut_sched_submit_many(&m.sched, &t, 0), 0);
    cr_assert_eq(fut_sched_submit_many(&zero, &t, 1), 0);
    cr_assert_eq(fut_manual_run_all(&m), 0);
    cr_assert_eq(task_runs, 0);
    fut_manual_destroy(&m);
}

Test(bad_input, fut_inline_init_null_is_ignored)
{
    fut_inline_init(NULL);
}

Test(bad_input, fut_manual_init_null_is_einval) { cr_assert_eq(fut_manual_init(NULL, 0), EINVAL); }

Test(bad_input, fut_manual_functions_on_null_are_harmless)
{
    fut_manual_destroy(NULL);
    fut_manual_close(NULL);
    cr_assert_eq(fut_manual_run_one(NULL), 0);
    cr_assert_eq(fut_manual_run_all(NULL), 0);
    cr_assert_eq(fut_manual_pending(NULL), 0);
    cr_assert_eq(fut_manual_wait(NULL, 0), EINVAL);
}

Test(bad_input, fut_manual_zero_capacity_is_unbounded)
{
    fut_manual m;
    static fut_task ts[5000];
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    for (int i = 0; i < 5000; i++) {
        ts[i].run = count_task;
        cr_assert_eq(fut_sched_submit(&m.sched, &ts[i]), 0);
    }
    cr_assert_eq(fut_manual_run_all(&m), 5000);
    fut_manual_destroy(&m);
}

/* The submit locks the mutex fut_manual_destroy destroyed: ESHUTDOWN on glibc,
 * undefined in POSIX (TSan: "use of an invalid mutex"). */
Test(bad_input, fut_manual_submit_after_destroy_is_eshutdown)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_manual_destroy(&m);
    fut_task t = {NULL, count_task};
    cr_assert_eq(fut_sched_submit(&m.sched, &t), ESHUTDOWN);
    cr_assert_eq(task_runs, 1);
    cr_assert_eq(task_err, ESHUTDOWN, "a refused task runs here with the error");
}

/* ---- fut.h: create ----------------------------------------------------------------------- */

Test(bad_input, fut_promise_new_null_is_einval_and_touches_nothing)
{
    fut_promise p = {0};
    fut_future f = fut_ready(fut_i64(3));
    cr_assert_eq(fut_promise_new(NULL, &f), EINVAL);
    cr_assert_eq(fut_get(&f).value.i64, 3, "f untouched");
    cr_assert_eq(fut_promise_new(&p, NULL), EINVAL);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), EINVAL, "p untouched (empty)");
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_promise_new_env_null_env_is_plain_and_small_pool_is_einval)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new_env(&p, &f, NULL), 0);
    cr_assert_eq(fut_promise_set(&p, fut_i64(4)), 0);
    cr_assert_eq(fut_get(&f).value.i64, 4);
    fut_pool small;
    fut_pool_config c = {.size = 8, .capacity = 4};
    cr_assert_eq(fut_pool_init(&small, &c), 0);
    fut_env env = {&small, NULL}; /* made by hand: fut_env_init refuses it */
    cr_assert_eq(fut_promise_new_env(&p, &f, &env), EINVAL);
    cr_assert_eq(fut_wait_for(&f, 0), EINVAL, "f left empty");
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), EINVAL, "p left empty");
    fut_pool_destroy(&small);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_ready_error_zero_is_einval)
{
    fut_future f = fut_ready_error(0);
    cr_assert_eq(fut_get(&f).err, EINVAL);
    fut_future g = fut_ready_result(fut_error(0)); /* fut_error(0) is EINVAL too */
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, EINVAL);
    cr_assert_eq(r.value.i64, 0);
}

Test(bad_input, fut_ready_ptr_null_pointer_is_destroyed_like_any_other)
{
    fut_future f = fut_ready_ptr(NULL, tu_dtor_count);
    fut_drop(&f);
    cr_assert_eq(dtors(), 1);
    fut_future g = fut_ready_ptr(NULL, NULL); /* no destructor: nothing to run */
    fut_drop(&g);
    cr_assert_eq(dtors(), 1);
}

/* ---- fut.h: settle ------------------------------------------------------------------------ */

static int settle_with(fut_promise *p, int which)
{
    static int cell;
    switch (which) {
    case 0: return fut_promise_set(p, fut_i64(11));
    case 1: return fut_promise_set_ptr(p, &cell, tu_dtor_count);
    case 2: return fut_promise_set_error(p, EIO);
    default: return fut_promise_set_result(p, fut_ok(fut_i64(12)));
    }
}
static const char *const settle_names[4] = {"set", "set_ptr", "fail", "settle"};

Test(bad_input, fut_promise_settle_functions_on_null_or_empty_are_einval)
{
    for (int w = 0; w < 4; w++) {
        fut_promise empty = {0};
        cr_assert_eq(settle_with(NULL, w), EINVAL, "%s(NULL)", settle_names[w]);
        cr_assert_eq(settle_with(&empty, w), EINVAL, "%s(empty)", settle_names[w]);
    }
    cr_assert_eq(dtors(), 0, "a refused pointer stays the caller's");
}

Test(bad_input, fut_promise_settle_twice_is_ealready_and_keeps_the_first_outcome)
{
    for (int first = 0; first < 4; first++)
        for (int second = 0; second < 4; second++) {
            fut_promise p;
            fut_future f;
            pending(&p, &f);
            cr_assert_eq(settle_with(&p, first), 0);
            long d = dtors();
            cr_assert_eq(settle_with(&p, second), EALREADY, "%s after %s", settle_names[second],
                         settle_names[first]);
            cr_assert_eq(dtors(), d, "the refused value stays the caller's");
            fut_result r = fut_get(&f);
            if (first == 2)
                cr_assert_eq(r.err, EIO);
            else
                cr_assert_eq(r.err, 0);
        }
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_promise_settle_after_drop_is_ealready)
{
    for (int w = 0; w < 4; w++) {
        fut_promise p;
        fut_future f;
        pending(&p, &f);
        fut_promise_drop(&p);
        cr_assert_eq(settle_with(&p, w), EALREADY, "%s after drop", settle_names[w]);
        cr_assert_eq(fut_get(&f).err, EPIPE);
    }
    cr_assert_eq(dtors(), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_promise_fail_zero_is_einval)
{
    fut_promise p;
    fut_future f;
    pending(&p, &f);
    cr_assert_eq(fut_promise_set_error(&p, 0), 0);
    cr_assert_eq(fut_get(&f).err, EINVAL);
}

Test(bad_input, fut_promise_settle_after_cancel_is_ecanceled_and_keeps_the_value)
{
    for (int w = 0; w < 4; w++) {
        fut_promise p;
        fut_future f;
        pending(&p, &f);
        cr_assert_eq(fut_cancel(&f), 0);
        cr_assert_eq(settle_with(&p, w), ECANCELED, "%s after cancel", settle_names[w]);
        cr_assert_eq(settle_with(&p, w), EALREADY, "the cancelled settle consumed p");
        cr_assert_eq(fut_get(&f).err, ECANCELED);
    }
    cr_assert_eq(dtors(), 0, "nothing is destroyed: the value stays the caller's");
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_promise_drop_null_empty_spent_or_twice_is_harmless)
{
    fut_promise empty = {0}, p;
    fut_future f;
    fut_promise_drop(NULL);
    fut_promise_drop(&empty);
    pending(&p, &f);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    fut_promise_drop(&p); /* spent */
    cr_assert_eq(fut_get(&f).value.i64, 1);
    pending(&p, &f);
    fut_promise_drop(&p);
    fut_promise_drop(&p);
    cr_assert_eq(fut_get(&f).err, EPIPE);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_promise_cancelled_null_empty_or_spent_is_zero)
{
    fut_promise empty = {0}, p;
    fut_future f;
    cr_assert_eq(fut_promise_cancelled(NULL), 0);
    cr_assert_eq(fut_promise_cancelled(&empty), 0);
    pending(&p, &f);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_promise_cancelled(&p), 1);
    fut_promise_drop(&p);
    cr_assert_eq(fut_promise_cancelled(&p), 0, "spent");
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_promise_on_cancel_null_promise_or_hook_is_einval)
{
    fut_promise p;
    fut_future f;
    pending(&p, &f);
    cr_assert_eq(fut_promise_on_cancel(NULL, count_hook, NULL), EINVAL);
    cr_assert_eq(fut_promise_on_cancel(&p, NULL, NULL), EINVAL);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(atomic_load(&hook_runs), 0);
    fut_promise_drop(&p);
    fut_drop(&f);
}

Test(bad_input, fut_promise_on_cancel_empty_promise_is_einval)
{
    fut_promise empty = {0};
    cr_assert_eq(fut_promise_on_cancel(&empty, count_hook, NULL), EINVAL);
    cr_assert_eq(atomic_load(&hook_runs), 0);
}

Test(bad_input, fut_promise_on_cancel_settled_or_dropped_is_ealready)
{
    fut_promise p, q;
    fut_future f, g;
    pending(&p, &f);
    pending(&q, &g);
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), 0);
    fut_promise_drop(&q);
    cr_assert_eq(fut_promise_on_cancel(&p, count_hook, NULL), EALREADY);
    cr_assert_eq(fut_promise_on_cancel(&q, count_hook, NULL), EALREADY);
    cr_assert_eq(atomic_load(&hook_runs), 0);
    fut_drop(&f);
    fut_drop(&g);
}

Test(bad_input, fut_promise_on_cancel_second_hook_is_ebusy)
{
    fut_promise p;
    fut_future f;
    pending(&p, &f);
    cr_assert_eq(fut_promise_on_cancel(&p, count_hook, NULL), 0);
    cr_assert_eq(fut_promise_on_cancel(&p, count_hook, NULL), EBUSY);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(atomic_load(&hook_runs), 1, "only the first hook runs");
    fut_promise_drop(&p);
    fut_drop(&f);
}

Test(bad_input, fut_promise_on_cancel_second_hook_after_cancel_runs_it_and_is_ecanceled)
{
    /* Docs: "Once cancelled, every registration runs its hook at once on the calling
     * thread and returns ECANCELED; before that, a second hook gets EBUSY." */
    fut_promise p;
    fut_future f;
    pending(&p, &f);
    cr_assert_eq(fut_promise_on_cancel(&p, count_hook, NULL), 0);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(atomic_load(&hook_runs), 1);
    int rc = fut_promise_on_cancel(&p, count_hook, NULL);
    int runs = atomic_load(&hook_runs);
    fut_promise_drop(&p);
    fut_drop(&f);
    cr_assert_eq(rc, ECANCELED, "a registration after the cancel gave %d", rc);
    cr_assert_eq(runs, 2, "and its hook ran %d times", runs - 1);
}

/* ---- fut.h: chain --------------------------------------------------------------------------- */

typedef fut_future (*chain_fn)(fut_future *f, fut_sched *s, fut_fn fn, void *ctx);
static const chain_fn chains[3] = {fut_then, fut_recover, fut_then_result};
static const char *const chain_names[3] = {"then", "recover", "finally"};

Test(bad_input, fut_then_null_future_is_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    for (int c = 0; c < 3; c++) {
        fut_future g = chains[c](NULL, &inl, ret_value, NULL);
        cr_assert_eq(fut_get(&g).err, EINVAL, "%s(NULL)", chain_names[c]);
    }
}

Test(bad_input, fut_then_empty_or_spent_future_is_einval)
{
    fut_sched inl;
    fut_inline_init(&inl);
    for (int c = 0; c < 3; c++) {
        fut_future empty = {0}, spent = spent_future();
        fut_future g = chains[c](&empty, &inl, ret_value, NULL);
        cr_assert_eq(fut_get(&g).err, EINVAL, "%s(empty)", chain_names[c]);
        cr_assert_eq(fut_wait_for(&empty, 0), EINVAL);
        g = chains[c](&spent, &inl, ret_value, NULL);
        cr_assert_eq(fut_get(&g).err, EINVAL, "%s(spent)", chain_names[c]);
    }
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_then_null_scheduler_is_einval_and_consumes)
{
    for (int c = 0; c < 3; c++) {
        static int cell;
        fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
        long d = dtors();
        fut_future g = chains[c](&f, NULL, ret_value, NULL);
        cr_assert_eq(fut_get(&g).err, EINVAL, "%s", chain_names[c]);
        cr_assert_eq(fut_wait_for(&f, 0), EINVAL, "%s consumed f", chain_names[c]);
        cr_assert_eq(dtors(), d + 1, "%s destroyed f's value once", chain_names[c]);
    }
}

Test(bad_input, fut_then_null_scheduler_on_a_pending_future_destroys_the_value_on_arrival)
{
    for (int c = 0; c < 3; c++) {
        static int cell;
        fut_promise p;
        fut_future f;
        pending(&p, &f);
        fut_future g = chains[c](&f, NULL, ret_value, NULL);
        cr_assert_eq(fut_get(&g).err, EINVAL);
        long d = dtors();
        cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
        cr_assert_eq(dtors(), d + 1, "%s: the value that came was destroyed", chain_names[c]);
    }
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_then_scheduler_without_submit_is_einval_and_consumes)
{
    fut_sched zero = {0};
    for (int c = 0; c < 3; c++) {
        static int cell;
        fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
        long d = dtors();
        fut_future g = chains[c](&f, &zero, ret_value, NULL);
        cr_assert_eq(fut_get(&g).err, EINVAL, "%s", chain_names[c]);
        cr_assert_eq(fut_wait_for(&f, 0), EINVAL);
        cr_assert_eq(dtors(), d + 1);
    }
}

Test(bad_input, fut_then_null_function_is_einval_and_consumes)
{
    fut_sched inl;
    fut_inline_init(&inl);
    for (int c = 0; c < 3; c++) {
        static int cell;
        fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
        long d = dtors();
        fut_future g = chains[c](&f, &inl, NULL, NULL);
        cr_assert_eq(fut_get(&g).err, EINVAL, "%s", chain_names[c]);
        cr_assert_eq(fut_wait_for(&f, 0), EINVAL);
        cr_assert_eq(dtors(), d + 1);
    }
}

Test(bad_input, fut_spawn_null_or_incomplete_scheduler_or_null_function_is_einval)
{
    fut_sched inl, zero = {0};
    fut_inline_init(&inl);
    fut_future g = fut_spawn(NULL, ret_value, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    g = fut_spawn(&zero, ret_value, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    g = fut_spawn(&inl, NULL, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_split_bad_arguments_are_einval_and_leave_f_untouched)
{
    fut_promise p;
    fut_future f, out[3], empty = {0}, spent = spent_future();
    pending(&p, &f);
    cr_assert_eq(fut_split(NULL, 3, out), EINVAL);
    cr_assert_eq(fut_split(&f, 3, NULL), EINVAL);
    cr_assert_eq(fut_split(&f, 0, out), EINVAL);
    cr_assert_eq(fut_split(&f, 65536, out), EINVAL);
    cr_assert_eq(fut_split(&empty, 3, out), EINVAL);
    cr_assert_eq(fut_split(&spent, 3, out), EINVAL);
    cr_assert_eq(tu_live(), 1, "nothing allocated");
    cr_assert_eq(fut_promise_set(&p, fut_i64(8)), 0);
    cr_assert_eq(fut_get(&f).value.i64, 8, "f still usable");
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_split_of_one_moves_the_handle)
{
    fut_promise p;
    fut_future f, out[1];
    pending(&p, &f);
    cr_assert_eq(fut_split(&f, 1, out), 0);
    cr_assert_eq(fut_wait_for(&f, 0), EINVAL, "f is spent");
    cr_assert_eq(fut_promise_set(&p, fut_i64(8)), 0);
    cr_assert_eq(fut_get(&out[0]).value.i64, 8);
    cr_assert_eq(tu_live(), 0);
}

/* ---- fut.h: wait, read, drop, cancel ---------------------------------------------------- */

Test(bad_input, fut_is_ready_null_empty_or_spent_is_zero)
{
    fut_future empty = {0}, spent = spent_future();
    cr_assert_eq(fut_is_ready(NULL), 0);
    cr_assert_eq(fut_is_ready(&empty), 0);
    cr_assert_eq(fut_is_ready(&spent), 0);
}

Test(bad_input, fut_wait_null_empty_or_spent_is_einval)
{
    fut_future empty = {0}, spent = spent_future();
    const fut_future *bad[3] = {NULL, &empty, &spent};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fut_wait(bad[i]), EINVAL);
        cr_assert_eq(fut_wait_for(bad[i], 0), EINVAL);
        cr_assert_eq(fut_wait_until(bad[i], UINT64_MAX), EINVAL);
    }
}

Test(bad_input, fut_wait_zero_timeout_on_a_pending_future_is_etimedout)
{
    fut_promise p;
    fut_future f;
    pending(&p, &f);
    cr_assert_eq(fut_wait_for(&f, 0), ETIMEDOUT);
    cr_assert_eq(fut_wait_until(&f, 0), ETIMEDOUT);
    fut_promise_drop(&p);
    fut_drop(&f);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_try_get_null_future_or_out_is_einval_and_keeps_f)
{
    fut_result r;
    fut_future f = fut_ready(fut_i64(6));
    cr_assert_eq(fut_try_get(NULL, &r), EINVAL);
    cr_assert_eq(fut_try_get(&f, NULL), EINVAL);
    cr_assert_eq(fut_get(&f).value.i64, 6, "f kept");
}

Test(bad_input, fut_try_get_empty_or_spent_is_einval)
{
    fut_result r;
    fut_future empty = {0}, spent = spent_future();
    cr_assert_eq(fut_try_get(&empty, &r), EINVAL);
    cr_assert_eq(fut_try_get(&spent, &r), EINVAL);
}

Test(bad_input, fut_try_get_pending_is_eagain_and_keeps_f)
{
    fut_promise p;
    fut_future f;
    fut_result r;
    pending(&p, &f);
    cr_assert_eq(fut_try_get(&f, &r), EAGAIN);
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), 0);
    cr_assert_eq(fut_try_get(&f, &r), 0);
    cr_assert_eq(r.value.i64, 2);
    cr_assert_eq(fut_try_get(&f, &r), EINVAL, "taken: spent");
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_get_null_empty_or_spent_is_einval)
{
    fut_future empty = {0}, spent = spent_future();
    cr_assert_eq(fut_get(NULL).err, EINVAL);
    cr_assert_eq(fut_get(&empty).err, EINVAL);
    cr_assert_eq(fut_get(&spent).err, EINVAL);
}

Test(bad_input, fut_drop_null_empty_spent_or_twice_is_harmless)
{
    static int cell;
    fut_future empty = {0}, spent = spent_future();
    fut_drop(NULL);
    fut_drop(&empty);
    fut_drop(&spent);
    fut_future f = fut_ready_ptr(&cell, tu_dtor_count);
    fut_drop(&f);
    fut_drop(&f);
    cr_assert_eq(dtors(), 1, "destroyed once");
    fut_promise p;
    pending(&p, &f);
    fut_drop(&f);
    fut_drop(&f);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, tu_dtor_count), 0);
    cr_assert_eq(dtors(), 2);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_cancel_null_empty_or_spent_is_einval)
{
    fut_future empty = {0}, spent = spent_future();
    cr_assert_eq(fut_cancel(NULL), EINVAL);
    cr_assert_eq(fut_cancel(&empty), EINVAL);
    cr_assert_eq(fut_cancel(&spent), EINVAL);
}

Test(bad_input, fut_cancel_ready_settled_or_twice_is_ealready)
{
    fut_future r = fut_ready(fut_i64(1));
    cr_assert_eq(fut_cancel(&r), EALREADY);
    cr_assert_eq(fut_get(&r).value.i64, 1, "the value is still there");
    fut_promise p;
    fut_future f;
    pending(&p, &f);
    cr_assert_eq(fut_cancel(&f), 0);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    cr_assert_eq(fut_get(&f).err, ECANCELED);
    fut_promise_drop(&p);
    pending(&p, &f);
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), 0);
    cr_assert_eq(fut_cancel(&f), EALREADY);
    cr_assert_eq(fut_get(&f).value.i64, 2);
    cr_assert_eq(tu_live(), 0);
}

/* ---- batch.h: combinators ---------------------------------------------------------------- */

Test(bad_input, fut_results_free_null_is_ignored) { fut_results_free(NULL); }

Test(bad_input, fut_when_all_null_array_is_einval)
{
    fut_future g = fut_when_all(NULL, 2);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    g = fut_when_all_settled(NULL, 2);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    g = fut_when_any_ok(NULL, 2);
    cr_assert_eq(fut_get(&g).err, EINVAL);
}

Test(bad_input, fut_when_all_zero_count_is_a_null_block)
{
    fut_future fs[1];
    fut_future g = fut_when_all(fs, 0);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_null(r.value.ptr);
    g = fut_when_all(NULL, 0);
    r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_null(r.value.ptr);
    g = fut_when_all_settled(fs, 0);
    r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    cr_assert_null(r.value.ptr);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_when_all_empty_input_is_einval_and_consumes_the_rest)
{
    static int cell;
    fut_promise p;
    fut_future fs[3];
    fs[0] = fut_ready_ptr(&cell, tu_dtor_count);
    pending(&p, &fs[1]);
    fs[2] = (fut_future){0};
    fut_future g = fut_when_all(fs, 3);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_wait_for(&fs[i], 0), EINVAL, "input %d consumed", i);
    cr_assert_eq(dtors(), 1, "the pointer input destroyed once");
    cr_assert_eq(fut_promise_set(&p, fut_i64(1)), ECANCELED, "the pending input was cancelled");
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_when_all_settled_empty_input_gives_an_einval_slot)
{
    fut_future fs[2] = {fut_ready(fut_i64(4)), {0}};
    fut_future g = fut_when_all_settled(fs, 2);
    fut_result r = fut_get(&g);
    cr_assert_eq(r.err, 0);
    fut_result *v = r.value.ptr;
    cr_assert_eq(v[0].err, 0);
    cr_assert_eq(v[0].value.i64, 4);
    cr_assert_eq(v[1].err, EINVAL);
    fut_results_free(v);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_when_any_zero_count_is_enoent)
{
    fut_future fs[1];
    fut_future g = fut_when_any_ok(fs, 0);
    cr_assert_eq(fut_get(&g).err, ENOENT);
    g = fut_when_any_ok(NULL, 0);
    cr_assert_eq(fut_get(&g).err, ENOENT);
}

Test(bad_input, fut_when_any_all_empty_or_spent_inputs_is_einval)
{
    fut_future fs[2] = {{0}, spent_future()};
    fut_future g = fut_when_any_ok(fs, 2);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

static fut_result fold_add(void *ctx, fut_result acc, fut_result item)
{
    (void)ctx;
    if (item.err != 0)
        return item;
    return fut_ok(fut_i64(acc.value.i64 + item.value.i64));
}

Test(bad_input, fut_fold_null_array_or_function_is_einval_and_consumes)
{
    static int cell;
    fut_future g = fut_fold(NULL, 2, fut_ok(fut_i64(0)), fold_add, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    fut_future fs[2] = {fut_ready_ptr(&cell, tu_dtor_count), fut_ready(fut_i64(1))};
    g = fut_fold(fs, 2, fut_ok(fut_i64(0)), NULL, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(fut_wait_for(&fs[0], 0), EINVAL, "inputs consumed");
    cr_assert_eq(dtors(), 1, "and their values destroyed");
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_fold_zero_count_is_init)
{
    fut_future fs[1];
    fut_future g = fut_fold(fs, 0, fut_ok(fut_i64(77)), fold_add, NULL);
    cr_assert_eq(fut_get(&g).value.i64, 77);
}

Test(bad_input, fut_fold_empty_input_reaches_the_function_as_einval)
{
    fut_future fs[2] = {fut_ready(fut_i64(1)), {0}};
    fut_future g = fut_fold(fs, 2, fut_ok(fut_i64(0)), fold_add, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(tu_live(), 0);
}

/* ---- batch.h: map / filter / reduce ------------------------------------------------------ */

static size_t keep_odd(void *ctx, const void *in, void *out, size_t count)
{
    (void)ctx;
    const int *a = in;
    int *o = out;
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (a[i] & 1)
            o[k++] = a[i];
    return k;
}

Test(bad_input, fut_map_filter_reduce_bad_arguments_are_einval)
{
    fut_sched inl, zero = {0};
    fut_inline_init(&inl);
    int in[4] = {1, 2, 3, 4}, out[4];
    fut_future g[16];
    int n = 0;
    g[n++] = fut_map(NULL, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = sizeof(int),
        .out_size = sizeof(int), .fn = map_2x1});
    g[n++] = fut_map(&zero, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = sizeof(int),
        .out_size = sizeof(int), .fn = map_2x1});
    g[n++] = fut_map(&inl, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = sizeof(int),
        .out_size = sizeof(int), .fn = NULL});
    g[n++] = fut_map(&inl, &(fut_map_desc){.in = NULL, .out = out, .n = 4, .in_size = sizeof(int),
        .out_size = sizeof(int), .fn = map_2x1});
    g[n++] = fut_map(&inl, &(fut_map_desc){.in = in, .out = NULL, .n = 4, .in_size = sizeof(int),
        .out_size = sizeof(int), .fn = map_2x1});
    g[n++] = fut_map(&inl, &(fut_map_desc){.in = in, .out = out, .n = 4, .in_size = 0,
        .out_size = sizeof(int), .fn = map_2x1});
    g[n++] = fut_map(&inl, NULL);
    g[n++] = fut_filter(&inl, NULL);
    g[n++] = fut_reduce(&inl, NULL);
    g[n++] = fut_filter(&inl, &(fut_filter_desc){.in = in, .out = out, .n = 4, .size = 0,
        .fn = keep_odd});
    g[n++] = fut_filter(&inl, &(fut_filter_desc){.in = NULL, .out = out, .n = 4,
        .size = sizeof(int), .fn = keep_odd});
    g[n++] = fut_filter(&inl, &(fut_filter_desc){.in = in, .out = out, .n = 4, .size = sizeof(int),
        .fn = NULL});
    g[n++] = fut_reduce(&inl, &(fut_reduce_desc){.in = in, .n = 4, .size = sizeof(int),
        .fn = sum_chunk, .combine = NULL, .identity = fut_i64(0)});
    g[n++] = fut_reduce(&inl, &(fut_reduce_desc){.in = in, .n = 4, .size = sizeof(int), .fn = NULL,
        .combine = sum_combine, .identity = fut_i64(0)});
    g[n++] = fut_reduce(&inl, &(fut_reduce_desc){.in = in, .n = 4, .size = 0, .fn = sum_chunk,
        .combine = sum_combine, .identity = fut_i64(0)});
    g[n++] = fut_reduce(NULL, &(fut_reduce_desc){.in = in, .n = 4, .size = sizeof(int),
        .fn = sum_chunk, .combine = sum_combine, .identity = fut_i64(0)});
    for (int i = 0; i < n; i++)
        cr_assert_eq(fut_get(&g[i]).err, EINVAL, "case %d", i);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_map_filter_reduce_zero_count_needs_no_arrays)
{
    fut_sched inl;
    fut_inline_init(&inl);
    fut_future m = fut_map(&inl, &(fut_map_desc){.in = NULL, .out = NULL, .n = 0,
        .in_size = sizeof(int), .out_size = sizeof(int), .fn = map_2x1});
    fut_result r = fut_get(&m);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 0);
    fut_future f = fut_filter(&inl, &(fut_filter_desc){.in = NULL, .out = NULL, .n = 0,
        .size = sizeof(int), .fn = keep_odd});
    r = fut_get(&f);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.u64, 0);
    fut_future s = fut_reduce(&inl, &(fut_reduce_desc){.in = NULL, .n = 0, .size = sizeof(int),
        .fn = sum_chunk, .combine = sum_combine, .identity = fut_i64(-9)});
    r = fut_get(&s);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, -9, "identity");
    cr_assert_eq(tu_live(), 0);
}

/* ---- batch.h: batches ------------------------------------------------------------------- */

Test(bad_input, fut_batch_init_null_or_scheduler_without_submit_is_einval)
{
    fut_batch b;
    fut_sched inl, zero = {0};
    fut_inline_init(&inl);
    cr_assert_eq(fut_batch_init(NULL, &inl, 4, NULL), EINVAL);
    cr_assert_eq(fut_batch_init(&b, NULL, 4, NULL), EINVAL);
    cr_assert_eq(fut_batch_init(&b, &zero, 4, NULL), EINVAL);
}

Test(bad_input, fut_batch_init_zero_threshold_flushes_at_64)
{
    fut_manual m;
    fut_batch b;
    static fut_task ts[64];
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_batch_init(&b, &m.sched, 0, NULL), 0);
    for (int i = 0; i < 63; i++) {
        ts[i].run = count_task;
        cr_assert_eq(fut_batch_add(&b, &ts[i]), 0);
    }
    cr_assert_eq(fut_manual_pending(&m), 0, "63 tasks wait in the batch");
    ts[63].run = count_task;
    cr_assert_eq(fut_batch_add(&b, &ts[63]), 0);
    cr_assert_eq(fut_manual_pending(&m), 64, "the 64th flushed them");
    cr_assert_eq(fut_manual_run_all(&m), 64);
    fut_manual_destroy(&m);
}

Test(bad_input, fut_batch_add_null_or_task_without_run_is_einval)
{
    fut_manual m;
    fut_batch b;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, NULL), 0);
    fut_task t = {NULL, count_task}, norun = {NULL, NULL};
    cr_assert_eq(fut_batch_add(NULL, &t), EINVAL);
    cr_assert_eq(fut_batch_add(&b, NULL), EINVAL);
    cr_assert_eq(fut_batch_add(&b, &norun), EINVAL);
    cr_assert_eq(fut_batch_flush(&b), 0, "nothing was added");
    fut_manual_destroy(&m);
}

Test(bad_input, fut_batch_spawn_null_batch_or_function_is_einval)
{
    fut_manual m;
    fut_batch b;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, NULL), 0);
    fut_future g = fut_batch_spawn(NULL, ret_value, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    g = fut_batch_spawn(&b, NULL, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(fut_batch_flush(&b), 0);
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_batch_spawn_on_a_zeroed_batch_is_einval)
{
    fut_batch b;
    memset(&b, 0, sizeof b);
    fut_future g = fut_batch_spawn(&b, ret_value, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
}

/* fut_batch_init zeroes a batch it refuses; fut_batch_add on it used to take the task
 * (return 0), flush it at once to the NULL scheduler - which takes nothing - and drop it:
 * the task never ran, not even with an error. */
Test(bad_input, fut_batch_add_on_a_batch_whose_init_failed_is_einval)
{
    fut_batch b;
    cr_assert_eq(fut_batch_init(&b, NULL, 4, NULL), EINVAL);
    fut_task t = {NULL, count_task};
    int rc = fut_batch_add(&b, &t);
    cr_assert(rc == EINVAL || task_runs == 1, "fut_batch_add gave %d and the task ran %d times", rc, task_runs);
}

Test(bad_input, fut_batch_count_and_cancel_null_zeroed_or_empty_are_zero)
{
    fut_batch b, zero;
    fut_manual m;
    memset(&zero, 0, sizeof zero);
    cr_assert_eq(fut_batch_count(NULL), 0);
    cr_assert_eq(fut_batch_cancel(NULL), 0);
    cr_assert_eq(fut_batch_count(&zero), 0);
    cr_assert_eq(fut_batch_cancel(&zero), 0);
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, NULL), 0);
    cr_assert_eq(fut_batch_count(&b), 0);
    cr_assert_eq(fut_batch_cancel(&b), 0);
    fut_task t = {NULL, count_task};
    cr_assert_eq(fut_batch_add(&b, &t), 0);
    cr_assert_eq(fut_batch_cancel(&b), 1);
    cr_assert_eq(task_err, ECANCELED, "a cancelled task runs with ECANCELED");
    cr_assert_eq(fut_batch_cancel(&b), 0, "a second cancel finds nothing");
    cr_assert_eq(fut_batch_flush(&b), 0);
    fut_manual_destroy(&m);
}

Test(bad_input, fut_batch_flush_null_or_empty_is_zero)
{
    fut_manual m;
    fut_batch b;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    cr_assert_eq(fut_batch_init(&b, &m.sched, 4, NULL), 0);
    cr_assert_eq(fut_batch_flush(NULL), 0);
    cr_assert_eq(fut_batch_flush(&b), 0);
    fut_manual_destroy(&m);
}

/* ---- batch.h: pipelines ----------------------------------------------------------------- */

Test(bad_input, fut_pipeline_init_bad_arguments_are_einval)
{
    fut_pipeline pl;
    fut_sched inl, zero = {0};
    fut_inline_init(&inl);
    fut_stage ok = {&inl, ret_value, NULL};
    fut_stage nosched = {NULL, ret_value, NULL}, nofn = {&inl, NULL, NULL}, nosubmit = {&zero, ret_value, NULL};
    cr_assert_eq(fut_pipeline_init(NULL, &ok, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&pl, NULL, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&pl, &ok, 0, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&pl, &nosched, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&pl, &nofn, 1, 0), EINVAL);
    cr_assert_eq(fut_pipeline_init(&pl, &nosubmit, 1, 0), EINVAL);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pipeline_push_null_pipeline_or_input_is_einval_and_drops_the_input)
{
    static int cell;
    fut_future in = fut_ready_ptr(&cell, tu_dtor_count);
    fut_future g = fut_pipeline_push(NULL, &in);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(fut_wait_for(&in, 0), EINVAL, "input consumed");
    cr_assert_eq(dtors(), 1, "and dropped");
    fut_pipeline pl;
    fut_sched inl;
    fut_inline_init(&inl);
    fut_stage st = {&inl, ret_value, NULL};
    cr_assert_eq(fut_pipeline_init(&pl, &st, 1, 0), 0);
    g = fut_pipeline_push(&pl, NULL);
    cr_assert_eq(fut_get(&g).err, EINVAL);
    cr_assert_eq(fut_pipeline_destroy(&pl), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pipeline_push_empty_or_spent_input_gives_einval)
{
    fut_pipeline pl;
    fut_sched inl;
    fut_inline_init(&inl);
    fut_stage st[2] = {{&inl, ret_value, NULL}, {&inl, ret_value, NULL}};
    cr_assert_eq(fut_pipeline_init(&pl, st, 2, 0), 0);
    fut_future empty = {0}, spent = spent_future();
    fut_future a = fut_pipeline_push(&pl, &empty);
    fut_future b = fut_pipeline_push(&pl, &spent);
    cr_assert_eq(fut_get(&a).err, EINVAL);
    cr_assert_eq(fut_get(&b).err, EINVAL);
    cr_assert_eq(fut_pipeline_destroy(&pl), 0);
    cr_assert_eq(tu_live(), 0);
}

Test(bad_input, fut_pipeline_push_on_a_destroyed_pipeline_is_einval)
{
    fut_pipeline pl;
    fut_sched inl;
    fut_inline_init(&inl);
    fut_stage st = {&inl, ret_value, NULL};
    cr_assert_eq(fut_pipeline_init(&pl, &st, 1, 0), 0);
    cr_assert_eq(fut_pipeline_destroy(&pl), 0);
    fut_future in = fut_ready(fut_i64(1));
    fut_future g = fut_pipeline_push(&pl, &in);
    cr_assert_eq(fut_get(&g).err, EINVAL);
}

Test(bad_input, fut_pipeline_destroy_null_busy_or_twice)
{
    cr_assert_eq(fut_pipeline_destroy(NULL), EINVAL);
    fut_pipeline pl;
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_stage st = {&m.sched, ret_value, NULL};
    cr_assert_eq(fut_pipeline_init(&pl, &st, 1, 0), 0);
    fut_future in = fut_ready(fut_i64(1));
    fut_future g = fut_pipeline_push(&pl, &in);
    cr_assert_eq(fut_pipeline_destroy(&pl), EBUSY, "an item is in flight");
    fut_manual_run_all(&m);
    cr_assert_eq(fut_get(&g).value.i64, 1);
    cr_assert_eq(fut_pipeline_destroy(&pl), 0);
    cr_assert_eq(fut_pipeline_destroy(&pl), EINVAL, "a destroyed pipeline");
    fut_manual_destroy(&m);
    cr_assert_eq(tu_live(), 0);
}

/* ======================================================================================
 * Regressions for bugs found by the sweeps and the fuzzer.
 * ====================================================================================== */

TestSuite(found);

/* A combinator that has decided (an early error, a winner) cancels the inputs it has
 * not linked yet; one that had already settled with a pointer value was let go without
 * its value being destroyed. Docs: "A pointer value settled with a destructor that
 * nobody takes - the future was dropped, cancelled, or the chain failed - is destroyed
 * with it." Found by the bad-input review; fixed in 33c7534 (fut__abandon). */
static void settled_ptr_input_after_decision(int kind)
{
    static int cell;
    fut_promise p, q;
    fut_future fs[3];
    fs[0] = kind == 1 ? fut_ready(fut_i64(1)) : fut_ready_error(EIO); /* decides at once */
    pending(&p, &fs[1]);                                          /* keeps it off the fast path */
    pending(&q, &fs[2]);
    cr_assert_eq(fut_promise_set_ptr(&q, &cell, tu_dtor_count), 0); /* settled, pointer */
    fut_future g = kind == 0 ? fut_when_all(fs, 3)
                   : kind == 1 ? fut_when_any_ok(fs, 3)
                               : fut_fold(fs, 3, fut_ok(fut_i64(0)), fold_add, NULL);
    fut_result r = fut_get(&g);
    if (kind == 1) {
        cr_assert_eq(r.err, 0);
        fut_results_free(r.value.ptr);
    } else {
        cr_assert_eq(r.err, EIO);
    }
    cr_assert_eq(fut_promise_set(&p, fut_i64(2)), ECANCELED);
    cr_assert_eq(dtors(), 1, "the settled pointer input was destroyed %ld times", dtors());
    cr_assert_eq(tu_live(), 0);
}

Test(found, when_all_destroys_a_settled_pointer_input_it_no_longer_needs)
{
    settled_ptr_input_after_decision(0);
}

Test(found, when_any_destroys_a_settled_pointer_input_it_no_longer_needs)
{
    settled_ptr_input_after_decision(1);
}

Test(found, fold_destroys_a_settled_pointer_input_it_no_longer_needs)
{
    settled_ptr_input_after_decision(2);
}

/* fut__pipe_drive chains the stage step with fut_then_result; when that allocation failed the
 * step never ran: the item was lost, its future never settled, the stage stayed busy for
 * every later item and fut_pipeline_destroy answered EBUSY for ever. Found by the
 * allocation-failure sweep (f). */
Test(found, pipeline_item_settles_when_its_stage_step_cannot_be_allocated)
{
    fut_manual m;
    cr_assert_eq(fut_manual_init(&m, 0), 0);
    fut_stage st = {&m.sched, ret_value, NULL};
    fut_pipeline pl;
    cr_assert_eq(fut_pipeline_init(&pl, &st, 1, 0), 0);
    fut_future in = fut_ready(fut_i64(1));
    atomic_store(&tu_fail_at, atomic_load(&tu_calls) + 4); /* item, promise, stage record, step */
    fut_future g = fut_pipeline_push(&pl, &in);
    atomic_store(&tu_fail_at, 0);
    fut_future in2 = fut_ready(fut_i64(2));
    fut_future g2 = fut_pipeline_push(&pl, &in2);
    fut_manual_run_all(&m);
    int rc = fut_wait_for(&g, 100 * MS), rc2 = fut_wait_for(&g2, 100 * MS);
    cr_assert_eq(rc, 0, "the item whose step failed never settled");
    cr_assert_eq(fut_get(&g).err, ENOMEM);
    cr_assert_eq(rc2, 0, "the next item never settled");
    cr_assert_eq(fut_get(&g2).value.i64, 2);
    cr_assert_eq(fut_pipeline_destroy(&pl), 0);
    fut_manual_destroy(&m);
}

/* fut__block_discard told block kinds apart by item size, but a fut_any and a fut_result
 * are both 16 bytes: a when_any block nobody took handed its destructor the winner's
 * index (read where a fut_result keeps its value) instead of the value, which leaked; a
 * winner that is itself a block was "discarded" at address `index`. Found by the fuzzer
 * (tests/fuzz); fixed in 33c7534 (the block records its kind). */
static void *any_dtor_got = (void *)-1;
static void any_dtor(void *p) { any_dtor_got = p; }

Test(found, when_any_result_dropped_destroys_the_winning_pointer)
{
    static int cell;
    fut_promise p;
    fut_future f;
    pending(&p, &f);
    fut_future any = fut_when_any_ok(&f, 1);
    cr_assert_eq(fut_promise_set_ptr(&p, &cell, any_dtor), 0);
    fut_drop(&any);
    cr_assert_eq(any_dtor_got, (void *)&cell, "the destructor got %p, the value is %p", any_dtor_got, (void *)&cell);
    cr_assert_eq(tu_live(), 0);
}
