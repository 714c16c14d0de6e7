/* The ops the C++ peers do the same way, written once for std and boost: `pair` (make a
 * promise and its future, set, read) and `handoff`.
 *
 * The `handoff` op, so that both do
 * exactly what bench_fut.c's ping_main/pong_main do: a round trip between two threads
 * with a fresh promise each way. Ping makes a fresh reply promise and settles the
 * promise pong waits on with it; pong makes a fresh promise for the next ping and
 * settles the reply promise with it. Nothing else is shared. --threads N runs N/2
 * pairs at once; the op returns the median pair's time (as op_pairs in bench_fut.c).
 *
 * What travels. fut's promise is a one-word handle, passed as the value. A C++
 * promise cannot carry a promise of its own type (promise<Ball> with Ball holding a
 * promise<Ball> is an incomplete, recursive type), so the value is a pointer to the
 * promise object, and each side keeps the promise objects it makes in a two-slot ring
 * instead of moving them: no extra allocation per hop. The slot of round k is reused
 * in round k+2; by then the other side has answered round k+1, so its set_value on
 * round k's promise has returned (each thread works strictly in order) and the object
 * is free to go. Every round still constructs one fresh promise (its shared state)
 * each way, and settles and reads it, which is the work being measured. */
#ifndef FUT_BENCH_PEER_HANDOFF_HPP
#define FUT_BENCH_PEER_HANDOFF_HPP

#include "../harness.h"

#include <pthread.h>

#include <cstdint>
#include <utility>

template <template <class> class Promise, template <class> class Future>
static uint64_t peer_op_pair(void *, uint64_t iters)
{
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        Promise<int64_t> p;
        Future<int64_t> f = p.get_future();
        p.set_value(static_cast<int64_t>(i));
        acc += static_cast<uint64_t>(f.get());
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}

template <template <class> class Promise, template <class> class Future>
struct peer_handoff {
    struct Ball {
        Promise<Ball> *p; /* the promise to answer on */
    };

    struct pong_arg {
        Future<Ball> first;
        uint64_t rounds;
        pthread_barrier_t *go;
    };

    static void *pong_main(void *arg)
    {
        pong_arg *a = static_cast<pong_arg *>(arg);
        Future<Ball> in = std::move(a->first);
        Promise<Ball> ring[2];
        pthread_barrier_wait(a->go);
        for (uint64_t k = 0; k < a->rounds; k++) {
            Ball reply = in.get(); /* the value is the promise to answer on */
            Promise<Ball> &next = ring[k & 1];
            next = Promise<Ball>(); /* fresh promise; drops the one from round k-2 */
            in = next.get_future();
            reply.p->set_value(Ball{&next}); /* the next ping's promise */
        }
        return NULL; /* the last `next` is never settled: dropped with the ring */
    }

    struct pair_run {
        uint64_t iters;
        uint64_t ns;
        pthread_barrier_t *go;
    };

    static void *ping_main(void *arg)
    {
        pair_run *pr = static_cast<pair_run *>(arg);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        Promise<Ball> first;
        Promise<Ball> ring[2];
        pong_arg a;
        a.first = first.get_future();
        a.rounds = pr->iters;
        a.go = &go;
        Promise<Ball> *to_pong = &first;
        pthread_t t;
        pthread_create(&t, NULL, pong_main, &a);
        pthread_barrier_wait(pr->go); /* all pairs start together */
        pthread_barrier_wait(&go);
        uint64_t t0 = bench_now();
        for (uint64_t k = 0; k < pr->iters; k++) {
            Promise<Ball> &reply = ring[k & 1];
            reply = Promise<Ball>(); /* fresh promise; drops the one from round k-2 */
            Future<Ball> back = reply.get_future();
            to_pong->set_value(Ball{&reply});
            to_pong = back.get().p;
        }
        pr->ns = bench_now() - t0;
        pthread_join(t, NULL);
        pthread_barrier_destroy(&go);
        return NULL;
    }

    /* Runs `pairs` ping-pong pairs at once; returns the median pair's time. */
    static uint64_t op_pairs(void *ctx, uint64_t iters)
    {
        int pairs = *static_cast<int *>(ctx);
        pair_run pr[64];
        pthread_t t[64];
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, static_cast<unsigned>(pairs));
        for (int i = 0; i < pairs; i++) {
            pr[i].iters = iters;
            pr[i].go = &go;
            pthread_create(&t[i], NULL, ping_main, &pr[i]);
        }
        uint64_t ns[64];
        for (int i = 0; i < pairs; i++) {
            pthread_join(t[i], NULL);
            ns[i] = pr[i].ns;
        }
        pthread_barrier_destroy(&go);
        for (int i = 1; i < pairs; i++) /* insertion sort: a handful of values */
            for (int j = i; j > 0 && ns[j - 1] > ns[j]; j--)
                std::swap(ns[j], ns[j - 1]);
        return ns[pairs / 2];
    }
};

#endif
