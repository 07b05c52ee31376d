#!/usr/bin/env python3
"""A full md5pipe run against an update with --cache on an unchanged tree,
side by side: each round runs both once, in turn, so that they see the
same phases of a shared machine; the ratio is taken within a round.

Usage:
    python3 scripts/cache_ratio.py TREE [--rounds N]

    python3 scripts/gen_tree.py --root /tmp/md5data small
    python3 scripts/cache_ratio.py /tmp/md5data/small

Commands (stdout to /dev/null; $MD5PIPE, default target/release/md5pipe):
    full:    md5pipe TREE
    update:  md5pipe --cache CACHE TREE     (CACHE in a temporary directory)

First, untimed: one full run (it also warms the page cache), one update
that writes the cache, and one with --stats that must report no file read
(files changed less than a second or so before are not yet kept: the
script says so and stops). Then ROUNDS rounds of (full, update). Each
update rewrites the cache, as it does in use.

Printed: a markdown table with each command's median wall time, median
CPU time (user + sys) and peak RSS (the largest over its runs, through GNU
time when /usr/bin/time is installed, else as wait4 reports it, with the
~10 MiB of the Python parent it was forked from counted), then the median
over rounds of full / update (the target: at least 10) with its range,
and whether both printed the same bytes. Run it on trees of different
sizes (gen_tree.py --scale) to see the update's peak RSS stay flat.
Standard library only.
"""

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def run(cmd, out=subprocess.DEVNULL):
    """Wall seconds, CPU seconds (user + sys) and peak RSS in KiB."""
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="cache_ratio.")
        os.close(fd)
        cmd = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file, "--"] + cmd
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"cache_ratio: failed ({status}): {' '.join(cmd)}")
    rss = usage.ru_maxrss
    if rss_file is not None:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1])
        os.unlink(rss_file)
    return wall, usage.ru_utime + usage.ru_stime, rss


def digest_of(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, check=True)
    return hashlib.md5(out.stdout).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    if a.rounds < 1:
        sys.exit("cache_ratio: --rounds must be at least 1")
    tree = os.path.realpath(a.tree)
    repo = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
    md5pipe = os.environ.get("MD5PIPE", os.path.join(target, "release", "md5pipe"))
    if not os.access(md5pipe, os.X_OK):
        sys.exit(f"cache_ratio: no {md5pipe} (cargo build --release -p md5pipe)")
    work = tempfile.mkdtemp(prefix="cache_ratio.")
    try:
        cache = os.path.join(work, "tree.cache")
        full = [md5pipe, tree]
        update = [md5pipe, "--cache", cache, tree]
        run(full)
        run(update)
        stats = subprocess.run(
            update + ["--stats"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            check=True,
        ).stderr
        line = next((l for l in stats.splitlines() if l.startswith("cache: ")), "")
        m = re.search(r"(\d+) read \((\d+) bytes\)", line)
        if not m or m.group(1) != "0":
            sys.exit(f"cache_ratio: the update still reads files ({line!r}); "
                     "files changed in the last seconds are not kept yet: run it again")
        same = digest_of(full) == digest_of(update)
        times = {"full": [], "update": []}
        for r in range(a.rounds):
            times["full"].append(run(full))
            times["update"].append(run(update))
            print(f"cache_ratio: round {r + 1}/{a.rounds}", file=sys.stderr)
        files = re.search(r"cache: (\d+) files", line).group(1)
        print(f"| {os.path.basename(tree)} ({files} files) | wall (median) | CPU (user+sys) | peak RSS |")
        print("|---|---:|---:|---:|")
        for name, label in [("full", "md5pipe"), ("update", "md5pipe --cache (unchanged)")]:
            ts = times[name]
            wall = statistics.median(t[0] for t in ts)
            cpu = statistics.median(t[1] for t in ts)
            rss = max(t[2] for t in ts)
            print(f"| {label} | {wall:.3f} s | {cpu:.3f} s | {rss / 1024:.1f} MiB |")
        ratios = [f[0] / u[0] for f, u in zip(times["full"], times["update"])]
        print(
            f"\nfull / update: {statistics.median(ratios):.1f}x "
            f"(rounds {min(ratios):.1f}-{max(ratios):.1f}), {a.rounds} rounds; "
            f"same output: {'yes' if same else 'NO'}; cache {os.path.getsize(cache)} bytes"
        )
        if not same:
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
