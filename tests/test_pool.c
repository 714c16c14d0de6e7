/* Unit tests for pool.h: init and its bad input, alignment, the exact LRU order of one
 * thread's releases (for several magazine sizes, with flushes, against a model), the
 * reset hook, the stats wiring, warm-up, the debug checks of release, the accounting,
 * magazines of threads that exit or outlive the pool, and a pool reused at one address.
 * The header's comments are the specification. This build has no NDEBUG, so the header
 * checks of release are on. Criterion forks every test, so testutil's counters start at
 * zero. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "pool.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#ifdef NDEBUG
#error "test_pool checks the debug-build release checks: build it without NDEBUG"
#endif

/* ---- helpers ----------------------------------------------------------------------- */

static long allocs(void) { return atomic_load(&tu_allocs); }
static long frees(void) { return atomic_load(&tu_frees); }

/* Fails the k-th allocation attempt from now (1 = the next one). */
static void fail_nth(long k) { atomic_store(&tu_fail_at, atomic_load(&tu_calls) + k); }

static fut_pool_counts counts_of(fut_pool *p)
{
    fut_pool_counts c;
    memset(&c, 0xa5, sizeof c);
    cr_assert_eq(fut_pool_snapshot(p, &c), 0);
    return c;
}

/* The accounting identity and the bound on idle objects, at a quiescent point. */
static fut_pool_counts check_accounting(fut_pool *p, size_t capacity)
{
    fut_pool_counts c = counts_of(p);
    cr_assert_eq(c.allocated, c.live + c.idle + c.evicted,
                 "allocated %llu != live %llu + idle %llu + evicted %llu",
                 (unsigned long long)c.allocated, (unsigned long long)c.live,
                 (unsigned long long)c.idle, (unsigned long long)c.evicted);
    cr_assert_leq(c.idle, capacity, "idle %llu > capacity %zu", (unsigned long long)c.idle,
                  capacity);
    cr_assert_leq(c.evicted + c.idle, c.allocated);
    return c;
}

static uint64_t stat_of(fut_stats *st, fut_stat k)
{
    fut_stats_snap s;
    cr_assert_eq(fut_stats_snapshot(st, &s), 0);
    return s.c[k];
}

/* xorshift64*: a fixed pseudo-random sequence per seed. */
static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

/* A fixture: the allocation count when the test starts. */
static long live_at_start;
static void note_baseline(void) { live_at_start = tu_live(); }

/* ---- init -------------------------------------------------------------------------- */

Test(fut_pool_init, rejects_null_size_zero_and_bad_align)
{
    fut_pool p;
    fut_pool_config ok = {.size = 32, .capacity = 4};
    long calls = atomic_load(&tu_calls);
    cr_assert_eq(fut_pool_init(NULL, &ok), EINVAL);
    cr_assert_eq(fut_pool_init(&p, NULL), EINVAL);
    fut_pool_config c = ok;
    c.size = 0;
    cr_assert_eq(fut_pool_init(&p, &c), EINVAL);
    static const size_t bad[] = {3, 24, 48, 100, 4095, 8192, 1u << 20, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = ok;
        c.align = bad[i];
        cr_assert_eq(fut_pool_init(&p, &c), EINVAL, "align %zu", bad[i]);
    }
    cr_assert_eq(atomic_load(&tu_calls), calls, "bad input must not allocate");
}

Test(fut_pool_init, align_below_16_or_zero_gives_16_byte_objects)
{
    static const size_t aligns[] = {0, 1, 2, 4, 8, 16};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        fut_pool p;
        fut_pool_config c = {.size = 24, .align = aligns[i], .capacity = 8};
        cr_assert_eq(fut_pool_init(&p, &c), 0, "align %zu", aligns[i]);
        void *o[5];
        for (int k = 0; k < 5; k++) {
            o[k] = fut_pool_acquire(&p);
            cr_assert_not_null(o[k]);
            cr_assert_eq((uintptr_t)o[k] % 16, 0, "align %zu: %p", aligns[i], o[k]);
            memset(o[k], 0xee, 24);
        }
        for (int k = 0; k < 5; k++)
            cr_assert_eq(fut_pool_release(&p, o[k]), 0);
        fut_pool_destroy(&p);
    }
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_init, warm_beyond_capacity_is_clamped)
{
    fut_pool p;
    fut_pool_config c = {.size = 40, .capacity = 4, .warm = 10};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    fut_pool_counts n = check_accounting(&p, 4);
    cr_assert_eq(n.allocated, 4);
    cr_assert_eq(n.idle, 4);
    cr_assert_eq(n.live, 0);
    cr_assert_eq(n.evicted, 0);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_init, enomem_when_the_ring_cannot_be_allocated)
{
    fut_pool p;
    fut_pool_config c = {.size = 40, .capacity = 16, .warm = 4};
    long live = tu_live();
    tu_fail_next();
    cr_assert_eq(fut_pool_init(&p, &c), ENOMEM);
    cr_assert_eq(tu_live(), live, "nothing leaked");
    cr_assert_eq(fut_pool_init(&p, &c), 0, "with memory, init works");
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), live);
}

Test(fut_pool_init, enomem_on_any_warm_object_leaks_nothing)
{
    enum { W = 6 };
    fut_pool_config c = {.size = 100, .align = 64, .capacity = 8, .warm = W};
    for (long k = 1; k <= W; k++) {
        fut_pool p;
        long live = tu_live();
        fail_nth(1 + k); /* the ring is the first allocation, then the objects */
        cr_assert_eq(fut_pool_init(&p, &c), ENOMEM, "warm object %ld failing", k);
        cr_assert_eq(tu_live(), live, "warm object %ld failing: %ld leaked", k, tu_live() - live);
    }
    atomic_store(&tu_fail_at, 0);
    fut_pool p;
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    cr_assert_eq(counts_of(&p).idle, W);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_init, warm_objects_serve_the_first_acquires_as_hits)
{
    enum { W = 8 };
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 4), 0);
    fut_pool p;
    fut_pool_config c = {.size = 64, .capacity = 16, .warm = W, .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    long a0 = allocs();
    void *o[W + 1];
    for (int i = 0; i < W; i++)
        cr_assert_not_null(o[i] = fut_pool_acquire(&p));
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_HIT), W);
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_MISS), 0);
    cr_assert_eq(counts_of(&p).allocated, W, "no object allocated");
    /* The one allocation allowed is this thread's magazine, made on first use. */
    cr_assert_leq(allocs() - a0, 1, "%ld allocations for %d warm acquires", allocs() - a0, W);
    cr_assert_not_null(o[W] = fut_pool_acquire(&p));
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_MISS), 1, "the warm objects are spent");
    cr_assert_eq(counts_of(&p).allocated, W + 1);
    for (int i = 0; i <= W; i++)
        cr_assert_eq(fut_pool_release(&p, o[i]), 0);
    check_accounting(&p, 16);
    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

/* ---- acquire and release ----------------------------------------------------------- */

Test(fut_pool_acquire, null_pool_gives_null) { cr_assert_null(fut_pool_acquire(NULL)); }

Test(fut_pool_acquire, acquire_then_release_reuses_the_object)
{
    fut_pool p;
    fut_pool_config c = {.size = 48, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *a = fut_pool_acquire(&p);
    cr_assert_not_null(a);
    fut_pool_counts n = check_accounting(&p, 4);
    cr_assert_eq(n.live, 1);
    cr_assert_eq(n.idle, 0);
    cr_assert_eq(fut_pool_release(&p, a), 0);
    n = check_accounting(&p, 4);
    cr_assert_eq(n.live, 0);
    cr_assert_eq(n.idle, 1);
    cr_assert_eq(fut_pool_acquire(&p), a, "the idle object comes back");
    cr_assert_eq(counts_of(&p).allocated, 1);
    cr_assert_eq(fut_pool_release(&p, a), 0);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_acquire, objects_are_aligned_and_writable_over_their_size)
{
    static const size_t aligns[] = {16, 64, 4096};
    static const size_t sizes[] = {1, 24, 100, 4096, 5000};
    enum { K = 6 };
    for (size_t ai = 0; ai < sizeof aligns / sizeof aligns[0]; ai++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t align = aligns[ai], size = sizes[si];
            fut_pool p;
            fut_pool_config c = {.size = size, .align = align, .capacity = 3, .warm = 2};
            cr_assert_eq(fut_pool_init(&p, &c), 0);
            /* Twice round: warm objects, fresh ones, then reused ones. */
            for (int round = 0; round < 2; round++) {
                unsigned char *o[K];
                for (int k = 0; k < K; k++) {
                    o[k] = fut_pool_acquire(&p);
                    cr_assert_not_null(o[k]);
                    cr_assert_eq((uintptr_t)o[k] % align, 0, "align %zu size %zu: %p", align,
                                 size, (void *)o[k]);
                    memset(o[k], 0x10 + k, size);
                }
                for (int k = 0; k < K; k++)
                    for (size_t b = 0; b < size; b++)
                        cr_assert_eq(o[k][b], 0x10 + k, "align %zu size %zu: object %d byte %zu "
                                     "overwritten: objects overlap", align, size, k, b);
                for (int k = 0; k < K; k++)
                    cr_assert_eq(fut_pool_release(&p, o[k]), 0);
            }
            check_accounting(&p, 3);
            fut_pool_destroy(&p);
            cr_assert_eq(tu_live(), 0, "align %zu size %zu: leaked", align, size);
        }
    }
}

Test(fut_pool_acquire, returns_null_when_memory_is_out_and_recovers)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *a = fut_pool_acquire(&p); /* makes this thread's magazine too */
    cr_assert_not_null(a);
    tu_fail_next();
    cr_assert_null(fut_pool_acquire(&p), "nothing idle and no memory");
    fut_pool_counts n = check_accounting(&p, 4);
    cr_assert_eq(n.allocated, 1);
    cr_assert_eq(n.live, 1);
    void *b = fut_pool_acquire(&p);
    cr_assert_not_null(b);
    cr_assert_eq(fut_pool_release(&p, a), 0);
    cr_assert_eq(fut_pool_release(&p, b), 0);
    n = check_accounting(&p, 4);
    cr_assert_eq(n.live, 0);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_acquire, survives_any_early_allocation_failing)
{
    /* Whichever of the first allocations fails (this thread's magazine or an object),
     * an acquire gives NULL or an object, never a broken pool: the next one works, the
     * reuse and the accounting stay right. */
    for (long k = 1; k <= 4; k++) {
        fut_pool p;
        fut_pool_config c = {.size = 32, .capacity = 4, .magazine = 2};
        cr_assert_eq(fut_pool_init(&p, &c), 0);
        fail_nth(k);
        void *o[3];
        for (int i = 0; i < 3; i++) {
            o[i] = fut_pool_acquire(&p);
            if (o[i] == NULL)
                o[i] = fut_pool_acquire(&p); /* only one allocation was made to fail */
            cr_assert_not_null(o[i], "failure %ld: acquire %d", k, i);
        }
        for (int i = 0; i < 3; i++)
            cr_assert_eq(fut_pool_release(&p, o[i]), 0);
        fut_pool_counts n = check_accounting(&p, 4);
        cr_assert_eq(n.idle, 3, "failure %ld: all three kept", k);
        cr_assert_eq(n.live, 0);
        for (int i = 2; i >= 0; i--)
            cr_assert_eq(fut_pool_acquire(&p), o[i], "failure %ld: reuse, newest first", k);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(fut_pool_release(&p, o[i]), 0);
        check_accounting(&p, 4);
        fut_pool_destroy(&p);
        cr_assert_eq(tu_live(), 0, "failure %ld: leaked", k);
    }
}

/* ---- the LRU order on one thread --------------------------------------------------- */

enum { LRU_NONE = 0, LRU_FLUSH_AT_END = 1, LRU_FLUSH_EVERY_3 = 2 };

/* Releases n > capacity fresh objects in order: the first n - capacity are evicted
 * (freed), the rest come back newest first, then acquires allocate. */
static void check_lru_order(size_t capacity, unsigned magazine, size_t n, int flush)
{
    cr_assert_gt(n, capacity);
    cr_assert_leq(n, 64);
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 2), 0);
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = capacity, .magazine = magazine, .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *o[64];
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(o[i] = fut_pool_acquire(&p));
        *(size_t *)o[i] = i;
    }
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_MISS), n);
    long f0 = frees();
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(fut_pool_release(&p, o[i]), 0);
        if (flush == LRU_FLUSH_EVERY_3 && i % 3 == 2)
            fut_pool_flush(&p);
        fut_pool_counts k = check_accounting(&p, capacity);
        size_t kept = i + 1 < capacity ? i + 1 : capacity;
        cr_assert_eq(k.idle, kept, "after %zu releases: idle %llu, want %zu", i + 1,
                     (unsigned long long)k.idle, kept);
        cr_assert_eq(k.evicted, i + 1 - kept);
    }
    if (flush == LRU_FLUSH_AT_END)
        fut_pool_flush(&p);
    cr_assert_eq(frees() - f0, (long)(n - capacity), "evicted objects are freed");
    cr_assert_eq(stat_of(&st, FUT_STAT_EVICTED), n - capacity);
    cr_assert_eq(stat_of(&st, FUT_STAT_POOLED), n);
    for (size_t i = 0; i < capacity; i++) {
        void *got = fut_pool_acquire(&p);
        size_t want = n - 1 - i;
        cr_assert_eq(got, o[want],
                     "capacity %zu magazine %u: acquire %zu gave object %zu, want %zu", capacity,
                     magazine, i, got ? *(size_t *)got : (size_t)-1, want);
    }
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_HIT), capacity);
    /* The pool is empty now: acquires allocate. */
    for (size_t i = 0; i < 3; i++) {
        void *fresh = fut_pool_acquire(&p);
        cr_assert_not_null(fresh);
        o[i] = fresh; /* o[0..2] were evicted long ago: reuse their slots */
    }
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_MISS), n + 3, "the pool was empty: misses");
    cr_assert_eq(counts_of(&p).allocated, n + 3);
    cr_assert_eq(counts_of(&p).live, capacity + 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(fut_pool_release(&p, o[i]), 0);
    for (size_t i = n - capacity; i < n; i++)
        cr_assert_eq(fut_pool_release(&p, o[i]), 0);
    check_accounting(&p, capacity);
    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0, "destroy freed every idle object, the ring and the magazine");
}

Test(fut_pool_lru, evicts_the_oldest_and_returns_newest_first_magazine_1)
{
    check_lru_order(8, 1, 20, LRU_NONE);
}

Test(fut_pool_lru, evicts_the_oldest_and_returns_newest_first_magazine_2)
{
    check_lru_order(8, 2, 20, LRU_NONE);
}

Test(fut_pool_lru, evicts_the_oldest_and_returns_newest_first_magazine_capacity)
{
    check_lru_order(8, 8, 20, LRU_NONE);
}

Test(fut_pool_lru, evicts_the_oldest_and_returns_newest_first_default_magazine)
{
    check_lru_order(8, 0, 20, LRU_NONE);
    check_lru_order(40, 0, 64, LRU_NONE); /* magazine 10 */
    check_lru_order(1, 0, 5, LRU_NONE);
    check_lru_order(3, 5, 9, LRU_NONE); /* a magazine larger than the capacity */
}

Test(fut_pool_lru, order_holds_after_a_flush_at_the_end)
{
    check_lru_order(8, 1, 20, LRU_FLUSH_AT_END);
    check_lru_order(8, 2, 20, LRU_FLUSH_AT_END);
    check_lru_order(8, 8, 20, LRU_FLUSH_AT_END);
    check_lru_order(8, 0, 20, LRU_FLUSH_AT_END);
}

Test(fut_pool_lru, order_holds_with_flushes_between_releases)
{
    check_lru_order(8, 1, 20, LRU_FLUSH_EVERY_3);
    check_lru_order(8, 2, 20, LRU_FLUSH_EVERY_3);
    check_lru_order(8, 8, 20, LRU_FLUSH_EVERY_3);
    check_lru_order(8, 0, 20, LRU_FLUSH_EVERY_3);
}

Test(fut_pool_lru, capacity_zero_frees_every_release)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 1), 0);
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 0, .warm = 5, .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    cr_assert_eq(counts_of(&p).idle, 0, "warm is clamped to 0");
    for (int i = 0; i < 10; i++) {
        void *o = fut_pool_acquire(&p);
        cr_assert_not_null(o);
        long f0 = frees();
        cr_assert_eq(fut_pool_release(&p, o), 0);
        cr_assert_eq(frees() - f0, 1, "release %d freed the object", i);
        fut_pool_counts n = check_accounting(&p, 0);
        cr_assert_eq(n.idle, 0);
        cr_assert_eq(n.evicted, (uint64_t)i + 1);
    }
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_MISS), 10);
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_HIT), 0);
    cr_assert_eq(stat_of(&st, FUT_STAT_EVICTED), 10);
    cr_assert_eq(stat_of(&st, FUT_STAT_POOLED), 10);
    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

/* A random single-thread script of acquires, releases (in any order) and flushes,
 * checked step by step against a plain LRU list of capacity `capacity`. */
static void check_against_lru_model(size_t capacity, unsigned magazine, uint64_t seed)
{
    enum { STEPS = 3000, HOLD = 48 };
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 1), 0);
    fut_pool p;
    fut_pool_config c = {.size = 16, .capacity = capacity, .magazine = magazine, .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *idle[64];     /* the model: oldest first */
    size_t nidle = 0;
    void *held[HOLD];
    size_t nheld = 0;
    uint64_t hits = 0, misses = 0, released = 0, evicted = 0;
    uint64_t x = seed;
    cr_assert_leq(capacity, 63);
    for (int step = 0; step < STEPS; step++) {
        uint64_t r = rng_next(&x);
        /* Phases of 150 steps that mostly acquire, then mostly release: the holdings
         * swing between empty and full, so there is reuse and eviction. */
        int filling = (step / 150) % 2 == 0;
        int op = (int)(r % 16);
        int acquire = filling ? op < 11 : op < 4;
        if (op == 15) {
            fut_pool_flush(&p);
        } else if (acquire && nheld < HOLD) {
            void *o = fut_pool_acquire(&p);
            cr_assert_not_null(o);
            if (nidle > 0) {
                cr_assert_eq(o, idle[nidle - 1],
                             "step %d (cap %zu mag %u): not the newest idle object", step,
                             capacity, magazine);
                nidle--;
                hits++;
            } else {
                for (size_t i = 0; i < nheld; i++)
                    cr_assert_neq(o, held[i], "step %d: handed out twice", step);
                misses++;
            }
            held[nheld++] = o;
        } else if (nheld > 0) {
            size_t i = (size_t)(r >> 32) % nheld;
            void *o = held[i];
            held[i] = held[--nheld];
            cr_assert_eq(fut_pool_release(&p, o), 0);
            released++;
            idle[nidle++] = o;
            if (nidle > capacity) {
                memmove(idle, idle + 1, (nidle - 1) * sizeof idle[0]);
                nidle--;
                evicted++;
            }
        }
        fut_pool_counts n = check_accounting(&p, capacity);
        cr_assert_eq(n.idle, nidle, "step %d (cap %zu mag %u): idle %llu, model %zu", step,
                     capacity, magazine, (unsigned long long)n.idle, nidle);
        cr_assert_eq(n.live, nheld);
        cr_assert_eq(n.evicted, evicted);
        cr_assert_eq(n.allocated, misses);
    }
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_HIT), hits);
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_MISS), misses);
    cr_assert_eq(stat_of(&st, FUT_STAT_POOLED), released);
    cr_assert_eq(stat_of(&st, FUT_STAT_EVICTED), evicted);
    cr_assert_gt(hits, 100, "cap %zu mag %u: the script exercised reuse", capacity, magazine);
    cr_assert_gt(evicted, 10, "cap %zu mag %u: the script exercised eviction", capacity, magazine);
    while (nheld > 0)
        cr_assert_eq(fut_pool_release(&p, held[--nheld]), 0);
    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_lru, a_random_script_matches_an_lru_model)
{
    static const unsigned mags[] = {1, 2, 3, 8, 0};
    for (size_t i = 0; i < sizeof mags / sizeof mags[0]; i++) {
        check_against_lru_model(8, mags[i], 0x1234567 + i);
        check_against_lru_model(5, mags[i], 0x7654321 + i);
    }
    check_against_lru_model(32, 0, 42);
    check_against_lru_model(32, 32, 43);
}

/* ---- the reset hook and the stats -------------------------------------------------- */

typedef struct reset_log {
    int calls;
    void *last;
    void *ctx_seen;
} reset_log;

static void log_reset(void *obj, void *ctx)
{
    reset_log *l = ctx;
    l->calls++;
    l->last = obj;
    l->ctx_seen = ctx;
}

Test(fut_pool_reset, hook_runs_on_every_reuse_and_never_on_a_fresh_object)
{
    reset_log log = {0};
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 1), 0);
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4, .reset = log_reset, .reset_ctx = &log,
                         .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *a = fut_pool_acquire(&p), *b = fut_pool_acquire(&p);
    cr_assert_eq(log.calls, 0, "fresh objects are not reset");
    cr_assert_eq(fut_pool_release(&p, a), 0);
    cr_assert_eq(log.calls, 0, "release does not reset");
    cr_assert_eq(fut_pool_acquire(&p), a);
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.last, a);
    cr_assert_eq(log.ctx_seen, &log, "reset_ctx is passed");
    void *fresh = fut_pool_acquire(&p);
    cr_assert_eq(log.calls, 1, "a miss allocates and does not reset");
    cr_assert_eq(fut_pool_release(&p, b), 0);
    cr_assert_eq(fut_pool_release(&p, fresh), 0);
    cr_assert_eq(fut_pool_release(&p, a), 0);
    fut_pool_flush(&p);
    void *again[3];
    for (int i = 0; i < 3; i++)
        cr_assert_not_null(again[i] = fut_pool_acquire(&p));
    cr_assert_eq(log.calls, 4);
    cr_assert_eq((uint64_t)log.calls, stat_of(&st, FUT_STAT_POOL_HIT), "one reset per hit");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fut_pool_release(&p, again[i]), 0);
    cr_assert_eq(log.calls, 4);
    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
}

Test(fut_pool_stats, hits_misses_pooled_and_evicted_are_counted_exactly)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 1), 0);
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 3, .magazine = 1, .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *o[5];
    for (int i = 0; i < 5; i++)
        o[i] = fut_pool_acquire(&p); /* 5 misses */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(fut_pool_release(&p, o[i]), 0); /* 5 pooled, 2 evicted */
    for (int i = 0; i < 4; i++)
        o[i] = fut_pool_acquire(&p); /* 3 hits, 1 miss */
    cr_assert_eq(fut_pool_release(&p, o[0]), 0);     /* 6 pooled */
    cr_assert_eq(fut_pool_release(&p, o[0]), EALREADY); /* rejected: not counted */
    fut_stats_snap s;
    cr_assert_eq(fut_stats_snapshot(&st, &s), 0);
    cr_assert_eq(s.c[FUT_STAT_POOL_MISS], 6);
    cr_assert_eq(s.c[FUT_STAT_POOL_HIT], 3);
    cr_assert_eq(s.c[FUT_STAT_POOLED], 6);
    cr_assert_eq(s.c[FUT_STAT_EVICTED], 2);
    cr_assert_eq(fut_stats_pool_hit_rate(&s), 3.0 / 9.0);
    fut_pool_counts n = check_accounting(&p, 3);
    cr_assert_eq(n.allocated, s.c[FUT_STAT_POOL_MISS]);
    cr_assert_eq(n.evicted, s.c[FUT_STAT_EVICTED]);
    for (int i = 1; i < 4; i++)
        cr_assert_eq(fut_pool_release(&p, o[i]), 0);
    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

/* ---- release: bad input and the debug checks ---------------------------------------- */

Test(fut_pool_release, null_pool_or_object_is_einval)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *a = fut_pool_acquire(&p);
    cr_assert_eq(fut_pool_release(&p, NULL), EINVAL);
    cr_assert_eq(fut_pool_release(NULL, a), EINVAL);
    cr_assert_eq(fut_pool_release(&p, a), 0, "still releasable");
    cr_assert_eq(counts_of(&p).idle, 1);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_release, twice_is_ealready_wherever_the_object_sits)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 8, .magazine = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *a = fut_pool_acquire(&p), *b = fut_pool_acquire(&p);
    cr_assert_eq(fut_pool_release(&p, a), 0);
    cr_assert_eq(fut_pool_release(&p, a), EALREADY, "idle in the magazine");
    fut_pool_flush(&p);
    cr_assert_eq(fut_pool_release(&p, a), EALREADY, "idle in the depot");
    fut_pool_counts n = check_accounting(&p, 8);
    cr_assert_eq(n.idle, 1, "kept once");
    cr_assert_eq(n.live, 1);
    cr_assert_eq(fut_pool_acquire(&p), a);
    void *c2 = fut_pool_acquire(&p);
    cr_assert_neq(c2, a, "handed out once");
    cr_assert_eq(fut_pool_release(&p, b), 0);
    cr_assert_eq(fut_pool_release(&p, a), 0);
    cr_assert_eq(fut_pool_release(&p, c2), 0);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_release, foreign_memory_is_einval)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    unsigned char *raw = calloc(1, 4096); /* room before the pointer for a "header" */
    cr_assert_not_null(raw);
    cr_assert_eq(fut_pool_release(&p, raw + 2048), EINVAL);
    memset(raw, 0xff, 4096);
    cr_assert_eq(fut_pool_release(&p, raw + 2048), EINVAL);
    static _Alignas(64) unsigned char stat_buf[512];
    cr_assert_eq(fut_pool_release(&p, stat_buf + 256), EINVAL);
    free(raw);
    void *a = fut_pool_acquire(&p);
    cr_assert_eq(fut_pool_release(&p, a), 0, "the pool still works");
    fut_pool_counts n = check_accounting(&p, 4);
    cr_assert_eq(n.idle, 1);
    cr_assert_eq(n.allocated, 1);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_release, an_object_of_another_pool_is_einval)
{
    fut_pool p, q;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    cr_assert_eq(fut_pool_init(&q, &c), 0);
    void *from_q = fut_pool_acquire(&q);
    void *from_p = fut_pool_acquire(&p);
    cr_assert_eq(fut_pool_release(&p, from_q), EINVAL);
    cr_assert_eq(fut_pool_release(&q, from_p), EINVAL);
    cr_assert_eq(counts_of(&p).idle, 0);
    cr_assert_eq(counts_of(&q).idle, 0);
    cr_assert_eq(fut_pool_release(&q, from_q), 0, "its own pool takes it");
    cr_assert_eq(fut_pool_release(&p, from_p), 0);
    cr_assert_eq(counts_of(&p).idle, 1);
    cr_assert_eq(counts_of(&q).idle, 1);
    cr_assert_eq(fut_pool_acquire(&p), from_p);
    cr_assert_eq(fut_pool_acquire(&q), from_q);
    cr_assert_eq(fut_pool_release(&p, from_p), 0);
    cr_assert_eq(fut_pool_release(&q, from_q), 0);
    fut_pool_destroy(&q);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

/* ---- accounting -------------------------------------------------------------------- */

Test(fut_pool_snapshot, null_is_einval)
{
    fut_pool p;
    fut_pool_counts n;
    fut_pool_config c = {.size = 32, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    cr_assert_eq(fut_pool_snapshot(NULL, &n), EINVAL);
    cr_assert_eq(fut_pool_snapshot(&p, NULL), EINVAL);
    fut_pool_destroy(&p);
}

Test(fut_pool_snapshot, allocated_is_live_plus_idle_plus_evicted_at_every_step)
{
    fut_pool p;
    fut_pool_config c = {.size = 32, .capacity = 6, .warm = 3};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *o[12];
    fut_pool_counts n = check_accounting(&p, 6);
    cr_assert_eq(n.allocated, 3);
    cr_assert_eq(n.idle, 3);
    for (int i = 0; i < 12; i++) {
        cr_assert_not_null(o[i] = fut_pool_acquire(&p));
        n = check_accounting(&p, 6);
        cr_assert_eq(n.live, (uint64_t)i + 1);
    }
    cr_assert_eq(n.allocated, 12);
    for (int i = 0; i < 12; i += 2) {
        cr_assert_eq(fut_pool_release(&p, o[i]), 0);
        check_accounting(&p, 6);
    }
    fut_pool_flush(&p);
    check_accounting(&p, 6);
    for (int i = 1; i < 12; i += 2) {
        cr_assert_eq(fut_pool_release(&p, o[i]), 0);
        check_accounting(&p, 6);
    }
    n = check_accounting(&p, 6);
    cr_assert_eq(n.live, 0);
    cr_assert_eq(n.idle, 6);
    cr_assert_eq(n.evicted, 6);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

/* ---- threads ----------------------------------------------------------------------- */

typedef struct thread_job {
    fut_pool *p;
    int n;                 /* objects to acquire, then release in order */
    void *obj[32];
    fut_pool_counts after; /* the counts just before the thread exits */
    int errors;
    pthread_barrier_t *hold; /* when set: wait here twice before exiting */
} thread_job;

static void *acquire_release_then_exit(void *arg)
{
    thread_job *j = arg;
    for (int i = 0; i < j->n; i++)
        if ((j->obj[i] = fut_pool_acquire(j->p)) == NULL)
            j->errors++;
    for (int i = 0; i < j->n; i++)
        if (j->obj[i] != NULL && fut_pool_release(j->p, j->obj[i]) != 0)
            j->errors++;
    if (fut_pool_snapshot(j->p, &j->after) != 0) /* the only thread in the pool now */
        j->errors++;
    if (j->hold != NULL) {
        pthread_barrier_wait(j->hold); /* "done": the main thread may destroy now */
        pthread_barrier_wait(j->hold); /* "destroyed": exit only after */
    }
    return NULL;
}

Test(fut_pool_threads, an_exiting_thread_returns_its_magazine_to_the_depot)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, 4), 0);
    fut_pool p;
    fut_pool_config c = {.size = 64, .capacity = 16, .magazine = 8, .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    thread_job j = {.p = &p, .n = 10};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, acquire_release_then_exit, &j), 0);
    pthread_join(t, NULL);
    cr_assert_eq(j.errors, 0);
    cr_assert_eq(j.after.idle, 10);
    fut_pool_counts n = check_accounting(&p, 16);
    cr_assert_eq(n.idle, j.after.idle, "idle unchanged by the exit");
    cr_assert_eq(n.live, 0);
    cr_assert_eq(n.allocated, 10);
    /* The exited thread's objects are now in the depot, in the order it released them:
     * this thread gets them back, newest first, as hits. */
    uint64_t misses = stat_of(&st, FUT_STAT_POOL_MISS);
    for (int i = 9; i >= 0; i--)
        cr_assert_eq(fut_pool_acquire(&p), j.obj[i], "acquire %d", 9 - i);
    cr_assert_eq(stat_of(&st, FUT_STAT_POOL_MISS), misses, "all hits");
    cr_assert_eq(counts_of(&p).allocated, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(fut_pool_release(&p, j.obj[i]), 0);
    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_threads, many_exiting_threads_keep_the_bound_and_the_identity)
{
    fut_pool p;
    fut_pool_config c = {.size = 64, .capacity = 12};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    for (int round = 0; round < 20; round++) {
        thread_job j = {.p = &p, .n = 1 + round % 17};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, acquire_release_then_exit, &j), 0);
        pthread_join(t, NULL);
        cr_assert_eq(j.errors, 0);
        fut_pool_counts n = check_accounting(&p, 12);
        cr_assert_eq(n.live, 0);
        cr_assert_eq(n.idle, j.after.idle, "round %d: the exit changed idle", round);
    }
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

static void *release_one(void *arg)
{
    thread_job *j = arg;
    j->errors = fut_pool_release(j->p, j->obj[0]);
    return NULL;
}

Test(fut_pool_threads, an_object_released_by_another_thread_is_reused)
{
    fut_pool p;
    fut_pool_config c = {.size = 64, .capacity = 8};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    thread_job j = {.p = &p};
    j.obj[0] = fut_pool_acquire(&p);
    cr_assert_not_null(j.obj[0]);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_one, &j), 0);
    pthread_join(t, NULL);
    cr_assert_eq(j.errors, 0);
    fut_pool_counts n = check_accounting(&p, 8);
    cr_assert_eq(n.idle, 1);
    cr_assert_eq(n.live, 0);
    cr_assert_eq(fut_pool_acquire(&p), j.obj[0], "the releasing thread has exited: reused here");
    cr_assert_eq(fut_pool_release(&p, j.obj[0]), 0);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

static void *acquire_n(void *arg)
{
    thread_job *j = arg;
    for (int i = 0; i < j->n; i++)
        if ((j->obj[i] = fut_pool_acquire(j->p)) == NULL)
            j->errors++;
    return NULL;
}

/* A refill moves half a magazine (the depot's newest), not a whole one: the rest stays
 * in the depot for other threads. Taking a whole magazine changes no value (every
 * object still comes back), only who misses; planted (k = cap): red, the other thread
 * allocated 4 objects while 7 sat idle in this thread's magazine. */
Test(fut_pool_threads, a_refill_takes_half_a_magazine_and_leaves_the_rest_to_other_threads)
{
    fut_pool p;
    fut_pool_config c = {.size = 64, .capacity = 64, .warm = 16, .magazine = 8};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    void *mine = fut_pool_acquire(&p); /* refills this thread's magazine with 4 */
    cr_assert_not_null(mine);
    uint64_t before = counts_of(&p).allocated; /* objects (allocs() also counts magazines) */
    thread_job j = {.p = &p, .n = 12};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, acquire_n, &j), 0);
    pthread_join(t, NULL);
    cr_assert_eq(j.errors, 0);
    fut_pool_counts n = check_accounting(&p, 64);
    cr_assert_eq(n.allocated, before, "the other thread allocated %llu objects: the refill left fewer than 12 in the depot",
                 (unsigned long long)(n.allocated - before));
    cr_assert_eq(n.idle, 3, "this thread's magazine keeps the other 3 of its refill");
    cr_assert_eq(n.live, 13);
    for (int i = 0; i < j.n; i++)
        cr_assert_eq(fut_pool_release(&p, j.obj[i]), 0);
    cr_assert_eq(fut_pool_release(&p, mine), 0);
    n = check_accounting(&p, 64);
    cr_assert_eq(n.idle, 16);
    cr_assert_eq(n.evicted, 0);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

Test(fut_pool_threads, destroy_frees_idle_objects_in_live_threads_magazines,
     .init = note_baseline)
{
    fut_pool p;
    fut_pool_config c = {.size = 64, .capacity = 32, .magazine = 8};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    pthread_barrier_t hold;
    pthread_barrier_init(&hold, NULL, 3);
    thread_job j1 = {.p = &p, .n = 6, .hold = &hold}, j2 = {.p = &p, .n = 3, .hold = &hold};
    pthread_t t1, t2;
    cr_assert_eq(pthread_create(&t1, NULL, acquire_release_then_exit, &j1), 0);
    cr_assert_eq(pthread_create(&t2, NULL, acquire_release_then_exit, &j2), 0);
    pthread_barrier_wait(&hold); /* both done, both alive, neither inside the pool */
    /* This thread's magazine holds objects too. */
    void *mine[4];
    for (int i = 0; i < 4; i++)
        cr_assert_not_null(mine[i] = fut_pool_acquire(&p));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fut_pool_release(&p, mine[i]), 0);
    fut_pool_counts n = check_accounting(&p, 32);
    cr_assert_eq(n.live, 0);
    cr_assert_eq(n.idle, n.allocated - n.evicted);
    cr_assert_gt(n.idle, 0);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), live_at_start, "%ld allocations left after destroy",
                 tu_live() - live_at_start);
    pthread_barrier_wait(&hold); /* now the threads exit: nothing left to hand back */
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&hold);
    cr_assert_eq(j1.errors + j2.errors, 0);
    cr_assert_eq(tu_live(), live_at_start, "a thread's exit after destroy touched the pool");
}

/* Threads that released into their magazines, took everything back and stay alive
 * keep no idle object: the pool then holds nothing, and a release by another thread must
 * be kept ("At most `capacity` objects sit idle: past that, the least recently released
 * are evicted"). */
typedef struct holder {
    fut_pool *p;
    int n;
    void *obj[16];
    pthread_barrier_t *hold;
    int errors;
} holder;

static void *release_all_then_take_back(void *arg)
{
    holder *h = arg;
    for (int i = 0; i < h->n; i++)
        if ((h->obj[i] = fut_pool_acquire(h->p)) == NULL)
            h->errors++;
    for (int i = 0; i < h->n; i++)
        if (fut_pool_release(h->p, h->obj[i]) != 0)
            h->errors++;
    for (int i = 0; i < h->n; i++)
        if ((h->obj[i] = fut_pool_acquire(h->p)) == NULL)
            h->errors++;
    pthread_barrier_wait(h->hold); /* holding its objects, alive, out of the pool */
    pthread_barrier_wait(h->hold); /* the main thread is done with the pool */
    for (int i = 0; i < h->n; i++)
        if (fut_pool_release(h->p, h->obj[i]) != 0)
            h->errors++;
    return NULL;
}

static void check_release_kept_beside_holding_threads(size_t capacity, unsigned magazine,
                                                      int threads, int each)
{
    enum { MAXT = 8 };
    cr_assert_leq(threads, MAXT);
    cr_assert_leq(each, 16);
    fut_pool p;
    fut_pool_config c = {.size = 64, .capacity = capacity, .magazine = magazine};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    pthread_barrier_t hold;
    pthread_barrier_init(&hold, NULL, (unsigned)threads + 1);
    holder h[MAXT];
    pthread_t t[MAXT];
    for (int i = 0; i < threads; i++) {
        h[i] = (holder){.p = &p, .n = each, .hold = &hold};
        cr_assert_eq(pthread_create(&t[i], NULL, release_all_then_take_back, &h[i]), 0);
    }
    pthread_barrier_wait(&hold);
    fut_pool_counts n = check_accounting(&p, capacity);
    cr_assert_eq(n.idle, 0);
    void *o = fut_pool_acquire(&p);
    cr_assert_not_null(o);
    cr_assert_eq(fut_pool_release(&p, o), 0);
    n = check_accounting(&p, capacity);
    cr_assert_eq(n.idle, 1, "capacity %zu magazine %u, %d threads holding %d each: nothing was "
                 "idle, yet the release was evicted (evicted %llu)", capacity, magazine, threads,
                 each, (unsigned long long)n.evicted);
    cr_assert_eq(n.evicted, 0);
    pthread_barrier_wait(&hold);
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(h[i].errors, 0);
    }
    pthread_barrier_destroy(&hold);
    check_accounting(&p, capacity);
    fut_pool_destroy(&p);
    cr_assert_eq(tu_live(), 0);
}

/* Regression: empty magazines used to keep their reservation */
Test(fut_pool_threads, a_release_is_kept_while_nothing_is_idle_magazine_capacity)
{
    check_release_kept_beside_holding_threads(8, 8, 1, 8);
}

/* Regression: empty magazines used to keep their reservation */
Test(fut_pool_threads, a_release_is_kept_while_nothing_is_idle_default_magazine)
{
    check_release_kept_beside_holding_threads(8, 0, 4, 2); /* magazine 2 */
}

Test(fut_pool_threads, a_release_is_kept_beside_one_holding_thread_default_magazine)
{
    check_release_kept_beside_holding_threads(8, 0, 1, 8);
    check_release_kept_beside_holding_threads(16, 4, 1, 16);
}

/* ---- a pool reused at one address -------------------------------------------------- */

Test(fut_pool_reuse, a_pool_reinitialised_at_the_same_address_starts_clean)
{
    /* The thread's magazine cache must not hand the new pool the old pool's (freed)
     * magazine: the counts would be off and ASan would see a use after free. */
    for (int i = 0; i < 50; i++) {
        fut_pool p;
        fut_pool_config c = {.size = 32 + (size_t)i, .capacity = 4 + (size_t)(i % 5),
                             .magazine = (unsigned)(i % 4)};
        cr_assert_eq(fut_pool_init(&p, &c), 0);
        void *a = fut_pool_acquire(&p), *b = fut_pool_acquire(&p);
        cr_assert_eq(fut_pool_release(&p, a), 0);
        cr_assert_eq(fut_pool_release(&p, b), 0);
        fut_pool_counts n = check_accounting(&p, c.capacity);
        cr_assert_eq(n.allocated, 2, "pool %d", i);
        cr_assert_eq(n.idle, 2, "pool %d", i);
        cr_assert_eq(fut_pool_acquire(&p), b, "pool %d", i);
        cr_assert_eq(fut_pool_acquire(&p), a, "pool %d", i);
        cr_assert_eq(fut_pool_release(&p, a), 0);
        cr_assert_eq(fut_pool_release(&p, b), 0);
        fut_pool_destroy(&p);
        cr_assert_eq(tu_live(), 0, "pool %d leaked", i);
    }
}

/* ---- units built with and without NDEBUG share a pool ------------------------------- */

void *ndebug_acquire(fut_pool *p);           /* pool_ndebug_unit.c, built with NDEBUG */
int ndebug_release(fut_pool *p, void *obj);

Test(fut_pool_mixed_builds, a_release_build_unit_and_a_checking_one_share_a_pool)
{
    fut_pool p;
    fut_pool_config cfg = {.size = 64, .capacity = 4};
    cr_assert_eq(fut_pool_init(&p, &cfg), 0);
    for (int round = 0; round < 3; round++) {
        void *a = ndebug_acquire(&p); /* release-built acquire, checking release */
        void *b = fut_pool_acquire(&p); /* checking acquire, release-built release */
        cr_assert_not_null(a);
        cr_assert_not_null(b);
        cr_assert_eq(fut_pool_release(&p, a), 0, "an object acquired by a release build");
        cr_assert_eq(ndebug_release(&p, b), 0);
        cr_assert_eq(fut_pool_release(&p, a), EALREADY, "the checks still see a double release");
    }
    fut_pool_counts c;
    cr_assert_eq(fut_pool_snapshot(&p, &c), 0);
    cr_assert_eq(c.live, 0, "%zu objects never came back", (size_t)c.live);
    cr_assert_eq(c.allocated, c.idle + c.evicted);
    fut_pool_destroy(&p); /* (tu_live() counts per unit: LeakSanitizer checks the rest) */
}
