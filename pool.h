/* pool.h - a fixed-size pool of reusable objects with LRU eviction.
 *
 * A pool hands out objects of one size. Releasing keeps the object idle for reuse;
 * acquiring takes the most recently released one (still warm in cache). At most
 * `capacity` objects sit idle: past that, the least recently released are evicted
 * (freed). The hot path is a per-thread magazine - a small stack reached through a
 * thread-local cache - so acquire and release take no lock and no atomic instruction;
 * a shared depot behind the magazines keeps the LRU order and does the eviction.
 *
 * Example:
 *
 *     fut_pool pool;
 *     fut_pool_config cfg = {.size = sizeof(struct job), .capacity = 256, .warm = 64};
 *     if (fut_pool_init(&pool, &cfg) != 0) return ENOMEM;
 *     struct job *j = fut_pool_acquire(&pool);   // NULL only when memory is out
 *     use(j);
 *     fut_pool_release(&pool, j);               // idle again; 0, or an error in debug
 *     fut_pool_destroy(&pool);                  // frees the idle objects
 *
 * Ownership: you own the fut_pool object. acquire gives you the object until you
 * release it; release takes it back (the pool may free it). destroy frees idle objects;
 * objects still out when it runs are yours to release... to nothing: do not.
 * Bad input: acquire on a NULL, zeroed or destroyed pool gives NULL; release on one, or
 * of NULL, gives EINVAL. In debug builds (no NDEBUG, or FUT_POOL_CHECK) a release also
 * checks the object's header, the 32 bytes before it: EINVAL for another pool's object or
 * a pointer into memory of yours (those bytes must be readable: a pointer to the start of
 * an unrelated heap block is not checkable), EALREADY for a double release of an object
 * the pool still keeps. An object released into a full pool is freed at once; releasing
 * it again reads freed memory, which no check can see (AddressSanitizer can). destroy,
 * flush and counts on a NULL, zeroed or destroyed pool do nothing (counts: EINVAL);
 * docs/bad_input.md lists every case.
 * Thread-safety: acquire and release from any threads at once; an object may be released
 * by another thread than the one that acquired it. init, destroy and stats with no other
 * thread inside the pool; a thread that used the pool must not exit during destroy.
 * Exactness: the bound on idle objects holds at every moment: idle objects plus the slots
 * that threads keep in reserve for their magazines never exceed capacity. A thread keeps
 * at most `magazine` slots, and only while its magazine holds objects (it gives them back
 * when it empties), so a release is evicted only when the pool is full of idle objects
 * or of slots that live threads with idle objects keep. The LRU order is exact for one
 * thread's releases, and across threads exact in the depot (each magazine holds its own
 * thread's newest objects).
 * Linkage: as stats.h - one file defines FUT_IMPLEMENTATION, or FUT_STATIC per file;
 * init gives EINVAL in a file laid out differently from the implementation unit.
 * Config macros: FUT_MALLOC/FUT_FREE (all memory), FUT_POOL_MAGAZINE (largest magazine,
 * default 32), FUT_POOL_CHECK (header checks even with NDEBUG), FUT_NO_STATS.
 * Needs: stats.h beside it (pool counts go to an optional fut_stats block).
 * License: MIT (see the end of this file).
 */
#ifndef FUT_POOL_H
#define FUT_POOL_H

#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

FUT__C_BEGIN

#ifndef FUT_POOL_MAGAZINE
#define FUT_POOL_MAGAZINE 32
#endif
#if !defined(NDEBUG) || defined(FUT_POOL_CHECK)
#define FUT__POOL_CHECKS 1
#else
#define FUT__POOL_CHECKS 0
#endif

typedef struct fut_pool_config {
    size_t size;      /* object size in bytes (required, > 0) */
    size_t align;     /* power of two up to 4096; 0 means 16; 64 keeps objects on their own lines */
    size_t capacity;  /* most idle objects kept; 0 keeps none (every release frees) */
    size_t warm;      /* objects allocated at init, idle (at most capacity) */
    unsigned magazine;/* per-thread cache size; 0 picks min(FUT_POOL_MAGAZINE, capacity/4, >= 1) */
    void (*reset)(void *obj, void *ctx); /* optional: called on an object before reuse */
    void *reset_ctx;
    fut_stats *stats; /* optional: pool_hit, pool_miss, pooled, evicted are counted here */
} fut_pool_config;

typedef struct fut__pool_mag fut__pool_mag;

typedef struct fut_pool {
    fut_pool_config cfg;
    size_t head_size;  /* header before each object, a multiple of align */
    size_t stride;     /* header + object, rounded to align */
    uint64_t id;       /* tells a thread's cached magazine from a reused address */
    pthread_key_t key; /* the authoritative thread -> magazine map (flushed at exit) */
    int has_key;
    pthread_mutex_t lock; /* guards everything below */
    void **ring;          /* the depot: idle objects, LRU at ring[head] */
    size_t head, count;
    size_t reserved;      /* slots promised to magazines: count + reserved <= capacity */
    _Atomic(size_t) returned; /* reservations given back without the lock (folded in under it) */
    fut__pool_mag *mags;  /* every live magazine */
    _Atomic(uint64_t) allocated, evicted; /* lifetime counts (slow paths only) */
} fut_pool;

/* Accounting, exact when no thread is inside the pool: allocated = live + idle + evicted. */
typedef struct fut_pool_counts {
    uint64_t allocated, evicted, idle, live;
} fut_pool_counts;

/* Returns 0, EINVAL (NULL, size 0, bad align), ENOMEM, or a pthread error. */
static inline int fut_pool_init(fut_pool *p, const fut_pool_config *cfg);
FUT__DEF void fut_pool_destroy(fut_pool *p);
static inline void *fut_pool_acquire(fut_pool *p);
static inline int fut_pool_release(fut_pool *p, void *obj);
/* Hands this thread's magazine back to the depot (before handing work to other threads,
 * or in tests that check the LRU order across threads). */
FUT__DEF void fut_pool_flush(fut_pool *p);
FUT__DEF int fut_pool_snapshot(fut_pool *p, fut_pool_counts *out);

/* ======================================================================================
 * Implementation
 * ====================================================================================== */

/* Every object is preceded by this header, in every build (so TUs built with and
 * without NDEBUG agree on the layout); only debug builds check it. */
typedef struct fut__pool_head {
    uint32_t magic;
    uint32_t state; /* FUT__POOL_LIVE or FUT__POOL_IDLE */
    fut_pool *pool;
    void *raw;      /* what FUT_MALLOC returned */
    uint64_t pad;
} fut__pool_head;

enum { FUT__POOL_MAGIC = 0x7f0095aa, FUT__POOL_LIVE = 0x11fe, FUT__POOL_IDLE = 0x1d1e };

/* A thread's magazine: its newest idle objects, oldest at obj[0]. Only its thread
 * touches it, except under the pool lock at thread exit or destroy. */
struct fut__pool_mag {
    fut_pool *pool;
    fut__pool_mag *next; /* in pool->mags, under the lock */
    _Atomic(unsigned) count; /* owner: relaxed load+store; stats readers: relaxed load */
    unsigned reserved;      /* slots this magazine may fill; only its thread changes it */
    unsigned cap;
    FUT__FLEX(void *obj[]);
};

static inline fut__pool_head *fut__pool_head_of(const fut_pool *p, void *obj)
{
    return (fut__pool_head *)(void *)((char *)obj - p->head_size);
}

/* A four-entry thread-local cache in front of pthread_getspecific. It can be lost at no
 * cost (the key still knows the magazine); the pool id tells a live pool from a new one
 * at the same address. (With FUT_STATIC each unit has its own copy.) */
typedef struct fut__pool_slot {
    const fut_pool *pool;
    uint64_t id;
    fut__pool_mag *mag;
} fut__pool_slot;

FUT__DATA FUT__TLS fut__pool_slot fut__pool_tls[4];
FUT__DATA FUT__TLS unsigned fut__pool_tls_next;

/* Defined once (see Linkage in stats.h): the slow paths the inline ones call. */
FUT__DEF FUT__NOINLINE fut__pool_mag *fut__pool_mag_slow(fut_pool *p);
FUT__DEF FUT__COLD void *fut__pool_acquire_slow(fut_pool *p, fut__pool_mag *m);
FUT__DEF FUT__COLD void fut__pool_release_slow(fut_pool *p, fut__pool_mag *m, void *obj);
FUT__DEF int fut__pool_init(fut_pool *p, const fut_pool_config *cfg, uint32_t layout);

/* init checks that the calling unit and the implementation unit agree on the layout
 * (the header version, FUT_CACHE_LINE through the stats block): EINVAL otherwise. */
#define FUT__POOL_LAYOUT \
    (FUT__STATS_LAYOUT ^ (uint32_t)(sizeof(fut_pool) * 131u + sizeof(fut__pool_head) * 7u + sizeof(fut__pool_mag)) << 4)

static inline int fut_pool_init(fut_pool *p, const fut_pool_config *cfg)
{
    return fut__pool_init(p, cfg, FUT__POOL_LAYOUT);
}

static inline fut__pool_mag *fut__pool_mag_get(fut_pool *p)
{
    for (int i = 0; i < 4; i++)
        if (fut__pool_tls[i].pool == p && fut__pool_tls[i].id == p->id)
            return fut__pool_tls[i].mag;
    return fut__pool_mag_slow(p);
}

static inline void *fut__pool_hand_out(fut_pool *p, void *obj, int reused)
{
    if (reused) {
        fut_stats_inc(p->cfg.stats, FUT_STAT_POOL_HIT);
        if (p->cfg.reset != NULL)
            p->cfg.reset(obj, p->cfg.reset_ctx);
    }
    /* Written in every build, though only checking builds read it: translation units
     * built with and without NDEBUG may share one pool. */
    fut__pool_head_of(p, obj)->state = FUT__POOL_LIVE;
    return obj;
}

static inline void *fut_pool_acquire(fut_pool *p)
{
    if (p == NULL || p->id == 0)
        return NULL; /* NULL, zeroed, or destroyed (init sets a nonzero id) */
    fut__pool_mag *m = fut__pool_mag_get(p);
    if (m != NULL) {
        /* relaxed: only this thread writes its magazine's count (readers only sum it). */
        unsigned n = atomic_load_explicit(&m->count, memory_order_relaxed);
        if (n > 0) {
            /* relaxed store: only this thread writes the count. */
            atomic_store_explicit(&m->count, n - 1, memory_order_relaxed);
            void *obj = m->obj[n - 1];
            if (n == 1 && m->reserved != 0) {
                /* Empty now: give the slots back so that other threads can keep what they
                 * release. One atomic add per emptied magazine (a thread that empties it
                 * takes the lock on its next acquire anyway). release: orders our use of
                 * the slots before their reuse. */
                atomic_fetch_add_explicit(&p->returned, m->reserved, memory_order_release);
                m->reserved = 0;
            }
            return fut__pool_hand_out(p, obj, 1);
        }
    }
    return fut__pool_acquire_slow(p, m);
}

static inline int fut_pool_release(fut_pool *p, void *obj)
{
    if (p == NULL || obj == NULL || p->id == 0)
        return EINVAL;
    fut__pool_head *h = fut__pool_head_of(p, obj);
#if FUT__POOL_CHECKS
    if (h->magic != FUT__POOL_MAGIC || h->pool != p)
        return EINVAL; /* not from this pool */
    if (h->state != FUT__POOL_LIVE)
        return EALREADY; /* released twice */
#endif
    h->state = FUT__POOL_IDLE; /* in every build: see fut__pool_hand_out */
    fut_stats_inc(p->cfg.stats, FUT_STAT_POOLED);
    fut__pool_mag *m = fut__pool_mag_get(p);
    if (m != NULL) {
        unsigned n = atomic_load_explicit(&m->count, memory_order_relaxed); /* relaxed: ours */
        if (n < m->reserved) {
            m->obj[n] = obj;
            atomic_store_explicit(&m->count, n + 1, memory_order_relaxed); /* as in acquire */
            return 0;
        }
    }
    fut__pool_release_slow(p, m, obj);
    return 0;
}

#if FUT__IMPL /* ---- defined once (see Linkage in stats.h) ---- */

static inline void *fut__pool_new_object(fut_pool *p)
{
    size_t align = p->cfg.align;
    void *raw = FUT_MALLOC(p->stride + (align > FUT__ALIGNOF(max_align_t) ? align - 1 : 0));
    if (raw == NULL)
        return NULL;
    uintptr_t base = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    void *obj = (char *)base + p->head_size;
    fut__pool_head *h = fut__pool_head_of(p, obj);
    h->magic = FUT__POOL_MAGIC;
    h->state = FUT__POOL_IDLE;
    h->pool = p;
    h->raw = raw;
    /* relaxed: a count, read only for accounting. */
    atomic_fetch_add_explicit(&p->allocated, 1, memory_order_relaxed);
    return obj;
}

static inline void fut__pool_free_object(fut_pool *p, void *obj)
{
    fut__pool_head *h = fut__pool_head_of(p, obj);
    h->magic = 0;
    FUT_FREE(h->raw);
}

/* An idle object leaves for good: the LRU eviction. */
static inline void fut__pool_evict(fut_pool *p, void *obj)
{
    fut__pool_free_object(p, obj);
    atomic_fetch_add_explicit(&p->evicted, 1, memory_order_relaxed); /* relaxed: a count */
    fut_stats_inc(p->cfg.stats, FUT_STAT_EVICTED);
}

/* ---- the depot (under p->lock) ------------------------------------------------------- */

static inline void fut__depot_push_mru(fut_pool *p, void *obj)
{
    p->ring[(p->head + p->count) % p->cfg.capacity] = obj;
    p->count++;
}

static inline void *fut__depot_pop_mru(fut_pool *p)
{
    p->count--;
    return p->ring[(p->head + p->count) % p->cfg.capacity];
}

static inline void *fut__depot_pop_lru(fut_pool *p)
{
    void *obj = p->ring[p->head];
    p->head = (p->head + 1) % p->cfg.capacity;
    p->count--;
    return obj;
}

/* Takes in the reservations magazines gave back on their fast path. Under the lock. */
static inline void fut__pool_fold(fut_pool *p)
{
    /* acquire: pairs with the release of an emptied magazine in fut_pool_acquire; a plain count otherwise. */
    p->reserved -= atomic_exchange_explicit(&p->returned, 0, memory_order_acquire);
}

/* ---- magazines ---------------------------------------------------------------------- */

/* Moves a magazine's objects into the depot, oldest first (they were reserved, so they
 * fit), and gives up its reservation. Under the lock. */
static inline void fut__pool_mag_drain(fut_pool *p, fut__pool_mag *m)
{
    fut__pool_fold(p);
    /* relaxed: the magazine's own thread (or, at exit and destroy, nobody else) writes
     * count; the lock orders the objects themselves. */
    unsigned n = atomic_load_explicit(&m->count, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        fut__depot_push_mru(p, m->obj[i]);
    p->reserved -= m->reserved;
    m->reserved = 0;
    atomic_store_explicit(&m->count, 0, memory_order_relaxed); /* relaxed: as above */
}

static inline void fut__pool_mag_unlink(fut_pool *p, fut__pool_mag *m)
{
    for (fut__pool_mag **pp = &p->mags; *pp != NULL; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            return;
        }
}

/* pthread key destructor: a thread exits; its magazine goes back to the depot. */
static inline void fut__pool_mag_exit(void *arg)
{
    fut__pool_mag *m = (fut__pool_mag *)arg;
    fut_pool *p = m->pool;
    pthread_mutex_lock(&p->lock);
    fut__pool_mag_drain(p, m);
    fut__pool_mag_unlink(p, m);
    pthread_mutex_unlock(&p->lock);
    FUT_FREE(m);
}




FUT__DEF FUT__NOINLINE fut__pool_mag *fut__pool_mag_slow(fut_pool *p)
{
    if (!p->has_key || p->cfg.magazine == 0)
        return NULL;
    fut__pool_mag *m = (fut__pool_mag *)pthread_getspecific(p->key);
    if (m == NULL) {
        m = (fut__pool_mag *)FUT_MALLOC(sizeof *m + p->cfg.magazine * sizeof(void *));
        if (m == NULL)
            return NULL; /* no magazine: this thread uses the depot directly */
        m->pool = p;
        FUT__ATOMIC_INIT(&m->count, 0);
        m->reserved = 0;
        m->cap = p->cfg.magazine;
        if (pthread_setspecific(p->key, m) != 0) {
            FUT_FREE(m);
            return NULL;
        }
        pthread_mutex_lock(&p->lock);
        m->next = p->mags;
        p->mags = m;
        pthread_mutex_unlock(&p->lock);
    }
    fut__pool_slot *s = &fut__pool_tls[fut__pool_tls_next++ & 3];
    s->pool = p;
    s->id = p->id;
    s->mag = m;
    return m;
}

/* ---- public ------------------------------------------------------------------------- */

FUT__DEF int fut__pool_init(fut_pool *p, const fut_pool_config *cfg, uint32_t layout)
{
    if (p == NULL || cfg == NULL || cfg->size == 0 || layout != FUT__POOL_LAYOUT)
        return EINVAL;
    size_t align = cfg->align ? cfg->align : 16;
    if ((align & (align - 1)) != 0 || align > 4096)
        return EINVAL;
    if (align < 16)
        align = 16;
    memset((void *)p, 0, sizeof *p); /* (void *): C++ sees atomics, not bytes */
    p->cfg = *cfg;
    p->cfg.align = align;
    if (p->cfg.warm > p->cfg.capacity)
        p->cfg.warm = p->cfg.capacity;
    if (p->cfg.magazine == 0) {
        size_t m = p->cfg.capacity / 4;
        p->cfg.magazine = (unsigned)(m < 1 ? 1 : m > FUT_POOL_MAGAZINE ? FUT_POOL_MAGAZINE : m);
    }
    if (p->cfg.magazine > p->cfg.capacity)
        p->cfg.magazine = (unsigned)p->cfg.capacity; /* 0 when nothing is kept */
    p->head_size = (sizeof(fut__pool_head) + align - 1) & ~(align - 1);
    p->stride = (p->head_size + cfg->size + align - 1) & ~(align - 1);
    p->id = ((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15u) ^ fut_now_ns();
    if (p->id == 0)
        p->id = 1;
    FUT__ATOMIC_INIT(&p->allocated, 0);
    FUT__ATOMIC_INIT(&p->evicted, 0);
    FUT__ATOMIC_INIT(&p->returned, 0);
    int err = pthread_mutex_init(&p->lock, NULL);
    if (err != 0)
        return err;
    if (p->cfg.capacity > 0) {
        p->ring = (void **)FUT_MALLOC(p->cfg.capacity * sizeof(void *));
        if (p->ring == NULL) {
            pthread_mutex_destroy(&p->lock);
            return ENOMEM;
        }
    }
    p->has_key = p->cfg.magazine > 0 && pthread_key_create(&p->key, fut__pool_mag_exit) == 0;
    for (size_t i = 0; i < p->cfg.warm; i++) {
        void *obj = fut__pool_new_object(p);
        if (obj == NULL) {
            fut_pool_destroy(p);
            return ENOMEM;
        }
        fut__depot_push_mru(p, obj);
    }
    return 0;
}

FUT__DEF void fut_pool_destroy(fut_pool *p)
{
    if (p == NULL || p->id == 0)
        return; /* NULL, zeroed, or destroyed already */
    if (p->has_key)
        pthread_key_delete(p->key); /* no destructor runs from now on */
    pthread_mutex_lock(&p->lock);
    while (p->mags != NULL) {
        fut__pool_mag *m = p->mags;
        p->mags = m->next;
        unsigned n = atomic_load_explicit(&m->count, memory_order_relaxed); /* relaxed: no owner left */
        for (unsigned i = 0; i < n; i++)
            fut__pool_free_object(p, m->obj[i]);
        FUT_FREE(m);
    }
    while (p->count > 0)
        fut__pool_free_object(p, fut__depot_pop_lru(p));
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    FUT_FREE(p->ring);
    p->ring = NULL;
    p->has_key = 0;
    p->id = 0; /* threads' cached magazines no longer match */
}




FUT__DEF FUT__COLD void *fut__pool_acquire_slow(fut_pool *p, fut__pool_mag *m)
{
    /* Slow path: refill the magazine with the depot's newest half (order kept, so the
     * top is the most recently released), or take one object straight from the depot. */
    void *obj = NULL;
    pthread_mutex_lock(&p->lock);
    fut__pool_fold(p);
    if (p->count > 0) {
        if (m != NULL) {
            unsigned k = m->cap / 2 > 0 ? m->cap / 2 : 1;
            if (k > p->count)
                k = (unsigned)p->count;
            for (unsigned i = k; i-- > 0;)
                m->obj[i] = fut__depot_pop_mru(p);
            /* The magazine is empty: its unused slots go back, and it keeps exactly the
             * k it now holds (count + reserved in the pool only shrinks). */
            p->reserved = p->reserved - m->reserved + k;
            m->reserved = k;
            obj = m->obj[k - 1];
            atomic_store_explicit(&m->count, k - 1, memory_order_relaxed);
        } else {
            obj = fut__depot_pop_mru(p);
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (obj != NULL)
        return fut__pool_hand_out(p, obj, 1);
    fut_stats_inc(p->cfg.stats, FUT_STAT_POOL_MISS);
    obj = fut__pool_new_object(p);
    return obj != NULL ? fut__pool_hand_out(p, obj, 0) : NULL;
}



FUT__DEF FUT__COLD void fut__pool_release_slow(fut_pool *p, fut__pool_mag *m, void *obj)
{
    pthread_mutex_lock(&p->lock);
    fut__pool_fold(p);
    if (m != NULL) {
        unsigned n = atomic_load_explicit(&m->count, memory_order_relaxed); /* relaxed: ours */
        if (n == m->cap) {
            /* Full: its oldest half moves to the depot's newest end, slots and all. */
            unsigned k = m->cap - m->cap / 2;
            for (unsigned i = 0; i < k; i++)
                fut__depot_push_mru(p, m->obj[i]);
            memmove(m->obj, m->obj + k, (n - k) * sizeof(void *));
            m->reserved -= k;
            p->reserved -= k;
            n -= k;
        }
        if (p->count + p->reserved >= p->cfg.capacity && p->count > 0) {
            fut__pool_evict(p, fut__depot_pop_lru(p)); /* the oldest idle object goes */
        } else if (p->count + p->reserved >= p->cfg.capacity && n > 0) {
            fut__pool_evict(p, m->obj[0]); /* the depot is empty: our own oldest goes */
            memmove(m->obj, m->obj + 1, (n - 1) * sizeof(void *));
            n--;
            m->reserved--;
            p->reserved--;
        }
        if (p->count + p->reserved < p->cfg.capacity) {
            /* Reserve a few slots at once so the next releases stay on the fast path. */
            size_t room = p->cfg.capacity - p->count - p->reserved;
            size_t want = m->cap / 2 > 0 ? m->cap / 2 : 1;
            if (want > room)
                want = room;
            if (want > m->cap - m->reserved)
                want = m->cap - m->reserved;
            if (want == 0)
                want = 1;
            m->reserved += (unsigned)want;
            p->reserved += want;
            m->obj[n] = obj;
            atomic_store_explicit(&m->count, n + 1, memory_order_relaxed); /* relaxed: ours */
            obj = NULL;
        } else {
            atomic_store_explicit(&m->count, n, memory_order_relaxed); /* relaxed: ours */
        }
    } else if (p->cfg.capacity > 0) {
        if (p->count + p->reserved >= p->cfg.capacity && p->count > 0)
            fut__pool_evict(p, fut__depot_pop_lru(p));
        if (p->count + p->reserved < p->cfg.capacity) {
            fut__depot_push_mru(p, obj);
            obj = NULL;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (obj != NULL)
        fut__pool_evict(p, obj); /* nothing idle could make room: this one goes */
}

FUT__DEF void fut_pool_flush(fut_pool *p)
{
    if (p == NULL || p->id == 0)
        return;
    fut__pool_mag *m = fut__pool_mag_get(p);
    if (m == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    fut__pool_mag_drain(p, m);
    pthread_mutex_unlock(&p->lock);
}

FUT__DEF int fut_pool_snapshot(fut_pool *p, fut_pool_counts *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out); /* defined even when the pool is not */
    if (p == NULL || out == NULL || p->id == 0)
        return EINVAL;
    pthread_mutex_lock(&p->lock);
    uint64_t idle = p->count;
    /* relaxed: counts, exact when no thread is inside the pool (as documented). */
    for (fut__pool_mag *m = p->mags; m != NULL; m = m->next)
        idle += atomic_load_explicit(&m->count, memory_order_relaxed);
    pthread_mutex_unlock(&p->lock);
    out->allocated = atomic_load_explicit(&p->allocated, memory_order_relaxed); /* relaxed: a count */
    out->evicted = atomic_load_explicit(&p->evicted, memory_order_relaxed);     /* relaxed: a count */
    out->idle = idle;
    out->live = out->allocated - out->evicted - idle;
    return 0;
}

#endif /* FUT__IMPL */

FUT__C_END

#endif /* FUT_POOL_H */

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
