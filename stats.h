/* stats.h - an atomic statistics block: named counters and a latency histogram that
 * many threads update without fighting over a cache line.
 *
 * Each thread that updates a block claims a shard of its own (padded to cache lines) the
 * first time, and from then on adds with a relaxed load and store: no locked
 * instruction, no shared line. Readers sum the shards. Threads beyond the shard count
 * share one overflow shard updated with atomic adds: slower, still exact. Counters are
 * events (spawned, awaited, pool hits...); derived rates and percentiles are computed on
 * a snapshot, which prints as aligned text or JSON. Defining FUT_NO_STATS compiles every
 * update to nothing.
 *
 * Example:
 *
 *     fut_stats st;
 *     if (fut_stats_init(&st, 16) != 0) return ENOMEM;   // up to 16 writer threads
 *     fut_stats_inc(&st, FUT_STAT_SPAWNED);             // any thread, ~1 ns
 *     uint64_t t0 = fut_now_ns();
 *     do_work();
 *     fut_stats_time(&st, fut_now_ns() - t0);     // into the latency histogram
 *     fut_stats_snap s;
 *     fut_stats_snapshot(&st, &s);
 *     fut_stats_print(&s, stdout, FUT_STATS_JSON);
 *     fut_stats_destroy(&st);
 *
 * An application's own metrics go in a block of their own, named at init - counters
 * and a histogram apart from fut's wait times:
 *     static const char *const names[] = {"requests", "timeouts"};
 *     fut_stats_init_named(&app, 16, names, 2, "request");  // "request_p99" ...
 *     fut_stats_count(&app, 0, 1);                          // requests += 1
 *
 * Ownership: you own the fut_stats object (embed it anywhere); init allocates its shards
 * and destroy frees them. Snapshots are plain values you own.
 * Thread-safety: fut_stats_inc/add/time from any number of threads at once; snapshot and
 * reset from any thread while they run (a snapshot is a sum of per-shard atomic reads:
 * each counter is exact, the set is not one instant; resets that race each other keep
 * the later baseline, never move it back). init and destroy with no other
 * thread using the block.
 * Bad input: updates, reset and destroy on a NULL, zeroed or destroyed block do nothing;
 * snapshot and print say EINVAL; a counter out of range is ignored (its name is "?"), a
 * percentile outside 0..100 is clamped. docs/bad_input.md lists every case.
 * Linkage: one file of the program defines FUT_IMPLEMENTATION before including this (or
 * fut.h, batch.h) and holds the definitions; FUT_STATIC keeps everything private to the
 * file (fut.h's top comment says more). init gives EINVAL in a file whose FUT_CACHE_LINE
 * differs from the implementation unit's.
 * Config macros: FUT_NO_STATS (updates do nothing), FUT_MALLOC/FUT_FREE (shard memory;
 * aligned to FUT_CACHE_LINE, default 64).
 * Needs: only libc and <stdatomic.h>; nothing else from fut.
 * License: MIT (see the end of this file).
 */
#ifndef FUT_STATS_H
#define FUT_STATS_H

#if defined(__STRICT_ANSI__) && !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && \
    !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE) && !defined(_BSD_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#if defined(__cplusplus) && __cplusplus <= 202002L
#error "fut's headers need C11, or C++23 for <stdatomic.h>"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if !defined(CLOCK_MONOTONIC)
#error "stats.h needs POSIX 2008: define _POSIX_C_SOURCE=200809L or include it first"
#endif

#ifndef FUT_MALLOC
#define FUT_MALLOC(n) malloc(n)
#define FUT__MALLOC_DEFAULT 1 /* fut.h keeps a per-thread state cache only over malloc */
#endif
#ifndef FUT_FREE
#define FUT_FREE(p) free(p)
#endif
#ifndef FUT_CACHE_LINE
#define FUT_CACHE_LINE 64
#endif

/* Rare paths (COLD), and paths that are not the default one (NOINLINE), stay out of
 * line so that the hot ones inline small (fut.h and pool.h use them). */
#if defined(__GNUC__)
#define FUT__COLD __attribute__((noinline, cold))
#define FUT__NOINLINE __attribute__((noinline))
#else
#define FUT__COLD
#define FUT__NOINLINE
#endif

/* Linkage, for all four headers (the choice is made where the first of them is included).
 * The hot paths are static inline in every unit. The rest - and the thread-local data -
 * is defined once: FUT__DEF functions and FUT__DATA objects are declared extern in every
 * unit and defined in the one that defines FUT_IMPLEMENTATION; with FUT_STATIC each unit
 * has its own private copy of everything (the single-unit program, or a plugin that must
 * not share fut with its host). FUT__IMPL says whether this unit holds the definitions. */
#if defined(FUT_STATIC)
#define FUT__IMPL 1
#if defined(__GNUC__)
#define FUT__DEF static __attribute__((unused)) /* unused ones draw no warning */
#else
#define FUT__DEF static
#endif
#define FUT__DATA static
#elif defined(FUT_IMPLEMENTATION)
#define FUT__IMPL 1
#define FUT__DEF extern
#define FUT__DATA
#else
#define FUT__IMPL 0
#define FUT__DEF extern
#define FUT__DATA extern
#endif

/* C++ (23 or later, whose <stdatomic.h> spells _Atomic(T) as std::atomic<T>): the headers
 * compile there too, with C linkage, so a C++ file can use a C implementation unit or be
 * one. FUT__TLS is __thread in C++: an extern C++ thread_local is reached through a wrapper
 * call on every access (for a dynamic initialiser another unit might have; 67 such calls in
 * tests/cpp/main.cpp at -O2), while __thread is the plain TLS access that C makes. */
#if defined(__cplusplus)
#define FUT__ALIGNAS(n) alignas(n)
#define FUT__ALIGNOF(t) alignof(t)
#define FUT__TLS __thread
#define FUT__STATIC_ASSERT static_assert
#define FUT__C_BEGIN extern "C" {
#define FUT__C_END }
/* Flexible array members are C99 and a GNU extension in C++: said so, without a warning. */
#if defined(__clang__)
#define FUT__FLEX(member)                                                                   \
    _Pragma("clang diagnostic push") _Pragma("clang diagnostic ignored \"-Wc99-extensions\"") \
        member _Pragma("clang diagnostic pop")
#else
#define FUT__FLEX(member) __extension__ member
#endif
/* C++23's <stdatomic.h> has no atomic_init: a relaxed store before the object is shared
 * is the same thing. A C unit and a C++ unit share these objects: the atomics must be laid
 * out as the plain types are (true of lock-free std::atomic on gcc and clang). */
#define FUT__ATOMIC_INIT(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
static_assert(sizeof(_Atomic(uint64_t)) == 8 && alignof(_Atomic(uint64_t)) == alignof(uint64_t) &&
                  sizeof(_Atomic(void *)) == sizeof(void *),
              "fut shares atomics between C and C++ units: they must have the plain layout");
#else
#define FUT__ALIGNAS(n) _Alignas(n)
#define FUT__ALIGNOF(t) _Alignof(t)
#define FUT__TLS _Thread_local
#define FUT__STATIC_ASSERT _Static_assert
#define FUT__C_BEGIN
#define FUT__C_END
#define FUT__FLEX(member) member
#define FUT__ATOMIC_INIT(p, v) atomic_init((p), (v))
#endif

FUT__C_BEGIN

/* The counters. Each is a count of events. */
typedef enum fut_stat {
    FUT_STAT_SPAWNED,    /* jobs spawned (fut_spawn, fut_spawn_task, batch spawns) */
    FUT_STAT_CHAINED,    /* continuations attached (then/recover/finally) */
    FUT_STAT_AWAITED,    /* blocking waits that had to wait */
    FUT_STAT_FAST_PATH,  /* continuations run at once on a ready outcome, no allocation */
    FUT_STAT_SCHED_SKIP, /* continuations run inline instead of being submitted */
    FUT_STAT_POOLED,     /* objects given back to a pool */
    FUT_STAT_POOL_HIT,   /* pool acquisitions served by a reused object */
    FUT_STAT_POOL_MISS,  /* pool acquisitions that allocated */
    FUT_STAT_EVICTED,    /* idle pooled objects freed by LRU eviction */
    FUT_STAT_BATCHED,    /* tasks submitted as part of a batch */
    FUT_STAT_BATCHES,    /* batches handed to a scheduler */
    FUT_STAT_ERRORS,     /* futures settled with an error */
    FUT_STAT_CANCELLED,  /* futures cancelled */
    FUT_STAT_STATES,     /* shared states created (promises, continuations, jobs...) */
    FUT_STAT_COUNT
} fut_stat;

/* Counter slots in a block: fut's FUT_STAT_COUNT, or up to this many of your own names
 * (fut_stats_init_named). */
#define FUT_STATS_MAX 32

/* The latency histogram: log2 buckets split in four (about 19% wide), 0 ns to 2^64;
 * percentiles interpolate inside a bucket. Error bound: a bucket [lo, hi) is at most a
 * quarter of lo wide, and both the sample a percentile stands for and the value given
 * lie in it, so a percentile is within 25% of that sample (exact for 0..3 ns). */
#define FUT_STATS_SUB 2
#define FUT_STATS_BUCKETS (64 << FUT_STATS_SUB)

typedef struct fut_stats_shard {
    FUT__ALIGNAS(FUT_CACHE_LINE) _Atomic(uint64_t) c[FUT_STATS_MAX]; /* whole lines per shard */
    _Atomic(uint64_t) hist[FUT_STATS_BUCKETS];
    _Atomic(uint64_t) hist_max;
} fut_stats_shard;

typedef struct fut_stats {
    fut_stats_shard *shards;  /* nshards single-writer shards, then the overflow shard */
    unsigned nshards;
    unsigned ncounters;        /* FUT_STAT_COUNT, or a named block's n (beside shards: one line) */
    _Atomic(unsigned) claimed; /* shards handed out so far */
    uint64_t id;              /* tells a thread's cached shard from a reused address */
    void *mem;                /* the allocation behind shards */
    _Atomic(uint64_t) base[FUT_STATS_MAX]; /* totals at the last reset */
    _Atomic(uint64_t) hist_base[FUT_STATS_BUCKETS];
    _Atomic(uint64_t) max_floor;            /* nonzero once reset: max is then bounded */
    const char *const *names;               /* a named block's counters; NULL: fut's */
    const char *hist_name;                  /* its histogram's name; NULL: "latency" */
} fut_stats;

/* A snapshot: totals since the last reset, and the histogram. */
typedef struct fut_stats_snap {
    uint64_t c[FUT_STATS_MAX]; /* c[0..n-1]; the rest 0 */
    uint64_t hist[FUT_STATS_BUCKETS];
    uint64_t samples;
    uint64_t max_ns;
    unsigned n;                /* counters in a named block */
    const char *const *names;  /* its names (NULL: fut's block, FUT_STAT_COUNT counters) */
    const char *hist_name;     /* NULL: "latency" */
} fut_stats_snap;

enum { FUT_STATS_TEXT = 0, FUT_STATS_JSON = 1 };

/* shards: how many threads get a private shard (1..4096). Returns 0, EINVAL or ENOMEM. */
static inline int fut_stats_init(fut_stats *st, unsigned shards);
/* A block of your own: counters 0..n-1 named names[0..n-1] (1 <= n <= FUT_STATS_MAX),
 * and one histogram named hist_name (NULL: "latency"), apart from fut's block - so an
 * application's counts and timings are not mixed with fut's wait times. Update with
 * fut_stats_count / fut_stats_time; snapshots, reset and print work as on fut's block
 * (without its two rates), under your names. The names are borrowed: keep them alive
 * (string literals) while the block lives. EINVAL also for a NULL names, a NULL name or
 * n out of range. */
static inline int fut_stats_init_named(fut_stats *st, unsigned shards, const char *const *names, unsigned n,
                                       const char *hist_name);
FUT__DEF void fut_stats_destroy(fut_stats *st);

/* Updates: any thread. A NULL st is ignored, as is a counter out of range. */
static inline void fut_stats_inc(fut_stats *st, fut_stat counter);
static inline void fut_stats_add(fut_stats *st, fut_stat counter, uint64_t n);
static inline void fut_stats_time(fut_stats *st, uint64_t ns); /* one latency sample */
/* Counter i of a named block (fut_stats_add, by index); i >= the block's n is ignored. */
static inline void fut_stats_count(fut_stats *st, unsigned i, uint64_t n);

/* Sums the shards into *out. Returns 0 or EINVAL. */
FUT__DEF int fut_stats_snapshot(fut_stats *st, fut_stats_snap *out);
/* Starts counting from zero again, without stopping the writers. */
FUT__DEF void fut_stats_reset(fut_stats *st);

/* Derived figures of a snapshot. Rates are 0..1 (0 when nothing was counted, or for a
 * NULL snapshot); a percentile of an empty or NULL snapshot is 0. */
FUT__DEF double fut_stats_pool_hit_rate(const fut_stats_snap *s);  /* hits/(hits+misses) */
FUT__DEF double fut_stats_fast_path_rate(const fut_stats_snap *s); /* fast path/chained */
FUT__DEF uint64_t fut_stats_percentile(const fut_stats_snap *s, double p); /* ns, p in 0..100 */
FUT__DEF const char *fut_stats_name(fut_stat counter); /* "spawned", ... */
/* The name of counter i of the block a snapshot came from ("?" out of range, NULL s). */
FUT__DEF const char *fut_stats_counter_name(const fut_stats_snap *s, unsigned i);

/* Formats a snapshot as aligned text or one JSON object; like snprintf, returns the
 * length it needs and writes at most cap bytes (NUL included). */
FUT__DEF size_t fut_stats_format(const fut_stats_snap *s, int json, char *buf, size_t cap);
FUT__DEF int fut_stats_print(const fut_stats_snap *s, FILE *f, int json);

/* The monotonic clock in ns, for fut_stats_time. */
static inline uint64_t fut_now_ns(void); /* also in fut.h; defined once */

/* init checks that the unit calling it and the implementation unit agree on the layout
 * (FUT_CACHE_LINE, the header version): a mismatch is EINVAL, not a corrupted block. */
#define FUT__STATS_LAYOUT ((uint32_t)(sizeof(fut_stats) * 4099u + sizeof(fut_stats_shard)) ^ (uint32_t)FUT_CACHE_LINE << 24)
FUT__DEF int fut__stats_init(fut_stats *st, unsigned shards, uint32_t layout);
FUT__DEF int fut__stats_init_named(fut_stats *st, unsigned shards, const char *const *names, unsigned n,
                                   const char *hist_name, uint32_t layout);

/* ======================================================================================
 * Implementation
 * ====================================================================================== */

#ifndef FUT__HAVE_NOW_NS
#define FUT__HAVE_NOW_NS
static inline uint64_t fut_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

static inline int fut_stats_init(fut_stats *st, unsigned shards)
{
    return fut__stats_init(st, shards, FUT__STATS_LAYOUT);
}

static inline int fut_stats_init_named(fut_stats *st, unsigned shards, const char *const *names, unsigned n,
                                       const char *hist_name)
{
    return fut__stats_init_named(st, shards, names, n, hist_name, FUT__STATS_LAYOUT);
}

#if FUT__IMPL /* ---- defined once (see Linkage) ---- */

FUT__DEF const char *fut_stats_name(fut_stat counter)
{
    static const char *const names[FUT_STAT_COUNT] = {
        "spawned", "chained",  "awaited",  "fast_path", "sched_skip", "pooled",    "pool_hit",
        "pool_miss", "evicted", "batched", "batches",   "errors",     "cancelled",  "states"};
    return (unsigned)counter < FUT_STAT_COUNT ? names[counter] : "?";
}

FUT__DEF const char *fut_stats_counter_name(const fut_stats_snap *s, unsigned i)
{
    if (s == NULL)
        return "?";
    if (s->names == NULL) /* fut's block (also a zeroed snapshot) */
        return fut_stats_name((fut_stat)i);
    return i < s->n && i < FUT_STATS_MAX ? s->names[i] : "?";
}

FUT__DEF int fut__stats_init_named(fut_stats *st, unsigned shards, const char *const *names, unsigned n,
                                   const char *hist_name, uint32_t layout)
{
    if (names == NULL || n == 0 || n > FUT_STATS_MAX)
        return EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (names[i] == NULL)
            return EINVAL;
    int err = fut__stats_init(st, shards, layout);
    if (err == 0) {
        st->names = names;
        st->ncounters = n;
        st->hist_name = hist_name;
    }
    return err;
}

FUT__DEF int fut__stats_init(fut_stats *st, unsigned shards, uint32_t layout)
{
    if (st == NULL || shards == 0 || shards > 4096 || layout != FUT__STATS_LAYOUT)
        return EINVAL;
    size_t bytes = ((size_t)shards + 1) * sizeof(fut_stats_shard) + FUT_CACHE_LINE;
    void *mem = FUT_MALLOC(bytes);
    if (mem == NULL)
        return ENOMEM;
    memset(mem, 0, bytes); /* zero is a valid state for every atomic here */
    uintptr_t a = ((uintptr_t)mem + FUT_CACHE_LINE - 1) & ~(uintptr_t)(FUT_CACHE_LINE - 1);
    st->mem = mem;
    st->shards = (fut_stats_shard *)a;
    st->nshards = shards;
    FUT__ATOMIC_INIT(&st->claimed, 0);
    /* An id that a later block at the same address will not repeat: the address mixed
     * with the clock. Thread caches compare it before trusting a cached shard. */
    st->id = ((uint64_t)(uintptr_t)st * 0x9E3779B97F4A7C15u) ^ fut_now_ns() ^ (uint64_t)a;
    if (st->id == 0)
        st->id = 1;
    for (int i = 0; i < FUT_STATS_MAX; i++)
        FUT__ATOMIC_INIT(&st->base[i], 0);
    for (int i = 0; i < FUT_STATS_BUCKETS; i++)
        FUT__ATOMIC_INIT(&st->hist_base[i], 0);
    FUT__ATOMIC_INIT(&st->max_floor, 0);
    st->names = NULL;
    st->hist_name = NULL;
    st->ncounters = FUT_STAT_COUNT;
    return 0;
}

FUT__DEF void fut_stats_destroy(fut_stats *st)
{
    if (st == NULL || st->mem == NULL)
        return;
    FUT_FREE(st->mem);
    st->mem = NULL;
    st->shards = NULL;
    st->nshards = 0;
    st->id = 0;
}

#endif /* FUT__IMPL */

FUT__STATIC_ASSERT(sizeof(fut_stats_shard) % FUT_CACHE_LINE == 0, "shards must not share a line");

/* A thread's shard of a block, from a four-entry thread-local cache. The cache can be
 * lost at no cost but a fresh claim (with FUT_STATIC each unit has its own, which only
 * means a thread may own one shard per unit). The one piece of thread-local data here;
 * defined even under FUT_NO_STATS, so that units may differ in that setting. */
typedef struct fut__stats_slot {
    const fut_stats *st;
    uint64_t id;
    unsigned shard; /* index; nshards means "the overflow shard" */
} fut__stats_slot;

FUT__DATA FUT__TLS fut__stats_slot fut__stats_tls[4];
FUT__DATA FUT__TLS unsigned fut__stats_next;

#ifndef FUT_NO_STATS

static inline fut_stats_shard *fut__stats_mine(fut_stats *st, int *shared)
{
    for (int i = 0; i < 4; i++) {
        fut__stats_slot *s = &fut__stats_tls[i];
        if (s->st == st && s->id == st->id) {
            *shared = s->shard >= st->nshards;
            return &st->shards[s->shard];
        }
    }
    /* First touch from this thread: claim a shard of our own, or share the overflow.
     * The count stops at nshards, so a shard is never handed out twice. relaxed: only
     * the count matters; the shard is zero since init, which happens-before any use. */
    unsigned k = atomic_load_explicit(&st->claimed, memory_order_relaxed);
    while (k < st->nshards &&
           !atomic_compare_exchange_weak_explicit(&st->claimed, &k, k + 1, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
    fut__stats_slot *s = &fut__stats_tls[fut__stats_next++ & 3];
    s->st = st;
    s->id = st->id;
    s->shard = k;
    *shared = k >= st->nshards;
    return &st->shards[k];
}

static inline void fut__stats_bump(int shared, _Atomic(uint64_t) *cell, uint64_t n)
{
    if (shared) {
        atomic_fetch_add_explicit(cell, n, memory_order_relaxed); /* several writers */
    } else {
        /* relaxed load + store: this thread is the shard's only writer, so no update
         * is lost; readers see each counter's value whole (an atomic). */
        atomic_store_explicit(cell, atomic_load_explicit(cell, memory_order_relaxed) + n,
                              memory_order_relaxed);
    }
}

static inline void fut_stats_add(fut_stats *st, fut_stat counter, uint64_t n)
{
    if (st == NULL || st->shards == NULL || (unsigned)counter >= st->ncounters ||
        (unsigned)counter >= FUT_STATS_MAX) /* (the second: for the compiler, n <= MAX) */
        return;
    int shared;
    fut_stats_shard *sh = fut__stats_mine(st, &shared);
    fut__stats_bump(shared, &sh->c[counter], n);
}

static inline void fut_stats_count(fut_stats *st, unsigned i, uint64_t n) { fut_stats_add(st, (fut_stat)i, n); }

static inline void fut_stats_inc(fut_stats *st, fut_stat counter) { fut_stats_add(st, counter, 1); }

static inline unsigned fut__stats_bucket(uint64_t ns)
{
    if (ns < (1u << FUT_STATS_SUB))
        return (unsigned)ns; /* 0..3 ns get exact buckets */
    unsigned lg = 63u - (unsigned)__builtin_clzll(ns);
    unsigned sub = (unsigned)(ns >> (lg - FUT_STATS_SUB)) & ((1u << FUT_STATS_SUB) - 1);
    return (lg << FUT_STATS_SUB) | sub;
}

static inline void fut_stats_time(fut_stats *st, uint64_t ns)
{
    if (st == NULL || st->shards == NULL)
        return;
    int shared;
    fut_stats_shard *sh = fut__stats_mine(st, &shared);
    fut__stats_bump(shared, &sh->hist[fut__stats_bucket(ns)], 1);
    uint64_t m = atomic_load_explicit(&sh->hist_max, memory_order_relaxed); /* relaxed: a maximum */
    while (ns > m) {
        /* relaxed: a running maximum; CAS only when this sample raises it. */
        if (atomic_compare_exchange_weak_explicit(&sh->hist_max, &m, ns, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
}

#else /* FUT_NO_STATS: every update compiles to nothing */

static inline void fut_stats_add(fut_stats *st, fut_stat counter, uint64_t n)
{
    (void)st;
    (void)counter;
    (void)n;
}
static inline void fut_stats_inc(fut_stats *st, fut_stat counter)
{
    (void)st;
    (void)counter;
}
static inline void fut_stats_count(fut_stats *st, unsigned i, uint64_t n)
{
    (void)st;
    (void)i;
    (void)n;
}
static inline void fut_stats_time(fut_stats *st, uint64_t ns)
{
    (void)st;
    (void)ns;
}

#endif

#if FUT__IMPL /* ---- defined once (see Linkage) ---- */

/* Lower bound of a bucket, in ns. Buckets 0..3 hold 0..3 ns exactly; 4..7 are never
 * used (4 ns starts bucket 8), so they all begin where bucket 8 does. */
static inline uint64_t fut__stats_bucket_low(unsigned b)
{
    if (b < (1u << FUT_STATS_SUB))
        return b;
    if (b < (2u << FUT_STATS_SUB))
        return 1u << FUT_STATS_SUB;
    unsigned lg = b >> FUT_STATS_SUB, sub = b & ((1u << FUT_STATS_SUB) - 1);
    return ((uint64_t)1 << lg) + ((uint64_t)sub << (lg - FUT_STATS_SUB));
}

/* Sums every shard (relaxed reads: each value is whole; the set is not one instant). */
static inline void fut__stats_sum(fut_stats *st, uint64_t *c, uint64_t *hist, uint64_t *max_ns)
{
    memset(c, 0, sizeof(uint64_t) * FUT_STATS_MAX);
    memset(hist, 0, sizeof(uint64_t) * FUT_STATS_BUCKETS);
    *max_ns = 0;
    for (unsigned k = 0; k <= st->nshards; k++) {
        fut_stats_shard *sh = &st->shards[k];
        /* relaxed: each counter is read whole; no other data hangs on them. */
        for (int i = 0; i < FUT_STATS_MAX; i++)
            c[i] += atomic_load_explicit(&sh->c[i], memory_order_relaxed);
        for (int i = 0; i < FUT_STATS_BUCKETS; i++)
            hist[i] += atomic_load_explicit(&sh->hist[i], memory_order_relaxed);
        uint64_t m = atomic_load_explicit(&sh->hist_max, memory_order_relaxed);
        if (m > *max_ns)
            *max_ns = m;
    }
}

FUT__DEF int fut_stats_snapshot(fut_stats *st, fut_stats_snap *out)
{
    if (st == NULL || out == NULL || st->shards == NULL)
        return EINVAL;
    fut__stats_sum(st, out->c, out->hist, &out->max_ns);
    out->samples = 0;
    out->n = st->ncounters;
    out->names = st->names;
    out->hist_name = st->hist_name;
    for (int i = 0; i < FUT_STATS_MAX; i++) {
        /* relaxed: the baseline is only ever moved forward by reset. */
        uint64_t b = atomic_load_explicit(&st->base[i], memory_order_relaxed);
        out->c[i] = out->c[i] >= b && (unsigned)i < st->ncounters ? out->c[i] - b : 0;
    }
    for (int i = 0; i < FUT_STATS_BUCKETS; i++) {
        uint64_t b = atomic_load_explicit(&st->hist_base[i], memory_order_relaxed); /* relaxed: as above */
        out->hist[i] = out->hist[i] >= b ? out->hist[i] - b : 0;
        out->samples += out->hist[i];
    }
    if (out->samples == 0) {
        out->max_ns = 0;
    } else if (atomic_load_explicit(&st->max_floor, memory_order_relaxed) != 0) { /* relaxed: a flag */
        /* After a reset the all-time maximum may predate every sample counted now: bound
         * it by the upper edge of the highest bucket that has samples since. */
        unsigned top = FUT_STATS_BUCKETS - 1;
        while (top > 0 && out->hist[top] == 0)
            top--;
        uint64_t hi = top + 1 < FUT_STATS_BUCKETS ? fut__stats_bucket_low(top + 1) - 1 : UINT64_MAX;
        if (out->max_ns > hi)
            out->max_ns = hi;
    }
    return 0;
}

/* Moves a baseline forward to v, never back: of two resets that race, the one that
 * summed later wins whichever stores last (every counter only grows, so the larger sum
 * is the later one). relaxed: one location's modification order is all it needs. */
static inline void fut__stats_raise(_Atomic(uint64_t) *b, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(b, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak_explicit(b, &cur, v, memory_order_relaxed, memory_order_relaxed)) {
    }
}

FUT__DEF void fut_stats_reset(fut_stats *st)
{
    if (st == NULL || st->shards == NULL)
        return;
    uint64_t c[FUT_STATS_MAX], hist[FUT_STATS_BUCKETS], max_ns;
    fut__stats_sum(st, c, hist, &max_ns);
    /* The writers never see a reset: their shards keep growing and snapshots subtract
     * this baseline, so no update is lost to a race. */
    for (int i = 0; i < FUT_STATS_MAX; i++)
        fut__stats_raise(&st->base[i], c[i]);
    for (int i = 0; i < FUT_STATS_BUCKETS; i++)
        fut__stats_raise(&st->hist_base[i], hist[i]);
    atomic_store_explicit(&st->max_floor, 1, memory_order_relaxed); /* "a reset happened" */
}

FUT__DEF double fut_stats_pool_hit_rate(const fut_stats_snap *s)
{
    if (s == NULL)
        return 0.0;
    uint64_t h = s->c[FUT_STAT_POOL_HIT], m = s->c[FUT_STAT_POOL_MISS];
    return h + m ? (double)h / (double)(h + m) : 0.0;
}

FUT__DEF double fut_stats_fast_path_rate(const fut_stats_snap *s)
{
    if (s == NULL)
        return 0.0;
    uint64_t f = s->c[FUT_STAT_FAST_PATH], c = s->c[FUT_STAT_CHAINED];
    return c ? (double)f / (double)c : 0.0;
}

FUT__DEF uint64_t fut_stats_percentile(const fut_stats_snap *s, double p)
{
    if (s == NULL || s->samples == 0)
        return 0;
    if (p >= 100.0)
        return s->max_ns;
    double want = p <= 0.0 ? 1.0 : p / 100.0 * (double)s->samples;
    uint64_t seen = 0;
    for (unsigned b = 0; b < FUT_STATS_BUCKETS; b++) {
        if (s->hist[b] == 0)
            continue;
        if ((double)(seen + s->hist[b]) >= want) {
            /* Interpolate inside the bucket; never past the largest sample seen. */
            uint64_t lo = fut__stats_bucket_low(b);
            uint64_t hi = b + 1 < FUT_STATS_BUCKETS ? fut__stats_bucket_low(b + 1) : UINT64_MAX;
            double frac = (want - (double)seen) / (double)s->hist[b];
            uint64_t v = lo + (uint64_t)((double)(hi - lo) * frac);
            if (v >= hi)
                v = hi - 1; /* hi belongs to the next bucket */
            return v > s->max_ns ? s->max_ns : v;
        }
        seen += s->hist[b];
    }
    return s->max_ns;
}

/* snprintf into a moving window; counts what it would have written. */
typedef struct fut__stats_buf {
    char *p;
    size_t cap, len;
} fut__stats_buf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void fut__stats_put(fut__stats_buf *b, const char *fmt, ...);

static inline void fut__stats_put(fut__stats_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

FUT__DEF size_t fut_stats_format(const fut_stats_snap *s, int json, char *buf, size_t cap)
{
    fut__stats_buf b = {buf, buf != NULL ? cap : 0, 0};
    if (b.cap)
        buf[0] = '\0';
    if (s == NULL)
        return 0;
    uint64_t p50 = fut_stats_percentile(s, 50), p90 = fut_stats_percentile(s, 90);
    uint64_t p99 = fut_stats_percentile(s, 99);
    unsigned n = s->names == NULL ? (unsigned)FUT_STAT_COUNT : s->n <= FUT_STATS_MAX ? s->n : FUT_STATS_MAX;
    const char *h = s->hist_name != NULL ? s->hist_name : "latency";
    if (json) {
        fut__stats_put(&b, "{");
        for (unsigned i = 0; i < n; i++)
            fut__stats_put(&b, "\"%s\":%llu,", fut_stats_counter_name(s, i), (unsigned long long)s->c[i]);
        if (s->names == NULL)
            fut__stats_put(&b, "\"pool_hit_rate\":%.4f,\"fast_path_rate\":%.4f,", fut_stats_pool_hit_rate(s),
                           fut_stats_fast_path_rate(s));
        fut__stats_put(&b, "\"%s_ns\":{\"samples\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu}}",
                       h, (unsigned long long)s->samples, (unsigned long long)p50, (unsigned long long)p90,
                       (unsigned long long)p99, (unsigned long long)s->max_ns);
    } else {
        for (unsigned i = 0; i < n; i++)
            fut__stats_put(&b, "%-16s %20llu\n", fut_stats_counter_name(s, i), (unsigned long long)s->c[i]);
        if (s->names == NULL)
            fut__stats_put(&b, "%-16s %19.1f%%\n%-16s %19.1f%%\n", "pool_hit_rate",
                           100.0 * fut_stats_pool_hit_rate(s), "fast_path_rate", 100.0 * fut_stats_fast_path_rate(s));
        static const char *const what[] = {"samples", "p50", "p90", "p99", "max"};
        uint64_t v[] = {s->samples, p50, p90, p99, s->max_ns};
        for (int i = 0; i < 5; i++) {
            char label[64];
            snprintf(label, sizeof label, "%s_%s", h, what[i]);
            fut__stats_put(&b, i == 0 ? "%-16s %20llu\n" : "%-16s %17llu ns\n", label, (unsigned long long)v[i]);
        }
    }
    if (b.cap && b.len >= b.cap)
        buf[b.cap - 1] = '\0';
    return b.len;
}

FUT__DEF int fut_stats_print(const fut_stats_snap *s, FILE *f, int json)
{
    if (s == NULL || f == NULL)
        return EINVAL;
    char small[2048];
    size_t n = fut_stats_format(s, json, small, sizeof small);
    char *buf = small;
    if (n >= sizeof small) {
        buf = (char *)FUT_MALLOC(n + 1);
        if (buf == NULL)
            return ENOMEM;
        fut_stats_format(s, json, buf, n + 1);
    }
    int rc = fputs(buf, f) < 0 ? EIO : 0;
    if (json && rc == 0)
        rc = fputc('\n', f) == EOF ? EIO : 0;
    if (buf != small)
        FUT_FREE(buf);
    return rc;
}

#endif /* FUT__IMPL */

FUT__C_END

#endif /* FUT_STATS_H */

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
