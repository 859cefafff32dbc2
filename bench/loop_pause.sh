#!/bin/sh
# bench/loop_pause.sh - the scheduling loop's longest turn while a 100,000-task DAG is parsed
# and re-parsed by the DAG processor (issue 9's goal: under 10 ms). Run by `bench/run.sh loop`.
#
# A server runs a DAG scheduled every second; a 100,000-task DAG (bench/gen_dags.py big) is
# dropped into its folder and then edited REPS times (a comment appended: a new content, so a
# full parse, compile and weights each time). The server reports its longest loop turn when it
# stops; the same is measured in a second server that gets no big DAG (the baseline).
set -eu
# Servers listen for the HTTP API on a free port, not 8080 (which may be taken).
export GUST_LISTEN=${GUST_LISTEN:-127.0.0.1:0}
GUST=${GUST:?}
BENCH=$(cd "$(dirname "$0")" && pwd)
N=${N_BIG:-100000}
REPS=${REPS:-3}
W=$(mktemp -d "${BENCH_SERVER_DIR:-/work}/gust-bench-loop-XXXXXX")
trap 'rm -rf "$W"' EXIT
python3 "$BENCH/gen_dags.py" big "$W/big.yaml" "$N" >/dev/null

wait_line() { # LOG PATTERN COUNT
	i=0
	while :; do
		n=$(grep -c "$2" "$1" 2>/dev/null) || true
		[ "${n:-0}" -lt "$3" ] || break
		i=$((i + 1))
		[ $i -lt 1200 ] || { echo "bench: timed out waiting for '$2' in $1" >&2; exit 1; }
		sleep 0.1
	done
}

run_one() { # NAME WITH_BIG
	d="$W/$1"
	mkdir -p "$d/dags" "$d/home"
	printf 'schedule: "@every 1s"\ntasks:\n  t: "true"\n' >"$d/dags/tick.yaml"
	"$GUST" server --home "$d/home" --dags "$d/dags" 2>"$d/log" &
	pid=$!
	wait_line "$d/log" "server: ready" 1
	t0=$(date +%s%N)
	if [ "$2" = 1 ]; then
		cp "$W/big.yaml" "$d/big.tmp"
		mv "$d/big.tmp" "$d/dags/big.yaml"
		wait_line "$d/log" "loaded $d/dags/big.yaml" 1
		k=1
		while [ $k -le "$REPS" ]; do
			cp "$d/dags/big.yaml" "$d/big.tmp"
			echo "# edit $k" >>"$d/big.tmp"
			mv "$d/big.tmp" "$d/dags/big.yaml"
			k=$((k + 1))
			wait_line "$d/log" "loaded $d/dags/big.yaml" "$k"
		done
	else
		sleep 5
	fi
	t1=$(date +%s%N)
	kill -TERM $pid
	wait $pid || true
	turn=$(sed -n 's/.*longest loop turn \([0-9.]*\) ms.*/\1/p' "$d/log")
	ticks=$(grep -c "run tick@.*: success" "$d/log" || true)
	parse=$(sed -n 's/.*DAG .big. version [0-9]*, [0-9]* tasks, schedule [^ ]* (parsed in \([0-9]*\) ms, compiled in \([0-9]*\) ms).*/\1+\2/p' "$d/log" | tr '\n' ' ')
	echo "| $1 | $(( (t1 - t0) / 1000000 )) | ${parse:--} | $ticks | $turn |"
}

echo "## loop: longest turn of the scheduling loop while a $N-task DAG is re-parsed"
echo
echo "| server | window ms | big DAG: processor ms + load/compile/weights ms, per version | tick runs | longest loop turn ms |"
echo "|---|---:|---|---:|---:|"
run_one baseline 0
run_one big 1
