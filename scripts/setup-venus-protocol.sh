#!/usr/bin/env bash
# Unpacks the Venus protocol headers (src/virtio/venus-protocol) of a Debian release's mesa
# source package into the build tree, for the tests that check this host's command table against
# a guest generation's own (trixie: Mesa 25.0.7; bookworm's come with the guest-driver build).
# Idempotent. Usage: scripts/setup-venus-protocol.sh SUITE; prints the headers' folder.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PVGPU_BUILD_DIR:-$top/build}
suite=${1:?usage: $0 SUITE}
out="$build/venus-protocol/$suite"
if [ ! -f "$out/.unpacked" ]; then
    rm -rf "$out.partial"
    mkdir -p "$out.partial"
    (cd "$out.partial" && PVGPU_BUILD_DIR="$build" "$top/scripts/debian-apt.sh" "$suite" \
        source -qq --download-only mesa)
    tarball=$(ls "$out.partial"/mesa_*.orig.tar.* | grep -v "\.asc$")
    tar -xf "$tarball" -C "$out.partial" --wildcards '*/src/virtio/venus-protocol/*'
    rm -rf "$out"
    mkdir -p "$out"
    mv "$out.partial"/mesa-*/src/virtio/venus-protocol/* "$out/"
    basename "$tarball" > "$out/.unpacked"
    rm -rf "$out.partial"
    echo "setup-venus-protocol: $(cat "$out/.unpacked"): headers in $out" >&2
fi
echo "$out"
