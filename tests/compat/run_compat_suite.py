#!/usr/bin/python3
"""Runs the guest suite through Debian's virgl_test_server on PearVisor GPU's libvirglrenderer.so.1.

virgl_test_server (package virgl-server) is a program someone else wrote against virglrenderer's
ABI: it links libvirglrenderer.so.1 dynamically. Here it runs with the build's compat library
directory first on LD_LIBRARY_PATH, `--venus`, in a private mount and pid namespace with its own
/tmp (the driver's socket path is fixed), and every guest program (tests/guest) runs against it on
the Venus guest driver. Each program must pass with digests identical to a native run on the
same host ICD, and the server's log must show that it ran on PearVisor GPU's library, serving
the 2022 protocol generation, and that no context went fatal.

The pairing is bookworm's: virgl_test_server 0.10.4 frames vtest as Mesa 22.3.6 does (8-word
batch headers), and the guest is that driver (build/guest-driver), which accepts only the 2022
generation's capset (wire format 0). The library serves current guests unless its environment
says PVGPU_PROTOCOL=2022, so the server gets that.

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
# ...and the generation it serves, which must be the 22.3.6 driver's.
SERVED_2022 = re.compile(r'virglrenderer: PearVisor GPU initialized .*, serving wire format 0 ')
FATAL_LINE = re.compile(r'pvgpu\[[^\]]*\]: .*fatal.*')
SANITIZER_LINE = re.compile(r'(ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer)')


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

    programs = run_suite.select_programs(parser, args.only)

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
        # Debian's server on our library; 0.10.4 reports a plain disconnect as INPUT_READ, so
        # only these two mean the guest was dropped.
        env['PVGPU_SERVER_LIBRARY_PATH'] = lib_dir
        env['PVGPU_PROTOCOL'] = '2022'
        env['PVGPU_SERVER_DROPPED'] = '^client failed: VTEST_CLIENT_ERROR_(COMMAND_DISPATCH|CONTEXT)'
        command = unshare + ['bash', run_suite.VIRGL_TEST_SERVER_SCRIPT, server_log, args.host_icd,
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
        elif not SERVED_2022.search(server_text):
            compat.status = 'fail'
            compat.note = 'our library did not serve the 2022 generation (PVGPU_PROTOCOL=2022)'
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
