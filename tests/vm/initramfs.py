"""The VM test bed's guest: a Debian kernel and an initramfs holding busybox, the virtio-gpu
modules, Mesa's Venus driver with the libraries it loads, vulkaninfo and the project's guest
programs, all taken from a Debian root (scripts/setup-guest-roots.sh SUITE-vm) and the build
tree. tests/vm/init.sh is its /init.
"""

import gzip
import lzma
import os
import shutil
import struct
import subprocess

GUEST_ICD = 'usr/share/vulkan/icd.d/virtio_icd.json'
LIB_DIRS = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu', 'usr/lib', 'lib']
# The virtio-gpu driver; modprobe in the root gives its dependencies in load order.
MODULES = ['virtio_gpu']


def kernel_version(root):
    versions = sorted(os.listdir(os.path.join(root, 'lib', 'modules')))
    if not versions:
        raise RuntimeError('%s has no kernel (linux-image-amd64)' % root)
    return versions[-1]


def kernel_image(root):
    return os.path.join(root, 'boot', 'vmlinuz-' + kernel_version(root))


def elf_needed(path):
    """DT_NEEDED names of a 64-bit little-endian ELF file (empty for anything else)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] != b'\x7fELF' or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shentsize, shnum = struct.unpack_from('<HH', data, 0x3a)
    sections = [struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize) for i in range(shnum)]
    needed = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[link]
        for at in range(offset, offset + size, entsize or 16):
            tag, value = struct.unpack_from('<qQ', data, at)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strtab[4] + value
                needed.append(data[start:data.index(b'\0', start)].decode())
    return needed


def find_library(root, name):
    for d in LIB_DIRS:
        path = os.path.join(root, d, name)
        if os.path.exists(path):
            return os.path.join(d, name)
    raise RuntimeError('library %s not found in %s' % (name, root))


def resolve_in_root(root, path):
    """A path inside the root with its symbolic links resolved inside the root."""
    rel = path
    for _ in range(40):
        full = os.path.join(root, rel)
        if not os.path.islink(full):
            return rel
        target = os.readlink(full)
        rel = os.path.normpath(os.path.join(os.path.dirname(rel), target)).lstrip('/') \
            if not target.startswith('/') else target.lstrip('/')
    raise RuntimeError('link loop at %s' % path)


def add_with_libraries(root, stage, binaries):
    """Copies the binaries (root-relative, or absolute host paths mapped to their target) and every
    library they need, found in the root."""
    pending = []
    for source, target in binaries:
        dest = os.path.join(stage, target)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(source, dest)
        pending.append(dest)
    seen = set()
    while pending:
        for name in elf_needed(pending.pop()):
            if name in seen:
                continue
            seen.add(name)
            rel = find_library(root, name)
            real = resolve_in_root(root, rel)
            dest = os.path.join(stage, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.join(root, real), dest)
            pending.append(dest)


def add_modules(root, stage, params):
    """The modules virtio_gpu needs, in load order, with params ({module file: parameters})."""
    version = kernel_version(root)
    out = subprocess.run(['chroot', root, 'modprobe', '-S', version, '--show-depends'] + MODULES,
                         check=True, capture_output=True, text=True).stdout
    order = []
    os.makedirs(os.path.join(stage, 'lib', 'modules'), exist_ok=True)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] != 'insmod':
            continue
        path = parts[1].lstrip('/')
        name = os.path.basename(path)
        with open(os.path.join(root, path), 'rb') as f:
            data = f.read()
        # Decompressed here, so busybox's insmod loads them.
        if name.endswith('.xz'):
            data, name = lzma.decompress(data), name[:-3]
        elif name.endswith('.gz'):
            data, name = gzip.decompress(data), name[:-3]
        with open(os.path.join(stage, 'lib', 'modules', name), 'wb') as f:
            f.write(data)
        order.append(name)
    with open(os.path.join(stage, 'lib', 'modules', 'order'), 'w') as f:
        f.write(''.join('%s %s\n' % (name, params.get(name, '')) for name in order))
    return order


def cpio_newc(stage, out_path):
    """Writes the stage folder as a gzip'd newc cpio archive (what the kernel unpacks)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            entries.append(os.path.join(dirpath, name))
    with gzip.open(out_path, 'wb', compresslevel=1) as out:
        ino = 1
        for path in entries + [None]:
            if path is None:
                name, mode, data = 'TRAILER!!!', 0, b''
            else:
                name = os.path.relpath(path, stage)
                st = os.lstat(path)
                mode = st.st_mode
                if os.path.islink(path):
                    data = os.readlink(path).encode()
                elif os.path.isfile(path):
                    with open(path, 'rb') as f:
                        data = f.read()
                else:
                    data = b''
            encoded = name.encode() + b'\0'
            header = '070701' + ''.join('%08x' % v for v in (
                ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0))
            out.write(header.encode() + encoded)
            out.write(b'\0' * ((4 - (110 + len(encoded)) % 4) % 4))
            out.write(data)
            out.write(b'\0' * ((4 - len(data) % 4) % 4))
            ino += 1


def build(root, build_dir, init_script, plan_lines, out_path, extra_files=None, console=False):
    """Builds the initramfs at out_path, with extra_files ({path: script text}, executable);
    returns the modules it loads. Without console, the guest kernel makes no framebuffer
    console on the virtio-gpu device (its output is on the serial port anyway)."""
    stage = out_path + '.stage'
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    for d in ('proc', 'sys', 'dev', 'tmp', 'bin', 'opt/pv/bin', 'opt/pv/shaders', 'opt/pv/bench'):
        os.makedirs(os.path.join(stage, d), exist_ok=True)
    shutil.copy2(os.path.join(root, 'usr/bin/busybox'), os.path.join(stage, 'bin/busybox'))
    shutil.copy2(init_script, os.path.join(stage, 'init'))
    os.chmod(os.path.join(stage, 'init'), 0o755)
    os.makedirs(os.path.join(stage, 'lib64'), exist_ok=True)
    shutil.copy2(os.path.join(root, resolve_in_root(root, 'lib64/ld-linux-x86-64.so.2')),
                 os.path.join(stage, 'lib64/ld-linux-x86-64.so.2'))
    modules = add_modules(root, stage, {} if console else {'drm_kms_helper.ko': 'fbdev_emulation=0'})

    # The Venus driver: its ICD file names the library it loads.
    icd_dest = os.path.join(stage, GUEST_ICD)
    os.makedirs(os.path.dirname(icd_dest), exist_ok=True)
    shutil.copy2(os.path.join(root, GUEST_ICD), icd_dest)
    driver = subprocess.run(['/usr/bin/python3', '-c', 'import json,sys; print(json.load(open(sys.argv[1]))'
                             '["ICD"]["library_path"])', icd_dest],
                            check=True, capture_output=True, text=True).stdout.strip()
    driver_rel = driver.lstrip('/') if driver.startswith('/') else find_library(root, driver)
    binaries = [(os.path.join(root, resolve_in_root(root, driver_rel)), driver_rel),
                (os.path.join(root, 'usr/bin/vulkaninfo'), 'opt/pv/bin/vulkaninfo')]
    binaries += [(os.path.join(root, resolve_in_root(root, find_library(root, 'libvulkan.so.1'))),
                  find_library(root, 'libvulkan.so.1'))]
    guest_dir = os.path.join(build_dir, 'tests', 'guest')
    for name in sorted(os.listdir(guest_dir)):
        path = os.path.join(guest_dir, name)
        if name.startswith('guest_') and os.path.isfile(path) and os.access(path, os.X_OK):
            binaries.append((path, 'opt/pv/bin/' + name))
        elif name.endswith('.spv'):
            shutil.copy2(path, os.path.join(stage, 'opt/pv/shaders', name))
    bench_dir = os.path.join(build_dir, 'bench')
    binaries.append((os.path.join(bench_dir, 'pvbench'), 'opt/pv/bin/pvbench'))
    for name in sorted(os.listdir(bench_dir)):
        if name.endswith('.spv'):
            shutil.copy2(os.path.join(bench_dir, name), os.path.join(stage, 'opt/pv/bench', name))
    add_with_libraries(root, stage, binaries)
    for rel, text in (extra_files or {}).items():
        with open(os.path.join(stage, rel), 'w') as f:
            f.write(text)
        os.chmod(os.path.join(stage, rel), 0o755)
    with open(os.path.join(stage, 'opt/pv/plan'), 'w') as f:
        f.write('\n'.join(plan_lines) + '\n')
    cpio_newc(stage, out_path)
    shutil.rmtree(stage)
    return modules
