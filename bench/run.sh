#!/usr/bin/env bash
# Runs the client comparison end to end and writes bench/RESULTS.md (tables,
# targets, ratios round by round, benchstat), the chart
# bench/results/ratios.svg, and the results blocks of bench/README.md and
# of the repository's README.md.
#
#   bench/run.sh                      # the full run: COUNT=9, -benchtime 700ms (~22 min on 2 cores)
#   COUNT=2 QUICK=1 bench/run.sh      # a smoke run: -benchtime 100ms, short redis-benchmark runs
#
# Settings (environment):
#   COUNT      rounds (default 9): each runs every client once
#   QUICK=1    short benchtime and redis-benchmark runs; README is left alone
#              unless UPDATE_README=1
#   BENCHTIME  go test -benchtime (default 700ms, QUICK: 100ms)
#   BENCH      regexp for the top-level benchmarks (default: all), e.g. '^BenchmarkParallelGet$';
#              any benchmark named Workload/param/net=…/client=… is picked up,
#              e.g. BenchmarkCacheHit/conc=1/net=tcp/client=rueidis
#   CLIENTS    space-separated clients (default: justredis go-redis rueidis redigo radix)
#   CEILING=0  skip redis-benchmark
#   NOTE       a line added to the results header
#   GUEST_HALT_POLL_NS
#              on a Linux guest whose cpuidle governor is haltpoll, how long
#              an idle vCPU polls before it halts (ns), set for the run and
#              put back after (needs root); the header says what it was
#              either way, and the command line in it pins it. The kernel's
#              default is 200000. At 0 every single-caller round trip waits
#              for two vCPU wake-ups by the hypervisor, which swamps what the
#              clients themselves cost (bench/README.md, Machine).
#
# How it runs: cmd/servers starts one standalone redis-server (TCP + unix
# socket) and clusters of 3 and 15 masters through redistest with
# JUSTREDIS_TEST_BACKEND=process (plain local processes: no container
# networking in the way), on loopback ports. The test binary is built once.
# A row is one benchmark without its client (BenchmarkSeq/op=get/net=unix);
# a pass with -benchtime 1x lists them. Each round takes the rows one by
# one. A row many goroutines run (parallel, cluster, cache) runs every
# client in its own process (`-test.count 1`), one right after another in
# an order rotated per round and row. A row one goroutine runs (Seq,
# Pipeline, GetLarge) runs all clients in one process, taking turns of
# 50ms (TestTurns in turns_test.go), since a single caller's latency
# drifts by 2-4x over seconds on a shared virtual machine (the vCPUs'
# placement): clients measured seconds apart were being compared with
# another machine. Then redis-benchmark runs against the same server. The
# client processes run with -cpu 2
# (GOMAXPROCS=2). Everything is appended to one raw file per kind, each
# run's output after a "round: N" line; cmd/table pairs the clients within
# each round for the ratios, and takes medians, targets and the chart from
# the same file.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

COUNT=${COUNT:-9}
QUICK=${QUICK:-0}
CEILING=${CEILING:-1}
CLIENTS=${CLIENTS:-"justredis go-redis rueidis redigo radix"}
BENCH=${BENCH:-.}
if [ "$QUICK" = 1 ]; then
	BENCHTIME=${BENCHTIME:-100ms}
	RB_N1=20000     # requests for redis-benchmark -P 1
	RB_N16=100000   # and -P 16
	UPDATE_README=${UPDATE_README:-0}
else
	BENCHTIME=${BENCHTIME:-700ms}
	RB_N1=100000
	RB_N16=500000
	UPDATE_README=${UPDATE_README:-1}
fi
export JUSTREDIS_TEST_BACKEND=process

# The guest's halt polling is checked before anything is installed or
# started, so that a bad setting fails at once.
haltpoll=/sys/module/haltpoll/parameters/guest_halt_poll_ns
governor=$(cat /sys/devices/system/cpu/cpuidle/current_governor 2>/dev/null || echo none)
halt_ns= # the setting in effect during the run, where it applies
if [ "$governor" = haltpoll ] && [ -r "$haltpoll" ]; then
	halt_ns=$(cat "$haltpoll")
fi
if [ -n "${GUEST_HALT_POLL_NS:-}" ]; then
	case "$GUEST_HALT_POLL_NS" in
	*[!0-9]*)
		echo "run.sh: GUEST_HALT_POLL_NS=$GUEST_HALT_POLL_NS: want a whole number of nanoseconds, e.g. 200000" >&2
		exit 1
		;;
	esac
	if [ "$governor" != haltpoll ] || [ ! -w "$haltpoll" ]; then
		echo "run.sh: GUEST_HALT_POLL_NS is set, but the cpuidle governor is $governor, not haltpoll, or $haltpoll is not writable (root)" >&2
		exit 1
	fi
	halt_ns=$GUEST_HALT_POLL_NS
fi

# The exact command, for the results header: only the settings that differ
# from the defaults, and the halt polling wherever it applies, since the
# single-caller rows depend on it.
prefix=
for v in COUNT QUICK BENCHTIME BENCH CLIENTS CEILING; do
	val=${!v}
	case "$v=$val" in
	COUNT=9 | QUICK=0 | CEILING=1 | BENCH=. | "CLIENTS=justredis go-redis rueidis redigo radix") continue ;;
	BENCHTIME=700ms) [ "$QUICK" = 1 ] || continue ;;
	BENCHTIME=100ms) [ "$QUICK" = 1 ] && continue ;;
	esac
	case "$val" in
	*[!A-Za-z0-9._-]*) prefix+="$v='$val' " ;;
	*) prefix+="$v=$val " ;;
	esac
done
[ -n "$halt_ns" ] && prefix+="GUEST_HALT_POLL_NS=$halt_ns "
repro="${prefix}bench/run.sh"

need_redis() {
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
		echo "run.sh: redis-server or redis-benchmark is missing: installing redis-server with apt-get" >&2
		sudo=$([ "$(id -u)" = 0 ] || echo sudo)
		$sudo apt-get update -q && $sudo apt-get install -y -q redis-server redis-tools
	fi
}
need_redis

benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ]; then
	benchstat="$(go env GOPATH)/bin/benchstat"
	if [ ! -x "$benchstat" ]; then
		echo "run.sh: installing benchstat" >&2
		go install golang.org/x/perf/cmd/benchstat@latest
	fi
fi

work=$(mktemp -d)
servers_pid=
haltpoll_was=
cleanup() {
	# A second Ctrl-C must not cut this short: the machine's setting goes
	# back first.
	trap '' INT TERM
	if [ -n "$haltpoll_was" ]; then
		echo "$haltpoll_was" >"$haltpoll" || echo "run.sh: could not put $haltpoll back to $haltpoll_was" >&2
	fi
	if [ -n "$servers_pid" ]; then
		kill "$servers_pid" 2>/dev/null || true
		wait "$servers_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# idle_policy says how this machine's idle vCPUs wait, for the header.
idle_policy() {
	local driver
	driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)
	printf 'cpuidle driver %s, governor %s' "$driver" "$governor"
	[ -n "$halt_ns" ] && printf ', guest_halt_poll_ns=%s' "$(cat "$haltpoll")"
	return 0
}
if [ -n "${GUEST_HALT_POLL_NS:-}" ]; then
	haltpoll_was=$(cat "$haltpoll")
	echo "$GUEST_HALT_POLL_NS" >"$haltpoll"
fi

echo "run.sh: building" >&2
go build -o "$work/servers" ./cmd/servers
go build -o "$work/table" ./cmd/table
go test -c -o "$work/bench.test" .

echo "run.sh: starting the servers" >&2
"$work/servers" -env "$work/env" &
servers_pid=$!
for _ in $(seq 1 600); do
	[ -f "$work/env" ] && break
	kill -0 "$servers_pid" 2>/dev/null || { echo "run.sh: cmd/servers exited" >&2; exit 1; }
	sleep 0.1
done
[ -f "$work/env" ] || { echo "run.sh: the servers did not start within 60s" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$work/env"
set +a
echo "run.sh: redis $BENCH_REDIS_VERSION at $BENCH_ADDR and $BENCH_UNIX, clusters of 3 and 15 masters" >&2

mkdir -p results
raw=results/bench.txt
ceil=results/ceiling.txt
: >"$raw"
: >"$ceil"
failures=()

# pattern turns a row's name into a -test.bench pattern that matches it
# alone, level by level, for client $2.
pattern() { # row client
	local part out=
	local IFS=/
	for part in $1 "client=$2"; do
		part=$(printf '%s' "$part" | sed 's/[][\.*^$+?(){}|]/\\&/g')
		out+="${out:+/}^$part\$"
	done
	printf '%s' "$out"
}

run_client() { # client round row
	local c=$1 i=$2 row=$3 log="$work/run.log"
	echo "round: $i" >>"$raw" # a benchfmt configuration line: cmd/table pairs clients by it
	if ! "$work/bench.test" -test.run '^$' -test.bench "$(pattern "$row" "$c")" \
		-test.benchtime "$BENCHTIME" -test.count 1 -test.cpu 2 -test.benchmem \
		-test.timeout 20m >"$log" 2>&1; then
		failures+=("round $i, $row, $c: $(grep -m3 -E 'FAIL|Error|error|panic' "$log" | tr '\n' ' ')")
	fi
	cat "$log" >>"$raw"
}

# run_turns runs a single-caller row with every client in one process,
# taking turns of 50ms (turns_test.go says why), as many as fill
# BENCHTIME per client.
run_turns() { # round row
	local i=$1 row=$2 log="$work/run.log" ms turns
	ms=$(go_duration_ms "$BENCHTIME")
	turns=$((ms / 50))
	[ "$turns" -ge 2 ] || turns=2
	local -a cs=($CLIENTS)
	local k=$(((i - 1) % ${#cs[@]}))
	echo "round: $i" >>"$raw"
	# Rotated by round, so no one always goes first.
	if ! BENCH_TURNS_ROW="$row" BENCH_TURNS_CLIENTS="${cs[*]:k} ${cs[*]:0:k}" BENCH_TURNS="$turns" BENCH_TURN=50ms \
		"$work/bench.test" -test.run '^TestTurns$' -test.count 1 -test.cpu 2 -test.timeout 20m >"$log" 2>&1; then
		failures+=("round $i, $row: $(grep -m3 -E 'FAIL|Error|error|panic' "$log" | tr '\n' ' ')")
	fi
	grep '^Benchmark' "$log" >>"$raw" || true
}

# go_duration_ms reads a -benchtime such as 700ms or 2s; a count (100x)
# or anything else counts as 700ms.
go_duration_ms() {
	case "$1" in
	*ms) echo "${1%ms}" ;;
	*s) awk -v s="${1%s}" 'BEGIN { printf "%d", s * 1000 }' ;;
	*) echo 700 ;;
	esac
}

# single_caller says whether a row is one of those run_turns measures.
single_caller() {
	case "$1" in
	Seq/* | Pipeline/* | GetLarge/*) return 0 ;;
	esac
	return 1
}

run_ceiling() { # round
	local i=$1 p net n rps
	for p in 1 16; do
		n=$RB_N1
		[ "$p" = 16 ] && n=$RB_N16
		for net in tcp unix; do
			if [ "$net" = tcp ]; then
				set -- -h "${BENCH_ADDR%:*}" -p "${BENCH_ADDR##*:}"
			else
				set -- -s "$BENCH_UNIX"
			fi
			rps=$(redis-benchmark "$@" -c 50 -n "$n" -P "$p" -t set,get -d 16 --csv -q 2>/dev/null |
				awk -F'","' '$1 == "\"GET" { print $2; exit }' | tr -d '"')
			if [ -z "$rps" ]; then
				failures+=("round $i, redis-benchmark -P $p $net: no GET result")
				continue
			fi
			echo "BenchmarkRedisBenchmark/P=$p/net=$net/client=redis-benchmark 1 $rps gets/s" >>"$ceil"
		done
	done
}

start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)

echo "run.sh: listing the benchmarks" >&2
if ! "$work/bench.test" -test.run '^$' -test.bench "$BENCH/.*/.*/client=.*" -test.benchtime 1x \
	-test.count 1 -test.cpu 2 -test.timeout 20m >"$work/list" 2>&1; then
	echo "run.sh: listing the benchmarks failed:" >&2
	cat "$work/list" >&2
	exit 1
fi
# The rows, in the order the benchmarks run: names less the client and the
# -cpu suffix.
mapfile -t rows < <(awk '/^Benchmark/ { n = $1; sub(/-[0-9]+$/, "", n); sub(/\/client=[^\/]*$/, "", n); if (!seen[n]++) print n }' "$work/list")
[ ${#rows[@]} -gt 0 ] || { echo "run.sh: no benchmark matches BENCH=$BENCH" >&2; exit 1; }

clients=($CLIENTS)
n=${#clients[@]}
for i in $(seq 1 "$COUNT"); do
	echo "run.sh: round $i/$COUNT ($(($(date +%s) - start))s so far)" >&2
	for r in "${!rows[@]}"; do
		if single_caller "${rows[$r]}"; then
			run_turns "$i" "${rows[$r]}"
			continue
		fi
		for j in $(seq 0 $((n - 1))); do
			# Rotate by round and row, so no one always goes first.
			run_client "${clients[$(((i - 1 + r + j) % n))]}" "$i" "${rows[$r]}"
		done
	done
	[ "$CEILING" = 1 ] && run_ceiling "$i"
done
elapsed=$(($(date +%s) - start))

"$benchstat" -col /client -ignore round "$raw" >results/benchstat.txt 2>&1 || echo "run.sh: benchstat failed" >&2

# The machine, for the header: the CPU as /proc/cpuinfo names it (family,
# model and stepping pin it down where the name is vague, as in VMs), and
# how loaded it was, since the cores are shared with the servers and with
# anything else running.
cpuinfo() { awk -F'\t*: ' -v k="$1" '$1 == k { print $2; exit }' /proc/cpuinfo 2>/dev/null || true; }
cpu=$(cpuinfo 'model name')
[ -n "$(cpuinfo 'cpu family')" ] && cpu+=", family $(cpuinfo 'cpu family') model $(cpuinfo model) stepping $(cpuinfo stepping)"
[ -n "$(cpuinfo 'cpu MHz')" ] && cpu+=", $(cpuinfo 'cpu MHz' | cut -d. -f1) MHz"
grep -qw hypervisor /proc/cpuinfo 2>/dev/null && cpu+=", virtual machine"
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
load_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)
readme_flag=()
[ "$UPDATE_README" = 1 ] && readme_flag=(-readme README.md)
meta=(
	-meta "Date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	-meta "Machine=$(nproc) cores${cpu:+ ($cpu)}${mem:+, $mem}, $(uname -sr)"
	-meta "Load=load average (1, 5, 15 min) ${load_start:-?} at the start, ${load_end:-?} at the end"
	-meta "Idle=$(idle_policy)${haltpoll_was:+ for the run (GUEST_HALT_POLL_NS; the machine has $haltpoll_was)}"
	-meta "Go=$(go version | awk '{ print $3 }'), clients at -cpu 2 (GOMAXPROCS=2)"
	-meta "Redis=$BENCH_REDIS_VERSION, redis-server as local processes (redistest, JUSTREDIS_TEST_BACKEND=$BENCH_BACKEND) on the same machine"
	-meta "Runs=COUNT=$COUNT rounds × -benchtime $BENCHTIME, clients interleaved on each row; took ${elapsed}s"
	-meta "Command=\`$repro\` (from the repository root)"
)
[ -n "${NOTE:-}" ] && meta+=(-meta "Note=$NOTE")
"$work/table" -raw "$raw" -ceiling "$ceil" -benchstat results/benchstat.txt \
	-out RESULTS.md -svg results/ratios.svg "${readme_flag[@]}" "${meta[@]}"
if [ "$UPDATE_README" = 1 ]; then
	# The repository's README carries the same block, its links one folder
	# down.
	sed -n '/<!-- results:begin -->/,/<!-- results:end -->/p' README.md | sed 's#](results/#](bench/results/#g' >"$work/block"
	awk -v f="$work/block" '/<!-- results:begin -->/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/<!-- results:end -->/ { skip = 0; next }
		!skip' ../README.md >"$work/readme"
	cat "$work/readme" >../README.md
fi
echo "run.sh: wrote bench/RESULTS.md, bench/results/ratios.svg${readme_flag:+, bench/README.md and README.md} in ${elapsed}s; raw results in bench/results/" >&2

if [ ${#failures[@]} -gt 0 ]; then
	printf 'run.sh: FAILED: %s\n' "${failures[@]}" >&2
	exit 1
fi
