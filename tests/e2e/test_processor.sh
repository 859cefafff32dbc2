# End-to-end tests of the DAG processor (src/server/dagproc.h): no file, however broken, can
# take the server down. Parser faults are injected with GUST_TEST_PARSER_FAULTS=1 and a marker
# in the file (the processor's test hook); the input that crashed libfyaml is real.

proc_start() { # LOG ARGS...
  local log=$1
  shift
  "$GUST" server --home "$PWD/home" "$@" 2>>"$log" &
  SERVER_PID=$!
  wait_for 30 grep -q "server: ready" "$log"
}

proc_stop() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

server_alive() {
  kill -0 "$SERVER_PID" 2>/dev/null
}

listed() { # DAG-OR-FILE TEXT: `dags list` has a line with both
  "$GUST" dags list --home home 2>&1 | grep -F -- "$1" | grep -qF -- "$2"
}

more_ticks_than() { # N: more than N successful tick runs in the log
  [ "$(grep -c "run tick@.*: success" log)" -gt "$1" ]
}

crash_input() {
  base64 -d >"$1" <<'B64'
cGFyYWxsdGVwb2xzOgogIB0/DT8NPyBibHNsbnRpb246IDdkCnBvb2xzOgogIGENPw0/IGJsczoK
ICBhOiAxCiAgb29sczo6ICAJPyBibHM6CjQgYSA6IAo6IDQKczoKICANPw0/DT8gYmxzOgogIGE6
IDMKICBvb2xzOjogIA0/IGJsczoKICBhICBwb2xzOgogIA0/DT8NPyBsczoKNCBhIDogCjogNApz
OgogIA0/DT8NPyBibHNibHNsczoKICANPw0/DT8gYjoge3Nsb3RzOiAgYmxzOgogIGE6IDMKICBv
b2xzOjogIngifQpob3N0OiB7Y2x1OiAyLiANPyBiNSwgbWVtb3J5OiA0R2xzOgogfQ==
B64
}

# The 277 bytes that made libfyaml write through a null pointer: as a DAG file, dropped into a
# live server's folder, and present at start.
t_processor_libfyaml_crash_input() {
  mkdir dags
  crash_input dags/crash.yaml
  set +e
  "$GUST" dags validate dags/crash.yaml >out 2>&1
  rc=$?
  set -e
  assert_eq "$rc" 1 "validate exit"
  assert_contains "$(cat out)" "dags/crash.yaml:2:3: error: YAML syntax error: control character 0x1D"
  printf 'tasks:\n  a: echo a\n' >dags/good.yaml
  proc_start log --dags dags
  crash_input dags/crash2.yaml
  wait_for 10 listed crash2 "2:3: error: YAML syntax error"
  listed crash "2:3: error: YAML syntax error"
  server_alive || fail "server died"
  r=$("$GUST" dags trigger good --home home)
  wait_for 20 grep -q "run $r: success" log
  proc_stop
}

t_processor_config_crash_input_is_an_error_not_a_crash() {
  mkdir -p dags home
  crash_input home/config.yaml
  set +e
  "$GUST" server --home "$PWD/home" --dags dags 2>err
  rc=$?
  set -e
  assert_eq "$rc" 1 "server exit"
  assert_contains "$(cat err)" "config.yaml:2:3: error: YAML syntax error: control character 0x1D"
}

# A crash, a hang and a memory blow-up in the parser: each file is reported broken with the
# reason, the processor restarts, the last good version of an edited DAG stays, others run.
t_processor_crash_hang_memory_are_contained() {
  mkdir -p dags home
  printf 'parse_timeout: 2s\nparse_memory: 256M\n' >home/config.yaml
  printf 'tasks:\n  a: echo good\n' >dags/good.yaml
  printf 'schedule: "@every 1s"\ntasks:\n  t: echo tick\n' >dags/tick.yaml
  GUST_TEST_PARSER_FAULTS=1 proc_start log --dags dags
  wait_for 10 grep -q "run tick@.*: success" log
  printf '# gust-test-fault: crash\ntasks:\n  a: echo x\n' >dags/crash.yaml
  # (signal 11 here; under AddressSanitizer its handler turns the SIGSEGV into an abort, 6)
  wait_for 10 listed crash "broken: the parser crashed (signal "
  printf '# gust-test-fault: hang\ntasks:\n  a: echo x\n' >dags/hang.yaml
  wait_for 20 listed hang "broken: the parser ran out of time (limit 2 s)"
  printf '# gust-test-fault: memory\ntasks:\n  a: echo x\n' >dags/memory.yaml
  wait_for 30 listed memory "broken: the parser ran out of memory (limit 256 MB)"
  # An edit of a good DAG that crashes the parser keeps its last good version running.
  printf '# gust-test-fault: crash\nschedule: "@every 1s"\ntasks:\n  t: echo new\n' >dags/tick.yaml
  wait_for 10 grep -q "dagbag: dags/tick.yaml is broken: the parser crashed (signal [0-9]*: [A-Za-z ]*); the last good version stays in use" log
  TICKS=$(grep -c "run tick@.*: success" log)
  wait_for 10 more_ticks_than $((TICKS + 1))
  server_alive || fail "server died"
  # The processor was restarted each time and still parses.
  printf 'tasks:\n  b: echo after\n' >dags/after.yaml
  wait_for 10 grep -q "loaded dags/after.yaml: DAG 'after'" log
  r=$("$GUST" dags trigger good --home home)
  wait_for 20 grep -q "run $r: success" log
  proc_stop
}

# A 100,000-task DAG is parsed while the loop goes on: a 1 s schedule keeps firing on time.
t_processor_big_dag_does_not_stall_the_loop() {
  mkdir dags
  printf 'schedule: "@every 1s"\ntasks:\n  t: echo tick\n' >dags/tick.yaml
  proc_start log --dags dags
  awk 'BEGIN { print "tasks:"; for (i = 0; i < 20000; i++) { printf "  t%d:\n    run: echo %d\n", i, i; if (i) printf "    depends: [t%d]\n", i - 1 } }' >big.tmp
  mv big.tmp dags/big.yaml
  wait_for 60 grep -q "loaded dags/big.yaml: DAG 'big'" log
  server_alive || fail "server died"
  proc_stop
}

# A stored version the server must compile again (here to clear a task of a finished run made
# with it) goes through the processor too: with a fault marker that the first server, run
# without the test hook, parsed as a comment, the second server's processor crashes on it; the
# clear is refused with the reason, and the server goes on with the current version.
t_processor_compiles_stored_versions() {
  mkdir -p dags home
  printf '# gust-test-fault: crash\ntasks:\n  t: echo one\n' >dags/x.yaml
  proc_start log --dags dags
  r=$("$GUST" dags trigger x --home home)
  wait_for 20 grep -q "run $r: success" log
  proc_stop
  printf 'tasks:\n  t: echo two\n' >dags/x.yaml
  GUST_TEST_PARSER_FAULTS=1 proc_start log2 --dags dags
  local out rc=0
  out=$("$GUST" tasks clear "$r" t --home home 2>&1) || rc=$?
  assert_eq "$rc" 1 "exit status of a clear whose version does not compile"
  assert_contains "$out" "DAG 'x' version 1 no longer loads (the server's log says why)"
  grep -q "DAG 'x' version 1 no longer loads: the parser crashed (signal " log2 ||
    fail "no log line about the stored version: $(cat log2)"
  server_alive || fail "server died"
  r2=$("$GUST" dags trigger x --home home)
  wait_for 20 grep -q "run $r2: success" log2
  grep -q "O two" "home/logs/x/$r2/t/1/log" || fail "the new run did not use the current version"
  proc_stop
}
