#!/usr/bin/python3
"""Runs the benchmark workloads natively, through the reference host and through pvgpu, and prints the table.

Ways (columns), run interleaved within each repetition so that load drifts hit them alike:

  native      bench/pvbench on the host ICD directly;
  reference†  the Venus guest driver against virglrenderer's `virgl_test_server --venus` in a
              private mount and pid namespace with its own /tmp: bookworm's (0.10.4) on the host ICD
              for the bookworm guest; for a Debian guest root, that release's own on that release's
              lavapipe, both chrooted in the root. On lavapipe it serves a guest only with the
              crutches †: the guest's feedback off (VN_PERF) and pvbench --no-map (the first mapped
              allocation drops the guest; the 22.3.6 driver maps one for fence feedback at the first
              vkCreateFence, the current ones for query and semaphore feedback too). Workloads that
              must map (upload) are n/a there;
  pvgpu       the Venus guest driver through `pvgpu run`, with the driver's defaults;
  pvgpu†      through pvgpu with the same crutches as the reference, so that the two hosts compare
              at the same guest settings (only when the reference runs).

Guests (--guest, a comma-separated list runs the whole bench once per guest, each with its own
table and results file): bookworm, Mesa 22.3.6 built from Debian's source, served the 2022
protocol, the guest of every table before the current protocol; trixie and sid, Debian roots with
their own Mesa (25.0.7, 26.2.6), where pvbench runs chrooted (pvgpu run --guest).

Each run is one `pvbench WORKLOAD ...` process under `timeout`; the cells are medians over the
repetitions. A reference run that times out is reported as "hang", one the reference host drops as
"dropped", not as failures. The exit status is 1 when a native or pvgpu run fails; the tables are
written first either way.

Host memory: N guests (`pvbench idle`) stay connected after device creation while the host's
processes are measured from /proc: for pvgpu its context workers (the server's children), for
the reference the process of each guest's context (virgl_test_server forks one per guest; with
virglrenderer 1.x that one starts a render server, which forks the context's process), natively
the app processes themselves. A root guest's processes are chrooted, not hidden: they stay in the
process tree of the run. "one context" is the RSS of one such process with one guest; "per extra
guest" is the growth of the summed PSS of all the host's processes from 1 to N guests, per guest.
"""

import argparse
import datetime
import os
import platform
import queue
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'
# The guests. bookworm is a driver of the host system; the others are Debian roots made by
# scripts/setup-guest-roots.sh, found where `pvgpu run --guest NAME` finds them: guest-roots/NAME
# beside pvgpu.
GUESTS = ['bookworm', 'trixie', 'sid']
# Inside a root: its Venus driver and its lavapipe, the reference server's host driver there.
ROOT_GUEST_ICD = '/usr/share/vulkan/icd.d/virtio_icd.json'
ROOT_LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json'
# The crutches † per guest generation: every feedback the driver keeps in mapped memory, off.
# The 22.3.6 driver has fence and event feedback; 25.0.7 and 26.2.6 answer query results and
# timeline semaphore values from feedback as well, whose pool the reference cannot export.
CRUTCH_PERF_2022 = 'no_fence_feedback,no_event_feedback'
CRUTCH_PERF_CURRENT = CRUTCH_PERF_2022 + ',no_query_feedback,no_semaphore_feedback'
# What a current guest driver answers from feedback memory, without the host, with its defaults
# (measured: tens of nanoseconds in the pvgpu column); sid's asks the host for semaphore values.
FEEDBACK_CALLS = {'trixie': 'vkGetQueryPoolResults and vkGetSemaphoreCounterValue', 'sid': 'vkGetQueryPoolResults'}
FATAL_LINE = re.compile(r'pvgpu\[[^\]]*\]: .*fatal.*')
# pvgpu run's own log lines are worth keeping in a failure report too.
PVGPU_LINE = re.compile(r'^pvgpu( run)?[\[:].*$', re.M)

WAYS = ['native', 'reference', 'pvgpu', 'pvgpu-crutch']
WAY_TITLES = {'native': 'native', 'reference': 'reference†', 'pvgpu': 'pvgpu', 'pvgpu-crutch': 'pvgpu†'}


class Metric:
    def __init__(self, key, label, unit, higher_is_better, fmt):
        self.key, self.label, self.unit, self.higher_is_better, self.fmt = key, label, unit, higher_is_better, fmt


class Workload:
    """A pvbench workload: its arguments in full and quick mode and the metrics of its row(s)."""

    def __init__(self, name, full, quick, metrics, latency=False, needs_map=False, target=None, extras=(),
                 program=None):
        self.name, self.full, self.quick, self.metrics = name, full, quick, metrics
        self.program = program or name   # the pvbench workload, when a row runs one with other options
        self.extras = extras        # further result keys, shown per repetition: where the time goes
        self.latency = latency      # compare pvgpu† with reference† (lavapipe's waits make native moot)
        self.needs_map = needs_map  # cannot run with --no-map: n/a through the reference
        self.target = target or {}  # metric key -> target text


def fmt_us(v):
    # Calls a current guest answers from feedback take tens of nanoseconds.
    return '%.2f' % v if v < 1 else '%.1f' % v


def fmt_rate(v):
    if v >= 1e9:
        return '%.2fG' % (v / 1e9)
    if v >= 1e6:
        return '%.2fM' % (v / 1e6)
    if v >= 1e4:
        return '%.1fk' % (v / 1e3)
    return '%.0f' % v


def fmt_plain(v):
    return '%.1f' % v if v < 100 else '%.0f' % v


WORKLOADS = [
    Workload('roundtrip', ['--size', '20000'], ['--size', '5000'],
             [Metric('p50_us', 'round trip p50: %(call)s', 'us', False, fmt_us),
              Metric('p99_us', 'round trip p99: %(call)s', 'us', False, fmt_us)],
             latency=True, target={'p50_us': '≤ 0.8× reference†', 'p99_us': '≤ 30 us; ≤ 0.8× reference†'},
             extras=['mean_us', 'min_us', 'max_us']),
    # The same with a call the host driver answers at once: what the transport itself costs.
    Workload('roundtrip-semaphore', ['--size', '20000', '--call', 'semaphore'],
             ['--size', '5000', '--call', 'semaphore'],
             [Metric('p50_us', 'round trip p50: %(call)s', 'us', False, fmt_us),
              Metric('p99_us', 'round trip p99: %(call)s', 'us', False, fmt_us)],
             latency=True, target={'p50_us': '≤ 0.8× reference†', 'p99_us': '≤ 30 us; ≤ 0.8× reference†'},
             extras=['mean_us', 'min_us', 'max_us'], program='roundtrip'),
    Workload('submit', ['--size', '5000'], ['--size', '1000'],
             [Metric('us_per_iter', 'submit + wait, empty command buffer', 'us', False, fmt_us)],
             latency=True, target={'us_per_iter': '≤ 0.8× reference†'}, extras=['p50_us', 'p99_us']),
    Workload('draws', ['--size', '100000', '--iterations', '10'], ['--size', '100000', '--iterations', '3'],
             [Metric('draws_per_s', 'draws: %(draws)s per command buffer, push constants', 'draws/s', True,
                     fmt_rate)],
             target={'draws_per_s': '≥ 0.90 of native'}, extras=['record_ms', 'submit_wait_ms']),
    Workload('cube', ['--size', '512', '--iterations', '2000'], ['--size', '512', '--iterations', '300'],
             [Metric('fps', 'cube %(edge)sx%(edge)s, readback each frame', 'frames/s', True, fmt_plain)],
             target={'fps': '≥ 0.90 of native'}, extras=['ms_per_frame']),
    Workload('upload', ['--size', '256', '--iterations', '5'], ['--size', '64', '--iterations', '3'],
             [Metric('mib_per_s', 'upload %(mib)s MiB: memcpy + copy to device-local', 'MiB/s', True, fmt_plain)],
             needs_map=True, target={'mib_per_s': '≥ 0.85 of native'},
             extras=['memcpy_mib_per_s', 'copy_mib_per_s', 'cold_mib_per_s']),
    Workload('compute', ['--size', '64M', '--iterations', '10'], ['--size', '16M', '--iterations', '3'],
             [Metric('elements_per_s', 'compute y = a*x + y, %(elements_m)s floats', 'elements/s', True,
                     fmt_rate)],
             target={'elements_per_s': '≥ 0.95 of native'}, extras=['ms_per_pass']),
]
WORKLOAD_NAMES = [w.name for w in WORKLOADS] + ['memory']
MEMORY_GUESTS = [1, 4, 16]
MEMORY_GUESTS_QUICK = [1, 4]

# The reference run: scripts/under-virgl-test-server.sh in a private mount and pid namespace.
# Exit 92: the server dropped the guest (the 22.3.6 driver then spins forever): "dropped".
VIRGL_TEST_SERVER_SCRIPT = os.path.join(ROOT, 'scripts', 'under-virgl-test-server.sh')

# N guests at once, in one process tree: `sh -c LAUNCH_GUESTS sh N PROGRAM ARGS...`.
LAUNCH_GUESTS = r'''
n=$1; shift
pids=
i=0
while [ "$i" -lt "$n" ]; do "$@" & pids="$pids $!"; i=$((i + 1)); done
rc=0
for p in $pids; do wait "$p" || rc=1; done
exit $rc
'''


class Outcome:
    """One pvbench run one way."""

    def __init__(self, status, values=None, seconds=0.0, log=None, lines=None):
        self.status = status          # 'ok', 'fail', 'hang', 'dropped', 'timeout', 'n/a'
        self.values = values or {}    # from the result line (numbers as float)
        self.seconds = seconds
        self.log = log
        self.lines = lines or []      # why it failed


class Guest:
    """The guest userland the pvgpu, pvgpu† and reference† columns run on."""

    def __init__(self, name, args):
        self.name = name
        self.crutch_perf = CRUTCH_PERF_2022 if name == 'bookworm' else CRUTCH_PERF_CURRENT
        packed = args.packed_guests.get(name)
        self.pvbench_path = args.pvbench
        if packed:
            # A current guest's driver with its own libc and loader, packed by bench/carry.sh for a
            # machine without the Debian root (a GPU host): no chroot, its own pvbench wrapper.
            self.root = None
            self.icd = os.path.join(packed, 'virtio_icd.json')
            self.reference_icd = args.host_icd
            self.pvgpu_args = ['--guest-icd', self.icd, '--protocol', 'current']
            self.pvbench_path = os.path.join(packed, 'pvbench')
            self.packages = 'packed from the Debian root'
            self.mesa = read_first_line(os.path.join(packed, 'VERSION'))
        elif name == 'bookworm':
            # A driver of the host system; pvgpu must be told its protocol generation.
            self.root = None
            self.icd = args.guest_icd
            self.reference_icd = args.host_icd
            self.pvgpu_args = ['--guest-icd', self.icd, '--protocol', '2022']
            self.packages = package_versions(['virgl-server'])
            self.mesa = read_first_line(os.path.join(os.path.dirname(self.icd), 'mesa-src', 'VERSION'))
        else:
            self.root = os.path.realpath(os.path.join(os.path.dirname(args.pvgpu), 'guest-roots', name))
            self.icd = ROOT_GUEST_ICD
            self.reference_icd = ROOT_LAVAPIPE_ICD
            # The root sees only the working folder and these, at their own paths: pvbench, its
            # shaders, and the logs' folder, where the memory runs' stop files are.
            binds = []
            for path in (os.path.dirname(args.pvbench), args.shader_dir, args.out_dir):
                if not any(os.path.commonpath([path, b]) == b for b in binds):
                    binds.append(path)
            self.pvgpu_args = ['--guest', name] + [a for path in binds for a in ('--bind', path)]
            names = ['mesa-vulkan-drivers', 'virgl-server', 'libvulkan1']
            self.packages = package_versions(names, admin_dir=os.path.join(self.root, 'var', 'lib', 'dpkg'))
            mesa = package_versions(['mesa-vulkan-drivers'], os.path.join(self.root, 'var', 'lib', 'dpkg'),
                                    version_only=True)
            self.mesa = re.sub(r'^\d+:', '', mesa).split('-')[0] if mesa != 'unknown' else None
        self.driver_info = None   # what the guest driver says it is, from the first pvgpu run

    def title(self):
        mesa = self.mesa
        if not mesa and self.driver_info:
            found = re.search(r'Mesa (\d+\.\d+\.\d+)', self.driver_info)
            mesa = found.group(1) if found else None
        return '%s (Mesa %s)' % (self.name, mesa or '?')

    def reference_cwd(self, args):
        """For the reference in a root: the working folder, which the run binds into the root, is
        the folder that holds pvbench, its shaders and the logs (None: there is no such folder)."""
        if not self.root:
            return None
        common = os.path.commonpath([os.path.dirname(args.pvbench), args.shader_dir, args.out_dir])
        return common if common != '/' else None

    def problems(self, args, reference):
        if not self.root:
            if not os.path.isfile(self.icd):
                return ['guest driver missing (%s); run scripts/setup-guest-driver.sh' % self.icd]
            return []
        if not os.path.isfile(self.root + self.icd):
            return ['guest root %s missing; run scripts/setup-guest-roots.sh %s' % (self.root, self.name)]
        if reference and not self.reference_cwd(args):
            return ['pvbench, its shaders and --out-dir share no folder but /, which the reference run in '
                    'the %s root would have to show it; use --no-reference or put them under one folder'
                    % self.name]
        if reference and not os.path.isfile(os.path.join(self.root, 'usr', 'bin', 'virgl_test_server')):
            return ['%s root has no virgl_test_server (--no-reference skips the reference)' % self.name]
        return []


def read_first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip() or None
    except OSError:
        return None


def parse_result(output, name):
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == 'result' and parts[1] == name:
            values = {}
            for part in parts[2:]:
                key, sep, value = part.partition('=')
                if not sep:
                    values[key] = True
                    continue
                try:
                    values[key] = float(value)
                except ValueError:
                    values[key] = value
            return values
    return None


def info_line(output, what):
    """The text of pvbench's first "info WHAT ..." line."""
    prefix = 'info %s ' % what
    for line in output.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return None


def kill_group(process):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def write_log(path, command, env_note, output, errors, code, note, seconds):
    with open(path, 'w') as log:
        log.write('$ %s%s\n' % (env_note, ' '.join(shlex.quote(c) for c in command)))
        log.write('--- stdout\n%s--- stderr\n%s' % (output, errors))
        log.write('--- exit %s%s, %.1f s\n' % (code, note, seconds))


class Runner:
    def __init__(self, args, guest, out_dir):
        self.args = args
        self.guest = guest
        self.out_dir = out_dir  # this guest's logs
        self.commands = {}  # workload -> its pvbench command line, as the first way ran it
        self.device_names = {}  # way -> the Vulkan device its pvbench saw
        self.next_log = 0

    # -- how each way runs a guest command --------------------------------------------------

    def env_for(self, way):
        env = dict(os.environ)
        for key in ('VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_INSTANCE_LAYERS', 'VN_DEBUG', 'VN_PERF',
                    'PV_GUEST_VALIDATION', 'PV_GUEST_OUT_DIR'):
            env.pop(key, None)
        env.pop('PVGPU_REFERENCE_ROOT', None)
        env['PV_GUEST_SHADER_DIR'] = self.args.shader_dir
        if way == 'native':
            env['VK_ICD_FILENAMES'] = env['VK_DRIVER_FILES'] = self.args.host_icd
        if way in ('reference', 'pvgpu-crutch'):
            env['VN_PERF'] = self.guest.crutch_perf
        if way == 'reference' and self.guest.root:
            env['PVGPU_REFERENCE_ROOT'] = self.guest.root
        return env

    def env_note(self, way):
        if way == 'native':
            return 'VK_ICD_FILENAMES=%s ' % self.args.host_icd
        if way == 'reference' and self.guest.root:
            return 'PVGPU_REFERENCE_ROOT=%s ' % self.guest.root
        if way in ('reference', 'pvgpu-crutch'):
            return 'VN_PERF=%s ' % self.guest.crutch_perf
        return ''

    def cwd_for(self, way):
        return self.guest.reference_cwd(self.args) if way == 'reference' else None

    def wrap(self, way, guest, server_log):
        """The full command for a guest command line (a list) run one way, under timeout."""
        t = '%g' % self.args.timeout
        if way == 'native':
            return ['timeout', '-k', '5', t] + guest
        if way in ('pvgpu', 'pvgpu-crutch'):
            return (['timeout', '-k', '5', t, self.args.pvgpu, 'run', '--host-icd', self.args.host_icd] +
                    self.guest.pvgpu_args + self.args.pvgpu_arg + ['--'] + guest)
        unshare = ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child']
        if os.geteuid() != 0:
            unshare.append('--map-root-user')
        return unshare + ['bash', VIRGL_TEST_SERVER_SCRIPT, server_log, self.guest.reference_icd,
                          self.guest.icd, t] + guest

    def pvbench(self, way, workload, extra):
        command = [self.args.pvbench if way == 'native' else self.guest.pvbench_path, workload] + extra
        if way in ('reference', 'pvgpu-crutch'):
            command.append('--no-map')
        if way == 'reference' and self.guest.root:
            # The script starts the guest in the root with a clean environment.
            command = ['env', 'VN_PERF=' + self.guest.crutch_perf] + command
        return command

    def log_paths(self, way, label):
        self.next_log += 1
        base = os.path.join(self.out_dir, way, '%03d-%s' % (self.next_log, label))
        return base + '.log', base + '-server.log'

    def classify(self, way, code, timed_out, output, errors, server_log):
        """status, reasons for a finished run."""
        if way == 'reference':
            if timed_out or code in (124, 137):
                return 'hang', ['timed out (the reference host stopped answering)']
            if code == 92:
                reasons = ['the reference host dropped the guest (the driver then spins)']
                try:
                    with open(server_log, errors='replace') as f:
                        reasons += ['server: ' + l.strip() for l in f if 'fail' in l or 'error' in l.lower()][:4]
                except OSError:
                    pass
                return 'dropped', reasons
        if timed_out or code in (124, 137):
            return 'timeout', ['timed out after %g s' % self.args.timeout] + FATAL_LINE.findall(errors)[:8]
        if code != 0:
            reasons = ['exit status %s' % code]
            reasons += [l for l in output.splitlines() if l.startswith(('FAIL ', 'check failed'))][:4]
            reasons += FATAL_LINE.findall(errors)[:8]
            if way.startswith('pvgpu') and not FATAL_LINE.findall(errors):
                reasons += PVGPU_LINE.findall(errors)[-6:]
            return 'fail', reasons
        return 'ok', []

    # -- one timed workload run ----------------------------------------------------------------

    def run_workload(self, way, workload, extra):
        log, server_log = self.log_paths(way, workload.name)
        guest = self.pvbench(way, workload.program, extra)
        command = self.wrap(way, guest, server_log)
        self.commands.setdefault(workload.name, ' '.join(shlex.quote(c) for c in guest))
        start = time.monotonic()
        process = subprocess.Popen(command, env=self.env_for(way), cwd=self.cwd_for(way), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        timed_out = False
        try:
            output, errors = process.communicate(timeout=self.args.timeout + 20)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(process)
            output, errors = process.communicate()
        seconds = time.monotonic() - start
        output = output.decode('utf-8', 'replace')
        errors = errors.decode('utf-8', 'replace')
        write_log(log, command, self.env_note(way), output, errors, process.returncode,
                  ' (timed out)' if timed_out else '', seconds)
        status, reasons = self.classify(way, process.returncode, timed_out, output, errors, server_log)
        values = parse_result(output, workload.program)
        if status == 'ok' and values is None:
            status, reasons = 'fail', ['no result line']
        if status == 'ok' and values.get('n/a'):
            status = 'n/a'
        self.note_device(way, output)
        return Outcome(status, values, seconds, log, reasons)

    def note_device(self, way, output):
        if way not in self.device_names and info_line(output, 'device'):
            self.device_names[way] = info_line(output, 'device')
        if way == 'pvgpu' and not self.guest.driver_info:
            self.guest.driver_info = info_line(output, 'driver')

    # -- host memory with N idle guests ------------------------------------------------------------

    def run_memory(self, way, guests):
        log, server_log = self.log_paths(way, 'memory-%d' % guests)
        stop_file = log[:-len('.log')] + '.stop'
        if os.path.exists(stop_file):
            os.unlink(stop_file)
        idle = self.pvbench(way, 'idle', ['--seconds', '%g' % self.args.timeout, '--stop-file', stop_file])
        guest = ['sh', '-c', LAUNCH_GUESTS, 'sh', str(guests)] + idle
        command = self.wrap(way, guest, server_log)
        self.commands.setdefault('memory', 'sh -c "$LAUNCH_GUESTS" sh N ' + ' '.join(shlex.quote(c) for c in idle) +
                                 '  (LAUNCH_GUESTS in bench/run.py starts N copies and waits for them)')
        start = time.monotonic()
        process = subprocess.Popen(command, env=self.env_for(way), cwd=self.cwd_for(way), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        lines = queue.Queue()
        collected = {'out': [], 'err': []}

        def pump(stream, key, forward):
            for raw in iter(stream.readline, b''):
                text = raw.decode('utf-8', 'replace')
                collected[key].append(text)
                if forward:
                    lines.put(text)
            stream.close()
            if forward:
                lines.put(None)

        threads = [threading.Thread(target=pump, args=(process.stdout, 'out', True), daemon=True),
                   threading.Thread(target=pump, args=(process.stderr, 'err', False), daemon=True)]
        for t in threads:
            t.start()
        ready, sample, deadline = 0, None, start + self.args.timeout
        while ready < guests:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                if process.poll() is not None and not threads[0].is_alive():
                    break
                continue
            if line is None:
                break
            if line.startswith('result idle ready'):
                ready += 1
        if ready == guests:
            time.sleep(self.args.settle)
            sample = sample_memory(process.pid, way)
        with open(stop_file, 'w'):
            pass
        timed_out = False
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(process)
        for t in threads:
            t.join(timeout=5)
        os.unlink(stop_file)
        seconds = time.monotonic() - start
        output, errors = ''.join(collected['out']), ''.join(collected['err'])
        if sample:
            output += 'memory sample: %s\n' % ' '.join('%s=%s' % kv for kv in sorted(sample.items()))
        write_log(log, command, self.env_note(way), output, errors, process.returncode,
                  ' (timed out)' if timed_out else '', seconds)
        status, reasons = self.classify(way, process.returncode, timed_out, output, errors, server_log)
        if status == 'ok' and not sample:
            status, reasons = 'fail', ['only %d of %d guests became ready' % (ready, guests)]
        if sample and not sample.get('contexts'):
            status, reasons = 'fail', ['no host context process found (%s)' % sample.get('processes', '')]
        self.note_device(way, output)
        return Outcome(status, sample if status == 'ok' else {}, seconds, log, reasons)


# -- /proc ----------------------------------------------------------------------------------------

def process_table():
    table = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: it ends at the last ')'.
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        table[int(entry)] = (ppid, comm)
    return table


def descendants(table, root):
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def memory_kib(pid):
    """(RSS, PSS) in KiB, or None when the process is gone."""
    rss = pss = None
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    rss = int(line.split()[1])
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Pss:'):
                    pss = int(line.split()[1])
    except OSError:
        return None
    if rss is None or pss is None:
        return None
    return rss, pss


def sample_memory(root, way):
    """Host and guest memory of the run whose outermost process is root (MiB)."""
    table = process_table()
    tree = descendants(table, root)
    comm = lambda pid: table[pid][1]
    parent = lambda pid: table[pid][0]
    guests = [p for p in tree if comm(p) == 'pvbench']
    if way == 'native':
        host, contexts = guests, guests
        guests = []
    elif way == 'reference':
        # virgl_test_server forks one process per guest. virglrenderer 0.10.4 runs the guest's Vulkan
        # context there; 1.x (trixie's, sid's) has that process start a render server, which forks the
        # context's own process (virgl-N-...): three processes per guest, all in the totals, the last
        # of them the context.
        host = [p for p in tree if comm(p).startswith('virgl')]
        tops = [p for p in host if parent(p) not in host]
        clients = [p for p in host if parent(p) in tops]
        has_child = set(parent(p) for p in host)
        contexts = [p for p in host if p not in tops and p not in has_child] or clients or tops
    else:
        # pvgpu run (supervisor) -> server -> one worker per guest; all named pvgpu.
        host = [p for p in tree if comm(p) == 'pvgpu']
        supervisors = [p for p in host if parent(p) not in host]
        servers = [p for p in host if parent(p) in supervisors]
        contexts = [p for p in host if parent(p) in servers]
    sizes = {p: memory_kib(p) for p in set(host) | set(guests)}
    sizes = {p: s for p, s in sizes.items() if s}
    mib = lambda kib: kib / 1024.0
    context_rss = [sizes[p][0] for p in contexts if p in sizes]
    return {
        'contexts': len(context_rss),
        'context_rss_mib': mib(statistics.mean(context_rss)) if context_rss else 0.0,
        'host_rss_mib': mib(sum(sizes[p][0] for p in host if p in sizes)),
        'host_pss_mib': mib(sum(sizes[p][1] for p in host if p in sizes)),
        'guest_pss_mib': mib(sum(sizes[p][1] for p in guests if p in sizes)),
        'processes': ','.join('%s:%d' % (comm(p), p) for p in sorted(host)),
    }


# -- the table ------------------------------------------------------------------------------------

def median_of(outcomes, key):
    values = [o.values[key] for o in outcomes if o.status == 'ok' and isinstance(o.values.get(key), float)]
    return statistics.median(values) if values else None


def cell(outcomes, key, fmt):
    """The median, or why there is none; a note when only some repetitions worked."""
    if not outcomes:
        return 'not run', None
    value = median_of(outcomes, key)
    bad = [o for o in outcomes if o.status not in ('ok', 'n/a')]
    if value is None:
        if all(o.status == 'n/a' for o in outcomes):
            return 'n/a', None
        statuses = sorted(set(o.status for o in bad))
        return '/'.join(statuses), None
    text = fmt(value)
    if bad:
        text += ' (%d/%d %s)' % (len(bad), len(outcomes), '/'.join(sorted(set(o.status for o in bad))))
    return text, value


def ratio(a, b):
    if a is None or b is None or not b:
        return '–'
    return '%.2f' % (a / b)


def markdown_table(headers, rows):
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]
    line = lambda cells: '| ' + ' | '.join(c.ljust(w) for c, w in zip(cells, widths)) + ' |'
    out = [line(headers), '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    out += [line(r) for r in rows]
    return '\n'.join(out)


def build_table(results, ways, workloads, memory_guests):
    headers = ['workload', 'unit'] + [WAY_TITLES[w] for w in ways] + ['pvgpu / native']
    if 'reference' in ways:
        headers.append('pvgpu† / reference†')
    headers.append('target')
    rows = []
    for workload in workloads:
        per_way = results.get(workload.name, {})
        label_values = {}
        for way in ways:
            for o in per_way.get(way, []):
                if o.status == 'ok':
                    label_values = dict(o.values, **label_values)
        for metric in workload.metrics:
            label_values.setdefault('elements_m', '%gM' % (label_values.get('elements', 0) / 2 ** 20))
            try:
                label = metric.label % {k: (('%g' % v) if isinstance(v, float) else v)
                                        for k, v in label_values.items()}
            except (KeyError, TypeError):
                label = re.sub(r'%\([a-z_]+\)s', '?', metric.label)
            cells, values = [], {}
            for way in ways:
                text, value = cell(per_way.get(way, []), metric.key, metric.fmt)
                if workload.needs_map and way in ('reference', 'pvgpu-crutch'):
                    text, value = 'n/a', None
                cells.append(text)
                values[way] = value
            row = [label, metric.unit] + cells + [ratio(values.get('pvgpu'), values.get('native'))]
            if 'reference' in ways:
                row.append(ratio(values.get('pvgpu-crutch'), values.get('reference')))
            row.append(workload.target.get(metric.key, ''))
            rows.append(row)
    if memory_guests:
        per_way = results.get('memory', {})
        top = memory_guests[-1]

        def med(way, n, key):
            return median_of(per_way.get((way, n), []), key)

        def memory_row(label, unit, getter, target='', diff=True):
            cells, values = [], {}
            for way in ways:
                outcomes = [o for n in memory_guests for o in per_way.get((way, n), [])]
                if way == 'pvgpu-crutch':
                    cells.append('–')  # the crutches change nothing an idle guest does
                    continue
                value = getter(way)
                values[way] = value
                if value is not None:
                    cells.append('%.1f' % value)
                elif not outcomes:
                    cells.append('not run')
                else:
                    cells.append('/'.join(sorted(set(o.status for o in outcomes if o.status != 'ok'))) or '–')
            native, pvgpu = values.get('native'), values.get('pvgpu')
            delta = '%+.1f MiB' % (pvgpu - native) if diff and native is not None and pvgpu is not None else '–'
            row = [label, unit] + cells + [delta]
            if 'reference' in ways:
                row.append('–')
            row.append(target)
            rows.append(row)

        memory_row('host memory: one context, 1 guest (RSS)', 'MiB',
                   lambda way: med(way, 1, 'context_rss_mib'), '≤ native + 16 MiB')
        for n in memory_guests:
            memory_row('host memory: all host processes, %d guest%s (PSS)' % (n, 's' if n > 1 else ''), 'MiB',
                       lambda way, n=n: med(way, n, 'host_pss_mib'))
        if top > 1:
            def extra(way):
                one, many = med(way, 1, 'host_pss_mib'), med(way, top, 'host_pss_mib')
                return (many - one) / (top - 1) if one is not None and many is not None else None
            memory_row('host memory: per extra guest, 1→%d guests (PSS)' % top, 'MiB', extra, '≤ native + 16 MiB')
    return markdown_table(headers, rows)


def raw_lines(results, ways, workloads, memory_guests):
    """Every repetition's numbers, for judging the noise behind the medians."""
    out = []
    for workload in workloads:
        for metric in workload.metrics:
            parts = []
            for way in ways:
                outcomes = results.get(workload.name, {}).get(way, [])
                if outcomes:
                    parts.append('%s [%s]' % (WAY_TITLES[way], ', '.join(
                        metric.fmt(o.values[metric.key]) if o.status == 'ok' and metric.key in o.values
                        else o.status for o in outcomes)))
            out.append('- %s %s (%s): %s' % (workload.name, metric.key, metric.unit, '; '.join(parts)))
        for key in workload.extras:
            parts = []
            for way in ways:
                outcomes = results.get(workload.name, {}).get(way, [])
                if outcomes:
                    parts.append('%s [%s]' % (WAY_TITLES[way], ', '.join(
                        fmt_plain(o.values[key]) if o.status == 'ok' and isinstance(o.values.get(key), float)
                        else o.status for o in outcomes)))
            out.append('- %s %s: %s' % (workload.name, key, '; '.join(parts)))
    for n in memory_guests:
        parts = []
        for way in ways:
            outcomes = results.get('memory', {}).get((way, n), [])
            if outcomes:
                parts.append('%s [%s]' % (WAY_TITLES[way], ', '.join(
                    'ctx %.1f / host pss %.1f / guest pss %.1f' % (
                        o.values['context_rss_mib'], o.values['host_pss_mib'], o.values['guest_pss_mib'])
                    if o.status == 'ok' else o.status for o in outcomes)))
        out.append('- memory N=%d (MiB): %s' % (n, '; '.join(parts)))
    return out


# -- the machine ----------------------------------------------------------------------------------

def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def memory_total():
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal:'):
                    return '%.1f GiB' % (int(line.split()[1]) / 1024.0 / 1024.0)
    except OSError:
        pass
    return 'unknown'


def package_versions(names, admin_dir=None, version_only=False):
    """Installed versions, of the host or (admin_dir) of a guest root."""
    command = ['dpkg-query'] + (['--admindir=' + admin_dir] if admin_dir else [])
    command += ['-W', '-f', '${Version}\\n' if version_only else '${Package} ${Version}\\n'] + names
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
        return ', '.join(l for l in out.splitlines() if l.strip()) or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def git_describe():
    try:
        out = subprocess.run(['git', '-C', ROOT, 'describe', '--always', '--dirty'], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        return out or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def load_average():
    try:
        return '%.2f %.2f %.2f' % os.getloadavg()
    except OSError:
        return 'unknown'


def readme_markers(guest):
    """The bookworm guest's table keeps the markers of the tables before there were guests."""
    tag = 'bench:latest' if guest == 'bookworm' else 'bench:latest:%s' % guest
    return '<!-- %s -->' % tag, '<!-- /%s -->' % tag


def update_readme(path, text, guest):
    begin, end = readme_markers(guest)
    with open(path) as f:
        readme = f.read()
    if begin not in readme or end not in readme:
        print('note: %s has no %s ... %s markers; not updated' % (path, begin, end))
        return
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, 'w') as f:
        f.write(head + begin + '\n' + text.rstrip() + '\n' + end + tail)


def legend_for(guest, runner, repetitions, ways):
    text = 'Medians of %d repetition(s).' % repetitions
    if 'reference' in ways:
        text += (' † = the guest driver with VN_PERF=%s and nothing mapped (pvbench --no-map), the only settings '
                 'under which the reference host serves a guest on lavapipe; pvgpu† runs the same settings so '
                 'that the last ratio compares the hosts alike.' % guest.crutch_perf)
    text += ' Ratios are value / value: above 1 is better for rates, below 1 for latencies.'
    if 'reference' in ways:
        text += (' Round trip and submit + wait are compared with the reference, not with native: lavapipe\'s '
                 'own fence and query waits sleep.')
    if guest.name in FEEDBACK_CALLS:
        text += (' With its defaults (the pvgpu column) this guest driver answers %s from feedback memory, '
                 'without the host%s.' % (FEEDBACK_CALLS[guest.name],
                                          '; the † columns time the host round trip' if 'reference' in ways else ''))
        if 'reference' in ways:
            text += (' reference† is %s\'s own virgl_test_server (%s) on %s\'s lavapipe (%s), chrooted in the '
                     'root, while native, pvgpu and pvgpu† run on the host\'s driver (%s): the last ratio '
                     'compares host drivers as well as hosts.' % (
                         guest.name, package_of(guest.packages, 'virgl-server'), guest.name,
                         inner_device(runner.device_names.get('reference')) or 'device unknown',
                         runner.device_names.get('native') or 'device unknown'))
    return text


def package_of(packages, name):
    for entry in packages.split(', '):
        if entry.startswith(name + ' '):
            return 'virglrenderer ' + entry.split(' ', 1)[1] if name == 'virgl-server' else entry
    return name + ' unknown'


def inner_device(name):
    """The host device behind a Venus device name: "Virtio-GPU Venus (llvmpipe (...))" -> "llvmpipe (...)"."""
    if not name:
        return None
    m = re.match(r'^Virtio-GPU Venus \((.*)\)$', name)
    return m.group(1) if m else name


def run_guest(args, guest, workloads, memory_guests, repetitions, ways):
    """The whole bench on one guest: runs, table, results file. Returns the exit status."""
    out_dir = os.path.join(args.out_dir, guest.name)
    for way in ways:
        os.makedirs(os.path.join(out_dir, way), exist_ok=True)
    started = datetime.datetime.now()
    load_start = load_average()
    runner = Runner(args, guest, out_dir)
    print('pvgpu bench, guest %s: %s; %d repetition(s), interleaved; host ICD %s%s' % (
        guest.title(), ', '.join([w.name for w in workloads] + (['memory'] if memory_guests else [])), repetitions,
        args.host_icd, '; pvgpu run ' + ' '.join(args.pvgpu_arg) if args.pvgpu_arg else ''))
    print('logs under %s; load average %s' % (out_dir, load_start))
    sys.stdout.flush()

    results = {}
    failures = []
    for rep in range(repetitions):
        for workload in workloads:
            extra = workload.quick if args.quick else workload.full
            for way in ways:
                if workload.needs_map and way in ('reference', 'pvgpu-crutch'):
                    continue
                outcome = runner.run_workload(way, workload, extra)
                results.setdefault(workload.name, {}).setdefault(way, []).append(outcome)
                shown = ' '.join(['%s=%s' % (m.key, m.fmt(outcome.values[m.key])) for m in workload.metrics
                                  if isinstance(outcome.values.get(m.key), float)] +
                                 ['%s=%s' % (k, fmt_plain(outcome.values[k])) for k in workload.extras
                                  if isinstance(outcome.values.get(k), float)])
                print('  rep %d %-9s %-12s %-7s %5.1fs %s' % (rep + 1, workload.name, WAY_TITLES[way],
                                                               outcome.status, outcome.seconds, shown))
                sys.stdout.flush()
                if outcome.status not in ('ok', 'n/a') and way != 'reference':
                    failures.append((workload.name, way, outcome))
        for n in memory_guests:
            for way in ways:
                if way == 'pvgpu-crutch':
                    continue
                outcome = runner.run_memory(way, n)
                results.setdefault('memory', {}).setdefault((way, n), []).append(outcome)
                shown = ''
                if outcome.status == 'ok':
                    shown = 'context rss %.1f MiB, host pss %.1f MiB, guest pss %.1f MiB (%d contexts)' % (
                        outcome.values['context_rss_mib'], outcome.values['host_pss_mib'],
                        outcome.values['guest_pss_mib'], outcome.values['contexts'])
                print('  rep %d memory N=%-2d %-12s %-7s %5.1fs %s' % (rep + 1, n, WAY_TITLES[way], outcome.status,
                                                                       outcome.seconds, shown))
                sys.stdout.flush()
                if outcome.status != 'ok' and way != 'reference':
                    failures.append(('memory N=%d' % n, way, outcome))

    finished = datetime.datetime.now()
    load_end = load_average()
    table = build_table(results, ways, workloads, memory_guests)
    legend = legend_for(guest, runner, repetitions, ways)
    print()
    print('guest %s:' % guest.title())
    print()
    print(table)
    print()
    print(legend)

    details = []
    for name, way, outcome in failures + [(w, 'reference', o) for w, per in results.items() if w != 'memory'
                                          for o in per.get('reference', []) if o.status not in ('ok', 'n/a')]:
        details.append('%s, %s: %s (log %s)' % (name, WAY_TITLES[way], outcome.status, outcome.log))
        details += ['    ' + l for l in outcome.lines[:12]]
    if details:
        print()
        print('not ok:')
        for d in details:
            print('  ' + d)

    machine = args.machine or socket.gethostname()
    slug = re.sub(r'[^A-Za-z0-9_.-]+', '-', machine)
    os.makedirs(args.results_dir, exist_ok=True)
    stem = '%s-%s-%s' % (started.strftime('%Y-%m-%d'), slug, guest.name)
    path = os.path.join(args.results_dir, stem + '.md')
    suffix = 2
    while os.path.exists(path):
        path = os.path.join(args.results_dir, '%s-%d.md' % (stem, suffix))
        suffix += 1
    if guest.root:
        guest_line = '- guest: %s, the Debian root %s (%s); the driver says "%s"' % (
            guest.title(), guest.root, guest.packages, guest.driver_info or 'unknown')
    elif guest.name != 'bookworm':
        guest_line = ('- guest: %s, packed from its Debian root with its own libc and Vulkan loader (%s), '
                      'served the current protocol; the driver says "%s"' % (
                          guest.title(), guest.icd, guest.driver_info or 'unknown'))
    else:
        guest_line = '- guest: %s, a driver of this system (%s), served the 2022 protocol; the driver says "%s"' % (
            guest.title(), guest.icd, guest.driver_info or 'unknown')
    machine_lines = [
        '- machine: %s; %s, %d cores, %s memory; Linux %s' % (machine, cpu_model(), os.cpu_count() or 0,
                                                                memory_total(), platform.release()),
        '- host Vulkan device: %s (ICD %s)' % (runner.device_names.get('native') or 'unknown', args.host_icd),
        guest_line,
        '- reference host: %s' % (
            'not run' if 'reference' not in ways else
            '%s\'s virgl_test_server, chrooted, on %s (ICD %s in the root)' % (
                guest.name, inner_device(runner.device_names.get('reference')) or 'unknown', guest.reference_icd)
            if guest.root else
            'virgl_test_server of this system (%s) on the host ICD' % package_of(guest.packages, 'virgl-server')),
        '- host packages: %s' % package_versions(['mesa-vulkan-drivers', 'virgl-server', 'libvulkan1']),
        '- source: %s; pvgpu %s' % (args.revision or git_describe(), args.pvgpu),
        '- started %s, finished %s; load average at start %s, at end %s' % (
            started.strftime('%Y-%m-%d %H:%M:%S'), finished.strftime('%H:%M:%S'), load_start, load_end),
        '- mode: %s, %d repetition(s), workloads in the order run, ways interleaved within each' % (
            'quick' if args.quick else 'full', repetitions),
    ]
    command_lines = ['- run.py: `%s`' % ' '.join(shlex.quote(a) for a in sys.argv)]
    pvgpu_run = '%s run --host-icd %s %s' % (args.pvgpu, args.host_icd,
                                              ''.join(a + ' ' for a in guest.pvgpu_args + args.pvgpu_arg))
    if guest.root:
        reference = ('unshare --mount --pid --fork: tmpfs on /tmp; chrooted in %s with %s and /proc, /dev, /sys '
                     'bound in: VK_ICD_FILENAMES=%s virgl_test_server --venus --use-egl-surfaceless & '
                     'VN_DEBUG=vtest VK_ICD_FILENAMES=%s timeout %g env VN_PERF=%s CMD --no-map' % (
                         guest.root, guest.reference_cwd(args), guest.reference_icd, guest.icd, args.timeout,
                         guest.crutch_perf))
    else:
        reference = ('unshare --mount --pid --fork: tmpfs on /tmp; VK_ICD_FILENAMES=%s virgl_test_server --venus '
                     '--use-egl-surfaceless & VN_DEBUG=vtest VK_ICD_FILENAMES=%s VN_PERF=%s timeout %g CMD --no-map'
                     % (args.host_icd, guest.icd, guest.crutch_perf, args.timeout))
    wrappers = {
        'native': 'VK_ICD_FILENAMES=%s timeout %g CMD' % (args.host_icd, args.timeout),
        'reference': reference,
        'pvgpu': 'timeout %g %s-- CMD' % (args.timeout, pvgpu_run),
        'pvgpu-crutch': 'VN_PERF=%s timeout %g %s-- CMD --no-map' % (guest.crutch_perf, args.timeout, pvgpu_run),
    }
    command_lines += ['- %s: `%s`' % (WAY_TITLES[w], wrappers[w]) for w in ways]
    command_lines += ['- CMD for %s: `%s`' % (name, text) for name, text in runner.commands.items()]
    with open(path, 'w') as f:
        f.write('# pvgpu benchmarks, %s on %s, guest %s\n\n' % (started.strftime('%Y-%m-%d'), machine, guest.title()))
        f.write('\n'.join(machine_lines) + '\n\n')
        f.write(table + '\n\n' + legend + '\n\n')
        f.write('## Commands\n\n' + '\n'.join(command_lines) + '\n\n')
        f.write('## Every repetition\n\n' + '\n'.join(raw_lines(results, ways, workloads, memory_guests)) + '\n')
        if details:
            f.write('\n## Not ok\n\n' + '\n'.join('    ' + d if d.startswith('    ') else '- ' + d
                                                 for d in details) + '\n')
    print()
    print('written to %s' % os.path.relpath(path))
    if args.update_readme:
        for readme_dir in (HERE, ROOT):   # bench/README.md and the project's front page
            update_readme(os.path.join(readme_dir, 'README.md'),
                          'Guest %s: %s on %s (%s, %d cores; %s), %s mode, load average %s → %s; details in `%s`.'
                          '\n\n%s\n\n%s' % (
                              guest.title(), started.strftime('%Y-%m-%d'), machine, cpu_model(), os.cpu_count() or 0,
                              runner.device_names.get('native') or 'unknown device',
                              'quick' if args.quick else 'full', load_start, load_end,
                              os.path.relpath(path, readme_dir), table, legend), guest.name)
    if failures:
        print('FAIL (guest %s): %s' % (guest.name, ', '.join('%s (%s)' % (name, WAY_TITLES[way])
                                                             for name, way, _ in failures)))
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='\n\n'.join(__doc__.split('\n\n')[1:]))
    parser.add_argument('--build-dir', default=os.environ.get('PVGPU_BUILD_DIR') or os.path.join(ROOT, 'build'))
    parser.add_argument('--guest', default='bookworm',
                        help='the guest(s) of the pvgpu, pvgpu† and reference† columns, comma-separated, one '
                        'table each: %s (default %%(default)s)' % ', '.join(GUESTS))
    parser.add_argument('--pvgpu', help='the pvgpu CLI (default $PVGPU or <build>/pvgpu); the guest roots are '
                        'guest-roots/NAME beside it')
    parser.add_argument('--pvbench', help='the benchmark program (default <build>/bench/pvbench)')
    parser.add_argument('--packed-guest', action='append', default=[], metavar='NAME=DIR',
                        help='run guest NAME (trixie, sid) from a folder bench/carry.sh packed (its Venus '
                        'driver, libc and loader, virtio_icd.json, a pvbench wrapper) instead of its root')
    parser.add_argument('--shader-dir', help='compiled shaders (default: pvbench\'s folder)')
    parser.add_argument('--guest-icd', help='the bookworm guest\'s Venus driver (default $PVGPU_GUEST_ICD or '
                        '<build>/guest-driver/virtio_icd.json)')
    parser.add_argument('--host-icd', default=LAVAPIPE_ICD,
                        help='the host Vulkan driver, for pvgpu, the bookworm guest\'s reference and the native '
                        'runs (%(default)s)')
    parser.add_argument('--pvgpu-arg', action='append', default=[],
                        help='extra argument for `pvgpu run` (repeatable), e.g. --pvgpu-arg=--validate')
    parser.add_argument('--only', action='append', default=[],
                        help='only these workloads (repeatable or comma-separated): ' + ', '.join(WORKLOAD_NAMES))
    parser.add_argument('--no-reference', action='store_true', help='skip the reference host (and pvgpu†)')
    parser.add_argument('--quick', action='store_true', help='smaller sizes, one repetition, memory with 1 and 4 guests')
    parser.add_argument('--repetitions', type=int, help='repetitions of every run (default 3, quick 1)')
    parser.add_argument('--memory-guests', help='comma-separated guest counts for memory (default 1,4,16)')
    parser.add_argument('--timeout', type=float, help='seconds per run (default 300, quick 120)')
    parser.add_argument('--settle', type=float, default=1.0, help='seconds between the last guest ready and '
                        'the memory sample (%(default)s)')
    parser.add_argument('--revision', help='what pvgpu was built from, for the results file (default: git describe '
                        '--dirty of this checkout)')
    parser.add_argument('--machine', help='machine name in the results file name (default: the host name)')
    parser.add_argument('--results-dir', default=os.path.join(HERE, 'results'),
                        help='where <date>-<machine>-<guest>.md goes (%(default)s)')
    parser.add_argument('--out-dir', help='logs of every run, per guest (default <build>/bench/out)')
    parser.add_argument('--update-readme', action='store_true',
                        help='also put each guest\'s table into bench/README.md and README.md between its markers '
                        '(bookworm: bench:latest; another guest: bench:latest:NAME)')
    args = parser.parse_args()

    build = os.path.abspath(args.build_dir)
    explicit_guest_icd = args.guest_icd is not None
    args.pvgpu = os.path.abspath(args.pvgpu or os.environ.get('PVGPU') or os.path.join(build, 'pvgpu'))
    args.pvbench = os.path.abspath(args.pvbench or os.path.join(build, 'bench', 'pvbench'))
    args.packed_guests = dict((n, os.path.abspath(d)) for n, d in (p.split('=', 1) for p in args.packed_guest))
    args.shader_dir = os.path.abspath(args.shader_dir or os.path.dirname(args.pvbench))
    args.guest_icd = os.path.abspath(args.guest_icd or os.environ.get('PVGPU_GUEST_ICD') or
                                     os.path.join(build, 'guest-driver', 'virtio_icd.json'))
    args.host_icd = os.path.abspath(args.host_icd)
    args.out_dir = os.path.abspath(args.out_dir or os.path.join(build, 'bench', 'out'))
    repetitions = args.repetitions or (1 if args.quick else 3)
    if args.timeout is None:
        args.timeout = 120.0 if args.quick else 300.0
    if args.memory_guests:
        memory_guests = sorted(set(int(n) for n in args.memory_guests.split(',') if n))
    else:
        memory_guests = MEMORY_GUESTS_QUICK if args.quick else MEMORY_GUESTS
    if 1 not in memory_guests:
        memory_guests = [1] + memory_guests

    guest_names = [n for n in args.guest.split(',') if n]
    unknown = [n for n in guest_names if n not in GUESTS]
    if unknown or not guest_names:
        parser.error('unknown guest(s) %s; known: %s' % (', '.join(unknown) or '(none)', ', '.join(GUESTS)))
    if explicit_guest_icd and 'bookworm' not in guest_names:
        parser.error('--guest-icd names the bookworm guest\'s driver; the roots bring their own')
    only = [n for item in args.only for n in item.split(',') if n]
    unknown = [n for n in only if n not in WORKLOAD_NAMES]
    if unknown:
        parser.error('unknown workload(s) %s; known: %s' % (', '.join(unknown), ', '.join(WORKLOAD_NAMES)))
    workloads = [w for w in WORKLOADS if not only or w.name in only]
    if only and 'memory' not in only:
        memory_guests = []
    reference = not args.no_reference
    ways = ['native'] + (['reference'] if reference else []) + ['pvgpu'] + (['pvgpu-crutch'] if reference else [])

    problems = []
    for what, path in (('pvbench', args.pvbench), ('pvgpu', args.pvgpu)):
        if not os.access(path, os.X_OK):
            problems.append('%s missing at %s; build with ninja -C %s' % (what, path, build))
    for shader in ('cube.vert.spv', 'cube.frag.spv', 'draw.vert.spv', 'draw.frag.spv', 'saxpy.comp.spv'):
        if not os.path.isfile(os.path.join(args.shader_dir, shader)):
            problems.append('shader %s missing in %s' % (shader, args.shader_dir))
    if not os.path.isfile(args.host_icd):
        problems.append('host ICD %s missing' % args.host_icd)
    guests = []
    for name in dict.fromkeys(guest_names):
        guest = Guest(name, args)
        problems += guest.problems(args, reference)
        guests.append(guest)
    tools = ['timeout']
    if reference:
        tools += ['unshare', 'bash'] + (['chroot'] if any(g.root for g in guests) else [])
        tools += ['virgl_test_server'] if any(not g.root for g in guests) else []
    problems += ['%s not found%s' % (t, ' (--no-reference skips the reference)' if t != 'timeout' else '')
                 for t in tools if not shutil.which(t)]
    if problems:
        for p in problems:
            print('FAIL: %s' % p, file=sys.stderr)
        return 1

    rc = 0
    for i, guest in enumerate(guests):
        if i:
            print()
        rc |= run_guest(args, guest, workloads, memory_guests, repetitions, ways)
    return rc


if __name__ == '__main__':
    sys.exit(main())
