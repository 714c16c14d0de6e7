# Sourced by test.sh and tour.sh: makes sure the tools are here, installing them with
# apt-get when run as root, or printing the exact command otherwise.
# Usage: need_packages pkg... ; the caller lists what it needs.
need_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: ${missing[*]}"
        if [ -z "${FUT_APT_UPDATED:-}" ]; then
            apt-get update -qq >/dev/null || { echo "apt-get update failed" >&2; return 1; }
            export FUT_APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
            { echo "apt-get install failed: ${missing[*]}" >&2; return 1; }
    else
        echo "missing packages: ${missing[*]}" >&2
        echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
        return 1
    fi
}

# What every build here needs.
# libclang-rt-dev: clang's sanitizer and libFuzzer runtimes (only recommended by clang,
# so --no-install-recommends would leave them out).
# g++: the C++ consumer check (clang++ comes with clang).
BASE_PACKAGES=(gcc g++ libc6-dev clang libclang-rt-dev meson ninja-build pkg-config libcriterion-dev python3
    libuv1-dev spin)
