#!/usr/bin/env bash
# The test command (README, .ci/run): installs the Debian packages, then
#   1. builds Release with -Werror in build/ and runs every test there;
#   2. builds RelWithDebInfo with AddressSanitizer + UndefinedBehaviorSanitizer
#      (-Werror, ckpt-bench included: its tests run it) in build-asan/ and runs
#      every test there, with leak detection on and any sanitizer report fatal;
#   3. builds the concurrency suites with ThreadSanitizer and runs them;
#   4. runs the libFuzzer targets for a bounded time (scripts/fuzz.sh).
# Each phase is timed; a summary line comes last. Exits non-zero when any
# phase fails. A failing Release test run does not stop the sanitizer run, so
# one invocation reports everything; a failed configure or build skips the
# tests of that build.
#
# Usage: bash scripts/test.sh        (from anywhere)
set -uo pipefail  # no -e: every phase's status is collected and reported

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

JOBS=2

now_ns() { date +%s%N; }
seconds_since() {
  local end
  end=$(now_ns)
  awk -v d="$((end - $1))" 'BEGIN { printf "%.1f", d / 1e9 }'
}

TOTAL_START=$(now_ns)
RESULTS=()   # "name: PASS (12.3 s)" lines for the summary
FAILED=0

# phase NAME COMMAND...: runs the command as one timed phase; returns its status.
phase() {
  local name=$1 start rc secs
  shift
  echo
  echo "=================================================================="
  echo "== $name"
  echo "=================================================================="
  echo "+ $*"
  start=$(now_ns)
  "$@"
  rc=$?
  secs=$(seconds_since "$start")
  if [[ $rc -eq 0 ]]; then
    echo "--- $name: ok in $secs s"
    RESULTS+=("$name: PASS ($secs s)")
  else
    echo "--- $name: FAILED (exit $rc) after $secs s" >&2
    RESULTS+=("$name: FAIL, exit $rc ($secs s)")
    FAILED=1
  fi
  return "$rc"
}

skip() {
  echo "--- $1: skipped ($2)"
  RESULTS+=("$1: SKIPPED ($2)")
  FAILED=1
}

# A build directory left by another generator cannot be reconfigured with Ninja.
ensure_ninja_cache() {
  local dir=$1
  if [[ -f "$dir/CMakeCache.txt" ]] &&
     ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "$dir was configured with another generator; clearing its CMake cache"
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
}

# build_and_test LABEL DIR CMAKE_ARGS...: configure, build, test one configuration.
build_and_test() {
  local label=$1 dir=$2
  shift 2
  local cmake_args=("$@")
  ensure_ninja_cache "$dir"
  if ! phase "$label: configure" cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}"; then
    skip "$label: build" "configure failed"
    skip "$label: ctest" "configure failed"
    return
  fi
  if ! phase "$label: build" cmake --build "$dir" -j"$JOBS"; then
    skip "$label: ctest" "build failed"
    return
  fi
  phase "$label: ctest" ctest --test-dir "$dir" --output-on-failure --no-tests=error -j"$JOBS" || true
}

if ! phase "install Debian packages" bash scripts/install-deps.sh; then
  echo "test.sh: cannot install the build dependencies; stopping" >&2
  echo
  echo "SUMMARY: FAIL (dependencies could not be installed) in $(seconds_since "$TOTAL_START") s"
  exit 1
fi

build_and_test "release" build \
  -DCMAKE_BUILD_TYPE=Release -DCKPT_WERROR=ON -DCKPT_SANITIZE=

# The sanitizer settings also apply while building: gtest_discover_tests runs
# the (sanitized) test executables at build time to list their tests.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build_and_test "asan+ubsan" build-asan \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCKPT_SANITIZE=address,undefined \
  -DCKPT_WERROR=ON

# ThreadSanitizer on the suites whose subject is concurrency: the client's
# threads and tickets, copy ordering, GC and restore during checkpoints, the
# two threads that hash incremental checkpoints in place, the restore's read
# lanes.
TSAN_TESTS=(client_checkpoint_test concurrency_test in_place_hasher_test incremental_in_place_test read_lanes_test
            pipelined_restore_test)
[[ -f tests/copy_ordering_test.cc ]] && TSAN_TESTS+=(copy_ordering_test)
run_tsan() {
  local t
  for t in "${TSAN_TESTS[@]}"; do
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tests/tsan.supp" \
      "build-tsan/tests/$t" --gtest_brief=1 || return 1
  done
}
ensure_ninja_cache build-tsan
if phase "tsan: configure" cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DCKPT_SANITIZE=thread -DCKPT_WERROR=ON -DCKPT_BUILD_BENCH=OFF &&
   phase "tsan: build" cmake --build build-tsan -j"$JOBS" --target "${TSAN_TESTS[@]}"; then
  phase "tsan: tests" run_tsan || true
else
  skip "tsan: tests" "configure or build failed"
fi

# libFuzzer on the decoders of on-disk data (chunk records, manifests).
phase "fuzz: chunk record and manifest decoders" bash scripts/fuzz.sh 30 || true

echo
echo "=================================================================="
for line in "${RESULTS[@]}"; do echo "  $line"; done
if [[ $FAILED -eq 0 ]]; then
  echo "SUMMARY: PASS: release, asan+ubsan and tsan builds, all tests and fuzzers passed," \
       "in $(seconds_since "$TOTAL_START") s"
  exit 0
fi
echo "SUMMARY: FAIL: see the phases marked FAIL above," \
     "in $(seconds_since "$TOTAL_START") s"
exit 1
