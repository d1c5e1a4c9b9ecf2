#!/usr/bin/python3
"""Draws the charts of docs/performance.md from `ckpt-bench io --json` runs.

Needs Debian's python3-matplotlib (hence /usr/bin/python3, not another python3
earlier on PATH).

Input: a folder of *.jsonl files, one `ckpt-bench io --json` object per line
(bench/run_io_figures.sh writes them; the file name, e.g. synthetic-off,
labels the configuration). Each chart shows the median of the runs of a
configuration, with the best and worst run as the error bar.

    bench/plot_io.py --runs DIR --out docs/images [--table]

--table also prints the medians as Markdown tables (docs/performance.md).
"""
import argparse
import glob
import json
import os
import statistics

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["synthetic-off", "synthetic-auto", "synthetic-on", "snapshots-off", "snapshots-auto", "snapshots-on",
         "finetune-off", "finetune-auto", "finetune-on"]


def load(folder):
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.jsonl"))):
        name = os.path.basename(path)[: -len(".jsonl")]
        with open(path) as f:
            runs[name] = [json.loads(line) for line in f if line.strip()]
    names = [n for n in ORDER if n in runs] + sorted(n for n in runs if n not in ORDER)
    return [(n, runs[n]) for n in names if runs[n]]


def stat(values):
    med = statistics.median(values)
    return med, med - min(values), max(values) - med


def bars(ax, labels, series, ylabel, log=False):
    """series: [(legend, [values per label as lists])]."""
    width = 0.8 / len(series)
    for k, (legend, per_label) in enumerate(series):
        meds, lo, hi = zip(*(stat(v) for v in per_label))
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=legend)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=15)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def field(runs, *path):
    out = []
    for r in runs:
        v = r
        for p in path:
            v = v[p]
        out.append(v)
    return out


def med(runs, *path):
    return statistics.median(field(runs, *path))


def table(data):
    print("| configuration | runs | MiB | stall s | naive s | stall/naive | durable s | limit write s |"
          " durable/limit | restore s | limit read s | restore/limit | written/bytes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, r in data:
        print(f"| {n} | {len(r)} | {r[0]['bytes'] / 2**20:.0f} | {med(r, 'stall_s'):.5f} | {med(r, 'naive_s'):.2f} |"
              f" {med(r, 'ratios', 'stall_vs_naive'):.4f} | {med(r, 'durable_s'):.3f} | {med(r, 'limit_write_s'):.3f} |"
              f" {med(r, 'ratios', 'durable_vs_limit_write'):.2f} | {med(r, 'restore_s'):.3f} |"
              f" {med(r, 'limit_read_s'):.3f} | {med(r, 'ratios', 'restore_vs_limit_read'):.2f} |"
              f" {med(r, 'ratios', 'written_vs_bytes'):.3f} |")
    print()
    print("| configuration | chunks changed | incremental durable s | incremental/full time |"
          " incremental/full bytes | CPU s full | CPU s incremental | CPU s restore |")
    print("|---|---|---|---|---|---|---|---|")
    for n, r in data:
        print(f"| {n} | {med(r, 'incremental', 'change_fraction'):.3f} | {med(r, 'incremental', 'durable_s'):.3f} |"
              f" {med(r, 'ratios', 'incremental_time_vs_full'):.2f} | {med(r, 'ratios', 'incremental_bytes_vs_full'):.3f} |"
              f" {med(r, 'cpu_s', 'durable'):.2f} | {med(r, 'cpu_s', 'incremental'):.2f} | {med(r, 'cpu_s', 'restore'):.2f} |")
    print()
    comp = [(n, r) for n, r in data if all("off_durable_s" in x for x in r)]
    if comp:
        print("| configuration | durable s | uncompressed durable s (same run) | durable/uncompressed |"
              " written bytes | zstd -1 raw bytes | written/zstd -1 |")
        print("|---|---|---|---|---|---|---|")
        for n, r in comp:
            print(f"| {n} | {med(r, 'durable_s'):.3f} | {med(r, 'off_durable_s'):.3f} |"
                  f" {med(r, 'ratios', 'durable_vs_off'):.2f} | {med(r, 'written_bytes') / 2**20:.1f} MiB |"
                  f" {med(r, 'zstd1_raw_bytes') / 2**20:.1f} MiB | {med(r, 'ratios', 'written_vs_zstd1_raw'):.3f} |")
        print()
    print("| configuration | region | type | MiB | ratio (ckpt encoder) | ratio (zstd -1 raw) |")
    print("|---|---|---|---|---|---|")
    for n, r in data:
        for g in r[0]["regions"]:
            print(f"| {n} | {g['name']} | {g['type']} | {g['bytes'] / 2**20:.1f} | {g['ratio']:.3f} |"
                  f" {g['zstd1_raw_ratio']:.3f} |")
    print()


def save(fig, out, name):
    fig.tight_layout()
    path = os.path.join(out, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print("wrote", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, help="folder of *.jsonl files")
    ap.add_argument("--out", required=True, help="folder for the PNGs")
    ap.add_argument("--table", action="store_true", help="print Markdown tables of the medians")
    args = ap.parse_args()
    data = load(args.runs)
    if args.table:
        table(data)
    labels = [n for n, _ in data]
    os.makedirs(args.out, exist_ok=True)

    # 1. Time to durable against the disk's limit and the naive save.
    fig, ax = plt.subplots(figsize=(8, 4))
    bars(ax, labels, [
        ("limit write (io_uring O_DIRECT qd16)", [field(r, "limit_write_s") for _, r in data]),
        ("ckpt durable", [field(r, "durable_s") for _, r in data]),
        ("naive write()+fsync", [field(r, "naive_s") for _, r in data]),
    ], "seconds")
    ax.set_title("Checkpoint until durable")
    save(fig, args.out, "perf-durable.png")

    # 2. Restore against the read limit.
    fig, ax = plt.subplots(figsize=(8, 4))
    bars(ax, labels, [
        ("limit read (io_uring O_DIRECT qd16)", [field(r, "limit_read_s") for _, r in data]),
        ("ckpt restore (verified)", [field(r, "restore_s") for _, r in data]),
    ], "seconds")
    ax.set_title("Restore, page cache dropped")
    save(fig, args.out, "perf-restore.png")

    # 3. What the training loop is blocked for (log scale).
    fig, ax = plt.subplots(figsize=(8, 4))
    bars(ax, labels, [
        ("stall: longest checkpoint() call", [field(r, "stall_s") for _, r in data]),
        ("snapshot staged (wait_copied)", [field(r, "copied_s") for _, r in data]),
        ("naive write()+fsync", [field(r, "naive_s") for _, r in data]),
    ], "seconds (log)", log=True)
    ax.set_title("Time the training loop is blocked")
    save(fig, args.out, "perf-stall.png")

    # 4. Incremental checkpoint against the full one.
    fig, ax = plt.subplots(figsize=(8, 4))
    bars(ax, labels, [
        ("bytes written, incremental / full", [field(r, "ratios", "incremental_bytes_vs_full") for _, r in data]),
        ("time to durable, incremental / full", [field(r, "ratios", "incremental_time_vs_full") for _, r in data]),
        ("chunks changed", [field(r, "incremental", "change_fraction") for _, r in data]),
    ], "fraction of the full checkpoint")
    ax.axhline(0.12, color="C0", ls="--", lw=1)
    ax.axhline(0.30, color="C1", ls="--", lw=1)
    ax.set_title("Incremental checkpoint (dashed: targets 12% bytes, 30% time)")
    save(fig, args.out, "perf-incremental.png")

    # 5. Compressed runs against their uncompressed baseline (same run) and
    #    against zstd -1 on the raw bytes.
    comp = [(n, r) for n, r in data if all("off_durable_s" in x for x in r)]
    if comp:
        fig, ax = plt.subplots(figsize=(8, 4))
        bars(ax, [n for n, _ in comp], [
            ("durable / uncompressed durable (same run)", [field(r, "ratios", "durable_vs_off") for _, r in comp]),
            ("bytes written / zstd -1 on the raw bytes", [field(r, "ratios", "written_vs_zstd1_raw") for _, r in comp]),
        ], "ratio (below 1: better)")
        ax.axhline(1.0, color="gray", ls="--", lw=1)
        ax.set_title("Compression: time and bytes against the baselines")
        save(fig, args.out, "perf-compressed-vs-baselines.png")

    # 6. Compression ratio per tensor kind (first run of each configuration).
    comp = [(n, r) for n, r in data if not n.endswith("-off")]
    if comp:
        rows = []
        for n, runs in comp:
            for g in runs[0]["regions"]:
                rows.append((f"{n}\n{g['name']}", g["ratio"], g["zstd1_raw_ratio"]))
        fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.9), 4))
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r[1] for r in rows], 0.4, label="ckpt encoder (bytes / encoded)")
        ax.bar([x + 0.2 for x in xs], [r[2] for r in rows], 0.4, label="zstd -1 on the raw bytes")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r[0] for r in rows], fontsize=7)
        ax.set_ylabel("compression ratio")
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Compression ratio per tensor kind")
        save(fig, args.out, "perf-compression.png")


if __name__ == "__main__":
    main()
