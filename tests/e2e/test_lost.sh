# An attempt whose supervisor dies without an outcome is reported lost, and what the task left
# running is ended before anything else happens (so a retry can never overlap it).

t_killed_supervisor_leaves_no_process() {
  local marker="gust-e2e-lost-$$-$RANDOM"
  printf 'while :; do sleep 0.2; done\n' >spin.sh
  cat >d.yaml <<YAML
tasks:
  a:
    run: bash $PWD/spin.sh $marker & kill -9 \$PPID; sleep 30
    retries: 1
    retry_delay: 0s
YAML
  set +e
  "$GUST" dags test d.yaml --json >out.json
  rc=$?
  set -e
  assert_eq "$rc" 1 "exit status"
  assert_contains "$(jq -r '.tasks[0].message' out.json)" "supervisor killed by signal 9"
  assert_contains "$(jq -r '.tasks[0].message' out.json)" "it left running"
  assert_eq "$(jq -r '.tasks[0].try_number' out.json)" 2 "tries (lost attempts are retried)"
  if alive_with_marker "$marker"; then fail "a process of the lost attempt is still running"; fi
  # The supervisor file names the task's session for whoever finds the supervisor dead.
  local f
  f=$(ls .gust/logs/d/*/a/1/supervisor)
  assert_eq "$(wc -l <"$f" | tr -d ' ')" 2 "lines in $f"
}
