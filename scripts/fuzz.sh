#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang (AddressSanitizer +
# UndefinedBehaviorSanitizer) and runs each for a bounded time from a seed
# corpus of valid inputs. Any crash, leak, sanitizer report or timeout fails.
#
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER_TARGET=${1:-30}
OUT=build-fuzz
mkdir -p "$OUT"
CXX=${CLANGXX:-clang++}
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz.sh: $CXX not found (install clang and libclang-rt-14-dev)" >&2
  exit 1
fi
# Only the decoding code is fuzzed: compile just what it needs.
SOURCES=(lib/engine/manifest.cc lib/engine/chunk_hash.cc lib/engine/chunk_codec.cc
         lib/store/chunk_record.cc lib/ipc/protocol.cc lib/util/status.cc lib/util/types.cc)
FLAGS=(-std=c++20 -O1 -g -Ilib/include -Ilib -fno-omit-frame-pointer)
LIBS=(-lzstd)

"$CXX" "${FLAGS[@]}" -fsanitize=address,undefined tests/fuzz/make_seeds.cc "${SOURCES[@]}" "${LIBS[@]}" -o "$OUT/make_seeds"
for target in manifest chunk_record ipc; do
  mkdir -p "$OUT/corpus/$target"
done
"$OUT/make_seeds" "$OUT/corpus"

status=0
for target in manifest chunk_record ipc; do
  echo "== fuzz_$target: building"
  "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "tests/fuzz/fuzz_$target.cc" "${SOURCES[@]}" "${LIBS[@]}" -o "$OUT/fuzz_$target"
  echo "== fuzz_$target: running for ${SECONDS_PER_TARGET} s"
  if "$OUT/fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 -timeout=10 \
       -print_final_stats=1 "$OUT/corpus/$target" >"$OUT/fuzz_$target.log" 2>&1; then
    grep -E "stat::number_of_executed_units|Done " "$OUT/fuzz_$target.log" | tail -n 2
    echo "== fuzz_$target: no crash"
  else
    tail -n 40 "$OUT/fuzz_$target.log"
    echo "== fuzz_$target: FAILED" >&2
    status=1
  fi
done
exit $status
