#!/usr/bin/env bash
# run.sh BINARY [FILTER] - run every end-to-end test against the gust binary BINARY.
# Each test function runs in its own temporary directory, in its own process group, with a
# deadline; prints one line per test and a last line "e2e: N passed, N failed".
set -u
GUST=$(readlink -f "$1")
FILTER=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export GUST ROOT
DEADLINE=${GUST_E2E_DEADLINE:-180}
passed=0
failed=0
# Job control: each test runs in its own process group, so that whatever it leaves behind
# (a server it started, a task's children) is killed when it ends.
set -m
failures=""
for file in "$ROOT"/tests/e2e/test_*.sh; do
  for t in $(grep -oE '^t_[A-Za-z0-9_]+' "$file"); do
    [ -n "$FILTER" ] && [[ "$t" != *"$FILTER"* ]] && continue
    dir=$(mktemp -d /tmp/gust-e2e.XXXXXX)
    start=$(date +%s%N)
    (
      cd "$dir" || exit 1
      set -e
      # shellcheck source=/dev/null
      . "$ROOT/tests/e2e/lib.sh"
      # shellcheck source=/dev/null
      . "$file"
      "$t"
    ) >"$dir.log" 2>&1 &
    pid=$!
    # Deadline watchdog: kill the test's whole process tree if it runs too long.
    ( sleep "$DEADLINE"; kill -KILL -- -"$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null ) &
    dog=$!
    wait "$pid"
    rc=$?
    kill -KILL -- -"$pid" 2>/dev/null
    kill "$dog" 2>/dev/null
    wait "$dog" 2>/dev/null
    ms=$((($(date +%s%N) - start) / 1000000))
    if [ $rc -eq 0 ]; then
      passed=$((passed + 1))
      printf 'ok   %-50s %6d ms\n' "$t" "$ms"
      rm -rf "$dir" "$dir.log"
    else
      failed=$((failed + 1))
      failures="$failures $t"
      printf 'FAIL %-50s %6d ms (rc %d)\n' "$t" "$ms" "$rc"
      sed 's/^/     | /' "$dir.log" | tail -40
      rm -rf "$dir"
    fi
  done
done
[ -n "$failures" ] && echo "failed:$failures"
echo "e2e: $passed passed, $failed failed"
[ $failed -eq 0 ]
