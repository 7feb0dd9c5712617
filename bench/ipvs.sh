#!/usr/bin/env bash
# bench/ipvs.sh: in the IPVS test VM (internal/vm; Debian's kernel under
# qemu TCG, so every figure is slower than on hardware, alike for all three),
# the time to program VS virtual services x RS real servers into an empty
# IPVS table and to apply a 1% change (the weight of one real server in 1%
# of the services), for kt, for keepalived (same config, started with -C,
# change by SIGHUP) and for ipvsadm-restore of the same table, in one run.
#
# Environment: VS (default 10000), RS (4).
# Exits 0 after printing "skip: ..." when the VM cannot run here.
set -euo pipefail
VS=${VS:-10000}
RS=${RS:-4}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
for p in qemu-system-x86_64 go; do
	command -v "$p" >/dev/null || { echo "skip: $p not installed"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 0; }

tmp=$(mktemp -d /tmp/kt-benchipvs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/ipvsbench" ./bench/ipvs
"$tmp/ipvsbench" gen -vs "$VS" -rs "$RS" -dir "$tmp"
out=$(KT_VM_MEM=${KT_VM_MEM:-1536} bash bench/vmrun.sh bash bench/ipvs/inner.sh "$tmp" "$tmp/ipvsbench") || { echo "$out"; echo "error: the benchmark failed in the VM" >&2; exit 1; }
echo "$out" | sed 's/^/  /'
get() { echo "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
printf '\nIPVS programming in the VM: %s services x %s real servers (%s changes)\n' "$VS" "$RS" "$(get changes)"
printf '%-16s %14s %14s\n' tool "full load ms" "1% change ms"
printf '%-16s %14s %14s\n' kt "$(get kt_full_total_ms)" "$(get kt_change_total_ms)"
printf '%-16s %14s %14s\n' "  (apply only)" "$(get kt_full_apply_ms)" "$(get kt_change_apply_ms)"
printf '%-16s %14s %14s\n' ipvsadm-restore "$(get ipvsadm_full_total_ms)" "$(get ipvsadm_change_total_ms)"
printf '%-16s %14s %14s\n' keepalived "$(get keepalived_full_total_ms)" "$(get keepalived_change_total_ms)"
