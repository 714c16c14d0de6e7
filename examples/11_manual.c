/* 11 - the manual scheduler: stepping a program deterministically.
 *
 * fut_manual queues continuations and runs them only when told to: one at a time, or
 * all. The same program gives the same interleaving every run, which makes it the tool
 * for tests, for teaching, and for a single "loop thread" that owns some state. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include <stdio.h>

static fut_future step(void *ctx, fut_result r)
{
    printf("  %s sees %lld\n", (const char *)ctx, (long long)r.value.i64);
    return fut_ready(fut_i64(r.value.i64 + 1));
}

int main(void)
{
    fut_manual m;
    fut_manual_init(&m, 0);

    /* Two independent chains of two steps each, on the manual scheduler. */
    fut_promise pa, pb;
    fut_future a, b;
    fut_promise_new(&pa, &a);
    fut_promise_new(&pb, &b);
    a = fut_then(&a, &m.sched, step, "a1");
    a = fut_then(&a, &m.sched, step, "a2");
    b = fut_then(&b, &m.sched, step, "b1");
    b = fut_then(&b, &m.sched, step, "b2");

    fut_promise_set(&pa, fut_i64(100)); /* settling queues a1; nothing runs yet */
    fut_promise_set(&pb, fut_i64(200)); /* queues b1 behind it */
    printf("queued after settling: %zu\n", fut_manual_pending(&m));

    int turn = 0;
    while (fut_manual_pending(&m) > 0) { /* FIFO: a1, b1, then what they queued */
        printf("turn %d:\n", ++turn);
        fut_manual_run_one(&m);
    }
    printf("a = %lld, b = %lld\n", (long long)fut_get(&a).value.i64, (long long)fut_get(&b).value.i64);

    /* A closed scheduler refuses work; the continuation's future carries the error. */
    fut_manual_close(&m);
    fut_future c = fut_ready(fut_i64(0));
    c = fut_then(&c, &m.sched, step, "c");
    printf("after close: err %s\n", fut_get(&c).err == ESHUTDOWN ? "ESHUTDOWN" : "?");
    fut_manual_destroy(&m);
    return 0;
}
