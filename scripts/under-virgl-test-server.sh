#!/usr/bin/env bash
# Runs a guest program against a virgl_test_server --venus (the reference host, or its binary on
# another libvirglrenderer.so.1) and ends the run as soon as the server drops the guest, after
# which the 22.3.6 driver would only spin. Meant to run as the first process of a private mount
# and pid namespace (unshare --mount --propagation private --pid --fork): it mounts a fresh /tmp,
# since the 2022 driver's socket path is fixed at /tmp/.virgl_test (what the run names under the
# old /tmp stays visible: private-tmp.sh), and leaving it ends every process of the namespace.
#
#   under-virgl-test-server.sh SERVER_LOG HOST_ICD GUEST_ICD SECONDS PROGRAM [ARGS...]
#
# PVGPU_REFERENCE_ROOT        a Debian guest root (scripts/setup-guest-roots.sh): the server is
#                             that release's virgl_test_server on its own lavapipe, and the
#                             guest that release's driver, both chrooted there (HOST_ICD and
#                             GUEST_ICD are then paths inside the root; PROGRAM's folder and the
#                             working folder are bound in at their own paths)
# PVGPU_SERVER_LIBRARY_PATH   put first on the server's LD_LIBRARY_PATH
# PVGPU_SERVER_DROPPED        extended regular expression of the server log line that means the
#                             guest was dropped (default: what virglrenderer 0.10.4 and 1.x log)
# Exit status: the guest's (124 when SECONDS ran out), 90 no private /tmp, 91 the server made no
# socket, 92 the server dropped the guest.
server_log=$1 host_icd=$2 guest_icd=$3
shift 3
root=${PVGPU_REFERENCE_ROOT:-}
dropped=${PVGPU_SERVER_DROPPED:-^client( failed|: VTEST_CLIENT_ERROR)}
if [ -n "$root" ]; then
    mount -t tmpfs pvgpu-virgl-tmp "$root/tmp" || exit 90
else
    . "$(dirname "$0")/private-tmp.sh"
    guest_vars=()
    for var in $(compgen -e | grep '^PV_GUEST_'); do guest_vars+=("${!var}"); done
    pv_private_tmp "$server_log" "$host_icd" "$guest_icd" "$@" "${guest_vars[@]}" \
        ${LD_LIBRARY_PATH//:/ } ${PVGPU_SERVER_LIBRARY_PATH//:/ } || exit 90
fi

# Inside a root: the host's /proc, /dev and /sys, the program's and the working folders, and a
# clean environment but for what the guest programs read (PV_GUEST_*).
in_root=()
if [ -n "$root" ]; then
    for dir in /proc /dev /sys "$(dirname "$(realpath "$2")")" "$PWD"; do
        mkdir -p "$root$dir" && mount --rbind "$dir" "$root$dir" || exit 90
    done
    keep=(PATH=/usr/bin:/bin)
    for var in $(compgen -e | grep '^PV_GUEST_'); do keep+=("$var=${!var}"); done
    in_root=(chroot "$root" env -i "${keep[@]}")
fi

library_path=${PVGPU_SERVER_LIBRARY_PATH:+$PVGPU_SERVER_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}
LD_LIBRARY_PATH=${library_path:-${LD_LIBRARY_PATH:-}} \
    "${in_root[@]}" env VK_ICD_FILENAMES="$host_icd" VK_DRIVER_FILES="$host_icd" \
    virgl_test_server --venus --use-egl-surfaceless >"$server_log" 2>&1 &
server=$!
for _ in $(seq 200); do [ -S "$root/tmp/.virgl_test" ] && break; sleep 0.05; done
[ -S "$root/tmp/.virgl_test" ] || { echo "virgl_test_server did not create its socket" >&2; exit 91; }
"${in_root[@]}" env VK_ICD_FILENAMES="$guest_icd" VK_DRIVER_FILES="$guest_icd" VN_DEBUG=vtest \
    timeout -k 2 "$@" &
guest=$!
while kill -0 "$guest" 2>/dev/null; do
    if grep -Eq "$dropped" "$server_log"; then
        sleep 0.2
        kill -0 "$guest" 2>/dev/null && exit 92
    fi
    sleep 0.1
done
wait "$guest"
status=$?
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
exit $status
