#!/usr/bin/env bash
# Builds the fut fuzz harness with clang (libFuzzer + ASan + UBSan) into .build/fuzz and runs
# it for SECONDS on a copy of the seed corpus; the repository's corpus is never written.
# Prints libFuzzer's final statistics (executions, coverage) and exits non-zero on a crash,
# a leak, a timeout or a model/library disagreement (the input is in .build/fuzz/artifacts).
#
#   tests/fuzz/run_fuzz.sh SECONDS
#
# Environment: FUZZ_AVOID_KNOWN (default 0; see fuzz_fut.c),
# FUZZ_KEEP=1 (go on from the corpus a previous run left in .build/fuzz/corpus),
# FUZZ_FORK=N (N fuzzing processes), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
secs=${1:?usage: tests/fuzz/run_fuzz.sh SECONDS}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.build/fuzz
mkdir -p "$out/artifacts"
command -v clang >/dev/null || { echo "run_fuzz.sh: clang is needed (libFuzzer)" >&2; exit 2; }

clang -g -O1 -std=c11 -Wall -Wextra -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -DFUZZ_AVOID_KNOWN="${FUZZ_AVOID_KNOWN:-0}" -I"$root" "$root/tests/fuzz/fuzz_fut.c" -o "$out/fuzz_fut"

work=$out/corpus
if [ "${FUZZ_KEEP:-0}" != 1 ] || [ ! -d "$work" ]; then
    rm -rf "$work"
    mkdir -p "$work"
    cp "$root"/tests/fuzz/corpus/* "$work"/
fi

args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -max_len=1024
      -artifact_prefix="$out/artifacts/")
[ -n "${FUZZ_FORK:-}" ] && args+=(-fork="$FUZZ_FORK")
# shellcheck disable=SC2206
[ -n "${FUZZ_ARGS:-}" ] && args+=($FUZZ_ARGS)

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
set +e
"$out/fuzz_fut" "${args[@]}" "$work" >"$out/fuzz.log" 2>&1
rc=$?
set -e

# libFuzzer's last status line carries cov/ft; -print_final_stats adds the stat:: lines.
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$out/fuzz.log" | sed 's/^/libFuzzer: /' || true
grep -E '^stat::' "$out/fuzz.log" || true
if [ "$rc" -ne 0 ]; then
    echo "run_fuzz.sh: the fuzzer stopped with status $rc; the end of $out/fuzz.log:" >&2
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$out/fuzz.log" | tail -n 40 >&2
    ls -1 "$out"/artifacts/ 2>/dev/null | sed 's/^/  artifact: /' >&2
    exit "$rc"
fi
echo "run_fuzz.sh: $secs s, no crash; corpus now $(ls "$work" | wc -l) inputs (in $work)"
