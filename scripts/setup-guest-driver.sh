#!/usr/bin/env bash
# Builds the guest side of the stack: Mesa's Venus Vulkan driver from Debian's own mesa source
# package, into the build tree, with an ICD JSON that points at it. Idempotent: once the driver and
# its JSON exist, a second run does nothing.
set -euo pipefail
# Mesa's generators need Debian's python3 (with python3-mako), not another one on the PATH.
export PATH=/usr/bin:$PATH

top=$(cd "$(dirname "$0")/.." && pwd)
out="${PVGPU_BUILD_DIR:-$top/build}/guest-driver"
icd="$out/virtio_icd.json"
stamp="$out/.built"

if [ -f "$stamp" ] && [ -f "$icd" ] && [ -f "$(cat "$stamp")" ]; then
    exit 0
fi

"$top/scripts/install-deps.sh"

mkdir -p "$out"
cd "$out"
if [ ! -d "$out/mesa-src" ]; then
    rm -rf "$out/fetch" && mkdir -p "$out/fetch"
    # Through a private apt configuration for bookworm: the machine's apt sources stay as they are.
    (cd "$out/fetch" && "$top/scripts/debian-apt.sh" bookworm source -qq --download-only mesa &&
        dpkg-source -x mesa_*.dsc mesa >/dev/null)
    version=$(cd "$out/fetch" && ls mesa_*.dsc | sed 's/^mesa_//; s/\.dsc$//')
    case "$version" in
        22.3.6*) ;;
        *) echo "setup-guest-driver: expected mesa 22.3.6, apt offers $version" >&2; exit 1 ;;
    esac
    mv "$out/fetch/mesa" "$out/mesa-src"
    echo "$version" > "$out/mesa-src/.debian-version"
fi

# Only the Venus driver; every other driver, API and platform is off.
if [ ! -f "$out/mesa-build/build.ninja" ]; then
    meson setup "$out/mesa-build" "$out/mesa-src" \
        --prefix="$out/install" --libdir=lib --buildtype=release \
        -Dvulkan-drivers=virtio-experimental -Dgallium-drivers= -Ddri-drivers= -Dplatforms= \
        -Dopengl=false -Dgles1=disabled -Dgles2=disabled -Degl=disabled -Dglx=disabled \
        -Dgbm=disabled -Dshared-glapi=disabled -Dllvm=disabled -Dvalgrind=disabled \
        -Dlibunwind=disabled -Dzstd=disabled -Dbuild-tests=false -Dvulkan-layers= \
        -Dtools= -Dvideo-codecs=
fi
ninja -C "$out/mesa-build" >/dev/null
ninja -C "$out/mesa-build" install >/dev/null

lib="$out/install/lib/libvulkan_virtio.so"
[ -f "$lib" ] || { echo "setup-guest-driver: $lib was not built" >&2; exit 1; }
cat > "$icd" <<JSON
{
    "file_format_version": "1.0.0",
    "ICD": {
        "library_path": "$lib",
        "api_version": "1.3.230"
    }
}
JSON
echo "$lib" > "$stamp"
echo "setup-guest-driver: Venus driver ready at $lib"
