/* input.pml - the combinator section's input protocol (fut_input), checked with spin.
 *
 * One node N (a combinator's object, holding the fut_input `in`) and one input future A
 * (a promise's read end). N is counted as batch.h's join counts it: one for the input's
 * fn, one for the creator while it attaches, one for the canceller while ops->cancel
 * runs (the cancelling side keeps the node). Whoever counts the last frees N. Three
 * threads race, every atomic operation of fut.h being one step here and every plain
 * field access a separate step:
 *   producer   fut_promise_set(A)  (fut__settle_ex; with A linked it runs
 *              fut__input_deliver on its own thread)
 *   attacher   fut_input_attach(in, A) (its early CANCEL_REQ check, fut__attach, the
 *              IDLE -> LINKED CAS, the claim of a request that came while it linked,
 *              fut__input_resolve_here), then lets go of the creator count
 *   canceller  either nothing or fut_input_cancel(in) (IDLE -> CANCEL_REQ, or
 *              LINKED -> CANCELLED and fut__cancel_input(A)), then lets go of its count
 * spin explores every interleaving (sequentially consistent: memory orders are TSan's
 * job) and checks: N and A are never touched after they are freed and each is freed
 * once; fn runs exactly once; a cancel request is never lost (a settle after both the
 * request and the attach is refused, and fn gets ECANCELED); a
 * settled value goes to fn or is dropped, never both, never neither; A's producer is
 * refused exactly when A was cancelled.
 *
 * Planted bugs (spin -DBUG_...) show the model can fail:
 *   BUG_LOST_REQ            the attacher, finding CANCEL_REQ after linking, ignores it
 *                           (the request is lost: the value reaches fn after the cancel)
 *   BUG_CANCEL_RUNS_FN      the canceller runs fn even when A had settled first (the
 *                           delivery runs it too: twice)
 *   BUG_NO_CREATOR_HOLD     N is not counted for its creator while it attaches (a fast
 *                           delivery frees N under the attacher's CAS) */

#define SET  1
#define CANC 2
#define PROD 4
#define CONS 8
#define LINK 16

/* in->st */
#define IDLE       0
#define CANCEL_REQ 1
#define LINKED     2
#define DONE       3
#define CANCELLED  4

#define VALUE 1
#define ECANCELED 2

byte wA = PROD | CONS;    /* A's word; the attacher holds CONS and gives it to the link */
byte ist = IDLE;          /* in->st */
bool iup;                 /* in->up == A */
#ifndef BUG_NO_CREATOR_HOLD
byte cnt = 3;             /* N's count: fn, creator, canceller */
#else
byte cnt = 2;
#endif
bool freedA, freedN;
byte freesA, freesN;
byte ran;                 /* runs of fn */
byte got;                 /* what fn got: VALUE or ECANCELED */
byte vdrop;               /* settled values dropped (fut__discard) */
byte settle_rc = 255;     /* producer: 0 settled, 1 refused (A was cancelled) */
byte cancel_rc = 255;     /* fut_input_cancel: 0, or 1 EALREADY; 255 not called */
bool settled;             /* the producer's settle CAS happened */
bool cancel_made;         /* the canceller's CAS on in happened */
bool attached;            /* fut_input_attach returned */
bool late;                /* the settle came after both: the request must have won */
bool acanc;               /* A was cancelled (its hook would run) */

#define TOUCH_A assert(!freedA)
#define TOUCH_N assert(!freedN)
#define FREE_A atomic { assert(!freedA); freedA = 1; freesA++ }

/* fn: runs with its outcome, then counts down (the last thing it does). */
inline fn(what) {
    TOUCH_N;
    ran++;
    got = what;
    node_put()
}
inline node_put() {
    atomic {
        TOUCH_N;
        cnt--;
        if :: cnt == 0 -> freedN = 1; freesN++ :: else -> skip fi
    }
}

/* fut__release_cons(A, seen), fut__let_go(A), fut__release_prod(A), as in fut.pml */
inline release_cons_A(seenw) {
    if
    :: (seenw & SET) && !(seenw & PROD) -> FREE_A
    :: else ->
        atomic { TOUCH_A; old = wA; wA = wA & ~CONS };
        if :: !(old & PROD) -> FREE_A :: else -> skip fi
    fi
}
inline let_go_A() {
    atomic { TOUCH_A; lw = wA };
    release_cons_A(lw)
}
inline release_prod_A() {
    atomic { TOUCH_A; old = wA; wA = wA & ~PROD };
    if :: !(old & CONS) -> FREE_A :: else -> skip fi
}

/* fut__cancel_cas(A, clear) then, when it won, fut__cancel_up on a promise (its hook).
 * r: 1 won. */
inline cancel_cas_A(clear, r) {
    atomic { TOUCH_A; aw = wA };
ccas:
    if
    :: (aw & SET) -> r = 0
    :: else ->
        atomic {
            TOUCH_A;
            if
            :: wA == aw -> wA = (aw | SET | CANC) & ~clear; ok = 1
            :: else -> aw = wA; ok = 0
            fi
        };
        if :: !ok -> goto ccas :: else -> skip fi;
        acanc = 1;
        r = 1
    fi
}

/* fut__cancel_input(A): the caller holds A through the link. r: 1 cancelled it. */
inline cancel_input_A(r) {
    cancel_cas_A(LINK, r);
    if
    :: r -> release_cons_A(0)     /* fut__cancel_up(A, aw, held = 1) */
    :: else -> let_go_A()         /* A settled first: the delivery gets the outcome */
    fi
}

proctype producer()
{
    byte w, old, lw, ex;
    bool ok, d;
    atomic { TOUCH_A; w = wA };
    if :: !(w & LINK) -> TOUCH_A :: else -> skip fi   /* outcome fields stored */
retry:
    if
    :: (w & SET) ->                                   /* a cancel won A */
        release_prod_A();
        settle_rc = 1;
        goto out
    :: else -> skip
    fi;
    if :: (w & LINK) -> TOUCH_A; d = 1 :: else -> d = 0 fi   /* consumer read before the CAS */
    atomic {
        TOUCH_A;
        if
        :: wA == w -> wA = (w | SET) & ~(PROD | LINK); ok = 1; settled = 1; late = attached && cancel_made
        :: else -> w = wA; ok = 0
        fi
    };
    if :: !ok -> goto retry :: else -> skip fi;
    settle_rc = 0;
    if
    :: !(w & CONS) -> FREE_A
    :: else ->
        if
        :: d ->
            /* fut__input_deliver(in, value) */
            atomic { TOUCH_N; ex = ist };
deliver:
            if
            :: ex == CANCELLED ->                     /* a canceller claimed it after A settled */
                vdrop++;
                fn(ECANCELED)
            :: else ->
                atomic {
                    TOUCH_N;
                    if
                    :: ist == ex -> ist = DONE; ok = 1
                    :: else -> ex = ist; ok = 0
                    fi
                };
                if :: !ok -> goto deliver :: else -> skip fi;
                TOUCH_N; assert(iup); iup = 0;        /* up = in->up; in->up = NULL */
                let_go_A();                           /* the link's hold is ours */
                fn(VALUE)
            fi
        :: else -> skip
        fi
    fi;
out:
    skip
}

proctype attacher()
{
    byte w, old, lw, aw, ex, what;
    bool ok, r;
    /* fut_input_attach(in, A): the early check for a request */
    atomic { TOUCH_N; ex = ist };
    if
    :: ex == CANCEL_REQ ->
        /* fut_cancel(A) as its consumer (fut__cancel_state), then fut_drop(A) */
        cancel_cas_A(0, r);
        atomic { TOUCH_A; w = wA };                   /* fut_drop: A is settled now */
        if :: !(w & CANC) -> vdrop++ :: else -> skip fi;
        release_cons_A(w);
        TOUCH_N; ist = CANCELLED;
        fn(ECANCELED);
        goto out
    :: else -> skip
    fi;
    TOUCH_N; iup = 1;                                 /* in->up = A */
    /* fut__attach(A, link) */
    TOUCH_A;                                          /* A->consumer = link */
    atomic { TOUCH_A; w = wA };
attach:
    if
    :: (w & SET) ->                                   /* settled already: fut__take */
        if :: (w & CANC) -> what = ECANCELED :: else -> TOUCH_A; what = VALUE fi;
        release_cons_A(w);
        TOUCH_N; iup = 0;
        /* fut__input_resolve_here */
        atomic {
            TOUCH_N;
            if
            :: ist == IDLE -> ist = DONE; ok = 1
            :: else -> ok = 0
            fi
        };
        if
        :: ok -> fn(what)
        :: else ->
            TOUCH_N; ist = CANCELLED;                 /* ours alone now */
            if :: what == VALUE -> vdrop++ :: else -> skip fi;
            fn(ECANCELED)
        fi
    :: else ->
        atomic {
            TOUCH_A;
            if
            :: wA == w -> wA = w | LINK; ok = 1
            :: else -> w = wA; ok = 0
            fi
        };
        if :: !ok -> goto attach :: else -> skip fi;
        /* linked: IDLE -> LINKED */
        atomic {
            TOUCH_N;
            if
            :: ist == IDLE -> ist = LINKED; ok = 1
            :: else -> ex = ist; ok = 0
            fi
        };
#ifndef BUG_LOST_REQ
        if
        :: !ok && ex == CANCEL_REQ ->                 /* a request came while we linked */
            atomic {
                TOUCH_N;
                if
                :: ist == CANCEL_REQ -> ist = CANCELLED; ok = 1
                :: else -> ok = 0                     /* a delivery took it (DONE) */
                fi
            };
            if
            :: ok ->
                cancel_input_A(r);
                if :: r -> fn(ECANCELED) :: else -> skip fi
            :: else -> skip
            fi
        :: else -> skip
        fi
#endif
    fi;
out:
    attached = 1;
#ifndef BUG_NO_CREATOR_HOLD
    node_put()
#else
    skip
#endif
}

proctype canceller()
{
    byte old, lw, aw, ex, to;
    bool ok, r;
    if
    :: 1 ->
        /* fut_input_cancel(in) */
        atomic { TOUCH_N; ex = ist };
again:
        if
        :: ex == IDLE -> to = CANCEL_REQ
        :: ex == LINKED -> to = CANCELLED
        :: else -> cancel_rc = 1; goto done
        fi;
        atomic {
            TOUCH_N;
            if
            :: ist == ex -> ist = to; ok = 1; cancel_made = 1
            :: else -> ex = ist; ok = 0
            fi
        };
        if :: !ok -> goto again :: else -> skip fi;
        cancel_rc = 0;
        if
        :: to == CANCELLED ->
            TOUCH_N; assert(iup);                     /* LINKED published in->up */
            cancel_input_A(r);
#ifndef BUG_CANCEL_RUNS_FN
            if :: r -> fn(ECANCELED) :: else -> skip fi
#else
            fn(ECANCELED)
#endif
        :: else -> skip                               /* the attach will cancel */
        fi
    :: 1 -> skip                                      /* no cancel */
    fi;
done:
    node_put()
}

init {
    atomic {
        run producer();
        run attacher();
        run canceller()
    };
    (_nr_pr == 1);                                    /* everyone has finished */
    assert(freesA == 1 && freesN == 1);               /* both freed, once */
    assert(ran == 1);                                 /* fn exactly once */
    assert(settle_rc == 0 || settle_rc == 1);
    /* the producer was refused exactly when A was cancelled; then fn saw ECANCELED */
    assert((settle_rc == 1) == acanc);
    assert(!acanc || got == ECANCELED);
    /* a cancel request is never lost: made before the attach returned, it has reached A
     * by the time a later settle comes (a settle racing the attach may still win) */
    assert(!late || got == ECANCELED);
    /* a settled value went to fn or was dropped, exactly one of the two */
    assert((settle_rc == 0) == ((got == VALUE) + vdrop == 1));
    assert(vdrop <= 1)
}
