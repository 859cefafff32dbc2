#!/bin/sh
# bench/api.sh - the HTTP API under load (issue 10; figures in bench/README.md "HTTP API").
#
# A store with RUNS finished runs of a 50-task DAG (default 10,000: 500,000 task instances,
# written straight into the SQLite file as fixture data while no server runs), then
# `gust server` on it, and wrk (Debian's) with CONNS concurrent connections on each route for
# DURATION seconds: the DAG listing, a page of runs, a run's task instances, a log tail.
# Then W1 (WIDE independent `true` tasks, one run) through the server, alone and while wrk
# loads the run listing, to show what API load costs the scheduling.
#
#   BENCH_API_RUNS=10000  BENCH_API_CONNS=100  BENCH_API_SECONDS=10  BENCH_API_WIDE=300
#   GUST=PATH (default build/bench/gust, built if missing)
#
# Prints markdown tables. Sanity checks only (non-2xx answers are reported, not hidden).
set -eu
[ "${BENCH_API_TRACE:-0}" = 1 ] && set -x
export GUST_LISTEN=127.0.0.1:0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GUST=${GUST:-$ROOT/build/bench/gust}
RUNS=${BENCH_API_RUNS:-10000}
CONNS=${BENCH_API_CONNS:-100}
SECS=${BENCH_API_SECONDS:-10}
WIDE=${BENCH_API_WIDE:-300}
PW=bench-password-long-enough

command -v wrk >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq wrk >/dev/null
[ -x "$GUST" ] || make -C "$ROOT" -s -j2 O=build/bench all
WORK=$(mktemp -d "${BENCH_SERVER_DIR:-/work}/gust-bench-api.XXXXXX")
trap 'kill $SPID 2>/dev/null; [ "${BENCH_API_KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir -p dags home

python3 - "$WIDE" <<'PY'
import sys
wide = int(sys.argv[1])
with open("dags/fifty.yaml", "w") as f:
    f.write("tasks:\n")
    for i in range(50):
        dep = f", depends: [t{i-1:02d}]" if i % 10 else ""
        f.write(f"  t{i:02d}: {{run: 'echo t{i:02d}'{dep}}}\n")
with open("dags/wide.yaml", "w") as f:
    f.write("max_active_tasks: 64\ntasks:\n")
    for i in range(wide):
        f.write(f"  w{i:04d}: {{run: 'true'}}\n")
for i in range(20):
    with open(f"dags/other{i:02d}.yaml", "w") as f:
        f.write(f"schedule: '@daily'\ntags: [bench]\ntasks:\n  a: {{run: 'true'}}\n")
PY

start_server() {
  cat log >>log.all 2>/dev/null || true
  : >log
  GUST_ADMIN_PASSWORD=$PW "$GUST" server --home home --dags dags 2>log &
  SPID=$!
  i=0
  until grep -q "server: ready" log 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 600 ] || { echo "server did not start"; cat log; exit 1; }
    sleep 0.1
  done
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' log | tail -1)/api/v1
}

stop_server() {
  kill -TERM $SPID; wait $SPID || true
}

run_until_done() { # RUN_ID: waits for the run to end
  while :; do
    st=$(curl -sS -H "Authorization: Bearer $TOK" "$URL/runs/$1" | jq -r .state)
    case "$st" in success | failed | cancelled) return ;; esac
    sleep 0.05
  done
}

# One real run of the 50-task DAG, for its logs; then stop and add the fixture runs.
start_server
TOK=$("$GUST" tokens create --user admin --name bench --home home 2>/dev/null)
REAL=$(curl -sS -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' -d '{}' \
  "$URL/dags/fifty/runs" | jq -r .run_id)
run_until_done "$REAL"
stop_server
t0=$(date +%s%N)
python3 - "$RUNS" <<'PY'
import sqlite3, sys
n = int(sys.argv[1])
db = sqlite3.connect("home/gust.db")
import time
base = int(time.time() * 1000) - n * 60_000 - 3_600_000  # recent: within retention
runs, tis = [], []
for r in range(n):
    rid = f"fifty@manual-fixture-{r:06d}"
    t = base + r * 60_000
    runs.append((rid, "fifty", 1, "manual", t, "success" if r % 7 else "failed", t, t + 10, t + 5000))
    for i in range(50):
        tis.append((rid, f"t{i:02d}", -1, "success", 1, t, t + i * 100, t + i * 100 + 90, 0))
db.executemany("INSERT INTO runs (run_id, dag_id, version, kind, logical_date, state, "
               "created_at, started_at, ended_at) VALUES (?,?,?,?,?,?,?,?,?)", runs)
db.executemany("INSERT INTO task_instances (run_id, task_id, map_index, state, try_number, "
               "queued_at, started_at, ended_at, exit_code) VALUES (?,?,?,?,?,?,?,?,?)", tis)
db.commit()
PY
t1=$(date +%s%N)
start_server

H="Authorization: Bearer $TOK"
echo "## HTTP API under load: $RUNS runs of 50 tasks in the store, $CONNS connections, ${SECS}s per route, 4 HTTP threads, $(nproc) cores"
echo
echo "(fixture: $((RUNS * 50)) task instances written in $(( (t1 - t0) / 1000000 )) ms)"
echo
echo "| route | requests/s | p50 | p90 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
bench_route() { # LABEL PATH
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "$H" "$URL$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p90=$(echo "$out" | awk '$1 == "90%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  [ -n "$rps" ] && [ "$rps" != 0.00 ] || echo "wrk on $2: $out" >&2
  echo "| $1 | $rps | $p50 | $p90 | $p99 | ${bad:-0} |"
}
bench_route "GET /dags (22 DAGs)" "/dags"
bench_route "GET /runs?limit=50 (first page)" "/runs?limit=50"
DEEP=$(curl -sS -H "$H" "$URL/runs?limit=500&dag_id=fifty" | jq -r .next_cursor)
for _ in $(seq $((RUNS * 4 / 5 / 500 - 1))); do
  NEXT=$(curl -sS -H "$H" "$URL/runs?limit=500&dag_id=fifty&cursor=$DEEP" | jq -r .next_cursor)
  [ "$NEXT" = null ] && break
  DEEP=$NEXT
done
[ "$DEEP" = null ] ||
  bench_route "GET /runs?limit=50 (a page $((RUNS * 4 / 5)) runs deep)" "/runs?limit=50&dag_id=fifty&cursor=$DEEP"
enc() { printf '%s' "$1" | sed 's/@/%40/g; s/:/%3A/g'; }
MID=$(printf 'fifty@manual-fixture-%06d' $((RUNS / 2)))
bench_route "GET /runs/{id}/tasks (50 instances)" "/runs/$(enc "$MID")/tasks"
bench_route "GET .../logs?tail=20" "/runs/$(enc "$REAL")/tasks/t05/logs?tail=20"

# W1 through the server: alone, then while wrk loads the run listing.
w1() {
  s=$(date +%s%N)
  r=$(curl -sS -H "$H" -H 'Content-Type: application/json' -d '{}' "$URL/dags/wide/runs" | jq -r .run_id)
  run_until_done "$r"
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
a1=$(w1); a2=$(w1); a3=$(w1)
alone=$(median3 "$a1" "$a2" "$a3")
wrk -t2 -c"$CONNS" -d60s -H "$H" "$URL/runs?limit=50" >/dev/null 2>&1 &
WPID=$!
sleep 1
b1=$(w1); b2=$(w1); b3=$(w1)
kill $WPID 2>/dev/null; wait $WPID 2>/dev/null || true
loaded=$(median3 "$b1" "$b2" "$b3")
echo
echo "| W1: $WIDE independent tasks, one run, through the server | median of 3 (ms) | runs (ms) |"
echo "|---|---|---|"
echo "| alone | $alone | $a1, $a2, $a3 |"
echo "| while $CONNS connections load GET /runs | $loaded | $b1, $b2, $b3 |"
echo "| slowdown | $(awk -v a="$alone" -v b="$loaded" 'BEGIN {printf "%.0f%%", (b - a) * 100 / a}') | goal < 20% |"
stop_server
grep -o 'longest loop turn [0-9.]* ms' log | tail -1
