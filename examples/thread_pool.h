/* thread_pool.h - a small pthread pool that is a fut scheduler (teaching material).
 *
 * N worker threads take tasks from one bounded FIFO: a ring of task pointers under one
 * mutex. Idle workers sleep on a condition variable (no polling); submit wakes one,
 * submit_many wakes as many as it brings work for. Both sides keep the lock short: a
 * submitter walks its list of tasks before taking it, and a worker copies a fair share
 * of pointers out of the ring and runs them after letting it go - so a batch costs one
 * lock round trip on each side, not one per task. Shutdown stops accepting, lets the
 * workers drain what is queued, and joins them. A continuation that becomes ready on one
 * of this pool's own workers may run right there (may_inline): the "scheduler skip".
 *
 *     tpool tp;
 *     tpool_init(&tp, 2, 1024);                        // 2 workers, 1024 queued at most
 *     fut_future f = fut_spawn(&tp.sched, work, ctx);  // work(ctx, ...) on a worker
 *     fut_result r = fut_get(&f);
 *     tpool_shutdown(&tp);
 *
 * It uses fut.h only through the public fut_sched / fut_task interface. */
#ifndef TPOOL_H
#define TPOOL_H

#include "fut.h"

#include <pthread.h>
#include <stdlib.h>

#define TPOOL_SHARE 64 /* most tasks a worker takes at once */

typedef struct tpool {
    fut_sched sched; /* first member: &tp->sched is what fut functions take */
    pthread_mutex_t lock;
    pthread_cond_t work;  /* signalled when tasks arrive or on shutdown */
    fut_task **ring;      /* queued tasks, oldest at ring[head] */
    size_t capacity, head, queued;
    unsigned nthreads, idle;
    int stopping;
    pthread_t *threads;
} tpool;

static inline void tpool_shutdown(tpool *tp);

/* The pool the current thread works for, if any: lets may_inline answer quickly. */
static _Thread_local tpool *tpool__current;

static inline tpool *tpool__of(fut_sched *s) { return (tpool *)(void *)s; }

/* Appends n tasks from an array, and wakes as many sleepers as it brings tasks for.
 * Under the lock; the caller made sure they fit. */
static inline void tpool__push(tpool *tp, fut_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tp->ring[(tp->head + tp->queued + i) % tp->capacity] = tasks[i];
    tp->queued += n;
    if (n >= tp->idle)
        pthread_cond_broadcast(&tp->work);
    else
        for (size_t i = 0; i < n; i++)
            pthread_cond_signal(&tp->work);
}

static int tpool__submit(fut_sched *s, fut_task *t)
{
    tpool *tp = tpool__of(s);
    int err = 0;
    pthread_mutex_lock(&tp->lock);
    if (tp->stopping)
        err = ESHUTDOWN;
    else if (tp->queued == tp->capacity)
        err = EAGAIN;
    else
        tpool__push(tp, &t, 1);
    pthread_mutex_unlock(&tp->lock);
    return err;
}

/* Takes the longest prefix that fits, a chunk at a time; returns the first task not
 * taken (the rest still linked behind it). The list is ours until it is pushed, so it
 * is walked before the lock is taken. */
static fut_task *tpool__submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    tpool *tp = tpool__of(s);
    fut_task *chunk[TPOOL_SHARE];
    *err = 0;
    while (n > 0) {
        size_t k = 0;
        for (fut_task *t = head; k < n && k < TPOOL_SHARE; t = t->next)
            chunk[k++] = t;
        fut_task *after = chunk[k - 1]->next; /* now: once pushed, they may run at once */
        pthread_mutex_lock(&tp->lock);
        size_t room = tp->stopping ? 0 : tp->capacity - tp->queued;
        size_t take = k < room ? k : room;
        tpool__push(tp, chunk, take);
        if (take < k)
            *err = tp->stopping ? ESHUTDOWN : EAGAIN;
        pthread_mutex_unlock(&tp->lock);
        if (take < k)
            return chunk[take]; /* refused from here on (not pushed: still ours) */
        head = after;
        n -= k;
    }
    return NULL;
}

static int tpool__may_inline(fut_sched *s) { return tpool__current == tpool__of(s); }

static void *tpool__worker(void *arg)
{
    tpool *tp = (tpool *)arg;
    fut_task *mine[TPOOL_SHARE];
    tpool__current = tp;
    pthread_mutex_lock(&tp->lock);
    for (;;) {
        while (tp->queued == 0 && !tp->stopping) {
            tp->idle++;
            pthread_cond_wait(&tp->work, &tp->lock);
            tp->idle--;
        }
        if (tp->queued == 0)
            break; /* stopping, and nothing left to drain */
        /* Take a fair share of what is queued (at least one, at most TPOOL_SHARE): few
         * lock round trips for small tasks, and still work left for the others. */
        size_t share = tp->queued / tp->nthreads;
        if (share < 1)
            share = 1;
        if (share > TPOOL_SHARE)
            share = TPOOL_SHARE;
        for (size_t i = 0; i < share; i++)
            mine[i] = tp->ring[(tp->head + i) % tp->capacity];
        tp->head = (tp->head + share) % tp->capacity;
        tp->queued -= share;
        pthread_mutex_unlock(&tp->lock);
        for (size_t i = 0; i < share; i++)
            mine[i]->run(mine[i], 0);
        pthread_mutex_lock(&tp->lock);
    }
    pthread_mutex_unlock(&tp->lock);
    return NULL;
}

/* Starts nthreads workers (>= 1) with room for capacity queued tasks (0: 4096).
 * Returns 0, EINVAL, ENOMEM or a pthread error. */
static inline int tpool_init(tpool *tp, unsigned nthreads, size_t capacity)
{
    if (tp == NULL || nthreads == 0)
        return EINVAL;
    tp->sched.submit = tpool__submit;
    tp->sched.submit_many = tpool__submit_many;
    tp->sched.may_inline = tpool__may_inline;
    tp->sched.workers = nthreads;
    tp->sched.env = NULL;
    tp->capacity = capacity ? capacity : 4096;
    tp->head = tp->queued = 0;
    tp->nthreads = nthreads;
    tp->idle = 0;
    tp->stopping = 0;
    tp->ring = (fut_task **)malloc(tp->capacity * sizeof(fut_task *));
    tp->threads = (pthread_t *)calloc(nthreads, sizeof(pthread_t));
    if (tp->ring == NULL || tp->threads == NULL) {
        free(tp->ring);
        free(tp->threads);
        return ENOMEM;
    }
    pthread_mutex_init(&tp->lock, NULL);
    pthread_cond_init(&tp->work, NULL);
    for (unsigned i = 0; i < nthreads; i++) {
        int err = pthread_create(&tp->threads[i], NULL, tpool__worker, tp);
        if (err != 0) {
            tp->nthreads = i; /* shut down the ones that started */
            tpool_shutdown(tp);
            return err;
        }
    }
    return 0;
}

/* Refuses new work (ESHUTDOWN), runs everything already queued, joins the workers. */
static inline void tpool_shutdown(tpool *tp)
{
    pthread_mutex_lock(&tp->lock);
    tp->stopping = 1;
    pthread_cond_broadcast(&tp->work);
    pthread_mutex_unlock(&tp->lock);
    for (unsigned i = 0; i < tp->nthreads; i++)
        pthread_join(tp->threads[i], NULL);
    free(tp->threads);
    free(tp->ring);
    tp->threads = NULL;
    tp->ring = NULL;
    pthread_cond_destroy(&tp->work);
    pthread_mutex_destroy(&tp->lock);
}

#endif
