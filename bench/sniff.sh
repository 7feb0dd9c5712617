#!/usr/bin/env bash
# bench/sniff.sh: decoding speed of `kt sniff -r` against tshark and tcpdump
# on one generated pcap of N VRRP adverts (default 1,000,000; see
# bench/sniffgen), in one run. Each tool reads the whole file and writes its
# output to /dev/null:
#   kt sniff -r F --summary   decode, follow the elections, print events and the table
#   kt sniff -r F             the same plus one line per packet
#   tshark -r F               one summary line per packet (full dissection)
#   tcpdump -r F -nn          one line per packet
# Prints the best wall and CPU seconds of several runs, packets/s and each
# tool's time relative to kt --summary.
# Goal: kt --summary at least 20x tshark and faster than tcpdump.
# Exits 0 after "skip: ..." when tshark or tcpdump is missing.
set -euo pipefail
N=${N:-1000000}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
for p in tshark tcpdump go bc; do
	if ! command -v "$p" >/dev/null; then
		echo "skip: bench/sniff.sh needs $p"
		exit 0
	fi
done
make -s build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pcap=$work/vrrp.pcap
go run ./bench/sniffgen -n "$N" -o "$pcap"
echo "pcap: $N VRRP packets, $(du -h "$pcap" | cut -f1)"

# The kt summary must have seen every packet.
got=$(./kt sniff -r "$pcap" --summary | awk '/ VRRP packets$/ { print $1 }')
if [ "$got" != "$N" ]; then
	echo "error: kt sniff counted '$got' packets, want $N" >&2
	exit 1
fi

# measure NAME REPS CMD...: the smallest wall-clock and the smallest CPU
# (user+sys) seconds of REPS runs, output to /dev/null. The machine may be
# shared, so one run can be slowed by others; the minimum is the steadier
# figure.
declare -A W C
measure() {
	local name=$1 reps=$2 out w u s c i
	shift 2
	W[$name]=
	C[$name]=
	for ((i = 0; i < reps; i++)); do
		out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 )
		read -r w u s <<<"$out"
		c=$(echo "$u + $s" | bc -l)
		if [ -z "${W[$name]}" ] || [ "$(echo "$w < ${W[$name]}" | bc -l)" = 1 ]; then W[$name]=$w; fi
		if [ -z "${C[$name]}" ] || [ "$(echo "$c < ${C[$name]}" | bc -l)" = 1 ]; then C[$name]=$c; fi
	done
}
# REPS: runs of each kt mode (default 5) and of tshark and tcpdump (default 2).
KT_REPS=${KT_REPS:-5}
REPS=${REPS:-2}
measure kt "$KT_REPS" ./kt sniff -r "$pcap" --summary
measure ktlines "$KT_REPS" ./kt sniff -r "$pcap"
measure tshark "$REPS" tshark -r "$pcap"
measure tcpdump "$REPS" tcpdump -r "$pcap" -nn
echo "best of $KT_REPS runs for kt, of $REPS for tshark and tcpdump"
printf '\n%-24s %8s %12s %8s %12s %10s %10s\n' tool "wall s" "packets/s" "CPU s" "packets/CPU s" "wall/kt" "CPU/kt"
row() {
	printf '%-24s %8.2f %12.0f %8.2f %12.0f %9.1fx %9.1fx\n' "$1" "${W[$2]}" "$(echo "$N / ${W[$2]}" | bc -l)" \
		"${C[$2]}" "$(echo "$N / ${C[$2]}" | bc -l)" "$(echo "${W[$2]} / ${W[kt]}" | bc -l)" "$(echo "${C[$2]} / ${C[kt]}" | bc -l)"
}
row "kt sniff -r --summary" kt
row "kt sniff -r (lines)" ktlines
row "tshark -r" tshark
row "tcpdump -r -nn" tcpdump
echo
printf 'kt --summary vs tshark:  %5.1fx faster wall, %5.1fx less CPU (goal >= 20x)\n' \
	"$(echo "${W[tshark]} / ${W[kt]}" | bc -l)" "$(echo "${C[tshark]} / ${C[kt]}" | bc -l)"
printf 'kt --summary vs tcpdump: %5.1fx faster wall, %5.1fx less CPU (goal > 1x)\n' \
	"$(echo "${W[tcpdump]} / ${W[kt]}" | bc -l)" "$(echo "${C[tcpdump]} / ${C[kt]}" | bc -l)"
