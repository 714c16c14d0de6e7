/* 04 - cancellation.
 *
 * A consumer that no longer wants a result cancels its future: the future settles with
 * ECANCELED at once, and the cancel travels up the chain to the producer, which sees it
 * through a hook (called once, on the cancelling thread) or by polling. Continuations
 * between them do not run. The producer's late settle is refused with ECANCELED. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include <stdio.h>
#include <string.h>

typedef struct download {
    fut_promise done;
    int aborted;
} download;

static void abort_download(void *ctx)
{
    download *d = ctx;
    d->aborted = 1; /* a real producer would close its socket here */
    printf("  hook: producer told to stop\n");
}

static fut_future parse(void *ctx, fut_result r)
{
    (void)ctx;
    printf("  parse ran (it should not)\n");
    return fut_ready(r.value);
}

int main(void)
{
    fut_sched inl;
    fut_inline_init(&inl);

    download d = {.aborted = 0};
    fut_future f;
    fut_promise_new(&d.done, &f);
    fut_promise_on_cancel(&d.done, abort_download, &d);

    fut_future parsed = fut_then(&f, &inl, parse, NULL);
    printf("producer cancelled? %d\n", fut_promise_cancelled(&d.done));

    printf("consumer cancels:\n");
    int rc = fut_cancel(&parsed);
    printf("fut_cancel: %d; producer cancelled? %d, aborted flag %d\n", rc,
           fut_promise_cancelled(&d.done), d.aborted);

    fut_result r = fut_get(&parsed);
    printf("consumer sees: %s\n", strerror(r.err));

    /* The producer finishes anyway, too late: its value is refused and stays its own. */
    rc = fut_promise_set(&d.done, fut_i64(42));
    printf("late settle: %s\n", rc == ECANCELED ? "ECANCELED" : "?");

    /* Cancelling something already settled changes nothing. */
    fut_future ready = fut_ready(fut_i64(1));
    printf("cancel a ready future: %s\n", fut_cancel(&ready) == EALREADY ? "EALREADY" : "?");
    return 0;
}
