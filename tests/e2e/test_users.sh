# End-to-end tests of the identities of the HTTP API (docs/users.md): `gust users`, `gust
# tokens`, `gust audit`, and the first admin the server creates.

PW='correct horse battery staple'

# Users from stdin, listed, changed and removed; the rules the CLI reports with its exit codes.
t_users_add_list_passwd_remove() {
  export GUST_HOME=$PWD/home
  printf '%s\n' "$PW" | "$GUST" users add alice --role operator >out
  assert_eq "$(cat out)" "added user 'alice' (operator)"
  printf '%s' "$PW" | "$GUST" users add root --role admin >/dev/null
  "$GUST" users list >out
  assert_contains "$(sed -n 2p out)" "alice"
  assert_contains "$(sed -n 2p out)" "operator"
  assert_contains "$(sed -n 3p out)" "root"
  "$GUST" users list --json >out
  assert_eq "$(jq -r '[.[] | .name + ":" + .role] | join(",")' out)" "alice:operator,root:admin"
  assert_eq "$(jq -r '.[0] | keys | join(",")' out)" \
    "created_at,name,password_changed_at,role,updated_at"
  assert_not_contains "$(cat out)" "argon2"
  # Nothing of the password in the store's file but its hash.
  ! grep -aqF "$PW" home/gust.db* || fail "the password is in the store"

  local rc=0
  printf 'short' | "$GUST" users add bob --role viewer 2>err || rc=$?
  assert_eq "$rc" 2 "exit of a weak password"
  assert_contains "$(cat err)" "at least 12"
  rc=0
  printf '%s' "$PW" | "$GUST" users add alice --role viewer 2>err || rc=$?
  assert_eq "$rc" 1 "exit of a name taken"
  assert_contains "$(cat err)" "exists already"
  rc=0
  "$GUST" users add 'b/c' --role viewer </dev/null 2>err || rc=$?
  assert_eq "$rc" 2 "exit of a bad name"
  rc=0
  "$GUST" users add bob --role king </dev/null 2>err || rc=$?
  assert_eq "$rc" 2 "exit of a bad role"
  rc=0
  "$GUST" users add bob </dev/null 2>err || rc=$?
  assert_eq "$rc" 2 "exit without --role"

  printf 'another long password' | "$GUST" users passwd alice >out
  assert_contains "$(cat out)" "changed the password of 'alice'"
  rc=0
  "$GUST" users passwd nobody </dev/null 2>err || rc=$?
  assert_eq "$rc" 1 "exit of passwd for an unknown user"
  assert_contains "$(cat err)" "no user 'nobody'"

  # The last admin stays.
  rc=0
  "$GUST" users remove root 2>err || rc=$?
  assert_eq "$rc" 1 "exit of removing the last admin"
  assert_contains "$(cat err)" "last admin"
  rc=0
  "$GUST" users set-role root viewer 2>err || rc=$?
  assert_eq "$rc" 1 "exit of demoting the last admin"
  "$GUST" users set-role alice admin >out
  assert_eq "$(cat out)" "user 'alice' is now admin"
  "$GUST" users remove root >out
  assert_contains "$(cat out)" "removed user 'root'"
  assert_eq "$("$GUST" users list --json | jq -r '[.[].name] | join(",")')" "alice"
}

# A token is printed once, alone on stdout; lists show its display form only; revoke works;
# the audit log has every action and neither the password nor the token.
t_users_tokens_and_audit() {
  export GUST_HOME=$PWD/home
  printf '%s' "$PW" | "$GUST" users add alice --role editor >/dev/null
  "$GUST" tokens create --user alice --name ci --expires 90d >out 2>err
  assert_eq "$(wc -l <out)" 1 "lines on stdout"
  local tok
  tok=$(cat out)
  [[ "$tok" =~ ^gust_[0-9A-Za-z]{49}$ ]] || fail "not a token: '$tok'"
  assert_contains "$(cat err)" "shown this once"
  assert_not_contains "$(cat err)" "$tok"
  "$GUST" tokens create --user alice --name laptop >/dev/null 2>&1

  "$GUST" tokens list >out
  assert_not_contains "$(cat out)" "$tok"
  assert_contains "$(cat out)" "${tok:0:13}"
  assert_contains "$(sed -n 2p out)" "active"
  "$GUST" tokens list --json >out
  assert_not_contains "$(cat out)" "$tok"
  assert_eq "$(jq -r '.[0] | keys | join(",")' out)" \
    "created_at,created_by,display,expires_at,id,last_used_at,name,revoked_at,user"
  assert_eq "$(jq -r '.[0].name + " " + .[0].display' out)" "ci ${tok:0:13}"
  assert_eq "$(jq -r '.[1].expires_at' out)" null
  assert_eq "$("$GUST" tokens list --user alice --json | jq length)" 2
  assert_eq "$("$GUST" tokens list --user nobody --json | jq length)" 0

  local id rc=0
  id=$(jq -r '.[0].id' out)
  "$GUST" tokens revoke "$id" >out
  assert_eq "$(cat out)" "revoked token $id"
  "$GUST" tokens revoke "$id" 2>err || rc=$?
  assert_eq "$rc" 1 "exit of revoking twice"
  assert_contains "$(cat err)" "revoked already"
  rc=0
  "$GUST" tokens revoke 999 2>err || rc=$?
  assert_eq "$rc" 1 "exit of an unknown token"
  rc=0
  "$GUST" tokens revoke abc 2>err || rc=$?
  assert_eq "$rc" 2 "exit of a bad id"
  assert_eq "$("$GUST" tokens list --json | jq -r '.[0].revoked_at != null')" true
  assert_contains "$("$GUST" tokens list | sed -n 2p)" "revoked"

  rc=0
  "$GUST" tokens create --user nobody --name x >out 2>err || rc=$?
  assert_eq "$rc" 1 "exit of a token for an unknown user"
  assert_eq "$(cat out)" "" "stdout of a refused create"
  rc=0
  "$GUST" tokens create --user alice --name x --expires soon >out 2>err || rc=$?
  assert_eq "$rc" 2 "exit of a bad --expires"
  rc=0
  "$GUST" tokens create --user alice >out 2>err || rc=$?
  assert_eq "$rc" 2 "exit without --name"

  "$GUST" audit >out
  local actions
  actions=$(awk 'NR > 1 {print $6}' out | tac | tr '\n' ' ')
  assert_eq "$actions" "user.add token.create token.create token.revoke " "audited actions"
  assert_contains "$(sed -n 2p out)" "local:$(id -un)"
  assert_contains "$(sed -n 2p out)" "cli"
  "$GUST" audit --json --limit 2 >out
  assert_eq "$(jq length out)" 2
  assert_eq "$(jq -r '.[0].action + " " + .[0].target' out)" "token.revoke $id"
  assert_eq "$("$GUST" audit --json --action token.create | jq length)" 2
  "$GUST" audit --json --limit 1000 >out
  assert_not_contains "$(cat out)" "$tok"
  assert_not_contains "$(cat out)" "$PW"
  ! grep -aqF "$tok" home/gust.db* || fail "the token is in the store"
  rc=0
  "$GUST" audit --limit 0 2>err || rc=$?
  assert_eq "$rc" 2 "exit of --limit 0"
}

# The first start with no user prints a generated admin password once, clearly marked; the
# second start does not.
t_users_first_start_generates_admin_password() {
  mkdir -p dags home
  env -u GUST_ADMIN_PASSWORD "$GUST" server --home home --dags dags 2>log &
  local spid=$!
  wait_for 20 grep -q "server: ready" log
  assert_eq "$(grep -c 'FIRST START' log)" 1 "marked lines"
  local pw
  pw=$(sed -n "s/.*FIRST START: created user 'admin' (role admin) with the password \([0-9A-Za-z]*\) .*/\1/p" log)
  assert_eq "${#pw}" 24 "generated password length"
  assert_eq "$("$GUST" users list --home home --json | jq -r '.[0].name + ":" + .[0].role')" \
    "admin:admin"
  "$GUST" audit --home home --json >out
  assert_eq "$(jq -r '.[0].actor + " " + .[0].via + " " + .[0].detail.password' out)" \
    "server server generated"
  assert_not_contains "$(cat out)" "$pw"
  kill -TERM $spid
  wait $spid || true

  env -u GUST_ADMIN_PASSWORD "$GUST" server --home home --dags dags 2>log2 &
  spid=$!
  wait_for 20 grep -q "server: ready" log2
  assert_not_contains "$(cat log2)" "FIRST START"
  assert_not_contains "$(cat log2)" "$pw"
  assert_eq "$("$GUST" users list --home home --json | jq length)" 1
  kill -TERM $spid
  wait $spid || true
}

# GUST_ADMIN_PASSWORD sets the first admin's password and never appears in the log; a weak
# one stops the server before it schedules anything.
t_users_admin_password_from_environment() {
  mkdir -p dags home weak
  local secret='env admin password 42'
  GUST_ADMIN_PASSWORD="$secret" "$GUST" server --home home --dags dags 2>log &
  local spid=$!
  wait_for 20 grep -q "server: ready" log
  assert_not_contains "$(cat log)" "FIRST START"
  assert_not_contains "$(cat log)" "$secret"
  assert_eq "$("$GUST" users list --home home --json | jq -r '.[0].name')" admin
  "$GUST" audit --home home --json >out
  assert_eq "$(jq -r '.[0].detail.password' out)" GUST_ADMIN_PASSWORD
  assert_not_contains "$(cat out)" "$secret"
  kill -TERM $spid
  wait $spid || true
  ! grep -aqF "$secret" home/gust.db* || fail "the password is in the store"

  local rc=0
  GUST_ADMIN_PASSWORD=short timeout 20 "$GUST" server --home weak --dags dags 2>log2 || rc=$?
  [ "$rc" -ne 0 ] || fail "a server started with a weak GUST_ADMIN_PASSWORD"
  assert_contains "$(cat log2)" "GUST_ADMIN_PASSWORD is refused"
  assert_not_contains "$(cat log2)" "server: ready"
  assert_eq "$("$GUST" users list --home weak --json | jq length)" 0
}

# On a terminal the password is asked for twice, without echo; two different ones are refused.
t_users_password_prompt_on_a_terminal() {
  command -v script >/dev/null || fail "script(1) (util-linux) is needed"
  export GUST_HOME=$PWD/home
  local second
  for second in "$PW" 'a different password'; do
    rm -f in out
    mkfifo in
    script -qec "$GUST users add tty --role viewer" /dev/null <in >out 2>&1 &
    local pid=$!
    exec 3>in
    wait_for 10 grep -q "New password for tty: " out
    printf '%s\n' "$PW" >&3
    wait_for 10 grep -q "Again: " out
    printf '%s\n' "$second" >&3
    exec 3>&-
    wait $pid || true
    assert_not_contains "$(cat out)" "$PW"
    assert_not_contains "$(cat out)" "different"
    if [ "$second" = "$PW" ]; then
      assert_contains "$(cat out)" "added user 'tty' (viewer)"
    else
      assert_contains "$(cat out)" "the two passwords differ"
      assert_eq "$("$GUST" users list --json | jq length)" 0 "users after a mismatch"
    fi
    "$GUST" users remove tty >/dev/null 2>&1 || true
  done
}
