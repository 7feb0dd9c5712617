#!/usr/bin/env bash
# bench/footprint.sh: memory of `kt run` against keepalived (its parent, VRRP
# and checker processes together) on the same configuration: 50 VRRP
# instances and 100 virtual servers x 4 real servers with TCP checks, after
# DURATION seconds (default 60) of each, one after the other, in one run.
# Then the same for an idle daemon with one VRRP instance and nothing else
# (sides kt-vrrp1 and keepalived-vrrp1): `kt run` against `keepalived -P`
# (VRRP only: its parent and VRRP processes).
#
# The real servers are real TCP listeners (bench/footprint serve) on
# 192.0.2.10-13 (on lo), ports 10000-10099; the VRRP instances run on a
# dummy interface kt0 (192.0.2.1/24) where each becomes master of its VIP
# (192.0.2.101-150). Printed for each side: the processes, the sum of their
# RSS (what the issue asks) and of their PSS (shared pages split between
# keepalived's forked processes, so not counted three times) and anonymous
# memory (heap and stacks, without the mapped program and libraries), the
# VIPs held and the IPVS services and real servers in the kernel at the
# time of the measurement (a check that both did the whole job), and the
# TCP checks the real servers answered. "max RSS" is the highest VmRSS seen
# (once a second) from 20 s after start to the measurement: kt run drops its
# program's pages after garbage collections, so its RSS is a sawtooth.
#
# keepalived's checker process needs IPVS. When this kernel has none
# (/proc/net/ip_vs missing), both sides run inside the IPVS test VM through
# bench/vmrun.sh (qemu TCG: slow CPU, but memory is what is measured).
#
# With NOBGP_SIDES=1 (the default) it measures kt built without GoBGP too
# (make build NOBGP=1: sides kt-nobgp and kt-nobgp-vrrp1).
#
# kt run drops its start-up program pages 10 s after start (internal/memtrim);
# with NOTRIM_SIDES=1 (the default) the same binary also runs with
# --no-memtrim (sides kt-notrim and kt-notrim-vrrp1), the before and after
# in one run. The minor and major faults of each side are printed (their
# cost), and kt's memtrim log lines (what it dropped, and the minor faults
# between the trim and the stop) go to stderr. Sides kt-noretrim and
# kt-noretrim-vrrp1 (not in the default list: SIDES) run it with
# --memtrim-interval 0, the start-up trim without the trims after garbage
# collections.
#
# An idle kt with one instance allocates so little that the Go runtime's
# first collection after the trim is its periodic one, 2 minutes after the
# last; that collection brings back program pages (pclntab). VRRP1_DURATION
# (default DURATION) sets how long the one-instance sides run: 180 measures
# them after it (bench/footprint-soak.sh follows them for 10 minutes).
#
# SAMPLES (seconds, e.g. "30,60,90,180") measures every side at each of those
# times since its start, not only at the end: one row per side and time in a
# second table, with the ratios kt/keepalived at each time (RSS at the time,
# and the highest VmRSS seen since the previous sample; a sample at 20 s comes
# first, so that start-up is in no later sample's window). DURATION and
# VRRP1_DURATION then default to the last of them; a side's samples after its
# duration are left out.
#
# BASE=REV also builds the kt of git revision REV (make build in a temporary
# worktree) and runs it as sides kt-base and kt-base-vrrp1 (add them to SIDES),
# so that a change is measured against what it changes in the same run.
#
# Environment: SIDES (the sides to run, default all), DURATION (default 60), VRRP1_DURATION, VRRP (50), VS (100), RS (4),
# DELAY_LOOP (5), KT_VM_SMP / KT_VM_MEM for the VM (default 2 CPUs,
# 1024 MiB), VMRUN (default bench/vmrun.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
SAMPLES=${SAMPLES:-}
last_sample=${SAMPLES##*,}
DURATION=${DURATION:-${last_sample:-60}}
VRRP1_DURATION=${VRRP1_DURATION:-$DURATION}
VRRP=${VRRP:-50}
VS=${VS:-100}
RS=${RS:-4}
DELAY_LOOP=${DELAY_LOOP:-5}
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

# inner runs where IPVS is: set up the interfaces and the real servers,
# then measure each side; one line "RESULT side procs rss_kb pss_kb vips
# services dests checks" per side.
if [ "${1:-}" = "--inner" ]; then
	shift
	work=$1 kt=$2 fp=$3
	cleanup() {
		[ -n "${srv:-}" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
		ip link del kt0 2>/dev/null || true
		for ((j = 0; j < RS; j++)); do ip addr del "192.0.2.$((10 + j))/32" dev lo 2>/dev/null || true; done
	}
	trap cleanup EXIT
	ip link set lo up
	ip link add kt0 type dummy
	ip link set kt0 multicast on up
	ip addr add 192.0.2.1/24 dev kt0
	for ((j = 0; j < RS; j++)); do ip addr add "192.0.2.$((10 + j))/32" dev lo; done
	"$fp" serve -vs "$VS" -rs "$RS" -count "$work/accepted" &
	srv=$!
	for _ in $(seq 100); do [ -s "$work/accepted" ] && break; sleep 0.2; done
	sides="kt keepalived kt-vrrp1 keepalived-vrrp1"
	[ "${NOTRIM_SIDES:-1}" != 0 ] && sides="kt kt-notrim keepalived kt-vrrp1 kt-notrim-vrrp1 keepalived-vrrp1"
	[ -x "$kt-nobgp" ] && sides="$sides kt-nobgp kt-nobgp-vrrp1"
	[ -x "$kt-base" ] && sides="$sides kt-base kt-base-vrrp1"
	sides=${SIDES:-$sides} # e.g. SIDES="kt-vrrp1 keepalived-vrrp1"
	for side in $sides; do
		case $side in
		kt) cmd=("$kt" run -f "$work/footprint.conf" --control-socket "$work/kt.sock") ;;
		keepalived) cmd=(keepalived -n -l -f "$work/footprint.conf" -p "$work/ka.pid" -r "$work/ka-vrrp.pid" -c "$work/ka-check.pid") ;;
		kt-vrrp1) cmd=("$kt" run -f "$work/vrrp1.conf" --control-socket "$work/kt.sock") ;;
		keepalived-vrrp1) cmd=(keepalived -P -n -l -f "$work/vrrp1.conf" -p "$work/ka.pid" -r "$work/ka-vrrp.pid" -c "$work/ka-check.pid") ;;
		kt-noretrim) cmd=("$kt" run --memtrim-interval 0 -f "$work/footprint.conf" --control-socket "$work/kt.sock") ;;
		kt-noretrim-vrrp1) cmd=("$kt" run --memtrim-interval 0 -f "$work/vrrp1.conf" --control-socket "$work/kt.sock") ;;
		kt-notrim) cmd=("$kt" run --no-memtrim -f "$work/footprint.conf" --control-socket "$work/kt.sock") ;;
		kt-notrim-vrrp1) cmd=("$kt" run --no-memtrim -f "$work/vrrp1.conf" --control-socket "$work/kt.sock") ;;
		kt-base) cmd=("$kt-base" run -f "$work/footprint.conf" --control-socket "$work/kt.sock") ;;
		kt-base-vrrp1) cmd=("$kt-base" run -f "$work/vrrp1.conf" --control-socket "$work/kt.sock") ;;
		kt-nobgp) cmd=("$kt-nobgp" run -f "$work/footprint.conf" --control-socket "$work/kt.sock") ;;
		kt-nobgp-vrrp1) cmd=("$kt-nobgp" run -f "$work/vrrp1.conf" --control-socket "$work/kt.sock") ;;
		esac
		before=$(cat "$work/accepted")
		d=$DURATION
		case $side in *vrrp1) d=$VRRP1_DURATION ;; esac
		# Samples at 20 s (after kt's start-up trim) and at the end: the
		# second's rss_max_kb is the highest VmRSS seen in between. With
		# SAMPLES, at each of those times up to d as well.
		at="20s"
		if [ -n "$SAMPLES" ]; then
			# A sample at 20 s first (unless one comes sooner), so that
			# the highest RSS of the next one's window leaves out start-up.
			at=
			[ "${SAMPLES%%,*}" -gt 20 ] && at="20s"
			for t in ${SAMPLES//,/ }; do [ "$t" -lt "$d" ] && at="$at${at:+,}${t}s"; done
		fi
		out=$("$fp" measure -samples "${at:+$at,}${d}s" -iface kt0 -- "${cmd[@]}" 2>"$work/$side.log")
		m=$(tail -n1 <<<"$out")
		mx=$(grep '^sample' <<<"$out" | tail -n1 | sed -n 's/.*rss_max_kb=\([0-9]*\).*/\1/p')
		after=$(cat "$work/accepted")
		v() { sed -n "s/.*$1=\([0-9-]*\).*/\1/p" <<<"$m"; }
		echo "RESULT $side $(v procs) $(v rss_kb) $(v pss_kb) $(v vips) $(v services) $(v dests) $((after - before)) $(v anon_kb) $(v minflt) $(v majflt) $(v anonhuge_kb) $(v cpu_ms) ${mx:-0}"
		if [ -n "$SAMPLES" ]; then
			grep '^sample' <<<"$out" | sed "s/^sample /SAMPLE side=$side /"
		fi
		tail -n 3 "$work/$side.log" | sed "s/^/  $side: /" >&2
		grep -E 'memtrim|^gc ' "$work/$side.log" | sed "s/^/  $side: /" >&2 || true # gc: GODEBUG=gctrace=1
		sleep 2
	done
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kt-bench-footprint.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "bench/footprint: $(date -u +%FT%TZ), load average $(cut -d" " -f1-3 /proc/loadavg); $VRRP VRRP instances, $VS virtual servers x $RS real servers (TCP_CHECK, delay_loop $DELAY_LOOP), RSS after ${DURATION} s (one-instance sides: ${VRRP1_DURATION} s)"
make -s build BINARY="$work/kt" # the binary make install installs
ls -l "$work/kt" | awk '{printf "kt binary: %.1f MB (%d bytes)\n", $5 / 1e6, $5}'
# The same without GoBGP (make build NOBGP=1): sides kt-nobgp and
# kt-nobgp-vrrp1. NOBGP_SIDES=0 leaves them out.
if [ "${NOBGP_SIDES:-1}" != 0 ]; then
	make -s build BINARY="$work/kt-nobgp" NOBGP=1
	ls -l "$work/kt-nobgp" | awk '{printf "kt binary without BGP (NOBGP=1): %.1f MB (%d bytes)\n", $5 / 1e6, $5}'
fi
if [ -n "${BASE:-}" ]; then
	git worktree add -q --detach "$work/base-src" "$BASE"
	make -s -C "$work/base-src" build BINARY="$work/kt-base"
	git worktree remove --force "$work/base-src"
	echo "kt-base: $(git rev-parse --short "$BASE"), $(stat -c %s "$work/kt-base") bytes"
fi
go build -o "$work/footprint" ./bench/footprint
"$work/footprint" genconf -vrrp "$VRRP" -vs "$VS" -rs "$RS" -delay-loop "$DELAY_LOOP" >"$work/footprint.conf"
"$work/footprint" genconf -vrrp 1 -vs 0 >"$work/vrrp1.conf"
if ! command -v keepalived >/dev/null; then
	echo "keepalived: SKIPPED: not installed (apt-get install keepalived). Nothing measured."
	exit 0
fi

table() {
	awk '
	BEGIN {
		print "| side             | procs | RSS MiB | max RSS MiB | PSS MiB | anon MiB | anon huge MiB | minor faults | major faults | CPU s | VIPs | IPVS services | IPVS real servers | checks answered |"
		print "|------------------|-------|---------|-------------|---------|----------|---------------|--------------|--------------|-------|------|---------------|-------------------|-----------------|"
	}
	/memtrim/ { print > "/dev/stderr" } # the trim lines of kt run, through the VM
	/^RESULT/ {
		rss[$2] = $4; pss[$2] = $5
		printf "| %-16s | %5d | %7.1f | %11.1f | %7.1f | %8.1f | %13.1f | %12d | %12d | %5.2f | %4d | %13d | %17d | %15d |\n", $2, $3, $4 / 1024, $15 / 1024, $5 / 1024, $10 / 1024, $13 / 1024, $11, $12, $14 / 1000, $6, $7, $8, $9
	}
	/^SAMPLE/ {
		delete v
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		ns++; srow[ns] = sprintf("| %-16s | %5s | %7.1f | %11.1f | %7.1f | %8.1f | %8.1f | %12d | %12d | %6.2f |", v["side"], v["t"], v["rss_kb"] / 1024, v["rss_max_kb"] / 1024, v["pss_kb"] / 1024, v["anon_kb"] / 1024, (v["rss_kb"] - v["anon_kb"]) / 1024, v["minflt"], v["majflt"], v["cpu_ms"] / 1000)
		srss[v["side"], v["t"]] = v["rss_kb"]; smax[v["side"], v["t"]] = v["rss_max_kb"]
		if (!(v["t"] in seen)) { seen[v["t"]] = 1; nt++; times[nt] = v["t"] }
	}
	END {
		if (ns > 0) {
			print ""
			print "| side             | after | RSS MiB | max RSS MiB | PSS MiB | anon MiB | file MiB | minor faults | major faults | CPU s  |"
			print "|------------------|-------|---------|-------------|---------|----------|----------|--------------|--------------|--------|"
			for (i = 1; i <= ns; i++) print srow[i]
			print ""
			for (i = 1; i <= nt; i++) {
				t = times[i]
				split("kt kt-base kt-noretrim kt-notrim kt-nobgp", ks, " ")
				for (k = 1; k in ks; k++) if (srss[ks[k], t] > 0 && srss["keepalived", t] > 0)
					printf "at %s: %s/keepalived RSS %.2f, max RSS since the previous sample %.2f (goal: below 1)\n", t, ks[k], srss[ks[k], t] / srss["keepalived", t], smax[ks[k], t] / smax["keepalived", t]
				split("kt-vrrp1 kt-base-vrrp1 kt-noretrim-vrrp1 kt-notrim-vrrp1 kt-nobgp-vrrp1", ks, " ")
				for (k = 1; k in ks; k++) if (srss[ks[k], t] > 0 && srss["keepalived-vrrp1", t] > 0)
					printf "at %s: %s/keepalived-vrrp1 RSS %.2f, max RSS since the previous sample %.2f (goal: below 1)\n", t, ks[k], srss[ks[k], t] / srss["keepalived-vrrp1", t], smax[ks[k], t] / smax["keepalived-vrrp1", t]
			}
		}
		if (rss["kt-base"] > 0 && rss["keepalived"] > 0)
			printf "kt-base (BASE): kt/keepalived: RSS %.2f, PSS %.2f\n", rss["kt-base"] / rss["keepalived"], pss["kt-base"] / pss["keepalived"]
		if (rss["kt-base-vrrp1"] > 0 && rss["keepalived-vrrp1"] > 0)
			printf "kt-base (BASE): one VRRP instance, kt run / keepalived -P: RSS %.2f, PSS %.2f\n", rss["kt-base-vrrp1"] / rss["keepalived-vrrp1"], pss["kt-base-vrrp1"] / pss["keepalived-vrrp1"]
		if (rss["kt"] > 0 && rss["keepalived"] > 0)
			printf "kt/keepalived: RSS %.2f, PSS %.2f (goal: RSS below 1)\n", rss["kt"] / rss["keepalived"], pss["kt"] / pss["keepalived"]
		if (rss["kt-vrrp1"] > 0 && rss["keepalived-vrrp1"] > 0)
			printf "one VRRP instance, kt run / keepalived -P: RSS %.2f, PSS %.2f (goal: RSS below 1)\n", rss["kt-vrrp1"] / rss["keepalived-vrrp1"], pss["kt-vrrp1"] / pss["keepalived-vrrp1"]
		if (rss["kt-noretrim"] > 0 && rss["keepalived"] > 0)
			printf "start-up trim only (--memtrim-interval 0): kt/keepalived: RSS %.2f, PSS %.2f\n", rss["kt-noretrim"] / rss["keepalived"], pss["kt-noretrim"] / pss["keepalived"]
		if (rss["kt-noretrim-vrrp1"] > 0 && rss["keepalived-vrrp1"] > 0)
			printf "start-up trim only (--memtrim-interval 0): one VRRP instance, kt run / keepalived -P: RSS %.2f, PSS %.2f\n", rss["kt-noretrim-vrrp1"] / rss["keepalived-vrrp1"], pss["kt-noretrim-vrrp1"] / pss["keepalived-vrrp1"]
		if (rss["kt-notrim"] > 0 && rss["keepalived"] > 0)
			printf "without the trim (--no-memtrim): kt/keepalived: RSS %.2f, PSS %.2f\n", rss["kt-notrim"] / rss["keepalived"], pss["kt-notrim"] / pss["keepalived"]
		if (rss["kt-notrim-vrrp1"] > 0 && rss["keepalived-vrrp1"] > 0)
			printf "without the trim (--no-memtrim): one VRRP instance, kt run / keepalived -P: RSS %.2f, PSS %.2f\n", rss["kt-notrim-vrrp1"] / rss["keepalived-vrrp1"], pss["kt-notrim-vrrp1"] / pss["keepalived-vrrp1"]
		if (rss["kt-nobgp"] > 0 && rss["keepalived"] > 0)
			printf "without BGP (NOBGP=1): kt/keepalived: RSS %.2f, PSS %.2f (goal: RSS below 1)\n", rss["kt-nobgp"] / rss["keepalived"], pss["kt-nobgp"] / pss["keepalived"]
		if (rss["kt-nobgp-vrrp1"] > 0 && rss["keepalived-vrrp1"] > 0)
			printf "without BGP (NOBGP=1): one VRRP instance, kt run / keepalived -P: RSS %.2f, PSS %.2f (goal: RSS below 1)\n", rss["kt-nobgp-vrrp1"] / rss["keepalived-vrrp1"], pss["kt-nobgp-vrrp1"] / pss["keepalived-vrrp1"]
	}'
}

if [ -e /proc/net/ip_vs ]; then
	echo "== on this host ($(nproc) CPUs)"
	DURATION=$DURATION VRRP1_DURATION=$VRRP1_DURATION VRRP=$VRRP VS=$VS RS=$RS SAMPLES=$SAMPLES bash "$0" --inner "$work" "$work/kt" "$work/footprint" | table
	exit 0
fi
VMRUN=${VMRUN:-bench/vmrun.sh}
if [ ! -f "$VMRUN" ]; then
	echo "SKIPPED: this kernel has no IPVS (no /proc/net/ip_vs) and $VMRUN (the IPVS test VM) is not there."
	exit 0
fi
export KT_VM_SMP=${KT_VM_SMP:-2} KT_VM_MEM=${KT_VM_MEM:-1024}
export KT_VM_PASSENV="${KT_VM_PASSENV:-} DURATION VRRP1_DURATION VRRP VS RS NOTRIM_SIDES SIDES SAMPLES"
export DURATION VRRP1_DURATION VRRP VS RS NOTRIM_SIDES SIDES SAMPLES
echo "== in the IPVS test VM ($VMRUN, qemu TCG, $KT_VM_SMP CPUs, $KT_VM_MEM MiB)"
bash "$VMRUN" bash "$PWD/bench/footprint.sh" --inner "$work" "$work/kt" "$work/footprint" | table
echo "done $(date -u +%FT%TZ), load average $(cut -d" " -f1-3 /proc/loadavg)"
