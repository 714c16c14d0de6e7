/* 01 - a first future and `then`.
 *
 * A promise is the write end of one result, a future the read end. `fut_then` attaches
 * a continuation that runs when the result arrives and returns the future of its own
 * result, so steps chain. Here everything runs on the inline scheduler: a continuation
 * runs on whichever thread settles the promise. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include <stdio.h>

/* A continuation gets the outcome (the value is its to keep) and returns the next
 * future: fut_ready(...) for a plain value. */
static fut_future add_tax(void *ctx, fut_result r)
{
    double rate = *(double *)ctx;
    return fut_ready(fut_f64(r.value.f64 * (1.0 + rate)));
}

static fut_future to_cents(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64((int64_t)(r.value.f64 * 100.0 + 0.5)));
}

int main(void)
{
    fut_sched inl;
    fut_inline_init(&inl);

    fut_promise price;
    fut_future f;
    if (fut_promise_new(&price, &f) != 0)
        return 1;

    /* Build the chain before the value exists. Each call consumes the future it is
     * given and returns the next one. */
    double rate = 0.25;
    f = fut_then(&f, &inl, add_tax, &rate);
    f = fut_then(&f, &inl, to_cents, NULL);
    printf("chain built; ready yet? %s\n", fut_is_ready(&f) ? "yes" : "no");

    /* Settling runs the whole chain, right here (inline scheduler). */
    fut_promise_set(&price, fut_f64(8.0));
    printf("price settled; ready now? %s\n", fut_is_ready(&f) ? "yes" : "no");

    fut_result r = fut_get(&f); /* waits if needed, then takes the outcome */
    printf("total: %lld cents (err %d)\n", (long long)r.value.i64, r.err);

    /* A future made from a value is ready at once: no allocation at all, and a
     * continuation on it runs immediately. */
    fut_future g = fut_ready(fut_f64(2.0));
    g = fut_then(&g, &inl, to_cents, NULL);
    printf("ready value: %lld cents\n", (long long)fut_get(&g).value.i64);
    return 0;
}
