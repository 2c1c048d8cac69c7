"""Glue plumbing for the chapters: one call glues a result's numbers under names made from one prefix.

``glue_result("ch1_st", {"ratio": 4.2, "none": {"steps": 300}})`` glues ``ch1_st_ratio`` and
``ch1_st_none_steps`` (``helpers.experiments.settings.flatten``); the prose references them with
``{glue:text}`ch1_st_ratio:.1f```. Glue keys are never typed twice: the claims registry derives the
key of a figure it checks from the same prefix (``glue_key``).
"""
from __future__ import annotations

from helpers.experiments.settings import flatten

__all__ = ["glue_result", "glue_key", "glue_values"]


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
