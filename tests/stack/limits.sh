#!/usr/bin/env bash
# Per-context limits, for every guest generation: past the memory bound (device memory and plain
# shared-memory blobs) vkAllocateMemory returns
# VK_ERROR_OUT_OF_DEVICE_MEMORY (a 2022 guest sees the error and its context lives on; current
# guests allocate without asking for the result, so their context ends), past the object and
# blob bounds the context is fatal with a line naming the limit; either way teardown releases
# everything, and generous limits do not get in a normal guest's way.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
pvgpu=${PVGPU:-$build/pvgpu}
guest_dir=$build/tests/guest
log=$(mktemp /var/tmp/pvgpu-limits.XXXXXX)
trap 'rm -f "$log"' EXIT
failures=0
census="after teardown the worker holds 0 fds and 0 memfd mappings more than before the context"

check() {   # description, pattern that must be in the log
    if grep -Eq "$2" "$log"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: no line matching '$2' in:"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
    fi
}

for guest in bookworm trixie sid; do
    run=("$pvgpu" run --guest "$guest")
    [ "$guest" = bookworm ] || run+=(--bind "$guest_dir")

    # saxpy allocates two 64 MiB buffers: past a 16 MiB bound whatever the guest's pooling.
    timeout 60 "${run[@]}" --max-memory 16M -- "$guest_dir/guest_saxpy" --shader-dir "$guest_dir" \
        >"$log" 2>&1
    status=$?
    [ $status -ne 0 ] || { echo "FAIL: $guest: guest_saxpy passed under a 16 MiB memory limit"; failures=$((failures + 1)); }
    check "$guest: memory limit: the allocation is refused" "vkAllocateMemory of [0-9]+ bytes passes the context's limit of 16777216 bytes"
    if [ "$guest" = bookworm ]; then
        check "$guest: memory limit: the guest sees VK_ERROR_OUT_OF_DEVICE_MEMORY" "VK_ERROR_OUT_OF_DEVICE_MEMORY"
    else
        # Current drivers allocate without asking for the result: they cannot be told, so the
        # context ends, saying why.
        check "$guest: memory limit: the context ends, saying why" "fatal: vkAllocateMemory failed \(-2\) and the guest did not ask for the result"
    fi
    check "$guest: memory limit: teardown releases everything" "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings"
    check "$guest: memory limit: the worker holds nothing more than before the context" "$census"

    timeout 60 "${run[@]}" --max-objects 5 -- vulkaninfo --summary >"$log" 2>&1
    check "$guest: object limit: the context is fatal, naming the limit" "fatal: vk[A-Za-z]+: the context's limit of 5 objects is reached"
    check "$guest: object limit: teardown releases everything" "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings"
    check "$guest: object limit: the worker holds nothing more than before the context" "$census"

    timeout 60 "${run[@]}" --max-rings 1 --max-blobs 100 -- "$guest_dir/guest_clear" \
        --shader-dir "$guest_dir" >"$log" 2>&1
    [ $? -eq 0 ] || { echo "FAIL: $guest: guest_clear failed under generous ring and blob limits"; sed 's/^/    /' "$log"; failures=$((failures + 1)); }

    timeout 60 "${run[@]}" --max-blobs 1 -- vulkaninfo --summary >"$log" 2>&1
    check "$guest: blob limit: the second blob is refused" "blob limit of 1 reached"

    # Plain shared memory (blob_id 0: rings, reply streams) counts against the memory bound too.
    timeout 60 "${run[@]}" --max-memory 64K -- vulkaninfo --summary >"$log" 2>&1
    check "$guest: memory limit: a plain blob past it is refused" "blob [0-9]+ of [0-9]+ bytes passes the context's memory limit of 65536 bytes"
    check "$guest: memory limit: teardown releases every blob" "teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings"
done

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all limit checks passed"
