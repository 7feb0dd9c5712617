#!/usr/bin/env bash
# bench/convert.sh: measures `kt convert --check FILE` against `keepalived -t -f FILE`
# on a generated keepalived.conf of VS virtual servers x RS real servers, in one run:
# CPU time (user + sys, the fair figure on a shared machine: both do the same work),
# peak RSS, wall-clock time, and the ratios kt/keepalived of median CPU time and of
# peak RSS (goals: CPU <= 1/3, RSS <= 1).
#
# CPU time and peak RSS come from bench/cputime (wait4's resource usage, to
# the microsecond; GNU time cuts user and system seconds to 10 ms steps
# each, up to a fifth of kt's 80-100 ms here).
#
# Environment: N runs of each tool (default 5), VS (10000), RS (4), IFACE (the VRRP
# interface written in the file; default: the default route's interface, since
# keepalived rejects lo and interfaces that do not exist), BASE (a second kt
# binary, e.g. main's built with make build, measured in the same runs, turn
# about with the others, and printed with its own row and ratios: a change's
# before and after from one run on one machine).
#
# Exits 0 after printing "skip: ..." when keepalived is not installed, 1 when kt
# cannot be built or `kt convert --check` does not work, 0 otherwise.
set -euo pipefail

N=${N:-5}
VS=${VS:-10000}
RS=${RS:-4}
for v in N VS RS; do
	if ! [[ ${!v} =~ ^[0-9]+$ ]] || [ "${!v}" -lt 1 ]; then
		echo "error: $v must be a positive integer, got '${!v}'" >&2
		exit 2
	fi
done

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

KEEPALIVED=$(command -v keepalived || true)
if [ -z "$KEEPALIVED" ]; then
	echo "skip: keepalived not installed"
	exit 0
fi
if ! command -v go >/dev/null; then
	echo "skip: go not installed"
	exit 0
fi

default_iface() {
	local ifc
	ifc=$(awk 'NR > 1 && $2 == "00000000" && $1 != "lo" { print $1; exit }' /proc/net/route 2>/dev/null || true)
	if [ -z "$ifc" ] && [ -d /sys/class/net ]; then
		ifc=$(ls /sys/class/net | grep -vx lo | head -n1 || true)
	fi
	echo "${ifc:-eth0}"
}
IFACE=${IFACE:-$(default_iface)}

# Build kt when it is missing or older than any source file.
if [ ! -x ./kt ] || [ -n "$(find . -path ./.git -prune -o \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer ./kt -print -quit)" ]; then
	echo "building kt (make build)"
	if ! make build >&2; then
		echo "error: make build failed; cannot benchmark kt" >&2
		exit 1
	fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
conf=$tmp/keepalived.conf

# now prints the wall clock in seconds with microseconds or better.
now() {
	if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi
}

go build -o "$tmp/genconf" ./bench/genconf
go build -o "$tmp/cputime" ./bench/cputime
t0=$(now)
"$tmp/genconf" -vs "$VS" -rs "$RS" -iface "$IFACE" -o "$conf"
t1=$(now)
size=$(stat -c %s "$conf")
printf 'config: %d virtual servers x %d real servers, interface %s, %s bytes (%.1f MiB), %d lines, generated in %.3f s\n' \
	"$VS" "$RS" "$IFACE" "$size" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" \
	"$(wc -l <"$conf")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"

# measure NAME CMD...: one run, appending "wall_s rss_kb exit cpu_s" to
# $tmp/NAME.runs and keeping the command's output in $tmp/NAME.out.
measure() {
	local name=$1 start end rc rss u s cpu
	shift
	rm -f "$tmp/$name.rss"
	start=$(now)
	set +e
	"$tmp/cputime" -o "$tmp/$name.rss" "$@" >"$tmp/$name.out" 2>&1
	rc=$?
	set -e
	end=$(now)
	# No line when cputime could not start the command (exit 127).
	rss=- u=0 s=0
	[ ! -s "$tmp/$name.rss" ] || read -r rss u s <"$tmp/$name.rss"
	cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.6f", u + s }')
	echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }') $rss $rc $cpu" >>"$tmp/$name.runs"
	return 0
}

# kt first, once, to find out whether `kt convert --check` works at all:
# 0 means no problems, 1 means problems found; anything else is not a check.
measure warm-kt ./kt convert --check "$conf"
rc=$(awk '{ print $3 }' "$tmp/warm-kt.runs")
if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
	echo "error: './kt convert --check FILE' does not work (exit $rc), so there is nothing to compare with keepalived yet:" >&2
	head -n 20 "$tmp/warm-kt.out" | sed 's/^/    /' >&2
	exit 1
fi
measure warm-keepalived "$KEEPALIVED" -t -f "$conf" # warms the page cache for keepalived too
if [ -n "${BASE:-}" ]; then
	if [ ! -x "$BASE" ]; then
		echo "error: BASE=$BASE is not an executable" >&2
		exit 2
	fi
	measure warm-base "$BASE" convert --check "$conf"
fi

for _ in $(seq "$N"); do
	measure kt ./kt convert --check "$conf"
	[ -z "${BASE:-}" ] || measure base "$BASE" convert --check "$conf"
	measure keepalived "$KEEPALIVED" -t -f "$conf"
done

# median NAME [COL]: the median of column COL (default 1: wall seconds) of NAME's runs.
median() {
	awk -v c="${2:-1}" '{ print $c }' "$tmp/$1.runs" | sort -g | awk '{ t[NR] = $1 }
		END { printf "%.6f\n", (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}

# maxrss NAME: the largest peak RSS of NAME's runs in KiB, or "-".
maxrss() {
	awk '$2 != "-" && $2 + 0 > m + 0 { m = $2 } END { print (m == "") ? "-" : m }' "$tmp/$1.runs"
}

# row NAME LABEL: NAME's table row: runs, median and min CPU, median wall, max RSS, exit codes.
row() {
	awk -v label="$2" -v cpu="$(median "$1" 4)" -v wall="$(median "$1")" -v rss="$(maxrss "$1")" '
		NR == 1 || $4 + 0 < mincpu { mincpu = $4 + 0 }
		{ if (!($3 in seen)) { seen[$3] = 1; ex = ex (ex == "" ? "" : ",") $3 } }
		END {
			rs = (rss == "-") ? "-" : sprintf("%.1f MiB", rss / 1024)
			printf "%-22s %4d %10.3f %10.3f %10.3f %10s  %s\n", label, NR, cpu, mincpu, wall, rs, ex
		}' "$tmp/$1.runs"
}

echo
printf '%-22s %4s %10s %10s %10s %10s  %s\n' tool runs "CPU s med" "CPU s min" "wall s med" "max RSS" exit
row kt "kt convert --check"
[ -z "${BASE:-}" ] || row base "BASE convert --check"
row keepalived "keepalived -t"
# ratios NAME LABEL: NAME's CPU, RSS and wall ratios against keepalived.
ratios() {
	awk -v who="$2" -v k="$(median "$1" 4)" -v a="$(median keepalived 4)" -v kr="$(maxrss "$1")" -v ar="$(maxrss keepalived)" 'BEGIN {
		if (a > 0) printf "\nCPU time (user+sys), %s/keepalived (medians): %.2f (goal <= 0.33: %s)\n", who, k / a, (k / a <= 1 / 3) ? "reached" : "not reached"
		else print "\nCPU time ratio: n/a (keepalived median is 0)"
		if (kr != "-" && ar != "-" && ar > 0) printf "peak RSS, %s/keepalived: %.2f (goal <= 1: %s)\n", who, kr / ar, (kr <= ar) ? "reached" : "not reached"
	}'
	awk -v who="$2" -v k="$(median "$1")" -v a="$(median keepalived)" 'BEGIN { if (k > 0) printf "wall clock, keepalived/%s (medians; skewed on a loaded machine): %.2fx\n", who, a / k }'
}
ratios kt kt
[ -z "${BASE:-}" ] || ratios base BASE
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Say why a tool disliked the file, without failing the benchmark.
for name in kt keepalived; do
	if awk '$3 != 0 { bad = 1 } END { exit !bad }' "$tmp/$name.runs"; then
		echo
		echo "$name exited non-zero on the generated file; its output (first 10 lines):"
		head -n 10 "$tmp/$name.out" | sed 's/^/    /'
	fi
done
exit 0
