#!/usr/bin/env bash
# The main job: runs every teaching example in order, showing what each prints, then
# the benchmark summary (bench/run). Installs what it needs when run as root.
set -u
cd "$(dirname "$0")"
. scripts/deps.sh
need_packages gcc libc6-dev meson ninja-build pkg-config python3 libuv1-dev || exit 1

dir=.build/tour
mkdir -p .build/logs
if [ -d "$dir/meson-private" ]; then setup=(meson setup --reconfigure "$dir"); else setup=(meson setup "$dir"); fi
if ! "${setup[@]}" -Dtests=disabled -Dbench=disabled -Dexamples=enabled >.build/logs/tour-build.log 2>&1 ||
    ! ninja -C "$dir" >>.build/logs/tour-build.log 2>&1; then
    echo "build failed; see .build/logs/tour-build.log" >&2
    tail -n 20 .build/logs/tour-build.log >&2
    exit 1
fi

status=0
for src in examples/[0-9][0-9]_*.c; do
    name=$(basename "$src" .c)
    [ -x "$dir/examples/$name" ] || continue # built only when its dependencies are found
    echo "=== examples/$name.c"
    # the example's own header comment: its title and first paragraph
    python3 -c 'import re, sys
head = open(sys.argv[1]).read().split("*/")[0].lstrip("/*").split("\n *\n")
print("\n".join(re.sub(r"^ \* ?", "", l).strip() for l in (head[0] + "\n" + head[1]).splitlines()))' "$src"
    echo "---"
    "$dir/examples/$name" || { echo "(exit status $?)"; status=1; }
    echo
done

echo "=== benchmark summary (bench/run; bench/README.md explains the ops)"
bench/run || status=1
exit $status
