#!/usr/bin/env bash
# Per-context limits: past the memory bound vkAllocateMemory returns VK_ERROR_OUT_OF_DEVICE_MEMORY
# (the guest sees the error and its context lives on), past the object bound the context is
# fatal with a line naming the limit; either way teardown releases everything.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
pvgpu=${PVGPU:-$build/pvgpu}
guest=$build/tests/guest
log=$(mktemp /var/tmp/pvgpu-limits.XXXXXX)
trap 'rm -f "$log"' EXIT
failures=0

check() {   # description, pattern that must be in the log
    if grep -Eq "$2" "$log"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: no line matching '$2' in:"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
    fi
}

timeout 60 "$pvgpu" run --max-memory 1M -- "$guest/guest_clear" --shader-dir "$guest" >"$log" 2>&1
status=$?
[ $status -ne 0 ] || { echo "FAIL: guest_clear passed under a 1 MiB memory limit"; failures=$((failures + 1)); }
check "memory limit: the allocation is refused" "vkAllocateMemory of [0-9]+ bytes passes the context's limit of 1048576 bytes"
check "memory limit: the guest sees VK_ERROR_OUT_OF_DEVICE_MEMORY" "VK_ERROR_OUT_OF_DEVICE_MEMORY"
check "memory limit: teardown releases everything" "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings"

timeout 60 "$pvgpu" run --max-objects 5 -- vulkaninfo --summary >"$log" 2>&1
check "object limit: the context is fatal, naming the limit" "fatal: vk[A-Za-z]+: the context's limit of 5 objects is reached"
check "object limit: teardown releases everything" "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings"

timeout 60 "$pvgpu" run --max-rings 1 --max-blobs 100 -- "$guest/guest_clear" --shader-dir "$guest" >"$log" 2>&1
[ $? -eq 0 ] || { echo "FAIL: guest_clear failed under generous ring and blob limits"; sed 's/^/    /' "$log"; failures=$((failures + 1)); }

timeout 60 "$pvgpu" run --max-blobs 1 -- vulkaninfo --summary >"$log" 2>&1
check "blob limit: the second blob is refused" "blob limit of 1 reached"

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all limit checks passed"
