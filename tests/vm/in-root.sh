#!/usr/bin/env bash
# Runs a command chrooted in a Debian root (the VM test bed's, scripts/setup-guest-roots.sh
# SUITE-vm) in a private mount namespace: its own proc, the host's dev and sys, a private /tmp
# with WORKDIR bound at /tmp/pv. Nothing of it outlives the command.
# Usage: tests/vm/in-root.sh ROOT WORKDIR [NAME=VALUE...] -- CMD [ARGS...]
set -euo pipefail
if [ "${PV_IN_ROOT_NS:-}" != 1 ]; then
    PV_IN_ROOT_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
root=$1
work=$2
shift 2
vars=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t tmpfs tmpfs "$root/tmp"
mkdir -p "$root/tmp/pv"
mount --bind "$work" "$root/tmp/pv"
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LC_ALL=C.UTF-8 "${vars[@]}" \
    chroot "$root" "$@"
