/* 12_quorum: a combinator of your own, from fut.h's "writing your own combinator"
 * section alone.
 *
 * fut_quorum(fs, n, k) settles with the sum of the first k values to arrive (say, k
 * of n replicas answering), or fails as soon as so many inputs have failed that k can
 * no longer be reached; either way it then cancels the inputs still running. It is a
 * fut_node (the output) with one fut_input per input and a countdown that keeps the
 * object alive: one count per input, one for the creator while it attaches. */
#define FUT_IMPLEMENTATION /* this file holds fut's definitions (one per program) */
#include "fut.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct quorum quorum;
typedef struct quorum_in {
    fut_input in;
    quorum *q;
} quorum_in;

struct quorum {
    fut_node node;
    size_t n, k;
    _Atomic size_t left;   /* inputs whose fn has not run, + 1 for the creator */
    _Atomic size_t oks;    /* successes: the first k get a ticket into vals */
    _Atomic size_t filled; /* tickets whose value is written */
    _Atomic size_t fails;
    _Atomic int decided;
    int64_t *vals;         /* k values, in the same allocation */
    quorum_in ins[];
};

static void quorum_cancel_all(quorum *q, fut_work *w)
{
    for (size_t i = 0; i < q->n; i++)
        fut_input_cancel(&q->ins[i].in, w); /* EALREADY for those that have arrived */
}

/* Once per input: count it and, the first time the answer is known, settle and cancel
 * the rest. */
static void quorum_arrive(fut_input *in, fut_result r, fut_work *w)
{
    quorum *q = ((quorum_in *)(void *)in)->q;
    int decide = 0;
    fut_result out = fut_ok(fut_i64(0));
    if (r.err == 0) {
        /* relaxed: a ticket only picks a distinct cell. */
        size_t t = atomic_fetch_add_explicit(&q->oks, 1, memory_order_relaxed);
        /* acq_rel: whoever fills the k-th cell sees the other k-1 written. */
        if (t < q->k && (q->vals[t] = r.value.i64,
                         atomic_fetch_add_explicit(&q->filled, 1, memory_order_acq_rel) + 1 == q->k)) {
            int64_t sum = 0;
            for (size_t i = 0; i < q->k; i++)
                sum += q->vals[i];
            decide = 1;
            out = fut_ok(fut_i64(sum));
        }
    } else if (atomic_fetch_add_explicit(&q->fails, 1, memory_order_relaxed) + 1 == q->n - q->k + 1) {
        decide = 1;
        out = fut_error(r.err); /* k successes can no longer come */
    }
    fut_result_drop(&r); /* an int needs nothing; a pointer would be destroyed here */
    int ex = 0;
    if (decide && atomic_compare_exchange_strong_explicit(&q->decided, &ex, 1, memory_order_acq_rel,
                                                          memory_order_relaxed)) {
        fut_node_settle(&q->node, out, w);
        quorum_cancel_all(q, w); /* we still hold our count: q stays alive */
    }
    /* acq_rel: the last one sees everything the others did. Last: q may be freed. */
    if (atomic_fetch_sub_explicit(&q->left, 1, memory_order_acq_rel) == 1)
        fut_node_release(&q->node); /* never decided: settles with FUT_EBROKEN */
}

static void quorum_on_cancel(fut_node *n, fut_work *w) { quorum_cancel_all((quorum *)(void *)n, w); }
static void quorum_free(fut_node *n) { free(n); }
static const fut_node_ops quorum_ops = {quorum_on_cancel, quorum_free};

static fut_future fut_quorum(fut_future *fs, size_t n, size_t k)
{
    if (k == 0 || k > n)
        return fut_ready_error(EINVAL);
    quorum *q = malloc(sizeof *q + n * sizeof(quorum_in) + k * sizeof(int64_t));
    if (q == NULL)
        return fut_ready_error(ENOMEM);
    fut_node_init(&q->node, &quorum_ops, NULL);
    q->n = n;
    q->k = k;
    atomic_init(&q->left, n + 1);
    atomic_init(&q->oks, 0);
    atomic_init(&q->fails, 0);
    atomic_init(&q->filled, 0);
    q->vals = (int64_t *)(void *)&q->ins[n];
    atomic_init(&q->decided, 0);
    for (size_t i = 0; i < n; i++) {
        fut_input_init(&q->ins[i].in, quorum_arrive);
        q->ins[i].q = q;
    }
    fut_future out = fut_node_future(&q->node);
    fut_work w;
    fut_work_init(&w);
    for (size_t i = 0; i < n; i++)
        fut_input_attach(&q->ins[i].in, &fs[i], &w);
    if (atomic_fetch_sub_explicit(&q->left, 1, memory_order_acq_rel) == 1) /* the creator's count */
        fut_node_release(&q->node);
    fut_work_run(&w);
    return out;
}

static void hook(void *ctx) { printf("  replica %d cancelled\n", (int)(intptr_t)ctx); }

int main(void)
{
    enum { N = 5 };
    fut_promise p[N];
    fut_future f[N];
    for (int i = 0; i < N; i++) {
        fut_promise_new(&p[i], &f[i]);
        fut_promise_on_cancel(&p[i], hook, (void *)(intptr_t)i);
    }
    fut_future q = fut_quorum(f, N, 3);
    printf("quorum of 3 out of 5:\n");
    fut_promise_set(&p[4], fut_i64(40));
    fut_promise_set_error(&p[1], EIO);
    fut_promise_set(&p[0], fut_i64(10));
    printf("  after 3 answers, ready: %d\n", fut_is_ready(&q));
    fut_promise_set(&p[2], fut_i64(20)); /* the third success decides */
    fut_result r = fut_get(&q);
    printf("  sum of the first 3 values: %lld (err %d)\n", (long long)r.value.i64, r.err);
    printf("  replica 3 answers late: %s\n", fut_strerror(fut_promise_set(&p[3], fut_i64(30))));

    for (int i = 0; i < N; i++)
        fut_promise_new(&p[i], &f[i]);
    q = fut_quorum(f, N, 4);
    printf("quorum of 4 out of 5:\n");
    fut_promise_set_error(&p[0], ETIMEDOUT);
    fut_promise_set_error(&p[3], EIO); /* two failures: 4 of 5 is out of reach */
    r = fut_get(&q);
    printf("  failed with: %s\n", fut_strerror(r.err));
    for (int i = 0; i < N; i++)
        if (fut_promise_cancelled(&p[i]))
            printf("  replica %d sees the cancel\n", i);
    fut_promise_drop(&p[1]);
    fut_promise_drop(&p[2]);
    fut_promise_drop(&p[4]);
    return 0;
}
