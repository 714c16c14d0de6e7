/* flatten.pml - fut.h's flattening race, checked exhaustively with spin.
 *
 * B = fut_then(A, fn) where fn returns R, the future of a promise still pending: B's
 * record moves from waiting on A to waiting on R (fut__flatten: BUSY while it switches;
 * a delivery from R that arrives meanwhile only marks RERUN and leaves the run to it).
 * Four threads, every atomic operation of fut.h one step:
 *   outer      fut_promise_set(A): delivers to B's record (the scheduler's queue)
 *   scheduler  runs B's record: fn returns R -> fut__flatten(B, R)
 *   inner      fut_promise_set(R): delivers to B's record (a FORWARD run, inline here)
 *   consumer   fut_cancel(B) then fut_drop(B), or waits for B and takes it
 * Checks: no state touched after it is freed, none freed twice, A, B and R all freed,
 * B's outcome consistent (a value only if R's value came through; ECANCELED only if the
 * cancel won), R's producer sees the cancel iff the cancel reached R.
 *
 * Planted bugs: BUG_NO_BUSY (switch upstream without fencing a canceller out),
 * BUG_IGNORE_RERUN (clear BUSY and forget a delivery that came meanwhile). */

#define SET   1
#define CANC  2
#define PROD  4
#define CONS  8
#define LINK  16
#define BUSY  32
#define RERUN 64

#define UP_A 1
#define UP_R 2

byte wA = PROD | CONS | LINK;  /* B's record was linked to A by fut_then, before the race */
byte wB = PROD | CONS, wR = PROD | CONS;
bool freedA, freedB, freedR;
byte freesA, freesB, freesR;
byte up = UP_A;            /* B->up: plain field, written only by B's record */
bool fwd;                  /* B->op == FORWARD */
bool attached_R;           /* the inner handle was consumed by B's record */
byte ran;                  /* fn runs */
byte rc_outer = 255, rc_inner = 255, cancel_rc = 255, seen = 255;
bool hookR;                /* R's producer observed the cancel */
bool hookA;
bool outer_done, inner_done, cons_done;
chan queue = [2] of { bit };

#define TA assert(!freedA)
#define TB assert(!freedB)
#define TR assert(!freedR)
#define FREE(f, n) atomic { assert(!f); f = 1; n++ }

/* ---- releases (fut__release_prod / fut__release_cons / fut__let_go) ---- */
inline rel_prod(w_, f_, n_) {
    atomic { assert(!f_); old = w_; w_ = w_ & ~(PROD | BUSY) };
    if :: !(old & CONS) -> FREE(f_, n_) :: else -> skip fi
}
inline rel_cons(w_, f_, n_, seenw) {
    if
    :: (seenw & SET) && !(seenw & PROD) -> FREE(f_, n_)
    :: else ->
        atomic { assert(!f_); old = w_; w_ = w_ & ~CONS };
        if :: !(old & PROD) -> FREE(f_, n_) :: else -> skip fi
    fi
}
inline let_go(w_, f_, n_) {
    atomic { assert(!f_); lw = w_ };
    rel_cons(w_, f_, n_, lw)
}

/* settle B as its record (fut__settle_rec + fut__settle_ex): returns won */
inline settle_B(u) {
    TB; u = up;                 /* read before the CAS */
    atomic { TB; w = wB };
    won = 0;
    do
    :: (w & SET) -> rel_prod(wB, freedB, freesB); break     /* lost: upstream is not ours */
    :: else ->
        atomic { TB; if :: wB == w -> wB = (w | SET) & ~(PROD | LINK | BUSY | RERUN); ok = 1
                          :: else -> w = wB; ok = 0 fi };
        if :: ok -> won = 1; break :: else -> skip fi
    od;
    if
    :: won ->
        if :: !(w & CONS) -> FREE(freedB, freesB) :: else -> skip fi;
        if
        :: u == UP_A -> let_go(wA, freedA, freesA)
        :: u == UP_R -> let_go(wR, freedR, freesR)
        :: else -> skip
        fi
    :: else -> skip
    fi
}

/* a promise's settle (fut__settle_ex); dl says whether to deliver to B's record */
inline settle_promise(wx, fx, nx, rc) {
    dl = 0;
    atomic { assert(!fx); w = wx };
    do
    :: (w & SET) -> rel_prod(wx, fx, nx); rc = 1; break
    :: else ->
        if :: (w & LINK) -> assert(!fx); d = 1 :: else -> d = 0 fi;
        atomic { assert(!fx); if :: wx == w -> wx = (w | SET) & ~(PROD | LINK); ok = 1
                                :: else -> w = wx; ok = 0 fi };
        if
        :: ok ->
            rc = 0;
            if
            :: !(w & CONS) -> FREE(fx, nx)
            :: else -> if :: d -> TB; dl = 1 :: else -> skip fi
            fi;
            break
        :: else -> skip
        fi
    od
}

/* B's record runs (fut__rec_run) as a FORWARD step: the delivery from R */
inline forward_run() {
    atomic { TB; w = wB };
    handed = 0;
    do
    :: (w & BUSY) ->                     /* the record is switching: leave the run to it */
        atomic { TB; if :: wB == w -> wB = w | RERUN; ok = 1 :: else -> w = wB; ok = 0 fi };
        if :: ok -> handed = 1; break :: else -> skip fi
    :: else -> break
    od;
    if
    :: !handed ->
        TB;                              /* input read */
        if
        :: (w & SET) -> rel_prod(wB, freedB, freesB)
        :: else -> settle_B(u)
        fi
    :: else -> skip
    fi
}

proctype outer()
{
    byte w, old, d;
    bool ok, dl;
    settle_promise(wA, freedA, freesA, rc_outer);
    if :: dl -> queue ! 1 :: else -> skip fi;
    outer_done = 1
}

proctype inner()
{
    byte w, old, d, lw, u;
    bool ok, won, handed, dl;
    settle_promise(wR, freedR, freesR, rc_inner);
    if :: dl -> forward_run() :: else -> skip fi;
    inner_done = 1
}

proctype scheduler()
{
    byte w, old, lw, rw, u, oldup;
    bool ok, won, handed;
    bit m;
    do
    :: queue ? m ->
        atomic { TB; w = wB };
        do
        :: (w & BUSY) -> assert(0)         /* only this thread sets BUSY, before any rerun */
        :: else -> break
        od;
        TB;                                /* input read */
        if
        :: (w & SET) -> rel_prod(wB, freedB, freesB)
        :: else ->
            ran++;
            attached_R = 1;                /* fn returned R (pending): the handle is ours */
            /* fut__flatten(B, R) */
            TB; oldup = up;
            atomic { TB; w = wB };
            do
            :: (w & SET) ->
                /* cancelled while fn ran: cancel R (fut__cancel_state), let it go, stop */
                atomic { TR; rw = wR };
                do
                :: (rw & SET) -> break
                :: else ->
                    atomic { TR; if :: wR == rw -> wR = rw | SET | CANC; ok = 1 :: else -> rw = wR; ok = 0 fi };
                    if :: ok -> hookR = 1; break :: else -> skip fi
                od;
                rel_cons(wR, freedR, freesR, 0);
                rel_prod(wB, freedB, freesB);
                goto sched_out
            :: else ->
#ifndef BUG_NO_BUSY
                atomic { TB; if :: wB == w -> wB = w | BUSY; ok = 1 :: else -> w = wB; ok = 0 fi };
                if :: ok -> break :: else -> skip fi
#else
                break
#endif
            od;
            if :: oldup == UP_A -> let_go(wA, freedA, freesA) :: else -> skip fi;
            TB; up = UP_R; fwd = 1;
            /* fut__attach(R, B) */
            atomic { TR; rw = wR };
            do
            :: (rw & SET) ->
                /* R settled already: take it and settle B (clears BUSY) */
                TR;
                rel_cons(wR, freedR, freesR, rw);
                TB; up = 0;
                settle_B(u);
                goto sched_out
            :: else ->
                atomic { TR; if :: wR == rw -> wR = rw | LINK; ok = 1 :: else -> rw = wR; ok = 0 fi };
                if :: ok -> break :: else -> skip fi
            od;
            /* clear BUSY (and RERUN) */
            atomic { TB; w = wB; wB = wB & ~(BUSY | RERUN) };
#ifdef BUG_IGNORE_RERUN
            w = w & ~RERUN;
#endif
            if
            :: (w & SET) ->
                /* cancelled while BUSY: the walk to R is ours (fut__cancel_up(B, held 0)) */
                atomic { TR; rw = wR };
                do
                :: (rw & SET) -> let_go(wR, freedR, freesR); break
                :: else ->
                    atomic { TR; if :: wR == rw -> wR = (rw | SET | CANC) & ~LINK; ok = 1 :: else -> rw = wR; ok = 0 fi };
                    if
                    :: ok ->
                        rel_prod(wB, freedB, freesB);   /* B's record is unlinked */
                        hookR = 1;
                        rel_cons(wR, freedR, freesR, 0);
                        break
                    :: else -> skip
                    fi
                od
            :: else -> skip
            fi;
            if
            :: (w & RERUN) -> forward_run()    /* R's delivery came while BUSY */
            :: else -> skip
            fi
        fi;
sched_out:
        skip
    :: (outer_done && inner_done && cons_done && empty(queue)) -> break
    od
}

proctype consumer()
{
    byte w, old, lw, aw;
    bool ok;
    if
    :: 1 ->                                 /* fut_cancel(B), then fut_drop(B) */
        atomic { TB; w = wB };
        do
        :: (w & SET) -> cancel_rc = 1; break
        :: else ->
            atomic { TB; if :: wB == w -> wB = w | SET | CANC; ok = 1 :: else -> w = wB; ok = 0 fi };
            if :: ok -> cancel_rc = 0; break :: else -> skip fi
        od;
        if
        :: cancel_rc == 0 && !(w & BUSY) ->
            /* fut__cancel_up(B): walk to B->up if B's record is linked there */
            TB;
            if
            :: up == UP_A ->
                atomic { TA; aw = wA };
                do
                :: (aw & SET) -> let_go(wA, freedA, freesA); break
                :: else ->
                    atomic { TA; if :: wA == aw -> wA = (aw | SET | CANC) & ~LINK; ok = 1 :: else -> aw = wA; ok = 0 fi };
                    if :: ok -> rel_prod(wB, freedB, freesB); hookA = 1; rel_cons(wA, freedA, freesA, 0); break
                       :: else -> skip fi
                od
            :: up == UP_R ->
                atomic { TR; aw = wR };
                do
                :: (aw & SET) -> let_go(wR, freedR, freesR); break
                :: else ->
                    atomic { TR; if :: wR == aw -> wR = (aw | SET | CANC) & ~LINK; ok = 1 :: else -> aw = wR; ok = 0 fi };
                    if :: ok -> rel_prod(wB, freedB, freesB); hookR = 1; rel_cons(wR, freedR, freesR, 0); break
                       :: else -> skip fi
                od
            :: else -> skip
            fi
        :: else -> skip
        fi;
        atomic { TB; w = wB };
        do
        :: (w & SET) ->
            if :: (w & CANC) -> seen = 1 :: else -> TB; seen = 0 fi;
            rel_cons(wB, freedB, freesB, w);
            break
        :: else ->
            atomic { TB; if :: wB == w -> wB = w & ~CONS; ok = 1 :: else -> w = wB; ok = 0 fi };
            if :: ok -> break :: else -> skip fi
        od
    :: 1 ->                                 /* wait for B and take it */
        (wB & SET);
        atomic { TB; w = wB };
        if :: (w & CANC) -> seen = 1 :: else -> TB; seen = 0 fi;
        rel_cons(wB, freedB, freesB, w)
    fi;
    cons_done = 1
}

init {
    atomic { run outer(); run inner(); run scheduler(); run consumer() };
    (_nr_pr == 1);
    /* R's handle: if the record never ran, nobody consumed it: the test drops it */
    if
    :: !attached_R ->                       /* the inner producer settled R: drop it */
        assert(!freedR && (wR & SET) && !(wR & PROD));
        freedR = 1;
        freesR++
    :: else -> skip
    fi;
    assert(freesA == 1 && freesB == 1 && freesR == 1);
    assert(ran <= 1);
    assert(seen != 0 || (ran == 1 && rc_inner == 0));   /* a value came through R */
    assert(cancel_rc != 0 || seen == 1);
    assert((rc_inner == 1) == hookR);                   /* R's producer lost iff cancelled */
    assert((rc_outer == 1) == hookA)
}
