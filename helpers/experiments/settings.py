"""The one place each experiment's settings live, and the one way to run an experiment with them.

Every chapter module in ``helpers.experiments`` declares two tables:

- ``SETTINGS``: ``{experiment name: {argument: value}}``, the book's settings. The chapter's
  notebook, the claims registry (``benchmarks/claims.py``) and the benchmark report all run an
  experiment through ``run(name, ...)``, which reads this table, so changing a setting here changes
  the book, the claims table and the tests together. The experiment functions have no defaults for
  these arguments (a test checks it): a value is written once.
- ``TINY``: ``{experiment name: {argument: value}}``, overrides that make each experiment run in
  about a second, for the unit tests (``run(name, tiny=True)``).

and gets its runner with ``run = book_runner(__name__)``::

    steps = ch1.run("steps_to_target", seed=0, data=data, device=device)   # the chapter
    ch1.run("steps_to_target", seed=3, device="cpu")                        # a claim, another seed
    ch1.run("steps_to_target", tiny=True)                                   # a unit test

Arguments that are not settings (``data``, ``device``) are passed through; passing a setting is an
error (change the table instead). A claim may rerun a *subset* of the book's runs: where the book
runs seeds ``seed + offset`` for ``seed_offsets=(0, 1, 2)`` in one call, a claim for seed 7 runs
``run(name, seed=7, subset={"seed_offsets": (0,)})``. Each value must be a part of the book's, so
every number kept is a number the book's call computes (for the book's seed).
"""
from __future__ import annotations

import importlib
import inspect
from typing import Callable

__all__ = ["book_runner", "run_experiment", "book_call", "flatten"]


def _table(module, name: str) -> dict:
    table = getattr(module, name, None)
    if not isinstance(table, dict):
        raise TypeError(f"{module.__name__} must define a dict {name} (experiment name -> settings)")
    return table


def book_call(module, name: str, *, tiny: bool = False, subset: dict | None = None) -> dict:
    """The keyword arguments ``run(name)`` passes for the settings: ``SETTINGS[name]``, updated by
    ``TINY[name]`` when ``tiny``, with ``subset`` applied (each value a part of the book's value)."""
    settings = _table(module, "SETTINGS")
    if name not in settings:
        raise KeyError(f"{module.__name__} has no experiment {name!r}; expected one of {sorted(settings)}")
    kwargs = dict(settings[name])
    if tiny:
        tiny_table = _table(module, "TINY")
        if name not in tiny_table:
            raise KeyError(f"{module.__name__}.TINY has no entry for {name!r}")
        unknown = set(tiny_table[name]) - set(kwargs)
        if unknown:
            raise KeyError(f"{module.__name__}.TINY[{name!r}] sets {sorted(unknown)}, which are not settings of "
                           f"{name!r} ({sorted(kwargs)})")
        kwargs.update(tiny_table[name])
    for key, part in (subset or {}).items():
        if key not in kwargs:
            raise KeyError(f"subset names {key!r}, which is not a setting of {name!r} ({sorted(kwargs)})")
        whole = kwargs[key]
        if not isinstance(whole, (tuple, list)) or not isinstance(part, (tuple, list)) or not part \
                or any(p not in whole for p in part):
            raise ValueError(f"subset {key}={part!r} must be a non-empty part of the book's {key}={whole!r}")
        kwargs[key] = tuple(part)
    return kwargs


def run_experiment(module, name: str, seed: int | None = 0, *, tiny: bool = False, subset: dict | None = None,
                   **context) -> dict:
    """Run ``module.<name>`` with the book's settings (``module.SETTINGS[name]``).

    ``seed`` is passed when the function takes one (``None`` for a function that takes its seeds as a
    setting); ``context`` holds the arguments that are not settings (``data``, ``device``)."""
    kwargs = book_call(module, name, tiny=tiny, subset=subset)
    clash = set(context) & set(kwargs)
    if clash:
        raise TypeError(f"{sorted(clash)} are book settings of {module.__name__}.{name}: change "
                        f"SETTINGS[{name!r}] (or pass tiny=True / subset=...), not the call")
    function: Callable = getattr(module, name)
    if "seed" in inspect.signature(function).parameters:
        if seed is None:
            raise TypeError(f"{module.__name__}.{name} needs a seed")
        kwargs["seed"] = seed
    elif seed not in (None, 0):
        raise TypeError(f"{module.__name__}.{name} takes its seeds as a setting; pass subset={{'seeds': ...}}")
    return function(**kwargs, **context)


def book_runner(module_name: str) -> Callable[..., dict]:
    """``run(name, seed=0, *, tiny=False, subset=None, **context)`` for the chapter module ``module_name``."""

    def run(name: str, seed: int | None = 0, *, tiny: bool = False, subset: dict | None = None, **context) -> dict:
        return run_experiment(importlib.import_module(module_name), name, seed, tiny=tiny, subset=subset, **context)

    run.__doc__ = (f"Run an experiment of ``{module_name}`` with the book's settings (its ``SETTINGS``); "
                   "see ``helpers.experiments.settings``.")
    return run


def flatten(result: dict, prefix: str) -> dict:
    """Flatten a nested result dict into ``{prefix_key_subkey: number}`` (numbers only, no bools or
    ``None``), the names under which a chapter glues a result (``helpers.notebook.glue_result``)."""
    flat = {}

    def walk(value, key):
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            flat[key] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}_{k}")

    walk(result, prefix)
    return flat
