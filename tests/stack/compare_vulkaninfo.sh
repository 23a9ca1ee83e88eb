#!/usr/bin/env bash
# Runs the full `vulkaninfo` through the reference host (virglrenderer's virgl_test_server --venus)
# and through `pvgpu run`, both on the same host ICD, and fails unless the guest sees the same
# device through both: identical output apart from the deliberate differences listed, with a reason
# each, in vulkaninfo-deliberate-differences.txt next to this script.
#
# Environment: PVGPU_BUILD_DIR (default: <project root>/build), PVGPU (default: $PVGPU_BUILD_DIR/pvgpu),
# PVGPU_GUEST_TIMEOUT (seconds per vulkaninfo run, default 40, so that a hung guest
# is reported here before meson's 120 s limit).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "FAIL: build dir ${PVGPU_BUILD_DIR:-$root/build} does not exist" >&2; exit 1; }
pvgpu=${PVGPU:-$build/pvgpu}
guest_icd=$build/guest-driver/virtio_icd.json
deliberate=$here/vulkaninfo-deliberate-differences.txt
guest_timeout=${PVGPU_GUEST_TIMEOUT:-40}
out=$build/tests/stack/vulkaninfo
mkdir -p "$out"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Lines that legitimately differ between two runs of the same host. Checked on lavapipe: two runs of
# the reference give byte-identical output, because the Venus driver derives pipelineCacheUUID,
# deviceUUID and driverUUID by hashing host-reported values, not from anything per-run. So nothing
# is normalised; the reference is run twice below to notice if that ever stops being true.
normalise() {
    cat "$1"
}

[ -f "$guest_icd" ] || fail "guest driver missing ($guest_icd); run scripts/setup-guest-driver.sh"
lib=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$guest_icd")
[ -n "$lib" ] && [ -f "$lib" ] || fail "guest driver library '$lib' named by $guest_icd is missing; run scripts/setup-guest-driver.sh"
[ -x "$pvgpu" ] || fail "pvgpu executable missing at $pvgpu; build with ninja -C $build"
for tool in virgl_test_server vulkaninfo unshare timeout diff; do
    command -v "$tool" >/dev/null || fail "$tool not found; run scripts/install-deps.sh"
done
# The reference run mounts a fresh /tmp; the guest driver and the outputs must lie outside it.
case "$build/" in /tmp/*) fail "build dir $build is under /tmp, which the reference run hides; use another build dir" ;; esac

# A private pid namespace as well: when its first process dies (even killed by the timeout), the
# kernel ends the reference server with it, so no server outlives the test.
unshare_args=(--mount --propagation private --pid --kill-child)
[ "$(id -u)" -eq 0 ] || unshare_args+=(--map-root-user)

# One reference run in a private mount namespace with its own /tmp (the driver's socket path is
# fixed at /tmp/.virgl_test). stdout = vulkaninfo's stdout, stderr = its stderr, fd 3 = server log;
# the files are opened outside the namespace. Exit status = vulkaninfo's.
run_reference() {
    local name=$1
    timeout $((guest_timeout + 20)) unshare "${unshare_args[@]}" bash -c '
        mount -t tmpfs pvgpu-ref-tmp /tmp || exit 90
        virgl_test_server --venus --use-egl-surfaceless >&3 2>&3 &
        server=$!
        for _ in $(seq 100); do [ -S /tmp/.virgl_test ] && break; sleep 0.05; done
        [ -S /tmp/.virgl_test ] || { echo "reference server did not create its socket" >&2; exit 91; }
        VK_ICD_FILENAMES="$1" VK_DRIVER_FILES="$1" VN_DEBUG=vtest timeout "$2" vulkaninfo
        status=$?
        kill "$server" 2>/dev/null
        wait "$server" 2>/dev/null
        exit $status
    ' reference "$guest_icd" "$guest_timeout" \
        >"$out/$name.txt" 2>"$out/$name.stderr" 3>"$out/$name-server.log"
}

echo "reference: virgl_test_server --venus, outputs in $out"
run_reference reference
status=$?
[ $status -eq 0 ] || fail "vulkaninfo through the reference host exited with $status (124 = timeout); see $out/reference.stderr and $out/reference-server.log"
run_reference reference-again
status=$?
[ $status -eq 0 ] || fail "second reference vulkaninfo exited with $status; see $out/reference-again.stderr"
if ! diff -u <(normalise "$out/reference.txt") <(normalise "$out/reference-again.txt") >"$out/reference-stability.diff"; then
    cat "$out/reference-stability.diff"
    fail "two runs of the reference differ (above); normalise those lines in normalise() of $0"
fi

echo "pvgpu: $pvgpu run -- vulkaninfo"
PVGPU_GUEST_ICD=$guest_icd VN_DEBUG=vtest timeout $((guest_timeout + 20)) \
    "$pvgpu" run -- timeout "$guest_timeout" vulkaninfo \
    >"$out/pvgpu.txt" 2>"$out/pvgpu.stderr"
status=$?
[ $status -eq 0 ] || {
    tail -n 30 "$out/pvgpu.stderr" >&2
    fail "vulkaninfo through pvgpu run exited with $status (124 = timeout); full log: $out/pvgpu.stderr"
}

errors=0
if ! grep -qE '^[[:space:]]*deviceName[[:space:]]*= Virtio-GPU Venus \(llvmpipe' "$out/pvgpu.txt"; then
    echo "FAIL: no 'deviceName = Virtio-GPU Venus (llvmpipe...' line in $out/pvgpu.txt" >&2
    grep -E 'deviceName' "$out/pvgpu.txt" >&2
    errors=1
fi
if ! grep -qE '^[[:space:]]*driverName[[:space:]]*= venus[[:space:]]*$' "$out/pvgpu.txt"; then
    echo "FAIL: no 'driverName = venus' line in $out/pvgpu.txt" >&2
    grep -E 'driverName' "$out/pvgpu.txt" >&2
    errors=1
fi

# The host must have served the whole run: no context made fatal, no sanitizer finding (when pvgpu
# is a sanitizer build).
if grep -E ': fatal: |ERROR: (Address|Leak)Sanitizer|runtime error:' "$out/pvgpu.stderr" >&2; then
    echo "FAIL: the pvgpu host reported the errors above while serving vulkaninfo (log: $out/pvgpu.stderr)" >&2
    errors=1
fi

# Deliberate differences: "<extended regex> :: <reason>" per entry; lines matching any pattern are
# dropped from both outputs before the comparison. An entry without a reason is an error.
patterns=$out/deliberate-patterns.txt
: >"$patterns"
if [ -f "$deliberate" ]; then
    lineno=0
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        case "$line" in '' | '#'*) continue ;; esac
        pattern=${line%% :: *}
        reason=${line#* :: }
        if [ "$pattern" = "$line" ] || [ -z "${reason//[[:space:]]/}" ] || [ -z "$pattern" ]; then
            echo "FAIL: $deliberate:$lineno: entry needs the form '<pattern> :: <reason>': $line" >&2
            errors=1
            continue
        fi
        printf '' | grep -E -- "$pattern" >/dev/null 2>&1
        if [ $? -eq 2 ]; then
            echo "FAIL: $deliberate:$lineno: invalid extended regular expression: $pattern" >&2
            errors=1
            continue
        fi
        printf '%s\n' "$pattern" >>"$patterns"
    done <"$deliberate"
fi

filter() {
    if [ -s "$patterns" ]; then
        normalise "$1" | grep -v -E -f "$patterns"
    else
        normalise "$1"
    fi
}
filter "$out/reference.txt" >"$out/reference.compared.txt"
filter "$out/pvgpu.txt" >"$out/pvgpu.compared.txt"
if ! diff -u --label reference --label pvgpu "$out/reference.compared.txt" "$out/pvgpu.compared.txt" \
        >"$out/vulkaninfo.diff"; then
    cat "$out/vulkaninfo.diff"
    echo "FAIL: vulkaninfo through pvgpu differs from the reference (diff above, also in $out/vulkaninfo.diff);" \
         "fix it or list it with a reason in $deliberate" >&2
    errors=1
fi

[ $errors -eq 0 ] || exit 1
echo "PASS: vulkaninfo through pvgpu matches the reference ($(wc -l <"$out/reference.txt") lines," \
     "$(wc -l <"$patterns") deliberate-difference patterns)"
