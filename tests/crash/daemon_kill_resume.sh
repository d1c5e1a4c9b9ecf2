#!/usr/bin/env bash
# Issue 4's end-to-end test: with ckptd serving the store, example-train in
# daemon mode dies right after the snapshot of step 150 is copied; step 150
# must be committed within 30 s, `ckpt ls/verify` work beside the daemon, and
# a --resume run through the daemon restores step 150 and ends bit-identical
# to an uninterrupted run.
#
# Usage: daemon_kill_resume.sh BIN_DIR [MODEL_MB]
set -euo pipefail
BIN=$1
MODEL_MB=${2:-256}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-daemon-e2e-XXXXXX")
DAEMON_PID=
cleanup() {
  if [[ -n "$DAEMON_PID" ]]; then kill -KILL "$DAEMON_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ARGS=(--job j --steps 300 --ckpt-every 50 --model-mb "$MODEL_MB" --log-every 0)

"$BIN/ckptd" --store "$WORK/S" --socket "$WORK/P" 2>"$WORK/ckptd.log" &
DAEMON_PID=$!
for _ in $(seq 1 3000); do [[ -S "$WORK/P" ]] && break; sleep 0.01; done
if [[ ! -S "$WORK/P" ]]; then echo "ckptd did not create $WORK/P within 30 s:"; cat "$WORK/ckptd.log"; exit 1; fi

"$BIN/example-train" "${ARGS[@]}" --store "$WORK/reference" --dump-final "$WORK/reference.bin" >/dev/null

set +e
"$BIN/example-train" "${ARGS[@]}" --daemon "$WORK/P" --fail-at-step 150 >"$WORK/run1.log" 2>&1
rc=$?
set -e
if [[ $rc -ne 137 ]]; then
  echo "expected the trainer to die of SIGKILL (137), got $rc"; cat "$WORK/run1.log"; exit 1
fi
found=
for i in $(seq 1 300); do
  out=$("$BIN/ckpt" ls --store "$WORK/S" --job j --json)
  if [[ "$out" == *'"step": 150'* ]]; then found=$i; break; fi
  sleep 0.1
done
if [[ -z "$found" ]]; then
  echo "step 150 not committed within 30 s"; cat "$WORK/ckptd.log"; exit 1
fi
echo "step 150 committed $((found / 10)).$((found % 10)) s after the trainer died"
"$BIN/ckpt" verify --store "$WORK/S" --job j --all | tail -n 1

out=$("$BIN/example-train" "${ARGS[@]}" --daemon "$WORK/P" --resume --dump-final "$WORK/resumed.bin")
restored=$(printf '%s\n' "$out" | grep -E '^restored step' || true)
echo "$restored"
if [[ "$restored" != "restored step 150" ]]; then echo "$out"; exit 1; fi
cmp "$WORK/reference.bin" "$WORK/resumed.bin"
echo "resumed run through the daemon is bit-identical to the uninterrupted run"

status=$("$BIN/ckpt" status --socket "$WORK/P" --json)
if [[ "$status" != *'"failures"'*'"job": "j"'* ]]; then echo "no failure event for job j: $status"; exit 1; fi
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
DAEMON_PID=
echo "daemon_kill_resume: PASS"
