#!/usr/bin/env bash
# bench/bgp.sh: how long client flows take to move off a failed director
# with BGP anycast (kt directors, FRR as the router, ECMP), for a director
# that is lost (FRR's hold timer, hold_time 3 s) and one stopped with
# SIGTERM (kt withdraws at once), against VRRP's Master_Down_Interval at
# the same scale (advert_int 1, backup priority 100). One run of
# internal/e2e/director's TestBGPAnycastFRR, whose client probes the VIP every
# ~5 ms during each failure. Needs root, iproute2 and frr.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: bench/bgp.sh needs root (network namespaces)"
	exit 0
fi
if [ ! -x /usr/lib/frr/bgpd ]; then
	echo "skip: bench/bgp.sh needs frr (apt-get install frr)"
	exit 0
fi
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime | sed 's/.*load/load/')"
out=$(CGO_ENABLED=1 go test -count=1 -run 'TestBGPAnycastFRR' -v ./internal/e2e/director/ 2>&1) || { echo "$out" | tail -40; exit 1; }
echo "$out" | sed -n 's/.*BENCH //p'
# VRRP: a backup takes over Master_Down_Interval = 3 x advert_int + skew
# after the last advert it heard; skew = (256 - priority) / 256 s (v2).
awk 'BEGIN { printf "vrrp advert_int=1s priority 100: Master_Down_Interval %.3fs (flows move between %.3fs and %.3fs after the failure)\n", 3 + 156/256, 2 + 156/256, 3 + 156/256 }'
