"""Same seed, same numbers on the CPU.

Here: a few experiment functions give identical results in two fresh processes. Every
notebook's glued numbers are also compared between the book build and nbval's fresh-kernel
run of the same notebook (``tests/nbval_record.py``), so no notebook is executed a third time
for determinism.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "01_batchnorm.ipynb"

PROBE = """
import json
from helpers import use_book_numerics
use_book_numerics()
from helpers.experiments import ch1_batchnorm as ch1, ch3_lr_decay as ch3, ch4_vanishing_gradients as ch4
out = {  # each experiment at its unit-test scale (TINY), through the chapters' settings tables
    "steps": ch1.run("steps_to_target", seed=1, tiny=True),
    "layers": ch4.run("layer_gradients", seed=2, tiny=True),
    "rnn": ch4.run("rnn_gradient_vs_length", seed=1, tiny=True),
    "quad": ch3.run("quadratic_paths", seed=3, tiny=True),
}
print(json.dumps(out, sort_keys=True, default=str))
"""


def _run_probe():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.mark.slow
def test_experiments_repeat_exactly_across_processes():
    first, second = _run_probe(), _run_probe()
    assert first == second
