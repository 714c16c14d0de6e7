#!/usr/bin/env bash
# Exhaustive interleavings of fut.h's core races with spin (Debian package `spin`).
# Each model must verify with no error, and each planted bug must be caught: a model
# that cannot fail proves nothing. Prints the state counts; exit 0 only if all is as
# expected.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

status=0
# run MODEL [DEFINE]: prints "errors states"
run() {
    rm -f pan pan.* ./*.trail
    if ! spin ${2:+-D$2} -a "$here/$1" >spin.log 2>&1 || ! gcc -O2 -DSAFETY -o pan pan.c 2>>spin.log; then
        cat spin.log
        echo "x x"
        return
    fi
    ./pan -m10000000 >pan.log 2>&1
    local errors states
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log)
    states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' pan.log)
    echo "${errors:-x} ${states:-x}"
}

for m in fut.pml flatten.pml input.pml watch.pml; do
    read -r e s <<<"$(run "$m")"
    if [ "$e" = 0 ]; then
        echo "$m: verified, $s states, no error"
    else
        echo "$m: FAILED ($e errors)"
        status=1
    fi
done
for spec in fut.pml:BUG_CONSUMER_AFTER_CAS fut.pml:BUG_LOSER_LETS_GO fut.pml:BUG_LOST_WAKEUP \
    flatten.pml:BUG_NO_BUSY flatten.pml:BUG_IGNORE_RERUN input.pml:BUG_LOST_REQ \
    input.pml:BUG_CANCEL_RUNS_FN input.pml:BUG_NO_CREATOR_HOLD \
    watch.pml:BUG_IGNORE_WALK watch.pml:BUG_WALK_FIRES; do
    m=${spec%%:*} bug=${spec#*:}
    read -r e s <<<"$(run "$m" "$bug")"
    if [ "$e" != 0 ] && [ "$e" != x ]; then
        echo "$m -D$bug: caught ($(grep -oE 'assertion violated [^(]*|invalid end state' pan.log | head -1))"
    else
        echo "$m -D$bug: NOT caught"
        status=1
    fi
done
exit $status
