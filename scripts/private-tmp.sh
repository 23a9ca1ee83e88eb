#!/usr/bin/env bash
# A fresh tmpfs on /tmp that still shows what a run needs from the old one. Mesa 22.3.6's
# socket path is fixed at /tmp/.virgl_test, so a host of its own beside another server needs a
# /tmp of its own; a checkout under /tmp (a CI clone, say) must stay visible behind it. Each path
# under /tmp among the arguments, and the working folder, has its first component held open
# before the tmpfs hides it, then bound back at the same place (as `pvgpu run` does). Run it in
# a private mount namespace (unshare --mount --propagation private).
#
#   private-tmp.sh [PATH...] -- COMMAND [ARGS...]
#   . private-tmp.sh; pv_private_tmp [PATH...]      (from another script)
#
# Exit status of the first form: COMMAND's, or 90 when the private /tmp cannot be made.

pv_private_tmp() {
    local -A fds=()
    local path name fd
    for path in "$@" "$PWD"; do
        case "$path" in /tmp/?*) ;; *) continue ;; esac
        name=${path#/tmp/}
        name=${name%%/*}
        if [ "$name" = .virgl_test ] || [ -n "${fds[$name]:-}" ] || [ ! -e "/tmp/$name" ]; then
            continue
        fi
        exec {fd}<"/tmp/$name" || return 1
        fds[$name]=$fd
    done
    mount -t tmpfs -o mode=1777 pvgpu-private-tmp /tmp || return 1
    for name in "${!fds[@]}"; do
        fd=${fds[$name]}
        if [ -d "/proc/self/fd/$fd" ]; then mkdir "/tmp/$name"; else : >"/tmp/$name"; fi
        # Not canonicalized: /proc/self/fd/N must reach the kernel as it is, naming the
        # hidden original through the descriptor mount inherits.
        mount --no-canonicalize --bind "/proc/self/fd/$fd" "/tmp/$name" || return 1
        exec {fd}<&-
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    keep=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        keep+=("$1")
        shift
    done
    [ "${1:-}" = -- ] && shift
    [ $# -gt 0 ] || { echo "usage: private-tmp.sh [PATH...] -- COMMAND [ARGS...]" >&2; exit 2; }
    pv_private_tmp "${keep[@]}" || { echo "private-tmp.sh: cannot make a private /tmp" >&2; exit 90; }
    exec "$@"
fi
