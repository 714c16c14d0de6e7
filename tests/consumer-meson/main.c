/* A program that uses fut the way a user's would: all three headers through one
 * #include, a promise, a continuation on the inline scheduler, fut_get, and a pool and a
 * stats block given through fut_promise_new_env. Prints one line; returns 0 only if every
 * value is right. scripts/check_consumer.sh, check_copy.sh and check_install.sh build
 * this same file as a meson subproject user, a copier and an installed-package user.
 * <fut/fut.h> is how dependency('fut') and pkg-config users include fut, vendored or
 * installed; check_copy.sh turns it into "fut.h", as a copier with the headers beside
 * the program writes it. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include <fut/fut.h>
#include <stdio.h>

static fut_future add_one(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

int main(void)
{
    fut_stats st;
    if (fut_stats_init(&st, 4) != 0)
        return 1;
    fut_pool pool;
    fut_pool_config cfg = {.size = fut_state_size(), .capacity = 16, .stats = &st};
    if (fut_pool_init(&pool, &cfg) != 0)
        return 1;
    fut_env env;
    if (fut_env_init(&env, &pool, &st) != 0)
        return 1;
    fut_sched inl;
    fut_inline_init(&inl);

    fut_promise p;
    fut_future f;
    if (fut_promise_new_env(&p, &f, &env) != 0)
        return 1;
    fut_future g = fut_then(&f, &inl, add_one, NULL); /* consumes f */
    int set = fut_promise_set(&p, fut_i64(41));      /* runs add_one here */
    fut_result r = fut_get(&g);

    fut_stats_snap s;
    int snap = fut_stats_snapshot(&st, &s);
    unsigned long long states = s.c[FUT_STAT_STATES], chained = s.c[FUT_STAT_CHAINED];
    unsigned long long from_pool = s.c[FUT_STAT_POOL_HIT] + s.c[FUT_STAT_POOL_MISS];
    fut_pool_destroy(&pool);
    fut_stats_destroy(&st);

    /* Documented, not incidental: one continuation attached, and the promise's state came
     * from the pool (a hit or a miss), so both optional headers really were used. */
    int ok = set == 0 && r.err == 0 && r.value.i64 == 42 && snap == 0 && states >= 1 &&
             chained == 1 && from_pool >= 1;
    printf("fut consumer: value %lld, err %d, states %llu, chained %llu, from pool %llu: %s\n",
           (long long)r.value.i64, r.err, states, chained, from_pool, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
