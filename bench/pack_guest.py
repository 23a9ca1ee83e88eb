#!/usr/bin/python3
"""Packs a current guest (the Venus driver of a Debian root made by scripts/setup-guest-roots.sh)
for a machine that cannot hold the root (a GPU host reached through the device tool): the driver,
the Vulkan loader and every library they and pvbench need, the root's own libc and dynamic loader
included, so that nothing of the host's userland is mixed in; virtio_icd.json (its path relative
to itself, which the Vulkan loader allows), VERSION (the root's Mesa) and a `pvbench` wrapper
that starts pvbench on that dynamic loader.

Usage: bench/pack_guest.py ROOT PVBENCH OUT_DIR
"""
import json
import os
import shutil
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'vm'))
import initramfs  # noqa: E402

WRAPPER = '''#!/bin/sh
# pvbench on this guest's own libc and Vulkan loader (bench/pack_guest.py).
d=$(dirname "$(readlink -f "$0")")
exec "$d/%(ld)s" --library-path "$d/usr/lib/x86_64-linux-gnu:$d/lib/x86_64-linux-gnu" "$d/bin/pvbench" "$@"
'''


def main():
    root, pvbench, out = sys.argv[1:4]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    driver = initramfs.find_library(root, 'libvulkan_virtio.so')
    loader = initramfs.find_library(root, 'libvulkan.so.1')
    binaries = [(os.path.join(root, initramfs.resolve_in_root(root, rel)), rel) for rel in (driver, loader)]
    binaries.append((pvbench, 'bin/pvbench'))
    initramfs.add_with_libraries(root, out, binaries)
    ld = initramfs.resolve_in_root(root, 'lib64/ld-linux-x86-64.so.2')
    if not os.path.exists(os.path.join(out, ld)):
        os.makedirs(os.path.dirname(os.path.join(out, ld)), exist_ok=True)
        shutil.copy2(os.path.join(root, ld), os.path.join(out, ld))
    with open(os.path.join(out, 'virtio_icd.json'), 'w') as f:
        json.dump({'file_format_version': '1.0.0',
                   'ICD': {'library_path': driver, 'api_version': '1.3.0'}}, f)
    with open(os.path.join(root + '.stamp')) as f:
        mesa = f.readline().strip().split(':')[-1].split('-')[0]
    with open(os.path.join(out, 'VERSION'), 'w') as f:
        f.write(mesa + '\n')
    wrapper = os.path.join(out, 'pvbench')
    with open(wrapper, 'w') as f:
        f.write(WRAPPER % {'ld': ld})
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


if __name__ == '__main__':
    main()
