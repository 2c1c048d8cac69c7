"""Wall time and the whole machine's CPU time of one command (Linux: reads /proc/stat).

``time make test`` undercounts: it adds up only the children the command waited for, and misses
Chromium's renderers, the grading sandboxes (in their own PID namespaces) and other processes
that are not waited for by their parent. This counts every busy CPU second of the machine while
the command runs, so run it on an otherwise quiet machine:

    python -m benchmarks.machine_cpu -- make test

prints ``wall 616.0 s, machine CPU 1170.4 s, 95 % of 2 cores, exit 0``. At close to 100 % the
command is CPU-bound: it gets faster only by doing less work, not by waiting less.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def busy_seconds() -> float:
    """CPU seconds the machine has spent busy since boot (user, nice, system, irq, softirq; not idle,
    iowait or time stolen by a hypervisor)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]  # guest time is already in user
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def measure(cmd: list[str]) -> dict:
    """{"wall", "cpu", "cores", "utilisation", "returncode"} of running ``cmd`` to its end."""
    if not cmd:
        raise ValueError("measure needs a command, e.g. ['make', 'test']")
    cpu0, wall0 = busy_seconds(), time.monotonic()
    returncode = subprocess.call(cmd)
    wall, cpu = time.monotonic() - wall0, busy_seconds() - cpu0
    cores = os.cpu_count() or 1
    return {"wall": wall, "cpu": cpu, "cores": cores, "utilisation": cpu / (wall * cores) if wall else 0.0,
            "returncode": returncode}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        parser.error("give the command after --, e.g. python -m benchmarks.machine_cpu -- make test")
    r = measure(cmd)
    print(f"wall {r['wall']:.1f} s, machine CPU {r['cpu']:.1f} s, {r['utilisation']:.0%} of {r['cores']} cores, "
          f"exit {r['returncode']}", file=sys.stderr)
    return r["returncode"]


if __name__ == "__main__":
    sys.exit(main())
