/* 07 - parallel map and reduce over an array.
 *
 * fut_map and fut_reduce cut an array into chunks and run the chunks on a scheduler, so
 * the cost of scheduling is paid per chunk, not per element; both return a future. Here
 * a map squares 1,000,000 ints on a thread pool, a continuation starts a reduce that sums
 * the squares (a future returned from a continuation is waited for, as in 03), and a
 * plain serial loop checks both. The reduce's combine must be associative: partial sums
 * are merged in chunk order, so the answer does not depend on which worker ran what. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "batch.h"
#include "workers.h"
#include <stdio.h>

enum { N = 1000000 };

static void square(void *ctx, const void *in, void *out, size_t count)
{
    (void)ctx;
    const int32_t *x = in;
    int64_t *y = out;
    for (size_t i = 0; i < count; i++)
        y[i] = (int64_t)x[i] * x[i];
}

static fut_value sum_chunk(void *ctx, const void *in, size_t count)
{
    (void)ctx;
    const int64_t *y = in;
    int64_t s = 0;
    for (size_t i = 0; i < count; i++)
        s += y[i];
    return fut_i64(s);
}

static fut_value add(void *ctx, fut_value a, fut_value b)
{
    (void)ctx;
    return fut_i64(a.i64 + b.i64);
}

typedef struct job {
    fut_workers *pool;
    int64_t *squares;
} job;

/* Runs once the map is done: the squares are all there. Returns the reduce's future. */
static fut_future sum_squares(void *ctx, fut_result mapped)
{
    job *j = ctx;
    return fut_reduce(&j->pool->sched, &(fut_reduce_desc){.in = j->squares,
        .n = (size_t)mapped.value.u64, .size = sizeof(int64_t), .fn = sum_chunk, .combine = add,
        .identity = fut_i64(0)});
}

int main(void)
{
    fut_workers pool;
    fut_sched inl;
    int32_t *x = malloc(N * sizeof *x);
    int64_t *y = malloc(N * sizeof *y);
    if (x == NULL || y == NULL || fut_workers_init(&pool, &(fut_workers_config){.threads = 4}) != 0)
        return 1;
    fut_inline_init(&inl);
    for (int32_t i = 0; i < N; i++)
        x[i] = i;

    /* Chunk size 0: automatic (about four chunks per worker). */
    job j = {&pool, y};
    fut_future f = fut_map(&pool.sched, &(fut_map_desc){.in = x, .out = y, .n = N,
        .in_size = sizeof *x, .out_size = sizeof *y, .fn = square});
    f = fut_then(&f, &inl, sum_squares, &j); /* map, then reduce: one future */
    fut_result r = fut_get(&f);

    int64_t serial = 0, mismatches = 0;
    for (int32_t i = 0; i < N; i++) {
        mismatches += y[i] != (int64_t)i * i;
        serial += (int64_t)i * i;
    }
    printf("n = %d, %u workers\n", N, pool.sched.workers);
    printf("map: squares that differ from the serial loop: %lld\n", (long long)mismatches);
    printf("reduce: sum of squares = %lld (err %d)\n", (long long)r.value.i64, r.err);
    printf("serial:  sum of squares = %lld\n", (long long)serial);
    printf("agree: %s\n", r.err == 0 && r.value.i64 == serial && mismatches == 0 ? "yes" : "no");

    fut_workers_shutdown(&pool, FUT_WORKERS_DRAIN);
    free(x);
    free(y);
    return 0;
}
