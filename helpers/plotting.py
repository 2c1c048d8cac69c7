"""A Persian-ready matplotlib style.

matplotlib >= 3.11 shapes Persian itself (libraqm): pass raw Persian strings,
never ``arabic_reshaper``/``python-bidi`` output (that now comes out reversed).
"""
from pathlib import Path

import matplotlib
from matplotlib import font_manager

RLM = "\u200f"  # RIGHT-TO-LEFT MARK
FONT_FAMILY = "Vazirmatn"
_FONT_DIR = Path(__file__).resolve().parent.parent / "node_modules" / "vazirmatn" / "fonts" / "ttf"


def find_vazirmatn(font_dir: Path | None = None) -> Path | None:
    """Path of the Vazirmatn Regular TTF installed by ``npm ci``, or None."""
    font = (font_dir or _FONT_DIR) / "Vazirmatn-Regular.ttf"
    return font if font.is_file() else None


def use_persian_style(font_dir: Path | None = None) -> str:
    """Register Vazirmatn (from the npm package) and make it matplotlib's font.

    Returns the font family now in use. Without the npm assets (``npm ci`` not
    run) it falls back to DejaVu Sans, which also covers Persian letters, and
    says so with a warning instead of failing.
    """
    regular = find_vazirmatn(font_dir)
    family = FONT_FAMILY
    if regular is None:
        import warnings

        warnings.warn("Vazirmatn not found (run `npm ci`); Persian labels use DejaVu Sans", stacklevel=2)
        family = "DejaVu Sans"
    else:
        for ttf in sorted(regular.parent.glob("Vazirmatn-*.ttf")):
            font_manager.fontManager.addfont(str(ttf))
    matplotlib.rcParams.update({
        "font.family": family,
        "axes.unicode_minus": False,  # Vazirmatn has no U+2212 glyph
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (6.4, 3.6),
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    describe_figures_in_notebook()
    return family


def rtl(text: str) -> str:
    """Prefix ``text`` with RLM so a label starting with a Latin word (``"ReLU با BN"``) is laid out right-to-left."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    return text if text.startswith(RLM) else RLM + text


# --- Figure descriptions for the book: Persian caption and alt text ----------------------------
#
# A figure shown in a notebook carries a Persian caption and alt text built from its own suptitle,
# axes titles, axis labels and legend entries, written into the PNG (tEXt/iTXt "Title" and
# "Description"). The book's Sphinx extension _ext/figure_captions.py reads them back and turns
# each cell-output image into a numbered, referable figure with that caption and alt text.
# JupyterLab shows the same PNG; nothing changes for the reader of the notebook.

PNG_CAPTION_KEY = "Title"
PNG_ALT_KEY = "Description"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_TEX_SYMBOLS = {
    r"\alpha": "α", r"\beta": "β", r"\gamma": "γ", r"\delta": "δ", r"\epsilon": "ε", r"\eta": "η",
    r"\theta": "θ", r"\lambda": "λ", r"\mu": "μ", r"\rho": "ρ", r"\sigma": "σ", r"\tau": "τ",
    r"\phi": "φ", r"\times": "×", r"\cdot": "·", r"\sim": "~", r"\approx": "≈", r"\leq": "≤",
    r"\geq": "≥", r"\infty": "∞", r"\ell": "ℓ", r"\lfloor": "⌊", r"\rfloor": "⌋", r"\,": " ",
    r"\top": "ᵀ", r"\|": "‖", r"\nabla": "∇", r"\partial": "∂",
}
_COUNTS = {2: "دو", 3: "سه", 4: "چهار", 5: "پنج", 6: "شش"}
_ORDINALS = ("اول", "دوم", "سوم", "چهارم", "پنجم", "ششم", "هفتم", "هشتم", "نهم", "دهم")


def plain_label(text: str) -> str:
    """A matplotlib label as plain text: no RLM/LRM marks, mathtext ``$…$`` turned into Unicode."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    text = text.replace(RLM, "").replace("\u200e", "")
    parts = text.split("$")
    for i in range(1, len(parts), 2):  # the odd parts are inside $…$
        math = parts[i]
        for tex, symbol in sorted(_TEX_SYMBOLS.items(), key=lambda kv: -len(kv[0])):
            math = math.replace(tex, symbol)
        math = math.replace("^", "").replace("_", "").replace("{", "").replace("}", "").replace("\\", "")
        parts[i] = math
    return " ".join("".join(parts).split())


def _axes_kind(ax) -> str:
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer

    if ax.images:
        return "تصویر"
    if any(isinstance(c, BarContainer) for c in ax.containers):
        return "نمودار میله‌ای"
    if ax.lines:
        return "نمودار خطی"
    if any(isinstance(c, PathCollection) for c in ax.collections):
        return "نمودار پراکندگی"
    if ax.patches:
        return "نمودار ستونی"
    return "نمودار"


def _quoted_list(items: list[str]) -> str:
    items = [f"«{item}»" for item in items]
    if len(items) <= 1:
        return "".join(items)
    return "، ".join(items[:-1]) + " و " + items[-1]


def _data_axes(fig) -> list:
    """The axes that hold data: visible ones, not colorbars."""
    return [ax for ax in fig.axes if ax.get_visible() and not hasattr(ax, "_colorbar") and ax.axison]


def describe_figure(fig) -> tuple[str, str]:
    """Persian ``(caption, alt)`` for a matplotlib figure, from its own titles, labels and legends.

    The caption is the figure's suptitle, else its axes titles, else "<y label> بر حسب <x label>"
    (or the one axis label there is); it is "" when the figure has none of these (the book then warns that the figure needs a title).
    The alt text says what kind of chart each panel is, what its axes show (and which are
    logarithmic) and names its curves, so a screen reader user learns what the figure shows.
    """
    axes = _data_axes(fig)
    suptitle = plain_label(fig.get_suptitle()) if fig.get_suptitle() else ""
    panels = []
    for ax in axes:
        title = plain_label(" ".join(t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if t))
        xlabel, ylabel = plain_label(ax.get_xlabel()), plain_label(ax.get_ylabel())
        legend = ax.get_legend()
        entries = [plain_label(t.get_text()) for t in legend.get_texts()] if legend else []
        panels.append({"title": title, "x": xlabel, "y": ylabel, "entries": [e for e in entries if e],
                       "kind": _axes_kind(ax), "xlog": ax.get_xscale() == "log", "ylog": ax.get_yscale() == "log"})
    for legend in fig.legends:  # a legend for the whole figure names the curves of every panel
        entries = [plain_label(t.get_text()) for t in legend.get_texts()]
        for panel in panels:
            panel["entries"] = panel["entries"] or [e for e in entries if e]
    titles = [p["title"] for p in panels if p["title"]]
    if suptitle:
        caption = suptitle
    elif titles:
        caption = "؛ ".join(titles)
    else:
        caption = next((f"{p['y']} بر حسب {p['x']}" if p["x"] and p["y"] else p["y"] or p["x"]
                        for p in panels if p["y"] or p["x"]), "")

    sentences = []
    if len(panels) > 1:
        count = _COUNTS.get(len(panels), str(len(panels)).translate(_PERSIAN_DIGITS))
        sentences.append(f"{count} نمودار کنار هم، از چپ به راست.")
    for i, p in enumerate(panels):
        head = p["kind"]
        if len(panels) > 1:
            head = f"نمودار {_ORDINALS[i] if i < len(_ORDINALS) else i + 1}، {p['kind']}"
        if p["title"]:
            head += f" «{p['title']}»"
        parts = [head]
        for label, log, side in ((p["x"], p["xlog"], "محور افقی"), (p["y"], p["ylog"], "محور عمودی")):
            if label:
                parts.append(f"{side}: {label}" + (" (مقیاس لگاریتمی)" if log and "لگاریتمی" not in label else ""))
        if p["entries"]:
            parts.append("منحنی‌ها و سری‌ها: " + _quoted_list(p["entries"]))
        sentences.append("؛ ".join(parts) + ".")
    alt = " ".join(sentences)
    if suptitle:
        alt = f"{suptitle}. {alt}"
    return caption, alt


def png_with_description(fig, **print_kwargs) -> str:
    """The figure as base64 PNG (as IPython's inline backend makes it) with its caption and alt text inside."""
    from IPython.core.pylabtools import print_figure

    caption, alt = describe_figure(fig)
    metadata = {PNG_CAPTION_KEY: caption, PNG_ALT_KEY: alt}
    return print_figure(fig, fmt="png", base64=True, metadata=metadata, **{"bbox_inches": "tight", **print_kwargs})


def describe_figures_in_notebook() -> bool:
    """In an IPython kernel, make every displayed figure's PNG carry its caption and alt text.

    Returns False (and changes nothing) outside IPython. Called by :func:`use_persian_style`,
    after pyplot has chosen its inline backend, so this formatter replaces the backend's own.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # matplotlib loads its backend lazily, at the first figure; the inline backend then replaces
    # every Figure formatter. Load it now, so the formatter registered below is the one that stays.
    if hasattr(plt, "_get_backend_mod"):
        plt._get_backend_mod()
    else:  # pragma: no cover - older/newer matplotlib without the private helper
        plt.close(plt.figure())
    shell.display_formatter.formatters["image/png"].for_type(Figure, png_with_description)
    # `%matplotlib inline` or `%config InlineBackend.figure_formats` later would replace it again.
    if _register_before_each_cell not in getattr(shell.events, "callbacks", {}).get("pre_execute", []):
        shell.events.register("pre_execute", _register_before_each_cell)
    return True


def _register_before_each_cell():
    from IPython import get_ipython
    from matplotlib.figure import Figure

    shell = get_ipython()
    if shell is not None:
        png = shell.display_formatter.formatters["image/png"]
        if png.type_printers.get(Figure) is not png_with_description:
            png.for_type(Figure, png_with_description)
