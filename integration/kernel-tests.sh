#!/usr/bin/env bash
# Runs the real-kernel lane: builds the plugin, the IPAM plugins and the
# test binaries statically, boots Debian's cloud kernel in QEMU (TCG) with
# them in the initramfs, runs every test inside, and prints the count of
# tests executed on the real kernel. Skips are failures here: a test that
# did not run on the kernel proves nothing.
#
# Usage: integration/kernel-tests.sh [--sriov] [go test -run regexp]
#
# --sriov runs the SR-IOV lane instead: Debian's generic kernel under QEMU
# 10 with two emulated igb PFs (integration/vm/run.sh, VM_SRIOV=1), and
# only the tests named TestSRIOV*, which the main lane skips.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
lane=main
if [ "${1:-}" = --sriov ]; then
  lane=sriov
  shift
fi
run_filter=${1:-}
timeout=${VM_TIMEOUT:-3000}
# The SR-IOV tests need the SR-IOV machine; every other test the main one.
sriov_tests='^TestSRIOV'
if [ "$lane" = sriov ]; then
  run_filter=${run_filter:-$sriov_tests}
  skip_filter=
  test_pkgs="./adapters/contract ./integration"
  export VM_SRIOV=1
  "$repo/integration/vm/sriov-deps.sh"
  lane_name="SR-IOV lane (generic kernel, QEMU 10, igb/igbvf VFs)"
  count_name=sriov
else
  skip_filter=$sriov_tests
  test_pkgs="./adapters/netns ./adapters/nlkernel ./adapters/ethtool ./adapters/contract ./integration"
  "$repo/integration/vm/deps.sh"
  lane_name="real-kernel lane (Debian cloud kernel in QEMU)"
  count_name=real-kernel
fi

payload=$(mktemp -d /tmp/bond-payload.XXXXXX)
trap 'rm -rf "$payload"' EXIT
mkdir -p "$payload/bin" "$payload/tests"

echo "== building static binaries" >&2
export CGO_ENABLED=0
go build -trimpath -o "$payload/bin/bond" ./cmd/bond
go build -trimpath -o "$payload/bin/bond-debugd" ./cmd/bond-debugd
go build -trimpath -tags testhooks -o "$payload/bin/bond-hooks" ./cmd/bond
go build -trimpath -o "$payload/bin/recording-ipam" ./integration/cmd/recording-ipam
(cd integration/tools && go build -trimpath -o "$payload/bin/host-local" github.com/containernetworking/plugins/plugins/ipam/host-local \
  && go build -trimpath -o "$payload/bin/static" github.com/containernetworking/plugins/plugins/ipam/static \
  && go build -trimpath -o "$payload/bin/vlan" github.com/containernetworking/plugins/plugins/main/vlan)
# Every package with real-kernel tests contributes one test binary.
for pkg in $test_pkgs; do
  name=$(basename "$pkg")
  go test -c -trimpath -o "$payload/tests/$name.test" "$pkg"
done

cat >"$payload/run" <<'RUN'
#!/bin/sh
# Inside the VM: run each test binary verbosely; the host counts the results.
export CNI_PATH=/payload/bin
export BOND_REAL_KERNEL=1
rc=0
for t in /payload/tests/*.test; do
  echo "== $t"
  dir=/tmp/run-$(basename "$t")
  mkdir -p "$dir" && cd "$dir"
  set -- -test.v -test.count=1 -test.timeout=45m
  [ -z "$RUN_FILTER" ] || set -- "$@" -test.run "$RUN_FILTER"
  [ -z "$SKIP_FILTER" ] || set -- "$@" -test.skip "$SKIP_FILTER"
  "$t" "$@" || rc=1
done
exit $rc
RUN
chmod +x "$payload/run"
printf 'RUN_FILTER=%q\nSKIP_FILTER=%q\n' "$run_filter" "$skip_filter" >"$payload/env"
[ "$lane" = main ] || echo "BOND_SRIOV=1" >>"$payload/env"

log=$(mktemp /tmp/bond-kernel-log.XXXXXX)
start=$(date +%s)
set +e
"$repo/integration/vm/run.sh" "$payload" "$timeout" | tee "$log"
vmrc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

passed=$(grep -c -- '--- PASS:' "$log" || true)
failed=$(grep -c -- '--- FAIL:' "$log" || true)
skipped=$(grep -c -- '--- SKIP:' "$log" || true)
rm -f "$log"
echo
echo "$lane_name: ${elapsed}s"
echo "$count_name: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$vmrc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "$lane_name FAILED (vm exit $vmrc)" >&2
  exit 1
fi
