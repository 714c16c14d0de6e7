#!/usr/bin/env bash
# C++ consumers: the headers compile and work from C++23 (whose <stdatomic.h> is what they
# need) with the warnings of the C build as errors. With CXX (g++ or clang++) and its C
# compiler CC:
#   - each header alone compiles in the three modes (declarations, FUT_IMPLEMENTATION,
#     FUT_STATIC);
#   - tests/cpp/main.cpp (a future settled from a std::thread, continuations, a when_all
#     over pooled states, a manual scheduler, an owned pointer freed once) links and runs
#     with the definitions in a C unit (tests/cpp/fut_impl.c, at -O0 and -O2), as the
#     implementation unit itself, and with FUT_STATIC; the C-unit build runs once more
#     under ThreadSanitizer (clang) or AddressSanitizer+UBSan (gcc);
#   - under C++20 the first error is the headers' own #error, naming what they need.
# Works in a temp dir; quiet on success; exit 0 or 1.
#
#   scripts/check_cpp.sh g++ gcc
set -euo pipefail

cxx=${1:?usage: $0 CXX CC}
cc=${2:?usage: $0 CXX CC}
root=$(cd "$(dirname "$0")/.." && pwd)
for c in "$cxx" "$cc"; do
    command -v "$c" >/dev/null || { echo "no compiler: $c" >&2; exit 1; }
done
std=-std=c++23 # clang before 17 spells it c++2b
echo 'int main(){}' | "$cxx" $std -x c++ - -o /dev/null 2>/dev/null || std=-std=c++2b

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fut-cpp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
warn=(-Wall -Wextra -Wpedantic -Werror)
failed=0
fail() {
    echo "check_cpp ($cxx): $1" >&2
    [ -s "$tmp/log" ] && sed 's/^/    /' "$tmp/log" | tail -n 30 >&2
    failed=1
}
run() { # what, command...: quiet unless it fails
    local what=$1
    shift
    "$@" >"$tmp/log" 2>&1 || fail "$what"
}

for h in stats.h pool.h fut.h batch.h workers.h; do
    printf '#include "%s"\nint main(){return 0;}\n' "$h" >"$tmp/alone.cpp"
    for mode in -O0 -DFUT_IMPLEMENTATION -DFUT_STATIC; do
        run "$h alone, $mode" "$cxx" $std $mode "${warn[@]}" -I"$root" "$tmp/alone.cpp" \
            -o "$tmp/alone" -pthread
    done
done

main=$root/tests/cpp/main.cpp
impl=$root/tests/cpp/fut_impl.c
for opt in -O0 -O2; do
    run "C unit $opt: build" sh -c "$cc -std=c11 $opt ${warn[*]} -I'$root' -c '$impl' -o '$tmp/impl.o' &&
        $cxx $std $opt ${warn[*]} -I'$root' '$main' '$tmp/impl.o' -o '$tmp/mixed' -pthread"
    run "C unit $opt: run" "$tmp/mixed"
done
run "C++ implementation unit" sh -c "$cxx $std -O2 -DFUT_IMPLEMENTATION ${warn[*]} -I'$root' '$main' \
    -o '$tmp/impl_cpp' -pthread && '$tmp/impl_cpp'"
run "FUT_STATIC" sh -c "$cxx $std -O2 -DFUT_STATIC ${warn[*]} -I'$root' '$main' -o '$tmp/static' \
    -pthread && '$tmp/static'"

case $cc in
*clang*) san=(-fsanitize=thread) ;;
*) san=(-fsanitize=address,undefined -fno-sanitize-recover=all) ;;
esac
run "C unit under ${san[0]}" sh -c "$cc -std=c11 -O1 -g ${san[*]} ${warn[*]} -I'$root' -c '$impl' \
    -o '$tmp/impl_san.o' && $cxx $std -O1 -g ${san[*]} ${warn[*]} -I'$root' '$main' \
    '$tmp/impl_san.o' -o '$tmp/san' -pthread && '$tmp/san'"

printf '#include "batch.h"\nint main(){return 0;}\n' >"$tmp/old.cpp"
if "$cxx" -std=c++20 -I"$root" -c "$tmp/old.cpp" -o /dev/null >"$tmp/log" 2>&1; then
    fail "C++20 built: the headers should say they need C++23"
elif ! grep -m1 'error' "$tmp/log" | grep -q "need C11, or C++23"; then
    fail "C++20: the first error is not the headers' own #error"
fi
: >"$tmp/log"
exit $failed
