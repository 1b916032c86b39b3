"""Hostile and broken inputs to ``analysis predict``: one clear error, nothing written.

Every case copies a project with a saved model, writes a patients table (or a path that
is not one), and runs ``analysis predict`` in-process through the CLI entry. The
``--skip-invalid`` cases check batch scoring: valid rows scored, the others listed with
their column, rule and value in ``<output stem>.rejected.csv``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from test_artifact import make_project  # noqa: E402

from analysis.pipeline.cli import main  # noqa: E402

PREDICT_ERROR = 1  # exit status of `analysis predict` on any refused input
HEADER = "pid,age,crp_mg_l,smoking,treatment,prior_biologic\n"
GOOD_ROWS = ["N1,45,12.5,never,anti-TNF,0", "N2,60,3,former,anti-IL-17,1"]
GOOD = HEADER + "\n".join(GOOD_ROWS) + "\n"


def table(*rows: str, header: str = HEADER) -> str:
    return header + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    make_project(root)
    return root


def study_yaml(root: Path) -> Path:
    return root / "data" / "tiny" / "study.yaml"


def parquet_with_dates(path: Path) -> None:
    frame = pd.read_csv(pd.io.common.StringIO(GOOD))
    frame["age"] = pd.to_datetime(["2020-01-01", "2021-01-01"])
    frame.to_parquet(path)


# (case, input file name, input content (text, bytes or a callable(path)), extra flags,
#  output name, expected exit status, message fragment, files that must not exist afterwards)
CASES = [
    # -- where the output goes
    ("output equals the input", "in.csv", GOOD, [], "in.csv", PREDICT_ERROR,
     "is the input file", []),
    ("output is the input by another spelling", "in.csv", GOOD, [], "sub/../in.csv",
     PREDICT_ERROR, "is the input file", []),
    ("output is a directory", "in.csv", GOOD, [], "outdir", PREDICT_ERROR,
     "is a directory", []),
    ("rejected file would be the input", "out.rejected.csv", GOOD, ["--skip-invalid"], "out.csv",
     PREDICT_ERROR, "the rejected-rows file", ["out.csv"]),
    ("rejected file path is a directory", "in.csv", GOOD, ["--skip-invalid"], "rej.csv",
     PREDICT_ERROR, "is a directory", ["rej.csv"]),
    # -- the input file itself
    ("input missing", "none.csv", None, [], "out.csv", PREDICT_ERROR, "data file not found",
     ["out.csv"]),
    ("input is a directory", "indir.csv", "DIR", [], "out.csv", PREDICT_ERROR,
     "data file not found", ["out.csv"]),
    ("unsupported extension", "in.json", '{"pid": "N1"}', [], "out.csv", PREDICT_ERROR,
     "unsupported data file type '.json'", ["out.csv"]),
    ("header only", "in.csv", HEADER, [], "out.csv", PREDICT_ERROR, "has no rows", ["out.csv"]),
    ("empty file", "in.csv", "", [], "out.csv", PREDICT_ERROR, "cannot read in.csv",
     ["out.csv"]),
    ("not UTF-8 CSV", "in.csv", GOOD.replace("never", "nevér").encode("latin-1"), [], "out.csv",
     PREDICT_ERROR, "cannot read in.csv", ["out.csv"]),
    ("corrupt xlsx", "in.xlsx", b"PK\x03\x04 not really", [], "out.csv", PREDICT_ERROR,
     "cannot read in.xlsx", ["out.csv"]),
    ("datetime in a numeric parquet column", "in.parquet", parquet_with_dates, [], "out.csv",
     PREDICT_ERROR, "column 'age'", ["out.csv"]),
    # -- the rows (refused by default)
    ("missing predictor column", "in.csv",
     table("N1,45,12.5,never,0", header="pid,age,crp_mg_l,smoking,prior_biologic\n"), [],
     "out.csv", PREDICT_ERROR, "column 'treatment': column missing from the data file",
     ["out.csv"]),
    ("duplicated header", "in.csv",
     table("N1,45,12.5,never,anti-TNF,0,50", header=HEADER.strip() + ",age\n"), [], "out.csv",
     PREDICT_ERROR, "column 'age'", ["out.csv"]),
    ("text in a number", "in.csv", table("N1,abc,12.5,never,anti-TNF,0"), [], "out.csv",
     PREDICT_ERROR, "column 'age': not a number", ["out.csv"]),
    ("age 900 beyond the codebook", "in.csv", table("N1,900,12.5,never,anti-TNF,0"), [],
     "out.csv", PREDICT_ERROR, "column 'age': value above max 100", ["out.csv"]),
    ("negative CRP", "in.csv", table("N1,45,-4,never,anti-TNF,0"), [], "out.csv",
     PREDICT_ERROR, "column 'crp_mg_l': value below min 0", ["out.csv"]),
    ("unknown treatment option", "in.csv", table("N1,45,12.5,never,rituximab,0"), [],
     "out.csv", PREDICT_ERROR, "column 'treatment': unknown level", ["out.csv"]),
    ("binary coded 2", "in.csv", table("N1,45,12.5,never,anti-TNF,2"), [], "out.csv",
     PREDICT_ERROR, "column 'prior_biologic': not binary", ["out.csv"]),
    ("duplicate id", "in.csv", table("N1,45,12.5,never,anti-TNF,0", "N1,50,1,never,anti-TNF,0"),
     [], "out.csv", PREDICT_ERROR, "column 'pid': duplicate id", ["out.csv"]),
    ("2 MB id value is not echoed", "in.csv",
     table("X" * 2_000_000 + ",45,12.5,never,anti-TNF,2"), [], "out.csv", PREDICT_ERROR,
     "not binary", ["out.csv"]),
    ("one bad row refuses the file by default", "in.csv",
     table(*GOOD_ROWS, "N3,45,12.5,never,anti-TNF,7"), [], "out.csv", PREDICT_ERROR,
     "1 validation error(s)", ["out.csv", "out.rejected.csv"]),
    # -- --skip-invalid
    ("skip-invalid: every row invalid", "in.csv",
     table("N1,abc,12.5,never,anti-TNF,0", "N2,900,1,never,anti-TNF,0"), ["--skip-invalid"],
     "out.csv", PREDICT_ERROR, "2 validation error(s)", ["out.csv", "out.rejected.csv"]),
    ("skip-invalid: missing column is still fatal", "in.csv",
     table("N1,45,12.5,never,0", header="pid,age,crp_mg_l,smoking,prior_biologic\n"),
     ["--skip-invalid"], "out.csv", PREDICT_ERROR, "column missing from the data file",
     ["out.csv", "out.rejected.csv"]),
    ("skip-invalid: duplicated header is still fatal", "in.csv",
     table("N1,45,12.5,never,anti-TNF,0,50", header=HEADER.strip() + ",age\n"),
     ["--skip-invalid"], "out.csv", PREDICT_ERROR, "column 'age'",
     ["out.csv", "out.rejected.csv"]),
    # -- the study
    ("unknown study", "in.csv", GOOD, ["--study", "nope"], "out.csv", PREDICT_ERROR,
     "study 'nope' not found", ["out.csv"]),
    ("study.yaml not UTF-8", "in.csv", GOOD, ["--yaml", "title: Studie über\n"], "out.csv",
     PREDICT_ERROR, "not UTF-8", ["out.csv"]),
    ("study.yaml outcome as a list", "in.csv", GOOD, ["--yaml", "outcome: [response, age]\n"],
     "out.csv", PREDICT_ERROR, "'outcome' must be a string", ["out.csv"]),
    ("no saved model", "in.csv", GOOD, ["--no-model"], "out.csv", PREDICT_ERROR,
     "no model.json", ["out.csv"]),
]


def prepare(root: Path, tmp: Path, name: str, content, extra: list[str]) -> tuple[Path, list[str]]:
    """Write the input and apply the case's special flags; return (input path, CLI flags)."""
    (tmp / "outdir").mkdir()
    (tmp / "rej.rejected.csv").mkdir()
    source = tmp / name
    if content == "DIR":
        source.mkdir()
    elif callable(content):
        content(source)
    elif isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        source.write_text(content)
    flags, study = [], "tiny"
    items = iter(extra)
    for flag in items:
        if flag == "--study":
            study = next(items)
        elif flag == "--yaml":
            text = study_yaml(root).read_text(encoding="utf-8")
            addition = next(items)
            if addition.startswith("outcome:"):
                text = "\n".join(x for x in text.splitlines() if not x.startswith("outcome:"))
                study_yaml(root).write_text(text + "\n" + addition, encoding="utf-8")
            else:
                study_yaml(root).write_bytes(addition.encode("latin-1") + text.encode())
        elif flag == "--no-model":
            shutil.rmtree(root / "reports")
        else:
            flags.append(flag)
    return source, ["--study", study, *flags]


def run(root: Path, tmp: Path, source: Path, output: str, flags: list[str], capsys):
    (tmp / "sub").mkdir(exist_ok=True)
    status = main(["predict", *flags, "--input", str(source), "--output", str(tmp / output),
                   "--root", str(root)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.mark.parametrize(
    ("case", "name", "content", "extra", "output", "status", "fragment", "absent"), CASES,
    ids=[c[0] for c in CASES])
def test_hostile_predict_input(case, name, content, extra, output, status, fragment, absent,
                               pristine, tmp_path, capsys):
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    files = tmp_path / "files"
    files.mkdir()
    source, flags = prepare(root, files, name, content, extra)
    before = source.read_bytes() if source.is_file() else None
    got, text = run(root, files, source, output, flags, capsys)
    assert got == status, text
    assert fragment in text, text
    assert "Traceback" not in text
    assert len(text) < 3000, "the message must stay short"
    for item in absent:
        assert not (files / item).exists(), item
    if before is not None:
        assert source.read_bytes() == before, "the input must be left untouched"


def test_skip_invalid_scores_valid_rows_and_lists_the_rejected(pristine, tmp_path, capsys):
    rows = [*GOOD_ROWS,
            "N3,abc,12.5,never,anti-TNF,0",          # not a number
            "N4,45,12.5,never,rituximab,7",          # unknown level and not binary
            "N5,33,2,former,anti-TNF,1",
            "N6,900,1,never,anti-TNF,0"]             # above the codebook max
    source = tmp_path / "batch.csv"
    source.write_text(table(*rows))
    out = tmp_path / "scored.csv"
    status = main(["predict", "--study", "tiny", "--input", str(source), "--output", str(out),
                   "--root", str(pristine), "--skip-invalid"])
    text = capsys.readouterr().out
    assert status == 0
    assert "3 patient(s)" in text and "3 row(s) rejected (4 broken rule(s))" in text
    scored = pd.read_csv(out)
    assert scored["pid"].tolist() == ["N1", "N2", "N5"]
    rejected = pd.read_csv(tmp_path / "scored.rejected.csv", dtype=str)
    assert rejected.columns.tolist() == ["row", "column", "rule", "value"]
    got = set(map(tuple, rejected.itertuples(index=False, name=None)))
    assert got == {("3", "age", "not a number", "abc"),
                   ("4", "treatment", "unknown level (allowed: anti-TNF, anti-IL-17)", "rituximab"),
                   ("4", "prior_biologic", "not binary (expected 0 or 1)", "7"),
                   ("6", "age", "value above max 100", "900")}
    # the probabilities of the valid rows are those of scoring them alone
    alone = tmp_path / "alone.csv"
    alone.write_text(table(GOOD_ROWS[0], GOOD_ROWS[1], rows[4]))
    assert main(["predict", "--study", "tiny", "--input", str(alone), "--output",
                 str(tmp_path / "alone_out.csv"), "--root", str(pristine)]) == 0
    pd.testing.assert_frame_equal(scored, pd.read_csv(tmp_path / "alone_out.csv"))


def test_skip_invalid_with_no_invalid_row_writes_an_empty_rejected_file(pristine, tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(GOOD)
    stale = tmp_path / "out.rejected.csv"
    stale.write_text("row,column,rule,value\n9,age,old,1\n")
    status = main(["predict", "--study", "tiny", "--input", str(source), "--output",
                   str(tmp_path / "out.csv"), "--root", str(pristine), "--skip-invalid"])
    assert status == 0
    assert "0 row(s) rejected" in capsys.readouterr().out
    assert stale.read_text() == "row,column,rule,value\n"


def test_skip_invalid_sets_aside_every_row_of_a_duplicated_id(pristine, tmp_path):
    from analysis.models.predict import score_valid_rows

    folder = pristine / "reports" / "tiny" / "model"
    patients = pd.read_csv(pd.io.common.StringIO(table(
        "N1,45,12.5,never,anti-TNF,0", "N1,50,1,never,anti-TNF,0", "N3,50,1,never,anti-TNF,0")),
        dtype=str)
    scores, rejected = score_valid_rows(folder, patients)
    assert scores["pid"].tolist() == ["N3"]  # both rows of the duplicated id are set aside
    assert rejected[["row", "rule"]].values.tolist() == [[1, "duplicate id"], [2, "duplicate id"]]


def test_output_written_atomically_no_temporary_left(pristine, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(GOOD)
    assert main(["predict", "--study", "tiny", "--input", str(source), "--output",
                 str(tmp_path / "o.csv"), "--root", str(pristine)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "o.csv"]
