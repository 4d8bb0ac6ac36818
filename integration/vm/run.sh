#!/usr/bin/env bash
# integration/vm/run.sh PAYLOAD_DIR [TIMEOUT_SECONDS]
#
# Boots the Debian cloud kernel (with bonding, veth, bridge, 8021q, dummy,
# virtio_net as modules) in QEMU with pure software emulation (TCG; KVM is
# never used), runs PAYLOAD_DIR/run inside it as root, streams the guest
# console to stdout and exits with the payload's exit code.
#
#   exit <rc>  rc of PAYLOAD_DIR/run in the guest
#   exit 124   timeout (default 600 s) — qemu was killed
#   exit 1     no VM-EXIT-CODE marker (guest crashed / qemu failed)
#   exit 2     usage error
#
# The guest sees PAYLOAD_DIR at /payload (cwd of ./run), with /payload/bin
# first on PATH. Put static binaries there (CGO_ENABLED=0 go build / go test -c).
# Settings for the payload: ship PAYLOAD_DIR/env (KEY=VAL lines, sourced with
# `set -a` by /init) and/or set VM_PAYLOAD_ENV on the host (same syntax,
# becomes /etc/vm-env in the guest and is sourced after /payload/env).
#
# The guest network is isolated by construction: there is NO user-mode
# network and NO tap device. The VM gets VM_NICS (default 2) virtio NICs
# plugged into one qemu-internal hub that reaches nothing outside the VM;
# /init renames them eth1000, eth1001, ... (PCI order) and leaves them DOWN.
#
# Env:
#   VM_CACHE          cache dir (default <repo>/.cache/vm), see deps.sh
#   VM_EXTRA_APPEND   extra kernel command line arguments
#   VM_PAYLOAD_ENV    KEY=VAL lines made available to the payload (see above)
#   VM_EXTRA_MODULES  extra kernel modules to load (space separated names,
#                     e.g. "macvlan ipvlan"); dependencies are added
#   VM_MEM            guest RAM in MiB (default 2048)
#   VM_SMP            guest vCPUs (default 2)
#   VM_NICS           number of isolated virtio NICs (default 2)
#   VM_COMPRESS       initramfs compression: none (default, fastest under
#                     TCG, see README) or gzip
#   VM_KEEP_LOG       if set, path where the console log is copied
#   VM_QEMU_ARGS      extra qemu flags (debugging; word-split). Never add a
#                     network backend that leaves the VM (user/tap/socket).
#   VM_SRIOV          1: the SR-IOV machine instead (see sriov-deps.sh): QEMU
#                     10 and Debian's generic kernel from SRIOV_CACHE, a q35
#                     machine with two emulated Intel 82576 (igb) PFs, each
#                     on its own isolated hub together with one virtio NIC
#                     (the partner side). /init names the PFs pf0, pf1 and
#                     the virtio NICs eth1000 (hub of pf0), eth1001 (pf1).
#                     igbvf is in the initramfs but not loaded: tests load it
#                     once the VFs exist and their PF-side MACs are set.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export VM_CACHE=${VM_CACHE:-$REPO/.cache/vm}

usage() { echo "usage: $0 PAYLOAD_DIR [TIMEOUT_SECONDS]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
PAYLOAD=$1
TIMEOUT=${2:-600}
[ -d "$PAYLOAD" ] || { echo "vm/run: $PAYLOAD is not a directory" >&2; exit 2; }
[ -f "$PAYLOAD/run" ] || { echo "vm/run: $PAYLOAD/run missing (the payload entry point)" >&2; exit 2; }
case "$TIMEOUT" in '' | *[!0-9]*) usage ;; esac

VM_MEM=${VM_MEM:-2048}
VM_SMP=${VM_SMP:-2}
VM_NICS=${VM_NICS:-2}
VM_COMPRESS=${VM_COMPRESS:-none}

log() { echo "vm/run: $*" >&2; }
now() { date +%s.%N; }
T0=$(now)

VM_SRIOV=${VM_SRIOV:-0}
if [ "$VM_SRIOV" = 1 ]; then
	SRIOV_CACHE=${SRIOV_CACHE:-$REPO/.cache/sriov}
	bash "$HERE/sriov-deps.sh"
	KCACHE=$SRIOV_CACHE
else
	bash "$HERE/deps.sh"
	KCACHE=$VM_CACHE
fi

KVER=$(cat "$KCACHE/kver")
BB=$VM_CACHE/busybox
MODROOT=$KCACHE/kernel/lib/modules/$KVER

# bonding needs tls; bridge needs llc+stp; 8021q needs garp+mrp(+stp,llc);
# virtio_net needs net_failover+failover+virtio core. virtio_pci is the bus
# driver that makes the NICs appear at all (CONFIG_VIRTIO_PCI=m in Debian),
# it is not a "depends=" of anything so it must be listed.
MODULES="virtio_pci virtio_net bonding veth bridge 8021q dummy ${VM_EXTRA_MODULES:-}"
# Modules shipped in the initramfs (modprobe-able) but not loaded at boot.
LATE_MODULES=
if [ "$VM_SRIOV" = 1 ]; then
	MODULES="igb $MODULES"
	LATE_MODULES=igbvf
fi

# Module parameters. By default bonding creates bond0 and dummy creates
# dummy0 at load time; tests want a clean host, so ask for none.
declare -A MODPARAMS=([bonding]="max_bonds=0" [dummy]="numdummies=0")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmrun.XXXXXX")
QPID=
WD=
# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill -KILL "$QPID" 2>/dev/null || true
	fi
	if [ -n "$WD" ]; then
		kill -TERM "$WD" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------
# Module dependency closure, resolved on the host.
# Debian's .deb ships no modules.dep (depmod runs in postinst, which we skip),
# so read each module's own "depends=" field from its .modinfo section.
# Compressed modules (.ko.xz/.ko.zst/.ko.gz, not used by Debian 12 but by
# later releases) are decompressed on the host: busybox insmod can't.
declare -A MODPATH=() SEEN=()
while IFS= read -r f; do
	n=${f##*/}
	n=${n%%.ko*}
	MODPATH[${n//-/_}]=${f#"$MODROOT"/}
done < <(find "$MODROOT/kernel" -name '*.ko*')

ko_cat() { # ko_cat RELPATH: module contents, decompressed
	case "$1" in
	*.ko) cat "$MODROOT/$1" ;;
	*.ko.xz) xz -dc "$MODROOT/$1" ;;
	*.ko.zst) zstd -qdc "$MODROOT/$1" ;;
	*.ko.gz) gzip -dc "$MODROOT/$1" ;;
	*) echo "vm/run: unknown module format $1" >&2; return 1 ;;
	esac
}

ORDER=()
visit() { # post-order DFS: dependencies land in ORDER before dependents
	local n=${1//-/_} p deps d
	[ -z "${SEEN[$n]:-}" ] || return 0
	SEEN[$n]=1
	p=${MODPATH[$n]:-}
	if [ -z "$p" ]; then
		if grep -q "/${n}.ko" "$MODROOT/modules.builtin" 2>/dev/null; then
			return 0 # built into the kernel: nothing to load
		fi
		log "ERROR: kernel module $n not found in $MODROOT"
		exit 1
	fi
	deps=$(ko_cat "$p" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1)
	for d in ${deps//,/ }; do visit "$d"; done
	ORDER+=("$p")
}
for m in $MODULES; do visit "$m"; done
NBOOT=${#ORDER[@]}
for m in $LATE_MODULES; do visit "$m"; done

# ------------------------------------------------------------------------
# Base initramfs (busybox, modules, /init): identical for every run with the
# same kernel/module list/init script, so it is cached in $VM_CACHE. The
# payload goes into a second cpio archive appended to it (the kernel unpacks
# concatenated archives in order).
KEY=$( {
	cat "$KCACHE/stamp" "$HERE/init" "$0"
	printf '%s\n' "$VM_COMPRESS" "$NBOOT" "${ORDER[@]}"
} | sha256sum | cut -c1-16)
BASE=$KCACHE/base-$KEY.cpio
if [ ! -s "$BASE" ]; then
	log "building base initramfs ($KVER, ${#ORDER[@]} modules) ..."
	# Drop stale base images of other configurations (not recent ones: a
	# concurrent run with another VM_EXTRA_MODULES may be using its own).
	find "$KCACHE" -maxdepth 1 -name 'base-*.cpio' -mmin +60 -delete 2>/dev/null || true
	R=$TMP/base
	mkdir -p "$R"/{bin,dev,proc,sys,run,tmp,var,etc,root,payload} "$R/lib/modules/$KVER"
	ln -s bin "$R/sbin"
	mkdir -p "$R/usr"
	ln -s ../bin "$R/usr/bin"
	ln -s ../bin "$R/usr/sbin"
	cp "$BB" "$R/bin/busybox"
	# Applet symlinks made here rather than `busybox --install` at boot:
	# every instruction counts under TCG.
	for a in $("$BB" --list); do
		[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
	done
	: >"$R/lib/modules/$KVER/load.order"
	i=0
	for p in "${ORDER[@]}"; do
		dst=$R/lib/modules/$KVER/${p%.ko*}.ko
		mkdir -p "${dst%/*}"
		ko_cat "$p" >"$dst"
		n=${p##*/}
		n=${n%%.ko*}
		i=$((i + 1))
		[ "$i" -le "$NBOOT" ] || continue
		echo "${p%.ko*}.ko ${MODPARAMS[${n//-/_}]:-}" >>"$R/lib/modules/$KVER/load.order"
	done
	# modules.dep etc. so that `modprobe X` in a payload works (a no-op for
	# the already loaded modules, loads the others if they were included).
	"$BB" depmod -b "$R" "$KVER" 2>/dev/null || true
	cp "$HERE/init" "$R/init"
	chmod 755 "$R/init"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$R/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
	printf '127.0.0.1 localhost vm\n::1 localhost\n' >"$R/etc/hosts"
	(cd "$R" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null) >"$TMP/base.cpio"
	if [ "$VM_COMPRESS" = gzip ]; then
		gzip -1 <"$TMP/base.cpio" >"$TMP/base.cpio.gz"
		mv "$TMP/base.cpio.gz" "$TMP/base.cpio"
	fi
	mv "$TMP/base.cpio" "$BASE.$$" # same filesystem as $BASE: atomic rename
	mv "$BASE.$$" "$BASE"
	rm -rf "$R"
fi

# ------------------------------------------------------------------------
# Payload archive: PAYLOAD_DIR -> /payload, plus /etc/vm-env.
P=$TMP/payload
mkdir -p "$P/payload" "$P/etc"
cp -a "$PAYLOAD/." "$P/payload/"
chmod +x "$P/payload/run"
if [ -n "${VM_PAYLOAD_ENV:-}" ]; then
	printf '%s\n' "$VM_PAYLOAD_ENV" >"$P/etc/vm-env"
fi
(cd "$P" && find payload etc | "$BB" cpio -o -H newc 2>/dev/null) >"$TMP/payload.cpio"
if [ "$VM_COMPRESS" = gzip ]; then
	gzip -1 "$TMP/payload.cpio" && mv "$TMP/payload.cpio.gz" "$TMP/payload.cpio"
fi
cat "$BASE" "$TMP/payload.cpio" >"$TMP/initrd"
rm -rf "$P" "$TMP/payload.cpio"

# ------------------------------------------------------------------------
# Boot. Notes on the flags:
#  -accel tcg        software emulation only; KVM is not usable here.
#  -nic none         no default NIC, in particular no user-mode (slirp) NIC.
#  hubport/hubid=1   the test NICs sit on one qemu-internal hub and reach
#                    nothing but each other. romfile= skips the PXE ROM.
#  -serial file:     console to a file we tail; works without a tty/stdin
#                    (-nographic needs one and fails in CI).
#  -no-reboot + panic=-1  any guest panic ends qemu instead of hanging.
#  mitigations=off   speculative-execution mitigations only slow TCG down.
NICARGS=()
QEMU_BIN=qemu-system-x86_64
MACHINE=pc
if [ "$VM_SRIOV" = 1 ]; then
	# SR-IOV needs PCIe: every NIC sits behind its own pcie-root-port (in
	# slot order, so the guest's PCI order is pf0, pf1, eth1000, eth1001).
	# PF i and virtio NIC i share hub i+1 and nothing else. The virtio NICs
	# report 1000/full, so that an 802.3ad partner bond can use them.
	VM_NICS=2
	QEMU_BIN=$SRIOV_CACHE/qemu/usr/bin/qemu-system-x86_64
	MACHINE=q35
	for i in 0 1; do
		NICARGS+=(-device "pcie-root-port,id=rp$i,chassis=$((1 + i)),addr=$((16 + i))"
			-netdev "hubport,id=pf$i,hubid=$((1 + i))"
			-device "igb,bus=rp$i,netdev=pf$i,romfile=,mac=52:54:00:00:20:$(printf %02x "$i")")
	done
	for i in 0 1; do
		NICARGS+=(-device "pcie-root-port,id=rv$i,chassis=$((3 + i)),addr=$((18 + i))"
			-netdev "hubport,id=h$i,hubid=$((1 + i))"
			-device "virtio-net-pci,bus=rv$i,netdev=h$i,romfile=,speed=1000,duplex=full,mac=52:54:00:00:10:$(printf %02x "$i")")
	done
	NICARGS+=(-L "$SRIOV_CACHE/qemu/usr/share/qemu" -L "$SRIOV_CACHE/qemu/usr/share/seabios")
	# Modules of the host's QEMU are another build's: never load them.
	export QEMU_MODULE_DIR=$SRIOV_CACHE/qemu/usr/lib/x86_64-linux-gnu/qemu
else
	for ((i = 0; i < VM_NICS; i++)); do
		NICARGS+=(-netdev "hubport,id=h$i,hubid=1"
			-device "virtio-net-pci,netdev=h$i,romfile=,addr=$((16 + i)),mac=52:54:00:00:10:$(printf %02x "$i")")
	done
fi
APPEND="console=ttyS0 quiet panic=-1 mitigations=off tsc=reliable i8042.noaux i8042.nokbd vm.nics=$VM_NICS vm.sriov=$VM_SRIOV ${VM_EXTRA_APPEND:-}"

QEMU=("$QEMU_BIN" -accel tcg -machine "$MACHINE" -cpu max -m "$VM_MEM" -smp "$VM_SMP"
	-kernel "$KCACHE/vmlinuz" -initrd "$TMP/initrd" -append "$APPEND"
	-no-reboot -display none -monitor none -vga none -nic none "${NICARGS[@]}"
	-serial "file:$TMP/console")
# shellcheck disable=SC2206 # deliberate word splitting of a flag list
[ -z "${VM_QEMU_ARGS:-}" ] || QEMU+=(${VM_QEMU_ARGS})

: >"$TMP/console"
"${QEMU[@]}" </dev/null >"$TMP/qemu.log" 2>&1 &
QPID=$!
T1=$(now)

# Watchdog: after TIMEOUT seconds mark the run as timed out and kill qemu.
(
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$TIMEOUT" &
	sp=$!
	wait "$sp"
	: >"$TMP/timedout"
	kill -TERM "$QPID" 2>/dev/null
	sleep 3
	kill -KILL "$QPID" 2>/dev/null
) &
WD=$!

# Stream the console (minus the serial line's CRs) until qemu exits. The
# streamer runs in the background and we block in `wait`, because bash only
# runs INT/TERM traps (-> cleanup kills qemu) between commands, and `wait` is
# interruptible while a foreground pipeline is not.
tail -s 0.1 -n +1 -f --pid="$QPID" "$TMP/console" | sed -u 's/\r$//' &
STREAM=$!
QRC=0
wait "$QPID" || QRC=$?
wait "$STREAM" || true # tail --pid drains the file and exits once qemu is gone
kill -TERM "$WD" 2>/dev/null || true
wait "$WD" 2>/dev/null || true
WD=
T2=$(now)

if [ -n "${VM_KEEP_LOG:-}" ]; then
	tr -d '\r' <"$TMP/console" >"$VM_KEEP_LOG"
fi

if [ -e "$TMP/timedout" ]; then
	log "TIMEOUT after ${TIMEOUT}s: qemu killed"
	exit 124
fi
RC=$(tr -d '\r' <"$TMP/console" | sed -n 's/^VM-EXIT-CODE=\([0-9][0-9]*\)$/\1/p' | tail -n1)
awk -v a="$T0" -v b="$T1" -v c="$T2" -v q="$QRC" \
	'BEGIN { printf "vm/run: prepare %.1fs, vm %.1fs, qemu rc %s\n", b - a, c - b, q }' >&2
if [ -z "$RC" ]; then
	log "ERROR: guest exited without a VM-EXIT-CODE marker (qemu rc $QRC)"
	# "hub 1 is not connected to host network" is expected: that is the
	# isolation we want, not an error.
	grep -v 'is not connected to host network' "$TMP/qemu.log" | sed 's/^/qemu: /' >&2 || true
	exit 1
fi
exit "$RC"
