"""The calculator's form: fields from a model's codebook, defaults, and parsing with messages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import make_study
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from analysis.app.form import FORM_ID, Field, form_fields, parse_inputs
from analysis.models.artifact import load_model, save_model
from analysis.models.predict import predict_patients
from analysis.study.config import load_study

META = {
    "predictors": {
        "age": {"type": "numeric", "min": 18, "max": 100, "unit": "years", "label": "Age"},
        "bmi": {"type": "numeric", "min": 10, "max": 80, "label": "BMI"},
        "bsa": {"type": "numeric", "label": "Body surface area"},
        "visits": {"type": "integer", "min": 0, "label": "Visits"},
        "crp": {"type": "numeric", "min": 0, "max": 400, "unit": "mg/L", "label": "CRP"},
        "sex": {"type": "categorical", "levels": ["female", "male"], "label": "Sex",
                "required": True},
        "arm": {"type": "categorical", "levels": ["a", "b", "c"], "label": "Arm"},
        "smoker": {"type": "binary", "label": "Smoker"},
        "steroids": {"type": "binary", "label": "Steroids"},
    },
    "derivations": {
        # bsa uses an intermediate rule (hm) and shares weight with bmi
        "derive": {"bmi": "weight_kg / (height_cm / 100) ** 2",
                   "hm": "height_cm / 100",
                   "bsa": "sqrt(hm * weight_kg / 36)"},
        "inputs": {"height_cm": {"type": "numeric", "min": 120, "max": 220, "unit": "cm",
                                 "label": "Height"},
                   "weight_kg": {"type": "numeric", "min": 30, "max": 250, "unit": "kg",
                                 "label": "Weight", "required": True}},
    },
    "training": {"ranges": {
        "age": {"kind": "numeric", "p01": 21.0, "p99": 79.0, "mean": 44.0, "n_missing": 0},
        "bmi": {"kind": "numeric", "p01": 17.1, "p99": 39.9, "mean": 26.0, "n_missing": 0},
        "bsa": {"kind": "numeric", "p01": 1.5, "p99": 2.3, "mean": 1.9, "n_missing": 0},
        "visits": {"kind": "numeric", "p01": 0.0, "p99": 7.0, "mean": 3.0, "n_missing": 0},
        "crp": {"kind": "numeric", "p01": 0.5, "p99": 120.0, "mean": 20.0, "n_missing": 0,
                "median": 8.2},
        "sex": {"kind": "categorical", "levels": ["male", "female"], "n_missing": 0},
        "arm": {"kind": "categorical", "levels": ["b", "c"], "n_missing": 0,
                "most_common": "c"},
        "smoker": {"kind": "numeric", "p01": 0.0, "p99": 1.0, "mean": 0.7, "n_missing": 0},
        "steroids": {"kind": "numeric", "p01": 0.0, "p99": 1.0, "mean": 0.2, "n_missing": 0},
    }},
    "treatment": {"column": "arm", "options": ["a", "b", "c"]},
}


def by_name(fields: list[Field]) -> dict[str, Field]:
    return {f.name: f for f in fields}


def test_derived_predictors_are_replaced_by_their_inputs_once_in_order():
    fields = form_fields(META)
    # bmi -> weight, height (as written in its rule); bsa -> nothing new (through hm)
    assert [f.name for f in fields] == ["age", "weight_kg", "height_cm", "visits", "crp", "sex",
                                        "arm", "smoker", "steroids"]
    got = by_name(fields)
    assert got["weight_kg"].derives == ("bmi", "bsa")
    assert got["height_cm"].derives == ("bmi", "bsa")
    assert "bmi" not in got and "bsa" not in got and "hm" not in got


def test_an_input_that_is_also_a_predictor_is_asked_once_and_says_what_it_derives():
    # the phenotype as a candidate predictor makes weight_kg a model input of its own, listed
    # after bmi, which is derived from it
    meta = {**META, "predictors": {**META["predictors"],
                                   "weight_kg": META["derivations"]["inputs"]["weight_kg"]}}
    fields = form_fields(meta)
    names = [f.name for f in fields]
    assert names.count("weight_kg") == 1 and names.count("height_cm") == 1
    got = by_name(fields)
    assert got["weight_kg"].derives == ("bmi", "bsa") and got["weight_kg"].required
    assert got["height_cm"].derives == ("bmi", "bsa")


def test_labels_units_ranges_and_input_kinds_come_from_the_codebook():
    got = by_name(form_fields(META))
    age = got["age"]
    assert (age.label, age.unit, age.min, age.max, age.input, age.kind) == (
        "Age", "years", 18.0, 100.0, "numeric", "numeric")
    assert age.display_label == "Age, years" and age.range_text == "18 to 100 years"
    assert (got["height_cm"].min, got["height_cm"].max, got["height_cm"].unit) == (120, 220, "cm")
    assert got["visits"].range_text == "at least 0" and got["visits"].max is None
    assert got["sex"].input == "select" and got["sex"].choices == {"female": "female",
                                                                   "male": "male"}
    # every codebook level is offered, also one not seen in training ("a")
    assert list(got["arm"].choices) == ["a", "b", "c"]
    assert got["smoker"].input == "select" and got["smoker"].choices == {"1": "yes", "0": "no"}


def test_defaults_median_else_midpoint_most_common_else_first_seen():
    got = by_name(form_fields(META))
    assert got["crp"].default == 8.2                 # stored median
    assert got["age"].default == 50.0                # (21 + 79) / 2
    assert got["visits"].default == 4.0              # (0 + 7) / 2 = 3.5, rounded: integer
    assert got["height_cm"].default is None          # derive inputs have no stored range
    assert got["arm"].default == "c"                 # stored most common level
    assert got["sex"].default == "male"              # first level seen in training
    assert got["smoker"].default == "1" and got["steroids"].default == "0"  # from the mean


def test_cohort_summary_overrides_the_stored_defaults():
    got = by_name(form_fields(META, {"age": {"median": 37.5}, "arm": {"most_common": "a"},
                                     "height_cm": 170, "smoker": {"most_common": 0}}))
    assert got["age"].default == 37.5 and got["arm"].default == "a"
    assert got["height_cm"].default == 170.0 and got["smoker"].default == "0"


def test_required_is_the_treatment_column_and_codebook_required_entries():
    required = [f.name for f in form_fields(META) if f.required]
    assert required == ["weight_kg", "sex", "arm"]


def valid_raw() -> dict:
    return {"age": "45", "weight_kg": 70, "height_cm": "172.5", "visits": "3", "crp": "",
            "sex": "female", "arm": "b", "smoker": "1", "steroids": ""}


def test_parse_inputs_types_one_row_and_leaves_gaps_missing():
    patient, messages = parse_inputs(form_fields(META), valid_raw(), id_column="pid")
    assert messages == {}
    assert patient.columns.tolist() == ["pid", "age", "weight_kg", "height_cm", "visits", "crp",
                                        "sex", "arm", "smoker", "steroids"]
    row = patient.iloc[0]
    assert row["pid"] == FORM_ID
    assert (row["age"], row["weight_kg"], row["height_cm"], row["visits"]) == (45, 70, 172.5, 3)
    assert (row["sex"], row["arm"], row["smoker"]) == ("female", "b", 1.0)
    assert math.isnan(row["crp"]) and math.isnan(row["steroids"])


@pytest.mark.parametrize("field, value, message", [
    ("age", "150", "Age must be between 18 and 100 years (got 150)."),
    ("age", "17.9", "Age must be between 18 and 100 years (got 17.9)."),
    ("height_cm", "1.72", "Height must be between 120 and 220 cm (got 1.72)."),
    ("visits", "-1", "Visits must be at least 0 (got -1)."),
    ("visits", "2.5", "Visits must be a whole number (got 2.5)."),
    ("age", "forty", "Age must be a number (18 to 100 years)."),
    ("age", "inf", "Age must be a number (18 to 100 years)."),
    ("crp", "nan", "CRP must be a number (0 to 400 mg/L)."),
    ("weight_kg", "", "Weight is required."),
    ("sex", None, "Sex is required."),
    ("arm", " ", "Arm is required."),
    ("arm", "d", "Arm: choose one of a, b, c."),
    ("smoker", "maybe", "Smoker: choose one of yes, no."),
])
def test_parse_inputs_names_what_is_wrong(field, value, message):
    raw = {**valid_raw(), field: value}
    patient, messages = parse_inputs(form_fields(META), raw)
    assert messages == {field: message}
    assert patient.empty


def test_parse_inputs_reports_every_wrong_field_at_once():
    raw = {**valid_raw(), "age": "0", "sex": "", "arm": "z"}
    _, messages = parse_inputs(form_fields(META), raw)
    assert sorted(messages) == ["age", "arm", "sex"]


def test_boundaries_are_allowed():
    raw = {**valid_raw(), "age": "18", "height_cm": 220.0}
    patient, messages = parse_inputs(form_fields(META), raw)
    assert messages == {} and patient.loc[0, "age"] == 18.0


# ---------------------------------------------------------------- with a saved model

SPEC = {
    "title": "Form study", "id": "pid", "outcome": "y",
    "predictors": ["age", "bmi", "arm", "smoker"],
    "treatment": {"column": "arm", "options": ["a", "b"]},
    "derive": {"bmi": "weight_kg / (height_cm / 100) ** 2"},
    "variables": {
        "pid": {"type": "id"},
        "age": {"type": "numeric", "min": 18, "max": 100, "unit": "years", "label": "Age"},
        "height_cm": {"type": "numeric", "min": 120, "max": 220, "unit": "cm"},
        "weight_kg": {"type": "numeric", "min": 30, "max": 250, "unit": "kg"},
        "bmi": {"type": "numeric", "min": 10, "max": 80},
        "arm": {"type": "categorical", "levels": ["a", "b"], "label": "Arm"},
        "smoker": {"type": "binary", "label": "Smoker"},
        "y": {"type": "binary"},
    },
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("form")
    make_study(root, "form", SPEC)
    rng = np.random.default_rng(7)
    n = 120
    frame = pd.DataFrame({"age": rng.uniform(20, 80, n).round(1),
                          "bmi": rng.uniform(18, 35, n).round(1),
                          "arm": rng.choice(["a", "b"], n).astype(object),
                          "smoker": rng.integers(0, 2, n).astype(float)})
    frame["y"] = (rng.random(n) < 0.4 + 0.2 * (frame["arm"] == "a")).astype(float)
    prep = ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), ["age", "bmi", "smoker"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), ["arm"])])
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(
        frame[SPEC["predictors"]], frame["y"].astype(int))
    study = load_study("form", root=root)
    save_model(model, study, model_name="logistic", metrics=None, training_frame=frame,
               status="fit-for-clinical-use")
    return study, model


def test_fields_of_a_saved_model_and_the_parsed_row_scores_like_a_table(saved):
    study, model = saved
    _, meta = load_model(study.paths.model)
    fields = form_fields(meta)
    assert [f.name for f in fields] == ["age", "weight_kg", "height_cm", "arm", "smoker"]
    assert [f.name for f in fields if f.required] == ["arm"]
    raw = {"age": "61", "weight_kg": "90", "height_cm": "180", "arm": "b", "smoker": "0"}
    patient, messages = parse_inputs(fields, raw, id_column="pid")
    assert messages == {}
    got = predict_patients(study, patient)
    bmi = 90 / 1.8**2
    by_hand = model.predict_proba(pd.DataFrame(
        {"age": [61.0], "bmi": [bmi], "arm": ["b"], "smoker": [0.0]}))[0, 1]
    assert got.loc[0, "probability"] == pytest.approx(by_hand, abs=1e-12)
    assert got.loc[0, "pid"] == FORM_ID


def test_the_inputs_of_a_derived_predictor_start_at_their_training_medians(tmp_path):
    """Height and weight (BMI's inputs) are stored with their training range when the
    development frame holds them, so the form starts at the cohort's reference patient."""
    make_study(tmp_path, "form", SPEC)
    rng = np.random.default_rng(8)
    n = 80
    frame = pd.DataFrame({"age": rng.uniform(20, 80, n).round(1),
                          "weight_kg": rng.uniform(50, 110, n).round(1),
                          "height_cm": rng.uniform(150, 195, n).round(1),
                          "arm": rng.choice(["a", "b"], n).astype(object),
                          "smoker": rng.integers(0, 2, n).astype(float)})
    frame["bmi"] = frame["weight_kg"] / (frame["height_cm"] / 100) ** 2
    frame["y"] = (rng.random(n) < 0.5).astype(float)
    model = Pipeline([("prep", ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), ["age", "bmi", "smoker"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["arm"])])),
        ("clf", LogisticRegression())]).fit(frame[SPEC["predictors"]], frame["y"].astype(int))
    study = load_study("form", root=tmp_path)
    save_model(model, study, model_name="logistic", metrics=None, training_frame=frame,
               status="fit-for-clinical-use")
    _, meta = load_model(study.paths.model)          # the strict model.json check passes
    ranges = meta["training"]["ranges"]
    # stored to 3 significant digits, as every range
    assert ranges["height_cm"]["median"] == pytest.approx(frame["height_cm"].median(), rel=5e-3)
    fields = {f.name: f for f in form_fields(meta)}
    assert fields["weight_kg"].default == pytest.approx(frame["weight_kg"].median(), rel=5e-3)
