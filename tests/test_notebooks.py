"""Notebook hygiene: stored without outputs, and every glued number the prose uses exists."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for folder in ("chapters", "labs") for p in (ROOT / folder).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts) + sorted(ROOT.glob("*.ipynb"))
# {glue}`key`, {glue:text}`key:.2f`, {glue:md}`key`, and ```{glue:figure} key
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)(?::[^`]*)?`")
GLUE_DIRECTIVE = re.compile(r"^[`:]{3,}\{glue(?::\w+)?\}\s+(\S+)", re.MULTILINE)


def glue_keys_used(notebook: Path) -> set[str]:
    """The glue keys referenced in a notebook's markdown cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return set(GLUE_ROLE.findall(text)) | set(GLUE_DIRECTIVE.findall(text))


def test_glue_reference_parser():
    sample = "متن {glue:text}`bn_ratio:.1f` و {glue}`n_train` و\n```{glue:figure} fig_steps\n```\n"
    assert {"bn_ratio", "n_train", "fig_steps"} == set(GLUE_ROLE.findall(sample)) | set(GLUE_DIRECTIVE.findall(sample))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_stored_without_outputs(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    dirty = [i for i, c in enumerate(cells)
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{notebook.name}: clear the outputs of cells {dirty} (jupyter nbconvert --clear-output --inplace)"


@pytest.mark.slow
def test_every_glue_key_used_in_the_prose_was_glued(built_book):
    html_dir, _ = built_book
    executed = html_dir.parent / "jupyter_execute"
    checked = 0
    for notebook in NOTEBOOKS:
        used = glue_keys_used(notebook)
        if not used:
            continue
        glued_file = executed / notebook.relative_to(ROOT).with_suffix(".glue.json")
        assert glued_file.is_file(), f"{notebook.name} uses glue but was not executed by the book build"
        glued = set(json.loads(glued_file.read_text(encoding="utf-8")))
        assert used <= glued, f"{notebook.name}: keys used but never glued: {sorted(used - glued)}"
        checked += 1
    assert checked >= 1
