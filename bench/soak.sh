#!/usr/bin/env bash
# bench/soak.sh: run the namespace failover tests (sync groups, preemption,
# reload, VMAC) N times while a CPU burner keeps every core busy, and report
# every failure and every flap (a state transition of one instance undone
# within a second) found in kt's logs. Flaps are reported, not failures: a
# test that starts its routers a moment apart or takes a link down for half
# a second with advert_int 0.1 makes some on purpose; read them in the logs.
#
#   N=100 RUN='TestSyncGroupLinkDown|...' bench/soak.sh    (or: make soak N=...)
#
# N defaults to 100. RUN is the -run pattern of internal/e2e (default below;
# the director-side tests are in internal/e2e/director, not run here).
# P (default 1) runs that many iterations at the same time, in labs of their
# own, P at a time, so that 100 iterations fit in less time on a machine
# that is loaded anyway. BURN=0 runs without the burner. One kt binary,
# built at the start, serves every iteration (KT_TEST_BINARY), so that the
# soak measures one build even while the tree changes. Logs go to OUT (default a new directory
# under /tmp), one directory per iteration: the test output (iter-I.out) and,
# per test, the logs of the daemons the lab started (KT_NETLAB_LOGS, see
# internal/netlab). Needs root; tests that cannot run skip as they say.
# Exit status 1 when any iteration failed.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
P=${P:-1}
RUN=${RUN:-'^(TestSyncGroupLinkDown|TestNopreempt|TestThreeKtRouters|TestReloadKeepsRunning|TestReloadVMACAndTracking|TestVMACRoutesFailover|TestVMACIPv6)$'}
BURN=${BURN:-1}
OUT=${OUT:-$(mktemp -d /tmp/kt-soak.XXXXXX)}
mkdir -p "$OUT"
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: bench/soak.sh needs root (network namespaces)"
	exit 0
fi

echo "soak: building the e2e test binary and kt"
go test -c -o "$OUT/e2e.test" ./internal/e2e/
CGO_ENABLED=0 go build -o "$OUT/kt" .
export KT_TEST_BINARY="$OUT/kt"

burners=()
stop_burners() {
	for p in "${burners[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${burners[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	burners=()
}
trap stop_burners EXIT
# SIGINT/SIGTERM to this script (kill PID, not its process group): let the
# iterations running now finish and clean up their labs, report them, stop.
stop=0
trap 'stop=1; echo "soak: stopping after the iterations running now" >&2' INT TERM
if [ "$BURN" != 0 ]; then
	for _ in $(seq "$(nproc)"); do
		(while :; do :; done) &
		burners+=("$!")
	done
	echo "soak: ${#burners[@]} CPU burners running (pids ${burners[*]})"
fi

# flaps DIR: every "(NAME) Entering STATE" line of each kt log under DIR
# that is undone (the instance returns to the state it left) within 1 s.
flaps() {
	find "$1" -name '*kt*.log' -print0 2>/dev/null | while IFS= read -r -d '' f; do
		awk -v file="$f" '
		function secs(ts,   t, h) { # 2026-12-05T09:09:56.252Z -> seconds in the day
			t = substr(ts, index(ts, "T") + 1); sub(/Z$/, "", t); split(t, h, ":")
			return h[1] * 3600 + h[2] * 60 + h[3]
		}
		/Entering [A-Z]+ STATE/ {
			if (!match($0, /time=[^ ]+/)) next
			ts = secs(substr($0, RSTART + 5, RLENGTH - 5))
			if (!match($0, /\([^)]+\) Entering [A-Z]+ STATE/)) next
			s = substr($0, RSTART, RLENGTH); name = s; sub(/ Entering.*/, "", name)
			st = s; sub(/.*Entering /, "", st); sub(/ STATE/, "", st)
			if ((name in cur) && st == prev[name] && ts - at[name] < 1)
				printf "%s: %s %s -> %s -> %s in %.3fs\n", file, name, prev[name], cur[name], st, ts - at[name]
			prev[name] = cur[name]; cur[name] = st; at[name] = ts
		}' "$f"
	done
}

failures=0
nflaps=0
ran=0
summary="$OUT/summary.txt"
: >"$summary"

# run_iter I: one iteration, its status in $OUT/iter-I/status.
run_iter() {
	local dir="$OUT/iter-$1" start status=pass
	mkdir -p "$dir"
	start=$(date +%s)
	if ! KT_NETLAB_LOGS="$dir" "$OUT/e2e.test" -test.run "$RUN" -test.count=1 -test.v -test.timeout 20m >"$dir/test.out" 2>&1; then
		status=FAIL
	fi
	echo "$status $(($(date +%s) - start))" >"$dir/status"
}

# report I: the summary lines of iteration I.
report() {
	local i=$1 dir="$OUT/iter-$1" status took failed skipped passed f n=0
	read -r status took <"$dir/status"
	[ "$status" = FAIL ] && failures=$((failures + 1))
	failed=$(grep -E '^\s*--- FAIL: ' "$dir/test.out" | sed 's/^ *--- FAIL: //; s/ (.*//' | tr '\n' ' ' || true)
	skipped=$(grep -cE '^\s*--- SKIP: ' "$dir/test.out" || true)
	passed=$(grep -cE '^\s*--- PASS: ' "$dir/test.out" || true)
	f=$(flaps "$dir")
	[ -n "$f" ] && n=$(printf '%s\n' "$f" | wc -l)
	nflaps=$((nflaps + n))
	echo "iteration $i/$N: $status in ${took}s, $passed passed, $skipped skipped, $n flaps${failed:+, failed: $failed}" | tee -a "$summary"
	[ -n "$f" ] && printf '%s\n' "$f" | sed 's/^/  flap /' | tee -a "$summary"
	if [ "$status" = FAIL ] && [ -z "$failed" ]; then
		echo "  (no --- FAIL line: see $dir/test.out)" | tee -a "$summary"
		tail -5 "$dir/test.out" | sed 's/^/  /' | tee -a "$summary"
	fi
}

echo "soak: $N iterations, $P at a time, started $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$summary"
i=1
while [ "$i" -le "$N" ]; do
	first=$i
	pids=()
	while [ "$i" -le "$N" ] && [ "$i" -lt $((first + P)) ]; do
		run_iter "$i" &
		pids+=("$!")
		i=$((i + 1))
	done
	for p in "${pids[@]}"; do
		# A trapped signal interrupts wait: wait again until p is gone.
		while kill -0 "$p" 2>/dev/null; do
			wait "$p" || true
		done
	done
	for j in $(seq "$first" $((i - 1))); do
		report "$j"
	done
	ran=$((i - 1))
	[ "$stop" = 1 ] && break
done
stop_burners
echo "soak: ended $(date -u +%FT%TZ): $ran of $N iterations of $RUN ($P at a time), $failures failed, $nflaps flaps; load average $(cut -d' ' -f1-3 /proc/loadavg); logs in $OUT" | tee -a "$summary"
[ "$failures" -eq 0 ]
