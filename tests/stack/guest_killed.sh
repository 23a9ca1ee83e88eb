#!/usr/bin/env bash
# A guest killed at any moment of its work, for every guest generation: before it connects,
# during the handshake, while the host reads its first request, mid-work. For every connection
# the host accepted, its worker must say how it ended: a context's teardown line with nothing
# left by the context's own counters, and the same seen from /proc/self (no fd or memfd mapping
# more than before the context), or, for a connection that ended before its context existed,
# a line saying so. No worker is killed, no teardown runs out of time.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
pvgpu=${PVGPU:-$build/pvgpu}
guest=$build/tests/guest
log=$(mktemp /var/tmp/pvgpu-killed.XXXXXX)
trap 'rm -f "$log"' EXIT
failures=0
teardown="teardown released .* left: 0 objects, 0 bytes, 0 blobs, 0 rings"
census="after teardown the worker holds 0 fds and 0 memfd mappings more than before the context"
no_context="the connection ended before a context was created; nothing to release"

# Every accepted connection has its ending; every context its clean teardown and census.
check_log() {   # description
    local connected contexts clean counted ended
    connected=$(grep -c "guest connected, worker pid" "$log")
    contexts=$(grep -c "created for \"" "$log")
    clean=$(grep -Ec "$teardown" "$log")
    counted=$(grep -c "$census" "$log")
    ended=$(grep -c "$no_context" "$log")
    if grep -q "killed by signal\|did not stop\|did not finish in time" "$log" ||
       [ "$clean" -ne "$contexts" ] || [ "$counted" -ne "$contexts" ] ||
       [ $((contexts + ended)) -ne "$connected" ]; then
        echo "FAIL: $1: $connected connections, $contexts contexts, $clean clean teardowns, $counted clean in /proc/self, $ended ended before a context:"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
        return 1
    fi
    echo "ok: $1: $connected connection(s), $contexts torn down clean (counters and /proc/self), $ended ended before a context"
}

for name in bookworm trixie sid; do
    run=("$pvgpu" run --guest "$name")
    [ "$name" = bookworm ] || run+=(--bind "$guest")
    # From before the guest connects to well into its work: on a loaded machine any of these
    # may land in the handshake or in the first request.
    for delay in 0 0.01 0.02 0.05 0.1 0.2 0.3 0.5 1; do
        timeout 120 "${run[@]}" -- sh -c "'$guest/guest_saxpy' --shader-dir '$guest' & sleep $delay; kill -9 \$!; sleep 1" >"$log" 2>&1
        check_log "$name: saxpy killed after ${delay}s"
    done
    if [ "$name" = bookworm ]; then
        # Guests that die before any timing can catch them: one that connects and leaves, one
        # that dies in the middle of its first request (CREATE_RENDERER, 20 bytes promised).
        timeout 60 "${run[@]}" -- python3 -c "
import socket, struct
for payload in (b'', struct.pack('<II', 20, 8) + b'half'):
    s = socket.socket(socket.AF_UNIX)
    s.connect('/tmp/.virgl_test')
    s.sendall(payload)
    s.close()
" >"$log" 2>&1
        sleep 0.5
        if [ "$(grep -c "$no_context" "$log")" -ne 2 ]; then
            echo "FAIL: $name: two guests gone before their context: no line for each:"
            sed 's/^/    /' "$log"
            failures=$((failures + 1))
        else
            check_log "$name: guests gone before their context, one in its first request"
        fi
    fi
    # A guest that exits while its queue waits for a timeline value only it would signal: the
    # host must release the wait and tear down at once, not hang in vkDeviceWaitIdle.
    start=$(date +%s)
    PV_TIMELINE_EXIT_WHILE_WAITING=1 timeout 60 "${run[@]}" -- "$guest/guest_timeline" --shader-dir "$guest" >"$log" 2>&1
    took=$(( $(date +%s) - start ))
    if [ $took -gt 5 ]; then
        echo "FAIL: $name: timeline guest gone while its queue waits: teardown took ${took}s"
        failures=$((failures + 1))
    elif ! grep -q "created for" "$log"; then
        echo "FAIL: $name: the timeline guest made no context"
        sed 's/^/    /' "$log"
        failures=$((failures + 1))
    else
        check_log "$name: timeline guest gone while its queue waits, torn down in ${took}s"
    fi
done
[ $failures -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
echo "all killed-guest cases passed"
