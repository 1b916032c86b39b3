"""The factors that moved a patient's risk most: baseline Shapley values on the probability
scale against the cohort's reference patient, checked by hand on a logistic model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from analysis.errors import AnalysisError
from analysis.explain.factors import (
    FACTOR_COLUMNS,
    MAX_EXACT,
    explain_patients,
    reference_patient,
    reference_value,
    risk_factors,
)


class KnownLogistic:
    """``logit p = -1 + 0.8 x1 - 0.5 x2 + 1.2 [g = "b"]``, on a DataFrame."""

    classes_ = np.array([0, 1])

    def predict_proba(self, d: pd.DataFrame) -> np.ndarray:
        lp = (-1 + 0.8 * d["x1"].to_numpy(float) - 0.5 * d["x2"].to_numpy(float)
              + 1.2 * (d["g"] == "b").to_numpy(float))
        p = expit(lp)
        return np.column_stack([1 - p, p])


def f(x1, x2, g) -> float:
    return float(expit(-1 + 0.8 * x1 - 0.5 * x2 + 1.2 * (g == "b")))


def test_two_predictors_by_hand_with_a_fitted_sklearn_logistic_model():
    # a scikit-learn LogisticRegression with its coefficients set: logit p = 0.2 + 1.5 a - 2 b
    model = LogisticRegression()
    model.fit(pd.DataFrame({"a": [0.0, 1.0, 0.0, 1.0], "b": [0.0, 0.0, 1.0, 1.0]}), [0, 1, 0, 1])
    model.coef_, model.intercept_ = np.array([[1.5, -2.0]]), np.array([0.2])
    patient = pd.DataFrame({"a": [2.0], "b": [1.0]})
    out = risk_factors(model, patient, {"a": 0.0, "b": 0.0})
    g = lambda a, b: float(expit(0.2 + 1.5 * a - 2.0 * b))  # noqa: E731
    phi_a = ((g(2, 0) - g(0, 0)) + (g(2, 1) - g(0, 1))) / 2
    phi_b = ((g(0, 1) - g(0, 0)) + (g(2, 1) - g(2, 0))) / 2
    got = out.set_index("predictor")
    assert got.loc["a", "contribution"] == pytest.approx(phi_a, abs=1e-12)
    assert got.loc["b", "contribution"] == pytest.approx(phi_b, abs=1e-12)
    assert got.loc["a", "one_at_a_time"] == pytest.approx(g(2, 1) - g(0, 1), abs=1e-12)
    assert got.loc["b", "one_at_a_time"] == pytest.approx(g(2, 1) - g(2, 0), abs=1e-12)
    assert out["prediction"].iloc[0] == pytest.approx(g(2, 1))
    assert out["reference_prediction"].iloc[0] == pytest.approx(g(0, 0))
    # ranked by absolute size: a (+0.44) before b (-0.27)
    assert out["predictor"].tolist() == ["a", "b"] and out["rank"].tolist() == [1, 2]
    assert phi_a > 0 > phi_b


def test_three_predictors_by_hand_including_a_category():
    patient = pd.DataFrame({"x1": [2.0], "x2": [1.0], "g": ["b"]}, index=["P7"])
    ref = {"x1": 0.0, "x2": 0.0, "g": "a"}
    out = risk_factors(KnownLogistic(), patient, ref, labels={"g": "Group"})
    assert out.columns.tolist() == FACTOR_COLUMNS and out.attrs["method"] == "exact"
    # Shapley weights for 3 players: 1/3 (empty and full coalition), 1/6 (the two pairs)
    x = {"x1": 2.0, "x2": 1.0, "g": "b"}

    def v(S):
        return f(*[x[k] if k in S else ref[k] for k in ("x1", "x2", "g")])

    def phi(j):
        others = [k for k in x if k != j]
        return (v({j}) - v(set())) / 3 + (v({j, *others}) - v(set(others))) / 3 + sum(
            (v({j, o}) - v({o})) / 6 for o in others)

    got = out.set_index("predictor")
    for j in x:
        assert got.loc[j, "contribution"] == pytest.approx(phi(j), abs=1e-12)
    assert got["contribution"].sum() == pytest.approx(v(set(x)) - v(set()), abs=1e-12)
    assert set(out["row"]) == {"P7"}
    assert got.loc["g", "label"] == "Group" and got.loc["x1", "label"] == "x1"
    assert got.loc["g", "value"] == "b" and got.loc["g", "reference"] == "a"


def test_a_predictor_at_its_reference_value_contributes_nothing_and_top_cuts():
    patient = pd.DataFrame({"x1": [2.0, 0.0], "x2": [0.0, -1.0], "g": ["a", "a"]})
    ref = {"x1": 0.0, "x2": 0.0, "g": "a"}
    out = risk_factors(KnownLogistic(), patient, ref)
    first = out[out["row"] == 0].set_index("predictor")
    assert first.loc["x2", "contribution"] == 0.0 and first.loc["g", "contribution"] == 0.0
    assert first.loc["x1", "contribution"] == pytest.approx(f(2, 0, "a") - f(0, 0, "a"))
    top = risk_factors(KnownLogistic(), patient, ref, top=1)
    assert top.groupby("row")["predictor"].apply(list).to_dict() == {0: ["x1"], 1: ["x2"]}


def test_many_predictors_are_sampled_and_still_add_up():
    p = MAX_EXACT + 3
    rng = np.random.default_rng(0)
    names = [f"v{i}" for i in range(p)]
    weights = rng.normal(0, 0.02, p)

    class LinearProbability:  # additive on the probability scale: Shapley = one at a time
        classes_ = np.array([0, 1])

        def predict_proba(self, d):
            q = 0.4 + d[names].to_numpy(float) @ weights
            return np.column_stack([1 - q, q])

    class Logistic:
        classes_ = np.array([0, 1])

        def predict_proba(self, d):
            q = expit(d[names].to_numpy(float) @ (weights * 20))
            return np.column_stack([1 - q, q])

    patients = pd.DataFrame(rng.normal(size=(2, p)), columns=names)
    ref = dict.fromkeys(names, 0.0)
    out = risk_factors(LinearProbability(), patients, ref)
    assert out.attrs["method"] == "sampled"
    np.testing.assert_allclose(out["contribution"], out["one_at_a_time"], atol=1e-12)
    for _, part in risk_factors(Logistic(), patients, ref, seed=3).groupby("row"):
        assert part["contribution"].sum() == pytest.approx(
            part["prediction"].iloc[0] - part["reference_prediction"].iloc[0], abs=1e-12)
    # seeded: the same numbers again
    a = risk_factors(Logistic(), patients, ref, seed=3)
    pd.testing.assert_frame_equal(a, risk_factors(Logistic(), patients, ref, seed=3))


def test_bad_arguments_name_the_problem():
    patient = pd.DataFrame({"x1": [1.0], "x2": [0.0], "g": ["a"]})
    with pytest.raises(AnalysisError, match="reference: no value for g"):
        risk_factors(KnownLogistic(), patient, {"x1": 0.0, "x2": 0.0})
    with pytest.raises(AnalysisError, match="top"):
        risk_factors(KnownLogistic(), patient, {"x1": 0.0, "x2": 0.0, "g": "a"}, top=0)
    with pytest.raises(AnalysisError, match="non-empty"):
        risk_factors(KnownLogistic(), patient.iloc[:0], {"x1": 0.0, "x2": 0.0, "g": "a"})


META = {
    "predictors": {
        "age": {"type": "numeric", "min": 18, "max": 100, "label": "Age"},
        "crp": {"type": "numeric", "min": 0, "label": "CRP"},
        "visits": {"type": "integer", "min": 0, "label": "Visits"},
        "bmi": {"type": "numeric", "label": "BMI"},
        "sex": {"type": "categorical", "levels": ["female", "male"], "label": "Sex"},
        "arm": {"type": "categorical", "levels": ["a", "b", "c"], "label": "Arm"},
        "smoker": {"type": "binary", "label": "Smoker"},
        "steroids": {"type": "binary", "label": "Steroids"},
    },
    "derivations": {"derive": {"bmi": "weight_kg / (height_cm / 100) ** 2"},
                    "inputs": {"height_cm": {"type": "numeric", "min": 120, "max": 220},
                               "weight_kg": {"type": "numeric", "min": 30, "max": 250}}},
    "training": {"ranges": {
        "age": {"kind": "numeric", "p01": 21.0, "p99": 79.0, "mean": 44.0, "n_missing": 0},
        "crp": {"kind": "numeric", "p01": 0.5, "p99": 120.0, "mean": 20.0, "n_missing": 0,
                "median": 8.2},
        "visits": {"kind": "numeric", "p01": 0.0, "p99": 7.0, "mean": 3.0, "n_missing": 0},
        "bmi": {"kind": "numeric", "p01": 17.1, "p99": 39.9, "mean": 26.0, "n_missing": 0,
                "median": 25.7},
        "sex": {"kind": "categorical", "levels": ["male", "female"], "n_missing": 0},
        "arm": {"kind": "categorical", "levels": ["b", "c"], "n_missing": 0,
                "most_common": "c"},
        "smoker": {"kind": "numeric", "p01": 0.0, "p99": 1.0, "mean": 0.7, "n_missing": 0},
        "steroids": {"kind": "numeric", "p01": 0.0, "p99": 1.0, "mean": 0.2, "n_missing": 0},
    }},
    "treatment": {"column": "arm", "options": ["a", "b", "c"]},
}


def test_reference_patient_is_where_the_calculator_form_starts():
    from analysis.app.form import form_fields

    ref = reference_patient(META)
    assert ref["crp"] == 8.2  # the stored median
    assert ref["age"] == 50.0  # no median stored: the midpoint of the 1st-99th percentiles
    assert ref["visits"] == 4.0  # an integer: rounded (3.5 -> 4)
    assert ref["bmi"] == 25.7  # a derived predictor: its own stored median
    assert ref["sex"] == "male" and ref["arm"] == "c"  # first seen; most common
    assert ref["smoker"] == 1.0 and ref["steroids"] == 0.0  # the more common value
    checked = 0
    for field in form_fields(META):
        if field.name not in ref:
            continue  # derive inputs (height, weight) have no stored range
        want = ref[field.name]
        assert field.default == (str(int(want)) if field.kind == "binary" else want)
        checked += 1
    assert checked == 7
    assert np.isnan(reference_value({"type": "numeric"}, {}))


SPEC = {
    "title": "Factors study",
    "id": "pid",
    "outcome": "response",
    "predictors": ["age", "crp", "smoking", "prior"],
    "variables": {
        "pid": {"type": "id"},
        "age": {"type": "numeric", "min": 18, "max": 100, "label": "Age"},
        "crp": {"type": "numeric", "min": 0, "max": 500, "label": "C-reactive protein"},
        "smoking": {"type": "categorical", "levels": ["never", "former", "current"],
                    "label": "Smoking"},
        "prior": {"type": "binary", "label": "Prior biologic"},
        "response": {"type": "binary"},
    },
}


def test_explain_patients_gives_predicts_scores_and_the_factors(tmp_path):
    from conftest import make_study
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from analysis.models.artifact import save_model
    from analysis.models.predict import IntervalWarning, predict_patients
    from analysis.study.config import load_study

    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame({
        "pid": [f"T{i}" for i in range(n)], "age": rng.uniform(20, 80, n).round(1),
        "crp": rng.lognormal(2, 1, n).round(1),
        "smoking": rng.choice(["never", "former", "current"], n).astype(object),
        "prior": rng.integers(0, 2, n).astype(float)})
    lp = 0.03 * (frame["age"] - 50) - 0.01 * frame["crp"] + 0.8 * frame["prior"]
    frame["response"] = (rng.random(n) < expit(lp)).astype(float)
    predictors = SPEC["predictors"]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         ["age", "crp", "prior"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), ["smoking"])])
    pipeline = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(
        frame[predictors], frame["response"].astype(int))
    make_study(tmp_path, "factors", SPEC)
    study = load_study("factors", root=tmp_path)
    save_model(pipeline, study, model_name="logistic", metrics=None, training_frame=frame,
               status="fit-for-clinical-use")
    new = pd.DataFrame({"pid": ["N1", "N2"], "age": ["71", "33"], "crp": ["4", "150"],
                        "smoking": ["current", None], "prior": ["1", "0"]})
    with pytest.warns(IntervalWarning):
        want = predict_patients(study, new)
    with pytest.warns(IntervalWarning):
        scores, factors = explain_patients(study, new, top=None)
    pd.testing.assert_frame_equal(scores, want)
    assert factors.groupby("row", sort=False).size().to_dict() == {"N1": 4, "N2": 4}
    ranges = __import__("json").loads((study.paths.model / "model.json").read_text())
    ref = reference_patient(ranges)
    p_ref = pipeline.predict_proba(pd.DataFrame([ref])[predictors])[0, 1]
    for pid, part in factors.groupby("row", sort=False):
        p = float(want.loc[want["pid"] == pid, "probability"].iloc[0])
        assert part["prediction"].iloc[0] == pytest.approx(p, abs=1e-12)
        assert part["reference_prediction"].iloc[0] == pytest.approx(p_ref, abs=1e-12)
        assert part["contribution"].sum() == pytest.approx(p - p_ref, abs=1e-12)
    labels = dict(zip(factors["predictor"], factors["label"], strict=True))
    assert labels["crp"] == "C-reactive protein"
    missing = factors[(factors["row"] == "N2") & (factors["predictor"] == "smoking")]
    assert pd.isna(missing["value"].iloc[0])  # left empty: imputed by the model
    with pytest.warns(IntervalWarning):
        _, top = explain_patients(study, new.iloc[[0]], top=2)
    assert top["rank"].tolist() == [1, 2]
