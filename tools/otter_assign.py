#!/usr/bin/env python3
"""Otter Assign on several notebooks in one process: ``tools/homework.py generate`` runs this.

Importing otter costs about 4 s of CPU, as much as assigning a lab, so ``generate`` assigns every
lab in one process instead of running the ``otter assign`` command once per lab. Each notebook is
assigned exactly as ``otter assign --no-pdfs [--no-run-tests] SOURCE RESULT`` would (the same
function, ``otter.assign.main``), in the order given; the first failure stops the run with the
notebook's name and the traceback on stderr, and exit status 1.

Usage::

    python tools/otter_assign.py [--run-tests] SOURCE RESULT [SOURCE RESULT ...]
"""
from __future__ import annotations

import sys
import traceback


def main(argv: list[str]) -> int:
    run_tests = "--run-tests" in argv
    paths = [a for a in argv if a != "--run-tests"]
    if not paths or len(paths) % 2:
        print("usage: otter_assign.py [--run-tests] SOURCE RESULT [SOURCE RESULT ...]", file=sys.stderr)
        return 2
    from otter.assign import main as assign

    for source, result in zip(paths[::2], paths[1::2]):
        try:
            assign(source, result, no_pdfs=True, no_run_tests=not run_tests)
        except (Exception, SystemExit):  # noqa: BLE001 - otter may also sys.exit
            print(f"otter assign failed for {source}:", file=sys.stderr)
            traceback.print_exc()
            return 1
        print(f"assigned {source} -> {result}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
