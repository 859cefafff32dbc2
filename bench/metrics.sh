#!/usr/bin/env bash
# bench/metrics.sh - the cost of GET /metrics with many runs in the store (docs/metrics.md).
#
#   bench/metrics.sh [N]    N DAGs due at the same midnight (default 1000), two tasks each:
#                           N runs and 2N task instances in the store; then 200 scrapes timed,
#                           and, for comparison, the COUNT by state a scrape does NOT do.
# Environment: GUST (default build/gust), BENCH_DIR (default /tmp).
# Prints a markdown table. Sanity checks only (counts); no timing assertions.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GUST=${GUST:-$ROOT/build/gust}
N=${1:-1000}
W=$(mktemp -d "${BENCH_DIR:-/tmp}/gust-metrics-bench.XXXXXX")
PW=correct-horse-battery-staple
trap 'kill -TERM "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/dags" "$W/home"
for i in $(seq 1 "$N"); do
  printf 'schedule: "@daily"\ntasks:\n  a: "true"\n  b:\n    run: "true"\n    depends: [a]\n' \
    >"$W/dags/d$i.yaml"
done
GUST_LISTEN=127.0.0.1:0 GUST_ADMIN_PASSWORD=$PW "$GUST" server --home "$W/home" \
  --dags "$W/dags" --now 2024-02-29T23:59:57Z 2>"$W/log" &
spid=$!
until grep -q "server: ready" "$W/log"; do sleep 0.1; done
base=$(sed -n 's/.*http: listening on \(http[s]*:\/\/[^ ]*\).*/\1/p' "$W/log" | tail -1)
tok=$("$GUST" tokens create --user admin --name bench --home "$W/home" 2>/dev/null)
value() { curl -sS -H "Authorization: Bearer $tok" "$base/metrics" | awk -v s="$1" '$1 == s {print $2}'; }
deadline=$((SECONDS + 600))
until [ "$(value 'gust_runs_ended_total{state="success"}')" = "$N" ]; do
  [ $SECONDS -lt $deadline ] || { echo "bench: the $N runs did not end in 600 s" >&2; exit 1; }
  sleep 0.5
done
runs=$(sqlite3 "$W/home/gust.db" 'select count(*) from runs')
tis=$(sqlite3 "$W/home/gust.db" 'select count(*) from task_instances')
[ "$runs" = "$N" ] && [ "$tis" = "$((2 * N))" ] || { echo "bench: store has $runs runs, $tis TIs" >&2; exit 1; }

# 200 scrapes, one connection each (as Prometheus makes one request per scrape).
for _ in $(seq 1 200); do
  curl -sS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $tok" "$base/metrics"
done | sort -n >"$W/scrapes"
q() { awk -v p="$1" '{v[NR] = $1} END {i = int(NR * p); if (i < 1) i = 1; printf "%.2f", v[i] * 1000}' "$W/scrapes"; }
bytes=$(curl -sS -H "Authorization: Bearer $tok" "$base/metrics" | wc -c)
# What a scrape would cost if it counted the store by state (it does not): the query alone,
# best of 20, on the server's own database (warm cache).
count_ms=$(python3 - "$W/home/gust.db" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
best = 1e9
for _ in range(20):
    t = time.perf_counter()
    db.execute("select state, count(*) from task_instances group by state").fetchall()
    db.execute("select state, count(*) from runs group by state").fetchall()
    best = min(best, time.perf_counter() - t)
print(f"{best * 1000:.2f}")
PY
)
echo "### GET /metrics with $N runs, $((2 * N)) task instances in the store"
echo
echo "| what | value |"
echo "|---|---|"
echo "| scrape, median (curl, new connection each) | $(q 0.5) ms |"
echo "| scrape, 99th percentile | $(q 0.99) ms |"
echo "| response size | $bytes bytes |"
echo "| COUNT by state over runs and task_instances (not done by a scrape), best of 20 | $count_ms ms |"
