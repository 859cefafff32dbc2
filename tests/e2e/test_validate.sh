# End-to-end tests of `gust dags validate`, `dags list`, `dags show` and the command line.

# Every file of the invalid corpus produces exactly its expected error lines, and exit 1.
t_invalid_corpus() {
  cd "$ROOT"
  local n=0 f got want
  for f in tests/dags/invalid/*.yaml; do
    set +e
    got=$("$GUST" dags validate "$f" 2>/dev/null)
    rc=$?
    set -e
    want=$(cat "${f%.yaml}.err")
    [ "$got" = "$want" ] || fail "$f: output differs:
--- got
$got
--- want
$want"
    assert_eq "$rc" 1 "exit status for $f"
    n=$((n + 1))
  done
  [ "$n" -ge 30 ] || fail "corpus too small: $n"
}

t_valid_examples() {
  "$GUST" dags validate "$ROOT/examples" >out 2>err
  assert_contains "$(cat err)" "0 invalid"
  "$GUST" dags validate "$ROOT/tests/dags/valid" >out 2>err
  assert_contains "$(cat err)" "0 invalid"
}

t_validate_folder_reports_all_files() {
  mkdir -p dags/sub
  printf 'tasks:\n  a: echo a\n' >dags/good.yaml
  printf 'tasks:\n  a:\n    depends: [b]\n' >dags/sub/bad.yml
  printf 'not a dag' >dags/readme.txt
  set +e
  "$GUST" dags validate dags >out 2>err
  rc=$?
  set -e
  assert_eq "$rc" 1 "exit"
  assert_contains "$(cat out)" "dags/good.yaml: ok: DAG 'good', 1 task"
  assert_contains "$(cat out)" "dags/sub/bad.yml:3:15: error: task 'a' depends on 'b', which does not exist"
  assert_contains "$(cat err)" "2 files checked: 1 valid, 1 invalid"
  assert_not_contains "$(cat out)" "readme"
}

t_validate_bad_inputs_never_crash() {
  mkdir adir
  head -c $((100 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >huge.yaml
  set +e
  "$GUST" dags validate huge.yaml >out 2>&1; rc1=$?
  "$GUST" dags validate nonexistent.yaml >>out 2>&1; rc2=$?
  "$GUST" dags validate adir/ >>out 2>&1; rc3=$?
  "$GUST" dags validate /dev/null >>out 2>&1; rc4=$?
  set -e
  assert_eq "$rc1" 1 "huge"
  assert_eq "$rc2" 1 "missing"
  assert_eq "$rc3" 1 "empty folder"
  assert_eq "$rc4" 1 "device"
  assert_contains "$(cat out)" "huge.yaml: error: the file is 100.0 MB; a DAG file may be at most 64 MB"
  assert_contains "$(cat out)" "nonexistent.yaml: error: cannot open: No such file or directory"
  assert_contains "$(cat out)" "no DAG files"
  assert_contains "$(cat out)" "/dev/null: error: is not a regular file"
}

t_validate_usage_errors() {
  set +e
  "$GUST" dags validate >out 2>&1; rc=$?
  "$GUST" dags validate --bogus x >>out 2>&1; rc2=$?
  "$GUST" nosuchcommand >>out 2>&1; rc3=$?
  set -e
  assert_eq "$rc" 2 "no args"
  assert_eq "$rc2" 2 "bad option"
  assert_eq "$rc3" 2 "unknown command"
  assert_contains "$(cat out)" "Usage: gust dags validate"
}

t_help_and_version() {
  "$GUST" --help | grep -q "dags validate"
  "$GUST" --version | grep -qE '^gust [0-9]+\.[0-9]+'
  for c in validate list show test; do
    "$GUST" dags $c --help | grep -q "Usage: gust dags $c" || fail "no help for dags $c"
  done
}

t_list_shows_broken_files() {
  mkdir dags
  printf 'schedule: "@daily"\ntasks:\n  a: echo a\n  b:\n    depends: [a]\n' >dags/etl.yaml
  printf 'tasks:\n  a:\n    retries: many\n' >dags/broken.yaml
  "$GUST" dags list --dags dags >out
  assert_contains "$(cat out)" "etl"
  assert_contains "$(cat out)" "@daily"
  assert_contains "$(cat out)" "dags/broken.yaml: BROKEN: 3:14: 'retries' must be a whole number, got 'many'"
  GUST_DAGS=dags "$GUST" dags list | grep -q etl
}

t_show_prints_upstreams() {
  cat >d.yaml <<'YAML'
tasks:
  extract: echo e
  transform:
    depends: [extract]
    run: echo t
    retries: 3
  load:
    depends: [transform, extract]
    trigger_rule: none_failed
YAML
  "$GUST" dags show d.yaml >out
  assert_contains "$(cat out)" "transform  <- extract"
  assert_contains "$(cat out)" "load  <- transform, extract"
  assert_contains "$(cat out)" "trigger_rule: none_failed"
  assert_contains "$(cat out)" "retries: 3"
}
