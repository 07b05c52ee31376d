#!/usr/bin/env python3
"""Deterministic test trees for the md5pipe benchmarks.

Usage:
    python3 scripts/gen_tree.py [--root DIR] [--seed N] [--scale F] [--force]
                                [--list] [tiny|small|large|mixed|many-large ...]

    python3 scripts/gen_tree.py --root /tmp/md5data small large mixed
    python3 scripts/gen_tree.py --root /tmp/t tiny          # a few files, for quick checks
    python3 scripts/gen_tree.py --root /tmp/t --scale 0.01 small mixed

Trees (contents are pseudo-random bytes from random.Random(seed), written for
real, never sparse; the shapes are those of ../shared/anchors/gen_tree.py):

  small  20,000 files of 1-16 KiB (uniform) in a directory tree of depth 4
         (fan-out 5/4/4/4 = 426 directories, about 47 files each); ~166 MiB.
  large  4 files of 256 MiB each; 1 GiB.
  many-large  32 files of 32 MiB each; 1 GiB: as many files as two cores have
         16-lane MD5 engines, the multi-lane engine's home ground.
  mixed  2,000 files shaped like a source tree: directories of uneven depth
         (1-6) and size, most files under 64 KiB (log-normal, median ~4 KiB),
         a few empty, ~4% between 64 KiB and 1 MiB, and 20 files of 1-20 MiB.
  tiny   ~60 files (~3 MiB) for checking scripts: a little of each shape, an
         empty file, sizes on 64 KiB boundaries, and names with spaces.

--scale F (0 < F <= 1) scales the number of files of small and mixed and the
file sizes of large; a scaled tree is named NAME-sF (e.g. small-s0.01) so it
never replaces a full-size one.

Default root is /tmp/md5data (never a repository). A tree is built in
ROOT/.NAME.tmp and renamed to ROOT/NAME when complete; then ROOT/NAME.manifest
(one "size  path" line per file, sorted by raw bytes) and the marker
ROOT/NAME.done (the generator version, seed and scale) are written next to it.
A tree whose marker matches is left alone (so the script is idempotent and
cheap to call before every benchmark); one without a marker, or with a marker
for other parameters, is rebuilt; --force rebuilds in any case.

Python 3.9+ (random.randbytes), standard library only. The same seed gives the
same bytes on the same Python version.
"""

import argparse
import os
import random
import shutil
import sys

KIB = 1024
MIB = 1024 * KIB
CHUNK = 16 * MIB
# Bump when a tree's shape or contents change, so existing trees get rebuilt.
GENERATOR_VERSION = 1


def write_file(path, size, rng):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, CHUNK)
            f.write(rng.randbytes(n))
            left -= n


def scaled(n, scale, minimum=1):
    return max(minimum, int(round(n * scale)))


def build_small(top, rng, scale):
    """20,000 files of 1-16 KiB, depth-4 tree, ~47 files per directory."""
    dirs = [""]
    level = [""]
    for fan in (5, 4, 4, 4):
        nxt = []
        for d in level:
            for i in range(fan):
                nxt.append(os.path.join(d, "d%d" % i) if d else "d%d" % i)
        dirs.extend(nxt)
        level = nxt
    nfiles = scaled(20000, scale)
    if nfiles < len(dirs):
        # A scaled-down tree keeps about the same files per directory.
        dirs = dirs[: max(1, nfiles // 47)]
    for d in dirs:
        os.makedirs(os.path.join(top, d), exist_ok=True)
    files = []
    # Spread files evenly over the directories (each gets 46 or 47), in a
    # shuffled order so that neighbouring names are not in the same directory.
    for i in range(nfiles):
        d = dirs[i % len(dirs)]
        files.append((d, "f%05d.bin" % i))
    rng.shuffle(files)
    for d, name in files:
        size = rng.randint(1 * KIB, 16 * KIB)
        write_file(os.path.join(top, d, name), size, rng)


def build_large(top, rng, scale):
    """4 files of 256 MiB each."""
    os.makedirs(top, exist_ok=True)
    size = scaled(256 * MIB, scale)
    for i in range(4):
        write_file(os.path.join(top, "big%d.bin" % i), size, rng)


def build_many_large(top, rng, scale):
    """32 files of 32 MiB each: more files than one core's MD5 lanes."""
    os.makedirs(top, exist_ok=True)
    size = scaled(32 * MIB, scale)
    for i in range(32):
        write_file(os.path.join(top, "big%02d.bin" % i), size, rng)


SRC_EXT = [".rs", ".c", ".h", ".go", ".py", ".md", ".txt", ".json", ".toml", ".js"]
BIN_EXT = [".png", ".bin", ".tar", ".o", ".pdf"]


def mixed_size(rng):
    r = rng.random()
    if r < 0.02:
        return 0  # empty files (__init__.py, .keep)
    if r < 0.96:
        # log-normal, median ~4 KiB, clipped to [1, 64 KiB)
        s = int(rng.lognormvariate(8.3, 1.2))
        return max(1, min(s, 64 * KIB - 1))
    # ~4%: 64 KiB .. 1 MiB
    return rng.randint(64 * KIB, 1 * MIB)


def build_mixed(top, rng, scale):
    """2,000 files, source-tree shaped, 20 of them 1-20 MiB."""
    # Directories: a random tree of depth 1-6 with uneven fan-out.
    ndirs = scaled(180, scale)
    dirs = [""]
    frontier = [("", 0)]
    while len(dirs) < ndirs and frontier:
        d, depth = frontier.pop(rng.randrange(len(frontier)))
        if depth >= 6:
            continue
        for i in range(rng.randint(1, 6)):
            name = "%s%d" % (rng.choice(["src", "lib", "mod", "pkg", "test", "doc", "util", "core"]), i)
            nd = os.path.join(d, name) if d else name
            dirs.append(nd)
            frontier.append((nd, depth + 1))
    for d in dirs:
        os.makedirs(os.path.join(top, d), exist_ok=True)
    # Uneven directory sizes: weight each directory by a Pareto draw.
    weights = [rng.paretovariate(1.2) for _ in dirs]
    nfiles = scaled(2000, scale)
    nbig = min(nfiles, scaled(20, scale))
    big = set(rng.sample(range(nfiles), nbig))
    for i in range(nfiles):
        d = rng.choices(dirs, weights)[0]
        if i in big:
            size = rng.randint(1 * MIB, 20 * MIB)
            ext = rng.choice(BIN_EXT)
        else:
            size = mixed_size(rng)
            ext = rng.choice(SRC_EXT)
        write_file(os.path.join(top, d, "file%04d%s" % (i, ext)), size, rng)


def build_tiny(top, rng, scale):
    """A few files of each kind, for checking scripts in a second."""
    del scale  # tiny is tiny already
    layout = {
        "": ["empty.txt", "one.bin", "README.md"],
        "src": ["a.rs", "b.rs", "lib.rs"],
        "src/deep/er/still": ["leaf.c", "leaf.h"],
        "with space": ["a file.txt", "b  two spaces.bin", "c.txt"],
        "edge": ["k64-1.bin", "k64.bin", "k64+1.bin", "m1.bin", "m1+1.bin"],
        "many": ["m%02d.dat" % i for i in range(40)],
    }
    fixed = {
        "empty.txt": 0,
        "one.bin": 1,
        "k64-1.bin": 64 * KIB - 1,
        "k64.bin": 64 * KIB,
        "k64+1.bin": 64 * KIB + 1,
        "m1.bin": MIB,
        "m1+1.bin": MIB + 1,
    }
    for d, names in layout.items():
        os.makedirs(os.path.join(top, d), exist_ok=True)
        for name in names:
            size = fixed.get(name)
            if size is None:
                size = rng.randint(1, 16 * KIB)
            write_file(os.path.join(top, d, name), size, rng)


BUILDERS = {
    "tiny": build_tiny,
    "small": build_small,
    "large": build_large,
    "mixed": build_mixed,
    "many-large": build_many_large,
}
# Each tree has its own stream, so building one never changes another.
SEED_OFFSET = {"small": 1, "large": 2, "mixed": 3, "tiny": 4, "many-large": 5}


def manifest(top):
    rows = []
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            p = os.path.join(dirpath, name)
            rows.append((os.path.relpath(p, top).encode(), os.path.getsize(p)))
    rows.sort()
    return rows


def tree_name(tree, scale):
    if scale == 1 or tree == "tiny":
        return tree
    return "%s-s%g" % (tree, scale)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Trees: " + ", ".join(BUILDERS),
    )
    ap.add_argument("--root", default="/tmp/md5data", help="where trees go (default /tmp/md5data)")
    ap.add_argument("--seed", type=int, default=20140313)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="0 < F <= 1: fewer files (small, mixed) or smaller files (large)")
    ap.add_argument("--force", action="store_true", help="rebuild existing trees")
    ap.add_argument("--list", action="store_true", help="print the trees' paths and exit")
    ap.add_argument("trees", nargs="*", default=["small", "large", "mixed"])
    a = ap.parse_intermixed_args()
    if not 0 < a.scale <= 1:
        ap.error("--scale must be in (0, 1]")
    for t in a.trees:
        if t not in BUILDERS:
            ap.error("unknown tree %r (%s)" % (t, ", ".join(BUILDERS)))
    if a.list:
        for t in a.trees:
            print(os.path.join(a.root, tree_name(t, a.scale)))
        return 0
    os.makedirs(a.root, exist_ok=True)
    for t in a.trees:
        final = os.path.join(a.root, tree_name(t, a.scale))
        man = final + ".manifest"
        marker = final + ".done"
        scale = 1.0 if t == "tiny" else a.scale
        params = "generator %d tree %s seed %d scale %r\n" % (GENERATOR_VERSION, t, a.seed, scale)
        if not a.force and os.path.isdir(final) and read(marker) == params:
            print("%s: complete, kept" % final)
            continue
        tmp = os.path.join(a.root, "." + os.path.basename(final) + ".tmp")
        for p in (marker, man):
            if os.path.exists(p):
                os.remove(p)
        for p in (tmp, final):
            if os.path.exists(p):
                shutil.rmtree(p)
        rng = random.Random(a.seed * 10 + SEED_OFFSET[t])
        BUILDERS[t](tmp, rng, scale)
        os.rename(tmp, final)
        rows = manifest(final)
        with open(man, "wb") as f:
            for rel, size in rows:
                f.write(b"%d  %s\n" % (size, rel))
        total = sum(s for _, s in rows)
        # The marker last: a tree counts as complete only once it exists.
        with open(marker, "w") as f:
            f.write(params)
        print("%s: %d files, %.1f MiB" % (final, len(rows), total / MIB))
    return 0


if __name__ == "__main__":
    sys.exit(main())
