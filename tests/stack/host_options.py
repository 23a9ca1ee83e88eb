#!/usr/bin/python3
"""Host options that claim something, checked: --validate, --record and --max-rings.

  - --validate without the Khronos validation layer (VK_LAYER_PATH pointing at an empty folder)
    is an error: `pvgpu run` and `pvgpu serve` refuse to start and say why;
  - --validate with the layer reports what the layer finds inside the host: guest_copies on the
    2022 guest makes the one known message (VUID-VkImageCreateInfo-pNext-01443, see the README),
    guest_clear none;
  - --record writes what vulkaninfo sent on the trixie guest, and the recording replays: the
    vtest stream through the vtest server code (fuzz_vtest_replay, every request served, no
    protocol error), every Venus batch through the decoder (fuzz_decoder_replay, every command
    known);
  - --max-rings 1: a raw current guest's second ring makes its context fatal, naming the limit,
    where the same two rings are fine under the default limit.

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU (default $PVGPU_BUILD_DIR/pvgpu).
"""

import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from current_neighbours import (ALIVE, BUFFER, LAVAPIPE_ICD, PING, RING_BUFFER, RING_ID,  # noqa: E402
                                RawGuest, create_ring_command, status_word)


def run(command, env=None, timeout=120):
    """(exit status, output); 124 when it ran past timeout (a server that should have refused)."""
    try:
        proc = subprocess.run(command, env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return 124, (e.output or b'').decode('utf-8', 'replace')
    return proc.returncode, proc.stdout.decode('utf-8', 'replace')


def check_validate(pvgpu, build, bin_dir, failures):
    empty = tempfile.mkdtemp(prefix='pvgpu-no-layers-', dir=build)
    try:
        no_layer = {'VK_LAYER_PATH': empty}
        code, out = run([pvgpu, 'run', '--guest', 'bookworm', '--validate', '--', 'vulkaninfo', '--summary'],
                        no_layer)
        print('run --validate without the layer: exit %d' % code)
        if code == 0 or 'no VK_LAYER_KHRONOS_validation' not in out:
            failures.append('pvgpu run --validate without the layer: exit %d, output: %s' % (code, out[-500:]))
        code, out = run([pvgpu, 'serve', '--validate', '--socket', os.path.join(empty, 'sock')], no_layer,
                        timeout=30)
        print('serve --validate without the layer: exit %d' % code)
        if code == 0 or 'no VK_LAYER_KHRONOS_validation' not in out:
            failures.append('pvgpu serve --validate without the layer: exit %d, output: %s' % (code, out[-500:]))
    finally:
        subprocess.run(['rm', '-rf', empty])

    env = {'PV_GUEST_SHADER_DIR': bin_dir}
    code, out = run([pvgpu, 'run', '--guest', 'bookworm', '--validate', '--',
                     os.path.join(bin_dir, 'guest_copies')], env)
    messages = [l for l in out.splitlines() if 'validation' in l and 'VUID' in l]
    print('run --validate guest_copies: exit %d, %d validation message(s)' % (code, len(messages)))
    if code != 0 or not messages or not all('VUID-VkImageCreateInfo-pNext-01443' in m for m in messages):
        failures.append('--validate: guest_copies should pass with only the known message, got exit %d and %s'
                        % (code, messages or 'no message'))
    code, out = run([pvgpu, 'run', '--guest', 'bookworm', '--validate', '--',
                     os.path.join(bin_dir, 'guest_clear')], env)
    messages = [l for l in out.splitlines() if 'validation' in l and 'VUID' in l]
    print('run --validate guest_clear: exit %d, %d validation message(s)' % (code, len(messages)))
    if code != 0 or messages:
        failures.append('--validate: guest_clear should pass without messages, got exit %d and %s' % (code, messages))


def check_record(pvgpu, build, failures):
    folder = tempfile.mkdtemp(prefix='pvgpu-record-', dir=build)
    try:
        code, out = run([pvgpu, 'run', '--guest', 'trixie', '--record', folder, '--', 'vulkaninfo', '--summary'])
        files = sorted(os.listdir(folder))
        streams = [f for f in files if re.fullmatch(r'ctx-\d+\.vtest', f)]
        batches = [f for f in files if re.fullmatch(r'ctx-\d+-batch-\d+\.venus', f)]
        print('run --record vulkaninfo: exit %d, %d vtest stream(s), %d Venus batches' % (
            code, len(streams), len(batches)))
        if code != 0 or len(streams) != 1 or not batches:
            failures.append('--record: exit %d, files %s' % (code, files[:10]))
            return
        log = dict(PVGPU_FUZZ_LOG='1', PVGPU_FUZZ_VERBOSE='1')
        code, out = run([os.path.join(build, 'tests', 'fuzz', 'fuzz_vtest_replay'),
                         os.path.join(folder, streams[0])], log)
        served = len(re.findall(r'created for "vulkaninfo"', out))
        errors = [l for l in out.splitlines() if l.startswith('vtest:') or 'fatal' in l]
        print('replay of %s through the vtest server: exit %d, context created %d time(s), %d error(s)' % (
            streams[0], code, served, len(errors)))
        if code != 0 or served == 0 or errors:
            failures.append('the recorded vtest stream does not replay cleanly: exit %d, %s' % (code, errors[:3]))
        code, out = run([os.path.join(build, 'tests', 'fuzz', 'fuzz_decoder_replay')] +
                        [os.path.join(folder, b) for b in batches], log)
        decoded = re.findall(r'^decode: (\S+) at \d+: (.*)$', out, re.M)
        names = set(name for name, _ in decoded)
        unknown = [d for d in decoded if not d[0].startswith('vk')]
        per_batch = out.count('replay: ')
        print('replay of %d batches through the decoder: exit %d, %d commands (%d kinds)' % (
            per_batch, code, len(decoded), len(names)))
        if code != 0 or per_batch != len(batches) or len(decoded) < len(batches) or unknown:
            failures.append('the recorded batches do not replay through the decoder: exit %d, %d of %d batches, '
                            'unknown commands %s' % (code, per_batch, len(batches), unknown[:3]))
    finally:
        subprocess.run(['rm', '-rf', folder])


def two_rings(path):
    """A raw current guest that creates two monitored rings; returns whether the host dropped it."""
    g = RawGuest(path)
    g.handshake()
    size = BUFFER + RING_BUFFER + 4
    mappings = []
    try:
        for k in range(2):
            res_id, ring = g.blob(size)
            mappings.append(ring)
            command = bytearray(create_ring_command(res_id, size))
            struct.pack_into('<Q', command, 8, RING_ID + k)
            g.submit(bytes(command))
            deadline = time.monotonic() + 5
            while not status_word(ring) & ALIVE and time.monotonic() < deadline:
                time.sleep(0.01)
        g.send(PING)
        g.reply()
        return False
    except (EOFError, OSError):
        return True
    finally:
        for m in mappings:
            m.close()
        g.sock.close()


def check_max_rings(pvgpu, build, failures):
    for limit in ([], ['--max-rings', '1']):
        folder = tempfile.mkdtemp(prefix='pvgpu-rings-', dir=build)
        path = os.path.join(folder, 'sock')
        log_path = os.path.join(folder, 'server.log')
        with open(log_path, 'w') as log:
            server = subprocess.Popen([pvgpu, 'serve', '--socket', path] + limit, stdout=log,
                                      stderr=subprocess.STDOUT,
                                      env=dict(os.environ, VK_ICD_FILENAMES=LAVAPIPE_ICD, VK_DRIVER_FILES=LAVAPIPE_ICD))
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.05)
            dropped = two_rings(path)
            time.sleep(0.3)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        text = open(log_path).read()
        subprocess.run(['rm', '-rf', folder])
        fatal = re.findall(r'fatal: (vkCreateRingMESA: .*)', text)
        print('two rings under %s: dropped %s, %s' % (' '.join(limit) or 'the default limit', dropped,
                                                      fatal[0] if fatal else 'no fatal line'))
        if limit and (not dropped or not any('limit of 1 rings' in f for f in fatal)):
            failures.append('--max-rings 1: the second ring did not end the context naming the limit: %s' % text[-800:])
        if not limit and (dropped or fatal):
            failures.append('two rings under the default limit failed: %s' % text[-800:])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.abspath(os.environ.get('PVGPU_BUILD_DIR') or os.path.join(here, '..', '..', 'build'))
    pvgpu = os.environ.get('PVGPU') or os.path.join(build, 'pvgpu')
    bin_dir = os.path.join(build, 'tests', 'guest')
    failures = []
    check_validate(pvgpu, build, bin_dir, failures)
    check_record(pvgpu, build, failures)
    check_max_rings(pvgpu, build, failures)
    for f in failures:
        print('FAIL: ' + f)
    if failures:
        return 1
    print('PASS: --validate, --record and --max-rings do what they say')
    return 0


if __name__ == '__main__':
    sys.exit(main())
