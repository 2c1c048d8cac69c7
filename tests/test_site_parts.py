"""Fast checks of the pieces behind the site (no build, no browser): figure descriptions,
search snippets without TeX, Persian interface strings, bibliography direction, downloads."""
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from helpers.plotting import PNG_ALT_KEY, PNG_CAPTION_KEY, describe_figure, plain_label, rtl  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_ext"))
import figure_captions  # noqa: E402
import persian_labels  # noqa: E402
import rtl_direction  # noqa: E402
import site_pages  # noqa: E402
import site_search  # noqa: E402


@pytest.fixture
def fig():
    figure = plt.figure()
    yield figure
    plt.close(figure)


def test_plain_label_drops_marks_and_mathtext():
    assert plain_label(rtl("با BN")) == "با BN"
    assert plain_label(r"نرخ $\eta$ = 0.1") == "نرخ η = 0.1"
    assert plain_label(r"$\rho = 1.1$") == "ρ = 1.1"
    assert plain_label(r"$\|(W^\top)^k g\|$") == "‖(Wᵀ)k g‖"
    with pytest.raises(TypeError):
        plain_label(None)


def test_caption_and_alt_come_from_titles_labels_and_legend(fig):
    ax = fig.add_subplot()
    ax.plot([1, 2], [1, 10], label=rtl("با BN"))
    ax.plot([1, 2], [2, 3], label="بدون BN")
    ax.set(title="دقت آموزشی", xlabel="گام", ylabel="دقت", yscale="log")
    ax.legend()
    caption, alt = describe_figure(fig)
    assert caption == "دقت آموزشی"
    assert "نمودار خطی «دقت آموزشی»" in alt and "محور افقی: گام" in alt
    assert "محور عمودی: دقت (مقیاس لگاریتمی)" in alt and "«با BN» و «بدون BN»" in alt


def test_panels_are_described_left_to_right_under_the_suptitle(fig):
    left, right = fig.subplots(1, 2)
    left.bar([1, 2], [3, 4])
    left.set_title("الف")
    right.plot([1, 2])
    right.set_xlabel("لایه")
    fig.suptitle("کل")
    caption, alt = describe_figure(fig)
    assert caption == "کل"
    assert alt.startswith("کل. دو نمودار کنار هم، از چپ به راست.")
    assert "نمودار اول، نمودار میله‌ای «الف»" in alt and "نمودار دوم، نمودار خطی؛ محور افقی: لایه" in alt


def test_untitled_figure_falls_back_to_its_axis_labels_then_nothing(fig):
    ax = fig.add_subplot()
    ax.plot([1, 2])
    assert describe_figure(fig)[0] == ""
    ax.set(xlabel="زمان (مقیاس لگاریتمی)", xscale="log")
    caption, alt = describe_figure(fig)
    assert caption == "زمان (مقیاس لگاریتمی)" and alt.count("لگاریتمی") == 1
    ax.set(xlabel="گام", ylabel="زیان")
    assert describe_figure(fig)[0] == "زیان بر حسب گام"


def test_png_carries_the_description_for_the_book(fig, tmp_path):
    from helpers.plotting import png_with_description

    ax = fig.add_subplot()
    ax.plot([1, 2])
    ax.set_title("زیان")
    import base64

    path = tmp_path / "f.png"
    path.write_bytes(base64.b64decode(png_with_description(fig)))
    assert Image.open(path).text[PNG_CAPTION_KEY] == "زیان"
    assert figure_captions.png_description(path) == ("زیان", Image.open(path).text[PNG_ALT_KEY])


def test_png_without_description_reads_empty(fig, tmp_path):
    fig.add_subplot().plot([1, 2])
    path = tmp_path / "plain.png"
    fig.savefig(path)
    assert figure_captions.png_description(path) == ("", "")


def test_figure_labels_are_stable_per_page():
    assert figure_captions.figure_label("chapters/01_batchnorm", 2) == "fig-01-batchnorm-2"
    assert figure_captions.figure_label("labs/student/lab6_resnet", 1) == "fig-lab6-resnet-1"


def test_search_snippets_hold_no_tex():
    assert site_search.tex_to_text(r"\(\gamma^{\lfloor t/s \rfloor}\)") == "γ⌊ t/s ⌋"
    assert site_search.tex_to_text(r"\(8 \times 8\)") == "8 × 8"
    assert "\\" not in site_search.tex_to_text(r"\[\begin{aligned} \hat{x} &= \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}} \end{aligned}\]")
    html = ('<html><body><main role="main"><article><h1 id="t">عنوان</h1><p>نرخ '
            '<span class="math">\\(\\eta\\)</span> کم</p><div class="cell_output">0.93</div>'
            '<script>x()</script></article></main></body></html>')
    summary = site_search.page_summary_html(html)
    assert summary.startswith('<div role="main">') and 'id="t"' in summary
    assert "η" in summary and "\\(" not in summary and "0.93" not in summary and "x()" not in summary


def test_theme_strings_are_translated():
    assert persian_labels.TRANSLATIONS["booktheme"]["By"] == "به قلم"
    for domain in ("booktheme", "sphinx"):
        for english, persian in persian_labels.TRANSLATIONS[domain].items():
            assert any("\u0600" <= c <= "\u06ff" for c in persian), (domain, english)
    html = '<nav class="bd-links" aria-label="Main"><button title="Toggle primary sidebar">'
    assert "Main" not in persian_labels.translate_html(html) and "Toggle" not in persian_labels.translate_html(html)


def test_catalogues_compile(tmp_path):
    import gettext

    persian_labels.write_catalogues(tmp_path)
    booktheme = gettext.translation("booktheme", str(tmp_path), languages=["fa"])
    assert booktheme.gettext("Download this page") == "دانلود این صفحه"
    sphinx = gettext.translation("sphinx", str(tmp_path), languages=["fa"])
    assert sphinx.gettext("Skip to main content") == "رفتن به محتوای اصلی"


def test_citations_take_their_own_direction():
    html = '<html lang="fa"><div class="citation" id="id5" role="doc-biblioentry">'
    marked = rtl_direction.mark_direction(html)
    assert '<div class="citation" dir="auto" id="id5"' in marked and 'dir="rtl"' in marked
    assert rtl_direction.mark_direction(marked) == marked


def test_source_download_links_download():
    html = ('<li><a href="../../_sources/labs/student/lab1.ipynb" target="_blank"\n'
            '   class="btn btn-sm btn-download-source-button dropdown-item"')
    fixed = site_pages.SOURCE_DOWNLOAD.sub(r'<a href="\1" download\2', html)
    assert 'target="_blank"' not in fixed and '<a href="../../_sources/labs/student/lab1.ipynb" download' in fixed


def test_code_cells_above_the_title_move_under_it():
    from docutils import nodes
    from docutils.utils import new_document
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser

    doc = new_document("lab", get_default_settings(Parser))
    cell = nodes.container(nb_element="cell_code")
    section = nodes.section()
    section += nodes.title(text="آزمایشگاه ۱")
    section += nodes.paragraph(text="متن")
    doc += [cell, section]
    transform = site_pages.CodeCellsBelowTitle(doc)
    transform.apply()
    assert doc.children == [section]
    assert section.children[1] is cell and isinstance(section.children[0], nodes.title)
