#!/usr/bin/env bash
# The full test suite. Builds and tests with gcc and clang (-Werror), the futex-less
# fallback, ThreadSanitizer and AddressSanitizer+UBSan; compiles every header alone with
# the strict flags. Installs what it needs when run as root. Ends with "N passed, N failed"
# (N counts each Criterion test in each configuration and each other check once).
#
#   ./test.sh              everything
#   ./test.sh gcc tsan     only those parts (headers docs use model gcc clang nofutex tsan asan fuzz)
#   FUT_FUZZ_SECONDS=600 ./test.sh fuzz     a longer fuzzing run (default 60 s)
set -u
cd "$(dirname "$0")"
. scripts/deps.sh
need_packages "${BASE_PACKAGES[@]}" || exit 1

PASS=0
FAIL=0
mkdir -p .build/logs
WANT=" ${*:-headers docs use model gcc clang nofutex tsan asan fuzz} "
wanted() { [[ "$WANT" == *" $1 "* ]]; }

note() { printf '%-44s %s\n' "$1" "$2"; }

# check NAME CMD...: one pass or one fail.
check() {
    local name=$1
    shift
    if "$@" >".build/logs/$name.log" 2>&1; then
        PASS=$((PASS + 1))
        note "$name" ok
    else
        FAIL=$((FAIL + 1))
        note "$name" FAILED
        tail -n 40 ".build/logs/$name.log" | sed 's/^/    /'
    fi
}

# suite NAME CC MESON_OPTION...: configure, build, run every meson test; counts each
# Criterion test (see scripts/count.py).
suite() {
    local name=$1 cc=$2
    shift 2
    local dir=.build/$name
    local setup=(meson setup "$dir" -Dwerror=true -Dbench=disabled "$@")
    [ -d "$dir/meson-private" ] && setup=(meson setup --reconfigure "$dir" -Dwerror=true -Dbench=disabled "$@")
    if ! CC=$cc "${setup[@]}" >".build/logs/$name-build.log" 2>&1 ||
        ! ninja -C "$dir" >>".build/logs/$name-build.log" 2>&1; then
        FAIL=$((FAIL + 1))
        note "$name: build" FAILED
        grep -E "error|Error|ERROR" ".build/logs/$name-build.log" | head -n 20 | sed 's/^/    /'
        return
    fi
    rm -f "$dir/meson-logs/testlog.json"
    local rc=0
    meson test -C "$dir" --num-processes 2 --print-errorlogs >".build/logs/$name.log" 2>&1 || rc=$?
    local counts p f
    counts=$(python3 scripts/count.py "$dir/meson-logs/testlog.json" 2>/dev/null || echo "0 0")
    read -r p f <<<"$counts"
    # A rebuild that failed inside meson test leaves no test log: that is a failure, not
    # "0 tests ok".
    if [ "$p" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
        f=$((f + 1))
    fi
    PASS=$((PASS + p))
    FAIL=$((FAIL + f))
    if [ "$f" -eq 0 ]; then
        note "$name: $p tests" ok
    else
        note "$name: $f of $((p + f)) tests" FAILED
        grep -E "FAIL|ERROR|WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error" \
            ".build/logs/$name.log" | head -n 30 | sed 's/^/    /'
    fi
}

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=1 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1 ${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp print_suppressions=0 ${LSAN_OPTIONS:-}"

if wanted headers; then
    for h in stats.h pool.h fut.h batch.h workers.h; do
        [ -f "$h" ] || continue
        for cc in gcc clang; do
            # Declarations only (a file that uses nothing must link without the
            # implementation unit, even at -O0), then the unit holding the definitions,
            # then everything private to one unit.
            for mode in "-O0" "-DFUT_IMPLEMENTATION" "-DFUT_STATIC"; do
                check "alone: $h with $cc $mode" sh -c "printf '#include \"$h\"\nint main(void){return 0;}\n' |
                    $cc $mode -std=c11 -Wall -Wextra -Wpedantic -Werror -I. -x c - -o /dev/null -pthread"
            done
        done
    done
fi
wanted docs && check "README tour matches the examples" python3 scripts/check_readme.py
# bench/sample.json is a real bench/run --json from the 2-core development VM.
wanted docs && check "bench table fits 100 columns" \
    sh -c 'python3 bench/table.py <bench/sample.json | awk "length > 100 { bad = 1 } END { exit bad }"'
# A per-test wall-clock limit is a timing assertion: a correct run on a busy 2-core machine
# can exceed it. Hangs are caught by meson's per-executable timeout (tests/meson.build).
wanted docs && check "tests: no per-test Criterion timeouts" \
    sh -c '! grep -n "\.timeout[[:space:]]*=" tests/*.c tests/*/*.c 2>/dev/null'
if wanted use; then # the three ways users take fut
    for cc in gcc clang; do
        check "use: meson subproject ($cc)" scripts/check_consumer.sh "$cc"
        check "use: copied headers ($cc)" scripts/check_copy.sh "$cc"
        check "use: installed, pkg-config ($cc)" scripts/check_install.sh "$cc"
        check "use: the README's wrap at the release tag ($cc)" scripts/check_wrap.sh "$cc"
        check "use: from C++ (${cc/gcc/g}++)" scripts/check_cpp.sh "${cc/gcc/g}++" "$cc"
    done
fi
wanted model && check "model: exhaustive interleavings (spin)" model/check.sh
wanted gcc && suite gcc gcc
wanted clang && suite clang clang
wanted nofutex && suite nofutex gcc -Dc_args=-DFUT_NO_FUTEX
wanted tsan && suite tsan clang -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debugoptimized
wanted asan && suite asan gcc -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all

wanted fuzz && check "fuzz: ${FUT_FUZZ_SECONDS:-60} s against the reference model" \
    tests/fuzz/run_fuzz.sh "${FUT_FUZZ_SECONDS:-60}"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
