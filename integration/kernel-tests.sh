#!/usr/bin/env bash
# Runs the real-kernel lane: builds the plugin, the IPAM plugins and the
# test binaries statically, boots Debian's cloud kernel in QEMU (TCG) with
# them in the initramfs, runs every test inside, and prints the count of
# tests executed on the real kernel. Skips are failures here: a test that
# did not run on the kernel proves nothing.
#
# Usage: integration/kernel-tests.sh [go test -run regexp]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
run_filter=${1:-}
timeout=${VM_TIMEOUT:-3000}

"$repo/integration/vm/deps.sh"

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
  && go build -trimpath -o "$payload/bin/static" github.com/containernetworking/plugins/plugins/ipam/static)
# Every package with real-kernel tests contributes one test binary.
for pkg in ./adapters/netns ./adapters/rtnl ./adapters/sysfs ./adapters/contract ./integration; do
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
  if [ -n "$RUN_FILTER" ]; then
    "$t" -test.v -test.count=1 -test.timeout=45m -test.run "$RUN_FILTER" || rc=1
  else
    "$t" -test.v -test.count=1 -test.timeout=45m || rc=1
  fi
done
exit $rc
RUN
chmod +x "$payload/run"
printf 'RUN_FILTER=%q\n' "$run_filter" >"$payload/env"

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
echo "real-kernel lane (Debian cloud kernel in QEMU): ${elapsed}s"
echo "real-kernel: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$vmrc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "real-kernel lane FAILED (vm exit $vmrc)" >&2
  exit 1
fi
