"""Copy the site's browser assets from node_modules/ (installed by `npm ci`).

The built book makes no request to other hosts: the Vazirmatn font, MathJax,
require.js and the ipywidgets HTML manager are served from the site itself.
Nothing here is committed; `make assets` recreates it from package-lock.json.

Layout produced (both folders are git-ignored):
  _static/fonts/   Vazirmatn variable woff2 + its OFL licence (CSS @font-face)
  _vendor/_static/vendor/  mathjax/, widgets/ — html_extra_path copies _vendor/ onto the
                   site root, so they are served from _static/vendor/ (where mathjax_path and
                   nb_ipywidgets_js point) without being in the source _static/, every .js of
                   which Jupyter Book would inject into every page.
"""
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
FONTS = ROOT / "_static" / "fonts"
VENDOR = ROOT / "_vendor" / "_static" / "vendor"


def _copy(src: Path, dst: Path) -> None:
    if not src.exists():
        sys.exit(f"missing {src.relative_to(ROOT)}: run `npm ci` first")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def build_assets() -> None:
    vazirmatn = NODE / "vazirmatn"
    _copy(vazirmatn / "fonts" / "webfonts" / "Vazirmatn[wght].woff2", FONTS / "Vazirmatn-Variable.woff2")
    _copy(vazirmatn / "OFL.txt", FONTS / "Vazirmatn-OFL.txt")

    mathjax = NODE / "mathjax"
    es5 = mathjax / "es5"
    _copy(es5 / "tex-chtml.js", VENDOR / "mathjax" / "tex-chtml.js")
    _copy(mathjax / "LICENSE", VENDOR / "mathjax" / "LICENSE")
    for part in ("output/chtml/fonts", "input/tex/extensions", "ui", "a11y"):
        if (es5 / part).exists():
            _copy(es5 / part, VENDOR / "mathjax" / part)

    widgets = VENDOR / "widgets"
    _copy(NODE / "requirejs" / "require.js", widgets / "require.js")
    html_manager = NODE / "@jupyter-widgets" / "html-manager" / "dist"
    for f in html_manager.iterdir():
        if f.name == "embed-amd.js" or f.suffix in {".woff2", ".woff", ".ttf", ".eot", ".svg"}:
            _copy(f, widgets / f.name)


if __name__ == "__main__":
    build_assets()
    print(f"assets copied to {FONTS.relative_to(ROOT)} and {VENDOR.relative_to(ROOT)}")
