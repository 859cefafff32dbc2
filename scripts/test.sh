#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test.
#
#   1. unit tests and end-to-end tests on a -Werror build
#   2. the same again on an AddressSanitizer + UndefinedBehaviorSanitizer build
#   3. each libFuzzer target: its whole corpus replayed, then fuzzing for a bounded time
#      (GUST_FUZZ_SECONDS, default 30)
#
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
FUZZ_SECONDS=${GUST_FUZZ_SECONDS:-30}

./scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
# Leaks inside third-party libraries we cannot fix (see the file) are suppressed; ours are not.
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

total_pass=0
total_fail=0
add_counts() { # LOGFILE: add the last "N passed, N failed" line in it
  local line p f
  line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
  f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
  total_pass=$((total_pass + ${p:-0}))
  total_fail=$((total_fail + ${f:-0}))
}
step_fail() { # NAME: a step that could not even run counts as one failure
  echo "gust-test: $1 failed" >&2
  total_fail=$((total_fail + 1))
}

run_suite() { # O_DIR LABEL MAKEFLAGS...
  local o=$1 label=$2
  shift 2
  echo "== build ($label)"
  if ! make -s -j"$JOBS" O="$o" WERROR=1 "$@" all unit; then
    step_fail "build ($label)"
    return
  fi
  echo "== unit tests ($label)"
  "$o/unit-tests" | tee "$o/unit.log"
  add_counts "$o/unit.log"
  echo "== end-to-end tests ($label)"
  tests/e2e/run.sh "$o/gust" | tee "$o/e2e.log"
  add_counts "$o/e2e.log"
}

run_suite build/test "release, -Werror"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  run_suite build/san "ASan+UBSan" SAN=1

echo "== fuzz targets (${FUZZ_SECONDS}s each)"
if make -s -j"$JOBS" fuzz; then
  for bin in build/fuzz/fuzz_*; do
    name=$(basename "$bin")
    corpus="tests/fuzz/corpus/${name#fuzz_}"
    mkdir -p "$corpus" build/fuzz/work/"$name"
    # First the whole checked-in corpus, each input once (deterministic: a regression in any
    # input found before fails here whatever the fuzzing below finds), then a bounded fuzzing
    # run. New inputs go to a scratch folder; the checked-in corpus only seeds.
    if ! "$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build/fuzz/ "$corpus" \
      >build/fuzz/"$name".replay.log 2>&1; then
      echo "FAIL $name: replaying tests/fuzz/corpus/${name#fuzz_}: see build/fuzz/$name.replay.log"
      tail -30 build/fuzz/"$name".replay.log
      total_fail=$((total_fail + 1))
    elif "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=build/fuzz/ build/fuzz/work/"$name" "$corpus" \
      >build/fuzz/"$name".log 2>&1; then
      echo "ok   $name (corpus of $(ls "$corpus" | wc -l) replayed; $(grep -oE 'stat::number_of_executed_units: [0-9]+' build/fuzz/"$name".log || tail -1 build/fuzz/"$name".log))"
      total_pass=$((total_pass + 1))
    else
      echo "FAIL $name: see build/fuzz/$name.log"
      tail -30 build/fuzz/"$name".log
      total_fail=$((total_fail + 1))
    fi
  done
else
  step_fail "fuzz build"
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
