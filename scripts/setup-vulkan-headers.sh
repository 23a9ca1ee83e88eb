#!/usr/bin/env bash
# Unpacks Debian trixie's Vulkan headers and registry (libvulkan-dev) into the build tree: the
# protocol codec is generated from the newest registry a current guest may speak, and the
# project compiles against the matching headers (bookworm's stop at 1.3.239). Idempotent: once
# unpacked, a second run does nothing. Prints the unpacked usr/ folder.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${PVGPU_BUILD_DIR:-$top/build}
suite=trixie
out="$build/vulkan-headers"
stamp="$out/.unpacked"

if [ ! -f "$stamp" ]; then
    rm -rf "$out.partial"
    mkdir -p "$out.partial"
    (cd "$out.partial" && PVGPU_BUILD_DIR="$build" "$top/scripts/debian-apt.sh" "$suite" \
        download -qq libvulkan-dev)
    deb=$(ls "$out.partial"/libvulkan-dev_*.deb)
    dpkg-deb -x "$deb" "$out.partial/root"
    [ -f "$out.partial/root/usr/share/vulkan/registry/vk.xml" ] ||
        { echo "setup-vulkan-headers: $deb has no vk.xml" >&2; exit 1; }
    rm -rf "$out"
    mv "$out.partial/root" "$out.partial/unpacked"
    mkdir -p "$out"
    mv "$out.partial/unpacked/usr" "$out/usr"
    basename "$deb" > "$stamp"
    rm -rf "$out.partial"
    echo "setup-vulkan-headers: $(cat "$stamp") unpacked into $out/usr" >&2
fi
echo "$out/usr"
