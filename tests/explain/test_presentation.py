"""Paper presentation of regression models: term table, equation, nomogram points and plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.special import expit, logit

from analysis.errors import AnalysisError
from analysis.explain.presentation import (
    equation_terms,
    linear_predictor_terms,
    model_equation,
    nomogram_points,
    patient_points,
)
from analysis.models.flexible import FlexibleBasis
from analysis.models.recalibration import RecalibratedClassifier
from analysis.models.zoo import model_zoo
from analysis.plots.nomogram import plot_nomogram

PREDICTORS = ["age", "crp", "smoker", "site"]
CODEBOOK = {
    "age": {"type": "numeric", "label": "Age (years)"},
    "crp": {"type": "numeric", "label": "CRP (mg/L)"},  # no transform: logged automatically
    "smoker": {"type": "binary", "label": "Current smoker"},
    "site": {"type": "categorical", "levels": ["north", "south", "east"], "label": "Site"},
}


def _cohort(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.normal(55, 12, n).round(1),
        "crp": rng.lognormal(1.5, 1.0, n).round(2),
        "smoker": rng.integers(0, 2, n).astype(float),
        "site": rng.choice(["north", "south", "east"], n).astype(object),
    })


@pytest.fixture(scope="module")
def data():
    X = _cohort(400, 1)
    rng = np.random.default_rng(2)
    lp = (-0.4 + 0.002 * (X["age"] - 55) ** 2 - 0.02 * (X["age"] - 55) + 0.6 * np.log(X["crp"])
          - 0.9 + 0.7 * X["smoker"] + 0.5 * (X["site"] == "east"))
    y = (rng.random(len(X)) < expit(lp)).astype(int).to_numpy()
    X.loc[[3, 17], "crp"] = np.nan
    X.loc[[5], "site"] = np.nan
    X.loc[[8], "smoker"] = np.nan
    return X, y


@pytest.fixture(scope="module")
def patients():
    new = _cohort(40, 9)
    new.loc[[0, 1], "crp"] = np.nan
    new.loc[[2], "site"] = np.nan
    new.loc[[3], "smoker"] = np.nan
    new.loc[4, "crp"] = 0.0  # below the log floor
    new.loc[5, "age"] = 120.0  # beyond the last knot
    return new


def _fit(name, data, **kwargs):
    X, y = data
    return model_zoo(CODEBOOK, PREDICTORS, smoke=True, include=[name],
                     **kwargs)[name].pipeline.fit(X, y)


@pytest.fixture(scope="module")
def flexible(data):
    return _fit("flexible_logistic", data)


@pytest.fixture(scope="module")
def flexible_interaction(data):
    return _fit("flexible_logistic", data, interactions=[("age", "site"), ("crp", "smoker")])


@pytest.fixture(scope="module")
def lasso(data):
    X, y = data
    codebook = {**CODEBOOK, "crp": {**CODEBOOK["crp"], "transform": "log"}}
    pipe = model_zoo(codebook, PREDICTORS, smoke=True, include=["lasso"],
                     splines={"age": 4})["lasso"].pipeline
    return pipe.fit(X, y)


# --------------------------------------------------------------------------- an independent evaluator


def _harrell(u, knots, j):
    t = np.asarray(knots, float)
    k = len(t)

    def plus3(v):
        return np.clip(v, 0, None) ** 3

    return (plus3(u - t[j - 1])
            - plus3(u - t[k - 2]) * (t[k - 1] - t[j - 1]) / (t[k - 1] - t[k - 2])
            + plus3(u - t[k - 1]) * (t[k - 2] - t[j - 1]) / (t[k - 1] - t[k - 2])) / (t[-1] - t[0]) ** 2


def _factor_value(f, frame):
    col = frame[f["predictor"]]
    if f["basis"] == "indicator":
        s = col.astype(object).where(col.notna(), f["fill"]).astype(str)
        return (s == f["level"]).to_numpy(float)
    x = pd.to_numeric(col, errors="coerce").to_numpy(float)
    if f["basis"] == "binary":
        return np.where(np.isnan(x), f["fill"], x)
    if f["floor"] is not None:
        x = np.maximum(x, f["floor"])
    g = {"log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "none": lambda v: v}[f["transform"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = g(x)
    u = np.where(np.isnan(u), f["fill"], u)
    if f["basis"] == "rcs" and f["index"] > 0:
        return _harrell(u, f["knots"], f["index"])
    return u


def evaluate_equation(terms, frame):
    lp = np.full(len(frame), 0.0)
    for t in terms:
        if t["kind"] == "intercept":
            lp = lp + t["coef"]
        elif t["kind"] == "column":
            z = np.ones(len(frame))
            for f in t["factors"]:
                z = z * (_factor_value(f, frame) - f["centre"])
            lp = lp + t["coef"] * (z - t["mean"]) / t["scale"]
        elif t["kind"] == "recalibration":
            bound = logit(1 - t["clip"])
            lp = t["intercept"] + t["slope"] * np.clip(lp, -bound, bound)
    return lp


def _model_lp(model, frame):
    if hasattr(model, "decision_function"):
        return model.decision_function(frame)
    return logit(model.predict_proba(frame)[:, 1])


# --------------------------------------------------------------------------- equation


def test_flexible_model_has_splines_auto_log_dummies_and_binary(flexible):
    plan = {e["predictor"]: e for e in flexible.named_steps["preprocess"].plan_}
    assert plan["crp"]["transform"] == "log" and plan["crp"]["transform_source"].startswith("auto")
    assert len(plan["age"]["knots"]) >= 3 and len(plan["crp"]["knots"]) >= 3
    kinds = {f["basis"] for t in equation_terms(flexible) if t["kind"] == "column"
             for f in t["factors"]}
    assert kinds == {"rcs", "binary", "indicator"}


@pytest.mark.parametrize("name", ["flexible", "flexible_interaction", "lasso"])
def test_equation_reproduces_the_linear_predictor(name, request, data, patients):
    model = request.getfixturevalue(name)
    for frame in (patients, data[0].iloc[:50]):
        np.testing.assert_allclose(evaluate_equation(equation_terms(model), frame),
                                   model.decision_function(frame), rtol=0, atol=1e-8)


@pytest.mark.parametrize("name", ["flexible", "lasso"])
def test_equation_of_a_recalibrated_model(name, request, patients):
    model = RecalibratedClassifier(request.getfixturevalue(name), intercept=0.3, slope=0.8).fit()
    terms = equation_terms(model)
    assert terms[-1]["kind"] == "recalibration"
    np.testing.assert_allclose(evaluate_equation(terms, patients), _model_lp(model, patients),
                               rtol=0, atol=1e-8)
    text = model_equation(model, CODEBOOK)
    assert "LP = " in text and "logit P(y = 1) = 0.3 + 0.8 · LP" in text


def test_equation_text_names_intercept_predictors_knots_and_fills(flexible):
    text = model_equation(flexible, CODEBOOK, digits=3)
    terms = equation_terms(flexible)
    b0 = f"{terms[0]['coef']:.3g}".replace("-", "−")
    assert f"logit P(y = 1) = {b0}" in text
    for p in PREDICTORS:
        assert p in text
    assert "log(crp)" in text and "[site = south]" in text and "[site = east]" in text
    for e in flexible.named_steps["preprocess"].plan_:
        for knot in e["knots"]:
            assert f"{knot:.4g}".replace("-", "−") in text
    assert "(t_5 − t_1)²" in text or "(t_4 − t_1)²" in text or "(t_3 − t_1)²" in text
    # every coefficient is written
    for t in terms[1:]:
        assert f"{abs(t['coef']):.3g}".replace("-", "−") in text
    assert "training median" in text and "most frequent" in text
    assert "Age (years)" in text


def test_equation_text_of_an_interaction_and_the_lasso(flexible_interaction, lasso):
    text = model_equation(flexible_interaction, CODEBOOK)
    assert "[site = east] −" in text and "·" in text
    text = model_equation(lasso, CODEBOOK)
    for knot in lasso.named_steps["preprocess"].named_transformers_["spline:age"].named_steps[
            "spline"].knots_:
        assert f"{knot:.4g}" in text
    assert "values below" in text  # the log floor of crp


# --------------------------------------------------------------------------- terms


@pytest.mark.parametrize("name", ["flexible", "flexible_interaction", "lasso"])
def test_terms_add_up_to_the_linear_predictor(name, request, patients):
    model = request.getfixturevalue(name)
    terms = linear_predictor_terms(model, CODEBOOK)
    assert terms["term"].iloc[0] == "(intercept)"
    lp = np.full(len(patients), terms["value"].iloc[0])
    for _, t in terms.iloc[1:].iterrows():
        lp = lp + t["contribution"](*[patients[p].to_numpy(object) for p in t["predictors"]])
    np.testing.assert_allclose(lp, model.decision_function(patients), rtol=0, atol=1e-9)
    if name == "flexible_interaction":
        assert {"age × site", "crp × smoker"} <= set(terms["term"])
        assert set(terms.loc[terms["kind"] == "interaction", "term"]) == {"age × site",
                                                                            "crp × smoker"}


def test_terms_of_a_recalibrated_model_apply_a_plus_b_lp(flexible, patients):
    model = RecalibratedClassifier(flexible, intercept=-0.2, slope=1.3).fit()
    terms = linear_predictor_terms(model)
    lp = terms["value"].iloc[0] + sum(
        t["contribution"](patients[t["term"]].to_numpy(object)) for _, t in terms.iloc[1:].iterrows())
    np.testing.assert_allclose(lp, _model_lp(model, patients), rtol=0, atol=1e-8)


def test_unsupported_models_are_refused_by_name(data):
    forest = _fit("random_forest", data)
    kind = type(forest.named_steps["model"]).__name__
    for fn in (linear_predictor_terms, equation_terms):
        with pytest.raises(AnalysisError, match=kind):
            fn(forest)
    with pytest.raises(AnalysisError, match=kind):
        model_equation(forest, CODEBOOK)
    with pytest.raises(AnalysisError, match=kind):
        nomogram_points(forest, CODEBOOK, data[0])


# --------------------------------------------------------------------------- nomogram


@pytest.mark.parametrize("name", ["flexible", "lasso", "recalibrated"])
def test_patient_points_map_back_to_the_model_probability(name, request, data, patients):
    if name == "recalibrated":
        model = RecalibratedClassifier(request.getfixturevalue("flexible"), 0.3, 0.8).fit()
    else:
        model = request.getfixturevalue(name)
    X = data[0]
    axes, totals = nomogram_points(model, CODEBOOK, X)
    p_model = model.predict_proba(patients)[:, 1]
    for i in range(8):
        pts = patient_points(model, CODEBOOK, X, patients.iloc[i])
        assert pts["predictor"].tolist() == PREDICTORS
        assert abs(pts.attrs["probability"] - p_model[i]) < 0.005
        assert abs(pts.attrs["probability"] - p_model[i]) < 1e-8  # exact, in fact
        lp = axes.attrs["intercept_part"] + pts["points"].sum() / axes.attrs["scale"]
        assert np.isclose(expit(lp), p_model[i], atol=1e-9)
    # the probability ticks sit where the total points give that probability
    probs = totals[totals["axis"] == "probability"]
    np.testing.assert_allclose(
        expit(axes.attrs["intercept_part"] + probs["total_points"] / axes.attrs["scale"]),
        probs["probability"], atol=1e-12)


@pytest.mark.parametrize("name", ["flexible", "lasso"])
def test_widest_predictor_spans_0_to_100_points(name, request, data):
    model = request.getfixturevalue(name)
    X = data[0]
    axes, totals = nomogram_points(model, CODEBOOK, X)
    terms = linear_predictor_terms(model, CODEBOOK).set_index("term")
    spans = {}
    for p, rows in axes.groupby("predictor", sort=False):
        if terms.loc[p, "kind"] in ("numeric", "integer"):
            values = np.linspace(rows["value"].min(), rows["value"].max(), 2001)
        else:
            values = rows["value"].to_numpy(object)
        c = terms.loc[p, "contribution"](np.asarray(values, dtype=object))
        spans[p] = (c.max() - c.min()) * axes.attrs["scale"]
        assert rows["points"].min() >= -1e-6  # each axis starts at 0 points
        assert rows["points"].max() <= 100 + 1e-6
    assert max(spans.values()) == pytest.approx(100, abs=0.05)
    assert totals.attrs["max_total"] == pytest.approx(sum(spans.values()), abs=0.2)
    # categorical axis: every level; binary: 0 and 1
    assert axes.loc[axes["predictor"] == "site", "value"].tolist() == ["north", "south", "east"]
    assert axes.loc[axes["predictor"] == "smoker", "value"].tolist() == [0.0, 1.0]
    lo, hi = np.nanquantile(X["age"], [0.01, 0.99])
    ages = axes.loc[axes["predictor"] == "age", "value"]
    assert ages.min() <= lo * 1.05 and ages.max() >= hi * 0.95  # 2 significant digits
    crp = axes.loc[axes["predictor"] == "crp", "value"]
    assert crp.min() > 0  # a logged predictor's axis does not run down to the log floor


def test_linear_model_axis_ends_at_exactly_0_and_100(data):
    model = _fit("logistic", data)
    axes, totals = nomogram_points(model, CODEBOOK, data[0])
    span = axes.groupby("predictor")["points"].agg(["min", "max"])
    assert span["min"].abs().max() < 1e-9
    assert span["max"].max() == pytest.approx(100)
    assert set(totals["axis"]) == {"total", "probability"}
    assert totals.loc[totals["axis"] == "total", "total_points"].iloc[0] == 0


def test_interactions_get_one_axis_per_level_of_the_partner(flexible_interaction, data):
    # age × site: age drawn once per site; crp × smoker: crp once per smoker value
    axes, _ = nomogram_points(flexible_interaction, CODEBOOK, data[0])
    order = list(dict.fromkeys(axes["axis"]))
    assert order == ["age (site = north)", "age (site = south)", "age (site = east)",
                     "crp (smoker = no)", "crp (smoker = yes)", "smoker", "site"]
    labels = dict(zip(axes["axis"], axes["label"], strict=True))
    assert labels["age (site = east)"] == "Age (years) (Site = east)"
    assert labels["crp (smoker = yes)"] == "CRP (mg/L) (Current smoker = yes)"
    assert set(axes.loc[axes["predictor"] == "age", "condition"]) == {
        "site = north", "site = south", "site = east"}
    # a predictor's axes share its zero: the lowest of them starts at 0 points
    per_predictor = axes.groupby("predictor")["points"].min()
    assert per_predictor.abs().max() < 0.5  # tick values need not hit the exact minimum
    assert axes["points"].max() <= 100 + 1e-6
    # the axes of one predictor differ by the interaction
    east = axes[axes["axis"] == "age (site = east)"]["points"].to_numpy()
    north = axes[axes["axis"] == "age (site = north)"]["points"].to_numpy()
    assert east.shape == north.shape and not np.allclose(east, north)


@pytest.mark.parametrize("recalibrate", [False, True])
def test_patient_points_of_a_model_with_interactions_map_back_to_its_probability(
        flexible_interaction, data, patients, recalibrate):
    model = (RecalibratedClassifier(flexible_interaction, -0.2, 0.9).fit() if recalibrate
             else flexible_interaction)
    X = data[0]
    axes, totals = nomogram_points(model, CODEBOOK, X)
    p_model = model.predict_proba(patients)[:, 1]
    # patients 0-5 have missing values, a value below the log floor and beyond the last knot
    for i in range(12):
        pts = patient_points(model, CODEBOOK, X, patients.iloc[i])
        assert pts["predictor"].tolist() == PREDICTORS
        assert abs(pts.attrs["probability"] - p_model[i]) < 0.005  # the requirement
        assert abs(pts.attrs["probability"] - p_model[i]) < 1e-8  # exact, in fact
        lp = axes.attrs["intercept_part"] + pts["points"].sum() / axes.attrs["scale"]
        assert np.isclose(expit(lp), p_model[i], atol=1e-9)
        site, smoker = patients.iloc[i]["site"], patients.iloc[i]["smoker"]
        age_axis = pts.set_index("predictor").loc["age", "axis"]
        assert age_axis == (f"age (site = {site})" if isinstance(site, str) else "")
        crp_axis = pts.set_index("predictor").loc["crp", "axis"]
        assert crp_axis == ("" if np.isnan(smoker) else
                            f"crp (smoker = {'yes' if smoker == 1 else 'no'})")
    # a patient read off the drawn axes: the points at a tick of their own axis
    row = patients.iloc[10]
    pts = patient_points(model, CODEBOOK, X, row).set_index("predictor")
    axis = axes[axes["axis"] == pts.loc["site", "axis"]]
    assert axis.loc[axis["value"] == row["site"], "points"].iloc[0] == pytest.approx(
        pts.loc["site", "points"])


def test_an_interaction_of_two_continuous_predictors_is_refused(data):
    model = _fit("flexible_logistic", data, interactions=[("age", "crp")])
    with pytest.raises(AnalysisError, match="two continuous predictors"):
        nomogram_points(model, CODEBOOK, data[0])


def test_plot_nomogram_draws_every_axis_of_an_interaction(flexible_interaction, data):
    axes, totals = nomogram_points(flexible_interaction, CODEBOOK, data[0])
    fig = plot_nomogram(axes, totals, labels={p: CODEBOOK[p]["label"] for p in PREDICTORS})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Age (years) (Site = east)" in texts and "CRP (mg/L)\n(Current smoker = yes)" in texts
    assert "Site" in texts and "Current smoker" in texts


def test_points_range_is_respected(lasso, data):
    axes, _ = nomogram_points(lasso, CODEBOOK, data[0], points_range=10)
    assert axes["points"].max() <= 10 + 1e-6
    with pytest.raises(AnalysisError, match="points_range"):
        nomogram_points(lasso, CODEBOOK, data[0], points_range=0)


def test_plot_nomogram_returns_a_figure(flexible, data):
    axes, totals = nomogram_points(flexible, CODEBOOK, data[0])
    fig = plot_nomogram(axes, totals, labels={"crp": "C-reactive protein"}, title="Nomogram")
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for name in ("Points", "Total points", "Probability", "C-reactive protein", "Age (years)",
                 "east"):
        assert name in texts
    with pytest.raises(AnalysisError, match="lacks"):
        plot_nomogram(axes.drop(columns="points"), totals)


def test_flexible_basis_is_the_one_in_the_pipeline(flexible):
    # the term table reads the fitted basis itself, not a refitted copy
    assert isinstance(flexible.named_steps["preprocess"], FlexibleBasis)
    cols = linear_predictor_terms(flexible)["columns"].iloc[1:].sum()
    assert list(cols) == list(flexible.named_steps["preprocess"].feature_names_out_)


def test_a_narrow_range_of_risk_still_gets_probability_ticks(flexible, data):
    # a model whose predictions barely vary (0.6-0.65): the usual ticks 0.6 and 0.7 would
    # leave the probability axis (nearly) empty; finer round ticks are used instead
    model = RecalibratedClassifier(flexible, 0.5, 0.05).fit()
    axes, totals = nomogram_points(model, CODEBOOK, data[0])
    probs = totals[totals["axis"] == "probability"]
    assert len(probs) >= 3
    np.testing.assert_allclose(probs["probability"], probs["probability"].round(3), atol=1e-12)
    np.testing.assert_allclose(
        expit(axes.attrs["intercept_part"] + probs["total_points"] / axes.attrs["scale"]),
        probs["probability"], atol=1e-12)
    assert probs["total_points"].between(0, axes.attrs["max_total"]).all()
