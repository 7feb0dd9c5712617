#!/usr/bin/env bash
# bench/ipvs/inner.sh DIR IPVSBIN [REPEAT [BASEBIN]]: the part of bench/ipvs.sh that runs
# inside the IPVS test VM. Prints "name value" lines (milliseconds). With
# BASEBIN (bench/ipvs built from another revision), kt run's path of both
# is timed too, in fresh namespaces, and with KT_BASE_BIN the daemon part
# runs that kt as well.
set -euo pipefail
dir=$1 bin=$2
export REPEAT=${3:-7} # read by IPVSBIN too
basebin=${4:-}
export PATH="$PATH:/usr/sbin:/sbin"

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }
# count_dests prints how many real servers the kernel has (with weight $1
# if given), in the namespace $cns when it is set.
cns=
count_dests() {
	${cns:+ip netns exec "$cns"} awk -v w="${1:-}" '$1 == "->" && $2 != "RemoteAddress:Port" && (w == "" || $4 == w) { n++ } END { print n + 0 }' /proc/net/ip_vs
}
# fresh_ns NAME: a new network namespace with lo up (else no local table:
# the kernel refuses the real servers, EINVAL). Each load that is compared
# goes into one of its own: the kernel keeps deleted real servers in a
# per-namespace trash list for up to four minutes and scans it on every add.
fresh_ns() {
	ip netns del "$1" 2>/dev/null || true
	ip netns add "$1"
	ip -n "$1" link set lo up
}
drop_ns() {
	ip netns exec "$1" ipvsadm -C
	ip netns del "$1"
	sleep "${2:-2}" # the namespace's cleanup runs in the background
	settle "$1"
}
# settle NAME: waits (up to 60 s) until the VM's CPU has been idle for a
# whole second, 95% or more: the kernel frees a deleted namespace's 50,000
# IPVS entries and their per-CPU counters in a work queue, which on the
# VM's one slow CPU can outlast drop_ns's sleep and would then run during
# the next load. It starts no process while it watches (in the emulator
# starting one takes a tenth of a second of CPU): /proc/stat is read and
# the second waited by bash's builtins. Says on stderr how long it waited.
settle() {
	local t0=$EPOCHREALTIME fifo=/run/ktbench-settle fd c u n s i w q sq st rest t1 i1 k
	[ -p "$fifo" ] || mkfifo "$fifo"
	exec {fd}<>"$fifo"
	read -r c u n s i w q sq st rest </proc/stat
	t1=$((u + n + s + i + w + q + sq + st)) i1=$((i + w))
	for ((k = 0; k < 60; k++)); do
		read -r -t 1 -u "$fd" _ || true
		read -r c u n s i w q sq st rest </proc/stat
		if (((i + w - i1) * 100 >= 95 * (u + n + s + i + w + q + sq + st - t1))); then
			exec {fd}>&-
			echo "settle after $1: $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms" >&2
			return 0
		fi
		t1=$((u + n + s + i + w + q + sq + st)) i1=$((i + w))
	done
	exec {fd}>&-
	echo "settle after $1: the VM was still busy after 60 s" >&2
}
vs=$(grep -c '^-A' "$dir/full.rules")
rs=$(grep -c '^-a' "$dir/full.rules")
changes=$(wc -l <"$dir/change.rules")
echo "services $vs"
echo "real_servers $rs"
echo "changes $changes"

# Warm the kernel first, untimed: the first load after boot grows the
# kernel's per-CPU allocator and slab caches (measured: kt's applet -R took
# 7.9 s on a fresh VM, 4.6 s on the next load), a cost whichever tool goes
# first would pay. A scratch namespace, deleted after (its trash with it).
ip netns del ktbench-warm 2>/dev/null || true
ip netns add ktbench-warm
ip -n ktbench-warm link set lo up
REPEAT=0 ip netns exec ktbench-warm "$bin" kt -dir "$dir" >/dev/null
ip netns exec ktbench-warm ipvsadm -C
ip netns del ktbench-warm
sleep 2 # the namespace's cleanup runs in the background

# With a base: kt run's path of the base and of this tree, each in a fresh
# namespace, KT_BENCH_ROUNDS rounds (default 2: bench/ipvs.sh's ROUNDS) in
# the order base, ipvsadm-restore, new, new, ipvsadm-restore, base,
# base... (lines prefixed SIDE_ROUND_), 5 s apart for the kernel to
# free the namespace before. ipvsadm-restore's full load is timed in the
# rounds too (side "ipvs"), so that the ratio of the rounds' medians
# compares loads made over the same minutes: the VM's speed moves with the
# host's other work, and on 2026-12-07 ipvsadm-restore's single load below
# took 17-19 s in runs where it had taken 10-11 s the day before.
if [ -n "$basebin" ]; then
	round=0
	sides=
	for i in $(seq "${KT_BENCH_ROUNDS:-2}"); do
		if [ $((i % 2)) = 1 ]; then sides="$sides base ipvs new"; else sides="$sides new ipvs base"; fi
	done
	for side in $sides; do
		round=$((round + 1))
		cns=ktbench-$side
		fresh_ns "$cns"
		case $side in
		ipvs)
			t0=$(now_ms)
			ip netns exec "$cns" ipvsadm-restore <"$dir/full.rules"
			t1=$(now_ms)
			awk -v a="$t0" -v b="$t1" -v r="$round" 'BEGIN { printf "ipvs_%d_full_total_ms %.1f\n", r, b - a }'
			;;
		*)
			b=$bin
			[ "$side" = base ] && b=$basebin
			REPEAT=0 ip netns exec "$cns" "$b" kt -dir "$dir" | sed "s/^/${side}_${round}_/"
			;;
		esac
		[ "$(count_dests)" = "$rs" ] || { echo "$side: $(count_dests) real servers in the kernel, want $rs" >&2; exit 1; }
		drop_ns "$cns" 5
		cns=
	done
fi

# kt, in a fresh namespace as ipvsadm-restore's below, so that both load
# on the same terms (on 2026-12-06 kt's apply took 590-710 ms of system
# time in most fresh namespaces, 460-510 ms in the VM's own).
cns=ktbench-kt
fresh_ns "$cns"
ip netns exec "$cns" "$bin" kt -dir "$dir"
[ "$(count_dests)" = "$rs" ] || { echo "kt: $(count_dests) real servers in the kernel, want $rs" >&2; exit 1; }
[ "$(count_dests 2)" = "$changes" ] || { echo "kt: change not applied" >&2; exit 1; }
drop_ns "$cns"
cns=

# ipvsadm-restore, in a network namespace of its own: the kernel keeps the
# real servers kt's table had in a trash list for up to four minutes and
# scans it on every add (ip_vs_trash_get_dest), per namespace. The service
# hash table is shared by all namespaces, so kt's table goes first.
ns=ktbench-ipvs
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up # else no local table: the kernel refuses the real servers (EINVAL)
cpu_ticks() { awk '{ print $14 + $16, $15 + $17 }' /proc/$$/stat; } # user, sys of this shell's children
read -r u0 s0 <<<"$(cpu_ticks)"
t0=$(now_ms)
ip netns exec "$ns" ipvsadm-restore <"$dir/full.rules"
t1=$(now_ms)
read -r u1 s1 <<<"$(cpu_ticks)"
awk -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "ipvsadm_full_usr_ms %.1f\nipvsadm_full_sys_ms %.1f\n", u * 1000 / hz, s * 1000 / hz }'
ip netns exec "$ns" ipvsadm -R <"$dir/change.rules" # ipvsadm-restore would clear the table first
t2=$(now_ms)
ip netns exec "$ns" bash -c "$(declare -f count_dests); [ \"\$(count_dests)\" = $rs ] && [ \"\$(count_dests 2)\" = $changes ]" ||
	{ echo "ipvsadm-restore: table incomplete" >&2; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "ipvsadm_full_total_ms %.1f\nipvsadm_change_total_ms %.1f\n", b - a, c - b }'
# The change again, REPEAT times (default 7), back and forth as kt's:
# weight 1 again, then 2, and so on.
sed 's/ -w 2$/ -w 1/' "$dir/change.rules" >"$dir/revert.rules"
for i in $(seq "$REPEAT"); do
	f=$dir/revert.rules
	[ $((i % 2)) = 0 ] && f=$dir/change.rules
	t0=$(now_ms)
	ip netns exec "$ns" ipvsadm -R <"$f"
	t1=$(now_ms)
	awk -v i="$i" -v a="$t0" -v b="$t1" 'BEGIN { printf "ipvsadm_rechange_%d_ms %.1f\n", i, b - a }'
done
ip netns exec "$ns" ipvsadm -C
ip netns del "$ns"
if [ "${KT_BENCH_NO_DAEMONS:-0}" = 1 ]; then
	echo "ktrun_full_total_ms skip"
	echo "keepalived_full_total_ms skip"
	exit 0
fi

# rss_kb PID...: the summed VmRSS of the processes and their children, in KiB.
rss_kb() {
	local pids="$*" p
	for p in $*; do pids="$pids $(pgrep -P "$p" 2>/dev/null || true)"; done
	for p in $pids; do cat "/proc/$p/status" 2>/dev/null; done | awk '$1 == "VmRSS:" { s += $2 } END { print s + 0 }'
}
# rss_parts PID: the process's RssAnon and RssFile, in KiB (the heap and
# the program's pages, which kt's memtrim drops after start and reloads).
rss_parts() {
	awk '$1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 } END { print a + 0, f + 0 }' "/proc/$1/status" 2>/dev/null || echo "0 0"
}
# await NAME PID N [WEIGHT] [-hup]: waits until PID (and its children) has
# put N real servers (of weight WEIGHT) into the kernel, in the namespace
# $cns, and prints NAME_ms (until the daemon's last CPU tick before it went
# idle with the table complete), NAME_cpu_ms (the daemon's CPU time so
# far, user + system), NAME_peak_rss_kb and NAME_done_rss_kb; timed from
# $t0, or with -hup from the SIGHUP it sends. bench/ipvs's await polls the
# daemon's own counters every 10 ms and reads /proc/net/ip_vs only once
# the daemon is idle: until 2026-12-06 this was a shell loop that ran ip
# netns exec and awk over the 50,000-line /proc/net/ip_vs every 20 ms,
# which took much of the VM's one CPU from the daemon it timed.
await() {
	local name=$1 pid=$2 n=$3 w=${4:-} hup=${5:-} args
	args=(-name "$name" -pid "$pid" -dests "$n")
	[ -z "$w" ] || args+=(-weight "$w")
	if [ -n "$hup" ]; then args+=(-hup); else args+=(-start-ms "$t0"); fi
	ip netns exec "$cns" "$bin" await "${args[@]}" || { echo "$name: failed" >&2; return 1; }
}

# await_reload NAME PID WEIGHT N: sends PID a SIGHUP and waits until N
# real servers have weight WEIGHT (await above), with the RSS of PID and
# its children meanwhile; prints NAME_reload_ms, NAME_reload_cpu_ms (the
# daemon's CPU time in the reload), NAME_rss_before_kb,
# NAME_reload_peak_rss_kb, and NAME_rss_applied_kb (the RSS when the
# daemon was done). "Before" is read after REST seconds (default 12; both
# daemons alike), so that it is the daemon's resting RSS and not what the
# step before it (another reload) still held: kt gives a reload's garbage
# back to the kernel once IPVS has the change, which takes it a moment,
# and drops the program's pages the start or a reload brought back 10 s
# after it (memtrim's delay, README "Memory: the start-up trim"); read
# after 5 s (REST=5, the protocol until 2026-12-06 08:00 UTC), kt's RSS
# holds those pages or not depending on whether the trim of the start
# came before the first reload or was put off by it.
await_reload() {
	local name=$1 pid=$2 w=$3 n=$4 before parts out
	sleep "${KT_BENCH_REST:-12}"
	before=$(rss_kb "$pid")
	parts=$(rss_parts "$pid")
	out=$(await "${name}_reload" "$pid" "$n" "$w" -hup)
	echo "$out" | awk -v b="$before" -v n="$name" '
		$1 == n "_reload_ms" || $1 == n "_reload_cpu_ms" { print }
		$1 == n "_reload_peak_rss_kb" { print $1, ($2 > b ? $2 : b) }
		$1 == n "_reload_done_rss_kb" { print n "_rss_applied_kb", $2 }'
	echo "${name}_rss_before_kb $before"
	set -- $parts $(rss_parts "$pid")
	echo "${name}_rss_before_anon_kb $1"
	echo "${name}_rss_before_file_kb $2"
	echo "${name}_rss_applied_anon_kb $3"
	echo "${name}_rss_applied_file_kb $4"
}

# warm_bin PROGRAM: reads the program and the libraries it loads into the
# VM's page cache before it is timed. The VM reads them from the host over
# 9p, which under TCG takes about 0.2 s of CPU for kt's 37 MB the first
# time (GODEBUG=inittrace=1, by hand, 2026-12-06: the packages'
# initialisation 244 ms cold, 59 ms warm); a director reads its program
# from its own disk, once. ipvsadm is warm by now (the warm-up's and
# drop_ns's ipvsadm -C).
warm_bin() {
	local f
	for f in "$1" $(ldd "$1" 2>/dev/null | awk '$(NF - 1) ~ /^\// { print $(NF - 1) }'); do
		cat "$f" >/dev/null
	done
}

# kt run -C (checkers and IPVS, as keepalived -C): time from start until
# the kernel has the table, from SIGHUP until the 1% change is applied,
# then a SIGHUP that changes one real server (one.conf), with memory. Each
# daemon runs in a fresh namespace of its own (fresh_ns above).
# ktrun NAME BIN
ktrun() {
	local name=$1 kbin=$2 tpid t0
	warm_bin "$kbin"
	cns=ktbench-$name
	fresh_ns "$cns"
	cp "$dir/full.conf" /run/kt-bench.conf
	t0=$(now_ms)
	ip netns exec "$cns" "$kbin" run -C -f /run/kt-bench.conf --control-socket "" --log-level warn -p /run/kt-bench.pid >/run/kt-bench.log 2>&1 &
	tpid=$!
	await "${name}_full_total" "$tpid" "$rs" || { echo "kt run ($name):" >&2; cat /run/kt-bench.log >&2; exit 1; }
	cp "$dir/changed.conf" /run/kt-bench.conf
	await_reload "${name}_change" "$tpid" 2 "$changes"
	cp "$dir/one.conf" /run/kt-bench.conf
	await_reload "${name}_one" "$tpid" 3 1
	kill -TERM "$tpid"
	wait "$tpid" || true
	drop_ns "$cns"
	cns=
}
if [ -x "${KT_BIN:-}" ]; then
	if [ -x "${KT_BASE_BIN:-}" ]; then
		ktrun ktbase "$KT_BASE_BIN"
	fi
	ktrun ktrun "$KT_BIN"
else
	echo "ktrun_full_total_ms skip"
fi

# keepalived: time from start (and from SIGHUP) until the kernel has the
# table (await above, as for kt); then the same one-real-server reload as
# kt's.
if command -v keepalived >/dev/null; then
	warm_bin "$(command -v keepalived)"
	cns=ktbench-keepalived
	fresh_ns "$cns"
	cp "$dir/full.conf" /run/kb.conf
	t0=$(now_ms)
	ip netns exec "$cns" keepalived -C -n -f /run/kb.conf -p /run/kb.pid -c /run/kb_check.pid -r /run/kb_vrrp.pid >/run/kb.log 2>&1 &
	kpid=$!
	await keepalived_full_total "$kpid" "$rs" || { echo "keepalived:" >&2; cat /run/kb.log >&2; exit 1; }
	cp "$dir/changed.conf" /run/kb.conf
	await keepalived_change_total "$kpid" "$changes" 2 -hup
	cp "$dir/one.conf" /run/kb.conf
	await_reload keepalived_one "$kpid" 3 1
	kill -TERM "$kpid"
	wait "$kpid" || true
	drop_ns "$cns"
	cns=
else
	echo "keepalived_full_total_ms skip"
	echo "keepalived_change_total_ms skip"
fi
