#!/usr/bin/env bash
# bench/ipvsadm/inner.sh DIR KT [ROUNDS]: the part of bench/ipvsadm.sh that runs inside
# the IPVS test VM. Prints "name value" lines (milliseconds, CPU seconds).
set -euo pipefail
dir=$1 kt=$2 rounds=${3:-1}
export PATH="$PATH:/usr/sbin:/sbin"
link=$(mktemp -d)/ipvsadm
ln -s "$kt" "$link"

# count_dests prints how many real servers the kernel has (with weight $1 if given).
count_dests() {
	awk -v w="${1:-}" '$1 == "->" && $2 != "RemoteAddress:Port" && (w == "" || $4 == w) { n++ } END { print n + 0 }' /proc/net/ip_vs
}
rs=$(grep -c '^-a' "$dir/full.rules")
changes=$(wc -l <"$dir/change.rules")
echo "services $(grep -c '^-A' "$dir/full.rules")"
echo "real_servers $rs"
echo "changes $changes"

# timed NAME CMD...: runs CMD, prints NAME_ms (wall) and NAME_cpu (user+sys
# seconds of CMD and its children).
timed() {
	local name=$1
	shift
	local t0 t1 c0 c1
	c0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	t0=$(date +%s%N)
	"$@"
	t1=$(date +%s%N)
	c1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	awk -v n="$name" -v a="$t0" -v b="$t1" -v c="$c0" -v d="$c1" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%s_ms %.1f\n%s_cpu %.2f\n", n, (b - a) / 1e6, n, (d - c) / hz }'
}
# restore_with IPVSADM: what ipvsadm-restore does (drop comment lines, clear,
# then -R), with the given ipvsadm.
restore_with() { grep -v '^#' "$dir/full.rules" | { "$1" -C && "$1" -R; }; }
change_with() { "$1" -R <"$dir/change.rules"; }
check() {
	[ "$(count_dests)" = "$rs" ] || { echo "$1: $(count_dests) real servers in the kernel, want $rs" >&2; exit 1; }
	[ "$(count_dests 2)" = "$2" ] || { echo "$1: $(count_dests 2) real servers of weight 2, want $2" >&2; exit 1; }
}

# The kernel keeps deleted real servers in a trash list for up to four minutes
# and scans it on every add (ip_vs_trash_get_dest): a load right after
# another's -C pays for the 40,000 entries the first left there. Each full
# load starts after the trash has emptied.
empty_trash() { ipvsadm -C; sleep 250; }
for round in $(seq "$rounds"); do
	[ "$round" = 1 ] || empty_trash
	ipvsadm -C
	timed "ipvsadm_full_$round" ipvsadm-restore <"$dir/full.rules"
	check ipvsadm-restore 0
	timed "ipvsadm_change_$round" change_with /usr/sbin/ipvsadm
	check "ipvsadm -R" "$changes"
	empty_trash
	timed "kt_full_$round" restore_with "$link"
	check "kt ipvsadm -R" 0
	timed "kt_change_$round" change_with "$link"
	check "kt ipvsadm -R (change)" "$changes"
done
ipvsadm -C
