#!/usr/bin/env bash
# vm.sh: a throw-away Linux VM whose kernel has IPVS, for tests that need a
# real kernel feature this machine's kernel lacks.
#
#   vm.sh prepare            download Debian's kernel (apt-get download of what
#                            linux-image-amd64 depends on), unpack it, run
#                            depmod and build the initramfs; cached, so a
#                            second call returns at once.
#   vm.sh run CMD [ARG...]   boot the VM, run CMD inside it with the host's /
#                            as its root, print CMD's output and exit with
#                            CMD's exit status (125: the VM itself failed).
#
# The VM mounts the host's / over 9p (virtfs), mounts fresh /proc /sys /dev,
# a tmpfs on /run (TMPDIR=/run/tmp), loads ip_vs from the
# unpacked kernel (modprobe -d, so the host's /lib/modules stays untouched;
# other modules load on demand the same way), then chroots into the
# host's / and runs CMD in the current directory. KT_IN_VM=1 is set inside;
# CI, PATH, HOME, GO*, LANG and every KT_* variable are passed through, and so
# are the variables named in KT_VM_PASSENV (space separated).
#
# Environment: KT_VM_CACHE (cache dir; default /var/cache/kt-vm when
# writable, else ~/.cache/kt-vm), KT_VM_TIMEOUT (seconds, default 900),
# KT_VM_MEM (MiB, default 768), KT_VM_SMP (CPUs, default 1), KT_VM_PARALLEL
# (1: do not wait for other VMs on this machine to finish), KT_VM_CONSOLE
# (a file that receives the VM console; default: a temp file printed to
# stderr only when the VM fails).
#
# Needs: qemu-system-x86_64, busybox (static), cpio, depmod (kmod), dpkg,
# apt-get. Runs as root (virtfs passthrough writes files as their owner).
# KVM hangs on these machines, so the VM always uses TCG.
set -euo pipefail

die() {
	echo "vm.sh: $*" >&2
	exit 125
}

cache_dir() {
	if [ -n "${KT_VM_CACHE:-}" ]; then
		echo "$KT_VM_CACHE"
	elif mkdir -p /var/cache/kt-vm 2>/dev/null && [ -w /var/cache/kt-vm ]; then
		echo /var/cache/kt-vm
	else
		echo "${HOME:-/root}/.cache/kt-vm"
	fi
}

CACHE=$(cache_dir)

# The modules the initramfs needs to mount the host's / over virtio 9p, in
# load order.
BOOT_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p"
# Loaded inside the VM before the command runs; the others (schedulers,
# veth, conntrack...) load on demand.
VM_MODULES="ip_vs"

# find_tool prints the path of a program, also looking in /usr/sbin and /sbin.
find_tool() {
	local p
	p=$(command -v "$1" 2>/dev/null) && { echo "$p"; return 0; }
	for d in /usr/sbin /sbin /usr/bin /bin; do
		[ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}

# init_script is /init of the initramfs. It runs as PID 1 under busybox.
init_script() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /host /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
fail() { echo "KT-VM-ERROR $*"; echo "KT-VM-EXIT 125"; poweroff -f; sleep 5; }
for m in @BOOT_MODULES@; do
	insmod "/mods/$m.ko" || fail "insmod $m"
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host /host || fail "mount 9p"
run= kver=$(uname -r)
for a in $(cat /proc/cmdline); do
	case "$a" in kt.run=*) run=${a#kt.run=} ;; esac
done
[ -n "$run" ] && [ -f "/host$run/run.sh" ] || fail "no kt.run= script ($run)"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm
mount -t tmpfs tmpfs /host/run
mkdir -p /host/run/tmp /host/run/netns
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup 2>/dev/null
mods=$(cat "/host$run/modules")
ip link set lo up
# Modules load on demand (IPVS schedulers, veth...): the kernel's module
# helper runs in the initramfs's root, so it chroots into the host's / and
# runs modprobe on the unpacked kernel's module tree.
echo "$mods" >/moddir
printf '#!/bin/sh\nexec chroot /host /sbin/modprobe -d "$(cat /moddir)" "$@" 2>>/host%s/modprobe.log\n' "$run" >/bin/ktmodprobe
chmod 755 /bin/ktmodprobe
echo /bin/ktmodprobe >/proc/sys/kernel/modprobe
chroot /host /sbin/modprobe -d "$mods" -a @VM_MODULES@ >"/host$run/modprobe.log" 2>&1
chroot /host /bin/sh "$run/run.sh" >"/host$run/out" 2>&1 </dev/null
rc=$?
echo "$rc" >"/host$run/rc"
sync
echo "KT-VM-EXIT $rc"
poweroff -f
sleep 5
EOF
}

# kernel_package prints the name of the kernel package linux-image-amd64
# depends on (linux-image-6.1.0-NN-amd64).
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# current prints the cached kernel directory, or nothing.
current() {
	local d
	d=$(readlink -f "$CACHE/current" 2>/dev/null) || return 0
	[ -f "$d/.ok" ] && echo "$d"
	return 0
}

download_kernel() {
	local pkg tmp ver dir
	pkg=$(kernel_package)
	if [ -z "$pkg" ]; then
		apt-get update >&2 || true
		pkg=$(kernel_package)
	fi
	[ -n "$pkg" ] || die "cannot find the kernel package linux-image-amd64 depends on (apt-cache depends linux-image-amd64)"
	ver=${pkg#linux-image-}
	dir="$CACHE/$ver"
	if [ ! -f "$dir/.ok" ]; then
		tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
		echo "vm.sh: downloading $pkg into $dir" >&2
		(cd "$tmp" && chmod 755 . && apt-get download "$pkg" >&2) ||
			{ apt-get update >&2 && (cd "$tmp" && apt-get download "$pkg" >&2); } ||
			{ rm -rf "$tmp"; die "apt-get download $pkg failed"; }
		dpkg -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; die "dpkg -x failed"; }
		rm -f "$tmp"/*.deb
		rm -rf "$dir"
		mkdir -p "$dir"
		mv "$tmp/root/boot/vmlinuz-$ver" "$dir/vmlinuz"
		mkdir -p "$dir/lib/modules"
		mv "$tmp/root/lib/modules/$ver" "$dir/lib/modules/$ver"
		rm -rf "$tmp"
		"$(find_tool depmod)" -b "$dir" "$ver" || die "depmod failed"
		echo "$ver" >"$dir/version"
		touch "$dir/.ok"
	fi
	ln -sfn "$ver" "$CACHE/current"
}

# initramfs prints the path of the initramfs for kernel dir $1, building it
# when the init script changed.
initramfs() {
	local dir=$1 ver sum out tmp m f bb
	ver=$(cat "$dir/version")
	sum=$(init_script | cat - <(echo "$BOOT_MODULES $VM_MODULES") | md5sum | cut -c1-12)
	out="$dir/initramfs-$sum.cpio.gz"
	if [ ! -f "$out" ]; then
		bb=$(find_tool busybox) || die "busybox not found (apt-get install busybox-static)"
		file -L "$bb" 2>/dev/null | grep -q 'dynamically' && [ -x /bin/busybox ] && bb=/bin/busybox
		tmp=$(mktemp -d "$CACHE/.initrd.XXXXXX")
		mkdir -p "$tmp/bin" "$tmp/mods"
		cp "$bb" "$tmp/bin/busybox"
		for m in $BOOT_MODULES; do
			f=$(find "$dir/lib/modules/$ver" -name "$m.ko" -print -quit)
			[ -n "$f" ] || { rm -rf "$tmp"; die "module $m not in the kernel package"; }
			cp "$f" "$tmp/mods/"
		done
		init_script | sed -e "s|@BOOT_MODULES@|$BOOT_MODULES|" -e "s|@VM_MODULES@|$VM_MODULES|" >"$tmp/init"
		chmod 755 "$tmp/init"
		(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp" || { rm -rf "$tmp"; die "cpio failed"; }
		mv "$out.tmp" "$out"
		rm -rf "$tmp"
	fi
	echo "$out"
}

prepare() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	if [ -z "$(current)" ] || [ "${1:-}" = --refresh ]; then
		download_kernel
	fi
	initramfs "$(current)" >/dev/null
	flock -u 9
	exec 9>&-
}

# quote prints its arguments as one shell-quoted line.
quote() {
	local out= a
	for a in "$@"; do
		out+=" '${a//\'/\'\\\'\'}'"
	done
	echo "${out# }"
}

run() {
	[ $# -gt 0 ] || die "usage: vm.sh run CMD [ARG...]"
	local qemu dir kdir rundir rc console name v timeout
	qemu=$(find_tool qemu-system-x86_64) || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	prepare
	kdir=$(current)
	[ -n "$kdir" ] || die "no kernel in $CACHE"
	rundir=$(mktemp -d "${KT_VM_RUNDIR:-/tmp}/kt-vm.XXXXXX")
	chmod 755 "$rundir"
	# shellcheck disable=SC2064 # expand rundir now
	trap "rm -rf '$rundir'" EXIT
	echo "$kdir" >"$rundir/modules"
	{
		echo "# written by vm.sh"
		for name in $(compgen -e); do
			case "$name" in
			CI | PATH | HOME | USER | LANG | LC_ALL | TERM | GO* | CGO_* | KT_* | TZ) ;;
			*) case " ${KT_VM_PASSENV:-} " in *" $name "*) ;; *) continue ;; esac ;;
			esac
			case "$name" in KT_VM_*) continue ;; esac
			v=${!name}
			echo "export $name=$(quote "$v")"
		done
		echo "export KT_IN_VM=1 TMPDIR=/run/tmp MODPROBE_OPTIONS=$(quote "-d $kdir")"
		echo "cd $(quote "$PWD") || exit 126"
		echo "exec $(quote "$@")"
	} >"$rundir/run.sh"
	console=${KT_VM_CONSOLE:-$rundir/console}
	timeout=${KT_VM_TIMEOUT:-900}
	# One VM at a time per machine (KT_VM_PARALLEL=1 lifts this): TCG
	# wants a whole core, and go test starts packages in parallel.
	if [ "${KT_VM_PARALLEL:-0}" != 1 ]; then
		exec 8>"$CACHE/.run.lock"
		flock -w "$timeout" 8 || die "waited ${timeout}s for another VM to finish"
	fi
	set +e
	timeout --foreground -k 10 "$timeout" "$qemu" -accel tcg -cpu max -m "${KT_VM_MEM:-768}" -smp "${KT_VM_SMP:-1}" \
		-nographic -no-reboot -nodefaults -serial stdio -display none -monitor none \
		-kernel "$kdir/vmlinuz" -initrd "$(initramfs "$kdir")" \
		-virtfs local,path=/,mount_tag=host,security_model=passthrough,multidevs=remap \
		-append "console=ttyS0 quiet loglevel=1 panic=-1 no_timer_check kt.run=$rundir" \
		</dev/null >"$console" 2>&1
	rc=$?
	set -e
	[ -f "$rundir/out" ] && cat "$rundir/out"
	if [ ! -f "$rundir/rc" ]; then
		echo "vm.sh: the VM did not report an exit status (qemu exit $rc); console:" >&2
		cat "$console" >&2 2>/dev/null || true
		[ -f "$rundir/modprobe.log" ] && cat "$rundir/modprobe.log" >&2
		exit 125
	fi
	if [ -s "$rundir/modprobe.log" ]; then
		cat "$rundir/modprobe.log" >&2
	fi
	exit "$(cat "$rundir/rc")"
}

case "${1:-}" in
prepare)
	shift
	prepare "$@"
	echo "$(current)"
	;;
run)
	shift
	[ "${1:-}" = -- ] && shift
	run "$@"
	;;
*)
	echo "usage: vm.sh prepare [--refresh] | vm.sh run CMD [ARG...]" >&2
	exit 2
	;;
esac
