#!/usr/bin/env bash
# bench/convert.sh: times `kt convert --check FILE` against `keepalived -t -f FILE`
# on a generated keepalived.conf of VS virtual servers x RS real servers, in one run.
#
# Environment: N runs of each tool (default 5), VS (10000), RS (4), IFACE (the VRRP
# interface written in the file; default: the default route's interface, since
# keepalived rejects lo and interfaces that do not exist).
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
t0=$(now)
"$tmp/genconf" -vs "$VS" -rs "$RS" -iface "$IFACE" -o "$conf"
t1=$(now)
size=$(stat -c %s "$conf")
printf 'config: %d virtual servers x %d real servers, interface %s, %s bytes (%.1f MiB), %d lines, generated in %.3f s\n' \
	"$VS" "$RS" "$IFACE" "$size" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" \
	"$(wc -l <"$conf")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"

# GNU time gives the maximum RSS; without it, only wall-clock time is measured.
GNUTIME=
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
	GNUTIME=/usr/bin/time
fi

# measure NAME CMD...: one run, appending "seconds rss_kb exit" to $tmp/NAME.runs
# and keeping the command's output in $tmp/NAME.out.
measure() {
	local name=$1 start end rc rss=-
	shift
	start=$(now)
	set +e
	if [ -n "$GNUTIME" ]; then
		"$GNUTIME" -f '%M' -o "$tmp/$name.rss" "$@" >"$tmp/$name.out" 2>&1
	else
		"$@" >"$tmp/$name.out" 2>&1
	fi
	rc=$?
	set -e
	end=$(now)
	# GNU time writes "Command exited with non-zero status N" before the format.
	[ -z "$GNUTIME" ] || rss=$(tail -n1 "$tmp/$name.rss")
	echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }') $rss $rc" >>"$tmp/$name.runs"
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

for _ in $(seq "$N"); do
	measure kt ./kt convert --check "$conf"
	measure keepalived "$KEEPALIVED" -t -f "$conf"
done

# median NAME: the median wall-clock seconds of NAME's runs.
median() {
	sort -g "$tmp/$1.runs" | awk '{ t[NR] = $1 }
		END { printf "%.6f\n", (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}

# row NAME LABEL: prints NAME's table row: runs, median, min, max RSS, exit codes.
row() {
	sort -g "$tmp/$1.runs" | awk -v label="$2" -v med="$(median "$1")" '
		{ t[NR] = $1; if ($2 != "-" && $2 + 0 > rss + 0) rss = $2; if (!($3 in seen)) { seen[$3] = 1; ex = ex (ex == "" ? "" : ",") $3 } }
		END {
			rs = (rss == "") ? "-" : sprintf("%.1f MiB", rss / 1024)
			printf "%-22s %4d %9.3f %9.3f %10s  %s\n", label, NR, med, t[1], rs, ex
		}'
}

echo
printf '%-22s %4s %9s %9s %10s  %s\n' tool runs "median s" "min s" "max RSS" exit
row kt "kt convert --check"
row keepalived "keepalived -t"
kt_med=$(median kt)
ka_med=$(median keepalived)
awk -v k="$kt_med" -v a="$ka_med" 'BEGIN {
	if (k > 0) printf "\nratio keepalived/kt (median wall clock): %.2fx\n", a / k
	else print "\nratio keepalived/kt: n/a (kt median is 0)"
}'
[ -n "$GNUTIME" ] || echo "(max RSS not measured: GNU time is not installed at /usr/bin/time)"

# Say why a tool disliked the file, without failing the benchmark.
for name in kt keepalived; do
	if awk '$3 != 0 { bad = 1 } END { exit !bad }' "$tmp/$name.runs"; then
		echo
		echo "$name exited non-zero on the generated file; its output (first 10 lines):"
		head -n 10 "$tmp/$name.out" | sed 's/^/    /'
	fi
done
exit 0
