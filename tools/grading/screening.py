"""Screening for borrowed answers: does a question's answer use what the question forbids?

Static, on the submitted notebook's source (nothing of the submission is run here). Every
question lists, in ``labs/grading/screening.yml``, the qualified names its answer must not use
(``helpers.norm`` forbids the whole module; ``torch.nn.functional.batch_norm`` one function) and
optionally attribute names it must not call (``backward`` where the question says "without
autograd"). The answer is the set of names the question's solution cells define in the source
notebook (``bn_forward``, ``ScratchBatchNorm``); the screen follows them through every top-level
function, class, lambda and assignment of the submission that they use - so a forbidden call
hidden in a thin wrapper (``def mine(*a): return F.conv2d(*a)``) or an alias (``c = F.conv2d``,
``from helpers import norm as n``) is found. Imports are resolved wherever they appear.

Dynamic look-ups that no static screen can follow (``getattr(module, name)`` with a computed
name, ``importlib``, ``__import__``, ``eval``/``exec``, ``sys.modules``, ``globals()``) inside an
answer are themselves reported, so the instructor reviews them.
"""
from __future__ import annotations

import ast
import builtins

DYNAMIC = {"importlib", "__import__", "eval", "exec", "compile", "globals", "vars", "sys.modules",
           "builtins", "__builtins__"}


def _qual(node, aliases: dict[str, str]) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, with the first name resolved through imports."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    head = aliases.get(node.id, node.id)
    return ".".join([head, *reversed(parts)])


class Program:
    """The top-level definitions of a submission and what each one refers to."""

    def __init__(self, sources: list[str]):
        self.aliases: dict[str, str] = {}
        self.defs: dict[str, list[ast.AST]] = {}
        self.errors: list[str] = []
        trees = []
        for src in sources:
            try:
                trees.append(ast.parse(_strip_magics(src)))
            except SyntaxError as e:
                self.errors.append(f"SyntaxError: {e.msg}")
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        if a.asname:
                            self.aliases[a.asname] = a.name
                        else:
                            self.aliases.setdefault(a.name.split(".")[0], a.name.split(".")[0])
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for a in node.names:
                        self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            for node in tree.body:
                for name in _defined(node):
                    self.defs.setdefault(name, []).append(node)
        self.aliases = {k: _chase(v, self.aliases) for k, v in self.aliases.items()}

    def references(self, node) -> tuple[set[str], set[str], set[str]]:
        """(qualified names, local names, attribute names called) used inside ``node``."""
        quals, names, attrs = set(), set(), set()
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Name, ast.Attribute)):
                q = _qual(sub, self.aliases)
                if q:
                    quals.add(q)
                if isinstance(sub, ast.Name):
                    names.add(sub.id)
            if isinstance(sub, ast.Call):
                f = sub.func
                if isinstance(f, ast.Attribute):
                    attrs.add(f.attr)
                if isinstance(f, ast.Name) and f.id == "getattr" and len(sub.args) >= 2 \
                        and not isinstance(sub.args[1], ast.Constant):
                    base = sub.args[0]
                    while isinstance(base, ast.Attribute):
                        base = base.value
                    if isinstance(base, ast.Name) and base.id in self.aliases:
                        quals.add("getattr(computed name)")
                if isinstance(f, ast.Name) and f.id == "getattr" and len(sub.args) >= 2 \
                        and isinstance(sub.args[1], ast.Constant):
                    base = _qual(sub.args[0], self.aliases)
                    if base:
                        quals.add(f"{base}.{sub.args[1].value}")
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                mod = sub.module if isinstance(sub, ast.ImportFrom) else None
                for a in sub.names:
                    quals.add(f"{mod}.{a.name}" if mod else a.name)
        local = set()
        for sub in ast.walk(node):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                a = sub.args
                local |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
                local |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and sub is not node:
                local.add(sub.id)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names -= local
        return quals, names, attrs

    def closure(self, roots) -> tuple[set[str], set[str], dict[str, str]]:
        """Everything the definitions of ``roots`` use, through other top-level definitions.

        Returns (qualified names, attribute names called, name -> the definition it was found in).
        """
        seen, todo = set(), list(roots)
        quals: set[str] = set()
        attrs: set[str] = set()
        where: dict[str, str] = {}
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.aliases and name not in self.defs:
                q = self.aliases[name]
                quals.add(q)
                where.setdefault(q, name)
            for node in self.defs.get(name, []):
                q, n, a = self.references(node)
                for x in q:
                    where.setdefault(x, name)
                quals |= q
                attrs |= a
                for x in a:
                    where.setdefault("." + x, name)
                todo += [x for x in n if (x in self.defs or x in self.aliases) and x not in seen]
        return quals, attrs, where


def _chase(v: str, aliases: dict[str, str], depth: int = 0) -> str:
    head, _, rest = v.partition(".")
    if depth < 10 and head in aliases and aliases[head] != head and aliases[head] != v:
        return _chase(aliases[head] + ("." + rest if rest else ""), aliases, depth + 1)
    return v


def _defined(node) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    out = []
    for t in targets:
        for sub in ast.walk(t):
            if isinstance(sub, ast.Name):
                out.append(sub.id)
    if isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                out += _defined(child)
        for h in getattr(node, "handlers", []):
            for child in h.body:
                out += _defined(child)
    return out


def _strip_magics(src: str) -> str:
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


def _matches(q: str, pattern: str) -> bool:
    return q == pattern or q.startswith(pattern + ".")


def screen(sources: list[str], questions: dict[str, dict]) -> dict[str, str]:
    """Question -> reason, for every question whose answer uses a forbidden name.

    ``questions``: name -> {"answers": [names its solution defines], "forbid": [qualified
    names], "forbid_attrs": [attribute names], "dynamic": bool (default True: report dynamic
    look-ups)}.
    """
    prog = Program(sources)
    found = {}
    for q, spec in questions.items():
        roots = [n for n in spec.get("answers", []) if n in prog.defs]
        if not roots:
            continue
        quals, attrs, where = prog.closure(roots)
        reasons = []
        for pattern in spec.get("forbid", []):
            for x in sorted(quals):
                if _matches(x, pattern):
                    via = where.get(x)
                    reasons.append(f"{x}" + (f" (در {via})" if via and via not in roots else ""))
        for a in spec.get("forbid_attrs", []):
            if a in attrs:
                via = where.get("." + a)
                reasons.append(f".{a}()" + (f" (در {via})" if via and via not in roots else ""))
        if spec.get("dynamic", True):
            for x in sorted(quals):
                if x in DYNAMIC or x.split(".")[0] in ("importlib",) or x == "getattr(computed name)" \
                        or x.startswith("sys.modules"):
                    reasons.append(f"{x} (دسترسی پویا که بررسی ایستا نمی‌تواند دنبالش کند)")
        if reasons:
            found[q] = "، ".join(dict.fromkeys(reasons))
    return found


BUILTIN_NAMES = set(dir(builtins))
