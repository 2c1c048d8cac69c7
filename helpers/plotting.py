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
    return family


def rtl(text: str) -> str:
    """Prefix ``text`` with RLM so a label starting with a Latin word (``"ReLU با BN"``) is laid out right-to-left."""
    if not isinstance(text, str):
        raise TypeError(f"rtl() expects a str, got {type(text).__name__}")
    return text if text.startswith(RLM) else RLM + text
