# End-to-end tests of `gust pools set | list | delete` and of the `pools:`, `host:`,
# `priority_ageing:` and `reserve_after:` settings of config.yaml.

# pool_field NAME FIELD: one field of one pool in `pools list --json` ("absent" if no such pool).
pool_field() {
  "$GUST" pools list --json | jq -r --arg n "$1" --arg f "$2" \
    'map(select(.name == $n)) | if length == 0 then "absent" else .[0][$f] | tostring end'
}

pool_field_is() { # NAME FIELD WANT
  [ "$(pool_field "$1" "$2")" = "$3" ]
}

t_pools_set_list_delete() {
  export GUST_HOME=$PWD/home
  # Nothing ran yet: list says so; set creates the store, which has default_pool.
  set +e
  "$GUST" pools list >out 2>&1; rc=$?
  set -e
  assert_eq "$rc" 1 "pools list without a store"
  assert_contains "$(cat out)" "nothing has run on $GUST_HOME yet"

  "$GUST" pools set indexers 6 --description "the index workers" >out
  assert_contains "$(cat out)" "created pool 'indexers' with 6 slots"
  assert_eq "$(pool_field default_pool slots)" 128 "default_pool slots"
  assert_eq "$(pool_field default_pool free)" 128 "default_pool free"
  assert_eq "$(pool_field indexers slots)" 6 "indexers slots"
  assert_eq "$(pool_field indexers description)" "the index workers" "description"
  assert_eq "$(pool_field indexers used)" 0 "used"
  assert_eq "$(pool_field indexers missing)" false "missing"
  assert_eq "$(pool_field indexers from_config)" false "from_config"
  [ "$(pool_field indexers updated_at)" != null ] || fail "updated_at not set"
  assert_eq "$("$GUST" pools list --json | jq -r 'map(.name) | join(",")')" \
    "default_pool,indexers" "pools by name"

  # Changing the slots keeps the description; "" clears it.
  "$GUST" pools set indexers 2 >out
  assert_contains "$(cat out)" "pool 'indexers': 2 slots (was 6)"
  assert_eq "$(pool_field indexers description)" "the index workers" "description kept"
  "$GUST" pools set indexers 2 --description "" >out
  assert_contains "$(cat out)" "(unchanged)"
  assert_eq "$(pool_field indexers description)" null "description cleared"
  "$GUST" pools set default_pool 0 >out
  assert_eq "$(pool_field default_pool slots)" 0 "default_pool slots changed"
  "$GUST" pools set a.b-C_9 1000000 --home "$GUST_HOME" >/dev/null

  # The table.
  "$GUST" pools list >out
  head -1 out | grep -qE '^NAME +SLOTS +USED +RUNNING +WAITING +FREE +DESCRIPTION$' ||
    fail "header: $(head -1 out)"
  grep -qE '^default_pool +0 +0 +0 +0 +0  tasks that name no pool$' out ||
    fail "default_pool row: $(cat out)"
  grep -qE '^indexers +2 +0 +0 +0 +2 *$' out || fail "indexers row: $(cat out)"
  grep -qE '^a\.b-C_9 +1000000 ' out || fail "a.b-C_9 row: $(cat out)"

  # Delete; then it is unknown (with a hint for a near name).
  "$GUST" pools delete indexers >out
  assert_contains "$(cat out)" "deleted pool 'indexers'"
  assert_eq "$(pool_field indexers slots)" absent "after delete"
  set +e
  "$GUST" pools delete indexers >out 2>&1; rc1=$?
  "$GUST" pools delete a.b-C_8 >>out 2>&1; rc2=$?
  set -e
  assert_eq "$rc1" 1 "deleting an unknown pool"
  assert_eq "$rc2" 1 "deleting an unknown pool"
  assert_contains "$(cat out)" "gust: no pool 'indexers'"
  assert_contains "$(cat out)" "gust: no pool 'a.b-C_8' (did you mean 'a.b-C_9'?)"
}

t_pools_bad_input() {
  export GUST_HOME=$PWD/home
  "$GUST" pools set p 1 >/dev/null
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
  expect 2 "gust: bad pool name 'a b': use 1 to 100 letters, digits, '_', '-' and '.'" \
    pools set "a b" 1
  expect 2 "bad pool name 'x/y'" pools set x/y 1
  expect 2 "bad pool name '$(printf 'x%.0s' $(seq 101))'" pools set "$(printf 'x%.0s' $(seq 101))" 1
  expect 2 "bad pool name 'a b'" pools delete "a b"
  expect 2 "gust: SLOTS must be a whole number from 0 to 1000000, got 'many'" pools set p many
  expect 2 "SLOTS must be a whole number from 0 to 1000000, got '1000001'" pools set p 1000001
  expect 2 "SLOTS must be a whole number from 0 to 1000000, got '2.5'" pools set p 2.5
  expect 2 "Usage: gust pools set NAME SLOTS" pools set p
  expect 2 "name a pool and its number of slots" pools set p 1 2
  expect 2 "name exactly one pool" pools delete
  expect 2 "unexpected argument 'x'" pools list x
  expect 2 "bad option" pools list --colour
  expect 2 "gust: unknown command 'pools lst' (did you mean 'list'?)" pools lst
  expect 1 "gust: default_pool cannot be deleted" pools delete default_pool
  expect 0 "Usage: gust pools delete NAME" pools delete --help
  expect 2 "Usage: gust pools COMMAND" pools
  expect 0 "pools set NAME SLOTS" --help
  # Nothing changed.
  assert_eq "$(pool_field p slots)" 1 "p slots"
  assert_eq "$(pool_field default_pool slots)" 128 "default_pool slots"
}

t_pools_declared_in_config_are_noted() {
  export GUST_HOME=$PWD/home
  mkdir home
  printf 'pools:\n  indexers: 4\n  warehouse: {slots: 3, description: "the warehouse"}\n' \
    >home/config.yaml
  "$GUST" pools set indexers 6 >out 2>err
  assert_contains "$(cat out)" "created pool 'indexers' with 6 slots"
  assert_contains "$(cat err)" "gust: note: pool 'indexers' is declared in $GUST_HOME/config.yaml (4 slots): the config wins at the next server start"
  "$GUST" pools delete indexers >out 2>err
  assert_contains "$(cat err)" "the server creates it again at its next start"
  "$GUST" pools set other 1 >out 2>err
  assert_eq "$(cat err)" "" "no note for a pool the config does not declare"
}

t_pools_bad_config_rejected_by_server() {
  mkdir dags home
  cat >home/config.yaml <<'YAML'
parallelism: 4
pools:
  indexers: 6
  bad name: 2
  many: lots
  warehouse: {slot: 3}
  other: {slots: 1, colour: red}
host: {cpu: 0, memory: 16Q, cpus: 2}
priority_ageing: 0
reserve_after: soon
YAML
  set +e
  "$GUST" server --home "$PWD/home" --dags dags 2>err
  rc=$?
  set -e
  assert_eq "$rc" 1 "exit status"
  local f=$PWD/home/config.yaml
  assert_contains "$(cat err)" "$f:4:3: error: bad pool name 'bad name': use 1 to 100 letters, digits, '_', '-' and '.'"
  assert_contains "$(cat err)" "$f:5:9: error: the slots of pool 'many' must be a whole number from 0 to 1000000, got lots"
  assert_contains "$(cat err)" "$f:6:15: error: unknown key 'slot' in pool 'warehouse' (did you mean 'slots'?)"
  assert_contains "$(cat err)" "$f:7:21: error: unknown key 'colour' in pool 'other' (use slots or description)"
  assert_contains "$(cat err)" "$f:8:13: error: 'cpu' in host must be a positive number of cores"
  assert_contains "$(cat err)" "$f:8:24: error: bad size '16Q' for 'memory' in host"
  assert_contains "$(cat err)" "$f:8:29: error: unknown key 'cpus' in host (did you mean 'cpu'?)"
  assert_contains "$(cat err)" "$f:9:18: error: 'priority_ageing' must be longer than 0"
  assert_contains "$(cat err)" "$f:10:16: error: bad duration 'soon' for 'reserve_after'"
  assert_eq "$(grep -c ': error: ' err)" 9 "number of problems"

  # A good one is accepted.
  printf 'pools: {indexers: 6}\nhost: {cpu: 2.5, memory: 16G}\npriority_ageing: 1m\nreserve_after: 5m\n' \
    >home/config.yaml
  "$GUST" server --home "$PWD/home" --dags dags 2>log &
  SERVER_PID=$!
  wait_for 20 grep -q "server: ready" log
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
}

t_pools_list_counts_a_running_task() {
  export GUST_HOME=$PWD/home
  mkdir dags
  printf 'schedule: "@daily"\nend_date: 2024-03-01T00:00:00Z\ntasks:\n  a: while [ -d %s ] && [ ! -f %s/go ]; do sleep 0.05; done\n' \
    "$PWD" "$PWD" >dags/d.yaml
  "$GUST" server --home "$GUST_HOME" --dags dags --now 2024-02-29T23:59:59Z 2>log &
  SERVER_PID=$!
  wait_for 20 pool_field_is default_pool running 1
  assert_eq "$(pool_field default_pool used)" 1 "slots used by the running task"
  assert_eq "$(pool_field default_pool free)" 127 "free slots"
  touch go
  wait_for 20 grep -q "run d@2024-03-01T00:00:00Z: success" log
  assert_eq "$(pool_field default_pool used)" 0 "slots used after the run"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
}

t_pools_missing_pool_holds_tasks_until_created() {
  export GUST_HOME=$PWD/home
  mkdir dags
  printf 'schedule: "@daily"\nend_date: 2024-03-01T00:00:00Z\ntasks:\n  a:\n    pool: gone\n    pool_slots: 2\n    run: while [ -d %s ] && [ ! -f %s/go ]; do sleep 0.05; done\n' \
    "$PWD" "$PWD" >dags/d.yaml
  "$GUST" server --home "$GUST_HOME" --dags dags --now 2024-02-29T23:59:59Z 2>log &
  SERVER_PID=$!
  # The task is ready but its pool does not exist: listed as missing, the task waiting.
  wait_for 20 pool_field_is gone waiting 1
  assert_eq "$(pool_field gone missing)" true "missing"
  assert_eq "$(pool_field gone slots)" null "slots of a missing pool"
  assert_eq "$(pool_field gone running)" 0 "running"
  "$GUST" pools list >out
  grep -qE '^gone +missing +0 +0 +1 +- *$' out || fail "missing row: $(cat out)"
  assert_contains "$(cat out)" "(pool 'gone' does not exist: tasks that name it wait until it does; create it with 'gust pools set gone SLOTS' or in config.yaml)"
  # Creating it lets the task start, holding its 2 slots.
  "$GUST" pools set gone 3 >/dev/null
  wait_for 20 pool_field_is gone running 1
  assert_eq "$(pool_field gone used)" 2 "slots used"
  assert_eq "$(pool_field gone free)" 1 "free slots"
  assert_eq "$(pool_field gone waiting)" 0 "waiting"
  # Deleting it under a running task: the task carries on; the note says so.
  "$GUST" pools delete gone >out 2>err
  assert_contains "$(cat err)" "gust: note: pool 'gone' still has 1 queued or running task instance: they finish normally"
  touch go
  wait_for 20 grep -q "run d@2024-03-01T00:00:00Z: success" log
  assert_eq "$(pool_field gone slots)" absent "a deleted pool no task names"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
}
