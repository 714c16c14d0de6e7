/* watch.pml - fut_finally's hand-off between a cancel walk and the producer, checked
 * exhaustively with spin.
 *
 * A is a promise's state; C is the cleanup record of fut_finally(&A, s, fn, ctx),
 * linked to A (it holds A's consumer side), and C's own future is held by a handle.
 * Three threads, every atomic operation of fut.h one step, every read of a state that
 * another thread may free a step of its own:
 *   producer   fut_promise_set(A) (fut__settle_ex; when it lost to the cancel,
 *              fut__lost -> fut__release_prod_wl, which fires the record of a watched
 *              state unless a walk still reads it)
 *   canceller  fut_cancel(C's handle): fut__cancel_cas(C), then the walk marks A
 *              SET|CANC|WALK (watched: it keeps LINK), reads A, and fut__walk_done
 *              clears WALK and fires if the producer is gone; then drops the handle
 *   scheduler  runs C's record when it arrives (delivered by A's settle, or handed
 *              ECANCELED by fut__watch_fire): the cleanup fn, then fut__settle_rec
 * Checks: the cleanup runs exactly once, and only after the producer's last touch of A;
 * A is never touched after it is freed; A and C are each freed exactly once.
 *
 * Planted bugs: BUG_IGNORE_WALK (the producer fires while the walk still reads A),
 * BUG_WALK_FIRES (the walk fires without waiting for the producer to let go). */

#define SET  1
#define CANC 2
#define PROD 4
#define CONS 8
#define LINK 16
#define WALK 32

#define E_OK   0
#define E_CANC 1

byte wA = PROD | CONS | LINK; /* C is linked to A (fut_finally ran before the race) */
byte wC = PROD | CONS;        /* C's record is its producer, the handle its consumer */
bool freedA, freedC;
byte freesA, freesC;
byte cleanups;
bool prod_gone;               /* the producer has made its last touch of A */
chan queue = [2] of { byte }; /* C's record, handed to its scheduler with its input */

inline freeA() { atomic { assert(!freedA); freedA = 1; freesA++ } }
inline freeC() { atomic { assert(!freedC); freedC = 1; freesC++ } }

/* fut__watch_fire: nobody else touches A now; free it, hand C ECANCELED. */
inline fire() { freeA(); queue!E_CANC }

inline relprodC() {
    atomic { assert(!freedC); old = wC; wC = wC & ~PROD };
    if
    :: !(old & CONS) -> freeC()
    :: else -> skip
    fi
}
inline relconsC() {
    atomic { assert(!freedC); old = wC; wC = wC & ~CONS };
    if
    :: !(old & PROD) -> freeC()
    :: else -> skip
    fi
}
inline letgoA() {
    atomic { assert(!freedA); old = wA; wA = wA & ~CONS };
    if
    :: !(old & PROD) -> freeA()
    :: else -> skip
    fi
}

proctype producer() {
    byte w, old;
    bool won;
    atomic { assert(!freedA); w = wA };
    do
    :: (w & SET) ->
        /* lost to the cancel: fut__release_prod_wl */
        atomic { assert(!freedA); old = wA; wA = wA & ~PROD; prod_gone = 1 };
        if
        :: (old & (SET | LINK)) == (SET | LINK) ->
#ifdef BUG_IGNORE_WALK
            fire()
#else
            if
            :: !(old & WALK) -> fire()
            :: else -> skip /* the walk fires when it is done */
            fi
#endif
        :: else ->
            if
            :: !(old & CONS) -> freeA()
            :: else -> skip
            fi
        fi;
        break
    :: !(w & SET) ->
        atomic {
            assert(!freedA);
            if
            :: wA == w -> wA = (w | SET) & ~(PROD | LINK); prod_gone = 1; won = 1
            :: else -> w = wA
            fi
        };
        if
        :: won ->
            if
            :: (w & CONS) && (w & LINK) -> queue!E_OK /* hand the value to C */
            :: !(w & CONS) -> freeA()
            :: else -> skip
            fi;
            break
        :: else -> skip
        fi
    od
}

proctype canceller() {
    byte old;
    bool wonC, wonA;
    atomic {
        assert(!freedC);
        if
        :: !(wC & SET) -> wC = wC | SET | CANC; wonC = 1
        :: else -> skip
        fi
    };
    if
    :: wonC ->
        /* the walk: C is a cleanup record, C->up is A */
        atomic {
            assert(!freedA);
            if
            :: !(wA & SET) -> wA = wA | SET | CANC | WALK; wonA = 1
            :: else -> skip
            fi
        };
        if
        :: wonA ->
            atomic { assert(!freedA) }; /* the walk's step at A: its op, its hook */
            atomic { assert(!freedA); old = wA; wA = wA & ~WALK };
#ifdef BUG_WALK_FIRES
            fire()
#else
            if
            :: !(old & PROD) -> fire()
            :: else -> skip /* the producer fires when it lets go */
            fi
#endif
        :: else -> letgoA() /* A settled first: C's record runs and cleans up */
        fi
    :: else -> skip
    fi;
    relconsC() /* the handle is dropped */
}

proctype scheduler() {
    byte in, w, old;
    bool wonC;
    queue?in;
    atomic { assert(!freedC); w = wC };
    if
    :: (w & SET) -> /* cancelled before it ran (fut__rec_run_rare) */
        atomic { assert(prod_gone); cleanups++ };
        relprodC()
    :: else ->
        atomic { assert(prod_gone); assert(in == E_OK); cleanups++ };
        /* fut__settle_rec(C) */
        atomic {
            assert(!freedC);
            if
            :: !(wC & SET) -> old = wC; wC = (wC | SET) & ~PROD; wonC = 1
            :: else -> skip
            fi
        };
        if
        :: wonC ->
            if
            :: !(old & CONS) -> freeC()
            :: else -> skip
            fi;
            letgoA() /* we won C: its upstream link is ours to let go */
        :: else -> relprodC() /* a cancel won C (fut__lost): it lets go of A */
        fi
    fi
}

init {
    atomic { run producer(); run canceller(); run scheduler() };
    _nr_pr == 1;
    assert(cleanups == 1);
    assert(freedA && freesA == 1);
    assert(freedC && freesC == 1);
    assert(len(queue) == 0)
}
