#!/usr/bin/env bash
# The README's wrap resolves: takes the [wrap-git] block that follows "# subprojects/
# fut.wrap" in README.md, swaps its url for a file:// clone of this repository, and
# builds the tagged release's own consumer (tests/consumer-meson at that tag) with it,
# letting meson fetch the subproject (depth 1, as the README says). Proves that
#   - the README's revision is v<version>, and the version is the same in meson.build
#     and fut.h's FUT_VERSION_*;
#   - the tag names the commit RELEASES records (made in the scratch copy when this
#     clone has no tags);
#   - meson checks the subproject out at the tag and dependency('fut') builds and runs
#     a consumer with -Dwerror=true, whatever fut.pc the machine has installed.
# Works in a temp dir; the network is not used. Quiet on success; exit 0 or 1.
#
#   scripts/check_wrap.sh gcc
set -euo pipefail

cc=${1:?usage: $0 CC}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v "$cc" >/dev/null || { echo "no compiler: $cc" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fut-wrap.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
: >"$log"
fail() {
    echo "check_wrap ($cc): $*" >&2
    [ -s "$log" ] && tail -n 30 "$log" | sed 's/^/    /' >&2
    exit 1
}

version=$(sed -n "s/^  version: '\([0-9.]*\)',$/\1/p" "$root/meson.build")
[ -n "$version" ] || fail "no version: line in meson.build"
hv=$(awk '/#define FUT_VERSION_(MAJOR|MINOR|PATCH) /{v = v (v == "" ? "" : ".") $3} END{print v}' "$root/fut.h")
[ "$hv" = "$version" ] || fail "fut.h says $hv, meson.build $version"
tag=v$version

wrap=$(python3 - "$root/README.md" <<'PY'
import re, sys, textwrap
m = re.search(r"^( *)```ini\n\1# subprojects/fut.wrap\n(.*?)^\1```", open(sys.argv[1]).read(), re.S | re.M)
print(textwrap.dedent(m.group(2)) if m else "", end="")
PY
)
[ -n "$wrap" ] || fail "README.md has no \`\`\`ini block starting with '# subprojects/fut.wrap'"
rev=$(printf '%s\n' "$wrap" | sed -n 's/^revision = //p')
[ "$rev" = "$tag" ] || fail "the README's wrap says revision = $rev, the release is $tag"
printf '%s\n' "$wrap" | grep -q '^url = ' || fail "the README's wrap has no url line"

git clone -q --bare "$root" "$tmp/fut.git" >>"$log" 2>&1 || fail "cannot clone $root"
# The release record: RELEASES names the tag's commit, because a clone need not carry
# tags. A tag in the clone must agree with it; a missing one is made in the scratch copy
# (only there), at the recorded commit, which must be in this history and carry the
# version.
recorded=$(awk -v t="$tag" '$1 == t {print $2}' "$root/RELEASES" 2>/dev/null)
[ -n "$recorded" ] || fail "RELEASES has no line for $tag"
if commit=$(git -C "$tmp/fut.git" rev-parse -q --verify "refs/tags/$tag^{commit}"); then
    [ "$commit" = "$recorded" ] || fail "tag $tag is $commit here, RELEASES says $recorded"
else
    git -C "$tmp/fut.git" cat-file -e "$recorded^{commit}" 2>/dev/null ||
        fail "$tag: commit $recorded (RELEASES) is not in this history"
    git -C "$tmp/fut.git" show "$recorded:meson.build" | grep -q "^  version: '$version',$" ||
        fail "$tag: commit $recorded does not carry version $version"
    git -C "$tmp/fut.git" tag "$tag" "$recorded" || fail "cannot tag $recorded"
    commit=$recorded
fi

app=$tmp/app
mkdir -p "$app/subprojects"
for f in meson.build main.c; do
    git -C "$tmp/fut.git" show "$tag:tests/consumer-meson/$f" >"$app/$f" 2>>"$log" ||
        fail "$tag has no tests/consumer-meson/$f"
done
printf '%s\n' "$wrap" | sed "s|^url = .*|url = file://$tmp/fut.git|" >"$app/subprojects/fut.wrap"

CC=$cc meson setup "$tmp/build" "$app" -Dwerror=true --wrap-mode=default \
    --force-fallback-for=fut >>"$log" 2>&1 || fail "meson setup with the README's wrap failed"
got=$(git -C "$app/subprojects/fut" rev-parse HEAD 2>>"$log") || fail "meson did not clone the subproject"
[ "$got" = "$commit" ] || fail "the subproject is at $got, not $tag ($commit)"
ninja -C "$tmp/build" >>"$log" 2>&1 || fail "the consumer does not build"
out=$("$tmp/build/consumer" 2>&1) || fail "the consumer exited nonzero: $out"
[[ "$out" == *": ok" ]] || fail "the consumer printed: $out"
