#!/bin/sh
# Check mode against md5sum -c, side by side: ROUNDS alternated runs of
# each on one list, then the medians of wall time and CPU (user + sys) and
# the ratios md5pipe / md5sum.
#
#   scripts/check_bench.sh LIST [ROUNDS] [MD5PIPE]
#
# Run it in the directory the list's names are relative to.
set -eu
list=$1
rounds=${2:-5}
md5pipe=${3:-target/release/md5pipe}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
    /usr/bin/time -a -o "$tmp/pipe" -f "%e %U %S" "$md5pipe" -c "$list" >/dev/null
    /usr/bin/time -a -o "$tmp/sum" -f "%e %U %S" md5sum -c "$list" >/dev/null
    i=$((i + 1))
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall() { awk '{ print $1 }' "$1" | median; }
cpu() { awk '{ print $2 + $3 }' "$1" | median; }
pw=$(wall "$tmp/pipe"); pc=$(cpu "$tmp/pipe")
sw=$(wall "$tmp/sum"); sc=$(cpu "$tmp/sum")
echo "md5pipe -c: wall ${pw}s cpu ${pc}s (median of $rounds)"
echo "md5sum -c:  wall ${sw}s cpu ${sc}s"
awk -v pw="$pw" -v sw="$sw" -v pc="$pc" -v sc="$sc" \
    'BEGIN { printf "ratios: wall %.2f  cpu %.2f\n", pw / sw, pc / sc }'
