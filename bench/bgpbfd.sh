#!/usr/bin/env bash
# bench/bgpbfd.sh: BGP with BFD against BGP's hold time and VRRP. How long
# after a director is lost FRR withdraws its route to the anycast VIP and
# the last client flow moves to the other director, when every BGP session
# also runs BFD (kt's bfd_instance named by the neighbour's `bfd`, FRR's
# bfdd with `neighbor X bfd`), at BFD_MS (default 50) ms x 3; and when BFD
# dies on kt's side (FRR's bfdd killed: kt's sessions expire and kt sends
# a Cease). TRIALS runs (default 3) of bfd/'s TestBGPWithBFDFRR, then
# bench/bgp.sh for the hold-time (3 s) and VRRP figures of the same lab
# design. Needs root, iproute2 and frr.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: bench/bgpbfd.sh needs root (network namespaces)"
	exit 0
fi
for f in /usr/lib/frr/bgpd /usr/lib/frr/bfdd /usr/lib/frr/zebra; do
	if [ ! -x "$f" ]; then
		echo "skip: bench/bgpbfd.sh needs $f (apt-get install frr)"
		exit 0
	fi
done
trials=${TRIALS:-3}
ms=${BFD_MS:-50}
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime | sed 's/.*load/load/')"
lost=()
moved=()
kt=()
for i in $(seq 1 "$trials"); do
	out=$(KT_BGPBFD_MS=$ms CGO_ENABLED=1 go test -count=1 -run 'TestBGPWithBFDFRR' -v ./bfd/ 2>&1) || {
		echo "trial $i failed:"
		echo "$out" | grep -v '^        time=' | tail -20
		continue
	}
	echo "$out" | sed -n 's/.*BENCH /trial '"$i"': /p'
	lost+=("$(echo "$out" | sed -n 's/.*director lost: route withdrawn at FRR after \([0-9.]*m\?s\).*/\1/p')")
	moved+=("$(echo "$out" | sed -n 's/.*last flow moved after \([0-9.]*m\?s\).*/\1/p')")
	kt+=("$(echo "$out" | sed -n "s/.*BFD lost on kt's side: route withdrawn at FRR after \([0-9.]*m\?s\).*/\1/p")")
done
# median of durations written as Go prints them (123ms, 1.234s, 0s)
median() {
	for v in "$@"; do
		case $v in
		*ms) echo "${v%ms}" ;;
		*s) awk -v s="${v%s}" 'BEGIN { print s * 1000 }' ;;
		esac
	done | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.0fms (%d runs)\n", m, NR }'
}
echo "bgp+bfd ${ms}ms x3, hold_time 9s, director lost: route withdrawn at FRR, median $(median "${lost[@]}")"
echo "bgp+bfd ${ms}ms x3, hold_time 9s, director lost: last flow moved, median $(median "${moved[@]}")"
echo "bgp+bfd ${ms}ms x3, hold_time 9s, BFD lost on kt's side: route withdrawn at FRR, median $(median "${kt[@]}")"
echo "--- bench/bgp.sh (BGP hold time 3 s without BFD, SIGTERM, VRRP):"
bash bench/bgp.sh
