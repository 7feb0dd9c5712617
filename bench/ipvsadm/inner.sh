#!/usr/bin/env bash
# bench/ipvsadm/inner.sh DIR KT [ROUNDS [CHANGES]]: the part of bench/ipvsadm.sh that runs inside
# the IPVS test VM. Prints "name value" lines (milliseconds, CPU seconds).
set -euo pipefail
dir=$1 kt=$2 rounds=${3:-1} nchanges=${4:-7}
export PATH="$PATH:/usr/sbin:/sbin"
echo "vm_start $(date -u +%H:%M:%S)"
link=$(mktemp -d)/ipvsadm
ln -s "$kt" "$link"
rlink=$(dirname "$link")/ipvsadm-restore # kt's ipvsadm-restore applet
ln -s "$kt" "$rlink"

# count_dests prints how many real servers the kernel has (with weight $1 if given).
count_dests() {
	awk -v w="${1:-}" '$1 == "->" && $2 != "RemoteAddress:Port" && (w == "" || $4 == w) { n++ } END { print n + 0 }' /proc/net/ip_vs
}
rs=$(grep -c '^-a' "$dir/full.rules")
changes=$(wc -l <"$dir/change.rules")
echo "services $(grep -c '^-A' "$dir/full.rules")"
echo "real_servers $rs"
echo "changes $changes"

# mark NAME: a "KTMARK NAME" line on the VM's serial console, at which
# bench/ipvsadm/hostcpu.sh on the host notes the VM's host CPU time so far;
# the pause lets it read that while the VM idles (the host sees the line a
# few tens of milliseconds late). Nothing without a serial port.
if [ "${KT_IN_VM:-}" = 1 ] && [ -w /dev/ttyS0 ]; then
	nap=$(mktemp -u)
	mkfifo "$nap"
	exec {napfd}<>"$nap" # read -t on it: a pause without a process
	rm -f "$nap"
fi
mark() {
	[ -n "${napfd:-}" ] || return 0
	echo "KTMARK $1" >/dev/ttyS0 || true
	read -r -t 0.2 -u "$napfd" || true
}
# settle NAME: waits until the VM's CPU has been at least 90% idle over a
# quarter of a second (at most 30 s), and prints NAME_settle_ms, how long
# that took. A namespace deleted by `leave` is torn down by the kernel in
# the background (its 40,000 real servers and their per-CPU counters
# freed), and a timed load must not share the VM's one CPU with that or
# anything else left running. Reads /proc/stat with the shell alone, so it
# adds no load of its own.
settle() {
	local name=$1 t0 t1 a b i=0 busy0 all0 busy1 all1
	t0=${EPOCHREALTIME/[.,]/}
	read -r _ a </proc/stat
	while :; do
		if [ -n "${napfd:-}" ]; then read -r -t 0.25 -u "$napfd" || true; else sleep 0.25; fi
		read -r _ b </proc/stat
		# cpu user nice system idle iowait irq softirq steal ...
		set -- $a
		busy0=$(($1 + $2 + $3 + $6 + $7 + $8)) all0=$((busy0 + $4 + $5))
		set -- $b
		busy1=$(($1 + $2 + $3 + $6 + $7 + $8)) all1=$((busy1 + $4 + $5))
		a=$b i=$((i + 1))
		[ $((all1 - all0)) -gt 0 ] && [ $(((busy1 - busy0) * 10)) -le $((all1 - all0)) ] && break
		[ "$i" -lt 120 ] || break
	done
	t1=${EPOCHREALTIME/[.,]/}
	echo "${name}_settle_ms $(((t1 - t0) / 1000))"
}
# ticks: sets tu and ts to the user and system clock ticks of this shell
# and of the children it has waited for (fields 14-17 of /proc/$$/stat),
# read by the shell itself: no process.
ticks() {
	local -a st
	read -r -a st </proc/$$/stat
	tu=$((st[13] + st[15])) ts=$((st[14] + st[16]))
}
# timed NAME CMD...: runs CMD, prints NAME_ms (wall), NAME_cpu (user+sys
# seconds of CMD and its children) and NAME_usr, NAME_sys; marks NAME_a
# before and NAME_b after it on the console. The clocks are read by the
# shell itself (EPOCHREALTIME, /proc/$$/stat): the three windows, wall, CPU
# and the host's, hold CMD alone, none of the timer's own processes (until
# 2026-12-06 two dates were in all three and an awk in the CPU time, about
# 0.2 s of CPU under TCG for both tools alike).
timed() {
	local name=$1
	shift
	local t0 t1 u0 u1 s0 s1 tu ts
	ticks
	u0=$tu s0=$ts
	mark "${name}_a"
	t0=${EPOCHREALTIME/[.,]/}
	"$@"
	t1=${EPOCHREALTIME/[.,]/}
	ticks
	u1=$tu s1=$ts
	mark "${name}_b"
	awk -v n="$name" -v a="$t0" -v b="$t1" -v u0="$u0" -v u1="$u1" -v s0="$s0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%s_ms %.1f\n%s_cpu %.2f\n%s_usr %.2f\n%s_sys %.2f\n", n, (b - a) / 1e3, n, (u1 - u0 + s1 - s0) / hz,
			n, (u1 - u0) / hz, n, (s1 - s0) / hz }'
}
# quiet CMD...: CMD with its output dropped (timed's own lines kept).
quiet() { "$@" >/dev/null; }
# restore_with IPVSADM: what ipvsadm-restore does (drop comment lines, clear,
# then -R), with the given ipvsadm.
restore_with() { grep -v '^#' "$dir/full.rules" | { "$1" -C && "$1" -R; }; }
change_with() { "$1" -R <"$dir/change.rules"; }
check() {
	[ "$(count_dests)" = "$rs" ] || { echo "$1: $(count_dests) real servers in the kernel, want $rs" >&2; exit 1; }
	[ "$(count_dests 2)" = "$2" ] || { echo "$1: $(count_dests 2) real servers of weight 2, want $2" >&2; exit 1; }
}

# Each tool loads into a network namespace of its own. The kernel keeps a
# namespace's deleted real servers in a trash list for up to four minutes
# and scans it on every add (ip_vs_trash_get_dest): a load into a table
# another load has just cleared pays for its 40,000 entries. The service
# hash table is shared by all namespaces, so the last one is cleared before
# the next is made.
ns=ktbench-ipvsadm
inns() { ip netns exec "$ns" "$@"; }
fresh() {
	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns"
	# A namespace without an address has no local routing table yet, and
	# the kernel refuses a real server whose address it cannot type.
	ip -n "$ns" link set lo up
}
leave() {
	inns ipvsadm -C
	ip netns del "$ns"
}
# one TOOL: the full load and the change with TOOL (ipvsadm or kt) in a
# fresh namespace; for ktrestore (kt called as ipvsadm-restore, the same
# command line as ipvsadm's script) the full load only: its change would
# be the same applet's -R as kt's.
one() {
	fresh
	settle "$1_full_$round"
	case $1 in
	ipvsadm)
		timed "ipvsadm_full_$round" inns ipvsadm-restore <"$dir/full.rules"
		inns bash -c "$(declare -f count_dests check); rs=$rs; check ipvsadm-restore 0"
		timed "ipvsadm_change_$round" inns /usr/sbin/ipvsadm -R <"$dir/change.rules"
		inns bash -c "$(declare -f count_dests check); rs=$rs; check 'ipvsadm -R' $changes"
		;;
	kt)
		timed "kt_full_$round" inns bash -c "$(declare -f restore_with); dir=$dir; restore_with $link"
		inns bash -c "$(declare -f count_dests check); rs=$rs; check 'kt ipvsadm -R' 0"
		timed "kt_change_$round" inns "$link" -R <"$dir/change.rules"
		inns bash -c "$(declare -f count_dests check); rs=$rs; check 'kt ipvsadm -R (change)' $changes"
		;;
	ktrestore)
		timed "ktrestore_full_$round" inns "$rlink" <"$dir/full.rules"
		inns bash -c "$(declare -f count_dests check); rs=$rs; check 'kt ipvsadm-restore' 0"
		;;
	esac
	leave
}
ipvsadm -C
# Warm the kernel first, untimed: the first load after boot grows the
# kernel's per-CPU allocator and slab caches (measured: kt's -R took 7.9 s
# on a fresh VM, 4.6 s on the next load), which the first tool of round 1
# would pay alone.
fresh
inns bash -c "$(declare -f restore_with); dir=$dir; restore_with $link"
leave
sleep 2 # the namespace's cleanup runs in the background
for round in $(seq "$rounds"); do
	# Turn which tool goes first.
	case $((round % 3)) in
	1) one ipvsadm; one kt; one ktrestore ;;
	2) one kt; one ktrestore; one ipvsadm ;;
	0) one ktrestore; one ipvsadm; one kt ;;
	esac
done

# The change once more, CHANGES times each (default 5), alternating the two
# tools on one table (loaded by kt): one sample of a 0.5 s change moves with
# whatever else the machine does at that moment. The same -e lines again
# are a change for the kernel all the same (it sets the weight).
fresh
inns bash -c "$(declare -f restore_with); dir=$dir; restore_with $link"
for i in $(seq "$nchanges"); do
	timed "ipvsadm_rechange_$i" inns /usr/sbin/ipvsadm -R <"$dir/change.rules"
	timed "kt_rechange_$i" inns "$link" -R <"$dir/change.rules"
	# What starting the program costs (ipvsadm -v: the kernel's IPVS
	# version, one request), the floor of any short change.
	timed "ipvsadm_start_$i" quiet inns /usr/sbin/ipvsadm -v
	timed "kt_start_$i" quiet inns "$link" -v
done
inns bash -c "$(declare -f count_dests check); rs=$rs; check 'changes' $changes"
leave
