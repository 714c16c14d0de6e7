/* 10 - your own scheduler: continuations on a libuv loop.
 *
 * A scheduler is a fut_sched embedded first in your struct; submit() receives a fut_task
 * (a node fut already holds) and promises to call task->run(task, 0) later. Over libuv:
 * submit links the task into a mutex-protected list and calls uv_async_send, which is
 * safe from any thread and wakes the loop; the async callback runs the list on the loop
 * thread. Producers on a thread pool settle; continuations run on the loop, next to the
 * loop's sockets and timers. Built when libuv is found (Debian: libuv1-dev). */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include "workers.h"
#include <stdio.h>
#include <uv.h>

typedef struct uv_sched {
    fut_sched sched; /* first member: &u->sched is the fut_sched * */
    uv_async_t wake;
    pthread_mutex_t lock; /* guards the list and closed: submit runs on any thread */
    fut_task *head, *tail;
    int closed;
} uv_sched;

static int uv_sched_submit(fut_sched *s, fut_task *t)
{
    uv_sched *u = (uv_sched *)(void *)s;
    pthread_mutex_lock(&u->lock);
    int err = u->closed ? ESHUTDOWN : 0;
    if (err == 0) {
        t->next = NULL;
        if (u->tail != NULL)
            u->tail->next = t;
        else
            u->head = t;
        u->tail = t;
        uv_async_send(&u->wake); /* under the lock: never after the handle is closed */
    }
    pthread_mutex_unlock(&u->lock);
    return err; /* a refusal settles the continuation's future with err */
}

/* On the loop thread: take the whole list (several sends may wake us once), run it. */
static void uv_sched_run(uv_sched *u, int err)
{
    pthread_mutex_lock(&u->lock);
    fut_task *t = u->head;
    u->head = u->tail = NULL;
    pthread_mutex_unlock(&u->lock);
    while (t != NULL) {
        fut_task *next = t->next; /* read first: running t may free it */
        t->run(t, err);
        t = next;
    }
}

static void uv_sched_drain(uv_async_t *a) { uv_sched_run(a->data, 0); }

/* On the loop thread: refuse from now on, give back what is queued, close the handle. */
static void uv_sched_close(uv_sched *u)
{
    pthread_mutex_lock(&u->lock);
    u->closed = 1;
    pthread_mutex_unlock(&u->lock);
    uv_sched_run(u, ESHUTDOWN);
    uv_close((uv_handle_t *)&u->wake, NULL); /* no handles left: uv_run returns */
}

enum { JOBS = 6 };

typedef struct app { /* touched by continuations only, on the loop thread */
    uv_sched *sched;
    pthread_t loop_thread;
    int done, on_loop_thread;
} app;

static fut_future work(void *ctx, fut_result r) /* on a pool worker */
{
    (void)r;
    return fut_ready(fut_i64(*(const int *)ctx * 10));
}

/* On the loop thread. Attached with fut_then_result: it runs on errors too, so the count
 * that ends the loop always reaches JOBS. */
static fut_future on_loop(void *ctx, fut_result r)
{
    app *a = ctx;
    a->on_loop_thread += pthread_equal(pthread_self(), a->loop_thread) != 0;
    if (++a->done == JOBS)
        uv_sched_close(a->sched); /* the last one: let the loop end */
    return r.err ? fut_ready_result(r) : fut_ready(fut_i64(r.value.i64 + 1));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_sched u = {.sched = {.submit = uv_sched_submit, .workers = 1}, .head = NULL};
    fut_workers pool;
    if (pthread_mutex_init(&u.lock, NULL) != 0 || uv_async_init(loop, &u.wake, uv_sched_drain) != 0 ||
        fut_workers_init(&pool, &(fut_workers_config){.threads = 3}) != 0)
        return 1;
    u.wake.data = &u;

    app a = {.sched = &u, .loop_thread = pthread_self(), .done = 0};
    int ids[JOBS];
    fut_future fs[JOBS];
    for (int i = 0; i < JOBS; i++) {
        ids[i] = i;
        fs[i] = fut_spawn(&pool.sched, work, &ids[i]);
        fs[i] = fut_then_result(&fs[i], &u.sched, on_loop, &a);
    }
    uv_run(loop, UV_RUN_DEFAULT); /* this thread is the loop thread until all ran */

    printf("results by job:");
    for (int i = 0; i < JOBS; i++)
        printf(" %lld", (long long)fut_get(&fs[i]).value.i64); /* all ready now */
    printf("\ncontinuations run: %d, on the loop thread: %d\n", a.done, a.on_loop_thread);

    fut_workers_shutdown(&pool, FUT_WORKERS_DRAIN);
    uv_loop_close(loop);
    pthread_mutex_destroy(&u.lock);
    return 0;
}
