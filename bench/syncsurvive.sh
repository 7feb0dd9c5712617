#!/usr/bin/env bash
# bench/syncsurvive.sh: how many established connections survive the loss
# of the director that carries them, without and with IPVS connection sync
# (lvs_sync_daemon), in one run. In the IPVS test VM (internal/vm; Debian's
# kernel under qemu TCG), two kt directors in network namespaces share a
# VIP under VRRP (advert_int 0.1, VRRPv3) in front of one DR real server;
# N client connections go through director A, A's link goes down, B takes
# the VIP, and each connection sends one more line (15 s to get its echo).
# keepalived is not run: the figure is kt's with sync against kt's without.
#
# Environment: N (connections, default 100).
# Exits 0 after printing "skip: ..." when the VM cannot run here.
set -euo pipefail
N=${N:-100}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
for p in qemu-system-x86_64 go; do
	command -v "$p" >/dev/null || { echo "skip: $p not installed"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 0; }

tmp=$(mktemp -d /tmp/kt-benchsync.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/kt" .
CGO_ENABLED=0 go build -o "$tmp/syncsurvive" ./bench/syncsurvive
echo "load before: $(cat /proc/loadavg)"
out=$(bash bench/vmrun.sh "$tmp/syncsurvive" -kt "$tmp/kt" -n "$N" -dir /run/tmp) || { echo "$out"; echo "error: the benchmark failed in the VM" >&2; exit 1; }
echo "$out" | sed 's/^/  /'
get() { echo "$out" | awk -v m="mode=$1" -v k="$2" '$1 == m { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }'; }
printf '\nconnections surviving the loss of their director (%s connections, %s)\n' "$N" "$(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-22s %10s %10s %12s\n' mode "listed on B" survived "takeover ms"
for m in nosync sync; do
	printf '%-22s %10s %10s %12s\n' "$m" "$(get $m listed_on_B)" "$(get $m survived)" "$(get $m takeover_ms)"
done
echo "load after: $(cat /proc/loadavg)"
