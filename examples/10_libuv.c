/* 10 - continuations and deadlines on a libuv loop: the manual scheduler as a loop
 * adapter (apps/fut_uv.h, about 40 lines: read it beside this file).
 *
 * A fut_manual is a FIFO of tasks that one thread drains, plus timers on the monotonic
 * clock. Give it a notify hook that wakes the loop - uv_async_send, safe from any
 * thread - and the async callback drains it on the loop thread, then arms one uv_timer
 * for the manual's earliest deadline: that is the whole adapter, timers included.
 * Producers on a thread pool settle; continuations run on the loop, next to its
 * sockets; fut_timeout gives a request a deadline that fires on the loop. The hook runs
 * under the manual's lock, so once fut_manual_close has returned nothing can touch the
 * async handle and the loop may close it. Built when libuv is found (libuv1-dev). */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include "workers.h"
#include "fut_uv.h" /* apps/: the adapter */
#include <stdio.h>

enum { JOBS = 6 };

typedef struct app { /* touched by continuations only, on the loop thread */
    fut_uv *loop;
    pthread_t loop_thread;
    int done, on_loop_thread, timed_out;
} app;

static fut_future work(void *ctx, fut_result r) /* on a pool worker */
{
    (void)r;
    return fut_ready(fut_i64(*(const int *)ctx * 10));
}

/* On the loop thread. Attached with fut_then_result: it runs on errors too, so the count
 * that ends the loop always reaches JOBS + 1. */
static fut_future on_loop(void *ctx, fut_result r)
{
    app *a = ctx;
    a->on_loop_thread += pthread_equal(pthread_self(), a->loop_thread) != 0;
    a->timed_out += r.err == ETIMEDOUT;
    if (++a->done == JOBS + 1)
        fut_uv_close(a->loop); /* the last one: let the loop end */
    return r.err ? fut_ready_result(r) : fut_ready(fut_i64(r.value.i64 + 1));
}

static void told_to_stop(void *ctx) { *(int *)ctx = 1; } /* on the loop: the deadline's cancel */

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    fut_uv u;
    fut_workers pool;
    if (fut_uv_init(&u, loop) != 0 || fut_workers_init(&pool, &(fut_workers_config){.threads = 3}) != 0)
        return 1;

    app a = {.loop = &u, .loop_thread = pthread_self()};
    int ids[JOBS];
    fut_future fs[JOBS];
    for (int i = 0; i < JOBS; i++) {
        ids[i] = i;
        fs[i] = fut_spawn(&pool.sched, work, &ids[i]);
        fs[i] = fut_timeout(&fs[i], &u.m.sched, 10ull * 1000000000u); /* 10 s: met */
        fs[i] = fut_then_result(&fs[i], &u.m.sched, on_loop, &a);
    }
    /* A request nobody answers: its 20 ms deadline fires on the loop and cancels it. */
    fut_promise stuck;
    fut_future late;
    int stopped = 0;
    if (fut_promise_new(&stuck, &late) != 0 || fut_promise_on_cancel(&stuck, told_to_stop, &stopped) != 0)
        return 1;
    late = fut_timeout(&late, &u.m.sched, 20ull * 1000000u);
    late = fut_then_result(&late, &u.m.sched, on_loop, &a);

    uv_run(loop, UV_RUN_DEFAULT); /* this thread is the loop thread until all ran */

    printf("results by job:");
    for (int i = 0; i < JOBS; i++)
        printf(" %lld", (long long)fut_get(&fs[i]).value.i64); /* all ready now */
    printf("\nthe unanswered one: %s; its producer told to stop: %s\n", fut_strerror(fut_get(&late).err),
           stopped ? "yes" : "no");
    printf("continuations run: %d, on the loop thread: %d, timed out: %d\n", a.done, a.on_loop_thread,
           a.timed_out);

    fut_promise_drop(&stuck);
    fut_workers_shutdown(&pool, FUT_WORKERS_DRAIN);
    uv_loop_close(loop);
    fut_manual_destroy(&u.m);
    return 0;
}
