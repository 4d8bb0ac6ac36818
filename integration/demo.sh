#!/usr/bin/env bash
# make demo: boots Debian's cloud kernel in QEMU and runs the seed's two
# scenarios through libcni with the built plugin, printing each result, the
# bond as the pod sees it, and the links after DEL.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
"$repo/integration/vm/deps.sh"
payload=$(mktemp -d /tmp/bond-demo.XXXXXX)
trap 'rm -rf "$payload"' EXIT
mkdir -p "$payload/bin"
export CGO_ENABLED=0
echo "== building static binaries" >&2
go build -trimpath -o "$payload/bin/bond" ./cmd/bond
go build -trimpath -o "$payload/bin/bond-demo" ./integration/cmd/bond-demo
(cd integration/tools && go build -trimpath -o "$payload/bin/host-local" github.com/containernetworking/plugins/plugins/ipam/host-local \
  && go build -trimpath -o "$payload/bin/static" github.com/containernetworking/plugins/plugins/ipam/static)
cat >"$payload/run" <<'RUN'
#!/bin/sh
export CNI_PATH=/payload/bin
exec /payload/bin/bond-demo
RUN
chmod +x "$payload/run"
"$repo/integration/vm/run.sh" "$payload" "${VM_TIMEOUT:-900}"
