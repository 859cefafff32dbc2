# End-to-end tests of the authenticated routes of the HTTP API (docs/api.md), over real HTTP
# on loopback, against a real `gust server`.

ADMIN_PW=correct-horse-battery-staple

# Start a server on DAG folder `dags` with the admin password above; sets URL and SPID.
start_api_server() {
  GUST_ADMIN_PASSWORD=$ADMIN_PW "$GUST" server --home home --dags dags 2>log &
  SPID=$!
  wait_for 20 grep -q "server: ready" log
  URL=$(api_url log)/api/v1
}

stop_api_server() {
  kill -TERM "$SPID"
  wait "$SPID" || true
}

# A token of a new user with ROLE, printed (the CLI on the same store).
token_for() { # USER ROLE
  printf '%s\n' "$ADMIN_PW-$1" | "$GUST" users add "$1" --role "$2" --home home >/dev/null
  "$GUST" tokens create --user "$1" --name "e2e" --home home
}

# curl with a token: prints the body; the status goes to the file `status`.
api() { # TOKEN METHOD PATH [curl options...]
  local tok=$1 method=$2 path=$3
  shift 3
  curl -sS -o body -w '%{http_code}' -X "$method" -H "Authorization: Bearer $tok" "$@" \
    "$URL$path" >status
  cat body
}

json_body() { printf -- '-H\nContent-Type: application/json\n-d\n%s' "$1"; }

run_state_is() { # TOKEN RUN STATE
  [ "$(api "$1" GET "/runs/$2" | jq -r .state)" = "$3" ]
}

t_api_refuses_without_credentials_and_checks_roles_and_csrf() {
  mkdir -p dags home
  printf 'tasks:\n  a: {run: "true"}\n' >dags/d.yaml
  start_api_server
  local viewer operator
  viewer=$(token_for vera viewer)
  operator=$(token_for otto operator)
  case "$viewer" in gust_*) ;; *) fail "token: $viewer" ;; esac

  # No credentials, a malformed or unknown token: 401 with WWW-Authenticate.
  curl -sS -D headers -o body "$URL/dags"
  grep -q '^HTTP/1.1 401' headers || fail "no credentials: $(cat headers)"
  grep -qi '^www-authenticate: Bearer' headers || fail "no WWW-Authenticate: $(cat headers)"
  assert_eq "$(jq -r .type body)" "https://gust.dev/problems/unauthorized"
  api "gust_nonsense" GET /dags >/dev/null
  assert_eq "$(cat status)" 401 "malformed token"
  api "${viewer%?}x" GET /dags >/dev/null
  assert_eq "$(cat status)" 401 "a token with a typo"

  # A viewer reads, an operator pauses, a viewer may not.
  api "$viewer" GET /dags >/dev/null
  assert_eq "$(cat status)" 200 "viewer reads"
  api "$viewer" PATCH /dags/d -H 'Content-Type: application/json' -d '{"paused":true}' >/dev/null
  assert_eq "$(cat status)" 403 "viewer pauses"
  assert_eq "$(jq -r .type body)" "https://gust.dev/problems/forbidden"
  api "$operator" PATCH /dags/d -H 'Content-Type: application/json' -d '{"paused":true}' >/dev/null
  assert_eq "$(cat status)" 200 "operator pauses"
  assert_eq "$(jq -r .paused body)" true
  api "$operator" PUT /pools/p -H 'Content-Type: application/json' -d '{"slots":2}' >/dev/null
  assert_eq "$(cat status)" 403 "operator sets a pool (editor's)"

  # A revoked token is refused at once.
  local id
  id=$("$GUST" tokens list --user otto --json --home home | jq -r '.[0].id')
  "$GUST" tokens revoke "$id" --home home >/dev/null
  api "$operator" GET /dags >/dev/null
  assert_eq "$(cat status)" 401 "revoked token"

  # Sessions: a wrong password is 401, the right one a cookie and a CSRF token.
  local code
  code=$(curl -sS -o body -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"wrong-password-here"}' "$URL/auth/login")
  assert_eq "$code" 401 "wrong password"
  curl -sS -D headers -o body -c jar -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" "$URL/auth/login"
  grep -qi '^set-cookie: gust_session=.*HttpOnly; SameSite=Strict' headers ||
    fail "cookie: $(cat headers)"
  local csrf
  csrf=$(jq -r .csrf_token body)
  assert_eq "$(curl -sS -b jar "$URL/auth/me" | jq -r .role)" admin "me"
  # A write with the cookie but without the CSRF token is refused; with it, done.
  code=$(curl -sS -o body -w '%{http_code}' -b jar -X PATCH -H 'Content-Type: application/json' \
    -d '{"paused":false}' "$URL/dags/d")
  assert_eq "$code" 403 "cookie write without CSRF"
  assert_eq "$(jq -r .type body)" "https://gust.dev/problems/csrf"
  code=$(curl -sS -o body -w '%{http_code}' -b jar -X PATCH -H "X-CSRF-Token: $csrf" \
    -H 'Content-Type: application/json' -d '{"paused":false}' "$URL/dags/d")
  assert_eq "$code" 200 "cookie write with CSRF"
  # Logout ends the session.
  curl -sS -o /dev/null -b jar -X POST -H "X-CSRF-Token: $csrf" "$URL/auth/logout"
  assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -b jar "$URL/auth/me")" 401 "after logout"
  # The audit log has the changes, with who made them.
  "$GUST" audit --json --home home >audit.json
  jq -e '[.[] | select(.action == "login.failed")] | length >= 1' audit.json >/dev/null ||
    fail "no failed login in the audit log: $(cat audit.json)"
  ! grep -q "$ADMIN_PW" log audit.json || fail "the password was logged"
  stop_api_server
}

t_api_triggers_runs_and_reads_them() {
  mkdir -p dags home
  cat >dags/fan.yaml <<'EOF'
tags: [e2e]
params:
  n: {type: integer, default: 3, minimum: 1}
tasks:
  plan: {run: 'echo "[1,2,3]" > "$GUST_OUTPUT"'}
  work:
    depends: [plan]
    map: ${{ outputs.plan }}
    run: echo ${{ item }}
  done: {run: "true", depends: [work]}
EOF
  start_api_server
  local tok run
  tok=$(token_for ed editor)
  # The DAG listing and one DAG: schema of params, tasks, versions; ETag and 304.
  api "$tok" GET "/dags?tag=e2e" >/dev/null
  assert_eq "$(cat status)" 200
  assert_eq "$(jq -r '.dags[0].dag_id' body)" fan
  assert_eq "$(api "$tok" GET "/dags?tag=nope" | jq '.dags | length')" 0 "tag filter"
  api "$tok" GET /dags/fan >/dev/null
  assert_eq "$(jq -r '.params.n.type' body)" integer
  assert_eq "$(jq -r '[.tasks[].task_id] | join(",")' body)" "plan,work,done"
  assert_eq "$(jq -r '.versions[0].version' body)" 1
  local etag
  etag=$(curl -sS -D - -o /dev/null -H "Authorization: Bearer $tok" "$URL/dags/fan" |
    tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  [ -n "$etag" ] || fail "no ETag"
  assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    -H "If-None-Match: $etag" "$URL/dags/fan")" 304 "unchanged DAG"
  api "$tok" GET /dags/fan/source >/dev/null
  assert_contains "$(cat body)" "map: \${{ outputs.plan }}"
  api "$tok" GET /dags/fam >/dev/null
  assert_eq "$(cat status)" 404
  assert_contains "$(jq -r .detail body)" "fan"

  # Trigger: bad params are 422 with the problem; unknown fields too; good ones 201.
  api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' -d '{"params":{"n":0}}' >/dev/null
  assert_eq "$(cat status)" 422 "n below its minimum"
  api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' -d '{"parms":{}}' >/dev/null
  assert_eq "$(cat status)" 422 "unknown field"
  api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' -d '{"params":' >/dev/null
  assert_eq "$(cat status)" 400 "malformed JSON"
  api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' -d '{"note":7}' >/dev/null
  assert_eq "$(cat status)" 422 "a note that is not a string"
  api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' \
    -d "{\"note\":\"$(head -c 1001 /dev/zero | tr '\0' x)\"}" >/dev/null
  assert_eq "$(cat status)" 422 "a note too long"
  assert_contains "$(jq -r .detail body)" "1001 bytes"
  run=$(api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' \
    -d '{"params":{"n":2},"note":"rerun after the \"orders\" fix"}' | jq -r .run_id)
  assert_eq "$(cat status)" 201 "trigger"
  assert_eq "$(jq -r .note body)" 'rerun after the "orders" fix' "the note in the answer"
  assert_eq "$(api "$tok" GET "/runs/$run" | jq -r .note)" 'rerun after the "orders" fix' "the note kept"
  wait_for 30 run_state_is "$tok" "$run" success
  api "$tok" GET "/runs/$run" >/dev/null
  assert_eq "$(jq -r '.task_states.success' body)" 5 "plan, 3 instances, done"
  # The grid: the mapped task as one row with counts, then its instances by page.
  api "$tok" GET "/runs/$run/tasks" >/dev/null
  assert_eq "$(jq -r '.tasks[] | select(.task_id == "work") | .instances' body)" 3
  assert_eq "$(jq -r '.tasks[] | select(.task_id == "work") | .task_states.success' body)" 3
  api "$tok" GET "/runs/$run/tasks?task_id=work&limit=2" >/dev/null
  assert_eq "$(jq -r '[.tasks[].map_index] | join(",")' body)" "0,1"
  local cur
  cur=$(jq -r .next_cursor body)
  api "$tok" GET "/runs/$run/tasks?task_id=work&limit=2&cursor=$cur" >/dev/null
  assert_eq "$(jq -r '[.tasks[].map_index] | join(",")' body)" "2"
  assert_eq "$(jq -r .next_cursor body)" null
  api "$tok" GET "/runs/$run/tasks/work?map_index=1" >/dev/null
  assert_eq "$(jq -r '.tries | length' body)" 1
  assert_eq "$(jq -r .item body)" 2
  # Clear one instance: dry run first, then for real; it runs again and succeeds.
  api "$tok" POST "/runs/$run/tasks/work/clear?map_index=1" -H 'Content-Type: application/json' \
    -d '{"dry_run":true}' >/dev/null
  assert_eq "$(jq -r '[.instances[] | "\(.task_id)[\(.map_index)]"] | join(",")' body)" "work[1]"
  api "$tok" POST "/runs/$run/tasks/work/clear?map_index=1" -H 'Content-Type: application/json' \
    -d '{}' >/dev/null
  assert_eq "$(cat status)" 200 "clear"
  wait_for 30 run_state_is "$tok" "$run" success
  api "$tok" GET "/runs/$run/tasks/work?map_index=1" >/dev/null
  assert_eq "$(jq -r .try_number body)" 2 "cleared instance ran again"
  api "$tok" POST "/runs/$run/tasks/work/mark?map_index=0" -H 'Content-Type: application/json' \
    -d '{"state":"failed"}' >/dev/null
  assert_eq "$(cat status)" 200 "mark"
  api "$tok" POST "/runs/$run/cancel" >/dev/null
  assert_eq "$(cat status)" 409 "cancel a finished run"

  # Runs by pages: no repeats, newest first, while runs are added between pages.
  local i
  for i in 1 2 3 4; do
    api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' -d '{}' >/dev/null
  done
  api "$tok" GET "/runs?dag_id=fan&limit=2" >/dev/null
  jq -r '.runs[].run_id' body >seen
  cur=$(jq -r .next_cursor body)
  api "$tok" POST /dags/fan/runs -H 'Content-Type: application/json' -d '{}' >/dev/null
  while [ "$cur" != null ]; do
    api "$tok" GET "/runs?dag_id=fan&limit=2&cursor=$cur" >/dev/null
    jq -r '.runs[].run_id' body >>seen
    cur=$(jq -r .next_cursor body)
  done
  assert_eq "$(wc -l <seen)" 5 "runs seen once each"
  assert_eq "$(sort -u seen | wc -l)" 5 "no run twice"
  api "$tok" GET "/runs?limit=501" >/dev/null
  assert_eq "$(cat status)" 400 "limit over 500"
  api "$tok" GET "/runs?state=runing" >/dev/null
  assert_contains "$(jq -r .detail body)" "did you mean 'running'"

  # Pools: set, read, delete; the CLI sees the same.
  api "$tok" PUT /pools/etl -H 'Content-Type: application/json' \
    -d '{"slots":4,"description":"loads"}' >/dev/null
  assert_eq "$(jq -r .pool.slots body)" 4
  assert_eq "$(api "$tok" GET /pools/etl | jq -r .description)" loads
  assert_contains "$("$GUST" pools list --home home)" "etl"
  api "$tok" DELETE /pools/etl >/dev/null
  assert_eq "$(cat status)" 200 "pool delete"
  api "$tok" GET /pools/etl >/dev/null
  assert_eq "$(cat status)" 404 "deleted pool"
  # Every change is in the audit log: who, how, from where; a dry run is not a change.
  "$GUST" pools set cli_pool 2 --home home >/dev/null
  "$GUST" audit --json --limit 100 --home home >audit.json
  local act
  for act in dag.trigger task.clear task.mark pool.set pool.delete; do
    jq -e --arg a "$act" '[.[] | select(.action == $a and .actor == "ed" and .via == "api" and .remote_addr == "127.0.0.1")] | length >= 1' audit.json >/dev/null ||
      fail "no $act by ed in the audit log: $(jq -c '[.[] | [.action, .actor, .via]]' audit.json)"
  done
  assert_eq "$(jq '[.[] | select(.action == "task.clear")] | length' audit.json)" 1 "a dry run is not audited"
  jq -e '[.[] | select(.action == "pool.set" and .via == "cli" and (.actor | startswith("local:")))] | length == 1' audit.json >/dev/null ||
    fail "the CLI's pool set is not audited"
  stop_api_server
}

dag_version_is() { # TOKEN DAG VERSION
  [ "$(api "$1" GET "/dags/$2" | jq -r .version)" = "$3" ]
}

t_api_deploys_validate_first_and_load_at_once() {
  mkdir -p dags home
  printf 'tasks:\n  a: {run: "echo one"}\n' >dags/d.yaml
  start_api_server
  local tok
  tok=$(token_for ed editor)
  # A broken file: 422 with every located error; the file and the running version untouched.
  printf 'tasks:\n  a: {run: "echo two", depends: [nope]}\n  b: {retries: many}\n' >bad.yaml
  api "$tok" PUT /dags/d/source -H 'Content-Type: application/yaml' --data-binary @bad.yaml >/dev/null
  assert_eq "$(cat status)" 422 "broken deploy"
  assert_eq "$(jq -r .type body)" "https://gust.dev/problems/invalid-dag"
  [ "$(jq '.errors | length' body)" -ge 2 ] || fail "errors: $(cat body)"
  assert_eq "$(jq -r '.errors[0].file' body)" d.yaml
  [ "$(jq -r '.errors[0].line' body)" -ge 2 ] || fail "no line: $(cat body)"
  assert_contains "$(cat dags/d.yaml)" "echo one"
  assert_eq "$(api "$tok" GET /dags/d | jq -r .version)" 1 "running version"
  ls -A dags | grep -q '^\.' && fail "a temporary file was left: $(ls -A dags)"
  # The same errors from validate, without a deploy; a form is not a DAG file.
  api "$tok" POST "/dags/validate?name=d.yaml" -H 'Content-Type: application/yaml' \
    --data-binary @bad.yaml >/dev/null
  assert_eq "$(cat status)" 422 "validate"
  api "$tok" PUT /dags/d/source --data-binary @bad.yaml >/dev/null
  assert_eq "$(cat status)" 415 "form content type"
  # An id that is not the path's.
  printf 'id: other\ntasks:\n  a: {run: "true"}\n' >other.yaml
  api "$tok" PUT /dags/d/source -H 'Content-Type: application/yaml' --data-binary @other.yaml >/dev/null
  assert_eq "$(cat status)" 422 "id mismatch"
  # A good file: the answer names the new version, and the listing shows it at once.
  printf 'tasks:\n  a: {run: "echo two"}\n  b: {run: "true", depends: [a]}\n' >good.yaml
  local t0 t1
  t0=$(now_ms)
  api "$tok" PUT /dags/d/source -H 'Content-Type: application/yaml' --data-binary @good.yaml >/dev/null
  t1=$(now_ms)
  assert_eq "$(cat status)" 200 "deploy: $(cat body)"
  assert_eq "$(jq -r .version body)" 2
  [ $((t1 - t0)) -lt 1000 ] || fail "deploy took $((t1 - t0)) ms"
  assert_eq "$(api "$tok" GET /dags | jq -r '.dags[] | select(.dag_id == "d") | .version')" 2
  assert_contains "$(cat dags/d.yaml)" "echo two"
  # A new DAG lands as DAG_ID.yaml.
  api "$tok" PUT /dags/fresh/source -H 'Content-Type: application/yaml' --data-binary @good.yaml >/dev/null
  assert_eq "$(cat status)" 200 "new DAG: $(cat body)"
  [ -f dags/fresh.yaml ] || fail "no dags/fresh.yaml"
  # Delete: the file goes, the history stays.
  api "$tok" DELETE /dags/fresh >/dev/null
  assert_eq "$(cat status)" 200 "delete"
  [ ! -e dags/fresh.yaml ] || fail "the file is still there"
  wait_for 10 sh -c "[ \"\$(curl -sS -H 'Authorization: Bearer $tok' '$URL/dags/fresh' | jq -r .deleted)\" = true ]"
  api "$tok" DELETE /dags/fresh >/dev/null
  assert_eq "$(cat status)" 409 "delete twice"
  stop_api_server
}

t_api_users_tokens_and_audit() {
  mkdir -p dags home
  start_api_server
  local admin viewer code
  admin=$(curl -sS -u x: -o /dev/null "$URL/health"; "$GUST" tokens create --user admin --name root --home home)
  # An admin creates a user; the user makes a token for themselves, not for others.
  api "$admin" PUT /users/vic -H 'Content-Type: application/json' \
    -d '{"role":"viewer","password":"short"}' >/dev/null
  assert_eq "$(cat status)" 422 "weak password"
  assert_contains "$(jq -r .detail body)" "12"
  api "$admin" PUT /users/vic -H 'Content-Type: application/json' \
    -d '{"role":"viewer","password":"a-long-enough-password"}' >/dev/null
  assert_eq "$(cat status)" 201 "user created"
  assert_eq "$(jq -r .role body)" viewer
  ! jq -e 'has("password") or has("pw_hash") or has("password_hash")' body >/dev/null ||
    fail "the user's JSON has a password: $(cat body)"
  api "$admin" POST /tokens -H 'Content-Type: application/json' \
    -d '{"name":"vic-ci","user":"vic","expires_in":"30d"}' >/dev/null
  assert_eq "$(cat status)" 201 "token for vic"
  viewer=$(jq -r .token body)
  case "$viewer" in gust_*) ;; *) fail "token text: $(cat body)" ;; esac
  [ "$(jq -r .expires_at body)" != null ] || fail "no expiry: $(cat body)"
  api "$viewer" GET /auth/me >/dev/null
  assert_eq "$(jq -r .user body)" vic
  api "$viewer" POST /tokens -H 'Content-Type: application/json' \
    -d '{"name":"mine"}' >/dev/null
  assert_eq "$(cat status)" 201 "own token"
  api "$viewer" POST /tokens -H 'Content-Type: application/json' \
    -d '{"name":"theirs","user":"admin"}' >/dev/null
  assert_eq "$(cat status)" 403 "a token for another user"
  api "$viewer" GET /tokens >/dev/null
  assert_eq "$(jq -r '[.tokens[].user] | unique | join(",")' body)" vic "a viewer sees only theirs"
  ! grep -q "$viewer" body || fail "the token's text is listed"
  api "$viewer" GET /users >/dev/null
  assert_eq "$(cat status)" 403 "a viewer lists users"
  api "$viewer" PUT /users/vic -H 'Content-Type: application/json' -d '{"role":"admin"}' >/dev/null
  assert_eq "$(cat status)" 403 "a viewer promotes themselves"
  api "$viewer" PUT /users/vic -H 'Content-Type: application/json' \
    -d '{"password":"another-long-password"}' >/dev/null
  assert_eq "$(cat status)" 422 "own password without the current one"
  api "$viewer" PUT /users/vic -H 'Content-Type: application/json' \
    -d '{"password":"another-long-password","current_password":"wrong-one-entirely"}' >/dev/null
  assert_eq "$(cat status)" 403 "own password with a wrong current one"
  api "$viewer" PUT /users/vic -H 'Content-Type: application/json' \
    -d '{"password":"another-long-password","current_password":"a-long-enough-password"}' >/dev/null
  assert_eq "$(cat status)" 200 "own password"
  # The last admin stays; a removed user's token stops working.
  api "$admin" DELETE /users/admin >/dev/null
  assert_eq "$(cat status)" 409 "the last admin"
  api "$admin" DELETE /users/vic >/dev/null
  assert_eq "$(cat status)" 204 "remove vic"
  api "$viewer" GET /auth/me >/dev/null
  assert_eq "$(cat status)" 401 "a removed user's token"
  # The audit log tells who did what, from where, newest first.
  api "$admin" GET "/audit?limit=50" >/dev/null
  jq -e '[.entries[] | select(.action == "user.remove" and .target == "vic" and .actor == "admin" and .remote_addr == "127.0.0.1")] | length == 1' body >/dev/null ||
    fail "audit: $(cat body)"
  jq -e '[.entries[] | select(.action == "user.set_role.denied" or .action == "token.create.denied")] | length >= 1' body >/dev/null ||
    fail "no denied change in the audit log: $(jq -c '[.entries[].action]' body)"
  ! grep -q 'a-long-enough-password\|another-long-password' body log || fail "a password was logged"
  stop_api_server
}

t_api_logs_range_tail_and_follow() {
  mkdir -p dags home
  cat >dags/chatty.yaml <<'YAML'
tasks:
  talk:
    run: 'for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.3; done'
YAML
  start_api_server
  local tok run
  tok=$(token_for val viewer)
  run=$("$GUST" dags trigger chatty --home home | grep -oE 'chatty@manual-[^ ]+' | head -1)
  # Follow from the start: every line once, then the end event.
  wait_for 20 sh -c "curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $tok' \
    '$URL/runs/$run/tasks/talk/logs' | grep -q 200"
  timeout 30 curl -sS -N -H "Authorization: Bearer $tok" \
    "$URL/runs/$run/tasks/talk/logs?follow=1" >sse.txt || true
  grep -q '^event: end' sse.txt || fail "no end event: $(cat sse.txt)"
  # Log lines are "TIME O TEXT" (O for stdout).
  assert_eq "$(grep -c '^data: .* O line ' sse.txt)" 6 "lines followed"
  assert_eq "$(grep '^data: ' sse.txt | grep -c 'O line ' | sort -u)" 6 "no line twice"
  [ "$(grep -c '^event: log' sse.txt)" -ge 2 ] || fail "the log came in one event, not live: $(cat sse.txt)"
  # Resume after the second event: exactly what came after it.
  local id want
  id=$(grep '^id: ' sse.txt | sed -n 2p | cut -d' ' -f2)
  # The events after that one (its own data lines end at the blank line after its id).
  want=$(awk -v id="$id" 'after && /^data: .* O line /{n++} found && /^$/ {after=1} $0 == "id: " id {found=1} END {print n+0}' sse.txt)
  timeout 30 curl -sS -N -H "Authorization: Bearer $tok" -H "Last-Event-ID: $id" \
    "$URL/runs/$run/tasks/talk/logs?follow=1" >sse2.txt || true
  assert_eq "$(grep -c '^data: .* O line ' sse2.txt)" "$want" "lines after Last-Event-ID $id"
  ! grep -q 'O line 1$' sse2.txt || fail "a line before Last-Event-ID came again: $(cat sse2.txt)"
  # A range and a tail.
  api "$tok" GET "/runs/$run/tasks/talk/logs?tail=2" >/dev/null
  assert_eq "$(sed 's/.* O //' body | tr '\n' ,)" "line 5,line 6," "tail"
  local first
  first=$(head -1 body)
  api "$tok" GET "/runs/$run/tasks/talk/logs" >/dev/null
  local off
  off=$(head -1 body | wc -c)
  curl -sS -D headers -o body -H "Authorization: Bearer $tok" "$URL/runs/$run/tasks/talk/logs?offset=$off"
  assert_eq "$(head -1 body | sed 's/.* O //')" "line 2" "from offset $off"
  grep -qi '^x-gust-log-complete: true' headers || fail "complete: $(cat headers)"
  [ -n "$first" ] || fail "empty tail"
  api "$tok" GET "/runs/$run/tasks/nope/logs" >/dev/null
  assert_eq "$(cat status)" 404 "unknown task"
  api "$tok" GET "/runs/$run/tasks/talk/logs?try=9" >/dev/null
  assert_eq "$(cat status)" 404 "no such try"
  stop_api_server
}

t_api_variables_and_connections_hide_secrets() {
  mkdir -p dags home
  cat >dags/v.yaml <<'YAML'
tasks:
  show:
    run: echo "region=${{ var.region }} token=${{ var.api_token }} pw=${{ conn.db.password }}"
YAML
  start_api_server
  local admin editor viewer
  admin=$("$GUST" tokens create --user admin --name root --home home 2>/dev/null)
  editor=$(token_for ed editor)
  viewer=$(token_for vi viewer)
  api "$editor" PUT /variables/region -H 'Content-Type: application/json' -d '{"value":"eu-west"}' >/dev/null
  assert_eq "$(cat status)" 201 "editor sets a variable"
  api "$editor" PUT /variables/api_token -H 'Content-Type: application/json' \
    -d '{"value":"s3cr3t-t0ken","secret":true}' >/dev/null
  assert_eq "$(cat status)" 403 "editor sets a secret"
  api "$admin" PUT /variables/api_token -H 'Content-Type: application/json' \
    -d '{"value":"s3cr3t-t0ken","secret":true}' >/dev/null
  assert_eq "$(cat status)" 201 "admin sets a secret"
  api "$admin" PUT /variables/bad -H 'Content-Type: application/json' -d '{"valu":"x"}' >/dev/null
  assert_eq "$(cat status)" 422 "unknown field"
  api "$editor" PUT /connections/db -H 'Content-Type: application/json' \
    -d '{"uri":"postgresql://app:pa55word@db.example:5432/main"}' >/dev/null
  assert_eq "$(cat status)" 403 "editor sets a connection"
  api "$admin" PUT /connections/db -H 'Content-Type: application/json' \
    -d '{"uri":"postgresql://app:pa55word@db.example:5432/main"}' >/dev/null
  assert_eq "$(cat status)" 201 "admin sets a connection"
  # A viewer sees neither secret; an admin sees both.
  api "$viewer" GET /variables/api_token >/dev/null
  assert_eq "$(jq -r .value body)" null "secret for a viewer"
  api "$viewer" GET /variables >/dev/null
  ! grep -q 's3cr3t-t0ken' body || fail "a viewer listed the secret"
  api "$viewer" GET /connections/db >/dev/null
  ! grep -q 'pa55word' body || fail "a viewer saw the password: $(cat body)"
  api "$admin" GET /variables/api_token >/dev/null
  assert_eq "$(jq -r .value body)" s3cr3t-t0ken "secret for an admin"
  # A task that echoes them: the stored log masks the secrets, not the plain value.
  local run
  run=$(api "$editor" POST /dags/v/runs -H 'Content-Type: application/json' -d '{}' | jq -r .run_id)
  wait_for 30 run_state_is "$viewer" "$run" success
  api "$viewer" GET "/runs/$run/tasks/show/logs" >/dev/null
  assert_contains "$(cat body)" "region=eu-west token=*** pw=***"
  ! grep -rq 's3cr3t-t0ken\|pa55word' home/logs || fail "a secret is in a stored log"
  # A value set just before a trigger is the one that trigger's run sees (the loop looks at
  # the variables when the API pokes it, not only on its 250 ms look at the store).
  local i
  for i in 1 2 3; do
    api "$editor" PUT /variables/region -H 'Content-Type: application/json' -d "{\"value\":\"r$i\"}" >/dev/null
    run=$(api "$editor" POST /dags/v/runs -H 'Content-Type: application/json' -d '{}' | jq -r .run_id)
    wait_for 30 run_state_is "$viewer" "$run" success
    api "$viewer" GET "/runs/$run/tasks/show/logs" >/dev/null
    assert_contains "$(cat body)" "region=r$i "
  done
  api "$editor" DELETE /variables/api_token >/dev/null
  assert_eq "$(cat status)" 403 "editor deletes a secret"
  api "$editor" DELETE /variables/region >/dev/null
  assert_eq "$(cat status)" 200 "editor deletes a variable"
  "$GUST" variables set from_cli x --home home >/dev/null
  "$GUST" audit --json --home home >audit.json
  jq -e '[.[] | select(.action == "variable.set" and .via == "api")] | length >= 2' audit.json >/dev/null ||
    fail "variable changes are not audited"
  jq -e '[.[] | select(.action == "variable.set" and .via == "cli" and .target == "from_cli")] | length == 1' audit.json >/dev/null ||
    fail "the CLI's variable set is not audited"
  ! grep -q 's3cr3t-t0ken' audit.json || fail "a secret in the audit log"
  stop_api_server
}

# GET .../why answers from the server's loop what `gust why` prints, as data: the full pool
# that holds the waiter back, with its numbers; the same checks the CLI finds.
t_api_why_names_what_holds_a_task_back() {
  mkdir -p dags home
  printf 'pools:\n  one: 1\n' >home/config.yaml
  cat >dags/slots.yaml <<YAML
tasks:
  holder: {run: 'while [ ! -e $PWD/go ]; do sleep 0.05; done', pool: one, priority: 10}
  waiter: {run: 'true', pool: one}
YAML
  start_api_server
  local tok run
  tok=$(token_for why viewer)
  run=$("$GUST" dags trigger slots --home home | grep -oE 'slots@manual-[^ ]+' | head -1)
  wait_for 20 sh -c "'$GUST' tasks list '$run' --home home | grep -q 'holder.*running'"
  api "$tok" GET "/runs/$run/tasks/waiter/why" >why.json
  assert_eq "$(cat status)" 200 "why: $(cat why.json)"
  assert_eq "$(jq -r '.task_id + " " + .state' why.json)" "waiter scheduled" "who"
  assert_eq "$(jq -r '[.reasons[] | select(.check == "pool")][0].waiting' why.json)" true "pool waits"
  assert_contains "$(jq -r '.reasons[] | select(.check == "pool") | .text' why.json)" "pool 'one'"
  assert_contains "$(jq -r '.reasons[].text' why.json)" "holder"
  assert_not_contains "$(jq -r '.reasons[].text' why.json)" "no server is running"
  # The CLI's --json: the same checks, in the same order.
  "$GUST" why "$run" waiter --json --home home >cli.json
  assert_eq "$(jq -c '[.reasons[] | .check]' cli.json)" "$(jq -c '[.reasons[] | .check]' why.json)" "CLI and API agree"
  # Errors: an unknown task (with a suggestion), a bad index.
  api "$tok" GET "/runs/$run/tasks/waitr/why" >/dev/null
  assert_eq "$(cat status)" 404 "unknown task"
  assert_contains "$(cat body)" "waiter"
  api "$tok" GET "/runs/$run/tasks/waiter/why?map_index=x" >/dev/null
  assert_eq "$(cat status)" 400 "bad map_index"
  api "" GET "/runs/$run/tasks/waiter/why" >/dev/null
  assert_eq "$(cat status)" 401 "no credentials"
  touch go
  wait_for 20 run_state_is "$tok" "$run" success
  api "$tok" GET "/runs/$run/tasks/waiter/why" >why.json
  assert_eq "$(jq -r .state why.json)" success "after the run"
  stop_api_server
}
