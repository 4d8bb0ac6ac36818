#!/usr/bin/env bash
# integration/vm/selftest.sh — checks the harness itself (not the project):
#   1. the smoke payload passes (exit 0),
#   2. a payload's exit code propagates (payload exits 3 -> run.sh exits 3),
#   3. a hanging payload is killed at the timeout (run.sh exits 124).
# Takes ~30 s under TCG. Exits non-zero on the first mismatch.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmself.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

expect() { # expect RC DESCRIPTION -- run.sh ARGS...
	local want=$1 what=$2 got=0
	shift 3
	echo "=== selftest: $what (want exit $want)"
	bash "$HERE/run.sh" "$@" </dev/null || got=$?
	if [ "$got" != "$want" ]; then
		echo "=== selftest FAILED: $what: exit $got, want $want" >&2
		exit 1
	fi
	echo "=== selftest ok: $what"
}

mkdir -p "$TMP/rc3" "$TMP/hang"
printf '#!/bin/sh\necho "about to exit 3"\nexit 3\n' >"$TMP/rc3/run"
printf '#!/bin/sh\necho "hanging"\nsleep 100000\n' >"$TMP/hang/run"
chmod +x "$TMP/rc3/run" "$TMP/hang/run"

expect 0 "smoke payload" -- "$HERE/smoke" 300
expect 3 "exit code propagation" -- "$TMP/rc3" 300
expect 124 "timeout" -- "$TMP/hang" 15
echo "selftest: 3 passed, 0 failed"
