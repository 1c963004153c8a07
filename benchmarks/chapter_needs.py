"""Which chapters need torchvision-based packages (torchvision, torchgeo, open_clip, timm), directly
or through closp_lite, found by reading the code (no import, standard library only).

    python benchmarks/chapter_needs.py [torchvision torchgeo open_clip timm]

prints one line per chapter that needs one of the named modules (default: all four) and which.
``benchmarks/cpu_torch_env.sh`` runs it (with the Binder-like environment's Python) to say which
chapters cannot run when it leaves those packages out, and ``benchmarks/chapters.py --env
cpu-torch`` skips those chapters instead of recording them as failures.

closp_lite imports these packages inside functions (so that ``import closp_lite`` stays light), so
a chapter needs one when it imports it itself or refers to a closp_lite function, class or module
that imports it, possibly through other closp_lite functions it calls. The reading is
conservative: a reference counts even if the chapter never calls it on the path it takes.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PACKAGE = ROOT / "closp_lite"
# all four are torchvision or import it: none imports beside a CPU-only torch without a CPU torchvision
HEAVY = ("torchvision", "torchgeo", "open_clip", "timm")
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _top(module: str | None) -> str:
    return (module or "").split(".")[0]


def _imports(node: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    return (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))


def _heavy_imports(node: ast.AST, heavy: tuple[str, ...]) -> set[str]:
    """The heavy modules imported anywhere in ``node``."""
    found = set()
    for imp in _imports(node):
        names = [alias.name for alias in imp.names] if isinstance(imp, ast.Import) else [imp.module or ""]
        found |= {_top(name) for name in names if _top(name) in heavy}
    return found


def _aliases(node: ast.AST, module: str) -> dict[str, str]:
    """Local name -> qualified closp_lite name, for the closp_lite imports in ``node``."""
    aliases = {}
    for imp in _imports(node):
        if isinstance(imp, ast.Import):
            for alias in imp.names:
                if _top(alias.name) == "closp_lite":
                    aliases[alias.asname or alias.name] = alias.name
        else:
            base = imp.module or ""
            if imp.level:  # a relative import inside the package
                base = ".".join(module.split(".")[: -imp.level] + ([base] if base else []))
            if _top(base) == "closp_lite":
                for alias in imp.names:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return aliases


def _references(node: ast.AST, aliases: dict[str, str], local: dict[str, str]) -> set[str]:
    """Qualified names of what ``node`` calls or instantiates: ``alias(...)``, ``alias.attr(...)``
    and local top-level names; a name only passed around or imported is not counted."""
    found = set()
    for call in (sub for sub in ast.walk(node) if isinstance(sub, ast.Call)):
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in aliases:
            found.add(f"{aliases[func.value.id]}.{func.attr}")
        elif isinstance(func, ast.Name):
            if func.id in aliases:
                found.add(aliases[func.id])
            elif func.id in local:
                found.add(local[func.id])
    return found


def library_needs(package: Path = PACKAGE, heavy: tuple[str, ...] = HEAVY) -> dict[str, set[str]]:
    """Qualified closp_lite names (modules, and their top-level functions and classes) -> the heavy
    modules they import, directly or through the closp_lite names they use (chapter cost benchmark)."""
    direct: dict[str, set[str]] = {}
    uses: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        tree = ast.parse(path.read_text())
        aliases = _aliases(tree, module)
        top = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
        local = {n.name: f"{module}.{n.name}" for n in top}
        body_level = [n for n in tree.body if n not in top]
        direct[module] = set().union(*(_heavy_imports(n, heavy) for n in body_level))
        uses[module] = set().union(*(_references(n, aliases, {}) for n in body_level))
        for node in top:
            name = local[node.name]
            if isinstance(node, ast.ClassDef):
                # a model class builds the towers its config names at run time (open_clip only for
                # an open_clip arch): reading cannot tell which, and the book's configs use none
                direct[name], uses[name] = set(), set()
                continue
            direct[name] = _heavy_imports(node, heavy)
            uses[name] = _references(node, aliases, local) - {name} | {module}  # and its module's top-level imports
    needs = {name: set(found) for name, found in direct.items()}
    changed = True
    while changed:  # spread along uses until nothing changes (the graph has cycles)
        changed = False
        for name, used in uses.items():
            extra = set().union(*(needs.get(u, set()) for u in used)) - needs[name]
            if extra:
                needs[name] |= extra
                changed = True
    return needs


def chapter_code(name: str, book: Path = BOOK) -> str:
    """The code cells of ``book/<name>.md`` as one Python source, IPython magics and shell lines dropped."""
    cells = CELL.findall((book / f"{name}.md").read_text())
    lines = [line for cell in cells for line in cell.splitlines() if not line.lstrip().startswith(("%", "!", ":"))]
    return "\n".join(lines)


def code_needs(source: str, library: dict[str, set[str]], heavy: tuple[str, ...] = HEAVY) -> dict[str, list[str]]:
    """The heavy modules a chapter's code imports itself (``direct``: it cannot run without them)
    and those it may reach through the closp_lite functions it calls (``through_closp_lite``:
    whether it does depends on run-time choices, such as the source a tower starts from)."""
    tree = ast.parse(source)
    direct = _heavy_imports(tree, heavy)
    through = set()
    for ref in _references(tree, _aliases(tree, "__main__"), {}):
        through |= library.get(ref, set())
    return {"direct": sorted(direct), "through_closp_lite": sorted(through - direct)}


def chapters_needing(names: Iterable[str], heavy: tuple[str, ...] = HEAVY, book: Path = BOOK) -> dict[str, dict[str, list[str]]]:
    """Chapter -> :func:`code_needs`, for the chapters of ``names`` that need or may need any (chapter cost benchmark)."""
    library = library_needs(heavy=heavy)
    found = {name: code_needs(chapter_code(name, book), library, heavy) for name in names}
    return {name: needed for name, needed in found.items() if any(needed.values())}


def main() -> None:
    """Print the chapters of the book that need, or may need, the modules named on the command line."""
    heavy = tuple(sys.argv[1:]) or HEAVY
    names = sorted(p.stem for p in BOOK.glob("*.md") if "{code-cell}" in p.read_text())
    for name, needed in chapters_needing(names, heavy).items():
        words = [f"imports {', '.join(needed['direct'])} itself (cannot run)"] if needed["direct"] else []
        if needed["through_closp_lite"]:
            words.append(f"may reach {', '.join(needed['through_closp_lite'])} through closp_lite (stops if it does)")
        print(f"{name}: {'; '.join(words)}")


if __name__ == "__main__":
    main()
