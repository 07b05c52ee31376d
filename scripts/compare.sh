#!/usr/bin/env bash
# Compare md5pipe with md5sum, xargs md5sum, the article's Go programs and
# md5deep on one tree, side by side in one run; print a markdown table.
#
# Usage: scripts/compare.sh TREE
#
#   TREE is a directory, e.g. one made by scripts/gen_tree.py
#   (/tmp/md5data/small, /tmp/md5data/large, /tmp/md5data/mixed).
#   The page cache is warmed first (one untimed `cat` of every file); then
#   each tool runs WARMUP times untimed and RUNS times timed. For each tool the table
#   gives the median wall time, its ratio to md5pipe (bounded) (or to md5sum
#   when md5pipe is not there), the median user+sys CPU time, the peak RSS
#   of its largest process, the throughput, and whether its digests, sorted,
#   are the same as md5sum's (and, for md5pipe, whether its lines come sorted
#   by path). The table goes to stdout, notes to stderr.
#   Exit status: 0, or 1 if any tool failed or printed other digests.
#
# Tools (each skipped with a note when not installed; see scripts/anchors.sh):
#   md5pipe --mode bounded|parallel|serial $MD5PIPE_ARGS TREE
#   find TREE -type f | LC_ALL=C sort | xargs -d '\n' md5sum
#   find TREE -type f | xargs -d '\n' -P$(nproc) -n $XARGS_N md5sum
#   $ANCHORS/serial|parallel|bounded TREE      (the article's Go programs)
#   md5deep -r -j$(nproc) TREE
#
# Environment:
#   RUNS=5             timed runs per tool (the median is reported)
#   WARMUP=1           untimed runs per tool before those
#   MD5PIPE=PATH       md5pipe binary (default <repo>/target/release/md5pipe,
#                      brought up to date first with
#                      `cargo build --release -p md5pipe`)
#   NO_BUILD=1         do not run cargo when that default binary exists
#   MD5PIPE_ARGS=".."  extra md5pipe arguments, split on spaces (e.g. "-j 4")
#   ANCHORS=DIR        the Go anchors built by anchors.sh (default /tmp/anchors)
#   CEILING_MBPS=N     single-core MD5 throughput in MB/s (10^6 bytes/s); else
#                      <target>/release/examples/md5_ceiling is run (built
#                      with md5pipe; it prints one line `MBPS <number>`).
#                      With either, md5pipe (bounded) is also given as a
#                      fraction of nproc x ceiling, from PAIRS rounds of
#                      (ceiling, one md5pipe run) side by side.
#   PAIRS=5            rounds of that comparison (the median is reported)
#   XARGS_N=64         files per md5sum in the xargs -P line (with fewer than
#                      nproc x XARGS_N files, e.g. the 4-file large tree, one
#                      md5sum gets them all and -P gains nothing)
#   ONLY="md5sum Go"   run only the tools whose label contains one of the words
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
note() { printf 'compare: %s\n' "$*" >&2; }

[[ $# -eq 1 && $1 != -h && $1 != --help ]] || usage
[[ -d $1 ]] || { note "not a directory: $1"; exit 2; }
# An absolute, clean path: every tool then prints the same paths (md5deep
# prints absolute ones), and no tool sees a trailing slash.
tree=$(cd "$1" && pwd -P)

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null || dirname "$script_dir")
target=${CARGO_TARGET_DIR:-$repo/target}
runs=${RUNS:-5}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { note "RUNS must be a positive integer"; exit 2; }
xargs_n=${XARGS_N:-64}
[[ $xargs_n =~ ^[1-9][0-9]*$ ]] || { note "XARGS_N must be a positive integer"; exit 2; }
warmup=${WARMUP:-1}
[[ $warmup =~ ^[0-9]+$ ]] || { note "WARMUP must be a non-negative integer"; exit 2; }
anchors=${ANCHORS:-/tmp/anchors}
ncpu=$(nproc)
read -r -a md5pipe_args <<<"${MD5PIPE_ARGS:-}"
read -r -a only <<<"${ONLY:-}"

work=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

# wanted LABEL: ONLY is empty, or one of its words is in LABEL.
wanted() {
    local w
    [[ ${#only[@]} -eq 0 ]] && return 0
    for w in "${only[@]}"; do
        [[ $1 == *"$w"* ]] && return 0
    done
    return 1
}

# --- md5pipe ----------------------------------------------------------------

md5pipe=${MD5PIPE:-$target/release/md5pipe}
if ! wanted "md5pipe (bounded)" && ! wanted "md5pipe (parallel)" && ! wanted "md5pipe (serial)"; then
    md5pipe=
elif [[ -z ${MD5PIPE:-} && ( ! -x $md5pipe || ${NO_BUILD:-0} != 1 ) ]]; then
    # Also when the binary exists: a no-op when it is up to date, and never
    # a stale md5pipe in the table.
    note "building md5pipe: cargo build --release -p md5pipe -p pipeline --bins --example md5_ceiling"
    if ! (cd "$repo" && nice -n 10 cargo build --release -p md5pipe -p pipeline --bins --example md5_ceiling >&2); then
        note "cargo build failed"
    fi
fi
if [[ -n $md5pipe && ! -x $md5pipe ]]; then
    note "md5pipe not found at $md5pipe: skipped"
    md5pipe=
fi

# --- the tree -----------------------------------------------------------------

read -r nfiles nbytes < <(find "$tree" -type f -printf '%s\n' | awk '{ n++; s += $1 } END { print n + 0, s + 0 }')
note "warming the page cache: $tree ($nfiles files, $nbytes bytes)"
find "$tree" -type f -print0 | xargs -0 -r cat >/dev/null

# The reference digests: md5sum over the sorted list.
ref=$work/reference
find "$tree" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum | LC_ALL=C sort >"$ref"
if grep -q '^[\]' "$ref"; then
    note "warning: some paths needed md5sum's escaping; other tools may print them differently"
fi

# --- running the tools ------------------------------------------------------

labels=() walls=() cpus=() rsss=() checks=()
failed=0


# bench LABEL CMD...: time CMD on the tree, check its digests, keep a row.
bench() {
    local label=$1 out=$work/out err=$work/err line wall cpu rss status check
    shift
    wanted "$label" || return 0
    note "running: $label"
    : >"$err"
    line=$(python3 "$script_dir/timerun.py" --runs "$runs" --warmup "$warmup" \
        --out "$out" --err "$err" -- "$@")
    read -r wall cpu rss status <<<"$line"
    if [[ $status != 0 ]]; then
        check="FAILED (exit $status)"
        note "$label FAILED with status $status; its stderr ends with:"
        tail -n 5 "$err" >&2
        failed=1
    elif LC_ALL=C sort "$out" | cmp -s - "$ref"; then
        check=ok
        # md5pipe's contract: lines sorted by the raw bytes of the path.
        if [[ $label == md5pipe* ]] && ! cut -c35- "$out" | LC_ALL=C sort -c 2>/dev/null; then
            check="ok but **NOT SORTED**"
            failed=1
            note "!!!!! $label: digests right but lines NOT SORTED by path"
        fi
    else
        check="**MISMATCH**"
        failed=1
        note "!!!!! $label: DIGESTS DIFFER FROM md5sum's ($(LC_ALL=C sort "$out" |
            diff - "$ref" | grep -c '^[<>]') lines differ); first differences (< $label, > md5sum):"
        LC_ALL=C sort "$out" | diff - "$ref" | grep '^[<>]' | head -n 6 >&2 || true
    fi
    labels+=("$label") walls+=("$wall") cpus+=("$cpu") rsss+=("$rss") checks+=("$check")
}

if [[ -n $md5pipe ]]; then
    for mode in bounded parallel serial; do
        bench "md5pipe ($mode)" "$md5pipe" --mode "$mode" "${md5pipe_args[@]}" "$tree"
    done
fi

# shellcheck disable=SC2016 # $1, $2: the inner shell's arguments
bench "md5sum (sorted list)" bash -c \
    'find "$1" -type f | LC_ALL=C sort | xargs -d "\n" md5sum' _ "$tree"
# shellcheck disable=SC2016
bench "xargs -P$ncpu -n $xargs_n md5sum" bash -c \
    'find "$1" -type f | xargs -d "\n" -P"$2" -n "$3" md5sum' _ "$tree" "$ncpu" "$xargs_n"

for prog in serial parallel bounded; do
    label="Go $prog"
    [[ $prog == bounded ]] && label="Go bounded (20)"
    if [[ -x $anchors/$prog ]]; then
        # NUM_DIGESTERS unset: the article's 20 digesters.
        bench "$label" env -u NUM_DIGESTERS "$anchors/$prog" "$tree"
    elif wanted "$label"; then
        note "$label: no $anchors/$prog (run scripts/anchors.sh): skipped"
    fi
done

if command -v md5deep >/dev/null 2>&1; then
    bench "md5deep -r -j$ncpu" md5deep -r -j"$ncpu" "$tree"
elif wanted md5deep; then
    note "md5deep: not installed (run scripts/anchors.sh): skipped"
fi

[[ ${#labels[@]} -gt 0 ]] || { note "no tool ran"; exit 1; }

# --- the table ---------------------------------------------------------------

base_label="md5pipe (bounded)"
base=
for i in "${!labels[@]}"; do
    [[ ${labels[$i]} == "$base_label" ]] && base=${walls[$i]}
done
if [[ -z $base ]]; then
    base_label=${labels[0]}
    base=${walls[0]}
fi

mib=$(awk -v b="$nbytes" 'BEGIN { printf "%.1f", b / 1048576 }')
printf '### %s: %s files, %s MiB\n\n' "$(basename "$tree")" "$nfiles" "$mib"
printf '%s CPUs, warm page cache, median of %s runs (after %s untimed); ' "$ncpu" "$runs" "$warmup"
printf 'ratio = wall time / %s wall time; CPU = user+sys; ' "$base_label"
printf 'RSS = peak of the largest process; MB/s = 10^6 bytes/s.'
# shellcheck disable=SC2016 # markdown backquotes
[[ ${#md5pipe_args[@]} -gt 0 ]] && printf ' md5pipe args: `%s`.' "${md5pipe_args[*]}"
printf '\n\n'
printf '| tool | wall (s) | ratio | CPU (s) | peak RSS (MiB) | MB/s | digests |\n'
printf '|------|---------:|------:|--------:|---------------:|-----:|---------|\n'
for i in "${!labels[@]}"; do
    awk -v l="${labels[$i]}" -v w="${walls[$i]}" -v c="${cpus[$i]}" -v r="${rsss[$i]}" \
        -v base="$base" -v b="$nbytes" -v k="${checks[$i]}" 'BEGIN {
        printf "| %s | %.3f | %.2f | %.3f | %.1f | %.0f | %s |\n",
            l, w, w / base, c, r / 1024, b / 1e6 / w, k }'
done

# --- the MD5 ceiling ------------------------------------------------------------
# Single-core MD5 throughput of the md-5 build on an in-memory buffer,
# measured by target/release/examples/md5_ceiling (it prints
# `MBPS <number>`), or given in CEILING_MBPS. md5pipe's goal on large files:
# close to nproc x ceiling. The speed of a shared machine drifts within
# minutes, so the ceiling is measured in PAIRS rounds, each right before one
# timed md5pipe (bounded) run, and the fraction is the median of the rounds'
# fractions (with their range).

ceiling_bin=$target/release/examples/md5_ceiling
pairs=${PAIRS:-5}
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { note "PAIRS must be a positive integer"; exit 2; }
if [[ -n ${CEILING_MBPS:-} || -x $ceiling_bin ]] && [[ -n $md5pipe ]] && wanted "md5pipe (bounded)"; then
    note "measuring md5pipe against the MD5 ceiling: $pairs pairs"
    fractions=()
    for _ in $(seq "$pairs"); do
        if [[ -n ${CEILING_MBPS:-} ]]; then
            c=$CEILING_MBPS
        else
            c=$("$ceiling_bin" 2>/dev/null | awk '$1 == "MBPS" { print $2; exit }')
        fi
        [[ -n $c ]] || { note "md5_ceiling printed no 'MBPS <number>' line"; break; }
        line=$(python3 "$script_dir/timerun.py" --runs 1 --warmup 0 \
            --out /dev/null --err /dev/null -- "$md5pipe" --mode bounded "${md5pipe_args[@]}" "$tree")
        read -r wall _ _ status <<<"$line"
        [[ $status == 0 ]] || { note "md5pipe failed during the ceiling pairs"; break; }
        fractions+=("$(awk -v c="$c" -v w="$wall" -v b="$nbytes" -v n="$ncpu" \
            'BEGIN { printf "%.4f %.0f %.0f", b / 1e6 / w / (n * c), c, b / 1e6 / w }')")
    done
    if [[ ${#fractions[@]} -gt 0 ]]; then
        printf '\nMD5 ceiling, side by side (%s pairs: md5_ceiling on one core, then one md5pipe (bounded) run):\n\n' "${#fractions[@]}"
        printf '%s\n' "${fractions[@]}" | sort -n | awk -v n="$ncpu" '
            { f[NR] = $1; c[NR] = $2; t[NR] = $3 }
            END {
                m = int((NR + 1) / 2)
                printf "- one core: %.0f MB/s (pair of the median); md5pipe (bounded): %.0f MB/s\n", c[m], t[m]
                printf "- md5pipe (bounded) = %.2f x (%d x ceiling): median of %d pairs, range %.2f-%.2f\n",
                    f[m], n, NR, f[1], f[NR]
            }'
    fi
fi

if [[ $failed != 0 ]]; then
    note "!!!!! some tools FAILED or printed digests that differ from md5sum's: see above"
    exit 1
fi
