/* 06 - waiting for several futures: fut_when_all, fut_when_all_settled, fut_when_any_ok.
 *
 * fut_when_all settles with every value, in input order, whatever order they arrive
 * in; on the first error it settles with that error at once and cancels the inputs
 * still pending. fut_when_all_settled waits for all and gives each input's outcome,
 * value or error: per-item results. fut_when_any_ok settles with the first success (its
 * index and value) and cancels the rest. All consume their inputs. Here the inputs are tasks spawned on a
 * thread pool and "slow servers": promises nobody has settled yet, with a cancel hook. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "batch.h"
#include "workers.h"
#include <stdio.h>
#include <string.h>

typedef struct server {
    const char *name;
    int64_t value;     /* its answer, */
    int err;           /* or its error */
    fut_promise reply; /* slow servers only: not answered yet */
    int told_to_stop;  /* set by the cancel hook */
} server;

/* A fast server: runs on a pool worker. */
static fut_future ask(void *ctx, fut_result r)
{
    (void)r;
    server *s = ctx;
    return s->err ? fut_ready_error(s->err) : fut_ready(fut_i64(s->value));
}

static void stop(void *ctx) { ((server *)ctx)->told_to_stop = 1; }

/* A slow server: a pending future whose producer hears if it is cancelled. */
static fut_future slow(server *s)
{
    fut_future f;
    fut_promise_new(&s->reply, &f);
    fut_promise_on_cancel(&s->reply, stop, s);
    return f;
}

int main(void)
{
    fut_workers pool;
    if (fut_workers_init(&pool, &(fut_workers_config){.threads = 3}) != 0)
        return 1;

    server shard[4] = {{.name = "s0", .value = 10}, {.name = "s1", .value = 20},
                       {.name = "s2", .value = 30}, {.name = "s3", .value = 40}};
    fut_future fs[4];
    for (int i = 0; i < 4; i++)
        fs[i] = fut_spawn(&pool.sched, ask, &shard[i]);
    fut_future all = fut_when_all(fs, 4); /* consumes fs[0..3] */
    fut_result r = fut_get(&all);
    fut_result *v = r.value.ptr;
    printf("when_all: %lld %lld %lld %lld (in input order)\n", (long long)v[0].value.i64, (long long)v[1].value.i64,
           (long long)v[2].value.i64, (long long)v[3].value.i64);
    fut_results_free(v); /* the block is ours */

    /* Per-item results, errors included: nothing is cancelled, every outcome arrives. */
    server item[3] = {{.name = "i0", .value = 7}, {.name = "i1", .err = ETIMEDOUT}, {.name = "i2", .value = 9}};
    for (int i = 0; i < 3; i++)
        fs[i] = fut_spawn(&pool.sched, ask, &item[i]);
    fut_future each = fut_when_all_settled(fs, 3);
    r = fut_get(&each); /* errors are in the block; r.err is only ENOMEM */
    if (r.err != 0)
        return 1;
    fut_result *o = r.value.ptr;
    printf("when_all_settled:");
    for (int i = 0; i < 3; i++) {
        if (o[i].err != 0)
            printf(" [%s]", strerror(o[i].err));
        else
            printf(" %lld", (long long)o[i].value.i64);
    }
    printf("\n");
    fut_results_free(o); /* plain values; fut_result_drop(&r) would destroy them too */

    /* Only one mirror can answer: it wins, wherever it finishes. */
    server down = {.name = "down", .err = ECONNREFUSED}, up = {.name = "up", .value = 200}, lag = {.name = "lag"};
    fut_future mirrors[3] = {fut_spawn(&pool.sched, ask, &down), fut_spawn(&pool.sched, ask, &up), slow(&lag)};
    fut_future any = fut_when_any_ok(mirrors, 3);
    r = fut_get(&any);
    fut_any *w = r.value.ptr;
    printf("when_any: input %zu won with %lld\n", w->index, (long long)w->result.value.i64);
    fut_results_free(w);

    /* Fail fast: one input fails, so the whole fails now and the slow ones are cancelled. */
    server a = {.name = "a"}, bad = {.name = "bad", .err = EHOSTUNREACH}, b = {.name = "b"};
    fut_future parts[3] = {slow(&a), fut_spawn(&pool.sched, ask, &bad), slow(&b)};
    all = fut_when_all(parts, 3);
    printf("when_all with a failing input: %s\n", strerror(fut_get(&all).err));

    /* A cancel hook runs on the thread that cancels: here maybe a worker. Joining the
     * workers makes what the hooks did visible to this thread. */
    fut_workers_shutdown(&pool, FUT_WORKERS_DRAIN);
    server *slowest[3] = {&lag, &a, &b};
    for (int i = 0; i < 3; i++) {
        int late = fut_promise_set(&slowest[i]->reply, fut_i64(0)); /* answers too late */
        printf("slow server %s: told to stop %s, late answer %s\n", slowest[i]->name,
               slowest[i]->told_to_stop ? "yes" : "no", late == ECANCELED ? "refused" : "taken");
    }
    return 0;
}
