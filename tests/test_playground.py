"""The training playground's logic (helpers.playground), at a tiny scale.

Every combination of the playground page's grid trains to finite curves, a diverging setting is
shown as «واگرا شد» instead of raising, results are deterministic, the static panel carries
exactly one precomputed view (summary, accessible name, six charts) per combination, the live
panel trains a setting only when it is first selected, and no panel shares hidden state with
another. The browser checks (phone size, dark mode, JupyterLab) are in test_playground_browser.py.
"""
import functools
import importlib
import json
import math
import pkgutil
import re
from pathlib import Path

import pytest

import helpers.playground as pgm
from helpers.playground import DIVERGED, Playground, run_setting
from helpers.playground.charts import CHARTS, render_data, render_label, render_summary
from helpers.playground.style import CSS

ROOT = Path(__file__).resolve().parent.parent
TINY = {"steps": 30, "eval_every": 10}
DIVERGING = {"data": "digits", "norm": "none", "activation": "relu", "schedule": "constant", "depth": 6, "lr": 30.0}
SMALL = dict(vary=("norm", "activation"), start={"data": "spirals", "depth": 2}, device="cpu", **TINY)


def _finite(values):
    return all(v is not None and math.isfinite(v) for v in values)


def _views(html):
    payload = re.search(r"<script type='application/json' class='dlfa-pg-views'>(.*?)</script>", html, re.S)
    return json.loads(payload.group(1).replace("<\\/", "</"))["views"]


@pytest.fixture(scope="module")
def grid():
    """The playground page's main grid (all 144 combinations), trained for 30 steps each."""
    pg = Playground(device="cpu", precompute=True, **TINY)
    return pg, pg.compute()


@pytest.mark.slow
def test_every_combination_has_finite_curves(grid):
    pg, results = grid
    assert len(results) == 2 * 3 * 3 * 4 * 2 == len(pg.settings())
    for key, r in results.items():
        assert r["status"] in ("ok", "chance", "diverged"), key
        n = len(r["eval_steps"])
        assert n >= 1 and r["eval_steps"][0] == 0, key
        for name in ("train_loss", "test_loss", "train_acc", "test_acc"):
            assert len(r[name]) == n and _finite(r[name]), (key, name)
        assert r["lr"] and _finite(r["lr"]) and len(r["lr"]) == len(r["lr_steps"]), key
        assert _finite(r["hist_init"]) and _finite(r["hist_edges"]), key
        assert len(r["grad_layers"]) == r["setting"]["depth"] + 1, key
        if not r["diverged"]:
            assert n == 4 and r["eval_steps"][-1] == TINY["steps"], key
            assert _finite(r["grad_first"]) and _finite(r["grad_last"]), key
            assert _finite(r["hist_final"]), key
            assert (r["boundary"] is not None) == (r["setting"]["data"] == "spirals"), key
        json.dumps(r, allow_nan=False)  # plain, finite, JSON-friendly


@pytest.mark.slow
def test_schedules_shape_the_learning_rate(grid):
    pg, results = grid
    base = {"data": "digits", "norm": "before", "activation": "relu", "depth": 2}
    lrs = {s: pg.result({**base, "schedule": s})["lr"] for s in ("constant", "step", "cosine", "cyclical")}
    lr0 = pg.start["lr"]
    assert set(lrs["constant"]) == {lr0}
    assert lrs["step"][0] == lr0 and lrs["step"][-1] < lr0 / 5
    assert lrs["cosine"][0] == lr0 and lrs["cosine"][-1] < 0.05 * lr0
    assert min(lrs["cyclical"]) < lr0 / 2 and max(lrs["cyclical"]) > 0.9 * lr0


@pytest.mark.slow
def test_static_panel_has_one_view_per_combination(grid):
    pg, results = grid
    html = pg.to_html()
    views = _views(html)
    assert list(views) == list(results)
    assert all(len(v) == 3 and len(v[2]) == len(CHARTS) for v in views.values())
    assert len(set(json.dumps(v[2]) for v in views.values())) == len(views), "two combinations draw the same charts"
    assert len(set(v[1] for v in views.values())) == len(views), "two combinations share an accessible name"
    # one radio group per varied control, the start values checked
    for name in pg.vary:
        assert html.count(f"name='{pg.uid}-{name}'") == len(pg.options[name])
    assert html.count(" checked>") == len(pg.vary)
    start = pg.key(pg.start)
    assert f"data-key='{start}'" in html
    summary, label, charts = views[start]
    assert summary in html and all(c in html for c in charts)   # the start view is also rendered inline
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    payload = html.split("class='dlfa-pg-views'>", 1)[1].split("</script>", 1)[0]
    assert "</" not in payload.replace("<\\/", "")


def test_diverging_setting_is_flagged_not_raised():
    r = run_setting(DIVERGING, device="cpu", **TINY)
    assert r["diverged"] and r["status"] == "diverged" and r["diverged_at"] <= TINY["steps"]
    assert _finite(r["train_loss"]) and r["hist_final"] is None and r["boundary"] is None
    assert DIVERGED in render_summary(r) and DIVERGED in render_label(r, ("lr",))
    charts = dict(zip([c for c, _, _ in CHARTS], render_data(r, "uid")))
    assert DIVERGED in charts["loss"] and DIVERGED in charts["accuracy"]
    pg = Playground(vary="lr", start=DIVERGING, options={"lr": (1.0, 30.0)}, device="cpu", **TINY)
    views = _views(pg.to_html())
    assert DIVERGED in views["30"][0] and DIVERGED in views["30"][1]
    assert DIVERGED not in views["1"][0] and DIVERGED not in "".join(views["1"][2])


def test_deterministic_and_no_shared_state():
    setting = {**DIVERGING, "lr": 0.3, "data": "spirals", "norm": "before", "depth": 2}
    assert run_setting(setting, device="cpu", **TINY) == run_setting(setting, device="cpu", **TINY)
    one = Playground(vary="norm", start=setting, device="cpu", **TINY)
    html_one = one.to_html()
    two = Playground(vary="norm", start=setting, device="cpu", **TINY)
    assert not two.grid.is_trained(setting), "a second panel reused the first one's results"
    assert two.to_html() == html_one


def test_no_module_level_caches():
    """State lives in the Playground object: no module of the package holds a cache."""
    for info in pkgutil.iter_modules(pgm.__path__):
        module = importlib.import_module(f"helpers.playground.{info.name}")
        for name, value in vars(module).items():
            assert not hasattr(value, "cache_info"), f"{info.name}.{name} is a module-level cache"
            if name.startswith("_") and not name.startswith("__") and isinstance(value, (dict, list, set)):
                pytest.fail(f"{info.name}.{name}: module-level mutable state")


def test_live_panel_trains_on_demand_and_redraws():
    pg = Playground(precompute=False, **SMALL)
    bundle = pg._repr_mimebundle_()
    assert "text/html" not in bundle and bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert len(pg.grid._results) == 1, "showing the live panel trained more than its start setting"
    box = pg.widget()
    rows = [c for c in box.children if "dlfa-pg-row" in c._dom_classes]
    assert [r.children[1]._dom_classes[0] for r in rows] == ["dlfa-pg-norm", "dlfa-pg-activation"]
    assert all("<b>" in r.children[0].value for r in rows), "each row starts (on the right) with its title"
    toggles = {r.children[1]._dom_classes[0]: r.children[1] for r in rows}
    view = box.children[-1]
    before = view.value
    assert "data-key='none/relu'" in before and "role='img' aria-label=" in before
    toggles["dlfa-pg-norm"].value = "before"
    assert "data-key='before/relu'" in view.value and len(pg.grid._results) == 2
    busy = [c for c in box.children if "dlfa-pg-busy" in c._dom_classes][0]
    assert busy.layout.display == "none", "the «training» line stays after the view is drawn"
    toggles["dlfa-pg-activation"].value = "tanh"
    after = view.value
    assert "data-key='before/tanh'" in after and after != before
    r = pg.result({"norm": "before", "activation": "tanh"})
    assert all(fragment in after for fragment in render_data(r, pg.uid))
    assert render_label(r, pg.vary).replace("'", "&#x27;") in after
    toggles["dlfa-pg-norm"].value = "none"
    assert "data-key='none/tanh'" in view.value and len(pg.grid._results) == 4
    toggles["dlfa-pg-activation"].value = "relu"                      # back to the start: remembered
    assert view.value == before and len(pg.grid._results) == 4


def test_precompute_follows_the_kernel(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert Playground(**SMALL).precompute                    # book build, nbval: the full static panel
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/student/playground.ipynb")
    pg = Playground(**SMALL)                                  # JupyterLab: live panel only, trained on demand
    assert not pg.precompute and Playground(precompute=True, **SMALL).precompute
    bundle = Playground(precompute=True, vary="norm", start={"data": "digits", "depth": 2}, device="cpu",
                        **TINY)._repr_mimebundle_()
    assert "dlfa-pg-views" in bundle["text/html"] and bundle["text/plain"].startswith("Playground(")


def test_accessible_name_names_the_setting_and_result():
    pg = Playground(**SMALL)
    views = _views(pg.to_html())
    labels = {key: v[1] for key, v in views.items()}
    assert len(set(labels.values())) == len(labels)
    assert "پیش از فعال‌سازی" in labels["before/tanh"] and "tanh" in labels["before/tanh"]
    assert "دقت آزمون" in labels["none/relu"]
    assert f"role='img' aria-label='" in pg.to_html()


def test_css_lives_in_one_place():
    """Both panels embed style.CSS; no copy of the playground's CSS elsewhere in the repository."""
    pg = Playground(**SMALL)
    assert f"<style>{CSS}</style>" in pg.to_html() and f"<style>{CSS}</style>" in pg.live_view()
    copies = [p for p in ROOT.rglob("*.css") if "dlfa-pg" in p.read_text(encoding="utf-8", errors="ignore")
              and not any(part in ("node_modules", "_build", ".venv", "test-artifacts") for part in p.parts)]
    assert copies == [], f"playground CSS outside helpers/playground/style.py: {copies}"
    assert "dlfa-pg" not in "".join(p.read_text(encoding="utf-8") for p in (ROOT / "_static").glob("*.js"))
    # every class the charts draw with has a rule
    for cls in set(re.findall(r"class='([a-z-]+)'", "".join(render_data(pg.result(), pg.uid)))):
        assert f".{cls}" in CSS, cls


def test_the_panel_script_stays_small_and_offline():
    from helpers.playground.static_panel import SCRIPT
    assert "fetch(" not in SCRIPT and "XMLHttpRequest" not in SCRIPT and "http" not in SCRIPT
    assert len(SCRIPT) < 1500


@pytest.mark.parametrize("bad, error", [
    ({"vary": ("colour",)}, ValueError),
    ({"vary": ()}, ValueError),
    ({"start": {"activation": "swish"}}, ValueError),
    ({"start": {"depth": 0}}, ValueError),
    ({"start": {"lr": -1.0}}, ValueError),
    ({"vary": ("lr",), "options": {"lr": (0.1,)}}, ValueError),   # start lr 0.3 not offered
    ({"vary": ("norm",), "options": {"lr": (0.3,)}}, ValueError),  # options for a control that does not vary
    ({"hidden_size": 8}, ValueError),
    ({"precompute": "yes"}, TypeError),
])
def test_bad_arguments_raise_clear_errors(bad, error):
    with pytest.raises(error):
        Playground(**bad)


def test_a_fixed_control_cannot_be_changed_through_result():
    pg = Playground(**SMALL)
    with pytest.raises(ValueError, match="do not vary"):
        pg.result({"depth": 6})
