#!/usr/bin/env bash
# bench/ipvs/inner.sh DIR IPVSBIN: the part of bench/ipvs.sh that runs inside
# the IPVS test VM. Prints "name value" lines (milliseconds).
set -euo pipefail
dir=$1 bin=$2
export PATH="$PATH:/usr/sbin:/sbin"

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }
# count_dests prints how many real servers the kernel has (with weight $1 if given).
count_dests() {
	awk -v w="${1:-}" '$1 == "->" && $2 != "RemoteAddress:Port" && (w == "" || $4 == w) { n++ } END { print n + 0 }' /proc/net/ip_vs
}
vs=$(grep -c '^-A' "$dir/full.rules")
rs=$(grep -c '^-a' "$dir/full.rules")
changes=$(wc -l <"$dir/change.rules")
echo "services $vs"
echo "real_servers $rs"
echo "changes $changes"

# kt
ipvsadm -C
"$bin" kt -dir "$dir"
[ "$(count_dests)" = "$rs" ] || { echo "kt: $(count_dests) real servers in the kernel, want $rs" >&2; exit 1; }
[ "$(count_dests 2)" = "$changes" ] || { echo "kt: change not applied" >&2; exit 1; }

# ipvsadm-restore
ipvsadm -C
t0=$(now_ms)
ipvsadm-restore <"$dir/full.rules"
t1=$(now_ms)
ipvsadm -R <"$dir/change.rules" # ipvsadm-restore would clear the table first
t2=$(now_ms)
[ "$(count_dests)" = "$rs" ] && [ "$(count_dests 2)" = "$changes" ] || { echo "ipvsadm-restore: table incomplete" >&2; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "ipvsadm_full_total_ms %.1f\nipvsadm_change_total_ms %.1f\n", b - a, c - b }'

# keepalived: time from start (and from SIGHUP) until the kernel has the
# table, polling /proc/net/ip_vs every 20 ms.
if command -v keepalived >/dev/null; then
	ipvsadm -C
	cp "$dir/full.conf" /run/kb.conf
	t0=$(now_ms)
	keepalived -C -n -f /run/kb.conf -p /run/kb.pid -c /run/kb_check.pid -r /run/kb_vrrp.pid >/run/kb.log 2>&1 &
	kpid=$!
	until [ "$(count_dests)" = "$rs" ]; do
		sleep 0.02
		kill -0 "$kpid" 2>/dev/null || { echo "keepalived died:" >&2; cat /run/kb.log >&2; exit 1; }
	done
	t1=$(now_ms)
	cp "$dir/changed.conf" /run/kb.conf
	t2=$(now_ms)
	kill -HUP "$kpid"
	until [ "$(count_dests 2)" = "$changes" ]; do sleep 0.02; done
	t3=$(now_ms)
	kill -TERM "$kpid"
	wait "$kpid" || true
	awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { printf "keepalived_full_total_ms %.1f\nkeepalived_change_total_ms %.1f\n", b - a, d - c }'
else
	echo "keepalived_full_total_ms skip"
	echo "keepalived_change_total_ms skip"
fi
