/* fuzz_fut.c - a libFuzzer harness for fut.h and batch.h, checked against a model.
 *
 * The input bytes are a program of API operations over a small table: NP promise slots,
 * NF future slots, one fut_manual scheduler and the inline one. Each operation is run
 * twice: first on a reference model (an interpreter written from the documented
 * semantics, below), then on the real library; every observable result must agree, or
 * the harness aborts:
 *   - return codes (settle, cancel, split, try_get, on_cancel, run_one, run_all...),
 *   - outcomes taken with fut_try_get (error, value, pointer identity, block contents),
 *   - which continuations, fold steps and cancel hooks ran, in which order, with which
 *     input (each callback checks its input when it runs),
 *   - which pointer values were destroyed (by their destructor) or taken, per operation,
 *   - fut_is_ready, fut_promise_cancelled, the manual queue's length.
 * Each input ends by dropping every promise, future and held handle and running the
 * scheduler until it is empty; then every pointer value must have ended exactly once and
 * nothing allocated through FUT_MALLOC may be left.
 *
 * What is and is not modelled: see README.md beside this file.
 *
 * Build: tests/fuzz/run_fuzz.sh, or
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_fut.c
 * FUZZ_AVOID_KNOWN (a bit mask, default 0) steers around reported bugs so that fuzzing
 * can go on past them on a tree that still has them:
 *   1  fut_promise_on_cancel after the cancel, with a hook registered before it, gave
 *      EBUSY without running the hook (docs: runs it, ECANCELED): such calls are skipped.
 *      (Fixed in 5447602.)
 * Fixed bugs need no switch: the model checks the documented behaviour (a dropped
 * when_any block handing its destructor the winner's index, and a combinator letting go
 * of a settled pointer input without destroying it, were fixed in 33c7534). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counting allocator (as tests/testutil.h) ------------------------------------- */

static long fz_live;
static int fz_fail_next; /* the next allocation fails (armed by the fail_next operation) */
static void *fz_malloc(size_t n)
{
    if (fz_fail_next) {
        fz_fail_next = 0;
        return NULL;
    }
    void *p = malloc(n);
    if (p != NULL)
        fz_live++;
    return p;
}
static void fz_free(void *p)
{
    if (p != NULL)
        fz_live--;
    free(p);
}
#define FUT_MALLOC(n) fz_malloc(n)
#define FUT_FREE(p) fz_free(p)

#define FUT_IMPLEMENTATION /* the one unit of this program that holds fut's definitions */
#include "batch.h"

#ifndef FUZZ_AVOID_KNOWN
#define FUZZ_AVOID_KNOWN 0
#endif
#define AVOID_HOOK_AFTER_CANCEL (FUZZ_AVOID_KNOWN & 1)

enum { NP = 6, NF = 12, CAP = 3, MAXOPS = 256, MAXN = 2048, MAXCTX = 256, MAXCELL = 512, MAXBLK = 512, MAXEV = 4096,
       MAXK = 4 };

static int op_no;           /* the operation being run (for messages) */
static const char *op_name;

#define FAIL(...)                                                                                           \
    do {                                                                                                    \
        fprintf(stderr, "\nfuzz_fut: model and library disagree at op %d (%s), %s:%d\n  ", op_no,          \
                op_name ? op_name : "-", __FILE__, __LINE__);                                               \
        fprintf(stderr, __VA_ARGS__);                                                                       \
        fprintf(stderr, "\n");                                                                              \
        abort();                                                                                            \
    } while (0)
#define ASSERT(c, ...)                                                                                      \
    do {                                                                                                    \
        if (!(c))                                                                                           \
            FAIL(__VA_ARGS__);                                                                              \
    } while (0)

/* ======================================================================================
 * Values
 * ====================================================================================== */

/* A modelled outcome: an error, or an integer, a cell (a pointer value) or a result
 * block (when_all / when_any); owned: it carries a destructor. */
enum { VK_INT, VK_CELL, VK_BLOCK };
typedef struct mval {
    int err;
    int kind;
    int64_t i; /* the integer, the cell id or the block id */
    int owned;
} mval;

static mval mv_int(int64_t v) { return (mval){0, VK_INT, v, 0}; }
static mval mv_err(int e) { return (mval){e, VK_INT, 0, 0}; }

/* Cells: pointer values. They are never freed (a static array): the model tracks their
 * end instead - destroyed by cell_dtor, or taken by whoever received them owned. */
typedef struct fcell {
    int id;
} fcell;
static fcell cells[MAXCELL];
static int ncells;
static int cell_end[MAXCELL];   /* real: how often each ended (must stay <= 1) */
static int cell_mend[MAXCELL];  /* model */
static int cell_issued[MAXCELL];

/* Blocks: the model's picture of a result block. */
enum { BK_ALL, BK_ANY, BK_SETTLED };
typedef struct mblock {
    int kind, n;
    mval items[MAXK];
    int64_t index; /* BK_ANY */
    const void *real; /* bound when first seen */
    int freed;
} mblock;
static mblock blocks[MAXBLK];
static int nblocks;

/* ======================================================================================
 * Events
 * ====================================================================================== */

/* Ordered events: a continuation ran, a fold step ran, a cancel hook ran. Unordered
 * (compared as a multiset per operation): a cell was destroyed, a cell was taken. */
enum { EV_CONT, EV_FOLD, EV_HOOK, EV_DTOR, EV_TAKE };
typedef struct ev {
    int type, who;
    mval in;
    int64_t acc;
} ev;

static ev expect_ord[MAXEV];
static int n_expect_ord, pos_ord;
static int expect_end[MAXEV], n_expect_end; /* cell ids, +MAXCELL for a take */
static int real_end[MAXEV], n_real_end;

static void ev_begin(void)
{
    n_expect_ord = pos_ord = 0;
    n_expect_end = n_real_end = 0;
}

static void m_event(int type, int who, mval in, int64_t acc)
{
    ASSERT(n_expect_ord < MAXEV, "too many events");
    expect_ord[n_expect_ord++] = (ev){type, who, in, acc};
}

static void m_cell_end(int id, int taken)
{
    ASSERT(id >= 0 && id < ncells, "model: bad cell %d", id);
    ASSERT(cell_mend[id] == 0, "model: cell %d ends twice (model bug)", id);
    cell_mend[id] = 1;
    expect_end[n_expect_end++] = id + (taken ? MAXCELL : 0);
}

static void r_cell_end(int id, int taken)
{
    ASSERT(id >= 0 && id < ncells && cell_issued[id], "a pointer value the harness never made: %d", id);
    ASSERT(cell_end[id] == 0, "cell %d ended twice (%s now)", id, taken ? "taken" : "destroyed");
    cell_end[id]++;
    real_end[n_real_end++] = id + (taken ? MAXCELL : 0);
}

static void cell_dtor(void *p)
{
    uintptr_t u = (uintptr_t)p, lo = (uintptr_t)&cells[0], hi = (uintptr_t)&cells[MAXCELL];
    if (u >= lo && u < hi) {
        r_cell_end(((fcell *)p)->id, 0);
        return;
    }
    FAIL("a destructor was called with %p, not a pointer value the harness made", p);
}

/* The next expected ordered event: the callback that runs now must be this one. */
static ev *r_event(int type, int who)
{
    ASSERT(pos_ord < n_expect_ord, "unexpected callback: type %d who %d (model expects none)", type, who);
    ev *e = &expect_ord[pos_ord++];
    ASSERT(e->type == type && e->who == who, "callback type %d who %d ran; model expects type %d who %d",
           type, who, e->type, e->who);
    return e;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void ev_end(void)
{
    ASSERT(pos_ord == n_expect_ord, "%d callbacks ran; model expects %d (next: type %d who %d)", pos_ord,
           n_expect_ord, expect_ord[pos_ord].type, expect_ord[pos_ord].who);
    qsort(expect_end, (size_t)n_expect_end, sizeof(int), cmp_int);
    qsort(real_end, (size_t)n_real_end, sizeof(int), cmp_int);
    int same = n_expect_end == n_real_end;
    for (int i = 0; same && i < n_expect_end; i++)
        same = expect_end[i] == real_end[i];
    if (!same) {
        fprintf(stderr, "pointer ends: model [");
        for (int i = 0; i < n_expect_end; i++)
            fprintf(stderr, " %s%d", expect_end[i] >= MAXCELL ? "take:" : "dtor:", expect_end[i] % MAXCELL);
        fprintf(stderr, " ] library [");
        for (int i = 0; i < n_real_end; i++)
            fprintf(stderr, " %s%d", real_end[i] >= MAXCELL ? "take:" : "dtor:", real_end[i] % MAXCELL);
        fprintf(stderr, " ]\n");
        FAIL("pointer values ended differently");
    }
}

/* ======================================================================================
 * The model
 * ====================================================================================== */

enum { MN_PROM, MN_REC, MN_SOUT, MN_JOIN, MN_HUB };
enum { CONS_HANDLE, CONS_NONE, CONS_REC, CONS_HUB, CONS_SLOT };
enum { OP_THEN, OP_RECOVER, OP_FINALLY };
enum { SL_UNSET, SL_PENDING, SL_QUEUED, SL_FULL, SL_CANC }; /* QUEUED: its delivery is on a run list */
enum { JK_ALL, JK_ANY, JK_FOLD, JK_SETTLED };
enum { SCH_MAN, SCH_INL, SCH_CAP }; /* fut_manual, inline, fut_manual with capacity CAP */

typedef struct mnode {
    int kind;
    int settled, canc;
    mval out;
    int has_out;          /* the outcome is still held here (not taken, handed on, dropped) */
    int cons, cons_id, cons_idx;
    /* promise */
    int hook, hook_ran;
    /* record */
    int op, sched, forward, up, waiting, ctx, refused;
    mval input;
    /* hub */
    int n, outs[3];
    /* join */
    int jkind, decided, unresolved, cursor, last_err;
    int slot_state[MAXK], slot_in[MAXK];
    mval slot_out[MAXK];
    int64_t acc;
} mnode;

static mnode nodes[MAXN];
static int nnodes;

/* A handle in the model. */
enum { H_EMPTY, H_SPENT, H_READY, H_NODE };
typedef struct mh {
    int t;
    mval v;
    int node;
} mh;

static mh mh_ready(mval v) { return (mh){H_READY, v, -1}; }
static mh mh_node(int n) { return (mh){H_NODE, mv_int(0), n}; }


/* A promise slot in the model. */
enum { P_EMPTY, P_LIVE, P_SPENT };
typedef struct mp {
    int t, node;
} mp;

/* The table, both sides. */
static mh MF[NF];
static mp MP[NP];
static fut_future RF[NF];
static fut_promise RP[NP];

/* Continuation contexts. */
enum { K_VAL, K_ERR, K_PASS, K_FLAT, K_NKINDS };
typedef struct fctx {
    int id, kind, arg;
    mh mh;        /* K_FLAT: the handle it returns (model) */
    fut_future h; /* (library) */
} fctx;
static fctx ctxs[MAXCTX];
static int nctx;

/* Fold contexts: the join's model id, known when the fold is made. */
typedef struct fold_ctx {
    int id;
} fold_ctx;
static fold_ctx folds[MAXOPS + 1];
static int nfolds;

/* The manual schedulers' queues, in the model: [0] unbounded, [1] capacity CAP. */
static int mq[2][MAXN * 2];
static int mq_head[2], mq_tail[2];

static int mq_len(int q) { return mq_tail[q] - mq_head[q]; }

/* Allocation, in the model: where the library allocates, the model calls this. */
static int m_fail_next;
static int m_alloc(void)
{
    if (m_fail_next) {
        m_fail_next = 0;
        return 0;
    }
    return 1;
}

/* The run list of one call, in the library's order (one FIFO, fut_work): records to
 * run, deliveries to a join's slot (the input's fn runs when the list reaches it, not
 * inside the settle), and joins whose cancel a cancel walk reached. */
enum { W_REC, W_SLOT, W_NODE };
typedef struct mwent {
    int what, n, i;
} mwent;
typedef struct mwl {
    mwent q[MAXN * (MAXK + 2)];
    int head, tail;
} mwl;

static void wl_add(mwl *w, int what, int n, int i)
{
    ASSERT(w->tail < (int)(sizeof w->q / sizeof w->q[0]), "model run list overflow");
    w->q[w->tail++] = (mwent){what, n, i};
}

static void wl_push(mwl *w, int n) { wl_add(w, W_REC, n, 0); }

static int m_new(int kind)
{
    ASSERT(nnodes < MAXN, "too many model nodes");
    mnode *N = &nodes[nnodes];
    memset(N, 0, sizeof *N);
    N->kind = kind;
    N->cons = CONS_HANDLE;
    N->up = -1;
    N->ctx = -1;
    return nnodes++;
}

static int m_block_new(int kind, int n)
{
    ASSERT(nblocks < MAXBLK, "too many blocks");
    mblock *b = &blocks[nblocks];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->n = n;
    return nblocks++;
}

static void m_discard(mval o);

static void m_block_discard(int b)
{
    mblock *B = &blocks[b];
    ASSERT(!B->freed, "model: block %d discarded twice (model bug)", b);
    B->freed = 1;
    for (int i = 0; i < B->n; i++)
        m_discard(B->items[i]);
}

/* An outcome nobody takes: its destructor runs. */
static void m_discard(mval o)
{
    if (o.err != 0 || !o.owned)
        return;
    if (o.kind == VK_CELL)
        m_cell_end((int)o.i, 0);
    else if (o.kind == VK_BLOCK)
        m_block_discard((int)o.i);
}

/* Whoever receives an owned outcome and keeps it (the harness, a continuation) ends it. */
static void m_take_value(mval o)
{
    if (o.err != 0 || !o.owned)
        return;
    if (o.kind == VK_CELL) {
        m_cell_end((int)o.i, 1);
    } else if (o.kind == VK_BLOCK) {
        mblock *B = &blocks[o.i];
        ASSERT(!B->freed, "model: block taken twice");
        B->freed = 1;
        for (int i = 0; i < B->n; i++)
            m_take_value(B->items[i]);
    }
}

/* Takes the outcome of a settled node (it lets go of it). */
static mval m_take(int n)
{
    mnode *N = &nodes[n];
    ASSERT(N->settled, "model: take of a pending node");
    N->cons = CONS_NONE;
    if (N->canc)
        return mv_err(ECANCELED);
    N->has_out = 0;
    return N->out;
}

static void m_deliver(int r, mval o, mwl *w);
static void m_slot_deliver(int j, int i, mval o, mwl *w);
static void m_drain(mwl *w);

/* The producer settles node n with o. Returns 1, or 0 if a cancel came first. */
static int m_settle(int n, mval o, mwl *w)
{
    mnode *N = &nodes[n];
    if (N->settled)
        return 0;
    N->settled = 1;
    switch (N->cons) {
    case CONS_HANDLE:
        N->out = o;
        N->has_out = 1;
        break;
    case CONS_NONE:
        m_discard(o);
        break;
    case CONS_REC:
        m_deliver(N->cons_id, o, w);
        break;
    case CONS_HUB:
        nodes[N->cons_id].input = o;
        wl_push(w, N->cons_id);
        break;
    case CONS_SLOT: {
        /* the input's fn runs when the run list reaches it (fut__input_later) */
        mnode *J = &nodes[N->cons_id];
        ASSERT(J->slot_state[N->cons_idx] == SL_PENDING, "model: delivery to a slot in state %d",
               J->slot_state[N->cons_idx]);
        J->slot_state[N->cons_idx] = SL_QUEUED;
        J->slot_in[N->cons_idx] = -1;
        J->slot_out[N->cons_idx] = o;
        wl_add(w, W_SLOT, N->cons_id, N->cons_idx);
        break;
    }
    }
    return 1;
}

/* A record's input arrives: it runs on this call's run list (inline scheduler, or a
 * forwarding record), or is queued on the manual scheduler. */
static void m_submit(int r, mwl *w);

static void m_deliver(int r, mval o, mwl *w)
{
    mnode *R = &nodes[r];
    R->input = o;
    R->waiting = 0;
    if (R->forward || R->sched == SCH_INL)
        wl_push(w, r);
    else
        m_submit(r, w);
}

/* Hands record r (input stored) to its manual scheduler; a full one refuses with EAGAIN
 * and the record settles with that through the run list, its input destroyed. */
static void m_discard(mval o);
static void m_submit(int r, mwl *w)
{
    mnode *R = &nodes[r];
    int q = R->sched == SCH_CAP;
    if (q && mq_len(1) >= CAP) {
        m_discard(R->input);
        R->input = mv_err(EAGAIN);
        R->refused = 1;
        wl_push(w, r);
        return;
    }
    mq[q][mq_tail[q]++] = r;
}

static void m_settle_rec(int r, mval o, mwl *w)
{
    if (!m_settle(r, o, w))
        m_discard(o);
}

/* ---- continuations ------------------------------------------------------------------ */

static int64_t wrap(uint64_t x) { return (int64_t)x; }

/* What a K_VAL continuation returns for an input. */
static int64_t val_of(mval in, int arg)
{
    if (in.err != 0)
        return 100 * (int64_t)arg + in.err;
    if (in.kind == VK_INT)
        return wrap((uint64_t)in.i * 3u + (uint64_t)arg);
    if (in.kind == VK_CELL)
        return 1000 + 10 * in.i + arg + (in.owned ? 0 : 5000);
    return 20000 + arg + (in.owned ? 0 : 5000);
}

/* The model of a continuation call: the event, and the future it returns. */
static mh m_call(int cx, mval in)
{
    fctx *C = &ctxs[cx];
    m_event(EV_CONT, cx, in, 0);
    switch (C->kind) {
    case K_VAL:
        m_take_value(in);
        return mh_ready(mv_int(val_of(in, C->arg)));
    case K_ERR:
        m_take_value(in);
        return mh_ready(mv_err(C->arg != 0 ? C->arg : EINVAL)); /* fut_ready_error(0) is EINVAL */
    case K_PASS:
        if (in.err != 0 || in.kind != VK_BLOCK || !in.owned)
            return mh_ready(in); /* cells re-wrapped with their destructor if owned */
        m_take_value(in);        /* an owned block is taken */
        return mh_ready(mv_int(val_of(in, C->arg)));
    default: { /* K_FLAT */
        m_take_value(in);
        mh h = C->mh;
        C->mh.t = H_SPENT;
        return h;
    }
    }
}

/* Record r's continuation returned h: settle with it, or wait on it (flatten). */
static void m_finish(int r, mh h, mwl *w)
{
    if (h.t == H_NODE) {
        mnode *M = &nodes[h.node];
        if (!M->settled) {
            mnode *R = &nodes[r];
            R->forward = 1;
            R->up = h.node;
            R->waiting = 1;
            M->cons = CONS_REC;
            M->cons_id = r;
            return;
        }
        m_settle_rec(r, m_take(h.node), w);
    } else if (h.t == H_READY) {
        m_settle_rec(r, h.v, w);
    } else {
        m_settle_rec(r, mv_err(EINVAL), w); /* the continuation returned no future */
    }
}

static void m_hub_run(int h, mwl *w)
{
    mnode *H = &nodes[h];
    mval o = H->input;
    for (int i = 0; i < H->n; i++) {
        mval oi = o;
        oi.owned = i + 1 == H->n ? o.owned : 0; /* only the last output owns it */
        if (!m_settle(H->outs[i], oi, w))
            m_discard(oi);
    }
}

/* Runs a record (from a run list or the manual queue). */
static void m_run(int r, mwl *w)
{
    mnode *R = &nodes[r];
    if (R->kind == MN_HUB) {
        m_hub_run(r, w);
        return;
    }
    mval in = R->input;
    if (R->settled) {
        m_discard(in); /* cancelled before it ran */
        return;
    }
    if (R->forward || R->refused || (R->op == OP_THEN && in.err != 0) || (R->op == OP_RECOVER && in.err == 0)) {
        m_settle_rec(r, in, w); /* passes through, destructor included */
        return;
    }
    m_finish(r, m_call(R->ctx, in), w);
}

static void m_cancel_slots(int j, int skip, mwl *w);

static void m_drain(mwl *w)
{
    while (w->head < w->tail) {
        mwent e = w->q[w->head++];
        if (e.what == W_REC) {
            m_run(e.n, w);
        } else if (e.what == W_SLOT) {
            m_slot_deliver(e.n, e.i, nodes[e.n].slot_out[e.i], w);
        } else {
            nodes[e.n].decided = 1; /* fut__join_on_cancel claims: no winner from now on */
            m_cancel_slots(e.n, nodes[e.n].n, w);
        }
    }
}

/* ---- cancellation ------------------------------------------------------------------- */

/* Node c has just been cancelled: the cancel travels upstream while records wait idle.
 * held: the walk took c over from a link (a combinator cancelling its input), not from
 * the caller's handle; a join reached so, with a run list w, is cancelled when w gets
 * to it; otherwise at once, on a run list of its own. */
static void m_cancel_up(int c, int held, mwl *w)
{
    for (;;) {
        mnode *C = &nodes[c];
        if (C->kind == MN_PROM) {
            if (C->hook && !C->hook_ran) {
                C->hook_ran = 1;
                m_event(EV_HOOK, c, mv_int(0), 0);
            }
            return;
        }
        if (C->kind == MN_JOIN) {
            if (held && w != NULL) {
                wl_add(w, W_NODE, c, 0);
                return;
            }
            mwl own = {.head = 0};
            C->decided = 1; /* fut__join_on_cancel claims: no winner from now on */
            m_cancel_slots(c, C->n, &own);
            m_drain(&own);
            return;
        }
        if (C->kind != MN_REC || C->up < 0 || !C->waiting)
            return; /* a split output, a record on a ready value, or one whose input came */
        int a = C->up;
        mnode *A = &nodes[a];
        if (A->settled)
            return;
        A->settled = 1; /* unlinked: its record never runs */
        A->canc = 1;
        A->cons = CONS_NONE;
        C->waiting = 0;
        c = a;
        held = 1;
    }
}

/* A combinator lets go of input a it no longer wants (w: the run list of the call, or
 * NULL where the library cancels as a handle's owner would: fut_cancel in the attach). */
static void m_cancel_input(int a, mwl *w)
{
    mnode *A = &nodes[a];
    if (A->settled) {
        /* settled, never delivered: its outcome is nobody's and is destroyed (docs) */
        if (A->has_out) {
            A->has_out = 0;
            m_discard(A->out);
        }
        A->cons = CONS_NONE;
        return;
    }
    A->settled = 1;
    A->canc = 1;
    A->cons = CONS_NONE;
    m_cancel_up(a, w != NULL, w);
}

/* ---- combinators -------------------------------------------------------------------- */

static void m_join_finish(int j, mwl *w)
{
    mnode *J = &nodes[j];
    if (!J->decided) {
        int cancelled = 0;
        for (int i = 0; i < J->n; i++)
            cancelled |= J->slot_state[i] == SL_CANC;
        if (cancelled) {
            /* only a cancel of the output cancels slots undecided: nothing to settle */
        } else if (J->jkind == JK_ANY) {
            mval o = mv_err(J->last_err);
            if (!m_settle(j, o, w))
                m_discard(o);
        } else if (J->jkind == JK_ALL || J->jkind == JK_SETTLED) {
            int b = m_block_new(J->jkind == JK_ALL ? BK_ALL : BK_SETTLED, J->n);
            for (int i = 0; i < J->n; i++) {
                blocks[b].items[i] = J->slot_out[i];
                J->slot_out[i].owned = 0; /* the block owns them now */
            }
            mval v = {0, VK_BLOCK, b, 1};
            if (!m_settle(j, v, w))
                m_block_discard(b);
        }
    }
    for (int i = 0; i < J->n; i++)
        if (J->slot_state[i] == SL_FULL)
            m_discard(J->slot_out[i]); /* outcomes nobody took */
}

static void m_resolve(int j, mwl *w)
{
    if (--nodes[j].unresolved == 0)
        m_join_finish(j, w);
}

static void m_cancel_slots(int j, int skip, mwl *w)
{
    mnode *J = &nodes[j];
    for (int i = 0; i < J->n; i++) {
        if (i == skip || J->slot_state[i] != SL_PENDING)
            continue;
        J->slot_state[i] = SL_CANC;
        if (J->slot_in[i] >= 0)
            m_cancel_input(J->slot_in[i], w);
        m_resolve(j, w);
    }
}

static void m_conclude(int j, mval o, int skip, mwl *w)
{
    if (!m_settle(j, o, w))
        m_discard(o);
    m_cancel_slots(j, skip, w);
}

/* The fold function of the harness (both sides compute it the same way). */
static int64_t fold_step(int64_t acc, mval item)
{
    if (item.kind == VK_INT)
        return wrap((uint64_t)acc * 5u + (uint64_t)item.i);
    if (item.kind == VK_CELL)
        return wrap((uint64_t)acc + 1000u + (uint64_t)item.i + (item.owned ? 0u : 2000u));
    return wrap((uint64_t)acc + 7000u + (item.owned ? 0u : 2000u));
}

static void m_fold_drive(int j, mwl *w)
{
    mnode *J = &nodes[j];
    while (J->cursor < J->n && !J->decided && J->slot_state[J->cursor] == SL_FULL) {
        mval item = J->slot_out[J->cursor];
        J->slot_out[J->cursor].owned = 0; /* the fold function owns it */
        J->cursor++;
        m_event(EV_FOLD, j, item, J->acc);
        mval next;
        if (item.err != 0) {
            next = mv_err(item.err);
        } else {
            m_take_value(item);
            next = mv_int(fold_step(J->acc, item));
        }
        if (next.err != 0 || J->cursor == J->n) {
            J->decided = 1;
            m_conclude(j, next, J->n, w);
            break;
        }
        J->acc = next.i;
    }
}

static void m_slot_deliver(int j, int i, mval o, mwl *w)
{
    mnode *J = &nodes[j];
    ASSERT(J->slot_state[i] == SL_PENDING || J->slot_state[i] == SL_QUEUED, "model: delivery to slot %d in state %d",
           i, J->slot_state[i]);
    J->slot_state[i] = SL_FULL;
    J->slot_in[i] = -1;
    J->slot_out[i] = o;
    if (J->jkind == JK_ALL) {
        if (o.err != 0 && !J->decided) {
            J->decided = 1;
            m_conclude(j, o, i, w); /* fail fast */
        }
    } else if (J->jkind == JK_ANY) {
        if (o.err == 0 && !J->decided) {
            J->decided = 1;
            int b = m_block_new(BK_ANY, 1);
            blocks[b].index = i;
            blocks[b].items[0] = o;
            J->slot_out[i].owned = 0; /* moved into the block */
            mval v = {0, VK_BLOCK, b, 1};
            m_conclude(j, v, i, w);
        } else if (o.err != 0) {
            J->last_err = o.err;
        }
    } else if (J->jkind == JK_FOLD) {
        m_fold_drive(j, w);
    }
    m_resolve(j, w);
}

/* ======================================================================================
 * The library side: callbacks
 * ====================================================================================== */

/* Binds a model block to the real pointer on first sight; later sightings must match. */
static void bind_block(int b, const void *p)
{
    if (blocks[b].real == NULL)
        blocks[b].real = p;
    ASSERT(blocks[b].real == p, "block %d: pointer %p, first seen as %p", b, p, blocks[b].real);
}

static void check_value(fut_value v, mval m, const char *what);
static void check_result(fut_result r, mval m, const char *what);

/* Checks an owned block's contents against the model, takes what it holds, frees it. */
static void take_block(int b, void *p)
{
    mblock *B = &blocks[b];
    bind_block(b, p);
    if (B->kind == BK_ALL || B->kind == BK_SETTLED) {
        fut_result *v = p;
        fut_result *rs = p;
        for (int i = 0; i < B->n; i++) {
            if (B->kind == BK_ALL) {
                check_value(v[i].value, B->items[i], "a when_all block item");
            } else {
                check_result(rs[i], B->items[i], "a when_all_settled block item");
            }
        }
        for (int i = 0; i < B->n; i++) {
            mval it = B->items[i];
            fut_value iv = B->kind == BK_ALL ? v[i].value : rs[i].value;
            if (it.err == 0 && it.owned && it.kind == VK_CELL)
                r_cell_end((int)it.i, 1);
            else if (it.err == 0 && it.owned && it.kind == VK_BLOCK)
                take_block((int)it.i, iv.ptr);
        }
    } else {
        fut_any *a = p;
        ASSERT(a->index == (size_t)B->index, "when_any winner %zu, model %lld", a->index, (long long)B->index);
        check_value(a->result.value, B->items[0], "the when_any value");
        mval it = B->items[0];
        if (it.owned && it.kind == VK_CELL)
            r_cell_end((int)it.i, 1);
        else if (it.owned && it.kind == VK_BLOCK)
            take_block((int)it.i, a->result.value.ptr);
    }
    fut_results_free(p);
}

static void check_value(fut_value v, mval m, const char *what)
{
    if (m.kind == VK_INT)
        ASSERT(v.i64 == m.i, "%s: %lld, model %lld", what, (long long)v.i64, (long long)m.i);
    else if (m.kind == VK_CELL)
        ASSERT(v.ptr == (void *)&cells[m.i], "%s: pointer %p, model cell %lld", what, v.ptr, (long long)m.i);
    else
        bind_block((int)m.i, v.ptr);
}

static void check_result(fut_result r, mval m, const char *what)
{
    if (m.err != 0) {
        ASSERT(r.err == m.err, "%s: err %d (value %lld), model err %d", what, r.err, (long long)r.value.i64, m.err);
        return;
    }
    ASSERT(r.err == 0, "%s: err %d, model a value (kind %d, %lld)", what, r.err, m.kind, (long long)m.i);
    check_value(r.value, m, what);
}

/* The receiver of an owned value keeps it: the harness ends it (a cell is taken, a block
 * checked, emptied and freed). */
static void r_take_value(fut_result r, mval m)
{
    if (m.err != 0 || !m.owned)
        return;
    if (m.kind == VK_CELL)
        r_cell_end((int)m.i, 1);
    else if (m.kind == VK_BLOCK)
        take_block((int)m.i, r.value.ptr);
}

static fut_future r_cont(void *ctxp, fut_result r)
{
    fctx *C = ctxp;
    ev *e = r_event(EV_CONT, C->id);
    check_result(r, e->in, "a continuation's input");
    mval in = e->in;
    switch (C->kind) {
    case K_VAL:
        r_take_value(r, in);
        return fut_ready(fut_i64(val_of(in, C->arg)));
    case K_ERR:
        r_take_value(r, in);
        return fut_ready_error(C->arg);
    case K_PASS:
        if (in.err != 0)
            return fut_ready_error(in.err);
        if (in.kind == VK_BLOCK && in.owned) {
            r_take_value(r, in);
            return fut_ready(fut_i64(val_of(in, C->arg)));
        }
        if (in.kind == VK_INT || !in.owned)
            return fut_ready(r.value);
        return fut_ready_ptr(r.value.ptr, cell_dtor);
    default: {
        r_take_value(r, in);
        fut_future h = C->h;
        C->h.tag = 0;
        return h;
    }
    }
}

static fut_result r_fold(void *ctxp, fut_result acc, fut_result item)
{
    fold_ctx *F = ctxp;
    ev *e = r_event(EV_FOLD, F->id);
    check_result(item, e->in, "a fold item");
    ASSERT(acc.value.i64 == e->acc, "fold accumulator %lld, model %lld", (long long)acc.value.i64, (long long)e->acc);
    if (item.err != 0)
        return item;
    r_take_value(item, e->in);
    return fut_ok(fut_i64(fold_step(acc.value.i64, e->in)));
}

static void r_hook(void *ctx)
{
    int node = (int)(intptr_t)ctx;
    r_event(EV_HOOK, node);
}

/* ======================================================================================
 * Operations: the model, then the library, then the comparison
 * ====================================================================================== */

static fut_manual man, cap; /* unbounded; capacity CAP (refuses with EAGAIN when full) */
static fut_sched inl;
static fut_batch batch;     /* on cap, threshold 2 */
static int batch_recs[MAXN], nbatch;

static fut_sched *sched_of(int sch) { return sch == SCH_INL ? &inl : sch == SCH_CAP ? &cap.sched : &man.sched; }

static int free_f(int from)
{
    for (int k = 0; k < NF; k++) {
        int f = (from + k) % NF;
        if (MF[f].t == H_EMPTY || MF[f].t == H_SPENT)
            return f;
    }
    return -1;
}

static int free_p(int from)
{
    for (int k = 0; k < NP; k++) {
        int p = (from + k) % NP;
        if (MP[p].t != P_LIVE)
            return p;
    }
    return -1;
}

static int new_cell(void)
{
    ASSERT(ncells < MAXCELL, "too many cells");
    int id = ncells++;
    cells[id].id = id;
    cell_issued[id] = 1;
    return id;
}

/* Every operation ends here: the callbacks, the pointer ends, the allocation switch. */
static void op_end(void)
{
    ev_end();
    ASSERT(m_fail_next == fz_fail_next,
           "the failing allocation %s (the model expected the library to %s)",
           fz_fail_next ? "was not used" : "was used", m_fail_next ? "allocate nothing" : "allocate");
}

static void op_fail_next(void) { m_fail_next = fz_fail_next = 1; }

static void op_new(int p, int f)
{
    p = free_p(p);
    f = free_f(f);
    if (p < 0 || f < 0)
        return;
    ev_begin();
    int mrc = 0;
    if (m_alloc()) {
        int n = m_new(MN_PROM);
        MP[p] = (mp){P_LIVE, n};
        MF[f] = mh_node(n);
    } else {
        mrc = ENOMEM; /* both handles left empty */
        MP[p].t = P_EMPTY;
        MF[f].t = H_EMPTY;
    }
    int rrc = fut_promise_new(&RP[p], &RF[f]);
    op_end();
    ASSERT(rrc == mrc, "fut_promise_new gave %d, model %d", rrc, mrc);
}

/* what: 0 a value, 1 an error, 2 a pointer with a destructor; via: 1 fut_promise_set_result. */
static void op_settle(int p, int what, int arg, int via)
{
    mval v;
    int cell = -1;
    if (what == 0) {
        v = mv_int(arg);
    } else if (what == 1) {
        /* fut_promise_set_error(p, 0) and fut_error(0) both give EINVAL */
        v = mv_err(arg != 0 ? arg : EINVAL);
    } else {
        cell = new_cell();
        v = (mval){0, VK_CELL, cell, 1};
    }
    ev_begin();
    int mrc;
    if (MP[p].t == P_EMPTY) {
        mrc = EINVAL;
    } else if (MP[p].t == P_SPENT) {
        mrc = EALREADY;
    } else {
        MP[p].t = P_SPENT;
        mnode *N = &nodes[MP[p].node];
        if (N->settled) {
            mrc = ECANCELED;
        } else {
            mwl w = {.head = 0};
            m_settle(MP[p].node, v, &w);
            m_drain(&w);
            mrc = 0;
        }
    }
    if (mrc != 0 && cell >= 0)
        m_cell_end(cell, 1); /* refused: the value stays the caller's, who frees it */
    int rrc;
    if (what == 0)
        rrc = via ? fut_promise_set_result(&RP[p], fut_ok(fut_i64(arg))) : fut_promise_set(&RP[p], fut_i64(arg));
    else if (what == 1)
        rrc = via ? fut_promise_set_result(&RP[p], fut_error(arg)) : fut_promise_set_error(&RP[p], arg);
    else
        rrc = fut_promise_set_ptr(&RP[p], &cells[cell], cell_dtor);
    if (rrc != 0 && cell >= 0)
        r_cell_end(cell, 1);
    op_end();
    ASSERT(rrc == mrc, "settle gave %d, model %d", rrc, mrc);
}

static void op_drop_promise(int p)
{
    ev_begin();
    if (MP[p].t == P_LIVE) {
        MP[p].t = P_SPENT;
        if (!nodes[MP[p].node].settled) {
            mwl w = {.head = 0};
            m_settle(MP[p].node, mv_err(EPIPE), &w);
            m_drain(&w);
        }
    }
    fut_promise_drop(&RP[p]);
    op_end();
}

static void op_on_cancel(int p)
{
    int mrc;
    ev_begin();
    if (MP[p].t == P_EMPTY) {
        mrc = EINVAL;
    } else if (MP[p].t == P_SPENT) {
        mrc = EALREADY;
    } else {
        mnode *N = &nodes[MP[p].node];
#if AVOID_HOOK_AFTER_CANCEL
        if (N->hook && N->settled)
            return; /* known bug: a second hook after the cancel gets EBUSY (docs: runs, ECANCELED) */
#endif
        if (N->hook && !N->settled) {
            mrc = EBUSY;
        } else if (N->settled) { /* cancelled: runs at once */
            m_event(EV_HOOK, MP[p].node, mv_int(0), 0);
            mrc = ECANCELED;
        } else {
            N->hook = 1;
            mrc = 0;
        }
    }
    int who = MP[p].t == P_EMPTY ? -1 : MP[p].node;
    int rrc = fut_promise_on_cancel(&RP[p], r_hook, (void *)(intptr_t)who);
    op_end();
    ASSERT(rrc == mrc, "fut_promise_on_cancel gave %d, model %d", rrc, mrc);
}

static void op_poll(int p)
{
    int m = MP[p].t == P_LIVE && nodes[MP[p].node].settled;
    int r = fut_promise_cancelled(&RP[p]);
    ASSERT(r == m, "fut_promise_cancelled gave %d, model %d", r, m);
}

static void op_ready(int f, int what, int arg)
{
    f = free_f(f);
    if (f < 0)
        return;
    if (what == 0) {
        MF[f] = mh_ready(mv_int(arg));
        RF[f] = fut_ready(fut_i64(arg));
    } else if (what == 1) {
        MF[f] = mh_ready(mv_err(arg != 0 ? arg : EINVAL));
        RF[f] = fut_ready_error(arg);
    } else {
        int c = new_cell();
        MF[f] = mh_ready((mval){0, VK_CELL, c, 1});
        RF[f] = fut_ready_ptr(&cells[c], cell_dtor);
    }
}

static int new_ctx(int kind, int arg)
{
    ASSERT(nctx < MAXCTX, "too many contexts");
    int cx = nctx++;
    fctx *C = &ctxs[cx];
    memset(C, 0, sizeof *C);
    C->id = cx;
    C->kind = kind;
    static const int errs[4] = {0, EIO, ENOENT, EPERM};
    C->arg = kind == K_ERR ? errs[arg % 4] : arg;
    C->mh.t = H_EMPTY;
    if (kind == K_FLAT) { /* the handle it will return moves into it now */
        int j = arg % NF;
        C->mh = MF[j];
        C->h = RF[j];
        MF[j].t = H_SPENT;
        RF[j] = (fut_future){0};
    }
    return cx;
}

static int new_rec(int op, int sch, int cx)
{
    int r = m_new(MN_REC);
    mnode *R = &nodes[r];
    R->op = op;
    R->sched = sch;
    R->ctx = cx;
    return r;
}

/* Chains on slot f; the result goes back into slot f. */
static void op_chain(int f, int op, int sch, int kind, int arg)
{
    int cx = new_ctx(kind, arg);
    fctx *C = &ctxs[cx];
    ev_begin();
    /* the model */
    mh *h = &MF[f];
    mh res;
    if (h->t == H_EMPTY || h->t == H_SPENT) {
        res = mh_ready(mv_err(EINVAL)); /* nothing consumed */
    } else {
        mval in;
        int have = 1;
        if (h->t == H_NODE) {
            int n = h->node;
            h->t = H_SPENT;
            if (!nodes[n].settled) {
                have = 0;
                if (!m_alloc()) {
                    nodes[n].cons = CONS_NONE; /* f dropped: its value destroyed when it comes */
                    res = mh_ready(mv_err(ENOMEM));
                } else {
                    int r = new_rec(op, sch, cx);
                    nodes[r].up = n;
                    nodes[r].waiting = 1;
                    nodes[n].cons = CONS_REC;
                    nodes[n].cons_id = r;
                    res = mh_node(r);
                }
            } else {
                in = m_take(n);
            }
        } else {
            in = h->v;
            h->t = H_SPENT;
        }
        if (have) {
            if ((op == OP_THEN && in.err != 0) || (op == OP_RECOVER && in.err == 0)) {
                res = mh_ready(in); /* passes through */
            } else if (sch == SCH_INL) {
                res = m_call(cx, in); /* at once, on this thread: no allocation */
                if (res.t == H_EMPTY || res.t == H_SPENT)
                    res = mh_ready(mv_err(EINVAL));
            } else if (!m_alloc()) {
                m_discard(in);
                res = mh_ready(mv_err(ENOMEM));
            } else {
                int r = new_rec(op, sch, cx);
                mwl w = {.head = 0};
                m_deliver(r, in, &w);
                m_drain(&w);
                res = mh_node(r);
            }
        }
    }
    MF[f] = res;
    /* the library */
    fut_sched *s = sched_of(sch);
    if (op == OP_THEN)
        RF[f] = fut_then(&RF[f], s, r_cont, C);
    else if (op == OP_RECOVER)
        RF[f] = fut_recover(&RF[f], s, r_cont, C);
    else
        RF[f] = fut_then_result(&RF[f], s, r_cont, C);
    op_end();
}

/* A record that runs its continuation on a zero value: fut_spawn (submitted now; on the
 * inline scheduler that runs it now) or fut_batch_spawn (waits in the batch). */
static void op_spawn(int f, int sch, int kind, int arg, int batched)
{
    f = free_f(f);
    if (f < 0)
        return;
    if (batched)
        sch = SCH_CAP;
    int cx = new_ctx(kind, arg);
    fctx *C = &ctxs[cx];
    f = free_f(f); /* K_FLAT may have freed a slot; f is still free */
    ev_begin();
    mh res;
    int flush = 0;
    if (!m_alloc()) {
        res = mh_ready(mv_err(ENOMEM));
    } else {
        int r = new_rec(OP_THEN, sch, cx);
        nodes[r].input = mv_int(0);
        res = mh_node(r);
        if (batched) {
            batch_recs[nbatch++] = r;
            flush = nbatch >= 2; /* the threshold */
        } else if (sch == SCH_INL) {
            mwl w = {.head = 0}; /* inline submit: runs it inside the submit */
            m_run(r, &w);
            m_drain(&w);
        } else {
            mwl w = {.head = 0};
            m_submit(r, &w);
            m_drain(&w);
        }
    }
    MF[f] = res;
    /* the flush a full batch does, in the model */
    if (flush) {
        if (CAP - mq_len(1) >= nbatch) {
            for (int i = 0; i < nbatch; i++)
                mq[1][mq_tail[1]++] = batch_recs[i];
        } else {
            for (int i = 0; i < nbatch; i++) { /* all refused: each runs here with EAGAIN */
                mwl w = {.head = 0};
                int r = batch_recs[i];
                m_discard(nodes[r].input);
                m_settle_rec(r, mv_err(EAGAIN), &w);
                m_drain(&w);
            }
        }
        nbatch = 0;
    }
    RF[f] = batched ? fut_batch_spawn(&batch, r_cont, C) : fut_spawn(sched_of(sch), r_cont, C);
    op_end();
}

static void op_flush(void)
{
    ev_begin();
    size_t mt = 0;
    if (nbatch > 0) {
        if (CAP - mq_len(1) >= nbatch) {
            for (int i = 0; i < nbatch; i++)
                mq[1][mq_tail[1]++] = batch_recs[i];
            mt = (size_t)nbatch;
        } else {
            for (int i = 0; i < nbatch; i++) {
                mwl w = {.head = 0};
                int r = batch_recs[i];
                m_discard(nodes[r].input);
                m_settle_rec(r, mv_err(EAGAIN), &w);
                m_drain(&w);
            }
        }
        nbatch = 0;
    }
    size_t rt = fut_batch_flush(&batch);
    op_end();
    ASSERT(rt == mt, "fut_batch_flush says %zu taken, model %zu", rt, mt);
}

static void op_split(int f, int n)
{
    int outs[3] = {f, -1, -1};
    for (int i = 1; i < n; i++) {
        int g = -1;
        for (int k = 0; k < NF && g < 0; k++) {
            int c = (f + 1 + k) % NF;
            if (c != f && c != outs[1] && (MF[c].t == H_EMPTY || MF[c].t == H_SPENT))
                g = c;
        }
        if (g < 0) {
            n = i;
            break;
        }
        outs[i] = g;
    }
    ev_begin();
    int mrc;
    mh *h = &MF[f];
    if (h->t == H_EMPTY || h->t == H_SPENT) {
        mrc = EINVAL;
    } else if (n == 1) {
        mrc = 0; /* the handle moves: same slot */
    } else if (!m_alloc()) {
        mrc = ENOMEM; /* f untouched */
    } else {
        mrc = 0;
        int hub = m_new(MN_HUB);
        nodes[hub].n = n;
        for (int i = 0; i < n; i++) {
            ASSERT(m_alloc(), "model: a second allocation failed");
            nodes[hub].outs[i] = m_new(MN_SOUT);
        }
        mh src = *h;
        for (int i = 0; i < n; i++)
            MF[outs[i]] = mh_node(nodes[hub].outs[i]);
        if (src.t == H_NODE && !nodes[src.node].settled) {
            nodes[src.node].cons = CONS_HUB;
            nodes[src.node].cons_id = hub;
        } else {
            nodes[hub].input = src.t == H_NODE ? m_take(src.node) : src.v;
            mwl w = {.head = 0};
            wl_push(&w, hub);
            m_drain(&w);
        }
    }
    fut_future ro[3];
    int rrc = fut_split(&RF[f], (size_t)n, ro);
    if (rrc == 0)
        for (int i = 0; i < n; i++)
            RF[outs[i]] = ro[i];
    op_end();
    ASSERT(rrc == mrc, "fut_split gave %d, model %d", rrc, mrc);
}

static void op_cancel(int f)
{
    ev_begin();
    int mrc;
    mh *h = &MF[f];
    if (h->t == H_EMPTY || h->t == H_SPENT) {
        mrc = EINVAL;
    } else if (h->t == H_READY || nodes[h->node].settled) {
        mrc = EALREADY;
    } else {
        mnode *N = &nodes[h->node];
        N->settled = 1;
        N->canc = 1;
        m_cancel_up(h->node, 0, NULL);
        mrc = 0;
    }
    int rrc = fut_cancel(&RF[f]);
    op_end();
    ASSERT(rrc == mrc, "fut_cancel gave %d, model %d", rrc, mrc);
}

/* fut_try_get, or fut_get where the model says it will not block. */
static void op_take(int f, int get)
{
    mh *h = &MF[f];
    if (get && h->t == H_NODE && !nodes[h->node].settled)
        return; /* fut_get would wait for ever: nothing else runs on this thread */
    ev_begin();
    int mrc;
    mval mres = mv_int(0);
    if (h->t == H_EMPTY || h->t == H_SPENT) {
        mrc = EINVAL;
    } else if (h->t == H_READY) {
        mrc = 0;
        mres = h->v;
        h->t = H_SPENT;
    } else if (!nodes[h->node].settled) {
        mrc = EAGAIN;
    } else {
        mrc = 0;
        mres = m_take(h->node);
        h->t = H_SPENT;
    }
    if (mrc == 0)
        m_take_value(mres);
    fut_result r;
    int rrc;
    if (get) {
        r = fut_get(&RF[f]);
        rrc = mrc == EINVAL && r.err == EINVAL ? EINVAL : 0; /* a bad handle gives err EINVAL */
    } else {
        rrc = fut_try_get(&RF[f], &r);
    }
    if (getenv("FUZZ_TRACE") != NULL)
        fprintf(stderr, "    %s -> %d, err %d value %lld\n", get ? "get" : "try_get", rrc, rrc == 0 ? r.err : 0,
                rrc == 0 ? (long long)r.value.i64 : 0LL);
    ASSERT(rrc == mrc, "%s gave %d, model %d", get ? "fut_get" : "fut_try_get", rrc, mrc);
    if (rrc == 0) {
        check_result(r, mres, get ? "fut_get" : "fut_try_get");
        r_take_value(r, mres);
    }
    op_end();
}

static void op_wait0(int f)
{
    mh *h = &MF[f];
    int m = h->t == H_EMPTY || h->t == H_SPENT ? EINVAL
            : h->t == H_READY || nodes[h->node].settled ? 0
                                                        : ETIMEDOUT;
    int r = fut_wait_for(&RF[f], 0);
    ASSERT(r == m, "fut_wait_for(0) gave %d, model %d", r, m);
}

static void m_drop_handle(mh *h)
{
    if (h->t == H_READY) {
        m_discard(h->v);
    } else if (h->t == H_NODE) {
        mnode *N = &nodes[h->node];
        if (N->settled)
            m_discard(m_take(h->node));
        else
            N->cons = CONS_NONE;
    }
    if (h->t != H_EMPTY)
        h->t = H_SPENT;
}

static void op_drop(int f)
{
    ev_begin();
    m_drop_handle(&MF[f]);
    fut_drop(&RF[f]);
    op_end();
}

static void op_is_ready(int f)
{
    mh *h = &MF[f];
    int m = h->t == H_READY || (h->t == H_NODE && nodes[h->node].settled);
    int r = fut_is_ready(&RF[f]);
    ASSERT(r == m, "fut_is_ready gave %d, model %d", r, m);
}

static int m_run_one(int q)
{
    if (mq_len(q) == 0)
        return 0;
    int r = mq[q][mq_head[q]++];
    mwl w = {.head = 0};
    m_run(r, &w);
    m_drain(&w);
    return 1;
}

static void check_queues(void)
{
    ASSERT(fut_manual_pending(&man) == (size_t)mq_len(0), "queue length %zu, model %d", fut_manual_pending(&man),
           mq_len(0));
    ASSERT(fut_manual_pending(&cap) == (size_t)mq_len(1), "capped queue length %zu, model %d",
           fut_manual_pending(&cap), mq_len(1));
}

static void op_run_one(int q)
{
    ev_begin();
    int m = m_run_one(q);
    int r = fut_manual_run_one(q ? &cap : &man);
    op_end();
    ASSERT(r == m, "fut_manual_run_one gave %d, model %d", r, m);
    check_queues();
}

static void op_run_all(int q)
{
    ev_begin();
    size_t m = 0;
    while (m_run_one(q))
        m++;
    size_t r = fut_manual_run_all(q ? &cap : &man);
    op_end();
    ASSERT(r == m, "fut_manual_run_all ran %zu, model %zu", r, m);
    check_queues();
}

static void op_join(int kind, int k, const int *sl, int init)
{
    /* distinct slots */
    int s[MAXK], n = 0;
    for (int i = 0; i < k; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= s[j] == sl[i];
        if (!dup)
            s[n++] = sl[i];
    }
    int fx = -1;
    if (kind == JK_FOLD) {
        fx = nfolds++;
        folds[fx].id = -1;
    }
    ev_begin();
    mh res;
    int fast = kind == JK_ALL || kind == JK_SETTLED;
    for (int i = 0; i < n; i++)
        if (MF[s[i]].t == H_NODE && !nodes[MF[s[i]].node].settled)
            fast = 0;
    /* the allocations: the block (fast path), or the node and then its block */
    int ok = m_alloc() && (fast || kind == JK_FOLD || m_alloc());
    if (!ok) {
        for (int i = 0; i < n; i++)
            m_drop_handle(&MF[s[i]]); /* consumed, and dropped */
        res = mh_ready(mv_err(ENOMEM));
    } else if (fast) {
        int b = m_block_new(kind == JK_ALL ? BK_ALL : BK_SETTLED, n);
        int err = 0;
        for (int i = 0; i < n; i++) {
            mh *h = &MF[s[i]];
            mval o = h->t == H_READY ? h->v : h->t == H_NODE ? m_take(h->node) : mv_err(EINVAL);
            h->t = H_SPENT;
            if (o.err != 0 && err == 0)
                err = o.err;
            blocks[b].items[i] = o;
        }
        if (kind == JK_ALL && err != 0) {
            m_block_discard(b);
            res = mh_ready(mv_err(err));
        } else {
            res = mh_ready((mval){0, VK_BLOCK, b, 1});
        }
    } else {
        int j = m_new(MN_JOIN);
        mnode *J = &nodes[j];
        J->jkind = kind;
        J->n = n;
        J->unresolved = n + 1;
        J->last_err = ECANCELED;
        J->acc = init;
        if (fx >= 0)
            folds[fx].id = j;
        mwl w = {.head = 0};
        for (int i = 0; i < n; i++) {
            mh *h = &MF[s[i]];
            J->slot_in[i] = -1;
            if (h->t == H_NODE) {
                int a = h->node;
                h->t = H_SPENT;
                if (J->decided) {
                    J->slot_state[i] = SL_CANC;
                    m_cancel_input(a, NULL); /* fut_input_attach: fut_cancel on the handle */
                    m_resolve(j, &w);
                    continue;
                }
                J->slot_state[i] = SL_PENDING;
                if (!nodes[a].settled) {
                    J->slot_in[i] = a;
                    nodes[a].cons = CONS_SLOT;
                    nodes[a].cons_id = j;
                    nodes[a].cons_idx = i;
                } else {
                    m_slot_deliver(j, i, m_take(a), &w);
                }
            } else {
                mval o = h->t == H_READY ? h->v : mv_err(EINVAL);
                h->t = H_SPENT;
                J->slot_state[i] = SL_PENDING;
                m_slot_deliver(j, i, o, &w);
            }
        }
        m_resolve(j, &w);
        m_drain(&w);
        res = mh_node(j);
    }
    fut_future in[MAXK];
    for (int i = 0; i < n; i++) {
        in[i] = RF[s[i]];
        RF[s[i]] = (fut_future){0};
        MF[s[i]].t = H_SPENT;
    }
    MF[s[0]] = res;
    fut_future out = kind == JK_ALL       ? fut_when_all(in, (size_t)n)
                     : kind == JK_SETTLED ? fut_when_all_settled(in, (size_t)n)
                     : kind == JK_ANY     ? fut_when_any_ok(in, (size_t)n)
                                          : fut_fold(in, (size_t)n, fut_ok(fut_i64(init)), r_fold, &folds[fx]);
    RF[s[0]] = out;
    op_end();
    for (int i = 0; i < n; i++)
        ASSERT(fut_wait_for(&in[i], 0) == EINVAL, "a combinator left input %d unconsumed", i);
}

/* Drops what a continuation context still holds (it never ran). */
static void op_ctx_drop(int cx)
{
    ev_begin();
    m_drop_handle(&ctxs[cx].mh);
    fut_drop(&ctxs[cx].h);
    op_end();
}

/* ======================================================================================
 * The interpreter
 * ====================================================================================== */

typedef struct rd {
    const uint8_t *d;
    size_t n, i;
    int end;
} rd;

static int byte(rd *r)
{
    if (r->i >= r->n) {
        r->end = 1;
        return 0;
    }
    return r->d[r->i++];
}

/* The byte code: an op byte (mod O_COUNT), two argument bytes, and for some ops more.
 * tests/fuzz/gen_corpus.py writes programs in it. */
enum { O_NEW, O_SET, O_FAIL, O_SET_PTR, O_DROP_P, O_THEN, O_RECOVER, O_FINALLY, O_SPLIT, O_CANCEL, O_TRY_GET,
       O_DROP, O_RUN_ONE, O_RUN_ALL, O_WHEN_ALL, O_WHEN_ANY, O_FOLD, O_READY, O_ON_CANCEL, O_POLL, O_IS_READY,
       O_WHEN_SETTLED, O_SPAWN, O_BATCH_SPAWN, O_FLUSH, O_FAIL_NEXT, O_WAIT0, O_GET, O_COUNT };

static const char *const op_names[O_COUNT] = {
    "new", "set", "fail", "set_ptr", "drop_promise", "then", "recover", "finally", "split", "cancel", "try_get",
    "drop", "run_one", "run_all", "when_all", "when_any", "fold", "ready", "on_cancel", "poll", "is_ready",
    "when_all_settled", "spawn", "batch_spawn", "flush", "fail_next", "wait_for_0", "get"};

static void reset(void)
{
    nnodes = nctx = nfolds = nblocks = ncells = nbatch = 0;
    mq_head[0] = mq_tail[0] = mq_head[1] = mq_tail[1] = 0;
    m_fail_next = fz_fail_next = 0;
    memset(cell_end, 0, sizeof cell_end);
    memset(cell_mend, 0, sizeof cell_mend);
    memset(cell_issued, 0, sizeof cell_issued);
    for (int i = 0; i < NF; i++) {
        MF[i].t = H_EMPTY;
        RF[i] = (fut_future){0};
    }
    for (int i = 0; i < NP; i++) {
        MP[i].t = P_EMPTY;
        RP[i] = (fut_promise){0};
    }
    fz_live = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int trace = -1; /* FUZZ_TRACE=1: print each operation (to read a crash input) */
    if (trace < 0)
        trace = getenv("FUZZ_TRACE") != NULL && getenv("FUZZ_TRACE")[0] == '1';
    reset();
    fut_inline_init(&inl);
    if (fut_manual_init(&man, 0) != 0 || fut_manual_init(&cap, CAP) != 0 ||
        fut_batch_init(&batch, &cap.sched, 2, NULL) != 0)
        abort();
    rd r = {data, size, 0, 0};
    static const int fail_errs[4] = {0, EIO, ENOENT, EPERM};
    for (op_no = 0; op_no < MAXOPS; op_no++) {
        int b = byte(&r);
        if (r.end)
            break;
        int op = b % O_COUNT;
        op_name = op_names[op];
        int a1 = byte(&r), a2 = byte(&r);
        if (trace)
            fprintf(stderr, "op %d: %s %d %d%s\n", op_no, op_name, a1, a2, r.end ? " (input ends)" : "");
        switch (op) {
        case O_NEW: op_new(a1 % NP, a2 % NF); break;
        case O_SET: op_settle(a1 % NP, 0, (int)(int8_t)a2, (a1 / NP) & 1); break;
        case O_FAIL: op_settle(a1 % NP, 1, fail_errs[a2 % 4], (a1 / NP) & 1); break;
        case O_SET_PTR: op_settle(a1 % NP, 2, 0, 0); break;
        case O_DROP_P: op_drop_promise(a1 % NP); break;
        case O_THEN:
        case O_RECOVER:
        case O_FINALLY: {
            int a3 = byte(&r);
            op_chain(a1 % NF, op - O_THEN, a2 % 3, (a2 / 3) % K_NKINDS, a3);
            break;
        }
        case O_SPLIT: op_split(a1 % NF, 1 + a2 % 3); break;
        case O_CANCEL: op_cancel(a1 % NF); break;
        case O_TRY_GET: op_take(a1 % NF, 0); break;
        case O_GET: op_take(a1 % NF, 1); break;
        case O_DROP: op_drop(a1 % NF); break;
        case O_RUN_ONE: op_run_one(a1 & 1); break;
        case O_RUN_ALL: op_run_all(a1 & 1); break;
        case O_WHEN_ALL:
        case O_WHEN_ANY:
        case O_FOLD:
        case O_WHEN_SETTLED: {
            int k = 1 + a1 % MAXK, sl[MAXK];
            sl[0] = a2 % NF;
            for (int i = 1; i < k; i++)
                sl[i] = byte(&r) % NF;
            int kind = op == O_WHEN_ALL ? JK_ALL : op == O_WHEN_ANY ? JK_ANY : op == O_FOLD ? JK_FOLD : JK_SETTLED;
            op_join(kind, k, sl, a2 % 7);
            break;
        }
        case O_READY: op_ready(a1 % NF, a2 % 3, (int)(int8_t)byte(&r)); break;
        case O_ON_CANCEL: op_on_cancel(a1 % NP); break;
        case O_POLL: op_poll(a1 % NP); break;
        case O_IS_READY: op_is_ready(a1 % NF); break;
        case O_SPAWN:
        case O_BATCH_SPAWN: {
            int a3 = byte(&r);
            op_spawn(a1 % NF, a2 % 3, (a2 / 3) % K_NKINDS, a3, op == O_BATCH_SPAWN);
            break;
        }
        case O_FLUSH: op_flush(); break;
        case O_FAIL_NEXT: op_fail_next(); break;
        default: op_wait0(a1 % NF); break;
        }
        if (r.end)
            break;
    }

    /* The end: flush, give up everything, run both schedulers dry. */
    op_name = "cleanup";
    op_flush();
    for (int p = 0; p < NP; p++)
        op_drop_promise(p);
    for (int f = 0; f < NF; f++)
        op_drop(f);
    for (int c = 0; c < nctx; c++)
        op_ctx_drop(c);
    while (mq_len(0) + mq_len(1) > 0) {
        op_run_all(0);
        op_run_all(1);
    }
    check_queues();
    fut_manual_destroy(&man);
    fut_manual_destroy(&cap);
    for (int c = 0; c < ncells; c++) {
        ASSERT(cell_mend[c] == 1, "model: cell %d ended %d times (model bug)", c, cell_mend[c]);
        ASSERT(cell_end[c] == 1, "pointer value %d ended %d times after cleanup", c, cell_end[c]);
    }
    ASSERT(fz_live == 0, "%ld allocations leaked", fz_live);
    return 0;
}
