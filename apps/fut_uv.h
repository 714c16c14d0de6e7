/* fut_uv.h - a libuv loop as a fut scheduler, timers included (optional: needs libuv).
 *
 * The whole adapter is a fut_manual (a FIFO with timers) whose notify hook wakes the
 * loop with uv_async_send - safe from any thread - and a drain on the loop thread that
 * runs what is queued, then arms one uv_timer for the earliest fut deadline. Pass
 * &a->m.sched wherever fut wants a scheduler: continuations and fut_timeout deadlines
 * then run on the loop thread, next to its sockets. Inline running: a continuation made
 * ready while the adapter drains (by one it runs) runs at once; one made ready anywhere
 * else - a worker, or a socket callback on the loop - is queued, so loop code is never
 * re-entered from fut_promise_set or fut_then. (A fut_deferred view queues always.)
 *
 *     fut_uv a;
 *     fut_uv_init(&a, uv_default_loop());
 *     fut_future f = fut_spawn(&pool.sched, job, req);           // on a worker
 *     f = fut_timeout(&f, &a.m.sched, 1000000000u);              // deadline on the loop
 *     fut_detach(&f, &a.m.sched, reply, req);                    // reply on the loop
 *     uv_run(loop, UV_RUN_DEFAULT);
 *
 * Ownership: the caller owns the fut_uv and must keep it alive until both handles are
 * closed (fut_uv_close, then the loop runs their close callbacks), and destroys the
 * manual after that (fut_manual_destroy). Thread-safety: submit from any thread; init,
 * close and the drain run on the loop thread. notify runs under the manual's lock, so
 * once fut_manual_close has returned nothing touches the async handle. No config
 * macros. License: MIT, as fut.h. Include it after fut.h in the file that needs it. */
#ifndef FUT_UV_H
#define FUT_UV_H

#include "fut.h"
#include <uv.h>

typedef struct fut_uv {
    fut_manual m; /* &a->m.sched is the scheduler */
    uv_async_t wake;
    uv_timer_t timer;
} fut_uv;

static void fut_uv__notify(void *ctx) { uv_async_send(&((fut_uv *)ctx)->wake); }

/* The adapter draining on this thread now (NULL elsewhere): thread-local, so a worker
 * never sees the loop's. */
static _Thread_local fut_uv *fut_uv__draining;

/* Inline only inside the drain, on the loop thread: a continuation made ready by one
 * that runs there runs at once, with no trip through the queue; one made ready anywhere
 * else (a worker, or a socket callback on the loop: the parser) is queued. */
static int fut_uv__may_inline(fut_sched *s) { return fut_uv__draining == (fut_uv *)(void *)s; }

static void fut_uv__on_timer(uv_timer_t *t);

/* On the loop thread: run what is queued (due timers included), then arm the uv timer
 * for the next deadline (libuv counts milliseconds: round up, never early). */
static void fut_uv__drain(fut_uv *a)
{
    fut_uv *outer = fut_uv__draining;
    fut_uv__draining = a;
    fut_manual_run_all(&a->m);
    fut_uv__draining = outer;
    uint64_t next = fut_manual_next_deadline(&a->m), now = fut_now_ns();
    if (next == UINT64_MAX)
        uv_timer_stop(&a->timer);
    else
        uv_timer_start(&a->timer, fut_uv__on_timer, next > now ? (next - now + 999999) / 1000000 : 0, 0);
}

static void fut_uv__on_wake(uv_async_t *h) { fut_uv__drain((fut_uv *)h->data); }
static void fut_uv__on_timer(uv_timer_t *t) { fut_uv__drain((fut_uv *)t->data); }

/* Returns 0, or an errno / libuv code. */
static inline int fut_uv_init(fut_uv *a, uv_loop_t *loop)
{
    int err = fut_manual_init(&a->m, 0);
    if (err != 0)
        return err;
    if ((err = uv_async_init(loop, &a->wake, fut_uv__on_wake)) != 0) {
        fut_manual_destroy(&a->m);
        return err;
    }
    uv_timer_init(loop, &a->timer); /* cannot fail */
    a->wake.data = a->timer.data = a;
    a->m.sched.may_inline = fut_uv__may_inline; /* m is a's first member: s == a */
    return fut_manual_set_notify(&a->m, fut_uv__notify, a);
}

/* On the loop thread: refuse from now on, run what is queued, close both handles. */
static inline void fut_uv_close(fut_uv *a)
{
    fut_manual_close(&a->m);
    fut_manual_run_all(&a->m);
    uv_close((uv_handle_t *)&a->wake, NULL);
    uv_close((uv_handle_t *)&a->timer, NULL);
}

#endif
