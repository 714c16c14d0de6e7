#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_fut.c into corpus/ (beside this file).

Each seed is a short program in the harness's byte code: an op byte, two argument
bytes, and for some ops more (see LLVMFuzzerTestOneInput in fuzz_fut.c). The seeds
cover each operation once and the scenarios worth starting from: chains on both
schedulers, flattening, cancellation travelling upstream, split pointers, the
combinators, drops and bad handles. Run it again after changing the byte code."""
import os

NEW, SET, FAIL, SET_PTR, DROP_P, THEN, RECOVER, FINALLY, SPLIT, CANCEL, TRY_GET, DROP, \
    RUN_ONE, RUN_ALL, WHEN_ALL, WHEN_ANY, FOLD, READY, ON_CANCEL, POLL, IS_READY, \
    WHEN_SETTLED, SPAWN, BATCH_SPAWN, FLUSH, FAIL_NEXT, WAIT0, GET = range(28)
VAL, ERR, PASS, FLAT = range(4)
MANUAL, INLINE, CAPPED = 0, 1, 2          # the capped manual scheduler refuses past 3 queued
EIO_, ENOENT_, EPERM_, ZERO = 1, 2, 3, 0   # FAIL's argument, mod 4


def new(p, f): return [NEW, p, f]
def set_(p, v, via_settle=False): return [SET, p + 6 * via_settle, v & 0xff]
def fail(p, e, via_settle=False): return [FAIL, p + 6 * via_settle, e]
def set_ptr(p): return [SET_PTR, p, 0]
def drop_p(p): return [DROP_P, p, 0]
def chain(op, f, kind, sched, arg=0): return [op, f, kind * 3 + sched, arg & 0xff]
def then(f, kind=VAL, sched=MANUAL, arg=1): return chain(THEN, f, kind, sched, arg)
def recover(f, kind=VAL, sched=MANUAL, arg=1): return chain(RECOVER, f, kind, sched, arg)
def finally_(f, kind=PASS, sched=MANUAL, arg=0): return chain(FINALLY, f, kind, sched, arg)
def split(f, n): return [SPLIT, f, n - 1]
def cancel(f): return [CANCEL, f, 0]
def try_get(f): return [TRY_GET, f, 0]
def drop(f): return [DROP, f, 0]
def run_one(q=0): return [RUN_ONE, q, 0]
def run_all(q=0): return [RUN_ALL, q, 0]
def join(op, slots, init=0):
    # a2 is the first slot (a2 % 12) and the fold's initial value (a2 % 7)
    first = next(a for a in range(84) if a % 12 == slots[0] and a % 7 == init % 7)
    return [op, len(slots) - 1, first] + slots[1:]
def when_all(*s): return join(WHEN_ALL, list(s))
def when_any(*s): return join(WHEN_ANY, list(s))
def when_settled(*s): return join(WHEN_SETTLED, list(s))
def spawn(f, kind=VAL, sched=MANUAL, arg=1): return [SPAWN, f, kind * 3 + sched, arg & 0xff]
def batch_spawn(f, kind=VAL, arg=1): return [BATCH_SPAWN, f, kind * 3, arg & 0xff]
def flush(): return [FLUSH, 0, 0]
def fail_next(): return [FAIL_NEXT, 0, 0]
def wait0(f): return [WAIT0, f, 0]
def get(f): return [GET, f, 0]
def fold(*s, init=0): return join(FOLD, list(s), init)
def ready(f, v): return [READY, f, 0, v & 0xff]
def failed(f, e): return [READY, f, 1, e & 0xff]
def ready_ptr(f): return [READY, f, 2, 0]
def on_cancel(p): return [ON_CANCEL, p, 0]
def poll(p): return [POLL, p, 0]
def is_ready(f): return [IS_READY, f, 0]


SEEDS = {
    "set_and_get": new(0, 0) + try_get(0) + is_ready(0) + set_(0, 5) + is_ready(0) + try_get(0),
    "fail_and_get": new(0, 0) + fail(0, EIO_) + try_get(0),
    "fail_zero_is_einval": new(0, 0) + fail(0, ZERO) + try_get(0),
    "ptr_taken": new(0, 0) + set_ptr(0) + try_get(0),
    "ptr_dropped": new(0, 0) + set_ptr(0) + drop(0),
    "ptr_after_drop": new(0, 0) + drop(0) + set_ptr(0),
    "broken_promise": new(0, 0) + then(0) + drop_p(0) + run_all() + try_get(0),
    "double_settle": new(0, 0) + set_(0, 1) + set_(0, 2) + set_ptr(0) + try_get(0),
    "then_manual": new(0, 0) + then(0, VAL, MANUAL, 3) + set_(0, 4) + try_get(0) + run_one() + try_get(0),
    "then_inline_ready": ready(0, 7) + then(0, VAL, INLINE, 2) + try_get(0),
    "chain_of_five": new(0, 0) + then(0, VAL) + then(0, ERR, MANUAL, 1) + recover(0, VAL)
    + then(0, VAL) + finally_(0) + set_(0, 1) + run_all() + try_get(0),
    "chain_inline_errors": new(0, 0) + then(0, ERR, INLINE, 2) + then(0, VAL, INLINE)
    + recover(0, PASS, INLINE) + fail(0, EPERM_) + try_get(0),
    "flatten_pending": new(0, 0) + new(1, 1) + then(0, FLAT, MANUAL, 1) + set_(0, 1) + run_all()
    + try_get(0) + set_(1, 8) + run_all() + try_get(0),
    "flatten_inline_fast": new(1, 1) + ready(0, 3) + then(0, FLAT, INLINE, 1) + set_(1, 6) + try_get(0),
    "flatten_settled": new(1, 1) + set_ptr(1) + new(0, 0) + then(0, FLAT, INLINE, 1) + set_(0, 2) + try_get(0),
    "flatten_empty": new(0, 0) + then(0, FLAT, MANUAL, 5) + set_(0, 1) + run_all() + try_get(0),
    "cancel_upstream": new(0, 0) + on_cancel(0) + then(0) + then(0) + cancel(0) + poll(0) + set_(0, 1) + try_get(0),
    "cancel_flattened": new(0, 0) + new(1, 1) + on_cancel(1) + then(0, FLAT, INLINE, 1) + set_(0, 1)
    + cancel(0) + poll(1) + try_get(0),
    "cancel_queued_ptr": new(0, 0) + then(0, PASS) + set_ptr(0) + cancel(0) + run_one() + try_get(0),
    "hook_after_cancel": new(0, 0) + on_cancel(0) + cancel(0) + on_cancel(0) + new(1, 1) + cancel(1)
    + on_cancel(1) + on_cancel(1) + drop_p(0),
    "drop_is_not_cancel": new(0, 0) + on_cancel(0) + then(0, VAL) + drop(0) + poll(0) + set_(0, 2) + run_all(),
    "split_ptr": new(0, 0) + split(0, 3) + then(0, PASS) + then(1, VAL) + then(2, VAL) + set_ptr(0)
    + run_all() + try_get(0) + try_get(1) + try_get(2),
    "split_cancel_owner": new(0, 0) + split(0, 3) + cancel(2) + set_ptr(0) + try_get(0) + try_get(1) + drop(2),
    "when_all_mixed": new(0, 0) + ready(1, 5) + ready_ptr(2) + new(1, 3) + when_all(0, 1, 2, 3)
    + set_(0, 1) + set_ptr(1) + try_get(0),
    "when_all_fail_fast": new(0, 0) + failed(1, 5) + when_all(0, 1) + set_ptr(0) + try_get(0),
    "when_all_ready": ready(0, 1) + ready_ptr(1) + when_all(0, 1) + try_get(0),
    "when_all_then": new(0, 0) + ready(1, 2) + when_all(0, 1) + then(0, PASS) + set_(0, 3) + run_all() + try_get(0),
    "when_any_first": new(0, 0) + new(1, 1) + when_any(0, 1) + set_(1, 4) + try_get(0) + set_(0, 2),
    "when_any_all_fail": new(0, 0) + failed(1, 3) + when_any(0, 1) + fail(0, EIO_) + try_get(0),
    "when_any_cancel": new(0, 0) + new(1, 1) + on_cancel(0) + when_any(0, 1) + cancel(0) + poll(0) + poll(1),
    "fold_in_order": new(0, 0) + new(1, 1) + ready(2, 3) + fold(0, 1, 2, init=2) + set_(1, 5) + set_(0, 6) + try_get(0),
    "fold_error": new(0, 0) + failed(1, 7) + new(1, 2) + fold(0, 1, 2) + set_(0, 1) + set_ptr(1) + try_get(0),
    "empty_handles": then(3) + split(4, 2) + cancel(5) + try_get(6) + drop(7) + when_all(8, 9) + try_get(8),
    "run_order": new(0, 0) + new(1, 1) + then(0) + then(1) + set_(1, 1) + set_(0, 2) + run_one() + try_get(1)
    + run_one() + try_get(0) + run_one(),
    "recover_ptr_passes": new(0, 0) + recover(0, VAL) + set_ptr(0) + run_all() + drop(0),
    "finally_on_error": new(0, 0) + finally_(0, VAL, INLINE, 4) + fail(0, ENOENT_) + try_get(0),
    "settle_via_result": new(0, 0) + new(1, 1) + set_(0, 3, True) + fail(1, ZERO, True) + get(0) + get(1),
    "capped_refuses": new(0, 0) + then(0, VAL, CAPPED) + then(0, VAL, CAPPED) + ready(1, 1) + then(1, VAL, CAPPED)
    + ready(2, 2) + then(2, VAL, CAPPED) + ready(3, 3) + then(3, VAL, CAPPED) + try_get(3) + set_(0, 1)
    + run_all(1) + try_get(0),
    "spawn_each_scheduler": spawn(0, VAL, MANUAL) + spawn(1, ERR, INLINE, 1) + spawn(2, PASS, CAPPED)
    + wait0(0) + run_all(0) + run_all(1) + get(0) + get(1) + get(2),
    "batch_threshold_and_flush": batch_spawn(0) + batch_spawn(1, VAL, 2) + batch_spawn(2) + flush()
    + run_all(1) + try_get(0) + try_get(2),
    "batch_refused": ready(5, 1) + then(5, VAL, CAPPED) + ready(6, 1) + then(6, VAL, CAPPED) + batch_spawn(0)
    + batch_spawn(1) + try_get(0) + run_all(1),
    "enomem_promise": fail_next() + new(0, 0) + try_get(0) + set_(0, 1),
    "enomem_then_pending": new(0, 0) + fail_next() + then(0) + try_get(0) + set_ptr(0),
    "enomem_then_ready": ready_ptr(0) + fail_next() + then(0, VAL, MANUAL) + try_get(0),
    "enomem_inline_allocates_nothing": ready(0, 1) + fail_next() + then(0, VAL, INLINE) + new(1, 1) + try_get(1),
    "enomem_split": new(0, 0) + fail_next() + split(0, 3) + split(0, 3) + set_(0, 2) + try_get(0) + try_get(1),
    "enomem_when_all": new(0, 0) + ready_ptr(1) + fail_next() + when_all(0, 1) + try_get(0) + set_ptr(0),
    "enomem_when_all_block": new(0, 0) + ready(1, 1) + new(1, 2) + fail_next() + when_any(0, 1) + fail_next()
    + fold(0, 2) + try_get(0),
    "enomem_spawn": fail_next() + spawn(0) + fail_next() + batch_spawn(1) + try_get(0) + try_get(1),
    "when_settled_mixed": new(0, 0) + failed(1, 4) + ready_ptr(2) + when_settled(0, 1, 2) + set_(0, 6) + try_get(0),
    # nesting: a join over a join's output (slot 0), settled from the inside, failed, cancelled
    "nested_joins_settle": new(0, 0) + new(1, 1) + when_all(0, 1) + new(2, 2) + when_any(0, 2)
    + new(3, 3) + when_all(0, 3) + set_(1, 4) + set_(3, 5) + set_ptr(0) + try_get(0) + set_(2, 1),
    "nested_joins_fail": new(0, 0) + new(1, 1) + when_all(0, 1) + new(2, 2) + when_all(0, 2)
    + new(3, 3) + fold(0, 3) + fail(0, EIO_) + try_get(0) + set_ptr(1) + set_(3, 2),
    "nested_joins_cancel": new(0, 0) + on_cancel(0) + new(1, 1) + on_cancel(1) + when_all(0, 1)
    + new(2, 2) + on_cancel(2) + when_any(0, 2) + then(0, VAL, INLINE) + cancel(0) + poll(0) + poll(1)
    + poll(2) + set_ptr(1),
    "nested_joins_through_then": new(0, 0) + new(1, 1) + when_all(0, 1) + then(0, PASS, INLINE)
    + new(2, 2) + when_settled(0, 2) + fail(2, EPERM_) + set_(0, 3) + set_ptr(1) + try_get(0),
}

# Inputs the fuzzer found, kept as they were found (raw bytes).
FOUND = {
    # a join's slot whose delivery is queued on the run list (not run inside the settle)
    # when a split output is cancelled and recovered on the manual scheduler
    "found_queued_slot_delivery": bytes.fromhex("005c5c5c5c5c5c5c5c5c8e26300000000500060103000009"
                                                "00b6b600010a0000"),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    for name, prog in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(b & 0xff for b in prog))
    for name, raw in sorted(FOUND.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(raw)
    print(f"{len(SEEDS) + len(FOUND)} seeds in {out}")


if __name__ == "__main__":
    main()
