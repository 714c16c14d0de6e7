/* workers.h - a thread-pool scheduler for fut: N workers, a queue per worker, stealing.
 *
 * fut never starts a thread; this header is the pool you may ship when you have no
 * scheduler of your own. Each worker owns a FIFO queue (a mutex and an intrusive list
 * through fut_task.next, on its own cache line). A task submitted by one of the pool's
 * workers goes to that worker's queue (what it spawns stays warm where it was made); one
 * submitted from outside goes to a queue picked round-robin per submitting thread (no
 * shared counter). A worker takes up to FUT_WORKERS_BATCH tasks from its queue under one
 * lock; when its queue is empty it steals half of another's (oldest first), and when
 * every queue is empty it sleeps on a condition variable. submit_many hands the whole
 * list to one queue under one lock and wakes as many sleepers as it brings tasks for.
 * An optional bound on queued tasks refuses with EAGAIN. A continuation that becomes
 * ready on one of the pool's own workers may run right there (may_inline).
 *
 * Example:
 *
 *     fut_workers w;
 *     if (fut_workers_init(&w, &(fut_workers_config){.threads = 4}) != 0) return 1;
 *     fut_future f = fut_spawn(&w.sched, job, ctx);   // job(ctx, ...) on a worker
 *     fut_future g = fut_then(&f, &w.sched, next, ctx);
 *     fut_result r = fut_get(&g);
 *     fut_workers_shutdown(&w, FUT_WORKERS_DRAIN);    // runs what is queued, joins
 *
 * Ownership: you own the fut_workers object; init starts the threads, shutdown joins
 * them and frees everything. Tasks are fut's (or yours, through fut_sched_submit): the
 * pool runs each exactly once, with err 0, or with FUT_ESHUTDOWN when shutdown refuses it.
 * Thread-safety: submit, submit_many and may_inline from any thread, workers included.
 * init and shutdown with no other thread using the pool; shutdown from one of its own
 * workers gives EDEADLK (it would join itself).
 * Shutdown: FUT_WORKERS_DRAIN closes the queues (later submits get FUT_ESHUTDOWN), lets
 * the workers run everything already queued (and what those tasks submit before the
 * close reaches their queue), then joins. FUT_WORKERS_DISCARD closes them, lets each
 * worker finish the batch it holds, joins, and then runs every task still queued with
 * FUT_ESHUTDOWN on the calling thread: each future waiting on one settles with it.
 * Either way each task runs exactly once.
 * Timers (fut_delay, fut_timeout): submit_at keeps them in a list by deadline (O(1) for
 * deadlines that come in order, as a server's equal timeouts do) watched by one more
 * thread, started with the first timer, which sleeps on the monotonic clock until the
 * earliest is due and then queues its task like a submit (the bound does not refuse it:
 * it was taken already). That thread runs no task; a due timer runs on a worker.
 * Shutdown gives every timer not yet due back with FUT_ESHUTDOWN first (on the calling
 * thread, while the queues are still open, so what that settles may still run), then
 * closes the queues. Lateness (bench/run timer): see the README.
 * Bad input: init with a NULL pool or config, or 0 threads, gives EINVAL; a zeroed or
 * shut down pool refuses submits with EINVAL and shutdown gives EINVAL.
 * Cost (bench/run, 2 cores, against the single-mutex teaching pool this replaced): the
 * same for map_reduce (1.18 against 1.20 ns per item) and batched submits (21-29 ns per
 * task against 23-26); one-by-one submits of empty tasks cost 130-185 ns over several
 * runs against 97-99, as idle workers go to sleep between tasks and each submit then
 * pays a wake-up. An
 * unbounded pool keeps no shared count: a submit touches its queue's line and reads
 * the sleepers count.
 * Linkage: as fut.h (FUT_IMPLEMENTATION in one file, or FUT_STATIC).
 * Config macros: those of fut.h; FUT_WORKERS_BATCH (default 32): most tasks a worker
 * takes from a queue at once.
 * Needs: fut.h, pool.h and stats.h beside it.
 * License: MIT (see the end of fut.h).
 */
#ifndef FUT_WORKERS_H
#define FUT_WORKERS_H

#include "fut.h"

#include <pthread.h>

FUT__C_BEGIN

#ifndef FUT_WORKERS_BATCH
#define FUT_WORKERS_BATCH 32
#endif

enum { FUT_WORKERS_DRAIN = 0, FUT_WORKERS_DISCARD = 1 };

typedef struct fut_workers_config {
    unsigned threads; /* workers, >= 1 */
    size_t bound;     /* most tasks queued and not yet taken; 0: no bound */
    /* Optional, on each worker: before its first task, and as its thread exits (after
     * its last task: the place for a thread's own clean-up). index is 0..threads-1. */
    void (*on_start)(void *ctx, unsigned index);
    void (*on_exit)(void *ctx, unsigned index);
    void *ctx;
} fut_workers_config;

/* One worker's queue: a FIFO under its own lock, alone on its cache line(s). */
typedef struct fut__wqueue {
    pthread_mutex_t lock;
    fut_task *head, *tail; /* linked through next; under lock */
    _Atomic(size_t) len;   /* written under lock; read without it as a hint */
    int closed;            /* under lock: set once by shutdown */
    char pad[FUT_CACHE_LINE];
} fut__wqueue;

/* A worker: its thread and what it is started with. */
typedef struct fut__wthread {
    pthread_t tid;
    struct fut_workers *w;
    unsigned index;
} fut__wthread;

typedef struct fut_workers {
    fut_sched sched; /* first member: &w->sched is what fut functions take */
    fut_workers_config cfg;
    fut__wqueue *q;  /* cfg.threads queues, FUT_CACHE_LINE aligned inside q_raw */
    void *q_raw;
    fut__wthread *threads; /* cfg.threads of them */
    unsigned started;
    int alive;
    int discard;     /* written before stopping's release store */
    _Atomic(size_t) queued;    /* with a bound only: submitted and not yet taken */
    _Atomic(unsigned) sleepers; /* workers in (or about to enter) the wait below */
    _Atomic(int) stopping;
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    /* Timers: a list by deadline and one thread that sleeps until the earliest and then
     * queues it like a submit; the thread starts with the first timer. */
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_wake;     /* on CLOCK_MONOTONIC */
    fut_timer *timers, *timers_tail; /* under timer_lock */
    pthread_t timer_tid;
    int timer_started, timer_stop;  /* under timer_lock */
} fut_workers;

/* Starts the workers; cfg is read during the call only (its ctx is kept for the hooks).
 * Returns 0, EINVAL, ENOMEM or a pthread error (then nothing is left running or
 * allocated). */
FUT__DEF int fut_workers_init(fut_workers *w, const fut_workers_config *cfg);
/* Closes, drains or refuses (how: FUT_WORKERS_DRAIN or FUT_WORKERS_DISCARD), joins,
 * frees. Returns 0; EINVAL (NULL, zeroed, shut down, or a bad how); EDEADLK when called
 * on one of the pool's own workers (nothing is done). */
FUT__DEF int fut_workers_shutdown(fut_workers *w, int how);
/* The index of the calling thread among w's workers, or -1 if it is not one of them
 * (or w is NULL). Borrows w; any thread. */
FUT__DEF int fut_workers_self(const fut_workers *w);

/* ======================================================================================
 * Implementation
 * ====================================================================================== */

#if FUT__IMPL

/* The pool the calling thread works for, its index, and an outside thread's next queue. */
static FUT__TLS const fut_workers *fut__w_self;
static FUT__TLS unsigned fut__w_index;
static FUT__TLS unsigned fut__w_next;

static inline fut_workers *fut__workers_of(fut_sched *s) { return (fut_workers *)(void *)s; }

/* Takes room for up to n tasks under the bound; returns how many (0..n). */
static inline size_t fut__workers_reserve(fut_workers *w, size_t n)
{
    if (w->cfg.bound == 0)
        return n; /* no shared count: a submit touches only its queue's line */
    size_t q = atomic_load_explicit(&w->queued, memory_order_relaxed); /* relaxed: a guess the CAS checks */
    for (;;) {
        size_t room = q < w->cfg.bound ? w->cfg.bound - q : 0;
        size_t take = n < room ? n : room;
        if (take == 0)
            return 0;
        /* relaxed: a count only (the bound); the queue locks order the tasks. */
        if (atomic_compare_exchange_weak_explicit(&w->queued, &q, q + take, memory_order_relaxed,
                                                  memory_order_relaxed))
            return take;
    }
}

/* Gives back a reservation that published nothing (a refused push). */
static inline void fut__workers_unreserve(fut_workers *w, size_t n)
{
    if (w->cfg.bound != 0)
        atomic_fetch_sub_explicit(&w->queued, n, memory_order_relaxed); /* relaxed: a count */
}

/* After a push: wakes up to n sleepers. The pair with fut__workers_sleep: a sleeper
 * counts itself in sleepers and then looks at every queue under its lock; we pushed
 * under the queue's lock and read sleepers after unlocking it. The queue lock orders the
 * two: either the sleeper's look comes after our unlock and sees the task, or it comes
 * before our lock, and then its count-up happens before our load, which sees it. No
 * fence is needed: the mutex is the synchronisation. */
static inline void fut__workers_wake(fut_workers *w, size_t n)
{
    /* relaxed: ordered after the sleeper's count-up by the queue lock, as above. */
    unsigned s = atomic_load_explicit(&w->sleepers, memory_order_relaxed);
    if (s == 0)
        return;
    pthread_mutex_lock(&w->sleep_lock);
    if (n >= s)
        pthread_cond_broadcast(&w->wake);
    else
        for (size_t i = 0; i < n; i++)
            pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->sleep_lock);
}

/* Appends the n linked tasks head..tail to queue i. Returns 0, or FUT_ESHUTDOWN when the
 * queue is closed (nothing appended; the caller gives the reservation back). */
static inline int fut__workers_push(fut_workers *w, unsigned i, fut_task *head, fut_task *tail,
                                    size_t n)
{
    fut__wqueue *q = &w->q[i];
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return FUT_ESHUTDOWN;
    }
    tail->next = NULL;
    if (q->tail != NULL)
        q->tail->next = head;
    else
        q->head = head;
    q->tail = tail;
    /* relaxed: under the lock; lock-free readers only take it as a hint. */
    atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + n,
                          memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

/* Where the calling thread's submits go: its own queue on a worker, else round-robin. */
static inline unsigned fut__workers_target(const fut_workers *w)
{
    if (fut__w_self == w)
        return fut__w_index;
    return fut__w_next++ % w->cfg.threads;
}

/* The longest prefix that fits the bound goes to one queue under one lock; returns the
 * first task not taken (the rest still linked behind it) and *err for it. */
static fut_task *fut__workers_submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    fut_workers *w = fut__workers_of(s);
    *err = 0;
    if (n == 0 || head == NULL)
        return NULL;
    if (!w->alive) {
        *err = EINVAL;
        return head;
    }
    size_t k = fut__workers_reserve(w, n);
    if (k == 0) {
        *err = EAGAIN;
        return head;
    }
    fut_task *tail = head;
    for (size_t i = 1; i < k; i++)
        tail = tail->next;
    fut_task *rest = k < n ? tail->next : NULL; /* read before the push: then they may run */
    int e = fut__workers_push(w, fut__workers_target(w), head, tail, k);
    if (e != 0) {
        fut__workers_unreserve(w, k); /* closed: nothing was linked, the list is intact */
        *err = e;
        return head;
    }
    fut__workers_wake(w, k);
    if (k < n)
        *err = EAGAIN;
    return rest;
}

/* One task is a list of one. */
static int fut__workers_submit(fut_sched *s, fut_task *t)
{
    int err;
    fut__workers_submit_many(s, t, 1, &err);
    return err;
}

static int fut__workers_may_inline(fut_sched *s) { return fut__w_self == fut__workers_of(s); }

/* The timer thread: queues each due timer's task, sleeps until the earliest deadline. */
static void *fut__workers_timer_main(void *arg)
{
    fut_workers *w = (fut_workers *)arg;
    pthread_mutex_lock(&w->timer_lock);
    while (!w->timer_stop) {
        uint64_t now = fut_now_ns();
        fut_work due = {NULL, NULL}; /* a task list (fut__work_add appends) */
        size_t n = 0;
        fut_timer *t;
        for (; (t = fut__tl_pop(&w->timers, &w->timers_tail, now)) != NULL; n++)
            fut__work_add(&due, &t->task);
        fut_task *head = due.head, *tail = due.tail;
        if (n != 0) {
            pthread_mutex_unlock(&w->timer_lock);
            if (w->cfg.bound != 0) /* counted like a submit (a worker's take subtracts it) */
                atomic_fetch_add_explicit(&w->queued, n, memory_order_relaxed); /* relaxed: a count */
            if (fut__workers_push(w, fut__workers_target(w), head, tail, n) == 0) {
                fut__workers_wake(w, n);
            } else { /* closed: cannot happen before shutdown has stopped us; refuse */
                fut__workers_unreserve(w, n);
                while (head != NULL) {
                    fut_task *next = head->next;
                    head->run(head, FUT_ESHUTDOWN);
                    head = next;
                }
            }
            pthread_mutex_lock(&w->timer_lock);
            continue;
        }
        if (w->timers == NULL) {
            pthread_cond_wait(&w->timer_wake, &w->timer_lock);
        } else {
            struct timespec abs = fut__timespec(w->timers->deadline_ns);
            pthread_cond_timedwait(&w->timer_wake, &w->timer_lock, &abs);
        }
    }
    pthread_mutex_unlock(&w->timer_lock);
    return NULL;
}

static int fut__workers_submit_at(fut_sched *s, fut_timer *t)
{
    fut_workers *w = fut__workers_of(s);
    if (!w->alive)
        return EINVAL;
    pthread_mutex_lock(&w->timer_lock);
    int err = w->timer_stop ? FUT_ESHUTDOWN : 0;
    if (err == 0 && !w->timer_started) {
        err = pthread_create(&w->timer_tid, NULL, fut__workers_timer_main, w);
        w->timer_started = err == 0;
    }
    if (err == 0 && fut__tl_add(&w->timers, &w->timers_tail, t))
        pthread_cond_signal(&w->timer_wake); /* a new earliest: sleep less */
    pthread_mutex_unlock(&w->timer_lock);
    return err;
}

static int fut__workers_cancel_timer(fut_sched *s, fut_timer *t)
{
    fut_workers *w = fut__workers_of(s);
    if (!w->alive)
        return EALREADY;
    pthread_mutex_lock(&w->timer_lock);
    int err = fut__tl_take(&w->timers, &w->timers_tail, t);
    pthread_mutex_unlock(&w->timer_lock);
    return err;
}

/* Stops the timer thread and gives back each timer not yet due, earliest first. */
static void fut__workers_timers_stop(fut_workers *w)
{
    pthread_mutex_lock(&w->timer_lock);
    w->timer_stop = 1;
    int started = w->timer_started;
    pthread_cond_signal(&w->timer_wake);
    pthread_mutex_unlock(&w->timer_lock);
    if (started)
        pthread_join(w->timer_tid, NULL);
    for (;;) {
        pthread_mutex_lock(&w->timer_lock);
        fut_timer *t = fut__tl_pop(&w->timers, &w->timers_tail, UINT64_MAX);
        pthread_mutex_unlock(&w->timer_lock);
        if (t == NULL)
            return;
        t->task.run(&t->task, FUT_ESHUTDOWN);
    }
}

/* Detaches up to max tasks from the head of queue i (oldest first); *n gets how many. */
static inline fut_task *fut__workers_take(fut_workers *w, unsigned i, size_t max, size_t *n)
{
    fut__wqueue *q = &w->q[i];
    pthread_mutex_lock(&q->lock);
    size_t len = atomic_load_explicit(&q->len, memory_order_relaxed); /* relaxed: under the lock */
    size_t k = len < max ? len : max;
    fut_task *head = q->head, *t = head;
    for (size_t j = 1; j < k; j++)
        t = t->next;
    if (k > 0) {
        q->head = t->next;
        if (q->head == NULL)
            q->tail = NULL;
        atomic_store_explicit(&q->len, len - k, memory_order_relaxed); /* relaxed: as in push */
        t->next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    *n = k;
    return k > 0 ? head : NULL;
}

/* Own queue first, then half of another's (oldest first). */
static inline fut_task *fut__workers_find(fut_workers *w, unsigned self, size_t *n)
{
    /* A fair share of our own queue (its length over the workers, at least one): a list
     * that submit_many put here in one piece is left for the others to steal from. */
    /* relaxed: a hint; take re-reads len under the lock. A stale 0 skips no task for
     * good: before sleeping, fut__workers_any looks at every queue under its lock. */
    size_t own = atomic_load_explicit(&w->q[self].len, memory_order_relaxed);
    size_t share = own / w->cfg.threads;
    share = share < 1 ? 1 : share > FUT_WORKERS_BATCH ? FUT_WORKERS_BATCH : share;
    fut_task *t = own != 0 ? fut__workers_take(w, self, share, n) : NULL;
    for (unsigned d = 1; t == NULL && d < w->cfg.threads; d++) {
        unsigned v = (self + d) % w->cfg.threads;
        /* relaxed: a hint, as above. */
        size_t half = (atomic_load_explicit(&w->q[v].len, memory_order_relaxed) + 1) / 2;
        if (half > 0)
            t = fut__workers_take(w, v, half < FUT_WORKERS_BATCH ? half : FUT_WORKERS_BATCH, n);
    }
    if (t != NULL)
        fut__workers_unreserve(w, *n); /* taken: room under the bound again */
    return t;
}

/* Whether any queue holds a task, each looked at under its lock (the sleep check). */
static inline int fut__workers_any(fut_workers *w)
{
    for (unsigned i = 0; i < w->cfg.threads; i++) {
        fut__wqueue *q = &w->q[i];
        pthread_mutex_lock(&q->lock);
        size_t len = atomic_load_explicit(&q->len, memory_order_relaxed); /* relaxed: under the lock */
        pthread_mutex_unlock(&q->lock);
        if (len != 0)
            return 1;
    }
    return 0;
}

/* Sleeps until work may have arrived or the pool stops. */
static inline void fut__workers_sleep(fut_workers *w)
{
    /* No spinning first: measured on 2 cores, a spin of 256 polls made `submit` slower
     * (205 against 175 ns): spinners keep pulling the queue lines the submitter writes. */
    pthread_mutex_lock(&w->sleep_lock);
    /* relaxed: the queue locks taken next order it before a submitter's load (see
     * fut__workers_wake); it is also under sleep_lock, which the wake-up takes. */
    atomic_fetch_add_explicit(&w->sleepers, 1, memory_order_relaxed);
    if (!fut__workers_any(w) &&
        !atomic_load_explicit(&w->stopping, memory_order_acquire)) /* acquire: as in the worker loop */
        pthread_cond_wait(&w->wake, &w->sleep_lock);
    atomic_fetch_sub_explicit(&w->sleepers, 1, memory_order_relaxed); /* relaxed: a hint for wake */
    pthread_mutex_unlock(&w->sleep_lock);
}

static void *fut__workers_main(void *arg)
{
    fut__wthread *me = (fut__wthread *)arg;
    fut_workers *w = me->w;
    unsigned self = me->index;
    fut__w_self = w;
    fut__w_index = self;
    if (w->cfg.on_start != NULL)
        w->cfg.on_start(w->cfg.ctx, self);
    for (;;) {
        /* acquire, read before the scan: every queue was closed before stopping was
         * stored, so a scan that follows a 1 sees every task ever pushed. */
        int stopping = atomic_load_explicit(&w->stopping, memory_order_acquire);
        if (stopping && w->discard)
            break; /* shutdown refuses what is left */
        size_t n;
        fut_task *t = fut__workers_find(w, self, &n);
        if (t == NULL) {
            if (stopping)
                break; /* closed and drained */
            fut__workers_sleep(w);
            continue;
        }
        while (t != NULL) {
            fut_task *next = t->next; /* before run: the task may be freed or reused */
            t->run(t, 0);
            t = next;
        }
    }
    if (w->cfg.on_exit != NULL)
        w->cfg.on_exit(w->cfg.ctx, self);
    fut__w_self = NULL;
    return NULL;
}

/* Closes every queue, then publishes stopping and wakes every sleeper. */
static void fut__workers_stop(fut_workers *w, int discard)
{
    for (unsigned i = 0; i < w->cfg.threads; i++) {
        pthread_mutex_lock(&w->q[i].lock);
        w->q[i].closed = 1;
        pthread_mutex_unlock(&w->q[i].lock);
    }
    w->discard = discard;
    /* release: the closes and discard before it (the workers' acquire); seq_cst is not
     * needed for the sleepers: they read it under sleep_lock, which we take next. */
    atomic_store_explicit(&w->stopping, 1, memory_order_release);
    pthread_mutex_lock(&w->sleep_lock);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->sleep_lock);
    for (unsigned i = 0; i < w->started; i++)
        pthread_join(w->threads[i].tid, NULL);
}

static void fut__workers_free(fut_workers *w)
{
    for (unsigned i = 0; i < w->cfg.threads; i++)
        pthread_mutex_destroy(&w->q[i].lock);
    pthread_mutex_destroy(&w->sleep_lock);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->timer_lock);
    pthread_cond_destroy(&w->timer_wake);
    FUT_FREE(w->q_raw);
    FUT_FREE(w->threads);
    w->q = NULL;
    w->q_raw = NULL;
    w->threads = NULL;
    w->alive = 0;
}

FUT__DEF int fut_workers_init(fut_workers *w, const fut_workers_config *cfg)
{
    if (w == NULL || cfg == NULL || cfg->threads == 0)
        return EINVAL;
    memset((void *)w, 0, sizeof *w); /* (void *): C++ sees atomics, not bytes */
    w->cfg = *cfg;
    unsigned n = cfg->threads;
    w->q_raw = FUT_MALLOC(n * sizeof(fut__wqueue) + FUT_CACHE_LINE);
    w->threads = (fut__wthread *)FUT_MALLOC(n * sizeof(fut__wthread));
    if (w->q_raw == NULL || w->threads == NULL) {
        FUT_FREE(w->q_raw);
        FUT_FREE(w->threads);
        return ENOMEM;
    }
    uintptr_t a = ((uintptr_t)w->q_raw + FUT_CACHE_LINE - 1) & ~(uintptr_t)(FUT_CACHE_LINE - 1);
    w->q = (fut__wqueue *)(void *)a;
    for (unsigned i = 0; i < n; i++) {
        memset((void *)&w->q[i], 0, sizeof w->q[i]);
        pthread_mutex_init(&w->q[i].lock, NULL);
        FUT__ATOMIC_INIT(&w->q[i].len, 0);
    }
    pthread_mutex_init(&w->sleep_lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_mutex_init(&w->timer_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are fut_now_ns */
    pthread_cond_init(&w->timer_wake, &ca);
    pthread_condattr_destroy(&ca);
    FUT__ATOMIC_INIT(&w->queued, 0);
    FUT__ATOMIC_INIT(&w->sleepers, 0);
    FUT__ATOMIC_INIT(&w->stopping, 0);
    w->sched.submit = fut__workers_submit;
    w->sched.submit_many = fut__workers_submit_many;
    w->sched.may_inline = fut__workers_may_inline;
    w->sched.workers = n;
    w->sched.env = NULL;
    w->sched.submit_at = fut__workers_submit_at;
    w->sched.cancel_timer = fut__workers_cancel_timer;
    w->sched.now = NULL; /* fut_now_ns */
    w->alive = 1;
    for (unsigned i = 0; i < n; i++) {
        w->threads[i].w = w;
        w->threads[i].index = i;
        int err = pthread_create(&w->threads[i].tid, NULL, fut__workers_main, &w->threads[i]);
        if (err != 0) {
            fut__workers_stop(w, 0); /* nothing was submitted yet: joins the started */
            fut__workers_free(w);
            return err;
        }
        w->started = i + 1;
    }
    return 0;
}

FUT__DEF int fut_workers_shutdown(fut_workers *w, int how)
{
    if (w == NULL || !w->alive || (how != FUT_WORKERS_DRAIN && how != FUT_WORKERS_DISCARD))
        return EINVAL;
    if (fut__w_self == w)
        return EDEADLK;
    fut__workers_timers_stop(w); /* first: what the refusals settle may still run */
    fut__workers_stop(w, how == FUT_WORKERS_DISCARD);
    /* Every worker has exited; refuse what is left (DISCARD), oldest first. A refused
     * task may submit more: the queues are closed, so that is refused at once. */
    for (unsigned i = 0; i < w->cfg.threads; i++) {
        size_t n;
        fut_task *t;
        while ((t = fut__workers_take(w, i, SIZE_MAX, &n)) != NULL) {
            fut__workers_unreserve(w, n);
            while (t != NULL) {
                fut_task *next = t->next;
                t->run(t, FUT_ESHUTDOWN);
                t = next;
            }
        }
    }
    fut__workers_free(w);
    return 0;
}

FUT__DEF int fut_workers_self(const fut_workers *w)
{
    return w != NULL && fut__w_self == w ? (int)fut__w_index : -1;
}

#endif /* FUT__IMPL */

FUT__C_END

#endif /* FUT_WORKERS_H */
