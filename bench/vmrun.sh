#!/usr/bin/env bash
# bench/vmrun.sh CMD [ARG...]: run CMD inside the IPVS test VM (Debian's
# stock kernel under qemu, with this machine's / as its root and the current
# directory kept), print its output and exit with its status; 125 means the VM
# itself failed. The kernel is downloaded and cached on first use. See
# internal/vm/vm.sh for the details and the KT_VM_* knobs.
#
#   bench/vmrun.sh ipvsadm -Ln
#   bench/vmrun.sh keepalived -C -n -l -f /path/keepalived.conf
#
# Not a benchmark itself: `make bench` runs bench/*.sh, so with no arguments
# this prints its usage and exits 0.
set -euo pipefail
if [ $# -eq 0 ]; then
	echo "usage: bench/vmrun.sh CMD [ARG...]   (runs CMD in the IPVS test VM)" >&2
	exit 0
fi
exec bash "$(dirname "$(readlink -f "$0")")/../internal/vm/vm.sh" run "$@"
