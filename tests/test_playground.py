"""The training playground's logic (helpers.playground), at a tiny scale (a few seconds).

Every combination of the playground page's grid trains to finite curves, a diverging setting is
shown as «واگرا شد» instead of raising, results are deterministic, and the static panel carries
exactly one precomputed view per combination (what _static/playground.js switches between).
"""
import json
import math
import re
from pathlib import Path

import pytest

from helpers import playground as pgm
from helpers.playground import DIVERGED, Playground, render_data, render_summary, run_setting

ROOT = Path(__file__).resolve().parent.parent
TINY = {"steps": 30, "eval_every": 10}
DIVERGING = {"data": "digits", "norm": "none", "activation": "relu", "schedule": "constant", "depth": 6, "lr": 30.0}


def _finite(values):
    return all(v is not None and math.isfinite(v) for v in values)


@pytest.fixture(scope="module")
def grid():
    """The playground page's main grid (all 144 combinations), trained for 30 steps each."""
    pg = Playground(device="cpu", progress=False, **TINY)
    return pg, pg.compute()


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


def test_schedules_shape_the_learning_rate(grid):
    pg, results = grid
    base = {"data": "digits", "norm": "before", "activation": "relu", "depth": 2}
    lrs = {s: pg.result({**base, "schedule": s})["lr"] for s in ("constant", "step", "cosine", "cyclical")}
    lr0 = pg.start["lr"]
    assert set(lrs["constant"]) == {lr0}
    assert lrs["step"][0] == lr0 and lrs["step"][-1] < lr0 / 5
    assert lrs["cosine"][0] == lr0 and lrs["cosine"][-1] < 0.05 * lr0
    assert min(lrs["cyclical"]) < lr0 / 2 and max(lrs["cyclical"]) > 0.9 * lr0


def test_diverging_setting_is_flagged_not_raised():
    r = run_setting(DIVERGING, device="cpu", **TINY)
    assert r["diverged"] and r["status"] == "diverged" and r["diverged_at"] <= TINY["steps"]
    assert _finite(r["train_loss"]) and r["hist_final"] is None and r["boundary"] is None
    assert DIVERGED in render_summary(r)
    assert DIVERGED in render_data(r, "uid")
    pg = Playground(vary=("norm", "lr"), start=DIVERGING, options={"lr": (1.0, 30.0)}, device="cpu",
                    progress=False, **TINY)
    html = pg.to_html()
    views = _views(html)
    assert DIVERGED in views["none/30"][0]
    assert DIVERGED not in views["before/1"][0]


def test_deterministic():
    setting = {**DIVERGING, "lr": 0.3, "data": "spirals", "norm": "before"}
    a = run_setting(setting, device="cpu", **TINY)
    b = run_setting(setting, device="cpu", **TINY)
    assert a == b
    pgm.clear_cache()
    one = Playground(vary="norm", start=setting, device="cpu", progress=False, **TINY).to_html()
    pgm.clear_cache()
    two = Playground(vary="norm", start=setting, device="cpu", progress=False, **TINY).to_html()
    assert one == two


def _views(html):
    payload = re.search(r"<script type='application/json' class='dlfa-pg-data'>(.*?)</script>", html, re.S)
    return json.loads(payload.group(1).replace("<\\/", "</"))["views"]


def test_static_panel_has_one_view_per_combination(grid):
    pg, results = grid
    html = pg.to_html()
    views = _views(html)
    assert list(views) == list(results)
    assert len(set(v[1] for v in views.values())) == len(views), "two combinations draw the same picture"
    # one radio group per varied control, the start values checked
    for name in pg.vary:
        assert html.count(f"name='{pg.uid}-{name}'") == len(pg.options[name])
    assert html.count(" checked>") == len(pg.vary)
    start = pg.key(pg.start)
    assert f"data-key='{start}'" in html
    summary, data = views[start]
    assert summary in html and data in html           # the start view is also rendered inline
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "</script" not in html.split("class='dlfa-pg-data'>", 1)[1][:-len("</script></div>")]


def test_mimebundle_serves_jupyterlab_and_the_book():
    pg = Playground(vary="norm", start={"data": "digits", "depth": 2}, device="cpu", progress=False, **TINY)
    bundle = pg._repr_mimebundle_()
    assert "dlfa-pg-data" in bundle["text/html"]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert bundle["text/plain"].startswith("Playground(")


def test_live_widget_redraws_on_toggle():
    pg = Playground(vary=("norm", "activation"), start={"data": "spirals", "depth": 2}, device="cpu",
                    progress=False, **TINY)
    box = pg.widget()
    toggles = {c.children[0]._dom_classes[0]: c.children[0] for c in box.children[:2]}
    view = box.children[-1]
    before = view.value
    assert "data-key='none/relu'" in before
    toggles["dlfa-pg-norm"].value = "before"
    assert "data-key='before/relu'" in view.value
    toggles["dlfa-pg-activation"].value = "tanh"
    after = view.value
    assert "data-key='before/tanh'" in after and after != before
    assert render_data(pg.result({"norm": "before", "activation": "tanh"}), pg.uid) in after


def test_site_css_matches_the_svg_classes():
    css = (ROOT / "_static" / "playground.css").read_text(encoding="utf-8")
    for rule in pgm.SVG_CSS.split("}")[:-1]:
        assert rule + "}" in css, f"_static/playground.css lacks {rule}}}"


def test_script_is_a_no_op_without_a_playground():
    js = (ROOT / "_static" / "playground.js").read_text(encoding="utf-8")
    assert ".dlfa-pg" in js and "fetch(" not in js and "XMLHttpRequest" not in js and "http" not in js
    assert len(js) < 2000


@pytest.mark.parametrize("bad, error", [
    ({"vary": ("colour",)}, ValueError),
    ({"vary": ()}, ValueError),
    ({"start": {"activation": "swish"}}, ValueError),
    ({"start": {"depth": 0}}, ValueError),
    ({"start": {"lr": -1.0}}, ValueError),
    ({"vary": ("lr",), "options": {"lr": (0.1,)}}, ValueError),   # start lr 0.3 not offered
    ({"hidden_size": 8}, ValueError),
])
def test_bad_arguments_raise_clear_errors(bad, error):
    with pytest.raises(error):
        Playground(**bad)
