#!/usr/bin/python3
"""Hostile neighbour: four guests render the cube through one `pvgpu serve` while a fifth sends
garbage, and the server stays up.

Inside a private mount namespace with a fresh tmpfs on /tmp (the 22.3.6 driver's socket path is
fixed at /tmp/.virgl_test), the test starts `pvgpu serve`, then at the same time

  - 4 instances of guest_cube on the Venus guest driver (each under `timeout`), each run
    --cube-rounds times in a row and then again while the garbage guest is still at work (up to
    --cube-max-rounds), and
  - test_garbage_guest, which connects many times in a row (and in overlapping pairs), sending
    one kind of garbage per connection: random bytes instead of a vtest header, random vtest
    messages after a valid handshake, random and mutated Venus streams, truncated commands, ids
    of freed and never-created objects, counts near 2^32 and 2^64, out-of-bounds blob offsets,
    a ring whose tail runs ahead of its buffer, unknown command types, guests killed in the
    middle of a message. It goes through its cases at least once, and again while cube guests
    are still running, so that the garbage lasts as long as they do.

It asserts:
  - every cube run exits 0 with `PASS cube` and digests identical to a native run of guest_cube
    (run first, on the host ICD directly);
  - the garbage guest saw the host close every garbage connection (for killed guests, the guest
    side closes) and exits 0;
  - the server log has, for every garbage connection, a `context N (...): fatal: <reason>` or a
    `vtest: context N: <reason>` line; every context that was created (garbage, cube or the
    final vulkaninfo) has its teardown line `context N (...): teardown released ...; left: 0
    objects, 0 bytes, 0 blobs, 0 rings`, written before the server is stopped, and its worker
    holds no fd or memfd mapping more after the teardown than before the context; no cube or
    vulkaninfo context is fatal or has a vtest error; every connection is accounted for;
  - no worker was killed by a signal or had to be killed at the stop, and no sanitizer report;
  - the server is still alive afterwards and serves one more guest (`vulkaninfo --summary`,
    exit 0); on SIGTERM it exits 0.

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU (default $PVGPU_BUILD_DIR/pvgpu),
PVGPU_GUEST_ICD (default $PVGPU_BUILD_DIR/guest-driver/virtio_icd.json). Logs go to
<build>/tests/hostile-neighbour/ (--out-dir): server.log, garbage.txt, native/ and cube-<n>/.
"""

import argparse
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'
SOCKET = '/tmp/.virgl_test'
PRIVATE_TMP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           'scripts', 'private-tmp.sh')
INNER_MARK = 'PV_HOSTILE_NEIGHBOUR_INNER'

LINE = re.compile(r'^pvgpu\[(\d+)\]: (.*)$')
CONNECTED = re.compile(r'^context (\d+): guest connected, worker pid (\d+)$')
CREATED = re.compile(r'^context (\d+): created for "(.*)"$')
FATAL = re.compile(r'^context (\d+) \((.*)\): fatal: (.*)$')
VTEST_ERROR = re.compile(r'^vtest: context (\d+): (.*)$')
TEARDOWN = re.compile(r'^context (\d+) \((.*)\): teardown released (.*); left: (\d+) objects, (\d+) bytes, '
                      r'(\d+) blobs, (\d+) rings$')
CENSUS = re.compile(r'^context (\d+) \((.*)\): after teardown the worker holds (\d+) fds and (\d+) memfd '
                    r'mappings more than before the context')
WORKER_EXIT = re.compile(r'^context worker (\d+) exited with status (\d+)$')
CONN = re.compile(r'^conn (\d+) case (\S+) name (\S+) context (yes|no) closed (\S+) ms (\d+) (.*)$')
SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'WARNING: AddressSanitizer', 'ERROR: LeakSanitizer',
                     'runtime error:', 'ThreadSanitizer', 'SUMMARY: UndefinedBehaviorSanitizer')


def base_env():
    env = dict(os.environ)
    for key in ('VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_INSTANCE_LAYERS', 'PV_GUEST_VALIDATION', 'VN_DEBUG',
                'PVGPU_DEBUG'):
        env.pop(key, None)
    return env


def digests(output):
    return [line for line in output.splitlines() if line.startswith('digest ')]


class Failures:
    def __init__(self):
        self.items = []

    def add(self, text):
        self.items.append(text)

    def __bool__(self):
        return bool(self.items)


class CubeRun:
    def __init__(self, slot, round_, code, output, errors, seconds):
        self.slot = slot
        self.round = round_
        self.code = code
        self.output = output
        self.errors = errors
        self.seconds = seconds


def run_cube(program, env, timeout, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    start = time.monotonic()
    proc = subprocess.run(['timeout', '%d' % timeout, program], env=dict(env, PV_GUEST_OUT_DIR=out_dir),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (proc.returncode, proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace'),
            time.monotonic() - start)


def cube_slot(slot, program, env, args, garbage_done, results, slot_done):
    """Runs guest_cube --cube-rounds times in a row, then again while the garbage guest goes on."""
    for round_ in range(max(args.cube_rounds, args.cube_max_rounds)):
        if round_ == args.cube_rounds:
            slot_done()
        if round_ >= args.cube_rounds and garbage_done.is_set():
            break
        out_dir = os.path.join(args.out_dir, 'cube-%d' % slot)
        code, output, errors, seconds = run_cube(program, env, args.timeout, out_dir)
        with open(os.path.join(out_dir, 'run-%d.log' % round_), 'w') as log:
            log.write('--- stdout\n%s--- stderr\n%s--- exit %d, %.1f s\n' % (output, errors, code, seconds))
        results.append(CubeRun(slot, round_, code, output, errors, seconds))
    if round_ < args.cube_rounds:
        slot_done()


def read_log(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''


class Log:
    """The server log, parsed per context."""

    def __init__(self, text):
        self.text = text
        self.connected = {}   # context -> worker pid
        self.created = {}     # context -> process name
        self.by_name = {}     # process name -> [contexts]
        self.fatal = {}       # context -> [reasons]
        self.vtest = {}       # context -> [reasons]
        self.teardown = {}    # context -> (left tuple, whole line)
        self.census = {}      # context -> (fds, memfd mappings) more after teardown than before
        self.exits = {}       # context -> status
        self.killed = []
        self.stop_kills = []
        self.sanitizer = []
        for raw in text.splitlines():
            if any(marker in raw for marker in SANITIZER_MARKERS):
                self.sanitizer.append(raw)
            m = LINE.match(raw)
            if not m:
                continue
            body = m.group(2)
            if 'killed by signal' in body:
                self.killed.append(raw)
            if 'did not stop, killing it' in body:
                self.stop_kills.append(raw)
            for regex, action in ((CONNECTED, self._connected), (CREATED, self._created), (FATAL, self._fatal),
                                  (VTEST_ERROR, self._vtest), (TEARDOWN, self._teardown),
                                  (CENSUS, self._census), (WORKER_EXIT, self._exit)):
                mm = regex.match(body)
                if mm:
                    action(mm, raw)
                    break

    def _connected(self, m, raw):
        self.connected[int(m.group(1))] = int(m.group(2))

    def _created(self, m, raw):
        ctx = int(m.group(1))
        self.created[ctx] = m.group(2)
        self.by_name.setdefault(m.group(2), []).append(ctx)

    def _fatal(self, m, raw):
        self.fatal.setdefault(int(m.group(1)), []).append(m.group(3))

    def _vtest(self, m, raw):
        self.vtest.setdefault(int(m.group(1)), []).append(m.group(2))

    def _teardown(self, m, raw):
        left = tuple(int(m.group(i)) for i in range(4, 8))
        self.teardown[int(m.group(1))] = (left, raw)

    def _census(self, m, raw):
        self.census[int(m.group(1))] = (int(m.group(3)), int(m.group(4)))

    def _exit(self, m, raw):
        self.exits[int(m.group(1))] = int(m.group(2))

    def lines_of(self, ctx):
        pattern = re.compile(r'^pvgpu\[\d+\]: (vtest: )?context %d[: ]' % ctx)
        return [l for l in self.text.splitlines() if pattern.match(l)]


def wait_for_socket(server, log_path, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            if stat.S_ISSOCK(os.stat(SOCKET).st_mode) and 'serving vtest on' in read_log(log_path):
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def short(text, width=110):
    return text if len(text) <= width else text[:width - 3] + '...'


def inner(args):
    failures = Failures()
    started = time.monotonic()
    os.makedirs(args.out_dir, exist_ok=True)
    for name in os.listdir(args.out_dir):
        path = os.path.join(args.out_dir, name)
        if os.path.isdir(path) and (name.startswith('cube-') or name == 'native'):
            shutil.rmtree(path)

    program = os.path.join(args.bin_dir, 'guest_cube')
    env = base_env()
    env['PV_GUEST_SHADER_DIR'] = args.shader_dir

    # 1. The reference digests: guest_cube on the host ICD directly.
    native_env = dict(env, VK_ICD_FILENAMES=args.host_icd, VK_DRIVER_FILES=args.host_icd)
    code, output, errors, seconds = run_cube(program, native_env, args.timeout, os.path.join(args.out_dir, 'native'))
    with open(os.path.join(args.out_dir, 'native', 'run.log'), 'w') as log:
        log.write('--- stdout\n%s--- stderr\n%s--- exit %d, %.1f s\n' % (output, errors, code, seconds))
    native_digest = digests(output)
    print('native guest_cube: exit %d, %d digest lines, %.1f s' % (code, len(native_digest), seconds))
    if code != 0 or 'PASS cube' not in output.splitlines() or not native_digest:
        print('FAIL: guest_cube does not pass natively (log %s/native/run.log)' % args.out_dir)
        return 1

    # 2. The server.
    log_path = os.path.join(args.out_dir, 'server.log')
    server_env = dict(base_env(), VK_ICD_FILENAMES=args.host_icd, VK_DRIVER_FILES=args.host_icd)
    log_file = open(log_path, 'w')
    # The cubes are Mesa 22.3.6 guests, and so is the garbage guest's framing.
    server = subprocess.Popen([args.pvgpu, 'serve', '--protocol', '2022'], env=server_env, stdin=subprocess.DEVNULL, stdout=log_file,
                              stderr=subprocess.STDOUT)
    try:
        if not wait_for_socket(server, log_path, 15):
            print('FAIL: pvgpu serve did not start listening on %s (log %s)' % (SOCKET, log_path))
            return 1
        print('pvgpu serve: pid %d, socket %s, log %s' % (server.pid, SOCKET, log_path))
        sys.stdout.flush()
        return run_guests(args, env, program, native_digest, server, log_path, failures, started)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log_file.close()


def run_guests(args, env, program, native_digest, server, log_path, failures, started):
    guest_env = dict(env, VK_ICD_FILENAMES=args.guest_icd, VK_DRIVER_FILES=args.guest_icd, VN_DEBUG='vtest')

    # 3. Four cube guests and the garbage guest, all at once.
    garbage_out = os.path.join(args.out_dir, 'garbage.txt')
    garbage_err = os.path.join(args.out_dir, 'garbage-stderr.txt')
    results = []
    # The garbage guest starts another pass of its cases while this file exists: until every cube
    # guest has had its --cube-rounds runs.
    cubes_running = '/tmp/.hostile-neighbour-cubes-running'
    open(cubes_running, 'w').close()
    pending = [args.cubes]
    lock = threading.Lock()

    def slot_done():
        with lock:
            pending[0] -= 1
            if pending[0] == 0:
                os.unlink(cubes_running)

    garbage_done = threading.Event()
    slots = [threading.Thread(target=cube_slot, args=(slot, program, guest_env, args, garbage_done, results,
                                                      slot_done))
             for slot in range(1, args.cubes + 1)]
    phase_start = time.monotonic()
    with open(garbage_out, 'w') as out, open(garbage_err, 'w') as err:
        garbage = subprocess.Popen(['timeout', '%d' % args.garbage_timeout, args.garbage_guest, '--socket', SOCKET,
                                    '--while-exists', cubes_running]
                                   + (['--seed', args.seed] if args.seed else []) + args.garbage_arg,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=base_env())
        for t in slots:
            t.start()
        garbage_code = garbage.wait()
        garbage_seconds = time.monotonic() - phase_start
        garbage_done.set()
        for t in slots:
            t.join()
        cube_seconds = time.monotonic() - phase_start

    # Cube guests.
    results.sort(key=lambda r: (r.slot, r.round))
    bad_cubes = 0
    for r in results:
        problems = []
        if r.code == 124:
            problems.append('timed out after %d s' % args.timeout)
        elif r.code != 0:
            problems.append('exit %d' % r.code)
        if 'PASS cube' not in r.output.splitlines():
            problems.append('no "PASS cube"')
        got = digests(r.output)
        if got != native_digest:
            differing = [d for d in got if d not in native_digest] or ['(missing: %s)' % ', '.join(
                d for d in native_digest if d not in got)]
            problems.append('digests differ from native: %s' % '; '.join(differing[:3]))
        if problems:
            bad_cubes += 1
            failures.add('cube guest %d, run %d: %s (log %s/cube-%d/run-%d.log)' % (
                r.slot, r.round + 1, ', '.join(problems), args.out_dir, r.slot, r.round))
            for line in (r.output + r.errors).splitlines():
                if line.startswith(('FAIL', 'check failed')) or 'fatal' in line:
                    failures.add('    ' + short(line))
    per_slot = [sum(1 for r in results if r.slot == s) for s in range(1, args.cubes + 1)]

    # Garbage guest.
    conns = []
    garbage_text = read_log(garbage_out)
    for line in garbage_text.splitlines():
        m = CONN.match(line)
        if m:
            conns.append({'index': int(m.group(1)), 'case': m.group(2), 'name': m.group(3),
                          'context': m.group(4) == 'yes', 'closed': m.group(5), 'ms': int(m.group(6)),
                          'result': m.group(7)})
    if garbage_code != 0:
        failures.add('garbage guest exited %d (%s)' % (garbage_code, 'timed out' if garbage_code == 124 else
                                                       'see the FAIL connections below'))
    if not conns:
        failures.add('garbage guest reported no connections (stdout %s, stderr %s)' % (garbage_out, garbage_err))
    for c in conns:
        if c['result'] != 'ok':
            failures.add('garbage conn %d (%s): %s' % (c['index'], c['case'], c['result']))

    # 4. Still alive? One more guest.
    alive_after_garbage = server.poll() is None
    if not alive_after_garbage:
        failures.add('the server exited (status %s) while the guests ran' % server.returncode)
    vulkaninfo_ok = False
    vulkaninfo_device = ''
    if alive_after_garbage:
        proc = subprocess.run(['timeout', '60', 'vulkaninfo', '--summary'], env=guest_env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        vi_out = proc.stdout.decode('utf-8', 'replace')
        with open(os.path.join(args.out_dir, 'vulkaninfo.log'), 'w') as f:
            f.write(vi_out + '--- stderr\n' + proc.stderr.decode('utf-8', 'replace'))
        names = [l.split('=', 1)[1].strip() for l in vi_out.splitlines() if l.strip().startswith('deviceName')]
        vulkaninfo_device = names[0] if names else ''
        vulkaninfo_ok = proc.returncode == 0 and bool(names)
        if not vulkaninfo_ok:
            failures.add('vulkaninfo --summary through the server after the garbage: exit %d%s (log %s)' % (
                proc.returncode, ', no deviceName' if not names else '', os.path.join(args.out_dir, 'vulkaninfo.log')))

    # 5. Every created context must be torn down on its own, before the server is stopped.
    deadline = time.monotonic() + 10
    while True:
        log = Log(read_log(log_path))
        missing = [ctx for ctx in log.created if ctx not in log.teardown]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for ctx in missing:
        failures.add('context %d (%s) has no teardown line 10 s after its guest ended (before the stop)' % (
            ctx, log.created[ctx]))
    alive_at_end = server.poll() is None
    if alive_after_garbage and not alive_at_end:
        failures.add('the server exited (status %s) after vulkaninfo' % server.returncode)

    # 6. Stop it.
    stop_status = None
    if alive_at_end:
        server.send_signal(signal.SIGTERM)
        try:
            stop_status = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            failures.add('the server did not exit within 15 s of SIGTERM')
            server.kill()
            server.wait()
        if stop_status is not None and stop_status != 0:
            failures.add('the server exited %d on SIGTERM, expected 0' % stop_status)
    log = Log(read_log(log_path))

    # 7. The log, context by context.
    cube_contexts = log.by_name.get('guest_cube', [])
    vulkaninfo_contexts = log.by_name.get('vulkaninfo', [])
    if len(cube_contexts) != len(results):
        failures.add('%d guest_cube contexts in the log for %d cube runs' % (len(cube_contexts), len(results)))
    if alive_after_garbage and len(vulkaninfo_contexts) != 1:
        failures.add('%d vulkaninfo contexts in the log, expected 1' % len(vulkaninfo_contexts))
    for ctx in cube_contexts + vulkaninfo_contexts:
        for reason in log.fatal.get(ctx, []):
            failures.add('well-behaved context %d (%s) was made fatal: %s' % (ctx, log.created[ctx], reason))
        for reason in log.vtest.get(ctx, []):
            failures.add('well-behaved context %d (%s) had a vtest error: %s' % (ctx, log.created[ctx], reason))
        if ctx in log.exits:
            failures.add('well-behaved context %d (%s): worker exited with status %d' % (
                ctx, log.created[ctx], log.exits[ctx]))

    for ctx, name in sorted(log.created.items()):
        if ctx not in log.teardown:
            failures.add('context %d (%s): no teardown line, even after the stop' % (ctx, name))
            continue
        left, line = log.teardown[ctx]
        if left != (0, 0, 0, 0):
            failures.add('context %d (%s) leaked: %s' % (ctx, name, line.split(': ', 1)[1]))
        if log.census.get(ctx) != (0, 0):
            failures.add('context %d (%s): its worker holds %s fds and memfd mappings more after teardown than '
                         'before the context' % (ctx, name, log.census.get(ctx, 'no count of the')))

    conn_context = {}
    rows = []
    for c in conns:
        reasons = []
        ctx = None
        if c['context']:
            found = log.by_name.get(c['name'], [])
            if len(found) != 1:
                failures.add('garbage conn %d (%s): %d contexts created for "%s" in the log, expected 1' % (
                    c['index'], c['case'], len(found), c['name']))
            else:
                ctx = found[0]
                conn_context[c['index']] = ctx
                reasons = ['fatal: ' + r for r in log.fatal.get(ctx, [])] + \
                          ['vtest: ' + r for r in log.vtest.get(ctx, [])]
                if not reasons:
                    failures.add('garbage conn %d (%s), context %d: no "context %d (...): fatal: ..." or '
                                 '"vtest: context %d: ..." line; its lines:' % (c['index'], c['case'], ctx, ctx, ctx))
                    for line in log.lines_of(ctx):
                        failures.add('    ' + short(line, 160))
        rows.append((c, ctx, reasons))

    # Connections that never got a context: each must have a vtest protocol-error line.
    named = set(log.created)
    anonymous = sorted(ctx for ctx in log.connected if ctx not in named)
    expected_anonymous = [c for c in conns if not c['context']]
    if len(anonymous) != len(expected_anonymous):
        failures.add('%d connections without a context in the log, the garbage guest made %d such' % (
            len(anonymous), len(expected_anonymous)))
    for ctx in anonymous:
        if ctx not in log.vtest:
            failures.add('connection %d ended before its context with no "vtest: context %d: ..." line; its lines:' % (
                ctx, ctx))
            for line in log.lines_of(ctx):
                failures.add('    ' + short(line, 160))
    anonymous_reasons = ['vtest: ' + log.vtest[ctx][0] for ctx in anonymous if ctx in log.vtest]
    ai = 0
    for i, (c, ctx, reasons) in enumerate(rows):
        if not c['context'] and ai < len(anonymous_reasons):
            rows[i] = (c, None, [anonymous_reasons[ai] + ' (a context-less connection, matched in order)'])
            ai += 1

    total_expected = len(results) + len(conns) + len(vulkaninfo_contexts)
    if len(log.connected) != total_expected:
        failures.add('%d connections in the log, expected %d (%d cube runs, %d garbage, %d vulkaninfo)' % (
            len(log.connected), total_expected, len(results), len(conns), len(vulkaninfo_contexts)))

    for line in log.killed:
        failures.add('a worker was killed by a signal: ' + line)
    for line in log.stop_kills:
        failures.add('a worker had to be killed at the stop: ' + line)
    for line in log.sanitizer[:20]:
        failures.add('sanitizer: ' + line)

    # Summary.
    total = time.monotonic() - started
    print()
    print('garbage connections (%s), each case once and every failure:' % garbage_out)
    shown = set()
    repeats = 0
    for c, ctx, reasons in rows:
        state = 'ok  ' if c['result'] == 'ok' and (reasons or not c['context']) else 'FAIL'
        if state == 'ok  ' and c['case'] in shown:
            repeats += 1
            continue
        shown.add(c['case'])
        where = ('ctx %-4d' % ctx) if ctx is not None else 'no ctx  '
        print('  %s %3d %-28s %s closed by %-5s %s' % (state, c['index'], c['case'], where, c['closed'],
                                                       short(reasons[0] if reasons else '(no reason logged)', 90)))
    if repeats:
        print('  (and %d more connections repeating these cases, all ok)' % repeats)
    print()
    print('cube guests: %d runs (%s per instance) in %.1f s; %d failed' % (
        len(results), '/'.join(str(n) for n in per_slot), cube_seconds, bad_cubes))
    passes = re.search(r'in (\d+) passes', garbage_text)
    print('garbage guest: %d connections (%d without a context) in %s passes, %.1f s, exit %d' % (
        len(conns), len(expected_anonymous), passes.group(1) if passes else '?', garbage_seconds, garbage_code))
    print('contexts: %d created, %d torn down with nothing left' % (
        len(log.created), sum(1 for c in log.teardown.values() if c[0] == (0, 0, 0, 0))))
    print('server: alive after the guests: %s; vulkaninfo --summary: %s%s; SIGTERM exit status: %s' % (
        'yes' if alive_after_garbage else 'NO', 'ok' if vulkaninfo_ok else 'FAILED',
        ' (%s)' % vulkaninfo_device if vulkaninfo_device else '', stop_status))
    print('killed workers: %d, sanitizer reports: %d' % (len(log.killed), len(log.sanitizer)))
    print('time: %.1f s' % total)
    print()
    if failures:
        print('failures:')
        for f in failures.items:
            print('  ' + f)
        print()
        print('FAIL hostile-neighbour (server log %s)' % log_path)
        return 1
    print('PASS hostile-neighbour')
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    build = os.environ.get('PVGPU_BUILD_DIR') or os.path.join(root, 'build')
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pvgpu', default=os.environ.get('PVGPU') or os.path.join(build, 'pvgpu'))
    parser.add_argument('--guest-icd', default=os.environ.get('PVGPU_GUEST_ICD') or
                        os.path.join(build, 'guest-driver', 'virtio_icd.json'))
    parser.add_argument('--host-icd', default=LAVAPIPE_ICD, help='the host Vulkan driver (server and native run)')
    parser.add_argument('--bin-dir', default=os.path.join(build, 'tests', 'guest'), help='where guest_cube is')
    parser.add_argument('--shader-dir', help='compiled shaders (default: --bin-dir)')
    parser.add_argument('--garbage-guest', default=os.path.join(build, 'tests', 'test_garbage_guest'))
    parser.add_argument('--out-dir', default=os.path.join(build, 'tests', 'hostile-neighbour'))
    parser.add_argument('--cubes', type=int, default=4, help='cube guests at once')
    parser.add_argument('--cube-rounds', type=int, default=10, help='runs of each cube guest, one after the other')
    parser.add_argument('--cube-max-rounds', type=int, default=100,
                        help='most runs of each cube guest while the garbage guest goes on')
    parser.add_argument('--timeout', type=int, default=120, help='seconds per guest_cube run')
    parser.add_argument('--garbage-timeout', type=int, default=150, help='seconds for the garbage guest')
    parser.add_argument('--seed', help='seed for the garbage guest (default: its own)')
    parser.add_argument('--garbage-arg', action='append', default=[],
                        help='extra argument for the garbage guest (repeatable), e.g. --garbage-arg=--only '
                             '--garbage-arg=ring-tail-ahead to reproduce one case')
    args = parser.parse_args()

    for name in ('pvgpu', 'guest_icd', 'bin_dir', 'garbage_guest', 'out_dir', 'host_icd'):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    args.shader_dir = os.path.abspath(args.shader_dir or args.bin_dir)

    if os.environ.get(INNER_MARK) == '1':
        return inner(args)

    problems = []
    for path, what in ((args.pvgpu, 'pvgpu'), (os.path.join(args.bin_dir, 'guest_cube'), 'guest_cube'),
                       (args.garbage_guest, 'the garbage guest')):
        if not os.access(path, os.X_OK):
            problems.append('%s missing at %s; build with ninja' % (what, path))
    for path, what in ((args.guest_icd, 'guest driver (scripts/setup-guest-driver.sh builds it)'),
                       (args.host_icd, 'host ICD'), (os.path.join(args.shader_dir, 'cube.vert.spv'), 'cube shaders')):
        if not os.path.isfile(path):
            problems.append('%s missing: %s' % (what, path))
    for tool in ('unshare', 'mount', 'timeout', 'vulkaninfo'):
        if not shutil.which(tool):
            problems.append('%s not found' % tool)
    if problems:
        for p in problems:
            print('FAIL: %s' % p)
        return 1

    os.makedirs(args.out_dir, exist_ok=True)  # made here, to outlive the private /tmp
    # Re-run inside a private mount namespace (own /tmp) and pid namespace (nothing outlives it),
    # with its own /proc: LeakSanitizer in the workers reads its threads there.
    command = ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child',
               '--mount-proc']
    if os.geteuid() != 0:
        command.append('--map-root-user')
    # A fresh /tmp of its own there, so that /tmp/.virgl_test is the test's whatever runs
    # outside; what the test needs from the old /tmp stays visible.
    command += [PRIVATE_TMP, args.pvgpu, args.guest_icd, args.host_icd, args.bin_dir, args.shader_dir,
                args.garbage_guest, args.out_dir, os.path.abspath(__file__), '--',
                sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    proc = subprocess.Popen(command, env=dict(os.environ, **{INNER_MARK: '1'}))

    def stop(sig, frame):
        proc.kill()  # --kill-child takes the whole namespace with it
        sys.exit(128 + sig)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return proc.wait()


if __name__ == '__main__':
    sys.exit(main())
