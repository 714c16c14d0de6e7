#!/usr/bin/env bash
# Runs .ci/run while every core is kept busy by a load this script starts and stops by
# PID, to show that CI stays green on a busy machine (no test depends on how fast it
# runs). Exits with .ci/run's status; the load is stopped however the run ends.
#
#   scripts/ci_under_load.sh [LOADERS]     # LOADERS: busy processes, default: the cores
#
# Each loader is a shell busy loop (no files, no memory) at the run's own priority: the
# tests get about half the CPU they would alone.
set -u
cd "$(dirname "$0")/.."
n=${1:-$(nproc 2>/dev/null || echo 2)}
case $n in '' | *[!0-9]*) echo "ci_under_load.sh: LOADERS must be a number" >&2; exit 2 ;; esac

pids=()
stop_load() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    pids=()
}
trap stop_load EXIT
trap 'exit 130' INT TERM

for _ in $(seq "$n"); do
    sh -c 'while :; do :; done' &
    pids+=("$!")
done
echo "ci_under_load.sh: $n busy loaders (PIDs ${pids[*]}) on $(nproc 2>/dev/null || echo '?') cores"

start=$(date +%s)
.ci/run
rc=$?
stop_load
for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && { echo "ci_under_load.sh: loader $p still runs" >&2; rc=1; }; done
echo "ci_under_load.sh: .ci/run exited $rc after $(( $(date +%s) - start )) s under load"
exit "$rc"
