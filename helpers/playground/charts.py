"""The six charts of one setting, drawn as small SVGs (no plotting library: a view is a few kilobytes).

Each chart is a ``<figure>``: an HTML caption (title and legend, so the text wraps and stays
right-to-left) above an SVG in two layers, so a page ships the unchanging parts once:

* the chrome (``chart_chrome``): frame, grid lines, axis name and the ticks every setting shares;
* the data (``chart_data``): curves, histograms, boundary and the ticks that depend on the
  setting, placed in the chart's ``<g class="dlfa-pg-data">`` (what the static panel swaps).

Sizes are in SVG units; one chart is ``CHART_W`` units wide and is drawn about that many CSS
pixels wide (three charts a row on a laptop, one a row on a phone; see ``style.CSS``), so a
font size here is close to the rendered size. Colours and line styles are CSS classes.
"""
from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

from helpers.playground.grid import BOUNDARY_BOX
from helpers.playground.settings import CHANCE, DIVERGED, describe

CHART_W, CHART_H = 250, 192                 # one chart's viewBox
PX, PY, PW, PH = 46, 8, 194, 136            # its plot area
CLASS_RGB = ((31, 119, 180), (214, 39, 40))  # the spirals' two classes (boundary and points)
# (id, title, legend entries as (series, Persian label)); the order the charts are shown in.
CHARTS = (
    ("loss", "زیان (loss)", (("train", "آموزش"), ("test", "آزمون"))),
    ("accuracy", "دقت (accuracy)", (("train", "آموزش"), ("test", "آزمون"), ("chance", "حدس تصادفی"))),
    ("lr", "نرخ یادگیری", ()),
    ("grad", "نرم گرادیان وزن‌های هر لایه", (("init", "گام اول"), ("final", "گام آخر"))),
    ("hist", "ورودی تابع فعال‌سازی در آخرین لایهٔ پنهان", (("init", "آغاز آموزش"), ("final", "پایان آموزش"))),
    ("boundary", "مرز تصمیم (دادهٔ آزمون)", ()),
)
X_LABELS = {"loss": "گام", "accuracy": "گام", "lr": "گام", "grad": "لایه", "hist": "مقدار"}


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _nice_ticks(lo: float, hi: float, n: int = 4) -> list:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], start
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:g}"


def _simplify(pts, tol=0.6):
    """Drop points that lie within ``tol`` units of the segment joining their neighbours."""
    if len(pts) <= 2:
        return pts
    out = [pts[0]]
    for i in range(1, len(pts) - 1):
        (x0, y0), (x1, y1), (x2, y2) = out[-1], pts[i], pts[i + 1]
        dx, dy = x2 - x0, y2 - y0
        norm = math.hypot(dx, dy)
        dist = abs(dy * (x1 - x0) - dx * (y1 - y0)) / norm if norm else math.hypot(x1 - x0, y1 - y0)
        if dist > tol:
            out.append(pts[i])
    out.append(pts[-1])
    return out


class _Axes:
    """The coordinate map of a chart's plot area."""

    def __init__(self, xlim, ylim, *, ylog=False):
        self.ylog = ylog
        self.xlim = xlim if xlim[1] > xlim[0] else (xlim[0], xlim[0] + 1)
        lo, hi = ylim
        if ylog:
            lo, hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
            hi = max(hi, lo + 1)
        elif hi <= lo:
            hi = lo + 1
        self.ylim = (lo, hi)

    def sx(self, x):
        a, b = self.xlim
        return PX + (x - a) / (b - a) * PW

    def sy(self, y):
        if self.ylog:
            y = math.log10(max(y, 10.0 ** self.ylim[0]))
        a, b = self.ylim
        y = min(max(y, a), b)
        return PY + PH - (y - a) / (b - a) * PH

    def yticks(self):
        if self.ylog:
            decades = list(range(int(self.ylim[0]), int(self.ylim[1]) + 1))
            stride = max(1, math.ceil(len(decades) / 5))
            ticks = [(10.0 ** d, "1" if d == 0 else "10" if d == 1 else f"1e{d}") for d in decades[::stride]]
        else:
            ticks = [(v, _fmt_tick(v)) for v in _nice_ticks(*self.ylim)]
        return "".join(f"<text x='{PX - 4}' y='{self.sy(v) + 4:.0f}' class='yt'>{label}</text>"
                       for v, label in ticks)

    def xticks(self, ticks=None):
        ticks = _nice_ticks(*self.xlim, n=3) if ticks is None else ticks
        return "".join(f"<text x='{self.sx(v):.0f}' y='{PY + PH + 16}' class='xt'>{_fmt_tick(v)}</text>"
                       for v in ticks)

    def line(self, xs, ys, series):
        pts = _simplify([(round(self.sx(x)), round(self.sy(y))) for x, y in zip(xs, ys) if y is not None])
        if not pts:
            return ""
        return f"<polyline points='{' '.join(f'{x},{y}' for x, y in pts)}' class='s-{series}'/>"

    def dots(self, xs, ys, series):
        d = "".join(f"M{self.sx(x):.0f} {self.sy(y):.0f}h0" for x, y in zip(xs, ys) if y)
        return f"<path d='{d}' class='p-{series}'/>" if d else ""


def _text(x, y, cls, text) -> str:
    return f"<text x='{x:.0f}' y='{y:.0f}' class='{cls}' direction='rtl'>{esc(text)}</text>"


def chart_chrome(chart: str, steps: int) -> str:
    """The SVG parts of ``chart`` every setting shares (``steps``: the length of every run)."""
    out = [f"<rect x='{PX}' y='{PY}' width='{PW}' height='{PH}' class='fr'/>"]
    if chart == "accuracy":
        acc = _Axes((0, steps), (0, 1))
        out = [f"<line x1='{PX}' x2='{PX + PW}' y1='{acc.sy(v):.0f}' y2='{acc.sy(v):.0f}' class='gr'/>"
               for v in (0.25, 0.5, 0.75)] + out + [acc.yticks()]
    if chart in ("loss", "accuracy", "lr"):
        out.append(_Axes((0, steps), (0, 1)).xticks())
    if chart in X_LABELS:
        out.append(_text(PX + PW / 2, PY + PH + 35, "xl", X_LABELS[chart]))
    if chart == "boundary":
        out = []
    return "".join(out)


def _boundary_png(boundary) -> str:
    """Encode P(class 1) rows as a small PNG data URI, blending the two class colours."""
    import matplotlib.image as mpimg
    p = np.asarray(boundary, dtype=float)[..., None]
    c0, c1 = np.array(CLASS_RGB[0]) / 255, np.array(CLASS_RGB[1]) / 255
    rgb = 1 - 0.45 * (1 - ((1 - p) * c0 + p * c1))   # pale, so the points stay visible
    rgb = np.round(rgb * 16) / 16                    # few colours: a smaller PNG
    buf = io.BytesIO()
    mpimg.imsave(buf, rgb.clip(0, 1), format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def points_symbol(uid: str, spirals) -> str:
    """An SVG <symbol> with the spirals' test points (``spirals``: their ``Split``), once per panel."""
    paths = []
    for cls in (0, 1):
        pts = spirals.X_test[spirals.y_test == cls].numpy()
        d = "".join(f"M{(x + BOUNDARY_BOX) / (2 * BOUNDARY_BOX) * PH:.0f} "
                    f"{(BOUNDARY_BOX - y) / (2 * BOUNDARY_BOX) * PH:.0f}h0" for x, y in pts)
        paths.append(f"<path d='{d}' stroke='rgb{CLASS_RGB[cls]}' stroke-width='3.2' stroke-linecap='round' "
                     f"fill='none'/>")
    return f"<symbol id='{uid}-pts'>{''.join(paths)}</symbol>"


def render_summary(r: dict) -> str:
    """The Persian result line of a view (HTML): final accuracies, or «واگرا شد» and the step."""
    if r["diverged"]:
        return (f"<strong class='dlfa-pg-diverged'>{DIVERGED}</strong>: زیان در گام "
                f"<bdi>{r['diverged_at']}</bdi> به NaN یا بی‌نهایت رسید و آموزش متوقف شد.")
    text = (f"دقت آموزش <bdi>{r['train_acc'][-1]:.3f}</bdi>، دقت آزمون <bdi>{r['test_acc'][-1]:.3f}</bdi>، "
            f"زیان آزمون <bdi>{r['test_loss'][-1]:.3f}</bdi>")
    if r["status"] == "chance":
        text += f" (<strong class='dlfa-pg-chance'>{CHANCE}</strong>)"
    return text + "."


def render_label(r: dict, controls) -> str:
    """The charts' accessible name (plain text): which setting they show and how it ended."""
    if r["diverged"]:
        result = f"{DIVERGED}: زیان در گام {r['diverged_at']} به NaN یا بی‌نهایت رسید"
    else:
        result = (f"دقت آموزش {r['train_acc'][-1]:.3f}، دقت آزمون {r['test_acc'][-1]:.3f}، "
                  f"زیان آزمون {r['test_loss'][-1]:.3f}")
        if r["status"] == "chance":
            result += f" ({CHANCE})"
    names = "، ".join(title for _, title, _ in CHARTS[:-1]) + " و " + CHARTS[-1][1]
    return f"نمودارهای {names} برای {describe(r['setting'], controls)}. {result}."


def _divergence_marks(ax, r) -> str:
    x = ax.sx(min(r["diverged_at"], r["total_steps"]))
    return (f"<line x1='{x:.0f}' x2='{x:.0f}' y1='{PY}' y2='{PY + PH}' class='dvl'/>"
            + _text(PX + PW / 2, PY + 0.3 * PH, "dv", DIVERGED))


def chart_data(chart: str, r: dict, uid: str) -> str:
    """The setting-dependent SVG of ``chart`` for the result ``r`` of ``run_setting``."""
    steps, xs = r["total_steps"], r["eval_steps"]
    out = []
    if chart == "loss":
        ax = _Axes((0, steps), (0, 1.6 * math.log(round(1 / r["chance"]))))
        out += [ax.yticks(), ax.line(xs, r["train_loss"], "train"), ax.line(xs, r["test_loss"], "test")]
    elif chart == "accuracy":
        ax = _Axes((0, steps), (0, 1))
        out += [ax.line([0, steps], [r["chance"]] * 2, "chance"),
                ax.line(xs, r["train_acc"], "train"), ax.line(xs, r["test_acc"], "test")]
    elif chart == "lr":
        ax = _Axes((0, steps), (0, r["setting"]["lr"] * 1.1))
        out += [ax.yticks(), ax.line([s - 1 for s in r["lr_steps"]], r["lr"], "lr")]
    elif chart == "grad":
        grads = [g for g in r["grad_first"] + r["grad_last"] if g]
        layer_x = list(range(1, len(r["grad_layers"]) + 1))
        ax = _Axes((0.6, len(layer_x) + 0.4), (min(grads, default=1e-3), max(grads, default=1)), ylog=True)
        out += [ax.yticks(), ax.xticks(layer_x),
                ax.line(layer_x, r["grad_first"], "init"), ax.dots(layer_x, r["grad_first"], "init"),
                ax.line(layer_x, r["grad_last"], "final"), ax.dots(layer_x, r["grad_last"], "final")]
    elif chart == "hist":
        edges = r["hist_edges"]
        peak = max(r["hist_init"] + (r["hist_final"] or []))
        ax = _Axes((edges[0], edges[-1]), (0, peak * 1.1 or 1))
        out.append(ax.xticks())
        for counts, series in ((r["hist_init"], "init"), (r["hist_final"], "final")):
            if counts is None:
                continue
            d = [f"M{ax.sx(edges[0]):.0f} {ax.sy(0):.0f}"]
            for i, c in enumerate(counts):
                d.append(f"V{ax.sy(c):.0f}H{ax.sx(edges[i + 1]):.0f}")
            out.append(f"<path d='{''.join(d)}V{ax.sy(0):.0f}' class='h-{series}'/>")
    elif chart == "boundary":
        x0 = PX + (PW - PH) / 2
        if r["boundary"] is not None:
            out.append(f"<image x='{x0:.0f}' y='{PY}' width='{PH}' height='{PH}' preserveAspectRatio='none' "
                       f"href='{_boundary_png(r['boundary'])}'/><use href='#{uid}-pts' x='{x0:.0f}' y='{PY}'/>")
        else:
            note = "فقط برای دادهٔ دوبعدی" if r["setting"]["data"] != "spirals" else DIVERGED
            out.append(_text(PX + PW / 2, PY + PH / 2, "nt", note))
    else:
        raise ValueError(f"unknown chart {chart!r}; charts are {[c for c, _, _ in CHARTS]}")
    if r["diverged"] and chart in ("loss", "accuracy"):
        out.append(_divergence_marks(ax, r))
    return "".join(out)


def render_data(r: dict, uid: str) -> list:
    """The setting-dependent SVG fragments of every chart, in ``CHARTS`` order."""
    return [chart_data(chart, r, uid) for chart, _, _ in CHARTS]


def _caption(title: str, legend) -> str:
    keys = "".join(f"<span class='dlfa-pg-key k-{series}'>{esc(label)}</span>" for series, label in legend)
    return (f"<figcaption dir='rtl'><span class='dlfa-pg-title'>{esc(title)}</span>"
            f"{f' <span class=dlfa-pg-keys>{keys}</span>' if keys else ''}</figcaption>")


def render_charts(data: list, *, steps: int, label: str, defs: str = "") -> str:
    """The charts of one view: ``data`` from ``render_data``; ``label``: their accessible name
    (``render_label``); ``defs``: the ``points_symbol`` if the boundary chart needs it."""
    figures = []
    for (chart, title, legend), fragment in zip(CHARTS, data):
        extra = f"<defs>{defs}</defs>" if chart == "boundary" and defs else ""
        figures.append(f"<figure class='dlfa-pg-chart' data-chart='{chart}'>{_caption(title, legend)}"
                       f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {CHART_W} {CHART_H}'>{extra}"
                       f"{chart_chrome(chart, steps)}<g class='dlfa-pg-data'>{fragment}</g></svg></figure>")
    return f"<div class='dlfa-pg-charts' role='img' aria-label='{esc(label)}'>{''.join(figures)}</div>"
