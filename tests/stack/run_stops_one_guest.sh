#!/usr/bin/env bash
# `pvgpu run -- CMD` where CMD is a script running several Vulkan programs, for every guest
# generation: when one program's context becomes fatal (past --max-objects), pvgpu run stops
# that program only; the script goes on, the next program passes, and pvgpu run returns the
# script's own status.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
pvgpu=${PVGPU:-$build/pvgpu}
guest=$build/tests/guest
log=$(mktemp /var/tmp/pvgpu-run-one.XXXXXX)
trap 'rm -f "$log"' EXIT
failures=0
for name in bookworm trixie sid; do
    run=("$pvgpu" run --guest "$name")
    [ "$name" = bookworm ] || run+=(--bind "$guest")
    # guest_clear needs more than 8 objects; vulkaninfo --summary fewer.
    timeout 120 "${run[@]}" --max-objects 8 -- sh -c "
        '$guest/guest_clear' --shader-dir '$guest' >/dev/null 2>&1; echo \"first: \$?\"
        vulkaninfo --summary >/dev/null 2>&1; echo \"second: \$?\"
        exit 7" >"$log" 2>&1
    status=$?
    first=$(sed -n 's/^first: //p' "$log")
    second=$(sed -n 's/^second: //p' "$log")
    if [ $status -ne 7 ] || [ -z "$first" ] || [ "$first" = 0 ] || [ "$second" != 0 ] ||
       ! grep -q "fatal: .*limit of 8 objects" "$log" || grep -q "stopping CMD" "$log"; then
        echo "FAIL: $name: exit $status (want the script's 7), first program ${first:-?} (want a failure), second ${second:-?} (want 0):"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
    else
        echo "ok: $name: the fatal program ended ($first), the script went on: the next program passed, exit $status; $(grep -o 'stopping guest process [0-9]*' "$log" || echo 'the guest had aborted itself')"
    fi
done
[ $failures -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
echo "all run-stops-one-guest cases passed"
