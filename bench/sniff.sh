#!/usr/bin/env bash
# bench/sniff.sh: decoding speed of `kt sniff -r` against tshark and tcpdump
# on one generated pcap of N VRRP adverts (default 1,000,000; see
# bench/sniffgen), in one run. Each tool reads the whole file and writes its
# output to /dev/null:
#   kt sniff -r F --summary   decode, follow the elections, print events and the table
#   kt sniff -r F             the same plus one line per packet
#   tshark -r F               one summary line per packet (full dissection)
#   tcpdump -r F -nn          one line per packet
# Prints seconds, packets/s and each tool's time relative to kt --summary.
# Goal: kt --summary at least 20x tshark and faster than tcpdump.
# Exits 0 after "skip: ..." when tshark or tcpdump is missing.
set -euo pipefail
N=${N:-1000000}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
for p in tshark tcpdump go; do
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

# secs CMD...: wall-clock seconds of one run, output to /dev/null.
secs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
declare -A T
T[kt]=$(secs ./kt sniff -r "$pcap" --summary)
T[ktlines]=$(secs ./kt sniff -r "$pcap")
T[tshark]=$(secs tshark -r "$pcap")
T[tcpdump]=$(secs tcpdump -r "$pcap" -nn)

printf '\n%-28s %10s %14s %14s\n' tool seconds packets/s "time / kt"
row() {
	printf '%-28s %10.2f %14.0f %13.1fx\n' "$1" "${T[$2]}" "$(echo "$N / ${T[$2]}" | bc -l)" "$(echo "${T[$2]} / ${T[kt]}" | bc -l)"
}
row "kt sniff -r --summary" kt
row "kt sniff -r (lines)" ktlines
row "tshark -r" tshark
row "tcpdump -r -nn" tcpdump
echo
printf 'kt --summary vs tshark: %.1fx faster (goal >= 20x)\n' "$(echo "${T[tshark]} / ${T[kt]}" | bc -l)"
printf 'kt --summary vs tcpdump: %.1fx faster (goal > 1x)\n' "$(echo "${T[tcpdump]} / ${T[kt]}" | bc -l)"
