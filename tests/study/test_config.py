"""study.yaml parsing: the minimal vocabulary works; malformed files fail with every problem listed."""

import re

import pytest
import yaml
from conftest import REPO, make_study

from analysis.errors import StudyConfigError
from analysis.study.config import load_study, read_min_cell_count

MINIMAL = {
    "title": "Plain cohort",
    "id": "patient_id",
    "outcome": "response",
    "group": "arm",
    "predictors": ["age", "sex"],
    "variables": {
        "age": {"type": "numeric", "unit": "years", "min": 18, "max": 100, "label": "Age"},
        "sex": {"type": "categorical", "levels": ["female", "male"]},
        "arm": {"type": "categorical", "levels": ["a", "b"]},
        "response": {"type": "binary", "label": "Response"},
    },
}


def test_minimal_study_with_only_the_basic_keys_loads(tmp_path):
    make_study(tmp_path, "plain", MINIMAL)
    study = load_study("plain", root=tmp_path)
    assert study.title == "Plain cohort"
    assert study.predictors == ("age", "sex")
    # the id column is implied when not declared
    assert study.variables["patient_id"].type == "id"
    assert study.variables["sex"].levels == ("female", "male")
    assert study.data_path == tmp_path / "data" / "plain" / "raw" / "cohort.csv"
    assert study.codebook(["age"]) == {
        "age": {"type": "numeric", "label": "Age", "unit": "years", "min": 18, "max": 100}
    }


def test_shipped_ibd_study_loads():
    study = load_study("ibd-biologics", root=REPO)
    assert study.outcome == "response"
    assert study.treatment["options"] == ["anti-cytokine", "anti-integrin"]
    assert "response" in study.derive and "response" not in study.raw_variables


def test_missing_study_names_the_file(tmp_path):
    with pytest.raises(StudyConfigError, match="no file .*nothere/study.yaml"):
        load_study("nothere", root=tmp_path)


def test_invalid_yaml_is_a_clear_error(tmp_path):
    folder = tmp_path / "data" / "broken"
    folder.mkdir(parents=True)
    (folder / "study.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(StudyConfigError, match="not valid YAML"):
        load_study("broken", root=tmp_path)


def test_top_level_must_be_a_mapping(tmp_path):
    folder = tmp_path / "data" / "list"
    folder.mkdir(parents=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(["a", "b"]), encoding="utf-8")
    with pytest.raises(StudyConfigError, match="must be a mapping"):
        load_study("list", root=tmp_path)


def test_every_problem_is_reported_at_once(tmp_path):
    spec = {
        "title": "Bad",
        "outcome": "response",
        "group": "age",
        "predictors": ["age", "weight", "response"],
        "colour": "blue",
        "variables": {
            "age": {"type": "numeric", "min": 90, "max": 10},
            "sex": {"type": "categorical"},
            "stage": {"type": "ordinal"},
            "response": {"type": "numeric"},
            "crp": {"type": "numeric", "transform": "cube"},
        },
    }
    make_study(tmp_path, "bad", spec)
    with pytest.raises(StudyConfigError) as err:
        load_study("bad", root=tmp_path)
    text = str(err.value)
    for fragment in (
        "unknown key 'colour'",
        "variables.age: min (90) is greater than max (10)",
        "variables.sex: a categorical variable needs a list of 'levels'",
        "variables.stage: type must be one of",
        "variables.crp: transform must be one of",
    ):
        assert fragment in text, fragment
    # one line per problem, and the header counts them all
    assert text.count("\n  - ") == int(re.search(r"(\d+) problem", text).group(1)) >= 5


def test_cross_references_are_checked(tmp_path):
    spec = dict(MINIMAL, predictors=["age", "weight", "response"], group="age")
    spec["variables"] = dict(MINIMAL["variables"], response={"type": "numeric"})
    make_study(tmp_path, "refs", spec)
    with pytest.raises(StudyConfigError) as err:
        load_study("refs", root=tmp_path)
    text = str(err.value)
    assert "predictors: 'weight' is not declared" in text
    assert "outcome 'response' must have type 'binary'" in text
    assert "group 'age' must be categorical or binary" in text
    assert "cannot also be a predictor" in text


def test_derived_variable_needs_a_codebook_entry(tmp_path):
    spec = dict(MINIMAL, derive={"bmi": "weight / height ** 2"})
    make_study(tmp_path, "derived", spec)
    with pytest.raises(StudyConfigError, match="derived variable 'bmi' needs an entry"):
        load_study("derived", root=tmp_path)


def test_visits_block_is_parsed_and_checked(tmp_path):
    spec = dict(MINIMAL, visits={
        "data": "raw/visits.csv", "time": "week", "times": [0, 4, 12],
        "variables": {"crp": {"type": "numeric", "min": 0}},
    })
    make_study(tmp_path, "long", spec)
    study = load_study("long", root=tmp_path)
    assert study.visits.times == (0, 4, 12)
    assert set(study.visits.variables) == {"patient_id", "crp", "week"}

    bad = dict(MINIMAL, visits={"time": "week", "times": "0,4", "colour": 1})
    make_study(tmp_path, "badlong", bad)
    with pytest.raises(StudyConfigError) as err:
        load_study("badlong", root=tmp_path)
    assert "visits: missing required key 'data'" in str(err.value)
    assert "visits.times must be a non-empty list" in str(err.value)
    assert "visits: unknown key 'colour'" in str(err.value)


def test_level_labels_give_levels_display_names_and_bad_ones_are_named(tmp_path):
    def study_with(arm_spec):
        make_study(tmp_path, "s", {"title": "t", "outcome": "y", "predictors": ["arm"],
                                   "variables": {"y": {"type": "binary"}, "arm": arm_spec}})
        return load_study("s", root=tmp_path)

    good = {"type": "categorical", "levels": ["a", "iv_b"], "level_labels": {"iv_b": "IV + b"}}
    assert study_with(good).codebook(["arm"])["arm"]["level_labels"] == {"iv_b": "IV + b"}
    bad = {"type": "categorical", "levels": ["a", "b"], "level_labels": {"c": "C"}}
    with pytest.raises(StudyConfigError, match=r"level_labels: 'c' is not one of its levels"):
        study_with(bad)
    numeric = {"type": "numeric", "level_labels": {"1": "one"}}
    with pytest.raises(StudyConfigError, match="only applies to categorical or binary"):
        study_with(numeric)


def test_privacy_min_cell_count_is_read_and_checked(tmp_path):
    base = {"title": "t", "outcome": "y", "predictors": ["x"],
            "variables": {"y": {"type": "binary"}, "x": {"type": "numeric"}}}
    make_study(tmp_path, "s", {**base, "privacy": {"min_cell_count": 5}})
    assert load_study("s", root=tmp_path).min_cell_count == 5
    make_study(tmp_path, "s", base)
    assert load_study("s", root=tmp_path).min_cell_count is None
    make_study(tmp_path, "s", {**base, "privacy": {"min_cell_count": 1, "other": 2}})
    with pytest.raises(StudyConfigError, match=r"unknown key 'other'[\s\S]*integer from 2 to 100"):
        load_study("s", root=tmp_path)


def test_min_cell_count_is_read_before_a_run_without_the_rest_of_the_study(tmp_path):
    """What a notebook run reads before its kernel starts: the same rule as load_study, and
    a study.yaml broken elsewhere still has its small counts suppressed."""
    import subprocess
    import sys

    base = {"title": "t", "outcome": "y", "predictors": ["x"],
            "variables": {"y": {"type": "binary"}, "x": {"type": "numeric"}}}
    make_study(tmp_path, "s", {**base, "privacy": {"min_cell_count": 5}})
    assert read_min_cell_count("s", root=tmp_path) == load_study("s", root=tmp_path).min_cell_count == 5
    make_study(tmp_path, "s", base)
    assert read_min_cell_count("s", root=tmp_path) is None
    make_study(tmp_path, "s", {**base, "privacy": {"min_cell_count": 7}, "predictors": "x"})
    with pytest.raises(StudyConfigError):
        load_study("s", root=tmp_path)
    assert read_min_cell_count("s", root=tmp_path) == 7
    make_study(tmp_path, "s", {**base, "privacy": {"min_cell_count": 1}})
    with pytest.raises(StudyConfigError, match="integer from 2 to 100"):
        read_min_cell_count("s", root=tmp_path)
    # the parent process of every notebook run: its parser and this read import no pandas
    code = ("import sys, pathlib; from analysis.pipeline.cli import build_parser; build_parser(); "
            "from analysis.pipeline.runner import _study_min_cell_count; "
            f"print(_study_min_cell_count('s', pathlib.Path({str(tmp_path)!r})), 'pandas' in sys.modules)")
    make_study(tmp_path, "s", {**base, "privacy": {"min_cell_count": 5}})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "False"]
