/* thread_pool.h - a small pthread pool that is a fut scheduler (teaching material).
 *
 * N worker threads take tasks from one bounded FIFO. Idle workers sleep on a condition
 * variable (no polling); submit wakes one, submit_many wakes as many as it brings work
 * for, and a worker takes a fair share of the queue at once so that batches cost few
 * lock round trips. Shutdown stops accepting, lets the workers drain what is queued, and
 * joins them. A continuation that becomes ready on one of this pool's own workers may run
 * right there (may_inline): that is the "scheduler skip".
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

typedef struct tpool {
    fut_sched sched; /* first member: &tp->sched is what fut functions take */
    pthread_mutex_t lock;
    pthread_cond_t work; /* signalled when tasks arrive or on shutdown */
    fut_task *head, *tail;
    size_t queued, capacity;
    unsigned nthreads, idle;
    int stopping;
    pthread_t *threads;
} tpool;

static inline void tpool_shutdown(tpool *tp);

/* The pool the current thread works for, if any: lets may_inline answer quickly. */
static _Thread_local tpool *tpool__current;

static inline tpool *tpool__of(fut_sched *s) { return (tpool *)(void *)s; }

/* Appends the list head..last (n tasks), if it fits. Under the lock. */
static inline int tpool__push(tpool *tp, fut_task *head, fut_task *last, size_t n)
{
    if (tp->stopping)
        return ESHUTDOWN;
    if (tp->queued + n > tp->capacity)
        return EAGAIN;
    last->next = NULL;
    if (tp->tail != NULL)
        tp->tail->next = head;
    else
        tp->head = head;
    tp->tail = last;
    tp->queued += n;
    /* Wake one sleeper per task, at most all of them. */
    if (n >= tp->idle)
        pthread_cond_broadcast(&tp->work);
    else
        for (size_t i = 0; i < n; i++)
            pthread_cond_signal(&tp->work);
    return 0;
}

static int tpool__submit(fut_sched *s, fut_task *t)
{
    tpool *tp = tpool__of(s);
    pthread_mutex_lock(&tp->lock);
    int err = tpool__push(tp, t, t, 1);
    pthread_mutex_unlock(&tp->lock);
    return err;
}

/* Takes the longest prefix that fits; returns the rest. The list is ours until it is
 * pushed, so its tail is found before taking the lock: the lock is held O(1). */
static fut_task *tpool__submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    tpool *tp = tpool__of(s);
    fut_task *last = head;
    for (size_t i = 1; i < n; i++)
        last = last->next;
    pthread_mutex_lock(&tp->lock);
    size_t room = tp->stopping ? 0 : tp->capacity - tp->queued;
    fut_task *rest = NULL;
    *err = 0;
    if (n <= room) {
        tpool__push(tp, head, last, n);
    } else {
        /* Only part fits (or none): walk to the end of what does. */
        *err = tp->stopping ? ESHUTDOWN : EAGAIN;
        rest = head;
        if (room > 0) {
            fut_task *cut = head;
            for (size_t i = 1; i < room; i++)
                cut = cut->next;
            rest = cut->next;
            tpool__push(tp, head, cut, room);
        }
    }
    pthread_mutex_unlock(&tp->lock);
    return rest;
}

static int tpool__may_inline(fut_sched *s) { return tpool__current == tpool__of(s); }

static void *tpool__worker(void *arg)
{
    tpool *tp = (tpool *)arg;
    tpool__current = tp;
    pthread_mutex_lock(&tp->lock);
    for (;;) {
        while (tp->head == NULL && !tp->stopping) {
            tp->idle++;
            pthread_cond_wait(&tp->work, &tp->lock);
            tp->idle--;
        }
        if (tp->head == NULL)
            break; /* stopping, and nothing left to drain */
        /* Take a fair share of what is queued (at least one): fewer lock round trips
         * for small tasks, and still work left for the others. */
        size_t share = tp->queued / tp->nthreads;
        if (share < 1)
            share = 1;
        if (share > 64)
            share = 64;
        fut_task *first = tp->head, *last = first;
        for (size_t i = 1; i < share; i++)
            last = last->next;
        tp->head = last->next;
        if (tp->head == NULL)
            tp->tail = NULL;
        tp->queued -= share;
        last->next = NULL;
        pthread_mutex_unlock(&tp->lock);
        while (first != NULL) {
            fut_task *t = first;
            first = t->next; /* read first: running t may free it */
            t->run(t, 0);
        }
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
    tp->head = tp->tail = NULL;
    tp->queued = 0;
    tp->capacity = capacity ? capacity : 4096;
    tp->nthreads = nthreads;
    tp->idle = 0;
    tp->stopping = 0;
    tp->threads = (pthread_t *)calloc(nthreads, sizeof(pthread_t));
    if (tp->threads == NULL)
        return ENOMEM;
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
    tp->threads = NULL;
    pthread_cond_destroy(&tp->work);
    pthread_mutex_destroy(&tp->lock);
}

#endif
