#!/usr/bin/python3
"""Runs every guest program three ways and compares them.

  native     on the host ICD directly (lavapipe), under the validation layer;
  reference  on the Venus guest driver against the reference host, virglrenderer's
             `virgl_test_server --venus`, in a private mount namespace with its own /tmp and a
             short timeout (older drivers spin forever once that host drops them): Debian
             bookworm's (0.10.4) for the bookworm guest; for a Debian guest root, that release's
             own, on that release's lavapipe, chrooted in the root;
  pvgpu      on the Venus guest driver through `pvgpu run --guest`; with
             --pvgpu-arg=--validate, a validation message from the host's own Vulkan calls fails
             the run too.

The guest (--guest) is bookworm (Mesa 22.3.6 built from Debian's source, the 2022 protocol) or
trixie or sid (Debian roots with Mesa 25.0.7 and 26.2.6 as Debian ships them, the current one).

A program passes a run when it exits 0 after printing "PASS <name>". Its "digest" lines (hashes of
what the device computed, exact counts) must be identical through pvgpu and natively: both end
on the same host ICD. Exit status: 1 if any program fails natively, fails through pvgpu or gives
a different digest through pvgpu; the reference column is informational.

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU (default $PVGPU_BUILD_DIR/pvgpu).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

PROGRAMS = ['clear', 'triangle', 'cube', 'texture', 'saxpy', 'indirect', 'timeline', 'queries', 'upload',
            'threads', 'events', 'copies', 'renderpass2', 'dynamic', 'pipelines', 'extensions', 'bigstream',
            'sync2', 'memtypes']
LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'
GUESTS = ['bookworm', 'trixie', 'sid']
# Inside a Debian guest root: its Venus driver and its lavapipe (for its reference server).
ROOT_GUEST_ICD = '/usr/share/vulkan/icd.d/virtio_icd.json'
ROOT_LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json'
VALIDATION_LAYER_JSON = '/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json'
FATAL_LINE = re.compile(r'pvgpu\[[^\]]*\]: .*fatal.*')
# What `pvgpu run --validate` logs for each message of the layer in the host's instance.
HOST_VALIDATION_LINE = re.compile(r'pvgpu\[[^\]]*\]: context \d+ \(.*\): validation .*')

# The reference run: scripts/under-virgl-test-server.sh in a private mount and pid namespace.
VIRGL_TEST_SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'scripts', 'under-virgl-test-server.sh')


class Run:
    """The outcome of one program run one way."""

    def __init__(self, status, seconds, output='', errors='', exit_code=None, log=None):
        self.status = status  # 'pass', 'fail', 'timeout', 'skip' (not run, with a reason)
        self.seconds = seconds
        self.output = output
        self.errors = errors
        self.exit_code = exit_code
        self.log = log
        self.digest = [line for line in output.splitlines() if line.startswith('digest ')]
        self.digest_matches = None  # vs native; None = not compared
        self.note = ''  # replaces the exit status in the cell
        self.reasons = []  # extra lines for the failure details

    def cell(self):
        if self.status == 'skip':
            return 'not run'
        text = self.status
        if self.status == 'pass' and self.digest_matches is False:
            text = 'fail (digest differs)'
        elif self.note:
            text = '%s (%s)' % (self.status, self.note)
        elif self.status == 'fail' and self.exit_code is not None and self.exit_code < 0:
            text = 'fail (signal %d)' % -self.exit_code
        elif self.status == 'fail' and self.exit_code not in (None, 0, 1):
            text = 'fail (exit %d)' % self.exit_code
        return '%s %.1fs' % (text, self.seconds)

    def ok(self):
        return self.status == 'pass' and self.digest_matches is not False

    def failure_lines(self):
        lines = [line for line in self.output.splitlines()
                 if line.startswith(('FAIL ', 'check failed', 'validation '))]
        lines += FATAL_LINE.findall(self.errors)
        lines += HOST_VALIDATION_LINE.findall(self.errors)[:4]
        return lines + self.reasons


def select_programs(parser, only_args):
    """PROGRAMS, or those --only names (repeatable or comma-separated); unknown names are an error."""
    only = [n for item in only_args for n in item.split(',') if n]
    unknown = [n for n in only if n not in PROGRAMS]
    if unknown:
        parser.error('unknown program(s) %s; known: %s' % (', '.join(unknown), ', '.join(PROGRAMS)))
    return [p for p in PROGRAMS if not only or p in only]


def run_process(command, env, timeout, log_path):
    """Runs command in its own process group; on timeout the whole group is killed."""
    start = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    timed_out = False
    try:
        output, errors = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                output, errors = process.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            output, errors = b'', b''
    seconds = time.monotonic() - start
    output = output.decode('utf-8', 'replace')
    errors = errors.decode('utf-8', 'replace')
    with open(log_path, 'w') as log:
        log.write('$ %s\n' % ' '.join(command))
        log.write('--- stdout\n%s--- stderr\n%s' % (output, errors))
        log.write('--- exit %s%s, %.1f s\n' % (process.returncode, ' (timed out)' if timed_out else '', seconds))
    return output, errors, process.returncode, timed_out, seconds


def classify(name, output, errors, code, timed_out, seconds, log_path, timeout_codes=()):
    if timed_out or code in timeout_codes:
        status = 'timeout'
    elif code == 0 and ('PASS %s' % name) in output.splitlines():
        status = 'pass'
    else:
        status = 'fail'
    return Run(status, seconds, output, errors, code, log_path)


def classify_reference(name, server_log, *outcome):
    """A reference run; exit 92 = the server dropped the guest (scripts/under-virgl-test-server.sh)."""
    run = classify(name, *outcome, timeout_codes=(124,))
    if run.exit_code == 92:
        run.note = 'host dropped the guest'
        try:
            with open(server_log, errors='replace') as f:
                reasons = [l.strip() for l in f if 'fail' in l or 'error' in l.lower()]
        except OSError:
            reasons = []
        run.reasons = ['server: ' + r for r in reasons[:4]]
    return run


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    build = os.environ.get('PVGPU_BUILD_DIR') or os.path.join(root, 'build')

    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--bin-dir', default=os.path.join(build, 'tests', 'guest'),
                        help='where the guest_* programs and the .spv shaders are')
    parser.add_argument('--shader-dir', help='compiled shaders (default: --bin-dir)')
    parser.add_argument('--out-dir', help='logs and image dumps (default: <bin-dir>/out/<pvgpu mode>)')
    parser.add_argument('--pvgpu', default=os.environ.get('PVGPU') or os.path.join(build, 'pvgpu'))
    parser.add_argument('--guest', choices=GUESTS, default='bookworm',
                        help='the guest the pvgpu and reference columns run on')
    parser.add_argument('--host-icd', default=LAVAPIPE_ICD, help='the host Vulkan driver for every run')
    parser.add_argument('--pvgpu-arg', action='append', default=[],
                        help='extra argument for `pvgpu run` (repeatable), e.g. --pvgpu-arg=--validate')
    parser.add_argument('--only', action='append', default=[],
                        help='run only this program (repeatable or comma-separated)')
    parser.add_argument('--no-reference', action='store_true', help='skip the reference host column')
    parser.add_argument('--no-validation', action='store_true', help='native runs without the validation layer')
    parser.add_argument('--validate-stack', action='store_true',
                        help='also run the validation layer on top of the guest driver')
    parser.add_argument('--timeout', type=float, default=300, help='seconds per native or pvgpu run')
    parser.add_argument('--reference-timeout', type=float, default=20, help='seconds per reference run')
    args = parser.parse_args()

    programs = select_programs(parser, args.only)

    bin_dir = os.path.abspath(args.bin_dir)
    shader_dir = os.path.abspath(args.shader_dir or bin_dir)
    # One out dir per guest and pvgpu mode, so that runs with other pvgpu arguments never share logs.
    label = '_'.join([args.guest] + [re.sub(r'[^A-Za-z0-9_.=-]+', '_', a.lstrip('-'))
                                     for a in args.pvgpu_arg])
    out_dir = os.path.abspath(args.out_dir or os.path.join(bin_dir, 'out', label))
    pvgpu = os.path.abspath(args.pvgpu)
    # The 2022 guest is a driver of the host system; the others are Debian roots.
    guest_root = None if args.guest == 'bookworm' else os.path.join(build, 'guest-roots', args.guest)
    guest_icd = (ROOT_GUEST_ICD if guest_root else
                 os.path.join(build, 'guest-driver', 'virtio_icd.json'))
    problems = []
    for name in programs:
        if not os.access(os.path.join(bin_dir, 'guest_' + name), os.X_OK):
            problems.append('program %s missing; build with ninja' % os.path.join(bin_dir, 'guest_' + name))
    if not os.access(pvgpu, os.X_OK):
        problems.append('pvgpu missing at %s' % pvgpu)
    if guest_root and not os.path.isfile(guest_root + guest_icd):
        problems.append('guest root %s missing; run scripts/setup-guest-roots.sh %s' % (guest_root, args.guest))
    if not guest_root and not os.path.isfile(guest_icd):
        problems.append('guest driver missing (%s); run scripts/setup-guest-driver.sh' % guest_icd)
    if not os.path.isfile(args.host_icd):
        problems.append('host ICD %s missing' % args.host_icd)
    validation = not args.no_validation
    if validation and not os.path.isfile(VALIDATION_LAYER_JSON):
        problems.append('validation layer missing (%s); install vulkan-validationlayers or pass --no-validation'
                        % VALIDATION_LAYER_JSON)
    reference = not args.no_reference
    if reference:
        for tool in ('virgl_test_server', 'unshare', 'timeout'):
            if not shutil.which(tool):
                problems.append('%s not found (needed for the reference column; --no-reference skips it)' % tool)
    if problems:
        for p in problems:
            print('FAIL: %s' % p, file=sys.stderr)
        return 1

    modes = ['native'] + (['reference'] if reference else []) + ['pvgpu']
    for mode in modes:
        os.makedirs(os.path.join(out_dir, mode), exist_ok=True)

    base_env = dict(os.environ)
    for key in ('VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_INSTANCE_LAYERS', 'PV_GUEST_VALIDATION', 'VN_DEBUG'):
        base_env.pop(key, None)
    base_env['PV_GUEST_SHADER_DIR'] = shader_dir

    pvgpu_command = [pvgpu, 'run', '--host-icd', args.host_icd, '--guest', args.guest]
    if guest_root:
        # A root sees the host's folders only where they are bound in.
        pvgpu_command += ['--bind', bin_dir, '--bind', shader_dir, '--bind', out_dir]
    pvgpu_command += args.pvgpu_arg
    unshare = ['unshare', '--mount', '--propagation', 'private', '--pid', '--kill-child']
    if os.geteuid() != 0:
        unshare.append('--map-root-user')
    print('guest suite: %d program(s) on the %s guest; host ICD %s; pvgpu run %s' %
          (len(programs), args.guest, args.host_icd, ' '.join(args.pvgpu_arg) or '(default mode)'))
    print('logs and image dumps under %s' % out_dir)
    sys.stdout.flush()

    results = {}
    for name in programs:
        program = os.path.join(bin_dir, 'guest_' + name)
        row = {}

        env = dict(base_env, VK_ICD_FILENAMES=args.host_icd, VK_DRIVER_FILES=args.host_icd,
                   PV_GUEST_OUT_DIR=os.path.join(out_dir, 'native'))
        if validation:
            env['PV_GUEST_VALIDATION'] = '1'
        log = os.path.join(out_dir, 'native', name + '.log')
        row['native'] = classify(name, *run_process([program], env, args.timeout, log), log)

        if reference:
            env = dict(base_env, PV_GUEST_OUT_DIR=os.path.join(out_dir, 'reference'))
            if args.validate_stack:
                env['PV_GUEST_VALIDATION'] = '1'
            log = os.path.join(out_dir, 'reference', name + '.log')
            server_log = os.path.join(out_dir, 'reference', name + '-server.log')
            if guest_root:
                env['PVGPU_REFERENCE_ROOT'] = guest_root
            command = unshare + ['bash', VIRGL_TEST_SERVER_SCRIPT, server_log,
                                 ROOT_LAVAPIPE_ICD if guest_root else args.host_icd,
                                 guest_icd, '%g' % args.reference_timeout, program]
            row['reference'] = classify_reference(name, server_log,
                                                  *run_process(command, env, args.reference_timeout + 15, log), log)

        env = dict(base_env, VK_ICD_FILENAMES=args.host_icd, VK_DRIVER_FILES=args.host_icd,
                   PV_GUEST_OUT_DIR=os.path.join(out_dir, 'pvgpu'))
        if args.validate_stack:
            env['PV_GUEST_VALIDATION'] = '1'
        log = os.path.join(out_dir, 'pvgpu', name + '.log')
        row['pvgpu'] = classify(name, *run_process(pvgpu_command + ['--', program], env, args.timeout, log), log)
        # With --pvgpu-arg=--validate, the host's own Vulkan use must be validation-clean too.
        host_messages = len(HOST_VALIDATION_LINE.findall(row['pvgpu'].errors))
        if host_messages and row['pvgpu'].status == 'pass':
            row['pvgpu'].status = 'fail'
            row['pvgpu'].note = '%d host validation message(s)' % host_messages

        native = row['native']
        for mode in ('reference', 'pvgpu'):
            if mode in row and native.status == 'pass' and row[mode].status == 'pass':
                row[mode].digest_matches = row[mode].digest == native.digest
        results[name] = row
        print('%-9s %s' % (name, '  '.join('%s: %s' % (m, row[m].cell()) for m in modes)))
        sys.stdout.flush()

    headers = ['program', 'native', 'reference host', 'pvgpu']
    table = []
    for name in programs:
        row = results[name]
        table.append([name, row['native'].cell(), row['reference'].cell() if 'reference' in row else 'not run',
                      row['pvgpu'].cell()])
    widths = [max(len(r[i]) for r in table + [headers]) for i in range(len(headers))]
    line = lambda cells: '| ' + ' | '.join(c.ljust(w) for c, w in zip(cells, widths)) + ' |'
    lines = [line(headers), '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    lines += [line(r) for r in table]
    print()
    print('\n'.join(lines))
    # Kept beside the logs, so that `make test` can show every mode's table at its end.
    with open(os.path.join(out_dir, 'table.md'), 'w') as f:
        f.write('guest suite, %s guest, pvgpu %s:\n\n%s\n' % (
            args.guest, ' '.join(args.pvgpu_arg) or 'default', '\n'.join(lines)))

    failed = []
    details = []
    for name in programs:
        row = results[name]
        for mode in modes:
            run = row[mode]
            if run.ok():
                continue
            if mode != 'reference':
                failed.append('%s (%s)' % (name, mode))
            lines = run.failure_lines()
            if run.status == 'pass' and run.digest_matches is False:
                native_digest = set(row['native'].digest)
                lines += ['digest differs: %s (native: %s)' % (d, ', '.join(
                    n for n in row['native'].digest if n.split(' ')[1] == d.split(' ')[1]) or 'none')
                    for d in run.digest if d not in native_digest]
            if run.status == 'timeout':
                lines.append('timed out after %.0f s' % run.seconds)
            details.append('%s, %s%s: log %s' % (name, mode, ' (informational)' if mode == 'reference' else '',
                                                 run.log))
            details += ['    ' + l for l in lines[:12]]
    if details:
        print()
        print('failures:')
        for d in details:
            print('  ' + d)
    print()
    if failed:
        print('FAIL: %s' % ', '.join(failed))
        return 1
    print('PASS: %d program(s) pass natively and through pvgpu with identical digests' % len(programs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
