/* 09 - a pool for shared states, and a stats block.
 *
 * A pending future lives in a small shared state. A fut_env tells fut where those come
 * from (a fut_pool from pool.h, which keeps released ones for reuse, least recently used
 * evicted first) and where to count events (a fut_stats block from stats.h). A promise
 * made with fut_promise_new_env uses the env, and so does every continuation chained
 * after it. Everything here runs on one thread (inline and manual schedulers), so every
 * count is the same on every run. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"
#include <stdio.h>

static fut_future inc(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

/* A promise and two continuations: three shared states, all from the env. */
static int64_t chain(const fut_env *env, fut_manual *m, int64_t x)
{
    fut_promise p;
    fut_future f;
    fut_promise_new_env(&p, &f, env);
    f = fut_then(&f, &m->sched, inc, NULL);
    f = fut_then(&f, &m->sched, inc, NULL);
    fut_promise_set(&p, fut_i64(x));
    fut_manual_run_all(m);
    return fut_get(&f).value.i64; /* the last state goes back to the pool here */
}

static void show(const char *when, fut_stats *st)
{
    fut_stats_snap s;
    fut_stats_snapshot(st, &s);
    printf("%-22s states %llu, pool hits %llu, misses %llu, pooled %llu, evicted %llu\n", when,
           (unsigned long long)s.c[FUT_STAT_STATES], (unsigned long long)s.c[FUT_STAT_POOL_HIT],
           (unsigned long long)s.c[FUT_STAT_POOL_MISS], (unsigned long long)s.c[FUT_STAT_POOLED],
           (unsigned long long)s.c[FUT_STAT_EVICTED]);
}

int main(void)
{
    fut_stats st;
    fut_pool pool;
    fut_env env;
    fut_manual m;
    fut_pool_config cfg = {.size = fut_state_size(), .capacity = 4, .stats = &st}; /* 4 idle at most */
    if (fut_stats_init(&st, 1) != 0 || fut_pool_init(&pool, &cfg) != 0 || fut_env_init(&env, &pool, &st) != 0 ||
        fut_manual_init(&m, 0) != 0)
        return 1;

    printf("chain 1 gives %lld\n", (long long)chain(&env, &m, 1));
    show("after chain 1:", &st); /* an empty pool: three misses */
    printf("chain 2 gives %lld\n", (long long)chain(&env, &m, 10));
    show("after chain 2:", &st); /* the same three states again: three hits */

    /* Six promises alive at once: the three idle states are reused and three are new.
     * Released, they are two more than the pool keeps: the two oldest are evicted. */
    fut_promise p[6];
    fut_future f[6];
    for (int i = 0; i < 6; i++)
        fut_promise_new_env(&p[i], &f[i], &env);
    for (int i = 0; i < 6; i++) {
        fut_promise_set(&p[i], fut_i64(i));
        fut_drop(&f[i]);
    }
    show("after six at once:", &st);

    /* A continuation on a ready value runs at once, allocating nothing: the fast path.
     * It counts in the env of its scheduler. */
    fut_sched inl;
    fut_inline_init(&inl);
    inl.env = &env;
    fut_future g = fut_ready(fut_i64(41));
    g = fut_then(&g, &inl, inc, NULL);
    printf("fast path gives %lld\n", (long long)fut_get(&g).value.i64);

    /* The whole block, as text and as JSON. Nothing waited, so the latency histogram
     * is empty: fut_get on a settled future does not block. */
    fut_stats_snap s;
    fut_stats_snapshot(&st, &s);
    fut_stats_print(&s, stdout, FUT_STATS_TEXT);
    fut_stats_print(&s, stdout, FUT_STATS_JSON);

    fut_pool_counts pc;
    fut_pool_snapshot(&pool, &pc);
    printf("pool: allocated %llu, evicted %llu, idle %llu, live %llu\n", (unsigned long long)pc.allocated,
           (unsigned long long)pc.evicted, (unsigned long long)pc.idle, (unsigned long long)pc.live);
    fut_manual_destroy(&m);
    fut_pool_destroy(&pool);
    fut_stats_destroy(&st);
    return 0;
}
