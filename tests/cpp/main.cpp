/* A C++ program on fut (C++23: its <stdatomic.h> is what the headers need). It uses a
 * future with continuations settled from a std::thread, a when_all over futures whose
 * states come from a fut_pool, a manual scheduler, and an owned pointer whose destructor
 * must run exactly once. scripts/check_cpp.sh builds it with g++ and clang++ three ways:
 * with the definitions in a C unit (fut_impl.c), with this file as the implementation
 * unit (-DFUT_IMPLEMENTATION), and with everything private to it (-DFUT_STATIC).
 * Prints one line; exit 0 when every result is exact. */
#include "batch.h"

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

std::atomic<int> freed{0};

struct Box {
    long v;
};

void box_free(void *p)
{
    delete static_cast<Box *>(p);
    freed.fetch_add(1, std::memory_order_relaxed);
}

/* Continuations are plain C function pointers: a lambda without captures converts. */
fut_fn add_one = [](void *, fut_result r) -> fut_future { return fut_ready(fut_i64(r.value.i64 + 1)); };

fut_fn unbox = [](void *, fut_result r) -> fut_future {
    long v = static_cast<Box *>(r.value.ptr)->v;
    fut_result_drop(&r); /* the continuation took the box: it frees it */
    return fut_ready(fut_i64(v));
};

} // namespace

int main()
{
    int bad = 0;

    fut_pool pool;
    fut_pool_config cfg{};
    cfg.size = fut_state_size();
    cfg.capacity = 64;
    fut_env env;
    if (fut_pool_init(&pool, &cfg) != 0 || fut_env_init(&env, &pool, nullptr) != 0) {
        std::puts("c++: init failed");
        return 1;
    }
    fut_sched inl;
    fut_inline_init(&inl);

    /* when_all over 16 chains settled by another thread. */
    constexpr int n = 16;
    std::vector<fut_promise> ps(n);
    std::vector<fut_future> fs(n);
    for (int i = 0; i < n; i++) {
        if (fut_promise_new_env(&ps[i], &fs[i], &env) != 0)
            return 1;
        fs[i] = fut_then(&fs[i], &inl, add_one, nullptr);
    }
    fut_future all = fut_when_all(fs.data(), n);
    std::thread producer([&] {
        for (int i = n - 1; i >= 0; i--)
            fut_promise_set(&ps[i], fut_i64(10 * i));
    });
    fut_result r = fut_get(&all);
    producer.join();
    const fut_result *items = static_cast<const fut_result *>(r.value.ptr);
    long sum = 0;
    for (int i = 0; r.err == 0 && i < n; i++)
        sum += items[i].value.i64;
    fut_result_drop(&r);
    bad |= r.err != 0 || sum != 10 * (n * (n - 1) / 2) + n;

    /* An owned pointer through a continuation on a manual scheduler, and one dropped
     * unread: each box is freed once. */
    fut_manual m;
    if (fut_manual_init(&m, 8) != 0)
        return 1;
    fut_promise p;
    fut_future f;
    if (fut_promise_new(&p, &f) != 0)
        return 1;
    fut_future g = fut_then(&f, &m.sched, unbox, nullptr);
    fut_promise_set_ptr(&p, new Box{41}, box_free);
    size_t ran = fut_manual_run_all(&m);
    fut_result got = fut_get(&g);
    fut_future dropped = fut_ready_ptr(new Box{7}, box_free);
    fut_drop(&dropped);
    fut_manual_destroy(&m);
    bad |= ran != 1 || got.err != 0 || got.value.i64 != 41 || freed.load() != 2;

    fut_pool_counts pc;
    bad |= fut_pool_snapshot(&pool, &pc) != 0 || pc.allocated == 0 || pc.live != 0 ||
           pc.allocated != pc.live + pc.idle + pc.evicted;
    fut_pool_destroy(&pool);
    std::printf("c++ (%ld): sum %ld, box %lld, freed %d: %s\n", static_cast<long>(__cplusplus), sum,
                static_cast<long long>(got.value.i64), freed.load(), bad ? "WRONG" : "ok");
    return bad ? 1 : 0;
}
