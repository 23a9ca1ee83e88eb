#!/usr/bin/python3
"""Checks that pvgpu's command table covers every Venus command type each guest driver can send.

Reads the VkCommandTypeEXT enum (every name, aliases included) of each guest generation's
venus-protocol headers (Mesa 22.3.6 from the guest-driver build, Mesa 25.0.7 unpacked by
scripts/setup-venus-protocol.sh), runs `pvgpu commands` and fails if a driver command number is
missing from pvgpu's table or if pvgpu names a number differently from every driver that has it
(a numbering mistake would dispatch one command's bytes to another's decoder; a name may change
between generations, as 244-246 lost their 100000 suffix). Commands pvgpu lists as unimplemented
or undecodable are printed for information; they do not fail the test.

Environment: PVGPU_BUILD_DIR (default <project root>/build), PVGPU (default $PVGPU_BUILD_DIR/pvgpu).
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PVGPU_BUILD_DIR") or os.path.join(ROOT, "build")
PVGPU = os.environ.get("PVGPU") or os.path.join(BUILD, "pvgpu")
DEFINES_FILE = "vn_protocol_driver_defines.h"
# Each guest generation whose protocol source we have: where its headers are, how to get them.
GENERATIONS = [
    ("Mesa 22.3.6", os.path.join(BUILD, "guest-driver", "mesa-src", "src", "virtio", "venus-protocol"),
     "scripts/setup-guest-driver.sh"),
    ("Mesa 25.0.7", os.path.join(BUILD, "venus-protocol", "trixie"),
     "scripts/setup-venus-protocol.sh trixie"),
]
STATUSES = ("implemented", "unimplemented", "undecodable")


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def read_driver_commands(path):
    """Returns {number: [names]} from the VkCommandTypeEXT enum, names without the
    VK_COMMAND_TYPE_ prefix and _EXT suffix, in header order."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    enum = re.search(r"typedef enum VkCommandTypeEXT \{(.*?)\} VkCommandTypeEXT;", text, re.S)
    if not enum:
        fail(f"no VkCommandTypeEXT enum in {path}")
    names = {}
    by_number = {}
    for line in enum.group(1).splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"VK_COMMAND_TYPE_(\w+)_EXT = (\w+),?", line)
        if not m:
            fail(f"unexpected line in VkCommandTypeEXT of {path}: {line!r}")
        name, value = m.group(1), m.group(2)
        if re.fullmatch(r"\d+", value):
            number = int(value)
        else:
            # An alias written as another enumerant.
            alias = re.fullmatch(r"VK_COMMAND_TYPE_(\w+)_EXT", value)
            if not alias or alias.group(1) not in names:
                fail(f"cannot resolve {value!r} in VkCommandTypeEXT of {path}")
            number = names[alias.group(1)]
        names[name] = number
        by_number.setdefault(number, []).append(name)
    return by_number


def read_pvgpu_commands():
    try:
        result = subprocess.run([PVGPU, "commands"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        fail(f"pvgpu executable missing at {PVGPU}; build it with ninja -C {BUILD}")
    except subprocess.TimeoutExpired:
        fail(f"'{PVGPU} commands' did not finish within 60 s")
    if result.returncode != 0:
        fail(f"'{PVGPU} commands' exited with {result.returncode}:\n{result.stderr}")
    table = {}
    errors = []
    for lineno, line in enumerate(result.stdout.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3 or not fields[0].isdigit() or fields[2] not in STATUSES:
            errors.append(f"line {lineno}: expected '<number> <name> <status>' with status one of "
                          f"{', '.join(STATUSES)}: {line!r}")
            continue
        number = int(fields[0])
        if number in table:
            errors.append(f"line {lineno}: command number {number} listed twice")
            continue
        table[number] = (fields[1], fields[2])
    if errors:
        fail(f"malformed output of '{PVGPU} commands':\n  " + "\n  ".join(errors))
    if not table:
        fail(f"'{PVGPU} commands' printed no commands")
    return table


def check_generation(label, driver, table):
    """Prints what one generation's driver sends and pvgpu does not implement; returns the
    failures."""
    missing = sorted(n for n in driver if n not in table)
    misnamed = sorted(n for n in driver if n in table and table[n][0] not in driver[n])
    not_implemented = [(n, table[n][0], table[n][1]) for n in sorted(driver)
                       if n in table and table[n][1] != "implemented"]
    print(f"{label}: {len(driver)} command numbers ({sum(map(len, driver.values()))} names with "
          f"aliases); {sum(1 for n in driver if n in table and table[n][1] == 'implemented')} "
          f"implemented by pvgpu")
    if not_implemented:
        print(f"  not implemented ({len(not_implemented)}, informational):")
        for number, name, status in not_implemented:
            print(f"    {number:3} {name} {status}")
    return missing, misnamed


def main():
    table = read_pvgpu_commands()
    print(f"pvgpu: {len(table)} command numbers listed, "
          f"{sum(1 for v in table.values() if v[1] == 'implemented')} implemented")
    drivers = {}
    for label, folder, how in GENERATIONS:
        path = os.path.join(folder, DEFINES_FILE)
        if not os.path.isfile(path):
            fail(f"{label}'s venus-protocol headers missing ({path}); run {how}")
        drivers[label] = read_driver_commands(path)

    ok = True
    for label, driver in drivers.items():
        missing, misnamed = check_generation(label, driver, table)
        # A name that another generation uses for the same number is that command renamed.
        misnamed = [n for n in misnamed
                    if not any(table[n][0] in other.get(n, []) for other in drivers.values())]
        if missing:
            ok = False
            print(f"FAIL: {len(missing)} {label} command numbers missing from 'pvgpu commands':",
                  file=sys.stderr)
            for n in missing:
                print(f"  {n:3} {' = '.join(driver[n])}", file=sys.stderr)
        if misnamed:
            ok = False
            print(f"FAIL: {len(misnamed)} command numbers named differently from {label} and every "
                  f"other generation:", file=sys.stderr)
            for n in misnamed:
                print(f"  {n:3} pvgpu: {table[n][0]}, driver: {' = '.join(driver[n])}",
                      file=sys.stderr)
    extra = sorted(n for n in table if not any(n in d for d in drivers.values()))
    if extra:
        print("listed by pvgpu for later generations (Mesa 26 and on, informational): "
              + ", ".join(f"{n} {table[n][0]}" for n in extra))
    if not ok:
        sys.exit(1)
    print("PASS: every command number of every guest generation is in pvgpu's table")


if __name__ == "__main__":
    main()
