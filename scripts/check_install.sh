#!/usr/bin/env bash
# Way 3, installing: `meson setup` with tests, bench and examples off, `meson install
# --destdir`, then builds a user's program against the staged tree. Proves that
#   - every header in the repository (stats.h pool.h fut.h batch.h, those that exist) is
#     installed, unchanged, in $prefix/include/fut/, with a fut.pc, and nothing else;
#   - fut.pc's version is the project's, and its Cflags/Libs are all a compiler needs:
#     `CC -std=c11 ... main.c $(pkg-config --cflags --libs fut)` builds and runs with
#     #include "fut.h" and with #include <fut.h> (no -I, no -pthread of our own);
#   - a meson user of the installed fut gets it with dependency('fut') (pkg-config, no
#     subproject).
# pkg-config sees only the staged fut.pc (PKG_CONFIG_LIBDIR) with PKG_CONFIG_SYSROOT_DIR
# set to the staging dir. Works in a temp dir; installs nothing on the system. Quiet on
# success; exit 0 or 1.
#
#   scripts/check_install.sh gcc
set -euo pipefail

cc=${1:?usage: $0 CC}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v "$cc" >/dev/null || { echo "no compiler: $cc" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fut-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
: >"$log"
fail() {
    echo "check_install ($cc): $*" >&2
    [ -s "$log" ] && tail -n 30 "$log" | sed 's/^/    /' >&2
    exit 1
}

prefix=/usr/local
dest=$tmp/dest
CC=$cc meson setup "$tmp/build" "$root" --prefix="$prefix" \
    -Dtests=disabled -Dexamples=disabled >>"$log" 2>&1 || fail "meson setup failed"
meson install -C "$tmp/build" --destdir "$dest" >>"$log" 2>&1 || fail "meson install failed"
version=$(meson introspect --projectinfo "$tmp/build" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')

# The headers, unchanged, and nothing but the headers and fut.pc.
incdir=$dest$prefix/include/fut
for h in stats.h pool.h fut.h batch.h; do
    [ -f "$root/$h" ] || continue
    [ -f "$incdir/$h" ] || fail "$h not installed in $prefix/include/fut/ (meson.build's install list?)"
    cmp -s "$root/$h" "$incdir/$h" || fail "installed $h differs from the repository's"
done
pcs=$(find "$dest" -name fut.pc)
[ "$(printf '%s\n' "$pcs" | grep -c .)" -eq 1 ] || fail "want one fut.pc, found: ${pcs:-none}"
pcdir=$(dirname "$pcs")
[[ "$pcdir" == "$dest$prefix/"*/pkgconfig ]] || fail "fut.pc not in a pkgconfig dir under the prefix: $pcdir"
others=$(cd "$dest" && find . -type f ! -path ".$prefix/include/fut/*.h" ! -path "*/pkgconfig/fut.pc")
[ -z "$others" ] || fail "installed more than headers and fut.pc: $others"

# pkg-config as a user's build runs it, seeing only the staged tree.
pc() { PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR=$dest pkg-config "$@"; }
got=$(pc --modversion fut 2>>"$log") || fail "pkg-config does not find fut"
[ "$got" = "$version" ] || fail "fut.pc says version $got, the project $version"
read -r -a pcflags <<<"$(pc --cflags --libs fut)"
[[ " ${pcflags[*]} " == *" -I$incdir "* ]] || fail "pkg-config --cflags lacks -I$incdir: ${pcflags[*]}"

# The user's program, in a folder of its own: with "fut.h" and with <fut.h>.
app=$tmp/app
mkdir "$app"
cp "$root/tests/consumer-meson/main.c" "$app/quoted.c"
sed 's/^#include "fut.h"/#include <fut.h>/' "$app/quoted.c" >"$app/angled.c"
grep -q '^#include <fut.h>' "$app/angled.c" || fail "main.c does not #include \"fut.h\""
for form in quoted angled; do
    (cd "$app" && "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "$form.c" -o "$form" "${pcflags[@]}") \
        >>"$log" 2>&1 || fail "$form: does not build with: $cc -std=c11 ... $form.c ${pcflags[*]}"
    out=$("$app/$form" 2>&1) || fail "$form: exited nonzero: $out"
    [[ "$out" == *": ok" ]] || fail "$form: printed: $out"
done

# A meson user of the installed fut: dependency('fut') through pkg-config. No
# subprojects folder and no fallback, so only fut.pc can satisfy it.
mapp=$tmp/meson-app
mkdir "$mapp"
cp "$root/tests/consumer-meson/meson.build" "$root/tests/consumer-meson/main.c" "$mapp/"
PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR=$dest CC=$cc \
    meson setup "$tmp/meson-build" "$mapp" -Dwerror=true --wrap-mode=nofallback >>"$log" 2>&1 ||
    fail "meson setup of a consumer of the installed fut failed"
ninja -C "$tmp/meson-build" >>"$log" 2>&1 || fail "meson build of a consumer of the installed fut failed"
out=$("$tmp/meson-build/consumer" 2>&1) || fail "meson consumer exited nonzero: $out"
[[ "$out" == *": ok" ]] || fail "meson consumer printed: $out"
