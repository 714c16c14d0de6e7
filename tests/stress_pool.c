/* Cross-thread stress for stats.h and pool.h. Every scenario runs the real operations on
 * many threads at once and then checks exact totals: every increment and every latency
 * sample counted (with more threads than shards too, and threads that come and go), the
 * histogram equal to the same samples fed on one thread; every pooled object owned by
 * one thread at a time (a pattern written on acquire is intact at release, also after a
 * hand-off to another thread), the pool's accounting exact, nothing leaked.
 *
 * Knobs (environment): FUT_STRESS_THREADS (default 4), FUT_STRESS_ITERS (operations per
 * thread per round), FUT_STRESS_SECONDS (repeat rounds for that long: a soak).
 * Workers never assert: they count what went wrong; the test thread asserts after join. */
#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "testutil.h"
#include "stats.h"
#include "pool.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

/* ---- harness ----------------------------------------------------------------------- */

/* Rounds until the soak time is up (or once when FUT_STRESS_SECONDS is unset). */
static int soak_more(uint64_t start, int round)
{
    long secs = TU_SECONDS();
    if (secs == 0)
        return round == 0;
    return fut_now_ns() - start < (uint64_t)secs * 1000000000u;
}

static int threads_knob(void)
{
    long t = TU_THREADS();
    return t > 64 ? 64 : (int)t;
}

/* xorshift64*: each thread its own fixed sequence. */
static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

/* Starts n threads on fn(arg_i), all released together by a barrier that the calling
 * thread joins too; `main_fn` (may be NULL) runs on the calling thread meanwhile. */
typedef struct gang {
    pthread_barrier_t go;
    void *(*fn)(void *);
} gang;

static void *gang_main(void *arg)
{
    gang *g = *(gang **)arg;
    pthread_barrier_wait(&g->go);
    return g->fn(arg);
}

/* args: an array of n records of `size` bytes, each starting with a gang pointer. */
static void gang_run(int n, void *(*fn)(void *), void *args, size_t size, void (*main_fn)(void *),
                     void *main_arg)
{
    gang g = {.fn = fn};
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    cr_assert_not_null(tids);
    pthread_barrier_init(&g.go, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        *(gang **)((char *)args + (size_t)i * size) = &g;
        cr_assert_eq(pthread_create(&tids[i], NULL, gang_main, (char *)args + (size_t)i * size), 0);
    }
    pthread_barrier_wait(&g.go);
    if (main_fn != NULL)
        main_fn(main_arg);
    for (int i = 0; i < n; i++)
        pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&g.go);
    free(tids);
}

/* ---- stats: exact totals ----------------------------------------------------------- */

/* The sample thread t records at step i: spread over many buckets, 0..~2^30 ns. */
static uint64_t sample_of(int t, long i)
{
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull + (uint64_t)t * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (x & 0xffff) << ((x >> 20) % 15);
}

typedef struct stats_worker {
    gang *g;
    fut_stats *st;
    int index;
    long iters;
} stats_worker;

static void *stats_work(void *arg)
{
    stats_worker *w = arg;
    for (long i = 0; i < w->iters; i++) {
        fut_stats_inc(w->st, FUT_STAT_SPAWNED);
        fut_stats_add(w->st, FUT_STAT_CHAINED, 2);
        fut_stats_inc(w->st, (fut_stat)(i % FUT_STAT_COUNT));
        fut_stats_time(w->st, sample_of(w->index, i));
    }
    return NULL;
}

typedef struct stats_watch {
    fut_stats *st;
    long bad; /* snapshots that went backwards */
} stats_watch;

/* While the writers run: snapshots never go backwards, counter by counter. */
static void stats_watch_run(void *arg)
{
    stats_watch *w = arg;
    fut_stats_snap prev, cur;
    memset(&prev, 0, sizeof prev);
    for (int k = 0; k < 200; k++) {
        if (fut_stats_snapshot(w->st, &cur) != 0) {
            w->bad++;
            break;
        }
        for (int i = 0; i < FUT_STAT_COUNT; i++)
            if (cur.c[i] < prev.c[i])
                w->bad++;
        if (cur.samples < prev.samples || cur.max_ns < prev.max_ns)
            w->bad++;
        prev = cur;
        sched_yield();
    }
}

/* Expected totals for threads x iters of stats_work, and the histogram of the same
 * samples recorded on one thread into a block of its own. */
static void stats_expect(int threads, long iters, uint64_t *c, fut_stats_snap *ref)
{
    memset(c, 0, sizeof(uint64_t) * FUT_STAT_COUNT);
    fut_stats one;
    cr_assert_eq(fut_stats_init(&one, 1), 0);
    for (int t = 0; t < threads; t++) {
        for (long i = 0; i < iters; i++) {
            c[FUT_STAT_SPAWNED]++;
            c[FUT_STAT_CHAINED] += 2;
            c[i % FUT_STAT_COUNT]++;
            fut_stats_time(&one, sample_of(t, i));
        }
    }
    cr_assert_eq(fut_stats_snapshot(&one, ref), 0);
    fut_stats_destroy(&one);
}

static void stats_check(fut_stats *st, int threads, long iters, const char *what)
{
    uint64_t want[FUT_STAT_COUNT];
    static fut_stats_snap ref, s;
    stats_expect(threads, iters, want, &ref);
    cr_assert_eq(fut_stats_snapshot(st, &s), 0);
    for (int i = 0; i < FUT_STAT_COUNT; i++)
        cr_assert_eq(s.c[i], want[i], "%s: %s = %llu, want %llu", what, fut_stats_name((fut_stat)i),
                     (unsigned long long)s.c[i], (unsigned long long)want[i]);
    uint64_t n = (uint64_t)threads * (uint64_t)iters;
    cr_assert_eq(s.samples, n, "%s: %llu samples, want %llu", what, (unsigned long long)s.samples,
                 (unsigned long long)n);
    cr_assert_eq(ref.samples, s.samples);
    cr_assert_eq(memcmp(s.hist, ref.hist, sizeof s.hist), 0,
                 "%s: the histogram differs from the same samples on one thread", what);
    cr_assert_eq(s.max_ns, ref.max_ns, "%s: max %llu, want %llu", what,
                 (unsigned long long)s.max_ns, (unsigned long long)ref.max_ns);
}

static void stats_round(unsigned shards, int threads, long iters, const char *what)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, shards), 0);
    stats_worker *ws = calloc((size_t)threads, sizeof *ws);
    cr_assert_not_null(ws);
    for (int i = 0; i < threads; i++)
        ws[i] = (stats_worker){.st = &st, .index = i, .iters = iters};
    stats_watch watch = {.st = &st};
    gang_run(threads, stats_work, ws, sizeof *ws, stats_watch_run, &watch);
    cr_assert_eq(watch.bad, 0, "%s: %ld snapshots went backwards", what, watch.bad);
    stats_check(&st, threads, iters, what);
    free(ws);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0);
}

Test(stress_stats, every_thread_on_its_own_shard_counts_exactly)
{
    int n = threads_knob();
    long iters = TU_ITERS(400000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++)
        stats_round((unsigned)n, n, iters, "a shard each");
}

Test(stress_stats, fewer_shards_than_threads_count_exactly)
{
    int n = threads_knob();
    long iters = TU_ITERS(400000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        stats_round((unsigned)(n / 2 > 0 ? n / 2 : 1), n, iters, "half the shards");
        stats_round(1, n, iters / 2, "one shard");
    }
}

/* Threads that come and go: each wave claims shards until none is left, and every later
 * thread shares the overflow shard; the totals stay exact. */
Test(stress_stats, threads_that_come_and_go_count_exactly)
{
    int n = threads_knob();
    long iters = TU_ITERS(400000) / 20;
    if (iters < 1)
        iters = 1;
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        fut_stats st;
        cr_assert_eq(fut_stats_init(&st, (unsigned)n), 0);
        enum { WAVES = 6 };
        stats_worker *ws = calloc((size_t)n, sizeof *ws);
        cr_assert_not_null(ws);
        for (int wave = 0; wave < WAVES; wave++) {
            for (int i = 0; i < n; i++)
                ws[i] = (stats_worker){.st = &st, .index = wave * n + i, .iters = iters};
            gang_run(n, stats_work, ws, sizeof *ws, NULL, NULL);
        }
        stats_check(&st, WAVES * n, iters, "waves of threads");
        free(ws);
        fut_stats_destroy(&st);
        cr_assert_eq(tu_live(), 0);
    }
}

/* ---- pool: ownership, hand-off, accounting ----------------------------------------- */

enum { OBJ_WORDS = 16, HOLD_MAX = 24, EXCHANGE = 16 };

/* What a holder writes over the whole object: a tag (owner thread, sequence) and words
 * derived from it. Intact at release means nobody else wrote it meanwhile. */
typedef struct pobj {
    uint64_t tag;
    uint64_t w[OBJ_WORDS - 1];
} pobj;

static void stamp(pobj *o, uint64_t tag)
{
    o->tag = tag;
    for (int k = 0; k < OBJ_WORDS - 1; k++)
        o->w[k] = tag * 0x9E3779B97F4A7C15ull + (uint64_t)k;
}

static int intact(const pobj *o)
{
    for (int k = 0; k < OBJ_WORDS - 1; k++)
        if (o->w[k] != o->tag * 0x9E3779B97F4A7C15ull + (uint64_t)k)
            return 0;
    return 1;
}

typedef struct pool_shared {
    fut_pool *p;
    _Atomic(pobj *) exchange[EXCHANGE];
    long iters;
} pool_shared;

typedef struct pool_worker {
    gang *g;
    pool_shared *sh;
    int index;
    uint64_t seed;
    long iters; /* 0: sh->iters */
    /* what happened, for the test thread to check */
    long acquired, released, null_acquires, bad_release, torn, handoffs;
} pool_worker;

static uint64_t tag_of(int index, uint64_t seq) { return ((uint64_t)(index + 1) << 40) | seq; }

static void give_back(pool_worker *w, pobj *o)
{
    if (o->tag >> 40 != (uint64_t)w->index + 1 || !intact(o))
        w->torn++;
    int rc = fut_pool_release(w->sh->p, o);
    if (rc != 0)
        w->bad_release++;
    else
        w->released++;
}

static void *pool_work(void *arg)
{
    pool_worker *w = arg;
    pool_shared *sh = w->sh;
    pobj *held[HOLD_MAX];
    int nheld = 0;
    uint64_t x = w->seed, seq = 0;
    long iters = w->iters != 0 ? w->iters : sh->iters;
    for (long i = 0; i < iters; i++) {
        uint64_t r = rng_next(&x);
        /* Phases of 64 operations that mostly acquire, then mostly release: holdings
         * swing between empty and full, so objects are reused and evicted. */
        unsigned op = (unsigned)(r % 10);
        unsigned acquire_below = (i / 64) % 2 == 0 ? 6 : 2;
        if ((op < acquire_below || nheld == 0) && nheld < HOLD_MAX) {
            pobj *o = fut_pool_acquire(sh->p);
            if (o == NULL) {
                w->null_acquires++;
                continue;
            }
            w->acquired++;
            stamp(o, tag_of(w->index, ++seq));
            held[nheld++] = o;
        } else if (op < 8) {
            int k = (int)((r >> 20) % (uint64_t)nheld);
            pobj *o = held[k];
            held[k] = held[--nheld];
            give_back(w, o);
        } else {
            /* Hand an object to whoever takes this exchange slot next, and take what
             * was there: the object travels between threads, never shared. */
            int k = (int)((r >> 20) % (uint64_t)nheld);
            pobj *o = held[k];
            held[k] = held[--nheld];
            if (o->tag >> 40 != (uint64_t)w->index + 1 || !intact(o))
                w->torn++;
            /* acq_rel: release publishes our stamp to the taker; acquire makes the
             * previous holder's stamp on what we take visible here. */
            pobj *got = atomic_exchange_explicit(&sh->exchange[(r >> 40) % EXCHANGE], o,
                                                 memory_order_acq_rel);
            w->handoffs++;
            if (got != NULL) {
                if (!intact(got))
                    w->torn++;
                stamp(got, tag_of(w->index, ++seq)); /* ours now */
                held[nheld++] = got;
            }
        }
    }
    while (nheld > 0)
        give_back(w, held[--nheld]);
    return NULL;
}

static void pool_round(size_t capacity, unsigned magazine, size_t warm, int threads, long iters,
                       uint64_t seed)
{
    fut_stats st;
    cr_assert_eq(fut_stats_init(&st, (unsigned)threads), 0);
    fut_pool p;
    fut_pool_config c = {.size = sizeof(pobj), .align = 64, .capacity = capacity,
                         .warm = warm, .magazine = magazine, .stats = &st};
    cr_assert_eq(fut_pool_init(&p, &c), 0);
    static pool_shared sh; /* the exchange slots start empty */
    memset(&sh, 0, sizeof sh);
    sh.p = &p;
    sh.iters = iters;
    pool_worker *ws = calloc((size_t)threads, sizeof *ws);
    cr_assert_not_null(ws);
    for (int i = 0; i < threads; i++)
        ws[i] = (pool_worker){.sh = &sh, .index = i,
                              .seed = seed * 7919 + (uint64_t)i * 104729 + 1};
    gang_run(threads, pool_work, ws, sizeof *ws, NULL, NULL);

    long acquired = 0, released = 0, nulls = 0, bad = 0, torn = 0, handoffs = 0;
    for (int i = 0; i < threads; i++) {
        acquired += ws[i].acquired;
        released += ws[i].released;
        nulls += ws[i].null_acquires;
        bad += ws[i].bad_release;
        torn += ws[i].torn;
        handoffs += ws[i].handoffs;
    }
    /* What is left in the exchange goes back from this thread. */
    for (int k = 0; k < EXCHANGE; k++) {
        pobj *o = atomic_exchange_explicit(&sh.exchange[k], NULL, memory_order_acquire);
        if (o == NULL)
            continue;
        if (!intact(o))
            torn++;
        if (fut_pool_release(&p, o) == 0)
            released++;
        else
            bad++;
    }
    cr_assert_eq(nulls, 0, "%ld acquires gave NULL", nulls);
    cr_assert_eq(bad, 0, "%ld releases were refused", bad);
    cr_assert_eq(torn, 0, "%ld objects were written by two holders at once", torn);
    cr_assert_eq(released, acquired, "%ld acquired, %ld released", acquired, released);
    cr_assert_gt(handoffs, 0);

    fut_pool_counts n;
    cr_assert_eq(fut_pool_snapshot(&p, &n), 0);
    cr_assert_eq(n.live, 0, "%llu objects still out", (unsigned long long)n.live);
    cr_assert_eq(n.allocated, n.idle + n.evicted, "allocated %llu != idle %llu + evicted %llu",
                 (unsigned long long)n.allocated, (unsigned long long)n.idle,
                 (unsigned long long)n.evicted);
    cr_assert_leq(n.idle, capacity, "idle %llu > capacity %zu", (unsigned long long)n.idle,
                  capacity);

    fut_stats_snap s;
    cr_assert_eq(fut_stats_snapshot(&st, &s), 0);
    size_t warmed = warm < capacity ? warm : capacity;
    cr_assert_eq(s.c[FUT_STAT_POOL_HIT] + s.c[FUT_STAT_POOL_MISS], (uint64_t)acquired,
                 "hits %llu + misses %llu != %ld acquires",
                 (unsigned long long)s.c[FUT_STAT_POOL_HIT],
                 (unsigned long long)s.c[FUT_STAT_POOL_MISS], acquired);
    cr_assert_eq(s.c[FUT_STAT_POOL_MISS] + warmed, n.allocated);
    cr_assert_eq(s.c[FUT_STAT_POOLED], (uint64_t)released);
    cr_assert_eq(s.c[FUT_STAT_EVICTED], n.evicted);
    if (capacity < HOLD_MAX) /* one thread alone holds more than that: evictions */
        cr_assert_gt(n.evicted, 0, "capacity %zu: the small capacity forced evictions", capacity);
    if (capacity > 0)
        cr_assert_gt(s.c[FUT_STAT_POOL_HIT], 0, "capacity %zu: objects were reused", capacity);

    fut_pool_destroy(&p);
    fut_stats_destroy(&st);
    cr_assert_eq(tu_live(), 0, "%ld allocations left after destroy", tu_live());
    free(ws);
}

Test(stress_pool, random_acquire_release_and_hand_off_keep_ownership_and_counts)
{
    int n = threads_knob();
    long iters = TU_ITERS(400000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        pool_round(8, 0, 4, n, iters, (uint64_t)round + 1);     /* default magazine (2) */
        pool_round(16, 1, 0, n, iters, (uint64_t)round + 101);  /* magazine of one */
        pool_round(6, 6, 6, n, iters, (uint64_t)round + 201);   /* magazine = capacity */
        pool_round(20, 0, 0, n, iters, (uint64_t)round + 301);  /* magazine 5 */
        pool_round(64, 0, 16, n, iters, (uint64_t)round + 401); /* magazine 16 */
        pool_round(0, 0, 0, n, iters / 4, (uint64_t)round + 501); /* nothing kept */
    }
}

/* Threads that come and go while others work: each exit hands a magazine back to the
 * depot under the lock while the others acquire and release. */
typedef struct churn {
    pool_shared *sh;
    _Atomic int stop;
    long waves;
    long acquired, released, torn, bad, nulls;
} churn;

static void churn_run(void *arg)
{
    churn *c = arg;
    int k = 0;
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed) || k < 4) {
        /* A short life: 200 operations on the shared exchange too, then exit. */
        pool_worker w = {.sh = c->sh, .index = 1000 + k, .seed = (uint64_t)k * 31 + 7,
                         .iters = 200};
        pthread_t t;
        if (pthread_create(&t, NULL, pool_work, &w) != 0)
            break;
        pthread_join(t, NULL);
        c->acquired += w.acquired;
        c->released += w.released;
        c->torn += w.torn;
        c->bad += w.bad_release;
        c->nulls += w.null_acquires;
        k++;
    }
    c->waves = k;
}

typedef struct churn_long {
    gang *g;
    pool_worker w;
    churn *c;
    _Atomic int *left;
} churn_long;

static void *churn_long_work(void *arg)
{
    churn_long *l = arg;
    pool_work(&l->w);
    if (atomic_fetch_sub_explicit(l->left, 1, memory_order_acq_rel) == 1)
        atomic_store_explicit(&l->c->stop, 1, memory_order_relaxed);
    return NULL;
}

Test(stress_pool, threads_exiting_while_others_work_keep_the_counts)
{
    int n = threads_knob();
    int longs = n > 1 ? n - 1 : 1;
    long iters = TU_ITERS(400000);
    uint64_t start = fut_now_ns();
    for (int round = 0; soak_more(start, round); round++) {
        fut_pool p;
        fut_pool_config cfg = {.size = sizeof(pobj), .capacity = 12, .magazine = 4};
        cr_assert_eq(fut_pool_init(&p, &cfg), 0);
        static pool_shared sh;
        memset(&sh, 0, sizeof sh);
        sh.p = &p;
        sh.iters = iters;
        churn c = {.sh = &sh};
        _Atomic int left = longs;
        churn_long *ls = calloc((size_t)longs, sizeof *ls);
        cr_assert_not_null(ls);
        for (int i = 0; i < longs; i++)
            ls[i] = (churn_long){
                .w = {.sh = &sh, .index = i, .seed = (uint64_t)round * 977 + (uint64_t)i + 3},
                .c = &c,
                .left = &left};
        gang_run(longs, churn_long_work, ls, sizeof *ls, churn_run, &c);
        long acquired = c.acquired, released = c.released, torn = c.torn, bad = c.bad;
        long nulls = c.nulls;
        for (int i = 0; i < longs; i++) {
            acquired += ls[i].w.acquired;
            released += ls[i].w.released;
            torn += ls[i].w.torn;
            bad += ls[i].w.bad_release;
            nulls += ls[i].w.null_acquires;
        }
        for (int e = 0; e < EXCHANGE; e++) {
            pobj *o = atomic_exchange_explicit(&sh.exchange[e], NULL, memory_order_acquire);
            if (o == NULL)
                continue;
            if (!intact(o))
                torn++;
            if (fut_pool_release(&p, o) == 0)
                released++;
            else
                bad++;
        }
        cr_assert_eq(nulls, 0);
        cr_assert_eq(bad, 0, "%ld releases were refused", bad);
        cr_assert_eq(torn, 0, "%ld objects were written by two holders at once", torn);
        cr_assert_eq(released, acquired, "%ld acquired, %ld released", acquired, released);
        cr_assert_geq(c.waves, 4);
        fut_pool_counts k;
        cr_assert_eq(fut_pool_snapshot(&p, &k), 0);
        cr_assert_eq(k.live, 0);
        cr_assert_eq(k.allocated, k.idle + k.evicted);
        cr_assert_leq(k.idle, 12);
        fut_pool_destroy(&p);
        free(ls);
        cr_assert_eq(tu_live(), 0, "%ld allocations left after destroy", tu_live());
    }
}
