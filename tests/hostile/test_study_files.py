"""Hostile and broken study.yaml files: each gives one clear error and writes nothing.

Every case is run as ``analysis check --study s`` in-process, inside a throw-away project.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import make_study

from analysis.pipeline.cli import EXIT_INPUT_ERROR, main

BASE = {
    "title": "Hostile",
    "id": "pid",
    "outcome": "y",
    "group": "sex",
    "predictors": ["age", "sex"],
    "variables": {
        "age": {"type": "numeric", "min": 18, "max": 100},
        "sex": {"type": "categorical", "levels": ["f", "m"]},
        "y": {"type": "binary"},
    },
}
FRAME = pd.DataFrame({"pid": [f"P{i}" for i in range(1, 7)], "age": [30, 41, 52, 63, 74, 25],
                      "sex": ["f", "m"] * 3, "y": [0, 1] * 3})
GOOD_YAML = yaml.safe_dump({"data": "raw/cohort.csv", **BASE}, sort_keys=False)
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def spec_with(**changes):
    spec = {"data": "raw/cohort.csv", **BASE, **changes}
    return yaml.safe_dump({k: v for k, v in spec.items() if v is not ...}, sort_keys=False)


def variable_with(name, **changes):
    variables = {**BASE["variables"], name: {**BASE["variables"][name], **changes}}
    return spec_with(variables=variables)


def run_check(root, monkeypatch, capsys, name="s"):
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    status = main(["check", "--study", name])
    return status, capsys.readouterr().err


# (case, study.yaml text or bytes, expected exit status, fragment of the message)
CASES = [
    ("billion-laughs alias bomb", BILLION_LAUGHS + GOOD_YAML, EXIT_INPUT_ERROR, "anchors (&a) are not allowed"),
    ("single alias", GOOD_YAML + "description: &d text\nseed: *d\n", EXIT_INPUT_ERROR, "anchors (&d)"),
    ("alias without anchor", GOOD_YAML + "seed: *nothing\n", EXIT_INPUT_ERROR, "aliases (*nothing)"),
    ("duplicate top-level key", GOOD_YAML + "outcome: sex\n", EXIT_INPUT_ERROR,
     "key 'outcome' appears twice"),
    ("duplicate variable", GOOD_YAML.replace("  y:\n", "  age:\n    type: numeric\n  y:\n"),
     EXIT_INPUT_ERROR, "key 'age' appears twice"),
    ("duplicate min", GOOD_YAML.replace("    min: 18\n", "    min: 18\n    min: 0\n"),
     EXIT_INPUT_ERROR, "key 'min' appears twice"),
    ("not UTF-8 (latin-1)", ("# Studie über Männer\n" + GOOD_YAML).encode("latin-1"), EXIT_INPUT_ERROR,
     "not UTF-8 text (byte 0xfc on line 1)"),
    ("UTF-16", GOOD_YAML.encode("utf-16"), EXIT_INPUT_ERROR, "not UTF-8"),
    ("NUL byte", GOOD_YAML.replace("Hostile", "Host\x00ile"), EXIT_INPUT_ERROR, "NUL byte"),
    ("invalid YAML", GOOD_YAML + "  - : [\n", EXIT_INPUT_ERROR, "not valid YAML"),
    ("empty file", "", EXIT_INPUT_ERROR, "must be a mapping of keys, got NoneType"),
    ("a list, not a mapping", "- title\n- data\n", EXIT_INPUT_ERROR, "must be a mapping of keys, got list"),
    ("unhashable key", GOOD_YAML + "? [a, b]\n: 1\n", EXIT_INPUT_ERROR, "a mapping key must be a plain value"),
    ("outcome as list", spec_with(outcome=["y", "sex"]), EXIT_INPUT_ERROR, "'outcome' must be a string, got list"),
    ("outcome as mapping", spec_with(outcome={"y": 1}), EXIT_INPUT_ERROR, "'outcome' must be a string, got dict"),
    ("id as list", spec_with(id=["pid"]), EXIT_INPUT_ERROR, "'id' must be a string, got list"),
    ("group as list", spec_with(group=["sex"]), EXIT_INPUT_ERROR, "'group' must be a string, got list"),
    ("title as list", spec_with(title=["a"]), EXIT_INPUT_ERROR, "'title' must be a string"),
    ("data as list", spec_with(data=["raw/cohort.csv"]), EXIT_INPUT_ERROR, "'data' must be a string"),
    ("predictors as text", spec_with(predictors="age"), EXIT_INPUT_ERROR, "'predictors' must be a list"),
    ("secondary outcomes nested", spec_with(secondary_outcomes=[["y"]]), EXIT_INPUT_ERROR,
     "'secondary_outcomes' must be a list of column names"),
    ("variables as list", spec_with(variables=["age"]), EXIT_INPUT_ERROR, "'variables' must be a mapping"),
    ("variable as text", spec_with(variables={**BASE["variables"], "age": "numeric"}), EXIT_INPUT_ERROR,
     "variables.age: must be a mapping"),
    ("derive as list", spec_with(derive=["a + b"]), EXIT_INPUT_ERROR, "'derive' must be a mapping"),
    ("treatment column as list", spec_with(treatment={"column": ["sex"]}), EXIT_INPUT_ERROR,
     "treatment.column must name a categorical variable"),
    ("treatment unknown key", spec_with(treatment={"column": "sex", "options": ["f", "m"], "modifers": []}),
     EXIT_INPUT_ERROR, "treatment: unknown key 'modifers'"),
    ("treatment option not a level", spec_with(treatment={"column": "sex", "options": ["f", "x"]}),
     EXIT_INPUT_ERROR, "treatment.options: 'x' is not a level of 'sex'"),
    ("treatment reference not an option",
     spec_with(treatment={"column": "sex", "options": ["f", "m"], "reference": "z"}),
     EXIT_INPUT_ERROR, "treatment.reference 'z' is not one of treatment.options"),
    ("effect modifier not a predictor",
     spec_with(treatment={"column": "sex", "options": ["f", "m"], "effect_modifiers": ["bmi"]}),
     EXIT_INPUT_ERROR, "treatment.effect_modifiers: 'bmi' is not one of the predictors"),
    ("confounder is the treatment",
     spec_with(treatment={"column": "sex", "options": ["f", "m"], "confounders": ["sex"]}),
     EXIT_INPUT_ERROR, "treatment.confounders: 'sex' is the treatment column itself"),
    ("visits as list", spec_with(visits=["raw/v.csv"]), EXIT_INPUT_ERROR, "'visits' must be a mapping"),
    ("visits data as list", spec_with(visits={"data": ["v.csv"], "time": "week", "times": [0]}),
     EXIT_INPUT_ERROR, "visits.data must be a string"),
    ("seed as text", spec_with(seed="42"), EXIT_INPUT_ERROR, "'seed' must be a non-negative integer"),
    ("strict as text", spec_with(strict="yes please"), EXIT_INPUT_ERROR, "'strict' must be true or false"),
    ("min .nan", GOOD_YAML.replace("min: 18", "min: .nan"), EXIT_INPUT_ERROR,
     "variables.age: 'min' must be a finite number (got nan)"),
    ("max .nan", GOOD_YAML.replace("max: 100", "max: .NaN"), EXIT_INPUT_ERROR, "'max' must be a finite number"),
    ("max .inf", GOOD_YAML.replace("max: 100", "max: .inf"), EXIT_INPUT_ERROR, "'max' must be a finite number"),
    ("min -.inf", GOOD_YAML.replace("min: 18", "min: -.inf"), EXIT_INPUT_ERROR, "'min' must be a finite number"),
    ("min as text", variable_with("age", min="eighteen"), EXIT_INPUT_ERROR, "'min' must be a finite number"),
    ("date min not a date", spec_with(variables={**BASE["variables"], "start": {"type": "date", "min": "soon"}}),
     EXIT_INPUT_ERROR, "'min' must be a date"),
    ("label as list", variable_with("age", label=["Age"]), EXIT_INPUT_ERROR, "'label' must be text, got list"),
    ("required as text", variable_with("age", required="yes"), EXIT_INPUT_ERROR, "'required' must be true or false"),
    ("levels of mappings", variable_with("sex", levels=[{"f": 1}, "m"]), EXIT_INPUT_ERROR,
     "each of 'levels' must be a plain value"),
    ("1000-character unknown key", GOOD_YAML + "k" * 1_000 + ": 1\n", EXIT_INPUT_ERROR, "unknown key 'kkkk"),
    ("data absolute", spec_with(data="/etc/passwd"), EXIT_INPUT_ERROR, "is an absolute path"),
    ("data dot-dot escape", spec_with(data="../../../outside.csv"), EXIT_INPUT_ERROR,
     "lies outside the study folder"),
    ("data dot-dot inside raw", spec_with(data="raw/../../other/cohort.csv"), EXIT_INPUT_ERROR,
     "lies outside the study folder"),
    ("visits data escape", spec_with(visits={"data": "../../v.csv", "time": "week", "times": [0]}),
     EXIT_INPUT_ERROR, "'visits.data': ../../v.csv lies outside the study folder"),
    ("data empty", spec_with(data=" "), EXIT_INPUT_ERROR, "'data' is empty"),
]


@pytest.mark.parametrize("case, text, status, fragment", CASES, ids=[c[0] for c in CASES])
def test_hostile_study_yaml(tmp_path, monkeypatch, capsys, case, text, status, fragment):
    folder = make_study(tmp_path, "s", BASE, FRAME)
    target = folder / "study.yaml"
    target.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    (tmp_path / "outside.csv").write_text(FRAME.to_csv(index=False))
    got, err = run_check(tmp_path, monkeypatch, capsys)
    assert got == status, err
    assert fragment in err
    assert "Traceback" not in err and len(err) < 3000  # no echo of a long key or alias expansion
    assert "k" * 200 not in err
    assert not (folder / "processed" / "cohort.parquet").exists()


def test_good_study_is_accepted(tmp_path, monkeypatch, capsys):
    make_study(tmp_path, "s", BASE, FRAME)
    status, err = run_check(tmp_path, monkeypatch, capsys)
    assert status == 0, err


def test_symlink_out_of_the_study_folder_is_refused(tmp_path, monkeypatch, capsys):
    folder = make_study(tmp_path, "s", BASE)
    outside = tmp_path / "elsewhere.csv"
    FRAME.to_csv(outside, index=False)
    (folder / "raw" / "cohort.csv").symlink_to(outside)
    status, err = run_check(tmp_path, monkeypatch, capsys)
    assert status == EXIT_INPUT_ERROR and "lies outside the study folder" in err and "symlinks" in err


def test_symlinked_folder_inside_the_study_is_fine(tmp_path, monkeypatch, capsys):
    folder = make_study(tmp_path, "s", BASE, FRAME)
    (folder / "link").symlink_to(folder / "raw")
    (folder / "study.yaml").write_text(spec_with(data="link/cohort.csv"))
    status, err = run_check(tmp_path, monkeypatch, capsys)
    assert status == 0, err


@pytest.mark.parametrize("data", ["ABSOLUTE", "../../outside.csv"])
def test_external_data_needs_the_opt_in(tmp_path, monkeypatch, capsys, data):
    folder = make_study(tmp_path, "s", BASE)
    FRAME.to_csv(tmp_path / "outside.csv", index=False)
    data = str(tmp_path / "outside.csv") if data == "ABSOLUTE" else data
    (folder / "study.yaml").write_text(spec_with(data=data))
    status, err = run_check(tmp_path, monkeypatch, capsys)
    assert status == EXIT_INPUT_ERROR and "ANALYSIS_ALLOW_EXTERNAL_DATA=1" in err
    monkeypatch.setenv("ANALYSIS_ALLOW_EXTERNAL_DATA", "1")
    status, err = run_check(tmp_path, monkeypatch, capsys)
    assert status == 0, err
