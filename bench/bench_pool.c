/* stats.h and pool.h benchmarks, one JSON object per line (harness.h).
 *
 *   stats_inc     fut: one counter, one thread (a sharded single-writer add)
 *                 atomic: a shared relaxed fetch_add, one thread
 *   stats_inc_2t  the same with --threads N threads (default 2) hammering one counter,
 *                 ns per increment per thread
 *   pool_cycle    fut: acquire + release of a 64-byte object
 *   malloc_cycle  libc: malloc + free of 64 bytes
 *
 * stats_inc_2t pins its threads to distinct CPUs where there are enough: left to the
 * kernel, two threads of a short run sometimes share one CPU and then never contend,
 * which measures nothing (on the 2-vCPU VM the shared counter then read 4.5 ns, not 40).
 *
 * Usage: bench_pool [--threads N] [--only op,op] */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pthread_setaffinity_np */
#endif
#include "../pool.h"
#include "harness.h"

#include <pthread.h>
#if defined(__linux__)
#include <sched.h>

/* Pins the calling thread to the i-th CPU it may run on, if there are more than i. */
static void pin_to(int i)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) <= i)
        return;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed) && seen++ == i) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_setaffinity_np(pthread_self(), sizeof one, &one);
            return;
        }
}
#else
static void pin_to(int i) { (void)i; }
#endif

typedef struct inc_ctx {
    fut_stats *st;
    _Atomic uint64_t *shared;
    int threads;
} inc_ctx;

static uint64_t op_stats_inc(void *ctx, uint64_t iters)
{
    inc_ctx *c = ctx;
    uint64_t t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++)
        fut_stats_inc(c->st, FUT_STAT_SPAWNED);
    return bench_now() - t0;
}

static uint64_t op_atomic_inc(void *ctx, uint64_t iters)
{
    inc_ctx *c = ctx;
    uint64_t t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++)
        atomic_fetch_add_explicit(c->shared, 1, memory_order_relaxed);
    return bench_now() - t0;
}

/* N threads run one op together; the result is the slowest thread's time. */
typedef struct mt_arg {
    bench_fn fn;
    inc_ctx *c;
    uint64_t iters, ns;
    pthread_barrier_t *go;
    int index;
} mt_arg;

static void *mt_main(void *p)
{
    mt_arg *a = p;
    pin_to(a->index);
    pthread_barrier_wait(a->go);
    a->ns = a->fn(a->c, a->iters);
    return NULL;
}

static uint64_t run_threads(inc_ctx *c, bench_fn fn, uint64_t iters)
{
    pthread_t t[256];
    mt_arg a[256];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)c->threads);
    for (int i = 0; i < c->threads; i++) {
        a[i] = (mt_arg){fn, c, iters, 0, &go, i};
        pthread_create(&t[i], NULL, mt_main, &a[i]);
    }
    uint64_t worst = 0;
    for (int i = 0; i < c->threads; i++) {
        pthread_join(t[i], NULL);
        if (a[i].ns > worst)
            worst = a[i].ns;
    }
    pthread_barrier_destroy(&go);
    return worst;
}

static uint64_t op_stats_inc_mt(void *ctx, uint64_t iters) { return run_threads(ctx, op_stats_inc, iters); }
static uint64_t op_atomic_inc_mt(void *ctx, uint64_t iters) { return run_threads(ctx, op_atomic_inc, iters); }

static uint64_t op_pool_cycle(void *ctx, uint64_t iters)
{
    fut_pool *p = ctx;
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        void *o = fut_pool_acquire(p);
        acc += (uintptr_t)o;
        fut_pool_release(p, o);
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}

static uint64_t op_malloc_cycle(void *ctx, uint64_t iters)
{
    (void)ctx;
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        void *volatile o = malloc(64);
        acc += (uintptr_t)o;
        free(o);
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}

int main(int argc, char **argv)
{
    bench_args args = bench_parse(argc, argv);
    if (args.threads > 256)
        args.threads = 256;
    fut_stats st;
    if (fut_stats_init(&st, 256) != 0)
        return 1;
    _Alignas(64) _Atomic uint64_t shared = 0;
    inc_ctx one = {&st, &shared, 1}, many = {&st, &shared, args.threads};

    if (bench_wanted(&args, "stats_inc")) {
        bench_emit("stats_inc", "fut", bench_measure(op_stats_inc, &one, UINT64_MAX), 1);
        bench_emit("stats_inc", "atomic", bench_measure(op_atomic_inc, &one, UINT64_MAX), 1);
    }
    if (bench_wanted(&args, "stats_inc_2t")) {
        bench_emit("stats_inc_2t", "fut", bench_measure(op_stats_inc_mt, &many, UINT64_MAX), args.threads);
        bench_emit("stats_inc_2t", "atomic", bench_measure(op_atomic_inc_mt, &many, UINT64_MAX), args.threads);
    }
    if (bench_wanted(&args, "pool_cycle")) {
        fut_pool pool;
        fut_pool_config cfg = {.size = 64, .capacity = 1024, .warm = 64};
        if (fut_pool_init(&pool, &cfg) != 0)
            return 1;
        bench_emit("pool_cycle", "fut", bench_measure(op_pool_cycle, &pool, UINT64_MAX), 1);
        fut_pool_destroy(&pool);
    }
    if (bench_wanted(&args, "malloc_cycle"))
        bench_emit("malloc_cycle", "libc", bench_measure(op_malloc_cycle, NULL, UINT64_MAX), 1);
    fut_stats_destroy(&st);
    return 0;
}
