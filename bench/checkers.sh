#!/usr/bin/env bash
# bench/checkers.sh: kt's health-check scheduler against keepalived's checker
# process on the same 10,000 HTTP real servers, each checked every second.
#
# One Go server process (bench/checkers serve) listens on 127.0.0.1 ports
# 20000-29999 and answers GET /health; bench/checkers genconf writes one
# keepalived.conf with 100 virtual servers x 100 real servers, HTTP_GET with
# an MD5 digest, delay_loop 1. Then, for DURATION seconds each:
#   kt         bench/checkers run -f CONF  (check.FromConfig + check.Scheduler)
#   keepalived keepalived -C -n -l -f CONF (its checker process)
# and prints CPU seconds (user+system, with children) and peak RSS of each,
# the checks the server answered, CPU milliseconds and context switches per
# check, and, from the same run, kt's CPU per check over keepalived's with
# the issue's goal (at most 1) said reached or not reached. kt-1p is kt
# with GOMAXPROCS=1: one P, so the Go scheduler does not wake idle threads
# to look for work after each network event, which costs much under the
# VM's emulation.
#
# keepalived -C needs IPVS in the kernel. When this kernel has none
# (/proc/net/ip_vs missing), kt is measured on this host with N real servers,
# then both sides run inside the IPVS test VM through bench/vmrun.sh. That VM
# is qemu without KVM (TCG): about 50 times slower, so neither side can
# check 10,000 servers a second there. The first VM part therefore uses
# VM_N real servers (default 50), which both can check every second;
# compare CPU per check and RSS. A third part
# compares both at 10,000 real servers in the VM with a delay_loop long
# enough that both keep up (see "10,000 real servers in the VM" below).
# Without bench/vmrun.sh the keepalived side is skipped, and the script
# says so.
#
# The machine is usually shared: the script prints the date and load
# average before and after each part. ROUNDS (default 1) repeats the sides
# in turn (kt, kt-1p, keepalived, kt, ...) and sums each side's CPU and
# checks over its rounds, so that a change of load during the run weighs on
# every side alike.
#
# BASE=REV adds the side kt-base: the same harness built from git revision
# REV (e.g. BASE=main), measured in the same run and rounds, so that a
# change to kt's checkers is judged before and after under the same load.
#
# Environment: DURATION (default 60), N (real servers, default 10000), VM_N
# (default 50), VM_DURATION (default DURATION), ROUNDS (default 1),
# KT_VM_SMP / KT_VM_MEM for the VM (default 2 CPUs, 2048 MiB), VMRUN (the VM
# runner, default bench/vmrun.sh), KT_GOMAXPROCS (GOMAXPROCS for kt's side
# only), BASE (a git revision for kt-base), KT_SIDES (kt's sides on the host
# and in the 50-server VM part; default "kt kt-1p"), SKIP_HOST=1 /
# SKIP_VM50=1 / SKIP_VM10K=1 (leave a part out), and for the 10,000-server
# VM part VM10K_N, VM10K_DELAY, VM10K_WINDOW, VM10K_ROUNDS, VM10K_SIDES,
# SETTLE (see there).
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
N=${N:-10000}
FIRST=20000
LAST=$((FIRST + N - 1))
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

work=$(mktemp -d "${TMPDIR:-/tmp}/kt-bench-checkers.XXXXXX")
trap 'rm -rf "$work"' EXIT

# inner runs one side's measurement where the tools are: it starts the
# server, measures the command for DURATION seconds, and prints one line
# "RESULT side cpu_s maxrss_kb checks".
if [ "${1:-}" = "--inner" ]; then
	shift
	bin=$1 conf=$2
	shift 2
	ip link set lo up 2>/dev/null || true
	ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	"$bin" serve -ports "$FIRST-$LAST" -stats 127.0.0.1:19999 2>"$work/serve.log" &
	srv=$!
	for _ in $(seq 300); do "$bin" stats >/dev/null 2>&1 && break; sleep 0.2; done
	if ! "$bin" stats >/dev/null 2>&1; then
		echo "bench/checkers: the real servers did not start (ports $FIRST-$LAST in use?):" >&2
		cat "$work/serve.log" >&2
		exit 1
	fi
	for side in "$@"; do
		case $side in
		kt)
			cmd=("$bin" run -f "$conf")
			if [ -n "${KT_GOMAXPROCS:-}" ]; then
				cmd=(env GOMAXPROCS="$KT_GOMAXPROCS" "${cmd[@]}")
			fi
			;;
		kt-1p) cmd=(env GOMAXPROCS=1 "$bin" run -f "$conf") ;;
		kt-base) cmd=("$(dirname "$bin")/checkers-base" run -f "$conf") ;;
		keepalived)
			tmp=${TMPDIR:-/tmp}
			cmd=(keepalived -C -n -l -f "$conf" -p "$tmp/kt-bench-ka.pid" -c "$tmp/kt-bench-kc.pid")
			;;
		esac
		before=$("$bin" stats)
		if [ -n "${WINDOW:-}" ]; then
			# The steady state only: measure waits for the first checks
			# (keepalived loads its real servers into IPVS first).
			m=$("$bin" measure -window "${WINDOW}s" -settle "${SETTLE:-5}s" -- "${cmd[@]}" 2>"$work/$side.log" | tail -n1)
		else
			m=$("$bin" measure -for "${DURATION}s" -- "${cmd[@]}" 2>"$work/$side.log" | tail -n1)
		fi
		after=$("$bin" stats)
		cpu=$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' <<<"$m")
		rss=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' <<<"$m")
		csw=$(sed -n 's/.*csw=\([0-9]*\).*/\1/p' <<<"$m")
		checks=$(sed -n 's/.*checks=\([0-9]*\).*/\1/p' <<<"$m")
		started=$(sed -n 's/.*start_s=\([0-9.]*\).*/\1/p' <<<"$m")
		if [ -z "$cpu" ]; then
			echo "bench/checkers: $side: no measurement" >&2
			tail -n 5 "$work/$side.log" >&2
			continue
		fi
		if [ -n "$started" ]; then
			echo "  $side: first checks ${started} s after start; then ${SETTLE:-5} s, then a ${WINDOW} s window" >&2
		fi
		echo "RESULT $side $cpu $rss ${checks:-$((after - before))} ${csw:-0}"
		tail -n 3 "$work/$side.log" | sed "s/^/  $side: /" >&2
		sleep 2 # let sockets in TIME_WAIT settle between the sides
	done
	kill "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	exit 0
fi

echo "bench/checkers: $N HTTP real servers, delay_loop 1 s, ${DURATION} s each side"
go build -o "$work/checkers" ./bench/checkers
read -r -a kt_sides <<<"${KT_SIDES:-kt kt-1p}"
if [ -n "${BASE:-}" ]; then
	rev=$(git rev-parse --short "$BASE")
	echo "kt-base: bench/checkers built from $BASE ($rev)"
	mkdir "$work/base"
	git archive "$rev" | tar -x -C "$work/base"
	(cd "$work/base" && go build -o "$work/checkers-base" ./bench/checkers)
	kt_sides+=(kt-base)
fi
"$work/checkers" genconf -n "$N" -first-port "$FIRST" > "$work/keepalived.conf"

# table sums each side's rounds (CPU, checks, context switches; the largest
# peak RSS) and prints one row per side, then the ratios to keepalived.
table() {
	awk -v d="${DURATION}" '
	/^  [a-z-]*: / { note[++nn] = $0 } # a side'"'"'s log lines (the VM merges stderr into stdout)
	/^RESULT/ {
		if (!($2 in side)) order[++n] = $2
		side[$2]++; cpu[$2] += $3; checks[$2] += $5; csw[$2] += $6
		if ($4 > rss[$2]) rss[$2] = $4
	}
	END {
		for (i = 1; i <= n; i++) {
			s = order[i]
			printf "| %-10s | %6d | %8.2f | %8.1f | %9d | %7.0f | %12.3f | %10.1f |\n", s, side[s], cpu[s], rss[s] / 1024, checks[s],
				checks[s] / (d * side[s]), (checks[s] > 0 ? 1000 * cpu[s] / checks[s] : 0), (checks[s] > 0 ? csw[s] / checks[s] : 0)
		}
		for (i = 1; i <= nn; i++) print note[i]
		if (side["kt-base"] && checks["kt-base"] > 0 && cpu["kt-base"] > 0 && checks["kt"] > 0) {
			r = (cpu["kt"] / checks["kt"]) / (cpu["kt-base"] / checks["kt-base"])
			printf "kt/kt-base: CPU per check %.2f (%.3f ms against %.3f ms), context switches per check %.1f against %.1f\n", r,
				1000 * cpu["kt"] / checks["kt"], 1000 * cpu["kt-base"] / checks["kt-base"], csw["kt"] / checks["kt"], csw["kt-base"] / checks["kt-base"]
		}
		if (!side["keepalived"] || cpu["keepalived"] <= 0 || checks["keepalived"] <= 0) exit
		ka = cpu["keepalived"] / checks["keepalived"]
		for (i = 1; i <= n; i++) {
			s = order[i]
			if (s == "keepalived" || checks[s] <= 0) continue
			r = (cpu[s] / checks[s]) / ka
			printf "%s/keepalived: CPU per check %.2f (%.3f ms against %.3f ms: goal of at most 1 %s), peak RSS %.2f\n", s, r,
				1000 * cpu[s] / checks[s], 1000 * ka, (r <= 1 ? "reached" : "NOT reached"), rss[s] / rss["keepalived"]
		}
	}'
}
header() {
	echo "| side       | rounds | CPU s    | RSS MiB  | checks    | per s   | CPU ms/check | csw/check  |"
	echo "|------------|--------|----------|----------|-----------|---------|--------------|------------|"
}
# rounds prints the sides ROUNDS times in turn.
rounds() {
	local i
	for ((i = 0; i < ${ROUNDS:-1}; i++)); do
		echo "$@"
	done
}
stamp() {
	echo "($1: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs shared with whatever else runs)"
}

echo
echo "== on this host ($(nproc) CPUs), $N real servers, ${DURATION} s a side and round"
sides=("${kt_sides[@]}")
host_ka=0
if [ -e /proc/net/ip_vs ] && command -v keepalived >/dev/null; then
	sides+=(keepalived)
	host_ka=1
else
	echo "keepalived: not measured on this host: its kernel has no IPVS (no /proc/net/ip_vs), and keepalived -C"
	echo "exits at once without it. kt alone here; both tools are compared in the VM below."
fi
if [ -z "${SKIP_HOST:-}" ]; then
	stamp before
	header
	# shellcheck disable=SC2046 # one word a side
	bash "$0" --inner "$work/checkers" "$work/keepalived.conf" $(rounds "${sides[@]}") | table
	stamp after
else
	echo "(skipped: SKIP_HOST is set)"
fi
if [ "$host_ka" = 1 ]; then
	exit 0
fi

echo
VMRUN=${VMRUN:-bench/vmrun.sh}
if [ ! -f "$VMRUN" ]; then
	echo "keepalived: SKIPPED: this kernel has no IPVS (no /proc/net/ip_vs), so keepalived -C exits at once,"
	echo "and $VMRUN (the IPVS test VM) is not there. Nothing measured for keepalived."
	exit 0
fi
export KT_VM_SMP=${KT_VM_SMP:-2} KT_VM_MEM=${KT_VM_MEM:-2048}
VM_N=${VM_N:-50}
VM_DURATION=${VM_DURATION:-$DURATION}
"$work/checkers" genconf -n "$VM_N" -first-port "$FIRST" > "$work/vm.conf"
export KT_VM_PASSENV="${KT_VM_PASSENV:-} DURATION N WINDOW SETTLE"
if [ -z "${SKIP_VM50:-}" ]; then
	echo "== both tools in the IPVS test VM ($VMRUN, qemu TCG, $KT_VM_SMP CPUs), $VM_N real servers, ${VM_DURATION} s a side and round"
	stamp before
	header
	# shellcheck disable=SC2046 # one word a side
	N=$VM_N DURATION=$VM_DURATION bash "$VMRUN" bash "$PWD/bench/checkers.sh" --inner "$work/checkers" "$work/vm.conf" $(rounds "${kt_sides[@]}" keepalived) |
		DURATION=$VM_DURATION N=$VM_N table
	stamp after
fi

# 10,000 real servers in the VM: keepalived cannot run on this host (no
# IPVS), so the comparison at 10,000 is made in the VM. Under TCG neither
# side sustains 10,000 checks a second, so delay_loop is VM10K_DELAY
# (default 300 s: about 33 checks a second, what both keep up with), and
# CPU per check is the measure, not the rate. keepalived first loads the
# 10,000 real servers into IPVS (minutes under TCG), so each side is
# measured over a VM10K_WINDOW-second window (default 60) that starts
# SETTLE seconds (default 5) after the real servers see the first checks
# (checkers measure -window); start-up is not counted on either side.
# VM10K_SIDES (default "kt keepalived") take turns VM10K_ROUNDS times
# (default ROUNDS). SKIP_VM50=1 / SKIP_VM10K=1 leave out a VM part.
if [ -z "${SKIP_VM10K:-}" ]; then
	VM10K_N=${VM10K_N:-10000}
	VM10K_DELAY=${VM10K_DELAY:-300}
	VM10K_WINDOW=${VM10K_WINDOW:-60}
	read -r -a vm10k_sides <<<"${VM10K_SIDES:-kt keepalived}"
	"$work/checkers" genconf -n "$VM10K_N" -first-port "$FIRST" -delay-loop "$VM10K_DELAY" > "$work/vm10k.conf"
	echo
	echo "== both tools in the IPVS test VM, $VM10K_N real servers, delay_loop $VM10K_DELAY s, a ${VM10K_WINDOW} s window"
	echo "   in the steady state a side and round (start-up not counted), ${VM10K_ROUNDS:-${ROUNDS:-1}} round(s)"
	stamp before
	header
	# shellcheck disable=SC2046 # one word a side
	N=$VM10K_N DURATION=$VM10K_WINDOW WINDOW=$VM10K_WINDOW ROUNDS=${VM10K_ROUNDS:-${ROUNDS:-1}} bash "$VMRUN" bash "$PWD/bench/checkers.sh" \
		--inner "$work/checkers" "$work/vm10k.conf" $(ROUNDS=${VM10K_ROUNDS:-${ROUNDS:-1}} rounds "${vm10k_sides[@]}") |
		DURATION=$VM10K_WINDOW N=$VM10K_N table
	stamp after
fi
