"""Notebook plumbing for the chapters: showing the code that ran, and glueing results.

``show_code(ch1.steps_to_target, ch1.make_mlp)`` shows the source of the functions an experiment ran,
highlighted, in JupyterLab and on the site alike (the cell's output; the cell is tagged
``remove-input`` and ``hide-output``, so the site shows it folded). The source comes from the
function objects that ran, so the code shown is the code that ran.

One call glues a result's numbers under names made from one prefix:

``glue_result("ch1_st", {"ratio": 4.2, "none": {"steps": 300}})`` glues ``ch1_st_ratio`` and
``ch1_st_none_steps`` (``helpers.experiments.settings.flatten``); the prose references them with
``{glue:text}`ch1_st_ratio:.1f```. Glue keys are never typed twice: the claims registry derives the
key of a figure it checks from the same prefix (``glue_key``).
"""
from __future__ import annotations

from helpers.experiments.settings import flatten

__all__ = ["show_code", "glue_result", "glue_key", "glue_values"]


def show_code(*functions):
    """Display the source of ``functions`` (functions or classes) as one Python code block.

    Returned as Markdown with a fenced block, which JupyterLab highlights and the book renders like any
    code block on the page (left to right, the site's colours)."""
    import inspect
    import re

    from IPython.display import Markdown

    if not functions:
        raise ValueError("show_code needs at least one function or class")
    parts = []
    for f in functions:
        if not (inspect.isfunction(f) or inspect.isclass(f)):
            raise TypeError(f"show_code expects functions or classes, got {type(f).__name__}")
        parts.append(inspect.getsource(f).rstrip())
    source = "\n\n\n".join(parts)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", source)), default=0))
    return Markdown(f"{fence}python\n{source}\n{fence}\n")


def glue_key(prefix: str, *path: str) -> str:
    """The glue name ``glue_result(prefix, result)`` gives ``result[path[0]][path[1]]...``."""
    if not prefix or not all(isinstance(p, str) and p for p in path):
        raise ValueError(f"glue_key needs a prefix and non-empty string path parts, got {prefix!r}, {path!r}")
    return "_".join((prefix, *path))


def glue_values(values: dict) -> None:
    """Glue ``{name: value}`` (numbers or text), not displayed where they are computed."""
    from myst_nb import glue  # imported here: helpers stays importable without myst-nb

    for name, value in values.items():
        glue(name, value, display=False)


def glue_result(prefix: str, result: dict, keys=None) -> dict:
    """Glue every number in ``result`` (nested dicts walked, lists/bools/None skipped) as
    ``prefix_key_subkey``; ``keys`` keeps only those top-level keys. Returns what was glued."""
    if keys is not None:
        missing = [k for k in keys if k not in result]
        if missing:
            raise KeyError(f"glue_result: {missing} not in the result (keys: {sorted(result)})")
        result = {k: result[k] for k in keys}
    flat = flatten(result, prefix)
    glue_values(flat)
    return flat
