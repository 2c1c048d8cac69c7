#!/usr/bin/env python3
"""Persian typography lint for the book's prose (Markdown/MyST pages and notebook markdown cells).

Stdlib only; it never rewrites a file, it only reports.  The rules implement the course's
Persian style guide (characters C1-C3, ZWNJ cases, digits D1/D4, punctuation P1/P2/P4,
bidi B1/B2, source hygiene).  Everything that is not Persian prose is masked first, so the
rules see only running text:

* YAML front matter, fenced code (``` / ~~~) and MyST directives whose body is code or math
  ({code-cell}, {math}, ...), directive option lines (``:label: ...``) and option blocks;
* display math ``$$...$$``, ``\\[...\\]``, ``\\begin{env}...\\end{env}``, inline math ``$...$``;
* inline code, MyST roles (``{glue:text}`x```, ``{cite:p}`key```), substitutions ``{{ x }}``;
* link targets ``](...)``, reference definitions, URLs, e-mail addresses, HTML tags and comments,
  HTML entities, MyST targets ``(label)=`` and ``%`` comments.

Masked characters are replaced by a placeholder of the same length, so line and column
numbers refer to the original file.  For notebooks the line is counted inside the cell.

Module use::

    from persian_lint import lint_text, lint_file, book_prose_files
    findings = lint_text("این مدل را ترین کردیم.")

Command line::

    python tools/persian_lint.py                  # the book's prose (see book_prose_files)
    python tools/persian_lint.py chapters/x.ipynb docs/  [--digits persian|latin|any] [--no-info]

Exit status 1 if any ERROR finding, else 0.  The last line printed is a one-line summary.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

ERROR, WARN, INFO = "ERROR", "WARN", "INFO"
SEVERITIES = (ERROR, WARN, INFO)

# --------------------------------------------------------------------------- character classes
# Arabic-script letters used in Persian words (tatweel U+0640 and digits excluded).
LETTERS = "\u0621-\u063A\u0641-\u064A\u066E\u066F\u0671-\u06D3\u06D5\u06EE\u06EF\u06FA-\u06FC\u06FF"
MARKS = "\u064B-\u065F\u0670"                       # harakat, hamza above (هٔ) ...
LET = f"[{LETTERS}]"                                 # one Persian letter
WCH = f"[{LETTERS}{MARKS}]"                          # one character of a Persian word
START = f"(?<![{LETTERS}{MARKS}\u200c])"             # a Persian word starts here
END = f"(?![{LETTERS}{MARKS}])"                      # a Persian word (or word part) ends here
ZWNJ = "\u200c"
MASK = "\ue000"                                      # stand-in for a masked (non-prose) char
FA_DIGITS = "\u06F0-\u06F9"

# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """One report: where (path, cell for notebooks, 1-based line and column), what and how bad."""

    path: str
    line: int
    col: int
    rule: str
    severity: str
    message: str
    excerpt: str = ""
    cell: int | None = None

    @property
    def location(self) -> str:
        cell = f"[cell {self.cell}]" if self.cell is not None else ""
        return f"{self.path}{cell}:{self.line}:{self.col}"

    def __str__(self) -> str:
        shown = f"  «{self.excerpt}»" if self.excerpt else ""
        return f"{self.location}: {self.severity} {self.rule} {self.message}{shown}"


# --------------------------------------------------------------------------- masking
# Directives whose body is Persian prose (admonitions, captions, ...).  Every other directive
# ({code-cell}, {math}, {literalinclude}, {bibliography}, unknown ones) is masked whole.
PROSE_DIRECTIVES = {
    "note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error",
    "seealso", "admonition", "margin", "sidebar", "dropdown", "epigraph", "pull-quote",
    "highlights", "topic", "figure", "table", "list-table", "exercise", "solution",
    "tab-set", "tab-item", "card", "grid", "grid-item", "grid-item-card", "div", "container",
    "glossary", "rubric", "centered", "versionadded", "versionchanged", "deprecated", "todo",
    "glue:figure", "aside", "proof",
}
# Of those, the ones whose argument on the fence line is a Persian title (kept as prose).
TITLED_DIRECTIVES = {"admonition", "dropdown", "topic", "sidebar", "tab-item", "card",
                     "grid-item-card", "exercise", "solution", "rubric", "table", "list-table"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_OPTION = re.compile(r"^[ \t]*:[\w.-]+:(?:[ \t].*)?$")


def _blank(s: str) -> str:
    """Replace every character except newlines by the mask placeholder."""
    return re.sub(r"[^\n]", MASK, s)


def _is_prose_directive(name: str) -> bool:
    return name in PROSE_DIRECTIVES or name.startswith("prf:")


def _mask_fences(lines: list[str]) -> list[str]:
    """Mask fence lines, code/math blocks and directive options; keep prose directive bodies."""
    out: list[str] = []
    stack: list[tuple[str, int, bool]] = []          # (fence char, fence length, body is prose)
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if stack:
            char, length, prose = stack[-1]
            closing = m and m["fence"][0] == char and len(m["fence"]) >= length and not m["info"].strip()
            if closing:
                out.append(_blank(line))
                stack.pop()
                i += 1
                continue
            if not prose:
                out.append(_blank(line))
                i += 1
                continue
        if m and not (m["fence"][0] == "`" and "`" in m["info"]):
            info = m["info"].strip()
            dm = re.match(r"\{([^}\s]+)\}", info)
            name = dm.group(1) if dm else ""
            prose = bool(dm) and _is_prose_directive(name)
            if m["fence"][0] == ":" and not dm:       # a ':::' line that opens nothing
                out.append(line)
                i += 1
                continue
            if prose and name in TITLED_DIRECTIVES:   # keep a Persian title as prose
                keep_from = len(m["indent"]) + len(m["fence"]) + (len(m["info"]) - len(m["info"].lstrip())) + dm.end()
                out.append(_blank(line[:keep_from]) + line[keep_from:])
            else:
                out.append(_blank(line))
            stack.append((m["fence"][0], len(m["fence"]), prose))
            i += 1
            if prose:                                 # options: a '---' YAML block or ':key: value' lines
                if i < len(lines) and lines[i].strip() == "---":
                    j = i + 1
                    while j < len(lines) and lines[j].strip() != "---":
                        j += 1
                    for k in range(i, min(j + 1, len(lines))):
                        out.append(_blank(lines[k]))
                    i = min(j + 1, len(lines))
                while i < len(lines) and _OPTION.match(lines[i]):
                    out.append(_blank(lines[i]))
                    i += 1
            continue
        out.append(line)
        i += 1
    return out


def _entity(m: re.Match) -> str:
    """HTML entities are markup, except &nbsp; which stays visible to the NBSP rule."""
    s = m.group(0)
    if s.lower() in ("&nbsp;", "&#160;", "&#xa0;", "&#x00a0;"):
        return "\u00a0" + MASK * (len(s) - 1)
    return MASK * len(s)


# Inline patterns, applied in this order to the text left by _mask_fences.
_INLINE_MASKS: list[tuple[re.Pattern, Callable[[re.Match], str] | None]] = [
    (re.compile(r"<!--.*?-->", re.S), None),                                   # HTML comments
    (re.compile(r"\{[\w:.+-]+\}(`+)(?:(?!\1).)+?\1", re.S), None),             # MyST roles
    (re.compile(r"(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)\1(?!`)", re.S), None),  # inline code
    (re.compile(r"\$\$.*?\$\$", re.S), None),                                  # display math
    (re.compile(r"\\\[.*?\\\]", re.S), None),
    (re.compile(r"\\begin\{([\w*]+)\}.*?\\end\{\1\}", re.S), None),            # amsmath blocks
    (re.compile(r"(?<![\\$])\$(?![\s$])(?:[^$\\\n]|\\.|\n(?![ \t]*\n))+?(?<![\s\\])\$(?!\d)"), None),
    (re.compile(r"\\\(.*?\\\)", re.S), None),
    (re.compile(r"\{\{.*?\}\}"), None),                                        # substitutions
    (re.compile(r"(?m)^[ \t]*\[[^\]\n]+\]:[ \t]+\S.*$"), None),                # reference definitions
    (re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*(?:[ \t]+\"[^\"\n]*\")?\)"), None),  # link targets
    (re.compile(r"\]\[[^\]\n]*\]"), None),                                     # reference links
    (re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>"), None),                    # autolinks
    (re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>"), None),                 # HTML tags
    (re.compile(r"(?:https?|ftp)://[^\s<>«»()\[\]]+|www\.[^\s<>«»()\[\]]+"), None),  # URLs
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), None),                       # e-mail addresses
    (re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#\d+|#[xX][0-9a-fA-F]+);"), _entity),  # entities
    (re.compile(r"(?m)^[ \t]*\([^()\s]+\)=[ \t]*$"), None),                    # MyST targets
    (re.compile(r"(?m)^[ \t]*%.*$"), None),                                    # MyST comments
    (re.compile(r"(?m)^[ \t]*\+\+\+.*$"), None),                               # block breaks
]


def mask(text: str) -> str:
    """Return `text` with every non-prose character replaced by a placeholder (same length)."""
    fm = re.match(r"---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?=\n|\Z)", text, re.S)
    if fm:
        text = _blank(fm.group(0)) + text[fm.end():]
    text = "\n".join(_mask_fences(text.split("\n")))
    for pat, repl in _INLINE_MASKS:
        text = pat.sub(repl or (lambda m: _blank(m.group(0))), text)
    return text


# --------------------------------------------------------------------------- rules
# Present and past stems of verbs that take the prefix می/نمی (joined-prefix detection).
VERB_STEMS = (
    "شو|شد|کن|کرد|توان|توانست|ده|داد|گیر|گرفت|رس|رسید|رسان|رساند|دان|دانست|خواه|خواست|آی|آمد|"
    "رو|رفت|گو|گوی|گفت|بین|دید|یاب|یافت|زن|زد|کاه|کاست|ساز|ساخت|مان|ماند|پذیر|پذیرفت|بر|برد|"
    "نویس|نوشت|خوان|خواند|افت|افتاد|دار|داشت|آور|آورد|بخش|بخشید|گذار|گذاشت|گذر|گذشت|پرداز|پرداخت|"
    "کش|کشید|شناس|شناخت|سنج|سنجید|انداز|انداخت|آموز|آموخت|افزا|افزای|افزود|نما|نمای|نمود|گرد|"
    "گردان|گرداند|گشت|گزین|گزید|بند|بست|شمار|شمرد|جوی|جست|ریز|ریخت|فرست|فرستاد|پرس|پرسید|چرخ|"
    "چرخید|لغز|لغزید|ران|راند|نشان|نشاند|کوش|کوشید|بای|بایست|خور|خورد|پوش|پوشید|شکن|شکست|آمیز|"
    "آمیخت|خیز|خاست|چین|چید|سپار|سپرد|پیما|پیمود|تاب|تابید|سوز|سوخت|گشا|گشای|گشود|نگر|نگریست|"
    "ارز|ارزید|پاش|پاشید|خر|خرید|فروش|فروخت|ترس|ترسید|فهم|فهمید|"
    "تون|تونست|دون|دونست|ذار|زار|خوا|"               # colloquial stems
    "شه|شن|شم|گه|گن|گم|گی|ره|رن|دم|دن|دیم|اد|اره|ارن|فته|وفته"   # colloquial whole forms
)
VERB_ENDINGS = "یم|ید|ند|ن|م|ی|د|ه"
# Real words that look like می + stem: not verbs (میدان = field, میگو = shrimp).
MI_NOT_VERBS = "میدان|میدانی|میدانها|میگو|میگوها"
# Words that can follow a stand-alone «می» when it is not a verbal prefix.
MI_STOPWORDS = "از|به|در|با|بر|برای|که|و|را|تا|هم|این|آن|یک|یا|نیز|هر|چه|اما|ولی|اگر|است|بود|ناب"
PLURAL = "هایشان|هایتان|هایمان|هایش|هایت|هایم|هایی|های|ها"
# «ترین کردن / ترین شد / ترینینگ»: English "train" written in Persian letters.
TRAIN_SLANG = re.compile(
    f"{START}ترین(?:ینگ{END}|[ \t\u200c]*(?:ن?می[ \t\u200c]*|ب)?"
    f"(?:کرد|کن|شد|شو|شه)(?:ن|ه|یم|ید|ند|ام|ای|اند|م|ی|د)?{END})"
)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    message: str
    find: Callable[[str, str], Iterable[tuple[int, int]]]   # (masked, raw) -> spans in the text


def _regex(pattern: str, *, raw: bool = False, keep: Callable[[re.Match, str], bool] | None = None,
           group: int | str = 0) -> Callable[[str, str], Iterator[tuple[int, int]]]:
    compiled = re.compile(pattern)

    def find(masked: str, text: str) -> Iterator[tuple[int, int]]:
        subject = text if raw else masked
        for m in compiled.finditer(subject):
            if keep is None or keep(m, subject):
                yield m.span(group)
    return find


def _word_before(s: str, pos: int) -> str:
    m = re.search(f"{WCH}+$", s[:pos].rstrip(" \t"))
    return m.group(0) if m else ""


def _quotes(masked: str, text: str) -> Iterator[tuple[int, int]]:
    """Straight double quotes around Persian text: one finding per quoted span or stray quote."""
    used = set()
    for m in re.finditer(r'"([^"\n]*)"', masked):
        used.update((m.start(), m.end() - 1))
        if re.search(LET, m.group(1)):
            yield m.start(), m.start() + 1
    for m in re.finditer(f'(?<={WCH})"|"(?={LET})', masked):
        if m.start() not in used:
            yield m.span()


def _zwnj(masked: str, text: str) -> Iterator[tuple[int, int]]:
    for m in re.finditer(f"[ \t]*{ZWNJ}+[ \t]*", masked):
        s, e = m.span()
        edge = s == 0 or masked[s - 1] == "\n" or e == len(masked) or masked[e] == "\n"
        if edge or m.group(0).count(ZWNJ) > 1 or len(m.group(0).strip(" \t")) != len(m.group(0)):
            yield s, e


def _mixed_digits(masked: str, text: str) -> Iterator[tuple[int, int]]:
    for m in re.finditer(f"[0-9{FA_DIGITS}]+(?:[.\u066B\u066C][0-9{FA_DIGITS}]+)*", masked):
        if re.search("[0-9]", m.group(0)) and re.search(f"[{FA_DIGITS}]", m.group(0)):
            yield m.span()


def _tar_space(masked: str, text: str) -> Iterator[tuple[int, int]]:
    for m in re.finditer(f"(?<={WCH})[ \t]+(?:ترین|تری|تر){END}(?!{ZWNJ})", masked):
        word = m.group(0).strip()
        if word == "ترین" and TRAIN_SLANG.match(masked, m.start() + len(m.group(0)) - 4):
            continue                                  # train slang, reported by Z-TRAIN
        if _word_before(masked, m.start()) in ("و", "را", "از", "به", "با", "در", "که"):
            continue                                  # «تر» = wet, or «را ترین» (slang) as a word
        yield m.span()


def _space_before_punct(masked: str, text: str) -> Iterator[tuple[int, int]]:
    # ، ؛ ؟ never take a space before them; . ! : only after a Persian word (Latin uses vary).
    yield from (m.span() for m in re.finditer(f"(?<=[\\w)\\]»{MASK}])[ \t]+[،؛؟]", masked))
    pat = f"(?<={WCH})[ \t]+(?:\\.(?![.\\w])|!(?![\\[=\\w])|:(?![:\\w]))"
    yield from (m.span() for m in re.finditer(pat, masked))


def _latin_punct(masked: str, text: str) -> Iterator[tuple[int, int]]:
    pat = f"(?<={WCH})[ \t]*([,;?])|([,;?])(?=[ \t]*{LET})"
    for m in re.finditer(pat, masked):
        g = 1 if m.group(1) else 2
        yield m.span(g)


def _digits_policy(kind: str) -> Callable[[str, str], Iterator[tuple[int, int]]]:
    def find(masked: str, text: str) -> Iterator[tuple[int, int]]:
        for line_start, line in _lines_with_offsets(masked):
            if not re.search(LET, line):
                continue                              # not a Persian line
            if kind == "latin-in-prose":              # policy persian: Latin digits in prose
                pat = r"(?<![\w.-])[0-9]+(?:[.,][0-9]+)*(?![\w-])"
                for m in re.finditer(pat, line):
                    if not re.search(r"[A-Za-z]", line[max(0, m.start() - 2):m.start()]):
                        yield line_start + m.start(), line_start + m.end()
            else:                                     # policy latin: Persian digits in prose
                for m in re.finditer(f"[{FA_DIGITS}]+(?:[\u066B\u066C][{FA_DIGITS}]+)*", line):
                    yield line_start + m.start(), line_start + m.end()
    return find


RULES: list[Rule] = [
    Rule("C1-YEH", ERROR, "Arabic yeh (U+064A/U+0649): use Persian yeh ی U+06CC",
         _regex("[\u064A\u0649]")),
    Rule("C1-KAF", ERROR, "Arabic kaf U+0643: use keheh ک U+06A9", _regex("\u0643")),
    Rule("C3-DIGIT", ERROR, "Arabic-Indic digits U+0660-0669: use Persian ۰-۹ (U+06F0-06F9)",
         _regex("[\u0660-\u0669]+")),
    Rule("C3-TATWEEL", ERROR, "tatweel/kashida U+0640 in prose: remove it", _regex("\u0640+")),
    Rule("C2-HEH-HAMZA", WARN, "precomposed ۀ U+06C0: the book writes هٔ (ه + U+0654)", _regex("\u06C0")),
    Rule("C3-TEH-MARBUTA", WARN, "ة U+0629 outside an Arabic quotation: Persian writes ه or ت", _regex("\u0629")),
    Rule("B2-BIDI-CONTROL", ERROR,
         "bidi embedding/override control U+202A-202E (checked in code too): use <bdi>/dir= or LRM/RLM",
         _regex("[\u202A-\u202E]", raw=True)),
    Rule("H-NBSP", ERROR, "no-break space U+00A0 (or &nbsp;) in prose: use a space or a ZWNJ", _regex("\u00A0")),
    Rule("P1-LATIN-PUNCT", ERROR, "Latin , ; ? next to Persian text: use ، ؛ ؟", _latin_punct),
    Rule("P4-QUOTES", ERROR, "straight double quotes around Persian: use « »", _quotes),
    Rule("Z-TRAIN", ERROR, "«ترین کردن/ترین شد» is slang for train: write «آموزش دادن/آموزش دید»",
         lambda masked, text: (m.span() for m in TRAIN_SLANG.finditer(masked))),
    Rule("Z-MI-SPACE", ERROR, "prefix می/نمی followed by a space: write a ZWNJ (می‌شود)",
         _regex(f"{START}ن?می[ \t]+(?!(?:{MI_STOPWORDS}){END})(?={LET})")),
    Rule("Z-MI-JOINED", ERROR, "prefix می/نمی glued to the verb: write a ZWNJ (می‌شود، نمی‌توان)",
         _regex(f"{START}(?!(?:{MI_NOT_VERBS}){END})ن?می(?:{VERB_STEMS})(?:{VERB_ENDINGS})?{END}")),
    Rule("Z-PLURAL-SPACE", ERROR, "plural ها/های after a space: write a ZWNJ (لایه‌ها)",
         _regex(f"(?<={WCH})[ \t]+(?:{PLURAL}){END}")),
    Rule("Z-TAR-SPACE", ERROR, "تر/ترین after a space: write a ZWNJ (عمیق‌تر، ساده‌ترین)", _tar_space),
    Rule("Z-HEH-PLURAL", ERROR, "ها glued to a word-final ه: write a ZWNJ (لایه‌ها، داده‌های)",
         _regex(f"(?<={WCH}ه)(?:{PLURAL}){END}")),
    Rule("Z-HEH-SUFFIX", WARN, "suffix after a word-final ه: write a ZWNJ (لایه‌ای، گفته‌اند، شده‌ام)",
         _regex(f"(?<={WCH}ه)(?:[ \t]+(?:ای|اند|ام|ایم|اید)|[ \t]+ی|اند){END}")),
    Rule("Z-ZWNJ", ERROR, "ZWNJ next to a space or line edge, or doubled: keep exactly one, between letters",
         _zwnj),
    Rule("P2-SPACE-BEFORE", ERROR, "space before punctuation (، ؛ ؟ . : !): attach it to the word", _space_before_punct),
    Rule("P2-SPACE-AFTER", WARN, "no space after ، ؛ ؟", _regex(f"[،؛؟](?={LET})")),
    Rule("D4-MIXED-DIGITS", ERROR, "one number mixes Latin and Persian digits", _mixed_digits),
]
B1 = ("B1-LATIN-START", INFO, "Persian block starts with a Latin word: renders LTR where direction is "
      "auto-detected (GitHub, notebooks); start with a Persian word or an RLM U+200F")
DIGIT_RULES = {
    "persian": Rule("D1-LATIN-DIGIT", WARN, "Latin digits in Persian prose (policy --digits=persian): "
                    "use ۰-۹, or inline code/math for values from code", _digits_policy("latin-in-prose")),
    "latin": Rule("D1-PERSIAN-DIGIT", WARN, "Persian digits in prose (policy --digits=latin)",
                  _digits_policy("persian-in-prose")),
}


# --------------------------------------------------------------------------- D5: where a number comes from
# The book's policy (CONTRIBUTING.md, "Numbers in prose"): a number in a chapter's prose is glued from an
# executed cell ({glue:text}, masked), is math or code (masked), is quoted from a cited paper ({cited}`14`
# in a paragraph that has a {cite:...}), is quoted from the source thread (inside «...», a blockquote or a
# `claim` box), or is structural: a chapter/section/exercise/figure number, a year, a list number, or part
# of a name (ResNet-18, CIFAR-10, float32). Any other number was typed by hand and may contradict the runs.
STRUCTURAL = ("فصل", "فصل‌های", "بخش", "بخش‌های", "تمرین", "تمرین‌های", "شکل", "جدول", "ادعای", "ادعاهای",
              "پاسخ", "دیدگاه", "آزمایشگاه", "بند", "بندهای", "سطر", "ستون", "رشتهٔ", "سال", "سال‌های", "دههٔ",
              "نسخهٔ", "شمارهٔ", "قدم", "معادلهٔ", "الگوریتم", "پیوست", "مجوز", "CC BY-SA", "§")
_NUMBER = re.compile(f"[0-9{FA_DIGITS}]+(?:[.,\u066B\u066C/][0-9{FA_DIGITS}]+)*")
_STRUCT_BEFORE = re.compile("(?:" + "|".join(map(re.escape, STRUCTURAL)) + f")[ \t\u200c]*(?:[0-9{FA_DIGITS}]+"
                            f"[ \t]*(?:،|و|تا|-|–|,)[ \t]*)*$")
_DIGIT_VALUE = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans quoted from a source: «...», blockquote lines, and the bodies of `claim` admonitions."""
    spans = [m.span() for m in re.finditer("«[^«»]*»", text)]
    pos, in_claim, opener = 0, False, ""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if in_claim:
            if stripped == opener:
                in_claim = False
            else:
                spans.append((pos, pos + len(line)))
        elif re.match(r"^(:{3,}|`{3,})\{admonition\}", stripped) and any(
                lines[j].strip() == ":class: claim" for j in range(i + 1, min(i + 4, len(lines)))):
            in_claim, opener = True, re.match(r"^(:{3,}|`{3,})", stripped).group(1)
        if stripped.startswith(">"):
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _unsourced_numbers(masked: str, text: str) -> Iterator[tuple[int, int]]:
    quoted = _quoted_spans(text)
    for m in _NUMBER.finditer(masked):
        s, e = m.span()
        before, after = masked[max(0, s - 40):s], masked[e:e + 1]
        if re.search(r"[A-Za-z_\-]$", before) or re.match(r"[A-Za-z]", after):
            continue                                   # part of a name: ResNet-18, float32, x5
        value = m.group(0).translate(_DIGIT_VALUE)
        if re.fullmatch(r"(1[5-9]|20)[0-9]{2}", value):
            continue                                   # a year
        line_start = masked.rfind("\n", 0, s) + 1
        if re.fullmatch(r"[ \t>|*-]*", masked[line_start:s]) and masked[e:e + 1] in (".", ")"):
            continue                                   # a list number: «۱. ...»
        if _STRUCT_BEFORE.search(before):
            continue                                   # «فصل ۴»، «تمرین‌های ۲ و ۳»
        if any(a <= s < b for a, b in quoted):
            continue                                   # quoted from the source thread
        yield s, e


def _cited_without_cite(masked: str, text: str) -> Iterator[tuple[int, int]]:
    for para in re.finditer(r"(?:(?!\n[ \t]*\n).)+", text, re.S):
        if "{cited}" in para.group(0) and "{cite" not in para.group(0).replace("{cited}", ""):
            k = para.group(0).index("{cited}")
            yield para.start() + k, para.start() + k + 7


SOURCE_RULES = [
    Rule("D5-UNSOURCED-NUMBER", ERROR, "a number typed in prose: glue it from a cell ({glue:text}), quote a "
         "cited paper ({cited}`N` with {cite:p}), write math/code, or write small counts as words",
         _unsourced_numbers),
    Rule("D5-CITED-NO-CITE", ERROR, "{cited} number in a paragraph that cites no paper ({cite:p}`key`)",
         _cited_without_cite),
]


def _lines_with_offsets(s: str) -> Iterator[tuple[int, str]]:
    pos = 0
    for line in s.split("\n"):
        yield pos, line
        pos += len(line) + 1


def _bidi_start(masked: str) -> Iterator[int]:
    """Offsets of the first strong character of Persian blocks that start left-to-right."""
    blocks: list[list[tuple[int, str]]] = []
    prev_blank = True
    for off, line in _lines_with_offsets(masked):
        if not line.replace(MASK, "").strip() or line.lstrip().startswith("|"):
            prev_blank = True                           # blank, masked (code) or table line
            continue
        marker = re.match(r"[ \t]*(?:>[ \t]*)*(?:#{1,6}[ \t]+|[-*+][ \t]+|\d+[.)][ \t]+)?", line).group(0)
        if prev_blank or marker.strip():
            blocks.append([])
        blocks[-1].append((off + len(marker), line[len(marker):]))
        prev_blank = False
    for block in blocks:
        first = None
        for off, line in block:
            for k, ch in enumerate(line):
                if ch == "\u200f":
                    first = ("R", 0)
                    break
                if ch == MASK:
                    continue
                b = unicodedata.bidirectional(ch)
                if b in ("L", "R", "AL"):
                    first = (b, off + k)
                    break
            if first:
                break
        persian = sum(len(re.findall(LET, line)) for _, line in block)
        latin = sum(len(re.findall("[A-Za-z]", line)) for _, line in block)
        if first and first[0] == "L" and persian >= 2 and 2 * persian >= latin:   # a Persian block
            yield first[1]


def _excerpt(text: str, s: int, e: int) -> str:
    """The offending word(s) around text[s:e], on one line, with invisible characters named."""
    ls = text.rfind("\n", 0, s) + 1
    le = text.find("\n", e)
    le = len(text) if le == -1 else le
    a, b = s, max(e, s + 1)
    while a > ls and text[a - 1] in " \t\u200c":
        a -= 1
    while a > ls and not text[a - 1].isspace() and s - a < 20:
        a -= 1
    while b < le and text[b] in " \t\u200c":
        b += 1
    while b < le and not text[b].isspace() and b - e < 20:
        b += 1
    frag = text[a:min(b, le)]
    names = {"\u200c": "<ZWNJ>", "\u00a0": "<NBSP>", "\u200f": "<RLM>", "\u200e": "<LRM>", "\u0640": "<TATWEEL>"}
    names.update({chr(c): f"<U+{c:04X}>" for c in range(0x202A, 0x202F)})
    return "".join(names.get(ch, ch) for ch in frag)


def lint_text(text: str, path: str = "<text>", *, digits: str = "any", cell: int | None = None,
              sources: bool = False) -> list[Finding]:
    """Lint Persian prose in Markdown/MyST `text`.  digits: "any" (default), "persian" or "latin".
    sources: also apply D5 (every number in prose has a source: glued, cited, quoted or structural)."""
    if digits not in ("any", "persian", "latin"):
        raise ValueError(f"digits must be 'any', 'persian' or 'latin', got {digits!r}")
    text = text.replace("\r\n", "\n")
    masked = mask(text)
    rules = RULES + ([DIGIT_RULES[digits]] if digits in DIGIT_RULES else []) + (SOURCE_RULES if sources else [])
    found: list[Finding] = []

    def add(rule_id: str, sev: str, msg: str, s: int, e: int) -> None:
        line = text.count("\n", 0, s) + 1
        col = s - (text.rfind("\n", 0, s) + 1) + 1
        found.append(Finding(str(path), line, col, rule_id, sev, msg, _excerpt(text, s, e), cell))

    for rule in rules:
        seen = set()
        for s, e in rule.find(masked, text):
            if s not in seen:
                seen.add(s)
                add(rule.id, rule.severity, rule.message, s, e)
    for s in _bidi_start(masked):
        add(*B1, s, s + 1)
    found.sort(key=lambda f: (f.line, f.col, f.rule))
    return found


def lint_file(path: str | Path, *, digits: str = "any", sources: bool = False) -> list[Finding]:
    """Lint a .md file, or every markdown cell of a .ipynb notebook (findings carry the cell index)."""
    path = Path(path)
    raw = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return lint_text(raw, str(path), digits=digits, sources=sources)
    try:
        cells = json.loads(raw)["cells"]
    except (ValueError, KeyError, TypeError) as exc:
        return [Finding(str(path), 1, 1, "E-NOTEBOOK", ERROR, f"not a readable notebook: {exc}")]
    found: list[Finding] = []
    for i, c in enumerate(cells):
        if c.get("cell_type") == "markdown":
            src = c.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            found += lint_text(src, str(path), digits=digits, cell=i, sources=sources)
    return found


# --------------------------------------------------------------------------- which files
SKIP_DIRS = {"_build", ".ipynb_checkpoints", "node_modules", ".venv", "dist", ".git", "__pycache__"}
NOT_BOOK_PAGES = {"readme", "contributing", "changelog", "license", "code_of_conduct", "security",
                  "agents", "claude"}
PROSE_DIRS = ("chapters", "labs")


def _wanted(p: Path, root: Path) -> bool:
    return p.is_file() and not (set(p.relative_to(root).parts[:-1]) & SKIP_DIRS)


def prose_files_under(directory: str | Path) -> list[Path]:
    """All .md and .ipynb files under `directory`, skipping build, checkpoint and vendor folders."""
    d = Path(directory)
    return sorted(p for ext in ("*.md", "*.ipynb") for p in d.rglob(ext) if _wanted(p, d))


def book_prose_files(root: str | Path) -> list[Path]:
    """The book's prose: root-level *.md and *.ipynb pages (not README.md and similar) plus every
    .md/.ipynb under chapters/ and labs/ (without _build, .ipynb_checkpoints, node_modules, .venv, dist)."""
    root = Path(root)
    pages = [p for p in sorted([*root.glob("*.md"), *root.glob("*.ipynb")])
             if p.is_file() and p.stem.lower() not in NOT_BOOK_PAGES]
    for sub in PROSE_DIRS:
        if (root / sub).is_dir():
            pages += prose_files_under(root / sub)
    return pages


# --------------------------------------------------------------------------- command line
def summary(findings: list[Finding], n_files: int) -> str:
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    verdict = "FAIL" if counts[ERROR] else "ok"
    return (f"persian_lint: {verdict}: {n_files} file(s), {counts[ERROR]} error(s), "
            f"{counts[WARN]} warning(s), {counts[INFO]} info")


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description="Lint Persian typography in the book's prose.")
    ap.add_argument("paths", nargs="*", help="files or folders (default: the book's prose under the repo root)")
    ap.add_argument("--digits", choices=("any", "persian", "latin"), default="any",
                    help="digit policy for prose (default: any; D4 mixed digits is always checked)")
    ap.add_argument("--sources", action="store_true",
                    help="D5: every number in prose must be glued, cited ({cited}), quoted or structural")
    ap.add_argument("--no-info", action="store_true", help="do not print INFO findings")
    args = ap.parse_args(argv)
    files: list[Path] = []
    for p in map(Path, args.paths) if args.paths else []:
        if p.is_dir():
            files += prose_files_under(p)
        elif p.is_file():
            files.append(p)
        else:
            ap.error(f"no such file or folder: {p}")
    if not args.paths:
        files = book_prose_files(root)
    findings = [f for p in files for f in lint_file(p, digits=args.digits, sources=args.sources)]
    for f in findings:
        if not (args.no_info and f.severity == INFO):
            print(f)
    print(summary(findings, len(files)))
    return 1 if any(f.severity == ERROR for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
