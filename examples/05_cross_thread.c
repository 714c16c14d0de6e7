/* 05 - across threads: workers produce, one loop thread consumes.
 *
 * Any thread may settle a promise; the continuation runs on the scheduler it was attached
 * with. Here producers run on a thread pool (fut_workers, workers.h) and every
 * continuation is attached to a fut_manual that one "loop thread" drains: it sleeps in
 * fut_manual_wait until work is queued, then runs all of it. The state the
 * continuations touch belongs to the loop thread alone, so nothing needs a lock.
 *
 * Which worker finishes first changes from run to run; what the loop thread prints at
 * the end does not: it reports results by job number. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include "workers.h"
#include <stdio.h>

enum { JOBS = 8, WORKERS = 3 };

/* Owned by the loop thread: only continuations (which run there) write it. */
typedef struct loop_state {
    pthread_t thread;
    int ran, ran_on_loop;
} loop_state;

typedef struct job {
    fut_task task;    /* first member: the pool queues the job itself, no allocation */
    fut_promise done; /* the producer's end */
    int64_t input;
    pthread_t settled_on;
    loop_state *loop;
} job;

/* The producer: runs on a pool worker and settles the promise from there. */
static void produce(fut_task *t, int err)
{
    job *j = (job *)t;
    j->settled_on = pthread_self();
    if (err != 0) /* the pool refused the job (then it runs here): pass the error on */
        fut_promise_set_error(&j->done, err);
    else
        fut_promise_set(&j->done, fut_i64(j->input * j->input));
}

/* The consumer: runs on the loop thread, whichever thread settled the promise. It is
 * attached with fut_then_result, so it runs on an error too and the loop can count on it. */
static fut_future consume(void *ctx, fut_result r)
{
    loop_state *ls = ((job *)ctx)->loop;
    ls->ran++;
    ls->ran_on_loop += pthread_equal(pthread_self(), ls->thread) != 0;
    return fut_ready_result(r);
}

int main(void)
{
    fut_workers pool;
    fut_manual loop;
    if (fut_workers_init(&pool, &(fut_workers_config){.threads = WORKERS}) != 0 || fut_manual_init(&loop, 0) != 0)
        return 1;
    loop_state ls = {.thread = pthread_self(), .ran = 0}; /* main is the loop thread */

    job jobs[JOBS];
    fut_future fs[JOBS];
    for (int i = 0; i < JOBS; i++) {
        job *j = &jobs[i];
        *j = (job){.task.run = produce, .input = i, .loop = &ls};
        if (fut_promise_new(&j->done, &fs[i]) != 0)
            return 1;
        fs[i] = fut_then_result(&fs[i], &loop.sched, consume, j); /* consume() on the loop */
        fut_sched_submit(&pool.sched, &j->task);              /* produce() on a worker */
    }

    /* The loop: sleep until something is queued, run what is queued, until all ran. */
    while (ls.ran < JOBS) {
        fut_manual_wait(&loop, UINT64_MAX);
        fut_manual_run_all(&loop);
    }

    int on_worker = 0;
    printf("results by job:");
    for (int i = 0; i < JOBS; i++) {
        printf(" %lld", (long long)fut_get(&fs[i]).value.i64); /* all ready by now */
        on_worker += !pthread_equal(jobs[i].settled_on, ls.thread);
    }
    printf("\nsettled on a worker: %d of %d\n", on_worker, JOBS);
    printf("continuations run: %d, on the loop thread: %d\n", ls.ran, ls.ran_on_loop);

    fut_workers_shutdown(&pool, FUT_WORKERS_DRAIN);
    fut_manual_destroy(&loop);
    return 0;
}
