#!/usr/bin/env bash
# make bench: builds the plugin, the static IPAM plugin, a hello-world Go
# binary and bond-bench (integration/bench) statically, boots Debian's cloud
# kernel in QEMU with them, and runs bond-bench inside: ADD/CHECK/DEL
# latency through libcni, the exec floors, peak RSS, netlink round trips,
# pods attaching at once, and the budgets as ratios within the run.
#
# Files written in the VM are lost, so bond-bench prints bench.txt,
# bench.json and bench.svg between marker lines with their sha256; this
# script checks and extracts them into $BENCH_OUT (default bench-results/,
# which ignores itself).
#
# Env: BENCH_OUT (output dir), BENCH_ARGS (bond-bench flags, e.g.
# "-pods 20 -host 5" for a quick run), BENCH_COMPARE (a static binary
# of another bond plugin to measure against, below), BENCH_LDFLAGS
# (linker flags of the plugin and the floors; make bench passes the ones
# of make build), VM_TIMEOUT (default 900 s), and the VM_* settings of
# integration/vm/run.sh.
#
# Exit status: 0 when every figure was measured, whatever the budgets say
# (a budget that fails is printed as FAIL); non-zero when a measurement, the
# VM or the extraction failed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=${BENCH_OUT:-$repo/bench-results}
ldflags=${BENCH_LDFLAGS:--s -w}
bench_args=${BENCH_ARGS:-}

"$repo/integration/vm/deps.sh"

payload=$(mktemp -d /tmp/bond-bench.XXXXXX)
log=$(mktemp /tmp/bond-bench-log.XXXXXX)
trap 'rm -rf "$payload" "$log"' EXIT
mkdir -p "$payload/bin"

echo "== building static binaries" >&2
export CGO_ENABLED=0
# The plugin and the floors it is compared with get the same flags.
go build -trimpath -ldflags "$ldflags" -o "$payload/bin/bond" ./cmd/bond
go build -trimpath -ldflags "$ldflags" -o "$payload/bin/hello" ./integration/cmd/hello
go build -trimpath -ldflags "$ldflags" -tags benchfloor -o "$payload/bin/bond-linkfloor" ./cmd/bond
go build -trimpath -ldflags "$ldflags" -o "$payload/bin/kernel-floor" ./integration/cmd/kernel-floor
(cd integration/tools && go build -trimpath -ldflags "$ldflags" -o "$payload/bin/static" github.com/containernetworking/plugins/plugins/ipam/static)
go build -trimpath -o "$payload/bin/bond-bench" ./integration/bench
go build -trimpath -ldflags "-s -w" -o "$payload/bin/bond-rusage" ./integration/bench/rusage

# BENCH_COMPARE: another bond plugin's static binary (the one bond
# replaces, say), measured against bond in turns (bond-bench -compare).
if [ -n "${BENCH_COMPARE:-}" ]; then
  other=$(basename "$BENCH_COMPARE")
  if [ ! -f "$BENCH_COMPARE" ] || [ ! -x "$BENCH_COMPARE" ]; then
    echo "bench: BENCH_COMPARE=$BENCH_COMPARE is not an executable file" >&2
    exit 2
  fi
  # The name travels as a word of BENCH_ARGS and is the configs' type.
  if ! [[ $other =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
    echo "bench: BENCH_COMPARE=$BENCH_COMPARE: its file name may hold only letters, digits and . _ + -" >&2
    exit 2
  fi
  if [ -e "$payload/bin/$other" ]; then
    echo "bench: BENCH_COMPARE=$BENCH_COMPARE: $other is the name of one of the bench's own binaries; rename it" >&2
    exit 2
  fi
  # The VM has no dynamic loader: bond-bench's VERSION check would fail.
  if grep -qa 'ld-linux' < <(head -c 4096 "$BENCH_COMPARE"); then
    echo "bench: BENCH_COMPARE=$BENCH_COMPARE is dynamically linked; build it with CGO_ENABLED=0" >&2
    exit 2
  fi
  cp "$BENCH_COMPARE" "$payload/bin/$other"
  bench_args="$bench_args -compare $other"
  # vishvananda/netlink, which bond-cni uses, opens an xfrm and a netfilter
  # netlink socket with every handle; a node has their modules loaded.
  export VM_EXTRA_MODULES="${VM_EXTRA_MODULES:-} xfrm_user nfnetlink"
fi

cat >"$payload/run" <<'RUN'
#!/bin/sh
# Inside the VM. Kernel messages stay off the console the results travel on.
export CNI_PATH=/payload/bin
dmesg -n 1 2>/dev/null || true
# shellcheck disable=SC2086 # BENCH_ARGS is a flag list
exec /payload/bin/bond-bench $BENCH_ARGS
RUN
chmod +x "$payload/run"

# What the run happened on, for the report (the guest sees an emulated CPU).
host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
qemu_v=$(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p')
host="${host_cpu:-unknown CPU}, $(nproc) CPUs, Linux $(uname -r), QEMU ${qemu_v:-?} TCG"
{
  printf "BENCH_HOST='%s'\n" "${host//\'/}"
  printf "BENCH_ARGS='%s'\n" "${bench_args//\'/}"
} >"$payload/env"

# Stream the console, folding the JSON and SVG blocks (they are long) into
# one line each; the whole console goes to $log for the extraction.
fold_blocks() {
  local line skip='' name='' n=0
  while IFS= read -r line; do
    case $line in
      "=== BEGIN bench.json "* | "=== BEGIN bench.svg "*)
        skip=1 name=${line#=== BEGIN } n=0
        name=${name%% *} ;;
      "=== END bench.json ===" | "=== END bench.svg ===")
        skip=''
        printf '[%s: %d lines, extracted below]\n' "$name" "$n" ;;
      "=== BEGIN bench.txt "* | "=== END bench.txt ===") ;;
      *) if [ -n "$skip" ]; then n=$((n + 1)); else printf '%s\n' "$line"; fi ;;
    esac
  done
}
set +e
"$repo/integration/vm/run.sh" "$payload" "${VM_TIMEOUT:-900}" | tee "$log" | fold_blocks
vmrc=${PIPESTATUS[0]}
set -e
if [ "$vmrc" -ne 0 ]; then
  echo "bench: the run in the VM failed (exit $vmrc); no results written" >&2
  exit "$vmrc"
fi

mkdir -p "$out"
if [ "$out" = "$repo/bench-results" ] && [ ! -e "$out/.gitignore" ]; then
  echo '*' >"$out/.gitignore"
fi
for f in bench.txt bench.json bench.svg; do
  want=$(sed -n "s/^=== BEGIN ${f//./\\.} sha256=\([0-9a-f]*\) ===\$/\1/p" "$log" | tail -n1)
  if [ -z "$want" ]; then
    echo "bench: $f missing from the console output" >&2
    exit 1
  fi
  awk -v f="$f" '
    index($0, "=== BEGIN " f " ") == 1 { on = 1; buf = ""; next }
    $0 == "=== END " f " ===" { on = 0; last = buf; next }
    on { buf = buf $0 "\n" }
    END { printf "%s", last }' "$log" >"$out/$f.tmp"
  got=$(sha256sum <"$out/$f.tmp" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "bench: $f arrived garbled over the serial console (sha256 $got, expected $want)" >&2
    rm -f "$out/$f.tmp"
    exit 1
  fi
  mv "$out/$f.tmp" "$out/$f"
done
echo "bench: results in ${out#"$repo"/}/: bench.txt bench.json bench.svg"
