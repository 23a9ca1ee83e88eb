#!/usr/bin/env bash
# Packs what a benchmark run needs on a GPU machine where nothing can be installed: pvgpu, the
# Venus guest driver with the libraries it links that such a machine may lack, pvbench and its
# shaders, the memtypes guest program, into DIR (default .devrun); and the current guests,
# trixie's and sid's Venus drivers with their own libc and Vulkan loader (bench/pack_guest.py),
# into DIR/guest-trixie and DIR/guest-sid. On that machine, with the Vulkan loader present:
#
#   GUEST=bookworm|trixie|sid bench/carry-run.sh DIR HOST_ICD OUT [run.py arguments...]
#   bench/memory-types.sh DIR HOST_ICD OUT
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PVGPU_BUILD_DIR:-$root/build}
dir=${1:-$root/.devrun}
rm -rf "$dir"
mkdir -p "$dir/lib" "$dir/bench"
cp "$build/pvgpu" "$dir/"
cp "$build/bench/pvbench" "$build"/bench/*.spv "$dir/bench/"
cp "$build/tests/guest/guest_memtypes" "$build/bench/memexport" "$dir/bench/"
driver=$build/guest-driver/install/lib/libvulkan_virtio.so
cp "$driver" "$dir/lib/"
for lib in libdrm.so.2 libudev.so.1 libexpat.so.1 libz.so.1; do
    path=$(ldd "$driver" | awk -v l="$lib" '$1 == l { print $3 }')
    [ -n "$path" ] && cp -L "$path" "$dir/lib/"
done
for suite in trixie sid; do
    /usr/bin/python3 "$root/bench/pack_guest.py" "$build/guest-roots/$suite" "$build/bench/pvbench" \
        "$dir/guest-$suite"
done
echo "packed into $dir: $(du -sh "$dir" | cut -f1)"
