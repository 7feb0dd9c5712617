#!/usr/bin/env bash
# bench/ipvsadm.sh: in the IPVS test VM (internal/vm; Debian's kernel under
# qemu TCG, so every figure is slower than on hardware, alike for both), the
# time to restore VS virtual services x RS real servers into the IPVS table
# with `ipvsadm-restore` (ipvsadm 1.31's script: grep, ipvsadm -C, ipvsadm
# -R, one netlink request per line), with kt called as ipvsadm-restore (the
# same command line and input; one process, changes sent in batches) and
# with kt's ipvsadm applet in the script's steps (bash, grep, `ipvsadm -C`,
# then `ipvsadm -R`), and to apply a 1% change (`ipvsadm -R` of one -e line
# for 1% of the services) with ipvsadm and kt's ipvsadm, in one run.
# Each tool works in a fresh network namespace of the VM (see inner.sh),
# after one untimed load has warmed the kernel.
# ROUNDS rounds (default 1, each a full load and a change per tool, the
# first tool turning); the best of each is printed with the ratio
# ipvsadm / kt. kt is built as `make build` builds it.
#
# Then the change alone, CHANGES times with each tool (default 7),
# alternating, on one table; the medians, their spread (min-max) and the
# ratio of the medians are printed.
#
# Environment: VS (default 10000), RS (4), ROUNDS (1), CHANGES (7).
# Exits 0 after printing "skip: ..." when the VM cannot run here.
set -euo pipefail
VS=${VS:-10000}
RS=${RS:-4}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
for p in qemu-system-x86_64 go; do
	command -v "$p" >/dev/null || { echo "skip: $p not installed"; exit 0; }
done
command -v ipvsadm-restore >/dev/null || { echo "skip: ipvsadm not installed"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 0; }

tmp=$(mktemp -d /tmp/kt-benchipvsadm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/ipvsbench" ./bench/ipvs
make -s build BINARY="$tmp/kt"
"$tmp/ipvsbench" gen -vs "$VS" -rs "$RS" -dir "$tmp"
load0=$(cut -d' ' -f1-3 /proc/loadavg) t0=$(date -u +%H:%M:%S)
# The host CPU time of the VM between the marks inner.sh writes on its
# console (bench/ipvsadm/hostcpu.sh): what each timed step cost the
# emulator, whatever else the host was running at the time.
: >"$tmp/console"
bash bench/ipvsadm/hostcpu.sh "$tmp/console" "$tmp/marks" &
watcher=$!
trap 'kill "$watcher" 2>/dev/null || true; rm -rf "$tmp"' EXIT
out=$(KT_VM_CONSOLE="$tmp/console" KT_VM_MEM=${KT_VM_MEM:-1536} bash bench/vmrun.sh bash bench/ipvsadm/inner.sh "$tmp" "$tmp/kt" "${ROUNDS:-1}" "${CHANGES:-7}") || { echo "$out"; echo "error: the benchmark failed in the VM" >&2; exit 1; }
sleep 0.5 # the watcher's last lines
kill "$watcher" 2>/dev/null || true
# NAME_host: host CPU seconds of the VM from NAME_a to NAME_b.
if [ -s "$tmp/marks" ]; then
	out+=$'\n'$(awk -v hz="$(getconf CLK_TCK)" '{ n = $1; sub(/_[ab]$/, "", n) } $1 ~ /_a$/ { a[n] = $2 } $1 ~ /_b$/ && (n in a) {
		printf "%s_host %.2f\n", n, ($2 - a[n]) / hz }' "$tmp/marks")
fi
echo "$out" | sed 's/^/  /'
# The VM's speed follows the host's load (TCG shares the host's cores with
# everything else; the guest cannot see its steal time): say what it was.
printf '\nasked for the VM at %s UTC (host load average %s); the VM ran %s-%s UTC (its clock); host load average %s at the end (%s cores)\n' \
	"$t0" "$load0" "$(echo "$out" | awk '$1 == "vm_start" { print $2 }')" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
get() { echo "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
printf '\nipvsadm -R in the VM: %s services x %s real servers; change: %s lines\n' "$VS" "$RS" "$(get changes)"
printf '%-26s %12s %10s %16s %12s %10s\n' tool "full ms" "full cpu s" "(user, sys)" "change ms" "change cpu"
for t in ipvsadm ktrestore kt; do
	name=$t
	[ $t = ipvsadm ] && name="ipvsadm-restore (1.31)"
	[ $t = ktrestore ] && name="kt ipvsadm-restore"
	[ $t = kt ] && name="kt ipvsadm -C; -R"
	fm=$(echo "$out" | awk -v t=$t '$1 ~ "^" t "_full_[0-9]+_ms$" { if (m == "" || $2 < m) m = $2 } END { print m }')
	fc=$(echo "$out" | awk -v t=$t '$1 ~ "^" t "_full_[0-9]+_cpu$" { if (m == "" || $2 < m) m = $2 } END { print m }')
	cm=$(echo "$out" | awk -v t=$t '$1 ~ "^" t "_change_[0-9]+_ms$" { if (m == "" || $2 < m) m = $2 } END { print m }')
	cc=$(echo "$out" | awk -v t=$t '$1 ~ "^" t "_change_[0-9]+_cpu$" { if (m == "" || $2 < m) m = $2 } END { print m }')
	# user and system time of the round with the best full load
	fus=$(echo "$out" | awk -v t=$t -v m="$fm" '$1 ~ "^" t "_full_[0-9]+_ms$" && $2 == m { r = $1; sub("_ms$", "", r) }
		{ v[$1] = $2 } END { printf "%s, %s", v[r "_usr"], v[r "_sys"] }')
	printf '%-26s %12s %10s %16s %12s %10s\n' "$name" "$fm" "$fc" "($fus)" "${cm:--}" "${cc:--}"
	eval "${t}_fm=$fm ${t}_cm=$cm"
done
# Every round: each tool's full load (wall ms; CPU s as user + system) and
# the ratio of that round, then the median of the rounds' ratios. The best
# of each tool (above) may come from different rounds; under TCG on a shared
# host a 2-3 s window moves with the host's load far more than a 30 s one,
# so the rounds are printed as they came.
printf '\nfull load by round (wall ms; CPU s = user + sys, in the guest; the VM'"'"'s host CPU s):\n'
for r in $(seq "$(echo "$out" | awk '$1 ~ /^kt_full_[0-9]+_ms$/ { n++ } END { print n + 0 }')"); do
	echo "$out" | awk -v r="$r" '{ v[$1] = $2 } END {
		a = v["ipvsadm_full_" r "_ms"]; ha = v["ipvsadm_full_" r "_host"]
		printf "  round %d: ipvsadm-restore %s (%s = %s + %s; host %s)\n", r,
			a, v["ipvsadm_full_" r "_cpu"], v["ipvsadm_full_" r "_usr"], v["ipvsadm_full_" r "_sys"], (ha == "" ? "-" : ha)
		split("ktrestore kt", ts, " "); split("kt ipvsadm-restore|kt ipvsadm -C; -R", ns, "|")
		for (i = 1; i <= 2; i++) {
			k = ts[i] "_full_" r; b = v[k "_ms"]; hb = v[k "_host"]
			if (b == "") continue
			printf "    %s %s (%s = %s + %s; host %s): %.2fx wall", ns[i], b, v[k "_cpu"], v[k "_usr"], v[k "_sys"], (hb == "" ? "-" : hb), (b > 0 ? a / b : 0)
			if (hb > 0) printf ", %.2fx host CPU", ha / hb
			printf "\n"
		} }'
done
# ratios KIND TOOL: each round's ratio ipvsadm/TOOL of its full load's KIND (ms or host)
ratios() {
	echo "$out" | awk -v k="$1" -v t="$2" '{ v[$1] = $2 } END { for (x in v) if (x ~ "^" t "_full_[0-9]+_" k "$") { r = x; sub("^" t "_full_", "", r); sub("_" k "$", "", r)
		if (v[x] > 0 && v["ipvsadm_full_" r "_" k] != "") print v["ipvsadm_full_" r "_" k] / v[x] } }' | sort -n |
		awk '{ x[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2) }'
}
# The goal compares the same command line: ipvsadm-restore < the rules.
for t in ktrestore kt; do
	for k in ms host; do
		m=$(ratios $k $t)
		[ -n "$m" ] || continue
		if [ $t = ktrestore ]; then
			printf 'median of the rounds'"'"' full-load ratios ipvsadm-restore / kt ipvsadm-restore by %s: %sx (goal >= 10x: %s)\n' \
				"$([ $k = ms ] && echo "wall time" || echo "the VM's host CPU time")" "$m" "$(awk -v m="$m" 'BEGIN { print (m >= 10 ? "reached" : "NOT reached") }')"
		else
			printf 'median of the rounds'"'"' full-load ratios ipvsadm-restore / kt ipvsadm -C; -R in the script'"'"'s steps by %s: %sx\n' \
				"$([ $k = ms ] && echo "wall time" || echo "the VM's host CPU time")" "$m"
		fi
	done
done

# The repeated changes: median wall and CPU time of each tool.
med() {
	echo "$out" | awk -v re="$1" '$1 ~ re { print $2 }' | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit } print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
span() { echo "$out" | awk -v re="$1" '$1 ~ re { if (lo == "" || $2 < lo) lo = $2; if ($2 > hi) hi = $2 } END { printf "%s-%s", lo, hi }'; }
ipvsadm_rm=$(med '^ipvsadm_rechange_[0-9]+_ms$') kt_rm=$(med '^kt_rechange_[0-9]+_ms$')
printf '\nthe change again, %s times each, alternating: median ipvsadm -R %s ms (%s; %s s CPU), kt %s ms (%s; %s s CPU)\n' \
	"$(echo "$out" | grep -c '^kt_rechange_[0-9]*_ms ')" "$ipvsadm_rm" "$(span '^ipvsadm_rechange_[0-9]+_ms$')" \
	"$(med '^ipvsadm_rechange_[0-9]+_cpu$')" "$kt_rm" "$(span '^kt_rechange_[0-9]+_ms$')" "$(med '^kt_rechange_[0-9]+_cpu$')"
printf 'the change again, by the VM'"'"'s host CPU time: median ipvsadm -R %s s, kt %s s\n' \
	"$(med '^ipvsadm_rechange_[0-9]+_host$')" "$(med '^kt_rechange_[0-9]+_host$')"
printf 'starting the program (ipvsadm -v), median: ipvsadm %s ms (%s), kt %s ms (%s)\n' \
	"$(med '^ipvsadm_start_[0-9]+_ms$')" "$(span '^ipvsadm_start_[0-9]+_ms$')" "$(med '^kt_start_[0-9]+_ms$')" "$(span '^kt_start_[0-9]+_ms$')"
awk -v a="$ipvsadm_rm" -v b="$kt_rm" 'BEGIN { if (b > 0) printf "ratio of medians ipvsadm/kt: change %.2fx (goal >= 1x: %s)\n", a / b, (a / b >= 1 ? "reached" : "NOT reached") }'
awk -v a="$ipvsadm_fm" -v b="$ktrestore_fm" -v e="$kt_fm" -v c="$ipvsadm_cm" -v d="$kt_cm" 'BEGIN {
	printf "ratio of the best rounds: full load ipvsadm-restore / kt ipvsadm-restore %.2fx (goal >= 10x: %s), / kt ipvsadm -C; -R %.2fx; change ipvsadm -R / kt ipvsadm -R %.2fx (goal >= 1x: %s)\n",
		a / b, (a / b >= 10 ? "reached" : "NOT reached"), a / e, c / d, (c / d >= 1 ? "reached" : "NOT reached") }'
