"""Which package files a notebook runs: Make prerequisites from the notebooks' imports.

Make re-executes a notebook when a file it depends on changes. Listing the whole package
would re-run all 35 notebooks after an edit to a plotting helper of one of them, so this
module follows the ``analysis`` imports of each notebook's code cells, and of the modules
they import, transitively (every ``import`` statement in a module counts, also those inside
functions), and prints one Make variable per notebook::

    NOTEBOOK_SRC_06-validate-model := src/analysis/__init__.py src/analysis/errors.py ...

It reads files as text (standard library only, nothing is imported or executed), so Make
can run it with any Python 3 before the project's environment exists:
``PYTHONPATH=src python3 -m analysis.pipeline.deps notebooks/*.ipynb``.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "analysis"


def _module_file(name: str, src: Path) -> Path | None:
    base = src.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    file = base.with_suffix(".py")
    return file if file.is_file() else None


def imported_modules(code: str, src: Path, current: str | None = None) -> set[str]:
    """Names of the package's modules that ``code`` imports (not followed further).

    ``from analysis.x import y`` counts ``analysis.x`` and, when ``y`` is itself a module,
    ``analysis.x.y``. Relative imports are resolved against ``current`` (a module name).
    Code that does not parse (an IPython magic, say) contributes nothing.

    Examples
    --------
    >>> src = Path(__file__).resolve().parents[2]
    >>> sorted(imported_modules("from analysis.plots import forest", src))
    ['analysis.plots', 'analysis.plots.forest']
    >>> sorted(imported_modules("import numpy as np", src))
    []
    """
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level and current:
                parts = current.split(".")
                is_package = _module_file(current, src) and _module_file(current, src).name == "__init__.py"
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}", src)}
    return {m for m in found if _module_file(m, src)}


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_closure(modules: Iterable[str], src: Path) -> list[Path]:
    """Files of ``modules``, their parent packages and everything they import, sorted.

    Examples
    --------
    >>> src = Path(__file__).resolve().parents[2]
    >>> [p.name for p in module_closure(["analysis.errors"], src)]
    ['__init__.py', 'errors.py']
    """
    todo = [p for m in modules for p in _with_parents(m)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        file = _module_file(name, src)
        if file is None:
            continue
        for m in imported_modules(file.read_text(encoding="utf-8"), src, current=name):
            todo.extend(_with_parents(m))
    files = {_module_file(m, src) for m in seen}
    return sorted(f for f in files if f is not None)


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, joined.

    Examples
    --------
    >>> import tempfile
    >>> nb = {"cells": [{"cell_type": "code", "source": ["x = 1\\n"]},
    ...                 {"cell_type": "markdown", "source": "# t"}]}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "a.ipynb"; _ = p.write_text(json.dumps(nb))
    ...     notebook_code(p)
    'x = 1\\n'
    """
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


def notebook_sources(path: Path, src: Path) -> list[Path]:
    """The package files a notebook's code imports, transitively."""
    return module_closure(imported_modules(notebook_code(path), src), src)


def makefile_fragment(notebooks: Iterable[Path], src: Path, modules: dict[str, list[str]] | None = None) -> str:
    """One ``NOTEBOOK_SRC_<stem> := files`` line per notebook (and ``<VAR> :=`` per module set)."""
    cwd = Path.cwd()

    def rel(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(cwd.resolve()))
        except ValueError:
            return str(p)

    lines = ["# generated by analysis.pipeline.deps from the notebooks' imports; do not edit"]
    for nb in sorted(notebooks):
        files = " ".join(rel(f) for f in notebook_sources(nb, src))
        lines.append(f"NOTEBOOK_SRC_{nb.stem} := {files}")
    for var, mods in (modules or {}).items():
        lines.append(f"{var} := " + " ".join(rel(f) for f in module_closure(mods, src)))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.pipeline.deps NOTEBOOK... [--module VAR=analysis.x,analysis.y]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    modules: dict[str, list[str]] = {}
    while "--module" in args:
        i = args.index("--module")
        var, _, names = args[i + 1].partition("=")
        modules[var] = names.split(",")
        del args[i : i + 2]
    src = Path(__file__).resolve().parents[2]
    sys.stdout.write(makefile_fragment([Path(a) for a in args], src, modules))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
