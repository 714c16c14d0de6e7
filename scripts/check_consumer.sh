#!/usr/bin/env bash
# Way 1, vendoring: builds tests/consumer-meson (a user's project saying dependency('fut'))
# with this repository copied into its subprojects/fut, as a user vendors it, with
# -Dwerror=true, and runs it. Proves that dependency('fut') resolves through the wrap's
# [provide] and fut's meson.override_dependency, that fut's headers build under the
# user's warning_level=3 -Werror with CC, and that the subproject defines no targets,
# tests, benchmarks or installed files (its tests, bench, examples and install stay off
# in subproject mode), and that dependency('fut', version: ...) sees fut's version.
# Works offline in a temp dir; leaves nothing behind. Quiet on success; exit 0 or 1.
#
#   scripts/check_consumer.sh gcc
set -euo pipefail

cc=${1:?usage: $0 CC}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v "$cc" >/dev/null || { echo "no compiler: $cc" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fut-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
fail() {
    echo "check_consumer ($cc): $*" >&2
    [ -s "$log" ] && tail -n 40 "$log" >&2
    exit 1
}

# The consumer project as it is in the tree, and a vendored copy of fut: what a clone
# holds (tracked and untracked-but-not-ignored files), so build dirs, .git and an
# earlier vendored copy stay out, as they would for a user.
app=$tmp/consumer
vendored=$app/subprojects/fut
mkdir -p "$vendored"
cp "$root/tests/consumer-meson/meson.build" "$root/tests/consumer-meson/main.c" "$app/"
cp "$root/tests/consumer-meson/subprojects/fut.wrap" "$app/subprojects/"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z -c -o --exclude-standard |
        while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -xf - -C "$vendored"
else
    tar -C "$root" --exclude=./.git --exclude='./build*' --exclude='./.build*' \
        --exclude=./tests/consumer-meson/subprojects/fut -cf - . | tar -xf - -C "$vendored"
fi
{ [ -f "$vendored/meson.build" ] && [ -f "$vendored/fut.h" ]; } || fail "vendored copy incomplete"

# nodownload: never touch the network (the wrap's url is a placeholder); force-fallback:
# use the subproject even where a fut.pc is installed on this machine.
build=$tmp/build
CC=$cc meson setup "$build" "$app" -Dwerror=true --wrap-mode=nodownload \
    --force-fallback-for=fut >"$log" 2>&1 || fail "meson setup failed"
ninja -C "$build" >>"$log" 2>&1 || fail "build failed"

out=$("$build/consumer" 2>&1) || fail "consumer exited nonzero: $out"
[[ "$out" == *": ok" ]] || fail "consumer printed: $out"

# What the subproject contributed to the build: nothing but a dependency object.
for what in projectinfo targets tests benchmarks installed; do
    meson introspect "--$what" "$build" >"$tmp/$what.json" 2>>"$log" || fail "introspect --$what failed"
done
python3 - "$tmp" "$cc" >>"$log" 2>&1 <<'EOF' || fail "the subproject added to the build (see above)"
import json, os, sys
tmp, cc = sys.argv[1], sys.argv[2]
load = lambda name: json.load(open(os.path.join(tmp, name + ".json")))
bad = []
subs = [p["name"] for p in load("projectinfo").get("subprojects", [])]
if subs != ["fut"]:
    bad.append(f"subprojects are {subs}, expected ['fut']")
targets = load("targets")
for t in targets:
    if t.get("subproject") or "/subprojects/fut/" in t.get("defined_in", ""):
        bad.append(f"target from the subproject: {t['name']} ({t['defined_in']})")
names = [t["name"] for t in targets]
if names != ["consumer"]:
    bad.append(f"targets are {names}, expected ['consumer']")
for t in targets:
    for src in t.get("target_sources", []):
        used = os.path.basename((src.get("compiler") or ["?"])[0])
        if used != os.path.basename(cc):
            bad.append(f"{t['name']} compiled with {used}, not {cc}")
for path in load("installed"):
    bad.append(f"the subproject installs {path}")
for kind in ("tests", "benchmarks"):
    for t in load(kind):
        bad.append(f"{kind[:-1]} defined: {t['name']} (suite {t.get('suite')})")
print("\n".join(bad) if bad else "subproject adds no targets, tests, benchmarks or installed files")
sys.exit(1 if bad else 0)
EOF
