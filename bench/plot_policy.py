#!/usr/bin/python3
"""Plots waste against a fixed checkpoint interval, with each policy marked.

Needs Debian's python3-matplotlib (hence /usr/bin/python3, not another python3
earlier on PATH).

Input: the curve CSV (`ckpt-bench policy ... --curve FILE.csv`) and the JSON
report (`ckpt-bench policy ... --json`) of the same run. Fixed-interval
policies are points on the curve; adaptive ones have no single interval and
are drawn as horizontal lines at their waste.

    bench/plot_policy.py --curve c.csv --json r.json --out docs/images/x.png
"""
import argparse
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curve", required=True, help="CSV with interval_s,waste")
    ap.add_argument("--json", required=True, help="ckpt-bench policy --json output")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()

    with open(args.curve, newline="") as f:
        rows = [(float(r["interval_s"]), float(r["waste"])) for r in csv.DictReader(f)]
    if not rows:
        sys.exit("plot_policy: empty curve " + args.curve)
    with open(args.json) as f:
        report = json.load(f)

    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    ax.plot([r[0] / 60 for r in rows], [r[1] * 100 for r in rows], color="0.55", lw=1,
            label="any fixed interval on this trace")
    oracle = report["oracle"]
    ax.plot(oracle["interval_s"] / 60, oracle["waste"] * 100, marker="*", ms=14, color="black",
            ls="none", label="oracle %.1f min: %.3f%%" % (oracle["interval_s"] / 60,
                                                          oracle["waste"] * 100))
    # Distinct from the grey curve and the black oracle.
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink",
              "tab:olive", "tab:red", "tab:cyan"]
    for i, p in enumerate(report["policies"]):
        color = colors[i % len(colors)]
        hindsight = not p["online"] and "hindsight" not in p["name"]
        label = "%s%s: %.3f%%" % (p["name"], " (hindsight)" if hindsight else "",
                                  p["waste"] * 100)
        if p["interval_s"] is not None:
            ax.plot(p["interval_s"] / 60, p["waste"] * 100, marker="o", ms=7, ls="none",
                    color=color, label=label)
        else:
            ax.axhline(p["waste"] * 100, color=color, lw=1.2,
                       ls="-" if p["online"] else ":", label=label + " (adaptive)")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("checkpoint interval (min, log scale)")
    ax.set_ylabel("waste (%)")
    trace = report["trace"]["description"]
    ax.set_title(args.title or "%s, C = %g s, R = %g s" % (trace, report["cost_s"],
                                                          report["restart_s"]))
    # Zoom on the basin around the oracle, where the policies differ.
    ax.set_xlim(oracle["interval_s"] / 60 / 3, oracle["interval_s"] / 60 * 3)
    lo = min(min(r[1] for r in rows), min(p["waste"] for p in report["policies"])) * 100
    ax.set_ylim(lo - 0.1, lo + 1.0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(args.out)


if __name__ == "__main__":
    main()
