#!/usr/bin/env bash
# Way 3, installing: `meson setup` with tests, bench and examples off, `meson install
# --destdir`, then builds a user's program against the staged tree. Proves that
#   - every header in the repository (stats.h pool.h fut.h batch.h workers.h, those that exist) is
#     installed, unchanged, in $prefix/include/fut/, with a fut.pc, and nothing else;
#   - fut.pc is where pkg-config looks by default: this machine's own default search
#     path (pkg-config --variable pc_path pkg-config), each folder moved under the
#     staging dir, is all pkg-config is given. The setup uses --libdir=lib64, what meson
#     picks on Debian without dpkg-dev (it cannot ask dpkg-architecture), which that
#     path lacks: a fut.pc in libdir/pkgconfig is not found, one in share/pkgconfig is;
#   - fut.pc's version is the project's, its Cflags are -I$prefix/include (not .../fut:
#     fut's batch.h, pool.h and stats.h stay off the global include path) and its
#     Cflags/Libs are all a compiler needs, -pthread once: `CC -std=c11 ... main.c
#     $(pkg-config --cflags --libs fut)` builds and runs with #include <fut/fut.h>, and
#     each header builds alone as <fut/NAME.h>, while #include <batch.h> does not;
#   - a meson user of the installed fut gets it with dependency('fut') (pkg-config, no
#     subproject) and the same #include <fut/fut.h>.
# Works in a temp dir; installs nothing on the system. Quiet on success; exit 0 or 1.
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
CC=$cc meson setup "$tmp/build" "$root" --prefix="$prefix" --libdir=lib64 \
    -Dtests=disabled -Dexamples=disabled >>"$log" 2>&1 || fail "meson setup failed"
meson install -C "$tmp/build" --destdir "$dest" >>"$log" 2>&1 || fail "meson install failed"
version=$(meson introspect --projectinfo "$tmp/build" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')

# The headers, unchanged, and nothing but the headers and fut.pc.
incdir=$dest$prefix/include/fut
for h in stats.h pool.h fut.h batch.h workers.h; do
    [ -f "$root/$h" ] || continue
    [ -f "$incdir/$h" ] || fail "$h not installed in $prefix/include/fut/ (meson.build's install list?)"
    cmp -s "$root/$h" "$incdir/$h" || fail "installed $h differs from the repository's"
done
pcs=$(find "$dest" -name fut.pc)
[ "$(printf '%s\n' "$pcs" | grep -c .)" -eq 1 ] || fail "want one fut.pc, found: ${pcs:-none}"
others=$(cd "$dest" && find . -type f ! -path ".$prefix/include/fut/*.h" ! -path "*/pkgconfig/fut.pc")
[ -z "$others" ] || fail "installed more than headers and fut.pc: $others"

# pkg-config as a user's build runs it: its default search path, under the staging dir.
pc_path=$(pkg-config --variable pc_path pkg-config) || fail "pkg-config has no pc_path"
staged_path=
IFS=: read -r -a pc_dirs <<<"$pc_path"
for d in "${pc_dirs[@]}"; do staged_path+=${staged_path:+:}$dest$d; done
pc() { PKG_CONFIG_LIBDIR=$staged_path PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR=$dest pkg-config "$@"; }
got=$(pc --modversion fut 2>>"$log") ||
    fail "pkg-config's default path ($pc_path) does not find ${pcs#"$dest"}"
[ "$got" = "$version" ] || fail "fut.pc says version $got, the project $version"
read -r -a pcflags <<<"$(pc --cflags --libs fut)"
case " ${pcflags[*]} " in
*" -I$dest$prefix/include "*) ;;
*) fail "pkg-config --cflags lacks -I$prefix/include: ${pcflags[*]}" ;;
esac
case " ${pcflags[*]} " in
*" -I$incdir "*) fail "pkg-config --cflags puts include/fut on the path: ${pcflags[*]}" ;;
esac
n=$(printf '%s\n' "${pcflags[@]}" | grep -cx -- -pthread || true)
[ "$n" -eq 1 ] || fail "pkg-config --cflags --libs gives -pthread $n times: ${pcflags[*]}"

# The user's program, in a folder of its own, as <fut/fut.h> and "fut/fut.h"; each
# header alone as <fut/NAME.h>; and <batch.h>, which must not be found.
app=$tmp/app
mkdir "$app"
cp "$root/tests/consumer-meson/main.c" "$app/angled.c"
grep -q '^#include <fut/fut.h>$' "$app/angled.c" || fail "main.c does not #include <fut/fut.h>"
sed 's|^#include <fut/fut.h>$|#include "fut/fut.h"|' "$app/angled.c" >"$app/quoted.c"
build() { (cd "$app" && "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "$@" "${pcflags[@]}") >>"$log" 2>&1; }
for form in angled quoted; do
    build "$form.c" -o "$form" || fail "$form: does not build with: $cc -std=c11 ... $form.c ${pcflags[*]}"
    out=$("$app/$form" 2>&1) || fail "$form: exited nonzero: $out"
    [[ "$out" == *": ok" ]] || fail "$form: printed: $out"
done
for h in stats.h pool.h fut.h batch.h workers.h; do
    [ -f "$root/$h" ] || continue
    printf '#define FUT_IMPLEMENTATION\n#include <fut/%s>\nint main(void) { return 0; }\n' "$h" >"$app/alone.c"
    build alone.c -o alone || fail "<fut/$h> alone does not build"
done
printf '#include <batch.h>\nint main(void) { return 0; }\n' >"$app/bare.c"
! build -c bare.c -o bare.o || fail "<batch.h> is found: fut's headers are on the global include path"

# A meson user of the installed fut: dependency('fut') through pkg-config. No
# subprojects folder and no fallback, so only fut.pc can satisfy it.
mapp=$tmp/meson-app
mkdir "$mapp"
cp "$root/tests/consumer-meson/meson.build" "$root/tests/consumer-meson/main.c" "$mapp/"
PKG_CONFIG_LIBDIR=$staged_path PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR=$dest CC=$cc \
    meson setup "$tmp/meson-build" "$mapp" -Dwerror=true --wrap-mode=nofallback >>"$log" 2>&1 ||
    fail "meson setup of a consumer of the installed fut failed"
ninja -C "$tmp/meson-build" >>"$log" 2>&1 || fail "meson build of a consumer of the installed fut failed"
out=$("$tmp/meson-build/consumer" 2>&1) || fail "meson consumer exited nonzero: $out"
[[ "$out" == *": ok" ]] || fail "meson consumer printed: $out"
