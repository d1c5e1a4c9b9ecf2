#!/usr/bin/env python3
"""Per-run statistics of ckpt-bench io's pairs (compressed against uncompressed).

    bench/pair_stats.py FILE.jsonl [...]

Each line of FILE is a `ckpt-bench io --json` object, or any object with a
`pairs` list (docs/data/performance-pairs/). For every run it prints the two
estimators of durable_vs_off: the median compressed time over the median
uncompressed time (what ckpt-bench io reports) and the median of the pairs'
own ratios; then, over all runs, their mean, standard deviation, maximum and
how many runs were above 1, and the within-run correlation of a pair's two
times (docs/performance.md explains the choice).
"""
import json
import math
import statistics as st
import sys


def main(paths):
    runs = []
    for path in paths:
        with open(path) as f:
            runs += [json.loads(line)["pairs"] for line in f if line.strip()]
    if not runs:
        sys.exit("no runs")
    of_medians, of_ratios, dx, dy = [], [], [], []
    for i, pairs in enumerate(runs):
        auto = [p["durable_s"] for p in pairs]
        off = [p["off_durable_s"] for p in pairs]
        of_medians.append(st.median(auto) / st.median(off))
        of_ratios.append(st.median(p["durable_vs_off"] for p in pairs))
        dx += [a - st.mean(auto) for a in auto]
        dy += [o - st.mean(off) for o in off]
        faster = sum(p["durable_vs_off"] < 1 for p in pairs)
        print(f"run {i + 1:2}: {len(pairs)} pairs, ratio of medians {of_medians[-1]:.3f}, "
              f"median of ratios {of_ratios[-1]:.3f}, faster in {faster}")
    for name, v in (("ratio of medians", of_medians), ("median of ratios", of_ratios)):
        sd = st.stdev(v) if len(v) > 1 else 0.0
        print(f"{name}: mean {st.mean(v):.3f}, sd {sd:.3f}, max {max(v):.3f}, "
              f"above 1 in {sum(x > 1 for x in v)} of {len(v)} runs")
    pairs = [p for r in runs for p in r]
    print(f"pairs above 1: {sum(p['durable_vs_off'] > 1 for p in pairs)} of {len(pairs)}")
    norm = math.sqrt(sum(x * x for x in dx) * sum(y * y for y in dy))
    if norm > 0:
        print(f"within-run correlation of a pair's two times: {sum(x * y for x, y in zip(dx, dy)) / norm:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
