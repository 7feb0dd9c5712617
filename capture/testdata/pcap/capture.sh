#!/usr/bin/env bash
# capture.sh: records keepalived 2.2.7 failing over into the pcaps that the
# kt sniff golden tests decode (the five single-router scenarios are in
# vrrp/wire/testdata/pcap, made by its capture.sh). Needs root, iproute2
# (bridge), tcpdump and keepalived. Two keepalived routers (r1 priority 150,
# r2 priority 100) and an observer run in network namespaces on one bridge;
# the observer captures VRRP, ARP and neighbour advertisements.
#   failover:   r1 is master, then is killed with SIGKILL; r2 takes over
#               after the master-down interval.
#   splitbrain: the bridge stops forwarding between r1's and r2's ports
#               (port isolation; the observer still hears both), so both are
#               master at once for 4 s; then the ports are joined again.
#   failover-v6: the failover scenario with VRRPv3 over IPv6 (the new
#               master's unsolicited neighbour advertisements for the VIP).
#   usage: sudo capture/testdata/pcap/capture.sh [scenario...]
set -euo pipefail
cd "$(dirname "$0")"
out=$(pwd)
tag=ks$$
work=$(mktemp -d)
sw=${tag}sw
cleanup() {
	for pf in "$work"/*/*/run.pid; do
		[ -f "$pf" ] && kill -9 "$(cat "$pf")" 2>/dev/null || true
	done
	sleep 0.5
	for ns in ${tag}r1 ${tag}r2 ${tag}obs "$sw"; do ip netns del "$ns" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$sw"
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
i=0
for r in r1 r2 obs; do
	i=$((i + 1))
	ns=${tag}$r
	ip netns add "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip link add "${tag}$r" type veth peer name eth0 netns "$ns"
	ip link set "${tag}$r" netns "$sw"
	ip -n "$sw" link set "${tag}$r" master br0 up
	ip -n "$ns" link set eth0 address "02:00:00:00:00:0$i"
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "192.0.2.$i/24" dev eth0
	ip -n "$ns" addr add "2001:db8::$i/64" dev eth0 nodad
done
sleep 1

conf() { # scenario router priority
	local dir=$work/$1/$2 body="    advert_int 1
    virtual_ipaddress {
        192.0.2.110
    }"
	[ "$1" = failover-v6 ] && body="    version 3
    advert_int 1
    virtual_ipaddress {
        2001:db8::110
    }"
	mkdir -p "$dir"
	cat >"$dir/keepalived.conf" <<CONF
global_defs {
    router_id $2
    vrrp_garp_master_repeat 1
    vrrp_garp_master_delay 0
}
vrrp_instance VI_$1 {
    interface eth0
    priority $3
    virtual_router_id 60
$body
}
CONF
}

run() { # scenario router
	local dir=$work/$1/$2
	ip netns exec "${tag}$2" keepalived -n -l -D -P -f "$dir/keepalived.conf" \
		-p "$dir/keepalived.pid" -r "$dir/vrrp.pid" >"$dir/log" 2>&1 &
	echo $! >"$dir/run.pid"
}

start() { # scenario
	conf "$1" r1 150
	conf "$1" r2 100
	ip netns exec ${tag}obs tcpdump -i eth0 -U -w "$out/$1.pcap" \
		'ip proto 112 or ip proto 51 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)' 2>/dev/null &
	td=$!
	sleep 1
	run "$1" r2
	sleep 1
	run "$1" r1
	sleep 5
}

finish() { # scenario
	for r in r1 r2; do
		local pf=$work/$1/$r/run.pid
		[ -f "$pf" ] && kill -TERM "$(cat "$pf")" 2>/dev/null || true
	done
	sleep 2
	kill -INT $td
	wait $td 2>/dev/null || true
	rm -f "$work/$1"/*/run.pid
}

want=("$@")
pick() { [ ${#want[@]} -eq 0 ] || [[ " ${want[*]} " == *" $1 "* ]]; }

for sc in failover failover-v6; do
	pick $sc || continue
	echo "== $sc"
	start $sc
	# keepalived -n forks a VRRP child; kill the whole namespace's keepalived.
	for p in $(ip netns pids ${tag}r1); do kill -9 "$p" 2>/dev/null || true; done
	rm -f "$work/$sc/r1/run.pid"
	sleep 6
	finish $sc
done
if pick splitbrain; then
	echo "== splitbrain"
	start splitbrain
	bridge -n "$sw" link set dev ${tag}r1 isolated on
	bridge -n "$sw" link set dev ${tag}r2 isolated on
	sleep 8
	bridge -n "$sw" link set dev ${tag}r1 isolated off
	bridge -n "$sw" link set dev ${tag}r2 isolated off
	sleep 3
	finish splitbrain
fi
echo "pcaps in $out"
