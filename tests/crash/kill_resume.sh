#!/usr/bin/env bash
# Issue 7's end-to-end kill test: example-train with --resume, SIGKILLed from
# outside at N random (seeded) moments and then run to the end, must finish
# bit-identical to an uninterrupted run, and `ckpt verify --all` must pass.
#
# Usage: kill_resume.sh BIN_DIR [MODEL_MB] [KILLS] [SEED]
set -euo pipefail
BIN=$1
MODEL_MB=${2:-64}
KILLS=${3:-10}
SEED=${4:-7}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-kill-resume-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ARGS=(--job j --steps 400 --ckpt-every 20 --model-mb "$MODEL_MB" --log-every 0)

"$BIN/example-train" "${ARGS[@]}" --store "$WORK/reference" --dump-final "$WORK/reference.bin" >/dev/null
start=$(date +%s%N)
"$BIN/example-train" "${ARGS[@]}" --store "$WORK/timing" >/dev/null
run_ms=$((($(date +%s%N) - start) / 1000000))
rm -rf "$WORK/timing"
# Kill moments spread over a quarter of a whole run, so that the attempts
# together get through the training (each resumes where the last committed).
window_ms=$((run_ms / 4 > 200 ? run_ms / 4 : 200))
echo "an uninterrupted run takes ${run_ms} ms; killing within ${window_ms} ms of each start"

RANDOM=$SEED
for ((i = 1; i <= KILLS; i++)); do
  # A random moment: during start-up and restore, between checkpoints, while
  # a snapshot is copied or written.
  delay_ms=$((100 + RANDOM % window_ms))
  "$BIN/example-train" "${ARGS[@]}" --store "$WORK/store" --resume >"$WORK/run-$i.log" 2>&1 &
  pid=$!
  sleep "$(awk -v ms="$delay_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
  if kill -KILL "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    echo "kill $i: SIGKILL after ${delay_ms} ms ($(grep -m1 -E '^(restored step|no checkpoint)' "$WORK/run-$i.log" || echo 'before restore'))"
  else
    wait "$pid" || true
    echo "kill $i: the run had already finished"
  fi
done

"$BIN/example-train" "${ARGS[@]}" --store "$WORK/store" --resume --dump-final "$WORK/resumed.bin" \
  | grep -E "^(restored step|no checkpoint|done)"
cmp "$WORK/reference.bin" "$WORK/resumed.bin"
echo "resumed run is bit-identical to the uninterrupted run"
"$BIN/ckpt" verify --store "$WORK/store" --job j --all | tail -n 3
echo "kill_resume: PASS ($KILLS kills)"
