/* httpd_uv - the baseline: the same HTTP server on plain libuv. A request's job goes to
 * libuv's thread pool with uv_queue_work; its after-work callback answers on the loop.
 * No deadline: a job that has started cannot be stopped or given up on. */
#include "http.h"

typedef struct job_req {
    uv_work_t work;
    http_conn *c;
    uint32_t user, rounds;
    uint64_t hash;
} job_req;

static void work(uv_work_t *w) /* on a pool thread */
{
    job_req *q = (job_req *)w;
    q->hash = http_job(q->user, q->rounds);
}

static void after_work(uv_work_t *w, int status) /* on the loop */
{
    job_req *q = (job_req *)w;
    http_answer(w->loop->data, q->c, q->user, q->hash, status);
    free(q);
}

static void start_job(http_server *s, http_conn *c, uint32_t user, uint32_t rounds, uint32_t ms)
{
    (void)ms; /* no deadline: a started uv_work_t cannot be stopped or given up on */
    job_req *q = malloc(sizeof *q);
    if (q == NULL) {
        http_answer(s, c, user, 0, ENOMEM);
        return;
    }
    *q = (job_req){.c = c, .user = user, .rounds = rounds};
    int err = uv_queue_work(s->loop, &q->work, work, after_work);
    if (err != 0) {
        free(q);
        http_answer(s, c, user, 0, -err);
    }
}

static void stop(http_server *s) { (void)s; }

int main(int argc, char **argv)
{
    http_server s = {.job = start_job, .stop = stop};
    if (http_listen(&s, uv_default_loop(), argc > 1 ? atoi(argv[1]) : 0) != 0)
        return 1;
    uv_run(s.loop, UV_RUN_DEFAULT);
    return uv_loop_close(s.loop) != 0;
}
