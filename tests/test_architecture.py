"""The package's shape: layers (import-linter), no cycles, no private imports, a map."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "analysis"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]):
    """(imported module, imported names) for every analysis import in a file, nested ones too."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "analysis":
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            if module.split(".")[0] != "analysis":
                continue
            names = [a.name for a in node.names]
            submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            plain = [n for n in names if f"{module}.{n}" not in modules]
            yield module, plain
            for sub in submodules:
                yield sub, []


def test_layer_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=SRC.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_no_private_name_crosses_a_module():
    modules = _modules()
    crossings = []
    for name, path in modules.items():
        for module, names in _imports(path, name, modules):
            if module == name:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            crossings += [f"{name} imports {module}.{n}" for n in private]
    assert crossings == []


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {
        name: {m for m, _ in _imports(path, name, modules) if m in modules and m != name}
        for name, path in modules.items()
    }
    # a package's __init__ is imported by its children and is not a real dependency edge
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_few_top_level_modules_and_every_subpackage_says_its_job():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top
    readme = (PACKAGE / "README.md").read_text(encoding="utf-8")
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and doc.strip(), f"{init.parent.name}/__init__.py has no job line"
        assert f"`{init.parent.name}/`" in readme, f"src/analysis/README.md does not map {init.parent.name}/"


@pytest.mark.parametrize("stale", ["templates/*", "py.typed"])
def test_no_stale_entries_in_pyproject(stale):
    assert stale not in (SRC.parent / "pyproject.toml").read_text(encoding="utf-8")
