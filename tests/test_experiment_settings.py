"""One source of truth per experiment: each chapter's settings table is what the notebook, the claims
registry and the unit tests run (``helpers.experiments.settings``). Static checks, no experiment runs."""
from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from helpers.experiments import settings as S

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = {
    1: ("ch1_batchnorm", "chapters/01_batchnorm.ipynb"),
    2: ("ch2_bn_sigmoid_relu", "chapters/02_bn_sigmoid_relu.ipynb"),
    3: ("ch3_lr_decay", "chapters/03_lr_decay.ipynb"),
    4: ("ch4_vanishing_gradients", "chapters/04_vanishing_gradients.ipynb"),
    5: ("ch5_resnet", "chapters/05_resnet.ipynb"),
}


def _module(n):
    return importlib.import_module(f"helpers.experiments.{CHAPTERS[n][0]}")


def _code(path):
    nb = json.loads((ROOT / path).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("n", sorted(CHAPTERS))
def test_chapter_module_declares_settings_tiny_and_run(n):
    mod = _module(n)
    assert isinstance(mod.SETTINGS, dict) and mod.SETTINGS, f"{mod.__name__} needs a SETTINGS table"
    assert set(mod.TINY) == set(mod.SETTINGS), f"{mod.__name__}: TINY must have an entry per experiment"
    assert callable(mod.run)
    for name, settings in mod.SETTINGS.items():
        function = getattr(mod, name)
        params = inspect.signature(function).parameters
        for key in settings:
            assert key in params, f"{mod.__name__}.{name} has no argument {key!r}"
            assert params[key].default is inspect.Parameter.empty, (
                f"{mod.__name__}.{name}({key}=...) has a default: the value lives in SETTINGS only")
        assert set(mod.TINY[name]) <= set(settings), f"TINY[{name!r}] sets something that is not a setting"


@pytest.mark.parametrize("n", sorted(CHAPTERS))
def test_notebook_runs_experiments_only_through_the_settings_table(n):
    module_name, notebook = CHAPTERS[n]
    code = _code(notebook)
    aliases = re.findall(rf"from helpers\.experiments import {module_name} as (\w+)", code)
    assert aliases, f"{notebook} must import helpers.experiments.{module_name}"
    mod = _module(n)
    for alias in aliases:
        direct = sorted({fn for fn in mod.SETTINGS if re.search(rf"\b{alias}\.{fn}\(", code)})
        assert not direct, f"{notebook} calls {direct} directly: use {alias}.run(name, ...)"
        for name in re.findall(rf"\b{alias}\.run\(\s*[\"'](\w+)[\"']", code):
            assert name in mod.SETTINGS, f"{notebook} runs {name!r}, which is not in SETTINGS"


def test_claims_run_experiments_only_through_the_settings_tables():
    claims = importlib.import_module("benchmarks.claims")
    for name, runner in claims.EXPERIMENTS.items():
        src = inspect.getsource(runner)
        calls = re.findall(r"\b(\w+)\.run\(\s*[\"'](\w+)[\"']", src)
        assert calls, f"claims runner {name} must call chN.run('experiment', ...)"
        for alias, key in calls:
            assert key in getattr(claims, alias).SETTINGS


def test_run_refuses_a_setting_passed_at_the_call_and_a_subset_that_is_not_a_part():
    mod = _module(1)
    name, settings = next(iter(mod.SETTINGS.items()))
    key = next(iter(settings))
    with pytest.raises(TypeError, match="book settings"):
        mod.run(name, **{key: settings[key]})
    with pytest.raises(KeyError, match="no experiment"):
        mod.run("no_such_experiment")
    seq = next(((n, k, v) for n, s in mod.SETTINGS.items() for k, v in s.items() if isinstance(v, tuple)), None)
    assert seq is not None, "chapter 1 has a sequence setting to test subset= on"
    n_, k_, v_ = seq
    with pytest.raises(ValueError, match="part of the book"):
        S.book_call(mod, n_, subset={k_: ("not", "in", "it")})
    assert S.book_call(mod, n_, subset={k_: v_[:1]})[k_] == tuple(v_[:1])


def _cells(path):
    return json.loads((ROOT / path).read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("n", sorted(CHAPTERS))
def test_each_experiment_the_chapter_runs_is_shown_and_its_call_is_visible(n):
    """The page shows the code behind each figure: the experiment's call in a visible cell, and the
    experiment's source (``helpers.notebook.show_code``) in a folded output (CONTRIBUTING.md)."""
    module_name, notebook = CHAPTERS[n]
    cells = [c for c in _cells(notebook) if c["cell_type"] == "code"]
    code = "\n".join("".join(c["source"]) for c in cells)
    alias = re.findall(rf"from helpers\.experiments import {module_name} as (\w+)", code)[0]
    shown = "\n".join(m for m in re.findall(r"show_code\(([^)]*)\)", code))
    for c in cells:
        src = "".join(c["source"])
        tags = set(c.get("metadata", {}).get("tags", []))
        if re.search(rf"\b{alias}\.run\(", src):
            assert not tags & {"hide-input", "remove-input", "remove-cell"}, (
                f"{notebook}: a cell that runs an experiment must be visible, tags {sorted(tags)}")
        if "show_code(" in src:
            assert {"remove-input", "hide-output"} <= tags, f"{notebook}: a show_code cell is tagged remove-input, hide-output"
    for name in sorted(set(re.findall(rf"\b{alias}\.run\(\s*[\"'](\w+)[\"']", code))):
        assert re.search(rf"\b{alias}\.{name}\b", shown), f"{notebook} runs {name!r} but never shows its code (show_code)"


@pytest.mark.parametrize("n", sorted(CHAPTERS))
def test_glue_keys_come_from_the_module_prefixes(n):
    """The notebook glues under ``GLUE_PREFIX`` and the claims name the same figures through it, so a
    renamed prefix is caught here, before any build."""
    mod = _module(n)
    prefixes = mod.GLUE_PREFIX
    assert set(prefixes) <= set(mod.SETTINGS), f"GLUE_PREFIX names experiments not in SETTINGS: {set(prefixes) - set(mod.SETTINGS)}"
    for name, prefix in prefixes.items():
        assert re.fullmatch(rf"ch{n}(_\w+)?", prefix), f"{name}: glue prefix {prefix!r} must start with ch{n}"
    code = _code(CHAPTERS[n][1])
    assert "GLUE_PREFIX[" in code, f"{CHAPTERS[n][1]} does not glue through GLUE_PREFIX"
    claims = importlib.import_module("benchmarks.claims")
    for claim in claims.CLAIMS:
        if claim.chapter != n:
            continue
        for figure, key in claim.book_keys.items():
            assert any(key.startswith(p + "_") for p in prefixes.values()), (
                f"claim {claim.name}: book key {key!r} ({figure}) is not under any of chapter {n}'s glue prefixes")
