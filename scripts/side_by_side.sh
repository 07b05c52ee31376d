#!/usr/bin/env bash
# md5pipe against its anchors on one tree, every command in one hyperfine
# run (so they see the same machine), printed as ratios.
#
# Usage: scripts/side_by_side.sh TREE [EXTRA_COMMAND...]
#
#   Commands, each run RUNS times after WARMUP untimed runs (hyperfine -N
#   where there is no pipe):
#     md5pipe TREE                          ($MD5PIPE, default target/release/md5pipe)
#     md5sum over the sorted file list      (serial)
#     find TREE -type f -print0 | xargs -0 -P$(nproc) md5sum         (xargs' default batch)
#     find TREE -type f -print0 | xargs -0 -P$(nproc) -n 16 md5sum
#     $ANCHORS/bounded TREE                 (the article's Go, 20 digesters)
#     md5deep -r -j$(nproc) TREE
#     and any EXTRA_COMMAND given (e.g. another md5pipe build)
#   The table gives each command's median wall time, its ratio to md5pipe
#   (above 1: slower than md5pipe), its mean CPU time (user + sys) and CPU
#   per MB; then md5pipe's ratio to the best anchor (the fastest of the
#   commands above besides md5pipe and the extras). Output: a markdown
#   table on stdout; hyperfine's own report on stderr.
#
# Environment: RUNS (default 5), WARMUP (default 1), MD5PIPE, ANCHORS
# (default /tmp/anchors; a missing anchor is left out with a note).
set -euo pipefail

[[ $# -ge 1 && -d $1 ]] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
tree=$(cd "$1" && pwd -P)
shift
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null || dirname "$script_dir")
md5pipe=${MD5PIPE:-${CARGO_TARGET_DIR:-$repo/target}/release/md5pipe}
anchors=${ANCHORS:-/tmp/anchors}
ncpu=$(nproc)
work=$(mktemp -d "${TMPDIR:-/tmp}/side.XXXXXX")
trap 'rm -rf "$work"' EXIT

names=(md5pipe)
cmds=("$md5pipe $tree")
add() { names+=("$1"); cmds+=("$2"); }
add "md5sum" "bash -c 'find $tree -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum'"
add "xargs -P$ncpu md5sum" "bash -c 'find $tree -type f -print0 | xargs -0 -P$ncpu md5sum'"
add "xargs -P$ncpu -n 16 md5sum" "bash -c 'find $tree -type f -print0 | xargs -0 -P$ncpu -n 16 md5sum'"
if [[ -x $anchors/bounded ]]; then
    add "Go bounded (20)" "$anchors/bounded $tree"
else
    echo "side_by_side: no $anchors/bounded (scripts/anchors.sh builds it)" >&2
fi
if command -v md5deep >/dev/null; then
    add "md5deep -r -j$ncpu" "md5deep -r -j$ncpu $tree"
else
    echo "side_by_side: no md5deep (scripts/anchors.sh installs it)" >&2
fi
anchors_end=${#names[@]}
for extra in "$@"; do add "$extra" "$extra $tree"; done

# Warm the page cache once.
find "$tree" -type f -print0 | xargs -0 cat >/dev/null
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')

args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -w "${WARMUP:-1}" -r "${RUNS:-5}" --output=null --export-json "$work/h.json" "${args[@]}" >&2

python3 - "$work/h.json" "$anchors_end" "$bytes" "$(basename "$tree")" <<'EOF'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
anchors_end, mb = int(sys.argv[2]), int(sys.argv[3]) / 1e6
tree = sys.argv[4]
med = [statistics.median(r["times"]) for r in results]
cpu = [r["user"] + r["system"] for r in results]
print(f"| {tree} | wall (median) | x md5pipe | CPU (user+sys) | CPU ms per MB |")
print("|---|---:|---:|---:|---:|")
for r, m, c in zip(results, med, cpu):
    print(f"| {r['command']} | {m:.3f} s | {m / med[0]:.2f} | {c:.3f} s | {1000 * c / mb:.2f} |")
best = min(range(1, anchors_end), key=lambda i: med[i])
print(f"\nmd5pipe / best anchor ({results[best]['command']}): {med[0] / med[best]:.2f}")
EOF
