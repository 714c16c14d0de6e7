/* The stb shape: this file uses a future, a continuation, a when_all, a pool and a stats
 * block from the declarations and the inline hot paths; fut_impl.c beside it holds the
 * definitions. scripts/check_copy.sh builds the two, and builds this one alone with other
 * layout macros (-DFUT_NO_FUTEX, -DFUT_CACHE_LINE=128): then the init functions must say
 * EINVAL instead of sharing objects laid out differently. Prints one line. */
#include "batch.h"
#include <stdio.h>

static fut_future twice(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 * 2));
}

int main(void)
{
    fut_stats st;
    fut_pool pool;
    fut_pool_config cfg = {.size = fut_state_size(), .capacity = 8};
    fut_env env;
    int a = fut_stats_init(&st, 2), b = fut_pool_init(&pool, &cfg);
    int c = fut_env_init(&env, b == 0 ? &pool : NULL, a == 0 ? &st : NULL);
    if (a != 0 || b != 0 || c != 0) {
        printf("init: stats %d pool %d env %d\n", a, b, c);
        if (b == 0)
            fut_pool_destroy(&pool);
        if (a == 0)
            fut_stats_destroy(&st);
        return 3;
    }
    fut_sched inl;
    fut_inline_init(&inl);
    fut_promise p[2];
    fut_future f[2];
    for (int i = 0; i < 2; i++) {
        if (fut_promise_new_env(&p[i], &f[i], &env) != 0)
            return 1;
        f[i] = fut_then(&f[i], &inl, twice, NULL);
    }
    fut_future all = fut_when_all(f, 2);
    fut_promise_set(&p[1], fut_i64(20));
    fut_promise_set(&p[0], fut_i64(1));
    fut_result r = fut_get(&all);
    const fut_result *items = (const fut_result *)r.value.ptr;
    int ok = r.err == 0 && items[0].value.i64 == 2 && items[1].value.i64 == 40;
    fut_result_drop(&r);
    fut_pool_destroy(&pool);
    fut_stats_destroy(&st);
    printf("two units: %s\n", ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
