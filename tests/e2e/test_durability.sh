# End-to-end tests of `durability:` in config.yaml (docs/server.md, "Durability"): the server
# reports the setting it runs with, runs work under `full`, and refuses a bad value.

# dur_start_server LOG ARGS...: start a server on ./home in the background, wait until ready.
dur_start_server() {
  local log=$1
  shift
  "$GUST" server --home "$PWD/home" "$@" 2>>"$log" &
  SERVER_PID=$!
  wait_for 20 grep -q "server: ready" "$log"
}

dur_stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

t_durability_full_runs_and_is_reported() {
  mkdir -p home dags
  printf 'durability: full\n' >home/config.yaml
  cat >dags/d.yaml <<'YAML'
schedule: "@daily"
end_date: 2024-03-01T00:00:00Z
tasks:
  a: echo one
  b:
    depends: [a]
    run: echo two
YAML
  dur_start_server log --dags dags --now 2024-02-29T23:59:59Z
  assert_contains "$(grep 'server: starting on' log)" ", durability full, "
  wait_for 20 grep -q "run d@2024-03-01T00:00:00Z: success" log
  grep -q " O two" home/logs/d/d@2024-03-01T00:00:00Z/b/1/log
  # The CLI writes under the same setting (it follows what the server recorded): a trigger
  # and a pause go through, and the triggered run succeeds.
  rid=$("$GUST" dags trigger d --home home)
  wait_for 20 grep -q "run $rid: success" log
  "$GUST" dags pause d --home home >/dev/null
  assert_eq "$("$GUST" runs show "$rid" --json --home home | jq -r .state)" success "run state"
  dur_stop_server
  # Without the setting: normal again, and said so.
  rm home/config.yaml
  dur_start_server log2 --dags dags
  assert_contains "$(grep 'server: starting on' log2)" ", durability normal, "
  dur_stop_server
}

t_durability_bad_value_stops_the_server() {
  mkdir -p home dags
  printf 'parallelism: 2\ndurability: fast\n' >home/config.yaml
  set +e
  "$GUST" server --home "$PWD/home" --dags dags 2>err
  rc=$?
  set -e
  assert_eq "$rc" 1 "exit status"
  assert_contains "$(cat err)" "home/config.yaml:2:13: error: bad durability 'fast': use normal"
  assert_not_contains "$(cat err)" "server: starting"
}
