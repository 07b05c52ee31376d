#!/usr/bin/env python3
"""Prints the per-item overhead benches (chain, fanout, stats_cost) as
markdown tables in ns/item, from criterion's saved estimates.

Usage: benches/overhead_table.py [--runs NAME,NAME,...] [CRITERION_DIR]

CRITERION_DIR defaults to $CRITERION_HOME, else target/criterion. Each
cell is criterion's median time per iteration divided by the items the
variant moved (its Throughput), so variants that ran fewer items compare
directly. Ratios are to the hand-wired variant with the same buffer and
batch (hand-batched for batches above 1), computed within each run.

--runs reads the named baselines (`cargo bench ... -- --save-baseline
NAME`) instead of the latest results, and prints for each cell the median
over the runs of the ns/item and of the per-run ratio, with the ratio's
range over the runs.
"""

import json
import os
import sys
from pathlib import Path


def load(root: Path, run: str = "new"):
    """{(group, function_id): ns_per_item} for every saved benchmark."""
    out = {}
    for bench in root.glob(f"*/*/{run}/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        items = (meta.get("throughput") or {}).get("Elements")
        if not items:
            continue
        ns = est["median"]["point_estimate"] / items
        out[(meta["group_id"], meta["function_id"])] = ns
    return out


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def table(runs, group, variants, columns):
    """`runs` is a list of load() results, one per run."""
    rows = []
    header = "| variant | " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    rows.append(header)
    rows.append(rule)
    for v in variants:
        cells = []
        for c in columns:
            values = [r[(group, f"{v}/{c}")] for r in runs if (group, f"{v}/{c}") in r]
            if not values:
                cells.append("")
                continue
            ns = median(values)
            hand = "hand" if c.endswith("batch1") else "hand-batched"
            ratios = [
                r[(group, f"{v}/{c}")] / r[(group, f"{hand}/{c}")]
                for r in runs
                if (group, f"{v}/{c}") in r and (group, f"{hand}/{c}") in r
            ]
            if ratios and v in ("macro", "builder"):
                if len(ratios) > 1:
                    cells.append(
                        f"{ns:.1f} ({median(ratios):.2f}x; {min(ratios):.2f}-{max(ratios):.2f})"
                    )
                else:
                    cells.append(f"{ns:.1f} ({ratios[0]:.2f}x)")
            else:
                cells.append(f"{ns:.1f}")
        if any(cells):
            rows.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def defaults(runs, group):
    """The default configuration (buffer 64, adaptive packets counted in
    it) and one item per packet (buffer 64, batch 1) against Go at buffer
    64, the ratio computed within each run."""
    go = (group, "go/buf64/batch1")
    rows = ["| configuration | ns/item | ratio to go/buf64 |", "|---|---:|---|"]
    cells = [(f"{v}, default", f"{v}/default") for v in ("macro", "builder")]
    cells += [(f"{v}, batch 1 (buf64/batch1)", f"{v}/buf64/batch1") for v in ("macro", "builder")]
    for v, cell in cells:
        key = (group, cell)
        values = [r[key] for r in runs if key in r]
        if not values:
            continue
        ratios = [r[key] / r[go] for r in runs if key in r and go in r]
        ratio = f"{median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else ""
        rows.append(f"| {v} | {median(values):.1f} | {ratio} |")
    return "\n".join(rows)


def main():
    args = sys.argv[1:]
    names = ["new"]
    if len(args) >= 2 and args[0] == "--runs":
        names = args[1].split(",")
        args = args[2:]
    default = os.environ.get("CRITERION_HOME") or "target/criterion"
    root = Path(args[0] if args else default)
    runs = [r for r in (load(root, n) for n in names) if r]
    if not runs:
        sys.exit(f"overhead_table: no criterion results under {root} for {names}")
    if len(runs) > 1:
        print(f"Median of {len(runs)} runs ({', '.join(names)}); ratio: median, then range.\n")
    columns = [f"buf{b}/batch{k}" for b in (1, 64) for k in (1, 64, 256)]
    go_columns = ["buf0/batch1"] + columns
    variants = ["macro", "builder", "hand", "hand-batched", "sync_channel", "go"]
    for group, title in (("chain", "gen -> sq -> sum"), ("fanout", "gen -> 2 x sq -> merge -> sum")):
        if any(g == group for r in runs for g, _ in r):
            print(f"### {group}: {title}, ns/item (ratio to hand-wired)\n")
            print(table(runs, group, variants, go_columns))
            print()
            print(defaults(runs, group))
            print()
    costs = {}
    for r in runs:
        for (g, f), ns in r.items():
            if g == "stats_cost":
                costs.setdefault(f, []).append(ns)
    if costs:
        print("### stats_cost: ns/item (clock/pair: ns per pair of clock reads)\n")
        print("| benchmark | ns |\n|---|---:|")
        for f in sorted(costs):
            print(f"| {f} | {median(costs[f]):.1f} |")


if __name__ == "__main__":
    main()
