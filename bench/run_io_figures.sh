#!/bin/bash
# Runs the measurements behind docs/performance.md and appends one JSON line
# per run to OUT/*.jsonl; bench/plot_io.py then draws the charts.
#
#   bench/run_io_figures.sh BUILD_DIR OUT_DIR WORK_DIR [SNAPSHOTS_DIR] [RUNS] [FINETUNE_DIR]
#
# WORK_DIR must be on the disk to measure (not tmpfs). SNAPSHOTS_DIR: a folder
# of two snapshot folders from bench/data/make_snapshots.py (the first by
# name is checkpointed in full, the second incrementally); skipped when
# absent. FINETUNE_DIR: the same for the runs named finetune-*, a folder
# whose first snapshot by name is a fine-tuning one (frozen layers: zero
# optimizer state), as make_snapshots.py's default output is.
set -euo pipefail
build=$1 out=$2 work=$3 snaps=${4:-} runs=${5:-3} finetune=${6:-}
bench="$build/bin/ckpt-bench"
mkdir -p "$out" "$work"
run() {  # name, args...
  local name=$1; shift
  for i in $(seq "$runs"); do
    echo "== $name run $i/$runs: ckpt-bench io $*" >&2
    "$bench" io --dir "$work" "$@" --json >>"$out/$name.jsonl"
  done
}
run synthetic-off --bytes 1G --data synthetic --compression off
run synthetic-auto --bytes 1G --data synthetic --compression auto
run synthetic-on --bytes 1G --data synthetic --compression on
if [[ -n "$snaps" && -d "$snaps" ]]; then
  for c in off on auto; do run "snapshots-$c" --data "$snaps" --compression "$c"; done
fi
if [[ -n "$finetune" && -d "$finetune" ]]; then
  for c in off on auto; do run "finetune-$c" --data "$finetune" --compression "$c"; done
fi
