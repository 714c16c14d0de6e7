#!/usr/bin/env bash
# Soak: runs every stress test under ThreadSanitizer for about SECONDS in total (default
# 600), each test repeating its rounds for its share of the time (FUT_STRESS_SECONDS).
# CI runs each stress test once, briefly; this is the long run.
#
#   scripts/soak.sh [SECONDS] [THREADS]     THREADS: FUT_STRESS_THREADS (default 4)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages "${BASE_PACKAGES[@]}" || exit 1

total=${1:-600}
threads=${2:-4}
dir=.build/soak-tsan
if [ -d "$dir/meson-private" ]; then
    CC=clang meson setup --reconfigure "$dir" -Db_sanitize=thread -Db_lundef=false -Dbench=disabled -Dexamples=disabled >/dev/null
else
    CC=clang meson setup "$dir" -Db_sanitize=thread -Db_lundef=false -Dbench=disabled -Dexamples=disabled >/dev/null
fi
ninja -C "$dir" >/dev/null

progs=()
count=0
for p in "$dir"/tests/stress_*; do
    [ -x "$p" ] && [ -f "$p" ] || continue
    n=$("$p" --list 2>/dev/null | grep -c '── ' || true)
    progs+=("$p")
    count=$((count + n))
done
[ "$count" -gt 0 ] || { echo "no stress tests found" >&2; exit 1; }
each=$((total / count))
[ "$each" -ge 1 ] || each=1
echo "soak: $count stress tests, ${each}s each, $threads threads, ThreadSanitizer"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
export FUT_STRESS_SECONDS=$each FUT_STRESS_THREADS=$threads
status=0
for p in "${progs[@]}"; do
    echo "== $(basename "$p")"
    "$p" --jobs=1 || status=1
done
exit $status
