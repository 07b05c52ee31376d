#!/usr/bin/env bash
# Per-item cost of the article's Go `gen -> sq -> sink` pipelines: the anchor
# for the ns/item figure of a `pipeline!` chain. Prints a markdown table.
#
# Usage: scripts/sq_anchor.sh [N]
#
#   Runs `sq VARIANT N BUF` (../shared/anchors/go/sq, built by
#   scripts/anchors.sh) for each variant (linear, linear-done, fanout,
#   fanout-done) and each channel capacity BUF (0 = unbuffered, as in the
#   article, and 64), RUNS times each, and reports the median wall time and
#   the median user+sys CPU time per item (the whole process's time / N;
#   process start-up is well under 0.1% of it at the default N = 10,000,000).
#   Checks each run's `items=N sum=...` line. Skips (exit 0, a note on
#   stderr) when the sq anchor is not built, e.g. because Go is not installed.
#
# Environment:
#   RUNS=3                 runs per cell (median)
#   BUFS="0 64"            channel capacities
#   VARIANTS="linear linear-done fanout fanout-done"
#   ANCHORS=/tmp/anchors   where anchors.sh put the Go programs
#   SQ=PATH                the sq binary (default $ANCHORS/sq)
set -euo pipefail

note() { printf 'sq_anchor: %s\n' "$*" >&2; }

if [[ $# -gt 1 || ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
fi
n=${1:-10000000}
[[ $n =~ ^[1-9][0-9]*$ ]] || { note "N must be a positive integer"; exit 2; }
runs=${RUNS:-3}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { note "RUNS must be a positive integer"; exit 2; }
read -r -a bufs <<<"${BUFS:-0 64}"
read -r -a variants <<<"${VARIANTS:-linear linear-done fanout fanout-done}"
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sq=${SQ:-${ANCHORS:-/tmp/anchors}/sq}

if [[ ! -x $sq ]]; then
    if command -v go >/dev/null 2>&1; then
        note "no sq anchor at $sq: run scripts/anchors.sh first; skipped"
    else
        note "Go is not installed (scripts/anchors.sh installs it): skipped"
    fi
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sq_anchor.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The sink's sum: squares of 1..N, wrapping like Go's int64.
want_sum=$(python3 -c '
import sys
n = int(sys.argv[1])
s = (n * (n + 1) * (2 * n + 1) // 6) % 2**64
print(s - 2**64 if s >= 2**63 else s)' "$n")

# cell VARIANT BUF: prints "WALL_NS_PER_ITEM CPU_NS_PER_ITEM".
cell() {
    local out=$work/out wall cpu status
    read -r wall cpu _ status < <(python3 "$script_dir/timerun.py" --runs "$runs" \
        --out "$out" -- "$sq" "$1" "$n" "$2")
    if [[ $status != 0 ]]; then
        note "sq $1 $n $2 FAILED with status $status"
        echo "failed failed"
        return 1
    fi
    if ! grep -q " items=$n sum=$want_sum\$" "$out"; then
        note "sq $1 $n $2 printed an unexpected line: $(cat "$out") (want items=$n sum=$want_sum)"
        echo "wrong wrong"
        return 1
    fi
    awk -v w="$wall" -v c="$cpu" -v n="$n" 'BEGIN { printf "%.1f %.1f\n", w * 1e9 / n, c * 1e9 / n }'
}

failed=0
header='| variant |' rule='|---------|'
for b in "${bufs[@]}"; do
    header+=" buf $b: ns/item | buf $b: CPU ns/item |"
    rule+='---------:|---------:|'
done
rows=()
for v in "${variants[@]}"; do
    row="| $v |"
    for b in "${bufs[@]}"; do
        note "sq $v $n $b (x$runs)"
        if ! res=$(cell "$v" "$b"); then
            failed=1
        fi
        read -r wall cpu <<<"$res"
        row+=" $wall | $cpu |"
    done
    rows+=("$row")
done

# shellcheck disable=SC2016 # markdown backquotes
printf '### Go `gen -> sq -> sink`, %s items\n\n' "$n"
printf '%s CPUs (GOMAXPROCS %s), %s; median of %s runs; whole-process time / items.\n\n' \
    "$(nproc)" "${GOMAXPROCS:-default}" "$(go version 2>/dev/null || echo "Go version unknown")" "$runs"
printf '%s\n%s\n' "$header" "$rule"
printf '%s\n' "${rows[@]}"
exit "$failed"
