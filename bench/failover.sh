#!/usr/bin/env bash
# bench/failover.sh: VRRP failover time of kt and keepalived (kill -9 of the
# master, measured on the wire), in one run on a namespace lab. See
# bench/failover/README.md. Needs root, iproute2, tcpdump and keepalived.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: bench/failover.sh needs root (network namespaces)"
	exit 0
fi
for p in ip tcpdump keepalived; do
	if ! command -v "$p" >/dev/null && [ ! -x "/usr/sbin/$p" ]; then
		echo "skip: bench/failover.sh needs $p"
		exit 0
	fi
done
make -s build
exec go run ./bench/failover -kt ./kt -trials "${TRIALS:-10}" "$@"
