/* 03 - a chain that returns a future (flattening).
 *
 * A continuation may return another future instead of a value: the chain then waits
 * for that future and carries on with its outcome. This is how asynchronous steps
 * compose. Here a pretend database answers on a manual scheduler, our "I/O loop". */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include <stdio.h>
#include <stdlib.h>

/* A query in flight: the task the loop runs and the promise it settles. */
typedef struct query {
    fut_task task; /* embedded: submitting allocates nothing more */
    fut_promise reply;
    int64_t key;
} query;

static void answer(fut_task *t, int err)
{
    query *q = (query *)t; /* task is the first member */
    printf("  loop answers query %lld\n", (long long)q->key);
    if (err != 0)
        fut_promise_set_error(&q->reply, err); /* the loop shut down: say so */
    else
        fut_promise_set(&q->reply, fut_i64(q->key * 10)); /* the record found for key */
    free(q);
}

/* Starts a query and returns its pending future. */
static fut_future db_get(fut_manual *loop, int64_t key)
{
    query *q = malloc(sizeof *q);
    fut_future f;
    if (q == NULL || fut_promise_new(&q->reply, &f) != 0) {
        free(q);
        return fut_ready_error(ENOMEM);
    }
    q->key = key;
    q->task.run = answer;
    fut_sched_submit(&loop->sched, &q->task); /* on refusal answer() runs with the error */
    return f;
}

static fut_future orders_of(void *ctx, fut_result user)
{
    printf("  got user %lld, asking for their orders\n", (long long)user.value.i64);
    return db_get(ctx, user.value.i64); /* a pending future: the chain waits for it */
}

int main(void)
{
    fut_sched inl;
    fut_manual loop;
    fut_inline_init(&inl);
    fut_manual_init(&loop, 0);

    fut_future f = db_get(&loop, 7);          /* step 1: find the user */
    f = fut_then(&f, &inl, orders_of, &loop); /* step 2 depends on step 1 */
    printf("queued: %zu, ready: %d\n", fut_manual_pending(&loop), fut_is_ready(&f));

    while (fut_manual_run_one(&loop)) /* the loop turns: each answer may queue more */
        printf("queued: %zu, ready: %d\n", fut_manual_pending(&loop), fut_is_ready(&f));

    fut_result r = fut_get(&f);
    printf("orders: %lld (err %d)\n", (long long)r.value.i64, r.err);
    fut_manual_destroy(&loop);
    return 0;
}
