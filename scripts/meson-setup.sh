#!/usr/bin/env bash
# Configures a build folder of the project: `meson setup DIR ARGS...`, against Debian trixie's
# Vulkan headers and registry unpacked into the main build folder (scripts/setup-vulkan-headers.sh),
# which the codec is generated from. Every build folder (the normal one, ASan, fuzzing) is made
# this way. PVGPU_BUILD_DIR names the main build folder (default: build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
headers=$("$top/scripts/setup-vulkan-headers.sh")
exec meson setup "$dir" "$top" -Dvulkan_headers="$headers" "$@"
