/* httpd_uv - the baseline: the same HTTP server on plain libuv, as a libuv programmer
 * would write it. A request's job goes to libuv's thread pool with uv_queue_work and its
 * after-work callback answers on the loop. The same features as httpd_fut, by hand: a
 * deadline (a uv_timer_t per request that answers 503 and raises a flag the job polls),
 * a client that leaves (the flag, and uv_cancel for a job not yet started), a bound on
 * queued jobs (a shared counter; EAGAIN is a 503), and the request freed once both the
 * job and the timer let go of it.
 * Usage: httpd_uv [port] [workers: UV_THREADPOOL_SIZE] [deadline_ms: for requests
 *                 without &d=, 0 none] [bound: most jobs queued, 0 none]. */
#include "http.h" /* first: it asks for POSIX (uv.h, setenv) */

#include <stdatomic.h>

static uint32_t deadline_ms;
static size_t bound;
static atomic_size_t queued; /* queued and not yet started: the loop adds, a worker takes */

typedef struct job_req {
    http_req r; /* first: the request (user, rounds, deadline, its connection) */
    uv_work_t work;
    uv_timer_t timer;  /* the deadline */
    atomic_int stop;   /* the deadline passed or the client left: the job may stop */
    int answered, refs; /* refs: the work's and the timer's (loop thread) */
    uint64_t hash;
} job_req;

static void unref(uv_handle_t *h)
{
    job_req *q = h->data;
    if (--q->refs == 0)
        free(q);
}

static void answer(job_req *q, uint64_t hash, int err) /* on the loop, the first time only */
{
    if (!q->answered++)
        http_answer(q->timer.loop->data, &q->r, hash, err);
}

static void work(uv_work_t *w) /* on a pool thread; stops when told to */
{
    job_req *q = w->data;
    atomic_fetch_sub_explicit(&queued, 1, memory_order_relaxed); /* a count, nothing it guards */
    uint64_t h = http_job_seed(q->r.user);
    for (uint32_t i = 0; q->r.rounds == UINT32_MAX || i < q->r.rounds; i += 65536) {
        if (atomic_load_explicit(&q->stop, memory_order_relaxed))
            return; /* unwanted: the answer went out already, or nobody is there */
        h = http_job_run(h, i, q->r.rounds - i > 65536 ? i + 65536 : q->r.rounds);
    }
    q->hash = h;
}

static void after_work(uv_work_t *w, int status) /* on the loop; UV_ECANCELED if taken back */
{
    job_req *q = w->data;
    if (status == UV_ECANCELED)
        atomic_fetch_sub_explicit(&queued, 1, memory_order_relaxed);
    /* relaxed: the flag only chooses the error; q->hash is ordered by libuv's hand-back. */
    int stopped = atomic_load_explicit(&q->stop, memory_order_relaxed);
    answer(q, q->hash, status != 0 ? -status : stopped ? ECANCELED : 0);
    uv_close((uv_handle_t *)&q->timer, unref); /* the timer goes too, then q */
    unref((uv_handle_t *)&q->timer);
}

static void expired(uv_timer_t *t)
{
    job_req *q = t->data;
    atomic_store_explicit(&q->stop, 1, memory_order_relaxed); /* a hint: q outlives the job */
    answer(q, 0, ETIMEDOUT);
}

static void gone(http_server *s, http_req *r) /* the client left */
{
    (void)s;
    job_req *q = (job_req *)r;
    atomic_store_explicit(&q->stop, 1, memory_order_relaxed);
    uv_cancel((uv_req_t *)&q->work); /* a job not yet started is taken back */
}

static void start_job(http_server *s, http_req *r)
{
    job_req *q = (job_req *)r;
    if (atomic_fetch_add_explicit(&queued, 1, memory_order_relaxed) >= bound && bound != 0) {
        atomic_fetch_sub_explicit(&queued, 1, memory_order_relaxed);
        http_answer(s, r, 0, EAGAIN);
        free(q);
        return;
    }
    q->work.data = q->timer.data = q;
    q->refs = 2;
    uv_timer_init(s->loop, &q->timer);
    if (r->ms != 0 || deadline_ms != 0)
        uv_timer_start(&q->timer, expired, r->ms != 0 ? r->ms : deadline_ms, 0);
    int err = uv_queue_work(s->loop, &q->work, work, after_work);
    if (err != 0) {
        atomic_fetch_sub_explicit(&queued, 1, memory_order_relaxed);
        answer(q, 0, -err);
        uv_close((uv_handle_t *)&q->timer, unref);
        unref((uv_handle_t *)&q->timer);
    }
}

static void stop(http_server *s) { (void)s; }

int main(int argc, char **argv)
{
    http_server s = {.req_size = sizeof(job_req), .job = start_job, .gone = gone, .stop = stop};
    if (argc > 2 && atoi(argv[2]) > 0)
        setenv("UV_THREADPOOL_SIZE", argv[2], 1); /* read when the pool starts: first job */
    deadline_ms = argc > 3 ? (uint32_t)atoi(argv[3]) : 0;
    bound = argc > 4 ? (size_t)atoll(argv[4]) : 0;
    if (http_listen(&s, uv_default_loop(), argc > 1 ? atoi(argv[1]) : 0) != 0)
        return 1;
    uv_run(s.loop, UV_RUN_DEFAULT);
    return uv_loop_close(s.loop) != 0;
}
