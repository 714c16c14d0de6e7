/* Shared by the test suites: a counting allocator that can be told to fail, and the
 * knobs of the stress tests. Include it before any fut header. */
#ifndef FUT_TESTUTIL_H
#define FUT_TESTUTIL_H

#if !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Every FUT_MALLOC/FUT_FREE goes through here: tests check that nothing leaked, that a
 * fast path allocated nothing, and what happens when the k-th allocation fails. */
static _Atomic long tu_allocs;    /* successful allocations */
static _Atomic long tu_frees;
static _Atomic long tu_fail_at;   /* fail the allocation with this ordinal (1-based); 0 never */
static _Atomic long tu_calls;     /* allocation attempts */

static inline void *tu_malloc(size_t n)
{
    long k = atomic_fetch_add_explicit(&tu_calls, 1, memory_order_relaxed) + 1;
    long f = atomic_load_explicit(&tu_fail_at, memory_order_relaxed);
    if (f != 0 && k == f)
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        atomic_fetch_add_explicit(&tu_allocs, 1, memory_order_relaxed);
    return p;
}

static inline void tu_free(void *p)
{
    if (p != NULL)
        atomic_fetch_add_explicit(&tu_frees, 1, memory_order_relaxed);
    free(p);
}

/* Fail the next allocation attempt (the one after those already made). */
static inline void tu_fail_next(void)
{
    atomic_store(&tu_fail_at, atomic_load(&tu_calls) + 1);
}

static inline long tu_live(void)
{
    return atomic_load(&tu_allocs) - atomic_load(&tu_frees);
}

#define FUT_MALLOC(n) tu_malloc(n)
#define FUT_FREE(p) tu_free(p)

/* Stress knobs, from the environment: threads, iterations, and an optional duration in
 * seconds that turns a stress test into a soak (it repeats rounds until time is up). */
static inline long tu_env(const char *name, long dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    long v = strtol(s, NULL, 10);
    return v > 0 ? v : dflt;
}

#define TU_THREADS() tu_env("FUT_STRESS_THREADS", 4)
#define TU_ITERS(d) tu_env("FUT_STRESS_ITERS", (d))
#define TU_SECONDS() tu_env("FUT_STRESS_SECONDS", 0)

/* A destructor that counts instead of freeing: values in tests are small integers cast to
 * pointers or heap cells; tu_dtor_free frees heap cells. */
static _Atomic long tu_dtor_calls;
static inline void tu_dtor_count(void *p)
{
    (void)p;
    atomic_fetch_add_explicit(&tu_dtor_calls, 1, memory_order_relaxed);
}
static inline void tu_dtor_free(void *p)
{
    atomic_fetch_add_explicit(&tu_dtor_calls, 1, memory_order_relaxed);
    free(p);
}

#endif
