#!/usr/bin/env bash
# bench/ipvs.sh: in the IPVS test VM (internal/vm; Debian's kernel under
# qemu TCG, so every figure is slower than on hardware, alike for all three),
# the time to program VS virtual services x RS real servers into an empty
# IPVS table and to apply a 1% change (the weight of one real server in 1%
# of the services), for kt, for keepalived (same config, started with -C,
# change by SIGHUP) and for ipvsadm-restore of the same table, in one run.
# Then the daemons' reloads: kt run -C and keepalived -C each load the
# table, take the 1% change by SIGHUP, then a SIGHUP that changes one real
# server; for that last one, the time until the kernel has it and the RSS
# (summed over each daemon's processes) before and at its peak during it.
# Each daemon step is timed by bench/ipvs's await (await.go), which also
# gives the daemon's CPU time (user + system) in it; kt run -C's full load
# is put against ipvsadm-restore's by wall and by CPU time.
# One untimed load warms the kernel first (its per-CPU allocator grows on
# the first load after boot); kt's full load is split into user and system
# CPU per part, ipvsadm-restore's too. Every load that is compared goes into
# a fresh network namespace of its own (bench/ipvs/inner.sh's fresh_ns).
#
# Environment: VS (default 10000), RS (4), REPEAT (7: the 1% change again,
# back and forth, with kt and with ipvsadm -R; medians and spread printed),
# KT_BENCH_NO_DAEMONS=1 (skip the daemons: kt run and keepalived),
# KT_BENCH_REST (12: seconds each daemon rests before a SIGHUP, when its
# "RSS before" is read; see await_reload in bench/ipvs/inner.sh),
# BASE=REV (a git revision, e.g. BASE=main: bench/ipvs and kt built from it
# are measured in the same VM run, kt run's path as "base" before and after
# this tree's, each in a fresh network namespace, ROUNDS pairs (default 2)
# alternating, with an ipvsadm-restore of the full table in each round, and
# kt run -C of both).
# Exits 0 after printing "skip: ..." when the VM cannot run here.
set -euo pipefail
VS=${VS:-10000}
RS=${RS:-4}
cd "$(dirname "$0")/.."
. bench/ipvs/setup.sh
ipvs_bench_setup ipvs
export KT_BIN="$tmp/kt"
basebin=
if [ -n "${BASE:-}" ]; then
	rev=$(git rev-parse --short "$BASE")
	echo "base: bench/ipvs and kt built from $BASE ($rev)"
	mkdir "$tmp/base"
	git archive "$rev" | tar -x -C "$tmp/base"
	(cd "$tmp/base" && CGO_ENABLED=0 go build -o "$tmp/ipvsbench-base" ./bench/ipvs && make -s build BINARY="$tmp/kt-base")
	basebin=$tmp/ipvsbench-base
	export KT_BASE_BIN="$tmp/kt-base"
fi
export KT_BENCH_ROUNDS=${ROUNDS:-2} # the VM passes KT_* variables through
echo "bench/ipvs.sh: $(date -u '+%F %T UTC'), host load average $(cut -d' ' -f1-3 /proc/loadavg), kt $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' with changes')"
out=$(KT_VM_MEM=${KT_VM_MEM:-1536} bash bench/vmrun.sh bash bench/ipvs/inner.sh "$tmp" "$tmp/ipvsbench" "${REPEAT:-7}" "$basebin") || { echo "$out"; echo "error: the benchmark failed in the VM" >&2; exit 1; }
echo "$out" | sed 's/^/  /'
get() { echo "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
# stats RE: median, min, max and count of the values whose name matches RE.
stats() {
	echo "$out" | awk -v re="$1" '$1 ~ re { print $2 }' | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "- - - 0"; exit } printf "%s %s %s %d\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR], NR }'
}
printf '\nIPVS programming in the VM: %s services x %s real servers (%s changes)\n' "$VS" "$RS" "$(get changes)"
printf '%-16s %14s %14s\n' tool "full load ms" "1% change ms"
printf '%-16s %14s %14s\n' kt "$(get kt_full_total_ms)" "$(get kt_change_total_ms)"
printf '%-16s %14s %14s\n' "  (apply only)" "$(get kt_full_apply_ms)" "$(get kt_change_apply_ms)"
printf '%-16s %14s %14s\n' ipvsadm-restore "$(get ipvsadm_full_total_ms)" "$(get ipvsadm_change_total_ms)"
printf '%-16s %14s %14s\n' keepalived "$(get keepalived_full_total_ms)" "$(get keepalived_change_total_ms)"
printf '\nfull load CPU ms (user, system): kt parse %s, %s; plan %s, %s; apply %s, %s; total %s, %s; ipvsadm-restore %s, %s\n' \
	"$(get kt_full_parse_usr_ms)" "$(get kt_full_parse_sys_ms)" "$(get kt_full_desired_usr_ms)" "$(get kt_full_desired_sys_ms)" \
	"$(get kt_full_apply_usr_ms)" "$(get kt_full_apply_sys_ms)" "$(get kt_full_total_usr_ms)" "$(get kt_full_total_sys_ms)" \
	"$(get ipvsadm_full_usr_ms)" "$(get ipvsadm_full_sys_ms)"
if [ -n "$basebin" ]; then
	printf '\nkt run'"'"'s path, base (%s) and this tree, each full load in a fresh namespace, alternating (ms: total = parse + plan + apply; CPU user/sys of plan and apply):\n' "$BASE"
	for side in base new; do
		echo "$out" | awk -v s="$side" '$1 ~ "^"s"_[0-9]+_kt_full_" { split($1, p, "_"); r = p[2]; k = substr($1, length(s "_" r "_kt_full_") + 1); v[r, k] = $2; rounds[r] = 1 }
			END { for (r in rounds) printf "  %-4s round %s: total %s = parse %s + plan %s + apply %s; plan CPU %s/%s, apply CPU %s/%s\n", s, r,
				v[r, "total_ms"], v[r, "parse_ms"], v[r, "desired_ms"], v[r, "apply_ms"], v[r, "desired_usr_ms"], v[r, "desired_sys_ms"], v[r, "apply_usr_ms"], v[r, "apply_sys_ms"] }' | sort
	done
	best() { echo "$out" | awk -v re="$1" '$1 ~ re { if (m == "" || $2 < m) m = $2 } END { print m }'; }
	for k in total_ms desired_ms apply_ms desired_usr_ms apply_usr_ms apply_sys_ms total_usr_ms total_sys_ms; do
		b=$(best "^base_[0-9]+_kt_full_${k}\$") n=$(best "^new_[0-9]+_kt_full_${k}\$")
		read -r bm _ _ _ <<<"$(stats "^base_[0-9]+_kt_full_${k}\$")"
		read -r nm _ _ _ <<<"$(stats "^new_[0-9]+_kt_full_${k}\$")"
		awk -v k="$k" -v b="$b" -v n="$n" -v bm="$bm" -v nm="$nm" 'BEGIN { printf "  %s: best base %s, this tree %s (%s); median base %s, this tree %s (%s)\n", k, b, n, (b > 0 ? sprintf("%.2fx", n / b) : "n/a"), bm, nm, (bm > 0 ? sprintf("%.2fx", nm / bm) : "n/a") }'
	done
	read -r bm _ _ _ <<<"$(stats '^base_[0-9]+_kt_full_total_ms$')"
	read -r nm _ _ _ <<<"$(stats '^new_[0-9]+_kt_full_total_ms$')"
	awk -v i="$(get ipvsadm_full_total_ms)" -v n="$(best '^new_[0-9]+_kt_full_total_ms$')" -v b="$(best '^base_[0-9]+_kt_full_total_ms$')" -v nm="$nm" -v bm="$bm" \
		'BEGIN { if (n > 0 && b > 0) printf "  full load, ipvsadm-restore (its one load after the rounds) / kt: best round this tree %.1f, base %.1f; median this tree %.1f, base %.1f (goal >= 10)\n", i / n, i / b, i / nm, i / bm }'
	# ipvsadm-restore timed in the rounds, among kt's loads: the ratio of
	# the medians, each over the same minutes.
	read -r im il ih in_ <<<"$(stats '^ipvs_[0-9]+_full_total_ms$')"
	awk -v im="$im" -v il="$il" -v ih="$ih" -v n="$in_" -v nm="$nm" -v bm="$bm" \
		'BEGIN { if (n > 0 && nm > 0 && bm > 0) printf "  ipvsadm-restore in the rounds: median %s ms (%s-%s, n=%d); full load, ratio of the rounds'"'"' medians ipvsadm-restore / kt: this tree %.1f, base %.1f (goal >= 10: %s)\n", im, il, ih, n, im / nm, im / bm, (im / nm >= 10 ? "reached" : "NOT reached") }'
fi
printf '\nratios: 1%% change, kt apply / ipvsadm-restore %s (goal <= 1); full load, ipvsadm-restore / kt %s (goal >= 10)\n' \
	"$(awk -v k="$(get kt_change_apply_ms)" -v i="$(get ipvsadm_change_total_ms)" 'BEGIN { if (i > 0) printf "%.2f", k / i; else print "n/a" }')" \
	"$(awk -v k="$(get kt_full_total_ms)" -v i="$(get ipvsadm_full_total_ms)" 'BEGIN { if (k > 0) printf "%.1f", i / k; else print "n/a" }')"

# The repeated changes: median, min and max of each.
read -r km kl kh kn <<<"$(stats '^kt_rechange_[0-9]+_ms$')"
read -r im il ih in_ <<<"$(stats '^ipvsadm_rechange_[0-9]+_ms$')"
printf '\nthe 1%% change again (back and forth): kt plan + apply median %s ms (%s-%s, n=%s); ipvsadm -R median %s ms (%s-%s, n=%s)\n' \
	"$km" "$kl" "$kh" "$kn" "$im" "$il" "$ih" "$in_"
awk -v k="$km" -v i="$im" 'BEGIN { if (k > 0) printf "ratio of medians ipvsadm -R / kt: %.2fx (goal >= 1x: %s)\n", i / k, (i / k >= 1 ? "reached" : "NOT reached") }'

printf '\nDaemons in the VM: start, SIGHUP with the 1%% change, SIGHUP with one real server changed\n'
printf '%-12s %14s %14s %16s %14s %16s\n' daemon "load ms" "1% reload ms" "1-RS reload ms" "RSS before" "peak RSS reload"
mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f MiB", k / 1024; else print "-" }'; }
printf '%-12s %14s %14s %16s %14s %16s\n' "kt run -C" "$(get ktrun_full_total_ms)" "$(get ktrun_change_reload_ms)" \
	"$(get ktrun_one_reload_ms)" "$(mib "$(get ktrun_one_rss_before_kb)")" "$(mib "$(get ktrun_one_reload_peak_rss_kb)")"
[ -z "$basebin" ] || printf '%-12s %14s %14s %16s %14s %16s\n' "kt run base" "$(get ktbase_full_total_ms)" "$(get ktbase_change_reload_ms)" \
	"$(get ktbase_one_reload_ms)" "$(mib "$(get ktbase_one_rss_before_kb)")" "$(mib "$(get ktbase_one_reload_peak_rss_kb)")"
printf '%-12s %14s %14s %16s %14s %16s\n' "keepalived" "$(get keepalived_full_total_ms)" "$(get keepalived_change_total_ms)" \
	"$(get keepalived_one_reload_ms)" "$(mib "$(get keepalived_one_rss_before_kb)")" "$(mib "$(get keepalived_one_reload_peak_rss_kb)")"
printf 'CPU ms (user + system) of each daemon in the load, the 1%% reload and the 1-RS reload: kt run -C %s, %s, %s' \
	"$(get ktrun_full_total_cpu_ms)" "$(get ktrun_change_reload_cpu_ms)" "$(get ktrun_one_reload_cpu_ms)"
[ -z "$basebin" ] || printf '; base %s, %s, %s' "$(get ktbase_full_total_cpu_ms)" "$(get ktbase_change_reload_cpu_ms)" "$(get ktbase_one_reload_cpu_ms)"
printf '; keepalived -C %s, %s, %s\n' "$(get keepalived_full_total_cpu_ms)" "$(get keepalived_change_total_cpu_ms)" "$(get keepalived_one_reload_cpu_ms)"
awk -v kw="$(get ktrun_full_total_ms)" -v kc="$(get ktrun_full_total_cpu_ms)" -v iw="$(get ipvsadm_full_total_ms)" \
	-v iu="$(get ipvsadm_full_usr_ms)" -v is="$(get ipvsadm_full_sys_ms)" 'BEGIN {
	if (kw + 0 > 0 && kc + 0 > 0) printf "kt run -C full load against ipvsadm-restore: %.1fx by wall time, %.1fx by CPU time (goal >= 10x: %s)\n",
		iw / kw, (iu + is) / kc, (iw / kw >= 10 ? "reached" : "NOT reached") }'
[ -z "$basebin" ] || printf 'RSS when the one-real-server reload was applied: kt run base %s\n' "$(mib "$(get ktbase_one_rss_applied_kb)")"
printf 'RSS when the one-real-server reload was applied: kt run %s, keepalived %s ("RSS before" is read %s s after the step before it)\n' \
	"$(mib "$(get ktrun_one_rss_applied_kb)")" "$(mib "$(get keepalived_one_rss_applied_kb)")" "${KT_BENCH_REST:-12}"
printf 'kt run RSS before the one-real-server reload, heap and program (RssAnon, RssFile): %s, %s' \
	"$(mib "$(get ktrun_one_rss_before_anon_kb)")" "$(mib "$(get ktrun_one_rss_before_file_kb)")"
[ -z "$basebin" ] || printf '; base %s, %s' "$(mib "$(get ktbase_one_rss_before_anon_kb)")" "$(mib "$(get ktbase_one_rss_before_file_kb)")"
printf '\n'
echo "done $(date -u '+%F %T UTC'), host load average $(cut -d' ' -f1-3 /proc/loadavg)"
