/* boost::future (Boost.Thread, BOOST_THREAD_VERSION 5), measured with the same harness
 * (harness.h) and the same operation shapes as bench_fut.c, one JSON object per line,
 * impl "boost".
 *
 *   ready          boost::make_ready_future(value), then read
 *   pair           promise + future made, value set, value read
 *   then1          promise + future, one continuation attached with
 *                  .then(inline_executor&, f) BEFORE the set, set, the continuation's
 *                  result read. The continuation returns the value + 1 directly (fut's
 *                  returns a ready future, which fut flattens for free; making boost
 *                  return a future would add an unwrap fut does not pay).
 *   then10         ten such continuations chained before the set
 *   when_all_1000  1000 ready futures (make_ready_future) combined with boost::when_all,
 *                  the combined result read (the vector of futures, each read and
 *                  summed). Reported in ns PER ELEMENT, see op_when_all below.
 *                  Note: Boost 1.74's when_all(first, last) starts a thread that waits
 *                  for the futures unless they are deferred, even when all are ready
 *                  (future_when_all_vector_shared_state::init); that is its real cost.
 *   handoff        a round trip between two threads, a fresh promise each way
 *                  (peer_handoff.hpp, shared with bench_std.cpp); --threads N runs N/2
 *                  pairs at once and reports the median pair.
 *
 * Usage: bench_boost [--threads N] [--only op,op] */
#define BOOST_THREAD_VERSION 5
#include <boost/thread/executors/inline_executor.hpp>
#include <boost/thread/future.hpp>

#include "../harness.h"
#include "peer_handoff.hpp"

#include <cstdint>
#include <utility>
#include <vector>

static boost::executors::inline_executor inl;

static uint64_t op_ready(void *, uint64_t iters)
{
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        boost::future<int64_t> f = boost::make_ready_future(static_cast<int64_t>(i));
        acc += static_cast<uint64_t>(f.get());
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}


static int64_t add1(boost::future<int64_t> r) { return r.get() + 1; }

static uint64_t op_then(void *ctx, uint64_t iters)
{
    int links = *static_cast<int *>(ctx);
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        boost::promise<int64_t> p;
        boost::future<int64_t> f = p.get_future();
        for (int k = 0; k < links; k++)
            f = f.then(inl, add1);
        p.set_value(static_cast<int64_t>(i));
        acc += static_cast<uint64_t>(f.get());
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return t1 - t0;
}

/* when_all_1000, reported per element. The harness divides an op's time by `iters`,
 * so here `iters` counts ELEMENTS: the op runs rounds = max(1, iters / 1000) when_alls
 * of 1000 ready futures each and returns elapsed * iters / (rounds * 1000), the time
 * for `iters` elements at the measured rate. After calibration iters is far above
 * 1000, so the scaling is a no-op up to rounding (< 1 round in 1000 at worst) and the
 * figure is ns per element: a whole when_all of 1000 costs 1000 times the figure.
 * The timed work per round: make 1000 ready futures, when_all them, read the combined
 * result (every element's value, summed). */
#define WHEN_ALL_N 1000

static uint64_t op_when_all(void *, uint64_t iters)
{
    uint64_t rounds = iters / WHEN_ALL_N ? iters / WHEN_ALL_N : 1;
    std::vector<boost::future<int64_t>> in;
    in.reserve(WHEN_ALL_N);
    uint64_t acc = 0, t0 = bench_now();
    for (uint64_t r = 0; r < rounds; r++) {
        in.clear();
        for (int k = 0; k < WHEN_ALL_N; k++)
            in.push_back(boost::make_ready_future(static_cast<int64_t>(k)));
        auto all = boost::when_all(in.begin(), in.end());
        auto got = all.get();
        for (auto &f : got)
            acc += static_cast<uint64_t>(f.get());
    }
    uint64_t t1 = bench_now();
    bench_keep(acc);
    return static_cast<uint64_t>(static_cast<double>(t1 - t0) * static_cast<double>(iters) /
                                 static_cast<double>(rounds * WHEN_ALL_N));
}

template <class T> using boost_promise = boost::promise<T>;
template <class T> using boost_future = boost::future<T>;
typedef peer_handoff<boost_promise, boost_future> handoff;

/* One pass of each op's shape outside the timing, checked: a wrong chain or a lost
 * element would make the figures meaningless. */
static int self_check(void)
{
    boost::promise<int64_t> p;
    boost::future<int64_t> f = p.get_future();
    for (int k = 0; k < 10; k++)
        f = f.then(inl, add1);
    p.set_value(5);
    if (f.get() != 15)
        return 1;
    std::vector<boost::future<int64_t>> in;
    for (int k = 0; k < WHEN_ALL_N; k++)
        in.push_back(boost::make_ready_future(static_cast<int64_t>(k)));
    auto got = boost::when_all(in.begin(), in.end()).get();
    int64_t sum = 0;
    for (auto &g : got)
        sum += g.get();
    return got.size() == WHEN_ALL_N && sum == WHEN_ALL_N * (WHEN_ALL_N - 1) / 2 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (self_check() != 0) {
        fprintf(stderr, "bench_boost: self-check failed\n");
        return 1;
    }
    bench_args args = bench_parse(argc, argv);
    int pairs = args.threads / 2 < 1 ? 1 : args.threads / 2;
    if (pairs > 64)
        pairs = 64;
    int one = 1, ten = 10;
    if (bench_wanted(&args, "ready"))
        bench_emit("ready", "boost", bench_measure(op_ready, NULL, UINT64_MAX), 1);
    if (bench_wanted(&args, "pair"))
        bench_emit("pair", "boost", bench_measure(peer_op_pair<boost_promise, boost_future>, NULL, UINT64_MAX), 1);
    if (bench_wanted(&args, "then1"))
        bench_emit("then1", "boost", bench_measure(op_then, &one, UINT64_MAX), 1);
    if (bench_wanted(&args, "then10"))
        bench_emit("then10", "boost", bench_measure(op_then, &ten, UINT64_MAX), 1);
    if (bench_wanted(&args, "when_all_1000"))
        bench_emit("when_all_1000", "boost", bench_measure(op_when_all, NULL, UINT64_MAX), 1);
    if (bench_wanted(&args, "handoff"))
        bench_emit("handoff", "boost", bench_measure(handoff::op_pairs, &pairs, 200000), pairs * 2);
    return 0;
}
