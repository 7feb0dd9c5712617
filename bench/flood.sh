#!/usr/bin/env bash
# bench/flood.sh: kt and keepalived, each as a VRRP master and backup, under
# the same flood of adverts (another VRID, a bad password, a bad AH ICV) sent
# from a third namespace, in one run. See bench/flood/main.go. Needs root,
# iproute2 and keepalived. RATE (default 100000 packets/s) and DURATION
# (default 10s) set the flood.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: bench/flood.sh needs root (network namespaces)"
	exit 0
fi
for p in ip keepalived; do
	if ! command -v "$p" >/dev/null && [ ! -x "/usr/sbin/$p" ]; then
		echo "skip: bench/flood.sh needs $p"
		exit 0
	fi
done
make -s build
exec go run ./bench/flood -kt ./kt -rate "${RATE:-100000}" -duration "${DURATION:-10s}" "$@"
