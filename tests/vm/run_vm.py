#!/usr/bin/python3
"""The VM test bed: Debian's QEMU boots a Debian kernel whose initramfs runs Vulkan programs on
Mesa's Venus driver, once with PearVisor GPU's libvirglrenderer.so.1 in QEMU and once with
Debian's own libvirglrenderer1 (the reference), and compares them with the same programs run
natively on the same host driver.

Everything runs chrooted in a Debian root made by `scripts/setup-guest-roots.sh SUITE-vm` (QEMU,
its GL display modules, Xvfb, the kernel and the guest userland come from that release; the
machine's own packages are not used): tests/vm/in-root.sh. No KVM: TCG. QEMU's virtio-gpu-gl
device needs a display with OpenGL; with no DRM render node on the host, egl-headless cannot
start, so QEMU shows an SDL window with gl=on on an Xvfb server (Mesa's llvmpipe).

The guest (tests/vm/init.sh) prints each program's output between markers on the serial port.
A program passes when it exits 0 after printing "PASS <name>", and its "digest" lines equal the
native run's. vulkaninfo must name the Venus device on the host's driver. QEMU's own output must
hold no error line. Through pvgpu, the QEMU process is checked for what the guest's contexts
leave behind: its open fds and shared-memory mappings at a snapshot after the first program
equal those after a program killed mid-work and at the end, and every context's teardown line
says nothing is left.

Exit status 1 when anything through pvgpu fails; the reference's results are reported only.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import initramfs  # noqa: E402

HOST_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json'
GUEST_ICD = '/usr/share/vulkan/icd.d/virtio_icd.json'
SMOKE = ['vulkaninfo', 'cube', 'saxpy', 'upload']
SUITE = ['vulkaninfo', 'clear', 'triangle', 'cube', 'texture', 'saxpy', 'indirect', 'timeline',
         'queries', 'upload', 'threads', 'events', 'copies', 'renderpass2', 'dynamic', 'pipelines',
         'extensions', 'bigstream', 'sync2', 'memtypes']
# pvbench workloads measured in the VM and on the host (small: the guest CPU is emulated).
BENCH = [('cube', ['cube', '--iterations', '300']),
         ('compute', ['compute', '--size', '16M', '--iterations', '5']),
         ('upload', ['upload', '--size', '64', '--iterations', '3'])]
BENCH_KEYS = {'cube': 'fps', 'compute': 'elements_per_s', 'upload': 'mib_per_s'}
# Each pvbench workload runs this many times, interleaved, in the VM and on the host; the
# tables show the medians.
BENCH_REPEAT = 3
# The guest program killed mid-work (after KILL_AFTER seconds of its run).
KILLED = 'upload'
KILL_AFTER = 1.0

MEMORY = '1G'
HOSTMEM = '1G'
# A line of QEMU's (not the guest's, not pvgpu's) that reports a failure.
QEMU_ERROR = re.compile(r'error|fail|assert|abort|segmentation', re.I)
# Mesa's EGL under the display (Xvfb has no DRI3; sid's Mesa says so on each GL context even
# with LIBGL_DRI3_DISABLE): a warning of the display's driver, not a failure of QEMU's.
MESA_WARNING = re.compile(r'^MESA-EGL: warning: ')
SCANOUT_REFUSED = re.compile(r'^virtio_gpu_virgl_process_cmd: ctrl 0x103, error 0x1203$')
TEARDOWN = re.compile(r'pvgpu\[\d+\]: context \d+ \((.*)\): teardown .*; left: (.*)')

GUEST_TOOLS = {
    # Prints a marker for the host to look at the QEMU process, and waits for it.
    'opt/pv/bin/snapshot': '#!/bin/sh\necho "=== PVVM SNAPSHOT $1"\nsleep 3\n',
    # Runs a program and kills it (SIGKILL) after $1 seconds.
    'opt/pv/bin/killmid': '#!/bin/sh\nafter=$1\nshift\n"$@" &\npid=$!\nsleep "$after"\n'
                          'kill -9 $pid 2>/dev/null && echo "killed $1 after $after s"\nwait $pid\n'
                          'echo "PASS killmid"\n',
}


def program_command(name):
    return 'vulkaninfo --summary' if name == 'vulkaninfo' else 'guest_' + name


def guest_plan(programs, bench, checks, timeout):
    lines = []
    for i, name in enumerate(programs):
        lines.append('%s %d %s' % (name, timeout, program_command(name)))
        if checks and i == 0:
            lines.append('snapshot-first 30 snapshot first')
    if checks:
        lines.append('killed-%s %d killmid %g guest_%s' % (KILLED, timeout, KILL_AFTER, KILLED))
        lines.append('snapshot-killed 30 snapshot killed')
    for rep in range(BENCH_REPEAT if bench else 0):
        for name, args in BENCH:
            lines.append('bench-%s-%d %d pvbench %s --shader-dir /opt/pv/bench' % (
                name, rep, timeout, ' '.join(args)))
    if checks:
        lines.append('snapshot-end 30 snapshot end')
    return lines


def parse_serial(text):
    """{step: {'output': str, 'rc': int, 'seconds': float}}, the boot and done uptimes."""
    steps, current, lines = {}, None, []
    booted = done = None
    for line in text.splitlines():
        line = line.rstrip('\r')
        m = re.match(r'=== PVVM (\S+)(?: (.*))?$', line)
        if not m:
            if current:
                lines.append(line)
            continue
        kind, rest = m.group(1), m.group(2) or ''
        if kind == 'BOOTED':
            booted = float(rest.split('=')[1])
        elif kind == 'DONE':
            done = float(rest.split('=')[1])
        elif kind == 'BEGIN':
            current, lines = rest, []
        elif kind == 'END' and current:
            fields = dict(f.split('=') for f in rest.split()[1:])
            steps[current] = {'output': '\n'.join(lines), 'rc': int(fields['rc']),
                              'seconds': float(fields['end']) - float(fields['start'])}
            current = None
    return steps, booted, done


def digests(output):
    return [l for l in output.splitlines() if l.startswith('digest ')]


def bench_value(output, name):
    m = re.search(r' %s=([0-9.e+]+)' % BENCH_KEYS[name], output)
    return float(m.group(1)) if m else None


class Bed:
    def __init__(self, args):
        self.root = os.path.abspath(args.root)
        self.build = os.path.abspath(args.build_dir)
        self.out = os.path.abspath(args.out_dir)
        self.args = args
        self.work = os.path.join(self.out, 'work')

    def prepare(self, plan):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(os.path.join(self.work, 'bin'))
        os.makedirs(os.path.join(self.work, 'lib'))
        os.makedirs(os.path.join(self.work, 'shaders'))
        shutil.copy2(initramfs.kernel_image(self.root), os.path.join(self.work, 'vmlinuz'))
        modules = initramfs.build(self.root, self.build, os.path.join(HERE, 'init.sh'), plan,
                                  os.path.join(self.work, 'initrd.gz'), extra_files=GUEST_TOOLS,
                                  console=self.args.console)
        library_build = os.path.abspath(self.args.asan) if self.args.asan else self.build
        shutil.copy2(os.path.join(library_build, 'src', 'compat', 'libvirglrenderer.so.1'),
                     os.path.join(self.work, 'lib', 'libvirglrenderer.so.1'))
        if self.args.asan:
            # The sanitizer runtimes of this machine's compiler, which the root may lack.
            for name in ('libasan.so.8', 'libubsan.so.1'):
                shutil.copy2(os.path.join('/usr/lib/x86_64-linux-gnu', name),
                             os.path.join(self.work, 'lib', name))
        guest = os.path.join(self.build, 'tests', 'guest')
        for name in os.listdir(guest):
            path = os.path.join(guest, name)
            if name.startswith('guest_') and os.path.isfile(path):
                shutil.copy2(path, os.path.join(self.work, 'bin', name))
            elif name.endswith('.spv'):
                shutil.copy2(path, os.path.join(self.work, 'shaders', name))
        for path in (os.path.join(self.build, 'pvgpu'), os.path.join(self.build, 'bench', 'pvbench')):
            shutil.copy2(path, os.path.join(self.work, 'bin'))
        os.makedirs(os.path.join(self.work, 'bench'))
        for name in os.listdir(os.path.join(self.build, 'bench')):
            if name.endswith('.spv'):
                shutil.copy2(os.path.join(self.build, 'bench', name), os.path.join(self.work, 'bench'))
        return modules

    def in_root_command(self, env, command):
        """command chrooted in the root with env, the work folder at /tmp/pv (in-root.sh)."""
        return [os.path.join(HERE, 'in-root.sh'), self.root, self.work] + \
               ['%s=%s' % kv for kv in env.items()] + ['--'] + command

    def in_root(self, env, command, timeout, stdout=subprocess.PIPE):
        return subprocess.run(self.in_root_command(env, command), stdout=stdout,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)

    def native(self, name, timeout):
        """A program natively in the root, on the root's lavapipe."""
        env = {'VK_ICD_FILENAMES': HOST_ICD, 'VK_DRIVER_FILES': HOST_ICD,
               'PV_GUEST_SHADER_DIR': '/tmp/pv/shaders', 'XDG_CACHE_HOME': '/tmp'}
        command = ['vulkaninfo', '--summary'] if name == 'vulkaninfo' else ['/tmp/pv/bin/guest_' + name]
        start = time.monotonic()
        r = self.in_root(env, command, timeout)
        return {'output': r.stdout, 'rc': r.returncode, 'seconds': time.monotonic() - start}

    def host_bench(self, via_pvgpu, args, timeout):
        """pvbench natively or through `pvgpu run` (vtest) in the root, same drivers as the VM."""
        env = {'VK_ICD_FILENAMES': HOST_ICD, 'VK_DRIVER_FILES': HOST_ICD, 'XDG_CACHE_HOME': '/tmp'}
        command = ' '.join(['/tmp/pv/bin/pvbench'] + args + ['--shader-dir', '/tmp/pv/bench'])
        if via_pvgpu:
            # `pvgpu run` makes its own mount namespace, which a chroot refuses: serve instead.
            command = ('/tmp/pv/bin/pvgpu serve --socket /tmp/vtest & server=$!; '
                       'for i in $(seq 50); do [ -S /tmp/vtest ] && break; sleep 0.1; done; '
                       'VN_DEBUG=vtest VTEST_SOCKET_NAME=/tmp/vtest VK_ICD_FILENAMES=%s VK_DRIVER_FILES=%s %s; '
                       'kill $server; wait $server' % (GUEST_ICD, GUEST_ICD, command))
        return self.in_root(env, ['sh', '-c', command], timeout).stdout

    def boot(self, host, timeout, watch_snapshots):
        """Boots the VM with pvgpu's library or Debian's; returns the serial text, QEMU's output,
        the seconds to the first result and to the end, and snapshots of the QEMU process."""
        serial = os.path.join(self.work, 'serial-%s.log' % host)
        qemu_log = os.path.join(self.work, 'qemu-%s.log' % host)
        pid_file = os.path.join(self.work, 'qemu.pid')
        for path in (serial, qemu_log, pid_file):
            if os.path.exists(path):
                os.unlink(path)
        script = os.path.join(self.work, 'boot.sh')
        with open(script, 'w') as f:
            f.write(qemu_script(host, os.path.basename(serial), os.path.basename(qemu_log),
                                self.args.asan))
        env = {'PV_GUEST_TIMEOUT': str(timeout)}
        if os.environ.get('PV_QEMU_ARGS'):  # extra QEMU options, e.g. -trace for a diagnosis
            env['PV_QEMU_ARGS'] = os.environ['PV_QEMU_ARGS']
        if host == 'reference':
            env['PVGPU_REFERENCE'] = '1'
        start = time.monotonic()
        proc = subprocess.Popen(self.in_root_command(env, ['sh', '/tmp/pv/boot.sh']),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        snapshots, seen, first_result = {}, set(), None
        self.signalled = None
        kill_at = self.args.kill_qemu_at
        while proc.poll() is None and time.monotonic() - start < timeout:
            time.sleep(0.1)
            text = read(serial)
            if kill_at and self.signalled is None and '=== PVVM BEGIN %s\n' % kill_at in text:
                # The VMM killed mid-work: SIGTERM a second into the step, as a user's ^C.
                time.sleep(1)
                os.kill(int(read(pid_file).strip()), signal.SIGTERM)
                self.signalled = time.monotonic()
            if first_result is None and '=== PVVM END' in text:
                first_result = time.monotonic() - start
            for name in re.findall(r'=== PVVM SNAPSHOT (\S+)', text):
                if name not in seen and watch_snapshots:
                    # The guest waits 3 s after its marker: what a context that just ended
                    # released reaches QEMU within the first of them.
                    seen.add(name)
                    time.sleep(1.5)
                    snapshots[name] = process_snapshot(read(pid_file).strip())
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self.exit_after_signal = time.monotonic() - self.signalled if self.signalled else None
        total = time.monotonic() - start
        return read(serial), read(qemu_log), first_result, total, snapshots


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


def sanitizer_reports(work):
    """The ASan/UBSan reports (one per file, or per leak) that name the library: QEMU itself is
    not instrumented, and its own leaks at exit are not ours."""
    reports = []
    for name in sorted(os.listdir(work)):
        if not (name.startswith('asan.') or name.startswith('ubsan.')):
            continue
        text = read(os.path.join(work, name))
        for block in re.split(r'\n(?=Direct leak|Indirect leak|=+\n==\d+==ERROR)', text):
            # A memory error anywhere counts (it may be QEMU touching what the library gave
            # it); a leak only in the library's own allocations.
            if 'libvirglrenderer' in block or 'ERROR: AddressSanitizer' in block or \
                    'runtime error:' in block:
                reports.append(block)
    return reports


def exited_cleanly(log, asan):
    """QEMU exited 0; under ASan 1 as well, which is LeakSanitizer's verdict on QEMU's own
    allocations (the library's leaks and all memory errors are sanitizer_reports)."""
    return 'qemu exit status 0' in log or (asan and 'qemu exit status 1' in log)


def process_snapshot(pid):
    """Open fds and shared-memory (memfd) mappings of the QEMU process."""
    try:
        fds = len(os.listdir('/proc/%s/fd' % pid))
        with open('/proc/%s/maps' % pid) as f:
            maps = sum(1 for line in f if '/memfd:' in line)
        return {'fds': fds, 'memfd_maps': maps}
    except (OSError, ValueError):
        return None


def qemu_script(host, serial, qemu_log, asan):
    """The command that runs in the root: Xvfb, then QEMU (the command line README names)."""
    lib = '' if host == 'reference' else 'export LD_LIBRARY_PATH=/tmp/pv/lib\n'
    if host != 'reference' and asan:
        # QEMU is not instrumented: the runtime comes first, and reports go to files.
        lib += ('export LD_PRELOAD=/tmp/pv/lib/libasan.so.8 '
                'ASAN_OPTIONS=log_path=/tmp/pv/asan:detect_leaks=1 '
                'UBSAN_OPTIONS=print_stacktrace=1:log_path=/tmp/pv/ubsan\n')
    return '''set -u
Xvfb :7 -screen 0 1280x800x24 -nolisten tcp > /tmp/xvfb.log 2>&1 &
xvfb=$!
for i in $(seq 50); do [ -e /tmp/.X11-unix/X7 ] && break; sleep 0.1; done
# LIBGL_DRI3_DISABLE: Xvfb has no DRI3, which newer Mesa warns about on every GL context.
export DISPLAY=:7 VK_ICD_FILENAMES=%(icd)s VK_DRIVER_FILES=%(icd)s XDG_RUNTIME_DIR=/tmp LIBGL_DRI3_DISABLE=1
%(lib)sqemu-system-x86_64 \\
    -machine q35,memory-backend=mem -accel tcg,thread=single -cpu max -smp 2 -m %(memory)s \\
    -object memory-backend-memfd,id=mem,size=%(memory)s,share=on \\
    -device virtio-gpu-gl-pci,blob=true,hostmem=%(hostmem)s,venus=true \\
    -display sdl,gl=on \\
    -kernel /tmp/pv/vmlinuz -initrd /tmp/pv/initrd.gz \\
    -append "console=ttyS0 loglevel=4 panic=-1" \\
    -serial file:/tmp/pv/%(serial)s -monitor none -nodefaults -no-reboot \\
    -pidfile /tmp/pv/qemu.pid ${PV_QEMU_ARGS:-} > /tmp/pv/%(log)s 2>&1
echo "qemu exit status $?" >> /tmp/pv/%(log)s
kill $xvfb
''' % {'icd': HOST_ICD, 'lib': lib, 'memory': MEMORY, 'hostmem': HOSTMEM, 'serial': serial,
       'log': qemu_log}


def qemu_errors(log, console):
    """QEMU's own error lines (pvgpu's lines and the exit status line are not QEMU's). With a
    guest console through pvgpu, QEMU reports each SET_SCANOUT (0x103) refused: expected."""
    return [l for l in log.splitlines()
            if not l.startswith('pvgpu[') and not l.startswith('qemu exit status')
            and QEMU_ERROR.search(l) and not MESA_WARNING.search(l)
            and not (console and SCANOUT_REFUSED.search(l))]


def check_vulkaninfo(output):
    names = re.findall(r'deviceName\s*=\s*(.*)', output)
    return any('Venus' in n and 'llvmpipe' in n for n in names), names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=os.path.join(TOP, 'build', 'guest-roots', 'trixie-vm'))
    parser.add_argument('--build-dir', default=os.path.join(TOP, 'build'))
    parser.add_argument('--out-dir', default=None)
    parser.add_argument('--programs', default='smoke', help='smoke (%s), suite, or a list' % ','.join(SMOKE))
    parser.add_argument('--hosts', default='pvgpu,reference')
    parser.add_argument('--bench', action='store_true', help='also pvbench rates (VM vs host)')
    parser.add_argument('--timeout', type=int, default=900, help='seconds for a whole boot')
    parser.add_argument('--asan', metavar='BUILD', default=None,
                        help='QEMU loads the library of this ASan+UBSan build (build-asan); '
                             'a sanitizer report naming the library fails the run')
    parser.add_argument('--markdown', metavar='FILE', help='also write the report there')
    parser.add_argument('--kill-qemu-at', metavar='STEP',
                        help='SIGTERM QEMU a second into this step of the guest (e.g. upload); '
                             'it must exit cleanly and promptly (with --asan: no report)')
    parser.add_argument('--console', action='store_true',
                        help='the guest kernel keeps its framebuffer console on the virtio-gpu device')
    args = parser.parse_args()
    args.out_dir = args.out_dir or os.path.join(args.build_dir, 'vm-out')
    # A sanitizer build's library (make check-sanitizers runs this test there too) needs its
    # runtime preloaded into QEMU.
    library = os.path.join(args.build_dir, 'src', 'compat', 'libvirglrenderer.so.1')
    if not args.asan and os.path.exists(library) and 'libasan.so.8' in initramfs.elf_needed(library):
        args.asan = args.build_dir
    programs = SMOKE if args.programs == 'smoke' else SUITE if args.programs == 'suite' \
        else args.programs.split(',')
    hosts = args.hosts.split(',')
    if not os.path.isdir(args.root):
        print('vm: %s missing: run scripts/setup-guest-roots.sh %s' % (
            args.root, os.path.basename(args.root)), file=sys.stderr)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    bed = Bed(args)
    plan = guest_plan(programs, args.bench, True, 600)
    modules = bed.prepare(plan)
    for line in describe(bed.root):
        emit('vm: ' + line)
    emit('vm: root %s, kernel %s, guest modules %s' % (
        args.root, initramfs.kernel_version(bed.root), ' '.join(modules)))

    native = {name: bed.native(name, 600) for name in programs}
    results, failures = {}, []
    for host in hosts:
        serial, log, first, total, snaps = bed.boot(host, args.timeout, host == 'pvgpu')
        steps, booted, done = parse_serial(serial)
        results[host] = (steps, log, first, total, snaps, booted, done)
        shutil.copy2(os.path.join(bed.work, 'serial-%s.log' % host), args.out_dir)
        shutil.copy2(os.path.join(bed.work, 'qemu-%s.log' % host), args.out_dir)

    rows = []
    for name in programs:
        row = [name, cell(native[name], None, name)]
        for host in hosts:
            steps = results[host][0]
            c = cell(steps.get(name), native[name], name)
            row.append(c)
            killed_by_then = args.kill_qemu_at in programs[:programs.index(name) + 1] \
                if args.kill_qemu_at else False
            if host == 'pvgpu' and not c.startswith('pass') and not killed_by_then:
                failures.append('%s through pvgpu: %s' % (name, c))
        rows.append(row)
    header = ['program', 'native (root)'] + ['VM, %s' % h for h in hosts]
    print_table(header, rows)

    for host in hosts:
        steps, log, first, total, snaps, booted, done = results[host]
        errors = qemu_errors(log, args.console and host == 'pvgpu')
        emit('vm %s: kernel up at %s s, first result %.1f s, all done %s s (guest uptime), '
              'QEMU exited after %.1f s; QEMU error lines: %d' % (
                  host, booted, first or -1, done, total, len(errors)))
        for line in errors[:10]:
            emit('  QEMU: ' + line)
        if host != 'pvgpu':
            continue
        if errors:
            failures.append('QEMU logged %d error line(s) with pvgpu' % len(errors))
        if args.asan:
            reports = sanitizer_reports(bed.work)
            emit('vm pvgpu: %d sanitizer report(s) (ASan+UBSan: memory errors anywhere in QEMU, '
                 'leaks of libvirglrenderer)' % len(reports))
            for report in reports[:3]:
                emit('\n'.join('  ' + l for l in report.splitlines()[:20]))
            if reports:
                failures.append('%d sanitizer report(s) in the library' % len(reports))
        if args.kill_qemu_at:
            after = bed.exit_after_signal
            emit('vm pvgpu: QEMU got SIGTERM during %s; it exited %s' % (
                args.kill_qemu_at, 'after %.1f s' % after if after is not None else 'never: not signalled'))
            if after is None or after > 15:
                failures.append('QEMU did not exit within 15 s of SIGTERM')
            if not exited_cleanly(log, args.asan):
                failures.append('QEMU did not exit cleanly after SIGTERM')
            continue
        if done is None:
            failures.append('the VM with pvgpu did not finish its plan')
        if not exited_cleanly(log, args.asan):
            failures.append('QEMU did not exit cleanly after the guest powered off')
        left = [m for m in TEARDOWN.findall(log) if m[1] != '0 objects, 0 bytes, 0 blobs, 0 rings']
        teardowns = len(TEARDOWN.findall(log))
        emit('vm pvgpu: %d context teardowns, %d with something left' % (teardowns, len(left)))
        if left or teardowns < len(programs):
            failures.append('context teardowns: %d, left something: %s' % (teardowns, left))
        killed = steps.get('killed-' + KILLED)
        if not killed or 'killed' not in killed['output']:
            failures.append('the program to kill mid-work was not killed while it ran')
        emit('vm pvgpu: QEMU process snapshots %s' % snaps)
        first_snap = snaps.get('first')
        for later in ('killed', 'end'):
            if not first_snap or snaps.get(later) != first_snap:
                failures.append('QEMU process at snapshot %s %s differs from after the first program %s' % (
                    later, snaps.get(later), first_snap))

    if args.bench:
        native_runs = {name: [] for name, _ in BENCH}
        vtest_runs = {name: [] for name, _ in BENCH}
        for _ in range(BENCH_REPEAT):
            for name, bench_args in BENCH:
                native_runs[name].append(bench_value(bed.host_bench(False, bench_args, 600), name))
                vtest_runs[name].append(bench_value(bed.host_bench(True, bench_args, 600), name))
        bench_rows = []
        for name, bench_args in BENCH:
            nat = median(native_runs[name])
            row = [name + ' ' + BENCH_KEYS[name], fmt(nat), ratio(median(vtest_runs[name]), nat)]
            for host in hosts:
                steps = results[host][0]
                row.append(ratio(median([bench_value(steps[k]['output'], name) for k in steps
                                         if k.startswith('bench-%s-' % name)]), nat))
            bench_rows.append(row)
        emit('pvbench %s, medians of %d interleaved runs (ratio to native in brackets); the VM '
             'runs on an emulated CPU (TCG), which slows the guest\'s own work (the upload\'s '
             'memcpy above all):' % (' / '.join(' '.join(a) for _, a in BENCH), BENCH_REPEAT))
        print_table(['pvbench', 'native (root)', 'pvgpu run (vtest)'] + ['VM, %s' % h for h in hosts],
                    bench_rows)

    if failures:
        emit('FAIL: ' + '; '.join(failures))
    elif args.kill_qemu_at:
        emit('PASS: the programs before %s matched native; QEMU killed during it exited cleanly' %
             args.kill_qemu_at)
    else:
        emit('PASS: the VM ran %d program(s) through pvgpu with native digests, QEMU clean' %
             len(programs))
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write('# The VM test bed: %s\n\n`%s`\n\n' % (
                os.path.basename(bed.root), ' '.join(['tests/vm/run_vm.py'] + sys.argv[1:])))
            f.write('\n'.join(REPORT) + '\n')
    return 1 if failures else 0


def cell(run, native, name):
    if run is None:
        return 'not run'
    text = '%.1fs' % run['seconds']
    if run['rc'] != 0:
        return 'fail (exit %d) %s' % (run['rc'], text)
    if name == 'vulkaninfo':
        if native is None:
            return 'pass ' + text
        ok, names = check_vulkaninfo(run['output'])
        return ('pass (%s) ' % names[0].strip() if ok else 'fail (device %s) ' % names) + text
    if 'PASS' not in run['output']:
        return 'fail (no PASS line) ' + text
    if native is not None and digests(run['output']) != digests(native['output']):
        return 'fail (digest differs) ' + text
    return 'pass ' + text


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def fmt(v):
    return '%.1f' % v if v is not None else 'n/a'


def ratio(v, base):
    if v is None or not base:
        return 'n/a'
    return '%.1f (%.2f)' % (v, v / base)


REPORT = []


def emit(line=''):
    """A line of the report: printed, and kept for --markdown."""
    print(line, flush=True)
    REPORT.append(line)


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: '| ' + ' | '.join(str(c).ljust(w) for c, w in zip(r, widths)) + ' |'
    emit()
    emit(line(header))
    emit('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for r in rows:
        emit(line(r))
    emit()


def describe(root):
    """The tree and the test bed a report comes from."""
    commit = subprocess.run(['git', '-C', TOP, 'describe', '--always', '--dirty'],
                            capture_output=True, text=True).stdout.strip() or 'unknown'
    qemu = subprocess.run(['chroot', root, 'qemu-system-x86_64', '--version'], capture_output=True,
                          text=True).stdout.splitlines()
    mesa = read(root + '.stamp').splitlines()
    return ['tree: %s' % commit, 'QEMU: %s' % (qemu[0] if qemu else 'unknown'),
            'guest kernel: %s; Mesa (guest Venus driver and host lavapipe): %s' % (
                initramfs.kernel_version(root), mesa[0] if mesa else 'unknown'),
            'machine: %d CPUs, TCG (no KVM)' % os.cpu_count()]


if __name__ == '__main__':
    sys.exit(main())
