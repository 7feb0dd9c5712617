#!/usr/bin/env bash
# bench/ipvsadm/order.sh: does the order of a full load's changes change the
# kernel's work? In the IPVS test VM, kt's ipvsadm applet loads the same
# VS x RS table ROUNDS times each way, alternating, each load in a fresh
# network namespace after the VM has gone idle:
#   interleaved  each -A line followed by its -a lines (ipvsadm -S's order,
#                and bench/ipvsadm.sh's file)
#   grouped      every -A line first, then every -a line (the order of kt
#                run's Reconciler: services first, then destinations)
# The question: the kernel finds a destination's service in a hash table of
# 256 chains (ip_vs_svc_table) that new services enter at the head, so
# right after its -A a service is first in its chain, and after all 10,000
# anywhere in a chain of about 40; does that walk cost a full load
# anything? The same two orders again with the services sorted as kt run
# sorts them (sorted, sortedgrouped). Prints each load's wall ms and the
# medians. (2026-12-06, 3 rounds: no difference beyond the rounds' spread.)
#
# Environment: VS (default 10000), RS (4), ROUNDS (3).
# Exits 0 after printing "skip: ..." when the VM cannot run here.
set -euo pipefail
VS=${VS:-10000}
RS=${RS:-4}
ROUNDS=${ROUNDS:-3}
cd "$(dirname "$0")/../.."
. bench/ipvs/setup.sh
ipvs_bench_setup order
cp "$tmp/full.rules" "$tmp/interleaved.rules"
{ grep '^-A' "$tmp/full.rules"; grep '^-a' "$tmp/full.rules"; } >"$tmp/grouped.rules"
# The same two orders with the services in kt run's order (by address, then
# port) and each one's real servers by address: sorted is kt run's new
# order, sortedgrouped its order before.
sortkey() { awk '{ split($3, a, /[.:]/); printf "%03d %03d %03d %03d %05d %s %s\n", a[1], a[2], a[3], a[4], a[5], ($1 == "-A" ? 0 : 1), $0 }'; }
sortkey <"$tmp/full.rules" | sort -k1,1n -k2,2n -k3,3n -k4,4n -k5,5n -k6,6n -k11,11V | cut -d' ' -f7- >"$tmp/sorted.rules"
{ grep '^-A' "$tmp/sorted.rules"; grep '^-a' "$tmp/sorted.rules"; } >"$tmp/sortedgrouped.rules"
cat >"$tmp/inner.sh" <<'EOF'
set -euo pipefail
dir=$1 rounds=$2
export PATH="$PATH:/usr/sbin:/sbin"
ln -s "$dir/kt" "$dir/ipvsadm"
ns=ktbench-order
idle() { # until the VM's CPU was 90% idle over a quarter second (at most 30 s)
	local a b i=0
	read -r _ a </proc/stat
	while [ $i -lt 120 ]; do
		sleep 0.25
		read -r _ b </proc/stat
		set -- $a; local busy0=$(($1 + $2 + $3 + $6 + $7 + $8)) all0=$(($1 + $2 + $3 + $4 + $5 + $6 + $7 + $8))
		set -- $b; local busy1=$(($1 + $2 + $3 + $6 + $7 + $8)) all1=$(($1 + $2 + $3 + $4 + $5 + $6 + $7 + $8))
		a=$b i=$((i + 1))
		[ $((all1 - all0)) -gt 0 ] && [ $(((busy1 - busy0) * 10)) -le $((all1 - all0)) ] && break
	done
}
load() { # load ORDER ROUND
	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	idle
	local t0 t1
	t0=${EPOCHREALTIME/[.,]/}
	ip netns exec "$ns" "$dir/ipvsadm" -R <"$dir/$1.rules"
	t1=${EPOCHREALTIME/[.,]/}
	echo "$1_$2_ms $(((t1 - t0) / 1000))"
	[ "$(ip netns exec "$ns" awk '$1 == "->" && $2 != "RemoteAddress:Port"' /proc/net/ip_vs | wc -l)" = "$(grep -c '^-a' "$dir/$1.rules")" ] ||
		{ echo "$1: table incomplete" >&2; exit 1; }
	ip netns exec "$ns" "$dir/ipvsadm" -C
	ip netns del "$ns"
}
load interleaved 0 >/dev/null # warm the kernel's allocators, untimed
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then order="interleaved grouped sorted sortedgrouped"; else order="sortedgrouped sorted grouped interleaved"; fi
	for o in $order; do load "$o" "$r"; done
done
EOF
load0=$(cut -d' ' -f1-3 /proc/loadavg) t0=$(date -u +%H:%M:%S)
out=$(KT_VM_MEM=${KT_VM_MEM:-1536} bash bench/vmrun.sh bash "$tmp/inner.sh" "$tmp" "$ROUNDS") || { echo "$out"; echo "error: the VM run failed" >&2; exit 1; }
echo "$out" | sed 's/^/  /'
printf 'asked for the VM at %s UTC (load %s); ended %s UTC (load %s); %s x %s, kt at %s\n' "$t0" "$load0" \
	"$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$VS" "$RS" "$(git rev-parse --short HEAD)"
for o in interleaved grouped sorted sortedgrouped; do
	echo "$out" | awk -v o="$o" '$1 ~ "^" o "_[0-9]+_ms$" { print $2 }' | sort -n |
		awk -v o="$o" '{ v[NR] = $1 } END { printf "%-12s median %s ms (%s-%s, n=%d)\n", o, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR], NR }'
done
