#!/usr/bin/python3
"""Current guests beside a misbehaving one: cubes keep rendering through one `pvgpu serve` while
another guest stops answering and a raw client plays with its ring's status word.

The server serves the current protocol on a socket in a private folder. At the same time:

  - 3 trixie guests (Mesa 25.0.7, chrooted in the Debian root, the socket folder as their /tmp)
    render guest_cube, twice each;
  - a sid guest (Mesa 26.2.6) runs guest_saxpy and is stopped (SIGSTOP) a moment into its work,
    left stopped while the cubes run, then killed: a guest that stops answering;
  - a raw vtest client speaks the current protocol itself: it creates a monitored ring
    (VkRingMonitorInfoMESA), then sets the ring's FATAL and IDLE bits and clears ALIVE itself,
    as a guest may write anything there. The host must ignore what the guest writes (the ring
    still runs), keep setting ALIVE (the monitor, checked within 1.5 s of clearing it), and once
    the client sends a command the host cannot run, set FATAL itself and drop only that client.

It asserts every cube exits 0 with digests identical to a native run, the raw client's
observations, every context torn down with "left: 0 objects, 0 bytes, 0 blobs, 0 rings" and
no fd or memfd mapping more in its worker than before the context, no
worker killed by a signal, and a server still serving a last guest (vulkaninfo --summary).

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU (default $PVGPU_BUILD_DIR/pvgpu).
"""

import array
import mmap
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'
ROOT_ICD = '/usr/share/vulkan/icd.d/virtio_icd.json'
TEARDOWN = re.compile(r'context (\d+) \((.*)\): teardown released .*; left: 0 objects, 0 bytes, '
                      r'0 blobs, 0 rings')
# The same, counted in the worker's /proc/self against what it held before the context.
CENSUS = re.compile(r'context (\d+) \((.*)\): after teardown the worker holds 0 fds and 0 memfd mappings '
                    r'more than before the context')

# vtest and Venus numbers (docs/protocol.md, the shared protocol notes).
CREATE_RENDERER, PING, BUSY_WAIT, PROTOCOL_VERSION, GET_PARAM, GET_CAPSET, CONTEXT_INIT = \
    8, 10, 7, 11, 15, 16, 17
CREATE_BLOB, SUBMIT_CMD2 = 18, 24
CMD_CREATE_RING, CMD_NOTIFY_RING, CMD_WRITE_RING_EXTRA = 188, 190, 191
STYPE_RING_CREATE_INFO, STYPE_RING_MONITOR_INFO = 1000384000, 1000384006
RING_ID = 0x5eed00001000
RING_BUFFER = 4096
HEAD, TAIL, STATUS, BUFFER = 0, 64, 128, 192
IDLE, FATAL, ALIVE = 1, 2, 4


class RawGuest:
    """A current guest written by hand: the vtest handshake, a blob and a monitored ring."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)

    def send(self, command, payload=b'', length=None):
        if length is None:
            length = len(payload) if command == CREATE_RENDERER else len(payload) // 4
        self.sock.sendall(struct.pack('<II', length, command) + payload)

    def reply(self):
        header = self.recv(8)
        length, command = struct.unpack('<II', header)
        return command, self.recv(length * 4)

    def recv(self, n):
        data = b''
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError('the host closed the connection')
            data += chunk
        return data

    def recv_fd(self):
        fds = array.array('i')
        msg, ancdata, _, _ = self.sock.recvmsg(1, socket.CMSG_LEN(fds.itemsize))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:fds.itemsize])
        if not fds:
            raise EOFError('no fd with the blob')
        return fds[0]

    def handshake(self):
        self.send(CREATE_RENDERER, b'raw-ring-guest\0')
        self.send(PING)
        self.send(BUSY_WAIT, struct.pack('<II', 0, 0))
        self.reply()
        self.reply()
        self.send(PROTOCOL_VERSION, struct.pack('<I', 3))
        self.reply()
        self.send(GET_PARAM, struct.pack('<I', 1))
        self.reply()
        self.send(GET_CAPSET, struct.pack('<II', 4, 0))
        _, capset = self.reply()
        wire_format = struct.unpack_from('<I', capset, 4)[0]
        self.send(CONTEXT_INIT, struct.pack('<I', 4))
        return wire_format

    def blob(self, size):
        self.send(CREATE_BLOB, struct.pack('<IIIIII', 2, 1, size, 0, 0, 0))
        _, payload = self.reply()
        fd = self.recv_fd()
        mapping = mmap.mmap(fd, size)
        os.close(fd)
        return struct.unpack('<I', payload)[0], mapping

    def submit(self, stream):
        """SUBMIT_CMD2 with one batch on the CPU timeline, 6-word header as Mesa 25 sends."""
        words = [1, 1, 7, len(stream) // 4, 7 + len(stream) // 4, 0, 0]
        self.send(SUBMIT_CMD2, struct.pack('<%dI' % len(words), *words) + stream)


def create_ring_command(res_id, size):
    return (struct.pack('<IIQQI', CMD_CREATE_RING, 0, RING_ID, 1, STYPE_RING_CREATE_INFO) +
            struct.pack('<QI', 1, STYPE_RING_MONITOR_INFO) + struct.pack('<Q', 0) +
            struct.pack('<I', 3000000) +       # the monitor's period: 3 s, as Mesa uses
            struct.pack('<II', 0, res_id) +
            struct.pack('<QQQQQQQQQQ', 0, size, 1000000, HEAD, TAIL, STATUS, BUFFER, RING_BUFFER,
                        BUFFER + RING_BUFFER, 4))


def status_word(ring):
    return struct.unpack_from('<I', ring, STATUS)[0]


def raw_ring_guest(path, report):
    """The raw client's script; report collects what it saw."""
    g = RawGuest(path)
    report['wire_format'] = g.handshake()
    size = BUFFER + RING_BUFFER + 4
    res_id, ring = g.blob(size)
    g.submit(create_ring_command(res_id, size))
    deadline = time.monotonic() + 5
    while not status_word(ring) & ALIVE and time.monotonic() < deadline:
        time.sleep(0.01)
    report['alive_at_start'] = bool(status_word(ring) & ALIVE)
    # What a guest writes to the status word: FATAL and IDLE set, ALIVE cleared.
    struct.pack_into('<I', ring, STATUS, FATAL | IDLE)
    cleared = time.monotonic()
    while not status_word(ring) & ALIVE and time.monotonic() < cleared + 5:
        time.sleep(0.01)
    report['alive_again_after_s'] = time.monotonic() - cleared
    # The ring still runs: a vkWriteRingExtraMESA at the tail is run (the extra word changes).
    write_extra = struct.pack('<IIQQI', CMD_WRITE_RING_EXTRA, 0, RING_ID, 0, 0x600d)
    ring[BUFFER:BUFFER + len(write_extra)] = write_extra
    struct.pack_into('<I', ring, TAIL, len(write_extra))
    g.submit(struct.pack('<IIQII', CMD_NOTIFY_RING, 0, RING_ID, len(write_extra), 0))
    deadline = time.monotonic() + 5
    extra = BUFFER + RING_BUFFER
    while struct.unpack_from('<I', ring, extra)[0] != 0x600d and time.monotonic() < deadline:
        time.sleep(0.01)
    report['ring_runs'] = struct.unpack_from('<I', ring, extra)[0] == 0x600d
    # A command no host has: the context is fatal, the ring says so, the host drops the client.
    struct.pack_into('<I', ring, STATUS, 0)
    bad = struct.pack('<II', 400, 0)
    start = len(write_extra)
    ring[BUFFER + start:BUFFER + start + len(bad)] = bad
    struct.pack_into('<I', ring, TAIL, start + len(bad))
    try:
        g.submit(struct.pack('<IIQII', CMD_NOTIFY_RING, 0, RING_ID, start + len(bad), 0))
    except OSError:
        pass   # a worker that did not nap ran it already, and the host dropped the client
    deadline = time.monotonic() + 5
    while not status_word(ring) & FATAL and time.monotonic() < deadline:
        time.sleep(0.01)
    report['fatal_bit'] = bool(status_word(ring) & FATAL)
    try:
        g.send(PING)
        g.reply()
        report['dropped'] = False
    except (EOFError, OSError):
        report['dropped'] = True
    ring.close()
    g.sock.close()


def in_root(root, socket_dir, bind_dir, command, env):
    """A command chrooted in a Debian guest root that sees the socket folder as its /tmp (bound
    first, so that a program folder under /tmp is bound over it, not hidden by it)."""
    script = ('mount --rbind /proc "$R/proc" && mount --rbind /dev "$R/dev" && '
              'mount --bind "$S" "$R/tmp" && mkdir -p "$R$B" && mount --bind "$B" "$R$B" && '
              'exec chroot "$R" "$@"')
    return subprocess.Popen(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh'] +
                            ['env', '-i', 'PATH=/usr/bin:/bin', 'VK_DRIVER_FILES=' + ROOT_ICD,
                             'VN_DEBUG=vtest'] + ['%s=%s' % kv for kv in env.items()] + command,
                            env=dict(os.environ, R=root, S=socket_dir, B=bind_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.abspath(os.environ.get('PVGPU_BUILD_DIR') or os.path.join(here, '..', '..', 'build'))
    pvgpu = os.environ.get('PVGPU') or os.path.join(build, 'pvgpu')
    bin_dir = os.path.join(build, 'tests', 'guest')
    roots = {name: os.path.join(build, 'guest-roots', name) for name in ('trixie', 'sid')}
    failures = []
    for name, root in roots.items():
        if not os.path.exists(root + ROOT_ICD):
            print('FAIL: guest root %s missing; run scripts/setup-guest-roots.sh' % root)
            return 1
    guest_env = {'PV_GUEST_SHADER_DIR': bin_dir}

    native = subprocess.run([os.path.join(bin_dir, 'guest_cube')], env=dict(
        os.environ, VK_ICD_FILENAMES=LAVAPIPE_ICD, VK_DRIVER_FILES=LAVAPIPE_ICD, PV_GUEST_SHADER_DIR=bin_dir),
        stdout=subprocess.PIPE, timeout=120).stdout.decode()
    native_digest = [l for l in native.splitlines() if l.startswith('digest ')]

    socket_dir = tempfile.mkdtemp(prefix='pvgpu-neighbours-', dir=build)
    path = os.path.join(socket_dir, '.virgl_test')
    log_path = os.path.join(build, 'tests', 'current-neighbours.log')
    log = open(log_path, 'w')
    server = subprocess.Popen([pvgpu, 'serve', '--socket', path], stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, VK_ICD_FILENAMES=LAVAPIPE_ICD, VK_DRIVER_FILES=LAVAPIPE_ICD))
    try:
        for _ in range(200):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        cube = [os.path.join(bin_dir, 'guest_cube')]
        cubes = [in_root(roots['trixie'], socket_dir, bin_dir, cube, guest_env) for _ in range(3)]
        stopped = in_root(roots['sid'], socket_dir, bin_dir, [os.path.join(bin_dir, 'guest_saxpy')], guest_env)
        time.sleep(0.3)
        # The chrooted program is the unshare process's child's exec: stop the whole group.
        os.kill(stopped.pid, signal.SIGSTOP)
        subprocess.run(['pkill', '-STOP', '-P', str(stopped.pid)])
        report = {}
        raw = threading.Thread(target=raw_ring_guest, args=(path, report))
        raw.start()
        outputs = []
        for round_ in range(2):
            for i, p in enumerate(cubes):
                out, err = p.communicate(timeout=300)
                outputs.append((p.returncode, out.decode(), err.decode()))
            if round_ == 0:
                cubes = [in_root(roots['trixie'], socket_dir, bin_dir, cube, guest_env) for _ in range(3)]
        raw.join(timeout=60)
        subprocess.run(['pkill', '-KILL', '-P', str(stopped.pid)])
        os.kill(stopped.pid, signal.SIGKILL)
        stopped.wait(timeout=30)
        for code, out, err in outputs:
            got = [l for l in out.splitlines() if l.startswith('digest ')]
            if code != 0 or 'PASS cube' not in out.splitlines() or got != native_digest:
                failures.append('a cube failed beside the misbehaving guests (exit %d): %s' %
                                (code, (out + err)[-600:]))
        print('cubes: %d runs, %d passed with native digests' % (len(outputs), len(outputs) - len(failures)))
        print('raw ring guest: %s' % report)
        expect = {'wire_format': 1, 'alive_at_start': True, 'ring_runs': True, 'fatal_bit': True,
                  'dropped': True}
        for key, value in expect.items():
            if report.get(key) != value:
                failures.append('raw ring guest: %s is %r, expected %r' % (key, report.get(key), value))
        if not report.get('alive_again_after_s', 99) < 1.5:
            failures.append('the ALIVE bit came back %.2f s after the guest cleared it (monitor period '
                            '3 s: due within 0.75 s)' % report.get('alive_again_after_s', 99))
        last = in_root(roots['trixie'], socket_dir, bin_dir, ['vulkaninfo', '--summary'], {})
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
        subprocess.run(['rm', '-rf', socket_dir])
    text = open(log_path).read()
    created = set(re.findall(r'context (\d+): created for', text))
    torn_down = set(m.group(1) for m in TEARDOWN.finditer(text)) & set(m.group(1) for m in CENSUS.finditer(text))
    if created - torn_down:
        failures.append('contexts without a clean teardown line: %s (log %s)' %
                        (', '.join(sorted(created - torn_down)), log_path))
    if re.search(r'killed by signal|did not stop|runtime error|Sanitizer', text):
        failures.append('a worker was killed or a sanitizer spoke (log %s)' % log_path)
    fatal = re.findall(r'context \d+ \((.*)\): fatal: (.*)', text)
    unexpected = [f for f in fatal if f[0] != 'raw-ring-guest']
    if unexpected:
        failures.append('fatal contexts other than the raw guest: %s' % unexpected)
    if server.returncode != 0:
        failures.append('the server exited with %s on SIGTERM' % server.returncode)
    for f in failures:
        print('FAIL: ' + f)
    if failures:
        return 1
    print('PASS: %d contexts, all torn down clean; the misbehaving guests harmed no one' % len(created))
    return 0


if __name__ == '__main__':
    sys.exit(main())
