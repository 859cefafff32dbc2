# End-to-end chaos test of `gust server` (issue 9): while runs are in progress, 2,000 files
# mutated from the corpora land in the DAG folder over a minute (tests/chaos/mutate.py) and the
# live DAGs' files are edited, broken and fixed. The server must never exit, every valid DAG's
# scheduled runs must still happen on time, and every broken file must be reported with a
# location or a reason (tests/chaos/check.py says exactly what is checked).
#
# Knobs (environment): CHAOS_FILES (2000), CHAOS_SECONDS (60), CHAOS_SEED (1), CHAOS_HUGE (7
# huge files), CHAOS_FAULTS (3: parser crash, memory, hang through GUST_TEST_PARSER_FAULTS),
# CHAOS_SLOW (1, or 3 when $GUST is built with AddressSanitizer: multiplies the deadlines and
# the lateness allowed, CHAOS_LATE_MS, default 1000 ms).
#
# What they found, each now fixed with its own test in test_server.sh: symlinks and FIFOs made
# in place (a bare IN_CREATE) were never read; broken files with the same name in two folders
# shared one `dags list` row, and deleted broken files kept their notes; a DAG added while the
# server ran got runs for fire times before its file existed (first seen was the server's
# start); a scheduled DAG with a required param logged an ERROR at every fire (now a load error
# at the param); while the 60 MB valid DAG was recorded, one turn of the loop took 0.6-1.3 s
# (its source written in the loop's transaction), so a run due then could be created over
# CHAOS_LATE_MS late (2 of 16 release runs): the DAG processor's thread now reads, hashes and
# stores sources, and the loop only records the version.

chaos_slow() {
  if [ -n "${CHAOS_SLOW:-}" ]; then
    echo "$CHAOS_SLOW"
  elif grep -qa __asan_init "$GUST"; then
    echo 3
  else
    echo 1
  fi
}

# chaos_start_server LOG ARGS...: start a server on ./home in the background; wait until ready.
chaos_start_server() {
  local log=$1
  shift
  GUST_TEST_PARSER_FAULTS=1 "$GUST" server --home "$PWD/home" "$@" 2>>"$log" &
  SERVER_PID=$!
  wait_for $((20 * $(chaos_slow))) chaos_ready_or_gone "$log"
  grep -q "server: ready" "$log" || fail "the server exited before it was ready: $(cat "$log")"
}

chaos_ready_or_gone() { grep -q "server: ready" "$1" || ! kill -0 "$SERVER_PID"; }

chaos_stop_server() { # LOG: SIGTERM; the server must exit 0 with "server: stopped"
  local rc=0
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || rc=$?
  assert_eq "$rc" 0 "the server's exit status after SIGTERM"
  grep -q "server: stopped" "$1" || fail "no 'server: stopped' line after SIGTERM"
  if grep -nE "AddressSanitizer|LeakSanitizer|runtime error:" "$1"; then
    fail "a sanitizer report in the server's log"
  fi
}

chaos_alive() { # the server process exists and is not a zombie
  local st
  st=$(awk '{print $3}' "/proc/$SERVER_PID/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# chaos_sleep_until MS: pace the script (not an assertion): sleep until now_ms >= MS.
chaos_sleep_until() {
  local left=$(($1 - $(now_ms)))
  [ "$left" -le 0 ] || sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
}

chaos_live_dags() {
  mkdir -p dags
  cat >dags/chaos_live_fast.yaml <<'YAML'
id: chaos_live_fast
schedule: "@every 2s"
tasks:
  a: echo fast
  b:
    depends: [a]
    run: echo fast b
YAML
  cat >dags/chaos_live_long.yaml <<'YAML'
id: chaos_live_long
schedule: "@every 5s"
max_active_runs: 2
tasks:
  long: echo long-v1; sleep 6
YAML
  chaos_edit_v 1 >dags/chaos_live_edit.yaml
  cat >dags/chaos_live_cron.yaml <<'YAML'
id: chaos_live_cron
schedule: "* * * * *"
tasks:
  a: echo cron
YAML
}

chaos_edit_v() { # N: the edited DAG's version N
  printf 'id: chaos_live_edit\nschedule: "@every 3s"\ntasks:\n  a: echo edit-v%s\n' "$1"
}

# chaos_picked_up LINE: wait until the log has LINE (fixed string); print that line's
# timestamp; say on stderr how long after the call it came.
chaos_picked_up() {
  local from
  from=$(now_ms)
  wait_for $((45 * $(chaos_slow))) grep -qF -- "$1" log
  echo "chaos: $(($(now_ms) - from)) ms to see: $1" >&2
  grep -F -- "$1" log | head -1 | cut -d' ' -f1
}

# chaos_created_since DAG TIME N: the log shows at least N runs of DAG created after TIME.
chaos_created_since() {
  [ "$(awk -v t="$2" -v p="created run $1@" '$1 > t && index($0, p)' log | wc -l)" -ge "$3" ]
}

# The log of task 'a' of every successful scheduled run of DAG ($1) created in [FROM, TO) (log
# timestamps) must contain WANT ($4): prints how many there were, or fails with a message.
chaos_runs_used() {
  local dag=$1 from=$2 to=$3 want=$4 n=0 run log
  for run in $("$GUST" runs list --dag "$dag" --json --limit 0 --home home |
    jq -r --arg f "$from" --arg t "$to" \
      '.[] | select(.kind == "scheduled" and .state == "success" and .created_at >= $f and .created_at < $t) | .run_id'); do
    log=home/logs/$dag/$run/a/1/log
    if ! grep -q "O $want" "$log"; then
      echo "run $run did not run '$want': $(cat "$log")"
      return 1
    fi
    n=$((n + 1))
  done
  echo "$n"
}

t_chaos_dag_folder_under_fire() {
  local slow files seconds late t0 n v2_at long_at broken_at v3_at
  slow=$(chaos_slow)
  files=${CHAOS_FILES:-2000}
  seconds=${CHAOS_SECONDS:-60}
  late=${CHAOS_LATE_MS:-$((1000 * slow))}
  chaos_live_dags
  chaos_start_server log --dags dags
  # Runs are in progress before the chaos starts: the long task is running.
  wait_for $((15 * slow)) grep -q "run chaos_live_long@.*: started" log

  python3 "$ROOT/tests/chaos/mutate.py" --out dags --count "$files" --seconds "$seconds" \
    --seed "${CHAOS_SEED:-1}" --huge "${CHAOS_HUGE:-7}" --faults "${CHAOS_FAULTS:-3}" \
    --live chaos_live_fast --live chaos_live_long --live chaos_live_edit --live chaos_live_cron \
    --live-file dags/chaos_live_fast.yaml --live-file dags/chaos_live_cron.yaml \
    --manifest manifest.jsonl >mutate.out &
  local gen=$!
  t0=$(now_ms)

  # The edits, paced over the minute; each must be picked up (the break: reported), however
  # long the DAG processor is stalled (a hang fault costs it 30 s).
  chaos_sleep_until $((t0 + seconds * 150))
  chaos_edit_v 2 >dags/chaos_live_edit.yaml # in place
  v2_at=$(chaos_picked_up "loaded dags/chaos_live_edit.yaml: DAG 'chaos_live_edit' version 2")

  chaos_sleep_until $((t0 + seconds * 250))
  sed 's/long-v1/long-v2/' dags/chaos_live_long.yaml >long.tmp
  mv long.tmp dags/chaos_live_long.yaml # renamed in, as editors do
  long_at=$(chaos_picked_up "loaded dags/chaos_live_long.yaml: DAG 'chaos_live_long' version 2")

  chaos_sleep_until $((t0 + seconds * 400))
  printf 'id: chaos_live_edit\nschedule: "@every 3s"\ntasks:\n  a:\n    depends: [nope]\n    run: echo edit-broken\n' \
    >dags/chaos_live_edit.yaml
  broken_at=$(chaos_picked_up "dagbag: dags/chaos_live_edit.yaml is broken")
  assert_contains "$(grep "dagbag: dags/chaos_live_edit.yaml is broken" log)" "the last good version stays in use"
  # While it is broken, its last good version keeps its schedule: two runs, then the fix.
  wait_for $((15 * slow)) chaos_created_since chaos_live_edit "$broken_at" 2

  chaos_sleep_until $((t0 + seconds * 500))
  # Files with the same DAG id as a live DAG: a .yml twin and a copy inside x.yaml/.
  cp dags/chaos_live_cron.yaml dags/chaos_live_cron.yml
  [ -d dags/x.yaml ] || fail "the generator made no directory x.yaml"
  cp dags/chaos_live_fast.yaml dags/x.yaml/chaos_live_fast.yaml

  chaos_sleep_until $((t0 + seconds * 650))
  chaos_edit_v 3 >edit.tmp
  mv edit.tmp dags/chaos_live_edit.yaml
  v3_at=$(chaos_picked_up "loaded dags/chaos_live_edit.yaml: DAG 'chaos_live_edit' version 3")

  chaos_sleep_until $((t0 + seconds * 800))
  cp dags/chaos_live_fast.yaml fast.tmp
  cat fast.tmp >dags/chaos_live_fast.yaml # the same content again: no new version

  wait "$gen" || fail "the generator failed: $(cat mutate.out)"
  local gen_end
  gen_end=$(now_ms)
  cat mutate.out
  # A sentinel written last: once it is loaded, the server has answered every earlier file
  # (one DAG processor, first in first out).
  printf 'tasks:\n  a: echo sentinel\n' >dags/chaos_zz_sentinel.yaml
  wait_for $((90 * slow)) grep -q "loaded dags/chaos_zz_sentinel.yaml" log
  echo "chaos: settled $(($(now_ms) - gen_end)) ms after the generator's last file"

  # Every check runs; the failures are listed together at the end.
  local failed=""
  chaos_alive || fail "the server exited during the chaos: $(tail -5 log)"
  if python3 "$ROOT/tests/chaos/check.py" --gust "$GUST" --home home --dags dags --log log \
    --late-ms "$late" --examples 4 --live chaos_live_fast --live chaos_live_long \
    --live chaos_live_edit --live chaos_live_cron >check.out 2>&1; then
    cat check.out
  else
    cat check.out
    failed="$failed; tests/chaos/check.py: $(sed -n 's/^chaos: log: .*problems: //p' check.out)"
  fi

  # The edits: while the file was broken the last good version (v2) ran; after the fix, v3.
  chaos_runs_used chaos_live_edit "$v2_at" "$broken_at" edit-v2 >runs.out ||
    failed="$failed; $(tail -1 runs.out)"
  chaos_runs_used chaos_live_edit "$broken_at" "$v3_at" edit-v2 >runs.out ||
    failed="$failed; $(tail -1 runs.out)"
  n=$(head -1 runs.out)
  case $n in '' | *[!0-9]*) n=0 ;; esac
  [ "$n" -ge 2 ] || failed="$failed; only $n successful runs of chaos_live_edit while its file was broken"
  wait_for $((20 * slow)) sh -c "grep -q 'O edit-v3' home/logs/chaos_live_edit/*/a/1/log"
  # A run of the long DAG that started before its edit and ended after kept version 1.
  "$GUST" runs list --dag chaos_live_long --json --limit 0 --home home |
    jq -e --arg t "$long_at" '[.[] | select(.started_at != null and .started_at < $t and .ended_at != null and .ended_at > $t and .version == 1)] | length > 0' >/dev/null ||
    failed="$failed; no run of chaos_live_long spanned its edit with version 1"
  for run in $("$GUST" runs list --dag chaos_live_long --json --limit 0 --home home |
    jq -r '.[] | select(.version == 1 and .state == "success") | .run_id'); do
    grep -q "O long-v1" home/logs/chaos_live_long/"$run"/long/1/log ||
      failed="$failed; $run (version 1) did not run long-v1"
  done
  # The identical rewrite of chaos_live_fast made no new version.
  n=$(grep -c "loaded dags/chaos_live_fast.yaml: DAG 'chaos_live_fast' version" log || true)
  [ "$n" = 1 ] || failed="$failed; chaos_live_fast.yaml was loaded $n times (once expected)"
  chaos_alive || fail "the server exited: $(tail -5 log)"
  chaos_stop_server log
  [ -z "$failed" ] || fail "${failed#; }"
}

# Each special file alone, so that a failure names it: the server starts on a folder that
# already holds some (the start-up scan) and gets the others while it runs.
t_chaos_special_files_are_reported() {
  local slow lim
  slow=$(chaos_slow)
  lim=$(sed -n 's/^#define DAG_MAX_FILE_BYTES (\(.*\))$/\1/p' "$ROOT/src/dag/dag_load.h" | tr -d u)
  lim=$((lim))
  mkdir -p dags stage
  printf 'id: live\nschedule: "@every 2s"\ntasks:\n  a: echo live\n' >dags/live.yaml
  printf 'tasks:\n  a: echo target\n' >stage/target.yaml
  mkdir dags/x.yaml
  ln -s /dev/zero dags/start_devzero.yaml
  ln -s nowhere.yaml dags/start_dangling.yaml
  chaos_start_server log --dags dags
  # Renamed in (IN_MOVED_TO), as deploy tools do:
  truncate -s $((lim + 1)) stage/too_big.yaml && mv stage/too_big.yaml dags/
  truncate -s "$lim" stage/at_limit_nul.yaml && mv stage/at_limit_nul.yaml dags/
  ln -s /dev/zero stage/devzero.yaml && mv stage/devzero.yaml dags/
  ln -s "$PWD/stage/nothing.yaml" stage/dangling.yaml && mv stage/dangling.yaml dags/
  ln -s loop.yaml stage/loop.yaml && mv stage/loop.yaml dags/
  mkfifo stage/fifo.yaml && mv stage/fifo.yaml dags/
  ln -s "$PWD/stage/target.yaml" stage/link_valid.yaml && mv stage/link_valid.yaml dags/
  ln -s "$PWD/dags/live.yaml" stage/link_live.yaml && mv stage/link_live.yaml dags/
  # Written in place:
  head -c 100000 /dev/zero | tr '\0' '[' >dags/brackets.yaml
  printf 'tasks:\n  a: echo \0nul\n' >dags/nul.yaml
  cp dags/live.yaml dags/live.yml
  printf 'id: live\ntasks:\n  a: echo twin\n' >dags/same_id.yaml
  printf 'tasks:\n  a: echo inside\n' >dags/x.yaml/inside.yaml
  # Created in place: only IN_CREATE (no IN_CLOSE_WRITE, no IN_MOVED_TO).
  ln -s "$PWD/stage/target.yaml" dags/inplace_link_valid.yaml
  ln -s "$PWD/stage/nothing.yaml" dags/inplace_dangling.yaml
  mkfifo dags/inplace_fifo.yaml
  printf 'tasks:\n  a: echo sentinel\n' >dags/zz_sentinel.yaml
  wait_for $((30 * slow)) grep -q "loaded dags/zz_sentinel.yaml" log
  chaos_alive || fail "the server exited: $(tail -5 log)"
  "$GUST" dags list --home home | sed -n 's/.* BROKEN/BROKEN/p'
  local failed=""
  python3 "$ROOT/tests/chaos/check.py" --gust "$GUST" --home home --dags dags --log log \
    --only files --examples 20 >check.out 2>&1 ||
    failed="$failed; tests/chaos/check.py: $(sed -n 's/^chaos: log: .*problems: //p' check.out)"
  cat check.out
  # The symlink to a valid file is a DAG; the one to live.yaml declares 'live' a second time.
  grep -q "loaded dags/link_valid.yaml: DAG 'link_valid'" log ||
    failed="$failed; link_valid.yaml (a symlink renamed in) was not loaded"
  "$GUST" dags list --home home | grep -q "dags/link_live.yaml:1:1: error: DAG id 'live' is already defined in dags/live.yaml" ||
    failed="$failed; link_live.yaml is not reported as a second 'live'"
  grep -q "loaded dags/x.yaml/inside.yaml" log || failed="$failed; x.yaml/inside.yaml was not loaded"
  chaos_alive || fail "the server exited: $(tail -5 log)"
  chaos_stop_server log
  [ -z "$failed" ] || fail "${failed#; }"
}

# The generator is deterministic: the same seed gives the same files.
t_chaos_generator_is_deterministic() {
  mkdir -p a b
  for d in a b; do
    python3 "$ROOT/tests/chaos/mutate.py" --out $d --count 400 --seconds 0 --huge 0 --seed 7 \
      --live some_dag --manifest $d.jsonl --quiet
  done
  assert_eq "$(cd a && find . -printf '%p %y\n' | sort | md5sum)" \
    "$(cd b && find . -printf '%p %y\n' | sort | md5sum)" "the two folders' entries"
  assert_eq "$(cd a && find . -type f -exec md5sum {} + | sort | md5sum)" \
    "$(cd b && find . -type f -exec md5sum {} + | sort | md5sum)" "the two folders' contents"
  for op in mutant copy same_id fresh special deep symlink vanish rewrite delete rename dir fifo; do
    grep -q "\"op\": \"$op\"" a.jsonl || fail "no '$op' operation in 400"
  done
  [ -d a/x.yaml ] || fail "no directory x.yaml"
}
