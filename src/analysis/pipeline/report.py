"""Render a study's executed notebooks into one report: Quarto when present, else nbconvert.

Both routes render the same combined notebook (narrative, tables and figures; code and
parameters hidden; warnings and progress output dropped), so the fallback report carries
the same content as the Quarto one.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat

from analysis.study.io import write_text
from analysis.study.paths import StudyPaths

QUARTO_MISSING = "Quarto was not found on PATH: building the fallback HTML report with nbconvert."
_HIDDEN_TAGS = {"parameters", "injected-parameters", "remove-cell"}


def executed_notebooks(paths: StudyPaths) -> list[Path]:
    """The study's executed notebooks (``NN-*.ipynb``), in order."""
    return sorted(
        p for p in paths.notebooks.glob("[0-9][0-9]-*.ipynb")
        if not p.name.endswith(".failed.ipynb")
    )


def combine_notebooks(notebooks: list[Path], title: str, subtitle: str = "") -> nbformat.NotebookNode:
    """One notebook holding the narrative and outputs of ``notebooks``, code hidden."""
    combined = nbformat.v4.new_notebook()
    front = ["---", f'title: "{title}"']
    if subtitle:
        front.append(f'subtitle: "{subtitle}"')
    front += [
        "format:", "  html:", "    embed-resources: true", "    toc: true",
        "execute:", "  echo: false", "  warning: false", "---",
    ]
    combined.cells.append(nbformat.v4.new_raw_cell("\n".join(front)))
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if combined.metadata.get("kernelspec") is None and "kernelspec" in nb.metadata:
            combined.metadata["kernelspec"] = nb.metadata["kernelspec"]
            combined.metadata["language_info"] = nb.metadata.get("language_info", {})
        for cell in nb.cells:
            tags = set(cell.get("metadata", {}).get("tags", []))
            if tags & _HIDDEN_TAGS or cell.cell_type == "raw":
                continue
            cell = copy.deepcopy(cell)
            if cell.cell_type == "code":
                cell.outputs = [
                    o for o in cell.get("outputs", [])
                    if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                ]
                cell.metadata.setdefault("tags", []).append("remove-input")
                cell.metadata.pop("papermill", None)
                cell.metadata.pop("execution", None)
            combined.cells.append(cell)
    for i, cell in enumerate(combined.cells):
        cell["id"] = f"cell-{i:04d}"
    return combined


def quarto_available() -> str | None:
    """Path of the ``quarto`` executable, or None."""
    return shutil.which("quarto")


def render_report(paths: StudyPaths, title: str, *, echo=print, force_fallback: bool = False) -> Path:
    """Render ``reports/<study>/report.html`` from the executed notebooks (atomically).

    Examples
    --------
    >>> # render_report(study_paths("ibd-biologics"), "Response to biologics in IBD")
    """
    notebooks = executed_notebooks(paths)
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks in {paths.notebooks}: run `make study STUDY={paths.study}`")
    combined = combine_notebooks(notebooks, title, subtitle=f"Study: {paths.study}")
    quarto = None if force_fallback else quarto_available()
    if quarto:
        html = _render_with_quarto(quarto, combined, paths)
    else:
        echo(QUARTO_MISSING)
        html = _render_with_nbconvert(combined, title)
    return write_text(paths.report_html, html)


def _render_with_quarto(quarto: str, combined, paths: StudyPaths) -> str:
    with tempfile.TemporaryDirectory(dir=paths.reports, prefix=".quarto-") as tmp:
        source = Path(tmp) / "report.ipynb"
        nbformat.write(combined, source)
        subprocess.run(
            [quarto, "render", str(source), "--to", "html", "--no-execute"],
            check=True, cwd=tmp,
        )
        return (Path(tmp) / "report.html").read_text(encoding="utf-8")


def _render_with_nbconvert(combined, title: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        exclude_raw=True,
    )
    combined = copy.deepcopy(combined)
    # Quarto takes the title from the front matter; the fallback shows it as a heading
    combined.cells.insert(1, nbformat.v4.new_markdown_cell(
        f"# {title}\n\n*Rendered by nbconvert: Quarto was not found when this report was built.*"))
    combined.cells[1]["id"] = "title"
    body, _ = exporter.from_notebook_node(combined, resources={"metadata": {"name": title}})
    return body
