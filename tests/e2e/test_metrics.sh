# End-to-end tests of GET /metrics of `gust server` (docs/metrics.md): who may read it, what it
# counts after real runs, that it parses as the Prometheus text format, and a real Prometheus
# (the Debian package, scripts/deps.sh) scraping it.

METRICS_PW=correct-horse-battery-staple

# metric_value FILE SERIES: the value of one series (name and labels exactly as rendered).
metric_value() {
  awk -v s="$2" '$1 == s {print $2; found = 1} END {exit !found}' "$1"
}

scrape() { # URL [curl options]: the metrics into the file `metrics`
  local url=$1
  shift
  curl -sS -f -o metrics "$@" "$url/metrics"
}

metric_is() { # URL TOKEN SERIES VALUE
  scrape "$1" -H "Authorization: Bearer $2" && [ "$(metric_value metrics "$3")" = "$4" ]
}

# Every line is a comment (# HELP, # TYPE) or a sample "name{labels} value"; with promtool
# (the prometheus package) also its own lint of the format.
check_format() { # FILE
  python3 - "$1" <<'PY' || fail "not the text format: $(cat "$1")"
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = name + r'="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r"^(" + name + r")(\{" + label + r"(," + label + r")*\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$")
typed = {}
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        parts = line.split(" ", 3)
        if line.startswith("# TYPE "):
            if parts[2] in typed or parts[3] not in ("counter", "gauge", "histogram", "summary"):
                sys.exit("line %d: %s" % (n, line))
            typed[parts[2]] = parts[3]
        continue
    m = sample.match(line)
    if not m:
        sys.exit("line %d: %s" % (n, line))
    base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    if m.group(1) not in typed and base not in typed:
        sys.exit("line %d: no TYPE for %s" % (n, m.group(1)))
PY
  if command -v promtool >/dev/null; then
    promtool check metrics <"$1" >promtool.out 2>&1 || fail "promtool: $(cat promtool.out)"
  fi
}

start_server() { # starts gust server on ./home and ./dags; sets spid and base
  GUST_ADMIN_PASSWORD=$METRICS_PW "$GUST" server --home home --dags dags 2>log &
  spid=$!
  wait_for 20 grep -q "server: ready" log
  base=$(api_url log)
}

viewer_token() {
  printf '%s\n' "$METRICS_PW-viewer" | "$GUST" users add watcher --role viewer --home home >/dev/null
  "$GUST" tokens create --user watcher --name metrics --home home 2>/dev/null
}

t_metrics_need_a_token_and_count_runs() {
  mkdir -p dags home
  printf 'tasks:\n  a: {run: "true"}\n  b: {run: "true", depends: a}\n  c: {run: "true", depends: a}\n' >dags/ok.yaml
  printf 'tasks:\n  x: {run: "exit 3"}\n  y: {run: "true", depends: x}\n' >dags/bad.yaml
  local spid base tok
  start_server
  assert_eq "$(curl -sS -o body -w '%{http_code}' "$base/metrics")" 401 "without a token"
  assert_eq "$(jq -r .type body)" "https://gust.dev/problems/unauthorized" "problem"
  assert_eq "$(curl -sS -o body -w '%{http_code}' -H 'Authorization: Bearer gust_nope' "$base/metrics")" 401 "a bad token"
  tok=$(viewer_token)
  [ -n "$tok" ] || fail "no token"
  curl -sS -D headers -o metrics -H "Authorization: Bearer $tok" "$base/metrics"
  grep -q '^HTTP/1.1 200' headers || fail "with a viewer's token: $(cat headers)"
  grep -qi '^content-type: text/plain; version=0.0.4' headers || fail "content type: $(cat headers)"
  check_format metrics
  assert_eq "$(metric_value metrics gust_dag_files)" 2 "DAG files"
  assert_eq "$(metric_value metrics gust_task_starts_total)" 0 "starts before any run"

  "$GUST" dags trigger ok --home home >/dev/null
  "$GUST" dags trigger bad --home home >/dev/null
  wait_for 60 metric_is "$base" "$tok" 'gust_runs_ended_total{state="failed"}' 1
  wait_for 60 metric_is "$base" "$tok" 'gust_runs_ended_total{state="success"}' 1
  check_format metrics
  assert_eq "$(metric_value metrics 'gust_task_instances_ended_total{state="success"}')" 3 "successes"
  assert_eq "$(metric_value metrics 'gust_task_instances_ended_total{state="failed"}')" 1 "failures"
  assert_eq "$(metric_value metrics 'gust_task_instances_ended_total{state="upstream_failed"}')" 1 "upstream_failed"
  assert_eq "$(metric_value metrics gust_task_starts_total)" 4 "task starts"
  assert_eq "$(metric_value metrics 'gust_admission_decisions_total{decision="admitted"}')" 4 "admitted"
  assert_eq "$(metric_value metrics 'gust_pool_wait_seconds_count{pool="default_pool"}')" 4 "pool waits"
  assert_eq "$(metric_value metrics 'gust_runs{state="running"}')" 0 "running runs"
  wait_for 20 metric_is "$base" "$tok" 'gust_supervisors_alive' 0
  # The runs left memory once ended: their instances are no longer in the gauge.
  wait_for 20 metric_is "$base" "$tok" 'gust_task_instances{state="success"}' 0
  [ "$(metric_value metrics gust_store_commit_seconds_count)" -gt 0 ] || fail "no commit observed"
  [ "$(metric_value metrics gust_loop_turn_seconds_count)" -gt 0 ] || fail "no loop turn observed"
  local last now
  last=$(metric_value metrics gust_loop_last_turn_timestamp_seconds)
  now=$(date +%s)
  python3 -c "import sys; sys.exit(abs($last - $now) > 30)" || fail "last turn $last, now $now"

  # A running task and a broken DAG file show while they last.
  printf 'tasks:\n  s: {run: "sleep 30"}\n' >dags/slow.yaml
  printf 'tasks: [not a mapping\n' >dags/broken.yaml
  wait_for 30 metric_is "$base" "$tok" gust_dag_files_broken 1
  wait_for 30 "$GUST" dags trigger slow --home home
  wait_for 30 metric_is "$base" "$tok" 'gust_task_instances{state="running"}' 1
  assert_eq "$(metric_value metrics 'gust_runs{state="running"}')" 1 "a running run"
  assert_eq "$(metric_value metrics gust_supervisors_alive)" 1 "its supervisor"
  assert_eq "$(metric_value metrics 'gust_pool_slots_used{pool="default_pool"}')" 1 "its slot"
  check_format metrics
  kill -TERM $spid
  wait $spid || true
}

t_metrics_public_by_config() {
  mkdir -p dags home
  printf 'metrics: {public: true}\n' >home/config.yaml
  local spid base
  start_server
  assert_eq "$(curl -sS -o metrics -w '%{http_code}' "$base/metrics")" 200 "public metrics"
  check_format metrics
  # Only the metrics: every other route still needs credentials.
  assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$base/api/v1/dags")" 401 "dags"
  kill -TERM $spid
  wait $spid || true

  printf 'metrics: {public: false}\n' >home/config.yaml
  start_server
  assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$base/metrics")" 401 "public: false"
  kill -TERM $spid
  wait $spid || true
}

t_metrics_bad_config_refuses_to_start() {
  mkdir -p dags home
  local rc=0
  printf 'metrics: {public: yes please}\n' >home/config.yaml
  timeout 20 "$GUST" server --home home --dags dags 2>log || rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a bad metrics setting was accepted (rc $rc)"
  assert_contains "$(cat log)" "config.yaml:1:19: error: 'public' in metrics must be true or false, got a string"
  rc=0
  printf 'metrics: {open: true}\n' >home/config.yaml
  timeout 20 "$GUST" server --home home --dags dags 2>log || rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "an unknown metrics key was accepted (rc $rc)"
  assert_contains "$(cat log)" "unknown key 'open' in metrics (use public)"
}

prom_query() { # PROMETHEUS_URL QUERY: the first result's value, or nothing
  curl -sS -f -G --data-urlencode "query=$2" "$1/api/v1/query" |
    jq -r '.data.result[0].value[1] // empty'
}

prom_value_is() { # PROMETHEUS_URL QUERY VALUE
  [ "$(prom_query "$1" "$2")" = "$3" ]
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A real Prometheus (Debian's package, installed by scripts/deps.sh) scrapes the server with a
# viewer's token every second; its query API then returns the task-instance counts.
t_metrics_scraped_by_prometheus() {
  command -v prometheus >/dev/null || fail "prometheus is not installed (scripts/deps.sh installs it)"
  mkdir -p dags home prom
  printf 'tasks:\n  a: {run: "true"}\n  b: {run: "true", depends: a}\n  c: {run: "true", depends: a}\n  d: {run: "true", depends: [b, c]}\n' >dags/four.yaml
  local spid base tok port ppid purl
  start_server
  tok=$(viewer_token)
  printf '%s' "$tok" >prom/token
  port=$(free_port)
  cat >prom/prometheus.yml <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gust
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $PWD/prom/token
    static_configs:
      - targets: ['${base#http://}']
EOF
  prometheus --config.file=prom/prometheus.yml --storage.tsdb.path=prom/data \
    --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=1h \
    --log.level=warn </dev/null >prom/log 2>&1 &
  ppid=$!
  purl=http://127.0.0.1:$port
  wait_for 60 curl -sS -f -o /dev/null "$purl/-/ready"
  wait_for 60 prom_value_is "$purl" 'up{job="gust"}' 1
  "$GUST" dags trigger four --home home >/dev/null
  wait_for 90 prom_value_is "$purl" 'gust_task_instances_ended_total{job="gust",state="success"}' 4
  wait_for 30 prom_value_is "$purl" 'gust_runs_ended_total{state="success"}' 1
  assert_eq "$(prom_query "$purl" 'gust_task_starts_total')" 4 "task starts"
  assert_eq "$(prom_query "$purl" 'gust_dag_files_broken')" 0 "broken DAG files"
  # The scrape itself is healthy: no sample rejected.
  curl -sS -f "$purl/api/v1/targets" >targets.json
  assert_eq "$(jq -r '.data.activeTargets[0].health' targets.json)" up "target health"
  assert_eq "$(jq -r '.data.activeTargets[0].lastError' targets.json)" "" "last scrape error"
  kill -TERM $ppid
  wait $ppid || true
  kill -TERM $spid
  wait $spid || true
}
