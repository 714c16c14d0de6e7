/* std::future / std::promise, measured with the same harness (harness.h) and the same
 * operation shapes as bench_fut.c, one JSON object per line, impl "std".
 *
 *   ready    std has no ready-future factory (std::experimental::make_ready_future
 *            never shipped in libstdc++): a promise is made and set, its future taken
 *            and read. That is the cheapest way std offers to get a future holding a
 *            value; it allocates a shared state, so it costs what `pair` costs.
 *   pair     promise + future made, value set, value read
 *   handoff  a round trip between two threads, a fresh promise each way
 *            (peer_handoff.hpp, shared with bench_boost.cpp); --threads N runs N/2
 *            pairs at once and reports the median pair.
 *
 * std::future has no continuations and no when_all, so then1, then10 and when_all_1000
 * are not emitted (the table shows "-").
 *
 * Usage: bench_std [--threads N] [--only op,op] */
#include "../harness.h"
#include "peer_handoff.hpp"

#include <cstdint>
#include <future>
#include <utility>

static uint64_t op_ready(void *, uint64_t iters)
{
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        std::promise<int64_t> p;
        p.set_value(static_cast<int64_t>(i));
        std::future<int64_t> f = p.get_future();
        acc += static_cast<uint64_t>(f.get());
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}


template <class T> using std_promise = std::promise<T>;
template <class T> using std_future = std::future<T>;
typedef peer_handoff<std_promise, std_future> handoff;

int main(int argc, char **argv)
{
    bench_args args = bench_parse(argc, argv);
    int pairs = args.threads / 2 < 1 ? 1 : args.threads / 2;
    if (pairs > 64)
        pairs = 64;
    if (bench_wanted(&args, "ready"))
        bench_emit("ready", "std", bench_measure(op_ready, NULL, UINT64_MAX), 1);
    if (bench_wanted(&args, "pair"))
        bench_emit("pair", "std", bench_measure(peer_op_pair<std_promise, std_future>, NULL, UINT64_MAX), 1);
    if (bench_wanted(&args, "handoff"))
        bench_emit("handoff", "std", bench_measure(handoff::op_pairs, &pairs, 200000), pairs * 2);
    return 0;
}
