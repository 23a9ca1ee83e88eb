#!/usr/bin/python3
"""Writes the command status table: every Venus command type, whether this host implements it,
and which workloads exercised it through the whole stack, per guest.

Runs vulkaninfo and every guest program of tests/guest through `pvgpu run --guest GUEST` with
PVGPU_COMMAND_STATS set (each context writes how often it ran each command), for each guest, then
joins that with `pvgpu commands`. Usage:
  tools/command_report.py [--build-dir build] [--guest bookworm,trixie,sid] [--out FILE]
"""

import argparse
import collections
import os
import subprocess
import sys
import tempfile

GUEST_PROGRAMS = ['clear', 'triangle', 'cube', 'texture', 'saxpy', 'indirect', 'timeline',
                  'queries', 'upload', 'threads', 'events', 'copies',
                  'renderpass2', 'dynamic', 'pipelines', 'extensions', 'bigstream', 'sync2', 'memtypes']


def run_workloads(build, guest, stats_dir):
    """Command name -> the workloads that ran it on this guest."""
    pvgpu = os.path.join(build, 'pvgpu')
    guest_dir = os.path.join(build, 'tests', 'guest')
    workloads = {'vulkaninfo': ['vulkaninfo']}
    for name in GUEST_PROGRAMS:
        workloads[name] = [os.path.join(guest_dir, 'guest_' + name), '--shader-dir', guest_dir]
    # A guest root sees the programs only where they are bound in.
    binds = [] if guest == 'bookworm' else ['--bind', guest_dir]
    used = collections.defaultdict(set)
    for name, cmd in workloads.items():
        run_dir = os.path.join(stats_dir, guest, name)
        os.makedirs(run_dir)
        env = dict(os.environ, PVGPU_COMMAND_STATS=run_dir)
        result = subprocess.run(['timeout', '300', pvgpu, 'run', '--guest', guest] + binds +
                                ['--'] + cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            sys.exit(f'{name} failed through pvgpu on {guest} ({result.returncode}):\n{result.stderr}')
        for stats in os.listdir(run_dir):
            with open(os.path.join(run_dir, stats)) as f:
                for line in f:
                    used[line.split()[0]].add(name)
    return used


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build-dir', default='build')
    ap.add_argument('--guest', default='bookworm,trixie,sid',
                    help='comma-separated guests (bookworm, trixie, sid)')
    ap.add_argument('--out', default='-')
    args = ap.parse_args()
    guests = [g for g in args.guest.split(',') if g]
    pvgpu = os.path.join(args.build_dir, 'pvgpu')
    table = subprocess.run([pvgpu, 'commands'], check=True, capture_output=True,
                           text=True).stdout.split('\n')
    with tempfile.TemporaryDirectory(dir='/var/tmp') as stats_dir:
        used = {g: run_workloads(args.build_dir, g, stats_dir) for g in guests}
    lines = ['| # | command | status | ' + ' | '.join(guests) + ' |',
             '|---|---|---|' + '---|' * len(guests)]
    totals = collections.Counter()
    for row in table:
        if not row.strip():
            continue
        number, name, status = row.split()
        totals[status] += 1
        cells = []
        for g in guests:
            users = sorted(used[g].get(name, ()))
            if users:
                totals[g] += 1
            cells.append(', '.join(users) or '-')
        lines.append(f'| {number} | {name} | {status} | ' + ' | '.join(cells) + ' |')
    summary = (f'{sum(totals[s] for s in ("implemented", "unimplemented", "undecodable"))} '
               f'command types: {totals["implemented"]} implemented, '
               f'{totals["unimplemented"]} unimplemented, {totals["undecodable"]} undecodable; '
               'exercised by the workloads: ' +
               ', '.join(f'{totals[g]} on {g}' for g in guests) + '.')
    text = '\n'.join([summary, ''] + lines) + '\n'
    if args.out == '-':
        sys.stdout.write(text)
    else:
        with open(args.out, 'w') as f:
            f.write(text)
        print(summary)


if __name__ == '__main__':
    main()
