/* The per-thread state cache (FUT_STATE_CACHE): freed states are reused last-freed
 * first, at most FUT_STATE_CACHE per thread, the rest freed; a thread's cache is freed
 * when it exits or on fut_cache_flush; states from a pool never enter it. The counting
 * allocator (testutil.h) sees every malloc and free behind the cache.
 *
 * The cache is off by default with your own FUT_MALLOC (as testutil.h's is) and under
 * AddressSanitizer; this unit turns it on explicitly, with a small size so that the
 * overflow is easy to reach, and so LeakSanitizer checks it too. */
#define FUT_STATE_CACHE 4
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "fut.h"
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <pthread.h>
#include <limits.h>
#include <stdlib.h>

_Static_assert(FUT_STATE_CACHE == 4, "an explicit FUT_STATE_CACHE wins over the defaults");

/* FUT_STATE_CACHE as fut.h sets it in a unit with the default malloc (cache_default_unit.c). */
int cache_default_size(void);

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif

static void fresh(void)
{
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0, "%ld allocations live at the start", tu_live());
}

/* A settled and consumed pair; returns the address its state had. */
static uintptr_t cycle(int64_t v)
{
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new(&p, &f), 0);
    uintptr_t at = f.tag;
    cr_assert_eq(fut_promise_set(&p, fut_i64(v)), 0);
    fut_result r;
    cr_assert_eq(fut_try_get(&f, &r), 0);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, v);
    return at;
}

TestSuite(fut_cache, .init = fresh);

Test(fut_cache, defaults_follow_the_allocator_and_the_sanitizer)
{
    /* With the default malloc the cache is on (16), unless ASan is on; testutil.h's own
     * FUT_MALLOC turns it off in the other suites (test_fut.c asserts that). */
    cr_assert_eq(cache_default_size(), ASAN ? 0 : 16);
}

Test(fut_cache, the_last_freed_state_is_reused_first_without_malloc)
{
    uintptr_t a = cycle(1);
    long allocs = atomic_load(&tu_allocs);
    cr_assert_eq(cycle(2), a, "the state just freed comes back");
    cr_assert_eq(atomic_load(&tu_allocs), allocs, "no malloc behind a cached state");

    /* Two live, freed in order x then y: y (the last freed) comes back first. */
    fut_promise px, py;
    fut_future fx, fy;
    cr_assert_eq(fut_promise_new(&px, &fx), 0);
    cr_assert_eq(fut_promise_new(&py, &fy), 0);
    uintptr_t x = fx.tag, y = fy.tag;
    fut_promise_set(&px, fut_i64(0));
    fut_promise_set(&py, fut_i64(0));
    fut_drop(&fx);
    fut_drop(&fy);
    cr_assert_eq(cycle(3), y);
    fut_promise p1, p2;
    fut_future f1, f2;
    cr_assert_eq(fut_promise_new(&p1, &f1), 0);
    cr_assert_eq(fut_promise_new(&p2, &f2), 0);
    cr_assert_eq(f1.tag, y);
    cr_assert_eq(f2.tag, x);
    fut_promise_drop(&p1);
    fut_promise_drop(&p2);
    fut_drop(&f1);
    fut_drop(&f2);
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0);
}

static fut_future add1(void *ctx, fut_result r)
{
    (void)ctx;
    return fut_ready(fut_i64(r.value.i64 + 1));
}

Test(fut_cache, a_steady_stream_of_pairs_and_chains_allocates_nothing)
{
    fut_sched inl;
    fut_inline_init(&inl);
    long warm = 0;
    for (int round = 0; round < 2; round++) {
        long before = atomic_load(&tu_calls);
        for (int i = 0; i < 1000; i++) {
            fut_promise p;
            fut_future f;
            cr_assert_eq(fut_promise_new(&p, &f), 0);
            for (int k = 0; k < 3; k++) /* attached before the settle: 4 states at once */
                f = fut_then(&f, &inl, add1, NULL);
            cr_assert_eq(fut_promise_set(&p, fut_i64(i)), 0);
            fut_result r;
            cr_assert_eq(fut_try_get(&f, &r), 0);
            cr_assert_eq(r.err, 0);
            cr_assert_eq(r.value.i64, i + 3);
        }
        long calls = atomic_load(&tu_calls) - before;
        if (round == 0)
            warm = calls;
        else
            cr_assert_eq(calls, 0, "%ld mallocs in the steady state (%ld warming up)", calls, warm);
    }
    cr_assert_leq(warm, 4, "the first round fills the cache: %ld mallocs", warm);
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cache, at_most_FUT_STATE_CACHE_states_are_kept_and_the_rest_freed)
{
    enum { N = 10 };
    fut_promise p[N];
    fut_future f[N];
    for (int i = 0; i < N; i++)
        cr_assert_eq(fut_promise_new(&p[i], &f[i]), 0);
    cr_assert_eq(tu_live(), N);
    long frees = atomic_load(&tu_frees);
    for (int i = 0; i < N; i++) {
        fut_promise_set(&p[i], fut_i64(i));
        fut_drop(&f[i]);
    }
    cr_assert_eq(atomic_load(&tu_frees) - frees, N - FUT_STATE_CACHE);
    cr_assert_eq(tu_live(), FUT_STATE_CACHE, "the cache holds %d", FUT_STATE_CACHE);
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0);
    fut_cache_flush(); /* an empty cache: nothing to do */
    cr_assert_eq(tu_live(), 0);
    cycle(7); /* and it works on after a flush */
    cr_assert_eq(tu_live(), 1);
}

static void *churn_and_exit(void *arg)
{
    uintptr_t *seen = arg;
    for (int i = 0; i < 10; i++)
        seen[i] = cycle(i);
    /* ten live at once, all freed: the cache fills, the rest is freed */
    fut_promise p[10];
    fut_future f[10];
    for (int i = 0; i < 10; i++)
        cr_assert_eq(fut_promise_new(&p[i], &f[i]), 0);
    for (int i = 0; i < 10; i++) {
        fut_promise_drop(&p[i]);
        fut_drop(&f[i]);
    }
    return NULL;
}

Test(fut_cache, a_thread_frees_its_cache_when_it_exits)
{
    uintptr_t seen[10];
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, churn_and_exit, seen), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    for (int i = 1; i < 10; i++)
        cr_assert_eq(seen[i], seen[0], "one state, reused by the thread every time");
    cr_assert_eq(tu_live(), 0, "%ld states left behind by an exited thread", tu_live());
}

typedef struct consume_ctx {
    fut_future f;
    uintptr_t first, reused;
} consume_ctx;

static void *consume_then_make(void *arg)
{
    consume_ctx *c = arg;
    fut_result r = fut_get(&c->f); /* the state was made on the main thread; freed here */
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.value.i64, 42);
    c->reused = cycle(1); /* so it is this thread's to reuse */
    return NULL;
}

Test(fut_cache, a_state_freed_on_another_thread_goes_to_that_threads_cache)
{
    fut_promise p;
    consume_ctx c;
    cr_assert_eq(fut_promise_new(&p, &c.f), 0);
    c.first = c.f.tag;
    cr_assert_eq(fut_promise_set(&p, fut_i64(42)), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, consume_then_make, &c), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(c.reused, c.first);
    cr_assert_eq(tu_live(), 0, "the main thread's cache is empty, the worker's was freed");
}

Test(fut_cache, states_from_a_pool_never_enter_the_cache)
{
    fut_pool pool;
    fut_pool_config pc = {.size = fut_state_size(), .capacity = 8};
    cr_assert_eq(fut_pool_init(&pool, &pc), 0);
    fut_env env;
    cr_assert_eq(fut_env_init(&env, &pool, NULL), 0);
    fut_promise p;
    fut_future f;
    cr_assert_eq(fut_promise_new_env(&p, &f, &env), 0);
    fut_promise_set(&p, fut_i64(5));
    fut_drop(&f); /* back to the pool, not to the cache */
    long allocs = atomic_load(&tu_allocs);
    cycle(1); /* the cache is empty: a plain promise needs a malloc */
    cr_assert_eq(atomic_load(&tu_allocs) - allocs, 1);
    fut_pool_destroy(&pool);
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cache, a_reused_state_starts_clean_after_a_timed_wait)
{
    /* A timed wait parks (under FUT_NO_FUTEX it also gives the state a wait block); the
     * state, reused, must wait and time out like a new one. */
    for (int round = 0; round < 3; round++) {
        fut_promise p;
        fut_future f;
        cr_assert_eq(fut_promise_new(&p, &f), 0);
        uintptr_t at = f.tag;
        cr_assert_eq(fut_wait_until(&f, fut_now_ns() + 100000), ETIMEDOUT);
        cr_assert_eq(fut_promise_set(&p, fut_i64(round)), 0);
        cr_assert_eq(fut_wait_until(&f, fut_now_ns() + 100000), 0);
        fut_result r = fut_get(&f);
        cr_assert_eq(r.value.i64, round);
        cr_assert_eq(cycle(9), at, "the state came back");
    }
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0);
}

Test(fut_cache, an_env_with_only_stats_uses_the_cache)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 4), 0);
    fut_env env;
    cr_assert_eq(fut_env_init(&env, NULL, &st), 0);
    uintptr_t at = 0;
    for (int i = 0; i < 3; i++) {
        fut_promise p;
        fut_future f;
        cr_assert_eq(fut_promise_new_env(&p, &f, &env), 0);
        if (i == 0)
            at = f.tag;
        else
            cr_assert_eq(f.tag, at, "reused with a stats-only env");
        cr_assert_eq(fut_promise_set(&p, fut_i64(i)), 0);
        fut_drop(&f);
    }
    fut_stats_snap snap;
    cr_assert_eq(fut_stats_snapshot(&st, &snap), 0);
    cr_assert_eq(snap.c[FUT_STAT_STATES], 3, "counted as before");
    fut_stats_destroy(&st);
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0);
}

/* Another key's destructor frees states in every round of thread-exit destructors, after
 * the cache's own destructor ran (the cache's key was made first). Nothing may stay. */
static pthread_key_t late_key;
static _Atomic int late_rounds;

static void late_destructor(void *arg)
{
    /* ThreadSanitizer finishes the thread in a destructor round of its own (the third of
     * four with gcc 12's) and cannot run instrumented code after it: two rounds there. */
    if (TSAN && atomic_load(&late_rounds) + 2 >= PTHREAD_DESTRUCTOR_ITERATIONS)
        return;
    atomic_fetch_add(&late_rounds, 1);
    cycle(1);
    pthread_setspecific(late_key, arg); /* call me again next round, while rounds last */
}

static void *exit_with_late_frees(void *arg)
{
    (void)arg;
    cycle(0);
    pthread_setspecific(late_key, &late_key);
    return NULL;
}

Test(fut_cache, states_freed_by_later_destructors_of_an_exiting_thread_are_freed)
{
    cycle(0); /* makes the cache's key before late_key */
    cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, exit_with_late_frees, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_geq(atomic_load(&late_rounds), 2, "the destructor ran %d rounds", atomic_load(&late_rounds));
    fut_cache_flush();
    cr_assert_eq(tu_live(), 0, "%ld states left after %d rounds", tu_live(), atomic_load(&late_rounds));
}

/* Unloading a shared library that used fut.h while a thread that used it still runs:
 * the thread's exit must not call into the unmapped library (the cache's key goes at
 * unload). meson passes the module's path in FUT_DL_UNIT. */
typedef struct dl_run {
    int (*churn)(void);
    int sum;
    pthread_barrier_t churned, unloaded;
} dl_run;

static void *dl_thread(void *arg)
{
    dl_run *d = arg;
    d->sum = d->churn();
    pthread_barrier_wait(&d->churned);
    pthread_barrier_wait(&d->unloaded);
    return NULL; /* thread-exit destructors run now, the module is gone */
}

Test(fut_cache, a_thread_outlives_the_unloaded_library_that_cached_for_it)
{
    const char *path = getenv("FUT_DL_UNIT");
    cr_assert_not_null(path, "FUT_DL_UNIT: the path of dl_unit's module (meson test sets it)");
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(lib, "dlopen: %s", dlerror());
    dl_run d;
    *(void **)&d.churn = dlsym(lib, "dl_unit_churn"); /* POSIX's way past ISO C's rule */
    cr_assert_not_null(d.churn);
    pthread_barrier_init(&d.churned, NULL, 2);
    pthread_barrier_init(&d.unloaded, NULL, 2);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, dl_thread, &d), 0);
    pthread_barrier_wait(&d.churned);
    cr_assert_eq(d.sum, 28);
    cr_assert_eq(dlclose(lib), 0);
    pthread_barrier_wait(&d.unloaded);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&d.churned);
    pthread_barrier_destroy(&d.unloaded);
}
