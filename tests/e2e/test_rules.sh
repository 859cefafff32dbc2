# End-to-end tests of trigger rules: the state `gust dags test` gives a downstream task for every
# rule against every mix of upstream states, compared with Airflow's semantics.

# x_upstream NAME KIND: the YAML of an upstream task that ends in state KIND.
#   success: exits 0; failed: exits 1; skipped: all_failed on a root that succeeded;
#   skipmap: a mapped task over an empty list (skipped as a whole).
x_upstream() {
  case $2 in
    success) printf '  %s: "true"\n' "$1" ;;
    failed) printf '  %s: exit 1\n' "$1" ;;
    skipped) printf '  %s:\n    depends: [root]\n    trigger_rule: all_failed\n    run: "true"\n' "$1" ;;
    skipmap) printf '  %s:\n    map: []\n    run: echo ${{ item }}\n' "$1" ;;
    *) fail "unknown kind $2" ;;
  esac
}

# x_rule_case RULE KIND1 KIND2 WANT: one DAG, root -> (u1 KIND1, u2 KIND2) -> down RULE.
x_rule_case() {
  local rule=$1 k1=$2 k2=$3 want=$4 f got
  f="${rule}__${k1}__${k2}.yaml"
  {
    printf 'tasks:\n  root: "true"\n'
    x_upstream u1 "$k1"
    x_upstream u2 "$k2"
    printf '  down:\n    depends: [u1, u2]\n    trigger_rule: %s\n    run: touch %s/ran-%s\n' \
      "$rule" "$PWD" "${f%.yaml}"
  } >"$f"
  set +e
  "$GUST" dags test --json "$f" >"$f.json" 2>"$f.err"
  set -e
  jq -e 'type == "object"' "$f.json" >/dev/null || fail "$f: no JSON: $(cat "$f.err")"
  # The upstreams really ended as intended (a mapped task over [] has no instance: check skip).
  local k u s
  for u in u1 u2; do
    [ $u = u1 ] && k=$k1 || k=$k2
    s=$(jq -r --arg t $u '[.tasks[] | select(.task_id == $t)][0].state // "none"' "$f.json")
    case $k in
      skipmap) [ "$s" = skipped ] || [ "$s" = none ] || fail "$f: $u is $s, want skipped" ;;
      *) [ "$s" = "$k" ] || fail "$f: upstream $u is $s, want $k" ;;
    esac
  done
  got=$(jq -r '[.tasks[] | select(.task_id == "down")][0].state' "$f.json")
  if [ "$got" != "$want" ]; then
    echo "MISMATCH $rule ($k1, $k2): got $got, want $want" >&2
    mismatches=$((mismatches + 1))
    return 0
  fi
  # A task that ran left its mark; one that did not, none.
  if [ "$want" = success ]; then
    [ -e "ran-${f%.yaml}" ] || fail "$f: down is success but did not run"
  else
    [ ! -e "ran-${f%.yaml}" ] || fail "$f: down is $want but ran"
  fi
}

# Airflow's semantics, one row per (rule, upstream mix).
x_rule_table() {
  cat <<'EOF'
all_success   success success success
all_success   success failed  upstream_failed
all_success   failed  failed  upstream_failed
all_success   success skipped skipped
all_failed    success success skipped
all_failed    success failed  skipped
all_failed    failed  failed  success
all_failed    success skipped skipped
all_done      success success success
all_done      success failed  success
all_done      failed  failed  success
all_done      success skipped success
one_success   success success success
one_success   success failed  success
one_success   failed  failed  upstream_failed
one_success   success skipped success
one_failed    success success skipped
one_failed    success failed  success
one_failed    failed  failed  success
one_failed    success skipped skipped
none_failed   success success success
none_failed   success failed  upstream_failed
none_failed   failed  failed  upstream_failed
none_failed   success skipped success
none_skipped  success success success
none_skipped  success failed  success
none_skipped  failed  failed  success
none_skipped  success skipped skipped
always        success success success
always        success failed  success
always        failed  failed  success
always        success skipped success
EOF
}

t_trigger_rule_matrix() {
  local rule k1 k2 want n=0
  mismatches=0
  while read -r rule k1 k2 want; do
    x_rule_case "$rule" "$k1" "$k2" "$want"
    n=$((n + 1))
  done < <(x_rule_table)
  assert_eq "$n" 32 "cases"
  [ "$mismatches" -eq 0 ] || fail "$mismatches of $n trigger-rule cases differ from Airflow"
}

# The same matrix where the skipped upstream is a mapped task over an empty list.
t_trigger_rule_matrix_empty_map() {
  local rule k1 k2 want n=0
  mismatches=0
  while read -r rule k1 k2 want; do
    [ "$k2" = skipped ] || continue
    x_rule_case "$rule" "$k1" skipmap "$want"
    n=$((n + 1))
  done < <(x_rule_table)
  assert_eq "$n" 8 "cases"
  [ "$mismatches" -eq 0 ] || fail "$mismatches of $n trigger-rule cases differ from Airflow"
}

# Rules with all upstreams skipped: all_success skipped, one_success skipped (not
# upstream_failed), none_failed runs, all_done runs, one_failed skipped, none_skipped skipped.
t_trigger_rules_all_skipped() {
  local rule want n=0
  mismatches=0
  while read -r rule want; do
    x_rule_case "$rule" skipped skipped "$want"
    n=$((n + 1))
  done <<'EOF'
all_success  skipped
all_failed   skipped
all_done     success
one_success  skipped
one_failed   skipped
none_failed  success
none_skipped skipped
always       success
EOF
  [ "$mismatches" -eq 0 ] || fail "$mismatches of $n trigger-rule cases differ from Airflow"
}

# Skips and upstream failures propagate down a chain (all_success), and a teardown with
# all_done still runs at the end. The run's outcome follows the leaf rule (docs/adr/0004): here
# every leaf ended success or skipped, so the run succeeds although `a` failed; adding an
# all_success leaf under `a` makes it fail.
t_trigger_rule_propagation_and_leaf_rule() {
  cat >dag.yaml <<'EOF'
tasks:
  a: exit 1
  b:
    depends: [a]
    run: "true"
  c:
    depends: [b]
    run: "true"
  teardown:
    depends: [c]
    trigger_rule: all_done
    run: echo teardown
  s:
    depends: [teardown]
    trigger_rule: all_failed
    run: "true"
  after_skip:
    depends: [s]
    run: "true"
EOF
  set +e
  "$GUST" dags test --json dag.yaml >out.json
  rc=$?
  set -e
  local t want
  for t in a:failed b:upstream_failed c:upstream_failed teardown:success s:skipped after_skip:skipped; do
    want=${t#*:}
    t=${t%%:*}
    assert_eq "$(jq -r --arg t "$t" '.tasks[] | select(.task_id == $t) | .state' out.json)" "$want" "$t"
  done
  assert_eq "$(jq -r .state out.json)" success "run state (leaves: after_skip skipped)"
  assert_eq "$rc" 0 "exit status"

  printf '  final:\n    depends: [a]\n    run: "true"\n' >>dag.yaml
  set +e
  "$GUST" dags test --json dag.yaml >out.json
  rc=$?
  set -e
  assert_eq "$(jq -r '.tasks[] | select(.task_id == "final") | .state' out.json)" upstream_failed "final"
  assert_eq "$(jq -r .state out.json)" failed "run state (leaf final upstream_failed)"
  assert_eq "$rc" 1 "exit status"
}
