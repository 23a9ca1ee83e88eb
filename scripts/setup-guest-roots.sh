#!/usr/bin/env bash
# Builds minimal Debian roots of newer releases (default: trixie and sid) with the Mesa Vulkan
# drivers they ship, under the build tree, so the host can be run against their Venus guest driver.
# Usage: scripts/setup-guest-roots.sh [ROOT...], each ROOT a suite (trixie, sid) or SUITE-vm: the
# suite's root with what the VM test bed needs besides (scripts/vm.sh: Debian's QEMU with its GL
# display modules, Xvfb, the Debian kernel, busybox and kmod for the guest's initramfs). A root
# whose stamp is current is left alone.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

top=$(cd "$(dirname "$0")/.." && pwd)
build=${PVGPU_BUILD_DIR:-$top/build}
roots="$build/guest-roots"
mirror=http://deb.debian.org/debian
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ $# -gt 0 ] || set -- trixie sid
# The guest driver and programs, and the release's own virglrenderer (virgl_test_server), the
# reference host the tests compare with, with the EGL and GL it loads (--use-egl-surfaceless). A root
# made with another list is made again.
base_packages=mesa-vulkan-drivers,vulkan-tools,virgl-server,libegl1,libegl-mesa0,libgl1
vm_packages=qemu-system-x86,qemu-system-modules-opengl,qemu-system-gui,xvfb,xauth,libgl1-mesa-dri,linux-image-amd64,busybox-static,kmod,cpio
# debootstrap cannot resolve virtual packages (GTK's dbus-session-bus), so these go in with apt
# inside the root afterwards.
packages_of() {
    case $1 in
    *-vm) echo "$base_packages;$vm_packages" ;;
    *) echo "$base_packages" ;;
    esac
}

# Commands inside a root get a clean environment: the host's locale, VK_* or LD_* must not leak in.
in_root() {
    local dir=$1
    shift
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 chroot "$dir" "$@"
}

# A root that was being built when something killed us may still have proc or sys mounted in it;
# removing it then would reach into the host's, so refuse instead.
remove_root() {
    local dir=$1
    [ -e "$dir" ] || return 0
    if awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' \
        /proc/self/mountinfo; then
        echo "setup-guest-roots: $dir has file systems mounted in it; unmount them first" >&2
        exit 1
    fi
    rm -rf "$dir"
}

# The stamp: the Mesa version, then the package list the root was made with.
current() {
    [ -f "$roots/$1.stamp" ] && [ -d "$roots/$1" ] &&
        [ "$(sed -n 2p "$roots/$1.stamp")" = "$(packages_of "$1")" ]
}

pending=()
for suite in "$@"; do
    current "$suite" || pending+=("$suite")
done
[ ${#pending[@]} -gt 0 ] || exit 0

"$top/scripts/install-deps.sh"
mkdir -p "$roots"
# Two runs at once would each remove the other's partial root.
exec 9> "$roots/.lock"
flock 9

for name in "${pending[@]}"; do
    suite=${name%-vm}
    packages=$(packages_of "$name")
    root="$roots/$name"
    partial="$root.partial"
    stamp="$root.stamp"
    log="$root.log"
    current "$name" && continue
    start=$SECONDS

    # No stamp means the root (if any) is from a run that did not finish.
    rm -f "$stamp"
    remove_root "$partial"
    remove_root "$root"

    # bookworm's debootstrap has no script for releases named after it was released; they all
    # bootstrap like sid.
    script=/usr/share/debootstrap/scripts/$suite
    [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid

    echo "setup-guest-roots: bootstrapping $suite into $partial (log: $log)"
    # A private mount namespace: the proc and sys that debootstrap mounts into the root go away
    # with it, even when debootstrap is killed.
    if ! unshare -m --propagation private \
        debootstrap --variant=minbase --include="${packages%%;*}" \
        --keyring="$keyring" "$suite" "$partial" "$mirror" "$script" > "$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "setup-guest-roots: debootstrap of $suite failed; see $log" >&2
        exit 1
    fi
    extra=${packages#*;}
    if [ "$extra" != "$packages" ]; then
        # INITRD=No: the kernel's own initramfs is not needed (scripts/vm.sh makes the guest's).
        if ! unshare -m --propagation private sh -c 'mount -t proc proc "$1/proc" &&
            env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
                DEBIAN_FRONTEND=noninteractive INITRD=No chroot "$1" \
                apt-get install -y --no-install-recommends $2' sh "$partial" "${extra//,/ }" \
            >> "$log" 2>&1; then
            tail -n 20 "$log" >&2
            echo "setup-guest-roots: installing $extra into $name failed; see $log" >&2
            exit 1
        fi
    fi
    in_root "$partial" apt-get clean

    # Paths as the programs inside the root see them.
    lib=$(cd "$partial" && find usr/lib -name libvulkan_virtio.so | head -n 1)
    icd=$(cd "$partial" && find usr/share/vulkan/icd.d -name 'virtio_icd*.json' 2>/dev/null |
        head -n 1)
    if [ -z "$lib" ] || [ -z "$icd" ]; then
        echo "setup-guest-roots: $suite's mesa-vulkan-drivers has no Venus driver" \
            "(libvulkan_virtio.so: ${lib:-missing}, ICD: ${icd:-missing})" >&2
        exit 1
    fi
    echo "setup-guest-roots: $suite: /$lib"
    echo "setup-guest-roots: $suite: /$icd"
    mesa=$(in_root "$partial" dpkg-query -W -f '${Version}' mesa-vulkan-drivers)

    mv "$partial" "$root"
    printf '%s\n%s\n' "$mesa" "$packages" > "$stamp"
    printf 'setup-guest-roots: %s  mesa %s  %s  %ss\n' \
        "$suite" "$mesa" "$(du -sh "$root" | cut -f1)" "$((SECONDS - start))"
done
