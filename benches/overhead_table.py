#!/usr/bin/env python3
"""Prints the per-item overhead benches (chain, fanout, stats_cost) as
markdown tables in ns/item, from criterion's saved estimates.

Usage: benches/overhead_table.py [CRITERION_DIR]

CRITERION_DIR defaults to $CRITERION_HOME, else target/criterion. Each
cell is criterion's median time per iteration divided by the items the
variant moved (its Throughput), so variants that ran fewer items compare
directly. Ratios are to the hand-wired variant with the same buffer and
batch (hand-batched for batches above 1) from the same run directory.
"""

import json
import os
import sys
from pathlib import Path


def load(root: Path):
    """{(group, function_id): ns_per_item} for every saved benchmark."""
    out = {}
    for bench in root.glob("*/*/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        items = (meta.get("throughput") or {}).get("Elements")
        if not items:
            continue
        ns = est["median"]["point_estimate"] / items
        out[(meta["group_id"], meta["function_id"])] = ns
    return out


def table(results, group, variants, columns):
    rows = []
    header = "| variant | " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    rows.append(header)
    rows.append(rule)
    for v in variants:
        cells = []
        for c in columns:
            ns = results.get((group, f"{v}/{c}"))
            if ns is None:
                cells.append("")
                continue
            hand = "hand" if c.endswith("batch1") else "hand-batched"
            base = results.get((group, f"{hand}/{c}"))
            if base and v in ("macro", "builder"):
                cells.append(f"{ns:.1f} ({ns / base:.2f}x)")
            else:
                cells.append(f"{ns:.1f}")
        if any(cells):
            rows.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main():
    default = os.environ.get("CRITERION_HOME") or "target/criterion"
    root = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    results = load(root)
    if not results:
        sys.exit(f"overhead_table: no criterion results under {root}")
    columns = [f"buf{b}/batch{k}" for b in (1, 64) for k in (1, 64, 256)]
    go_columns = ["buf0/batch1"] + columns
    variants = ["macro", "builder", "hand", "hand-batched", "sync_channel", "go"]
    for group, title in (("chain", "gen -> sq -> sum"), ("fanout", "gen -> 2 x sq -> merge -> sum")):
        if any(g == group for g, _ in results):
            print(f"### {group}: {title}, ns/item (ratio to hand-wired)\n")
            print(table(results, group, variants, go_columns))
            print()
    cost = {f: ns for (g, f), ns in results.items() if g == "stats_cost"}
    if cost:
        print("### stats_cost: ns/item (clock/pair: ns per pair of clock reads)\n")
        print("| benchmark | ns |\n|---|---:|")
        for f in sorted(cost):
            print(f"| {f} | {cost[f]:.1f} |")


if __name__ == "__main__":
    main()
