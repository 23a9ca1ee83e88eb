#!/usr/bin/env bash
# A guest killed in the middle of its work: the host must finish or drop that work, release every
# object of the context, and keep its worker alive through teardown (no signal, nothing left).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
pvgpu=${PVGPU:-$build/pvgpu}
guest=$build/tests/guest
log=$(mktemp /var/tmp/pvgpu-killed.XXXXXX)
trap 'rm -f "$log"' EXIT
failures=0
for delay in 0.1 0.2 0.3 0.5; do
    timeout 120 "$pvgpu" run -- sh -c "'$guest/guest_saxpy' --shader-dir '$guest' & sleep $delay; kill -9 \$!; sleep 1" >"$log" 2>&1
    if grep -q "killed by signal\|did not finish in time" "$log" ||
       ! grep -Eq "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings" "$log"; then
        echo "FAIL: saxpy killed after ${delay}s:"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
    else
        echo "ok: saxpy killed after ${delay}s, context released: $(grep -o 'teardown released [^;]*' "$log")"
    fi
done
[ $failures -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
echo "all killed-guest cases passed"
