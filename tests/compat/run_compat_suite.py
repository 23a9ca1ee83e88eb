#!/usr/bin/python3
"""Runs the guest suite through Debian's virgl_test_server on PearVisor GPU's libvirglrenderer.so.1.

virgl_test_server (package virgl-server) is a program someone else wrote against virglrenderer's
ABI: it links libvirglrenderer.so.1 dynamically. Here it runs with the build's compat library
directory first on LD_LIBRARY_PATH, `--venus`, in a private mount and pid namespace with its own
/tmp (the driver's socket path is fixed), and every guest program (tests/guest) runs against it on
the Venus guest driver. Each program must pass with digests identical to a native run on the
same host ICD, and the server's log must show that it ran on PearVisor GPU's library and that no
context went fatal.

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU_GUEST_ICD (default
$PVGPU_BUILD_DIR/guest-driver/virtio_icd.json).
"""

import argparse
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'guest'))
import run_suite  # noqa: E402  (the guest suite's program list and process helpers)

# What our library prints at virgl_renderer_init: proof the server did not load Debian's.
OUR_LIBRARY_LINE = 'virglrenderer: PearVisor GPU initialized'
FATAL_LINE = re.compile(r'pvgpu\[[^\]]*\]: .*fatal.*')
SANITIZER_LINE = re.compile(r'(ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer)')

SERVER_SCRIPT = r'''
mount -t tmpfs pvgpu-compat-tmp /tmp || exit 90
server_log=$1 lib_dir=$2 host_icd=$3 guest_icd=$4
shift 4
LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
VK_ICD_FILENAMES="$host_icd" VK_DRIVER_FILES="$host_icd" \
    virgl_test_server --venus --use-egl-surfaceless >"$server_log" 2>&1 &
server=$!
for _ in $(seq 200); do [ -S /tmp/.virgl_test ] && break; sleep 0.05; done
[ -S /tmp/.virgl_test ] || { echo "virgl_test_server did not create its socket" >&2; exit 91; }
VK_ICD_FILENAMES="$guest_icd" VK_DRIVER_FILES="$guest_icd" VN_DEBUG=vtest timeout "$@" &
guest=$!
# A dropped guest only spins in the 22.3.6 driver: end the run as soon as the server says so.
# (0.10.4 reports a plain disconnect as INPUT_READ, so only these two count.)
while kill -0 "$guest" 2>/dev/null; do
    if grep -Eq '^client failed: VTEST_CLIENT_ERROR_(COMMAND_DISPATCH|CONTEXT)' "$server_log"; then
        sleep 0.2
        kill -0 "$guest" 2>/dev/null && exit 92
    fi
    sleep 0.1
done
wait "$guest"
status=$?
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
exit $status
'''


def main():
    build = os.environ.get('PVGPU_BUILD_DIR') or os.path.join(ROOT, 'build')
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--bin-dir', default=os.path.join(build, 'tests', 'guest'),
                        help='where the guest_* programs and the .spv shaders are')
    parser.add_argument('--lib-dir', default=os.path.join(build, 'src', 'compat'),
                        help="the directory holding PearVisor GPU's libvirglrenderer.so.1")
    parser.add_argument('--out-dir', help='logs (default: <bin-dir>/out/compat)')
    parser.add_argument('--guest-icd', default=os.environ.get('PVGPU_GUEST_ICD') or
                        os.path.join(build, 'guest-driver', 'virtio_icd.json'))
    parser.add_argument('--host-icd', default=run_suite.LAVAPIPE_ICD)
    parser.add_argument('--only', action='append', default=[],
                        help='run only this program (repeatable or comma-separated)')
    parser.add_argument('--timeout', type=float, default=300, help='seconds per run')
    args = parser.parse_args()

    programs = list(run_suite.PROGRAMS)
    only = [n for item in args.only for n in item.split(',') if n]
    unknown = [n for n in only if n not in programs]
    if unknown:
        parser.error('unknown program(s) %s; known: %s' % (', '.join(unknown), ', '.join(programs)))
    programs = [p for p in programs if not only or p in only]

    bin_dir = os.path.abspath(args.bin_dir)
    lib_dir = os.path.abspath(args.lib_dir)
    out_dir = os.path.abspath(args.out_dir or os.path.join(bin_dir, 'out', 'compat'))
    guest_icd = os.path.abspath(args.guest_icd)
    problems = []
    for name in programs:
        if not os.access(os.path.join(bin_dir, 'guest_' + name), os.X_OK):
            problems.append('program guest_%s missing in %s; build with ninja' % (name, bin_dir))
    if not os.path.isfile(os.path.join(lib_dir, 'libvirglrenderer.so.1')):
        problems.append('libvirglrenderer.so.1 missing in %s; build with ninja' % lib_dir)
    if not os.path.isfile(guest_icd):
        problems.append('guest driver missing (%s); run scripts/setup-guest-driver.sh' % guest_icd)
    for tool in ('virgl_test_server', 'unshare', 'timeout'):
        if not shutil.which(tool):
            problems.append('%s not found (Debian packages virgl-server, util-linux, coreutils)' % tool)
    for path in (bin_dir, lib_dir, out_dir, guest_icd):
        if path == '/tmp' or path.startswith('/tmp/'):
            problems.append('%s is under /tmp, which the runs hide; use another build dir' % path)
    if problems:
        for p in problems:
            print('FAIL: %s' % p)
        return 1
    for mode in ('native', 'compat'):
        os.makedirs(os.path.join(out_dir, mode), exist_ok=True)

    base_env = dict(os.environ)
    for key in ('VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_INSTANCE_LAYERS', 'PV_GUEST_VALIDATION',
                'VN_DEBUG', 'LD_LIBRARY_PATH'):
        base_env.pop(key, None)
    base_env['PV_GUEST_SHADER_DIR'] = bin_dir
    unshare = ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child',
               '--mount-proc']
    if os.geteuid() != 0:
        unshare.append('--map-root-user')

    print('compat suite: %d program(s) through virgl_test_server --venus on %s/libvirglrenderer.so.1'
          % (len(programs), lib_dir))
    sys.stdout.flush()
    failed = []
    details = []
    rows = []
    for name in programs:
        program = os.path.join(bin_dir, 'guest_' + name)
        env = dict(base_env, VK_ICD_FILENAMES=args.host_icd, VK_DRIVER_FILES=args.host_icd,
                   PV_GUEST_OUT_DIR=os.path.join(out_dir, 'native'))
        log = os.path.join(out_dir, 'native', name + '.log')
        native = run_suite.classify(name, *run_suite.run_process([program], env, args.timeout, log), log)

        env = dict(base_env, PV_GUEST_OUT_DIR=os.path.join(out_dir, 'compat'))
        log = os.path.join(out_dir, 'compat', name + '.log')
        server_log = os.path.join(out_dir, 'compat', name + '-server.log')
        if os.path.exists(server_log):
            os.unlink(server_log)
        command = unshare + ['bash', '-c', SERVER_SCRIPT, 'compat', server_log, lib_dir, args.host_icd,
                             guest_icd, '%g' % args.timeout, program]
        compat = run_suite.classify(name, *run_suite.run_process(command, env, args.timeout + 30, log), log,
                                    timeout_codes=(124,))
        if compat.exit_code == 92:
            compat.status = 'fail'
            compat.note = 'server dropped the guest'
        try:
            with open(server_log, errors='replace') as f:
                server_text = f.read()
        except OSError:
            server_text = ''
        if OUR_LIBRARY_LINE not in server_text:
            compat.status = 'fail'
            compat.note = 'server did not load our library'
        problems = FATAL_LINE.findall(server_text) + SANITIZER_LINE.findall(server_text)
        if problems and compat.status == 'pass':
            compat.status = 'fail'
            compat.note = 'server log: %s' % problems[0]
        if native.status == 'pass' and compat.status == 'pass':
            compat.digest_matches = compat.digest == native.digest
        ok = native.status == 'pass' and compat.ok()
        rows.append([name, native.cell(), compat.cell()])
        print('%-12s native: %s  virgl_test_server+pvgpu: %s' % (name, native.cell(), compat.cell()))
        sys.stdout.flush()
        if not ok:
            failed.append(name)
            for mode, run in (('native', native), ('compat', compat)):
                if run.ok():
                    continue
                details.append('%s, %s: log %s' % (name, mode, run.log))
                lines = run.failure_lines()
                if run.status == 'pass' and run.digest_matches is False:
                    lines += ['digest differs: %s' % d for d in run.digest if d not in native.digest]
                if mode == 'compat':
                    lines += ['server: ' + l for l in server_text.splitlines()
                              if 'fatal' in l or 'fail' in l.lower()][:6]
                details += ['    ' + l for l in lines[:12]]

    headers = ['program', 'native', 'virgl_test_server + pvgpu library']
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(3)]
    line = lambda cells: '| ' + ' | '.join(c.ljust(w) for c, w in zip(cells, widths)) + ' |'
    print()
    print(line(headers))
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for r in rows:
        print(line(r))
    if details:
        print()
        print('failures:')
        for d in details:
            print('  ' + d)
    print()
    print('%d passed, %d failed' % (len(programs) - len(failed), len(failed)))
    if failed:
        print('FAIL: %s' % ', '.join(failed))
        return 1
    print('PASS: every program passes through virgl_test_server on our library with native digests')
    return 0


if __name__ == '__main__':
    sys.exit(main())
