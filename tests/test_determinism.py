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
import json, torch
from helpers import use_book_numerics
use_book_numerics()
from helpers.experiments import ch1_batchnorm as bnx, ch4_vanishing_gradients as vg, ch3_lr_decay as lx
out = {
    "steps": bnx.steps_to_target(seed=1, max_steps=100, hidden=32),
    "layers": vg.layer_gradients(seed=2, depth=6, hidden=32, batch_size=64),
    "rnn": vg.rnn_gradient_vs_length(seed=1, lengths=(50,), cells=("tanh", "indrnn"), hidden=16, batch_size=4),
    "quad": lx.quadratic_paths(seed=3),
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
