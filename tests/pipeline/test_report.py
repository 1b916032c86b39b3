"""The report: one combined notebook, rendered by Quarto when present, else by nbconvert."""

import os
import stat

import nbformat
import pytest

from analysis.pipeline.report import QUARTO_MISSING, combine_notebooks, render_report
from analysis.study.paths import StudyPaths


def executed(path, secret="print('hidden code')"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("study = 'x'")
    params.metadata["tags"] = ["parameters"]
    code = nbformat.v4.new_code_cell(secret)
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="visible result\n"),
        nbformat.v4.new_output("stream", name="stderr", text="noisy warning\n"),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Part one\nNarrative."), params, code]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def paths(tmp_path):
    p = StudyPaths("demo", tmp_path)
    executed(p.notebooks / "01-first.ipynb")
    executed(p.notebooks / "02-second.ipynb")
    executed(p.notebooks / "02-second.failed.ipynb", secret="print('failed run')")
    return p


def test_combined_notebook_keeps_narrative_and_results_only(paths):
    nb = combine_notebooks(sorted(paths.notebooks.glob("0[12]-*[td].ipynb")), "Title")
    texts = [c.source for c in nb.cells]
    assert texts[0].startswith("---\ntitle: \"Title\"")
    assert "study = 'x'" not in texts  # parameters cells are dropped
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all("remove-input" in c.metadata["tags"] for c in code)
    assert all(o.get("name") != "stderr" for c in code for o in c.outputs)


def test_fallback_report_without_quarto(paths, monkeypatch):
    monkeypatch.setenv("PATH", str(paths.root / "empty-bin"))
    said = []
    out = render_report(paths, "Demo study", echo=said.append)
    assert said == [QUARTO_MISSING]
    html = out.read_text()
    assert "Demo study" in html and "Part one" in html and "visible result" in html
    assert "hidden code" not in html and "noisy warning" not in html and "failed run" not in html
    assert out == paths.report_html


def test_quarto_is_used_when_on_path(paths, monkeypatch):
    bin_dir = paths.root / "bin"
    bin_dir.mkdir()
    log = paths.root / "quarto-args.txt"
    fake = bin_dir / "quarto"
    fake.write_text(
        "#!/bin/sh\n"
        f"echo \"$@\" > {log}\n"
        "echo '<html>rendered by quarto</html>' > report.html\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    said = []
    out = render_report(paths, "Demo study", echo=said.append)
    assert said == []
    assert out.read_text().strip() == "<html>rendered by quarto</html>"
    args = log.read_text().split()
    assert args[0] == "render" and args[1].endswith("report.ipynb") and args[2:] == ["--to", "html", "--no-execute"]


def test_no_executed_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="make study STUDY=empty"):
        render_report(StudyPaths("empty", tmp_path), "Empty")
