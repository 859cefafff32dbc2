# End-to-end tests of the HTTP API of `gust server` (docs/api.md), over real HTTP on loopback.

# GET URL: prints the body, then a last line with the status.
http_get() {
  curl -sS -o body -w '%{http_code}' "$@" && echo && cat body
}

status_of() { # URL [curl options]: the HTTP status only
  curl -sS -o /dev/null -w '%{http_code}' "$@"
}

health_is() { # URL STATUS
  [ "$(status_of "$1/api/v1/health")" = "$2" ]
}

t_api_health_and_errors() {
  mkdir -p dags home
  "$GUST" server --home home --dags dags 2>log &
  local spid=$! url
  wait_for 20 grep -q "server: ready" log
  url=$(api_url log)
  case "$url" in
    http://127.0.0.1:*) ;;
    *) fail "not on loopback by default: '$url' in $(cat log)" ;;
  esac
  wait_for 10 health_is "$url" 200
  curl -sS -D headers "$url/api/v1/health" >body
  assert_eq "$(jq -r .status body)" ok "status"
  assert_eq "$(jq -r .version body)" "$("$GUST" --version | cut -d' ' -f2)" "version"
  [ "$(jq -r .loop_turn_age_ms body)" -lt 5000 ] || fail "loop age: $(cat body)"
  assert_eq "$(jq -r .health_stall_ms body)" 30000 "default health_stall"
  grep -qi '^content-type: application/json' headers || fail "content type: $(cat headers)"
  grep -qi '^x-content-type-options: nosniff' headers || fail "nosniff: $(cat headers)"

  # Wrong method and unknown route: problem details, never an HTML page.
  assert_eq "$(status_of -X POST "$url/api/v1/health")" 405 "POST health"
  curl -sS -D headers -o body "$url/api/v1/no-such-thing" || true
  grep -q '^HTTP/1.1 404' headers || fail "unknown route: $(cat headers)"
  grep -qi '^content-type: application/problem+json' headers || fail "problem type: $(cat headers)"
  assert_eq "$(jq -r .status body)" 404 "problem status"
  assert_eq "$(status_of "$url/api/v1/../../etc/passwd" --path-as-is)" 404 "a path with '..'"

  # A second server cannot take the same address: it says so and exits.
  mkdir -p home2
  local rc=0 addr=${url#http://}
  timeout 20 "$GUST" server --home home2 --dags dags --listen "$addr" 2>log2 || rc=$?
  [ "$rc" -ne 0 ] || fail "second server on $addr started"
  assert_contains "$(cat log2)" "cannot listen on $addr"
  kill -TERM $spid
  wait $spid || true
}

# A loop that does not turn makes health answer 503 (then 200 again when it turns).
t_api_health_reports_a_stalled_loop() {
  mkdir -p dags home
  printf 'health_stall: 1s\n' >home/config.yaml
  GUST_TEST_LOOP_STALL=1 "$GUST" server --home home --dags dags 2>log &
  local spid=$! url
  wait_for 20 grep -q "server: ready" log
  url=$(api_url log)
  wait_for 10 health_is "$url" 200
  touch home/test-stall
  wait_for 10 health_is "$url" 503
  curl -sS "$url/api/v1/health" >body || true
  assert_eq "$(jq -r .status body)" stalled "status while stalled"
  [ "$(jq -r .loop_turn_age_ms body)" -ge 1000 ] || fail "age while stalled: $(cat body)"
  rm home/test-stall
  wait_for 10 health_is "$url" 200
  kill -TERM $spid
  wait $spid || true
}

# listen and tls in config.yaml: checked like any setting, with the file's line and column.
t_api_listen_settings_are_checked() {
  mkdir -p dags home
  printf 'listen: example.com:8080\n' >home/config.yaml
  local rc=0
  timeout 20 "$GUST" server --home home --dags dags 2>log || rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a host name was accepted (rc $rc)"
  assert_contains "$(cat log)" "config.yaml:1:9: error: bad address 'example.com:8080' for 'listen': not an IPv4 address"
  printf 'tls: {cert: c.pem}\n' >home/config.yaml
  rc=0
  timeout 20 "$GUST" server --home home --dags dags 2>log || rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "tls without a key was accepted (rc $rc)"
  assert_contains "$(cat log)" "'tls' needs both 'cert' and 'key'"
  # The config's listen, when neither --listen nor $GUST_LISTEN is given.
  printf 'listen: 127.0.0.1:0\n' >home/config.yaml
  env -u GUST_LISTEN "$GUST" server --home home --dags dags 2>log &
  local spid=$!
  wait_for 20 grep -q "server: ready" log
  case "$(api_url log)" in
    http://127.0.0.1:8080) fail "the config's listen was not used" ;;
    http://127.0.0.1:*) ;;
    *) fail "no API address in $(cat log)" ;;
  esac
  kill -TERM $spid
  wait $spid || true
  # --listen wins over $GUST_LISTEN.
  GUST_LISTEN=127.0.0.1:1 "$GUST" server --home home --dags dags --listen 127.0.0.1:0 2>log &
  spid=$!
  wait_for 20 grep -q "server: ready" log
  case "$(api_url log)" in
    http://127.0.0.1:1) fail "\$GUST_LISTEN won over --listen" ;;
    http://127.0.0.1:*) ;;
    *) fail "no API address in $(cat log)" ;;
  esac
  kill -TERM $spid
  wait $spid || true
}

# Under systemd (Type=notify, WatchdogSec=): READY once loaded, WATCHDOG from the loop itself,
# so a stalled loop stops the pings; tasks do not see the socket. A datagram socket stands in
# for systemd's.
pings() { grep -c WATCHDOG=1 notify.log || true; }
pings_over() { [ "$(pings)" -gt "$1" ]; }

t_systemd_ready_and_watchdog() {
  mkdir -p dags home
  printf 'tasks:\n  t: env > %s/task.env\n' "$PWD" >dags/e.yaml
  python3 - "$PWD/notify.sock" >notify.log <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode()
    for line in msg.split("\n"):
        print("%.3f %s" % (time.monotonic(), line), flush=True)
PY
  local lpid=$!
  wait_for 10 test -S notify.sock
  printf 'health_stall: 1s\n' >home/config.yaml
  NOTIFY_SOCKET=$PWD/notify.sock WATCHDOG_USEC=400000 GUST_TEST_LOOP_STALL=1 \
    "$GUST" server --home home --dags dags 2>log &
  local spid=$!
  wait_for 20 grep -q "READY=1" notify.log
  grep -q "STATUS=scheduling 1 DAG file; API on 127.0.0.1:" notify.log || fail "status: $(cat notify.log)"
  wait_for 10 pings_over 2
  grep -q "systemd watchdog every 400 ms" log || fail "no watchdog line: $(cat log)"
  # A stalled loop: the pings stop (none for over a second), then come back.
  touch home/test-stall
  wait_for 10 grep -q "stalled on purpose" log
  local before after
  before=$(pings)
  wait_for 10 health_is "$(api_url log)" 503
  after=$(pings)
  assert_eq "$after" "$before" "pings while the loop is stalled"
  rm home/test-stall
  wait_for 10 pings_over "$after"
  # Tasks do not inherit the socket.
  local r
  r=$("$GUST" dags trigger e --home home)
  wait_for 20 test -s task.env
  ! grep -qE '^(NOTIFY_SOCKET|WATCHDOG_USEC)=' task.env || fail "the task saw systemd's variables"
  kill -TERM $spid
  wait $spid || true
  wait_for 10 grep -q "STOPPING=1" notify.log
  kill $lpid
}
