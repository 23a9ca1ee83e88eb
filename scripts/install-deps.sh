#!/usr/bin/env bash
# Installs the Debian packages the project needs to build, test and run. Only packages that are
# missing are installed, so a second run costs one dpkg query.
set -euo pipefail

packages=(
    # build of the host
    build-essential meson ninja-build pkg-config python3 libvulkan-dev libseccomp-dev
    # host Vulkan for tests, the reference host and tools that run through the stack
    mesa-vulkan-drivers vulkan-tools virgl-server glslang-tools spirv-tools vulkan-validationlayers
    # fetching and building the guest driver from Debian's mesa source package
    dpkg-dev python3-mako libdrm-dev libexpat1-dev zlib1g-dev flex bison
    # Debian roots of newer releases, to run the guest driver those releases ship
    debootstrap
    # sanitizers, fuzzing and leak checks
    clang libclang-rt-14-dev valgrind
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: run as root to install packages" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
