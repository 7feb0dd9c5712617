#!/usr/bin/env bash
# bench/convert-toml.sh: how `kt convert --check` of a TOML input scales. For each
# size in SIZES (virtual servers, RS real servers each) it generates a
# keepalived.conf with bench/genconf, converts it to TOML with kt, and prints the
# CPU time (user + sys) and peak RSS of `kt convert --check` on the TOML file
# and on the keepalived.conf it came from, with the CPU time per virtual server
# (flat when the read is linear).
#
# Environment: SIZES (default "100 300 1000 10000"), RS (4), BASE (a second kt
# binary, e.g. main's, measured the same way), TIMEOUT (seconds per check,
# default 120; a check that runs longer is printed as "timeout").
# CPU time and peak RSS come from bench/cputime (wait4's resource usage, to
# the microsecond), as in bench/convert.sh.
set -euo pipefail

SIZES=${SIZES:-100 300 1000 10000}
RS=${RS:-4}
TIMEOUT=${TIMEOUT:-120}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
make -s build BINARY="$dir/kt" >/dev/null
go build -o "$dir/cputime" ./bench/cputime
echo "bench/convert-toml.sh: $(date -u '+%F %T UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), kt $(git rev-parse --short HEAD)"

# check KT FILE: "CPU_S RSS_MIB" of kt convert --check FILE, or "timeout -".
check() {
	local rc=0
	rm -f "$dir/time"
	"$dir/cputime" -o "$dir/time" timeout "$TIMEOUT" "$1" convert --check "$2" >/dev/null 2>&1 || rc=$?
	if [ "$rc" = 124 ]; then
		echo "timeout -"
		return
	fi
	# bench/cputime's line: peak RSS in KiB, user and system seconds.
	awk '{printf "%.3f %.1f", $2 + $3, $1 / 1024}' "$dir/time"
}

printf '%-6s %-8s %-11s %12s %10s %16s\n' tool servers input "CPU s" "RSS MiB" "CPU ms / server"
for n in $SIZES; do
	go run ./bench/genconf -vs "$n" -rs "$RS" -o "$dir/k$n.conf" >/dev/null
	"$dir/kt" convert "$dir/k$n.conf" >"$dir/k$n.toml"
	for tool in kt ${BASE:+base}; do
		bin="$dir/kt"
		[ "$tool" = base ] && bin=$BASE
		for f in "$dir/k$n.toml" "$dir/k$n.conf"; do
			read -r cpu rss <<<"$(check "$bin" "$f")"
			per=-
			[ "$cpu" != timeout ] && per=$(awk -v c="$cpu" -v n="$n" 'BEGIN {printf "%.3f", 1000 * c / n}')
			printf '%-6s %-8s %-11s %12s %10s %16s\n' "$tool" "$n" "${f##*.}" "$cpu" "$rss" "$per"
		done
	done
done
