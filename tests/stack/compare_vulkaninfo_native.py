#!/usr/bin/python3
"""Compares the device a guest sees with the device natively on the host driver.

Runs one vulkaninfo binary (the host system's, copied next to the results so that a guest root
can see it) natively on the host ICD and through `pvgpu run --guest GUEST`, and compares the
device part of both outputs (from "Device Properties and Extensions" on) line by line. The
instance part is the guest's own loader and layers, not the host's business.

Differences are allowed only where vulkaninfo-native-differences.txt lists them with a reason:

  line    GUESTS REGEX :: reason     lines matching REGEX are dropped on both sides
  section GUESTS NAME :: reason      the struct section NAME is dropped on both sides
  absent  GUESTS EXTENSION :: reason the host driver offers EXTENSION, the guest does not show it:
                                     its line and the sections of its structs are dropped
  added   GUESTS EXTENSION :: reason the guest shows EXTENSION, the host driver has none: the same

GUESTS is a comma-separated list of bookworm, trixie, sid, or "all". An entry that matches nothing
in the runs of its guests fails the comparison too, so that the list stays true.

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU (default $PVGPU_BUILD_DIR/pvgpu).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

GUESTS = ['bookworm', 'trixie', 'sid']
LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'
DEVICE_PART = 'Device Properties and Extensions:'
EXTENSION_LINE = re.compile(r'^\t(VK_\w+) : extension revision')


def struct_extensions(vk_xml):
    """Struct name -> the extension that defines it."""
    out = {}
    for ext in ET.parse(vk_xml).getroot().findall('extensions/extension'):
        for req in ext.findall('require'):
            for t in req.findall('type'):
                out.setdefault(t.get('name'), ext.get('name'))
    return out


def sections(lines):
    """(name, first, end) of every struct section: a title line underlined with dashes."""
    found = []
    for i in range(len(lines) - 1):
        if lines[i + 1].strip() and set(lines[i + 1].strip()) == {'-'} and lines[i].endswith(':'):
            found.append([lines[i][:-1].strip(), i])
    out = []
    for k, (name, first) in enumerate(found):
        end = found[k + 1][1] if k + 1 < len(found) else len(lines)
        # A section ends at its blank line; what follows belongs to the next part.
        for j in range(first + 2, end):
            if not lines[j].strip():
                end = j
                break
        out.append((name, first, end))
    return out


def load_rules(path, guest):
    rules = []
    with open(path) as f:
        for number, raw in enumerate(f, 1):
            text = raw.rstrip('\n')
            if not text.strip() or text.lstrip().startswith('#'):
                continue
            head, sep, reason = text.partition(' :: ')
            parts = head.split(None, 2)
            if not sep or not reason.strip() or len(parts) != 3 or \
                    parts[0] not in ('line', 'section', 'absent', 'added'):
                raise SystemExit('%s:%d: needs "KIND GUESTS WHAT :: reason": %s' % (path, number, text))
            kind, guests, what = parts
            names = GUESTS if guests == 'all' else guests.split(',')
            unknown = [g for g in names if g not in GUESTS]
            if unknown:
                raise SystemExit('%s:%d: unknown guest(s) %s' % (path, number, ', '.join(unknown)))
            if guest in names:
                rules.append({'kind': kind, 'what': what, 'where': '%s:%d' % (path, number),
                              'regex': re.compile(what) if kind == 'line' else None, 'used': False})
    return rules


def device_part(text):
    """The device part, its columns closed up: vulkaninfo pads names to the longest of a list,
    and a list with other entries pads differently."""
    lines = text.split('\n')
    for i, line in enumerate(lines):
        if line.startswith(DEVICE_PART):
            return [re.match(r'\s*', l).group(0) + ' '.join(l.split()) for l in lines[i:]]
    return []


def apply_rules(lines, rules, owner, side):
    """The lines left after the rules; marks the rules that matched. side: 'native' or 'guest'."""
    drop = set()
    extensions = {m.group(1): i for i, l in enumerate(lines) for m in [EXTENSION_LINE.match(l)] if m}
    for name, first, end in sections(lines):
        for rule in rules:
            hit = (rule['kind'] == 'section' and rule['what'] == name) or \
                  (rule['kind'] in ('absent', 'added') and owner.get(name) == rule['what'])
            if hit:
                drop.update(range(first, end + 1))
                rule['used'] = True
    for rule in rules:
        if rule['kind'] == 'line':
            for i, line in enumerate(lines):
                if rule['regex'].search(line):
                    drop.add(i)
                    rule['used'] = True
        elif (rule['kind'], side) in (('absent', 'native'), ('added', 'guest')) and \
                rule['what'] in extensions:
            drop.add(extensions[rule['what']])
            rule['used'] = True
    return [l for i, l in enumerate(lines) if i not in drop]


def run(command, env, timeout, log_path):
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, timeout=timeout)
    with open(log_path, 'w') as log:
        log.write('$ %s\n--- stderr\n%s' % (' '.join(command), result.stderr.decode(errors='replace')))
    return result.returncode, result.stdout.decode(errors='replace'), result.stderr.decode(errors='replace')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    build = os.path.abspath(os.environ.get('PVGPU_BUILD_DIR') or os.path.join(root, 'build'))
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--guest', choices=GUESTS, required=True)
    parser.add_argument('--pvgpu', default=os.environ.get('PVGPU') or os.path.join(build, 'pvgpu'))
    parser.add_argument('--differences', default=os.path.join(here, 'vulkaninfo-native-differences.txt'))
    parser.add_argument('--vk-xml', default=os.path.join(build, 'vulkan-headers', 'usr', 'share', 'vulkan',
                                                         'registry', 'vk.xml'))
    parser.add_argument('--timeout', type=float, default=60)
    args = parser.parse_args()

    out = os.path.join(build, 'tests', 'stack', 'vulkaninfo-native', args.guest)
    os.makedirs(out, exist_ok=True)
    vulkaninfo = shutil.which('vulkaninfo')
    if not vulkaninfo:
        print('FAIL: vulkaninfo not found; run scripts/install-deps.sh', file=sys.stderr)
        return 1
    # A guest root sees only what is bound into it: the program goes next to the results.
    program = os.path.join(out, 'vulkaninfo')
    shutil.copy2(vulkaninfo, program)
    rules = load_rules(args.differences, args.guest)
    owner = struct_extensions(args.vk_xml)

    env = {k: v for k, v in os.environ.items() if not k.startswith(('VK_', 'VN_'))}
    native_env = dict(env, VK_ICD_FILENAMES=LAVAPIPE_ICD, VK_DRIVER_FILES=LAVAPIPE_ICD)
    code, native, _ = run([program], native_env, args.timeout, os.path.join(out, 'native.log'))
    if code != 0:
        print('FAIL: vulkaninfo natively exited with %d' % code, file=sys.stderr)
        return 1
    command = [args.pvgpu, 'run', '--host-icd', LAVAPIPE_ICD, '--guest', args.guest, '--',
               'timeout', '%d' % args.timeout, program]
    code, guest, errors = run(command, env, args.timeout + 20, os.path.join(out, 'guest.log'))
    for name, text in (('native', native), ('guest', guest)):
        with open(os.path.join(out, name + '.txt'), 'w') as f:
            f.write(text)
    failures = []
    if code != 0:
        failures.append('vulkaninfo through pvgpu run --guest %s exited with %d (log %s)' %
                        (args.guest, code, os.path.join(out, 'guest.log')))
    if re.search(r': fatal: |ERROR: (Address|Leak)Sanitizer|runtime error:', errors):
        failures.append('the host reported errors while serving vulkaninfo (log %s)' % os.path.join(out, 'guest.log'))
    guest_lines = device_part(guest)
    if not any(re.match(r'\s*deviceName\s*= Virtio-GPU Venus \(', l) for l in guest_lines):
        failures.append('no "deviceName = Virtio-GPU Venus (...)" line through pvgpu')
    native_kept = apply_rules(device_part(native), rules, owner, 'native')
    guest_kept = apply_rules(guest_lines, rules, owner, 'guest')
    with open(os.path.join(out, 'native.compared.txt'), 'w') as f:
        f.write('\n'.join(native_kept))
    with open(os.path.join(out, 'guest.compared.txt'), 'w') as f:
        f.write('\n'.join(guest_kept))
    diff = subprocess.run(['diff', '-u', '--label', 'native', '--label', 'guest ' + args.guest,
                           os.path.join(out, 'native.compared.txt'), os.path.join(out, 'guest.compared.txt')],
                          stdout=subprocess.PIPE).stdout.decode(errors='replace')
    if diff:
        print(diff)
        failures.append('the %s guest sees the device differently from native (diff above, also in %s); '
                        'fix it or list it with a reason in %s' % (args.guest, out, args.differences))
    for rule in rules:
        if not rule['used']:
            failures.append('%s: "%s %s" matches nothing for the %s guest; drop it' %
                            (rule['where'], rule['kind'], rule['what'], args.guest))
    if failures:
        for f in failures:
            print('FAIL: ' + f, file=sys.stderr)
        return 1
    print('PASS: the %s guest sees the device as the host driver offers it: %d device lines compared, '
          '%d deliberate differences listed' % (args.guest, len(native_kept), len(rules)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
