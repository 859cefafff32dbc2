# End-to-end tests of admission control: parallelism, max_active_tasks, pools, declared
# resources against the host, conflicts between DAGs, hashed (H) schedules and jitter, tasks
# that can never start, `gust why` and pools resized while the server runs.
#
# The observables: the server's log (stderr), `gust runs list --json` / `tasks list --json` /
# `pools list --json`, and a ledger that every task appends to, one line per task instance,
# "DAG TASK START END" (date +%s.%N taken inside the task, so each interval lies inside the
# time admission held the instance's slots: whatever ran at once by the ledger, admission let
# run at once).

adm_start() { # LOG ARGS...: start a server on ./home in the background, wait until it is ready
  local log=$1
  shift
  "$GUST" server --home "$PWD/home" "$@" 2>>"$log" &
  ADM_PID=$!
  wait_for 30 grep -q "server: ready" "$log"
}

adm_stop() {
  kill -TERM "$ADM_PID" 2>/dev/null || true
  wait "$ADM_PID" 2>/dev/null || true
}

# adm_task_script: ./task.sh SLEEP [FILE...]: record the start, mark started/DAG.TASK[.I], wait
# until each FILE exists (while the test's folder does), sleep, append the ledger line.
adm_task_script() {
  mkdir -p started
  cat >task.sh <<SH
#!/bin/sh
d=\$1
shift
s=\$(date +%s.%N)
name="\$GUST_DAG_ID \$GUST_TASK_ID\${GUST_MAP_INDEX:+.\$GUST_MAP_INDEX}"
touch "$PWD/started/\$GUST_DAG_ID.\$GUST_TASK_ID\${GUST_MAP_INDEX:+.\$GUST_MAP_INDEX}"
for f; do while [ -d "$PWD" ] && [ ! -e "\$f" ]; do sleep 0.05; done; done
sleep "\$d"
echo "\$name \$s \$(date +%s.%N)" >>"$PWD/ledger"
SH
  : >ledger
}

# adm_dag ID SCHEDULE [TOP-LEVEL YAML LINE...]: start dags/ID.yaml; notes ID in dag_ids and its
# max_active_tasks (default 16) in dagspec.
adm_dag() {
  local id=$1 sched=$2 mat=16 l
  shift 2
  {
    printf 'schedule: "%s"\n' "$sched"
    for l in "$@"; do printf '%s\n' "$l"; done
    printf 'tasks:\n'
  } >"dags/$id.yaml"
  for l in "$@"; do
    case $l in max_active_tasks:*) mat=${l#max_active_tasks: } ;; esac
  done
  echo "$id" >>dag_ids
  echo "$id $mat" >>dagspec
}

# adm_task DAG TASK SLEEP [pool=P] [slots=N] [cpu=C] [mem=GIB] [disk=BYTES] [prio=N]
#          [deps=a,b] [map=N] [after=FILE,FILE]
# Appends a task to dags/DAG.yaml and one line per instance to spec:
# "DAG TASK POOL SLOTS CPU MEM_GIB DISK".
adm_task() {
  local dag=$1 task=$2 sleep=$3 kv
  shift 3
  local pool=default_pool slots=1 cpu=0 mem=0 disk=0 prio="" deps="" map=0 after=""
  for kv; do
    case $kv in
      pool=*) pool=${kv#*=} ;;
      slots=*) slots=${kv#*=} ;;
      cpu=*) cpu=${kv#*=} ;;
      mem=*) mem=${kv#*=} ;;
      disk=*) disk=${kv#*=} ;;
      prio=*) prio=${kv#*=} ;;
      deps=*) deps=${kv#*=} ;;
      map=*) map=${kv#*=} ;;
      after=*) after=${kv#*=} ;;
      *) fail "adm_task: bad argument $kv" ;;
    esac
  done
  {
    printf '  %s:\n    run: sh %s/task.sh %s %s\n' "$task" "$PWD" "$sleep" "${after//,/ }"
    if [ "$pool" != default_pool ]; then printf '    pool: %s\n' "$pool"; fi
    if [ "$slots" != 1 ]; then printf '    pool_slots: %s\n' "$slots"; fi
    if [ -n "$prio" ]; then printf '    priority: %s\n    weight_rule: absolute\n' "$prio"; fi
    if [ -n "$deps" ]; then printf '    depends: [%s]\n' "$deps"; fi
    if [ "$map" != 0 ]; then printf '    map: [%s]\n' "$(seq -s, 1 "$map")"; fi
    if [ "$cpu$mem$disk" != 000 ]; then
      printf '    resources: {'
      local sep=""
      if [ "$cpu" != 0 ]; then printf 'cpu: %s' "$cpu"; sep=", "; fi
      if [ "$mem" != 0 ]; then printf '%smemory: %sG' "$sep" "$mem"; sep=", "; fi
      if [ "$disk" != 0 ]; then printf '%sdisk: %s, disk_path: %s' "$sep" "$disk" "$PWD"; fi
      printf '}\n'
    fi
  } >>"dags/$dag.yaml"
  if [ "$map" != 0 ]; then
    local i
    for i in $(seq 0 $((map - 1))); do
      echo "$dag $task.$i $pool $slots $cpu $mem $disk" >>spec
    done
  else
    echo "$dag $task $pool $slots $cpu $mem $disk" >>spec
  fi
}

# The ledger line of DAG TASK: "START END" (empty if none).
adm_span() { awk -v d="$1" -v t="$2" '$1 == d && $2 == t { print $3, $4 }' ledger; }

# ---------------------------------------------------------------------------------------------
# 1. Midnight on the 1st: 20 DAGs fire at once (Sunday 2024-09-01 00:00 UTC: hourly, daily,
# weekly, monthly, every 5m and every 15m all fire), under parallelism 6, pools warehouse (2)
# and api (3), host cpu 4 / memory 8G, declared disk on this folder's filesystem, two DAGs in
# conflict by id and two in a conflict group, and a heavy monthly task that needs the whole
# cpu and more disk than is free while the two disk-declaring tasks run.
t_admission_midnight_on_the_first() {
  mkdir dags home
  cat >home/config.yaml <<'YAML'
parallelism: 6
host: {cpu: 4, memory: 8G}
pools:
  warehouse: 2
  api: {slots: 3, description: "the partner API"}
reserve_after: 2s
YAML
  adm_task_script
  : >dag_ids
  : >dagspec
  : >spec
  # Free bytes of this folder's filesystem now. Each disk task declares 35% of it (both fit
  # together), the heavy task 75%: it fits alone but not beside either of them.
  local free disk_small disk_heavy
  free=$(($(stat -f -c %a .) * $(stat -f -c %S .)))
  disk_small=$((free * 35 / 100))
  disk_heavy=$((free * 75 / 100))

  adm_dag hourly_etl "@hourly"
  adm_task hourly_etl extract 0.4 pool=api
  adm_task hourly_etl load 0.6 pool=warehouse cpu=1 deps=extract
  adm_dag hourly_metrics "@hourly"
  adm_task hourly_metrics a 0.5 cpu=1
  adm_task hourly_metrics b 0.5 cpu=1
  adm_dag hourly_sync "@hourly"
  adm_task hourly_sync a 0.8 pool=api
  adm_dag daily_report "@daily"
  adm_task daily_report extract 0.5 pool=api
  adm_task daily_report load 0.7 pool=warehouse slots=2 deps=extract
  adm_dag daily_backup "@daily"
  adm_task daily_backup dump 2.5 disk=$disk_small prio=50
  adm_task daily_backup verify 0.3 deps=dump
  adm_dag daily_ledger_a "@daily" "conflicts: [daily_ledger_b]"
  adm_task daily_ledger_a x 0.5
  adm_task daily_ledger_a y 0.5 deps=x
  adm_dag daily_ledger_b "@daily"
  adm_task daily_ledger_b x 0.5
  adm_task daily_ledger_b y 0.5 deps=x
  adm_dag daily_cleanup "@daily"
  adm_task daily_cleanup a 1.0 cpu=2
  adm_dag writer_one "@daily" "conflicts: [nightly_writers]"
  adm_task writer_one w 0.6 pool=warehouse
  adm_task writer_one v 0.4 deps=w
  adm_dag writer_two "@weekly" "conflicts: [nightly_writers]"
  adm_task writer_two w 0.6 pool=warehouse
  adm_dag weekly_fan "@weekly" "max_active_tasks: 2"
  adm_task weekly_fan fan 0.5 map=6 mem=2
  adm_task weekly_fan finish 0.3 deps=fan
  adm_dag weekly_archive "@weekly"
  adm_task weekly_archive pack 1.5 disk=$disk_small cpu=1 prio=50
  adm_dag monthly_close "@monthly" "max_active_tasks: 2"
  adm_task monthly_close a 0.6 cpu=1
  adm_task monthly_close b 0.6
  adm_task monthly_close c 0.6 cpu=1
  adm_task monthly_close d 0.6
  adm_task monthly_close sum 0.3 deps=a,b,c,d
  adm_dag monthly_invoice "@monthly"
  adm_task monthly_invoice a 0.5 pool=warehouse
  adm_task monthly_invoice b 0.5 pool=api
  adm_dag every5_ping "@every 5m"
  adm_task every5_ping a 0.3
  adm_dag every5_poll "@every 5m"
  adm_task every5_poll a 0.4 pool=api mem=3
  adm_dag q15_sample "*/15 * * * *"
  adm_task q15_sample a 0.3 cpu=1
  adm_dag q15_rollup "*/15 * * * *"
  adm_task q15_rollup a 0.5 pool=warehouse
  adm_task q15_rollup b 0.5 pool=warehouse
  adm_dag q15_cache "*/15 * * * *"
  adm_task q15_cache a 0.6 mem=4
  # The heavy one: prep (first in line) ends only after both disk tasks started, so rebuild is
  # ready while they hold their disk; it needs all 4 cpus and 75% of the free disk.
  adm_dag heavy_rebuild "@monthly"
  adm_task heavy_rebuild prep 0.3 prio=100 \
    after="$PWD/started/daily_backup.dump,$PWD/started/weekly_archive.pack"
  adm_task heavy_rebuild rebuild 1.0 cpu=4 disk=$disk_heavy mem=2 prio=90 deps=prep

  local ndags
  ndags=$(wc -l <dag_ids)
  assert_eq "$ndags" 20 "DAGs"
  "$GUST" dags validate dags >/dev/null 2>&1 || fail "the generated DAGs do not validate: $("$GUST" dags validate dags 2>&1)"

  local t0=$SECONDS
  adm_start log --dags dags --now 2024-08-31T23:59:57Z
  local midnight="2024-09-01T00:00:00.000Z"
  all_succeeded() {
    [ "$("$GUST" runs list --home "$PWD/home" --limit 0 --json |
      jq --arg m "$midnight" '[.[] | select(.logical_date == $m and .state == "success")] | length')" = "$ndags" ]
  }
  summary() {
    echo "--- runs"
    "$GUST" runs list --home "$PWD/home" --limit 0 || true
    echo "--- ledger (sorted by start)"
    sort -k3,3n ledger
    echo "--- server log (last 30 lines)"
    tail -30 log
  }
  if ! (wait_for 50 all_succeeded); then
    summary
    fail "not every midnight run succeeded within 50 s"
  fi
  local runs_json
  runs_json=$("$GUST" runs list --home "$PWD/home" --limit 0 --json)
  adm_stop

  # Exactly one run per DAG, all at midnight, all successful; none is left over.
  assert_eq "$(echo "$runs_json" | jq length)" "$ndags" "runs"
  assert_eq "$(echo "$runs_json" | jq -r '.[].dag_id' | sort | tr '\n' ' ')" \
    "$(sort dag_ids | tr '\n' ' ')" "DAGs with a run"
  # Every task instance ran exactly once (so every DAG got its tasks started: none starved).
  local want got
  want=$(awk '{ print $1, $2 }' spec | sort)
  got=$(awk '{ print $1, $2 }' ledger | sort)
  if [ "$want" != "$got" ]; then
    summary
    diff <(echo "$want") <(echo "$got") || true
    fail "the ledger's task instances differ from the DAGs' (< expected, > ledger)"
  fi

  # Replay starts and ends in time order (an end before a start at the same instant) and
  # check every limit at every start.
  local report
  if ! report=$(
    awk '{ print $3, 1, $1, $2; print $4, 0, $1, $2 }' ledger | sort -k1,1n -k2,2n |
      awk -v par=6 -v cpu_cap=4 -v mem_cap=8 -v disk_cap="$free" '
        FILENAME == "dagspec" { mat[$1] = $2; next }
        FILENAME == "spec" {
          k = $1 " " $2; pool[k] = $3; slots[k] = $4; cpu[k] = $5; mem[k] = $6; disk[k] = $7
          next
        }
        {
          k = $3 " " $4; s = ($2 == 1) ? 1 : -1
          n += s; dn[$3] += s; pn[pool[k]] += s * slots[k]
          c += s * cpu[k]; m += s * mem[k]; d += s * disk[k]
          if (s < 0) next
          if (n > maxn) maxn = n
          if (dn[$3] > maxd[$3]) maxd[$3] = dn[$3]
          if (pn[pool[k]] > maxp[pool[k]]) maxp[pool[k]] = pn[pool[k]]
          if (c > maxc) maxc = c
          if (m > maxm) maxm = m
          if (d > maxdisk) maxdisk = d
          if (n > par) { print "parallelism exceeded: " n " running when " k " started"; bad = 1 }
          if (dn[$3] > mat[$3]) {
            print "max_active_tasks of " $3 " exceeded: " dn[$3] " when " k " started"; bad = 1
          }
          lim = (pool[k] == "warehouse") ? 2 : (pool[k] == "api") ? 3 : 128
          if (pn[pool[k]] > lim) {
            print "pool " pool[k] " exceeded: " pn[pool[k]] " of " lim " slots when " k " started"
            bad = 1
          }
          if (c > cpu_cap + 1e-9) { print "cpu exceeded: " c " when " k " started"; bad = 1 }
          if (m > mem_cap) { print "memory exceeded: " m "G when " k " started"; bad = 1 }
          if (d > disk_cap) { print "disk exceeded: " d " bytes when " k " started"; bad = 1 }
        }
        END {
          printf "most at once: %d tasks, warehouse %d, api %d, cpu %g, memory %gG, disk %.0f%% of free;",
            maxn, maxp["warehouse"], maxp["api"], maxc, maxm, 100 * maxdisk / disk_cap
          printf " weekly_fan %d, monthly_close %d\n", maxd["weekly_fan"], maxd["monthly_close"]
          exit bad
        }' dagspec spec -
  ); then
    summary
    echo "$report"
    fail "a limit was exceeded"
  fi
  echo "$report"
  # Under pressure: the parallelism was reached (20 DAGs were ready at once).
  assert_contains "$report" "most at once: 6 tasks"

  # Conflicting DAGs: their runs never overlapped, by the ledger (first start to last end of
  # each DAG's tasks) and by the runs' own started_at / ended_at.
  local pair a b
  for pair in daily_ledger_a,daily_ledger_b writer_one,writer_two; do
    a=${pair%,*}
    b=${pair#*,}
    awk -v a="$a" -v b="$b" '
      $1 == a || $1 == b {
        if (!($1 in s) || $3 < s[$1]) s[$1] = $3
        if (!($1 in e) || $4 > e[$1]) e[$1] = $4
      }
      END { exit !(s[a] != "" && s[b] != "" && (e[a] <= s[b] || e[b] <= s[a])) }' ledger ||
      { summary; fail "the tasks of $a and $b overlapped: $(grep -E "^($a|$b) " ledger)"; }
    grep -qE "waits: DAG '($a|$b)' conflicts with '($a|$b)', which runs" log ||
      fail "no log line saying that $a or $b waited for the other"
    echo "$runs_json" | jq -e --arg a "$a" --arg b "$b" '
      (map(select(.dag_id == $a))[0]) as $x | (map(select(.dag_id == $b))[0]) as $y |
      ($x.ended_at <= $y.started_at) or ($y.ended_at <= $x.started_at)' >/dev/null ||
      fail "runs of $a and $b overlapped: $(echo "$runs_json" | jq -c --arg a "$a" --arg b "$b" \
        'map(select(.dag_id == $a or .dag_id == $b) | {dag_id, started_at, ended_at})')"
  done

  # The heavy task ran, alone among the tasks that declare cpu or disk; it became ready
  # (prep ended) while a disk task held its disk, and started only after that task ended.
  local heavy prep
  heavy=$(adm_span heavy_rebuild rebuild)
  prep=$(adm_span heavy_rebuild prep)
  [ -n "$heavy" ] || fail "heavy_rebuild.rebuild never ran"
  if ! awk -v hs="${heavy% *}" -v he="${heavy#* }" -v pe="${prep#* }" '
      FILENAME == "spec" { if ($5 != 0 || $7 != 0) needs[$1 " " $2] = 1; disk[$1 " " $2] = $7; next }
      {
        k = $1 " " $2
        if (k == "heavy_rebuild rebuild" || !(k in needs)) next
        if ($3 < he && hs < $4) { print "overlapped the heavy task: " $0; bad = 1 }
        if (disk[k] != 0 && $3 < pe && pe < $4) {
          waited = 1
          if (hs < $4) { print "the heavy task started before " k " ended"; bad = 1 }
        }
      }
      END {
        if (!waited) { print "no disk task was running when the heavy task became ready"; bad = 1 }
        exit bad
      }' spec ledger; then
    summary
    fail "the heavy task did not wait for the cpu and disk it needed"
  fi

  local took=$((SECONDS - t0))
  echo "server ran ${took}s"
}

# ---------------------------------------------------------------------------------------------
# 2. H schedules: hashed from the DAG id, spread, stable, and a server fires a DAG at its H
# minute and no other; jitter offsets start times inside the window.
t_admission_h_spread_and_jitter() {
  mkdir dags
  local i id
  for i in $(seq -w 0 29); do
    printf 'id: report_%s\nschedule: "H * * * *"\ntasks:\n  a: echo %s\n' "$i" "$i" >"dags/f$i.yaml"
  done
  for i in 0 1 2 3; do
    printf 'id: nightly_%s\nschedule: "H H * * *"\ntasks:\n  a: echo %s\n' "$i" "$i" >"dags/n$i.yaml"
  done
  ids() { for i in $(seq -w 0 29); do echo "report_$i"; done; for i in 0 1 2 3; do echo "nightly_$i"; done; }

  # signature ID: the distinct minutes (H * * * *) or times of day HH:MM (H H * * *) of the
  # next 5 fire times, which stay the same when the clock passes a fire time between two calls
  # (the hours of the next 5 hourly fires would not); also checks the header.
  signatures() {
    local id out
    for id in $(ids); do
      out=$("$GUST" dags next "$id" --dags dags -n 5)
      case $id in
        report_*)
          assert_eq "$(echo "$out" | head -1)" "DAG '$id': schedule 'H * * * *' in UTC" "header"
          echo "$id $(echo "$out" | awk 'NR > 2 { print substr($1, 15, 2) }' | sort -u | tr '\n' ' ')"
          ;;
        *)
          assert_eq "$(echo "$out" | head -1)" "DAG '$id': schedule 'H H * * *' in UTC" "header"
          echo "$id $(echo "$out" | awk 'NR > 2 { print substr($1, 12, 5) }' | sort -u | tr '\n' ' ')"
          ;;
      esac
    done
  }
  signatures >sig1
  signatures >sig2
  assert_eq "$(cat sig2)" "$(cat sig1)" "dags next, asked twice"
  # Each H * * * * DAG fires at one minute of every hour; each H H * * * DAG at one time a day.
  awk '/^report_/ && NF != 2 { print; exit 1 }' sig1 ||
    fail "an H * * * * DAG fires at different minutes: $(cat sig1)"
  awk '/^nightly_/ && NF != 2 { print; exit 1 }' sig1 || fail "an H H * * * DAG fires at different times of day"
  local distinct
  distinct=$(awk '/^report_/ { print $2 }' sig1 | sort -u | wc -l)
  echo "distinct minutes among 30 H * * * * DAGs: $distinct"
  [ "$distinct" -ge 20 ] || fail "H minutes are not spread: only $distinct distinct among 30: $(cat sig1)"
  [ "$(awk '/^nightly_/ { print $2 }' sig1 | cut -d: -f1 | sort -u | wc -l)" -ge 2 ] ||
    fail "H H * * * DAGs all fire in the same hour: $(grep nightly_ sig1)"
  # Renaming the files (the ids stay) and adding other DAGs changes nothing.
  for f in dags/*.yaml; do mv "$f" "dags/renamed_$(basename "$f")"; done
  printf 'id: report_extra\nschedule: "H * * * *"\ntasks:\n  a: echo x\n' >dags/extra.yaml
  signatures >sig3
  assert_eq "$(cat sig3)" "$(cat sig1)" "dags next after renaming the files"
  rm dags/extra.yaml

  # A server started 3 s before report_00's next fire time T creates its run at T (and the
  # run of any other DAG whose fire time is T), and no other run.
  local first t now expected
  first=$("$GUST" dags next report_00 --dags dags -n 1 | awk 'NR == 3 { print $1 }')
  t=$(date -u -d "$first" +%s)
  now=$(date -u -d "@$((t - 3))" +%Y-%m-%dT%H:%M:%SZ)
  # The DAGs that fire at T too, from their signatures (which do not depend on the clock).
  expected=$(awk -v hm="${first:11:5}" -v m="${first:14:2}" '
    /^report_/ && $2 == m { print $1 }
    /^nightly_/ && $2 == hm { print $1 }' sig1 | sort)
  assert_contains "$expected" report_00
  adm_start log --dags dags --now "$now"
  for id in $expected; do
    wait_for 20 grep -q "run $id@$first: success" log
  done
  local line ts
  line=$(grep "created run report_00@$first" log)
  ts=$(date -u -d "${line%% *}" +%s%3N)
  [ "$ts" -ge $((t * 1000)) ] && [ "$ts" -lt $((t * 1000 + 1000)) ] ||
    fail "report_00's run was not created within a second after $first: $line"
  assert_eq "$(grep -o "created run [^@]*" log | awk '{ print $3 }' | sort)" "$expected" \
    "DAGs whose runs were created"
  adm_stop

  # Jitter: the same fire times as without jitter; each start is a stable offset in [0, 10m),
  # not the same for every fire time.
  mkdir jdags
  printf 'schedule: "0 * * * *"\ntasks:\n  a: echo plain\n' >jdags/plain.yaml
  printf 'schedule: "0 * * * *"\njitter: 10m\ntasks:\n  a: echo jittered\n' >jdags/jit.yaml
  local j1 j2 p
  # (Asked again if an hour went by between the calls.)
  for i in 1 2 3; do
    j1=$("$GUST" dags next jit --dags jdags -n 300)
    p=$("$GUST" dags next plain --dags jdags -n 300)
    j2=$("$GUST" dags next jit --dags jdags -n 300)
    [ "$j1" != "$j2" ] || break
  done
  assert_eq "$j2" "$j1" "jitter start times, asked twice"
  assert_eq "$(echo "$j1" | head -1)" "DAG 'jit': schedule '0 * * * *' in UTC, jitter 10m" "header"
  assert_eq "$(echo "$j1" | sed -n 2p | tr -s ' ')" "FIRE TIME (UTC) LOCAL TIME STARTS (UTC)" "columns"
  [ "$(echo "$j1" | awk 'NR > 2 { print $1 }')" = "$(echo "$p" | awk 'NR > 2 { print $1 }')" ] ||
    fail "jitter changed the fire times"
  local offsets
  offsets=$(echo "$j1" | awk 'NR > 2 { print $1, $3 }' | while read -r f s; do
    echo $(($(date -u -d "$s" +%s) - $(date -u -d "$f" +%s)))
  done)
  echo "$offsets" | awk '$1 < 0 || $1 >= 600 { exit 1 }' ||
    fail "a jitter offset outside [0, 600) s: $(echo "$offsets" | tr '\n' ' ')"
  [ "$(echo "$offsets" | sort -u | wc -l)" -ge 100 ] ||
    fail "jitter offsets are not spread: $(echo "$offsets" | sort -u | wc -l) distinct among 300"

  # A server started 2 s before a fire time whose offset is 3..9 s creates that run at the
  # start time, not at the fire time.
  local pick fire start
  pick=$("$GUST" dags next jit --dags jdags -n 3000 | awk 'NR > 2 { print $1, $3 }' |
    while read -r f s; do
      o=$(($(date -u -d "$s" +%s) - $(date -u -d "$f" +%s)))
      if [ "$o" -ge 3 ] && [ "$o" -le 9 ]; then echo "$f $s"; break; fi
    done)
  [ -n "$pick" ] || fail "no fire time with a jitter of 3 to 9 s among the next 3000"
  fire=${pick% *}
  start=${pick#* }
  rm -rf home
  adm_start jlog --dags jdags --now "$(date -u -d "@$(($(date -u -d "$fire" +%s) - 2))" +%Y-%m-%dT%H:%M:%SZ)"
  wait_for 20 grep -q "run plain@$fire: success" jlog
  wait_for 20 grep -q "run jit@$fire: success" jlog
  adm_stop
  local pc jc
  pc=$(grep "created run plain@$fire" jlog)
  jc=$(grep "created run jit@$fire" jlog)
  ts=$(date -u -d "${jc%% *}" +%s%3N)
  [ "$ts" -ge "$(date -u -d "$start" +%s%3N)" ] && [ "$ts" -lt $(($(date -u -d "$start" +%s%3N) + 1000)) ] ||
    fail "jit's run for $fire should be created at $start: $jc"
  ts=$(date -u -d "${pc%% *}" +%s%3N)
  [ "$ts" -lt $(($(date -u -d "$fire" +%s%3N) + 1000)) ] || fail "plain's run was late: $pc"
  echo "jittered run for $fire created at ${jc%% *} (starts $start)"
}

# ---------------------------------------------------------------------------------------------
# 3. A task that can never fit (more cpu than the host, more pool_slots than its pool) fails
# at once with a message, without an attempt, while the tasks of the same run that fit run.
t_admission_never_fits_fails_at_once() {
  mkdir dags home
  printf 'host: {cpu: 2, memory: 8G}\npools:\n  small: 2\n' >home/config.yaml
  adm_task_script
  local go=$PWD/go
  cat >dags/nf.yaml <<YAML
schedule: "@daily"
end_date: 2024-03-01T00:00:00Z
tasks:
  huge: {run: sh $PWD/task.sh 0.1, resources: {cpu: 3}}
  after_huge: {run: sh $PWD/task.sh 0.1, depends: huge}
  fat: {run: sh $PWD/task.sh 0.1, pool: small, pool_slots: 3}
  fits_cpu: {run: sh $PWD/task.sh 0.2 $go, resources: {cpu: 2}}
  fits_pool: {run: sh $PWD/task.sh 0.2 $go, pool: small, pool_slots: 2}
YAML
  local run="nf@2024-03-01T00:00:00Z"
  adm_start log --dags dags --now 2024-02-29T23:59:58Z
  state_of() { # TASK
    "$GUST" tasks list "$run" --home "$PWD/home" --json | jq -r --arg t "$1" '.[] | select(.task_id == $t) | .state'
  }
  state_is() { [ "$(state_of "$1")" = "$2" ]; }
  # Both never-fitting tasks fail while the ones that fit are still running (they wait for ./go).
  wait_for 20 state_is huge failed
  wait_for 20 state_is fat failed
  wait_for 20 state_is fits_cpu running
  wait_for 20 state_is fits_pool running
  assert_eq "$(state_of after_huge)" upstream_failed "after_huge"
  local tasks
  tasks=$("$GUST" tasks list "$run" --home "$PWD/home" --json)
  msg() { echo "$tasks" | jq -r --arg t "$1" '.[] | select(.task_id == $t) | .message'; }
  assert_contains "$(msg huge)" "cannot start"
  assert_contains "$(msg huge)" "cpu 3"
  assert_contains "$(msg huge)" "host has 2"
  assert_contains "$(msg fat)" "cannot start"
  assert_contains "$(msg fat)" "small"
  assert_contains "$(msg fat)" "3"
  echo "huge: $(msg huge)"
  echo "fat: $(msg fat)"
  # At once: without an attempt, at the run's start (server clock).
  assert_eq "$(echo "$tasks" | jq -r '.[] | select(.task_id == "huge" or .task_id == "fat") | .try_number' | sort -u)" 0 "tries of never-fitting tasks"
  [ ! -e home/logs/nf/"$run"/huge ] || fail "huge got an attempt folder"
  local started ended
  started=$("$GUST" runs list --home "$PWD/home" --json | jq -r '.[0].started_at')
  for t in huge fat; do
    ended=$(echo "$tasks" | jq -r --arg t "$t" '.[] | select(.task_id == $t) | .ended_at')
    [ $(($(date -u -d "$ended" +%s%3N) - $(date -u -d "$started" +%s%3N))) -lt 1000 ] ||
      fail "$t failed at $ended, not at once (run started $started)"
  done
  grep -q "huge cannot start" log || fail "no log line for huge: $(cat log)"
  touch go
  wait_for 20 grep -q "run $run: failed" log
  adm_stop
  assert_eq "$(state_of fits_cpu)" success "fits_cpu"
  assert_eq "$(state_of fits_pool)" success "fits_pool"
  assert_eq "$(awk '{ print $2 }' ledger | sort | tr '\n' ' ')" "fits_cpu fits_pool " "tasks that ran"
}

# ---------------------------------------------------------------------------------------------
# 4. `gust why` names the pool that holds a waiting task back, with its numbers.
t_admission_why_names_the_full_pool() {
  mkdir dags home
  printf 'pools:\n  one: 1\n' >home/config.yaml
  adm_task_script
  cat >dags/w.yaml <<YAML
schedule: "@daily"
end_date: 2024-03-01T00:00:00Z
tasks:
  holder: {run: sh $PWD/task.sh 0.1 $PWD/go, pool: one, priority: 10}
  waiter: {run: sh $PWD/task.sh 0.1, pool: one}
YAML
  local run="w@2024-03-01T00:00:00Z"
  adm_start log --dags dags --now 2024-02-29T23:59:58Z
  wait_for 20 test -e started/w.holder
  local why
  why=$("$GUST" why "$run" waiter --home "$PWD/home")
  echo "$why"
  assert_contains "$why" "waiter in run $run: scheduled"
  assert_contains "$why" "pool 'one'"
  assert_contains "$why" "1 of 1"
  assert_contains "$why" "holder"
  assert_not_contains "$why" "no server is running"
  [ ! -e started/w.waiter ] || fail "waiter started while holder held the only slot"
  touch go
  wait_for 20 grep -q "run $run: success" log
  adm_stop
  why=$("$GUST" why "$run" waiter --home "$PWD/home")
  assert_contains "$why" "success"
  # They never ran at once.
  local h w
  h=$(adm_span w holder)
  w=$(adm_span w waiter)
  awk -v he="${h#* }" -v ws="${w% *}" 'BEGIN { exit !(he <= ws) }' ||
    fail "waiter ($w) started before holder ($h) ended"
}

# ---------------------------------------------------------------------------------------------
# 5. A pool resized while the server runs: 1 slot, 3 tasks (one runs, two wait); at 3 slots
# the two others start while the first still runs.
t_admission_pool_resize_at_runtime() {
  mkdir dags
  export GUST_HOME=$PWD/home
  "$GUST" pools set narrow 1 >/dev/null
  adm_task_script
  {
    printf 'schedule: "@daily"\nend_date: 2024-03-01T00:00:00Z\ntasks:\n'
    for i in 1 2 3; do
      printf '  t%d: {run: sh %s/task.sh 0.3 %s/go, pool: narrow}\n' "$i" "$PWD" "$PWD"
    done
  } >dags/r.yaml
  local run="r@2024-03-01T00:00:00Z"
  adm_start log --dags dags --now 2024-02-29T23:59:58Z
  pool_is() { # RUNNING WAITING
    [ "$("$GUST" pools list --json | jq -r '.[] | select(.name == "narrow") | "\(.running) \(.waiting)"')" = "$1 $2" ]
  }
  wait_for 20 pool_is 1 2
  assert_eq "$(ls started | wc -l)" 1 "tasks started with 1 slot"
  local waiting
  waiting=$(cd started && for i in 1 2 3; do [ -e "r.t$i" ] || echo "t$i"; done | head -1)
  assert_contains "$("$GUST" why "$run" "$waiting")" "pool 'narrow'"
  "$GUST" pools set narrow 3 >out
  assert_contains "$(cat out)" "pool 'narrow': 3 slots (was 1)"
  wait_for 20 pool_is 3 0
  all_started() { [ "$(ls started | wc -l)" = 3 ]; }
  wait_for 20 all_started
  touch go
  wait_for 20 grep -q "run $run: success" log
  adm_stop
  # All three intervals overlap: the latest start is before the earliest end.
  assert_eq "$(wc -l <ledger)" 3 "ledger lines"
  awk '{ if (NR == 1 || $3 > s) s = $3; if (NR == 1 || $4 < e) e = $4 } END { exit !(s < e) }' ledger ||
    fail "the three tasks did not run at once: $(cat ledger)"
}
