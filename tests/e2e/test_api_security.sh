# The security sweep of the HTTP API, generated from docs/openapi.yaml: every operation but the
# public ones answers 401 without credentials and 403 to each role below the one it needs, and
# refuses a cookie-authenticated write without its CSRF token. Then what no route may do:
# follow a path out of its folder, buffer a 100 MB body, or listen beyond loopback.

SWEEP_PW=correct-horse-battery-staple

# METHOD PATH ROLE for every operation of docs/openapi.yaml (the unit test
# openapi_matches_the_route_table holds the file to the route table and to this layout).
openapi_operations() {
  python3 - "$ROOT/docs/openapi.yaml" <<'PY'
import re, sys
path = method = None
for line in open(sys.argv[1]):
    m = re.match(r"^  (/\S+):\s*$", line)
    if m:
        path, method = m.group(1), None
        continue
    if re.match(r"^\S", line):
        path = method = None
        continue
    m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
    if m and path:
        method = m.group(1).upper()
        continue
    m = re.match(r"^      x-gust-role:\s*(\S+)\s*$", line)
    if m and path and method:
        print(method, path, m.group(1))
PY
}

role_rank() {
  case "$1" in viewer) echo 1 ;; operator) echo 2 ;; editor) echo 3 ;; admin) echo 4 ;; *) echo 0 ;; esac
}

sweep_status() { # METHOD URL [curl options]
  local method=$1 url=$2
  shift 2
  curl -sS -o sweep.body -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
    -d '{}' "$@" "$url"
}

t_api_security_sweep_from_openapi() {
  mkdir -p dags home
  printf 'tasks:\n  a: {run: "true"}\n' >dags/d.yaml
  GUST_ADMIN_PASSWORD=$SWEEP_PW "$GUST" server --home home --dags dags 2>log &
  local spid=$! base
  wait_for 20 grep -q "server: ready" log
  base=$(api_url log)
  local role tok
  declare -A tokens
  for role in viewer operator editor; do
    printf '%s\n' "$SWEEP_PW-$role" | "$GUST" users add "u_$role" --role "$role" --home home >/dev/null
    tokens[$role]=$("$GUST" tokens create --user "u_$role" --name sweep --home home 2>/dev/null)
  done
  curl -sS -o login.json -c jar -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$SWEEP_PW\"}" "$base/api/v1/auth/login"
  local run
  run=$("$GUST" dags trigger d --home home | grep -oE 'd@manual-[^ ]+' | head -1)
  [ -n "$run" ] || fail "no run id"

  openapi_operations >ops.txt
  [ "$(wc -l <ops.txt)" -ge 15 ] || fail "too few operations read from openapi.yaml: $(cat ops.txt)"
  local method path need url code checked=0
  while read -r method path need; do
    url=$base$(printf '%s' "$path" | sed -e "s|{dag_id}|d|; s|{run_id}|$run|; s|{task_id}|a|; s|{name}|sweep_pool|; s|{id}|1|; s|{key}|sweep_key|")
    if [ "$need" = public ]; then
      continue
    fi
    code=$(sweep_status "$method" "$url")
    [ "$code" = 401 ] || fail "$method $path without credentials: $code $(cat sweep.body)"
    code=$(sweep_status "$method" "$url" -H "Authorization: Bearer gust_not_a_token")
    [ "$code" = 401 ] || fail "$method $path with a bad token: $code"
    for role in viewer operator editor; do
      if [ "$(role_rank "$role")" -lt "$(role_rank "$need")" ]; then
        code=$(sweep_status "$method" "$url" -H "Authorization: Bearer ${tokens[$role]}")
        [ "$code" = 403 ] || fail "$method $path as $role (needs $need): $code $(cat sweep.body)"
      fi
    done
    if [ "$method" != GET ]; then
      code=$(sweep_status "$method" "$url" -b jar)
      [ "$code" = 403 ] || fail "$method $path with the cookie and no CSRF token: $code"
      assert_eq "$(jq -r .type sweep.body)" "https://gust.dev/problems/csrf" "$method $path"
    fi
    checked=$((checked + 1))
  done <ops.txt
  [ "$checked" -ge 15 ] || fail "only $checked operations swept"

  # Paths out of a folder: '..' in any spelling is refused by the router, never served.
  local t=${tokens[viewer]} p
  for p in .. %2e%2e %2E%2E%2Fetc %2Fetc%2Fpasswd ..%2F..%2Fetc%2Fpasswd %252e%252e; do
    code=$(curl -sS -o sweep.body -w '%{http_code}' --path-as-is -H "Authorization: Bearer $t" \
      "$base/api/v1/dags/$p/source")
    case "$code" in 400 | 404) ;; *) fail "source of '$p': $code $(cat sweep.body)" ;; esac
    ! grep -q 'root:' sweep.body || fail "served a file of the machine for '$p'"
  done

  # A 100 MB body: 413, and the server does not hold it.
  local rss_before rss_after
  rss_before=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)
  head -c 100000000 /dev/zero | tr '\0' 'x' >big.json
  code=$(curl -sS -o sweep.body -w '%{http_code}' -H "Authorization: Bearer ${tokens[operator]}" \
    -H 'Content-Type: application/json' --data-binary @big.json "$base/api/v1/dags/d/runs" || true)
  assert_eq "$code" 413 "100 MB body"
  rss_after=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)
  [ $((rss_after - rss_before)) -lt 51200 ] ||
    fail "the server grew by $((rss_after - rss_before)) KiB taking a 100 MB body"
  rm -f big.json

  # Loopback only, by default.
  local listening
  listening=$(ss -Hltnp 2>/dev/null | grep "pid=$spid," | awk '{print $4}')
  [ -n "$listening" ] || listening=$(ss -Hltn | awk '{print $4}' | grep ":${base##*:}$")
  [ -n "$listening" ] || fail "ss shows no listening socket for port ${base##*:}"
  for p in $listening; do
    case "$p" in 127.0.0.1:*) ;; *) fail "listening on $p" ;; esac
  done
  kill -TERM $spid
  wait $spid || true
}
