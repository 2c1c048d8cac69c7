"""benchmarks/machine_cpu.py: the whole machine's CPU time of a command, children it never waited for included."""
import sys

import pytest

from benchmarks.machine_cpu import busy_seconds, measure

# burns 0.3 s of CPU in a grandchild that its parent does not wait for (as Chromium's renderers are not)
ORPHAN_BURN = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
               "'import time\\nwhile time.process_time() < 0.3: pass'])")


def test_counts_cpu_of_processes_nobody_waited_for():
    before = busy_seconds()
    r = measure([sys.executable, "-c", ORPHAN_BURN + "; import time; time.sleep(1.5)"])
    assert r["returncode"] == 0
    assert r["cpu"] >= 0.3 - 0.02, r  # one clock tick of rounding
    assert busy_seconds() >= before + r["cpu"] - 0.02
    assert 0 < r["utilisation"] <= 1.0 + 1e-6 and r["cores"] >= 1


def test_exit_status_and_bad_input():
    assert measure([sys.executable, "-c", "raise SystemExit(3)"])["returncode"] == 3
    with pytest.raises(ValueError, match="needs a command"):
        measure([])
