#!/usr/bin/env bash
# Install and build what the md5pipe comparisons need (scripts/compare.sh,
# scripts/sq_anchor.sh).
#
# Usage: scripts/anchors.sh [ANCHORS_DIR]
#
#   1. Installs from Debian's packages, each only if it is missing:
#        golang-go          (go, to build the article's Go programs)
#        md5deep / hashdeep (md5deep -r -j N; whichever package apt offers)
#        hyperfine
#        time               (/usr/bin/time)
#      `apt-get update` runs once, before the first install.
#   2. Builds the article's Go programs (serial, parallel, bounded, sq) from
#      $PIPELINE_SHARED/anchors/go into ANCHORS_DIR (shared/ may be read-only).
#
#   Anything that cannot be installed or built is skipped with a note on
#   stderr; the script still exits 0 so callers can go on without it.
#
# Environment:
#   PIPELINE_SHARED  the shared/ folder (default: <repo>/../shared)
#   ANCHORS          default for ANCHORS_DIR (default: /tmp/anchors)
#   NO_INSTALL=1     do not call apt-get; only build what the machine allows
#   FORCE=1          rebuild the Go programs even when they are up to date
set -euo pipefail

note() { printf 'anchors: %s\n' "$*" >&2; }

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null || dirname "$script_dir")
shared=${PIPELINE_SHARED:-$repo/../shared}
anchors=${1:-${ANCHORS:-/tmp/anchors}}

# --- Debian packages ------------------------------------------------------

sudo_cmd=()
can_install=1
if [[ ${NO_INSTALL:-0} == 1 ]]; then
    can_install=0
elif ! command -v apt-get >/dev/null 2>&1; then
    note "no apt-get on this machine: installing nothing"
    can_install=0
elif [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo_cmd=(sudo -n)
    else
        note "not root and no password-less sudo: installing nothing"
        can_install=0
    fi
fi

updated=0
apt_log=$(mktemp)
trap 'rm -f "$apt_log"' EXIT
apt_update() {
    [[ $updated == 1 ]] && return 0
    updated=1
    note "apt-get update"
    if ! "${sudo_cmd[@]}" apt-get update -q >"$apt_log" 2>&1; then
        note "apt-get update failed; trying the package lists already here:"
        tail -n 5 "$apt_log" >&2
    fi
}

# has_candidate PKG: apt knows a version of PKG it could install.
has_candidate() {
    local cand
    cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
    [[ -n $cand && $cand != "(none)" ]]
}

# install_pkg PKG...: install the first PKG that apt offers; 1 if none could be.
install_pkg() {
    local pkg
    [[ $can_install == 1 ]] || return 1
    apt_update
    for pkg in "$@"; do
        if has_candidate "$pkg"; then
            note "apt-get install $pkg"
            if DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q \
                --no-install-recommends "$pkg" >"$apt_log" 2>&1; then
                return 0
            fi
            note "installing $pkg failed:"
            tail -n 20 "$apt_log" >&2
        else
            note "apt offers no package $pkg"
        fi
    done
    return 1
}

# ensure WHAT TEST PKG...: run TEST; when it fails, install a PKG and retest.
ensure() {
    local what=$1 test=$2
    shift 2
    if eval "$test"; then
        note "$what: already installed"
        return 0
    fi
    if install_pkg "$@" && eval "$test"; then
        note "$what: installed"
        return 0
    fi
    note "$what: NOT available, skipped (tried: $*)"
    return 1
}

# Debian's golang-go puts go in /usr/lib/go/bin, linked from /usr/bin.
have_go() { command -v go >/dev/null 2>&1; }
have_md5deep() { command -v md5deep >/dev/null 2>&1; }
have_hyperfine() { command -v hyperfine >/dev/null 2>&1; }
have_time() { [[ -x /usr/bin/time ]]; }

status=()
ensure go have_go golang-go && status+=("go: $(go version)") || status+=("go: missing")
ensure md5deep have_md5deep md5deep hashdeep &&
    status+=("md5deep: $(command -v md5deep) ($(md5deep -v 2>&1 | head -n1))") ||
    status+=("md5deep: missing")
ensure hyperfine have_hyperfine hyperfine &&
    status+=("hyperfine: $(hyperfine --version)") || status+=("hyperfine: missing")
ensure /usr/bin/time have_time time && status+=("time: /usr/bin/time") || status+=("time: missing")

# --- The article's Go programs -------------------------------------------

build_go() {
    local src=$shared/anchors/go prog built=0
    if ! have_go; then
        note "no go: the Go anchors are not built"
        return 0
    fi
    if [[ ! -f $src/go.mod ]]; then
        note "no Go sources at $src (set PIPELINE_SHARED): the Go anchors are not built"
        return 0
    fi
    mkdir -p "$anchors"
    for prog in serial parallel bounded sq; do
        if [[ ${FORCE:-0} != 1 && -x $anchors/$prog && $anchors/$prog -nt $src/$prog/main.go ]]; then
            continue
        fi
        note "go build $prog -> $anchors/$prog"
        # shared/ may be read-only: build from it, write only to $anchors and
        # the cache; never reach the network (standard library only).
        if (cd "$src" && GOFLAGS=-mod=mod GOCACHE=${GOCACHE:-/tmp/go-cache} \
            GOPROXY=off GOTOOLCHAIN=local nice -n 10 go build -o "$anchors/$prog" "./$prog"); then
            built=$((built + 1))
        else
            note "building $prog failed: skipped"
        fi
    done
    note "Go anchors in $anchors ($built built now)"
}
build_go

for s in "${status[@]}"; do note "$s"; done
for prog in serial parallel bounded sq; do
    if [[ -x $anchors/$prog ]]; then
        note "anchor $prog: $anchors/$prog"
    else
        note "anchor $prog: missing"
    fi
done
