/* batch.h - combinators over futures, data-parallel map/filter/reduce, task batching and
 * pipelines, on top of fut.h.
 *
 * Over futures: fut_when_all (fail-fast: the first error settles the result and cancels
 * the rest), fut_when_all_settled (every outcome, per slot), fut_when_any (the first
 * success, its index and value; cancels the rest), fut_fold (an ordered fold that runs as
 * soon as each prefix of the inputs has settled). Over arrays, on a scheduler: fut_map,
 * fut_filter and fut_reduce cut the input into chunks, so scheduling is paid per chunk,
 * and submit all chunks in one hand-off. fut_batch gathers independent tasks and hands
 * them to a scheduler as one submit_many. fut_pipeline chains stages so that item k+1 can
 * be in stage 1 while item k is in stage 2, with a bound on items in flight.
 *
 * Example:
 *
 *     fut_future fs[3] = {a, b, c};                 // any futures
 *     fut_future all = fut_when_all(fs, 3);         // consumes the three
 *     fut_result r = fut_get(&all);                 // or chain on it
 *     if (r.err == 0) {
 *         fut_value *v = r.value.ptr;               // v[0], v[1], v[2], in input order
 *         use(v);
 *         fut_results_free(v);                      // the block is the taker's
 *     }
 *     fut_future sum = fut_reduce(&pool.sched, data, n, sizeof(int), 0,
 *                                 sum_chunk, add, fut_i64(0), NULL);
 *
 * Ownership. Combinators consume every input handle (an empty or spent one counts as an
 * input failing with EINVAL). Their result values are blocks the taker owns and frees
 * with fut_results_free; a block nobody takes is destroyed with the values in it (their
 * destructors run). map/filter/reduce borrow the arrays: keep them valid, and unchanged
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
 * Config macros: those of fut.h. FUT_MIN_CHUNK (default 256): the smallest automatic
 * chunk, in elements.
 * Needs: fut.h, pool.h and stats.h beside it.
 * License: MIT (see the end of this file).
 */
#ifndef FUT_BATCH_H
#define FUT_BATCH_H

#include "fut.h"

#include <string.h>

#ifndef FUT_MIN_CHUNK
#define FUT_MIN_CHUNK 256
#endif

/* ---- result blocks ------------------------------------------------------------------ */

/* The winner of fut_when_any. */
typedef struct fut_any {
    size_t index;
    fut_value value;
} fut_any;

/* Frees a result block (fut_value[], fut_result[] or fut_any) you took. NULL is ignored. */
static inline void fut_results_free(void *block);

/* ---- combinators over futures ------------------------------------------------------ */

/* Settles with a block fut_value[n] once all n inputs have values, or with the first error
 * to arrive at once - the other inputs are then cancelled (inputs settled before the call
 * arrive in input order). n == 0 gives a NULL
 * block at once. fs == NULL with n > 0 gives EINVAL; ENOMEM if the block cannot be made
 * (the inputs are still consumed, and dropped). */
static inline fut_future fut_when_all(fut_future *fs, size_t n);
/* Settles with a block fut_result[n] (each input's value or error) once all settled. */
static inline fut_future fut_when_all_settled(fut_future *fs, size_t n);
/* Settles with a block fut_any {index, value} for the first input to succeed, cancelling
 * the others; if all fail, with the error of the last to fail; n == 0 gives ENOENT. */
static inline fut_future fut_when_any(fut_future *fs, size_t n);

/* An ordered fold: acc = fn(ctx, acc, outcome of input i) for i = 0..n-1, each step run as
 * soon as inputs 0..i have settled, on the thread that settled the last of them. fn gets
 * each input's outcome (and owns its value) and returns the next accumulator or an error,
 * which settles the fold at once and cancels the inputs not yet folded. */
typedef fut_result (*fut_fold_fn)(void *ctx, fut_value acc, fut_result item);
static inline fut_future fut_fold(fut_future *fs, size_t n, fut_value init, fut_fold_fn fn, void *ctx);

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

/* Each cuts n elements into chunks of `chunk` (0: automatic, from n and s->workers: about
 * four chunks per worker, never under FUT_MIN_CHUNK elements) and submits them in one
 * hand-off. The future settles when every chunk has run: map with n, filter with the
 * number kept (out[0..kept-1], in input order), reduce with the combined value (identity
 * for n == 0). A refused chunk, or a cancel, settles it with that error; chunks that
 * already started still run, so keep the arrays until fut_wait on the future returns
 * and then, after a cancel, until the scheduler has drained. NULL s/fn/arrays (n > 0),
 * zero sizes: EINVAL. in and out must not overlap. */
static inline fut_future fut_map(fut_sched *s, const void *in, void *out, size_t n, size_t in_size,
                                 size_t out_size, size_t chunk, fut_map_fn fn, void *ctx);
static inline fut_future fut_filter(fut_sched *s, const void *in, void *out, size_t n, size_t size,
                                    size_t chunk, fut_filter_fn fn, void *ctx);
static inline fut_future fut_reduce(fut_sched *s, const void *in, size_t n, size_t size, size_t chunk,
                                    fut_chunk_fn fn, fut_combine_fn combine, fut_value identity, void *ctx);

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
static inline int fut_batch_init(fut_batch *b, fut_sched *s, size_t threshold, fut_stats *stats);
/* Adds t (borrowed until it runs). Returns 0, or EINVAL for NULL. */
static inline int fut_batch_add(fut_batch *b, fut_task *t);
/* Like fut_spawn, but the task waits in the batch. */
static inline fut_future fut_batch_spawn(fut_batch *b, fut_fn fn, void *ctx);
/* Hands everything gathered over; refused tasks run with the error (their futures settle
 * with it). Returns how many the scheduler took. */
static inline size_t fut_batch_flush(fut_batch *b);
/* How many tasks wait in the batch. */
static inline size_t fut_batch_count(const fut_batch *b);
/* Gives up what is gathered: every waiting task runs here with ECANCELED (a spawned
 * future settles with it). A batch must be flushed or cancelled before it goes away:
 * a task left in it would never run. Returns how many were cancelled. */
static inline size_t fut_batch_cancel(fut_batch *b);

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
static inline int fut_pipeline_init(fut_pipeline *p, const fut_stage *stages, size_t nstages,
                                    size_t max_in_flight);
/* Feeds one item (consumes input) and returns the future of its last stage's result.
 * Past max_in_flight the item waits, without blocking the caller. */
static inline fut_future fut_pipeline_push(fut_pipeline *p, fut_future *input);
/* Frees the pipeline. EBUSY (and nothing freed) while pushed items have not finished
 * (their futures have not settled), or when called from a continuation the pipeline is
 * running itself; otherwise it waits for the pipeline's last internal step, which is
 * short, and frees it. Items' values pass between stages as results:
 * a destructor given with fut_ready_ptr in one stage does not travel to the next. */
static inline int fut_pipeline_destroy(fut_pipeline *p);

/* ======================================================================================
 * Implementation
 * ====================================================================================== */

/* ---- result blocks ------------------------------------------------------------------ */

/* [header][items][destructors]; the taker gets a pointer to the items. */
enum { FUT__BLOCK_VALUES, FUT__BLOCK_RESULTS, FUT__BLOCK_ANY };

typedef struct fut__block {
    size_t n;
    size_t item;   /* bytes per item */
    unsigned kind; /* what an item is (fut_result and fut_any are the same size) */
    _Alignas(16) unsigned char items[];
} fut__block;

static inline fut__block *fut__block_of(void *items)
{
    return (fut__block *)(void *)((char *)items - offsetof(fut__block, items));
}

static inline fut_dtor *fut__block_dtors(fut__block *b)
{
    return (fut_dtor *)(void *)(b->items + b->n * b->item);
}

static inline size_t fut__block_item(unsigned kind)
{
    return kind == FUT__BLOCK_VALUES ? sizeof(fut_value) : kind == FUT__BLOCK_RESULTS ? sizeof(fut_result)
                                                                                      : sizeof(fut_any);
}

static inline void *fut__block_new(size_t n, unsigned kind)
{
    size_t item = fut__block_item(kind);
    fut__block *b = (fut__block *)FUT_MALLOC(sizeof(fut__block) + n * (item + sizeof(fut_dtor)));
    if (b == NULL)
        return NULL;
    b->n = n;
    b->item = item;
    b->kind = kind;
    memset(fut__block_dtors(b), 0, n * sizeof(fut_dtor));
    return b->items;
}

static inline void fut_results_free(void *block)
{
    if (block != NULL)
        FUT_FREE(fut__block_of(block));
}

/* The destructor of a block nobody took: its values' destructors, then the block. */
static inline void fut__block_discard(void *block)
{
    fut__block *b = fut__block_of(block);
    fut_dtor *d = fut__block_dtors(b);
    for (size_t i = 0; i < b->n; i++) {
        if (d[i] == NULL)
            continue;
        void *p;
        if (b->kind == FUT__BLOCK_RESULTS)
            p = ((fut_result *)block)[i].value.ptr;
        else if (b->kind == FUT__BLOCK_ANY)
            p = ((fut_any *)block)[i].value.ptr;
        else
            p = ((fut_value *)block)[i].ptr;
        d[i](p);
    }
    FUT_FREE(b);
}

/* ---- the join node ------------------------------------------------------------------ */

/* A combinator's output state, its node and its slots live in one allocation. Each slot
 * takes one input and resolves exactly once. Its states:
 *   UNSET      the creator is linking the input; only a delivery may take it (-> DONE)
 *   PENDING    linked, waiting; a delivery (-> DONE) or a canceller (-> CANCELLED) wins
 *   DONE/FULL  delivered (the outcome written, then published as FULL)
 *   CANCELLED  a canceller claimed it: if it then cancelled the input, no delivery comes
 *              and it resolves the slot; if the input had settled first, that delivery is
 *              on its way - it finds CANCELLED, drops the outcome and resolves the slot.
 * The node keeps the output's producer hold until the last slot resolves; then the node
 * (the "finisher") settles the output if nobody has, drops outcomes nobody took and lets
 * go. Whoever resolves a slot is the last to touch it. */
/* UNSET -> PENDING (creator) -> DONE (deliverer's claim) -> FULL (outcome written), or
 * PENDING -> CANCELLED (a canceller's claim). */
enum { FUT__SLOT_UNSET, FUT__SLOT_PENDING, FUT__SLOT_DONE, FUT__SLOT_FULL, FUT__SLOT_CANCELLED };
enum { FUT__JOIN_ALL, FUT__JOIN_SETTLED, FUT__JOIN_ANY, FUT__JOIN_FOLD };

typedef struct fut__slot {
    fut__link link;
    _Atomic uint32_t st;
    uint32_t index;
    fut__state *in; /* the input this slot is linked to (set before PENDING) */
    fut__out out;   /* the delivered outcome; dtor cleared once its value moved on */
} fut__slot;

typedef struct fut__join {
    fut__state w; /* the output: op EXT, cancelled through fut__join_cancel */
    int kind;
    size_t n;
    _Atomic size_t unresolved; /* slots not resolved, + 1 while the creator is setting up */
    _Atomic int decided;       /* the output's outcome is chosen (error, winner, fold) */
    _Atomic int last_err;      /* when_any: the error of the last input to fail */
    void *block;               /* the result block, made up front: the end cannot fail */
    /* fold */
    fut_fold_fn fold;
    void *fold_ctx;
    fut_value acc;
    size_t cursor;             /* next input to fold; only the driver touches it */
    _Atomic size_t fold_work;  /* arrivals not yet looked at by the driver */
    fut__slot slots[];
} fut__join;

static inline fut__join *fut__join_of_slot(fut__slot *s)
{
    return (fut__join *)(void *)((char *)(s - s->index) - offsetof(fut__join, slots));
}

static void fut__join_finish(fut__join *j, fut__run *wl);

static inline void fut__join_resolve(fut__join *j, fut__run *wl)
{
    /* acq_rel: the finisher sees every slot's outcome written before its resolve. */
    if (atomic_fetch_sub_explicit(&j->unresolved, 1, memory_order_acq_rel) == 1)
        fut__join_finish(j, wl);
}

/* Cancels every slot still pending (its input with it), except `skip`. The caller keeps
 * the node alive (it holds a slot, the creator hold, or the output's consumer hold). */
static inline void fut__join_cancel_slots(fut__join *j, size_t skip, fut__run *wl)
{
    for (size_t i = 0; i < j->n; i++) {
        if (i == skip)
            continue;
        fut__slot *s = &j->slots[i];
        uint32_t ex = FUT__SLOT_PENDING;
        /* seq_cst: the decider's half of a Dekker pair with the creator, which makes the
         * slot PENDING, then reads decided: either we see PENDING here, or it sees
         * decided and cancels the slot itself. */
        if (atomic_compare_exchange_strong_explicit(&s->st, &ex, FUT__SLOT_CANCELLED, memory_order_seq_cst,
                                                    memory_order_seq_cst)) {
            if (fut__cancel_input(s->in)) /* PENDING means linked: the input is ours */
                fut__join_resolve(j, wl);
            /* else a delivery is on its way and resolves the slot (see above) */
        }
    }
}

/* Claims the right to choose the output's outcome early (an error, a winner, a fold
 * result). Returns 0 if another thread has it. */
static inline int fut__join_claim(fut__join *j)
{
    int ex = 0;
    /* seq_cst: the Dekker pair of the creator's check (see fut__join_cancel_slots). */
    return atomic_compare_exchange_strong_explicit(&j->decided, &ex, 1, memory_order_seq_cst,
                                                   memory_order_seq_cst);
}

/* After a claim: settle the output with o and cancel what is still pending. */
static inline void fut__join_conclude(fut__join *j, const fut__out *o, size_t skip, fut__run *wl)
{
    if (!fut__settle_ex(&j->w, o, wl, 1))
        fut__discard(o); /* the output was cancelled first */
    fut__join_cancel_slots(j, skip, wl);
}

/* Folds consecutive delivered inputs. One thread drives at a time: an arrival that finds
 * a driver only counts itself, and the driver loops until it has looked at every count. */
static inline void fut__fold_drive(fut__join *j, fut__run *wl)
{
    /* acq_rel: the driver sees the slot written before each arrival's increment. */
    if (atomic_fetch_add_explicit(&j->fold_work, 1, memory_order_acq_rel) != 0)
        return;
    size_t seen = 1;
    for (;;) {
        /* acquire: a decision made elsewhere (an error) stops the fold. */
        while (j->cursor < j->n && !atomic_load_explicit(&j->decided, memory_order_acquire)) {
            fut__slot *s = &j->slots[j->cursor];
            /* acquire: the outcome written before DONE. */
            if (atomic_load_explicit(&s->st, memory_order_acquire) != FUT__SLOT_FULL)
                break;
            fut_result r = fut__out_result(&s->out);
            s->out.dtor = NULL; /* the value is fn's now */
            j->cursor++;
            fut_result next = j->fold(j->fold_ctx, j->acc, r);
            if (next.err != 0 || j->cursor == j->n) {
                fut__out v;
                fut__out_set(&v, next.value, NULL, next.err);
                if (fut__join_claim(j))
                    fut__join_conclude(j, &v, j->n, wl);
                break;
            }
            j->acc = next.value;
        }
        /* acq_rel: an arrival counted after our pass makes us loop and see its slot. */
        size_t before = atomic_fetch_sub_explicit(&j->fold_work, seen, memory_order_acq_rel);
        if (before == seen)
            return;
        seen = before - seen; /* arrivals during our pass: look again */
    }
}

static void fut__slot_deliver(fut__link *l, const fut__out *o, fut__run *wl)
{
    fut__slot *s = (fut__slot *)(void *)l;
    fut__join *j = fut__join_of_slot(s);
    /* acquire: a canceller's claim. */
    uint32_t ex = atomic_load_explicit(&s->st, memory_order_acquire);
    for (;;) {
        if (ex == FUT__SLOT_CANCELLED) {
            /* Claimed by a canceller after our input settled: it left the slot to us. */
            fut__discard(o);
            fut__join_resolve(j, wl);
            return;
        }
        /* acq_rel: decides against a canceller (PENDING) or the creator (UNSET); the
         * outcome is written after and published by FULL and the resolve. */
        if (atomic_compare_exchange_weak_explicit(&s->st, &ex, FUT__SLOT_DONE, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (s->in != NULL)
        fut__let_go(s->in); /* we won the slot: the input's consumer hold is ours */
    s->in = NULL;
    s->out = *o;
    /* release: the fold driver reads out after seeing FULL. */
    atomic_store_explicit(&s->st, FUT__SLOT_FULL, memory_order_release);
    switch (j->kind) {
    case FUT__JOIN_ALL:
        if (o->err != 0 && fut__join_claim(j))
            fut__join_conclude(j, o, s->index, wl); /* fail fast */
        break;
    case FUT__JOIN_ANY:
        if (o->err == 0 && fut__join_claim(j)) {
            /* The winner: fill the block, hand it over, then cancel the rest. */
            void *block = j->block;
            fut_any *a = (fut_any *)block;
            a->index = s->index;
            a->value = o->value;
            fut__block_dtors(fut__block_of(block))[0] = o->dtor; /* the value moves in */
            s->out.dtor = NULL;
            j->block = NULL;
            fut__out v;
            fut__out_set(&v, fut_ptr(block), fut__block_discard, 0);
            fut__join_conclude(j, &v, s->index, wl);
        } else if (o->err != 0) {
            atomic_store_explicit(&j->last_err, o->err, memory_order_relaxed); /* read after the
                                                                                  last resolve */
        }
        break;
    case FUT__JOIN_FOLD:
        fut__fold_drive(j, wl);
        break;
    default: /* SETTLED: wait for all */
        break;
    }
    fut__join_resolve(j, wl);
}

/* Every slot has resolved: nobody else touches the node now. */
static void fut__join_finish(fut__join *j, fut__run *wl)
{
    if (!atomic_load_explicit(&j->decided, memory_order_acquire)) {
        int cancelled = 0;
        for (size_t i = 0; i < j->n; i++)
            /* relaxed: every slot resolved before the acq_rel countdown that got us here. */
            cancelled |= atomic_load_explicit(&j->slots[i].st, memory_order_relaxed) == FUT__SLOT_CANCELLED;
        fut__out o;
        if (cancelled) {
            /* Only a canceller of the output cancels slots before a decision: the output
             * settled with ECANCELED then; nothing to hand on. */
        } else if (j->kind == FUT__JOIN_ANY) {
            fut__out_set(&o, fut_u64(0), NULL, atomic_load_explicit(&j->last_err, memory_order_relaxed));
            if (!fut__settle_ex(&j->w, &o, wl, 1))
                fut__discard(&o);
        } else if (j->kind == FUT__JOIN_ALL || j->kind == FUT__JOIN_SETTLED) {
            fut__block *b = fut__block_of(j->block);
            fut_dtor *d = fut__block_dtors(b);
            for (size_t i = 0; i < j->n; i++) {
                fut__out *so = &j->slots[i].out;
                if (j->kind == FUT__JOIN_ALL)
                    ((fut_value *)j->block)[i] = so->value;
                else
                    ((fut_result *)j->block)[i] = fut__out_result(so);
                d[i] = so->dtor; /* the block owns the values now */
                so->dtor = NULL;
            }
            fut__out_set(&o, fut_ptr(j->block), fut__block_discard, 0);
            void *block = j->block;
            j->block = NULL;
            if (!fut__settle_ex(&j->w, &o, wl, 1))
                fut__block_discard(block);
        }
    }
    for (size_t i = 0; i < j->n; i++)
        if (atomic_load_explicit(&j->slots[i].st, memory_order_relaxed) == FUT__SLOT_FULL) /* as above */
            fut__discard(&j->slots[i].out); /* outcomes nobody took */
    if (j->block != NULL)
        fut_results_free(j->block);
    fut__release_prod(&j->w); /* may free j: last */
}

/* A walker won the output: cancel every pending input. It holds the output's consumer
 * side, so the node stays alive while it works. */
static void fut__join_cancel(fut__state *w)
{
    fut__join *j = (fut__join *)(void *)w;
    fut__run wl = {NULL, NULL};
    fut__join_cancel_slots(j, j->n, &wl);
    fut__run_drain(&wl);
}

/* Builds a join over fs; kind-specific setup is done by the caller on *out_j before the
 * inputs are linked (so it returns with the creator hold still taken). */
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
    fut__state_init(&j->w, FUT__OP_EXT);
    j->w.env = NULL;
    j->w.cb.ext = fut__join_cancel;
    j->kind = kind;
    j->n = n;
    atomic_init(&j->unresolved, n + 1);
    atomic_init(&j->decided, 0);
    atomic_init(&j->last_err, ECANCELED);
    atomic_init(&j->fold_work, 0);
    j->cursor = 0;
    for (size_t i = 0; i < n; i++) {
        j->slots[i].link.deliver = fut__slot_deliver;
        atomic_init(&j->slots[i].st, FUT__SLOT_UNSET);
        j->slots[i].index = (uint32_t)i;
        j->slots[i].in = NULL;
        j->slots[i].out.dtor = NULL;
    }
    return j;
}

/* An input that is no longer wanted (decided before it was linked): cancel and drop it
 * as its owner would, so that its value, settled or to come, is destroyed. */
static inline void fut__abandon(fut__state *st)
{
    fut_future h = fut__handle(st);
    fut_cancel(&h);
    fut_drop(&h);
}

/* Links every input to its slot (consuming the handles), then drops the creator hold. */
static inline fut_future fut__join_start(fut__join *j, fut_future *fs)
{
    fut__run wl = {NULL, NULL};
    for (size_t i = 0; i < j->n; i++) {
        fut__slot *s = &j->slots[i];
        fut_future *f = &fs[i];
        fut__out o;
        if (fut__is_state(f->tag)) {
            fut__state *st = fut__st(f->tag);
            f->tag = FUT__SPENT;
            /* seq_cst: a cheap early look; the Dekker check below is what counts. */
            if (atomic_load_explicit(&j->decided, memory_order_seq_cst)) {
                fut__abandon(st);
                atomic_store_explicit(&s->st, FUT__SLOT_CANCELLED, memory_order_relaxed); /* ours alone */
                fut__join_resolve(j, &wl);
                continue;
            }
            s->in = st; /* published to deliveries by the attach, to cancellers by PENDING */
            if (!fut__attach(st, (uintptr_t)&s->link | 1u, &o)) {
                s->in = NULL; /* settled already: we took its outcome */
                fut__slot_deliver(&s->link, &o, &wl);
                continue;
            }
            /* Linked while UNSET (cancellers leave it alone): now make it cancellable.
             * seq_cst: the creator's half of the Dekker pair (see fut__join_cancel_slots):
             * make the slot PENDING, then read decided. */
            uint32_t ex = FUT__SLOT_UNSET;
            if (atomic_compare_exchange_strong_explicit(&s->st, &ex, FUT__SLOT_PENDING, memory_order_seq_cst,
                                                        memory_order_seq_cst) &&
                atomic_load_explicit(&j->decided, memory_order_seq_cst)) {
                uint32_t p = FUT__SLOT_PENDING;
                if (atomic_compare_exchange_strong_explicit(&s->st, &p, FUT__SLOT_CANCELLED, memory_order_seq_cst,
                                                            memory_order_seq_cst) &&
                    fut__cancel_input(st))
                    fut__join_resolve(j, &wl);
            }
            /* (if the CAS failed, a delivery took the slot already) */
            continue;
        }
        if (f->tag == FUT__VALUE || f->tag == FUT__ERROR)
            fut__ready_out(&o, f);
        else
            fut__out_set(&o, fut_u64(0), NULL, EINVAL); /* an empty or spent handle */
        f->tag = FUT__SPENT;
        s->in = NULL;
        fut__slot_deliver(&s->link, &o, &wl); /* UNSET -> DONE: nobody else sees it */
    }
    fut_future out = fut__handle(&j->w);
    fut__join_resolve(j, &wl); /* the creator hold: may finish here */
    fut__run_drain(&wl);
    return out;
}

/* Consumes n handles that could not be joined (allocation failed, bad arguments). */
static inline void fut__drop_all(fut_future *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fut_drop(&fs[i]);
}

/* The fast path: every input is ready (no state, or a settled one) - fill the block here. */
static inline int fut__all_ready(const fut_future *fs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uintptr_t t = fs[i].tag;
        if (fut__is_state(t)) {
            /* acquire: the outcome is read if we go on. */
            if (!(atomic_load_explicit(&fut__st(t)->word, memory_order_acquire) & FUT__SET))
                return 0;
        }
    }
    return 1;
}

static inline void fut__take_handle(fut__out *o, fut_future *f)
{
    if (fut__is_state(f->tag)) {
        fut__state *st = fut__st(f->tag);
        fut__take(o, st, atomic_load_explicit(&st->word, memory_order_acquire)); /* acquire: SET seen */
    } else if (f->tag == FUT__VALUE || f->tag == FUT__ERROR) {
        fut__ready_out(o, f);
    } else {
        fut__out_set(o, fut_u64(0), NULL, EINVAL);
    }
    f->tag = FUT__SPENT;
}

static inline fut_future fut__when(int kind, fut_future *fs, size_t n)
{
    if (fs == NULL && n > 0)
        return fut_failed(EINVAL);
    if (n == 0)
        return kind == FUT__JOIN_ANY ? fut_failed(ENOENT) : fut_ready(fut_ptr(NULL));
    unsigned bkind = kind == FUT__JOIN_ALL ? FUT__BLOCK_VALUES : kind == FUT__JOIN_SETTLED ? FUT__BLOCK_RESULTS
                                                                                          : FUT__BLOCK_ANY;
    if (kind != FUT__JOIN_ANY && fut__all_ready(fs, n)) {
        /* Everything is here: no node, no atomic beyond the reads. */
        void *block = fut__block_new(n, bkind);
        if (block == NULL) {
            fut__drop_all(fs, n);
            return fut_failed(ENOMEM);
        }
        fut_dtor *d = fut__block_dtors(fut__block_of(block));
        int err = 0;
        for (size_t i = 0; i < n; i++) {
            fut__out o;
            fut__take_handle(&o, &fs[i]);
            if (kind == FUT__JOIN_ALL) {
                if (o.err != 0 && err == 0)
                    err = o.err; /* fail: the first error in input order */
                ((fut_value *)block)[i] = o.value;
            } else {
                ((fut_result *)block)[i] = fut__out_result(&o);
            }
            d[i] = o.dtor;
        }
        if (err != 0) {
            fut__block_discard(block);
            return fut_failed(err);
        }
        return fut_ready_ptr(block, fut__block_discard);
    }
    fut__join *j = fut__join_new(kind, n, kind == FUT__JOIN_ANY ? 1 : n, bkind);
    if (j == NULL) {
        fut__drop_all(fs, n);
        return fut_failed(ENOMEM);
    }
    return fut__join_start(j, fs);
}

static inline fut_future fut_when_all(fut_future *fs, size_t n) { return fut__when(FUT__JOIN_ALL, fs, n); }
static inline fut_future fut_when_all_settled(fut_future *fs, size_t n) { return fut__when(FUT__JOIN_SETTLED, fs, n); }
static inline fut_future fut_when_any(fut_future *fs, size_t n) { return fut__when(FUT__JOIN_ANY, fs, n); }

static inline fut_future fut_fold(fut_future *fs, size_t n, fut_value init, fut_fold_fn fn, void *ctx)
{
    if ((fs == NULL && n > 0) || fn == NULL) {
        if (fs != NULL)
            fut__drop_all(fs, n);
        return fut_failed(EINVAL);
    }
    if (n == 0)
        return fut_ready(init);
    fut__join *j = fut__join_new(FUT__JOIN_FOLD, n, 0, FUT__BLOCK_VALUES);
    if (j == NULL) {
        fut__drop_all(fs, n);
        return fut_failed(ENOMEM);
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
    fut__state w;    /* the output: op EXT; a cancel stops chunks not yet started */
    int kind;
    const char *in;
    char *out;
    size_t n, in_size, out_size, chunk, nchunks;
    void *ctx;
    fut__jobfn fn;
    fut_combine_fn combine;
    fut_value identity;
    _Atomic size_t left;   /* chunks not finished */
    _Atomic int err;       /* the first error (a refusal), or 0 */
    _Atomic int stop;      /* set by a cancel: chunks not started skip their work */
    fut__chunk chunks[];
} fut__job;

static void fut__job_done(fut__job *job, fut__run *wl)
{
    int err = atomic_load_explicit(&job->err, memory_order_acquire); /* after the acq_rel countdown */
    if (err == 0 && atomic_load_explicit(&job->stop, memory_order_relaxed)) /* relaxed: as in chunk_run */
        err = ECANCELED; /* cancelled: nothing is compacted or combined */
    fut__out o;
    if (err != 0) {
        fut__out_set(&o, fut_u64(0), NULL, err);
    } else if (job->kind == FUT__JOB_MAP) {
        fut__out_set(&o, fut_u64(job->n), NULL, 0);
    } else if (job->kind == FUT__JOB_FILTER) {
        /* Close the gaps between the chunks' kept runs, in order. */
        size_t at = 0;
        for (size_t c = 0; c < job->nchunks; c++) {
            size_t begin = c * job->chunk, k = job->chunks[c].kept;
            if (at != begin && k > 0)
                memmove(job->out + at * job->out_size, job->out + begin * job->out_size, k * job->out_size);
            at += k;
        }
        fut__out_set(&o, fut_u64(at), NULL, 0);
    } else {
        fut_value acc = job->identity;
        for (size_t c = 0; c < job->nchunks; c++)
            acc = job->combine(job->ctx, acc, job->chunks[c].partial);
        fut__out_set(&o, acc, NULL, 0);
    }
    if (!fut__settle_ex(&job->w, &o, wl, 1))
        fut__discard(&o); /* cancelled */
    fut__release_prod(&job->w); /* may free the job */
}

static void fut__chunk_run(fut_task *t, int err)
{
    fut__chunk *c = FUT__CONTAINER(t, fut__chunk, task);
    fut__job *job = FUT__CONTAINER(c - c->index, fut__job, chunks);
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
        fut__run wl = {NULL, NULL};
        fut__job_done(job, &wl);
        fut__run_drain(&wl);
    }
}

/* A canceller won the output: chunks not started do nothing. */
static void fut__job_cancel(fut__state *w)
{
    fut__job *job = (fut__job *)(void *)w;
    atomic_store_explicit(&job->stop, 1, memory_order_relaxed); /* a hint: no order needed */
}

static inline fut_future fut__job_start(int kind, fut_sched *s, const void *in, void *out, size_t n,
                                        size_t in_size, size_t out_size, size_t chunk, fut__jobfn fn,
                                        int has_fn, fut_combine_fn combine, fut_value identity, void *ctx)
{
    if (s == NULL || s->submit == NULL || !has_fn || in_size == 0 || (kind != FUT__JOB_REDUCE && out_size == 0) ||
        (n > 0 && (in == NULL || (kind != FUT__JOB_REDUCE && out == NULL))) ||
        (kind == FUT__JOB_REDUCE && combine == NULL))
        return fut_failed(EINVAL);
    if (n == 0)
        return kind == FUT__JOB_REDUCE ? fut_ready(identity) : fut_ready(fut_u64(0));
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
        return fut_failed(ENOMEM);
    fut__state_init(&job->w, FUT__OP_EXT);
    job->w.env = s->env;
    job->w.cb.ext = fut__job_cancel;
    job->kind = kind;
    job->in = (const char *)in;
    job->out = (char *)out;
    job->n = n;
    job->in_size = in_size;
    job->out_size = out_size;
    job->chunk = chunk;
    job->nchunks = nchunks;
    job->ctx = ctx;
    job->fn = fn;
    job->combine = combine;
    job->identity = identity;
    atomic_init(&job->left, nchunks);
    atomic_init(&job->err, 0);
    atomic_init(&job->stop, 0);
    for (size_t c = 0; c < nchunks; c++) {
        job->chunks[c].index = c;
        job->chunks[c].kept = 0;
        job->chunks[c].partial = identity;
        job->chunks[c].task.run = fut__chunk_run;
        job->chunks[c].task.next = c + 1 < nchunks ? &job->chunks[c + 1].task : NULL;
    }
    fut_future f = fut__handle(&job->w);
    /* One hand-off for all chunks; refused ones run here with the error. The handle is
     * made first: the last chunk may settle (and the consumer side still holds) it. */
    fut_stats *st = fut__stats_of(s->env); /* read first: s is the caller's, still ours */
    size_t took = fut_sched_submit_many(s, &job->chunks[0].task, nchunks);
    if (took > 0) {
        fut_stats_add(st, FUT_STAT_BATCHED, took);
        fut_stats_inc(st, FUT_STAT_BATCHES);
    }
    return f;
}

static inline fut_future fut_map(fut_sched *s, const void *in, void *out, size_t n, size_t in_size,
                                 size_t out_size, size_t chunk, fut_map_fn fn, void *ctx)
{
    fut__jobfn f;
    f.map = fn;
    return fut__job_start(FUT__JOB_MAP, s, in, out, n, in_size, out_size, chunk, f, fn != NULL, NULL,
                          fut_u64(0), ctx);
}

static inline fut_future fut_filter(fut_sched *s, const void *in, void *out, size_t n, size_t size,
                                    size_t chunk, fut_filter_fn fn, void *ctx)
{
    fut__jobfn f;
    f.filter = fn;
    return fut__job_start(FUT__JOB_FILTER, s, in, out, n, size, size, chunk, f, fn != NULL, NULL, fut_u64(0),
                          ctx);
}

static inline fut_future fut_reduce(fut_sched *s, const void *in, size_t n, size_t size, size_t chunk,
                                    fut_chunk_fn fn, fut_combine_fn combine, fut_value identity, void *ctx)
{
    fut__jobfn f;
    f.reduce = fn;
    return fut__job_start(FUT__JOB_REDUCE, s, in, NULL, n, size, 0, chunk, f, fn != NULL, combine, identity, ctx);
}

/* ---- task batching ----------------------------------------------------------------- */

static inline int fut_batch_init(fut_batch *b, fut_sched *s, size_t threshold, fut_stats *stats)
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

static inline size_t fut_batch_flush(fut_batch *b)
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

static inline size_t fut_batch_count(const fut_batch *b) { return b != NULL ? b->count : 0; }

static inline size_t fut_batch_cancel(fut_batch *b)
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

static inline int fut_batch_add(fut_batch *b, fut_task *t)
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

static inline fut_future fut_batch_spawn(fut_batch *b, fut_fn fn, void *ctx)
{
    if (b == NULL || b->sched == NULL || fn == NULL)
        return fut_failed(EINVAL);
    fut__state *c = fut__spawn_record(b->sched, fn, ctx);
    if (c == NULL)
        return fut_failed(ENOMEM);
    fut_future f = fut__handle(c); /* before the task can run */
    fut_batch_add(b, &c->task);
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

static inline int fut_pipeline_init(fut_pipeline *p, const fut_stage *stages, size_t nstages,
                                    size_t max_in_flight)
{
    if (p == NULL || stages == NULL || nstages == 0)
        return EINVAL;
    for (size_t i = 0; i < nstages; i++)
        if (stages[i].sched == NULL || stages[i].sched->submit == NULL || stages[i].fn == NULL)
            return EINVAL;
    memset(p, 0, sizeof *p);
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
        it->cur = fut_from_result(r);
        fut__pipe_enqueue(p, it->stage + 1, it);
    }
    fut__pipe_drive_locked(p); /* releases the lock */
    if (last) {
        fut_promise_settle(&it->done, r); /* outside the lock: it may run continuations */
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
            fut_future step = fut_finally(&g, &p->inl, fut__pipe_step, it);
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

static inline fut_future fut_pipeline_push(fut_pipeline *p, fut_future *input)
{
    if (p == NULL || input == NULL || p->stages == NULL) { /* NULL, zeroed or destroyed */
        fut_drop(input);
        return fut_failed(EINVAL);
    }
    fut__pipe_item *it = (fut__pipe_item *)FUT_MALLOC(sizeof *it);
    fut_future out;
    if (it == NULL || fut_promise_new(&it->done, &out) != 0) {
        FUT_FREE(it);
        fut_drop(input);
        return fut_failed(ENOMEM);
    }
    it->p = p;
    it->cur = *input;
    input->tag = FUT__SPENT;
    pthread_mutex_lock(&p->lock);
    p->live++;
    fut__pipe_enqueue(p, 0, it);
    fut__pipe_drive_locked(p); /* releases the lock */
    return out;
}

static inline int fut_pipeline_destroy(fut_pipeline *p)
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
    memset(p, 0, sizeof *p);
    return 0;
}

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
