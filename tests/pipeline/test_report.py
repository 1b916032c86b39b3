"""The report command: formats, the CLI and the clear errors (the manuscript itself is tested
in test_manuscript_report.py)."""

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
