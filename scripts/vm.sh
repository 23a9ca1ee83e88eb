#!/usr/bin/env bash
# `make vm`: the VM test bed (tests/vm/run_vm.py) in full. Debian's QEMU of trixie (10.0) and of
# sid (11.1) each boot their release's kernel and run vulkaninfo, the whole guest suite and the
# pvbench rates on their Mesa's Venus driver, through PearVisor GPU's libvirglrenderer.so.1 and
# through Debian's libvirglrenderer1, beside native runs on the same lavapipe; then sid's VM with
# a framebuffer console, and with the library built with ASan and UBSan, once to the end and once
# with QEMU killed (SIGTERM) mid-upload. Reports go to
# $BUILD/vm-out/<run>/ (report.md, serial and QEMU logs).
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
asan=${ASAN_BUILD:-$root/build-asan}

PVGPU_BUILD_DIR=$build "$root/scripts/setup-guest-roots.sh" trixie-vm sid-vm || exit 1
if [ ! -f "$asan/build.ninja" ]; then
    PVGPU_BUILD_DIR=$build "$root/scripts/meson-setup.sh" "$asan" \
        -Db_sanitize=address,undefined -Db_lundef=false || exit 1
fi
ninja -C "$asan" src/compat/libvirglrenderer.so.1.3.0 || exit 1

run() {
    local name=$1
    shift
    mkdir -p "$build/vm-out/$name"
    echo "== vm: $name"
    /usr/bin/python3 "$root/tests/vm/run_vm.py" --build-dir "$build" \
        --out-dir "$build/vm-out/$name" --markdown "$build/vm-out/$name/report.md" "$@"
}

status=0
for suite in sid trixie; do
    run "$suite" --root "$build/guest-roots/$suite-vm" --programs suite --bench || status=1
done
run console --root "$build/guest-roots/sid-vm" --console --hosts pvgpu || status=1
run asan --root "$build/guest-roots/sid-vm" --asan "$asan" --hosts pvgpu || status=1
run killed --root "$build/guest-roots/sid-vm" --asan "$asan" --hosts pvgpu --kill-qemu-at upload ||
    status=1
exit $status
