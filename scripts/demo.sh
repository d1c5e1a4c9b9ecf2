#!/usr/bin/env bash
# The kill/resume demo: installs the Debian packages, builds ckpt (Release),
# then shows on a real training loop that
#   - a run SIGKILLed at step 175 and resumed ends bit-identical to an
#     uninterrupted run,
#   - the store passes `ckpt verify --all`,
#   - every checkpoint after the first writes at most 64 MiB + 1% of the
#     128 MiB of frozen parameters (frozen chunks are not rewritten),
#   - one flipped byte in a segment file makes `ckpt verify` fail, naming it.
# Exits non-zero on the first failed check.
#
# Usage: bash scripts/demo.sh        (from anywhere; works in the repo root)
set -Eeuo pipefail
trap 'echo "DEMO FAILED: the command at scripts/demo.sh line $LINENO exited $?" >&2' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD=build
BIN="$BUILD/bin"
DEMO="$BUILD/demo"
S1="$DEMO/store-reference"
S2="$DEMO/store-killed"
S2_DAMAGED="$DEMO/store-damaged"
REFERENCE="$DEMO/reference.bin"
RESUMED="$DEMO/resumed.bin"

JOB=demo
STEPS=300
CKPT_EVERY=50
MODEL_MB=64
FROZEN_MB=128
FAIL_AT=175
EXPECT_RESTORED=150  # newest checkpoint step before FAIL_AT
TRAIN_ARGS=(--job "$JOB" --steps "$STEPS" --ckpt-every "$CKPT_EVERY"
            --model-mb "$MODEL_MB" --frozen-mb "$FROZEN_MB")

# ---- presentation and timing ----------------------------------------------
now_ns() { date +%s%N; }
DEMO_START=$(now_ns)
SECTION_START=""
SECTION_NAME=""

elapsed() {  # seconds since $1 (ns), one decimal
  local start=$1 end
  end=$(now_ns)
  awk -v d="$((end - start))" 'BEGIN { printf "%.1f", d / 1e9 }'
}

end_section() {
  if [[ -n "$SECTION_START" ]]; then
    echo "--- $SECTION_NAME: done in $(elapsed "$SECTION_START") s"
  fi
  SECTION_START=""
}

section() {
  end_section
  SECTION_NAME="$1"
  SECTION_START=$(now_ns)
  echo
  echo "=================================================================="
  echo "== $1"
  echo "=================================================================="
}

fail() {
  echo >&2
  echo "DEMO FAILED: $*" >&2
  exit 1
}

# Prints a command, then runs it.
run() {
  echo "+ $*"
  "$@"
}

# ---- set-up ---------------------------------------------------------------
section "install Debian packages (scripts/install-deps.sh)"
bash scripts/install-deps.sh

section "configure (cmake, Release, Ninja)"
# A build/ left by another generator cannot be reconfigured with Ninja.
if [[ -f "$BUILD/CMakeCache.txt" ]] &&
   ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$BUILD/CMakeCache.txt"; then
  echo "build/ was configured with another generator; clearing its CMake cache"
  rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
fi
# Same settings as scripts/test.sh, so that running one after the other reuses the build.
run cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCKPT_WERROR=ON -DCKPT_SANITIZE=

section "build (cmake --build, -j2)"
run cmake --build "$BUILD" -j2
for exe in example-train ckpt; do
  [[ -x "$BIN/$exe" ]] || fail "$BIN/$exe was not built"
done

section "fresh demo directory $DEMO"
rm -rf "$DEMO"
mkdir -p "$DEMO"
echo "stores: $S1 (uninterrupted), $S2 (killed and resumed)"

# ---- a) the uninterrupted reference run -------------------------------------
section "a) uninterrupted reference run: $STEPS steps, checkpoint every $CKPT_EVERY"
run "$BIN/example-train" --store "$S1" "${TRAIN_ARGS[@]}" --dump-final "$REFERENCE"
[[ -s "$REFERENCE" ]] || fail "reference run wrote no $REFERENCE"
echo "final state: $REFERENCE ($(stat -c %s "$REFERENCE") bytes)"

# ---- b) the same run, killed ------------------------------------------------
section "b) same run on a second store, SIGKILLed at step $FAIL_AT"
rc=0
run "$BIN/example-train" --store "$S2" "${TRAIN_ARGS[@]}" --fail-at-step "$FAIL_AT" || rc=$?
if [[ $rc -ne 137 ]]; then
  fail "expected exit status 137 (SIGKILL) from --fail-at-step $FAIL_AT, got $rc"
fi
echo "exit status 137: killed at step $FAIL_AT, as asked"

# ---- c) what survived --------------------------------------------------------
section "c) what survived the kill: ckpt ls"
run "$BIN/ckpt" ls --store "$S2" --job "$JOB"

# ---- d) resume ----------------------------------------------------------------
section "d) resume on the killed run's store"
RESUME_LOG="$DEMO/resume.log"
rc=0
run "$BIN/example-train" --store "$S2" "${TRAIN_ARGS[@]}" --resume --dump-final "$RESUMED" \
  2>&1 | tee "$RESUME_LOG" || rc=$?
[[ $rc -eq 0 ]] || fail "the resumed run exited $rc"
if ! grep -q "restored step $EXPECT_RESTORED\b" "$RESUME_LOG"; then
  fail "the resumed run did not print 'restored step $EXPECT_RESTORED'"
fi
[[ -s "$RESUMED" ]] || fail "resumed run wrote no $RESUMED"

# ---- e) bit-identical? --------------------------------------------------------
section "e) compare final states: uninterrupted vs killed-and-resumed"
echo "reference: $(stat -c %s "$REFERENCE") bytes  sha256 $(sha256sum "$REFERENCE" | cut -c1-16)..."
echo "resumed:   $(stat -c %s "$RESUMED") bytes  sha256 $(sha256sum "$RESUMED" | cut -c1-16)..."
if cmp "$REFERENCE" "$RESUMED"; then
  echo "resumed run is bit-identical to the uninterrupted run"
else
  fail "resumed run's final state DIFFERS from the uninterrupted run's ($REFERENCE vs $RESUMED)"
fi

# ---- f) verify and incremental cost ------------------------------------------
section "f) ckpt verify --all, and bytes written per checkpoint"
rc=0
run "$BIN/ckpt" verify --store "$S2" --job "$JOB" --all || rc=$?
[[ $rc -eq 0 ]] || fail "ckpt verify --all on $S2 exited $rc, expected 0"
echo "verify: every checkpoint of job $JOB is sound"

LS_JSON="$DEMO/ls.json"
echo "+ $BIN/ckpt ls --store $S2 --job $JOB --json > $LS_JSON"
"$BIN/ckpt" ls --store "$S2" --job "$JOB" --json >"$LS_JSON"
python3 - "$LS_JSON" "$MODEL_MB" "$FROZEN_MB" "$JOB" <<'PY'
import json
import sys

path, model_mb, frozen_mb, job = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
MiB = 1 << 20
limit = model_mb * MiB + frozen_mb * MiB / 100  # 64 MiB + 1% of 128 MiB
with open(path) as f:
    entries = json.load(f)
if not isinstance(entries, list) or not entries:
    sys.exit(f"ckpt ls --json gave no checkpoints: {entries!r}")
entries = sorted((e for e in entries if e["job"] == job), key=lambda e: e["step"])
if len(entries) < 2:
    sys.exit(f"expected several checkpoints of job {job}, found {len(entries)}")
print(f"limit for every checkpoint after the first: {limit:.0f} bytes "
      f"({model_mb} MiB + 1% of {frozen_mb} MiB)")
print(f"{'step':>6} {'logical_bytes':>14} {'written_bytes':>14} {'MiB':>8}  check")
bad = []
for i, e in enumerate(entries):
    w = int(e["written_bytes"])
    if i == 0:
        verdict = "first (full copy, no limit)"
    elif w <= limit:
        verdict = "ok"
    else:
        verdict = "OVER LIMIT"
        bad.append(e["step"])
    print(f"{e['step']:>6} {int(e['logical_bytes']):>14} {w:>14} {w / MiB:>8.2f}  {verdict}")
if bad:
    sys.exit(f"checkpoints over the limit (frozen chunks rewritten?): steps {bad}")
print("every checkpoint after the first stayed within the limit")
PY

# ---- g) damage is detected -----------------------------------------------------
section "g) flip one byte in a copy of the store; ckpt verify must name the damage"
rm -rf "$S2_DAMAGED"
cp -a "$S2" "$S2_DAMAGED"
# Newest segment: latest modification time, highest id on a tie.
NEWEST=$(find "$S2_DAMAGED/segments" -maxdepth 1 -name '*.seg' -printf '%T@ %f\n' |
         sort -k1,1n -k2,2 | tail -n1 | cut -d' ' -f2)
[[ -n "$NEWEST" ]] || fail "no segment files in $S2_DAMAGED/segments"
SEG="$S2_DAMAGED/segments/$NEWEST"
SEG_SIZE=$(stat -c %s "$SEG")
# The tail of a segment is zero padding (< 4 KiB) that nothing reads; the
# middle of a file of 8 KiB or more always lies inside a chunk record.
if (( SEG_SIZE >= 8192 )); then OFFSET=$((SEG_SIZE / 2)); else OFFSET=20; fi
python3 - "$SEG" "$OFFSET" <<'PY'
import sys

path, offset = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(offset)
    old = f.read(1)[0]
    f.seek(offset)
    f.write(bytes([old ^ 0xFF]))
print(f"flipped byte at offset {offset} of {path}: 0x{old:02x} -> 0x{old ^ 0xFF:02x}")
PY
VERIFY_LOG="$DEMO/verify-damaged.log"
rc=0
echo "+ $BIN/ckpt verify --store $S2_DAMAGED --job $JOB --all"
"$BIN/ckpt" verify --store "$S2_DAMAGED" --job "$JOB" --all >"$VERIFY_LOG" 2>&1 || rc=$?
cat "$VERIFY_LOG"
if [[ $rc -eq 0 ]]; then
  fail "ckpt verify exited 0 on a store with a flipped byte in $SEG"
fi
if [[ $rc -ne 1 ]]; then
  fail "ckpt verify exited $rc on the damaged store; expected 1 (damage found)"
fi
if ! grep -q "chunk" "$VERIFY_LOG"; then
  fail "ckpt verify failed but did not name the damaged chunk"
fi
echo "verify exited $rc and named the damage, as expected"
rc=0
"$BIN/ckpt" verify --store "$S2" --job "$JOB" --all >/dev/null 2>&1 || rc=$?
[[ $rc -eq 0 ]] || fail "the undamaged store $S2 no longer verifies (exit $rc)"
echo "the original store $S2 still verifies"

# ---- h) the kill is in the job's failure history --------------------------------
section "h) the kill is a failure in the job's history; the interval it suggests"
FAILURES_JSON="$DEMO/failures.json"
echo "+ $BIN/ckpt failure ls --store $S2 --job $JOB --json > $FAILURES_JSON"
"$BIN/ckpt" failure ls --store "$S2" --job "$JOB" --json > "$FAILURES_JSON" ||
  fail "ckpt failure ls exited $?"
python3 - "$FAILURES_JSON" <<'PY' || fail "the kill is not in the failure history"
import json, sys
doc = json.load(open(sys.argv[1]))
found = [f for f in doc["failures"] if f["source"] == "client"]
if len(found) != 1:
    sys.exit(f"expected one failure detected by the client, got {doc['failures']!r}")
cost = doc.get("profile", {}).get("checkpoint_cost", {})
print(f"failure detected at restart: {found[0]['time']} ({found[0]['cause'][:60]}...)")
print(f"measured: checkpoint cost C {cost.get('mean_s', 0):.4f} s over {cost.get('samples', 0)} checkpoints")
PY
run "$BIN/ckpt" policy --store "$S2" --job "$JOB" || fail "ckpt policy --store exited $?"

end_section
echo
echo "DEMO PASSED in $(elapsed "$DEMO_START") s: kill at step $FAIL_AT, resume from step" \
     "$EXPECT_RESTORED, bit-identical final state, incremental checkpoints, damage detected."
