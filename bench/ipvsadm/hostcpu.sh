#!/usr/bin/env bash
# bench/ipvsadm/hostcpu.sh CONSOLE OUT: run on the host beside a VM started
# with KT_VM_CONSOLE=CONSOLE. For each "KTMARK NAME" line the VM writes to its
# serial console (bench/ipvsadm/inner.sh's mark), appends "NAME TICKS" to OUT:
# the user + system clock ticks the VM's qemu process has used on the host so
# far. The difference between two marks is the host CPU time the VM took for
# what ran between them, which the host's other load does not inflate (the
# guest's own clock and CPU times count the time its virtual CPU waited for a
# host core; under TCG it cannot tell). Runs until killed.
set -uo pipefail
console=$1 out=$2
nap=$(mktemp -u /tmp/kt-hostcpu.XXXXXX)
mkfifo "$nap"
exec {napfd}<>"$nap"
rm -f "$nap"
# find_qemu sets pid to the qemu process whose stdout is the console; it
# forks nothing (it runs every second while other VMs have their turn).
find_qemu() {
	local p comm
	for p in /proc/[0-9]*; do
		comm=
		read -r comm 2>/dev/null <"$p/comm" || continue # (a process gone: no message)
		[[ $comm == qemu* ]] || continue
		[ "$p/fd/1" -ef "$console" ] || continue
		pid=${p#/proc/}
		return 0
	done
	return 1
}
# The console is truncated when qemu starts (vm.sh's redirection): open it
# only once qemu runs, which may be after other VMs' turns.
pid=
until find_qemu; do read -r -t 1 -u "$napfd"; done
exec {con}<"$console"
part=
while :; do
	if IFS= read -r line <&"$con"; then
		line=$part$line part=
		line=${line%$'\r'}
		case $line in *"KTMARK "*) ;; *) continue ;; esac
		read -r -a f <"/proc/$pid/stat" || exit 0
		set -- ${line##*KTMARK }
		echo "$1 $((f[13] + f[14]))" >>"$out"
	else
		# EOF, perhaps inside a line: keep what came and wait.
		part+=$line
		[ -d "/proc/$pid" ] || exit 0
		read -r -t 0.02 -u "$napfd"
	fi
done
