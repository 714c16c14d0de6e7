/* fut.h - futures and promises with continuation chaining over any scheduler.
 *
 * A promise is the write end, a future the read end of one result: a 64-bit value
 * (pointer, signed, unsigned or double) with an optional destructor, or an errno-style
 * error code: one fut_result. Continuations (then / recover / then_result) run on a
 * scheduler you supply when the result arrives; a continuation returns a value, an error
 * or another future, which is flattened. The core is lock-free: one atomic word per
 * shared state decides every race. The toolkit never owns threads; it ships two
 * schedulers (inline and manual, with timers on a real or virtual clock), a vtable for
 * yours (timers optional), deadlines (fut_delay, fut_timeout), a deferring view
 * (fut_deferred), fire and forget (fut_detach), cleanup that always runs once the
 * producer has let go (fut_finally; docs/lifecycle.md), and a section for writing your own
 * combinators (batch.h is written on it).
 *
 * One implementation unit (the stb shape). Every file includes the headers; exactly one
 * file of the program defines FUT_IMPLEMENTATION before including them (batch.h, or
 * each header it uses), and that file holds their definitions - the per-thread state
 * cache, its pthread key and exit hook, the pool and stats thread caches - once for the
 * whole program. The hot paths (promise_new/set, then, get, drop, pool acquire/release,
 * stats updates) stay static inline in every file; the rest is an ordinary call.
 *     // fut_impl.c                              // any other .c file
 *     #define FUT_IMPLEMENTATION                 #include "batch.h"
 *     #include "batch.h"
 * FUT_STATIC instead makes everything private to the file that includes it (a
 * one-file program, or a plugin that must not share fut with its host). Files of one
 * program must agree on the layout macros (FUT_NO_FUTEX, FUT_CACHE_LINE,
 * FUT_STATE_CACHE) and the version: fut_env_init, fut_pool_init and fut_stats_init give
 * EINVAL in a file that differs from the implementation unit (tests/two_units).
 *
 * Example:
 *
 *     static fut_future twice(void *ctx, fut_result r)
 *     { (void)ctx; return fut_ready(fut_i64(r.value.i64 * 2)); }
 *
 *     fut_sched inl; fut_inline_init(&inl);
 *     fut_promise p; fut_future f;
 *     if (fut_promise_new(&p, &f) != 0) return ENOMEM;
 *     fut_future g = fut_then(&f, &inl, twice, NULL);   // consumes f
 *     fut_promise_set(&p, fut_i64(21));                  // any thread; consumes p
 *     fut_result r = fut_get(&g);                        // r.err == 0, r.value.i64 == 42
 *
 * Ownership. Handles (fut_promise, fut_future) are small values owned by one thread at a
 * time; they may move between threads with the usual synchronisation. A function that
 * CONSUMES a handle marks it spent, and a spent handle given again gets EINVAL (or
 * EALREADY for a settled promise), never a crash. A function that BORROWS leaves it valid.
 *   consumes: fut_promise_set/_set_ptr/_set_error/_set_result/_drop, fut_then/_recover/
 *             _then_result, fut_detach/_cancellable and fut_split (when they return 0),
 *             fut_get,
 *             fut_try_get (when it returns 0),
 *             fut_drop, fut_move, fut_input_attach;
 *   replaces: fut_finally (when it returns 0, *f is the cleanup's future)
 *   borrows:  fut_is_ready, fut_wait/_until/_for, fut_cancel, fut_promise_cancelled,
 *             fut_promise_on_cancel
 * A value that was taken (fut_get, a continuation's argument) belongs to the taker, with
 * its destructor in r.dtor: pass r on whole (fut_ready_result) and the destructor goes
 * with it through any chain, combinator or pipeline; fut_result_drop destroys it. A
 * pointer value with a destructor that nobody takes - the future was dropped, cancelled,
 * or the chain failed - is destroyed with it, exactly once.
 * Functions returning int give 0 or an errno code and consume nothing on error unless
 * their comment says so; functions returning a future report errors in that future.
 * Bad input: NULL, zero-initialised, consumed or destroyed objects never crash. Functions
 * that return an int say EINVAL (a queue that was destroyed: FUT_ESHUTDOWN), those
 * returning a count say 0, the rest ignore it. docs/bad_input.md has every case, with
 * its test; docs/names.md says why each name is what it is. fut_strerror spells fut's
 * codes (FUT_EBROKEN: a broken promise, ECANCELED, FUT_ESHUTDOWN, ...).
 *
 * Thread-safety. Settling, chaining, cancelling, waiting and dropping may race freely
 * across threads on the two ends of one future. Borrowing calls on one future handle may
 * run concurrently with each other (several threads may wait on it, one may cancel it),
 * but not with a call that consumes that handle. Schedulers: the inline one is stateless;
 * fut_manual is safe to submit to from any thread and to run from any thread.
 *
 * Pools and counting: give fut_promise_new_env an env holding a fut_pool (pool.h) and/or
 * a fut_stats block (stats.h); states then come from the pool and every continuation
 * chained after the promise uses the same env (a scheduler's env, s->env, for what
 * fut_spawn makes). states (shared states made), spawned (jobs: fut_spawn and
 * fut_spawn_task), chained, awaited (with the wait time in the histogram), fast_path,
 * sched_skip, errors and cancelled are counted.
 * Without a pool, each thread keeps up to FUT_STATE_CACHE freed states and reuses them
 * (no malloc for a promise made after one was consumed); they are freed when the thread
 * exits, or now with fut_cache_flush.
 *
 * Config macros (define before including):
 *   FUT_IMPLEMENTATION          this file holds the definitions (one file per program)
 *   FUT_STATIC                  this file gets its own private copy of everything
 *   FUT_MALLOC(n), FUT_FREE(p)  allocation of shared states (default malloc/free)
 *   FUT_SPIN                    polls with a cpu pause before a waiter yields (default 8)
 *   FUT_YIELD_NS                then polls with sched_yield for up to this many ns
 *                               before it parks (default 20000)
 *   FUT_STATE_CACHE             freed states a thread keeps for reuse (default 16; 0 when
 *                               FUT_MALLOC is yours or under AddressSanitizer)
 *   FUT_NO_FUTEX                park on a pthread condition variable even on Linux
 *   FUT_NO_STATS                compile every stats update away (stats.h)
 * Under -std=c11 (strict ANSI) this header asks for POSIX 2008 when no feature macro is
 * set; include it before other system headers or define _POSIX_C_SOURCE=200809L.
 *
 * Needs: pool.h and stats.h beside it (copy all three); libc, <stdatomic.h>, pthreads.
 * Link with -pthread. C11, or C++23 (every declaration has C linkage; tests/cpp).
 * License: MIT (see the end of this file).
 */
#ifndef FUT_H
#define FUT_H

#if defined(__STRICT_ANSI__) && !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && \
    !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE) && !defined(_BSD_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "pool.h" /* and through it stats.h */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* -pthread defines _REENTRANT, with which glibc gives only POSIX 1995 when a system
 * header came first under -std=c11: CLOCK_MONOTONIC is there, pthread_condattr_setclock
 * is not. Say so plainly rather than fail later on an implicit declaration. */
#if !defined(CLOCK_MONOTONIC) || (defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE < 200809L)
#error "fut.h needs POSIX 2008: define _POSIX_C_SOURCE=200809L or include fut.h first"
#endif

#if defined(__linux__) && !defined(FUT_NO_FUTEX)
#define FUT__FUTEX 1
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#if !defined(__cplusplus)
extern long syscall(long number, ...); /* glibc hides it under strict C11 */
#endif
#else
#define FUT__FUTEX 0
#endif

FUT__C_BEGIN

/* ---- configuration ---------------------------------------------------------------- */

/* FUT_MALLOC and FUT_FREE default to malloc and free in stats.h, included above. */
#ifndef FUT_SPIN
#define FUT_SPIN 8
#endif
#ifndef FUT_YIELD_NS
#define FUT_YIELD_NS 20000
#endif
/* Freed states kept per thread for reuse (fut_cache_flush). Off by default when FUT_MALLOC
 * is yours (you get exactly your allocator) and under AddressSanitizer (so that it sees
 * every use after free); defining it yourself wins over both. */
#ifndef FUT_STATE_CACHE
#if defined(__SANITIZE_ADDRESS__)
#define FUT_STATE_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUT_STATE_CACHE 0
#endif
#endif
#endif
#ifndef FUT_STATE_CACHE
#ifdef FUT__MALLOC_DEFAULT
#define FUT_STATE_CACHE 16
#else
#define FUT_STATE_CACHE 0
#endif
#endif

/* fut's own outcome codes, errno values where one means the same, spelled out by
 * fut_strerror. A broken promise (dropped unsettled) is EPIPE; a scheduler that shut down
 * refuses with ESHUTDOWN (where the system has none, ECONNABORTED: never EPIPE, so the
 * two stay apart). */
#define FUT_EBROKEN EPIPE
#ifdef ESHUTDOWN
#define FUT_ESHUTDOWN ESHUTDOWN
#else
#define FUT_ESHUTDOWN ECONNABORTED
#endif

#define FUT_VERSION_MAJOR 0
#define FUT_VERSION_MINOR 9
#define FUT_VERSION_PATCH 0

/* ---- values and results ----------------------------------------------------------- */

/* The 64-bit payload of a future: read the member you settled. */
typedef union fut_value {
    void *ptr;
    int64_t i64;
    uint64_t u64;
    double f64;
} fut_value;

/* Destroys a pointer value that nobody took. */
typedef void (*fut_dtor)(void *ptr);

/* An outcome, the one form fut uses everywhere: a continuation's argument, fut_get's
 * return, what a ready future holds, the items of a when_all block, a pipeline's items.
 * err == 0: value is valid, and dtor (may be NULL) destroys it if it is a pointer that
 * nobody takes. err != 0: an errno-style code, value zero, dtor NULL. Whoever holds a
 * result owns its value: pass it on whole (fut_ready_result, fut_promise_set_result) and
 * the destructor travels with it; keep the value and it is yours to free; let it go with
 * fut_result_drop, which runs dtor. 24 bytes. */
typedef struct fut_result {
    fut_value value;
    fut_dtor dtor;
    int err;
} fut_result;

/* The read end. Zero-initialised is "empty". Treat the fields as private. */
typedef struct fut_future {
    uintptr_t tag; /* FUT__EMPTY, FUT__READY, FUT__READY_ERROR, FUT__SPENT or a state */
    fut_value val; /* a ready outcome, held compactly (24 bytes, not 32): the value and */
    fut_dtor dtor; /* its destructor, or for READY_ERROR the code in val.i64 */
} fut_future;

/* The write end. Zero-initialised is "empty". Treat the field as private. */
typedef struct fut_promise {
    uintptr_t tag;
} fut_promise;

/* A continuation: gets the outcome (it owns r.value, and r.dtor says how to destroy it)
 * and returns the next future - a ready value (fut_ready), an error (fut_ready_error),
 * the outcome passed on (fut_ready_result(r)) or any future, which is flattened.
 * Returning the continuation's own future (the one fut_then gave back, moved into ctx)
 * settles it with EDEADLK. A longer cycle - a future that waits, through a split or
 * other continuations, on the continuation's own future - is not detected (finding it
 * would mean reading states other threads may free): it never settles, and its states
 * stay allocated; do not build one. */
typedef fut_future (*fut_fn)(void *ctx, fut_result r);

static inline fut_value fut_i64(int64_t x) { fut_value v; v.i64 = x; return v; }
static inline fut_value fut_u64(uint64_t x) { fut_value v; v.u64 = x; return v; }
static inline fut_value fut_f64(double x) { fut_value v; v.f64 = x; return v; }
static inline fut_value fut_ptr(void *x) { fut_value v; v.ptr = x; return v; }

/* Results: a value, an owned pointer, an error (err 0 becomes EINVAL). */
static inline fut_result fut_ok(fut_value v) { fut_result r; r.value = v; r.dtor = NULL; r.err = 0; return r; }
static inline fut_result fut_ok_ptr(void *ptr, fut_dtor dtor)
{
    fut_result r;
    r.value.u64 = 0; /* the whole union: a pointer may be narrower than 64 bits */
    r.value.ptr = ptr;
    r.dtor = dtor;
    r.err = 0;
    return r;
}
static inline fut_result fut_error(int err)
{
    fut_result r;
    r.value.u64 = 0;
    r.dtor = NULL;
    r.err = err != 0 ? err : EINVAL;
    return r;
}
/* Destroys r's value if nobody will take it (runs dtor for a value with one) and leaves
 * r without a destructor, so a second drop does nothing. NULL is ignored. */
static inline void fut_result_drop(fut_result *r)
{
    if (r != NULL && r->err == 0 && r->dtor != NULL) {
        fut_dtor d = r->dtor;
        r->dtor = NULL;
        d(r->value.ptr);
    }
}

/* A fut code (or any errno value) in words: "broken promise", "cancelled", ... Never
 * NULL; for a code fut does not use, strerror's text. */
FUT__DEF const char *fut_strerror(int err);

/* ---- the scheduler interface ------------------------------------------------------ */

/* A unit of work, embedded in an object the toolkit already holds: submitting allocates
 * nothing. A scheduler links tasks through `next` as it likes and later calls
 * run(t, 0); if it will never run an accepted task (shut down), it calls run(t, err) so
 * the task can settle its future with err. */
typedef struct fut_task fut_task;
typedef void (*fut_task_fn)(fut_task *t, int err);
struct fut_task {
    fut_task *next;
    fut_task_fn run;
};

/* A scheduler: embed it first in your own struct. submit() returns 0 when it took the
 * task, or an errno code when it refused (and then never runs it). submit_many (optional)
 * takes a NULL-terminated list of n tasks linked by next in one hand-off; it accepts a prefix and returns
 * the first task it did not take (NULL when it took all), with the rest still linked
 * behind it, and sets *err. The caller never walks the accepted prefix again: those
 * tasks may already be running. may_inline (optional) says whether a ready task may run
 * right now on the calling thread ("scheduler skip"). workers is how many tasks it runs
 * at once (a hint for batch.h; 0 if unknown). submit may run the task (or give it back)
 * before it returns: a continuation run so inside fut's own submit is queued on the
 * submitting thread's work list and runs right after the submit returns, so a chain on
 * such a scheduler stays as flat as one on the inline scheduler (tests/test_fut.c
 * fut_trampoline). */
typedef struct fut_env fut_env;
typedef struct fut_sched fut_sched;
typedef struct fut_timer fut_timer;
struct fut_sched {
    int (*submit)(fut_sched *s, fut_task *t);
    fut_task *(*submit_many)(fut_sched *s, fut_task *head, size_t n, int *err);
    int (*may_inline)(fut_sched *s);
    unsigned workers;
    const fut_env *env; /* optional: pool and stats for continuations on ready values;
                           the *_init functions set it NULL, assign it after them */
    /* Timers, optional (fut_delay and fut_timeout need them; NULL: ENOTSUP).
     * submit_at takes t and runs t->task.run(&t->task, 0) once its clock reaches
     * t->deadline_ns, or run(.., err) if it gives t up (shut down); it returns 0, or an
     * errno code when it refuses (and then never runs t). cancel_timer takes back a
     * timer not yet due: 0 means t will never run and is the caller's again; EALREADY
     * means t has run, is running or is about to (it runs exactly once either way).
     * now is the clock deadlines are on (NULL: fut_now_ns, the monotonic clock). */
    int (*submit_at)(fut_sched *s, fut_timer *t);
    int (*cancel_timer)(fut_sched *s, fut_timer *t);
    uint64_t (*now)(fut_sched *s);
};

/* A timer is a task with a deadline; embed it in your object (no allocation). Set
 * task.run and deadline_ns, then submit_at; prev and next are the scheduler's while it
 * holds t. */
struct fut_timer {
    fut_task task;
    uint64_t deadline_ns;  /* on the scheduler's clock (fut_sched_now) */
    fut_timer *prev, *next; /* the scheduler's */
};

/* Where shared states come from and where their events are counted: an optional pool
 * (objects of at least fut_state_size() bytes) and an optional stats block. A promise
 * made with fut_promise_new_env uses it, and so does every continuation chained after
 * it; a continuation on a ready value uses its scheduler's env. Both may be NULL. The
 * env and what it points to must outlive every future made with it. */
struct fut_env {
    fut_pool *pool;
    fut_stats *stats;
};

/* Checks and fills an env. Returns 0, or EINVAL if the pool's objects are too small. */
static inline int fut_env_init(fut_env *env, fut_pool *pool, fut_stats *stats);
/* (checks the layout: EINVAL from a unit built with other layout macros, see FUT__LAYOUT) */
FUT__DEF int fut__env_init(fut_env *env, fut_pool *pool, fut_stats *stats, uint32_t layout);
/* The object size a pool for shared states needs. */
static inline size_t fut_state_size(void);
/* Without a pool, each thread keeps up to FUT_STATE_CACHE freed states for reuse (the
 * last freed first), so a promise made after one was consumed costs no malloc. A thread's
 * cache is freed when it exits; this frees the calling thread's cache now (the
 * program's one cache, or this file's own under FUT_STATIC). Takes no argument, so it
 * consumes and borrows nothing and has no bad input; safe at any time, any number of
 * times, and a no-op when FUT_STATE_CACHE is 0. */
FUT__DEF void fut_cache_flush(void);

/* The struct that embeds a member: recovers your object from its fut_task (or any
 * member) pointer inside a task function. */
#define FUT_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Submits t; if s refuses it, runs t->run(t, err) here and returns err. Borrows t. */
static inline int fut_sched_submit(fut_sched *s, fut_task *t);
/* Submits a NULL-terminated list of n tasks linked by next, in one hand-off when s has
 * submit_many; each refused task is run with the error here. Returns how many s took. */
FUT__DEF size_t fut_sched_submit_many(fut_sched *s, fut_task *head, size_t n);

/* The inline scheduler: every task runs on the thread that makes it ready. Chains are
 * processed iteratively (a trampoline), so their length never grows the stack. */
FUT__DEF void fut_inline_init(fut_sched *s);

/* The manual scheduler: a FIFO queue that runs only when you say so - deterministic, for
 * tests, teaching and "one loop thread" designs. Submit from any thread. */
typedef struct fut_manual {
    fut_sched sched; /* pass &m->sched where a fut_sched * is wanted */
    pthread_mutex_t lock;
    pthread_cond_t ready;
    fut_task *head, *tail;
    size_t pending, capacity;
    int closed;
    int alive; /* set by init, cleared by destroy: a dead queue refuses everything */
    void (*notify)(void *ctx); /* optional: see fut_manual_set_notify */
    void *notify_ctx;
    fut_timer *timers, *timers_tail; /* not yet due, by deadline */
    uint64_t clock_ns;               /* the virtual clock, when virtual_clock is set */
    int virtual_clock;
} fut_manual;

/* capacity 0 means unbounded; past it, submit refuses with EAGAIN (submit_many takes a
 * whole list or none of it). Returns 0 or errno. */
FUT__DEF int fut_manual_init(fut_manual *m, size_t capacity);
/* Closes m and runs every queued task, and every timer not yet due, with ESHUTDOWN
 * (their futures settle with it). */
FUT__DEF void fut_manual_destroy(fut_manual *m);
/* The loop adapter's hook: notify(ctx) is called each time m's queue goes from empty to
 * non-empty, and each time a submitted timer becomes the earliest (the loop re-arms
 * its own timer at fut_manual_next_deadline), on the submitting thread, under m's lock - so once fut_manual_close has
 * returned no notify is running or will run, and the loop may close what notify uses.
 * It is where an event loop is woken (uv_async_send, a write to an eventfd,
 * g_main_context_wakeup) and must not call back into m. The loop thread then drains m
 * (fut_manual_run_all) until it is empty. m keeps notify and ctx (ctx is not owned:
 * keep it alive while set); set them (NULL clears) before other threads submit. Returns
 * 0, or EINVAL for a NULL or destroyed m. */
FUT__DEF int fut_manual_set_notify(fut_manual *m, void (*notify)(void *ctx), void *ctx);
/* Runs the oldest queued task. Returns 1 if one ran, 0 if the queue was empty. */
FUT__DEF int fut_manual_run_one(fut_manual *m);
/* Runs tasks until the queue is empty, those queued meanwhile included. Returns the count. */
FUT__DEF size_t fut_manual_run_all(fut_manual *m);
FUT__DEF size_t fut_manual_pending(fut_manual *m);
/* Later submits are refused with ESHUTDOWN; queued tasks still run. */
FUT__DEF void fut_manual_close(fut_manual *m);
/* Blocks until a task is queued or a timer is due (0), m is closed and empty
 * (ESHUTDOWN) or the monotonic clock passes deadline_ns (ETIMEDOUT). UINT64_MAX waits
 * for ever. On a virtual clock timers come due only by fut_manual_advance. */
FUT__DEF int fut_manual_wait(fut_manual *m, uint64_t deadline_ns);

/* Timers on the manual scheduler. A due timer's task joins the end of the queue (so it
 * runs with fut_manual_run_one/_all, in deadline order, after what was queued before);
 * timers are due when m's clock reaches them, checked by run_one, run_all, pending,
 * wait and advance. The clock is the monotonic one (fut_now_ns) unless
 * fut_manual_set_clock makes it virtual: then it reads now_ns and moves only by
 * fut_manual_advance - deterministic tests of deadlines with no sleeping. Timers do not
 * count against the capacity; after fut_manual_close, submit_at is refused with
 * ESHUTDOWN and timers already taken still come due. Return 0, or EINVAL for a NULL or
 * destroyed m (advance: also for a clock that is not virtual; set_clock: also for
 * now_ns smaller than the virtual clock already reads). */
FUT__DEF int fut_manual_set_clock(fut_manual *m, uint64_t now_ns);
FUT__DEF int fut_manual_advance(fut_manual *m, uint64_t ns);
/* The earliest deadline of a timer not yet due, or UINT64_MAX (none, NULL m). */
FUT__DEF uint64_t fut_manual_next_deadline(fut_manual *m);

/* The scheduler's clock: s->now(s), or fut_now_ns when it has none (or s is NULL). */
static inline uint64_t fut_sched_now(fut_sched *s);

/* A future that settles with the value 0 once s's clock reaches now + ns (fut_delay)
 * or deadline_ns (fut_delay_until), on s. Cancelling it takes the timer back. One
 * allocation (the state with its timer inside). A NULL s gives EINVAL, an s without
 * timers ENOTSUP, allocation failure ENOMEM, a refusing or shut-down scheduler its
 * error. */
FUT__DEF fut_future fut_delay(fut_sched *s, uint64_t ns);
FUT__DEF fut_future fut_delay_until(fut_sched *s, uint64_t deadline_ns);
/* Gives f a deadline: the future returned settles with f's outcome if it comes first,
 * else with ETIMEDOUT at now + ns (fut_timeout) or deadline_ns (fut_deadline) on s's
 * clock - and f is cancelled (upstream work is asked to stop, as by fut_cancel) before
 * the ETIMEDOUT is seen, so its producer's on_cancel hook has run by then.
 * Whichever comes second is dropped (its value destroyed); a timer given up by s
 * (shut down) settles it with that error and cancels f too. Cancelling the result
 * cancels f and takes the timer back. Consumes f. A UINT64_MAX deadline (or ns) is no
 * deadline: f itself comes back, nothing allocated. Otherwise one allocation. A bad f
 * gives EINVAL; a NULL s EINVAL, an s without timers ENOTSUP, allocation failure
 * ENOMEM, a refusing scheduler its error: in each case f is dropped. */
FUT__DEF fut_future fut_timeout(fut_future *f, fut_sched *s, uint64_t ns);
FUT__DEF fut_future fut_deadline(fut_future *f, fut_sched *s, uint64_t deadline_ns);

/* A deferring view of a scheduler, chosen per call: a continuation or spawn given
 * &d->sched goes through base's submit (or submit_many) and never runs inside the call
 * that makes it ready - not in fut_then on a settled future, not in the fut_promise_set
 * or the continuation that settles its input - whatever base's may_inline says. Pass
 * &d.sched where running inline would re-enter the caller (an event loop's callback, a
 * parser, code holding a lock), base where inline is welcome. It adds one indirect call
 * per submit and no state: base must outlive d. A base whose submit runs the task before
 * returning (fut_inline) still runs it during that submit - there is nowhere else.
 * Copies base's workers and env: init d after assigning base->env. Returns 0, or EINVAL
 * for a NULL d or base or a base without submit (d is then left as it was). */
typedef struct fut_deferred {
    fut_sched sched; /* pass &d->sched where a fut_sched * is wanted */
    fut_sched *base;
} fut_deferred;
FUT__DEF int fut_deferred_init(fut_deferred *d, fut_sched *base);

/* ---- create ----------------------------------------------------------------------- */

/* A pending future and the promise that settles it. Returns 0, EINVAL or ENOMEM. */
static inline int fut_promise_new(fut_promise *p, fut_future *f);
/* The same, with states from env's pool and events counted in env's stats (NULL: as
 * fut_promise_new). */
static inline int fut_promise_new_env(fut_promise *p, fut_future *f, const fut_env *env);

/* Ready futures: no allocation, no atomic operation. */
static inline fut_future fut_ready(fut_value v);
static inline fut_future fut_ready_ptr(void *ptr, fut_dtor dtor); /* owns ptr */
static inline fut_future fut_ready_error(int err);                /* err 0 becomes EINVAL */
static inline fut_future fut_ready_result(fut_result r);          /* owns r's value */

/* Moves a handle: returns *f and leaves f spent (a NULL f gives an empty future). */
static inline fut_future fut_move(fut_future *f);

/* ---- settle (producer side) ------------------------------------------------------- */

/* Settle exactly once; each consumes p. Return 0; ECANCELED if the consumer cancelled
 * first (not delivered: the value stays yours, nothing is destroyed); EALREADY if p was
 * already settled or dropped - also through a stale copy of the handle, while the future
 * is still held (once both ends have let go, a copy points at freed memory); EINVAL for a
 * NULL or empty p. With FUT_NO_FUTEX a stale copy used while a waiter is being woken is
 * not caught. */
static inline int fut_promise_set(fut_promise *p, fut_value v);
static inline int fut_promise_set_ptr(fut_promise *p, void *ptr, fut_dtor dtor);
static inline int fut_promise_set_error(fut_promise *p, int err); /* err 0 is EINVAL */
static inline int fut_promise_set_result(fut_promise *p, fut_result r); /* dtor included */
/* Gives up p: an unsettled future settles with FUT_EBROKEN ("broken promise"). */
static inline void fut_promise_drop(fut_promise *p);

/* Cancellation, seen from the producer: a poll, and a hook. The hook runs exactly once,
 * on the cancelling thread, if the future is cancelled before p is settled; from then on
 * it owns ctx. If p is settled or dropped first it never runs. Once cancelled, every
 * registration runs its hook at once on the calling thread and returns ECANCELED; before
 * that, a second hook gets EBUSY. A settled or dropped p gets EALREADY, a NULL p or hook
 * EINVAL. fut_promise_cancelled is 0 for anything but a live, cancelled promise. */
FUT__DEF int fut_promise_cancelled(const fut_promise *p);
FUT__DEF int fut_promise_on_cancel(fut_promise *p, void (*hook)(void *ctx), void *ctx);

/* ---- chain ------------------------------------------------------------------------ */

/* Each consumes f and returns the future of the continuation's result. fn runs on s.
 * then: fn runs on a value; an error passes through untouched.
 * recover: fn runs on an error; a value passes through untouched (destructor included).
 * then_result: fn runs on either and sees the whole outcome (folly's thenTry, Java's
 * handle); return fut_ready_result(r) to pass it on, destructor included.
 * When fn runs inline: when f is already settled and s allows it (may_inline), fn runs
 * at once, inside this call, and its future is returned: no allocation. Otherwise fn
 * runs when f settles: inside that settle (the fut_promise_set, or the continuation
 * that returned), on the settling thread, if s allows it then; else through s->submit.
 * fut_inline always allows it, fut_manual never, fut_workers on its own workers; a
 * fut_deferred view never does, whatever its base says. A NULL s, an s without submit or a NULL fn gives EINVAL (f is still
 * consumed), an empty or spent f EINVAL, allocation failure ENOMEM, a refusing
 * scheduler its error; in every case f's value, if it comes, is destroyed. */
static inline fut_future fut_then(fut_future *f, fut_sched *s, fut_fn fn, void *ctx);
static inline fut_future fut_recover(fut_future *f, fut_sched *s, fut_fn fn, void *ctx);
static inline fut_future fut_then_result(fut_future *f, fut_sched *s, fut_fn fn, void *ctx);

/* Fire and forget: sink(ctx, r) runs on s, exactly once, when f settles, and no future
 * comes back - there is nothing to drop and nothing to leak. r is the sink's (its
 * destructor included: fut_result_drop it, or keep the value). If s refuses the task,
 * sink still runs, with s's error (f's value destroyed first), on the thread where f
 * settled. Inline as fut_then says (a settled f and a may_inline s: sink runs here,
 * and nothing is allocated); otherwise one state. Returns 0 and consumes f; EINVAL for
 * a NULL, empty or spent f, a NULL s, an s without submit or a NULL sink, ENOMEM when
 * no state can be had - in both cases f is left as it was and sink does not run. */
typedef void (*fut_sink_fn)(void *ctx, fut_result r);
static inline int fut_detach(fut_future *f, fut_sched *s, fut_sink_fn sink, void *ctx);
/* As fut_detach, and *h is the sink's handle, to cancel it: fut_cancel(h) before the
 * sink has run cancels f's chain upstream (as fut_cancel on f would) and the sink still
 * runs exactly once, on s, with ECANCELED (f's value, if it came, destroyed) - unless
 * it had already started on another thread, then it finishes with the outcome. *h is a
 * future: 0 once the sink has run, ECANCELED if the cancel won. Yours: fut_drop it when
 * you no longer need it (from inside the sink, say); the sink's own state lives until
 * then, so a cancel through *h is never a stale handle. A sink run inline here leaves a
 * ready *h and allocates nothing. Consumes f on 0 and writes *h. A NULL h is EINVAL;
 * otherwise fut_detach's EINVAL and ENOMEM, with f left as it was and *h emptied. */
static inline int fut_detach_cancellable(fut_future *f, fut_sched *s, fut_sink_fn sink, void *ctx,
                                         fut_future *h);

/* Cleanup that always runs: fn(ctx, err) runs on s exactly once, after f's producer has
 * let go of it - f settled (err: 0 or f's error), or f was cancelled (err ECANCELED:
 * through *f, downstream, or a fut_timeout that fired) and then its producer gave it up:
 * the promise was set or dropped, the job or continuation computing f returned, or -
 * f waiting on an upstream that the cancel reached - f's continuation will never run.
 * So fn may free what f's producer was using (a request's context): attach it to the
 * future of the stage that uses it. If s refuses the task, fn runs with s's error on
 * the thread where it became due. On 0, *f is replaced by the future of f's outcome,
 * settled after fn ran (destructor included), or ECANCELED at once when cancelled - it
 * does not wait for fn. A settled f whose producer is gone, on a may_inline s: fn runs
 * here, *f is left as it was, nothing is allocated; otherwise one state. EINVAL (a NULL,
 * empty or spent f, a NULL s, an s without submit, a NULL fn) and ENOMEM leave f as it
 * was, and fn does not run: ctx is still yours. Not a then: fn cannot change the outcome
 * (that is fut_then_result). */
typedef void (*fut_cleanup_fn)(void *ctx, int err);
FUT__DEF int fut_finally(fut_future *f, fut_sched *s, fut_cleanup_fn fn, void *ctx);

/* Runs fn(ctx, a zero value) on s and returns the future of its result (flattened).
 * Always submitted, never run here. A NULL s or fn gives EINVAL, allocation failure
 * ENOMEM, a refusing scheduler its error. */
static inline fut_future fut_spawn(fut_sched *s, fut_fn fn, void *ctx);
/* As fut_spawn, but not submitted: *task is the job, yours to hand to a scheduler (any
 * path that ends in task->run(task, 0), or task->run(task, err) to refuse it), exactly
 * once. On error (EINVAL, ENOMEM) the future holds it and *task is NULL. */
static inline fut_future fut_spawn_task(fut_sched *s, fut_fn fn, void *ctx, fut_task **task);

/* Inside a continuation or a spawned job (while its fn runs on its scheduler): 1 if the
 * future it will settle has been cancelled meanwhile (fut_cancel on it or downstream,
 * a fut_timeout that fired) - its outcome is unwanted: a long job may stop early and
 * return anything, which is dropped. 0 otherwise, and outside such a fn (a continuation
 * run inline by fut_then on a ready value has no state yet: 0). A producer that is not
 * a fut continuation polls its promise with fut_promise_cancelled instead. */
FUT__DEF int fut_cancelled(void);

/* Fans f out to n futures (1..65535) that all get its outcome, settled in index order
 * (so their continuations start in that order). A pointer value's destructor goes with
 * out[n-1] only; out[0..n-2] borrow the pointer, which lives until out[n-1]'s taker frees
 * it or out[n-1] is dropped or cancelled: attach the owner last. Consumes f on success;
 * returns 0, EINVAL (NULL, n out of range, bad f) or ENOMEM (f untouched). */
FUT__DEF int fut_split(fut_future *f, size_t n, fut_future *out);

/* ---- wait and read ---------------------------------------------------------------- */

static inline int fut_is_ready(const fut_future *f); /* 1 settled, 0 pending or invalid */
/* Block until f settles: a bounded spin, then park (futex on Linux). Borrow f. Return 0,
 * ETIMEDOUT (deadline on the monotonic clock, in ns: fut_now_ns, from stats.h) or
 * EINVAL. */
FUT__DEF int fut_wait(const fut_future *f);
FUT__DEF int fut_wait_until(const fut_future *f, uint64_t deadline_ns);
FUT__DEF int fut_wait_for(const fut_future *f, uint64_t timeout_ns);
/* Takes the outcome if f is settled: returns 0 and consumes f; EAGAIN (pending, f kept)
 * or EINVAL. */
static inline int fut_try_get(fut_future *f, fut_result *out);
/* Waits, then takes the outcome; consumes f. A bad handle gives err EINVAL. */
static inline fut_result fut_get(fut_future *f);
/* Lets go of f without taking its outcome (destroyed when it arrives). Work upstream
 * goes on: dropping is not cancelling. A NULL, empty or spent f is ignored. */
static inline void fut_drop(fut_future *f);

/* ---- cancel ----------------------------------------------------------------------- */

/* Settles a pending f with ECANCELED now and travels upstream: every pending future
 * this one waits on is cancelled too, and a promise at the top sees it (poll, hook).
 * Continuations between them do not run. Borrows f. Returns 0, EALREADY (f had
 * settled) or EINVAL. */
FUT__DEF int fut_cancel(const fut_future *f);

/* ---- writing your own combinator ---------------------------------------------------
 *
 * batch.h is built on this section and the public API alone; a combinator of yours
 * (a quorum, when_n, a race with a default) is written the same way. Its parts:
 *
 *   fut_node   the combinator's output. Embed it in your object; fut_node_future gives
 *              its read end (once). You settle it once with fut_node_settle and let go
 *              with fut_node_release; when the future is also let go (taken, dropped,
 *              cancelled and dropped), ops->free runs - on whichever thread let go
 *              last - and frees your object. If the future is cancelled first,
 *              ops->cancel(n, w) runs on the cancelling thread: cancel your inputs.
 *   fut_input  one input. fut_input_init before the node is shared, then
 *              fut_input_attach consumes a future into it. Its fn runs exactly once per
 *              attached input, with the input's outcome (fn owns it) or with ECANCELED
 *              if fut_input_cancel won; on any thread: the settler's, the canceller's, or
 *              inside fut_input_attach when the future was ready. After fn returns, fut
 *              never touches the input again.
 *   fut_work   the settling thread's pending continuations. Pass on the one your
 *              callback got; outside a callback, fut_work_init one, pass it, then
 *              fut_work_run it (or pass NULL: the call then runs its own). This is what
 *              keeps a million nested combinators off the stack: a delivery queues
 *              the input's fn there instead of calling it (tests/test_batch.c depth).
 *
 * Lifetime rule: your object must stay alive while fut may still call into it. Count it
 * as most nodes do: one for each input (fn's run, the last thing fn does is count
 * down), plus one for the creator while it attaches; who counts the last one settles
 * the output if nobody has, drops outcomes nobody took and calls fut_node_release.
 * fut_input_cancel may run fn at once (it cancelled a linked input): call it only while
 * you hold a count yourself (inside another input's fn, before its count-down, or in
 * ops->cancel, during which the cancelling side keeps the node). A cancel that reaches
 * an input not yet attached is remembered; the attach then cancels what it is given.
 * Orders: everything fn wrote before its count-down is visible to the one who counts
 * the last, if the count-down is an acq_rel fetch_sub (as in batch.h's join). fn runs
 * at most once per input with no lock held: two inputs' fns may run at once.
 * An example from this section alone: examples/12_quorum.c (the first k successes). */
typedef struct fut_work fut_work;
typedef struct fut_node fut_node;
typedef struct fut_input fut_input;
typedef struct fut_node_ops {
    void (*cancel)(fut_node *n, fut_work *w); /* optional: the future was cancelled */
    void (*free)(fut_node *n);                /* required: nobody holds n any more */
} fut_node_ops;
typedef void (*fut_input_fn)(fut_input *in, fut_result r, fut_work *w);

/* Makes w empty. Borrows w; NULL is ignored. */
static inline void fut_work_init(fut_work *w);
/* Runs what w holds, and what that adds, until it is empty. Borrows w; NULL is ignored. */
static inline void fut_work_run(fut_work *w);

/* Prepares n (its memory is yours; ops must outlive it). env (may be NULL) counts its
 * events and gives continuations chained after it their pool. Returns 0 or EINVAL
 * (NULL n, ops or ops->free). */
FUT__DEF int fut_node_init(fut_node *n, const fut_node_ops *ops, const fut_env *env);
/* The node's read end (the consumer hold, yours to consume like any future): call once;
 * a second call, or a NULL or zeroed n, gives an EINVAL future. */
FUT__DEF fut_future fut_node_future(fut_node *n);
/* Settles the output with r. 0: delivered (r is the consumer's now); ECANCELED: the
 * future was cancelled first, EALREADY: settled before, EINVAL: a NULL n - in those
 * cases r is still yours (fut_result_drop it). Settles do not race each other: decide
 * who settles first (batch.h claims with a CAS); a cancel may race any of them. */
FUT__DEF int fut_node_settle(fut_node *n, fut_result r, fut_work *w);
/* The producer side lets go of n (consumes the node's producer hold); an output not yet
 * settled settles with FUT_EBROKEN. Do not touch n afterwards: ops->free may already
 * have run. NULL is ignored. */
FUT__DEF void fut_node_release(fut_node *n);

/* Prepares in (before it is shared); fn must not be NULL (an input without fn drops
 * what it is given). Borrows in; NULL is ignored. */
static inline void fut_input_init(fut_input *in, fut_input_fn fn);
/* Consumes f into in (borrowed until fn has run). An empty, spent or NULL f arrives as
 * EINVAL; a NULL in drops f. Attach each input once. */
static inline void fut_input_attach(fut_input *in, fut_future *f, fut_work *w);
/* Asks in's future to cancel (travelling upstream). Returns 0 if the request was made -
 * fn then gets ECANCELED, unless the outcome was already arriving, when fn gets that -
 * or EALREADY (fn has run or is running), EINVAL for NULL. */
FUT__DEF int fut_input_cancel(fut_input *in, fut_work *w);

/* ======================================================================================
 * Implementation
 * ====================================================================================== */

/* Handle tags. Shared states are allocated, hence aligned: never 1..3. */
enum { FUT__EMPTY = 0, FUT__READY = 1, FUT__READY_ERROR = 2, FUT__SPENT = 3 };

/* The shared state and its state machine.
 *
 * One 32-bit word decides every race on a state; the fields are plain and published by
 * the release on the word. Bits:
 *   SET    the outcome is final                    CANC  settled by a cancel: ECANCELED,
 *   PROD   the producer may still touch the state         the fields are not read
 *   CONS   the consumer side may still touch it    LINK  a consumer record is linked
 *   WAIT   a thread parks on the word              HOOK  a cancel hook is registered
 *   BUSY   the record is moving to a new upstream  RERUN a delivery came while BUSY
 *   WALK   a cancel walk still reads a watched state (below)
 *
 *   transition          by                         from          to
 *   new                 fut_promise_new / chain    -             PROD|CONS
 *   link                consumer (then, split)     !SET          +LINK
 *   settle              producer                   !SET          +SET -PROD -LINK
 *   cancel              consumer, or a walker      !SET          +SET+CANC -LINK
 *   lose                producer finding SET       PROD          -PROD
 *   let go              consumer                   CONS          -CONS
 *   flatten             record                     !SET          +BUSY, then -BUSY
 *   watch               a walk at a cleanup record !SET          +SET+CANC+WALK (LINK kept)
 *   walk done           that walk                  WALK          -WALK
 * Whoever clears the last of PROD and CONS frees the state (after SET, always).
 * Watched states (fut_finally): a cleanup record is not unlinked by a cancel; its
 * upstream keeps LINK, so SET|LINK together means "watched". Whoever clears the last of
 * PROD and WALK there (the producer letting go, or the walk finishing with it) frees
 * the upstream and hands the record ECANCELED: the cleanup runs only once the producer
 * has let go.
 *
 * A consumer record is another state (the output of then/recover/finally, or a split
 * hub) linked through `consumer`. Settling hands the outcome straight into the record's
 * fields and runs or submits it; the upstream state stays alive, held by the link,
 * until the record settles its own state: the winner of that race (the record, or a
 * canceller) lets go of the upstream. A canceller that wins walks up the chain while a
 * record waits idle there, unlinking and cancelling. The one window where a record
 * changes upstream (a continuation returned a pending future) is fenced by BUSY.
 *
 * Rule kept everywhere: after an atomic operation that let go of your hold, do not
 * touch the state again (its other holder may free it at once). */
enum {
    FUT__SET = 1u << 0,
    FUT__CANC = 1u << 1,
    FUT__PROD = 1u << 2,
    FUT__CONS = 1u << 3,
    FUT__LINK = 1u << 4,
    FUT__WAIT = 1u << 5,
    FUT__HOOK = 1u << 6,
    FUT__BUSY = 1u << 7,
    FUT__RERUN = 1u << 8,
    FUT__WALK = 1u << 9
};

/* What produces a state. */
enum { FUT__OP_PROMISE, FUT__OP_THEN, FUT__OP_RECOVER, FUT__OP_FINALLY, FUT__OP_FORWARD,
       FUT__OP_SPLIT, FUT__OP_SPLIT_OUT, FUT__OP_EXT, FUT__OP_SINK, FUT__OP_CLEANUP };

#if !FUT__FUTEX
typedef struct fut__waitblock {
    pthread_mutex_t m;
    pthread_cond_t c;
} fut__waitblock;
#endif

typedef struct fut__state fut__state;
typedef struct fut__link fut__link;
struct fut__state {
    _Atomic(uint32_t) word;
    uint16_t op;
    uint16_t aux;          /* split hub: output count; record: 1 when refused */
    fut_result out;        /* outcome, or the record's input before it runs */
    uintptr_t consumer;    /* valid while LINK: a record (fut__state *), or an extension's
                              fut__link * with the low bit set */
    fut__state *up;        /* record: the state it waits on; split output: unused */
    fut_task task;         /* record: the node given to the scheduler */
    fut_sched *sched;      /* record: where fn runs (NULL: inline, internal records) */
    union {
        fut_fn fn;                /* record: the continuation */
        fut_sink_fn sink;         /* sink record (fut_detach): the continuation */
        fut_cleanup_fn cleanup;   /* cleanup record (fut_finally) */
        void (*hook)(void *ctx);  /* promise: the cancel hook */
        const fut_node_ops *ops;  /* node: its cancel and free */
    } cb;
    void *ctx;
    const fut_env *env;    /* where it came from and where it counts (NULL: malloc) */
#if !FUT__FUTEX
    _Atomic(fut__waitblock *) wb;
#endif
};

/* What the units of one program must agree on: the state's size (FUT_NO_FUTEX adds a
 * field), the state cache, the pool and stats layouts (FUT_CACHE_LINE) and the version.
 * fut_env_init, fut_pool_init and fut_stats_init give EINVAL when the calling unit's
 * value differs from the implementation unit's; a thread's state cache stays off. */
#define FUT__LAYOUT                                                                                 \
    (FUT__POOL_LAYOUT ^ (uint32_t)(sizeof(fut__state) * 257u + (unsigned)FUT__FUTEX * 2u) ^          \
     (uint32_t)(FUT_STATE_CACHE) << 16 ^ (uint32_t)(FUT_VERSION_MAJOR * 100u + FUT_VERSION_MINOR) << 24)

/* A split hub is a record with its outputs after it. */
typedef struct fut__hub {
    fut__state st;
    FUT__FLEX(fut__state *out[]);
} fut__hub;

/* The inline work list of one settle: records ready to run on this thread, and inputs
 * of combinators whose outcome arrived. Draining it in a loop, instead of recursing, is
 * what keeps long chains and nested combinators off the stack. */
struct fut_work {
    fut_task *head, *tail; /* private: a record's task, or an input's (run: the mark) */
};

/* FUT__COLD and FUT__NOINLINE come from stats.h. */

static inline int fut__is_state(uintptr_t tag) { return tag > FUT__SPENT; }
static inline fut__state *fut__st(uintptr_t tag) { return (fut__state *)tag; }

static inline void fut__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}


static inline struct timespec fut__timespec(uint64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

/* ---- outcomes --------------------------------------------------------------------- */

static inline fut_result fut__res(fut_value v, fut_dtor dtor, int err)
{
    fut_result r;
    r.value = err == 0 ? v : fut_u64(0); /* an error carries no value */
    r.dtor = err == 0 ? dtor : NULL;
    r.err = err;
    return r;
}

/* Copies an outcome field by field. A struct copy compiles to one 16-byte load of
 * value and dtor, which cannot be forwarded from the two 8-byte stores that usually
 * wrote them a moment before (a store-forwarding stall on each hop: measured as +25%
 * on pair). */
static inline void fut__copy(fut_result *dst, const fut_result *src)
{
    struct {
        fut_value v;
        fut_dtor d;
    } pair;
    pair.v = src->value;
    pair.d = src->dtor;
    int e = src->err;
    memcpy(dst, &pair, sizeof pair);
    dst->err = e;
}

/* Destroys an outcome nobody will take, where it cannot be cleared (a settled state's
 * fields, or a delivery's const outcome): fut_result_drop on a copy. */
static inline void fut__discard(const fut_result *o)
{
    fut_result r = *o;
    fut_result_drop(&r);
}


/* A consumer that is not a record: an extension's slot (batch.h). Settling calls
 * deliver with the outcome; the link owns the upstream's consumer hold from then on. */
struct fut__link {
    void (*deliver)(fut__link *l, const fut_result *o, fut_work *wl);
};

/* The combinator section's types (complete here because they embed a state). Treat
 * their fields as private. */
struct fut_node {
    fut__state st; /* op EXT; cb.ops; aux: 1 once the future was handed out */
};

struct fut_input {
    fut__link link;          /* linked to the input future's state */
    _Atomic(uint32_t) st;     /* FUT__IN_* */
    fut__state *up;          /* the input's state while linked */
    fut_input_fn fn;
    fut_task task;           /* on the delivering thread's work list (run: the mark) */
    fut_result got;          /* the outcome fn gets when the work list reaches it */
};

/* ---- ready futures and results ---------------------------------------------------- */

static inline fut_future fut_ready(fut_value v)
{
    fut_future f;
    f.tag = FUT__READY;
    f.val = v;
    f.dtor = NULL;
    return f;
}

static inline fut_future fut_ready_ptr(void *ptr, fut_dtor dtor)
{
    fut_future f;
    f.tag = FUT__READY;
    f.val.u64 = 0; /* the whole union: a pointer may be narrower than 64 bits */
    f.val.ptr = ptr;
    f.dtor = dtor;
    return f;
}

static inline fut_future fut_ready_error(int err)
{
    fut_future f;
    f.tag = FUT__READY_ERROR;
    f.val.i64 = err != 0 ? err : EINVAL;
    f.dtor = NULL;
    return f;
}

static inline fut_future fut_ready_result(fut_result r)
{
    if (r.err != 0)
        return fut_ready_error(r.err);
    fut_future f = fut_ready(r.value);
    f.dtor = r.dtor;
    return f;
}

static inline int fut__is_ready_tag(uintptr_t tag) { return tag == FUT__READY || tag == FUT__READY_ERROR; }

/* The outcome a ready handle holds, field by field (see fut__copy). */
static inline void fut__ready_out(fut_result *o, const fut_future *f)
{
    if (f->tag == FUT__READY_ERROR) {
        o->value.u64 = 0;
        o->dtor = NULL;
        o->err = (int)f->val.i64;
    } else {
        o->value = f->val;
        o->dtor = f->dtor;
        o->err = 0;
    }
}

static inline fut_future fut__handle(fut__state *st)
{
    fut_future f;
    f.tag = (uintptr_t)st;
    f.val.u64 = 0;
    f.dtor = NULL;
    return f;
}

static inline fut_future fut_move(fut_future *f)
{
    if (f == NULL)
        return fut__handle(NULL);
    fut_future g = *f;
    if (f->tag != FUT__EMPTY)
        f->tag = FUT__SPENT;
    return g;
}

/* ---- state lifetime --------------------------------------------------------------- */

/* Only what is read before it is written: the outcome fields are written by whoever
 * settles or delivers, `consumer` before LINK, the hook before HOOK, task.run at
 * submission. Not yet shared: the handle's hand-off publishes it. */
static inline void fut__state_init(fut__state *st, unsigned op)
{
    FUT__ATOMIC_INIT(&st->word, FUT__PROD | FUT__CONS);
    st->op = (uint16_t)op;
    st->up = NULL;
#if !FUT__FUTEX
    FUT__ATOMIC_INIT(&st->wb, NULL);
#endif
}

static inline fut_stats *fut__stats_of(const fut_env *env) { return env != NULL ? env->stats : NULL; }

/* The per-thread cache of freed states: a stack, so the most recently freed (warmest)
 * state is reused first. Thread-local, hence no atomics: a state freed on another thread
 * than the one that made it lands in the freeing thread's cache. The first free on a
 * thread arms a pthread key whose destructor frees the cache when the thread exits (the
 * main thread's is freed at exit, or stays reachable). Without a key nothing is cached.
 * The cache, the key and the unload destructor exist once in a program (in the
 * implementation unit), or once per unit with FUT_STATIC. */
typedef struct fut__cache {
    unsigned n;
    int armed; /* 0: not yet; 1: the key holds this cache; -1: no key, cache nothing */
    void *blk[FUT_STATE_CACHE > 0 ? FUT_STATE_CACHE : 1];
} fut__cache;
FUT__DATA FUT__TLS fut__cache fut__tcache;
/* Arms the calling thread's cache; a unit built with another FUT_STATE_CACHE than the
 * implementation unit (layout) gets -1 and so never caches: no write past the array. */
FUT__DEF FUT__COLD int fut__tcache_arm(fut__cache *c, uint32_t layout);

#if FUT_STATE_CACHE > 0
static inline void *fut__state_alloc(void)
{
    fut__cache *c = &fut__tcache;
    return c->n > 0 ? c->blk[--c->n] : FUT_MALLOC(sizeof(fut__state));
}

static inline void fut__state_dealloc(void *st)
{
    fut__cache *c = &fut__tcache;
#ifndef NDEBUG
    for (unsigned i = 0; i < c->n; i++)
        assert(c->blk[i] != st && "fut: a state freed twice (a handle used after it was consumed?)");
#endif
    if (c->n < FUT_STATE_CACHE && (c->armed == 1 || (c->armed == 0 && fut__tcache_arm(c, FUT__LAYOUT) == 1)))
        c->blk[c->n++] = st;
    else
        FUT_FREE(st);
}
#else
static inline void *fut__state_alloc(void) { return FUT_MALLOC(sizeof(fut__state)); }
static inline void fut__state_dealloc(void *st) { FUT_FREE(st); }
#endif

#if FUT__IMPL /* ---- defined once (see Linkage in stats.h) ---- */
static pthread_key_t fut__tcache_key;
static pthread_once_t fut__tcache_once = PTHREAD_ONCE_INIT;
/* Set under pthread_once (which orders it before every arm), cleared at unload. relaxed
 * throughout: a thread that still sees 1 after the unload arms a deleted key, which
 * pthread_setspecific refuses, and then caches nothing. */
static _Atomic(int) fut__tcache_key_ok;

static inline void fut__tcache_drain(fut__cache *c)
{
    while (c->n > 0)
        FUT_FREE(c->blk[--c->n]);
}

static inline void fut__tcache_exit(void *arg)
{
    fut__cache *c = (fut__cache *)arg;
    fut__tcache_drain(c);
    /* The thread is going: what later destructors free is freed at once (arming the key
     * again would not help in the last round of destructors, and would leak). */
    c->armed = -1;
}

static inline void fut__tcache_key_make(void)
{
    atomic_store_explicit(&fut__tcache_key_ok, pthread_key_create(&fut__tcache_key, fut__tcache_exit) == 0,
                          memory_order_relaxed);
}

#if defined(__GNUC__)
/* When code holding this copy of fut's definitions is unloaded (dlclose of a shared
 * library), the key must go first: a thread exiting later would call fut__tcache_exit,
 * no longer mapped. The caches of threads still alive then are not freed (they leak: at
 * most FUT_STATE_CACHE states a thread). */
__attribute__((destructor)) static void fut__tcache_unload(void)
{
    if (atomic_exchange_explicit(&fut__tcache_key_ok, 0, memory_order_relaxed))
        pthread_key_delete(fut__tcache_key);
    fut__tcache_drain(&fut__tcache); /* the unloading thread's own, at least */
    fut__tcache.armed = -1;
}
#endif

FUT__DEF FUT__COLD int fut__tcache_arm(fut__cache *c, uint32_t layout)
{
    pthread_once(&fut__tcache_once, fut__tcache_key_make);
    c->armed = layout == FUT__LAYOUT && atomic_load_explicit(&fut__tcache_key_ok, memory_order_relaxed) &&
                       pthread_setspecific(fut__tcache_key, c) == 0
                   ? 1
                   : -1;
    return c->armed;
}

FUT__DEF void fut_cache_flush(void) { fut__tcache_drain(&fut__tcache); }
#endif /* FUT__IMPL */

FUT__DEF FUT__NOINLINE void *fut__state_alloc_env(const fut_env *env);
FUT__DEF FUT__NOINLINE void fut__state_free_slow(fut__state *st);

#if FUT__IMPL
/* A block for a state with an env: from its pool, else as without one; counted. */
FUT__DEF FUT__NOINLINE void *fut__state_alloc_env(const fut_env *env)
{
    void *st = env->pool != NULL ? fut_pool_acquire(env->pool) : fut__state_alloc();
    if (st != NULL)
        fut_stats_inc(env->stats, FUT_STAT_STATES);
    return st;
}
#endif /* FUT__IMPL */

static inline fut__state *fut__state_new(unsigned op, const fut_env *env)
{
    fut__state *st = (fut__state *)(env != NULL ? fut__state_alloc_env(env) : fut__state_alloc());
    if (st != NULL) {
        fut__state_init(st, op);
        st->env = env;
    }
    return st;
}

#if FUT__IMPL
FUT__DEF FUT__NOINLINE void fut__state_free_slow(fut__state *st)
{
#if !FUT__FUTEX
    fut__waitblock *wb = atomic_load_explicit(&st->wb, memory_order_relaxed);
    if (wb != NULL) {
        pthread_cond_destroy(&wb->c);
        pthread_mutex_destroy(&wb->m);
        FUT_FREE(wb);
    }
#endif
    if (st->op == FUT__OP_EXT)
        st->cb.ops->free((fut_node *)(void *)st); /* a node: its owner frees it */
    else if (st->env != NULL && st->env->pool != NULL)
        (void)fut_pool_release(st->env->pool, st); /* ours: it cannot be refused */
    else
        fut__state_dealloc(st);
}
#endif /* FUT__IMPL */

/* Frees a state nobody holds. Never destroys the outcome: that was taken, handed on or
 * discarded by whoever saw it last. */
static inline void fut__state_free(fut__state *st)
{
#if FUT__FUTEX /* (the condvar fallback always checks for a wait block to free) */
    if (st->env == NULL && st->op != FUT__OP_EXT) {
        fut__state_dealloc(st); /* the common case: no pool, no node */
        return;
    }
#endif
    fut__state_free_slow(st);
}

FUT__DEF FUT__COLD void fut__watch_fire(fut__state *st, fut_work *wl);

/* The producer lets go (it lost to a cancel, or its record was detached); a cleanup
 * record watching st is handed on through wl (NULL: a list of its own). */
static inline void fut__release_prod_wl(fut__state *st, fut_work *wl)
{
    /* acq_rel: release our last touches to whoever frees; acquire theirs if it is us. */
    uint32_t old = atomic_fetch_and_explicit(&st->word, ~(uint32_t)(FUT__PROD | FUT__BUSY),
                                             memory_order_acq_rel);
    if ((old & (FUT__SET | FUT__LINK)) == (FUT__SET | FUT__LINK)) {
        /* Watched (cancelled under a fut_finally): our letting go is its cue, unless a
         * walk still reads st - then the walk fires it when done (fut__walk_done). */
        if (!(old & FUT__WALK))
            fut__watch_fire(st, wl);
        return;
    }
    if (!(old & FUT__CONS))
        fut__state_free(st);
}

static inline void fut__release_prod(fut__state *st) { fut__release_prod_wl(st, NULL); }

/* A settle that lost to a cancel lets go (out of line: rare, and it may fire a cleanup). */
FUT__DEF FUT__COLD void fut__lost(fut__state *st, fut_work *wl);
#if FUT__IMPL
FUT__DEF FUT__COLD void fut__lost(fut__state *st, fut_work *wl) { fut__release_prod_wl(st, wl); }
#endif

/* The consumer side lets go; `seen` is a word it loaded with acquire (or 0). */
static inline void fut__release_cons(fut__state *st, uint32_t seen)
{
    if ((seen & FUT__SET) && !(seen & FUT__PROD)) {
        /* The producer is gone for good (PROD is never set again) and we are the only
         * other holder: free without an atomic RMW. The acquire that saw !PROD pairs
         * with the producer's release. */
        fut__state_free(st);
        return;
    }
    /* acq_rel: as in fut__release_prod. */
    uint32_t old = atomic_fetch_and_explicit(&st->word, ~(uint32_t)FUT__CONS, memory_order_acq_rel);
    if (!(old & FUT__PROD))
        fut__state_free(st);
}

/* Lets go of a state held as consumer, loading its word first: a record's upstream
 * has usually lost its producer already, and then no RMW is needed. */
static inline void fut__let_go(fut__state *st)
{
    /* acquire: seeing !PROD pairs with the producer's release. */
    fut__release_cons(st, atomic_load_explicit(&st->word, memory_order_acquire));
}

/* Takes the outcome of a settled state the caller consumes (w: its word, loaded with
 * acquire, SET) and lets go of it. */
static inline void fut__take(fut_result *o, fut__state *st, uint32_t w)
{
    if (w & FUT__CANC)
        *o = fut__res(fut_u64(0), NULL, ECANCELED); /* the fields were never written */
    else
        fut__copy(o, &st->out);
    fut__release_cons(st, w);
}

/* ---- parking ---------------------------------------------------------------------- */

#if FUT__FUTEX
static inline void fut__wake(fut__state *st)
{
    /* A private futex wake only hashes the address: it is harmless even if the consumer
     * has already freed the state (the same property lets a mutex be destroyed right
     * after unlock). */
    syscall(SYS_futex, (void *)&st->word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0);
}
#else
static inline void fut__wake(fut__state *st)
{
    /* The caller holds the state (fallback settles keep PROD until after this). */
    fut__waitblock *wb = atomic_load_explicit(&st->wb, memory_order_acquire);
    if (wb != NULL) {
        pthread_mutex_lock(&wb->m);
        pthread_cond_broadcast(&wb->c);
        pthread_mutex_unlock(&wb->m);
    }
}
#endif

FUT__DEF int fut__park(fut__state *st, uint64_t deadline_ns);

#if FUT__IMPL
/* Polls st before sleeping; 1 if it settled meanwhile, 0 when it is time to sleep. */
static inline int fut__park_spin(fut__state *st, uint64_t deadline_ns)
{
    /* Before sleeping: a few polls with a pause, for an outcome already on its way from
     * another core, then polls with a yield between them. Yielding, not spinning, is
     * what pays when the settler shares this CPU (fewer cores than threads, or a
     * scheduler that put both on one core): it runs at once, and nobody burns a time
     * slice. Measured on the handoff bench (2 vCPUs): 512 pause polls took 7.6 us a round
     * trip, no polls at all 1.5 us, 8 pauses then yields 0.75 us (bench/README.md).
     * acquire on every poll: the settled outcome is read after this returns. */
    uint64_t until = 0;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&st->word, memory_order_acquire) & FUT__SET)
            return 1;
        if (i < FUT_SPIN) {
            fut__cpu_relax();
            continue;
        }
        /* The yields are bounded in time, not in number: on a busy CPU one yield may
         * give away a whole time slice, and a waiter that keeps coming back for more
         * only takes turns from the threads doing the work. */
        uint64_t now = fut_now_ns();
        if (until == 0)
            until = now + FUT_YIELD_NS;
        if (now >= until || now >= deadline_ns)
            return 0; /* sleep; the sleep also reports a timeout */
        sched_yield();
    }
}

#if FUT__FUTEX
/* Sleeps on the state's word (a futex) until SET or the deadline. 0 or ETIMEDOUT. */
static inline int fut__sleep(fut__state *st, uint64_t deadline_ns)
{
    struct timespec abs = fut__timespec(deadline_ns);
    for (;;) {
        /* acquire: as in the spin above. */
        uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
        if (w & FUT__SET)
            return 0;
        if (!(w & FUT__WAIT)) {
            /* acq_rel: the settler's CAS reads WAIT; either it sees our bit and wakes us,
             * or our CAS fails on its change and we re-read SET. */
            if (!atomic_compare_exchange_weak_explicit(&st->word, &w, w | FUT__WAIT,
                                                       memory_order_acq_rel, memory_order_acquire))
                continue;
            w |= FUT__WAIT;
        }
        if (deadline_ns != UINT64_MAX && fut_now_ns() >= deadline_ns) /* acquire: as above */
            return (atomic_load_explicit(&st->word, memory_order_acquire) & FUT__SET) ? 0 : ETIMEDOUT;
        /* The kernel sleeps only while the word still equals w: no lost wake-up. The
         * bitset form takes an absolute CLOCK_MONOTONIC deadline. */
        syscall(SYS_futex, (void *)&st->word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, w,
                deadline_ns == UINT64_MAX ? NULL : &abs, NULL, FUTEX_BITSET_MATCH_ANY);
    }
}
#else
/* Sleeps on a condition variable hung on the state (made by the first waiter) until SET
 * or the deadline. 0 or ETIMEDOUT. */
static inline int fut__sleep(fut__state *st, uint64_t deadline_ns)
{
    struct timespec abs = fut__timespec(deadline_ns);
    /* acquire: pairs with the CAS that installed the block (its mutex is initialised). */
    fut__waitblock *wb = atomic_load_explicit(&st->wb, memory_order_acquire);
    if (wb == NULL) {
        fut__waitblock *n = (fut__waitblock *)FUT_MALLOC(sizeof *n);
        if (n == NULL) {
            /* No memory for a condition variable: degrade to yielding, still correct.
             * acquire: as in the spin above. */
            while (!(atomic_load_explicit(&st->word, memory_order_acquire) & FUT__SET)) {
                if (deadline_ns != UINT64_MAX && fut_now_ns() >= deadline_ns)
                    return ETIMEDOUT;
                sched_yield();
            }
            return 0;
        }
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&n->c, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&n->m, NULL);
        /* acq_rel: publishes the initialised block; acquire reads a rival's block. */
        if (atomic_compare_exchange_strong_explicit(&st->wb, &wb, n, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            wb = n;
        } else {
            pthread_cond_destroy(&n->c);
            pthread_mutex_destroy(&n->m);
            FUT_FREE(n);
        }
    }
    int rc = 0;
    pthread_mutex_lock(&wb->m);
    /* acq_rel: a settler that sees WAIT takes this mutex before it broadcasts. */
    uint32_t w = atomic_fetch_or_explicit(&st->word, FUT__WAIT, memory_order_acq_rel);
    while (!(w & FUT__SET)) {
        if (deadline_ns == UINT64_MAX) {
            pthread_cond_wait(&wb->c, &wb->m);
        } else if (pthread_cond_timedwait(&wb->c, &wb->m, &abs) == ETIMEDOUT) {
            w = atomic_load_explicit(&st->word, memory_order_acquire); /* acquire: as above */
            rc = (w & FUT__SET) ? 0 : ETIMEDOUT;
            break;
        }
        w = atomic_load_explicit(&st->word, memory_order_acquire); /* acquire: as above */
    }
    pthread_mutex_unlock(&wb->m);
    return rc;
}
#endif

/* Parks until st is SET or the deadline passes. Returns 0 or ETIMEDOUT. */
FUT__DEF int fut__park(fut__state *st, uint64_t deadline_ns)
{
    return fut__park_spin(st, deadline_ns) ? 0 : fut__sleep(st, deadline_ns);
}
#endif /* FUT__IMPL */

/* ---- timer lists (for schedulers: fut_manual, fut_workers) ------------------------- */

/* Timers not yet due, by deadline, in a doubly linked list under the scheduler's lock.
 * Insertion searches from the tail, so timers that come in deadline order (a server
 * giving each request the same timeout) cost O(1); out of order, O(n). A timer out of
 * the list has prev == itself: that is how cancel_timer tells EALREADY. */
static inline int fut__tl_add(fut_timer **head, fut_timer **tail, fut_timer *t)
{
    fut_timer *after = *tail;
    while (after != NULL && after->deadline_ns > t->deadline_ns)
        after = after->prev; /* equal deadlines keep their submit order */
    t->prev = after;
    t->next = after != NULL ? after->next : *head;
    if (t->next != NULL)
        t->next->prev = t;
    else
        *tail = t;
    if (after != NULL)
        after->next = t;
    else
        *head = t;
    return after == NULL; /* the new earliest */
}

static inline int fut__tl_held(const fut_timer *t) { return t->prev != t; }

static inline void fut__tl_remove(fut_timer **head, fut_timer **tail, fut_timer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        *head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    else
        *tail = t->prev;
    t->prev = t->next = t; /* out */
}

/* cancel_timer's body: takes t out if the list still holds it (0), else EALREADY. */
static inline int fut__tl_take(fut_timer **head, fut_timer **tail, fut_timer *t)
{
    if (!fut__tl_held(t))
        return EALREADY;
    fut__tl_remove(head, tail, t);
    return 0;
}

/* Takes out and returns the earliest timer if it is due by `until` (UINT64_MAX: any),
 * else NULL. */
static inline fut_timer *fut__tl_pop(fut_timer **head, fut_timer **tail, uint64_t until)
{
    fut_timer *t = *head;
    if (t == NULL || t->deadline_ns > until)
        return NULL;
    fut__tl_remove(head, tail, t);
    return t;
}

/* ---- the run list ----------------------------------------------------------------- */

static inline void fut__work_add(fut_work *wl, fut_task *t)
{
    t->next = NULL;
    if (wl->tail != NULL)
        wl->tail->next = t;
    else
        wl->head = t;
    wl->tail = t;
}

/* A record: its task's run is cleared (memory reused from an input could hold the mark). */
static inline void fut_work_push(fut_work *wl, fut__state *c)
{
    c->task.run = NULL;
    fut__work_add(wl, &c->task);
}

/* The mark of an input on a work list (defined once: one address in every file). As a
 * task it runs the input's fn on a work list of its own. */
FUT__DEF void fut__work_input(fut_task *t, int err);
/* The mark of a node whose cancel a walk reached; fut__work_node_run runs its
 * ops->cancel on the same work list and lets go of the walk's hold. */
FUT__DEF void fut__work_node(fut_task *t, int err);
FUT__DEF void fut__work_node_run(fut__state *c, fut_work *wl);

static inline void fut__rec_run(fut__state *c, fut_work *wl);

static inline void fut__work_drain(fut_work *wl)
{
    fut_task *t;
    while ((t = wl->head) != NULL) {
        wl->head = t->next; /* read first: running t may free it */
        if (wl->head == NULL)
            wl->tail = NULL;
        if (t->run == NULL) { /* a record (fut_work_push): the common case first */
            fut__rec_run(FUT_CONTAINER_OF(t, fut__state, task), wl);
        } else if (t->run == fut__work_input) {
            fut_input *in = FUT_CONTAINER_OF(t, fut_input, task);
            in->fn(in, in->got, wl); /* fn owns got; after fn nothing touches in */
        } else {
            fut__work_node_run(FUT_CONTAINER_OF(t, fut__state, task), wl); /* fut__work_node */
        }
    }
}

#if FUT__IMPL
FUT__DEF void fut__work_input(fut_task *t, int err)
{
    (void)err;
    fut_work wl = {NULL, NULL};
    fut__work_add(&wl, t);
    fut__work_drain(&wl);
}
#endif

/* The work list of the fut__submit running on this thread, NULL outside one. A scheduler
 * may run a task inside its submit (any user scheduler can: the interface allows it);
 * a record run so is queued here instead of running inside the submit, so that a chain
 * on such a scheduler stays iterative like one on the inline scheduler. Thread-local,
 * no atomics: only this thread's own submit and the task it runs touch it. */
FUT__DATA FUT__TLS fut_work *fut__submitting;

/* The record whose fn runs on this thread now (NULL outside one): what fut_cancelled
 * looks at. Thread-local, no atomics: set and restored around each fn call. */
FUT__DATA FUT__TLS fut__state *fut__running;

/* Record c (its input in c->out) will not run: a refused submit, or a scheduler giving
 * it back. Its input is destroyed and it settles with err through wl rather than from
 * here, so that a chain of refusals stays iterative (aux: pass c->out through). */
static inline void fut__rec_refused(fut__state *c, int err, fut_work *wl)
{
    fut_result in;
    fut__copy(&in, &c->out);
    fut__discard(&in);
    c->out = fut__res(fut_u64(0), NULL, err);
    c->aux = 1;
    fut_work_push(wl, c);
}

/* ---- settling --------------------------------------------------------------------- */

static inline void fut__rec_task(fut_task *t, int err);
static inline void fut__settle_rec(fut__state *c, const fut_result *o, fut_work *wl);

static inline uint64_t fut_sched_now(fut_sched *s)
{
    return s != NULL && s->now != NULL ? s->now(s) : fut_now_ns();
}

/* Defined once: one address, so that fut__may_inline can compare it. */
FUT__DEF int fut__inline_may(fut_sched *s);

FUT__DEF FUT__COLD void fut__submit(fut__state *c, fut_work *wl);

static inline int fut__may_inline(fut_sched *s)
{
    return s->may_inline == fut__inline_may || (s->may_inline != NULL && s->may_inline(s));
}

/* Hands outcome o to the linked record c and runs it inline or submits it. */
static inline void fut__deliver(fut__state *c, const fut_result *o, fut_work *wl)
{
    fut__copy(&c->out, o); /* the record's input */
    fut_sched *s = c->sched;
    if (s == NULL || c->op == FUT__OP_FORWARD) {
        fut_work_push(wl, c); /* internal records: no user code, always here */
        return;
    }
    if (fut__may_inline(s)) {
        fut_stats_inc(fut__stats_of(c->env), FUT_STAT_SCHED_SKIP);
        fut_work_push(wl, c);
        return;
    }
    fut__submit(c, wl);
}

#if FUT__IMPL
/* Hands record c (input already stored) to its scheduler; a refusal settles it. */
FUT__DEF FUT__COLD void fut__submit(fut__state *c, fut_work *wl)
{
    fut_sched *s = c->sched;
    c->task.next = NULL;
    c->task.run = fut__rec_task;
    fut_work *outer = fut__submitting; /* a submit inside a submit: restore it after */
    fut__submitting = wl;
    int err = s->submit(s, &c->task);
    fut__submitting = outer;
    if (err != 0)
        fut__rec_refused(c, err, wl);
}
#endif /* FUT__IMPL */

/* The word a settle CAS writes: SET, and the producer's hold and the link (now used)
 * cleared. The futex-less fallback keeps PROD while a waiter must be signalled. */
static inline uint32_t fut__settled_word(uint32_t w)
{
    uint32_t clear = FUT__PROD | FUT__LINK | FUT__BUSY | FUT__RERUN;
#if !FUT__FUTEX
    if ((w & FUT__WAIT) && (w & FUT__CONS))
        clear &= ~(uint32_t)FUT__PROD;
#endif
    return (w | FUT__SET) & ~clear;
}

FUT__DEF FUT__COLD void fut__settled_rest(fut__state *st, uint32_t w, const fut_result *o, uintptr_t d,
                                          fut_stats *stats, int keep, fut_work *wl);

/* Hands o to whatever is linked: a record, or an extension's link. */
static inline void fut__hand_on(uintptr_t d, const fut_result *o, fut_work *wl)
{
    if (d & 1u) {
        fut__link *l = (fut__link *)(d - 1u);
        l->deliver(l, o, wl);
    } else {
        fut__deliver((fut__state *)d, o, wl);
    }
}

/* The producer settles st with o: the one settle path of promises, records, split
 * outputs and extensions. Returns 1 if it won; 0 if a cancel came first - then o is left
 * to the caller; 2 (promises only) if st was settled through another copy of the handle,
 * whose producer hold is gone, so this call lets nothing go. The producer's hold is let go either way, unless keep is set (an
 * extension whose node lives in st lets go later with fut__release_prod). */
static inline int fut__settle_ex(fut__state *st, const fut_result *o, fut_work *wl, int keep)
{
    /* acquire: if LINK is set, the record's fields (written before its release CAS) are
     * visible, so `consumer` is read here, before we give up our hold. */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    if (!(w & (FUT__LINK | FUT__SET)))
        fut__copy(&st->out, o); /* for a consumer that takes it from st; a linked record gets it
                         handed over instead (LINK is never undone). Never over an
                         outcome already there (a node settled twice). */
    fut_stats *stats = fut__stats_of(st->env); /* now: after the CAS st may be freed */
    uintptr_t d;
    for (;;) {
        if (w & FUT__SET) {
            if (keep)
                return 0;
            if (!(w & FUT__PROD))
                return 2; /* a stale copy of a used handle: the hold is gone already */
            fut__lost(st, wl); /* a cancel won; it never reads the fields */
            return 0;
        }
        d = (w & FUT__LINK) ? st->consumer : 0;
        uint32_t nw = fut__settled_word(w);
        if (keep)
            nw |= FUT__PROD;
        /* acq_rel: release publishes the outcome; acquire orders a free below after the
         * consumer's last access when it let go. */
        if (atomic_compare_exchange_weak_explicit(&st->word, &w, nw, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    /* From here st is touched only where our hold allows. */
    if ((w & (FUT__CONS | FUT__WAIT)) == FUT__CONS && o->err == 0) {
        if (d != 0)
            fut__hand_on(d, o, wl); /* hand the value to the next record */
        return 1;                   /* or leave it for the consumer to take */
    }
    fut__settled_rest(st, w, o, d, stats, keep, wl);
    return 1;
}

static inline int fut__settle(fut__state *st, const fut_result *o, fut_work *wl)
{
    return fut__settle_ex(st, o, wl, 0);
}

#if FUT__IMPL
/* The rest of a won settle: errors counted, no consumer left, waiters to wake. */
FUT__DEF FUT__COLD void fut__settled_rest(fut__state *st, uint32_t w, const fut_result *o, uintptr_t d,
                                          fut_stats *stats, int keep, fut_work *wl)
{
    if (o->err != 0)
        fut_stats_inc(stats, FUT_STAT_ERRORS);
    if (!(w & FUT__CONS)) {
        fut__discard(o); /* the consumer let go before the outcome came */
        if (!keep)
            fut__state_free(st);
        return;
    }
    if (d != 0)
        fut__hand_on(d, o, wl);
#if FUT__FUTEX
    if (w & FUT__WAIT)
        fut__wake(st); /* a private futex wake on a freed address is harmless */
#else
    if (w & FUT__WAIT) {
        fut__wake(st);
        if (!keep)
            fut__release_prod(st); /* the fallback kept PROD to reach the condition variable */
    }
#endif
}
#endif /* FUT__IMPL */

/* A record settles its own state c with o, the result of its continuation. */
static inline void fut__settle_rec(fut__state *c, const fut_result *o, fut_work *wl)
{
    fut__state *up = c->up; /* read before settling: afterwards c may be freed */
    if (!fut__settle(c, o, wl)) {
        fut__discard(o); /* a canceller won: it lets go of the upstream, not us */
        return;
    }
    if (up != NULL)
        fut__let_go(up); /* we won c: the upstream link is ours to let go */
}

/* ---- cancelling (defined once: cancels are rare) ----------------------------------- */

#if FUT__IMPL

/* Tries to settle st by a cancel: SET|CANC|add, and `clear` cleared (LINK, for a walker
 * that takes over the link's hold; WALK added, for one that watches it). Returns 1 with the replaced word in *w if it won; 0 if st
 * had settled. */
static inline int fut__cancel_cas(fut__state *st, uint32_t clear, uint32_t add, uint32_t *w)
{
    uint32_t old = atomic_load_explicit(&st->word, memory_order_acquire);
    for (;;) {
        if (old & FUT__SET)
            return 0;
        /* acq_rel: decides the race with the settler (the loser sees SET); acquire makes
         * the hook and the upstream pointer visible. */
        if (atomic_compare_exchange_weak_explicit(&st->word, &old, (old | FUT__SET | FUT__CANC | add) & ~clear,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            *w = old;
            return 1;
        }
    }
}

static inline void fut__node_cancelled(fut__state *c);

/* How a cancel walk holds the state it is at: the canceller's own handle holds it
 * (OWN), the walk took over the link of the record below (HELD: let go after the step),
 * or a cleanup record below keeps its link and the walk only reads it (WATCHED: WALK is
 * set; fut__walk_done after the step). */
enum { FUT__WALK_OWN, FUT__WALK_HELD, FUT__WALK_WATCHED };

/* The walk is done reading watched st: if its producer let go meanwhile, the cleanup
 * record watching it is ours to fire. */
static inline void fut__walk_done(fut__state *st, fut_work *wl)
{
    /* acq_rel: releases the walk's reads of st to whoever frees it; acquires the
     * producer's last touches if that is us. */
    uint32_t old = atomic_fetch_and_explicit(&st->word, ~(uint32_t)FUT__WALK, memory_order_acq_rel);
    if (!(old & FUT__PROD))
        fut__watch_fire(st, wl);
}

/* st was cancelled under a cleanup record, and now both its producer and the walk have
 * let go: nobody else touches st, whose one hold left is the record's. Frees st and
 * hands the record ECANCELED (the cleanup runs, on its scheduler). */
FUT__DEF FUT__COLD void fut__watch_fire(fut__state *st, fut_work *wl)
{
    /* Plain read: written before the link's release CAS, and every RMW on st's word
     * since (ours, with acquire, last) continues that release sequence. */
    fut__state *c = (fut__state *)st->consumer;
    fut__state_free(st);
    c->up = NULL;
    fut_result o = fut__res(fut_u64(0), NULL, ECANCELED);
    fut_work local = {NULL, NULL};
    fut__deliver(c, &o, wl != NULL ? wl : &local);
    fut__work_drain(&local);
}

/* The caller has just won c by cancelling it (w: the word it replaced). Walks upstream
 * while records wait idle: each upstream still pending is cancelled and its record
 * unlinked - except a cleanup record's (fut_finally): that link stays, and the upstream
 * is watched until its producer lets go. `held` says how the walk holds c (FUT__WALK_*);
 * states reached by the walk are held or watched by it and let go here. A node (a
 * combinator) cancels its own inputs through its ops (fut_input_cancel, which walks on). */
static void fut__cancel_up(fut__state *c, uint32_t w, int held, fut_work *wl)
{
    fut__state *sink = NULL; /* a cancelled sink whose input will never come: ours to run */
    for (;;) {
        fut__state *next = NULL;
        uint32_t nw = 0;
        int next_held = FUT__WALK_HELD;
        if (w & FUT__BUSY) {
            /* c's record is switching upstream and reads SET when it is done: the walk
             * is its own. (op and up are not ours to read now.) */
        } else if (c->op == FUT__OP_PROMISE) {
            if (w & FUT__HOOK)
                c->cb.hook(c->ctx); /* published by the HOOK release, seen by our CAS */
        } else if (c->op == FUT__OP_EXT) {
            if (held == FUT__WALK_HELD && wl != NULL) {
                /* A node reached by the walk: its ops->cancel runs when wl gets to it,
                 * with our hold on it, so nested nodes do not recurse. */
                c->task.run = fut__work_node;
                fut__work_add(wl, &c->task);
                break;
            }
            fut__node_cancelled(c);
        } else if (c->op == FUT__OP_CLEANUP && c->up != NULL) {
            fut__state *a = c->up;
            if (fut__cancel_cas(a, 0, FUT__WALK, &nw)) {
                /* a keeps its link to c (and c its hold on a): a's producer letting go
                 * fires c (fut__watch_fire). We only read a, fenced by WALK. */
                next = a;
                next_held = FUT__WALK_WATCHED;
                fut_stats_inc(fut__stats_of(a->env), FUT_STAT_CANCELLED);
            } else {
                fut__let_go(a); /* a settled first; c's record runs, and cleans up */
            }
        } else if (c->op != FUT__OP_SPLIT_OUT && c->up != NULL) {
            fut__state *a = c->up;
            if (fut__cancel_cas(a, FUT__LINK, 0, &nw)) {
                next = a;
                if (c->op == FUT__OP_SINK)
                    sink = c; /* held by its handle: runs with ECANCELED once the walk is done */
                else
                    fut__release_prod_wl(c, wl); /* c's record is unlinked: it will never run */
                fut_stats_inc(fut__stats_of(a->env), FUT_STAT_CANCELLED);
            } else {
                fut__let_go(a); /* a settled first; its record will lose c */
            }
        }
        if (held == FUT__WALK_HELD)
            fut__release_cons(c, 0);
        else if (held == FUT__WALK_WATCHED)
            fut__walk_done(c, wl);
        if (next == NULL)
            break;
        c = next;
        w = nw;
        held = next_held;
    }
    if (sink != NULL) { /* only ever the walk's first state: nothing consumes a sink */
        fut_result o = fut__res(fut_u64(0), NULL, ECANCELED);
        fut_work local = {NULL, NULL};
        sink->up = NULL;
        fut__deliver(sink, &o, wl != NULL ? wl : &local); /* it reads SET: the rare path */
        fut__work_drain(&local);
    }
}

/* An input's owner holds the consumer hold of a (through its link) and has claimed the
 * input for cancelling. Cancels a if still pending - walking on upstream - and lets go
 * of it. Returns 1 if it cancelled a (no delivery will come), 0 if a had settled first
 * (its outcome is being delivered, and the delivery, finding the input cancelled, drops
 * it). */
FUT__DEF int fut__cancel_input(fut__state *a, fut_work *wl)
{
    uint32_t aw;
    if (!fut__cancel_cas(a, FUT__LINK, 0, &aw)) {
        fut__let_go(a); /* the settler no longer touches a; the input gets the outcome */
        return 0;
    }
    fut_stats_inc(fut__stats_of(a->env), FUT_STAT_CANCELLED);
    fut__cancel_up(a, aw, FUT__WALK_HELD, wl);
    return 1;
}

/* Cancels a state the caller holds as consumer. Returns 0 or EALREADY. */
static inline int fut__cancel_state(fut__state *st)
{
    uint32_t w;
    if (!fut__cancel_cas(st, 0, 0, &w))
        return EALREADY;
    if (w & FUT__WAIT)
        fut__wake(st); /* we hold st (the handle), so it is alive */
    fut_stats_inc(fut__stats_of(st->env), FUT_STAT_CANCELLED);
    fut__cancel_up(st, w, FUT__WALK_OWN, NULL);
    return 0;
}
#endif /* FUT__IMPL */

/* ---- records ---------------------------------------------------------------------- */

static inline void fut__rec_init(fut__state *c, unsigned op, fut_sched *s, fut_fn fn, void *ctx,
                                 fut__state *up)
{
    fut__state_init(c, op);
    c->aux = 0;
    c->sched = s;
    c->cb.fn = fn;
    c->ctx = ctx;
    c->up = up;
}

/* Links a consumer (a record, or a tagged fut__link) to st; the caller holds st's
 * consumer side and hands it to the link. Returns 1 when linked; 0 when st had settled,
 * and then *o holds its outcome and st is let go. */
static inline int fut__attach_ex(fut__state *st, uintptr_t consumer, fut_result *o, int watch)
{
    st->consumer = consumer; /* read by the settler (or a watch's firer) after LINK */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    for (;;) {
        /* watch (a cleanup record, fut_finally): a state cancelled while its producer
         * still holds it is linked too, watched; it fires the record when the producer
         * lets go. A constant at each call site: the test folds away elsewhere. */
        if ((w & FUT__SET) && (!watch || (w & (FUT__CANC | FUT__PROD)) != (FUT__CANC | FUT__PROD))) {
            fut__take(o, st, w);
            return 0;
        }
        /* acq_rel: release publishes `consumer` and the record; on failure acquire
         * makes a settled outcome (or the producer's last touches) readable. */
        if (atomic_compare_exchange_weak_explicit(&st->word, &w, w | FUT__LINK,
                                                  memory_order_acq_rel, memory_order_acquire))
            return 1;
    }
}

static inline int fut__attach(fut__state *st, uintptr_t consumer, fut_result *o)
{
    return fut__attach_ex(st, consumer, o, 0);
}

FUT__DEF void fut__flatten(fut__state *c, fut__state *rs, fut_work *wl);
FUT__DEF void fut__hub_run(fut__state *hub, fut_work *wl);
FUT__DEF int fut__cancel_input(fut__state *a, fut_work *wl);

/* Finishes record c with the future r its continuation returned. */
static inline void fut__rec_finish(fut__state *c, const fut_future *r, fut_work *wl)
{
    fut_result o;
    if (fut__is_state(r->tag)) {
        fut__state *rs = fut__st(r->tag);
        /* acquire: if rs is settled, its outcome is read (fut__take). */
        uint32_t w = atomic_load_explicit(&rs->word, memory_order_acquire);
        if (!(w & FUT__SET)) {
            if (rs == c) {
                /* The continuation returned its own future: c would wait on itself for
                 * ever. Its handle is gone (consumed here), so c settles with EDEADLK
                 * and, nobody holding its consumer side, is freed. */
                fut__release_cons(c, 0); /* c stays: we still hold its producer side */
                o = fut__res(fut_u64(0), NULL, EDEADLK);
                fut__settle_rec(c, &o, wl);
                return;
            }
            fut__flatten(c, rs, wl);
            return;
        }
        fut__take(&o, rs, w);
    } else if (fut__is_ready_tag(r->tag)) {
        fut__ready_out(&o, r);
    } else {
        o = fut__res(fut_u64(0), NULL, EINVAL); /* the continuation returned no future */
    }
    fut__settle_rec(c, &o, wl);
}

FUT__DEF FUT__NOINLINE void fut__rec_run_rare(fut__state *c, uint32_t w, fut_result *inp, fut_work *wl);

/* Runs record c, whose input outcome sits in its fields. */
static inline void fut__rec_run(fut__state *c, fut_work *wl)
{
    if (c->op == FUT__OP_SPLIT) {
        fut__hub_run(c, wl);
        return;
    }
    /* acquire: the canceller's SET, and the fields of a BUSY holder. */
    uint32_t w = atomic_load_explicit(&c->word, memory_order_acquire);
    while (w & FUT__BUSY) {
        /* Another thread is linking c to a new upstream: leave this run to it.
         * acq_rel: publishes the input fields to the BUSY holder. */
        if (atomic_compare_exchange_weak_explicit(&c->word, &w, w | FUT__RERUN, memory_order_acq_rel,
                                                  memory_order_acquire))
            return;
    }
    fut_result in;
    fut__copy(&in, &c->out);
    unsigned op = c->op;
    if ((w & FUT__SET) || op >= FUT__OP_SINK) {
        fut__rec_run_rare(c, w, &in, wl); /* cancelled, a sink or a cleanup: out of line */
        return;
    }
    fut__state *outer = fut__running; /* fn may settle others, whose fns nest */
    if (op == FUT__OP_FORWARD || c->aux != 0 || (op == FUT__OP_THEN && in.err != 0) ||
        (op == FUT__OP_RECOVER && in.err == 0)) {
        fut__settle_rec(c, &in, wl); /* passes through untouched, destructor included */
        return;
    }
    fut__running = c;
    fut_future r = c->cb.fn(c->ctx, c->out); /* the value is the continuation's now */
    fut__running = outer;
    fut__rec_finish(c, &r, wl);
}

#if FUT__IMPL
/* fut__rec_run's rare cases: c was cancelled before it ran (w has SET), or it is a sink
 * (fut_detach) or a cleanup (fut_finally) record, which run whatever the outcome. */
FUT__DEF FUT__NOINLINE void fut__rec_run_rare(fut__state *c, uint32_t w, fut_result *inp, fut_work *wl)
{
    fut_result in = *inp;
    unsigned op = c->op;
    fut__state *outer = fut__running; /* fn may settle others, whose fns nest */
    if (w & FUT__SET) {
        fut__discard(&in); /* cancelled before it ran */
        fut__running = c;
        if (op == FUT__OP_CLEANUP)
            c->cb.cleanup(c->ctx, ECANCELED); /* whatever happens: upstream has let go */
        else if (op == FUT__OP_SINK)
            c->cb.sink(c->ctx, fut__res(fut_u64(0), NULL, ECANCELED)); /* through its handle */
        fut__running = outer;
        fut__release_prod_wl(c, wl);
        return;
    }
    fut__running = c;
    if (op == FUT__OP_CLEANUP)
        c->cb.cleanup(c->ctx, in.err); /* f's outcome, a refusal (aux), or ECANCELED */
    else
        c->cb.sink(c->ctx, in); /* in: f's outcome, or the refusal (aux); the sink's now */
    fut__running = outer;
    if (op == FUT__OP_SINK)
        in = fut__res(fut_u64(0), NULL, 0); /* for a handle (cancellable); else this frees c */
    fut__settle_rec(c, &in, wl); /* a cleanup passes the outcome on, destructor included */
}
#endif /* FUT__IMPL */

/* The scheduler runs a record (err == 0) or gives it back (err != 0). */
static inline void fut__rec_task(fut_task *t, int err)
{
    fut__state *c = FUT_CONTAINER_OF(t, fut__state, task);
    /* Run inside our own submit on this thread: the submitter's list runs it next, so a
     * chain does not recurse once per link through the scheduler. */
    fut_work *outer = fut__submitting;
    fut_work local = {NULL, NULL};
    fut_work *wl = outer != NULL ? outer : &local;
    if (err != 0)
        fut__rec_refused(c, err, wl);
    else if (outer != NULL)
        fut_work_push(outer, c);
    else
        fut__rec_run(c, &local);
    if (outer == NULL)
        fut__work_drain(&local);
}

#if FUT__IMPL
/* c's continuation returned rs, still pending: c now waits on rs. */
FUT__DEF void fut__flatten(fut__state *c, fut__state *rs, fut_work *wl)
{
    fut__state *old_up = c->up;
    uint32_t w = atomic_load_explicit(&c->word, memory_order_acquire);
    for (;;) {
        if (w & FUT__SET) {
            /* Cancelled while the continuation ran: the inner future is unwanted too. */
            fut__cancel_state(rs);
            fut__release_cons(rs, 0);
            fut__release_prod(c);
            return;
        }
        /* acq_rel: while BUSY a canceller leaves the walk (and old_up) to us. */
        if (atomic_compare_exchange_weak_explicit(&c->word, &w, w | FUT__BUSY, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (old_up != NULL)
        fut__let_go(old_up);
    c->up = rs;
    c->op = FUT__OP_FORWARD;
    fut_result o;
    if (!fut__attach(rs, (uintptr_t)c, &o)) {
        c->up = NULL;
        fut__settle_rec(c, &o, wl); /* clears BUSY; loses if cancelled meanwhile */
        return;
    }
    w = atomic_load_explicit(&c->word, memory_order_relaxed);
    /* acq_rel: release publishes up = rs to a later canceller; acquire sees a RERUN
     * delivery's input and a canceller's SET. */
    while (!atomic_compare_exchange_weak_explicit(&c->word, &w, w & ~(uint32_t)(FUT__BUSY | FUT__RERUN),
                                                  memory_order_acq_rel, memory_order_relaxed)) {
    }
    if (w & FUT__SET)
        fut__cancel_up(c, w & ~(uint32_t)FUT__BUSY, FUT__WALK_OWN, NULL); /* cancelled while BUSY: walk it */
    if (w & FUT__RERUN)
        fut_work_push(wl, c); /* rs settled while BUSY: run the delivery now */
}
#endif /* FUT__IMPL */

/* ---- chaining --------------------------------------------------------------------- */

/* fut__chain in four steps. The last: hands a record its input (it runs, or is queued). */
static inline fut_future fut__chain_deliver(fut__state *c, fut_result *in)
{
    fut_work wl = {NULL, NULL};
    fut__deliver(c, in, &wl);
    fut__work_drain(&wl);
    return fut__handle(c);
}

/* The outcome is here: it passes through, or fn runs at once (the scheduler allows it),
 * or a record is made for it. Nothing is allocated on the first two. */
static inline fut_future fut__chain_ready(fut_result *in, fut_sched *s, fut_fn fn, void *ctx, unsigned op,
                                          const fut_env *env)
{
    if ((op == FUT__OP_THEN && in->err != 0) || (op == FUT__OP_RECOVER && in->err == 0)) {
        fut_stats_inc(fut__stats_of(env), FUT_STAT_FAST_PATH);
        return fut_ready_result(*in); /* passes through */
    }
    if (fut__may_inline(s)) {
        fut_stats *stats = fut__stats_of(env);
        fut_stats_inc(stats, FUT_STAT_FAST_PATH);
        fut_stats_inc(stats, FUT_STAT_SCHED_SKIP);
        fut_future r = fn(ctx, *in); /* scheduler skip */
        return r.tag == FUT__EMPTY || r.tag == FUT__SPENT ? fut_ready_error(EINVAL) : r;
    }
    fut__state *c = fut__state_new(op, env);
    if (c == NULL) {
        fut__discard(in);
        return fut_ready_error(ENOMEM);
    }
    fut__rec_init(c, op, s, fn, ctx, NULL);
    return fut__chain_deliver(c, in);
}

/* st is pending: a record is linked to it (the caller's consumer hold goes to the link).
 * If st settles while we link, the record gets the outcome at once. */
static inline fut_future fut__chain_pending(fut__state *st, fut_sched *s, fut_fn fn, void *ctx, unsigned op)
{
    fut__state *c = fut__state_new(op, st->env); /* the chain keeps the env it started with */
    if (c == NULL) {
        fut_future h = fut__handle(st);
        fut_drop(&h);
        return fut_ready_error(ENOMEM);
    }
    fut__rec_init(c, op, s, fn, ctx, st);
    fut_result in;
    if (fut__attach(st, (uintptr_t)c, &in))
        return fut__handle(c);
    c->up = NULL; /* settled while we linked: in holds the outcome, st was let go */
    return fut__chain_deliver(c, &in);
}

/* then / recover / then_result: checks, then the ready or the pending way. */
static inline fut_future fut__chain(fut_future *f, fut_sched *s, fut_fn fn, void *ctx, unsigned op)
{
    if (f == NULL || f->tag == FUT__EMPTY || f->tag == FUT__SPENT)
        return fut_ready_error(EINVAL);
    if (s == NULL || s->submit == NULL || fn == NULL) {
        fut_drop(f);
        return fut_ready_error(EINVAL);
    }
    fut_result in;
    if (!fut__is_state(f->tag)) {
        const fut_env *env = s->env; /* a continuation on a ready value uses its scheduler's */
        fut__ready_out(&in, f);
        f->tag = FUT__SPENT;
        fut_stats_inc(fut__stats_of(env), FUT_STAT_CHAINED);
        return fut__chain_ready(&in, s, fn, ctx, op, env);
    }
    fut__state *st = fut__st(f->tag);
    f->tag = FUT__SPENT;
    /* acquire: a settled outcome is read (fut__take). */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    const fut_env *env = st->env;
    fut_stats_inc(fut__stats_of(env), FUT_STAT_CHAINED);
    if (!(w & FUT__SET))
        return fut__chain_pending(st, s, fn, ctx, op);
    fut__take(&in, st, w);
    return fut__chain_ready(&in, s, fn, ctx, op, env);
}

/* A record that will run fn(ctx, 0) on s, its input stored and its task ready to be
 * submitted (by fut_spawn, or by a batch). NULL when out of memory. */
static inline fut__state *fut__spawn_record(fut_sched *s, fut_fn fn, void *ctx)
{
    fut__state *c = fut__state_new(FUT__OP_THEN, s->env);
    if (c == NULL)
        return NULL;
    fut__rec_init(c, FUT__OP_THEN, s, fn, ctx, NULL);
    fut_stats_inc(fut__stats_of(s->env), FUT_STAT_SPAWNED); /* a job, not a state */
    c->out = fut__res(fut_u64(0), NULL, 0);
    c->task.next = NULL;
    c->task.run = fut__rec_task;
    return c;
}

static inline fut_future fut_spawn(fut_sched *s, fut_fn fn, void *ctx)
{
    if (s == NULL || s->submit == NULL || fn == NULL)
        return fut_ready_error(EINVAL);
    fut__state *c = fut__spawn_record(s, fn, ctx);
    if (c == NULL)
        return fut_ready_error(ENOMEM);
    fut_work wl = {NULL, NULL};
    fut__submit(c, &wl);
    fut__work_drain(&wl);
    return fut__handle(c);
}

static inline fut_future fut_spawn_task(fut_sched *s, fut_fn fn, void *ctx, fut_task **task)
{
    if (task != NULL)
        *task = NULL;
    if (s == NULL || s->submit == NULL || fn == NULL || task == NULL)
        return fut_ready_error(EINVAL);
    fut__state *c = fut__spawn_record(s, fn, ctx);
    if (c == NULL)
        return fut_ready_error(ENOMEM);
    *task = &c->task;
    return fut__handle(c); /* made before the task can run */
}

static inline fut_future fut_then(fut_future *f, fut_sched *s, fut_fn fn, void *ctx)
{
    return fut__chain(f, s, fn, ctx, FUT__OP_THEN);
}

static inline fut_future fut_recover(fut_future *f, fut_sched *s, fut_fn fn, void *ctx)
{
    return fut__chain(f, s, fn, ctx, FUT__OP_RECOVER);
}

static inline fut_future fut_then_result(fut_future *f, fut_sched *s, fut_fn fn, void *ctx)
{
    return fut__chain(f, s, fn, ctx, FUT__OP_FINALLY);
}

/* fut_detach, and with h the cancellable sink: h holds the record's consumer side. */
static inline int fut__detach(fut_future *f, fut_sched *s, fut_sink_fn sink, void *ctx, fut_future *h)
{
    if (h != NULL)
        *h = fut__handle(NULL); /* empty until it succeeds */
    if (f == NULL || f->tag == FUT__EMPTY || f->tag == FUT__SPENT || s == NULL || s->submit == NULL ||
        sink == NULL)
        return EINVAL;
    fut__state *st = fut__is_state(f->tag) ? fut__st(f->tag) : NULL;
    const fut_env *env = st != NULL ? st->env : s->env;
    fut_result in;
    /* acquire: a settled outcome is read (fut__take). */
    uint32_t w = st != NULL ? atomic_load_explicit(&st->word, memory_order_acquire) : (uint32_t)FUT__SET;
    if ((w & FUT__SET) && fut__may_inline(s)) {
        if (st != NULL)
            fut__take(&in, st, w);
        else
            fut__ready_out(&in, f);
        f->tag = FUT__SPENT;
        fut_stats *stats = fut__stats_of(env);
        fut_stats_inc(stats, FUT_STAT_CHAINED);
        fut_stats_inc(stats, FUT_STAT_FAST_PATH);
        fut_stats_inc(stats, FUT_STAT_SCHED_SKIP);
        sink(ctx, in);
        if (h != NULL)
            *h = fut_ready(fut_u64(0));
        return 0;
    }
    fut__state *c = fut__state_new(FUT__OP_SINK, env); /* before f is touched: ENOMEM keeps it */
    if (c == NULL)
        return ENOMEM;
    fut__rec_init(c, FUT__OP_SINK, s, NULL, ctx, st);
    c->cb.sink = sink;
    /* Without h no consumer. c is private until the link or the submit below publishes
     * it (and with it the handle's hand-off to *h). */
    if (h == NULL)
        atomic_store_explicit(&c->word, FUT__PROD, memory_order_relaxed);
    else
        *h = fut__handle(c);
    fut_stats_inc(fut__stats_of(env), FUT_STAT_CHAINED);
    if (st == NULL)
        fut__ready_out(&in, f);
    f->tag = FUT__SPENT;
    if (st != NULL && fut__attach(st, (uintptr_t)c, &in))
        return 0; /* linked: the settle delivers it */
    c->up = NULL;
    fut_work wl = {NULL, NULL};
    fut__deliver(c, &in, &wl);
    fut__work_drain(&wl);
    return 0;
}

static inline int fut_detach(fut_future *f, fut_sched *s, fut_sink_fn sink, void *ctx)
{
    return fut__detach(f, s, sink, ctx, NULL);
}

static inline int fut_detach_cancellable(fut_future *f, fut_sched *s, fut_sink_fn sink, void *ctx,
                                         fut_future *h)
{
    if (h == NULL)
        return EINVAL;
    return fut__detach(f, s, sink, ctx, h);
}

/* ---- split (defined once) --------------------------------------------------------- */

#if FUT__IMPL
/* The cleanup record is linked with fut__attach_ex(..., watch 1): a state cancelled
 * while its producer still holds it is linked too, and fires the record when the
 * producer lets go. */
FUT__DEF int fut_finally(fut_future *f, fut_sched *s, fut_cleanup_fn fn, void *ctx)
{
    if (f == NULL || f->tag == FUT__EMPTY || f->tag == FUT__SPENT || s == NULL || s->submit == NULL ||
        fn == NULL)
        return EINVAL;
    fut__state *st = fut__is_state(f->tag) ? fut__st(f->tag) : NULL;
    const fut_env *env = st != NULL ? st->env : s->env;
    /* acquire: a settled outcome's err is read, and the producer is gone for good. */
    uint32_t w = st != NULL ? atomic_load_explicit(&st->word, memory_order_acquire) : (uint32_t)FUT__SET;
    if ((w & FUT__SET) && !(w & FUT__PROD) && fut__may_inline(s)) {
        int err = st == NULL ? (f->tag == FUT__READY_ERROR ? (int)f->val.i64 : 0)
                             : (w & FUT__CANC) ? ECANCELED : st->out.err;
        fut_stats *stats = fut__stats_of(env);
        fut_stats_inc(stats, FUT_STAT_CHAINED);
        fut_stats_inc(stats, FUT_STAT_FAST_PATH);
        fut_stats_inc(stats, FUT_STAT_SCHED_SKIP);
        fn(ctx, err); /* nothing upstream touches ctx any more; f keeps its outcome */
        return 0;
    }
    fut__state *c = fut__state_new(FUT__OP_CLEANUP, env); /* before f is touched */
    if (c == NULL)
        return ENOMEM;
    fut__rec_init(c, FUT__OP_CLEANUP, s, NULL, ctx, st);
    c->cb.cleanup = fn;
    fut_stats_inc(fut__stats_of(env), FUT_STAT_CHAINED);
    fut_result in;
    if (st == NULL)
        fut__ready_out(&in, f);
    f->tag = FUT__SPENT;
    if (st == NULL || !fut__attach_ex(st, (uintptr_t)c, &in, 1)) {
        c->up = NULL; /* the outcome is here (st, if any, was let go) */
        fut_work wl = {NULL, NULL};
        fut__deliver(c, &in, &wl);
        fut__work_drain(&wl);
    }
    *f = fut__handle(c);
    return 0;
}

FUT__DEF int fut_cancelled(void)
{
    fut__state *c = fut__running;
    /* acquire: pairs with the canceller's acq_rel CAS; a poll, so any order would do for
     * the bit itself, but what the canceller wrote before cancelling is then visible. */
    return c != NULL && (atomic_load_explicit(&c->word, memory_order_acquire) & FUT__CANC) != 0;
}

FUT__DEF void fut__hub_run(fut__state *hub, fut_work *wl)
{
    fut__hub *h = FUT_CONTAINER_OF(hub, fut__hub, st);
    fut_result o;
    fut__copy(&o, &hub->out);
    fut_dtor owner = o.dtor;
    o.dtor = NULL; /* out[0..n-2] borrow the pointer */
    for (unsigned i = 0; i < hub->aux; i++) {
        if (i + 1 == hub->aux)
            o.dtor = owner; /* the last output owns it */
        if (!fut__settle(h->out[i], &o, wl))
            fut__discard(&o); /* that output was cancelled */
    }
    if (hub->up != NULL)
        fut__let_go(hub->up); /* nothing walks through a hub: the link is ours */
    FUT_FREE(h);
}

FUT__DEF int fut_split(fut_future *f, size_t n, fut_future *out)
{
    if (f == NULL || out == NULL || n == 0 || n > UINT16_MAX)
        return EINVAL;
    if (f->tag == FUT__EMPTY || f->tag == FUT__SPENT)
        return EINVAL;
    if (n == 1) {
        out[0] = *f;
        f->tag = FUT__SPENT;
        return 0;
    }
    const fut_env *env = fut__is_state(f->tag) ? fut__st(f->tag)->env : NULL;
    fut__hub *h = (fut__hub *)FUT_MALLOC(sizeof(fut__hub) + n * sizeof(fut__state *));
    if (h == NULL)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        h->out[i] = fut__state_new(FUT__OP_SPLIT_OUT, env);
        if (h->out[i] == NULL) {
            while (i-- > 0)
                fut__state_free(h->out[i]);
            FUT_FREE(h);
            return ENOMEM;
        }
    }
    fut__state_init(&h->st, FUT__OP_SPLIT);
    h->st.env = NULL; /* the hub itself is FUT_MALLOC'd: it frees itself with FUT_FREE */
    h->st.sched = NULL; /* a hub always runs inline: it only hands the outcome on */
    h->st.aux = (uint16_t)n;
    for (size_t i = 0; i < n; i++)
        out[i] = fut__handle(h->out[i]);
    fut_result o;
    if (fut__is_state(f->tag)) {
        fut__state *st = fut__st(f->tag);
        h->st.up = st;
        f->tag = FUT__SPENT;
        if (fut__attach(st, (uintptr_t)&h->st, &o))
            return 0;
        h->st.up = NULL;
    } else {
        fut__ready_out(&o, f);
        f->tag = FUT__SPENT;
    }
    fut_work wl = {NULL, NULL};
    fut__deliver(&h->st, &o, &wl);
    fut__work_drain(&wl);
    return 0;
}
#endif /* FUT__IMPL */

/* ---- nodes and inputs (writing your own combinator) --------------------------------- */

static inline void fut_work_init(fut_work *w)
{
    if (w != NULL)
        w->head = w->tail = NULL;
}

static inline void fut_work_run(fut_work *w)
{
    if (w != NULL)
        fut__work_drain(w);
}

#if FUT__IMPL /* nodes: once per combinator, defined once */
FUT__DEF int fut_node_init(fut_node *n, const fut_node_ops *ops, const fut_env *env)
{
    if (n == NULL || ops == NULL || ops->free == NULL)
        return EINVAL;
    fut__state_init(&n->st, FUT__OP_EXT);
    n->st.aux = 0;
    n->st.env = env;
    n->st.cb.ops = ops;
    return 0;
}

FUT__DEF fut_future fut_node_future(fut_node *n)
{
    if (n == NULL || n->st.op != FUT__OP_EXT || n->st.aux != 0)
        return fut_ready_error(EINVAL);
    n->st.aux = 1; /* the consumer hold is handed out once */
    return fut__handle(&n->st);
}

FUT__DEF int fut_node_settle(fut_node *n, fut_result r, fut_work *w)
{
    if (n == NULL)
        return EINVAL;
    fut_work local = {NULL, NULL};
    fut_work *wl = w != NULL ? w : &local;
    r = fut__res(r.value, r.dtor, r.err);
    if (!fut__settle_ex(&n->st, &r, wl, 1)) {
        /* We keep PROD, so n is alive. relaxed: our own earlier settle, or a cancel
         * seen by the acquire inside fut__settle_ex. */
        return (atomic_load_explicit(&n->st.word, memory_order_relaxed) & FUT__CANC) ? ECANCELED : EALREADY;
    }
    if (wl == &local)
        fut__work_drain(&local);
    return 0;
}

/* Out of line: a node's memory is its owner's (often not from malloc), and a compiler
 * that inlines the generic free path into the caller may warn about a free it cannot
 * see is never taken (op EXT goes to ops->free). */
static FUT__NOINLINE void fut__node_let_go(fut__state *st) { fut__release_prod(st); }

FUT__DEF void fut_node_release(fut_node *n)
{
    if (n == NULL)
        return;
    /* acquire: a cancel's SET (we hold PROD: only we settle otherwise). */
    if (!(atomic_load_explicit(&n->st.word, memory_order_acquire) & FUT__SET)) {
        fut_result e = fut__res(fut_u64(0), NULL, FUT_EBROKEN);
        (void)fut_node_settle(n, e, NULL); /* never settled: a broken promise */
    }
    fut__node_let_go(&n->st); /* may free n */
}

/* A cancel won the node's state: its owner cancels the inputs. */
static inline void fut__node_cancelled(fut__state *c)
{
    const fut_node_ops *ops = c->cb.ops;
    if (ops->cancel != NULL) {
        fut_work wl = {NULL, NULL};
        ops->cancel((fut_node *)(void *)c, &wl);
        fut__work_drain(&wl);
    }
}

/* A walk reached node c (and holds it, as the consumer it took over from a link). */
FUT__DEF void fut__work_node_run(fut__state *c, fut_work *wl)
{
    const fut_node_ops *ops = c->cb.ops;
    if (ops->cancel != NULL)
        ops->cancel((fut_node *)(void *)c, wl);
    fut__release_cons(c, 0);
}

FUT__DEF void fut__work_node(fut_task *t, int err)
{
    (void)err;
    fut_work wl = {NULL, NULL};
    fut__work_node_run(FUT_CONTAINER_OF(t, fut__state, task), &wl);
    fut__work_drain(&wl);
}
#endif /* FUT__IMPL */

/* An input's states. IDLE -> LINKED (attach) -> DONE (a delivery) or CANCELLED (a
 * canceller); IDLE -> CANCEL_REQ (a cancel before the attach linked) -> CANCELLED (the
 * attach, or a canceller racing it) or DONE (a delivery that came first). Each change
 * is one CAS on st, so every race between the attacher, the settler and a canceller
 * has one winner; fn runs once, by whoever moved the input to DONE or CANCELLED and
 * then found nothing on its way (see fut_input_cancel). */
enum { FUT__IN_IDLE, FUT__IN_CANCEL_REQ, FUT__IN_LINKED, FUT__IN_DONE, FUT__IN_CANCELLED };

static inline void fut__input_cancelled_fn(fut_input *in, fut_work *wl)
{
    in->fn(in, fut__res(fut_u64(0), NULL, ECANCELED), wl);
}

/* fn gets r when wl reaches in: a delivery never calls fn from inside a settle, so a
 * settle that fn makes (a nested combinator's) does not recurse. */
static inline void fut__input_later(fut_input *in, fut_result r, fut_work *wl)
{
    in->got = r;
    in->task.run = fut__work_input;
    fut__work_add(wl, &in->task);
}

/* The settler of in's future hands over the outcome (and the link's hold on it). */
static inline void fut__input_deliver(fut__link *l, const fut_result *o, fut_work *wl)
{
    fut_input *in = FUT_CONTAINER_OF(l, fut_input, link);
    /* acquire: a canceller's claim. */
    uint32_t ex = atomic_load_explicit(&in->st, memory_order_acquire);
    for (;;) {
        if (ex == FUT__IN_CANCELLED) {
            /* Claimed by a canceller after the input settled: it let go of the input's
             * state and left fn to us. */
            fut__discard(o);
            fut__input_later(in, fut__res(fut_u64(0), NULL, ECANCELED), wl);
            return;
        }
        /* acq_rel: decides against a canceller (LINKED), a cancel request or the
         * attacher (IDLE). */
        if (atomic_compare_exchange_weak_explicit(&in->st, &ex, FUT__IN_DONE, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    fut__state *up = in->up; /* published by the link's release CAS, which we acquired */
    in->up = NULL;
    fut_result r = *o; /* before the let-go: o may live in up */
    fut__let_go(up); /* we won: the link's hold on the input is ours to let go */
    fut__input_later(in, r, wl);
}

static inline void fut_input_init(fut_input *in, fut_input_fn fn)
{
    if (in == NULL)
        return;
    in->link.deliver = fut__input_deliver;
    FUT__ATOMIC_INIT(&in->st, FUT__IN_IDLE);
    in->up = NULL;
    in->fn = fn;
}

/* in was not linked (its future was ready, or settled as we linked): o goes to fn,
 * unless a cancel was requested first. */
static inline void fut__input_resolve_here(fut_input *in, fut_result o, fut_work *wl)
{
    uint32_t ex = FUT__IN_IDLE;
    /* acq_rel: against a canceller's request (it then leaves the input to us). */
    if (atomic_compare_exchange_strong_explicit(&in->st, &ex, FUT__IN_DONE, memory_order_acq_rel,
                                                memory_order_acquire)) {
        in->fn(in, o, wl);
        return;
    }
    atomic_store_explicit(&in->st, FUT__IN_CANCELLED, memory_order_relaxed); /* ours alone now */
    fut__discard(&o);
    fut__input_cancelled_fn(in, wl);
}

static inline void fut_input_attach(fut_input *in, fut_future *f, fut_work *w)
{
    if (in == NULL || in->fn == NULL) {
        fut_drop(f);
        return;
    }
    fut_work local = {NULL, NULL};
    fut_work *wl = w != NULL ? w : &local;
    fut_result o;
    if (f != NULL && fut__is_state(f->tag)) {
        fut__state *a = fut__st(f->tag);
        f->tag = FUT__SPENT;
        /* acquire: a cancel request; nothing else touches an unlinked input. */
        if (atomic_load_explicit(&in->st, memory_order_acquire) == FUT__IN_CANCEL_REQ) {
            fut_future h = fut__handle(a);
            fut_cancel(&h); /* unwanted: cancel it upstream and drop it, as its owner would */
            fut_drop(&h);
            /* relaxed: an unlinked input with a request is touched by nobody else (a
             * canceller finding CANCEL_REQ returns), so no order is needed. */
            atomic_store_explicit(&in->st, FUT__IN_CANCELLED, memory_order_relaxed);
            fut__input_cancelled_fn(in, wl);
            goto out;
        }
        in->up = a; /* published to the settler by the link, to cancellers by LINKED */
        if (fut__attach(a, (uintptr_t)&in->link | 1u, &o)) {
            uint32_t ex = FUT__IN_IDLE;
            /* acq_rel: LINKED publishes `up` to cancellers; acquire: a request. */
            if (atomic_compare_exchange_strong_explicit(&in->st, &ex, FUT__IN_LINKED, memory_order_acq_rel,
                                                        memory_order_acquire))
                goto out;
            /* ex == DONE: a delivery took the input; nothing is ours. ex == CANCEL_REQ:
             * a cancel came while we linked; claim it against a delivery and cancel.
             * acq_rel: the same race as the delivery's CAS from CANCEL_REQ; the loser
             * sees DONE and leaves fn to the winner. */
            if (ex == FUT__IN_CANCEL_REQ &&
                atomic_compare_exchange_strong_explicit(&in->st, &ex, FUT__IN_CANCELLED, memory_order_acq_rel,
                                                        memory_order_acquire) &&
                fut__cancel_input(a, wl))
                fut__input_cancelled_fn(in, wl); /* no delivery will come */
            goto out;
        }
        in->up = NULL; /* settled as we linked: o holds the outcome, a was let go */
    } else if (f != NULL && fut__is_ready_tag(f->tag)) {
        fut__ready_out(&o, f);
        f->tag = FUT__SPENT;
    } else {
        o = fut__res(fut_u64(0), NULL, EINVAL); /* NULL, empty or spent */
    }
    fut__input_resolve_here(in, o, wl);
out:
    if (wl == &local)
        fut__work_drain(&local);
}

#if FUT__IMPL
FUT__DEF int fut_input_cancel(fut_input *in, fut_work *w)
{
    if (in == NULL)
        return EINVAL;
    /* acquire: LINKED's `up`. */
    uint32_t ex = atomic_load_explicit(&in->st, memory_order_acquire);
    for (;;) {
        uint32_t to;
        if (ex == FUT__IN_IDLE)
            to = FUT__IN_CANCEL_REQ; /* not linked yet: the attach will cancel */
        else if (ex == FUT__IN_LINKED)
            to = FUT__IN_CANCELLED;
        else
            return EALREADY;
        /* acq_rel: one CAS decides against the attacher and the settler. */
        if (atomic_compare_exchange_weak_explicit(&in->st, &ex, to, memory_order_acq_rel, memory_order_acquire)) {
            if (to == FUT__IN_CANCEL_REQ)
                return 0;
            break;
        }
    }
    fut_work local = {NULL, NULL};
    fut_work *wl = w != NULL ? w : &local;
    if (fut__cancel_input(in->up, wl)) /* LINKED: the link's hold is ours now */
        fut__input_cancelled_fn(in, wl);
    if (wl == &local)
        fut__work_drain(&local);
    return 0;
}
#endif /* FUT__IMPL */

/* ---- promises --------------------------------------------------------------------- */

static inline int fut_promise_new(fut_promise *p, fut_future *f) { return fut_promise_new_env(p, f, NULL); }

static inline size_t fut_state_size(void) { return sizeof(fut__state); }

static inline int fut_env_init(fut_env *env, fut_pool *pool, fut_stats *stats)
{
    return fut__env_init(env, pool, stats, FUT__LAYOUT);
}

#if FUT__IMPL
FUT__DEF int fut__env_init(fut_env *env, fut_pool *pool, fut_stats *stats, uint32_t layout)
{
    if (env == NULL || layout != FUT__LAYOUT || (pool != NULL && pool->cfg.size < sizeof(fut__state)))
        return EINVAL;
    env->pool = pool;
    env->stats = stats;
    return 0;
}
#endif

static inline int fut_promise_new_env(fut_promise *p, fut_future *f, const fut_env *env)
{
    if (p == NULL || f == NULL)
        return EINVAL;
    p->tag = FUT__EMPTY;
    *f = fut__handle(NULL);
    if (env != NULL && env->pool != NULL && env->pool->cfg.size < sizeof(fut__state))
        return EINVAL; /* the pool's objects cannot hold a state */
    fut__state *st = fut__state_new(FUT__OP_PROMISE, env);
    if (st == NULL)
        return ENOMEM;
    p->tag = (uintptr_t)st;
    *f = fut__handle(st);
    return 0;
}

static inline int fut__promise_settle(fut_promise *p, fut_value v, fut_dtor dtor, int err)
{
    if (p == NULL)
        return EINVAL;
    if (p->tag == FUT__SPENT)
        return EALREADY;
    if (!fut__is_state(p->tag))
        return EINVAL;
    fut__state *st = fut__st(p->tag);
    p->tag = FUT__SPENT;
    fut_result o;
    o = fut__res(v, dtor, err);
    fut_work wl = {NULL, NULL};
    int won = fut__settle(st, &o, &wl);
    fut__work_drain(&wl); /* lost too: letting go may have fired a cleanup (fut_finally) */
    if (won != 1) /* the value stays the caller's */
        return won == 0 ? ECANCELED : EALREADY;
    return 0;
}

static inline int fut_promise_set_result(fut_promise *p, fut_result r)
{
    return fut__promise_settle(p, r.value, r.dtor, r.err);
}

static inline int fut_promise_set(fut_promise *p, fut_value v) { return fut__promise_settle(p, v, NULL, 0); }

static inline int fut_promise_set_ptr(fut_promise *p, void *ptr, fut_dtor dtor)
{
    return fut__promise_settle(p, fut_ptr(ptr), dtor, 0);
}

static inline int fut_promise_set_error(fut_promise *p, int err)
{
    return fut__promise_settle(p, fut_u64(0), NULL, err != 0 ? err : EINVAL);
}

static inline void fut_promise_drop(fut_promise *p)
{
    if (p != NULL && fut__is_state(p->tag))
        (void)fut_promise_set_error(p, FUT_EBROKEN);
}

#if FUT__IMPL
FUT__DEF int fut_promise_cancelled(const fut_promise *p)
{
    if (p == NULL || !fut__is_state(p->tag))
        return 0;
    /* acquire: a producer that sees the cancel may read what the canceller wrote. */
    return (atomic_load_explicit(&fut__st(p->tag)->word, memory_order_acquire) & FUT__CANC) != 0;
}

FUT__DEF int fut_promise_on_cancel(fut_promise *p, void (*hook)(void *ctx), void *ctx)
{
    if (p != NULL && hook != NULL && p->tag == FUT__SPENT)
        return EALREADY; /* settled or dropped: it can no longer be cancelled */
    if (p == NULL || hook == NULL || !fut__is_state(p->tag))
        return EINVAL;
    fut__state *st = fut__st(p->tag);
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    if ((w & FUT__HOOK) && !(w & FUT__SET))
        return EBUSY; /* once cancelled, every registration runs at once (below) */
    if (!(w & FUT__SET)) {
        /* Written before HOOK is set; a canceller reads them only if it saw HOOK. */
        st->cb.hook = hook;
        st->ctx = ctx;
        for (;;) {
            /* acq_rel: release publishes the hook to the canceller's acquiring CAS. */
            if (atomic_compare_exchange_weak_explicit(&st->word, &w, w | FUT__HOOK, memory_order_acq_rel,
                                                      memory_order_acquire))
                return 0;
            if (w & FUT__SET)
                break;
        }
    }
    hook(ctx); /* a live promise whose state is SET was cancelled */
    return ECANCELED;
}

#endif /* FUT__IMPL */

/* ---- futures: read, wait, drop, cancel --------------------------------------------- */

static inline int fut_is_ready(const fut_future *f)
{
    if (f == NULL)
        return 0;
    if (fut__is_ready_tag(f->tag))
        return 1;
    if (!fut__is_state(f->tag))
        return 0;
    /* acquire: a caller that sees 1 may read the outcome next. */
    return (atomic_load_explicit(&fut__st(f->tag)->word, memory_order_acquire) & FUT__SET) != 0;
}

#if FUT__IMPL
FUT__DEF int fut_wait_until(const fut_future *f, uint64_t deadline_ns)
{
    if (f == NULL || f->tag == FUT__EMPTY || f->tag == FUT__SPENT)
        return EINVAL;
    if (!fut__is_state(f->tag))
        return 0;
    fut__state *st = fut__st(f->tag);
    /* acquire: as in fut_is_ready. */
    if (atomic_load_explicit(&st->word, memory_order_acquire) & FUT__SET)
        return 0;
    fut_stats *stats = fut__stats_of(st->env);
    if (stats == NULL)
        return fut__park(st, deadline_ns);
    uint64_t t0 = fut_now_ns();
    int rc = fut__park(st, deadline_ns);
    fut_stats_inc(stats, FUT_STAT_AWAITED);
    fut_stats_time(stats, fut_now_ns() - t0); /* how long it waited */
    return rc;
}

FUT__DEF int fut_wait(const fut_future *f) { return fut_wait_until(f, UINT64_MAX); }

FUT__DEF int fut_wait_for(const fut_future *f, uint64_t timeout_ns)
{
    uint64_t now = fut_now_ns();
    uint64_t deadline = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
    return fut_wait_until(f, deadline);
}

#endif /* FUT__IMPL */

static inline int fut_try_get(fut_future *f, fut_result *out)
{
    if (f == NULL || out == NULL || f->tag == FUT__EMPTY || f->tag == FUT__SPENT)
        return EINVAL;
    fut_result o;
    if (!fut__is_state(f->tag)) {
        fut__ready_out(&o, f);
    } else {
        fut__state *st = fut__st(f->tag);
        /* acquire: pairs with the settler's release; the outcome fields are read next. */
        uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
        if (!(w & FUT__SET))
            return EAGAIN;
        fut__take(&o, st, w);
    }
    f->tag = FUT__SPENT;
    fut__copy(out, &o); /* the value is the caller's now */
    return 0;
}

static inline fut_result fut_get(fut_future *f)
{
    fut_result r;
    int err = fut_wait(f);
    if (err == 0)
        err = fut_try_get(f, &r);
    return err != 0 ? fut_error(err) : r;
}

static inline void fut_drop(fut_future *f)
{
    if (f == NULL || f->tag == FUT__EMPTY || f->tag == FUT__SPENT)
        return;
    fut_result o;
    if (!fut__is_state(f->tag)) {
        fut__ready_out(&o, f);
        f->tag = FUT__SPENT;
        fut__discard(&o);
        return;
    }
    fut__state *st = fut__st(f->tag);
    f->tag = FUT__SPENT;
    /* acquire: a settled outcome is read and destroyed (fut__take). */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    for (;;) {
        if (w & FUT__SET) {
            fut__take(&o, st, w);
            fut__discard(&o);
            return;
        }
        /* acq_rel: after this the producer alone holds st and frees it on settle. */
        if (atomic_compare_exchange_weak_explicit(&st->word, &w, w & ~(uint32_t)FUT__CONS,
                                                  memory_order_acq_rel, memory_order_acquire))
            return;
    }
}

#if FUT__IMPL
FUT__DEF int fut_cancel(const fut_future *f)
{
    if (f == NULL || f->tag == FUT__EMPTY || f->tag == FUT__SPENT)
        return EINVAL;
    if (!fut__is_state(f->tag))
        return EALREADY;
    return fut__cancel_state(fut__st(f->tag));
}

/* ---- error codes ------------------------------------------------------------------ */

FUT__DEF const char *fut_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case FUT_EBROKEN: return "broken promise: the promise was dropped unsettled";
    case ECANCELED: return "cancelled";
    case FUT_ESHUTDOWN: return "shut down: the scheduler refuses new tasks";
    case ETIMEDOUT: return "timed out";
    case EAGAIN: return "not ready, or the queue is full: try again";
    case EALREADY: return "already settled";
    case EBUSY: return "busy: in use";
    case EINVAL: return "invalid argument: NULL, empty, spent or destroyed";
    case ENOMEM: return "out of memory";
    case ENOENT: return "no input to choose from";
    default: return strerror(err);
    }
}

#endif /* FUT__IMPL */

/* ---- schedulers ------------------------------------------------------------------- */

static inline int fut_sched_submit(fut_sched *s, fut_task *t)
{
    if (s == NULL || t == NULL || t->run == NULL || s->submit == NULL)
        return EINVAL;
    int err = s->submit(s, t);
    if (err != 0)
        t->run(t, err);
    return err;
}

#if FUT__IMPL
FUT__DEF size_t fut_sched_submit_many(fut_sched *s, fut_task *head, size_t n)
{
    if (s == NULL || s->submit == NULL || head == NULL || n == 0)
        return 0;
    size_t accepted = 0;
    int err = 0;
    fut_task *t = head;
    if (s->submit_many != NULL) {
        t = s->submit_many(s, head, n, &err);
        if (t == NULL)
            return n;
        size_t refused = 0;
        for (fut_task *r = t; r != NULL; r = r->next)
            refused++;
        accepted = n - refused; /* the refused rest is still linked behind t */
    }
    while (t != NULL) {
        fut_task *next = t->next; /* read first: a submitted task may run at once */
        int e = err != 0 ? err : s->submit(s, t);
        if (e != 0)
            t->run(t, e);
        else
            accepted++;
        t = next;
    }
    return accepted;
}

static inline int fut__inline_submit(fut_sched *s, fut_task *t)
{
    (void)s;
    t->run(t, 0);
    return 0;
}

FUT__DEF int fut__inline_may(fut_sched *s)
{
    (void)s;
    return 1;
}

FUT__DEF void fut_inline_init(fut_sched *s)
{
    if (s == NULL)
        return;
    s->submit = fut__inline_submit;
    s->submit_many = NULL;
    s->may_inline = fut__inline_may;
    s->workers = 1;
    s->env = NULL;
    s->submit_at = NULL; /* no clock to wait on: timers need a queue */
    s->cancel_timer = NULL;
    s->now = NULL;
}

static int fut__deferred_submit(fut_sched *s, fut_task *t)
{
    fut_sched *b = ((fut_deferred *)(void *)s)->base;
    return b->submit(b, t);
}

static fut_task *fut__deferred_submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    fut_sched *b = ((fut_deferred *)(void *)s)->base;
    return b->submit_many(b, head, n, err); /* set only when base has one */
}

static int fut__deferred_submit_at(fut_sched *s, fut_timer *t)
{
    fut_sched *b = ((fut_deferred *)(void *)s)->base;
    return b->submit_at(b, t);
}

static int fut__deferred_cancel_timer(fut_sched *s, fut_timer *t)
{
    fut_sched *b = ((fut_deferred *)(void *)s)->base;
    return b->cancel_timer(b, t);
}

static uint64_t fut__deferred_now(fut_sched *s)
{
    fut_sched *b = ((fut_deferred *)(void *)s)->base;
    return b->now(b);
}

FUT__DEF int fut_deferred_init(fut_deferred *d, fut_sched *base)
{
    if (d == NULL || base == NULL || base->submit == NULL)
        return EINVAL;
    d->sched.submit = fut__deferred_submit;
    d->sched.submit_many = base->submit_many != NULL ? fut__deferred_submit_many : NULL;
    d->sched.may_inline = NULL; /* the point: never inline */
    d->sched.workers = base->workers;
    d->sched.env = base->env;
    d->sched.submit_at = base->submit_at != NULL ? fut__deferred_submit_at : NULL;
    d->sched.cancel_timer = base->cancel_timer != NULL ? fut__deferred_cancel_timer : NULL;
    d->sched.now = base->now != NULL ? fut__deferred_now : NULL;
    d->base = base;
    return 0;
}

static inline uint64_t fut__manual_clock(const fut_manual *m)
{
    return m->virtual_clock ? m->clock_ns : fut_now_ns();
}

/* Under m's lock: moves each due timer's task to the end of the queue. */
static inline void fut__manual_due(fut_manual *m)
{
    if (m->timers == NULL)
        return;
    uint64_t now = fut__manual_clock(m);
    fut_timer *t;
    while ((t = fut__tl_pop(&m->timers, &m->timers_tail, now)) != NULL) {
        t->task.next = NULL;
        if (m->tail != NULL)
            m->tail->next = &t->task;
        else
            m->head = &t->task;
        m->tail = &t->task;
        m->pending++;
    }
}

static int fut__manual_submit_at(fut_sched *s, fut_timer *t)
{
    fut_manual *m = (fut_manual *)(void *)s;
    if (!m->alive)
        return FUT_ESHUTDOWN;
    pthread_mutex_lock(&m->lock);
    int err = m->closed ? FUT_ESHUTDOWN : 0;
    if (err == 0 && fut__tl_add(&m->timers, &m->timers_tail, t)) {
        pthread_cond_broadcast(&m->ready); /* a waiter sleeps until the earliest deadline */
        if (m->notify != NULL)
            m->notify(m->notify_ctx); /* the loop re-arms its timer */
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

static int fut__manual_cancel_timer(fut_sched *s, fut_timer *t)
{
    fut_manual *m = (fut_manual *)(void *)s;
    if (!m->alive)
        return EALREADY; /* destroy ran every timer */
    pthread_mutex_lock(&m->lock);
    int err = fut__tl_take(&m->timers, &m->timers_tail, t);
    pthread_mutex_unlock(&m->lock);
    return err;
}

static uint64_t fut__manual_now(fut_sched *s)
{
    fut_manual *m = (fut_manual *)(void *)s;
    if (!m->alive)
        return fut_now_ns();
    pthread_mutex_lock(&m->lock); /* clock_ns moves under the lock */
    uint64_t now = fut__manual_clock(m);
    pthread_mutex_unlock(&m->lock);
    return now;
}

FUT__DEF int fut_manual_set_clock(fut_manual *m, uint64_t now_ns)
{
    if (m == NULL || !m->alive)
        return EINVAL;
    pthread_mutex_lock(&m->lock);
    int err = m->virtual_clock && now_ns < m->clock_ns ? EINVAL : 0; /* never backwards */
    if (err == 0) {
        m->virtual_clock = 1;
        m->clock_ns = now_ns;
        fut__manual_due(m);
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

FUT__DEF int fut_manual_advance(fut_manual *m, uint64_t ns)
{
    if (m == NULL || !m->alive)
        return EINVAL;
    pthread_mutex_lock(&m->lock);
    int err = m->virtual_clock ? 0 : EINVAL;
    if (err == 0) {
        m->clock_ns = ns > UINT64_MAX - m->clock_ns ? UINT64_MAX : m->clock_ns + ns;
        size_t before = m->pending;
        fut__manual_due(m);
        if (m->pending != before)
            pthread_cond_broadcast(&m->ready);
        if (before == 0 && m->pending != 0 && m->notify != NULL)
            m->notify(m->notify_ctx);
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

FUT__DEF uint64_t fut_manual_next_deadline(fut_manual *m)
{
    if (m == NULL || !m->alive)
        return UINT64_MAX;
    pthread_mutex_lock(&m->lock);
    uint64_t d = m->timers != NULL ? m->timers->deadline_ns : UINT64_MAX;
    pthread_mutex_unlock(&m->lock);
    return d;
}

static inline int fut__manual_submit_list(fut_manual *m, fut_task *head, fut_task *last, size_t n)
{
    if (!m->alive)
        return FUT_ESHUTDOWN; /* destroyed: its mutex is gone too */
    pthread_mutex_lock(&m->lock);
    int err = 0;
    if (m->closed)
        err = FUT_ESHUTDOWN;
    else if (m->capacity != 0 && m->capacity - m->pending < n)
        err = EAGAIN;
    if (err == 0) {
        last->next = NULL;
        if (m->tail != NULL)
            m->tail->next = head;
        else
            m->head = head;
        m->tail = last;
        int was_empty = m->pending == 0; /* empty -> non-empty: the loop may be asleep */
        m->pending += n;
        pthread_cond_broadcast(&m->ready);
        if (was_empty && m->notify != NULL)
            m->notify(m->notify_ctx); /* under the lock: never after fut_manual_close */
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

static inline int fut__manual_submit(fut_sched *s, fut_task *t)
{
    return fut__manual_submit_list((fut_manual *)(void *)s, t, t, 1);
}

static inline fut_task *fut__manual_submit_many(fut_sched *s, fut_task *head, size_t n, int *err)
{
    fut_task *last = head;
    for (size_t i = 1; i < n; i++)
        last = last->next;
    *err = fut__manual_submit_list((fut_manual *)(void *)s, head, last, n);
    return *err == 0 ? NULL : head; /* all or nothing */
}

FUT__DEF int fut_manual_init(fut_manual *m, size_t capacity)
{
    if (m == NULL)
        return EINVAL;
    int err = pthread_mutex_init(&m->lock, NULL);
    if (err != 0)
        return err;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    err = pthread_cond_init(&m->ready, &ca);
    pthread_condattr_destroy(&ca);
    if (err != 0) {
        pthread_mutex_destroy(&m->lock);
        return err;
    }
    m->sched.submit = fut__manual_submit;
    m->sched.submit_many = fut__manual_submit_many;
    m->sched.may_inline = NULL;
    m->sched.workers = 1;
    m->sched.env = NULL;
    m->head = m->tail = NULL;
    m->pending = 0;
    m->capacity = capacity;
    m->closed = 0;
    m->alive = 1;
    m->notify = NULL;
    m->notify_ctx = NULL;
    m->sched.submit_at = fut__manual_submit_at;
    m->sched.cancel_timer = fut__manual_cancel_timer;
    m->sched.now = fut__manual_now;
    m->timers = m->timers_tail = NULL;
    m->clock_ns = 0;
    m->virtual_clock = 0;
    return 0;
}

FUT__DEF int fut_manual_set_notify(fut_manual *m, void (*notify)(void *ctx), void *ctx)
{
    if (m == NULL || !m->alive)
        return EINVAL;
    pthread_mutex_lock(&m->lock);
    m->notify = notify;
    m->notify_ctx = ctx;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static inline fut_task *fut__manual_pop(fut_manual *m)
{
    pthread_mutex_lock(&m->lock);
    fut__manual_due(m);
    fut_task *t = m->head;
    if (t != NULL) {
        m->head = t->next;
        if (m->head == NULL)
            m->tail = NULL;
        m->pending--;
    }
    pthread_mutex_unlock(&m->lock);
    return t;
}

FUT__DEF int fut_manual_run_one(fut_manual *m)
{
    if (m == NULL || !m->alive)
        return 0;
    fut_task *t = fut__manual_pop(m);
    if (t == NULL)
        return 0;
    t->run(t, 0);
    return 1;
}

FUT__DEF size_t fut_manual_run_all(fut_manual *m)
{
    size_t n = 0;
    while (fut_manual_run_one(m))
        n++;
    return n;
}

FUT__DEF size_t fut_manual_pending(fut_manual *m)
{
    if (m == NULL || !m->alive)
        return 0;
    pthread_mutex_lock(&m->lock);
    fut__manual_due(m);
    size_t n = m->pending;
    pthread_mutex_unlock(&m->lock);
    return n;
}

FUT__DEF void fut_manual_close(fut_manual *m)
{
    if (m == NULL || !m->alive)
        return;
    pthread_mutex_lock(&m->lock);
    m->closed = 1;
    pthread_cond_broadcast(&m->ready);
    pthread_mutex_unlock(&m->lock);
}

FUT__DEF int fut_manual_wait(fut_manual *m, uint64_t deadline_ns)
{
    if (m == NULL || !m->alive)
        return EINVAL;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (fut__manual_due(m); m->pending == 0; fut__manual_due(m)) {
        if (m->closed && m->timers == NULL) {
            rc = FUT_ESHUTDOWN;
            break;
        }
        /* Sleep until the caller's deadline or the earliest timer's, whichever is first
         * (a virtual clock's timers come due only by advance, which signals). */
        uint64_t until = deadline_ns;
        if (!m->virtual_clock && m->timers != NULL && m->timers->deadline_ns < until)
            until = m->timers->deadline_ns;
        if (until == UINT64_MAX) {
            pthread_cond_wait(&m->ready, &m->lock);
            continue;
        }
        struct timespec abs = fut__timespec(until);
        if (pthread_cond_timedwait(&m->ready, &m->lock, &abs) == ETIMEDOUT && until == deadline_ns &&
            fut_now_ns() >= deadline_ns) {
            fut__manual_due(m);
            rc = m->pending != 0 ? 0 : ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

FUT__DEF void fut_manual_destroy(fut_manual *m)
{
    if (m == NULL || !m->alive)
        return;
    fut_manual_close(m);
    fut_task *t;
    while ((t = fut__manual_pop(m)) != NULL)
        t->run(t, FUT_ESHUTDOWN);
    for (;;) { /* timers not yet due: given up, in deadline order */
        pthread_mutex_lock(&m->lock);
        fut_timer *tm = fut__tl_pop(&m->timers, &m->timers_tail, UINT64_MAX);
        pthread_mutex_unlock(&m->lock);
        if (tm == NULL)
            break;
        tm->task.run(&tm->task, FUT_ESHUTDOWN);
    }
    m->alive = 0;
    pthread_cond_destroy(&m->ready);
    pthread_mutex_destroy(&m->lock);
}


/* ---- timers: fut_delay, fut_timeout (on the combinator section) ------------------- */

/* The output node, the timer and (for a timeout) the input, in one allocation. refs
 * counts who may still touch it: the creator while it sets up, the timer until its run
 * (or a cancel_timer that took it back), the input until its fn. won decides who
 * settles the output: the input's outcome or the timer. */
typedef struct fut__timed {
    fut_node node;
    fut_input in;
    fut_timer timer;
    fut_sched *sched;
    _Atomic(uint32_t) refs;
    _Atomic(uint32_t) won;
    int has_input;
} fut__timed;

static void fut__timed_free(fut_node *n) { FUT_FREE(FUT_CONTAINER_OF(n, fut__timed, node)); }

static void fut__timed_unref(fut__timed *t)
{
    /* acq_rel: what each holder did happens before the release (and the free) below. */
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        fut_node_release(&t->node); /* ops->free once the consumer lets go too */
}

static int fut__timed_claim(fut__timed *t)
{
    uint32_t no = 0;
    /* relaxed: the CAS only picks one winner; the output's settle publishes the outcome. */
    return atomic_compare_exchange_strong_explicit(&t->won, &no, 1, memory_order_relaxed,
                                                   memory_order_relaxed);
}

/* Takes the timer back if it is not due yet; then it will not run and its ref is ours. */
static void fut__timed_stop_timer(fut__timed *t)
{
    if (t->sched->cancel_timer != NULL && t->sched->cancel_timer(t->sched, &t->timer) == 0)
        fut__timed_unref(t);
}

/* The timer came due (err 0) or was given up (err: the scheduler's). */
static void fut__timed_fire(fut_task *task, int err)
{
    fut__timed *t = FUT_CONTAINER_OF(task, fut__timed, timer.task);
    fut_work wl;
    fut_work_init(&wl);
    if (fut__timed_claim(t)) {
        /* f is cancelled first, so that whoever sees ETIMEDOUT knows the producer was
         * told (its on_cancel hook has run). We still hold our ref: allowed. */
        if (t->has_input)
            (void)fut_input_cancel(&t->in, &wl);
        fut_result r = err != 0 ? fut_error(err) : t->has_input ? fut_error(ETIMEDOUT) : fut_ok(fut_u64(0));
        (void)fut_node_settle(&t->node, r, &wl); /* an error or 0: nothing to drop */
    }
    fut__timed_unref(t);
    fut_work_run(&wl);
}

/* f's outcome (or ECANCELED after a cancel) arrives. */
static void fut__timed_input(fut_input *in, fut_result r, fut_work *w)
{
    fut__timed *t = FUT_CONTAINER_OF(in, fut__timed, in);
    if (fut__timed_claim(t)) {
        if (fut_node_settle(&t->node, r, w) != 0)
            fut_result_drop(&r); /* the output was cancelled meanwhile */
        fut__timed_stop_timer(t);
    } else {
        fut_result_drop(&r); /* the timer won: f's outcome is unwanted */
    }
    fut__timed_unref(t);
}

/* The output was cancelled: take the timer back and cancel f. */
static void fut__timed_cancel(fut_node *n, fut_work *w)
{
    fut__timed *t = FUT_CONTAINER_OF(n, fut__timed, node);
    if (fut__timed_claim(t)) {
        if (t->has_input)
            (void)fut_input_cancel(&t->in, w);
        fut__timed_stop_timer(t);
    }
}

static const fut_node_ops fut__timed_ops = {fut__timed_cancel, fut__timed_free};

/* fut_delay_until (f NULL) and fut_deadline. */
static fut_future fut__timed_new(fut_future *f, fut_sched *s, uint64_t deadline_ns)
{
    int err = 0;
    if (f != NULL && (f->tag == FUT__EMPTY || f->tag == FUT__SPENT))
        return fut_ready_error(EINVAL);
    if (s == NULL)
        err = EINVAL;
    else if (s->submit_at == NULL)
        err = ENOTSUP;
    fut__timed *t = err == 0 ? (fut__timed *)FUT_MALLOC(sizeof *t) : NULL;
    if (err == 0 && t == NULL)
        err = ENOMEM;
    if (err != 0) {
        fut_drop(f);
        return fut_ready_error(err);
    }
    (void)fut_node_init(&t->node, &fut__timed_ops, s->env);
    fut_future out = fut_node_future(&t->node);
    t->sched = s;
    t->has_input = f != NULL;
    /* relaxed: t is private until submit_at or the attach publishes it. */
    atomic_store_explicit(&t->refs, t->has_input ? 3u : 2u, memory_order_relaxed);
    atomic_store_explicit(&t->won, 0u, memory_order_relaxed);
    if (t->has_input)
        fut_input_init(&t->in, fut__timed_input); /* before the timer can cancel it */
    t->timer.task.next = NULL;
    t->timer.task.run = fut__timed_fire;
    t->timer.deadline_ns = deadline_ns;
    fut_work wl;
    fut_work_init(&wl);
    err = s->submit_at(s, &t->timer);
    if (err != 0) {
        /* Refused: the timer will never run. The output settles with the error. */
        atomic_store_explicit(&t->won, 1u, memory_order_relaxed);
        (void)fut_node_settle(&t->node, fut_error(err), &wl);
        if (t->has_input)
            fut_input_attach(&t->in, f, &wl); /* loses the claim: dropped, one ref */
        fut__timed_unref(t); /* the timer's */
    } else if (t->has_input) {
        fut_input_attach(&t->in, f, &wl);
    }
    fut__timed_unref(t); /* the creator's */
    fut_work_run(&wl);
    return out;
}

FUT__DEF fut_future fut_delay_until(fut_sched *s, uint64_t deadline_ns)
{
    return fut__timed_new(NULL, s, deadline_ns);
}

FUT__DEF fut_future fut_delay(fut_sched *s, uint64_t ns)
{
    uint64_t now = fut_sched_now(s);
    return fut__timed_new(NULL, s, ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

FUT__DEF fut_future fut_deadline(fut_future *f, fut_sched *s, uint64_t deadline_ns)
{
    if (f == NULL)
        return fut_ready_error(EINVAL);
    if (deadline_ns == UINT64_MAX && f->tag != FUT__EMPTY && f->tag != FUT__SPENT)
        return fut_move(f); /* no deadline */
    return fut__timed_new(f, s, deadline_ns);
}

FUT__DEF fut_future fut_timeout(fut_future *f, fut_sched *s, uint64_t ns)
{
    if (ns == UINT64_MAX || f == NULL)
        return fut_deadline(f, s, UINT64_MAX);
    uint64_t now = fut_sched_now(s);
    return fut_deadline(f, s, ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

#endif /* FUT__IMPL */

FUT__C_END

#endif /* FUT_H */

/* MIT License. Copyright (c) 2026 the fut authors.
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this
 * software and associated documentation files (the "Software"), to deal in the Software
 * without restriction, including without limitation the rights to use, copy, modify,
 * merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
 * permit persons to whom the Software is furnished to do so, subject to the following
 * conditions: The above copyright notice and this permission notice shall be included in
 * all copies or substantial portions of the Software. THE SOFTWARE IS PROVIDED "AS IS",
 * WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
 * WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
 * NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR
 * OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
 * OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE. */
