"""Sphinx extension: Persian labels for extensions and themes that ship no Persian catalogue.

sphinx-exercise titles its boxes "Exercise" and "Solution to" in every language
it has no translation for, and Persian is not among them; sphinx-book-theme and
pydata-sphinx-theme have no Persian catalogue either ("Skip to main content",
"Download this page", "Color mode", the footer's "By"). This registers Persian
message catalogues for them the way the themes load their own (``add_message_catalog``),
compiled at start-up into the build folder (nothing binary is committed).
The few strings the themes' templates hard-code in English (no gettext) are
translated after the build by HTML_STRINGS below.
"""
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

TRANSLATIONS = {
    "exercise": {"Exercise": "تمرین", "Solution": "پاسخ", "Solution to": "پاسخ"},
    # sphinx-book-theme 1.3 ships no Persian catalogue ("booktheme" domain): buttons, tooltips, footer.
    "booktheme": {
        "By": "به قلم",
        "By the": "به قلم",
        "Contents": "محتوا",
        "Copyright": "حق نشر",
        "Download notebook file": "دانلود فایل دفترچه",
        "Download source file": "دانلود فایل منبع",
        "Download this page": "دانلود این صفحه",
        "Edit this page": "ویرایش این صفحه",
        "Fullscreen mode": "حالت تمام‌صفحه",
        "Last updated on": "آخرین به‌روزرسانی",
        "Launch": "اجرا",
        "Open an issue": "گزارش یک مشکل",
        "Print to PDF": "چاپ یا ذخیره به PDF",
        "Source repository": "مخزن منبع",
        "Sphinx Book Theme": "پوستهٔ Sphinx Book",
        "Theme by the": "پوسته از",
        "Toggle navigation": "باز و بسته کردن فهرست",
        "next page": "صفحهٔ بعدی",
        "previous page": "صفحهٔ قبلی",
        "open issue": "گزارش مشکل",
        "repository": "مخزن",
        "suggest edit": "پیشنهاد ویرایش",
        "logo": "نشان",
    },
    # pydata-sphinx-theme 0.17 ships no Persian either; its strings live in Sphinx's own "sphinx"
    # domain, where Sphinx's Persian catalogue comes first and this one fills what it lacks.
    "sphinx": {
        "Click to expand": "برای باز کردن کلیک کنید",
        "Click to collapse": "برای بستن کلیک کنید",
        "Skip to main content": "رفتن به محتوای اصلی",
        "Back to top": "بازگشت به بالا",
        "Error": "خطا",
        "Breadcrumb": "مسیر صفحه",
        "Home": "خانه",
        "Copyright %(copyright)s": "حق نشر %(copyright)s",
        "© Copyright %(copyright)s.": "© حق نشر %(copyright)s",
        "Edit on %(provider)s": "ویرایش در %(provider)s",
        "Edit": "ویرایش",
        "Indices": "نمایه‌ها",
        "General Index": "نمایهٔ کلی",
        "Global Module Index": "نمایهٔ ماژول‌ها",
        "Python Module Index": "نمایهٔ ماژول‌های پایتون",
        "Last updated on %(last_updated)s.": "آخرین به‌روزرسانی: %(last_updated)s",
        "On this page": "در این صفحه",
        "previous page": "صفحهٔ قبلی",
        "next page": "صفحهٔ بعدی",
        "Collapse Sidebar": "بستن نوار کناری",
        "Expand Sidebar": "باز کردن نوار کناری",
        "Section Navigation": "پیمایش بخش",
        "Show Source": "نمایش منبع",
        "Color mode": "حالت رنگ",
        "Light": "روشن",
        "Dark": "تیره",
        "System Settings": "مطابق تنظیمات سیستم",
        "Version warning": "هشدار نسخه",
        "Announcement": "اعلان",
        "Site navigation": "پیمایش سایت",
        # Sphinx's own permalink tooltips, where its Persian catalogue has none.
        "Link to this heading": "پیوند به این بخش",
        "Link to this image": "پیوند به این شکل",
        "Link to this equation": "پیوند به این معادله",
        "Link to this table": "پیوند به این جدول",
        "Link to this code": "پیوند به این کد",
        "Link to this definition": "پیوند به این تعریف",
        "Link to this term": "پیوند به این واژه",
    },
}


# Attributes the themes' templates write in English without gettext (sphinx-book-theme 1.3:
# components/sbt-sidebar-nav.html, layout.html, toggle-*-sidebar.html), replaced in the built pages.
HTML_STRINGS = {
    'aria-label="Main"': 'aria-label="فهرست کتاب"',
    '<nav aria-label="Page">': '<nav aria-label="صفحه">',
    'title="Toggle primary sidebar"': 'title="باز و بسته کردن فهرست کتاب"',
    'title="Toggle secondary sidebar"': 'title="باز و بسته کردن فهرست این صفحه"',
}


def translate_html(html: str) -> str:
    """``html`` with the themes' hard-coded English attributes in Persian."""
    for english, persian in HTML_STRINGS.items():
        html = html.replace(english, persian)
    return html


def _translate_pages(app, exception):
    if exception is not None or app.builder.format != "html" or not (app.config.language or "").startswith("fa"):
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        translated = translate_html(text)
        if translated != text:
            page.write_text(translated, encoding="utf-8")


def write_catalogues(locale_root: Path, language: str = "fa") -> None:
    """Compile TRANSLATIONS into ``locale_root/<language>/LC_MESSAGES/<domain>.mo``."""
    for domain, messages in TRANSLATIONS.items():
        catalog = Catalog(locale=language, domain=domain)
        for source, translated in messages.items():
            catalog.add(source, translated)
        target = locale_root / language / "LC_MESSAGES" / f"{domain}.mo"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            write_mo(f, catalog)


def setup(app):
    locale_root = Path(app.doctreedir).parent / "persian_labels"
    write_catalogues(locale_root)
    for domain in TRANSLATIONS:
        app.add_message_catalog(domain, str(locale_root))
    app.connect("build-finished", _translate_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
