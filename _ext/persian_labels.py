"""Sphinx extension: Persian labels for extensions that ship no Persian catalogue.

sphinx-exercise titles its boxes "Exercise" and "Solution to" in every language
it has no translation for, and Persian is not among them. This registers a
Persian message catalogue for it, compiled at start-up into the build folder
(nothing binary is committed).
"""
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

TRANSLATIONS = {
    "exercise": {"Exercise": "تمرین", "Solution": "پاسخ", "Solution to": "پاسخ"},
}


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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
