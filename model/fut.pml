/* fut.pml - the core race of fut.h, checked exhaustively with spin.
 *
 * Two shared states: A, made by fut_promise_new, and B, the output of fut_then(A) whose
 * record waits on A. Three threads race on them, every atomic operation of fut.h being
 * one step here and every plain field access a separate step:
 *   producer   fut_promise_set(A)          (fut__settle_ex: load, CAS, hand-off)
 *   consumer   fut_then(A) -> B (fut__attach), then one of: fut_cancel(B) and drop,
 *              fut_wait(B) + fut_try_get (parking on a futex), or fut_drop(B)
 *   scheduler  runs B's record once it is delivered (fut__rec_run, fut__settle_rec)
 * spin explores every interleaving (sequentially consistent: memory orders are TSan's
 * job) and checks: no state is touched after it is freed, none is freed twice, both are
 * freed by the end, the continuation runs at most once, outcomes agree with who won.
 *
 * Planted bugs (spin -DBUG_...) show the model can fail:
 *   BUG_CONSUMER_AFTER_CAS  the settler reads A->consumer after its CAS (fut__settle_ex
 *                           reads it before: afterwards A may be freed)
 *   BUG_LOSER_LETS_GO       a record that lost to a cancel also lets go of its upstream
 *   BUG_LOST_WAKEUP         the waiter sleeps without the futex's "word unchanged" check */

#define SET  1
#define CANC 2
#define PROD 4
#define CONS 8
#define LINK 16
#define WAIT 32

byte wA = PROD | CONS;  /* A's word */
byte wB = PROD | CONS;  /* B's word */
bool freedA, freedB;
byte freesA, freesB;
bool upB;               /* B->up == A: B's record is linked to A (else it got A's outcome at once) */
byte delivered;         /* deliveries of A's outcome to B's record */
byte ran;               /* runs of the continuation */
byte settle_rc = 255;   /* producer: 0 settled, 1 ECANCELED */
byte cancel_rc = 255;   /* consumer's fut_cancel(B): 0, or 1 EALREADY */
byte seen = 255;        /* what the consumer took from B: 0 a value, 1 ECANCELED */
bool hook;              /* A's cancel hook ran (the producer observed the cancel) */
bool sleeping;          /* the consumer is parked on B's word (futex) */
bool pdone, cdone;
chan queue = [2] of { bit };  /* the scheduler's queue: B's record */

#define TOUCH_A assert(!freedA)
#define TOUCH_B assert(!freedB)
#define FREE_A atomic { assert(!freedA); freedA = 1; freesA++ }
#define FREE_B atomic { assert(!freedB); freedB = 1; freesB++ }

/* fut__release_cons(st, seen): free at once if the producer is gone, else fetch_and. */
inline release_cons_A(seenw) {
    if
    :: (seenw & SET) && !(seenw & PROD) -> FREE_A
    :: else ->
        atomic { TOUCH_A; old = wA; wA = wA & ~CONS };
        if :: !(old & PROD) -> FREE_A :: else -> skip fi
    fi
}
inline release_cons_B(seenw) {
    if
    :: (seenw & SET) && !(seenw & PROD) -> FREE_B
    :: else ->
        atomic { TOUCH_B; old = wB; wB = wB & ~CONS };
        if :: !(old & PROD) -> FREE_B :: else -> skip fi
    fi
}
/* fut__let_go: load, then release_cons. */
inline let_go_A() {
    atomic { TOUCH_A; lw = wA };
    release_cons_A(lw)
}
/* fut__release_prod */
inline release_prod_B() {
    atomic { TOUCH_B; old = wB; wB = wB & ~PROD };
    if :: !(old & CONS) -> FREE_B :: else -> skip fi
}
inline release_prod_A() {
    atomic { TOUCH_A; old = wA; wA = wA & ~PROD };
    if :: !(old & CONS) -> FREE_A :: else -> skip fi
}
/* fut__deliver: the record's input is written, then it is queued. */
inline deliver_B() {
    TOUCH_B;             /* c->value = ... */
    delivered++;
    queue ! 1
}

proctype producer()
{
    byte w, old, d;
    bool ok;
    atomic { TOUCH_A; w = wA };             /* acquire load */
    if :: !(w & LINK) -> TOUCH_A :: else -> skip fi   /* outcome fields stored */
retry:
    if
    :: (w & SET) ->                         /* a cancel won */
        release_prod_A();
        settle_rc = 1;
        goto out
    :: else -> skip
    fi;
#ifndef BUG_CONSUMER_AFTER_CAS
    if :: (w & LINK) -> TOUCH_A; d = 1 :: else -> d = 0 fi   /* consumer read before the CAS */
#endif
    atomic {
        TOUCH_A;
        if
        :: wA == w -> wA = (w | SET) & ~(PROD | LINK); ok = 1
        :: else -> w = wA; ok = 0
        fi
    };
    if :: !ok -> goto retry :: else -> skip fi;
#ifdef BUG_CONSUMER_AFTER_CAS
    if :: (w & LINK) -> TOUCH_A; d = 1 :: else -> d = 0 fi
#endif
    settle_rc = 0;
    if
    :: !(w & CONS) -> FREE_A                /* the consumer let go first */
    :: else -> if :: d -> deliver_B() :: else -> skip fi
    fi;
out:
    pdone = 1
}

proctype scheduler()
{
    byte w, old, lw;
    bool ok, up, lost;
    bit m;
    do
    :: queue ? m ->
        /* fut__rec_run(B) */
        atomic { TOUCH_B; w = wB };
        TOUCH_B;                            /* input read */
        if
        :: (w & SET) ->                     /* cancelled before it ran */
            release_prod_B()
        :: else ->
            ran++;                          /* the continuation */
            /* fut__settle_rec: up read first, then fut__settle_ex(B) */
            TOUCH_B;
            up = upB;
            atomic { TOUCH_B; w = wB };
            lost = 0;
            do
            :: (w & SET) ->                 /* lost to the canceller */
                release_prod_B();
#ifdef BUG_LOSER_LETS_GO
                if :: up -> let_go_A() :: else -> skip fi;
#endif
                lost = 1;
                break
            :: else ->
                atomic {
                    TOUCH_B;
                    if
                    :: wB == w -> wB = (w | SET) & ~(PROD | LINK); ok = 1
                    :: else -> w = wB; ok = 0
                    fi
                };
                if :: ok -> break :: else -> skip fi
            od;
            if
            :: !lost ->
                if
                :: !(w & CONS) -> FREE_B
                :: else -> if :: (w & WAIT) -> sleeping = 0 :: else -> skip fi  /* futex wake */
                fi;
                if :: up -> let_go_A() :: else -> skip fi   /* we won B: A is ours */
            :: else -> skip
            fi
        fi
    :: (pdone && cdone && empty(queue)) -> break
    od
}

proctype consumer()
{
    byte w, old, lw, aw;
    bool ok;
    /* fut_then(A): B's record is linked to A (fut__attach) unless A already settled */
    upB = 1;
    TOUCH_A;                                /* A->consumer = B */
    atomic { TOUCH_A; w = wA };
attach:
    if
    :: (w & SET) ->                         /* settled already: take A, deliver ourselves */
        TOUCH_A;                            /* outcome read */
        release_cons_A(w);
        upB = 0;
        deliver_B()
    :: else ->
        atomic {
            TOUCH_A;
            if
            :: wA == w -> wA = w | LINK; ok = 1
            :: else -> w = wA; ok = 0
            fi
        };
        if :: !ok -> goto attach :: else -> skip fi
    fi;
    /* then one of three things with B */
    if
    :: 1 ->                                 /* fut_cancel(B), then fut_drop(B) */
        atomic { TOUCH_B; w = wB };
cancel:
        if
        :: (w & SET) -> cancel_rc = 1
        :: else ->
            atomic {
                TOUCH_B;
                if
                :: wB == w -> wB = w | SET | CANC; ok = 1
                :: else -> w = wB; ok = 0
                fi
            };
            if :: !ok -> goto cancel :: else -> skip fi;
            cancel_rc = 0;
            /* fut__cancel_up(B): B is a record linked upstream (if up) */
            TOUCH_B;
            if
            :: upB ->
                atomic { TOUCH_A; aw = wA };
walk:
                if
                :: (aw & SET) -> let_go_A()  /* A settled first: its record loses B */
                :: else ->
                    atomic {
                        TOUCH_A;
                        if
                        :: wA == aw -> wA = (aw | SET | CANC) & ~LINK; ok = 1
                        :: else -> aw = wA; ok = 0
                        fi
                    };
                    if :: !ok -> goto walk :: else -> skip fi;
                    release_prod_B();        /* B's record is unlinked: it never runs */
                    hook = 1;                /* A is a promise: its hook runs */
                    release_cons_A(0)        /* the walk held A */
                fi
            :: else -> skip
            fi
        fi;
        /* fut_drop(B) */
        atomic { TOUCH_B; w = wB };
drop1:
        if
        :: (w & SET) ->
            if :: (w & CANC) -> seen = 1 :: else -> TOUCH_B; seen = 0 fi;
            release_cons_B(w)
        :: else ->
            atomic {
                TOUCH_B;
                if
                :: wB == w -> wB = w & ~CONS; ok = 1
                :: else -> w = wB; ok = 0
                fi
            };
            if :: !ok -> goto drop1 :: else -> skip fi
        fi
    :: 1 ->                                 /* fut_wait(B) (park), then take */
        atomic { TOUCH_B; w = wB };
park:
        if
        :: (w & SET) -> skip
        :: else ->
            if
            :: !(w & WAIT) ->
                atomic {
                    TOUCH_B;
                    if
                    :: wB == w -> wB = w | WAIT; w = w | WAIT; ok = 1
                    :: else -> w = wB; ok = 0
                    fi
                };
                if :: !ok -> goto park :: else -> skip fi
            :: else -> skip
            fi;
#ifndef BUG_LOST_WAKEUP
            /* futex_wait: sleeps only while the word still equals w */
            atomic { TOUCH_B; if :: wB == w -> sleeping = 1 :: else -> skip fi };
#else
            atomic { sleeping = 1 };
#endif
            (!sleeping);
            atomic { TOUCH_B; w = wB };
            goto park
        fi;
        if :: (w & CANC) -> seen = 1 :: else -> TOUCH_B; seen = 0 fi;
        release_cons_B(w)
    :: 1 ->                                 /* fut_drop(B) at once */
        atomic { TOUCH_B; w = wB };
drop2:
        if
        :: (w & SET) -> TOUCH_B; release_cons_B(w)
        :: else ->
            atomic {
                TOUCH_B;
                if
                :: wB == w -> wB = w & ~CONS; ok = 1
                :: else -> w = wB; ok = 0
                fi
            };
            if :: !ok -> goto drop2 :: else -> skip fi
        fi
    fi;
    cdone = 1
}

init {
    atomic {
        run producer();
        run consumer();
        run scheduler()
    };
    (_nr_pr == 1);                          /* everyone has finished */
    assert(freesA == 1 && freesB == 1);     /* both freed, once */
    assert(ran <= 1 && delivered <= 1);
    assert(settle_rc == 0 || settle_rc == 1);
    /* the producer lost exactly when a cancel reached A first, and then its hook ran */
    assert((settle_rc == 1) == hook);
    assert(settle_rc == 0 || cancel_rc == 0);
    /* a consumer that took a value saw the continuation run; a cancel that won shows */
    assert(seen != 0 || ran == 1);
    assert(cancel_rc != 0 || seen == 1);
    /* a cancel that reached A means the continuation never ran */
    assert(!hook || ran == 0)
}
