"""Sphinx extension: the book's glossary page, generated from glossary.yml.

glossary.yml is the course's one source of Persian terms. The directive

    ```{course-glossary} glossary.yml
    ```

renders it as Sphinx glossaries, one per section, so chapters can link a term
with {term}`نرمال‌سازی دسته‌ای`. Sphinx records glossary.yml as a dependency, so
editing it rebuilds the page.
"""
from pathlib import Path

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.domains.std import Glossary

REQUIRED_FIELDS = ("term", "fa", "en", "section")


def load_terms(path: Path) -> list[dict]:
    """Read and check glossary.yml: a list of {term, fa, en, section} with unique terms."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of terms")
    seen = set()
    for i, entry in enumerate(entries):
        missing = [f for f in REQUIRED_FIELDS if not entry.get(f)]
        if missing:
            raise ValueError(f"{path}: entry {i} lacks {', '.join(missing)}")
        if entry["term"] in seen:
            raise ValueError(f"{path}: duplicate term {entry['term']!r}")
        seen.add(entry["term"])
    return entries


class CourseGlossary(Glossary):
    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {}

    def run(self):
        env = self.state.document.settings.env
        rel_path, abs_path = env.relfn2path(self.arguments[0])
        env.note_dependency(rel_path)
        entries = load_terms(Path(abs_path))
        sections: dict[str, list[dict]] = {}
        for entry in entries:
            sections.setdefault(entry["section"], []).append(entry)
        result = []
        source = self.arguments[0]
        for title, group in sections.items():
            result.append(nodes.rubric(text=title))
            lines = StringList()
            for n, entry in enumerate(group):
                lines.append(entry["term"], source, n)
                other_forms = f"؛ همهٔ صورت‌ها: {entry['fa']}" if entry["fa"] != entry["term"] else ""
                lines.append(f"   واژهٔ انگلیسی: *{entry['en']}*{other_forms}", source, n)
                lines.append("", source, n)
            self.content = lines
            self.options = {}
            result.extend(super().run())
        return result


def setup(app):
    app.add_directive("course-glossary", CourseGlossary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
