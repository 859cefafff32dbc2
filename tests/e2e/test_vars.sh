# End-to-end tests of variables and connections: `gust variables` / `gust connections`, their
# use by a running server's tasks (templates and env), masking in the stored logs, the
# environment's GUST_VAR_* overriding the store, unknown keys, and changes made while the
# server runs.

vars_start_server() { # LOG ARGS...
  local log=$1
  shift
  "$GUST" server --home "$GUST_HOME" --dags dags "$@" 2>>"$log" &
  SERVER_PID=$!
  wait_for 20 grep -q "server: ready" "$log"
}

vars_stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

run_state() { "$GUST" runs show "$1" --json | jq -r .state; }
run_over() { case "$(run_state "$1")" in success | failed | cancelled) return 0 ;; esac; return 1; }

# trigger_and_wait DAG: trigger a run, wait until it is over, print its id.
trigger_and_wait() {
  local r
  r=$("$GUST" dags trigger "$1")
  wait_for 30 run_over "$r"
  echo "$r"
}

t_vars_secrets_masked_and_env_given() {
  export GUST_HOME=$PWD/home
  mkdir dags
  # The secret comes from stdin (kept out of the shell's history), the URI too.
  printf 'Top-Secret-Token-9\n' | "$GUST" variables set api_token --stdin --secret >out
  assert_contains "$(cat out)" "created secret variable 'api_token'"
  printf 'postgresql://etl:Conn-Pw-77@db.internal:5432/cat?sslmode=require' |
    "$GUST" connections set catalog --stdin --extra '{"role": "reader"}' >out
  assert_contains "$(cat out)" "postgresql://etl:***@db.internal:5432/cat"
  assert_not_contains "$(cat out)" "Conn-Pw-77"
  "$GUST" variables set region eu-west --description "where it runs" >/dev/null
  [ "$(stat -c %a "$GUST_HOME/secret.key")" = 600 ] || fail "secret.key is not 0600"

  # get without --reveal hides the secret; --reveal shows it; the list never does.
  out=$("$GUST" variables get api_token 2>err)
  assert_eq "$out" "***" "variables get of a secret"
  assert_contains "$(cat err)" "--reveal"
  assert_eq "$("$GUST" variables get api_token --reveal)" "Top-Secret-Token-9" "--reveal"
  assert_eq "$("$GUST" variables get api_token --json | jq -r '.value, .secret' | tr '\n' ' ')" \
    "null true " "the JSON of a hidden secret"
  assert_not_contains "$("$GUST" variables list; "$GUST" variables list --json)" "Top-Secret"
  assert_not_contains "$("$GUST" connections list; "$GUST" connections get catalog)" "Conn-Pw-77"
  assert_eq "$("$GUST" connections get catalog --json | jq -r .password)" "***" "hidden password"
  assert_eq "$("$GUST" connections get catalog --reveal --json | jq -r .password)" "Conn-Pw-77" \
    "revealed password"

  cat >dags/secrets.yaml <<'EOF'
tasks:
  use:
    run: |
      echo "token=${{ var.api_token }}"
      echo "password=${{ conn.catalog.password }} host=${{ conn.catalog.host }} port=${{ conn.catalog.port }} role=${{ conn.catalog.extra.role }}"
      echo "uri=$DB"
      echo "in env: $TOKEN" >&2
      [ "$(printf %s "$TOKEN" | sha256sum | cut -c1-32)" = TOKEN_SUM ] && echo "env-ok"
      [ "$(printf %s "$DB" | sha256sum | cut -c1-32)" = URI_SUM ] && echo "uri-ok"
      [ "$REGION" = "from-env" ] && echo "override-ok"
    env:
      TOKEN: ${{ var.api_token }}
      DB: ${{ conn.catalog.uri }}
      REGION: ${{ var.region }}
EOF
  # The DAG compares hashes: its source (kept in the store) must not hold the secrets.
  token_sum=$(printf %s "Top-Secret-Token-9" | sha256sum | cut -c1-32)
  uri_sum=$(printf %s "postgresql://etl:Conn-Pw-77@db.internal:5432/cat?sslmode=require" |
    sha256sum | cut -c1-32)
  sed -i "s/TOKEN_SUM/$token_sum/; s/URI_SUM/$uri_sum/" dags/secrets.yaml
  GUST_VAR_REGION=from-env vars_start_server log
  wait_for 10 grep -q "DAG 'secrets'" log
  r=$(trigger_and_wait secrets)
  assert_eq "$(run_state "$r")" success "the run"
  task_log=$(cat home/logs/secrets/"$r"/use/1/log)
  assert_contains "$task_log" "O token=***"
  assert_contains "$task_log" "O password=*** host=db.internal port=5432 role=reader"
  assert_contains "$task_log" "O uri=***"
  assert_contains "$task_log" "E in env: ***"
  assert_contains "$task_log" "O env-ok"
  assert_contains "$task_log" "O uri-ok"
  assert_contains "$task_log" "O override-ok"
  # No plaintext anywhere on disk: logs, outcome, the store, its log; nor in the server's log.
  if grep -rqF "Top-Secret-Token-9" home log; then grep -rlF "Top-Secret-Token-9" home log >&2; fail "the secret variable is on disk"; fi
  if grep -rqF "Conn-Pw-77" home log; then fail "the connection password is on disk"; fi
  if grep -rqF "db.internal:5432" home/gust.db*; then fail "the URI is in the store in clear"; fi
  vars_stop_server
}

t_vars_unknown_key_fails_attempt_scheduler_goes_on() {
  export GUST_HOME=$PWD/home
  mkdir dags
  "$GUST" variables set greeting hello >/dev/null
  printf 'tasks:\n  needs_it:\n    run: echo ${{ var.not_set_anywhere }}\n' >dags/broken_ref.yaml
  printf 'tasks:\n  needs_conn:\n    env: {X: "${{ conn.nowhere.host }}"}\n    run: "true"\n' \
    >dags/broken_conn.yaml
  printf 'tasks:\n  hello:\n    run: echo "said ${{ var.greeting }}"\n' >dags/fine.yaml
  # validate checks the syntax only: it cannot know the store.
  "$GUST" dags validate dags >/dev/null || fail "validate refused references it cannot check"
  vars_start_server log
  wait_for 10 grep -q "DAG 'fine'" log
  wait_for 10 grep -q "DAG 'broken_conn'" log
  r=$(trigger_and_wait broken_ref)
  assert_eq "$(run_state "$r")" failed "a run with an unknown variable"
  msg=$("$GUST" runs show "$r" --json | jq -r '.tasks[0].message')
  assert_contains "$msg" "var.not_set_anywhere: no variable 'not_set_anywhere'"
  assert_contains "$msg" "GUST_VAR_NOT_SET_ANYWHERE"
  assert_eq "$("$GUST" runs show "$r" --json | jq -r '.tasks[0].try_number')" 1 "tries"
  [ ! -e "home/logs/broken_ref/$r/needs_it/1/log" ] || fail "the attempt started"
  grep -q "run $r: needs_it failed before it started: cannot render the command: var.not_set_anywhere" log ||
    fail "the server's log does not name the task and the key: $(cat log)"
  r2=$(trigger_and_wait broken_conn)
  assert_eq "$(run_state "$r2")" failed "a run with an unknown connection"
  assert_contains "$("$GUST" runs show "$r2" --json | jq -r '.tasks[0].message')" \
    "conn.nowhere: no connection 'nowhere'"
  # The scheduler keeps running other DAGs.
  r3=$(trigger_and_wait fine)
  assert_eq "$(run_state "$r3")" success "another DAG after the failures"
  grep -q " O said hello" "home/logs/fine/$r3/hello/1/log" || fail "fine's log"
  kill -0 "$SERVER_PID" || fail "the server died"
  vars_stop_server
}

t_vars_change_while_server_runs_is_used_next() {
  export GUST_HOME=$PWD/home
  mkdir dags
  "$GUST" variables set greeting first >/dev/null
  printf 'tasks:\n  hello:\n    run: echo "said ${{ var.greeting }}"\n' >dags/greet.yaml
  vars_start_server log
  wait_for 10 grep -q "DAG 'greet'" log
  r1=$(trigger_and_wait greet)
  grep -q " O said first" "home/logs/greet/$r1/hello/1/log" || fail "first value"
  # Changed by the CLI while the server runs: the next attempt uses it.
  "$GUST" variables set greeting second >/dev/null
  r2=$(trigger_and_wait greet)
  grep -q " O said second" "home/logs/greet/$r2/hello/1/log" || fail "second value not used"
  # Made secret: masked from then on; deleted: the next attempt fails, naming it.
  "$GUST" variables set greeting Now-Secret-Greeting --secret >/dev/null
  r3=$(trigger_and_wait greet)
  grep -q " O said \*\*\*" "home/logs/greet/$r3/hello/1/log" || fail "not masked after the change"
  "$GUST" variables delete greeting >out
  assert_contains "$(cat out)" "deleted variable 'greeting'"
  r4=$(trigger_and_wait greet)
  assert_eq "$(run_state "$r4")" failed "a run after the variable was deleted"
  vars_stop_server
}

t_vars_dags_test_resolves_and_masks() {
  export GUST_HOME=$PWD/home
  "$GUST" variables set pw Dags-Test-Secret --secret >/dev/null
  printf 'tasks:\n  a:\n    run: echo "pw=${{ var.pw }} mode=${{ var.mode }}"\n' >t.yaml
  GUST_VAR_MODE=env-mode "$GUST" dags test t.yaml --json >out || fail "dags test failed"
  logs=$(jq -r .logs out)
  grep -q " O pw=\*\*\* mode=\*\*\*" "$logs/a/1/log" || fail "dags test log: $(cat "$logs/a/1/log")"
  if grep -rqF "Dags-Test-Secret" home out; then fail "the secret reached the disk or the output"; fi
  # Unknown in dags test: the run fails with the key named.
  set +e
  "$GUST" dags test t.yaml --json >out 2>&1
  rc=$?
  set -e
  assert_eq "$rc" 1 "dags test without GUST_VAR_MODE"
  assert_contains "$(jq -r '.tasks[0].message' out)" "no variable 'mode'"
}

t_vars_cli_errors() {
  export GUST_HOME=$PWD/home
  expect() { # RC TEXT COMMAND...
    local want=$1 text=$2 rc
    shift 2
    set +e
    "$GUST" "$@" >out 2>&1
    rc=$?
    set -e
    assert_eq "$rc" "$want" "exit status of gust $*"
    assert_contains "$(cat out)" "$text"
  }
  expect 2 "bad key 'a-b'" variables set a-b x
  expect 2 "name a key and its value" variables set onlykey
  expect 2 "not a valid connection URI" connections set db 'db.internal:5432'
  expect 2 "--extra must be a JSON object" connections set db 'redis://h' --extra '[1]'
  "$GUST" variables set k v >/dev/null
  expect 1 "no variable 'nope'" variables get nope
  expect 1 "no variable 'nope'" variables delete nope
  expect 1 "no connection 'nope'" connections get nope
  "$GUST" variables set s x --secret >/dev/null
  chmod 644 "$GUST_HOME/secret.key"
  expect 1 "make it private with chmod 600" variables set s2 x --secret
  mkdir -p dags
  set +e
  "$GUST" server --home "$GUST_HOME" --dags dags 2>err
  rc=$?
  set -e
  assert_eq "$rc" 1 "a server with a key readable by others"
  assert_contains "$(cat err)" "make it private with chmod 600"
}
