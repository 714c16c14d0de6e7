/* batch.h - combinators over futures, data-parallel map/filter/reduce, task batching and
 * pipelines, on top of fut.h.
 *
 * Over futures: fut_when_all (fail-fast: the first error settles the result and cancels
 * the rest), fut_when_all_settled (every outcome, per slot), fut_when_any_ok (the first
 * success, its index and outcome; cancels the rest), fut_fold (an ordered fold that runs
 * as soon as each prefix of the inputs has settled). They are written on fut.h's
 * "writing your own combinator" section and its public API only. Over arrays, on a
 * scheduler: fut_map, fut_filter and fut_reduce cut the input into chunks, so scheduling
 * is paid per chunk, and submit all chunks in one hand-off. fut_batch gathers
 * independent tasks and hands them to a scheduler as one submit_many. fut_pipeline
 * chains stages so that item k+1 can be in stage 1 while item k is in stage 2, with a
 * bound on items in flight.
 *
 * Example:
 *
 *     fut_future fs[3] = {a, b, c};                 // any futures
 *     fut_future all = fut_when_all(fs, 3);         // consumes the three
 *     fut_result r = fut_get(&all);                 // or chain on it
 *     if (r.err == 0) {
 *         fut_result *v = r.value.ptr;              // v[0..2], in input order
 *         use(v[0].value, v[1].value, v[2].value);
 *         fut_result_drop(&r);                      // the block and every value in it
 *     }
 *     fut_future sum = fut_reduce(&pool.sched, &(fut_reduce_desc){.in = data, .n = n,
 *         .size = sizeof(int), .fn = sum_chunk, .combine = add, .identity = fut_i64(0)});
 *
 * Ownership. Combinators consume every input handle (an empty or spent one counts as an
 * input failing with EINVAL). Their result values are blocks of fut_result the taker
 * owns, with a destructor that destroys the block and every value in it; keep values
 * (copy them out, clear their dtor) and free the block with fut_results_free. A block
 * nobody takes is destroyed with the values in it. An owned pointer travels through
 * every combinator and pipeline with its destructor and is destroyed exactly once.
 * map/filter/reduce borrow the arrays: keep them valid, and unchanged
 * where read, until the returned future settles - and after a cancel, which settles it
 * at once, until the chunks already running have finished (see fut_map). A fut_batch and
 * a fut_pipeline are objects you own; see their functions.
 * Thread-safety: the combinators and map/filter/reduce may be called from any thread;
 * their futures follow fut.h's rules. When a combinator cancels its other inputs (fail
 * fast, a when_any winner), the promises' cancel hooks run on the thread that decided -
 * often a producer's - and may still be running when the combined future's consumer
 * wakes. A fut_batch is used by one thread at a time. A fut_pipeline may be pushed to
 * from any thread.
 * Bad input: as in fut.h, never a crash: NULL arrays with n > 0, NULL functions or
 * schedulers give EINVAL (in the returned future, the input handles consumed); a batch
 * or pipeline that is zeroed, failed its init or was destroyed refuses with EINVAL (a
 * count: 0). docs/bad_input.md lists every case with its test.
 * Linkage: as fut.h (FUT_IMPLEMENTATION in one file, or FUT_STATIC); everything here is
 * defined in the implementation unit: each call is per combinator, not per element.
 * Config macros: those of fut.h. FUT_MIN_CHUNK (default 256): the smallest automatic
 * chunk, in elements.
 * Needs: fut.h, pool.h and stats.h beside it.
 * License: MIT (see the end of this file).
 */
#ifndef FUT_BATCH_H
#define FUT_BATCH_H

#include "fut.h"

#include <string.h>

FUT__C_BEGIN

#ifndef FUT_MIN_CHUNK
#define FUT_MIN_CHUNK 256
#endif

/* ---- result blocks ------------------------------------------------------------------ */

/* The winner of fut_when_any_ok: its index and its outcome (err 0; the value and its
 * destructor are the taker's). */
typedef struct fut_any {
    size_t index;
    fut_result result;
} fut_any;

/* Frees a result block (fut_result[] or fut_any) whose values you took; the values are
 * not destroyed. To destroy them with it, call the destructor the block came with
 * (r.dtor(r.value.ptr), or fut_result_drop(&r)). NULL is ignored. */
FUT__DEF void fut_results_free(void *block);

/* ---- combinators over futures ------------------------------------------------------ */

/* Settles with a block fut_result[n] (each err 0, value and destructor) once all n
 * inputs have values, or with the first error to arrive at once - the other inputs are
 * then cancelled (inputs settled before the call arrive in input order). n == 0 gives a
 * NULL block at once. fs == NULL with n > 0 gives EINVAL; ENOMEM if the block cannot be
 * made (the inputs are still consumed, and dropped). */
FUT__DEF fut_future fut_when_all(fut_future *fs, size_t n);
/* Settles with a block fut_result[n] (each input's outcome) once all have settled. */
FUT__DEF fut_future fut_when_all_settled(fut_future *fs, size_t n);
/* Settles with a block fut_any {index, result} for the first input to succeed (JS's
 * Promise.any, not the first to settle), cancelling the others; if all fail, with the
 * error of the last to fail; n == 0 gives ENOENT. */
FUT__DEF fut_future fut_when_any_ok(fut_future *fs, size_t n);

/* An ordered fold: acc = fn(ctx, acc, outcome of input i) for i = 0..n-1, each step run as
 * soon as inputs 0..i have settled, on the thread that settled the last of them. fn owns
 * acc and the item (both with their destructors) and returns the next accumulator or an
 * error, which settles the fold at once and cancels the inputs not yet folded. An
 * accumulator left when the fold stops early (cancelled) is dropped. */
typedef fut_result (*fut_fold_fn)(void *ctx, fut_result acc, fut_result item);
FUT__DEF fut_future fut_fold(fut_future *fs, size_t n, fut_result init, fut_fold_fn fn, void *ctx);

/* ---- data-parallel ops ------------------------------------------------------------- */

/* fn processes one chunk: count elements from in to out. */
typedef void (*fut_map_fn)(void *ctx, const void *in, void *out, size_t count);
/* fn copies the chunk's kept elements, in order, to out and returns how many it kept. */
typedef size_t (*fut_filter_fn)(void *ctx, const void *in, void *out, size_t count);
/* fn reduces one chunk to a partial; combine merges two partials. combine must be
 * associative (partials are merged in chunk order, so it need not be commutative), and
 * identity its neutral element. */
typedef fut_value (*fut_chunk_fn)(void *ctx, const void *in, size_t count);
typedef fut_value (*fut_combine_fn)(void *ctx, fut_value a, fut_value b);

/* What to run, in sokol's style: name the fields you need, the rest are zero, and zero
 * means the default where one is given. */
typedef struct fut_map_desc {
    const void *in;  /* n elements of in_size bytes */
    void *out;       /* n elements of out_size bytes */
    size_t n;
    size_t in_size;  /* required */
    size_t out_size; /* 0: in_size */
    size_t chunk;    /* elements per task; 0: automatic (see below) */
    fut_map_fn fn;   /* required */
    void *ctx;       /* fn's first argument */
} fut_map_desc;
typedef struct fut_filter_desc {
    const void *in; /* n elements of size bytes */
    void *out;      /* room for n elements; the kept ones end up in out[0..kept-1] */
    size_t n;
    size_t size;  /* required */
    size_t chunk; /* 0: automatic */
    fut_filter_fn fn; /* required */
    void *ctx;
} fut_filter_desc;
typedef struct fut_reduce_desc {
    const void *in; /* n elements of size bytes */
    size_t n;
    size_t size;            /* required */
    size_t chunk;           /* 0: automatic */
    fut_chunk_fn fn;        /* required */
    fut_combine_fn combine; /* required */
    fut_value identity;     /* combine's neutral element: the result for n == 0 */
    void *ctx;              /* fn's and combine's first argument */
} fut_reduce_desc;

/* Each cuts n elements into chunks of `chunk` (0: automatic, from n and s->workers: about
 * four chunks per worker, never under FUT_MIN_CHUNK elements) and submits them in one
 * hand-off. The future settles when every chunk has run: map with n, filter with the
 * number kept (out[0..kept-1], in input order), reduce with the combined value (identity
 * for n == 0). A refused chunk, or a cancel, settles it with that error; chunks that
 * already started still run, so keep the arrays until fut_wait on the future returns
 * and then, after a cancel, until the scheduler has drained. The description is read
 * during the call only. EINVAL: NULL s or d, a scheduler without submit, NULL fn or
 * combine, NULL arrays (n > 0), a zero element size. in and out must not overlap.
 *     fut_future f = fut_map(s, &(fut_map_desc){.in = xs, .out = ys, .n = n,
 *                                               .in_size = sizeof *xs, .fn = square});
 */
FUT__DEF fut_future fut_map(fut_sched *s, const fut_map_desc *d);
FUT__DEF fut_future fut_filter(fut_sched *s, const fut_filter_desc *d);
FUT__DEF fut_future fut_reduce(fut_sched *s, const fut_reduce_desc *d);

/* ---- task batching ----------------------------------------------------------------- */

/* Gathers tasks and hands them to the scheduler as one submit_many: when `threshold`
 * are waiting, or on fut_batch_flush. One thread at a time. A stats block counts the
 * tasks the scheduler took (batched) and the hand-offs that took any (batches), as
 * fut_map/filter/reduce do for their chunks; cancelled tasks are not counted. */
typedef struct fut_batch {
    fut_sched *sched;
    fut_task *head, *tail;
    size_t count, threshold;
    fut_stats *stats; /* optional: batched (tasks) and batches are counted */
} fut_batch;

/* threshold 0 means 64. Returns 0 or EINVAL (NULL b or s). */
FUT__DEF int fut_batch_init(fut_batch *b, fut_sched *s, size_t threshold, fut_stats *stats);
/* Adds t (borrowed until it runs). Returns 0, or EINVAL for NULL. */
FUT__DEF int fut_batch_add(fut_batch *b, fut_task *t);
/* Like fut_spawn, but the task waits in the batch. */
FUT__DEF fut_future fut_batch_spawn(fut_batch *b, fut_fn fn, void *ctx);
/* Hands everything gathered over; refused tasks run with the error (their futures settle
 * with it). Returns how many the scheduler took. */
FUT__DEF size_t fut_batch_flush(fut_batch *b);
/* How many tasks wait in the batch. */
FUT__DEF size_t fut_batch_count(const fut_batch *b);
/* Gives up what is gathered: every waiting task runs here with ECANCELED (a spawned
 * future settles with it). A batch must be flushed or cancelled before it goes away:
 * a task left in it would never run. Returns how many were cancelled. */
FUT__DEF size_t fut_batch_cancel(fut_batch *b);

/* ---- pipelines --------------------------------------------------------------------- */

/* One stage: fn runs on sched for each item, in push order, one item at a time. Like a
 * continuation it gets the item's outcome and returns a future (flattened); an error
 * skips the later stages (as fut_then does). */
typedef struct fut_stage {
    fut_sched *sched;
    fut_fn fn;
    void *ctx;
} fut_stage;

typedef struct fut__pipe_item fut__pipe_item;
typedef struct fut_pipeline {
    pthread_mutex_t lock;
    fut_stage *stages;
    size_t nstages, max_in_flight, in_flight, live;
    fut__pipe_item **head, **tail; /* per stage: items waiting for it */
    unsigned char *busy;           /* per stage: an item is in it */
    int driving, more;
    pthread_cond_t idle;           /* signalled when the driver stops */
    pthread_t driver;              /* the driving thread, while driving */
    fut_sched inl;                 /* where the stage-done step runs */
} fut_pipeline;

/* Copies the stages. max_in_flight 0 means unbounded. Returns 0, EINVAL or ENOMEM. */
FUT__DEF int fut_pipeline_init(fut_pipeline *p, const fut_stage *stages, size_t nstages,
                                    size_t max_in_flight);
/* Feeds one item (consumes input) and returns the future of its last stage's result.
 * Past max_in_flight the item waits, without blocking the caller. */
FUT__DEF fut_future fut_pipeline_push(fut_pipeline *p, fut_future *input);
/* Frees the pipeline. EBUSY (and nothing freed) while pushed items have not finished
 * (their futures have not settled), or when called from a continuation the pipeline is
 * running itself; otherwise it waits for the pipeline's last internal step, which is
 * short, and frees it. Items pass between stages as whole results: a pointer value's
 * destructor travels with it, and a value nobody takes (a failed or cancelled item) is
 * destroyed once. */
FUT__DEF int fut_pipeline_destroy(fut_pipeline *p);

/* ======================================================================================
 * Implementation (defined once: see Linkage in stats.h)
 * ====================================================================================== */

#if FUT__IMPL

/* ---- result blocks ------------------------------------------------------------------ */

/* [header][items]; the taker gets a pointer to the items, which carry their destructors. */
enum { FUT__BLOCK_RESULTS, FUT__BLOCK_ANY };

typedef struct fut__block {
    size_t n;
    unsigned kind;
    struct fut__block *next; /* while destroyed: the next block to destroy */
    FUT__FLEX(FUT__ALIGNAS(16) unsigned char items[]);
} fut__block;

static inline fut__block *fut__block_of(void *items)
{
    return (fut__block *)(void *)((char *)items - offsetof(fut__block, items));
}

static inline void *fut__block_new(size_t n, unsigned kind)
{
    size_t item = kind == FUT__BLOCK_RESULTS ? sizeof(fut_result) : sizeof(fut_any);
    fut__block *b = (fut__block *)FUT_MALLOC(sizeof(fut__block) + n * item);
    if (b == NULL)
        return NULL;
    b->n = n;
    b->kind = kind;
    return b->items;
}

FUT__DEF void fut_results_free(void *block)
{
    if (block != NULL)
        FUT_FREE(fut__block_of(block));
}

/* The destructor of a block handed out: its values' destructors, then the block. A
 * block nested in a block (a when_all of when_alls, a million deep) is destroyed in the
 * same loop, not by recursion: its header links it to the blocks still to do. */
static void fut__block_drop(void *block)
{
    fut__block *todo = fut__block_of(block);
    todo->next = NULL;
    while (todo != NULL) {
        fut__block *b = todo;
        todo = b->next;
        for (size_t i = 0; i < b->n; i++) {
            fut_result *r = b->kind == FUT__BLOCK_RESULTS ? &((fut_result *)(void *)b->items)[i]
                                                         : &((fut_any *)(void *)b->items)[i].result;
            if (r->err == 0 && r->dtor == fut__block_drop && r->value.ptr != NULL) {
                fut__block *inner = fut__block_of(r->value.ptr);
                r->dtor = NULL;
                inner->next = todo;
                todo = inner;
            } else {
                fut_result_drop(r);
            }
        }
        FUT_FREE(b);
    }
}

/* ---- the join node ------------------------------------------------------------------ */

/* A combinator over futures, written on fut.h's combinator section: a fut_node (the
 * output), one fut_input per input, a countdown and the result block, in one
 * allocation. The countdown holds one per input (its fn counts down last) and one for
 * the creator while it attaches; whoever counts the last one "finishes": settles the
 * output if nobody has, drops outcomes nobody took and lets go of the node. A decision
 * made before the end (an error for when_all, a winner for when_any, the fold's result)
 * is claimed once through `decided`; the claimer settles the output and cancels the
 * other inputs (fut_input_cancel remembers a cancel that comes before an input is
 * attached, so the creator need not race the decider). */
enum { FUT__JOIN_ALL, FUT__JOIN_SETTLED, FUT__JOIN_ANY, FUT__JOIN_FOLD }; /* index fut__join_kinds */

typedef struct fut__slot {
    fut_input in;
    uint32_t index;
    _Atomic(uint32_t) full; /* out is written (the fold driver reads it then) */
    fut_result out;        /* the input's outcome; dtor cleared once its value moved on */
} fut__slot;

typedef struct fut__join {
    fut_node node;             /* the output */
    int kind;
    size_t n;
    _Atomic(size_t) unresolved; /* inputs whose fn has not run, + 1 while the creator attaches */
    _Atomic(int) decided;       /* the output's outcome is chosen (error, winner, fold) */
    _Atomic(int) last_err;      /* when_any_ok: the error of the last input to fail */
    void *block;               /* the result block, made up front: the end cannot fail */
    /* fold */
    fut_fold_fn fold;
    void *fold_ctx;
    fut_result acc;            /* only the driver touches it, then the finisher */
    size_t cursor;             /* next input to fold; only the driver touches it */
    _Atomic(size_t) fold_work;  /* arrivals not yet looked at by the driver */
    FUT__FLEX(fut__slot slots[]);
} fut__join;

static inline fut__join *fut__join_of_slot(fut__slot *s)
{
    return (fut__join *)(void *)((char *)(s - s->index) - offsetof(fut__join, slots));
}

static void fut__join_finish(fut__join *j, fut_work *w);

static inline void fut__join_resolve(fut__join *j, fut_work *w)
{
    /* acq_rel: the finisher sees every slot's outcome written before its count-down. */
    if (atomic_fetch_sub_explicit(&j->unresolved, 1, memory_order_acq_rel) == 1)
        fut__join_finish(j, w);
}

/* Cancels every input except `skip`. The caller keeps the node alive (it holds a count,
 * or the output's consumer side). */
static inline void fut__join_cancel_inputs(fut__join *j, size_t skip, fut_work *w)
{
    for (size_t i = 0; i < j->n; i++)
        if (i != skip)
            (void)fut_input_cancel(&j->slots[i].in, w); /* EALREADY: it has its outcome */
}

/* Claims the right to choose the output's outcome early. Returns 0 if another thread
 * has it. acq_rel: one winner; the finisher's acquire load sees the claim. */
static inline int fut__join_claim(fut__join *j)
{
    int ex = 0;
    return atomic_compare_exchange_strong_explicit(&j->decided, &ex, 1, memory_order_acq_rel,
                                                   memory_order_relaxed);
}

/* After a claim: settle the output with r and cancel the other inputs. */
static inline void fut__join_conclude(fut__join *j, fut_result r, size_t skip, fut_work *w)
{
    if (fut_node_settle(&j->node, r, w) != 0)
        fut_result_drop(&r); /* the output was cancelled first */
    fut__join_cancel_inputs(j, skip, w);
}

/* Folds consecutive arrived inputs. One thread drives at a time: an arrival that finds
 * a driver only counts itself, and the driver loops until it has looked at every count. */
static inline void fut__fold_drive(fut__join *j, fut_work *w)
{
    /* acq_rel: the driver sees the slot written before each arrival's increment, and
     * the accumulator left by the previous driver. */
    if (atomic_fetch_add_explicit(&j->fold_work, 1, memory_order_acq_rel) != 0)
        return;
    size_t seen = 1;
    for (;;) {
        /* acquire: a decision made elsewhere stops the fold. */
        while (j->cursor < j->n && !atomic_load_explicit(&j->decided, memory_order_acquire)) {
            fut__slot *s = &j->slots[j->cursor];
            /* acquire: the outcome written before `full`. */
            if (!atomic_load_explicit(&s->full, memory_order_acquire))
                break;
            fut_result item = s->out, acc = j->acc;
            s->out.dtor = NULL; /* both are fn's now */
            j->acc.dtor = NULL;
            j->cursor++;
            fut_result next = j->fold(j->fold_ctx, acc, item);
            if (next.err != 0 || j->cursor == j->n) {
                if (fut__join_claim(j))
                    fut__join_conclude(j, next, j->n, w);
                else
                    fut_result_drop(&next);
                break;
            }
            j->acc = next;
        }
        /* acq_rel: an arrival counted after our pass makes us loop and see its slot. */
        size_t before = atomic_fetch_sub_explicit(&j->fold_work, seen, memory_order_acq_rel);
        if (before == seen)
            return;
        seen = before - seen; /* arrivals during our pass: look again */
    }
}

/* What each kind of join does: on an arrival (after the slot is written; the node is
 * held by the arrival's count), and at the end when nothing was decided early (every
 * input's fn has run). NULL: nothing. */
typedef struct fut__join_kind {
    void (*arrive)(fut__join *j, fut__slot *s, fut_work *w);
    void (*end)(fut__join *j, fut_work *w);
} fut__join_kind;

/* when_all: the first error settles the output and cancels the rest (fail fast). */
static void fut__all_arrive(fut__join *j, fut__slot *s, fut_work *w)
{
    if (s->out.err != 0 && fut__join_claim(j))
        fut__join_conclude(j, fut_error(s->out.err), s->index, w);
}

/* when_all, when_all_settled: every outcome, in input order, in the block. */
static void fut__all_end(fut__join *j, fut_work *w)
{
    fut_result *b = (fut_result *)j->block;
    for (size_t i = 0; i < j->n; i++) {
        b[i] = j->slots[i].out; /* the block owns the values now */
        j->slots[i].out.dtor = NULL;
    }
    j->block = NULL;
    if (fut_node_settle(&j->node, fut_ok_ptr(b, fut__block_drop), w) != 0)
        fut__block_drop(b); /* the output was cancelled: destroy the values */
}

/* when_any_ok: the first success wins; its outcome moves into the block at once. */
static void fut__any_arrive(fut__join *j, fut__slot *s, fut_work *w)
{
    if (s->out.err == 0 && fut__join_claim(j)) {
        fut_any *a = (fut_any *)j->block;
        a->index = s->index;
        a->result = s->out;
        s->out.dtor = NULL;
        j->block = NULL;
        fut__join_conclude(j, fut_ok_ptr(a, fut__block_drop), s->index, w);
    } else if (s->out.err != 0) {
        /* relaxed: read after the last count-down (acq_rel). */
        atomic_store_explicit(&j->last_err, s->out.err, memory_order_relaxed);
    }
}

/* when_any_ok with no success: the last input's error. */
static void fut__any_end(fut__join *j, fut_work *w)
{
    fut_result e = fut_error(atomic_load_explicit(&j->last_err, memory_order_relaxed));
    (void)fut_node_settle(&j->node, e, w); /* an error has nothing to drop */
}

/* fold: the driver folds what has arrived in order; a fold not decided by the end was
 * cancelled, and there is nothing to hand on. */
static void fut__fold_arrive(fut__join *j, fut__slot *s, fut_work *w)
{
    (void)s;
    fut__fold_drive(j, w);
}

static const fut__join_kind fut__join_kinds[] = {
    {fut__all_arrive, fut__all_end},  /* FUT__JOIN_ALL */
    {NULL, fut__all_end},             /* FUT__JOIN_SETTLED */
    {fut__any_arrive, fut__any_end},  /* FUT__JOIN_ANY */
    {fut__fold_arrive, NULL},         /* FUT__JOIN_FOLD */
};

/* An input's fn: its outcome arrived (or ECANCELED, if we cancelled it). */
static void fut__slot_done(fut_input *in, fut_result r, fut_work *w)
{
    fut__slot *s = FUT_CONTAINER_OF(in, fut__slot, in);
    fut__join *j = fut__join_of_slot(s);
    s->out = r;
    /* release: the fold driver reads out after seeing full. */
    atomic_store_explicit(&s->full, 1, memory_order_release);
    if (fut__join_kinds[j->kind].arrive != NULL)
        fut__join_kinds[j->kind].arrive(j, s, w);
    fut__join_resolve(j, w); /* last: the node may be finished and freed */
}

/* Every input's fn has run: nobody else touches the node's inputs now. */
static void fut__join_finish(fut__join *j, fut_work *w)
{
    /* acquire: a claim made by another input's fn (its writes to the block). */
    if (!atomic_load_explicit(&j->decided, memory_order_acquire) && fut__join_kinds[j->kind].end != NULL)
        fut__join_kinds[j->kind].end(j, w);
    for (size_t i = 0; i < j->n; i++)
        fut_result_drop(&j->slots[i].out); /* outcomes nobody took */
    fut_result_drop(&j->acc);
    fut_results_free(j->block); /* a block never handed out */
    j->block = NULL;
    fut_node_release(&j->node); /* may free j: last */
}

/* The output was cancelled: cancel every input. The canceller holds the output's
 * consumer side, so the node stays alive while we work. */
static void fut__join_on_cancel(fut_node *n, fut_work *w)
{
    fut__join *j = FUT_CONTAINER_OF(n, fut__join, node);
    (void)fut__join_claim(j); /* nothing is decided from now on: no winner, no fold step */
    fut__join_cancel_inputs(j, j->n, w);
}

static void fut__join_free(fut_node *n) { FUT_FREE(FUT_CONTAINER_OF(n, fut__join, node)); }

static const fut_node_ops fut__join_ops = {fut__join_on_cancel, fut__join_free};

/* A join over n inputs with a block of block_items (0: none). The creator count is
 * taken; the caller attaches the inputs (fut__join_start). */
static inline fut__join *fut__join_new(int kind, size_t n, size_t block_items, unsigned block_kind)
{
    fut__join *j = (fut__join *)FUT_MALLOC(sizeof(fut__join) + n * sizeof(fut__slot));
    if (j == NULL)
        return NULL;
    j->block = NULL;
    if (block_items > 0) {
        j->block = fut__block_new(block_items, block_kind);
        if (j->block == NULL) {
            FUT_FREE(j);
            return NULL;
        }
    }
    (void)fut_node_init(&j->node, &fut__join_ops, NULL); /* cannot fail: ops are ours */
    j->kind = kind;
    j->n = n;
    FUT__ATOMIC_INIT(&j->unresolved, n + 1);
    FUT__ATOMIC_INIT(&j->decided, 0);
    FUT__ATOMIC_INIT(&j->last_err, ECANCELED);
    FUT__ATOMIC_INIT(&j->fold_work, 0);
    j->acc = fut_ok(fut_u64(0));
    j->cursor = 0;
    for (size_t i = 0; i < n; i++) {
        fut_input_init(&j->slots[i].in, fut__slot_done);
        j->slots[i].index = (uint32_t)i;
        FUT__ATOMIC_INIT(&j->slots[i].full, 0);
        j->slots[i].out = fut_ok(fut_u64(0));
    }
    return j;
}

/* Attaches every input (consuming the handles), then drops the creator count. */
static inline fut_future fut__join_start(fut__join *j, fut_future *fs)
{
    fut_work w;
    fut_work_init(&w);
    fut_future out = fut_node_future(&j->node);
    for (size_t i = 0; i < j->n; i++)
        fut_input_attach(&j->slots[i].in, &fs[i], &w);
    fut__join_resolve(j, &w); /* the creator count: may finish here */
    fut_work_run(&w);
    return out;
}

/* Consumes n handles that could not be joined (allocation failed, bad arguments). */
static inline void fut__drop_all(fut_future *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fut_drop(&fs[i]);
}

static inline fut_future fut__when(int kind, fut_future *fs, size_t n)
{
    if (fs == NULL && n > 0)
        return fut_ready_error(EINVAL);
    if (n == 0)
        return kind == FUT__JOIN_ANY ? fut_ready_error(ENOENT) : fut_ready(fut_ptr(NULL));
    size_t ready = 0;
    if (kind != FUT__JOIN_ANY)
        while (ready < n && fut_is_ready(&fs[ready]))
            ready++;
    if (ready == n) {
        /* Everything is here: no node, no atomic beyond the reads. */
        fut_result *b = (fut_result *)fut__block_new(n, FUT__BLOCK_RESULTS);
        if (b == NULL) {
            fut__drop_all(fs, n);
            return fut_ready_error(ENOMEM);
        }
        int err = 0;
        for (size_t i = 0; i < n; i++) {
            if (fut_try_get(&fs[i], &b[i]) != 0)
                b[i] = fut_error(EINVAL); /* (ready handles are valid: not reached) */
            if (b[i].err != 0 && err == 0)
                err = b[i].err; /* when_all fails with the first error in input order */
        }
        if (kind == FUT__JOIN_ALL && err != 0) {
            fut__block_drop(b);
            return fut_ready_error(err);
        }
        return fut_ready_ptr(b, fut__block_drop);
    }
    fut__join *j = fut__join_new(kind, n, kind == FUT__JOIN_ANY ? 1 : n,
                                 kind == FUT__JOIN_ANY ? FUT__BLOCK_ANY : FUT__BLOCK_RESULTS);
    if (j == NULL) {
        fut__drop_all(fs, n);
        return fut_ready_error(ENOMEM);
    }
    return fut__join_start(j, fs);
}

FUT__DEF fut_future fut_when_all(fut_future *fs, size_t n) { return fut__when(FUT__JOIN_ALL, fs, n); }
FUT__DEF fut_future fut_when_all_settled(fut_future *fs, size_t n) { return fut__when(FUT__JOIN_SETTLED, fs, n); }
FUT__DEF fut_future fut_when_any_ok(fut_future *fs, size_t n) { return fut__when(FUT__JOIN_ANY, fs, n); }

FUT__DEF fut_future fut_fold(fut_future *fs, size_t n, fut_result init, fut_fold_fn fn, void *ctx)
{
    if ((fs == NULL && n > 0) || fn == NULL) {
        if (fs != NULL)
            fut__drop_all(fs, n);
        fut_result_drop(&init);
        return fut_ready_error(EINVAL);
    }
    if (n == 0)
        return fut_ready_result(init);
    fut__join *j = fut__join_new(FUT__JOIN_FOLD, n, 0, FUT__BLOCK_RESULTS);
    if (j == NULL) {
        fut__drop_all(fs, n);
        fut_result_drop(&init);
        return fut_ready_error(ENOMEM);
    }
    j->fold = fn;
    j->fold_ctx = ctx;
    j->acc = init;
    return fut__join_start(j, fs);
}

/* ---- data-parallel ops ------------------------------------------------------------- */

/* A chunked job: its output state, its chunk tasks and the arrays, in one allocation. */
enum { FUT__JOB_MAP, FUT__JOB_FILTER, FUT__JOB_REDUCE };

typedef struct fut__chunk {
    fut_task task;
    size_t index;
    size_t kept;      /* filter: kept in this chunk */
    fut_value partial;/* reduce */
} fut__chunk;

typedef union fut__jobfn {
    fut_map_fn map;
    fut_filter_fn filter;
    fut_chunk_fn reduce;
} fut__jobfn;

typedef struct fut__job {
    fut_node node;   /* the output; a cancel stops chunks not yet started */
    int kind;
    const char *in;
    char *out;
    size_t n, in_size, out_size, chunk, nchunks;
    void *ctx;
    fut__jobfn fn;
    fut_combine_fn combine;
    fut_value identity;
    _Atomic(size_t) left;   /* chunks not finished */
    _Atomic(int) err;       /* the first error (a refusal), or 0 */
    _Atomic(int) stop;      /* set by a cancel: chunks not started skip their work */
    FUT__FLEX(fut__chunk chunks[]);
} fut__job;

static void fut__job_done(fut__job *job, fut_work *w)
{
    int err = atomic_load_explicit(&job->err, memory_order_acquire); /* after the acq_rel countdown */
    if (err == 0 && atomic_load_explicit(&job->stop, memory_order_relaxed)) /* relaxed: as in chunk_run */
        err = ECANCELED; /* cancelled: nothing is compacted or combined */
    fut_result o;
    if (err != 0) {
        o = fut_error(err);
    } else if (job->kind == FUT__JOB_MAP) {
        o = fut_ok(fut_u64(job->n));
    } else if (job->kind == FUT__JOB_FILTER) {
        /* Close the gaps between the chunks' kept runs, in order. */
        size_t at = 0;
        for (size_t c = 0; c < job->nchunks; c++) {
            size_t begin = c * job->chunk, k = job->chunks[c].kept;
            if (at != begin && k > 0)
                memmove(job->out + at * job->out_size, job->out + begin * job->out_size, k * job->out_size);
            at += k;
        }
        o = fut_ok(fut_u64(at));
    } else {
        fut_value acc = job->identity;
        for (size_t c = 0; c < job->nchunks; c++)
            acc = job->combine(job->ctx, acc, job->chunks[c].partial);
        o = fut_ok(acc);
    }
    (void)fut_node_settle(&job->node, o, w); /* cancelled: a plain value, nothing to drop */
    fut_node_release(&job->node); /* may free the job */
}

static void fut__chunk_run(fut_task *t, int err)
{
    fut__chunk *c = FUT_CONTAINER_OF(t, fut__chunk, task);
    fut__job *job = FUT_CONTAINER_OF(c - c->index, fut__job, chunks);
    if (err != 0) {
        int ex = 0;
        /* relaxed: only the first error is kept; the last chunk reads it after the
         * acq_rel countdown below. */
        atomic_compare_exchange_strong_explicit(&job->err, &ex, err, memory_order_relaxed,
                                                memory_order_relaxed);
    } else if (!atomic_load_explicit(&job->stop, memory_order_relaxed) &&
               atomic_load_explicit(&job->err, memory_order_relaxed) == 0) {
        size_t begin = c->index * job->chunk;
        size_t count = job->n - begin < job->chunk ? job->n - begin : job->chunk;
        const char *in = job->in + begin * job->in_size;
        if (job->kind == FUT__JOB_MAP)
            job->fn.map(job->ctx, in, job->out + begin * job->out_size, count);
        else if (job->kind == FUT__JOB_FILTER)
            c->kept = job->fn.filter(job->ctx, in, job->out + begin * job->out_size, count);
        else
            c->partial = job->fn.reduce(job->ctx, in, count);
    }
    /* acq_rel: the last chunk sees every chunk's results (kept, partial, out). */
    if (atomic_fetch_sub_explicit(&job->left, 1, memory_order_acq_rel) == 1) {
        fut_work w;
        fut_work_init(&w);
        fut__job_done(job, &w);
        fut_work_run(&w);
    }
}

/* A canceller won the output: chunks not started do nothing. */
static void fut__job_cancel(fut_node *n, fut_work *w)
{
    (void)w;
    fut__job *job = FUT_CONTAINER_OF(n, fut__job, node);
    atomic_store_explicit(&job->stop, 1, memory_order_relaxed); /* a hint: no order needed */
}

static void fut__job_free(fut_node *n) { FUT_FREE(FUT_CONTAINER_OF(n, fut__job, node)); }

static const fut_node_ops fut__job_ops = {fut__job_cancel, fut__job_free};

/* One description for the three kinds (the public ones, checked and defaulted). */
typedef struct fut__job_spec {
    int kind;
    const char *in;
    char *out;
    size_t n, in_size, out_size, chunk;
    fut__jobfn fn;
    fut_combine_fn combine;
    fut_value identity;
    void *ctx;
} fut__job_spec;

static fut_future fut__job_start(fut_sched *s, const fut__job_spec *d)
{
    size_t n = d->n, chunk = d->chunk;
    if (n == 0)
        return d->kind == FUT__JOB_REDUCE ? fut_ready(d->identity) : fut_ready(fut_u64(0));
    if (chunk == 0) {
        size_t workers = s->workers ? s->workers : 1;
        chunk = (n + 4 * workers - 1) / (4 * workers);
        if (chunk < FUT_MIN_CHUNK)
            chunk = FUT_MIN_CHUNK;
    }
    if (chunk > n)
        chunk = n;
    size_t nchunks = n / chunk + (n % chunk != 0); /* n + chunk - 1 could overflow */
    fut__job *job = (fut__job *)FUT_MALLOC(sizeof(fut__job) + nchunks * sizeof(fut__chunk));
    if (job == NULL)
        return fut_ready_error(ENOMEM);
    (void)fut_node_init(&job->node, &fut__job_ops, s->env); /* cannot fail: ops are ours */
    job->kind = d->kind;
    job->in = d->in;
    job->out = d->out;
    job->n = n;
    job->in_size = d->in_size;
    job->out_size = d->out_size;
    job->chunk = chunk;
    job->nchunks = nchunks;
    job->ctx = d->ctx;
    job->fn = d->fn;
    job->combine = d->combine;
    job->identity = d->identity;
    FUT__ATOMIC_INIT(&job->left, nchunks);
    FUT__ATOMIC_INIT(&job->err, 0);
    FUT__ATOMIC_INIT(&job->stop, 0);
    for (size_t c = 0; c < nchunks; c++) {
        job->chunks[c].index = c;
        job->chunks[c].kept = 0;
        job->chunks[c].partial = d->identity;
        job->chunks[c].task.run = fut__chunk_run;
        job->chunks[c].task.next = c + 1 < nchunks ? &job->chunks[c + 1].task : NULL;
    }
    fut_future f = fut_node_future(&job->node);
    /* One hand-off for all chunks; refused ones run here with the error. The handle is
     * made first: the last chunk may settle (and the consumer side still holds) it. */
    fut_stats *st = s->env != NULL ? s->env->stats : NULL; /* read first */
    size_t took = fut_sched_submit_many(s, &job->chunks[0].task, nchunks);
    if (took > 0) {
        fut_stats_add(st, FUT_STAT_BATCHED, took);
        fut_stats_inc(st, FUT_STAT_BATCHES);
    }
    return f;
}

/* The checks the three share: a scheduler that takes tasks, arrays where n needs them. */
static inline int fut__job_ok(const fut_sched *s, const void *in, const void *out, size_t n, size_t size)
{
    return s != NULL && s->submit != NULL && size > 0 && (n == 0 || (in != NULL && out != NULL));
}

FUT__DEF fut_future fut_map(fut_sched *s, const fut_map_desc *d)
{
    if (d == NULL || d->fn == NULL || !fut__job_ok(s, d->in, d->out, d->n, d->in_size))
        return fut_ready_error(EINVAL);
    fut__job_spec j = {FUT__JOB_MAP, (const char *)d->in, (char *)d->out, d->n, d->in_size,
                       d->out_size != 0 ? d->out_size : d->in_size, d->chunk, {NULL}, NULL, {0}, d->ctx};
    j.fn.map = d->fn;
    return fut__job_start(s, &j);
}

FUT__DEF fut_future fut_filter(fut_sched *s, const fut_filter_desc *d)
{
    if (d == NULL || d->fn == NULL || !fut__job_ok(s, d->in, d->out, d->n, d->size))
        return fut_ready_error(EINVAL);
    fut__job_spec j = {FUT__JOB_FILTER, (const char *)d->in, (char *)d->out, d->n, d->size, d->size,
                       d->chunk, {NULL}, NULL, {0}, d->ctx};
    j.fn.filter = d->fn;
    return fut__job_start(s, &j);
}

FUT__DEF fut_future fut_reduce(fut_sched *s, const fut_reduce_desc *d)
{
    if (d == NULL || d->fn == NULL || d->combine == NULL || !fut__job_ok(s, d->in, d->in, d->n, d->size))
        return fut_ready_error(EINVAL);
    fut__job_spec j = {FUT__JOB_REDUCE, (const char *)d->in, NULL, d->n, d->size, 0, d->chunk, {NULL},
                       d->combine, d->identity, d->ctx};
    j.fn.reduce = d->fn;
    return fut__job_start(s, &j);
}

/* ---- task batching ----------------------------------------------------------------- */

FUT__DEF int fut_batch_init(fut_batch *b, fut_sched *s, size_t threshold, fut_stats *stats)
{
    if (b == NULL)
        return EINVAL;
    memset(b, 0, sizeof *b); /* a batch that failed init flushes nothing */
    if (s == NULL || s->submit == NULL)
        return EINVAL;
    b->sched = s;
    b->head = b->tail = NULL;
    b->count = 0;
    b->threshold = threshold ? threshold : 64;
    b->stats = stats;
    return 0;
}

FUT__DEF size_t fut_batch_flush(fut_batch *b)
{
    if (b == NULL || b->count == 0)
        return 0;
    fut_task *head = b->head;
    size_t n = b->count;
    b->head = b->tail = NULL;
    b->count = 0;
    size_t took = fut_sched_submit_many(b->sched, head, n);
    if (took > 0) {
        fut_stats_add(b->stats, FUT_STAT_BATCHED, took);
        fut_stats_inc(b->stats, FUT_STAT_BATCHES);
    }
    return took;
}

FUT__DEF size_t fut_batch_count(const fut_batch *b) { return b != NULL ? b->count : 0; }

FUT__DEF size_t fut_batch_cancel(fut_batch *b)
{
    if (b == NULL)
        return 0;
    size_t n = b->count;
    fut_task *t = b->head;
    b->head = b->tail = NULL;
    b->count = 0;
    while (t != NULL) {
        fut_task *next = t->next; /* read first: running t may free it */
        t->run(t, ECANCELED);
        t = next;
    }
    return n;
}

FUT__DEF int fut_batch_add(fut_batch *b, fut_task *t)
{
    if (b == NULL || b->sched == NULL || t == NULL || t->run == NULL)
        return EINVAL; /* also a batch whose init failed */
    t->next = NULL;
    if (b->tail != NULL)
        b->tail->next = t;
    else
        b->head = t;
    b->tail = t;
    if (++b->count >= b->threshold)
        fut_batch_flush(b);
    return 0;
}

FUT__DEF fut_future fut_batch_spawn(fut_batch *b, fut_fn fn, void *ctx)
{
    if (b == NULL || b->sched == NULL || fn == NULL)
        return fut_ready_error(EINVAL);
    fut_task *t;
    fut_future f = fut_spawn_task(b->sched, fn, ctx, &t);
    if (t != NULL)
        fut_batch_add(b, t);
    return f;
}

/* ---- pipelines --------------------------------------------------------------------- */

struct fut__pipe_item {
    fut_pipeline *p;
    fut__pipe_item *next;
    size_t stage;
    fut_future cur;   /* the input of the next stage */
    fut_promise done; /* the item's result */
};

FUT__DEF int fut_pipeline_init(fut_pipeline *p, const fut_stage *stages, size_t nstages,
                                    size_t max_in_flight)
{
    if (p == NULL || stages == NULL || nstages == 0)
        return EINVAL;
    for (size_t i = 0; i < nstages; i++)
        if (stages[i].sched == NULL || stages[i].sched->submit == NULL || stages[i].fn == NULL)
            return EINVAL;
    memset((void *)p, 0, sizeof *p); /* (void *): C++ sees atomics, not bytes */
    p->stages = (fut_stage *)FUT_MALLOC(nstages * sizeof(fut_stage));
    p->head = (fut__pipe_item **)FUT_MALLOC(nstages * sizeof(fut__pipe_item *));
    p->tail = (fut__pipe_item **)FUT_MALLOC(nstages * sizeof(fut__pipe_item *));
    p->busy = (unsigned char *)FUT_MALLOC(nstages);
    int ok = p->stages != NULL && p->head != NULL && p->tail != NULL && p->busy != NULL &&
             pthread_mutex_init(&p->lock, NULL) == 0;
    if (ok && pthread_cond_init(&p->idle, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        ok = 0;
    }
    if (!ok) {
        FUT_FREE(p->stages);
        FUT_FREE(p->head);
        FUT_FREE(p->tail);
        FUT_FREE(p->busy);
        return ENOMEM;
    }
    memcpy(p->stages, stages, nstages * sizeof(fut_stage));
    for (size_t i = 0; i < nstages; i++) {
        p->head[i] = p->tail[i] = NULL;
        p->busy[i] = 0;
    }
    p->nstages = nstages;
    p->max_in_flight = max_in_flight;
    fut_inline_init(&p->inl);
    return 0;
}

/* Under p->lock. */
static inline void fut__pipe_enqueue(fut_pipeline *p, size_t stage, fut__pipe_item *it)
{
    it->stage = stage;
    it->next = NULL;
    if (p->tail[stage] != NULL)
        p->tail[stage]->next = it;
    else
        p->head[stage] = it;
    p->tail[stage] = it;
}

static void fut__pipe_drive_locked(fut_pipeline *p);

/* A stage finished for an item: it moves on, and the stage is free for the next one.
 * Handing the item on and driving happen under one lock: once the item is queued for
 * its next stage, another thread may carry it to the end and its owner may destroy the
 * pipeline, so this thread must not touch p afterwards unless it is the driver (which
 * destroy waits for). */
static fut_future fut__pipe_step(void *ctx, fut_result r)
{
    fut__pipe_item *it = (fut__pipe_item *)ctx;
    fut_pipeline *p = it->p;
    int last = it->stage + 1 == p->nstages;
    pthread_mutex_lock(&p->lock);
    p->busy[it->stage] = 0;
    if (last) {
        p->in_flight--;
        p->live--; /* the item leaves (its future settles below) */
    } else {
        it->cur = fut_ready_result(r); /* the destructor goes on with the value */
        fut__pipe_enqueue(p, it->stage + 1, it);
    }
    fut__pipe_drive_locked(p); /* releases the lock */
    if (last) {
        /* Outside the lock: it may run continuations. Cancelled: the value is ours. */
        if (fut_promise_set_result(&it->done, r) != 0)
            fut_result_drop(&r);
        FUT_FREE(it);
    }
    return fut_ready(fut_u64(0));
}

/* Starts every item that can start. Called with p->lock held; returns with it released.
 * One thread drives at a time; completions that happen meanwhile (inline stages finish
 * inside fut_then) only set `more`, so the driver loops instead of recursing. A thread
 * that is not the driver never touches p after this. */
static void fut__pipe_drive_locked(fut_pipeline *p)
{
    if (p->driving) {
        p->more = 1;
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->driving = 1;
    p->driver = pthread_self();
    for (;;) {
        fut__pipe_item *start = NULL, **link = &start;
        for (size_t s = 0; s < p->nstages; s++) {
            fut__pipe_item *it = p->head[s];
            if (it == NULL || p->busy[s])
                continue;
            if (s == 0) {
                if (p->max_in_flight != 0 && p->in_flight >= p->max_in_flight)
                    continue;
                p->in_flight++;
            }
            p->head[s] = it->next;
            if (p->head[s] == NULL)
                p->tail[s] = NULL;
            p->busy[s] = 1;
            it->next = NULL;
            *link = it;
            link = &it->next;
        }
        p->more = 0;
        pthread_mutex_unlock(&p->lock);
        while (start != NULL) {
            fut__pipe_item *it = start;
            start = it->next;
            fut_stage *st = &p->stages[it->stage];
            fut_future g = fut_then(&it->cur, st->sched, st->fn, st->ctx);
            /* The step runs inline wherever g settles; its own result is dropped. If its
             * record cannot be allocated (the stage's work goes on, its result is
             * dropped), the item fails with ENOMEM here rather than never settling: the
             * step never returns an error itself, so an error future means it did not
             * run. */
            fut_future step = fut_then_result(&g, &p->inl, fut__pipe_step, it);
            fut_result sr;
            if (fut_try_get(&step, &sr) == 0) {
                if (sr.err != 0)
                    fut__pipe_step(it, fut_error(sr.err));
            } else {
                fut_drop(&step);
            }
        }
        pthread_mutex_lock(&p->lock);
        if (!p->more) {
            p->driving = 0;
            pthread_cond_broadcast(&p->idle); /* a destroy may wait for this */
            pthread_mutex_unlock(&p->lock);
            return;
        }
    }
}

FUT__DEF fut_future fut_pipeline_push(fut_pipeline *p, fut_future *input)
{
    if (p == NULL || input == NULL || p->stages == NULL) { /* NULL, zeroed or destroyed */
        fut_drop(input);
        return fut_ready_error(EINVAL);
    }
    fut__pipe_item *it = (fut__pipe_item *)FUT_MALLOC(sizeof *it);
    fut_future out;
    if (it == NULL || fut_promise_new(&it->done, &out) != 0) {
        FUT_FREE(it);
        fut_drop(input);
        return fut_ready_error(ENOMEM);
    }
    it->p = p;
    it->cur = fut_move(input);
    pthread_mutex_lock(&p->lock);
    p->live++;
    fut__pipe_enqueue(p, 0, it);
    fut__pipe_drive_locked(p); /* releases the lock */
    return out;
}

FUT__DEF int fut_pipeline_destroy(fut_pipeline *p)
{
    if (p == NULL || p->stages == NULL)
        return EINVAL;
    pthread_mutex_lock(&p->lock);
    if (p->live != 0) {
        pthread_mutex_unlock(&p->lock);
        return EBUSY;
    }
    while (p->driving) {
        if (pthread_equal(p->driver, pthread_self())) {
            /* Called from a continuation the pipeline itself is running (an inline last
             * stage): its loop still needs p. Destroy it after. */
            pthread_mutex_unlock(&p->lock);
            return EBUSY;
        }
        pthread_cond_wait(&p->idle, &p->lock); /* the last step is finishing its loop */
    }
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    FUT_FREE(p->stages);
    FUT_FREE(p->head);
    FUT_FREE(p->tail);
    FUT_FREE(p->busy);
    memset((void *)p, 0, sizeof *p); /* (void *): C++ sees atomics, not bytes */
    return 0;
}

#endif /* FUT__IMPL */

FUT__C_END

#endif /* FUT_BATCH_H */

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
