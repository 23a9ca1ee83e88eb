#!/usr/bin/python3
"""The context workers' sandbox: a worker that tries a forbidden system call dies with SIGSYS,
only its guest is dropped, and its neighbours keep rendering.

One `pvgpu serve --test-hooks` on a socket in a private folder, given an extra inheritable fd
the way a careless parent would. At the same time:

  - 2 trixie guests (Mesa 25.0.7 in its Debian root) render guest_cube, twice each;
  - a raw vtest client connects and holds its context open while the test reads its worker's
    /proc: no_new_privs set, a seccomp filter in force, no core dumps, and neither the
    listening socket nor the inherited fd among its fds;
  - a raw vtest client named pvgpu-test-forbidden-syscall, whose worker (on a server with test
    hooks) tries execve once its context exists.

It asserts the socket was created 0600 (and `--socket-mode 0660` gives 0660), the hooked
worker was killed by SIGSYS and its client saw the connection close, every cube exited 0 with
digests identical to a native run, every other context was torn down clean, and the server
still serves a last guest (vulkaninfo --summary).

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU (default $PVGPU_BUILD_DIR/pvgpu).
"""

import os
import re
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from current_neighbours import (BUSY_WAIT, CONTEXT_INIT, CREATE_RENDERER, GET_CAPSET,  # noqa: E402
                                GET_PARAM, LAVAPIPE_ICD, PING, PROTOCOL_VERSION, ROOT_ICD, TEARDOWN,
                                RawGuest, in_root)

HOOK_NAME = 'pvgpu-test-forbidden-syscall'
SIGSYS = signal.SIGSYS.value


class NamedGuest(RawGuest):
    """A raw current guest with a name of its choosing, which waits until its context exists."""

    def __init__(self, path, name):
        super().__init__(path)
        self.name = name

    def handshake(self):
        self.send(CREATE_RENDERER, self.name.encode() + b'\0')
        self.send(PING)
        self.send(BUSY_WAIT, struct.pack('<II', 0, 0))
        self.reply()
        self.reply()
        self.send(PROTOCOL_VERSION, struct.pack('<I', 3))
        self.reply()
        self.send(GET_PARAM, struct.pack('<I', 1))
        self.reply()
        self.send(GET_CAPSET, struct.pack('<II', 4, 0))
        self.reply()
        self.send(CONTEXT_INIT, struct.pack('<I', 4))
        # The context exists once a ping after CONTEXT_INIT comes back.
        self.send(PING)
        self.send(BUSY_WAIT, struct.pack('<II', 0, 0))
        self.reply()
        self.reply()


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def proc_status(pid):
    fields = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            fields[key] = value.strip()
    return fields


def fd_targets(pid):
    targets = {}
    for name in os.listdir('/proc/%d/fd' % pid):
        try:
            targets[int(name)] = os.readlink('/proc/%d/fd/%s' % (pid, name))
        except OSError:
            pass
    return targets


def check_socket_mode(pvgpu, build, failures):
    """--socket-mode widens the socket; the default was checked on the main server."""
    folder = tempfile.mkdtemp(prefix='pvgpu-sandbox-mode-', dir=build)
    path = os.path.join(folder, 'sock')
    server = subprocess.Popen([pvgpu, 'serve', '--socket', path, '--socket-mode', '0660'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for(lambda: os.path.exists(path), 10):
            failures.append('pvgpu serve --socket-mode 0660 did not listen')
        else:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            print('socket with --socket-mode 0660: %04o' % mode)
            if mode != 0o660:
                failures.append('--socket-mode 0660 gave a socket of mode %04o' % mode)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run(['rm', '-rf', folder])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.abspath(os.environ.get('PVGPU_BUILD_DIR') or os.path.join(here, '..', '..', 'build'))
    pvgpu = os.environ.get('PVGPU') or os.path.join(build, 'pvgpu')
    bin_dir = os.path.join(build, 'tests', 'guest')
    root = os.path.join(build, 'guest-roots', 'trixie')
    if not os.path.exists(root + ROOT_ICD):
        print('FAIL: guest root %s missing; run scripts/setup-guest-roots.sh' % root)
        return 1
    failures = []
    guest_env = {'PV_GUEST_SHADER_DIR': bin_dir}
    native = subprocess.run([os.path.join(bin_dir, 'guest_cube')], env=dict(
        os.environ, VK_ICD_FILENAMES=LAVAPIPE_ICD, VK_DRIVER_FILES=LAVAPIPE_ICD, PV_GUEST_SHADER_DIR=bin_dir),
        stdout=subprocess.PIPE, timeout=120).stdout.decode()
    native_digest = [l for l in native.splitlines() if l.startswith('digest ')]

    socket_dir = tempfile.mkdtemp(prefix='pvgpu-sandbox-', dir=build)
    path = os.path.join(socket_dir, '.virgl_test')
    log_path = os.path.join(build, 'tests', 'sandbox.log')
    log = open(log_path, 'w')
    # An fd the server inherits: workers must not keep it.
    stray_read, stray_write = os.pipe()
    os.set_inheritable(stray_write, True)
    server = subprocess.Popen([pvgpu, 'serve', '--socket', path, '--test-hooks'], stdout=log,
                              stderr=subprocess.STDOUT, pass_fds=[stray_write],
                              env=dict(os.environ, VK_ICD_FILENAMES=LAVAPIPE_ICD, VK_DRIVER_FILES=LAVAPIPE_ICD))
    os.close(stray_write)
    try:
        if not wait_for(lambda: os.path.exists(path), 10):
            print('FAIL: pvgpu serve --test-hooks did not listen (log %s)' % log_path)
            return 1
        mode = stat.S_IMODE(os.stat(path).st_mode)
        print('socket: %s, mode %04o' % (path, mode))
        if mode != 0o600:
            failures.append('the socket was created with mode %04o, not 0600' % mode)

        cube = [os.path.join(bin_dir, 'guest_cube')]
        cubes = [in_root(root, socket_dir, bin_dir, cube, guest_env) for _ in range(2)]

        # A worker seen from outside, while its guest holds the context.
        watched = NamedGuest(path, 'sandbox-watched')
        watched.handshake()
        server_fds = fd_targets(server.pid)
        listen_socket = [t for t in server_fds.values() if t.startswith('socket:')]
        stray_target = 'pipe:[%d]' % os.fstat(stray_read).st_ino
        text = open(log_path).read()
        pids = re.findall(r'context (\d+): guest connected, worker pid (\d+)', text)
        created = dict(re.findall(r'context (\d+): created for "(.*)"', text))
        worker = [int(pid) for ctx, pid in pids if created.get(ctx) == 'sandbox-watched']
        if not worker:
            failures.append('no worker found for the watched guest (log %s)' % log_path)
        else:
            status = proc_status(worker[0])
            fds = fd_targets(worker[0])
            with open('/proc/%d/limits' % worker[0]) as f:
                core = [l for l in f if l.startswith('Max core file size')]
            print('watched worker %d: NoNewPrivs %s, Seccomp %s, %s; fds %s' % (
                worker[0], status.get('NoNewPrivs'), status.get('Seccomp'),
                ' '.join(core[0].split()[4:6]) if core else '?', sorted(fds.values())))
            if status.get('NoNewPrivs') != '1':
                failures.append('the worker has no_new_privs %s' % status.get('NoNewPrivs'))
            if status.get('Seccomp') != '2':
                failures.append('the worker has no seccomp filter (Seccomp: %s)' % status.get('Seccomp'))
            if not core or core[0].split()[4:6] != ['0', '0']:
                failures.append('the worker may dump core: %s' % (core[0].strip() if core else '?'))
            if stray_target in fds.values():
                failures.append('the worker kept the fd the server inherited (%s)' % stray_target)
            held = [t for t in fds.values() if t in listen_socket]
            if held:
                failures.append('the worker holds the accept loop\'s listening socket: %s' % held)

        # The hooked guest: its worker tries execve and dies; the guest sees the end.
        hooked = NamedGuest(path, HOOK_NAME)
        dropped = False
        try:
            hooked.handshake()
            hooked.send(PING)
            hooked.reply()
        except (EOFError, OSError):
            dropped = True
        print('guest %s dropped: %s' % (HOOK_NAME, dropped))
        if not dropped:
            failures.append('the guest whose worker tried execve was not dropped')
        watched.sock.close()

        outputs = []
        for round_ in range(2):
            for p in cubes:
                out, err = p.communicate(timeout=300)
                outputs.append((p.returncode, out.decode(), err.decode()))
            if round_ == 0:
                cubes = [in_root(root, socket_dir, bin_dir, cube, guest_env) for _ in range(2)]
        for code, out, err in outputs:
            got = [l for l in out.splitlines() if l.startswith('digest ')]
            if code != 0 or 'PASS cube' not in out.splitlines() or got != native_digest:
                failures.append('a cube failed beside the hooked guest (exit %d): %s' % (code, (out + err)[-600:]))
        print('cubes: %d runs beside the hooked guest' % len(outputs))
        last = in_root(root, socket_dir, bin_dir, ['vulkaninfo', '--summary'], {})
        out, err = last.communicate(timeout=120)
        if last.returncode != 0 or b'Virtio-GPU Venus' not in out:
            failures.append('the server did not serve a last guest afterwards (exit %d)' % last.returncode)
        time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        os.close(stray_read)
        subprocess.run(['rm', '-rf', socket_dir])

    text = open(log_path).read()
    created = dict(re.findall(r'context (\d+): created for "(.*)"', text))
    hooked_ctx = [ctx for ctx, name in created.items() if name == HOOK_NAME]
    killed = re.findall(r'context worker (\d+) killed by signal (\d+)', text)
    print('workers killed: %s' % ', '.join('context %s by signal %s' % k for k in killed))
    if not hooked_ctx or killed != [(hooked_ctx[0], str(SIGSYS))]:
        failures.append('expected exactly the hooked context %s killed by SIGSYS (%d), got %s (log %s)' % (
            hooked_ctx, SIGSYS, killed, log_path))
    torn_down = set(m.group(1) for m in TEARDOWN.finditer(text))
    others = set(created) - set(hooked_ctx)
    if others - torn_down:
        failures.append('contexts without a clean teardown line: %s (log %s)' %
                        (', '.join(sorted(others - torn_down)), log_path))
    fatal = re.findall(r'context \d+ \((.*)\): fatal: (.*)', text)
    if fatal:
        failures.append('fatal contexts: %s' % fatal)
    if server.returncode != 0:
        failures.append('the server exited with %s on SIGTERM' % server.returncode)
    check_socket_mode(pvgpu, build, failures)
    for f in failures:
        print('FAIL: ' + f)
    if failures:
        return 1
    print('PASS: the worker that tried execve died of SIGSYS; %d other contexts served and torn down clean'
          % len(others))
    return 0


if __name__ == '__main__':
    sys.exit(main())
