"""Every number and every verdict in a chapter's prose comes from somewhere a reader can check.

- Numbers (lint rule D5, ``tools/persian_lint.py --sources``): glued from an executed cell, math or
  code, quoted from a cited paper (``{cited}`14``` in a paragraph with ``{cite:p}``), quoted from the
  source thread («...», a blockquote, a ``claim`` box), or structural (chapter numbers, years, names).
- Verdicts: each chapter ends with a «داوری ادعاها» table whose columns are «ادعا», «داوری» and
  «شواهد». A verdict that rests on the chapter's runs is glued (``{glue:text}`chN_verdict_...```,
  computed by ``helpers.verdicts`` from the numbers); a typed verdict is allowed only where the
  evidence is a cited paper. Every row links to its evidence.
"""
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO / "chapters").glob("*.ipynb"))
VERDICT_WORDS = ("نیمه‌درست", "نادرست", "درست", "تأییدنشده", "تأیید شد", "رد شد")
EVIDENCE_LINK = re.compile(r"\]\(#|\{ref\}|\{numref\}|\{cite|\{doc\}|\]\(\.\./")


def _lint():
    spec = importlib.util.spec_from_file_location("persian_lint", REPO / "tools" / "persian_lint.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["persian_lint"] = module
    spec.loader.exec_module(module)
    return module


def _markdown(nb: Path) -> list[str]:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("page", [*CHAPTERS, REPO / "intro.md"], ids=lambda p: p.name)
def test_every_number_in_prose_has_a_source(page):
    lint = _lint()
    found = [f for f in lint.lint_file(page, sources=True) if f.rule.startswith("D5")]
    assert not found, "numbers typed in prose (glue them, mark a paper's number {cited}`N`, or write math):\n" + \
        "\n".join(map(str, found))


def _verdict_table(nb: Path) -> list[list[str]] | None:
    text = "\n".join(_markdown(nb))
    m = re.search(r"^#+ [^\n]*داوری ادعا[^\n]*\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    if not m:
        return None
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in m.group(1).splitlines() if line.strip().startswith("|")]
    return rows


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_verdict_table_is_glued_and_linked(nb):
    rows = _verdict_table(nb)
    assert rows, f"{nb.name}: no «داوری ادعاها» section with a table"
    header = rows[0]
    assert any("ادعا" in h for h in header) and "داوری" in header and any("شواهد" in h for h in header), (
        f"{nb.name}: the verdict table's columns must be «ادعا | داوری | شواهد», got {header}")
    iv, ie = header.index("داوری"), next(i for i, h in enumerate(header) if "شواهد" in h)
    problems = []
    for row in rows[2:]:
        if len(row) != len(header):
            problems.append(f"row with {len(row)} cells, header has {len(header)}: {row}")
            continue
        verdict, evidence = row[iv], row[ie]
        typed = re.sub(r"\{glue:text\}`[^`]*`", "", verdict)
        glued = re.search(r"\{glue:text\}`ch\d_verdict_[^`]*`", verdict)
        if not glued and not ("{cite" in evidence and any(w in typed for w in VERDICT_WORDS)):
            problems.append(f"verdict not glued (and the evidence is not a cited paper): {row[0][:60]} -> {verdict}")
        if glued and any(w in typed for w in VERDICT_WORDS):
            problems.append(f"a typed verdict word next to the glued one: {verdict}")
        if not EVIDENCE_LINK.search(evidence):
            problems.append(f"no link to the evidence: {row[0][:60]} -> {evidence[:80]}")
    assert not problems, f"{nb.name}:\n" + "\n".join(problems)
