#!/usr/bin/env bash
# bench/footprint-soak.sh: does an idle kt run's memory creep back after its
# start-up trim (internal/memtrim)? Three idle daemons with one VRRP instance
# each (bench/footprint's vrrp1 configuration), side by side, each in a
# network namespace of its own with a veth pair: `kt run` (trim on, the
# default: at start and again after garbage collections), `kt run
# --memtrim-interval 0` (the start-up trim only), `kt run --no-memtrim`, and
# `keepalived -P` (its parent and VRRP processes). RSS, PSS, anonymous
# memory, minor/major faults and CPU time (user + system) are printed at
# each of SAMPLES (default 60s,5m,10m) since start, with the highest VmRSS
# seen (once a second) since the previous sample. No IPVS is needed, so it
# runs on the host.
#
# Environment: SAMPLES (default 60s,5m,10m), PREFIX (namespace and link
# names, default ktsoak).
set -euo pipefail

cd "$(dirname "$0")/.."
SAMPLES=${SAMPLES:-60s,5m,10m}
PREFIX=${PREFIX:-ktsoak}
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
if [ "$(id -u)" != 0 ]; then
	echo "SKIPPED: needs root (network namespaces)."
	exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kt-bench-soak.XXXXXX")
sides="kt kt-noretrim kt-notrim"
command -v keepalived >/dev/null && sides="$sides keepalived-vrrp1"
cleanup() {
	for s in $sides; do ip netns del "$PREFIX-$s" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
echo "bench/footprint-soak: one idle VRRP instance per side, samples at $SAMPLES; $(date -u +%FT%TZ), load average $(cut -d" " -f1-3 /proc/loadavg)"
make -s build BINARY="$work/kt"
ls -l "$work/kt" | awk '{printf "kt binary: %.1f MB (%d bytes)\n", $5 / 1e6, $5}'
go build -o "$work/footprint" ./bench/footprint
"$work/footprint" genconf -vrrp 1 -vs 0 -iface "${PREFIX}0" >"$work/vrrp1.conf"
pids=()
for s in $sides; do
	ns=$PREFIX-$s
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add "${PREFIX}0" type veth peer name "${PREFIX}1"
	ip -n "$ns" link set "${PREFIX}0" multicast on up
	ip -n "$ns" link set "${PREFIX}1" up
	ip -n "$ns" addr add 192.0.2.1/24 dev "${PREFIX}0"
	case $s in
	kt) cmd=("$work/kt" run -f "$work/vrrp1.conf" --control-socket "$work/$s.sock") ;;
	kt-noretrim) cmd=("$work/kt" run --memtrim-interval 0 -f "$work/vrrp1.conf" --control-socket "$work/$s.sock") ;;
	kt-notrim) cmd=("$work/kt" run --no-memtrim -f "$work/vrrp1.conf" --control-socket "$work/$s.sock") ;;
	keepalived-vrrp1) cmd=(keepalived -P -n -l -f "$work/vrrp1.conf" -p "$work/ka.pid" -r "$work/ka-vrrp.pid" -c "$work/ka-check.pid") ;;
	esac
	ip netns exec "$ns" "$work/footprint" measure -samples "$SAMPLES" -iface "${PREFIX}0" -- "${cmd[@]}" >"$work/$s.out" 2>"$work/$s.log" &
	pids+=($!)
done
wait "${pids[@]}"
echo "done $(date -u +%FT%TZ), load average $(cut -d" " -f1-3 /proc/loadavg)"
echo "| side             | after | RSS MiB | max RSS MiB | PSS MiB | anon MiB | minor faults | major faults | CPU s |"
echo "|------------------|-------|---------|-------------|---------|----------|--------------|--------------|-------|"
for s in $sides; do
	awk -v side="$s" '/^sample/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "| %-16s | %5s | %7.1f | %11.1f | %7.1f | %8.1f | %12d | %12d | %5.2f |\n", side, v["t"], v["rss_kb"] / 1024, v["rss_max_kb"] / 1024, v["pss_kb"] / 1024, v["anon_kb"] / 1024, v["minflt"], v["majflt"], v["cpu_ms"] / 1000
	}' "$work/$s.out"
	grep 'memtrim' "$work/$s.log" | sed "s/^/  $s: /" >&2 || true
done
