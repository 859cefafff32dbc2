# lib.sh - helpers for end-to-end tests. Each test is a shell function named t_NAME in a file
# tests/e2e/test_*.sh; the runner (run.sh) calls it in a fresh temporary directory (the current
# directory), with $GUST pointing at the binary under test and $ROOT at the repository.
# A test fails by calling `fail` (or by any command failing: tests run with set -e).

# Servers started by tests listen on a port of the kernel's choice (the API's default,
# 127.0.0.1:8080, may be taken); a test that talks HTTP reads it from the log (api_url).
export GUST_LISTEN=${GUST_LISTEN:-127.0.0.1:0}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

assert_eq() { # GOT WANT [WHAT]
  [ "$1" = "$2" ] || fail "${3:-value}: got '$1', want '$2'"
}

assert_contains() { # HAYSTACK NEEDLE
  case "$1" in
    *"$2"*) ;;
    *) fail "expected to find '$2' in: $1" ;;
  esac
}

assert_not_contains() {
  case "$1" in
    *"$2"*) fail "did not expect '$2' in: $1" ;;
    *) ;;
  esac
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; fail after SECONDS.
wait_for() {
  local limit=$1
  shift
  local end=$(($(date +%s%N) / 1000000 + limit * 1000))
  while ! "$@" 2>/dev/null; do
    [ $(($(date +%s%N) / 1000000)) -lt $end ] || fail "timed out after ${limit}s waiting for: $*"
    sleep 0.05
  done
}

# Is a live (non-zombie) process running whose command line contains MARKER?
alive_with_marker() {
  local marker=$1 f st
  # One grep over every command line (a fork per process made a scan take seconds on a
  # loaded machine, longer than some tasks live). The marker comes from a file descriptor,
  # not grep's arguments: grep must not find its own command line.
  for f in $(grep -lsF -f <(printf '%s\n' "$marker") /proc/[0-9]*/cmdline 2>/dev/null); do
    st=$(awk '{print $3}' "${f%/cmdline}/stat" 2>/dev/null) || continue
    [ "$st" != "Z" ] && [ -n "$st" ] && return 0
  done
  return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# api_url LOG: the server's API base URL from its log line "http: listening on URL".
api_url() {
  sed -n 's/.*http: listening on \(http[s]*:\/\/[^ ]*\).*/\1/p' "$1" | tail -1
}
