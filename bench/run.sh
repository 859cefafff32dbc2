#!/bin/sh
# bench/run.sh - gust benchmarks (see bench/README.md).
#
#   bench/run.sh validate    5,000 DAG files of 20 tasks; one DAG of 100,000 tasks
#   bench/run.sh exec        W1 wide / W2 chain / W3 fan-out fan-in, against make -j2
#   bench/run.sh server      gust server: 1,000 DAGs due at midnight, idle CPU, W1/W2 via a run
#   bench/run.sh admit       admission control alone: one step at 1k, 10k, 100k waiting
#   bench/run.sh loop        the server loop's longest turn while a 100,000-task DAG is re-parsed
#   bench/run.sh all         all five
#   bench/run.sh profile     hot spots: callgrind on validate, perf on exec (not in all)
#
# Environment:
#   GUST=PATH          the binary to measure (default build/bench/gust; built with
#                      `make O=build/bench -j2` if missing)
#   BENCH_ADMIT=PATH   the admission benchmark (default build/bench/bench-admit, brought up
#                      to date with `make O=build/bench -j2 bench` first)
#   BENCH_QUICK=1      small sizes (a smoke test of the harness, a few seconds)
#   BENCH_DIAG=0       skip the diagnostic rows (tmpfs home, no zygote, executor alone)
#   BENCH_W1_MAX_S=30  if one gust W1 run takes longer than this, it is not repeated
#   BENCH_SERVER_DIR=/work  where `server` makes its folder (not /tmp: slow file creation here)
#   BENCH_SERVER_PARTS="midnight idle e2e"  which parts of `server` to run (default all)
#   BENCH_DURABILITY="normal full"  `server` e2e: one server per durability (default normal)
#   BENCH_E2E_REPS=3   `server` e2e repetitions
#
# Prints markdown tables. Sanity checks only (exit codes, counts); no timing assertions.
set -eu
# Servers listen for the HTTP API on a free port, not 8080 (which may be taken).
export GUST_LISTEN=${GUST_LISTEN:-127.0.0.1:0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
GUST=${GUST:-$ROOT/build/bench/gust}
QUICK=${BENCH_QUICK:-0}
DIAG=${BENCH_DIAG:-1}
W1_MAX_S=${BENCH_W1_MAX_S:-30}
ADMIT=${BENCH_ADMIT:-$ROOT/build/bench/bench-admit}
CC=${CC:-cc}
MODE=${1:-all}

if [ "$QUICK" = 1 ]; then
	N_FILES=200 N_BIG=10000 N_W1=500 N_W2=100 N_W3=100 REPS_V=3 REPS_X=3
	REPS_A=1 ADMIT_ARGS="-s 200 -t 0 -w 50" CG_STEPS=50
else
	N_FILES=5000 N_BIG=100000 N_W1=10000 N_W2=1000 N_W3=1000 REPS_V=5 REPS_X=3
	REPS_A=5 ADMIT_ARGS="" CG_STEPS=500
fi

die() {
	echo "bench: $*" >&2
	exit 1
}

WORK=$(mktemp -d /tmp/gust-bench-XXXXXX)
SHM=""
SRV=""
cleanup() {
	rm -rf "$WORK"
	[ -z "$SRV" ] || rm -rf "$SRV"
	[ -z "$SHM" ] || rm -rf "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# `admit` measures the library alone: no gust binary needed.
if [ "$MODE" != admit ]; then
	if [ ! -x "$GUST" ]; then
		echo "building $GUST ..." >&2
		make -C "$ROOT" O=build/bench -j2 >/dev/null || die "build failed"
	fi
	[ -x "$GUST" ] || die "no binary at $GUST"
fi
$CC -O2 -o "$WORK/measure" "$BENCH/measure.c" || die "cannot compile measure.c"
$CC -O2 -o "$WORK/spawn_loop" "$BENCH/spawn_loop.c" || die "cannot compile spawn_loop.c"
M="$WORK/measure"

# stats FILE -> "median min max" of column 1 (wall seconds); FILE has one line per run.
stats() {
	cut -d' ' -f1 "$1" | sort -g | awk '{v[NR]=$1} END {
		if (NR % 2) m = v[(NR+1)/2]; else m = (v[NR/2] + v[NR/2+1]) / 2;
		printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
# maxrss FILE -> largest column 2 in MB
maxrss() {
	awk '$2 > m {m = $2} END {printf "%.1f\n", m / 1024}' "$1"
}
nruns() {
	wc -l <"$1" | tr -d ' '
}
# colstats FILE COL -> "median min max" of column COL
colstats() {
	cut -d' ' -f"$2" "$1" | sort -g | awk '{v[NR]=$1} END {
		if (NR % 2) m = v[(NR+1)/2]; else m = (v[NR/2] + v[NR/2+1]) / 2;
		print m, v[1], v[NR] }'
}

# machine_line [BINARY]: when, where, and what is measured (default $GUST)
machine_line() {
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) vCPU;" \
		"load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "gust: ${1:-$GUST} ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null ||
		echo '?') + working tree)"
}

# ---------------------------------------------------------------- validate

bench_validate() {
	echo
	echo "## validate"
	echo
	machine_line
	d="$WORK/many"
	t0=$(date +%s)
	python3 "$BENCH/gen_dags.py" many "$d" "$N_FILES" 20
	big="$WORK/big.yaml"
	python3 "$BENCH/gen_dags.py" big "$big" "$N_BIG"
	echo "generated $N_FILES files ($(du -sk "$d" | cut -f1) KB) and a $N_BIG-task DAG" \
		"($(du -k "$big" | cut -f1) KB) in $(($(date +%s) - t0)) s"

	# sanity: every file valid, one 'ok' line each
	out="$WORK/validate.out"
	"$GUST" dags validate "$d" >"$out" 2>&1 || { tail -5 "$out" >&2; die "validate failed on $d"; }
	ok=$(grep -c ': ok' "$out" || true)
	[ "$ok" = "$N_FILES" ] || die "expected $N_FILES ok lines, got $ok"
	"$GUST" dags validate "$big" >"$out" 2>&1 || { tail -5 "$out" >&2; die "validate failed on $big"; }
	grep -q "$N_BIG tasks" "$out" || die "big DAG: expected '$N_BIG tasks' in: $(cat "$out")"
	# sanity: validate really looks (one broken file makes the folder invalid)
	mkdir "$WORK/broken" && cp "$d/dag_00000.yaml" "$WORK/broken/"
	printf '  zz_bad:\n    run: "true"\n    depends: [no_such_task]\n' >>"$WORK/broken/dag_00000.yaml"
	if "$GUST" dags validate --quiet "$WORK/broken" >/dev/null 2>&1; then
		die "a DAG with a missing dependency validated"
	fi

	r1="$WORK/v_many.txt" r2="$WORK/v_big.txt"
	: >"$r1"
	: >"$r2"
	i=0
	while [ $i -lt "$REPS_V" ]; do
		"$M" "$r1" "$GUST" dags validate --quiet "$d" >/dev/null 2>&1 || die "validate $d: exit $?"
		"$M" "$r2" "$GUST" dags validate --quiet "$big" >/dev/null 2>&1 || die "validate $big: exit $?"
		i=$((i + 1))
	done
	set -- $(stats "$r1")
	fps=$(awk -v n="$N_FILES" -v t="$1" 'BEGIN {printf "%.0f", n / t}')
	pass1=$(awk -v t="$1" 'BEGIN {print (t < 2.0) ? "yes" : "NO"}')
	rss1=$(maxrss "$r1")
	m1=$1 lo1=$2 hi1=$3
	set -- $(stats "$r2")
	tps=$(awk -v n="$N_BIG" -v t="$1" 'BEGIN {printf "%.0f", n / t}')
	rss2=$(maxrss "$r2")
	pass2=$(awk -v t="$1" -v r="$rss2" 'BEGIN {print (t < 1.0 && r < 200) ? "yes" : "NO"}')
	echo
	echo "| input | runs | median s | min s | max s | rate | peak RSS MB | goal | met |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
	echo "| $N_FILES files x 20 tasks (folder) | $(nruns "$r1") | $m1 | $lo1 | $hi1 | $fps files/s | $rss1 | < 2 s | $pass1 |"
	echo "| 1 file x $N_BIG tasks | $(nruns "$r2") | $1 | $2 | $3 | $tps tasks/s | $rss2 | < 1 s, < 200 MB | $pass2 |"
	# the files stay until exit (see run_gust on why deleting them would skew later runs)
}

# ---------------------------------------------------------------- exec

# run_make NAME REPS: make -j2 on $WORK/NAME.mk
run_make() {
	res="$WORK/x_make_$1.txt"
	: >"$res"
	i=0
	while [ $i -lt "$2" ]; do
		"$M" "$res" make -s -j2 -f "$WORK/$1.mk" >/dev/null 2>&1 || die "make $1: exit $?"
		i=$((i + 1))
	done
}

# run_gust NAME TASKS REPS HOMEBASE [MAX_S]: gust dags test at parallelism 2, a fresh home per
# run; checks exit 0 and one outcome file per task. Stops repeating after a run longer than
# MAX_S seconds. Homes are kept until the script exits: on an ext4 without a journal (this
# VM's root) inode allocation skips inodes freed in the last minutes (recently_deleted()), so
# deleting one run's 50,000 files would slow the next run's mkdir/creat several-fold.
run_gust() {
	res="$WORK/x_gust_$1_$(basename "$4").txt"
	: >"$res"
	i=0
	while [ $i -lt "$3" ]; do
		h="$4/home-$1-$i"
		"$M" "$res" "$GUST" dags test --parallelism 2 --quiet --home "$h" "$WORK/$1.yaml" \
			>/dev/null 2>&1 || die "gust dags test $1: exit $?"
		got=$(find "$h/logs" -name outcome | wc -l | tr -d ' ')
		[ "$got" = "$2" ] || die "gust $1: expected $2 outcome files, found $got"
		i=$((i + 1))
		if [ $# -ge 5 ] && [ $i -lt "$3" ]; then
			last=$(tail -1 "$res" | cut -d' ' -f1)
			if awk -v t="$last" -v m="$5" 'BEGIN {exit !(t > m)}'; then
				echo "(gust $1: one run took ${last} s > ${5} s, not repeated)" >&2
				break
			fi
		fi
	done
}

# run_floor NAME TASKS PAR REPS: bare posix_spawn loop
run_floor() {
	res="$WORK/x_floor_$1.txt"
	: >"$res"
	i=0
	while [ $i -lt "$4" ]; do
		"$M" "$res" "$WORK/spawn_loop" "$2" "$3" >/dev/null || die "spawn_loop: exit $?"
		i=$((i + 1))
	done
}

# row WORKLOAD TASKS PERDIV PERLABEL GOAL_KIND GOAL MAKE_RES GUST_RES
row() {
	set -- "$@" $(stats "$7") $(stats "$8")
	# $9.. = make median min max, gust median min max
	mk=$9 gm=${12} glo=${13} ghi=${14}
	ratio=$(awk -v g="$gm" -v m="$mk" 'BEGIN {printf "%.1f", g / m}')
	per=$(awk -v g="$gm" -v n="$3" 'BEGIN {printf "%.2f", g * 1000 / n}')
	mper=$(awk -v g="$mk" -v n="$3" 'BEGIN {printf "%.2f", g * 1000 / n}')
	if [ "$5" = ratio ]; then
		met=$(awk -v r="$ratio" 'BEGIN {print (r <= 1.5) ? "yes" : "NO"}')
	else
		met=$(awk -v p="$per" 'BEGIN {print (p < 2.0) ? "yes" : "NO"}')
	fi
	runs=$(nruns "$8")
	echo "| $1 | $2 | $mk | $gm ($glo-$ghi, $runs runs) | ${ratio}x | $mper | $per${4:+ $4} | $6 | $met |"
}

bench_exec() {
	echo
	echo "## exec (parallelism 2, every task runs \`true\`)"
	echo
	machine_line
	python3 "$BENCH/gen_dags.py" wide "$WORK" "$N_W1"
	python3 "$BENCH/gen_dags.py" chain "$WORK" "$N_W2"
	python3 "$BENCH/gen_dags.py" diamond "$WORK" "$N_W3"
	n3=$((N_W3 + 2))
	mkdir -p "$WORK/tmp"
	T0=$(date +%s)

	run_make w1 "$REPS_X"
	run_make w2 "$REPS_X"
	run_make w3 "$REPS_X"
	run_floor w1 "$N_W1" 2 "$REPS_X"
	run_floor w2 "$N_W2" 1 "$REPS_X"
	run_floor w3 "$n3" 2 "$REPS_X"
	run_gust w2 "$N_W2" "$REPS_X" "$WORK/tmp"
	run_gust w3 "$n3" "$REPS_X" "$WORK/tmp"
	run_gust w1 "$N_W1" "$REPS_X" "$WORK/tmp" "$W1_MAX_S"

	echo
	echo "| workload | tasks | make -j2 median s | gust median s (min-max) | gust/make | make ms per task | gust ms per task | goal | met |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
	row "W1 wide" "$N_W1" "$N_W1" "" ratio "<= 1.5x make" \
		"$WORK/x_make_w1.txt" "$WORK/x_gust_w1_tmp.txt"
	row "W2 chain" "$N_W2" "$N_W2" "per hop" hop "< 2 ms/hop" \
		"$WORK/x_make_w2.txt" "$WORK/x_gust_w2_tmp.txt"
	row "W3 1->$N_W3->1" "$n3" "$n3" "" ratio "<= 1.5x make" \
		"$WORK/x_make_w3.txt" "$WORK/x_gust_w3_tmp.txt"

	echo
	echo "Bare loop baseline (posix_spawn of /bin/true, no files, no engine; W2 one at a time):"
	echo
	echo "| workload | tasks | floor median s (min-max) | floor ms per task |"
	echo "|---|---:|---:|---:|"
	for w in w1 w2 w3; do
		case $w in w1) n=$N_W1 ;; w2) n=$N_W2 ;; w3) n=$n3 ;; esac
		set -- $(stats "$WORK/x_floor_$w.txt")
		echo "| $w | $n | $1 ($2-$3) | $(awk -v g="$1" -v n="$n" 'BEGIN {printf "%.3f", g * 1000 / n}') |"
	done

	if [ "$DIAG" = 1 ]; then
		bench_exec_diag
	fi
	echo
	echo "exec section: $(($(date +%s) - T0)) s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Where gust's time goes: the same W2/W3 with --home on tmpfs (no ext4 metadata cost), and the
# local executor alone (bench/exec_loop.c: no engine, no YAML, attempt dirs made beforehand).
bench_exec_diag() {
	echo
	echo "Diagnostics (1 run each):"
	echo
	echo "| variant | tasks | wall s | ms per task |"
	echo "|---|---:|---:|---:|"
	if [ -d /dev/shm ] && SHM=$(mktemp -d /dev/shm/gust-bench-XXXXXX 2>/dev/null); then
		for w in w2 w3; do
			case $w in w2) n=$N_W2 ;; w3) n=$n3 ;; esac
			run_gust $w "$n" 1 "$SHM"
			t=$(cut -d' ' -f1 "$WORK/x_gust_${w}_$(basename "$SHM").txt")
			echo "| gust $w, --home on tmpfs (/dev/shm) | $n | $(printf '%.3f' "$t") |" \
				"$(awk -v g="$t" -v n="$n" 'BEGIN {printf "%.2f", g * 1000 / n}') |"
		done
	fi
	# The same W3 with supervisors forked by the launcher itself (no zygote), for comparison.
	res="$WORK/x_gust_w3_nozyg.txt"
	h="$WORK/tmp/home-w3-nozyg"
	GUST_EXEC_ZYGOTE=0 "$M" "$res" "$GUST" dags test --parallelism 2 --quiet --home "$h" \
		"$WORK/w3.yaml" >/dev/null 2>&1 || die "gust w3 without zygote: exit $?"
	t=$(cut -d' ' -f1 "$res")
	echo "| gust w3, GUST_EXEC_ZYGOTE=0 (supervisors forked by the launcher) | $n3 |" \
		"$(printf '%.3f' "$t") | $(awk -v g="$t" -v n="$n3" 'BEGIN {printf "%.2f", g * 1000 / n}') |"
	lib="$(dirname "$GUST")/libgust.a"
	if [ -f "$BENCH/exec_loop.c" ] && [ -f "$lib" ] &&
		$CC -O2 -D_GNU_SOURCE -I"$ROOT/src" -o "$WORK/exec_loop" "$BENCH/exec_loop.c" "$lib" \
			$(pkg-config --libs yaml-0.1 jansson icu-i18n icu-uc) -lm 2>/dev/null; then
		for p in 1 2; do
			n=$((p == 1 ? N_W2 / 2 : N_W2))
			out=$(TMPDIR="$WORK" "$WORK/exec_loop" "$n" "$p" true) || die "exec_loop: $out"
			t=$(echo "$out" | sed -n 's/.*: \([0-9.]*\) s,.*/\1/p')
			echo "| local executor alone (exec_loop), parallelism $p | $n | $t |" \
				"$(awk -v g="$t" -v n="$n" 'BEGIN {printf "%.2f", g * 1000 / n}') |"
		done
	fi
}

# ---------------------------------------------------------------- server

# `gust server`: see bench/server_bench.py (generation, servers, log parsing, sanity checks).
# Homes go under BENCH_SERVER_DIR (default /work), not /tmp, where file creation is slow on
# this VM; they are removed on exit.
bench_server() {
	echo
	echo "## server"
	echo
	machine_line
	base=${BENCH_SERVER_DIR:-/work}
	[ -d "$base" ] && [ -w "$base" ] || base=$WORK
	SRV=$(mktemp -d "$base/gust-bench-server-XXXXXX")
	q=""
	[ "$QUICK" = 1 ] && q=--quick
	# shellcheck disable=SC2086 # q and the parts are words
	python3 -u "$BENCH/server_bench.py" "$GUST" "$SRV" $q ${BENCH_SERVER_PARTS:-} ||
		die "server benchmark failed"
}

# ---------------------------------------------------------------- admit

# ratio A B [FMT] -> A / B
ratio() {
	awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {printf f, a / b}'
}

# Admission control (src/engine/admit.c) alone, through bench/bench_admit.c: N waiting
# instances over 1,000 DAGs and 20 pools, one step = 64 releases, admit_next until none, 64
# adds. Wall time: REPS_A invocations; a row gives the median of their medians and the range.
# Instructions: one callgrind run per N counting only the measured steps (--toggle-collect),
# a figure the other tenants of this 2-vCPU VM cannot disturb.
bench_admit() {
	echo
	echo "## admit"
	echo
	if [ -z "${BENCH_ADMIT:-}" ]; then
		# Always (make is incremental): a stale binary would measure old code.
		make -C "$ROOT" O=build/bench -j2 bench >/dev/null || die "build failed"
	fi
	[ -x "$ADMIT" ] || die "no binary at $ADMIT"
	machine_line "$ADMIT"
	sizes="1000 10000 100000"
	raw="$WORK/admit.txt"
	: >"$raw"
	i=0
	while [ $i -lt "$REPS_A" ]; do
		# shellcheck disable=SC2086 # ADMIT_ARGS is a list of options
		"$ADMIT" -r $ADMIT_ARGS $sizes >>"$raw" || die "bench-admit: exit $?"
		i=$((i + 1))
	done
	cg=0
	command -v valgrind >/dev/null && cg=1
	: >"$WORK/cga.ir"
	for n in $sizes; do
		[ $cg = 1 ] || break
		out="$WORK/cga.$n"
		valgrind --tool=callgrind --toggle-collect=measured_step \
			--callgrind-out-file="$out" "$ADMIT" -r -s "$CG_STEPS" -t 0 "$n" \
			>"$out.txt" 2>"$out.err" ||
			die "bench-admit under callgrind: exit $?"
		started=$(cut -d' ' -f3 "$out.txt")
		ir=$(awk '/^summary:/ {print $2}' "$out")
		if [ -z "$ir" ] || [ "${started:-0}" -le 0 ]; then
			die "callgrind: no totals for N=$n"
		fi
		echo "$n $(ratio "$ir" "$started" %.0f)" >>"$WORK/cga.ir"
	done

	echo
	echo "| waiting | runs | started per step | step median us (min-max) | step p99 us |" \
		"ns per started task (min-max) | x 1k | instructions per started task | x 1k |" \
		"fill ns per add |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	ns1="" ir1="" ir="-"
	for n in $sizes; do
		f="$WORK/admit.$n"
		awk -v n="$n" '$1 == n' "$raw" >"$f"
		set -- $(colstats "$f" 5) $(colstats "$f" 6) $(colstats "$f" 7) $(colstats "$f" 4)
		# $1-3 step median (min, max), $4 p99, $7-9 ns per started task, $10 fill
		ns=$7
		[ -n "$ns1" ] || ns1=$ns
		step=$(awk -v m="$1" -v l="$2" -v h="$3" \
			'BEGIN {printf "%.1f (%.1f-%.1f)", m / 1e3, l / 1e3, h / 1e3}')
		irx="-"
		if [ $cg = 1 ]; then
			ir=$(awk -v n="$n" '$1 == n {print $2}' "$WORK/cga.ir")
			[ -n "$ir1" ] || ir1=$ir
			irx=$(ratio "$ir" "$ir1")
		fi
		per=$(awk '{s += $3; t += $2} END {printf "%.1f", s / t}' "$f")
		echo "| $n | $(nruns "$f") | $per | $step | $(ratio "$4" 1000 %.1f) |" \
			"$ns ($8-$9) | $(ratio "$ns" "$ns1") |" \
			"$ir | $irx | ${10} |"
	done
	echo
	r=$(ratio "$ns" "$ns1")
	echo "ns per started task, 100k / 1k: ${r}x (goal: flat, ideally < 2x):" \
		"$(awk -v r="$r" 'BEGIN {print (r < 2) ? "yes" : "NO"}')"
	if [ $cg = 0 ]; then
		echo "(valgrind missing: no instruction counts)"
		return 0
	fi
	echo "instructions per started task, 100k / 1k: $(ratio "$ir" "$ir1")x"
	command -v callgrind_annotate >/dev/null || return 0
	for n in 1000 100000; do
		echo
		echo "callgrind, $n waiting: top functions by instructions (self, measured steps)"
		echo '```'
		callgrind_annotate --inclusive=no "$WORK/cga.$n" 2>/dev/null |
			grep -E '^ *[0-9,]+ \(' | grep -v 'PROGRAM TOTALS' | head -8 |
			sed 's/ \[.*\]$//; s|[^ ]*/||'
		echo '```'
	done
}

# ---------------------------------------------------------------- profile

# Where the time goes (not part of `all`): callgrind on validate (instructions by function),
# perf on exec (CPU by symbol; off-CPU time of supervisor exits). Needs valgrind and perf.
bench_profile() {
	echo
	echo "## profile"
	echo
	machine_line
	python3 "$BENCH/gen_dags.py" many "$WORK/many" 500 20
	python3 "$BENCH/gen_dags.py" big "$WORK/big.yaml" 20000
	if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
		for in in "$WORK/many" "$WORK/big.yaml"; do
			echo
			echo "callgrind: gust dags validate --quiet $(basename "$in") (top functions, % of Ir)"
			echo '```'
			valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
				"$GUST" dags validate --quiet "$in" >/dev/null 2>&1 || true
			callgrind_annotate --inclusive=no --threshold=100 "$WORK/cg.out" 2>/dev/null \
				>"$WORK/cg.txt"
			grep -E '^ *[0-9,]+ \(' "$WORK/cg.txt" | head -15
			echo "by object:"
			grep -E '^ *[0-9,]+ \(.*\[' "$WORK/cg.txt" | grep -v 'PROGRAM TOTALS' |
				sed 's/^ *\([0-9,]*\) .*\[\(.*\)\]$/\1 \2/' | tr -d , |
				awk '{t += $1} $2 ~ /^\// {ir[$2] += $1} END {for (o in ir)
					printf "  %5.1f%%  %s\n", 100 * ir[o] / t, o}' | sort -rn | head -6
			echo '```'
		done
	fi
	command -v perf >/dev/null || { echo "(perf missing: no exec profile)"; return 0; }
	python3 "$BENCH/gen_dags.py" chain "$WORK" 200
	python3 "$BENCH/gen_dags.py" diamond "$WORK" 500
	h="$WORK/phome"
	echo
	echo "perf: W3 1->500->1, CPU samples by process and symbol (self %, top 15)"
	echo '```'
	perf record -q -F 2000 -g -o "$WORK/perf.data" -- "$GUST" dags test --parallelism 2 \
		--quiet --home "$h" "$WORK/w3.yaml" >/dev/null 2>&1 || true
	perf report -i "$WORK/perf.data" --stdio --no-children --sort comm,sym -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -15
	echo '```'
	rm -rf "$h"
	echo
	echo "perf: W2 chain of 200, supervisor exit blocked on inotify teardown (off-CPU)"
	echo '```'
	perf record -q -a -g -e sched:sched_switch -o "$WORK/sched.data" -- "$GUST" dags test \
		--parallelism 2 --quiet --home "$h" "$WORK/w2.yaml" >/dev/null 2>&1 || true
	perf script -i "$WORK/sched.data" -F comm,pid,time,trace,ip,sym >"$WORK/sched.txt" 2>/dev/null
	# first line of DIR/supervisor: "SUPERVISOR_PID START_TIME"
	find "$h" -name supervisor -exec head -qn1 {} + | cut -d' ' -f1 >"$WORK/pids"
	python3 "$BENCH/sched_exit.py" "$WORK/sched.txt" "$WORK/pids" || true
	echo '```'
	rm -rf "$h"
}

case "$MODE" in
validate) bench_validate ;;
exec) bench_exec ;;
server) bench_server ;;
admit) bench_admit ;;
profile) bench_profile ;;
loop) GUST="$GUST" N_BIG="$N_BIG" sh "$BENCH/loop_pause.sh" ;;
all)
	bench_validate
	bench_exec
	bench_server
	bench_admit
	GUST="$GUST" N_BIG="$N_BIG" sh "$BENCH/loop_pause.sh"
	;;
*)
	echo "usage: bench/run.sh validate|exec|server|admit|loop|all|profile" >&2
	exit 2
	;;
esac
