/* fut.h benchmarks and the machine's limits, one JSON object per line (harness.h).
 *
 *   ready    a future made from a value, then read: no allocation, no atomic
 *   pair     promise+future made, settled, read (impl fut+pool: states from a pool)
 *   then1    one continuation attached before the settle (inline scheduler), read
 *            (impl fut+pool as for pair)
 *   then10   a chain of ten continuations, then settle, read
 *   handoff  a round trip between two threads, a fresh promise each way (per pair of
 *            threads; --threads N runs N/2 pairs at once)
 *   limit/atomic_rmw  an uncontended relaxed fetch_add
 *   limit/handoff     a round trip of two threads spinning on one cache line
 *
 * Usage: bench_fut [--threads N] [--only op,op] */
#include "../fut.h"
#include "harness.h"

#include <pthread.h>

static fut_sched inl;
static const fut_env *env; /* NULL: plain malloc; else the pool (impl fut+pool) */

static fut_future add1(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

static uint64_t op_ready(void *ctx, uint64_t iters)
{
    (void)ctx;
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        fut_future f = fut_ready(fut_i64((int64_t)i));
        fut_result r = fut_error(EINVAL);
        fut_try_get(&f, &r);
        acc += (uint64_t)r.value.i64;
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}

static uint64_t op_pair(void *ctx, uint64_t iters)
{
    (void)ctx;
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        fut_promise p;
        fut_future f;
        fut_promise_new_env(&p, &f, env);
        fut_promise_set(&p, fut_i64((int64_t)i));
        fut_result r = fut_error(EINVAL);
        fut_try_get(&f, &r);
        acc += (uint64_t)r.value.i64;
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}

static uint64_t op_then(void *ctx, uint64_t iters)
{
    int links = *(int *)ctx;
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        fut_promise p;
        fut_future f;
        fut_promise_new_env(&p, &f, env);
        for (int k = 0; k < links; k++)
            f = fut_then(&f, &inl, add1, NULL);
        fut_promise_set(&p, fut_i64((int64_t)i));
        fut_result r = fut_error(EINVAL);
        fut_try_get(&f, &r);
        acc += (uint64_t)r.value.i64;
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}

/* ---- hand-off: ping-pong with a fresh promise each way -------------------------- */

typedef struct pong_arg {
    fut_future first;
    uint64_t rounds;
    pthread_barrier_t *go;
} pong_arg;

static void *pong_main(void *arg)
{
    pong_arg *a = arg;
    fut_future in = a->first;
    pthread_barrier_wait(a->go);
    for (uint64_t k = 0; k < a->rounds; k++) {
        fut_result r = fut_get(&in); /* the value is the promise to answer on */
        fut_promise reply;
        reply.tag = (uintptr_t)r.value.u64;
        fut_promise next;
        fut_promise_new(&next, &in);
        fut_promise_set(&reply, fut_u64((uint64_t)next.tag)); /* the next ping's promise */
    }
    fut_drop(&in);
    return NULL;
}

typedef struct pair_run {
    uint64_t iters;
    uint64_t ns;
    pthread_barrier_t *go;
} pair_run;

static void *ping_main(void *arg)
{
    pair_run *pr = arg;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    fut_promise to_pong;
    pong_arg a;
    fut_promise_new(&to_pong, &a.first);
    a.rounds = pr->iters;
    a.go = &go;
    pthread_t t;
    pthread_create(&t, NULL, pong_main, &a);
    pthread_barrier_wait(pr->go); /* all pairs start together */
    pthread_barrier_wait(&go);
    uint64_t t0 = bench_now();
    for (uint64_t k = 0; k < pr->iters; k++) {
        fut_promise reply;
        fut_future back;
        fut_promise_new(&reply, &back);
        fut_promise_set(&to_pong, fut_u64((uint64_t)reply.tag));
        fut_result r = fut_get(&back);
        to_pong.tag = (uintptr_t)r.value.u64;
    }
    pr->ns = bench_now() - t0;
    pthread_join(t, NULL);
    fut_promise_drop(&to_pong);
    pthread_barrier_destroy(&go);
    return NULL;
}

/* Spinning on one cache line: the floor for any cross-thread hand-off. */
typedef struct line {
    _Alignas(64) _Atomic uint64_t v;
} line;

typedef struct spin_arg {
    line *l;
    uint64_t rounds;
    pthread_barrier_t *go;
} spin_arg;

static void *spin_pong(void *arg)
{
    spin_arg *a = arg;
    pthread_barrier_wait(a->go);
    for (uint64_t k = 0; k < a->rounds; k++) {
        while (atomic_load_explicit(&a->l->v, memory_order_acquire) != 2 * k + 1)
            fut__cpu_relax();
        atomic_store_explicit(&a->l->v, 2 * k + 2, memory_order_release);
    }
    return NULL;
}

static void *spin_ping(void *arg)
{
    pair_run *pr = arg;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    line *l = aligned_alloc(64, sizeof *l);
    atomic_init(&l->v, 0);
    spin_arg a = {l, pr->iters, &go};
    pthread_t t;
    pthread_create(&t, NULL, spin_pong, &a);
    pthread_barrier_wait(pr->go);
    pthread_barrier_wait(&go);
    uint64_t t0 = bench_now();
    for (uint64_t k = 0; k < pr->iters; k++) {
        atomic_store_explicit(&l->v, 2 * k + 1, memory_order_release);
        while (atomic_load_explicit(&l->v, memory_order_acquire) != 2 * k + 2)
            fut__cpu_relax();
    }
    pr->ns = bench_now() - t0;
    pthread_join(t, NULL);
    free(l);
    pthread_barrier_destroy(&go);
    return NULL;
}

typedef struct pairs_ctx {
    int pairs;
    void *(*ping)(void *);
} pairs_ctx;

/* Runs `pairs` ping-pong pairs at once; returns the median pair's time. */
static uint64_t op_pairs(void *ctx, uint64_t iters)
{
    pairs_ctx *c = ctx;
    pair_run pr[64];
    pthread_t t[64];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)c->pairs);
    for (int i = 0; i < c->pairs; i++) {
        pr[i].iters = iters;
        pr[i].go = &go;
        pthread_create(&t[i], NULL, c->ping, &pr[i]);
    }
    uint64_t ns[64];
    for (int i = 0; i < c->pairs; i++) {
        pthread_join(t[i], NULL);
        ns[i] = pr[i].ns;
    }
    pthread_barrier_destroy(&go);
    for (int i = 1; i < c->pairs; i++) /* insertion sort: a handful of values */
        for (int j = i; j > 0 && ns[j - 1] > ns[j]; j--) {
            uint64_t x = ns[j];
            ns[j] = ns[j - 1];
            ns[j - 1] = x;
        }
    return ns[c->pairs / 2];
}

static uint64_t op_atomic_rmw(void *ctx, uint64_t iters)
{
    _Atomic uint64_t *a = ctx;
    uint64_t t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++)
        atomic_fetch_add_explicit(a, 1, memory_order_relaxed);
    uint64_t t1 = bench_now();
    bench_keep(atomic_load(a));
    return t1 - t0;
}

int main(int argc, char **argv)
{
    bench_args args = bench_parse(argc, argv);
    fut_inline_init(&inl);
    int pairs = args.threads / 2 < 1 ? 1 : args.threads / 2;
    if (pairs > 64)
        pairs = 64;
    int one = 1, ten = 10;

    if (bench_wanted(&args, "ready"))
        bench_emit("ready", "fut", bench_measure(op_ready, NULL, UINT64_MAX), 1);
    if (bench_wanted(&args, "pair"))
        bench_emit("pair", "fut", bench_measure(op_pair, NULL, UINT64_MAX), 1);
    if (bench_wanted(&args, "then1"))
        bench_emit("then1", "fut", bench_measure(op_then, &one, UINT64_MAX), 1);
    fut_pool pool;
    fut_pool_config pc = {.size = fut_state_size(), .capacity = 4096, .warm = 64};
    fut_env penv;
    if (fut_pool_init(&pool, &pc) == 0 && fut_env_init(&penv, &pool, NULL) == 0) {
        env = &penv;
        if (bench_wanted(&args, "pair"))
            bench_emit("pair", "fut+pool", bench_measure(op_pair, NULL, UINT64_MAX), 1);
        if (bench_wanted(&args, "then1"))
            bench_emit("then1", "fut+pool", bench_measure(op_then, &one, UINT64_MAX), 1);
        env = NULL;
        fut_pool_destroy(&pool);
    }
    if (bench_wanted(&args, "then10"))
        bench_emit("then10", "fut", bench_measure(op_then, &ten, UINT64_MAX), 1);
    if (bench_wanted(&args, "handoff")) {
        pairs_ctx c = {pairs, ping_main};
        bench_emit("handoff", "fut", bench_measure(op_pairs, &c, 200000), pairs * 2);
    }
    if (bench_wanted(&args, "atomic_rmw")) {
        _Atomic uint64_t a = 0;
        bench_emit("atomic_rmw", "limit", bench_measure(op_atomic_rmw, (void *)&a, UINT64_MAX), 1);
    }
    if (bench_wanted(&args, "handoff")) {
        pairs_ctx c = {pairs, spin_ping};
        bench_emit("handoff", "limit", bench_measure(op_pairs, &c, 200000), pairs * 2);
    }
    return 0;
}
