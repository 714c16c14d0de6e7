/* Cross-thread stress for fut.h. Every scenario races the real operations (settle,
 * attach, cancel, drop, wait) across threads and then checks exact per-item invariants:
 * every continuation ran exactly once, every value arrived where it should, every
 * pointer was destroyed exactly once, nothing leaked.
 *
 * Knobs (environment): FUT_STRESS_THREADS (default 4), FUT_STRESS_ITERS (items per
 * round), FUT_STRESS_SECONDS (repeat rounds for that long: a soak). */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "fut.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

/* Built twice: as stress_fut (no state cache: testutil.h's FUT_MALLOC turns it off) and
 * as stress_fut_cache (-DFUT_STATE_CACHE=16). States a thread keeps for reuse count as
 * allocated until flushed; the workers' caches were freed when they exited. */
#define TU_LIVE() (fut_cache_flush(), tu_live())

/* ---- a tiny harness: N threads over one shared item range ------------------------ */

typedef struct race {
    pthread_barrier_t go;
    _Atomic size_t cursor[8]; /* one claim cursor per role */
    size_t items;
    void *ctx;
} race;

typedef struct worker {
    race *r;
    int role;
    void (*fn)(race *r, int role, size_t i);
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    race *r = w->r;
    pthread_barrier_wait(&r->go);
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&r->cursor[w->role], 1, memory_order_relaxed);
        if (i >= r->items)
            break;
        w->fn(r, w->role, i);
    }
    return NULL;
}

/* Runs roles[k] on threads[k] threads each, all released together; the calling thread
 * runs `main_fn` meanwhile (may be NULL), then joins. */
typedef struct role {
    void (*fn)(race *r, int role, size_t i);
    int threads;
} role;

static void race_run(race *r, const role *roles, int nroles, void (*main_fn)(race *r))
{
    int total = 0;
    for (int k = 0; k < nroles; k++)
        total += roles[k].threads;
    pthread_t *tids = calloc((size_t)total, sizeof *tids);
    worker *ws = calloc((size_t)total, sizeof *ws);
    cr_assert_not_null(tids);
    cr_assert_not_null(ws);
    for (int k = 0; k < 8; k++)
        atomic_store(&r->cursor[k], 0);
    pthread_barrier_init(&r->go, NULL, (unsigned)total + 1);
    int t = 0;
    for (int k = 0; k < nroles; k++) {
        for (int j = 0; j < roles[k].threads; j++, t++) {
            ws[t] = (worker){r, k, roles[k].fn};
            cr_assert_eq(pthread_create(&tids[t], NULL, worker_main, &ws[t]), 0);
        }
    }
    pthread_barrier_wait(&r->go);
    if (main_fn != NULL)
        main_fn(r);
    for (t = 0; t < total; t++)
        pthread_join(tids[t], NULL);
    pthread_barrier_destroy(&r->go);
    free(tids);
    free(ws);
}

static int split_threads(int parts)
{
    long t = TU_THREADS();
    long each = t / parts;
    return each < 1 ? 1 : (int)each;
}

/* Rounds until the soak time is up (or once when FUT_STRESS_SECONDS is unset). */
static int soak_more(uint64_t start, int round)
{
    long secs = TU_SECONDS();
    if (secs == 0)
        return round == 0;
    return fut_now_ns() - start < (uint64_t)secs * 1000000000u;
}

/* The env scenarios 1 and 2 make their promises with (NULL: plain malloc, no stats). */
static const fut_env *g_env;

static fut_future add1(void *ctx, fut_result r)
{
    _Atomic int *ran = ctx;
    if (ran != NULL)
        atomic_fetch_add_explicit(ran, 1, memory_order_relaxed);
    return fut_ready(fut_i64(r.value.i64 + 1));
}

/* ---- 1: settle on workers, attach concurrently, drain a manual scheduler ---------- */

typedef struct item1 {
    fut_promise p;
    fut_future f, g;
    _Atomic int ran;
} item1;

typedef struct ctx1 {
    item1 *it;
    fut_manual m;
    _Atomic size_t attached;
} ctx1;

static void s1_settle(race *r, int role, size_t i)
{
    (void)role;
    ctx1 *c = r->ctx;
    fut_promise_set(&c->it[i].p, fut_i64((int64_t)i));
}

static void s1_attach(race *r, int role, size_t i)
{
    (void)role;
    ctx1 *c = r->ctx;
    c->it[i].g = fut_then(&c->it[i].f, &c->m.sched, add1, &c->it[i].ran);
    atomic_fetch_add_explicit(&c->attached, 1, memory_order_release);
}

static void s1_drain(race *r)
{
    /* The consumer loop thread: runs continuations as they are queued. */
    ctx1 *c = r->ctx;
    size_t done = 0;
    while (done < r->items) {
        if (fut_manual_wait(&c->m, fut_now_ns() + 1000000) == 0)
            done += fut_manual_run_all(&c->m);
    }
}

static void scenario1(void)
{
    size_t n = (size_t)TU_ITERS(20000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        ctx1 c;
        c.it = calloc(n, sizeof *c.it);
        cr_assert_not_null(c.it);
        cr_assert_eq(fut_manual_init(&c.m, 0), 0);
        atomic_init(&c.attached, 0);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(fut_promise_new_env(&c.it[i].p, &c.it[i].f, g_env), 0);
        race r = {.items = n, .ctx = &c};
        role roles[] = {{s1_settle, split_threads(2)}, {s1_attach, split_threads(2)}};
        race_run(&r, roles, 2, s1_drain);
        fut_manual_run_all(&c.m);
        size_t wrong = 0, twice = 0;
        for (size_t i = 0; i < n; i++) {
            fut_result res;
            if (fut_try_get(&c.it[i].g, &res) != 0 || res.err != 0 || res.value.i64 != (int64_t)i + 1)
                wrong++;
            if (atomic_load(&c.it[i].ran) != 1)
                twice++;
        }
        cr_assert_eq(wrong, 0, "%zu continuations gave a wrong value", wrong);
        cr_assert_eq(twice, 0, "%zu continuations did not run exactly once", twice);
        cr_assert_eq(fut_manual_pending(&c.m), 0);
        fut_manual_destroy(&c.m);
        free(c.it);
        if (g_env == NULL || g_env->pool == NULL)
            cr_assert_eq(TU_LIVE(), 0, "%ld states leaked", TU_LIVE());
    }
}

Test(stress_fut, settle_and_attach_race_every_continuation_runs_once)
{
    scenario1();
}

/* ---- 2: cancel vs settle through a chain, with a hook ------------------------------ */

typedef struct item2 {
    fut_promise p;
    fut_future h;
    int settle_rc, cancel_rc;
    _Atomic int hooked;
    _Atomic int ran;
} item2;

typedef struct ctx2 {
    item2 *it;
    fut_sched inl;
    fut_manual m;
} ctx2;

static void s2_hook(void *ctx)
{
    atomic_fetch_add_explicit((_Atomic int *)ctx, 1, memory_order_relaxed);
}

static void s2_settle(race *r, int role, size_t i)
{
    (void)role;
    ctx2 *c = r->ctx;
    c->it[i].settle_rc = fut_promise_set(&c->it[i].p, fut_i64((int64_t)i));
}

static void s2_cancel(race *r, int role, size_t i)
{
    (void)role;
    ctx2 *c = r->ctx;
    c->it[i].cancel_rc = fut_cancel(&c->it[i].h);
}

static void s2_drain(race *r)
{
    ctx2 *c = r->ctx;
    /* Keep the manual scheduler moving while the race runs. */
    while (atomic_load_explicit(&r->cursor[0], memory_order_relaxed) < r->items ||
           atomic_load_explicit(&r->cursor[1], memory_order_relaxed) < r->items)
        if (fut_manual_run_one(&c->m) == 0)
            fut__cpu_relax();
}

typedef struct s2_totals {
    size_t items, cancel_won, promise_lost;
} s2_totals;

static s2_totals scenario2(void)
{
    s2_totals tot = {0, 0, 0};
    size_t n = (size_t)TU_ITERS(20000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        ctx2 c;
        c.it = calloc(n, sizeof *c.it);
        cr_assert_not_null(c.it);
        fut_inline_init(&c.inl);
        cr_assert_eq(fut_manual_init(&c.m, 0), 0);
        for (size_t i = 0; i < n; i++) {
            fut_future f;
            cr_assert_eq(fut_promise_new_env(&c.it[i].p, &f, g_env), 0);
            cr_assert_eq(fut_promise_on_cancel(&c.it[i].p, s2_hook, &c.it[i].hooked), 0);
            fut_future g = fut_then(&f, &c.inl, add1, &c.it[i].ran);
            c.it[i].h = fut_then(&g, &c.m.sched, add1, &c.it[i].ran);
        }
        race r = {.items = n, .ctx = &c};
        role roles[] = {{s2_settle, split_threads(2)}, {s2_cancel, split_threads(2)}};
        race_run(&r, roles, 2, s2_drain);
        fut_manual_run_all(&c.m);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            item2 *it = &c.it[i];
            fut_result res;
            int rc = fut_try_get(&it->h, &res);
            int hooked = atomic_load(&it->hooked);
            int ok = rc == 0;
            if (it->cancel_rc == 0)
                ok = ok && res.err == ECANCELED; /* cancel won at the end of the chain */
            else
                ok = ok && it->cancel_rc == EALREADY && res.err == 0 && res.value.i64 == (int64_t)i + 2 &&
                     atomic_load(&it->ran) == 2;
            /* The promise lost exactly when the cancel reached it, and then its hook ran
             * exactly once; when the settle won, the hook never ran. */
            ok = ok && (it->settle_rc == 0 || it->settle_rc == ECANCELED);
            ok = ok && (it->settle_rc == ECANCELED) == (hooked == 1) && hooked <= 1;
            if (it->settle_rc == ECANCELED)
                ok = ok && it->cancel_rc == 0 && atomic_load(&it->ran) == 0;
            if (!ok)
                bad++;
        }
        size_t won = 0, lost = 0;
        for (size_t i = 0; i < n; i++) {
            won += c.it[i].cancel_rc == 0;
            lost += c.it[i].settle_rc == ECANCELED;
        }
        cr_log_info("cancel won %zu of %zu, reached the promise first %zu", won, n, lost);
        cr_assert_eq(bad, 0, "%zu items broke the cancel/settle invariants", bad);
        tot.items += n;
        tot.cancel_won += won;
        tot.promise_lost += lost;
        fut_manual_destroy(&c.m);
        free(c.it);
        if (g_env == NULL || g_env->pool == NULL)
            cr_assert_eq(TU_LIVE(), 0, "%ld states leaked", TU_LIVE());
    }
    return tot;
}

Test(stress_fut, cancel_races_settle_through_a_chain_consistently)
{
    scenario2();
}

/* The same two races with every state from a fut_pool and every event counted in a
 * fut_stats block (issue: "fut stress rerun with a pool and a stats block attached"):
 * the scenarios' own checks hold, the counters are exact where the outcome is known
 * (spawned, chained) and bounded where the race decides (cancelled), and the pool ends
 * with every object back: allocated == idle + evicted. */
Test(stress_fut, both_races_with_a_pool_and_a_stats_block)
{
    fut_stats st;
    fut_pool pool;
    fut_pool_config pc = {.size = fut_state_size(), .capacity = 1 << 17, .warm = 256};
    fut_env env;
    cr_assert_eq(fut_stats_init(&st, 64), 0);
    pc.stats = &st;
    cr_assert_eq(fut_pool_init(&pool, &pc), 0);
    cr_assert_eq(fut_env_init(&env, &pool, &st), 0);
    g_env = &env;
    size_t n = (size_t)TU_ITERS(20000);
    uint64_t start = fut_now_ns();
    size_t rounds1 = 0;
    s2_totals t2 = {0, 0, 0};
    for (int round = 0; soak_more(start, round); round++) {
        scenario1(); /* one round each: soak_more sees FUT_STRESS_SECONDS inside */
        rounds1++;
        s2_totals t = scenario2();
        t2.items += t.items;
        t2.cancel_won += t.cancel_won;
        t2.promise_lost += t.promise_lost;
        if (TU_SECONDS() != 0)
            break; /* the scenarios soaked themselves */
    }
    g_env = NULL;
    fut_stats_snap s;
    cr_assert_eq(fut_stats_snapshot(&st, &s), 0);
    size_t items1 = rounds1 * n;
    if (TU_SECONDS() == 0) {
        /* scenario 1: a promise and a continuation per item; scenario 2: a promise and
         * two continuations per item */
        cr_assert_eq(s.c[FUT_STAT_STATES], 2 * items1 + 3 * t2.items);
        cr_assert_eq(s.c[FUT_STAT_CHAINED], items1 + 2 * t2.items);
    }
    /* every cancel that won settles its future, and those that reached the promise
     * cancelled it too; a walk cancels at most the three states of an item */
    cr_assert_geq(s.c[FUT_STAT_CANCELLED], t2.cancel_won + t2.promise_lost);
    cr_assert_leq(s.c[FUT_STAT_CANCELLED], 3 * t2.cancel_won);
    cr_assert_eq(s.c[FUT_STAT_POOL_HIT] + s.c[FUT_STAT_POOL_MISS], s.c[FUT_STAT_STATES],
                 "every state came from the pool");
    cr_assert_eq(s.c[FUT_STAT_POOLED], s.c[FUT_STAT_STATES], "and went back to it");
    fut_pool_counts pcount;
    cr_assert_eq(fut_pool_snapshot(&pool, &pcount), 0);
    cr_assert_eq(pcount.live, 0);
    cr_assert_eq(pcount.allocated, pcount.idle + pcount.evicted);
    char json[2048];
    fut_stats_format(&s, FUT_STATS_JSON, json, sizeof json);
    cr_log_info("stats after the races: %s", json);
    cr_log_info("pool: allocated %llu, idle %llu, evicted %llu", (unsigned long long)pcount.allocated,
                (unsigned long long)pcount.idle, (unsigned long long)pcount.evicted);
    fut_pool_destroy(&pool);
    fut_stats_destroy(&st);
    cr_assert_eq(TU_LIVE(), 0, "%ld allocations leaked", TU_LIVE());
}

/* ---- 3: flattening races: inner settle vs outer settle vs cancel ------------------ */

typedef struct item3 {
    fut_promise p, q;
    fut_future inner; /* handed to the continuation, which returns it */
    fut_future g;
    int q_rc, cancel_rc;
    _Atomic int ran;
} item3;

typedef struct ctx3 {
    item3 *it;
    fut_sched inl;
} ctx3;

static fut_future s3_flatten(void *ctx, fut_result r)
{
    item3 *it = ctx;
    (void)r;
    atomic_fetch_add_explicit(&it->ran, 1, memory_order_relaxed);
    fut_future inner = it->inner;
    it->inner = (fut_future){0};
    return inner;
}

static void s3_outer(race *r, int role, size_t i)
{
    (void)role;
    ctx3 *c = r->ctx;
    fut_promise_set(&c->it[i].p, fut_i64(0));
}

static void s3_inner(race *r, int role, size_t i)
{
    (void)role;
    ctx3 *c = r->ctx;
    c->it[i].q_rc = fut_promise_set(&c->it[i].q, fut_i64((int64_t)i));
}

static void s3_cancel(race *r, int role, size_t i)
{
    (void)role;
    ctx3 *c = r->ctx;
    c->it[i].cancel_rc = fut_cancel(&c->it[i].g);
}

Test(stress_fut, flattening_races_settle_and_cancel_without_loss)
{
    size_t n = (size_t)TU_ITERS(20000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        ctx3 c;
        c.it = calloc(n, sizeof *c.it);
        cr_assert_not_null(c.it);
        fut_inline_init(&c.inl);
        for (size_t i = 0; i < n; i++) {
            fut_future f;
            cr_assert_eq(fut_promise_new(&c.it[i].p, &f), 0);
            cr_assert_eq(fut_promise_new(&c.it[i].q, &c.it[i].inner), 0);
            c.it[i].g = fut_then(&f, &c.inl, s3_flatten, &c.it[i]);
        }
        race r = {.items = n, .ctx = &c};
        int t = split_threads(3);
        role roles[] = {{s3_outer, t}, {s3_inner, t}, {s3_cancel, t}};
        race_run(&r, roles, 3, NULL);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            item3 *it = &c.it[i];
            fut_result res;
            int rc = fut_try_get(&it->g, &res);
            int ok = rc == 0 && atomic_load(&it->ran) <= 1;
            if (it->cancel_rc == 0)
                ok = ok && res.err == ECANCELED;
            else
                ok = ok && it->cancel_rc == EALREADY && res.err == 0 && res.value.i64 == (int64_t)i &&
                     it->q_rc == 0 && atomic_load(&it->ran) == 1;
            if (it->q_rc == ECANCELED) /* the cancel travelled into the inner future */
                ok = ok && it->cancel_rc == 0 && atomic_load(&it->ran) == 1;
            if (!ok)
                bad++;
            fut_drop(&it->inner); /* not taken when the continuation never ran */
        }
        size_t won = 0, inner = 0, ran = 0;
        for (size_t i = 0; i < n; i++) {
            won += c.it[i].cancel_rc == 0;
            inner += c.it[i].q_rc == ECANCELED;
            ran += atomic_load(&c.it[i].ran) == 1;
        }
        cr_log_info("cancel won %zu of %zu, reached the inner promise %zu, flattened %zu", won, n, inner, ran);
        cr_assert_eq(bad, 0, "%zu items broke the flattening invariants", bad);
        free(c.it);
        cr_assert_eq(TU_LIVE(), 0, "%ld states leaked", TU_LIVE());
    }
}

/* ---- 4: pointer values: drop or take vs settle, each destroyed exactly once ---------- */

typedef struct item4 {
    fut_promise p;
    fut_future f;
    int settle_rc;
    int took;
} item4;

static void s4_settle(race *r, int role, size_t i)
{
    (void)role;
    item4 *it = &((item4 *)r->ctx)[i];
    int64_t *cell = malloc(sizeof *cell);
    *cell = (int64_t)i;
    it->settle_rc = fut_promise_set_ptr(&it->p, cell, tu_dtor_free);
    if (it->settle_rc != 0)
        free(cell); /* refused: still ours */
}

static void s4_consume(race *r, int role, size_t i)
{
    (void)role;
    item4 *it = &((item4 *)r->ctx)[i];
    fut_result res;
    if (i % 3 == 0) {
        fut_drop(&it->f); /* dropping while the value may be on its way */
    } else if (i % 3 == 1) {
        fut_cancel(&it->f);
        fut_drop(&it->f);
    } else if (fut_try_get(&it->f, &res) == 0) {
        if (res.err == 0) {
            it->took = *(int64_t *)res.value.ptr == (int64_t)i ? 1 : -1;
            free(res.value.ptr); /* taken: ours to free, not the destructor's */
        }
    } else {
        fut_drop(&it->f);
    }
}

Test(stress_fut, pointer_values_are_destroyed_exactly_once)
{
    size_t n = (size_t)TU_ITERS(20000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        item4 *it = calloc(n, sizeof *it);
        cr_assert_not_null(it);
        atomic_store(&tu_dtor_calls, 0);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(fut_promise_new(&it[i].p, &it[i].f), 0);
        race r = {.items = n, .ctx = it};
        role roles[] = {{s4_settle, split_threads(2)}, {s4_consume, split_threads(2)}};
        race_run(&r, roles, 2, NULL);
        long settled = 0, took = 0, wrong = 0;
        for (size_t i = 0; i < n; i++) {
            settled += it[i].settle_rc == 0;
            took += it[i].took == 1;
            wrong += it[i].took == -1 || (it[i].settle_rc != 0 && it[i].settle_rc != ECANCELED);
        }
        cr_assert_eq(wrong, 0);
        /* Every value that was settled was either taken or destroyed, never both. */
        cr_assert_eq(atomic_load(&tu_dtor_calls) + took, settled, "dtor %ld + took %ld != settled %ld",
                     (long)atomic_load(&tu_dtor_calls), took, settled);
        free(it);
        cr_assert_eq(TU_LIVE(), 0, "%ld states leaked", TU_LIVE());
    }
}

/* ---- 5: many waiters on one future; ping-pong hand-off with fresh promises --------- */

typedef struct waitctx {
    fut_future f;
    pthread_barrier_t b;
    _Atomic int woke;
    _Atomic int64_t sum;
    int rounds;
} waitctx;

static void *waiter_main(void *arg)
{
    waitctx *w = arg;
    for (int k = 0; k < w->rounds; k++) {
        pthread_barrier_wait(&w->b); /* the future for round k is in place */
        if (fut_wait(&w->f) == 0)
            atomic_fetch_add(&w->woke, 1);
        pthread_barrier_wait(&w->b); /* everyone is done with it */
    }
    return NULL;
}

Test(stress_fut, every_waiter_wakes_on_settle)
{
    int nthreads = (int)TU_THREADS();
    int rounds = (int)TU_ITERS(20000) / 10;
    waitctx w;
    w.rounds = rounds;
    atomic_init(&w.woke, 0);
    atomic_init(&w.sum, 0);
    pthread_barrier_init(&w.b, NULL, (unsigned)nthreads + 1);
    pthread_t *t = calloc((size_t)nthreads, sizeof *t);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, waiter_main, &w);
    int64_t expect = 0;
    for (int k = 0; k < rounds; k++) {
        fut_promise p;
        cr_assert_eq(fut_promise_new(&p, &w.f), 0);
        pthread_barrier_wait(&w.b);
        if (k % 2 == 0)
            fut__cpu_relax(); /* sometimes let them park first */
        fut_promise_set(&p, fut_i64(k));
        pthread_barrier_wait(&w.b);
        fut_result r = fut_get(&w.f);
        atomic_fetch_add(&w.sum, r.value.i64);
        expect += k;
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&w.b);
    free(t);
    cr_assert_eq(atomic_load(&w.woke), nthreads * rounds);
    cr_assert_eq(atomic_load(&w.sum), expect);
    cr_assert_eq(TU_LIVE(), 0);
}

/* Ping-pong: each side settles the other's promise with a fresh promise for the reply,
 * carried as the value; nothing else is shared. */
typedef struct pingctx {
    fut_future first;
    int rounds;
    int64_t seen;
} pingctx;

static void *pong_main(void *arg)
{
    pingctx *c = arg;
    fut_future in = c->first;
    for (int k = 0; k < c->rounds; k++) {
        fut_result r = fut_get(&in);
        if (r.err != 0)
            break;
        fut_promise *reply = r.value.ptr;
        fut_promise next;
        if (fut_promise_new(&next, &in) != 0)
            break;
        fut_promise *boxed = malloc(sizeof *boxed);
        *boxed = next;
        c->seen++;
        fut_promise_set_ptr(reply, boxed, free);
        free(reply);
    }
    fut_drop(&in); /* the last round's promise is dropped by the other side */
    return NULL;
}

Test(stress_fut, ping_pong_hand_off_with_fresh_promises)
{
    pingctx c = {.rounds = (int)TU_ITERS(20000), .seen = 0};
    fut_promise to_pong;
    cr_assert_eq(fut_promise_new(&to_pong, &c.first), 0);
    pthread_t t;
    pthread_create(&t, NULL, pong_main, &c);
    int done = 0;
    for (int k = 0; k < c.rounds; k++) {
        fut_promise reply;
        fut_future back;
        cr_assert_eq(fut_promise_new(&reply, &back), 0);
        fut_promise *boxed = malloc(sizeof *boxed);
        *boxed = reply;
        fut_promise_set_ptr(&to_pong, boxed, free);
        fut_result r = fut_get(&back);
        if (r.err != 0)
            break;
        to_pong = *(fut_promise *)r.value.ptr;
        free(r.value.ptr);
        done++;
    }
    fut_promise_drop(&to_pong);
    pthread_join(t, NULL);
    cr_assert_eq(done, c.rounds);
    cr_assert_eq(c.seen, c.rounds);
    cr_assert_eq(TU_LIVE(), 0);
}

/* ---- 6: split outputs chained from several threads while the source settles ------- */

typedef struct item6 {
    fut_promise p;
    fut_future out[3];
    fut_future g[3];
    _Atomic int ran;
} item6;

typedef struct ctx6 {
    item6 *it;
    fut_sched inl;
} ctx6;

static void s6_settle(race *r, int role, size_t i)
{
    (void)role;
    ctx6 *c = r->ctx;
    fut_promise_set(&c->it[i].p, fut_i64((int64_t)i));
}

static void s6_chain(race *r, int role, size_t i)
{
    (void)role;
    ctx6 *c = r->ctx;
    for (int k = 0; k < 3; k++)
        c->it[i].g[k] = fut_then(&c->it[i].out[k], &c->inl, add1, &c->it[i].ran);
}

Test(stress_fut, split_outputs_all_receive_the_value)
{
    size_t n = (size_t)TU_ITERS(20000) / 2;
    ctx6 c;
    c.it = calloc(n, sizeof *c.it);
    cr_assert_not_null(c.it);
    fut_inline_init(&c.inl);
    for (size_t i = 0; i < n; i++) {
        fut_future f;
        cr_assert_eq(fut_promise_new(&c.it[i].p, &f), 0);
        cr_assert_eq(fut_split(&f, 3, c.it[i].out), 0);
    }
    race r = {.items = n, .ctx = &c};
    role roles[] = {{s6_settle, split_threads(2)}, {s6_chain, split_threads(2)}};
    race_run(&r, roles, 2, NULL);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            fut_result res;
            if (fut_try_get(&c.it[i].g[k], &res) != 0 || res.err != 0 || res.value.i64 != (int64_t)i + 1)
                bad++;
        }
        if (atomic_load(&c.it[i].ran) != 3)
            bad++;
    }
    cr_assert_eq(bad, 0);
    free(c.it);
    cr_assert_eq(TU_LIVE(), 0);
}

/* ---- 7: litmus tests for the memory orders of the polling reads -------------------- */
/* A plain (non-atomic) write published before a settle or a cancel must be visible to a
 * thread that only polls: fut_is_ready on the consumer side, fut_promise_cancelled on
 * the producer side. Nothing else synchronises the two threads (no wait, no get, no
 * lock), so a relaxed load in either poll is a data race that ThreadSanitizer reports;
 * on x86 without TSan the values still come out right, so the TSan leg is the check.
 * Planted (fut_is_ready's and fut_promise_cancelled's loads made relaxed): TSan red in
 * both tests; see the issue 15 note. */

typedef struct litmus {
    size_t n;
    int64_t *data; /* plain: published by the settle or the cancel, never atomic */
    fut_promise *p;
    fut_future *f;
    /* The reader's progress, read and written relaxed: it keeps the writer at most
     * LITMUS_AHEAD items ahead (so TSan still holds the stack of the write it would
     * report) without ordering anything itself. */
    _Atomic size_t read;
} litmus;

#define LITMUS_AHEAD 4

static void poll_relax(unsigned *spins)
{
    if (++*spins % 64 == 0)
        sched_yield(); /* 2 cores, other tests beside us: let the writer run */
    else
        fut__cpu_relax();
}

/* n pending promises and their futures, and the plain data they publish. */
static void litmus_init(litmus *l)
{
    l->n = (size_t)TU_ITERS(20000);
    atomic_init(&l->read, 0);
    l->data = calloc(l->n, sizeof *l->data);
    l->p = calloc(l->n, sizeof *l->p);
    l->f = calloc(l->n, sizeof *l->f);
    cr_assert(l->data != NULL && l->p != NULL && l->f != NULL);
    for (size_t i = 0; i < l->n; i++)
        cr_assert_eq(fut_promise_new(&l->p[i], &l->f[i]), 0);
}

static void litmus_free(litmus *l)
{
    free(l->data);
    free(l->p);
    free(l->f);
    cr_assert_eq(TU_LIVE(), 0);
}

/* Called by the writer before item i. */
static void litmus_pace(litmus *l, size_t i)
{
    unsigned spins = 0;
    /* relaxed: pacing only; an acquire here would order the very reads under test. */
    while (i >= atomic_load_explicit(&l->read, memory_order_relaxed) + LITMUS_AHEAD)
        poll_relax(&spins);
}

/* Called by the reader after item i. */
static void litmus_done(litmus *l, size_t i)
{
    /* relaxed: as in litmus_pace, a release would order the writes under test. */
    atomic_store_explicit(&l->read, i + 1, memory_order_relaxed);
}

static void *litmus_settler(void *arg)
{
    litmus *l = arg;
    for (size_t i = 0; i < l->n; i++) {
        litmus_pace(l, i);
        l->data[i] = (int64_t)i * 7 + 1;
        fut_promise_set(&l->p[i], fut_i64((int64_t)i));
    }
    return NULL;
}

Test(stress_fut, litmus_a_reader_polling_is_ready_sees_data_written_before_the_settle)
{
    litmus l;
    litmus_init(&l);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, litmus_settler, &l), 0);
    size_t wrong = 0;
    unsigned spins = 0;
    for (size_t i = 0; i < l.n; i++) {
        while (!fut_is_ready(&l.f[i]))
            poll_relax(&spins);
        if (l.data[i] != (int64_t)i * 7 + 1) /* the read under test: nothing but the poll orders it */
            wrong++;
        litmus_done(&l, i);
    }
    pthread_join(t, NULL);
    for (size_t i = 0; i < l.n; i++) {
        fut_result r = fut_get(&l.f[i]);
        if (r.err != 0 || r.value.i64 != (int64_t)i)
            wrong++;
    }
    cr_assert_eq(wrong, 0, "%zu reads saw stale data or a wrong value", wrong);
    litmus_free(&l);
}

static void *litmus_canceller(void *arg)
{
    litmus *l = arg;
    for (size_t i = 0; i < l->n; i++) {
        litmus_pace(l, i);
        l->data[i] = (int64_t)i * 5 + 3;
        fut_cancel(&l->f[i]);
    }
    return NULL;
}

Test(stress_fut, litmus_a_producer_polling_promise_cancelled_sees_data_written_before_the_cancel)
{
    litmus l;
    litmus_init(&l);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, litmus_canceller, &l), 0);
    size_t wrong = 0, refused = 0;
    unsigned spins = 0;
    for (size_t i = 0; i < l.n; i++) {
        while (!fut_promise_cancelled(&l.p[i]))
            poll_relax(&spins);
        if (l.data[i] != (int64_t)i * 5 + 3) /* the read under test */
            wrong++;
        litmus_done(&l, i);
        if (fut_promise_set(&l.p[i], fut_i64(1)) == ECANCELED)
            refused++;
    }
    pthread_join(t, NULL);
    for (size_t i = 0; i < l.n; i++) {
        fut_result r = fut_get(&l.f[i]);
        if (r.err != ECANCELED)
            wrong++;
    }
    cr_assert_eq(wrong, 0, "%zu reads saw stale data or a wrong outcome", wrong);
    cr_assert_eq(refused, l.n, "a cancelled promise took a value");
    litmus_free(&l);
}
