#!/usr/bin/python3
"""Writes the command status table: every Venus command type, whether this host implements it,
and which workloads exercised it through the whole stack.

Runs vulkaninfo and every guest program of tests/guest through `pvgpu run` with
PVGPU_COMMAND_STATS set (each context writes how often it ran each command), then joins that
with `pvgpu commands`. Usage: tools/command_report.py [--build-dir build] [--out FILE]
"""

import argparse
import collections
import os
import subprocess
import sys
import tempfile

GUEST_PROGRAMS = ['clear', 'triangle', 'cube', 'texture', 'saxpy', 'indirect', 'timeline',
                  'queries', 'upload', 'threads', 'events', 'copies',
                  'renderpass2', 'dynamic', 'pipelines', 'extensions', 'bigstream']


def run_workloads(build, stats_dir):
    pvgpu = os.path.join(build, 'pvgpu')
    guest_dir = os.path.join(build, 'tests', 'guest')
    workloads = {'vulkaninfo': ['vulkaninfo']}
    for name in GUEST_PROGRAMS:
        workloads[name] = [os.path.join(guest_dir, 'guest_' + name), '--shader-dir', guest_dir]
    used = collections.defaultdict(set)
    for name, cmd in workloads.items():
        run_dir = os.path.join(stats_dir, name)
        os.makedirs(run_dir)
        env = dict(os.environ, PVGPU_COMMAND_STATS=run_dir)
        result = subprocess.run(['timeout', '300', pvgpu, 'run', '--'] + cmd, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            sys.exit(f'{name} failed through pvgpu ({result.returncode}):\n{result.stderr}')
        for stats in os.listdir(run_dir):
            with open(os.path.join(run_dir, stats)) as f:
                for line in f:
                    command = line.split()[0]
                    used[command].add(name)
    return used


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build-dir', default='build')
    ap.add_argument('--out', default='-')
    args = ap.parse_args()
    pvgpu = os.path.join(args.build_dir, 'pvgpu')
    table = subprocess.run([pvgpu, 'commands'], check=True, capture_output=True,
                           text=True).stdout.split('\n')
    with tempfile.TemporaryDirectory(dir='/var/tmp') as stats_dir:
        used = run_workloads(args.build_dir, stats_dir)
    lines = ['| # | command | status | exercised by |', '|---|---|---|---|']
    totals = collections.Counter()
    for row in table:
        if not row.strip():
            continue
        number, name, status = row.split()
        users = sorted(used.get(name, ()))
        totals[status] += 1
        if users:
            totals['exercised'] += 1
        lines.append(f'| {number} | {name} | {status} | {", ".join(users) or "-"} |')
    summary = (f'{sum(totals[s] for s in ("implemented", "unimplemented", "undecodable"))} '
               f'command types: {totals["implemented"]} implemented, '
               f'{totals["unimplemented"]} unimplemented, {totals["undecodable"]} undecodable; '
               f'{totals["exercised"]} exercised by the workloads.')
    text = '\n'.join([summary, ''] + lines) + '\n'
    if args.out == '-':
        sys.stdout.write(text)
    else:
        with open(args.out, 'w') as f:
            f.write(text)
        print(summary)


if __name__ == '__main__':
    main()
