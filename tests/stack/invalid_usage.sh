#!/usr/bin/env bash
# Invalid usage that a host driver would turn into memory corruption (tests/guest/misuse.c):
# pvgpu must refuse each call with a fatal reason naming the command, drop only that guest and
# release everything it had; for every guest generation.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
pvgpu=${PVGPU:-$build/pvgpu}
guest=$build/tests/guest
log=$(mktemp /var/tmp/pvgpu-misuse.XXXXXX)
trap 'rm -f "$log"' EXIT
failures=0

expect() {   # case, pattern of the fatal reason
    timeout 60 "${run[@]}" -- timeout 30 "$guest/guest_misuse" "$1" --shader-dir "$guest" >"$log" 2>&1
    if grep -Eq "fatal: $2" "$log" &&
       grep -Eq "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings" "$log" &&
       ! grep -q "the host accepted invalid usage" "$log"; then
        echo "ok: $name: $1: $(grep -o 'fatal: .*' "$log" | head -n 1)"
    else
        echo "FAIL: $name: $1: no fatal line matching '$2' with a clean teardown in:"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
    fi
}

for name in bookworm trixie sid; do
run=("$pvgpu" run --guest "$name")
[ "$name" = bookworm ] || run+=(--bind "$guest")
expect signal-binary "vkSignalSemaphore: the semaphore is not a timeline semaphore"
expect copy-overlap "vkCmdCopyBuffer: the buffer is copied onto itself with source and destination regions that overlap"
expect copy-outside "vkCmdCopyBuffer: region 0 .* outside the buffers"
expect fill-outside "vkCmdFillBuffer: .* outside the buffer"
done

[ $failures -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
echo "all invalid-usage cases refused"
