# End-to-end tests of `gust dags test`: the execution guarantees of the supervisor and the
# command (timeouts end whole process trees, retries never overlap, leftovers, odd commands and
# outputs, exit status, --json, progress, Ctrl-C).
#
# Helpers are prefixed x_ (the runner only runs functions named t_*). Processes started by tests
# carry a unique marker in their command line, found with alive_with_marker and killed by pid.

# A unique marker for this test's processes.
x_marker() { echo "gust-e2e-$$-$RANDOM-$1"; }

# Scripts whose argv carries a marker: `bash $PWD/spin.sh MARKER` loops until killed;
# noterm.sh does the same but ignores SIGTERM; writer.sh FILE MARKER ignores SIGTERM and appends
# the time (ns) to FILE every 50 ms.
x_scripts() {
  printf 'while :; do sleep 0.1; done\n' >spin.sh
  printf 'trap "" TERM\nwhile :; do sleep 0.1; done\n' >noterm.sh
  printf 'trap "" TERM\nwhile :; do date +%%s%%N >>"$1"; sleep 0.05; done\n' >writer.sh
}

# Kill (by pid) every process whose command line contains MARKER (letters, digits and dashes).
x_kill_marker() {
  local p
  for p in $(pgrep -f -- "$1"); do
    kill -KILL "$p" 2>/dev/null || true
  done
}

x_not_alive() { ! alive_with_marker "$1"; }

# x_run DAGFILE [ARGS...]: `gust dags test --json ARGS DAGFILE` > out.json, exit status in $rc.
x_run() {
  local f=$1
  shift
  set +e
  "$GUST" dags test --json "$@" "$f" >out.json 2>err.txt
  rc=$?
  set -e
  jq -e 'type == "object"' out.json >/dev/null || fail "--json printed no JSON object (rc $rc): $(head -c 2000 out.json) $(cat err.txt)"
}

# x_ti TASK FIELD [MAP_INDEX]: a field of a task instance in out.json ("null" when absent).
x_ti() {
  if [ $# -ge 3 ]; then
    jq -r --arg t "$1" --argjson m "$3" \
      "[.tasks[] | select(.task_id == \$t and .map_index == \$m)][0].$2" out.json
  else
    jq -r --arg t "$1" "[.tasks[] | select(.task_id == \$t)][0].$2" out.json
  fi
}

# The run folder of the last x_run.
x_logs() { jq -r .logs out.json; }

# ---- 1. timeouts end the whole tree, on time ----------------------------------------------

t_timeout_kills_whole_tree_on_time() {
  x_scripts
  local m
  m=$(x_marker tree)
  cat >dag.yaml <<EOF
tasks:
  t:
    run: |
      setsid bash $PWD/noterm.sh $m-daemon &
      (setsid bash $PWD/noterm.sh $m-orphan &)
      bash $PWD/noterm.sh $m-child &
      exec bash $PWD/noterm.sh $m-main
    timeout: 2s
    kill_grace: 1s
EOF
  trap "x_kill_marker $m" EXIT
  local t0 t1
  t0=$(now_ms)
  x_run dag.yaml
  t1=$(now_ms)
  assert_eq "$rc" 1 "exit status"
  assert_eq "$(x_ti t state)" failed "state"
  assert_contains "$(x_ti t message)" "timed out"
  alive_with_marker "$m" && fail "a process of the timed-out task is still alive: $(ps -eo pid,stat,args | grep -F -- "$m" | grep -v grep)"
  # timeout + kill_grace + 1 s
  [ $((t1 - t0)) -le 4000 ] || fail "gust dags test took $((t1 - t0)) ms; want <= 4000 (timeout 2s + grace 1s + 1s)"
  # and it did wait for the grace: nothing was killed before the timeout.
  [ $((t1 - t0)) -ge 2000 ] || fail "gust dags test took only $((t1 - t0)) ms with a 2s timeout"
  local dir
  dir=$(x_logs)/t/1
  assert_eq "$(jq -r .status "$dir/outcome")" timed_out "outcome status"
}

# ---- 2. retries ----------------------------------------------------------------------------

t_retry_until_success() {
  cat >dag.yaml <<'EOF'
tasks:
  flaky:
    run: 'echo "try $GUST_TRY_NUMBER"; [ "$GUST_TRY_NUMBER" -ge 3 ] || exit 7'
    retries: 2
    retry_delay: 0s
EOF
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status"
  assert_eq "$(x_ti flaky state)" success "state"
  assert_eq "$(x_ti flaky try_number)" 3 "tries"
  assert_eq "$(x_ti flaky exit_code)" 0 "exit_code"
  local d n
  d=$(x_logs)/flaky
  for n in 1 2 3; do
    [ -f "$d/$n/log" ] || fail "missing $d/$n/log"
    assert_contains "$(cat "$d/$n/log")" "try $n"
    [ -f "$d/$n/outcome" ] || fail "missing $d/$n/outcome"
  done
  assert_eq "$(jq -r .exit_code "$d/1/outcome")" 7 "try 1 exit code"
  assert_eq "$(jq -r .status "$d/2/outcome")" failed "try 2 status"
  assert_eq "$(jq -r .status "$d/3/outcome")" success "try 3 status"
  [ ! -e "$d/4" ] || fail "a fourth try ran"
}

t_retries_exhausted_fails() {
  cat >dag.yaml <<'EOF'
tasks:
  bad:
    run: exit 3
    retries: 1
    retry_delay: 0s
  after:
    depends: [bad]
    run: echo never
EOF
  x_run dag.yaml
  assert_eq "$rc" 1 "exit status"
  assert_eq "$(x_ti bad state)" failed "state"
  assert_eq "$(x_ti bad try_number)" 2 "tries"
  assert_eq "$(x_ti bad exit_code)" 3 "exit_code"
  assert_eq "$(x_ti after state)" upstream_failed "downstream"
  assert_eq "$(x_ti after try_number)" 0 "downstream tries"
}

# The second try starts only when every process of the first (which ignore TERM, one of them a
# setsid daemon) is gone: try 2's start time is after the last timestamp try 1's processes wrote.
t_timeout_retry_never_overlaps() {
  x_scripts
  local m
  m=$(x_marker overlap)
  cat >dag.yaml <<EOF
tasks:
  t:
    run: |
      if [ "\$GUST_TRY_NUMBER" = 1 ]; then
        setsid bash $PWD/writer.sh $PWD/ts $m-w1 &
        bash $PWD/writer.sh $PWD/ts $m-w2 &
        exec bash $PWD/noterm.sh $m-main
      fi
      date +%s%N >$PWD/start2
    timeout: 1s
    kill_grace: 1s
    retries: 1
    retry_delay: 0s
EOF
  trap "x_kill_marker $m" EXIT
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status"
  assert_eq "$(x_ti t state)" success "state"
  assert_eq "$(x_ti t try_number)" 2 "tries"
  [ -s ts ] || fail "try 1's writers wrote nothing"
  [ -s start2 ] || fail "try 2 did not record its start"
  local first last start
  first=$(sort -n ts | head -1)
  last=$(sort -n ts | tail -1)
  start=$(cat start2)
  # The writers ignored TERM, so they outlived the timeout into the grace period...
  [ $(((last - first) / 1000000)) -ge 1500 ] || fail "writers lived only $(((last - first) / 1000000)) ms"
  # ...and try 2 started after the last of them was killed.
  [ "$start" -gt "$last" ] || fail "try 2 started at $start, before try 1's last write at $last"
  x_not_alive "$m" || fail "processes of try 1 survived"
  assert_contains "$(jq -r .message "$(x_logs)/t/1/outcome")" "timed out"
}

# A retry waits for retry_delay after the failed try ended; retry_on_exit_codes limits retries.
t_retry_delay_and_exit_codes() {
  cat >dag.yaml <<EOF
tasks:
  delayed:
    run: date +%s%N >> $PWD/delayed.ts; [ "\$GUST_TRY_NUMBER" -ge 2 ]
    retries: 1
    retry_delay: 1s
  codes:
    run: exit 3
    retries: 3
    retry_delay: 0s
    retry_on_exit_codes: [4]
  codes_ok:
    run: 'if [ "\$GUST_TRY_NUMBER" = 1 ]; then exit 4; fi'
    retries: 3
    retry_delay: 0s
    retry_on_exit_codes: [4]
EOF
  x_run dag.yaml
  assert_eq "$(x_ti delayed state)" success "delayed"
  assert_eq "$(x_ti delayed try_number)" 2 "delayed tries"
  local a b
  a=$(sed -n 1p delayed.ts)
  b=$(sed -n 2p delayed.ts)
  [ $(((b - a) / 1000000)) -ge 1000 ] || fail "try 2 started $(((b - a) / 1000000)) ms after try 1; retry_delay is 1s"
  assert_eq "$(x_ti codes state)" failed "codes"
  assert_eq "$(x_ti codes try_number)" 1 "exit 3 is not in retry_on_exit_codes: no retry"
  assert_eq "$(x_ti codes_ok state)" success "codes_ok"
  assert_eq "$(x_ti codes_ok try_number)" 2 "exit 4 is retried"
}

# A task stopped with SIGSTOP still ends at its timeout.
t_timeout_of_stopped_task() {
  cat >dag.yaml <<'EOF'
tasks:
  stopped:
    run: kill -STOP $$
    timeout: 1s
    kill_grace: 1s
EOF
  local t0 t1
  t0=$(now_ms)
  x_run dag.yaml
  t1=$(now_ms)
  assert_eq "$(x_ti stopped state)" failed "state"
  assert_contains "$(x_ti stopped message)" "timed out"
  [ $((t1 - t0)) -le 3000 ] || fail "took $((t1 - t0)) ms"
}

t_dagrun_timeout_stops_the_run() {
  x_scripts
  local m
  m=$(x_marker dagrun)
  cat >dag.yaml <<EOF
dagrun_timeout: 1s
tasks:
  forever:
    run: bash $PWD/noterm.sh $m
    kill_grace: 1s
  after:
    depends: [forever]
    run: touch $PWD/after-ran
EOF
  trap "x_kill_marker $m" EXIT
  local t0 t1
  t0=$(now_ms)
  x_run dag.yaml
  t1=$(now_ms)
  assert_eq "$rc" 1 "exit status"
  assert_eq "$(jq -r .state out.json)" failed "run state"
  assert_contains "$(jq -r .message out.json)" "dagrun_timeout"
  x_not_alive "$m" || fail "the task survived dagrun_timeout"
  [ ! -e after-ran ] || fail "a downstream task ran"
  [ $((t1 - t0)) -le 3500 ] || fail "took $((t1 - t0)) ms (dagrun_timeout 1s + grace 1s)"
}

# --parallelism and max_active_tasks bound how many tasks run at once.
t_parallelism_limits() {
  x_intervals() { # the most tasks that overlapped, from the "start end" lines in spans
    awk '{ print $1, 1; print $2, -1 }' spans | sort -k1,1n -k2,2n |
      awk '{ c += $2; if (c > m) m = c } END { print m }'
  }
  local run='s=$(date +%s%N); sleep 0.2; echo "$s $(date +%s%N)" >> '"$PWD"'/spans'
  {
    printf 'tasks:\n'
    for i in 1 2 3 4 5 6; do printf '  t%d: %s\n' "$i" "$run"; done
  } >dag.yaml
  "$GUST" dags test --quiet --parallelism 1 dag.yaml
  assert_eq "$(wc -l <spans)" 6 "tasks run"
  assert_eq "$(x_intervals)" 1 "most tasks at once with --parallelism 1"
  rm spans
  "$GUST" dags test --quiet --parallelism 2 dag.yaml
  [ "$(x_intervals)" -le 2 ] || fail "$(x_intervals) tasks at once with --parallelism 2"
  rm spans
  sed -i '1i max_active_tasks: 3' dag.yaml
  "$GUST" dags test --quiet dag.yaml
  [ "$(x_intervals)" -le 3 ] || fail "$(x_intervals) tasks at once with max_active_tasks 3"
  [ "$(x_intervals)" -ge 2 ] || fail "tasks did not run in parallel"
}

# ---- 5. leftovers ----------------------------------------------------------------------------

t_leftover_daemon_is_ended() {
  x_scripts
  local m
  m=$(x_marker left)
  cat >dag.yaml <<EOF
tasks:
  d:
    run: setsid bash $PWD/spin.sh $m-a & echo started
    kill_grace: 1s
  e:
    run: (setsid bash $PWD/noterm.sh $m-b &); echo started
    kill_grace: 1s
  f:
    run: bash $PWD/spin.sh $m-c & echo started
    kill_grace: 1s
EOF
  trap "x_kill_marker $m" EXIT
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status"
  x_not_alive "$m" || fail "a leftover daemon survived the attempt: $(ps -eo pid,args | grep -F -- "$m" | grep -v grep)"
  local t
  for t in d e f; do
    assert_eq "$(x_ti $t state)" success "$t state"
    assert_contains "$(x_ti $t message)" "leftover"
    assert_contains "$(cat "$(x_logs)/$t/1/log")" "leftover"
  done
}

t_leftovers_keep_leaves_daemon_running() {
  x_scripts
  local m
  m=$(x_marker keep)
  cat >dag.yaml <<EOF
tasks:
  service:
    run: setsid bash $PWD/spin.sh $m & echo started
    leftovers: keep
  user:
    depends: [service]
    run: echo using it
EOF
  trap "x_kill_marker $m" EXIT
  local t0 t1
  t0=$(now_ms)
  x_run dag.yaml
  t1=$(now_ms)
  assert_eq "$rc" 0 "exit status"
  assert_eq "$(x_ti service state)" success "state"
  assert_eq "$(x_ti user state)" success "downstream state"
  alive_with_marker "$m" || fail "the kept daemon is not running"
  [ $((t1 - t0)) -lt 5000 ] || fail "the run took $((t1 - t0)) ms: it waited for the kept daemon"
  assert_contains "$(x_ti service message)" "leftover"
  x_kill_marker "$m"
  wait_for 10 x_not_alive "$m"
}

# A timeout ends everything, even with leftovers: keep.
t_timeout_ends_kept_leftovers() {
  x_scripts
  local m
  m=$(x_marker keepto)
  cat >dag.yaml <<EOF
tasks:
  t:
    run: setsid bash $PWD/spin.sh $m-daemon & exec bash $PWD/spin.sh $m-main
    leftovers: keep
    timeout: 1s
    kill_grace: 1s
EOF
  trap "x_kill_marker $m" EXIT
  x_run dag.yaml
  assert_eq "$(x_ti t state)" failed "state"
  assert_contains "$(x_ti t message)" "timed out"
  x_not_alive "$m" || fail "a process survived the timeout of a leftovers: keep task"
}

# ---- 6. odd commands and outputs --------------------------------------------------------------

t_odd_commands_and_outputs() {
  cat >dag.yaml <<'EOF'
tasks:
  nf_shell: nosuchcmd-xyz
  nf_argv:
    run: [nosuchcmd-xyz]
  segv: kill -SEGV $$
  utf8: printf '\377\376 bad\n'
  bad_json:
    run: echo '{bad' > "$GUST_OUTPUT"
  big_json:
    run: printf '"%s"' "$(head -c 1100000 /dev/zero | tr '\0' a)" > "$GUST_OUTPUT"
  ok1: echo ok1
  ok2:
    depends: [ok1]
    run: echo ok2
  ok3:
    run: |
      echo '{"fine": true}' > "$GUST_OUTPUT"
EOF
  x_run dag.yaml
  assert_eq "$rc" 1 "exit status"
  local t
  for t in nf_shell nf_argv; do
    assert_eq "$(x_ti $t state)" failed "$t state"
    assert_contains "$(x_ti $t message)" "not found"
    assert_contains "$(x_ti $t message)" "nosuchcmd-xyz"
  done
  assert_eq "$(x_ti segv state)" failed "segv state"
  assert_eq "$(x_ti segv signal)" 11 "segv signal"
  assert_contains "$(x_ti segv message)" "SIGSEGV"
  assert_eq "$(x_ti utf8 state)" success "utf8 state"
  LC_ALL=C grep -q $'\xff\xfe bad' "$(x_logs)/utf8/1/log" || fail "the log lost the invalid UTF-8 bytes: $(od -c "$(x_logs)/utf8/1/log" | head)"
  assert_eq "$(x_ti bad_json state)" failed "bad_json state"
  assert_contains "$(x_ti bad_json message)" "not valid JSON"
  assert_eq "$(x_ti big_json state)" failed "big_json state"
  assert_contains "$(x_ti big_json message)" "limit is 1 MiB"
  for t in ok1 ok2 ok3; do
    assert_eq "$(x_ti $t state)" success "$t state"
  done
  assert_eq "$(x_ti ok3 output.fine)" true "ok3 output"
  assert_eq "$(jq -r .state out.json)" failed "run state"
}

t_output_100mb_log() {
  cat >dag.yaml <<'EOF'
tasks:
  loud:
    run: yes "$(printf '%0999d' 0)" | head -c 100000000; echo done-marker-line
EOF
  local t0 t1 size
  t0=$(now_ms)
  x_run dag.yaml
  t1=$(now_ms)
  assert_eq "$rc" 0 "exit status"
  assert_eq "$(x_ti loud state)" success "state"
  size=$(stat -c %s "$(x_logs)/loud/1/log")
  [ "$size" -ge 100000000 ] || fail "log holds $size bytes; want >= 100000000"
  tail -c 200 "$(x_logs)/loud/1/log" | grep -q done-marker-line || fail "log lost its last line"
  assert_eq "$(wc -l <"$(x_logs)/loud/1/log")" 100001 "log lines"
  [ $((t1 - t0)) -lt 30000 ] || fail "100 MB of output took $((t1 - t0)) ms"
}

# ---- 8. exit status, --json, progress ------------------------------------------------------------

t_exit_status_and_json() {
  cat >ok.yaml <<'EOF'
tasks:
  a: echo a
  b:
    depends: [a]
    run: exit 0
EOF
  cat >bad.yaml <<'EOF'
tasks:
  a: echo a
  b:
    depends: [a]
    run: exit 4
EOF
  x_run ok.yaml --home h
  assert_eq "$rc" 0 "exit status of a successful run"
  jq -e '(.dag_id == "ok") and (.state == "success") and (.run_id | type == "string")
    and (.logs | type == "string") and (.tasks | length == 2)
    and all(.tasks[]; has("task_id") and has("state") and has("try_number") and has("exit_code")
      and has("signal") and has("duration_ms") and has("message") and has("output"))' out.json >/dev/null ||
    fail "--json lacks fields: $(cat out.json)"
  assert_contains "$(x_logs)" "h/logs/ok/"
  [ -d "$(x_logs)/a/1" ] || fail "no attempt folder under --home"
  [ ! -e .gust ] || fail "--home was ignored: .gust created"
  assert_eq "$(x_ti b try_number)" 1 "tries"
  assert_eq "$(x_ti b exit_code)" 0 "exit code"
  [ "$(x_ti a duration_ms)" -ge 0 ] || fail "duration_ms"

  x_run bad.yaml
  assert_eq "$rc" 1 "exit status of a failed run"
  assert_eq "$(jq -r .state out.json)" failed "run state"
  assert_eq "$(x_ti b exit_code)" 4 "exit code"
  assert_eq "$(x_ti b state)" failed "state"
  [ -d .gust/logs/bad ] || fail "GUST_HOME does not default to ./.gust"

  # GUST_HOME is honoured, and quiet prints nothing.
  set +e
  GUST_HOME=gh "$GUST" dags test --quiet ok.yaml >q.out 2>&1
  rc=$?
  set -e
  assert_eq "$rc" 0 "--quiet exit status"
  assert_eq "$(cat q.out)" "" "--quiet output"
  [ -d gh/logs/ok ] || fail "GUST_HOME ignored"

  # Line output: one line per state change and a summary.
  set +e
  "$GUST" dags test bad.yaml >lines.out 2>&1
  rc=$?
  set -e
  assert_eq "$rc" 1 "line mode exit status"
  assert_contains "$(cat lines.out)" "exit 4"
  assert_contains "$(cat lines.out)" "failed"
}

# The usage line puts options after FILE: `gust dags test FILE [--param ...] [--json]`.
t_options_after_file() {
  printf 'params:\n  x: a\ntasks:\n  a: echo "${{ params.x }}"\n' >dag.yaml
  set +e
  "$GUST" dags test dag.yaml --param x=hello --json >out.json 2>err.txt
  rc=$?
  set -e
  assert_eq "$rc" 0 "exit status of 'gust dags test FILE --param x=hello --json' ($(cat err.txt))"
  jq -e . out.json >/dev/null || fail "invalid JSON"
  assert_contains "$(cat "$(x_logs)/a/1/log")" "hello"
}

t_progress_reported() {
  cat >dag.yaml <<'EOF'
tasks:
  p:
    run: echo 50/100 halfway > "$GUST_PROGRESS"; sleep 1.5
EOF
  set +e
  "$GUST" dags test dag.yaml >lines.out 2>&1
  rc=$?
  set -e
  assert_eq "$rc" 0 "exit status"
  local f
  f=$(echo .gust/logs/dag/*/p/1/progress)
  [ -f "$f" ] || fail "no progress file in the attempt folder"
  assert_eq "$(cat "$f")" "50/100 halfway" "progress file"
  assert_contains "$(cat lines.out)" "50/100 halfway"
}

t_task_environment() {
  cat >dag.yaml <<EOF
id: envdag
params:
  size: 5
tasks:
  e:
    run: env | grep '^GUST_' | sort > $PWD/env.txt; pwd > $PWD/pwd.txt
  w:
    run: pwd > $PWD/wd.txt; echo "\$MY_VAR" >> $PWD/wd.txt; echo 5 > "\$GUST_OUTPUT"
    workdir: /tmp
    env:
      MY_VAR: my value
EOF
  GUST_LEAK=1 x_run dag.yaml
  assert_eq "$rc" 0 "exit status"
  local env
  env=$(cat env.txt)
  assert_contains "$env" "GUST_DAG_ID=envdag"
  assert_contains "$env" "GUST_RUN_ID=$(jq -r .run_id out.json)"
  assert_contains "$env" "GUST_TASK_ID=e"
  assert_contains "$env" "GUST_TRY_NUMBER=1"
  assert_contains "$env" "GUST_PARAM_SIZE=5"
  assert_contains "$env" "GUST_OUTPUT=/"
  assert_contains "$env" "GUST_PROGRESS=/"
  assert_not_contains "$env" "GUST_LEAK"
  assert_eq "$(cat pwd.txt)" "$PWD" "inherited workdir"
  assert_eq "$(head -1 wd.txt)" /tmp "workdir"
  assert_eq "$(sed -n 2p wd.txt)" "my value" "task env"
  assert_eq "$(x_ti w output)" 5 "output written from another workdir"
  assert_eq "$(x_ti e map_index)" null "map_index of an unmapped task"
}

# ---- 9. Ctrl-C ----------------------------------------------------------------------------------

t_ctrl_c_cancels_gracefully() {
  x_scripts
  local m
  m=$(x_marker intr)
  cat >dag.yaml <<EOF
tasks:
  long:
    run: bash $PWD/spin.sh $m-a
    kill_grace: 1s
  stubborn:
    run: bash $PWD/noterm.sh $m-b
    kill_grace: 1s
  after:
    depends: [long]
    run: touch $PWD/after-ran
EOF
  trap "x_kill_marker $m" EXIT
  "$GUST" dags test --json dag.yaml >out.json 2>err.txt &
  local gp=$! t0 t1
  wait_for 20 alive_with_marker "$m-a"
  wait_for 20 alive_with_marker "$m-b"
  t0=$(now_ms)
  kill -INT $gp
  set +e
  wait $gp
  rc=$?
  set -e
  t1=$(now_ms)
  [ "$rc" -ne 0 ] || fail "gust exited 0 after Ctrl-C"
  [ $((t1 - t0)) -le 3000 ] || fail "gust took $((t1 - t0)) ms to stop after Ctrl-C; want <= grace 1s + 2s"
  x_not_alive "$m" || fail "a task process survived Ctrl-C"
  jq -e . out.json >/dev/null || fail "invalid JSON after Ctrl-C: $(cat out.json)"
  assert_eq "$(jq -r .state out.json)" cancelled "run state"
  [ ! -e after-ran ] || fail "a task started after Ctrl-C"
  assert_contains "$(x_ti long message)" "cancel"
  assert_eq "$(x_ti after state)" skipped "downstream state"
}

t_ctrl_c_twice_kills_at_once() {
  x_scripts
  local m
  m=$(x_marker intr2)
  cat >dag.yaml <<EOF
tasks:
  stubborn:
    run: bash $PWD/noterm.sh $m
    kill_grace: 30s
EOF
  trap "x_kill_marker $m" EXIT
  "$GUST" dags test dag.yaml >out.txt 2>err.txt &
  local gp=$! t0 t1
  wait_for 20 alive_with_marker "$m"
  t0=$(now_ms)
  kill -INT $gp
  # Two signals sent back to back may merge into one pending signal: send the second once gust
  # has taken the first.
  wait_for 5 grep -q cancelling err.txt
  kill -INT $gp
  set +e
  wait $gp
  rc=$?
  set -e
  t1=$(now_ms)
  [ "$rc" -ne 0 ] || fail "gust exited 0 after Ctrl-C"
  [ $((t1 - t0)) -le 2500 ] || fail "gust took $((t1 - t0)) ms to stop after two Ctrl-C; want ~2 s (kill_grace is 30s)"
  x_not_alive "$m" || fail "the task survived two Ctrl-C"
  assert_contains "$(cat out.txt)" "cancelled"
}

# SIGTERM to gust cancels like Ctrl-C.
t_sigterm_cancels() {
  x_scripts
  local m
  m=$(x_marker term)
  cat >dag.yaml <<EOF
tasks:
  long:
    run: bash $PWD/spin.sh $m
    kill_grace: 1s
EOF
  trap "x_kill_marker $m" EXIT
  "$GUST" dags test --json dag.yaml >out.json 2>err.txt &
  local gp=$!
  wait_for 20 alive_with_marker "$m"
  kill -TERM $gp
  set +e
  wait $gp
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "gust exited 0 after SIGTERM"
  x_not_alive "$m" || fail "the task survived"
  assert_eq "$(jq -r .state out.json)" cancelled "run state"
}

# Ctrl-C while a task waits for its retry delay ends the run at once.
t_ctrl_c_during_retry_delay() {
  cat >dag.yaml <<'EOF'
tasks:
  f:
    run: exit 1
    retries: 3
    retry_delay: 1h
EOF
  "$GUST" dags test dag.yaml >out.txt 2>err.txt &
  local gp=$! t0 t1
  wait_for 20 grep -q up_for_retry out.txt
  t0=$(now_ms)
  kill -INT $gp
  set +e
  wait $gp
  rc=$?
  set -e
  t1=$(now_ms)
  [ "$rc" -ne 0 ] || fail "gust exited 0 after Ctrl-C"
  [ $((t1 - t0)) -le 2000 ] || fail "gust took $((t1 - t0)) ms to stop"
  assert_contains "$(cat out.txt)" "cancelled"
  [ ! -e "$(echo .gust/logs/dag/*/f)/2" ] || fail "a retry started after Ctrl-C"
}
