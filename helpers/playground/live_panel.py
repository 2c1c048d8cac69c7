"""The live panel for JupyterLab: toggle buttons whose changes the kernel redraws.

A setting is trained the first time it is selected (about a second on one CPU thread; the grid
remembers it), so the panel appears as soon as its start setting is trained. Controls and their
options run right to left, like the book's panel.
"""
from __future__ import annotations

from helpers.playground.charts import esc
from helpers.playground.settings import CONTROLS, option_label
from helpers.playground.static_panel import fixed_html, view_html
from helpers.playground.style import CSS

TRAINING = "در حال آموزش این ترکیب…"


def live_view(grid, setting: dict | None, *, uid: str, defs: str) -> str:
    """The HTML the live panel shows for one setting (the same summary and charts as the book's panel)."""
    r = grid.result(setting)
    return (f"<style>{CSS}</style><div class='dlfa-pg' dir='rtl' lang='fa'>"
            f"{view_html(r, grid.key(r['setting']), vary=grid.vary, uid=uid, defs=defs)}</div>")


def build_widget(grid, *, uid: str, defs: str):
    """The ipywidgets panel over ``grid`` (a ``Grid``): one row of toggle buttons per varied control."""
    import ipywidgets as W

    state = dict(grid.start)
    busy = W.HTML(f"<div dir='rtl'>{TRAINING}</div>", layout=W.Layout(display="none"))
    busy.add_class("dlfa-pg-busy")
    view = W.HTML(value=live_view(grid, state, uid=uid, defs=defs))
    view.add_class("dlfa-pg-live-view")
    rows = []
    for name in grid.vary:
        toggle = W.ToggleButtons(options=[(option_label(name, v), v) for v in grid.options[name]],
                                 value=grid.start[name], style={"button_width": "auto"})
        toggle.add_class(f"dlfa-pg-{name}")

        def on_change(change, name=name):
            state[name] = change["new"]
            if not grid.is_trained(state):
                busy.layout.display = ""          # sent to the page at once, before the training
            try:
                view.value = live_view(grid, state, uid=uid, defs=defs)
            finally:
                busy.layout.display = "none"

        toggle.observe(on_change, names="value")
        label = W.HTML(f"<b>{esc(CONTROLS[name][0])}</b>", layout=W.Layout(width="12em"))
        row = W.HBox([label, toggle])
        row.add_class("dlfa-pg-row")
        rows.append(row)
    box = W.VBox([*rows, W.HTML(fixed_html(grid.start, grid.vary)), busy, view])
    box.add_class("dlfa-pg")
    box.add_class("dlfa-pg-live")
    return box


