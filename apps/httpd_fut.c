/* httpd_fut - the HTTP server on fut: a request's job runs on a fut_workers pool, its
 * answer comes back to the libuv loop (fut_uv.h), under a deadline that cancels the job
 * (it polls fut_cancelled) and answers 503. The request's memory is freed by a
 * fut_finally cleanup once the job has let go of it - also when the deadline fired
 * while the job still ran - and the reply is fire and forget (fut_detach). Everything
 * after the job runs inline in the adapter's drain, never inside the parser. Its own
 * counters and request latencies live in a named stats block (stats.h).
 * Usage: httpd_fut [port] [workers] [deadline_ms: for requests without &d=, 0 none].
 * n=4294967295 is a job that runs until cancelled (for the deadline's test). */
#define FUT_IMPLEMENTATION
#include "fut.h"
#include "workers.h"
#include "fut_uv.h"
#include "http.h"

static fut_workers pool;
static fut_uv loop;
static uint64_t deadline_ns;
/* The server's own metrics, apart from fut's (printed on stderr at /quit). */
enum { REQUESTS, TIMED_OUT, STOPPED_EARLY };
static const char *const metric_names[] = {"requests", "timed_out", "stopped_early"};
static fut_stats metrics;

typedef struct job_req {
    http_conn *c;
    uint32_t user, rounds;
    uint64_t t0;
    int refs; /* the cleanup and the reply: both on the loop thread */
} job_req;

static void unref(job_req *q)
{
    if (--q->refs == 0)
        free(q);
}

static fut_future work(void *ctx, fut_result r) /* on a worker */
{
    (void)r;
    job_req *q = ctx;
    uint64_t h = http_job_seed(q->user);
    while (q->rounds == UINT32_MAX && !fut_cancelled()) /* "until cancelled" */
        h = http_job_run(h, 0, 65536);
    for (uint32_t i = 0; i < q->rounds; i += 65536) { /* http_job, with a cancel poll */
        if (fut_cancelled()) {
            fut_stats_count(&metrics, STOPPED_EARLY, 1);
            return fut_ready_error(ECANCELED); /* unwanted: nobody reads it */
        }
        h = http_job_run(h, i, q->rounds - i > 65536 ? i + 65536 : q->rounds);
    }
    return fut_ready(fut_u64(h));
}

static void released(void *ctx, int err) { (void)err; unref(ctx); } /* the job let go */

static void reply(void *ctx, fut_result r) /* on the loop */
{
    job_req *q = ctx;
    fut_stats_count(&metrics, TIMED_OUT, r.err == ETIMEDOUT);
    fut_stats_time(&metrics, fut_now_ns() - q->t0);
    http_answer(q->c->tcp.loop->data, q->c, q->user, r.value.u64, r.err);
    unref(q);
}

static void start_job(http_server *s, http_conn *c, uint32_t user, uint32_t rounds, uint32_t ms)
{
    job_req *q = malloc(sizeof *q);
    if (q == NULL) {
        http_answer(s, c, user, 0, ENOMEM);
        return;
    }
    *q = (job_req){.c = c, .user = user, .rounds = rounds, .t0 = fut_now_ns(), .refs = 2};
    fut_stats_count(&metrics, REQUESTS, 1);
    fut_future f = fut_spawn(&pool.sched, work, q);
    if (fut_finally(&f, &loop.m.sched, released, q) != 0)
        q->refs = 1; /* out of memory: no deadline then; the reply, after the job, frees q */
    else
        f = fut_timeout(&f, &loop.m.sched, ms != 0 ? ms * 1000000ull : deadline_ns);
    if (fut_detach(&f, &loop.m.sched, reply, q) != 0) {
        fut_drop(&f);
        http_answer(s, c, user, 0, ENOMEM);
        unref(q);
    }
}

static void stop(http_server *s)
{
    (void)s;
    fut_workers_shutdown(&pool, FUT_WORKERS_DRAIN); /* every job done, its reply queued */
    fut_uv_close(&loop);                            /* ... and run */
    fut_stats_snap snap;
    if (fut_stats_snapshot(&metrics, &snap) == 0)
        fut_stats_print(&snap, stderr, FUT_STATS_TEXT);
}

int main(int argc, char **argv)
{
    http_server s = {.job = start_job, .stop = stop};
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    long long ms = argc > 3 ? atoll(argv[3]) : 0; /* 0: none (UINT64_MAX: fut_timeout is free) */
    deadline_ns = ms > 0 ? (uint64_t)ms * 1000000u : UINT64_MAX;
    if (fut_stats_init_named(&metrics, threads + 1, metric_names, 3, "request") != 0 ||
        fut_workers_init(&pool, &(fut_workers_config){.threads = threads}) != 0 ||
        fut_uv_init(&loop, uv_default_loop()) != 0 ||
        http_listen(&s, uv_default_loop(), argc > 1 ? atoi(argv[1]) : 0) != 0)
        return 1;
    uv_run(s.loop, UV_RUN_DEFAULT);
    fut_manual_destroy(&loop.m);
    fut_stats_destroy(&metrics);
    return uv_loop_close(s.loop) != 0;
}
