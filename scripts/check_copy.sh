#!/usr/bin/env bash
# Way 2, copying: puts only headers into an empty folder with a program and builds it with
# a plain compiler line, no meson, no -I: `CC -std=c11 -Wall -Wextra -Wpedantic -Werror
# -pthread prog.c`, then runs it. Proves that
#   - all of stats.h pool.h fut.h batch.h (those that exist) work copied together: the
#     user's program (tests/consumer-meson/main.c), examples/01 with its expected output,
#     and a file that includes every header;
#   - each header works with only the headers its top comment names beside it:
#     batch.h + fut.h + pool.h + stats.h, fut.h + pool.h + stats.h, pool.h + stats.h,
#     stats.h alone (each program includes only the header it is about);
#   - a program of two .c files (tests/two_units: fut_impl.c defines FUT_IMPLEMENTATION,
#     main.c uses a future, a when_all and a pool through the declarations and inline hot
#     paths) links and runs, at -O0 and -O2; built with main.c under -DFUT_NO_FUTEX or
#     -DFUT_CACHE_LINE=128, the init functions give EINVAL (not objects shared with two
#     layouts); FUT_IMPLEMENTATION in two files fails to link;
#   - under -std=c11, a program that includes <stdio.h> before fut.h builds and runs when
#     _POSIX_C_SOURCE=200809L is given on the command line, and without it fails with
#     the headers' own #error (fut.h's message among them) before any other error.
# Works in a temp dir; leaves nothing behind. Quiet on success; exit 0 or 1.
#
#   scripts/check_copy.sh gcc
set -euo pipefail

cc=${1:?usage: $0 CC}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v "$cc" >/dev/null || { echo "no compiler: $cc" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fut-copy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c11 -Wall -Wextra -Wpedantic -Werror -pthread)
failed=0
fail() {
    echo "check_copy ($cc): $1" >&2
    [ -n "${2:-}" ] && [ -s "$2" ] && sed 's/^/    /' "$2" | tail -n 30 >&2
    failed=1
}

all=()
for h in stats.h pool.h fut.h batch.h workers.h; do
    [ -f "$root/$h" ] && all+=("$h")
done

# A stats-only program and a pool program; the fut program is the consumer's main.c.
cat >"$tmp/stats_main.c" <<'EOF'
#define FUT_IMPLEMENTATION
#include "stats.h"
#include <stdio.h>

int main(void)
{
    fut_stats st;
    if (fut_stats_init(&st, 2) != 0)
        return 1;
    fut_stats_inc(&st, FUT_STAT_SPAWNED);
    fut_stats_add(&st, FUT_STAT_SPAWNED, 2);
    fut_stats_time(&st, 1000);
    fut_stats_snap s;
    int rc = fut_stats_snapshot(&st, &s);
    fut_stats_destroy(&st);
    int ok = rc == 0 && s.c[FUT_STAT_SPAWNED] == 3 && s.samples == 1;
    printf("stats: spawned %llu, samples %llu: %s\n", (unsigned long long)s.c[FUT_STAT_SPAWNED],
           (unsigned long long)s.samples, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
EOF
cat >"$tmp/pool_main.c" <<'EOF'
#define FUT_IMPLEMENTATION
#include "pool.h"
#include <stdio.h>

int main(void)
{
    fut_pool pool;
    fut_pool_config cfg = {.size = 48, .capacity = 4};
    if (fut_pool_init(&pool, &cfg) != 0)
        return 1;
    void *a = fut_pool_acquire(&pool);
    int rel = fut_pool_release(&pool, a);
    void *b = fut_pool_acquire(&pool); /* the most recently released object */
    int ok = a != NULL && rel == 0 && b == a && fut_pool_release(&pool, b) == 0;
    fut_pool_destroy(&pool);
    printf("pool: reused %s: %s\n", b == a ? "yes" : "no", ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
EOF
{
    printf '#define FUT_IMPLEMENTATION\n'
    for h in "${all[@]}"; do printf '#include "%s"\n' "$h"; done
    printf 'int main(void) { return 0; }\n'
} >"$tmp/every_main.c"
# A copier keeps the headers beside the program and includes them by name.
sed 's|^#include <fut/fut.h>$|#include "fut.h"|' "$root/tests/consumer-meson/main.c" >"$tmp/fut_main.c"
grep -q '^#include "fut.h"$' "$tmp/fut_main.c" || { echo "check_copy: main.c does not #include <fut/fut.h>" >&2; exit 1; }

# run NAME WANT SRC HEADERS... : an empty folder with only HEADERS and SRC (as main.c);
# builds with flags (plus $extra), runs, and wants WANT in what it prints.
extra=()
run() {
    local name=$1 want=$2 src=$3
    shift 3
    local dir=$tmp/$name
    mkdir "$dir"
    for h in "$@"; do cp "$root/$h" "$dir/"; done
    cp "$src" "$dir/main.c"
    local cmd=("$cc" "${flags[@]}" "${extra[@]}" main.c -o prog)
    if ! (cd "$dir" && "${cmd[@]}") >"$dir/log" 2>&1; then
        fail "$name: does not build with only [$*]: ${cmd[*]}" "$dir/log"
        return
    fi
    local out
    if ! out=$(cd "$dir" && ./prog 2>&1) || [[ "$out" != *"$want"* ]]; then
        printf '%s\n' "$out" >"$dir/log"
        fail "$name: ran wrong (wanted \"$want\")" "$dir/log"
    fi
}

run all "ok" "$tmp/fut_main.c" "${all[@]}"
run all-headers "" "$tmp/every_main.c" "${all[@]}"
if [ -f "$root/examples/01_first_future.c" ] && [ -f "$root/examples/expected/01_first_future.txt" ]; then
    run example-01 "$(cat "$root/examples/expected/01_first_future.txt")" \
        "$root/examples/01_first_future.c" "${all[@]}"
fi
if [ -f "$root/batch.h" ]; then
    printf '#define FUT_IMPLEMENTATION\n#include "batch.h"\nint main(void) { return 0; }\n' >"$tmp/batch_main.c"
    run batch "" "$tmp/batch_main.c" batch.h fut.h pool.h stats.h
fi
run fut "ok" "$tmp/fut_main.c" fut.h pool.h stats.h
run pool "ok" "$tmp/pool_main.c" pool.h stats.h
run stats "ok" "$tmp/stats_main.c" stats.h

# Two units: the stb shape.
if [ -f "$root/batch.h" ]; then
    two=$tmp/two
    mkdir "$two"
    cp "$root/batch.h" "$root/fut.h" "$root/pool.h" "$root/stats.h" "$root"/tests/two_units/*.c "$two/"
    for opt in -O0 -O2; do
        if ! (cd "$two" && "$cc" "${flags[@]}" $opt main.c fut_impl.c -o prog) >"$two/log" 2>&1; then
            fail "two units ($opt): do not build: $cc ${flags[*]} $opt main.c fut_impl.c" "$two/log"
        elif ! out=$(cd "$two" && ./prog 2>&1) || [[ "$out" != "two units: ok" ]]; then
            printf '%s\n' "$out" >"$two/log"
            fail "two units ($opt): ran wrong" "$two/log"
        fi
    done
    # EINVAL is 22 on Linux. FUT_NO_FUTEX changes the state (env), FUT_CACHE_LINE the
    # stats shards (and through them the pool and the env).
    for macro in -DFUT_NO_FUTEX -DFUT_CACHE_LINE=128; do
        want="init: stats 0 pool 0 env 22"
        [ "$macro" = -DFUT_CACHE_LINE=128 ] && want="init: stats 22 pool 22 env 22"
        out=$(cd "$two" && "$cc" "${flags[@]}" -c fut_impl.c -o impl.o && "$cc" "${flags[@]}" $macro -c main.c -o main.o &&
            "$cc" -pthread main.o impl.o -o mixed && { ./mixed 2>&1 || true; }) || out="(did not build)"
        if [[ "$out" != "$want" ]]; then
            printf '%s\n' "$out" >"$two/log"
            fail "two units, main.c with $macro: wanted \"$want\" (EINVAL, not two layouts)" "$two/log"
        fi
    done
    cp "$two/fut_impl.c" "$two/impl2.c"
    if (cd "$two" && "$cc" "${flags[@]}" main.c fut_impl.c impl2.c -o twice) >"$two/log" 2>&1; then
        fail "two units: FUT_IMPLEMENTATION in two files linked (wanted duplicate symbols)"
    fi
fi

# <stdio.h> first: fine with the feature macro on the command line...
{ printf '#include <stdio.h>\n'; cat "$tmp/fut_main.c"; } >"$tmp/stdio_first.c"
extra=(-D_POSIX_C_SOURCE=200809L)
run stdio-first-posix "ok" "$tmp/stdio_first.c" fut.h pool.h stats.h
extra=()

# ...and without it, the headers' own #error, first. Its text is read from fut.h.
msg=$(sed -n 's/^#error "\(.*_POSIX_C_SOURCE.*\)"$/\1/p' "$root/fut.h" | head -n 1)
if [ -z "$msg" ]; then
    fail "fut.h has no #error naming _POSIX_C_SOURCE"
else
    mkdir "$tmp/stdio-first"
    cp "$root/fut.h" "$root/pool.h" "$root/stats.h" "$tmp/stdio_first.c" "$tmp/stdio-first/"
    if (cd "$tmp/stdio-first" && "$cc" "${flags[@]}" stdio_first.c -o prog) >"$tmp/stdio-first/log" 2>&1; then
        fail "stdio-first: built without _POSIX_C_SOURCE; wanted fut.h's #error \"$msg\"" "$tmp/stdio-first/log"
    else
        # The headers' #error texts; the first error the compiler reports must be one.
        first=$(grep -m 1 'error' "$tmp/stdio-first/log" || true)
        clear=0
        while IFS= read -r m; do
            [ -n "$m" ] && [[ "$first" == *"$m"* ]] && clear=1
        done < <(sed -n 's/^#error "\(.*\)"$/\1/p' "$root/fut.h" "$root/pool.h" "$root/stats.h")
        if ! grep -qF "$msg" "$tmp/stdio-first/log"; then
            fail "stdio-first: fut.h's #error \"$msg\" not reported" "$tmp/stdio-first/log"
        elif [ "$clear" -ne 1 ]; then
            fail "stdio-first: the first error is not the headers' #error: $first" "$tmp/stdio-first/log"
        fi
    fi
fi

exit "$failed"
