#!/usr/bin/env python3
"""md5pipe against its anchors on one tree, in alternation: each round runs
every command once, in turn, so that all of them see the same phases of a
shared machine; ratios are taken within a round.

Usage:
    python3 scripts/side_by_side.py TREE [--rounds N] [--extra NAME=CMD ...]

Commands (stdout to /dev/null; an anchor that is not installed is left out
with a note):
    md5pipe TREE                        ($MD5PIPE, default target/release/md5pipe)
    md5sum over the sorted file list    (one process)
    find TREE -type f -print0 | xargs -0 -P$(nproc) md5sum        (xargs' default batch)
    find TREE -type f -print0 | xargs -0 -P$(nproc) -n 16 md5sum
    $ANCHORS/bounded TREE               (the article's Go, 20 digesters; ANCHORS=/tmp/anchors)
    md5deep -r -j$(nproc) TREE
    --extra NAME=CMD: CMD with TREE appended (e.g. another md5pipe build)

One untimed round first (it also warms the page cache). Printed: a markdown
table with each command's median wall time, the median over rounds of its
time / md5pipe's time in the same round (above 1: slower than md5pipe), its
median CPU time (user + sys of it and its children) and CPU per MB; then
md5pipe's ratio to the best anchor (the one with the smallest median ratio,
extras not counted). Peak RSS is not measured here (a child forked from
Python starts with Python's pages counted): `/usr/bin/time -f %M` gives it.
"""

import argparse
import os
import shutil
import statistics
import sys

from timing import timed


def run(cmd):
    """Wall seconds and CPU seconds (the command's user + sys)."""
    wall, cpu, _ = timed(cmd, "side_by_side")
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=CMD")
    a = ap.parse_args()
    tree = os.path.realpath(a.tree)
    repo = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
    md5pipe = os.environ.get("MD5PIPE", os.path.join(target, "release", "md5pipe"))
    anchors = os.environ.get("ANCHORS", "/tmp/anchors")
    n = os.cpu_count() or 1
    cmds = [("md5pipe", f"{md5pipe} {tree}")]
    cmds.append(("md5sum", f"find {tree} -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum"))
    cmds.append((f"xargs -P{n} md5sum", f"find {tree} -type f -print0 | xargs -0 -P{n} md5sum"))
    cmds.append((f"xargs -P{n} -n 16 md5sum", f"find {tree} -type f -print0 | xargs -0 -P{n} -n 16 md5sum"))
    if os.access(os.path.join(anchors, "bounded"), os.X_OK):
        cmds.append(("Go bounded (20)", f"{anchors}/bounded {tree}"))
    else:
        print(f"side_by_side: no {anchors}/bounded (scripts/anchors.sh builds it)", file=sys.stderr)
    if shutil.which("md5deep"):
        cmds.append((f"md5deep -r -j{n}", f"md5deep -r -j{n} {tree}"))
    else:
        print("side_by_side: no md5deep (scripts/anchors.sh installs it)", file=sys.stderr)
    anchors_end = len(cmds)
    for extra in a.extra:
        name, _, cmd = extra.partition("=")
        cmds.append((name, f"{cmd} {tree}"))
    mb = sum(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tree) for f in fs
    ) / 1e6
    for _, cmd in cmds:
        run(cmd)
    times = [[] for _ in cmds]
    for r in range(a.rounds):
        for i, (_, cmd) in enumerate(cmds):
            times[i].append(run(cmd))
        print(f"side_by_side: round {r + 1}/{a.rounds}", file=sys.stderr)
    wall = [statistics.median(t[0] for t in ts) for ts in times]
    ratio = [
        statistics.median(ts[r][0] / times[0][r][0] for r in range(a.rounds)) for ts in times
    ]
    cpu = [statistics.median(t[1] for t in ts) for ts in times]
    name = os.path.basename(tree)
    print(f"| {name} ({mb:.0f} MB) | wall (median) | x md5pipe | CPU (user+sys) | CPU ms/MB |")
    print("|---|---:|---:|---:|---:|")
    for (label, _), w, q, c in zip(cmds, wall, ratio, cpu):
        print(f"| {label} | {w:.3f} s | {q:.2f} | {c:.3f} s | {1000 * c / mb:.2f} |")
    best = min(range(1, anchors_end), key=lambda i: ratio[i])
    lo = min(times[0][r][0] / times[best][r][0] for r in range(a.rounds))
    hi = max(times[0][r][0] / times[best][r][0] for r in range(a.rounds))
    print(
        f"\nmd5pipe / best anchor ({cmds[best][0]}): {1 / ratio[best]:.2f} "
        f"(rounds {lo:.2f}-{hi:.2f}), {a.rounds} rounds"
    )


if __name__ == "__main__":
    main()
