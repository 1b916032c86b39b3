"""The report command: formats, the CLI and the clear errors (the manuscript itself is tested
in test_manuscript_report.py)."""

import pandas as pd
import pytest
from conftest import make_study

from analysis.errors import AnalysisError
from analysis.pipeline.cli import build_parser, main
from analysis.pipeline.report import FORMATS, render_report, report_path
from analysis.study.config import load_study

SPEC = {"title": "Empty", "outcome": "y", "predictors": ["x"],
        "variables": {"x": {"type": "numeric"}, "y": {"type": "binary"}}}


@pytest.fixture
def empty(tmp_path):
    make_study(tmp_path, "empty", SPEC)
    return load_study("empty", root=tmp_path)


def test_no_executed_notebooks_is_a_clear_error(empty):
    with pytest.raises(FileNotFoundError, match="make study STUDY=empty"):
        render_report(empty)


def test_unknown_format_is_a_clear_error(empty):
    with pytest.raises(AnalysisError, match="unknown report format 'odt'"):
        render_report(empty, fmt="odt")


def test_report_files_per_format(empty):
    assert [report_path(empty.paths, f).name for f in FORMATS] == ["report.html", "report.docx", "report.pdf"]
    assert FORMATS["pdf"][0] == "typst"


def test_cli_report_takes_a_format_and_reports_errors_as_one_line(empty, capsys):
    args = build_parser().parse_args(["report", "--study", "empty", "--format", "docx", "--fallback"])
    assert (args.format, args.fallback) == ("docx", True)
    assert build_parser().parse_args(["report", "--study", "s"]).format == "html"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report", "--study", "s", "--format", "odt"])
    assert main(["report", "--study", "nope", "--root", str(empty.paths.root)]) == 2


def test_save_table_suppresses_small_counts_in_rendered_copies_only(tmp_path, monkeypatch):
    from analysis.formatting import MIN_CELL_COUNT_ENV
    from analysis.pipeline.export import save_table

    tidy = pd.DataFrame({"visit": [4, 8], "n": [40, 3], "events": [12, 2]})
    monkeypatch.setenv(MIN_CELL_COUNT_ENV, "5")
    save_table(tidy, "t", tmp_path)
    assert pd.read_csv(tmp_path / "t.csv")["n"].tolist() == [40, 3]     # the analyst's exact counts
    html = (tmp_path / "t.html").read_text()
    assert "&lt;5" in html and ">3<" not in html and ">12<" in html
    monkeypatch.delenv(MIN_CELL_COUNT_ENV)
    save_table(tidy, "t", tmp_path)
    assert ">3<" in (tmp_path / "t.html").read_text()
