# End-to-end tests of the commands that work on the store at $GUST_HOME: dags list / trigger /
# pause / unpause / next, runs list / show / cancel, tasks list / logs / clear, why, db cleanup;
# with a server running, and without one.

# A DAG with params whose tasks wait for files the test creates (no fixed sleeps). A waiting
# task also ends when the test's folder is gone, so a failed test leaves no process behind.
write_etl() {
  mkdir -p dags
  cat >dags/etl.yaml <<YAML
timezone: Europe/Berlin
schedule: "0 2 * * *"
params:
  n: {type: integer, default: 2, minimum: 1}
tasks:
  extract:
    run: echo one; while [ -d $PWD ] && [ ! -f $PWD/go_extract ]; do sleep 0.05; done; echo two >&2
  transform:
    depends: [extract]
    run: exit 3
    retries: 2
    retry_delay: 10m
  load:
    depends: [transform]
    run: echo load
YAML
}

# The run id printed by `dags trigger`.
trigger() {
  "$GUST" dags trigger "$@" 2>trigger.err
}

run_state() { # RUN
  "$GUST" runs show "$1" --json | jq -r .state
}

ti_state() { # RUN TASK
  "$GUST" tasks list "$1" --json | jq -r --arg t "$2" '.[] | select(.task_id == $t) | .state'
}

state_is() { # RUN WANT
  [ "$(run_state "$1")" = "$2" ]
}

ti_state_is() { # RUN TASK WANT
  [ "$(ti_state "$1" "$2")" = "$3" ]
}

runs_count_is() { # N [runs list options]
  [ "$("$GUST" runs list "${@:2}" --json 2>/dev/null | jq length)" = "$1" ]
}

try_is() { # RUN TASK N
  [ "$("$GUST" tasks list "$1" --json | jq -r --arg t "$2" '.[] | select(.task_id == $t) | .try_number')" = "$3" ]
}

file_has() { # FILE TEXT
  grep -qF -- "$2" "$1"
}

t_cli_store_without_server() {
  export GUST_HOME=$PWD/home
  write_etl
  printf 'tasks:\n  a:\n    retries: many\n' >dags/broken.yaml

  # Nothing ran yet: the folder is listed, and the store commands say why they cannot answer.
  "$GUST" dags list >out
  assert_contains "$(cat out)" "dags/etl.yaml"
  set +e
  "$GUST" runs list >out 2>&1; rc=$?
  set -e
  assert_eq "$rc" 1 "runs list without a store"
  assert_contains "$(cat out)" "nothing has run on $GUST_HOME yet"

  # Params are checked like `dags test`; unknown DAGs get a hint.
  set +e
  "$GUST" dags trigger etl --param n=0 >out 2>&1; rc1=$?
  "$GUST" dags trigger etl --param m=1 >>out 2>&1; rc2=$?
  "$GUST" dags trigger etx >>out 2>&1; rc3=$?
  "$GUST" dags trigger >>out 2>&1; rc4=$?
  set -e
  assert_eq "$rc1" 2 "bad param value"
  assert_eq "$rc2" 2 "unknown param"
  assert_eq "$rc3" 1 "unknown DAG"
  assert_eq "$rc4" 2 "no DAG id"
  assert_contains "$(cat out)" "param 'n' must be at least 1, got 0"
  assert_contains "$(cat out)" "DAG 'etl' has no param 'm' (did you mean 'n'?)"
  assert_contains "$(cat out)" "no DAG 'etx'"
  assert_contains "$(cat out)" "(did you mean 'etl'?)"

  # The DAG is read from the folder and registered; the run waits for a server.
  local r
  set +e
  "$GUST" dags trigger etl --note "$(printf 'bad \377 byte')" >out 2>&1; rc1=$?
  set -e
  assert_eq "$rc1" 2 "a note that is not UTF-8"
  assert_contains "$(cat out)" "not valid UTF-8"
  r=$(trigger etl --param n=5 --note "backfill of the orders fix")
  case "$r" in etl@manual-20*Z) ;; *) fail "run id: $r" ;; esac
  assert_eq "$("$GUST" runs show "$r" --json | jq -r .note)" "backfill of the orders fix" "note"
  assert_contains "$("$GUST" runs show "$r")" "note      backfill of the orders fix"
  assert_contains "$(cat trigger.err)" "no server is running"
  assert_eq "$(run_state "$r")" queued "state"
  assert_eq "$("$GUST" runs show "$r" --json | jq -c .params)" '{"n":5}' "params"
  assert_eq "$("$GUST" runs list --json | jq length)" 1 "runs"
  assert_eq "$("$GUST" runs list --state running --json | jq length)" 0 "running runs"
  "$GUST" runs list --dag etl >out
  assert_contains "$(cat out)" "$r"
  assert_contains "$(cat out)" "queued"
  set +e
  "$GUST" runs list --state finished >out 2>&1; rc=$?
  set -e
  assert_eq "$rc" 2 "bad state"
  "$GUST" runs show "$r" >out
  assert_contains "$(cat out)" "state     queued"
  assert_contains "$(cat out)" "dag       etl (version 1)"

  # The store's DAG list: schedule, paused, last run, next fire time.
  "$GUST" dags list >out
  assert_contains "$(cat out)" "PAUSED"
  grep -E "^etl +0 2 \* \* \* +no +queued +20" out >/dev/null || fail "dags list: $(cat out)"
  # --dags still lists the folder.
  "$GUST" dags list --dags dags >out
  assert_contains "$(cat out)" "dags/broken.yaml: BROKEN: 3:14:"

  # Why: queued, and nothing moves without a server.
  "$GUST" why "$r" transform >out
  assert_contains "$(cat out)" "transform in run $r: none"
  assert_contains "$(cat out)" "run is queued: DAG 'etl' has max_active_runs 1 and 0 running"
  assert_contains "$(cat out)" "no server is running on $GUST_HOME"
  set +e
  "$GUST" why "$r" transfrom >out 2>&1; rc=$?
  set -e
  assert_eq "$rc" 1 "unknown task"
  assert_contains "$(cat out)" "DAG 'etl' has no task 'transfrom' (did you mean 'transform'?)"
  "$GUST" tasks list "$r" >out
  assert_contains "$(cat out)" "no task instances yet: the run is queued"

  # Next fire times in UTC and in the DAG's zone (02:00 Berlin is 00:00 or 01:00 UTC).
  "$GUST" dags next etl -n 3 >out
  assert_contains "$(cat out)" "schedule '0 2 * * *' in Europe/Berlin"
  assert_eq "$(grep -cE '^20[0-9-]+T0[01]:00:00Z +20[0-9-]+T02:00:00\+0[12]:00$' out)" 3 "fire times"

  # Pause / unpause; unknown ids get a hint.
  "$GUST" dags pause etl >out
  assert_contains "$(cat out)" "DAG 'etl' paused"
  grep -E "^etl +0 2 \* \* \* +yes" <("$GUST" dags list) >/dev/null || fail "not shown paused"
  "$GUST" dags unpause etl >out
  assert_contains "$(cat out)" "DAG 'etl' unpaused; next run at 20"
  set +e
  "$GUST" dags pause etk >out 2>&1; rc=$?
  set -e
  assert_eq "$rc" 1 "pause unknown"
  assert_contains "$(cat out)" "no DAG 'etk' (did you mean 'etl'?)"

  # Cancel a queued run with no server: done at once.
  "$GUST" runs cancel "$r" >out
  assert_contains "$(cat out)" "cancelled (it had not started)"
  assert_eq "$(run_state "$r")" cancelled "after cancel"
  set +e
  "$GUST" runs cancel "$r" >out 2>&1; rc=$?
  "$GUST" runs show "${r}x" >>out 2>&1; rc2=$?
  set -e
  assert_eq "$rc" 1 "cancel twice"
  assert_eq "$rc2" 1 "unknown run"
  assert_contains "$(cat out)" "is already over: cancelled"
  assert_contains "$(cat out)" "(did you mean '$r'?)"

  # Cleanup: finished runs before the date go; the others stay.
  local r2
  r2=$(trigger etl)
  "$GUST" db cleanup --before 2000-01-01 >out
  assert_contains "$(cat out)" "removed 0 runs"
  "$GUST" db cleanup --before 2999-01-01 >out
  assert_contains "$(cat out)" "removed 1 run "
  assert_eq "$("$GUST" runs list --json | jq -r '.[].run_id')" "$r2" "runs left"
  set +e
  "$GUST" db cleanup >out 2>&1; rc=$?
  set -e
  assert_eq "$rc" 2 "cleanup without --before"

  # Help for every new command.
  for c in "dags trigger" "dags pause" "dags unpause" "dags next" "runs list" "runs show" \
    "runs cancel" "tasks list" "tasks logs" "tasks clear" "why" "db cleanup"; do
    # shellcheck disable=SC2086
    "$GUST" $c --help | grep -q "Usage: gust $c" || fail "no help for $c"
  done
}

t_cli_store_with_server() {
  export GUST_HOME=$PWD/home
  mkdir -p "$GUST_HOME"
  printf 'parallelism: 1\n' >"$GUST_HOME/config.yaml"
  write_etl
  # Three scheduled runs due at once (catchup), one at a time (max_active_runs).
  cat >dags/daily.yaml <<YAML
schedule: "@daily"
start_date: $(date -u -d '2 days ago' +%Y-%m-%d)
catchup: true
tasks:
  wait: while [ -d $PWD ] && [ ! -f $PWD/go_daily ]; do sleep 0.05; done
YAML
  cat >dags/hold.yaml <<YAML
tasks:
  a: while [ -d $PWD ] && [ ! -f $PWD/go_hold ]; do sleep 0.05; done
  b:
    depends: [a]
    run: echo b
YAML
  "$GUST" server --dags dags >server.log 2>&1 &
  local spid=$!
  # shellcheck disable=SC2064
  trap "touch $PWD/go_daily $PWD/go_extract $PWD/go_hold; kill $spid 2>/dev/null || true" EXIT

  wait_for 10 runs_count_is 3 --dag daily
  local d0 d1
  d0=daily@$(date -u -d '2 days ago' +%Y-%m-%d)T00:00:00Z
  d1=daily@$(date -u -d '1 day ago' +%Y-%m-%d)T00:00:00Z
  wait_for 10 ti_state_is "$d0" wait running
  "$GUST" runs list --dag daily >out
  assert_contains "$(cat out)" "scheduled"
  "$GUST" why "$d1" wait >out
  assert_contains "$(cat out)" "run is queued: DAG 'daily' has max_active_runs 1 and run $d0 is running"
  "$GUST" why "$d0" wait >out
  assert_contains "$(cat out)" "it is running: try 1 since"

  # A triggered run waits for the one slot (parallelism 1).
  local r
  r=$(trigger etl)
  assert_eq "$(cat trigger.err)" "" "trigger's stderr with a server"
  wait_for 10 ti_state_is "$r" extract scheduled
  "$GUST" why "$r" extract >out
  assert_contains "$(cat out)" "waiting: parallelism 1 reached: 1 of 1 in use"
  "$GUST" why "$r" transform >out
  assert_contains "$(cat out)" "waiting for upstream 'extract' (scheduled)"
  set +e
  "$GUST" tasks logs "$r" extract >out 2>&1; rc=$?
  set -e
  assert_eq "$rc" 1 "logs before the attempt"
  assert_contains "$(cat out)" "has not started an attempt (state scheduled)"

  # Pause and unpause with the server running.
  "$GUST" dags pause daily >/dev/null
  grep -E "^daily +@daily +yes " <("$GUST" dags list) >/dev/null ||
    fail "daily not paused: $("$GUST" dags list)"
  "$GUST" why "$d1" wait >out
  assert_contains "$(cat out)" "DAG 'daily' is paused"
  "$GUST" dags unpause daily >/dev/null

  # Cancel the running scheduled run: its task is stopped, the next ones run.
  "$GUST" runs cancel "$d0" >out
  assert_contains "$(cat out)" "cancel requested; the server stops it now"
  wait_for 15 state_is "$d0" cancelled
  "$GUST" why "$d0" wait >out
  assert_contains "$(cat out)" "it is done: "
  touch go_daily

  # Follow a log while the attempt runs, to its end.
  wait_for 15 ti_state_is "$r" extract running
  "$GUST" tasks logs "$r" extract --follow >follow.out &
  local fpid=$!
  wait_for 10 file_has follow.out " O one"
  kill -0 $fpid || fail "--follow ended before the attempt did"
  touch go_extract
  wait $fpid
  assert_contains "$(cat follow.out)" " E two"
  grep -qE '^20[0-9-]+T[0-9:.]+Z O one$' follow.out || fail "log line format: $(cat follow.out)"

  # A failed try waiting for its retry.
  wait_for 10 ti_state_is "$r" transform up_for_retry
  "$GUST" why "$r" transform >out
  assert_contains "$(cat out)" "transform in run $r: up_for_retry, try 1"
  grep -qE "^retry 1 of 2 at 20[0-9T:-]+Z \(in (9|10)m\); try 1 failed: exit 3" out ||
    fail "retry line: $(cat out)"
  "$GUST" why "$r" load >out
  assert_contains "$(cat out)" "waiting for upstream 'transform' (up_for_retry, try 1)"
  "$GUST" tasks list "$r" >out
  grep -qE "^transform +up_for_retry +1 +[0-9.ms]+ +exit 3 " out || fail "tasks list: $(cat out)"
  assert_eq "$("$GUST" tasks list "$r" --json | jq -r '.[] | select(.task_id == "extract") | .exit_code')" 0 "exit code"
  "$GUST" tasks logs "$r" extract --try 1 >out
  assert_contains "$(cat out)" " O one"
  "$GUST" runs show "$r" >out
  assert_contains "$(cat out)" "tasks     3 instances: success 1, up_for_retry 1, none 1"

  # Clear: the server answers (or says it does not know 'clear' yet).
  set +e
  "$GUST" tasks clear "$r" extract --downstream >out 2>&1; rc=$?
  set -e
  case "$(cat out)" in
    *"does not know 'clear'"*) assert_eq "$rc" 1 "clear on an old server" ;;
    *"cleared extract and its downstream tasks in run $r"*)
      assert_eq "$rc" 0 "clear"
      wait_for 15 try_is "$r" extract 2
      ;;
    *) fail "tasks clear: $(cat out)" ;;
  esac

  "$GUST" runs cancel "$r" >/dev/null
  wait_for 15 state_is "$r" cancelled
  wait_for 15 runs_count_is 2 --dag daily --state success

  # With the server stopped: commands are left for the next one.
  local h
  h=$(trigger hold)
  wait_for 15 ti_state_is "$h" a running
  kill "$spid"
  wait "$spid" || true
  "$GUST" runs cancel "$h" >out
  assert_contains "$(cat out)" "no server is running on $GUST_HOME, so it applies when 'gust server' starts"
  "$GUST" tasks clear "$r" transform >out
  assert_contains "$(cat out)" "applies when 'gust server' starts"
  "$GUST" why "$h" b >out
  assert_contains "$(cat out)" "waiting for upstream 'a' (running, try 1)"
  assert_contains "$(cat out)" "no server is running"
  touch go_hold

  # Cleanup removes finished runs and their attempt folders.
  local finished
  finished=$("$GUST" runs list --limit 0 --json | jq '[.[] | select(.state != "running" and .state != "queued")] | length')
  [ -d "$GUST_HOME/logs/daily/$d0" ] || fail "no attempt folder for $d0"
  "$GUST" db cleanup --before 2999-01-01 >out
  assert_contains "$(cat out)" "removed $finished runs"
  [ ! -e "$GUST_HOME/logs/daily/$d0" ] || fail "attempt folder of $d0 left"
  assert_eq "$("$GUST" runs list --json | jq -r '.[].run_id')" "$h" "runs left"
}

tries_of() { # RUN TASK: "map_index:try" of each instance, in order
  "$GUST" tasks list "$1" --json |
    jq -r --arg t "$2" '[.[] | select(.task_id == $t) | "\(.map_index // -1):\(.try_number)"] | join(" ")'
}

# `tasks clear RUN TASK --map-index I` runs that one instance again, not all of them (it
# printed "cleared work[1]" and re-ran all three).
t_tasks_clear_one_mapped_instance() {
  export GUST_HOME=$PWD/home
  mkdir -p "$GUST_HOME" dags
  printf 'tasks:\n  work:\n    map: [a, b, c]\n    run: echo ${{ item }}\n  after:\n    depends: [work]\n    run: echo done\n' >dags/m.yaml
  "$GUST" server --dags dags 2>log &
  local spid=$!
  wait_for 20 grep -q "server: ready" log
  local r
  r=$(trigger m)
  wait_for 20 state_is "$r" success
  "$GUST" tasks clear "$r" work --map-index 1 >out
  assert_contains "$(cat out)" "cleared work[1] in run $r"
  wait_for 20 state_is "$r" success
  assert_eq "$(tries_of "$r" work)" "0:1 1:2 2:1" "tries of work after clearing work[1]"
  assert_eq "$(tries_of "$r" after)" "-1:1" "after is not downstream-cleared"
  # With --downstream: that instance and the whole of what follows.
  "$GUST" tasks clear "$r" work --map-index 2 --downstream >out
  wait_for 20 try_is "$r" after 2
  wait_for 20 state_is "$r" success
  assert_eq "$(tries_of "$r" work)" "0:1 1:2 2:2" "tries of work after clearing work[2]"
  # An index the task does not have is refused by the CLI before the server sees it.
  local rc=0
  "$GUST" tasks clear "$r" work --map-index 9 >out 2>&1 || rc=$?
  assert_eq "$rc" 2 "exit status for a map index out of range"
  kill -TERM $spid
  wait $spid || true
}

# `tasks mark` ends instances by hand and the run follows; `tasks clear --dry-run` lists what
# would run again and changes nothing; both refuse an instance whose attempt runs; without a
# server, a mark waits for the next one.
t_tasks_mark_and_clear_dry_run() {
  export GUST_HOME=$PWD/home
  mkdir -p "$GUST_HOME" dags
  printf 'tasks:\n  a: exit 3\n  b: {run: echo b, depends: [a]}\n' >dags/f.yaml
  printf 'tasks:\n  w: "while [ ! -e %s/go ]; do sleep 0.05; done"\n' "$PWD" >dags/h.yaml
  "$GUST" server --dags dags 2>log &
  local spid=$!
  wait_for 20 grep -q "server: ready" log
  local r rc
  r=$(trigger f)
  wait_for 20 state_is "$r" failed
  assert_eq "$(ti_state "$r" b)" upstream_failed "b after a failed"

  "$GUST" tasks clear "$r" a --downstream --dry-run >out
  assert_contains "$(cat out)" "clearing a and its downstream tasks in run $r would run again:"
  grep -qE '^  a +failed$' out || fail "dry run lists a: $(cat out)"
  grep -qE '^  b +upstream_failed$' out || fail "dry run lists b: $(cat out)"
  assert_eq "$(run_state "$r")" failed "a dry run changes nothing"
  try_is "$r" a 1 || fail "a dry run started a try"

  # a marked success: b, already decided, stays; marked too, the run succeeds.
  "$GUST" tasks mark "$r" a --state success >out
  assert_contains "$(cat out)" "marked a in run $r success"
  wait_for 10 ti_state_is "$r" a success
  assert_eq "$(ti_state "$r" b)" upstream_failed "decided downstream stays"
  "$GUST" tasks mark "$r" b --state success >/dev/null
  wait_for 10 state_is "$r" success
  try_is "$r" b 0 || try_is "$r" b 1 || fail "b ran: $("$GUST" tasks list "$r")"
  grep -q "run $r: marked b success by 'gust tasks mark'" log || fail "no log line: $(cat log)"

  # A running instance: refused, with the CLI's exit status for a conflict.
  local h
  h=$(trigger h)
  wait_for 20 ti_state_is "$h" w running
  rc=0
  "$GUST" tasks mark "$h" w --state failed >out 2>&1 || rc=$?
  assert_eq "$rc" 1 "exit status of a mark of a running instance"
  assert_contains "$(cat out)" "w is running (try 1): it can be marked once its attempt ends"
  rc=0
  "$GUST" tasks mark "$h" w --state maybe >out 2>&1 || rc=$?
  assert_eq "$rc" 2 "exit status of a bad --state"
  touch go
  wait_for 20 state_is "$h" success

  # No server: the mark is queued, and applied when one starts.
  kill -TERM $spid
  wait $spid || true
  "$GUST" tasks mark "$h" w --state failed >out
  assert_contains "$(cat out)" "mark of w in run $h requested; no server is running on $GUST_HOME, so it applies when 'gust server' starts"
  assert_eq "$(run_state "$h")" success "not applied without a server"
  "$GUST" server --dags dags 2>log2 &
  spid=$!
  wait_for 20 state_is "$h" failed
  assert_eq "$(ti_state "$h" w)" failed "w marked failed by the next server"
  kill -TERM $spid
  wait $spid || true
}
