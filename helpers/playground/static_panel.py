"""The kernel-free panel for the book: radio buttons, the start view, every view as JSON, and a few lines of JS.

Nothing here trains: ``to_html`` receives every result of the grid. When a radio button
changes, the panel's own script (``SCRIPT``) swaps in that combination's precomputed summary,
accessible name and chart data. The panel is self-contained (its CSS and script travel with it),
so it works wherever the HTML is shown and no request leaves the page.
"""
from __future__ import annotations

import json

from helpers.playground.charts import esc, render_charts, render_data, render_label, render_summary
from helpers.playground.settings import CONTROLS, fmt_value, option_label
from helpers.playground.style import CSS

# Runs once per panel, where the panel's HTML is parsed; "pageshow" covers radios a browser
# restores on "back".
SCRIPT = """(() => {
  const pg = document.currentScript.closest(".dlfa-pg");
  const views = JSON.parse(pg.querySelector("script.dlfa-pg-views").textContent).views;
  const view = pg.querySelector(".dlfa-pg-view");
  const show = () => {
    const key = [...pg.querySelectorAll("fieldset")]
      .map((f) => (f.querySelector("input:checked") || {}).value).join("/");
    if (key === view.dataset.key || !(key in views)) return;
    const [summary, label, charts] = views[key];
    view.querySelector(".dlfa-pg-summary").innerHTML = summary;
    view.querySelector(".dlfa-pg-charts").setAttribute("aria-label", label);
    view.querySelectorAll("g.dlfa-pg-data").forEach((g, i) => { g.innerHTML = charts[i]; });
    view.dataset.key = key;
  };
  pg.addEventListener("change", show);
  window.addEventListener("pageshow", show);
})();"""


def fixed_html(start: dict, vary) -> str:
    """The line naming the controls this panel keeps fixed («ثابت: …»), or "" if none."""
    fixed = [name for name in CONTROLS if name not in vary]
    if not fixed:
        return ""
    items = "، ".join(f"{CONTROLS[n][0]}: {esc(option_label(n, start[n]))}" for n in fixed)
    return f"<div class='dlfa-pg-fixed' dir='rtl'>ثابت: {items}</div>"


def view_html(r: dict, key: str, *, vary, uid: str, defs: str) -> str:
    """One view (summary and charts) of the result ``r``; ``key``: its key in the panel."""
    return (f"<div class='dlfa-pg-view' data-key='{esc(key)}'>"
            f"<div class='dlfa-pg-summary' dir='rtl'>{render_summary(r)}</div>"
            f"{render_charts(render_data(r, uid), steps=r['total_steps'], label=render_label(r, vary), defs=defs)}"
            f"</div>")


def to_html(results: dict, *, vary, options: dict, start: dict, uid: str, defs: str) -> str:
    """The panel: ``results`` {key: run_setting dict} for every combination of ``options`` (grid order)."""
    start_key = "/".join(fmt_value(start[name]) for name in vary)
    views = {key: [render_summary(r), render_label(r, vary), render_data(r, uid)] for key, r in results.items()}
    fieldsets = []
    for name in vary:
        radios = "".join(
            f"<label><input type='radio' name='{uid}-{name}' value='{esc(fmt_value(v))}'"
            f"{' checked' if v == start[name] else ''}> {esc(option_label(name, v))}</label>"
            for v in options[name])
        fieldsets.append(f"<fieldset data-control='{name}'><legend>{esc(CONTROLS[name][0])}</legend>{radios}</fieldset>")
    payload = json.dumps({"controls": list(vary), "views": views}, ensure_ascii=False,
                         separators=(",", ":")).replace("</", "<\\/")
    return (f"<div class='dlfa-pg' id='{uid}' dir='rtl' lang='fa'><style>{CSS}</style>"
            f"<form class='dlfa-pg-controls' onsubmit='return false'>{''.join(fieldsets)}</form>"
            f"{fixed_html(start, vary)}"
            f"{view_html(results[start_key], start_key, vary=vary, uid=uid, defs=defs)}"
            f"<script type='application/json' class='dlfa-pg-views'>{payload}</script>"
            f"<script>{SCRIPT}</script></div>")
