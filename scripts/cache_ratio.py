#!/usr/bin/env python3
"""A full md5pipe run against an update with --cache on an unchanged tree,
and md5sum over the same files, side by side: each round runs each once,
in turn, so that they see the same phases of a shared machine; the ratios
are taken within a round.

Usage:
    python3 scripts/cache_ratio.py TREE [--rounds N] [--baseline BIN]

    python3 scripts/gen_tree.py --root /tmp/md5data small
    python3 scripts/cache_ratio.py /tmp/md5data/small

Commands (stdout to /dev/null; $MD5PIPE, default target/release/md5pipe):
    full:    md5pipe TREE
    update:  md5pipe --cache CACHE TREE     (CACHE in a temporary directory)
    md5sum:  md5sum FILE...                 (every regular file, sorted)
    base:    BIN --cache CACHE2 TREE        (with --baseline BIN: another
             build's update, e.g. one from before a change)

First, untimed: one full run (it also warms the page cache), one update
that writes the cache, and one with --stats that must report no file read
(files changed less than a second or so before are not yet kept: the
script says so and stops). Then ROUNDS rounds of (full, update, md5sum
[, base]).

Printed: a markdown table with each command's median wall time, median
CPU time (user + sys; each timed run started straight from Python) and
peak RSS (the largest of three more runs after the rounds, through GNU
time when /usr/bin/time is installed, else as wait4 reports it, with the
~10 MiB of the Python parent it was forked from counted), then the medians
over rounds of full / update (the target: at least 10), md5sum / update
(and base / update) with their ranges, and whether md5pipe's runs printed
the same bytes. Run it on trees of different
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

from timing import timed

def run(cmd, out=subprocess.DEVNULL):
    """Wall seconds and CPU seconds (user + sys), the command started
    straight from Python: GNU time's own start-up (about 1 ms) would count
    in a 10 ms update's time."""
    wall, cpu, _ = timed(cmd, "cache_ratio", out=out)
    return wall, cpu


def peak_rss(cmd):
    """Peak RSS in KiB of one more, untimed, run (through GNU time)."""
    return timed(cmd, "cache_ratio", rss=True)[2]


def digest_of(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, check=True)
    return hashlib.md5(out.stdout).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--baseline", help="another md5pipe build whose update is timed too")
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
        files = sorted(
            os.path.join(d, f).encode()
            for d, _, names in os.walk(tree)
            for f in names
            if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f))
        )
        md5sum = ["md5sum", "--"] + [os.fsdecode(f) for f in files]
        commands = {"full": full, "update": update, "md5sum": md5sum}
        if a.baseline:
            commands["base"] = [a.baseline, "--cache", os.path.join(work, "base.cache"), tree]
        for cmd in commands.values():
            run(cmd)
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
        if a.baseline:
            run(commands["base"])
        times = {name: [] for name in commands}
        for r in range(a.rounds):
            for name, cmd in commands.items():
                times[name].append(run(cmd))
            print(f"cache_ratio: round {r + 1}/{a.rounds}", file=sys.stderr)
        files = re.search(r"cache: (\d+) files", line).group(1)
        print(f"| {os.path.basename(tree)} ({files} files) | wall (median) | CPU (user+sys) | peak RSS |")
        print("|---|---:|---:|---:|")
        labels = [
            ("full", "md5pipe"),
            ("update", "md5pipe --cache (unchanged)"),
            ("md5sum", "md5sum"),
            ("base", f"{a.baseline} --cache (unchanged)"),
        ]
        for name, label in labels:
            if name not in times:
                continue
            ts = times[name]
            wall = statistics.median(t[0] for t in ts)
            cpu = statistics.median(t[1] for t in ts)
            rss = max(peak_rss(commands[name]) or 0 for _ in range(3))
            print(f"| {label} | {wall:.4f} s | {cpu:.4f} s | {rss / 1024:.1f} MiB |")
        print()
        for name in ["full", "md5sum", "base"]:
            if name not in times:
                continue
            ratios = [o[0] / u[0] for o, u in zip(times[name], times["update"])]
            print(
                f"{name} / update: {statistics.median(ratios):.2f}x "
                f"(rounds {min(ratios):.2f}-{max(ratios):.2f})"
            )
        print(
            f"{a.rounds} rounds; same output: {'yes' if same else 'NO'}; "
            f"cache {os.path.getsize(cache)} bytes"
        )
        if not same:
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
