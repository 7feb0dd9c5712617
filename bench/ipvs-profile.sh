#!/usr/bin/env bash
# bench/ipvs-profile.sh: where kt run -C's first load of bench/ipvs.sh's
# file (VS virtual servers x RS real servers) spends its CPU, in the IPVS
# test VM: perf record (cpu-clock, with stacks) from kt's start until the
# kernel has every real server and one second more, then the share of kt's
# samples in each part of the load (bench/ipvs perfshare: the kernel's
# IPVS work under the sends, the lexer, the parser, the planner...) and,
# across the parts, page faults and the kernel's per-CPU allocator.
#
# Environment: VS (default 10000), RS (4), FREQ (perf's sampling rate, 4000).
# Exits 0 after printing "skip: ..." when the VM or perf cannot run here.
set -euo pipefail
VS=${VS:-10000}
RS=${RS:-4}
cd "$(dirname "$0")/.."
. bench/ipvs/setup.sh
ipvs_bench_setup prof perf
dests=$((VS * RS))
cat >"$tmp/inner.sh" <<INNER
set -euo pipefail
ip netns add ktprof
ip -n ktprof link set lo up
cp "$tmp/full.conf" /run/kt-prof.conf
cat "$tmp/kt" >/dev/null # into the VM's page cache first, as bench/ipvs.sh does (warm_bin)
ip netns exec ktprof perf record -q -F "${FREQ:-4000}" -e cpu-clock -g -o /run/kt.perf -- \\
	"$tmp/kt" run -C -f /run/kt-prof.conf --control-socket "" --log-level warn -p /run/kt-prof.pid >/run/kt-prof.log 2>&1 &
perfpid=\$!
n=0
for i in \$(seq 600); do
	sleep 0.1
	n=\$(ip netns exec ktprof awk '\$1 == "->" && \$2 != "RemoteAddress:Port" { n++ } END { print n + 0 }' /proc/net/ip_vs)
	[ "\$n" -ge $dests ] && break
done
[ "\$n" -ge $dests ] || { echo "kt run: \$n of $dests real servers after 60 s" >&2; cat /run/kt-prof.log >&2; exit 1; }
sleep 1
kill -9 "\$(cat /run/kt-prof.pid)" # the profile ends with kt
wait "\$perfpid" 2>/dev/null || true
perf script -i /run/kt.perf -F comm,ip,sym 2>/dev/null | "$tmp/ipvsbench" perfshare -comm kt
ip netns del ktprof
INNER
echo "kt run -C's first load of $VS virtual servers x $RS real servers in the IPVS test VM ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', with changes'))"
KT_VM_MEM=${KT_VM_MEM:-1536} bash bench/vmrun.sh bash "$tmp/inner.sh"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
