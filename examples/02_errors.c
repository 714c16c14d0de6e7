/* 02 - errors and recovery.
 *
 * An error is an errno-style code carried by the future instead of a value. `fut_then`
 * skips its continuation on an error and passes the error on; `fut_recover` runs only on
 * an error and may turn it back into a value; `fut_then_result` runs on both. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include <stdio.h>
#include <string.h>

static fut_future parse_port(void *ctx, fut_result r)
{
    (void)ctx;
    printf("  parse_port(%lld)\n", (long long)r.value.i64);
    if (r.value.i64 <= 0 || r.value.i64 > 65535)
        return fut_ready_error(ERANGE); /* a continuation fails by returning an error */
    return fut_ready(r.value);
}

static fut_future default_port(void *ctx, fut_result r)
{
    (void)ctx;
    printf("  recovering from: %s\n", strerror(r.err));
    return fut_ready(fut_i64(8080));
}

static fut_future log_outcome(void *ctx, fut_result r)
{
    printf("  finally(%s): %s\n", (const char *)ctx, r.err ? strerror(r.err) : "ok");
    return fut_ready_result(r); /* pass the outcome on unchanged */
}

static void configure(fut_sched *s, const char *name, fut_future input)
{
    printf("%s:\n", name);
    fut_future f = fut_then(&input, s, parse_port, NULL);
    f = fut_then_result(&f, s, log_outcome, (void *)name);
    f = fut_recover(&f, s, default_port, NULL);
    fut_result r = fut_get(&f);
    printf("  port = %lld\n", (long long)r.value.i64);
}

int main(void)
{
    fut_sched inl;
    fut_inline_init(&inl);
    configure(&inl, "good input", fut_ready(fut_i64(443)));
    configure(&inl, "out of range", fut_ready(fut_i64(70000)));
    /* An upstream error skips parse_port entirely. */
    configure(&inl, "no input", fut_ready_error(ENOENT));

    /* A promise dropped without settling is a broken promise: EPIPE. */
    fut_promise p;
    fut_future f;
    fut_promise_new(&p, &f);
    fut_promise_drop(&p);
    printf("dropped promise gives: %s\n", strerror(fut_get(&f).err));

    /* Settling twice is refused, not a crash. */
    fut_promise_new(&p, &f);
    fut_promise_set(&p, fut_i64(1));
    printf("second settle: %s\n", fut_promise_set(&p, fut_i64(2)) == EALREADY ? "EALREADY" : "?");
    fut_drop(&f);
    return 0;
}
