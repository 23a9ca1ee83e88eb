#!/usr/bin/env bash
# A guest killed in the middle of its work, for every guest generation: the host must finish or
# drop that work, release every object of the context, and keep its worker alive through
# teardown (no signal, nothing left).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
pvgpu=${PVGPU:-$build/pvgpu}
guest=$build/tests/guest
log=$(mktemp /var/tmp/pvgpu-killed.XXXXXX)
trap 'rm -f "$log"' EXIT
failures=0
for name in bookworm trixie sid; do
    run=("$pvgpu" run --guest "$name")
    [ "$name" = bookworm ] || run+=(--bind "$guest")
    for delay in 0.1 0.2 0.3 0.5; do
        timeout 120 "${run[@]}" -- sh -c "'$guest/guest_saxpy' --shader-dir '$guest' & sleep $delay; kill -9 \$!; sleep 1" >"$log" 2>&1
        if grep -q "killed by signal\|did not finish in time" "$log" ||
           ! grep -Eq "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings" "$log"; then
            echo "FAIL: $name: saxpy killed after ${delay}s:"
            sed 's/^/    /' "$log"
            failures=$((failures + 1))
        else
            echo "ok: $name: saxpy killed after ${delay}s, context released: $(grep -o 'teardown released [^;]*' "$log")"
        fi
    done
    # A guest that exits while its queue waits for a timeline value only it would signal: the
    # host must release the wait and tear down at once, not hang in vkDeviceWaitIdle.
    start=$(date +%s)
    PV_TIMELINE_EXIT_WHILE_WAITING=1 timeout 60 "${run[@]}" -- "$guest/guest_timeline" --shader-dir "$guest" >"$log" 2>&1
    took=$(( $(date +%s) - start ))
    if grep -q "killed by signal\|did not stop\|did not finish in time" "$log" ||
       ! grep -Eq "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings" "$log" || [ $took -gt 5 ]; then
        echo "FAIL: $name: timeline guest gone while its queue waits (${took}s):"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
    else
        echo "ok: $name: timeline guest gone while its queue waits, torn down in ${took}s: $(grep -o 'teardown released [^;]*' "$log")"
    fi
done
[ $failures -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
echo "all killed-guest cases passed"
