#!/usr/bin/env bash
# integration/vm/deps.sh — make sure everything run.sh needs is present.
#
# The host kernel this project is developed/CI'd on has no bonding driver, so
# real-kernel tests run inside a QEMU (TCG, no KVM) VM booted from an
# initramfs. This script provides, idempotently:
#   * qemu-system-x86_64          (apt-get install qemu-system-x86, on the host)
#   * a Debian cloud kernel + its modules  } downloaded with `apt-get download`
#   * a static busybox                     } and unpacked with `dpkg-deb -x`
#                                            into $VM_CACHE (NOT installed:
#                                            the host is not polluted and no
#                                            initramfs/bootloader hooks run)
#
# Everything it does is announced on stderr. A second run is fast: a stamp
# file records what was unpacked, and we only re-check it.
#
# Env:
#   VM_CACHE    cache dir (default: <repo>/.cache/vm)
#   VM_REFRESH  set to 1 to drop the stamp and re-download kernel/busybox
#
# Output layout (consumed by run.sh):
#   $VM_CACHE/vmlinuz            kernel image
#   $VM_CACHE/kver               kernel release string, e.g. 6.1.0-56-cloud-amd64
#   $VM_CACHE/kernel/lib/modules/<kver>/...   unpacked module tree
#   $VM_CACHE/busybox            static busybox binary
#   $VM_CACHE/stamp              "<kernel pkg>=<version> <busybox version>"
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VM_CACHE=${VM_CACHE:-$REPO/.cache/vm}

log() { echo "vm/deps: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

# apt-get update is slow-ish, so only do it once per script run and only when
# something actually needs it (no candidate for a package, or a download 404s
# because the package lists are stale).
APT_UPDATED=0
apt_update() {
	if [ "$APT_UPDATED" -eq 0 ]; then
		log "running apt-get update (package lists missing or stale) ..."
		$SUDO apt-get update -qq >&2
		APT_UPDATED=1
	fi
}

# has_candidate PKG: true if apt knows an installable version of PKG.
has_candidate() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

# retry_after_update CMD...: run CMD; if it fails, apt-get update and retry
# once (handles stale lists pointing at versions no longer on the mirror).
retry_after_update() {
	if ! "$@"; then
		if [ "$APT_UPDATED" -eq 1 ]; then
			return 1
		fi
		log "command failed, refreshing package lists and retrying: $*"
		apt_update
		"$@"
	fi
}

# apt_install PKG...: quiet install; dpkg's chatter is shown only on failure.
apt_install() {
	local out rc=0
	out=$(mktemp)
	$SUDO env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || cat "$out" >&2
	rm -f "$out"
	return "$rc"
}

ensure_candidate() {
	local p
	for p in "$@"; do
		if ! has_candidate "$p"; then
			apt_update
			has_candidate "$p" || { log "ERROR: apt has no package $p"; exit 1; }
		fi
	done
}

# ---------------------------------------------------------------- qemu ----
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	ensure_candidate qemu-system-x86
	log "installing qemu-system-x86 (apt-get install --no-install-recommends) ..."
	retry_after_update apt_install qemu-system-x86
	log "installed $(qemu-system-x86_64 --version | head -n1)"
fi

# ------------------------------------------------- kernel + busybox -------
if [ "${VM_REFRESH:-0}" = 1 ]; then
	log "VM_REFRESH=1: dropping $VM_CACHE/stamp"
	rm -f "$VM_CACHE/stamp"
fi

cache_ok() {
	[ -s "$VM_CACHE/stamp" ] && [ -s "$VM_CACHE/vmlinuz" ] && [ -x "$VM_CACHE/busybox" ] &&
		[ -s "$VM_CACHE/kver" ] && [ -d "$VM_CACHE/kernel/lib/modules/$(cat "$VM_CACHE/kver")/kernel" ]
}

if cache_ok; then
	log "kernel $(cat "$VM_CACHE/kver") and busybox already in $VM_CACHE (stamp: $(cat "$VM_CACHE/stamp"))"
	exit 0
fi

mkdir -p "$VM_CACHE"
# Serialize concurrent first runs (e.g. parallel make targets) on the cache.
exec 9>"$VM_CACHE/.lock"
flock 9
if cache_ok; then
	log "kernel $(cat "$VM_CACHE/kver") and busybox prepared by a concurrent run"
	exit 0
fi
# Keep git from ever seeing the (large) cache, whatever the repo's .gitignore says.
[ -f "$VM_CACHE/.gitignore" ] || echo '*' >"$VM_CACHE/.gitignore"

ensure_candidate linux-image-cloud-amd64 busybox-static
# linux-image-cloud-amd64 is a metapackage; its one dependency is the real,
# versioned image package (e.g. linux-image-6.1.0-56-cloud-amd64).
KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$KPKG" ]; then
	log "ERROR: could not resolve the versioned kernel package behind linux-image-cloud-amd64"
	exit 1
fi
ensure_candidate "$KPKG"

DL=$(mktemp -d "$VM_CACHE/dl.XXXXXX")
trap 'rm -rf "$DL"' EXIT
log "downloading $KPKG and busybox-static (apt-get download, not installed) ..."
# Sandbox user root: apt's _apt user cannot write into our cache dir.
download_debs() {
	(cd "$DL" && apt-get -qq -o APT::Sandbox::User=root download "$KPKG" busybox-static >&2)
}
retry_after_update download_debs

KDEB=$(ls "$DL"/linux-image-*.deb)
BDEB=$(ls "$DL"/busybox-static_*.deb)

log "unpacking $(basename "$KDEB") into $VM_CACHE/kernel ..."
rm -rf "$VM_CACHE/kernel" "$VM_CACHE/bb"
mkdir -p "$VM_CACHE/kernel" "$VM_CACHE/bb"
dpkg-deb -x "$KDEB" "$VM_CACHE/kernel"
log "unpacking $(basename "$BDEB") ..."
dpkg-deb -x "$BDEB" "$VM_CACHE/bb"

KVER=$(find "$VM_CACHE/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n1)
cp "$VM_CACHE/kernel/boot/vmlinuz-$KVER" "$VM_CACHE/vmlinuz"
cp "$VM_CACHE/bb/bin/busybox" "$VM_CACHE/busybox"
chmod 755 "$VM_CACHE/busybox"
rm -rf "$VM_CACHE/bb"
echo "$KVER" >"$VM_CACHE/kver"
# Written last: its presence means everything above completed.
echo "$KPKG=$(dpkg-deb -f "$KDEB" Version) busybox-static=$(dpkg-deb -f "$BDEB" Version)" >"$VM_CACHE/stamp"
log "ready: kernel $KVER, $(cat "$VM_CACHE/stamp")"
