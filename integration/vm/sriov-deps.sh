#!/usr/bin/env bash
# integration/vm/sriov-deps.sh — what the SR-IOV lane needs beyond deps.sh.
#
# The SR-IOV lane emulates Intel 82576 NICs (`-device igb`) whose VFs are
# real PCI functions bound by the guest's igb/igbvf drivers. That needs:
#   * QEMU 10 (Debian 12 ships 7.2, which has no igb): qemu-system-x86,
#     qemu-system-common and qemu-system-data from bookworm-backports, plus
#     seabios from there (QEMU 10's machine types want its bios-256k.bin);
#   * Debian's generic kernel linux-image-6.1.0-*-amd64 (the cloud kernel
#     used by the main lane has no igb/igbvf).
# All are fetched with `apt-get download` through a private sources list
# and a private lists directory under the cache (the host's apt setup and
# package lists are not touched) and unpacked with `dpkg-deb -x`; nothing
# is installed on the host.
#
# Env:
#   SRIOV_CACHE   cache dir (default <repo>/.cache/sriov)
#   VM_REFRESH    1 drops the stamp and downloads again
#
# Output layout (consumed by run.sh with VM_SRIOV=1):
#   $SRIOV_CACHE/qemu/usr/bin/qemu-system-x86_64, qemu/usr/share/{qemu,seabios}
#   $SRIOV_CACHE/vmlinuz, kver, kernel/lib/modules/<kver>/... (with modules.dep)
#   $SRIOV_CACHE/stamp   package=version list of what was unpacked
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SRIOV_CACHE=${SRIOV_CACHE:-$REPO/.cache/sriov}
MIRROR=${SRIOV_MIRROR:-http://deb.debian.org/debian}

log() { echo "vm/sriov-deps: $*" >&2; }

# The busybox (for depmod) and the host tools come from deps.sh.
bash "$HERE/deps.sh"

[ "${VM_REFRESH:-0}" = 1 ] && rm -f "$SRIOV_CACHE/stamp"

cache_ok() {
	[ -s "$SRIOV_CACHE/stamp" ] && [ -x "$SRIOV_CACHE/qemu/usr/bin/qemu-system-x86_64" ] &&
		[ -s "$SRIOV_CACHE/qemu/usr/share/seabios/bios-256k.bin" ] && [ -s "$SRIOV_CACHE/vmlinuz" ] &&
		[ -s "$SRIOV_CACHE/kver" ] && [ -s "$SRIOV_CACHE/kernel/lib/modules/$(cat "$SRIOV_CACHE/kver")/modules.dep" ]
}

check_qemu() {
	local q=$SRIOV_CACHE/qemu/usr/bin/qemu-system-x86_64 missing
	missing=$(ldd "$q" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
	if [ -n "$missing" ]; then
		log "ERROR: $q needs shared libraries this machine lacks: $missing"
		return 1
	fi
	# QEMU_MODULE_DIR: never load the host QEMU's (other build's) modules.
	QEMU_MODULE_DIR=$SRIOV_CACHE/qemu/usr/lib/x86_64-linux-gnu/qemu "$q" -device igb,help >/dev/null 2>&1 ||
		{ log "ERROR: $q has no igb device"; return 1; }
}

if cache_ok; then
	check_qemu
	log "QEMU and kernel $(cat "$SRIOV_CACHE/kver") already in $SRIOV_CACHE ($(tr '\n' ' ' <"$SRIOV_CACHE/stamp"))"
	exit 0
fi

mkdir -p "$SRIOV_CACHE"
exec 9>"$SRIOV_CACHE/.lock"
flock 9
if cache_ok; then
	check_qemu
	log "prepared by a concurrent run"
	exit 0
fi
[ -f "$SRIOV_CACHE/.gitignore" ] || echo '*' >"$SRIOV_CACHE/.gitignore"

# A private apt: its own sources list (bookworm for the kernel, backports
# for QEMU), lists, cache and status, so neither the host's sources nor its
# package lists change. Signatures are checked with Debian's keyring.
APT=$SRIOV_CACHE/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/parts"
: >"$APT/status"
cat >"$APT/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm-updates main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm-backports main
EOF
APTOPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/parts"
	-o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "Dir::State::status=$APT/status"
	-o APT::Sandbox::User=root -o Acquire::Languages=none)
log "apt-get update with a private sources list ($APT/sources.list; host lists untouched) ..."
apt-get -qq "${APTOPTS[@]}" update >&2

candidate() { # candidate PKG [RELEASE]: the version apt would download
	local rel=${2:-}
	if [ -n "$rel" ]; then
		apt-cache "${APTOPTS[@]}" madison "$1" | awk -v r="$rel" '$0 ~ r"/main" {print $3; exit}'
	else
		apt-cache "${APTOPTS[@]}" policy "$1" | awk '/Candidate:/ {print $2}'
	fi
}

# The generic kernel: linux-image-amd64 from bookworm itself (backports
# carries 6.12, whose newer bonding the project does not target).
META=$(candidate linux-image-amd64 'bookworm ')
[ -n "$META" ] || META=$(apt-cache "${APTOPTS[@]}" madison linux-image-amd64 | awk '$0 !~ /backports/ {print $3; exit}')
KPKG=$(apt-cache "${APTOPTS[@]}" depends "linux-image-amd64=$META" | awk '/Depends: linux-image-6\.1\.0-[0-9]+-amd64/ {print $2; exit}')
[ -n "$KPKG" ] || { log "ERROR: no linux-image-6.1.0-*-amd64 behind linux-image-amd64 $META"; exit 1; }

PKGS=("$KPKG")
for p in qemu-system-x86 qemu-system-common qemu-system-data seabios; do
	v=$(candidate "$p" bookworm-backports)
	[ -n "$v" ] || { log "ERROR: $p not in bookworm-backports"; exit 1; }
	PKGS+=("$p=$v")
done
case "${PKGS[1]#*=}" in 1:1[0-9].*) ;; *) log "ERROR: backports QEMU is ${PKGS[1]#*=}, the lane needs 10 or later"; exit 1 ;; esac

DL=$(mktemp -d "$SRIOV_CACHE/dl.XXXXXX")
trap 'rm -rf "$DL"' EXIT
log "downloading ${PKGS[*]} (apt-get download, not installed) ..."
(cd "$DL" && apt-get -qq "${APTOPTS[@]}" download "${PKGS[@]}" >&2)

rm -rf "$SRIOV_CACHE/qemu" "$SRIOV_CACHE/kernel"
mkdir -p "$SRIOV_CACHE/qemu" "$SRIOV_CACHE/kernel"
for d in "$DL"/*.deb; do
	case "${d##*/}" in
	linux-image-*) dpkg-deb -x "$d" "$SRIOV_CACHE/kernel" ;;
	*) dpkg-deb -x "$d" "$SRIOV_CACHE/qemu" ;;
	esac
done
KVER=$(find "$SRIOV_CACHE/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n1)
# The .deb ships no modules.dep (postinst runs depmod); make one.
"${VM_CACHE:-$REPO/.cache/vm}/busybox" depmod -b "$SRIOV_CACHE/kernel" "$KVER"
cp "$SRIOV_CACHE/kernel/boot/vmlinuz-$KVER" "$SRIOV_CACHE/vmlinuz"
echo "$KVER" >"$SRIOV_CACHE/kver"
check_qemu
rm -rf "$APT/lists" "$APT/cache" # only needed for this download
for d in "$DL"/*.deb; do echo "$(dpkg-deb -f "$d" Package)=$(dpkg-deb -f "$d" Version)"; done >"$SRIOV_CACHE/stamp"
log "ready: kernel $KVER, $("$SRIOV_CACHE/qemu/usr/bin/qemu-system-x86_64" --version | head -n1)"
