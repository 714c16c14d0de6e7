/* httpd_fut - the HTTP server on fut: a request's job runs on a fut_workers pool, its
 * answer comes back to the libuv loop (fut_uv.h), under a deadline that cancels the job
 * (it polls fut_cancelled) and answers 503. The request's memory is freed by a
 * fut_finally cleanup once the job has let go of it - also when the deadline fired
 * while the job still ran - and the reply is fire and forget (fut_detach). Everything
 * after the job runs inline in the adapter's drain, never inside the parser. Its own
 * counters and request latencies live in a named stats block (stats.h).
 * A client that leaves cancels its jobs (fut_detach_cancellable gives the reply a handle
 * to cancel); a full pool (the bound) refuses a job with EAGAIN, answered 503.
 * Usage: httpd_fut [port] [workers] [deadline_ms: for requests without &d=, 0 none]
 *                  [bound: most jobs queued, 0 none].
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
    http_req r;   /* first: the request (user, rounds, deadline, its connection) */
    uint64_t t0;
    int refs;     /* the cleanup's and the reply's: both on the loop thread */
    fut_future h; /* the reply's handle: cancelled when the client leaves */
} job_req;

static void unref(job_req *q)
{
    if (--q->refs == 0)
        free(q);
}

static fut_future work(void *ctx, fut_result r) /* on a worker; stops when cancelled */
{
    (void)r;
    job_req *q = ctx;
    uint64_t h = http_job_seed(q->r.user);
    for (uint32_t i = 0; q->r.rounds == UINT32_MAX || i < q->r.rounds; i += 65536) {
        if (fut_cancelled()) {
            fut_stats_count(&metrics, STOPPED_EARLY, 1);
            return fut_ready_error(ECANCELED); /* unwanted: nobody reads it */
        }
        h = http_job_run(h, i, q->r.rounds - i > 65536 ? i + 65536 : q->r.rounds);
    }
    return fut_ready(fut_u64(h));
}

static void released(void *ctx, int err) { (void)err; unref(ctx); } /* the job let go */

static void reply(void *ctx, fut_result r) /* on the loop, once: ECANCELED if the client left */
{
    job_req *q = ctx;
    fut_stats_count(&metrics, TIMED_OUT, r.err == ETIMEDOUT);
    fut_stats_time(&metrics, fut_now_ns() - q->t0);
    fut_drop(&q->h);
    http_answer(q->r.c->tcp.loop->data, &q->r, r.value.u64, r.err);
    unref(q);
}

static void gone(http_server *s, http_req *r) { (void)s; fut_cancel(&((job_req *)r)->h); }

static void start_job(http_server *s, http_req *r)
{
    job_req *q = (job_req *)r;
    q->t0 = fut_now_ns();
    fut_stats_count(&metrics, REQUESTS, 1);
    fut_task *t; /* the job: handed to the pool last, once nothing else can fail */
    fut_future f = fut_spawn_task(&pool.sched, work, q, &t);
    int err = fut_finally(&f, &loop.m.sched, released, q); /* frees q once the job let go */
    q->refs = err == 0 ? 2 : 1;
    if (err == 0) {
        f = fut_timeout(&f, &loop.m.sched, r->ms != 0 ? r->ms * 1000000ull : deadline_ns);
        err = fut_detach_cancellable(&f, &loop.m.sched, reply, q, &q->h);
    }
    if (err == 0) {
        if (t != NULL)
            (void)fut_sched_submit(&pool.sched, t); /* refused (EAGAIN: full): the reply's 503 */
        return;
    }
    if (t != NULL)
        t->run(t, err); /* refused: the job never runs */
    fut_drop(&f);
    http_answer(s, r, 0, err);
    unref(q);
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
    http_server s = {.req_size = sizeof(job_req), .job = start_job, .gone = gone, .stop = stop};
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    size_t bound = argc > 4 ? (size_t)atoll(argv[4]) : 0; /* 0: none */
    long long ms = argc > 3 ? atoll(argv[3]) : 0; /* 0: none (UINT64_MAX: fut_timeout is free) */
    deadline_ns = ms > 0 ? (uint64_t)ms * 1000000u : UINT64_MAX;
    if (fut_stats_init_named(&metrics, threads + 1, metric_names, 3, "request") != 0 ||
        fut_workers_init(&pool, &(fut_workers_config){.threads = threads, .bound = bound}) != 0 ||
        fut_uv_init(&loop, uv_default_loop()) != 0 ||
        http_listen(&s, uv_default_loop(), argc > 1 ? atoi(argv[1]) : 0) != 0)
        return 1;
    uv_run(s.loop, UV_RUN_DEFAULT);
    fut_manual_destroy(&loop.m);
    fut_stats_destroy(&metrics);
    return uv_loop_close(s.loop) != 0;
}
