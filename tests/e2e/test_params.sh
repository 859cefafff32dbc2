# End-to-end tests of data reaching tasks through `gust dags test`: params (typed, checked
# before anything runs, never shell code), outputs of upstream tasks, and map.

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

# x_ti TASK FIELD [MAP_INDEX]
x_ti() {
  if [ $# -ge 3 ]; then
    jq -r --arg t "$1" --argjson m "$3" \
      "[.tasks[] | select(.task_id == \$t and .map_index == \$m)][0].$2" out.json
  else
    jq -r --arg t "$1" "[.tasks[] | select(.task_id == \$t)][0].$2" out.json
  fi
}

x_logs() { jq -r .logs out.json; }

# The text a task printed: its log lines without the "TIMESTAMP O " prefix.
x_printed() { sed -E 's/^[^ ]+ [OE] //' "$1"; }

# ---- 4. params are data, never code -----------------------------------------------------------

t_param_metacharacters_are_data() {
  cat >dag.yaml <<'EOF'
params:
  x: ""
tasks:
  unquoted: printf '[%s]\n' ${{ params.x }}
  dquoted: printf '[%s]\n' "${{ params.x }}"
  squoted: printf '[%s]\n' '${{ params.x }}'
  mixed: printf '[%s]\n' "pre ${{ params.x }} post"
  subst: printf '[%s]\n' "$(printf '%s' ${{ params.x }})"
  envvar: printf '[%s]\n' "$GUST_PARAM_X"
  argv:
    run: [printf, '[%s]\n', '${{ params.x }}']
  envkey:
    run: printf '[%s]\n' "$V"
    env:
      V: ${{ params.x }}
EOF
  local v t want got
  local -a values=(
    "'; touch PWNED ; '"
    '$(touch PWNED2)'
    '`touch PWNED3`'
    '"; touch PWNED4; "'
    'a  b * ?  $HOME ${HOME} \ \\ \n'
    '$((1+1)) !x ~ #c &; |cat >PWNED5 <x'
    "multi
line; touch PWNED6"
  )
  for v in "${values[@]}"; do
    x_run dag.yaml --param "x=$v"
    assert_eq "$rc" 0 "exit status for value <$v> ($(cat err.txt))"
    for t in unquoted dquoted squoted subst envvar argv envkey mixed; do
      got=$(x_printed "$(x_logs)/$t/1/log")
      want="[$v]"
      [ $t = mixed ] && want="[pre $v post]"
      [ "$got" = "$want" ] || fail "task $t printed <$got>, want <$want>"
    done
    rm -rf .gust
  done
  ls PWNED* 2>/dev/null && fail "a param value ran as shell code: $(ls PWNED*)"
  true
}

# Values from upstream outputs and map items are data too.
t_output_and_item_metacharacters_are_data() {
  cat >dag.yaml <<'EOF'
tasks:
  produce:
    run: |
      cat > "$GUST_OUTPUT" <<'JSON'
      {"evil": "'; touch PWNED1; '", "list": ["$(touch PWNED2)", "`touch PWNED3`", "a b"]}
      JSON
  consume:
    depends: [produce]
    run: printf '[%s]\n' ${{ outputs.produce.evil }} "${{ outputs.produce.evil }}"
  each:
    depends: [produce]
    map: ${{ outputs.produce.list }}
    run: printf '[%s]\n' ${{ item }} '${{ item }}'
EOF
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status ($(cat err.txt))"
  assert_eq "$(x_printed "$(x_logs)/consume/1/log")" "['; touch PWNED1; ']
['; touch PWNED1; ']" "consume"
  assert_eq "$(x_printed "$(x_logs)/each/0/1/log")" '[$(touch PWNED2)]
[$(touch PWNED2)]' "each[0]"
  assert_eq "$(x_printed "$(x_logs)/each/1/1/log")" '[`touch PWNED3`]
[`touch PWNED3`]' "each[1]"
  assert_eq "$(x_printed "$(x_logs)/each/2/1/log")" '[a b]
[a b]' "each[2]"
  ls PWNED* 2>/dev/null && fail "a value ran as shell code: $(ls PWNED*)"
  true
}

t_param_types_checked_before_run() {
  cat >dag.yaml <<'EOF'
params:
  workers: {type: integer, default: 6, minimum: 1, maximum: 64}
  mode: {type: string, default: fast, enum: [fast, safe]}
  flag: false
tasks:
  a: touch ran
EOF
  local args msg
  while IFS='|' read -r args msg; do
    set +e
    "$GUST" dags test --param "$args" dag.yaml >out.txt 2>err.txt
    rc=$?
    set -e
    assert_eq "$rc" 2 "exit status for --param $args"
    assert_contains "$(cat err.txt)" "$msg"
    [ ! -e ran ] || fail "a task ran despite --param $args"
    [ ! -e .gust/logs/dag ] || fail "a run folder was created despite --param $args: $(find .gust)"
  done <<'EOF'
workers=0|workers
workers=0|at least 1
workers=65|at most 64
workers=abc|workers
workers=1.5|workers
mode=slow|mode
flag=maybe|flag
nosuch=1|no param 'nosuch'
EOF
  # Valid values do run, typed.
  x_run dag.yaml --param workers=64 --param mode=safe --param flag=true
  assert_eq "$rc" 0 "exit status with valid params"
  [ -e ran ] || fail "the task did not run"
  assert_eq "$(jq -c .params out.json)" '{"workers":64,"mode":"safe","flag":true}' "params"
}

t_param_required_and_defaults() {
  cat >dag.yaml <<'EOF'
params:
  token: {type: string}
  n: 3
tasks:
  a: echo "token=${{ params.token }} n=${{ params.n }} env=$GUST_PARAM_N"
EOF
  set +e
  "$GUST" dags test dag.yaml >out.txt 2>err.txt
  rc=$?
  set -e
  assert_eq "$rc" 2 "exit status without a required param"
  assert_contains "$(cat err.txt)" "token"
  [ ! -e .gust/logs/dag ] || fail "a run folder was created without a required param"
  x_run dag.yaml --param token=abc
  assert_eq "$rc" 0 "exit status"
  assert_eq "$(x_printed "$(x_logs)/a/1/log")" "token=abc n=3 env=3" "printed"
}

# ---- 7. outputs and map ---------------------------------------------------------------------------

t_outputs_flow_downstream() {
  cat >dag.yaml <<'EOF'
tasks:
  A:
    run: |
      echo '{"n": 3, "items": [1, 2]}' > "$GUST_OUTPUT"
  B:
    depends: [A]
    run: |
      echo "n=${{ outputs.A.n }} second=${{ outputs.A.items.1 }} all=${{ outputs.A }}"
      echo "env=$GUST_UPSTREAM_A"
  C:
    depends: [B]
    run: echo "upstream-b=[$GUST_UPSTREAM_B] upstream-a=[$GUST_UPSTREAM_A]"
EOF
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status ($(cat err.txt))"
  assert_eq "$(x_ti A output.n)" 3 "A's output in --json"
  local out
  out=$(x_printed "$(x_logs)/B/1/log")
  assert_contains "$out" "n=3 second=2 all="
  assert_eq "$(sed -n 's/.*all=//p' <<<"$out" | jq -c .)" '{"n":3,"items":[1,2]}' "outputs.A"
  assert_eq "$(sed -n 's/^env=//p' <<<"$out" | jq -c .)" '{"n":3,"items":[1,2]}' "GUST_UPSTREAM_A"
  # Only direct upstreams with an output are passed.
  assert_eq "$(x_printed "$(x_logs)/C/1/log")" "upstream-b=[] upstream-a=[]" "C's env"
}

t_map_over_upstream_output() {
  cat >dag.yaml <<'EOF'
tasks:
  plan:
    run: |
      echo '[{"start": 0, "end": 10}, {"start": 10, "end": 20}, {"start": 20, "end": 25}]' > "$GUST_OUTPUT"
  work:
    depends: [plan]
    map: ${{ outputs.plan }}
    run: |
      echo "range ${{ item.start }}-${{ item.end }} index=$GUST_MAP_INDEX/${{ map.index }} item=$GUST_ITEM"
      s=${{ item.start }}; e=${{ item.end }}
      echo "{\"size\": $((e - s))}" > "$GUST_OUTPUT"
  total:
    depends: [work]
    run: echo 'sizes=${{ outputs.work }}'
EOF
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status ($(cat err.txt))"
  assert_eq "$(jq '[.tasks[] | select(.task_id == "work")] | length' out.json)" 3 "instances"
  local i start end
  for i in 0 1 2; do
    assert_eq "$(x_ti work state "$i")" success "work[$i]"
    [ -f "$(x_logs)/work/$i/1/log" ] || fail "no log for work[$i]"
    start=$(jq -r ".[$i].start" <<<'[{"start":0,"end":10},{"start":10,"end":20},{"start":20,"end":25}]')
    end=$(jq -r ".[$i].end" <<<'[{"start":0,"end":10},{"start":10,"end":20},{"start":20,"end":25}]')
    local line
    line=$(x_printed "$(x_logs)/work/$i/1/log")
    assert_contains "$line" "range $start-$end index=$i/$i item="
    assert_eq "$(sed 's/.*item=//' <<<"$line" | jq -c .)" "{\"start\":$start,\"end\":$end}" "GUST_ITEM of work[$i]"
  done
  assert_eq "$(x_printed "$(x_logs)/total/1/log" | sed 's/^sizes=//' | jq -c .)" \
    '[{"size":10},{"size":10},{"size":5}]' "outputs of a mapped task"
}

t_map_empty_list_skips() {
  cat >dag.yaml <<'EOF'
tasks:
  plan:
    run: echo '[]' > "$GUST_OUTPUT"
  work:
    depends: [plan]
    map: ${{ outputs.plan }}
    run: touch ran-$GUST_MAP_INDEX
  after:
    depends: [work]
    run: touch after-ran
  cleanup:
    depends: [work]
    trigger_rule: all_done
    run: touch cleanup-ran
EOF
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status ($(cat err.txt))"
  assert_eq "$(x_ti work state)" skipped "mapped task over []"
  assert_eq "$(x_ti after state)" skipped "downstream of a skipped map"
  assert_eq "$(x_ti cleanup state)" success "all_done downstream"
  ls ran-* 2>/dev/null && fail "a mapped instance ran"
  [ ! -e after-ran ] || fail "downstream ran"
  [ -e cleanup-ran ] || fail "cleanup did not run"
}

t_map_literal_list_and_param() {
  cat >dag.yaml <<'EOF'
params:
  tables: [image, audio]
tasks:
  lit:
    map: [red, "green blue", 3]
    run: echo "item=${{ item }} idx=$GUST_MAP_INDEX"
  par:
    map: ${{ params.tables }}
    run: echo "table=${{ item }}"
EOF
  x_run dag.yaml --param 'tables=["x", "y", "z"]'
  assert_eq "$rc" 0 "exit status ($(cat err.txt))"
  assert_eq "$(x_printed "$(x_logs)/lit/0/1/log")" "item=red idx=0" "lit[0]"
  assert_eq "$(x_printed "$(x_logs)/lit/1/1/log")" "item=green blue idx=1" "lit[1]"
  assert_eq "$(x_printed "$(x_logs)/lit/2/1/log")" "item=3 idx=2" "lit[2]"
  assert_eq "$(x_printed "$(x_logs)/par/2/1/log")" "table=z" "par[2]"
  assert_eq "$(jq '[.tasks[] | select(.task_id == "par")] | length' out.json)" 3 "par instances"
}

t_mapped_instance_retried_alone() {
  cat >dag.yaml <<'EOF'
tasks:
  work:
    map: [1, 2, 3]
    run: 'echo "item ${{ item }} try $GUST_TRY_NUMBER"; [ "${{ item }}" != 2 ] || [ "$GUST_TRY_NUMBER" -ge 2 ]'
    retries: 1
    retry_delay: 0s
EOF
  x_run dag.yaml
  assert_eq "$rc" 0 "exit status ($(cat err.txt))"
  assert_eq "$(x_ti work try_number 0)" 1 "tries of work[0]"
  assert_eq "$(x_ti work try_number 1)" 2 "tries of work[1]"
  assert_eq "$(x_ti work try_number 2)" 1 "tries of work[2]"
  local i
  for i in 0 1 2; do
    assert_eq "$(x_ti work state "$i")" success "work[$i]"
  done
  [ -f "$(x_logs)/work/1/2/log" ] || fail "no log of work[1] try 2"
  [ ! -e "$(x_logs)/work/0/2" ] || fail "work[0] was retried"
  [ ! -e "$(x_logs)/work/2/2" ] || fail "work[2] was retried"
  assert_eq "$(x_printed "$(x_logs)/work/1/2/log")" "item 2 try 2" "work[1] try 2"
}

t_map_over_non_list_fails() {
  cat >dag.yaml <<'EOF'
tasks:
  plan:
    run: |
      echo '{"not": "a list"}' > "$GUST_OUTPUT"
  work:
    depends: [plan]
    map: ${{ outputs.plan }}
    run: touch ran
EOF
  x_run dag.yaml
  assert_eq "$rc" 1 "exit status"
  assert_eq "$(x_ti work state)" failed "mapped task over an object"
  [ "$(x_ti work message)" != null ] || fail "no message"
  [ ! -e ran ] || fail "an instance ran"
}

# Five hundred instances; their outputs reach the downstream as a list in index order.
t_map_many_instances_outputs_in_order() {
  cat >dag.yaml <<'EOF'
tasks:
  plan:
    run: seq 0 499 | jq -s -c . > "$GUST_OUTPUT"
  work:
    depends: [plan]
    map: ${{ outputs.plan }}
    run: |
      echo "{\"v\": ${{ item }}, \"i\": $GUST_MAP_INDEX}" > "$GUST_OUTPUT"
  check:
    depends: [work]
    run: |
      echo '${{ outputs.work }}' > "$GUST_OUTPUT"
EOF
  x_run dag.yaml --parallelism 32
  assert_eq "$rc" 0 "exit status ($(cat err.txt))"
  assert_eq "$(jq '[.tasks[] | select(.task_id == "work" and .state == "success")] | length' out.json)" 500 "instances"
  jq -e '[.tasks[] | select(.task_id == "check")][0].output
    | length == 500 and all(to_entries[]; .value.v == .key and .value.i == .key)' out.json >/dev/null ||
    fail "outputs of the mapped task are not in index order"
}
