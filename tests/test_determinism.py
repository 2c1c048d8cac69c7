"""Same seed, same numbers on the CPU (issue 8, "deterministic").

- fast: a few experiment functions give identical results in two fresh processes;
- slow: chapter 1, executed twice from scratch (each on a fresh kernel), glues identical numbers
  (keys containing ``_time_`` measure wall time and are excluded).
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
torch.set_num_threads(1)
from helpers.experiments import batchnorm as bnx, vanishing as vg, lr_decay as lx
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


def test_experiments_repeat_exactly_across_processes():
    first, second = _run_probe(), _run_probe()
    assert first == second


def glued_numbers(notebook) -> dict:
    """{key: text/plain} of every glue output of an executed notebook (myst_nb's scrapbook records)."""
    glued = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                glued[name] = output.get("data", {}).get("text/plain")
    return glued


@pytest.mark.slow
def test_chapter_glues_the_same_numbers_twice():
    import nbformat
    from nbclient import NotebookClient

    runs = []
    for _ in range(2):
        nb = nbformat.read(CHAPTER, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(CHAPTER.parent)}}).execute()
        runs.append({k: v for k, v in glued_numbers(nb).items() if "_time_" not in k})
    first, second = runs
    assert len(first) > 50, f"only {len(first)} glued numbers found in {CHAPTER.name}"
    differ = {k: (first.get(k), second.get(k)) for k in first.keys() | second.keys() if first.get(k) != second.get(k)}
    assert not differ, f"{CHAPTER.name}: glued numbers differ between two runs: {differ}"
