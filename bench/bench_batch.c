/* batch.h benchmarks, one JSON object per line (harness.h).
 *
 *   when_all_1000  fut: 1000 ready futures combined with fut_when_all, the result block
 *                  read (every value summed) and freed. ns PER ELEMENT: `iters` counts
 *                  elements (the same convention as peers/bench_boost.cpp).
 *   map_reduce     the sum of a cheap function (a 3-multiply integer mix) over
 *                  10,000,000 ints, ns per item. fut: fut_reduce on the example thread
 *                  pool with --threads N workers (default 2); serial: one plain loop.
 *   submit         empty tasks run on the thread pool, ns per task, end to end (submit,
 *                  run, completion). Each task counts itself on its group's counter (64
 *                  tasks a group, counters on separate lines); the last of the last group
 *                  settles a promise the bench waits on. Both impls run the same tasks.
 *                  fut: one fut_sched_submit per task; fut+batch: fut_batch, 64 a batch.
 *
 * Usage: bench_batch [--threads N] [--only op,op] */
#include "../batch.h"
#include "workers.h"
#include "harness.h"

/* ---- when_all_1000 ------------------------------------------------------------------ */

#define WHEN_ALL_N 1000

static uint64_t op_when_all(void *ctx, uint64_t iters)
{
    (void)ctx;
    uint64_t rounds = iters / WHEN_ALL_N ? iters / WHEN_ALL_N : 1;
    fut_future in[WHEN_ALL_N];
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t r = 0; r < rounds; r++) {
        for (int k = 0; k < WHEN_ALL_N; k++)
            in[k] = fut_ready(fut_i64(k));
        fut_future all = fut_when_all(in, WHEN_ALL_N);
        fut_result res = fut_get(&all);
        fut_result *v = res.value.ptr;
        for (int k = 0; k < WHEN_ALL_N; k++)
            acc += (uint64_t)v[k].value.i64;
        fut_results_free(v);
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    /* scale to `iters` elements at the measured rate (a no-op once iters >> 1000) */
    return (uint64_t)((double)(t1 - t0) * (double)iters / (double)(rounds * WHEN_ALL_N));
}

/* ---- map_reduce ----------------------------------------------------------------------- */

#define MR_N 10000000u

static inline uint64_t mix(uint32_t x)
{
    uint64_t h = x * 0x9E3779B97F4A7C15u;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return h * 0x94D049BB133111EBu >> 40;
}

static fut_value sum_chunk(void *ctx, const void *in, size_t count)
{
    (void)ctx;
    const uint32_t *a = in;
    uint64_t s = 0;
    for (size_t i = 0; i < count; i++)
        s += mix(a[i]);
    return fut_u64(s);
}

static fut_value add(void *ctx, fut_value a, fut_value b)
{
    (void)ctx;
    return fut_u64(a.u64 + b.u64);
}

typedef struct mr_ctx {
    uint32_t *data;
    fut_workers *tp;
    uint64_t expect;
} mr_ctx;

static uint64_t op_map_reduce_fut(void *ctx, uint64_t iters)
{
    mr_ctx *c = ctx;
    uint64_t rounds = iters / MR_N ? iters / MR_N : 1, acc = 0, t0 = bench_now();
    for (uint64_t r = 0; r < rounds; r++) {
        fut_future f = fut_reduce(&c->tp->sched, &(fut_reduce_desc){.in = c->data, .n = MR_N,
            .size = sizeof(uint32_t), .fn = sum_chunk, .combine = add, .identity = fut_u64(0)});
        fut_result res = fut_get(&f);
        if (res.err != 0 || res.value.u64 != c->expect)
            abort(); /* a wrong answer is not a benchmark */
        acc += res.value.u64;
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return (uint64_t)((double)(t1 - t0) * (double)iters / (double)(rounds * MR_N));
}

static uint64_t op_map_reduce_serial(void *ctx, uint64_t iters)
{
    mr_ctx *c = ctx;
    uint64_t rounds = iters / MR_N ? iters / MR_N : 1, acc = 0, t0 = bench_now();
    for (uint64_t r = 0; r < rounds; r++)
        acc += sum_chunk(NULL, c->data, MR_N).u64;
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return (uint64_t)((double)(t1 - t0) * (double)iters / (double)(rounds * MR_N));
}

/* ---- submit --------------------------------------------------------------------------- */

#define SUBMIT_N 4096u
#define GROUP 64u

typedef struct group {
    _Alignas(64) _Atomic uint32_t done;
    uint32_t size;
} group;

typedef struct sub_ctx {
    fut_workers *tp;
    fut_task tasks[SUBMIT_N];
    group groups[SUBMIT_N / GROUP];
    _Alignas(64) _Atomic uint32_t groups_done;
    uint32_t ngroups;
    fut_promise finished;
    int batched;
} sub_ctx;

/* The context of the running round: tasks carry nothing but their node. */
static sub_ctx *g_sub;

static void empty_task_g(fut_task *t, int err)
{
    (void)t;
    (void)err;
    sub_ctx *c = g_sub;
    group *g = &c->groups[(size_t)(t - c->tasks) / GROUP];
    /* acq_rel: the last task of the last group settles the promise after everyone. */
    if (atomic_fetch_add_explicit(&g->done, 1, memory_order_acq_rel) + 1 == g->size &&
        atomic_fetch_add_explicit(&c->groups_done, 1, memory_order_acq_rel) + 1 == c->ngroups)
        fut_promise_set(&c->finished, fut_u64(0));
}

static uint64_t op_submit(void *ctx, uint64_t iters)
{
    sub_ctx *c = ctx;
    uint64_t t0 = bench_now();
    for (uint64_t done = 0; done < iters;) {
        uint32_t n = iters - done < SUBMIT_N ? (uint32_t)(iters - done) : SUBMIT_N;
        fut_future f;
        fut_promise_new(&c->finished, &f);
        c->ngroups = (n + GROUP - 1) / GROUP;
        for (uint32_t k = 0; k < c->ngroups; k++) {
            atomic_store_explicit(&c->groups[k].done, 0, memory_order_relaxed);
            c->groups[k].size = n - k * GROUP < GROUP ? n - k * GROUP : GROUP;
        }
        atomic_store_explicit(&c->groups_done, 0, memory_order_relaxed);
        if (c->batched) {
            fut_batch b;
            fut_batch_init(&b, &c->tp->sched, 64, NULL);
            for (uint32_t i = 0; i < n; i++) {
                c->tasks[i].run = empty_task_g;
                fut_batch_add(&b, &c->tasks[i]);
            }
            fut_batch_flush(&b);
        } else {
            for (uint32_t i = 0; i < n; i++) {
                c->tasks[i].run = empty_task_g;
                fut_sched_submit(&c->tp->sched, &c->tasks[i]);
            }
        }
        fut_get(&f);
        done += n;
    }
    return bench_now() - t0;
}

/* ---- timer_late ---------------------------------------------------------------------- */

/* How late a deadline fires on the pool: a 1 ms fut_delay, and a continuation on a worker
 * that reads the clock; the sample is that time minus the deadline. One at a time, so
 * the pool is idle but for it. Not a rate: the stat is over TIMER_SAMPLES samples. */
enum { TIMER_SAMPLES = 201 };

static fut_future note_late(void *ctx, fut_result r)
{
    (void)r;
    *(uint64_t *)ctx = bench_now();
    return fut_ready(fut_u64(0));
}

static bench_stat timer_lateness(fut_workers *tp)
{
    double v[TIMER_SAMPLES];
    for (int i = 0; i < TIMER_SAMPLES; i++) {
        uint64_t seen = 0, deadline = fut_now_ns() + 1000000u;
        fut_future d = fut_delay_until(&tp->sched, deadline);
        d = fut_then(&d, &tp->sched, note_late, &seen);
        if (fut_get(&d).err != 0)
            abort();
        v[i] = (double)(seen - deadline);
    }
    qsort(v, TIMER_SAMPLES, sizeof v[0], bench_cmp);
    bench_stat s = {v[TIMER_SAMPLES / 2], v[0], v[TIMER_SAMPLES - 1], TIMER_SAMPLES};
    return s;
}

int main(int argc, char **argv)
{
    bench_args args = bench_parse(argc, argv);
    if (bench_wanted(&args, "when_all_1000"))
        bench_emit("when_all_1000", "fut", bench_measure(op_when_all, NULL, UINT64_MAX), 1);

    if (bench_wanted(&args, "map_reduce")) {
        mr_ctx c;
        c.data = malloc(MR_N * sizeof(uint32_t));
        if (c.data == NULL)
            return 1;
        c.expect = 0;
        for (uint32_t i = 0; i < MR_N; i++)
            c.data[i] = i * 2654435761u;
        c.expect = sum_chunk(NULL, c.data, MR_N).u64;
        fut_workers tp;
        if (fut_workers_init(&tp, &(fut_workers_config){.threads = (unsigned)args.threads}) != 0)
            return 1;
        c.tp = &tp;
        bench_emit("map_reduce", "fut", bench_measure(op_map_reduce_fut, &c, UINT64_MAX), args.threads);
        bench_emit("map_reduce", "serial", bench_measure(op_map_reduce_serial, &c, UINT64_MAX), 1);
        fut_workers_shutdown(&tp, FUT_WORKERS_DRAIN);
        free(c.data);
    }

    if (bench_wanted(&args, "timer_late")) {
        fut_workers tp;
        if (fut_workers_init(&tp, &(fut_workers_config){.threads = (unsigned)args.threads}) != 0)
            return 1;
        bench_emit("timer_late", "fut", timer_lateness(&tp), args.threads);
        fut_workers_shutdown(&tp, FUT_WORKERS_DRAIN);
    }

    if (bench_wanted(&args, "submit")) {
        fut_workers tp;
        if (fut_workers_init(&tp, &(fut_workers_config){.threads = (unsigned)args.threads, .bound = SUBMIT_N}) != 0)
            return 1;
        sub_ctx *c = calloc(1, sizeof *c);
        c->tp = &tp;
        g_sub = c;
        c->batched = 0;
        bench_emit("submit", "fut", bench_measure(op_submit, c, UINT64_MAX), args.threads);
        c->batched = 1;
        bench_emit("submit", "fut+batch", bench_measure(op_submit, c, UINT64_MAX), args.threads);
        fut_workers_shutdown(&tp, FUT_WORKERS_DRAIN);
        free(c);
    }
    return 0;
}
