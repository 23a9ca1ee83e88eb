#!/usr/bin/env bash
# `make check-sanitizers`: the whole test suite on a build with AddressSanitizer (leaks included)
# and UndefinedBehaviorSanitizer, in its own build folder. Any report fails: the sanitizers halt
# the process that made it, and the tests also look for reports in the server's log.
#
# Environment: ASAN_BUILD (default build-asan), BUILD (the normal build, whose guest driver is
# shared; default build). Extra arguments go to `meson test` (e.g. --suite fuzz).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${ASAN_BUILD:-$root/build-asan}
normal=${BUILD:-$root/build}
case "$normal" in /*) ;; *) normal=$root/$normal ;; esac

if [ ! -f "$build/build.ninja" ]; then
    PVGPU_BUILD_DIR=$normal "$root/scripts/meson-setup.sh" "$build" \
        -Db_sanitize=address,undefined -Db_lundef=false || exit 1
fi
ninja -C "$build" || exit 1
# The guests and the protocol headers are made once, into the normal build (make guest).
for shared in guest-driver guest-roots venus-protocol vulkan-headers; do
    if [ -e "$normal/$shared" ] && [ ! -e "$build/$shared" ]; then
        ln -sfn "$(realpath --relative-to="$build" "$normal/$shared")" "$build/$shared"
    fi
done

# Libraries stay loaded (see keep-libraries-loaded.c); preloading it ahead of the ASan runtime
# needs verify_asan_link_order=0.
keep=$build/keep-libraries-loaded.so
cc -shared -fPIC -O2 -o "$keep" "$root/scripts/keep-libraries-loaded.c" || exit 1
export LD_PRELOAD=$keep${LD_PRELOAD:+:$LD_PRELOAD}
export ASAN_OPTIONS=halt_on_error=1:print_stacktrace=1:detect_leaks=1:verify_asan_link_order=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
exec meson test -C "$build" --print-errorlogs --num-processes 1 "$@"
