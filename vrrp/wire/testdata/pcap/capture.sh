#!/usr/bin/env bash
# capture.sh: records keepalived 2.2.7's VRRP adverts into the pcaps the
# golden tests decode. Needs root, iproute2, tcpdump and keepalived. Each
# scenario runs two keepalived routers (r1 priority 150, r2 priority 100) in
# network namespaces on one bridge for a few seconds, then stops r1 with
# SIGTERM so the capture ends with its priority-0 advert.
#   usage: sudo vrrp/wire/testdata/pcap/capture.sh [scenario...]
set -euo pipefail
cd "$(dirname "$0")"
out=$(pwd)
tag=kc$$
work=$(mktemp -d)
sw=${tag}sw
cleanup() {
	for pf in "$work"/*/*/run.pid; do
		[ -f "$pf" ] && kill "$(cat "$pf")" 2>/dev/null || true
	done
	sleep 0.5
	for ns in ${tag}r1 ${tag}r2 "$sw"; do ip netns del "$ns" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$sw"
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
i=0
for r in r1 r2; do
	i=$((i + 1))
	ns=${tag}$r
	ip netns add "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip link add "${tag}$r" type veth peer name eth0 netns "$ns"
	ip link set "${tag}$r" netns "$sw"
	ip -n "$sw" link set "${tag}$r" master br0 up
	# Fixed MACs and link-local addresses so the pcaps are reproducible.
	ip -n "$ns" link set eth0 address "02:00:00:00:00:0$i"
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "192.0.2.$i/24" dev eth0
	ip -n "$ns" addr add "2001:db8::$i/64" dev eth0 nodad
done
sleep 1

# conf NAME ROUTER PRIORITY BODY: writes a keepalived.conf.
conf() {
	local dir=$work/$1/$2 src=1 peer=2
	[ "$2" = r2 ] && src=2 peer=1
	mkdir -p "$dir"
	local body=${4//@SRC@/192.0.2.$src}
	body=${body//@PEER@/192.0.2.$peer}
	cat >"$dir/keepalived.conf" <<CONF
global_defs {
    router_id $2
    vrrp_garp_master_repeat 1
    vrrp_garp_master_delay 0
}
vrrp_instance VI_$1 {
    interface eth0
    priority $3
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

scenario() { # name body...
	local name=$1 body=$2
	echo "== $name"
	conf "$name" r1 150 "$body"
	conf "$name" r2 100 "$body"
	ip netns exec ${tag}r2 tcpdump -i eth0 -U -w "$out/$name.pcap" 'ip proto 112 or ip proto 51 or ip6 proto 112' 2>/dev/null &
	local td=$!
	sleep 1
	run "$name" r2
	sleep 1
	run "$name" r1
	sleep 5
	kill -TERM "$(cat "$work/$name/r1/run.pid")"
	sleep 2
	kill -TERM "$(cat "$work/$name/r2/run.pid")"
	sleep 1
	kill -INT $td
	wait $td 2>/dev/null || true
	rm -f "$work/$name"/*/run.pid
	cp "$work/$name/r1/log" "$out/$name.r1.log"
}

want=("$@")
pick() { [ ${#want[@]} -eq 0 ] || [[ " ${want[*]} " == *" $1 "* ]]; }

pick v2-pass && scenario v2-pass "    virtual_router_id 51
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12345
    }
    virtual_ipaddress {
        192.0.2.100
        192.0.2.101
    }"
pick v2-ah && scenario v2-ah "    virtual_router_id 52
    advert_int 1
    authentication {
        auth_type AH
        auth_pass ahsecret
    }
    virtual_ipaddress {
        192.0.2.102
    }"
pick v3-ipv4 && scenario v3-ipv4 "    virtual_router_id 53
    version 3
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.103
        192.0.2.104/24
    }"
pick v3-ipv6 && scenario v3-ipv6 "    virtual_router_id 54
    version 3
    advert_int 1
    virtual_ipaddress {
        2001:db8::100
        fe80::100
    }"
pick unicast && scenario unicast "    virtual_router_id 55
    advert_int 1
    unicast_src_ip @SRC@
    unicast_peer {
        @PEER@
    }
    virtual_ipaddress {
        192.0.2.105
    }"
echo "pcaps in $out"
