"""``Playground``: what a notebook cell displays, the book's static panel or JupyterLab's live panel."""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict

from helpers.playground import live_panel, static_panel
from helpers.playground.charts import points_symbol
from helpers.playground.grid import Grid
from helpers.playground.settings import CONTROLS, DEFAULT_START, check_config, check_setting, setting_key


def started_by_jupyter_server() -> bool:
    """True in a kernel that a Jupyter server started (JupyterLab, Notebook): it sets ``JPY_SESSION_NAME``."""
    return bool(os.environ.get("JPY_SESSION_NAME"))


class Playground:
    """A control panel over a grid of settings.

    vary: the controls the reader can toggle (default: data, norm, activation, schedule, depth;
    the learning rate stays at ``start["lr"]``); the other controls stay at ``start``.
    options: per varied control, the values offered (default: all of that control's values in
    ``CONTROLS``; they must include the start value). start: the initial setting (missing keys
    from ``DEFAULT_START``). seed, device, **config: passed to ``run_setting`` for every setting
    (device None: ``helpers.get_device()``).

    precompute: whether displaying the panel trains the whole grid. True: the output carries
    the book's kernel-free panel with every combination (as well as the live panel). False: only
    the live panel, which trains a setting when it is first selected, so it appears in about a
    second. None (default): False in a kernel started by a Jupyter server (JupyterLab), True
    elsewhere (the book build and the notebook tests run their kernels without one).
    """

    def __init__(self, vary=("data", "norm", "activation", "schedule", "depth"), *, start=None, options=None,
                 seed=0, device=None, precompute=None, **config):
        if isinstance(vary, str):
            vary = (vary,)
        for name in vary:
            if name not in CONTROLS:
                raise ValueError(f"cannot vary {name!r}; controls are {list(CONTROLS)}")
        vary = tuple(name for name in CONTROLS if name in vary)
        if not vary:
            raise ValueError("vary at least one control")
        start = check_setting({**DEFAULT_START, **(start or {})})
        chosen = OrderedDict()
        for name in vary:
            values = list((options or {}).get(name, CONTROLS[name][1]))
            if start[name] not in values:
                raise ValueError(f"start {name}={start[name]!r} is not among the options {values}")
            chosen[name] = values
        unknown = set(options or {}) - set(vary)
        if unknown:
            raise ValueError(f"options given for controls that do not vary: {sorted(unknown)}")
        check_config(config)
        if precompute not in (None, True, False):
            raise TypeError(f"precompute must be True, False or None, got {precompute!r}")
        self.vary, self.start, self.options = vary, start, chosen
        self.precompute = not started_by_jupyter_server() if precompute is None else precompute
        self.steps = check_config(config)["steps"]
        self.grid = Grid(vary, start, chosen, seed=seed, device=device, config=dict(config))
        digest = hashlib.sha1(json.dumps([vary, setting_key(start), list(map(str, chosen.values())),
                                          seed, sorted(config.items())]).encode()).hexdigest()[:8]
        self.uid = f"dlfa-pg-{digest}"
        self._defs_html = None

    def settings(self) -> list:
        """Every setting of the grid (the start setting with the varied controls in all combinations)."""
        return self.grid.settings()

    def key(self, setting: dict) -> str:
        """Key of a setting in this panel: the varied controls' values joined by "/"."""
        return self.grid.key(setting)

    def result(self, setting: dict | None = None) -> dict:
        """The ``run_setting`` dict of one setting (default: the start setting), trained on first use."""
        return self.grid.result(setting)

    def compute(self) -> dict:
        """Train every setting not trained yet; returns {key: result} in grid order."""
        return self.grid.results()

    def _defs(self) -> str:
        """The SVG definitions every view of this panel uses (the spirals' test points, if shown)."""
        if self._defs_html is None:
            uses_spirals = self.start["data"] == "spirals" or "spirals" in self.options.get("data", ())
            self._defs_html = points_symbol(self.uid, self.grid.data("spirals")) if uses_spirals else ""
        return self._defs_html

    def to_html(self) -> str:
        """The book's kernel-free panel (trains the whole grid first)."""
        return static_panel.to_html(self.compute(), vary=self.vary, options=self.options, start=self.start,
                                    uid=self.uid, defs=self._defs())

    def live_view(self, setting: dict | None = None) -> str:
        """The HTML the live panel shows for one setting (trains it on first use)."""
        return live_panel.live_view(self.grid, setting, uid=self.uid, defs=self._defs())

    def widget(self):
        """The live ipywidgets panel (trains the start setting; the others when first selected)."""
        return live_panel.build_widget(self.grid, uid=self.uid, defs=self._defs())

    def __repr__(self):
        return f"Playground(vary={self.vary!r}, start={setting_key(self.start)!r})"

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live panel (JupyterLab) and, with ``precompute``, the kernel-free panel as text/html (the book)."""
        bundle = {"text/plain": repr(self)}
        if self.precompute:
            bundle["text/html"] = self.to_html()
        widget_bundle = self.widget()._repr_mimebundle_()
        bundle.update({k: v for k, v in (widget_bundle or {}).items() if k != "text/plain"})
        return bundle
