"""Validation against the codebook: every rule fails on a bad input, all at once, naming rows."""

import warnings

import pandas as pd
import pytest
from conftest import make_study

from analysis.errors import DataValidationError
from analysis.pipeline.cli import EXIT_INPUT_ERROR, main
from analysis.study.checks import UndeclaredColumnsWarning, check_study, validate_raw
from analysis.study.config import load_study

SPEC = {
    "title": "Check me",
    "id": "patient_id",
    "outcome": "response",
    "group": "arm",
    "predictors": ["age", "sex", "visits", "start"],
    "variables": {
        "age": {"type": "numeric", "min": 18, "max": 100},
        "sex": {"type": "categorical", "levels": ["female", "male"]},
        "arm": {"type": "categorical", "levels": ["a", "b"], "required": True},
        "visits": {"type": "integer", "min": 0},
        "start": {"type": "date", "min": "2015-01-01"},
        "response": {"type": "binary"},
    },
}


def good_frame(n=6):
    return pd.DataFrame({
        "patient_id": [f"P{i}" for i in range(1, n + 1)],
        "age": [30, 45, 50, 61, 72, 25][:n],
        "sex": ["female", "male"] * (n // 2),
        "arm": ["a", "b"] * (n // 2),
        "visits": [1, 2, 3, 4, 5, 6][:n],
        "start": [f"2020-01-0{i + 1}" for i in range(n)],
        "response": [0, 1] * (n // 2),
    })


def violations_for(tmp_path, frame, spec=SPEC, filename="raw/cohort.csv"):
    make_study(tmp_path, "s", spec, frame, filename)
    study = load_study("s", root=tmp_path)
    with pytest.raises(DataValidationError) as err:
        check_study(study, echo=lambda *_: None)
    return err.value.violations, str(err.value)


def test_clean_table_passes_and_is_typed(tmp_path):
    make_study(tmp_path, "s", SPEC, good_frame())
    study = load_study("s", root=tmp_path)
    typed = check_study(study, echo=lambda *_: None)
    assert typed["age"].dtype == float and typed["response"].tolist() == [0, 1, 0, 1, 0, 1]
    assert pd.api.types.is_datetime64_any_dtype(typed["start"])


@pytest.mark.parametrize("column, value, rule", [
    ("age", "abc", "not a number"),
    ("age", "150", "value above max 100"),
    ("age", "12", "value below min 18"),
    ("visits", "2.5", "not a whole number"),
    ("sex", "unknown", "unknown level (allowed: female, male)"),
    ("start", "yesterday", "not a date"),
    ("start", "2010-05-01", "date before 2015-01-01"),
    ("response", "2", "not binary (expected 0 or 1)"),
    ("arm", "", "missing value in a required column"),
])
def test_each_cell_rule_names_column_rule_and_row(tmp_path, column, value, rule):
    frame = good_frame().astype(str)
    frame.loc[2, column] = value
    found, text = violations_for(tmp_path, frame)
    match = [v for v in found if v.column == column and v.rule.startswith(rule)]
    assert match, text
    assert match[0].count == 1 and match[0].examples == ("row 3 (patient_id=P3)",)


def test_missing_column(tmp_path):
    found, _ = violations_for(tmp_path, good_frame().drop(columns=["sex"]))
    assert [(v.column, v.rule) for v in found] == [("sex", "column missing from the data file")]


def test_undeclared_column_warns_unless_strict(tmp_path):
    frame = good_frame().assign(extra=1)
    make_study(tmp_path, "s", SPEC, frame)
    with pytest.warns(UndeclaredColumnsWarning, match="extra"):
        check_study(load_study("s", root=tmp_path), echo=lambda *_: None)
    found, _ = violations_for(tmp_path, frame, dict(SPEC, strict=True))
    assert [(v.column, v.rule) for v in found] == [
        ("extra", "column not declared in the codebook (strict: true)")]


def test_duplicate_ids(tmp_path):
    frame = good_frame()
    frame.loc[4, "patient_id"] = "P2"
    found, _ = violations_for(tmp_path, frame)
    (dupe,) = [v for v in found if v.rule == "duplicate id"]
    assert dupe.column == "patient_id" and dupe.count == 2


def test_outcome_with_one_class(tmp_path):
    found, text = violations_for(tmp_path, good_frame().assign(response=1))
    assert "outcome has only one class (1)" in text and found[0].column == "response"


def test_empty_table(tmp_path):
    found, text = violations_for(tmp_path, good_frame().iloc[:0])
    assert "has no rows" in text


def test_unreadable_file(tmp_path):
    found, text = violations_for(tmp_path, "not a parquet file", filename="raw/cohort.parquet")
    assert "cannot read cohort.parquet" in text


def test_missing_file(tmp_path):
    make_study(tmp_path, "s", SPEC)
    with pytest.raises(DataValidationError, match="data file not found"):
        check_study(load_study("s", root=tmp_path), echo=lambda *_: None)


def test_all_violations_are_reported_at_once_with_counts(tmp_path):
    frame = good_frame().astype(str)
    frame.loc[[0, 1, 3], "age"] = ["200", "300", "abc"]
    frame.loc[5, "sex"] = "X"
    frame = frame.drop(columns=["visits"])
    found, text = violations_for(tmp_path, frame)
    rules = {(v.column, v.rule.split(" (")[0]): v for v in found}
    assert rules[("age", "value above max 100")].count == 2
    assert rules[("age", "value above max 100")].examples == ("row 1 (patient_id=P1)", "row 2 (patient_id=P2)")
    assert ("age", "not a number") in rules
    assert ("sex", "unknown level") in rules
    assert ("visits", "column missing from the data file") in rules
    assert text.startswith(f"{len(found)} validation error(s):")


def test_examples_are_capped_but_count_is_complete(tmp_path):
    frame = pd.concat([good_frame()] * 5, ignore_index=True)
    frame["patient_id"] = [f"P{i}" for i in range(len(frame))]
    frame["age"] = 10
    found, _ = violations_for(tmp_path, frame)
    (low,) = [v for v in found if v.rule.startswith("value below")]
    assert low.count == 30 and len(low.examples) == 5


@pytest.mark.parametrize("suffix", ["parquet", "xlsx"])
def test_other_formats_are_read(tmp_path, suffix):
    make_study(tmp_path, "s", SPEC, good_frame(), f"raw/cohort.{suffix}")
    typed = check_study(load_study("s", root=tmp_path), echo=lambda *_: None)
    assert len(typed) == 6 and typed["sex"].tolist()[:2] == ["female", "male"]


def test_cli_check_exits_nonzero_and_writes_nothing(tmp_path, monkeypatch, capsys):
    frame = good_frame().astype(str)
    frame.loc[0, "age"] = "999"
    folder = make_study(tmp_path, "s", SPEC, frame)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(tmp_path))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["check", "--study", "s"]) == EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "column 'age': value above max 100 (1 row, e.g. row 1 (patient_id=P1))" in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not (folder / "processed").exists()


def test_validate_raw_reports_undeclared_columns_as_notes(tmp_path):
    make_study(tmp_path, "s", SPEC)
    study = load_study("s", root=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        typed, notes = validate_raw(good_frame().assign(note="x"), study)
    assert "note" not in typed and "ignored: note" in notes[0]
