#!/bin/sh
# bench/chaos.sh - the chaos test of tests/e2e/test_chaos.sh for a long time (see
# bench/README.md, "Chaos"): a server with four live DAGs, files mutated from the corpora
# dropped into its DAG folder without a break (tests/chaos/mutate.py), the live DAGs edited,
# broken and fixed every 30 s; at the end the checks of tests/chaos/check.py and a table.
#
# Environment:
#   CHAOS_SECONDS=3600   how long files keep coming
#   CHAOS_RATE=33        generator operations per second (the e2e test: 2,000 in 60 s)
#   CHAOS_SEED=1         the generator's seed
#   CHAOS_HUGE=N         huge files, spread evenly (default one a minute, at least 7)
#   CHAOS_FAULTS=N       parser faults, cycling crash, memory, hang (default 3 every 10
#                        minutes, at least 1): GUST_TEST_PARSER_FAULTS=1 is set for the server
#   CHAOS_MAX_PRESENT=3000  the generator deletes its oldest entries beyond this many
#   CHAOS_LATE_MS=1000   how late a scheduled run may be created or started
#   GUST=PATH            the binary (default build/bench/gust, built if missing)
#   BENCH_SERVER_DIR=/work  where the run's folder is made (removed at the end unless
#                        CHAOS_KEEP=1)
#
# Prints a markdown table. Exits 1 if the server died or the checks found a problem (the
# table is printed either way).
set -eu
# Servers listen for the HTTP API on a free port, not 8080 (which may be taken).
export GUST_LISTEN=${GUST_LISTEN:-127.0.0.1:0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
GUST=${GUST:-$ROOT/build/bench/gust}
SECONDS_=${CHAOS_SECONDS:-3600}
RATE=${CHAOS_RATE:-33}
SEED=${CHAOS_SEED:-1}
HUGE=${CHAOS_HUGE:-$((SECONDS_ / 60 > 7 ? SECONDS_ / 60 : 7))}
FAULTS=${CHAOS_FAULTS:-$((SECONDS_ * 3 / 600 > 1 ? SECONDS_ * 3 / 600 : 1))}
MAX_PRESENT=${CHAOS_MAX_PRESENT:-3000}
LATE_MS=${CHAOS_LATE_MS:-1000}
COUNT=$((SECONDS_ * RATE))

die() {
	echo "chaos: $*" >&2
	exit 1
}

if [ ! -x "$GUST" ]; then
	echo "building $GUST ..." >&2
	make -C "$ROOT" O=build/bench -j2 >/dev/null || die "build failed"
fi
[ -x "$GUST" ] || die "no binary at $GUST"
GUST=$(cd "$(dirname "$GUST")" && pwd)/$(basename "$GUST")
command -v python3 >/dev/null || die "python3 is missing (scripts/deps.sh installs it)"

DIR=$(mktemp -d "${BENCH_SERVER_DIR:-/work}/gust-bench-chaos-XXXXXX")
SERVER_PID=""
GEN_PID=""
cleanup() {
	[ -z "$GEN_PID" ] || kill "$GEN_PID" 2>/dev/null || true
	[ -z "$SERVER_PID" ] || kill -TERM "$SERVER_PID" 2>/dev/null || true
	if [ "${CHAOS_KEEP:-0}" = 1 ]; then
		echo "chaos: kept $DIR" >&2
	else
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$DIR"

now_ms() { date +%s%3N; }
alive() { # the server exists and is not a zombie
	st=$(awk '{print $3}' "/proc/$SERVER_PID/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
wait_line() { # SECONDS PATTERN: until the log has a line with PATTERN (fixed string)
	end=$(($(now_ms) + $1 * 1000))
	until grep -qF -- "$2" log; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		alive || return 1
		sleep 0.2
	done
}

mkdir dags
cat >dags/chaos_live_fast.yaml <<'YAML'
id: chaos_live_fast
schedule: "@every 2s"
tasks:
  a: echo fast
  b:
    depends: [a]
    run: echo fast b
YAML
cat >dags/chaos_live_long.yaml <<'YAML'
id: chaos_live_long
schedule: "@every 5s"
max_active_runs: 2
tasks:
  long: echo long-v1; sleep 6
YAML
cat >dags/chaos_live_cron.yaml <<'YAML'
id: chaos_live_cron
schedule: "* * * * *"
tasks:
  a: echo cron
YAML
edit_v() { printf 'id: chaos_live_edit\nschedule: "@every 3s"\ntasks:\n  a: echo edit-v%s\n' "$1"; }
edit_v 1 >dags/chaos_live_edit.yaml

GUST_TEST_PARSER_FAULTS=1 "$GUST" server --home "$DIR/home" --dags dags 2>log &
SERVER_PID=$!
t_start=$(now_ms)
wait_line 60 "server: ready" || die "the server did not get ready: $(tail -3 log)"
rss_start=$(rss_kb)
rss_max=$rss_start

echo "chaos: $COUNT operations over $SECONDS_ s (seed $SEED, $HUGE huge files, $FAULTS faults," \
	"at most $MAX_PRESENT entries); server pid $SERVER_PID in $DIR" >&2
python3 "$ROOT/tests/chaos/mutate.py" --out dags --count "$COUNT" --seconds "$SECONDS_" \
	--seed "$SEED" --huge "$HUGE" --faults "$FAULTS" --max-present "$MAX_PRESENT" \
	--live chaos_live_fast --live chaos_live_long --live chaos_live_edit \
	--live chaos_live_cron --live-file dags/chaos_live_fast.yaml \
	--live-file dags/chaos_live_cron.yaml --manifest manifest.jsonl >mutate.out &
GEN_PID=$!
t_gen=$(now_ms)

# Every 30 s: the edited DAG gets a new version, every third time a broken one; the long DAG
# a new version every 5 minutes. Its RSS is sampled, and whether it is alive.
k=1
died_at=""
while kill -0 "$GEN_PID" 2>/dev/null; do
	next=$(($(now_ms) + 30000))
	while [ "$(now_ms)" -lt "$next" ] && kill -0 "$GEN_PID" 2>/dev/null; do
		sleep 1
		if ! alive; then
			died_at=${died_at:-$(now_ms)}
		fi
	done
	[ -z "$died_at" ] || break
	k=$((k + 1))
	if [ $((k % 3)) -eq 0 ]; then
		printf 'id: chaos_live_edit\nschedule: "@every 3s"\ntasks:\n  a:\n    depends: [nope]\n    run: echo broken\n' \
			>dags/chaos_live_edit.yaml
	else
		edit_v "$k" >edit.tmp && mv edit.tmp dags/chaos_live_edit.yaml
	fi
	if [ $((k % 10)) -eq 0 ]; then
		sed "s/long-v[0-9]*/long-v$k/" dags/chaos_live_long.yaml >long.tmp
		mv long.tmp dags/chaos_live_long.yaml
	fi
	r=$(rss_kb)
	[ "${r:-0}" -le "$rss_max" ] || rss_max=$r
done
gen_rc=0
wait "$GEN_PID" || gen_rc=$?
GEN_PID=""
t_gen_end=$(now_ms)
[ -n "$died_at" ] || alive || died_at=$(now_ms)

settle_ms=-1
if [ -z "$died_at" ]; then
	# Once the sentinel is loaded, every earlier file has been answered (one processor, FIFO).
	edit_v 99 >edit.tmp && mv edit.tmp dags/chaos_live_edit.yaml
	printf 'tasks:\n  a: echo sentinel\n' >dags/chaos_zz_sentinel.yaml
	if wait_line 600 "loaded dags/chaos_zz_sentinel.yaml"; then
		settle_ms=$(($(now_ms) - t_gen_end))
	fi
	alive || died_at=$(now_ms)
fi
rss_end=$(rss_kb)

check_rc=0
if [ -z "$died_at" ]; then
	python3 "$ROOT/tests/chaos/check.py" --gust "$GUST" --home home --dags dags --log log \
		--late-ms "$LATE_MS" --examples 5 --json summary.json --live chaos_live_fast \
		--live chaos_live_long --live chaos_live_edit --live chaos_live_cron >check.out 2>&1 ||
		check_rc=$?
else
	python3 "$ROOT/tests/chaos/check.py" --gust "$GUST" --home home --dags dags --log log \
		--late-ms "$LATE_MS" --examples 5 --json summary.json --only schedules >check.out 2>&1 ||
		check_rc=$?
fi
t_end=$(now_ms)
stop_rc=-
if [ -z "$died_at" ]; then
	kill -TERM "$SERVER_PID"
	stop_rc=0
	wait "$SERVER_PID" || stop_rc=$?
fi
SERVER_PID=""

# ---- the table --------------------------------------------------------------------------
loaded=$(grep -c "INFO  dagbag: loaded " log || true)
broken=$(grep -cE "WARN  dagbag: .* is broken" log || true)
unreadable=$(grep -cE "WARN  dagbag: .*: error: " log || true)
# The processor's restarts: the figure of the server's last line ("server: stopped; ... DAG
# processor: N files, M restarts") if it has one, else the lines about restarts.
stopline=$(grep "server: stopped" log | tail -1)
restarts=$(echo "$stopline" | sed -n 's/.*processor: .* \([0-9][0-9]*\) restarts.*/\1/p')
[ -n "$restarts" ] || restarts=$(grep -i processor log | grep -v "server: stopped" | grep -ci restart || true)
turn=$(echo "$stopline" | sed -n 's/.*longest loop turn \([0-9.]* ms\).*/\1/p')
failures=$(grep -cE "the parser (crashed|ran out of time|ran out of memory)" log || true)
ops=$(tail -1 mutate.out | sed -n 's/^mutate: \([0-9]*\) operations.*/\1/p')
byop=$(tail -1 mutate.out | sed -n 's/^mutate: [^:]*: \(.*\); .*/\1/p')
uptime_s=$(((${died_at:-$t_end} - t_start) / 1000))
j() { python3 -c "import json,sys; d=json.load(open('summary.json')); print($1)" 2>/dev/null || echo "?"; }
if [ -n "$died_at" ]; then alive_txt="**no: died after $uptime_s s**"; else alive_txt=yes; fi

echo
echo "### chaos: $(date -u +%Y-%m-%dT%H:%MZ), $SECONDS_ s, seed $SEED"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| generator | ${ops:-?} operations in $(((t_gen_end - t_gen) / 1000)) s (exit $gen_rc): ${byop:-?} |"
echo "| files processed by the server (log lines) | $((loaded + broken + unreadable)): $loaded loaded, $broken broken, $unreadable unreadable / too big / not regular |"
echo "| files present at the end: reported broken by \`dags list\` | $(j 'd["files"]["present"]') present, $(j 'd["files"]["broken"]') broken per \`dags validate\`; $(j 'd["files"]["reported"]') reported (same-id files, which validate accepts, included), $(j 'd["files"]["loaded"]') loaded, $(j 'd["files"]["unreported"]') unreported ($(j 'd["files"]["unseen"]') never seen) |"
echo "| parser restarts (the server's stop line, else log lines with 'processor' and 'restart') | $restarts |"
echo "| longest loop turn (the server's stop line) | ${turn:--} |"
echo "| parser failures reported (crashed / out of time / out of memory) | $failures |"
echo "| server uptime | $uptime_s s; alive at the end: $alive_txt; exit status after SIGTERM: $stop_rc |"
echo "| server RSS (start / max / end) | $((rss_start / 1024)) / $((rss_max / 1024)) / $((${rss_end:-0} / 1024)) MB |"
echo "| scheduled runs: expected / on time (late limit $LATE_MS ms) | $(j 'd["schedules"]["expected"]') / $(j 'd["schedules"]["on_time"]') ($(j 'd["schedules"]["missed"]') missed, $(j 'd["schedules"]["late_created"]') created late, $(j 'd["schedules"]["late_started"]') started late, $(j 'd["schedules"]["failed"]') failed; $(j 'd["schedules"]["dags"]') DAGs); runs for a fire time before the DAG's file existed: $(j 'd["schedules"]["before_seen"]') |"
echo "| settled after the last file | $settle_ms ms |"
echo "| problems (tests/chaos/check.py) | $(j '", ".join("%s %d" % kv for kv in sorted(d["problems"].items())) or "none"') |"
echo
grep '^PROBLEM' check.out | cut -c1-300 | sed 's/^/    /' || true
[ -z "$died_at" ] && [ "$check_rc" -eq 0 ] && [ "$stop_rc" = 0 ]
