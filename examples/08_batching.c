/* 08 - task batching.
 *
 * Every hand-off to a scheduler costs something: a lock round trip, a wake-up. A
 * fut_batch gathers independent tasks and hands them over together in one submit_many:
 * as soon as `threshold` tasks wait, or when you call fut_batch_flush. Until then they do
 * not run. A fut_stats block (stats.h) counts the tasks batched and the batches.
 * First on the manual scheduler, where the queue can be watched, then on a thread pool. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "batch.h"
#include "workers.h"
#include <stdio.h>

static fut_future square(void *ctx, fut_result r)
{
    (void)r;
    int64_t x = *(const int *)ctx;
    return fut_ready(fut_i64(x * x));
}

static void print_counts(fut_stats *st)
{
    fut_stats_snap s;
    fut_stats_snapshot(st, &s);
    printf("stats: batched %llu, batches %llu\n", (unsigned long long)s.c[FUT_STAT_BATCHED],
           (unsigned long long)s.c[FUT_STAT_BATCHES]);
}

int main(void)
{
    static int input[1000];
    static fut_future fs[1000];
    for (int i = 0; i < 1000; i++)
        input[i] = i;
    fut_stats st;
    fut_manual m;
    fut_batch b;
    if (fut_stats_init(&st, 4) != 0 || fut_manual_init(&m, 0) != 0)
        return 1;

    /* Threshold 4: the 4th and the 8th spawn hand a batch over. */
    fut_batch_init(&b, &m.sched, 4, &st);
    printf("queued after each spawn:");
    for (int i = 0; i < 10; i++) {
        fs[i] = fut_batch_spawn(&b, square, &input[i]);
        printf(" %zu", fut_manual_pending(&m));
    }
    printf("\nwaiting in the batch: %zu\n", b.count);
    fut_batch_flush(&b); /* the last 2 go now */
    printf("queued after the flush: %zu\n", fut_manual_pending(&m));
    fut_manual_run_all(&m);
    int64_t sum = 0;
    for (int i = 0; i < 10; i++)
        sum += fut_get(&fs[i]).value.i64;
    printf("sum of squares 0..9: %lld\n", (long long)sum);
    print_counts(&st);

    /* The same on a thread pool: 1000 tasks, 64 at a time, each batch one lock round
     * trip that wakes as many workers as it brings work for. */
    fut_workers pool;
    if (fut_workers_init(&pool, &(fut_workers_config){.threads = 3}) != 0)
        return 1;
    fut_stats_reset(&st);
    fut_batch_init(&b, &pool.sched, 64, &st);
    for (int i = 0; i < 1000; i++)
        fs[i] = fut_batch_spawn(&b, square, &input[i]);
    fut_batch_flush(&b); /* 1000 = 15 * 64 + 40: the last 40 */
    sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += fut_get(&fs[i]).value.i64;
    printf("sum of squares 0..999: %lld\n", (long long)sum);
    print_counts(&st);

    fut_workers_shutdown(&pool, FUT_WORKERS_DRAIN);
    fut_manual_destroy(&m);
    fut_stats_destroy(&st);
    return 0;
}
