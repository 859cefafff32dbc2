# End-to-end tests of `gust server`: schedules at midnight, DAG edits, restarts that lose
# nothing. The server's log (stderr) is the observable: one line per event.

# start_server LOG ARGS...: start a server in the background, wait until it is ready.
start_server() {
  local log=$1
  shift
  "$GUST" server --home "$PWD/home" "$@" 2>>"$log" &
  SERVER_PID=$!
  wait_for 20 grep -q "server: ready" "$log"
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

ms_of() { # ISO timestamp (log format) -> ms since epoch
  date -u -d "$1" +%s%3N
}

t_server_midnight_on_the_first() {
  mkdir dags
  for s in hourly daily weekly monthly; do
    printf 'schedule: "@%s"\ntasks:\n  a: echo %s\n' "$s" "$s" >"dags/$s.yaml"
  done
  start_server log --dags dags --now 2024-02-29T23:59:58Z
  for s in hourly daily monthly; do
    wait_for 10 grep -q "run $s@2024-03-01T00:00:00Z: success" log
  done
  # Each run was created within a second of midnight (server clock).
  for s in hourly daily monthly; do
    line=$(grep "created run $s@2024-03-01T00:00:00Z" log)
    t=$(ms_of "${line%% *}")
    [ $((t - $(ms_of 2024-03-01T00:00:00Z))) -lt 1000 ] || fail "$s created late: $line"
  done
  # 2024-03-01 is a Friday: @weekly (Sunday) is not due.
  if grep -q "created run weekly@" log; then fail "weekly ran on a Friday"; fi
  # The CLI uses the server's clock: a run a second old is not years long, and a
  # triggered run's logical date is in 2024.
  dur=$("$GUST" runs list --dag hourly --json --home home | jq '.[0].duration_ms')
  [ "$dur" -ge 0 ] && [ "$dur" -lt 600000 ] || fail "duration under --now: $dur ms"
  r=$("$GUST" dags trigger daily --home home)
  case "$r" in daily@manual-2024-03-01T00:*) ;; *) fail "trigger under --now: $r" ;; esac
  stop_server
}

t_server_picks_up_edits_and_keeps_last_good_version() {
  mkdir dags
  printf 'schedule: "@hourly"\ntasks:\n  a: echo v1\n' >dags/h.yaml
  start_server log --dags dags --now 2024-03-01T00:59:57Z
  # A new file is picked up within a second.
  printf 'tasks:\n  x: echo new\n' >dags/new.yaml
  wait_for 5 grep -q "loaded dags/new.yaml: DAG 'new'" log
  # A broken edit keeps the last good version, which still runs at 01:00.
  printf 'schedule: "@hourly"\ntasks:\n  a:\n    depends: [nope]\n' >dags/h.yaml
  wait_for 5 grep -q "dags/h.yaml is broken (1 problem); the last good version stays in use" log
  wait_for 10 grep -q "run h@2024-03-01T01:00:00Z: success" log
  log_dir=$(ls -d home/logs/h/h@2024-03-01T01:00:00Z/a/1)
  grep -q " O v1" "$log_dir/log" || fail "the run did not use the last good version"
  # The error is recorded for 'gust dags list'.
  # A deleted file stops being scheduled.
  rm dags/new.yaml
  wait_for 5 grep -q "dags/new.yaml was removed" log
  stop_server
}

t_server_single_instance_per_home() {
  mkdir dags
  start_server log --dags dags
  set +e
  "$GUST" server --home "$PWD/home" --dags dags 2>second.log
  rc=$?
  set -e
  assert_eq "$rc" 1 "exit status of a second server"
  assert_contains "$(cat second.log)" "another gust server is already running on"
  stop_server
}

t_server_sigterm_leaves_tasks_running_and_restart_adopts() {
  mkdir dags
  local marker="gust-e2e-adopt-$$-$RANDOM"
  cat >dags/long.yaml <<YAML
schedule: "@daily"
end_date: 2024-03-01T00:00:00Z
tasks:
  long:
    run: bash -c 'sleep 3; echo finished' $marker
YAML
  start_server log --dags dags --now 2024-02-29T23:59:59Z
  wait_for 10 alive_with_marker "$marker"
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  alive_with_marker "$marker" || fail "the task died with the server"
  # Restart on the real clock: end_date is past, so no new run; the long task is adopted.
  start_server log2 --dags dags
  assert_contains "$(cat log2)" "adopted"
  wait_for 20 grep -q "run long@2024-03-01T00:00:00Z: success" log2
  grep -q "O finished" home/logs/long/long@2024-03-01T00:00:00Z/long/1/log
  assert_eq "$(ls home/logs/long/long@2024-03-01T00:00:00Z/long)" "1" "attempts"
  stop_server
}

# The crash test: 300 short tasks each append their id to a ledger; the server is killed
# with SIGKILL at 10 random moments and restarted. The run succeeds and every task appears in
# the ledger exactly once.
t_server_crash_test_ledger_exactly_once() {
  mkdir dags
  {
    printf 'schedule: "@daily"\nend_date: 2024-03-01T00:00:00Z\nmax_active_tasks: 4\n'
    printf 'tasks:\n'
    for i in $(seq 1 300); do
      printf '  t%d: sleep 0.1; echo t%d >> %s/ledger\n' "$i" "$i" "$PWD"
    done
  } >dags/ledger.yaml
  : >ledger
  start_server log --dags dags --now 2024-02-29T23:59:59Z --parallelism 4
  wait_for 10 grep -q "run ledger@2024-03-01T00:00:00Z: started" log
  kills=0
  for k in $(seq 1 10); do
    sleep "0.$((RANDOM % 6 + 2))" # a random moment: not a wait for an event
    kill -9 "$SERVER_PID"
    kills=$((kills + 1))
    wait "$SERVER_PID" 2>/dev/null || true
    if grep -q "run ledger@2024-03-01T00:00:00Z: success" log; then break; fi
    start_server log --dags dags --parallelism 4
  done
  grep -q "run ledger@2024-03-01T00:00:00Z: success" log || start_server log --dags dags --parallelism 4
  wait_for 120 grep -q "run ledger@2024-03-01T00:00:00Z: success" log
  stop_server
  assert_eq "$(wc -l <ledger | tr -d ' ')" 300 "ledger lines"
  assert_eq "$(sort -u ledger | wc -l | tr -d ' ')" 300 "distinct ids in the ledger"
  [ "$kills" -ge 10 ] || fail "only $kills kills happened before the run ended"
  echo "kills: $kills; adopted: $(grep -c adopted log); applied: $(grep -c 'finished while the server was down' log); relaunched: $(grep -c 'never started' log)"
}

t_server_retention_removes_old_runs_and_logs() {
  mkdir dags home
  printf 'retention: 2s\n' >home/config.yaml
  printf 'schedule: "@daily"\nend_date: 2024-03-01T00:00:00Z\ntasks:\n  a: echo old\n' >dags/r.yaml
  start_server log --dags dags --now 2024-02-29T23:59:59Z
  wait_for 10 grep -q "run r@2024-03-01T00:00:00Z: success" log
  [ -d "home/logs/r/r@2024-03-01T00:00:00Z" ] || fail "no logs for the run"
  wait_for 10 grep -q "retention: removed 1 old run and their logs" log
  [ ! -e "home/logs/r/r@2024-03-01T00:00:00Z" ] || fail "the run's logs were not removed"
  stop_server
}

t_server_bad_config_is_reported() {
  mkdir dags home
  printf 'parallelizm: 4\n' >home/config.yaml
  set +e
  "$GUST" server --home "$PWD/home" --dags dags 2>err
  rc=$?
  set -e
  assert_eq "$rc" 1 "exit status"
  assert_contains "$(cat err)" "config.yaml:1:1: error: unknown setting 'parallelizm' (did you mean 'parallelism'?)"
}

t_server_drain_waits_for_running_tasks() {
  mkdir dags
  local marker="gust-e2e-drain-$$-$RANDOM"
  # The task runs until the test lets it end: seeing it alive never races its end, however
  # slow a scan of /proc is on a loaded machine.
  printf 'schedule: "@daily"\nend_date: 2024-03-01T00:00:00Z\ntasks:\n  a: bash -c "while [ ! -e %s/release ]; do sleep 0.05; done; echo drained" %s\n' "$PWD" "$marker" >dags/d.yaml
  "$GUST" server --home "$PWD/home" --dags dags --now 2024-02-29T23:59:59Z --drain 2>>log &
  SERVER_PID=$!
  wait_for 20 alive_with_marker "$marker"
  kill -TERM "$SERVER_PID"
  wait_for 10 grep -q "draining" log
  # Draining: the server waits for the task.
  kill -0 "$SERVER_PID" || fail "the server exited while its task ran"
  touch release
  wait "$SERVER_PID"
  assert_contains "$(cat log)" "run d@2024-03-01T00:00:00Z: success"
  if alive_with_marker "$marker"; then fail "the task outlived a draining server"; fi
}

t_server_max_active_tasks_is_never_exceeded() {
  mkdir dags
  {
    printf 'schedule: "@daily"\nend_date: 2024-03-01T00:00:00Z\nmax_active_tasks: 2\ntasks:\n'
    for i in 1 2 3 4 5 6; do
      printf '  t%d: echo "+ $(date +%%s%%N)" >> %s/spans; sleep 0.2; echo "- $(date +%%s%%N)" >> %s/spans\n' "$i" "$PWD" "$PWD"
    done
  } >dags/m.yaml
  start_server log --dags dags --now 2024-02-29T23:59:59Z
  wait_for 20 grep -q "run m@2024-03-01T00:00:00Z: success" log
  stop_server
  # Replay the starts and ends in time order: never more than 2 at once.
  max=$(sort -k2 -n spans | awk '{ n += ($1 == "+") ? 1 : -1; if (n > m) m = n } END { print m }')
  assert_eq "$max" 2 "most tasks running at once"
}

# ---- the DAG folder: special files, broken files' notes, new DAGs ------------------------------

dags_list_has() { # TEXT...: one line of `gust dags list` has every TEXT (fixed strings)
  local line
  while IFS= read -r line; do
    local t ok=1
    for t in "$@"; do
      case "$line" in *"$t"*) ;; *) ok= ;; esac
    done
    [ -n "$ok" ] && return 0
  done < <("$GUST" dags list --home home 2>&1)
  return 1
}

dags_list_lacks() { ! dags_list_has "$@"; }

successes() { grep -c "run $1@.*: success" log || true; }

more_successes_than() { [ "$(successes "$1")" -gt "$2" ]; }

# Symlinks, FIFOs, sockets and hard links made in place give a bare IN_CREATE (no
# IN_CLOSE_WRITE follows): each is read at once. A link to a DAG file loads; anything else is
# broken with what it is; none blocks the server.
t_server_reads_special_files_made_in_place() {
  mkdir dags stage
  printf 'tasks:\n  a: echo target\n' >stage/target.yaml
  start_server log --dags dags
  ln -s "$PWD/stage/target.yaml" dags/link.yaml
  ln stage/target.yaml dags/hard.yaml
  ln -s nowhere.yaml dags/dangling.yaml
  ln -s loop.yaml dags/loop.yaml
  ln -s /dev/null dags/devnull.yaml
  mkfifo dags/fifo.yaml
  python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' dags/sock.yaml
  wait_for 10 grep -q "loaded dags/link.yaml: DAG 'link' version 1" log
  wait_for 10 grep -q "loaded dags/hard.yaml: DAG 'hard' version 1" log
  wait_for 10 dags_list_has "./dangling.yaml" "BROKEN: dags/dangling.yaml: error: is a symlink to 'nowhere.yaml', which does not exist"
  wait_for 10 dags_list_has "./loop.yaml" "BROKEN: dags/loop.yaml: error: is a symlink to 'loop.yaml', which never reaches a file (a loop of symlinks)"
  wait_for 10 dags_list_has "./devnull.yaml" "BROKEN: dags/devnull.yaml: error: is a symlink to '/dev/null', which is a character device, not a regular file"
  wait_for 10 dags_list_has "./fifo.yaml" "BROKEN: dags/fifo.yaml: error: is a FIFO, not a regular file"
  wait_for 10 dags_list_has "./sock.yaml" "BROKEN: dags/sock.yaml: error: is a socket, not a regular file"
  # Re-pointed with `ln -sfn` (a new link renamed over the old one): the new target loads.
  printf 'tasks:\n  b: echo other\n' >stage/other.yaml
  ln -sfn "$PWD/stage/other.yaml" dags/link.yaml
  wait_for 10 grep -q "loaded dags/link.yaml: DAG 'link' version 2" log
  # A FIFO pointed at fixes it: nothing was ever opened for reading in a way that blocks.
  rm dags/fifo.yaml
  ln -s "$PWD/stage/target.yaml" dags/fifo.yaml
  wait_for 10 grep -q "loaded dags/fifo.yaml: DAG 'fifo' version 1" log
  wait_for 10 dags_list_lacks "./fifo.yaml"
  r=$("$GUST" dags trigger link --home home)
  wait_for 20 grep -q "run $r: success" log
  grep -q "O other" "home/logs/link/$r/b/1/log" || fail "the run did not use the new target"
  kill -0 "$SERVER_PID" || fail "the server exited"
  stop_server
}

# A file that has not loaded has a dags list row of its own, keyed by its path in the DAG folder
# ("./a/x.yaml": no DAG id has a '/'), so broken files of one name in two folders are both
# reported, and a DAG whose id looks like a file name is another row. When the file loads, its
# row goes.
t_server_broken_files_of_one_name_have_a_row_each() {
  mkdir -p dags/a dags/b
  start_server log --dags dags
  printf 'tasks:\n  t:\n    depends: [nope]\n' >dags/a/x.yaml
  printf 'tasks: [\n' >dags/b/x.yaml
  printf 'schedule: 5\ntasks:\n  t: echo x\n' >dags/x.yaml
  printf 'id: x.yaml\ntasks:\n  t: echo a DAG named x.yaml\n' >dags/named.yaml
  wait_for 10 dags_list_has "./a/x.yaml " "BROKEN: dags/a/x.yaml:3:15: error:"
  wait_for 10 dags_list_has "./b/x.yaml " "BROKEN: dags/b/x.yaml:1:9: error:"
  wait_for 10 dags_list_has "./x.yaml " "BROKEN: dags/x.yaml:1:12: error: bad schedule"
  wait_for 10 grep -q "loaded dags/named.yaml: DAG 'x.yaml'" log
  "$GUST" dags list --home home | grep -qE "^x\.yaml +\(manual\) +no " ||
    fail "no row for DAG 'x.yaml': $("$GUST" dags list --home home)"
  dags_list_lacks "x.yaml " "BROKEN: dags/named.yaml" || fail "DAG 'x.yaml' took a broken note"
  # The fixed file loads as DAG 'x'; its own row goes, the other broken x.yaml stays reported.
  printf 'tasks:\n  t: echo fixed\n' >dags/a/x.yaml
  wait_for 10 grep -q "loaded dags/a/x.yaml: DAG 'x' version 1" log
  wait_for 10 dags_list_lacks "./a/x.yaml"
  dags_list_has "./b/x.yaml " "BROKEN: dags/b/x.yaml:1:9: error:" || fail "b/x.yaml's note went"
  "$GUST" dags list --home home | grep -qE "^x +\(manual\) +no " ||
    fail "no row for DAG 'x': $("$GUST" dags list --home home)"
  # `trigger` of a file that never loaded says why, without a hint at a path row.
  printf 'tasks: [\n' >dags/never.yaml
  wait_for 10 dags_list_has "./never.yaml " "BROKEN: dags/never.yaml"
  set +e
  "$GUST" dags trigger never --home home --dags dags 2>err
  rc=$?
  set -e
  assert_eq "$rc" 1 "trigger of a file that never loaded"
  assert_contains "$(cat err)" "DAG 'never' cannot be triggered: its file dags/never.yaml has never loaded:"
  stop_server
}

# A broken file that is deleted, renamed away, or inside a folder moved away takes its note
# with it, live and across a restart; a DAG whose file broke and then went keeps its history
# row ("file removed") without the note.
t_server_drops_the_notes_of_removed_broken_files() {
  mkdir -p dags/d
  printf 'tasks:\n  a: echo h\n' >dags/h.yaml
  start_server log --dags dags
  wait_for 10 grep -q "loaded dags/h.yaml: DAG 'h'" log
  for f in gone moved stay down d/inner; do printf 'tasks: [\n' >"dags/$f.yaml"; done
  printf 'tasks:\n  a:\n    depends: [nope]\n' >dags/h.yaml
  for f in gone moved stay down d/inner; do wait_for 10 dags_list_has "./$f.yaml " "BROKEN: dags/$f.yaml"; done
  wait_for 10 dags_list_has "h " "BROKEN (the last good version is in use): dags/h.yaml:3:15:"
  rm dags/gone.yaml
  mv dags/moved.yaml moved.yaml
  mv dags/d d_away
  rm dags/h.yaml
  wait_for 10 dags_list_lacks "./gone.yaml"
  wait_for 10 dags_list_lacks "./moved.yaml"
  wait_for 10 dags_list_lacks "./d/inner.yaml"
  wait_for 10 dags_list_has "h " "file removed; history kept"
  dags_list_lacks "h " "BROKEN" || fail "the removed DAG kept its note: $("$GUST" dags list --home home)"
  # The folder moved away is no longer watched: a file written in it is not read (the sentinel,
  # written after it, is).
  printf 'tasks:\n  a: echo away\n' >d_away/late.yaml
  printf 'tasks:\n  a: echo sentinel\n' >dags/sentinel.yaml
  wait_for 10 grep -q "loaded dags/sentinel.yaml" log
  # Removed while the server is down: the note goes at the next start; the others stay.
  stop_server
  rm dags/down.yaml
  start_server log2 --dags dags
  assert_contains "$(cat log2)" "dagbag: dropped 1 stale note of files that never loaded"
  dags_list_lacks "./down.yaml" || fail "down.yaml's note survived the restart"
  dags_list_has "./stay.yaml " "BROKEN: dags/stay.yaml" || fail "stay.yaml's note went"
  if grep -q "d_away\|dags/d/late.yaml" log log2; then fail "a file of the moved folder was read"; fi
  stop_server
}

# A DAG that appears while the server runs gets no run for a fire time before it appeared, even
# with catchup; a DAG the store knows catches up from its last run after a restart.
t_server_new_dag_gets_no_runs_before_it_appeared() {
  mkdir dags
  printf 'schedule: "@every 1s"\ntasks:\n  a: echo tick\n' >dags/tick.yaml
  start_server log --dags dags
  wait_for 20 more_successes_than tick 2 # fire times pass before the new DAG appears
  printf 'schedule: "@every 1s"\ncatchup: true\ntasks:\n  a: echo late\n' >dags/late.yaml
  local born L last
  born=$(stat -c %.3Y dags/late.yaml | tr -d .)
  wait_for 20 more_successes_than late 1
  for L in $("$GUST" runs list --dag late --json --limit 0 --home home | jq -r '.[].logical_date'); do
    [ "$(ms_of "$L")" -ge "$born" ] || fail "a run for $L, before late.yaml was written ($born ms)"
  done
  # Known to the store: after a restart 10 s later (server clock), every fire time since its
  # last run gets one (catchup), although they are before the new start.
  stop_server
  last=$("$GUST" runs list --dag late --json --limit 1 --home home | jq -r '.[0].logical_date')
  start_server log2 --dags dags --now "$(date -u -d '+10 seconds' +%Y-%m-%dT%H:%M:%SZ)"
  local next
  next=$(date -u -d "@$(($(ms_of "$last") / 1000 + 1))" +%Y-%m-%dT%H:%M:%SZ)
  wait_for 20 grep -q "created run late@$next" log2
  stop_server
}

# A scheduled DAG with a required param could never start a scheduled run: the file is broken
# at the param, nothing logs an ERROR at its fire times, and a manual DAG may have one.
t_server_scheduled_dag_with_a_required_param_is_broken() {
  mkdir dags
  printf 'schedule: "@every 1s"\ntasks:\n  a: echo tick\n' >dags/tick.yaml
  printf 'schedule: "@every 1s"\nparams:\n  token: {type: string}\ntasks:\n  a: echo ${{ params.token }}\n' >dags/req.yaml
  printf 'params:\n  token: {type: string}\ntasks:\n  a: echo ${{ params.token }}\n' >dags/manual.yaml
  start_server log --dags dags
  wait_for 10 dags_list_has "BROKEN: dags/req.yaml:3:3: error: param 'token' has no default, but the DAG has a schedule: scheduled runs could not start; give it a default or remove the schedule"
  wait_for 20 more_successes_than tick 2
  if grep -q "ERROR" log; then fail "an ERROR line: $(grep ERROR log)"; fi
  if grep -q "run req@" log; then fail "a run of req: $(grep 'run req@' log)"; fi
  r=$("$GUST" dags trigger manual --param token=T-1 --home home)
  wait_for 20 grep -q "run $r: success" log
  stop_server
}
