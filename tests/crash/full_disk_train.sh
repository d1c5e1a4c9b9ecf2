#!/usr/bin/env bash
# Issue 7's full-disk training test: example-train with its store on a small
# tmpfs completes with the same final state as a run with room to spare,
# reports the full disk, keeps its committed checkpoints verifiable, and a
# copy of that store on a larger disk resumes bit-exactly.
# Needs root (mount); exits 77 (ctest: skipped) otherwise.
#
# Usage: full_disk_train.sh BIN_DIR [MODEL_MB] [TMPFS_MB]
set -euo pipefail
BIN=$1
MODEL_MB=${2:-64}
TMPFS_MB=${3:-160}
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root to mount a ${TMPFS_MB} MiB tmpfs"
  exit 77
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-full-disk-XXXXXX")
SMALL="$WORK/small"
mkdir -p "$SMALL"
if ! mount -t tmpfs -o "size=${TMPFS_MB}m" tmpfs "$SMALL"; then
  rm -rf "$WORK"
  echo "SKIP: cannot mount tmpfs here"
  exit 77
fi
trap 'umount -l "$SMALL" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ARGS=(--job j --steps 400 --ckpt-every 20 --model-mb "$MODEL_MB" --log-every 0)

"$BIN/example-train" "${ARGS[@]}" --store "$WORK/reference" --dump-final "$WORK/reference.bin" >/dev/null
status=0
"$BIN/example-train" "${ARGS[@]}" --store "$SMALL/store" --dump-final "$WORK/full.bin" >"$WORK/full.log" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
  echo "FAIL: example-train on the full disk exited with status $status; the end of its output:"
  tail -n 40 "$WORK/full.log"
  exit 1
fi
cmp "$WORK/reference.bin" "$WORK/full.bin"
echo "training on a full disk completed with the same final state"
grep -m1 "No space left on device" "$WORK/full.log"
echo "committed on the small disk: $("$BIN/ckpt" ls --store "$SMALL/store" --job j --json | python3 -c 'import json,sys; print([c["step"] for c in json.load(sys.stdin)])')"
"$BIN/ckpt" verify --store "$SMALL/store" --job j --all | tail -n 2

cp -a "$SMALL/store" "$WORK/copy"
"$BIN/example-train" "${ARGS[@]}" --store "$WORK/copy" --resume --dump-final "$WORK/resumed.bin" | grep -E "^restored step"
cmp "$WORK/reference.bin" "$WORK/resumed.bin"
echo "the copy on a larger disk resumed bit-exactly"
echo "full_disk_train: PASS"
