# bench/ipvs/setup.sh: sourced, from the repository's root, by the scripts
# that load bench/ipvs's generated table into the IPVS test VM
# (bench/ipvs.sh, bench/ipvs-profile.sh, bench/ipvsadm/order.sh).
#
# ipvs_bench_setup NAME [TOOL...]: exits 0 after printing "skip: ..." when
# qemu, go or a TOOL is missing or this is not root; else makes $tmp (a
# /tmp/kt-benchNAME.* directory removed on exit), builds bench/ipvs as
# $tmp/ipvsbench and kt as make install builds it as $tmp/kt, and writes
# the VS x RS configurations and rules into $tmp (ipvs gen).
ipvs_bench_setup() {
	local name=$1 p
	shift
	export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
	for p in qemu-system-x86_64 go "$@"; do
		command -v "$p" >/dev/null || { echo "skip: $p not installed"; exit 0; }
	done
	[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 0; }
	tmp=$(mktemp -d "/tmp/kt-bench$name.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	CGO_ENABLED=0 go build -o "$tmp/ipvsbench" ./bench/ipvs
	make -s build BINARY="$tmp/kt" # as make install builds it
	"$tmp/ipvsbench" gen -vs "$VS" -rs "$RS" -dir "$tmp"
}
