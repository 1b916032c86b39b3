"""Explanations: permutation importance and Shapley contributions on the probability scale."""

from __future__ import annotations

import importlib.util
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from analysis.errors import AnalysisError
from analysis.explain.contributions import (
    exact_shapley,
    global_contributions,
    patient_contributions,
    permutation_importance_table,
)
from analysis.plots.explain import plot_importance, plot_patient_contributions

HAS_SHAP = importlib.util.find_spec("shap") is not None
needs_shap = pytest.mark.skipif(not HAS_SHAP, reason="shap is not installed")


class Additive:
    """P(y=1 | x) = 0.1 + 0.05 a + 0.2 [b == "yes"] + 0.3 c: additive on the probability scale."""

    classes_ = np.array([0, 1])

    @staticmethod
    def parts(d: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"a": 0.05 * d["a"].to_numpy(dtype=float),
                             "b": 0.2 * (d["b"] == "yes").to_numpy(dtype=float),
                             "c": 0.3 * d["c"].to_numpy(dtype=float)})

    def predict_proba(self, d: pd.DataFrame) -> np.ndarray:
        p = 0.1 + self.parts(d).sum(axis=1).to_numpy()
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(3)
    n = 300
    X = pd.DataFrame({
        "age": rng.normal(50, 12, n).round(1),
        "sex": rng.choice(["female", "male"], n).astype(object),
        "crp": rng.lognormal(1.5, 0.8, n).round(1),
        "noise": rng.normal(size=n),
    })
    lp = -0.5 + 0.06 * (X["age"] - 50) + 0.9 * (X["sex"] == "male") + 0.4 * np.log(X["crp"])
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int).to_numpy()
    X.loc[4, "age"], X.loc[9, "sex"] = np.nan, np.nan
    prep = ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), ["age", "crp"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), ["sex"]),
    ])  # 'noise' is dropped: the model cannot depend on it
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))]).fit(X, y)
    return X, y, model


# --------------------------------------------------------------------------- importance


def test_importance_table_is_tidy_and_matches_sklearn(cohort):
    X, y, model = cohort
    t = permutation_importance_table(model, X, y, n_repeats=5, seed=7)
    assert t.columns.tolist() == ["variable", "metric", "importance", "ci_lower", "ci_upper"]
    assert t["metric"].tolist() == ["roc_auc"] * 4 + ["neg_brier_score"] * 4
    ref = permutation_importance(model, X, y, scoring=["roc_auc", "neg_brier_score"],
                                 n_repeats=5, random_state=7)
    for metric in ["roc_auc", "neg_brier_score"]:
        part = t[t["metric"] == metric].set_index("variable")
        reps = pd.DataFrame(ref[metric].importances, index=X.columns)
        mean, sd = reps.mean(axis=1), reps.std(axis=1, ddof=1)
        np.testing.assert_allclose(part["importance"], mean[part.index], atol=1e-15)
        np.testing.assert_allclose(part["ci_upper"] - part["importance"],
                                   1.96 * sd[part.index] / math.sqrt(5), atol=1e-15)
        assert part["importance"].is_monotonic_decreasing
    assert (t["ci_lower"] <= t["importance"]).all() and (t["importance"] <= t["ci_upper"]).all()


@pytest.mark.parametrize("scoring", [("roc_auc", "neg_brier_score"),
                                     ("accuracy", "neg_log_loss", "roc_auc")])
def test_importance_repeats_are_sklearns_to_the_last_bit(cohort, scoring):
    """The shuffled copies of a column are predicted in one call, each scored by sklearn's
    scorers with the response method they choose (decision values for the AUC of a
    logistic pipeline, classes for accuracy): sklearn's numbers exactly."""
    X, y, model = cohort
    t = permutation_importance_table(model, X, y, scoring=list(scoring), n_repeats=4, seed=5)
    ref = permutation_importance(model, X, y, scoring=list(scoring), n_repeats=4, random_state=5)
    for metric in scoring:
        part = t[t["metric"] == metric].set_index("variable")
        mean = pd.Series(ref[metric].importances.mean(axis=1), index=X.columns)
        np.testing.assert_array_equal(part["importance"].to_numpy(), mean[part.index].to_numpy())


def test_unused_column_has_zero_importance(cohort):
    X, y, model = cohort
    t = permutation_importance_table(model, X, y, n_repeats=3)
    noise = t[t["variable"] == "noise"]
    assert (noise[["importance", "ci_lower", "ci_upper"]].to_numpy() == 0).all()


def test_importance_agrees_with_an_independent_permutation_loop(cohort):
    X, y, model = cohort
    n_repeats = 20
    t = permutation_importance_table(model, X, y, n_repeats=n_repeats, seed=1)
    rng = np.random.default_rng(12345)
    base_p = model.predict_proba(X)[:, 1]
    auc_drop, brier_rise = [], []
    for _ in range(n_repeats):
        shuffled = X.copy()
        shuffled["sex"] = X["sex"].to_numpy()[rng.permutation(len(X))]
        p = model.predict_proba(shuffled)[:, 1]
        auc_drop.append(roc_auc_score(y, base_p) - roc_auc_score(y, p))
        brier_rise.append(brier_score_loss(y, p) - brier_score_loss(y, base_p))
    for metric, manual in [("roc_auc", auc_drop), ("neg_brier_score", brier_rise)]:
        row = t[(t["metric"] == metric) & (t["variable"] == "sex")].iloc[0]
        se = np.std(manual, ddof=1) / math.sqrt(n_repeats)
        assert row["importance"] > 0
        # two independent Monte Carlo means of the same quantity: within ~4 combined SE
        assert abs(row["importance"] - np.mean(manual)) < 4 * math.sqrt(2) * se


def test_importance_arguments_are_checked(cohort):
    X, y, model = cohort
    with pytest.raises(AnalysisError, match="scoring: unknown scikit-learn scorer 'auc_roc'"):
        permutation_importance_table(model, X, y, scoring="auc_roc")
    with pytest.raises(AnalysisError, match="n_repeats: must be an integer >= 2"):
        permutation_importance_table(model, X, y, n_repeats=1)
    with pytest.raises(AnalysisError, match="y: has 3 values but X has 300 rows"):
        permutation_importance_table(model, X, [0, 1, 0])


# --------------------------------------------------------------------------- Shapley values


@pytest.mark.parametrize("method", ["exact", "permutation", "shap"])
def test_additive_model_has_the_closed_form(method):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.uniform(0, 4, 40), "b": rng.choice(["no", "yes"], 40).astype(object),
                      "c": rng.uniform(0, 1, 40)})
    patients = X.iloc[[0, 5, 17]]
    out = patient_contributions(Additive(), X, patients, background=X, method=method,
                                max_evals=50)
    assert out.attrs["method"] == method
    assert out.columns.tolist() == ["row", "variable", "value", "contribution", "base_value",
                                    "prediction"]
    expected = (Additive.parts(patients) - Additive.parts(X).mean()).to_numpy().reshape(-1)
    np.testing.assert_allclose(out["contribution"], expected, atol=1e-12)
    np.testing.assert_allclose(out["base_value"], Additive().predict_proba(X)[:, 1].mean(), atol=1e-12)
    assert out["row"].tolist() == [0, 0, 0, 5, 5, 5, 17, 17, 17]
    assert out["value"].tolist() == patients.to_numpy(dtype=object).reshape(-1).tolist()


class Linear:
    """P(y=1 | x) = 0.2 + sum_j w_j x_j with small weights: additive on the probability scale."""

    classes_ = np.array([0, 1])

    def __init__(self, weights):
        self.weights = np.asarray(weights, dtype=float)

    def predict_proba(self, d: pd.DataFrame) -> np.ndarray:
        p = 0.2 + d.to_numpy(dtype=float) @ self.weights
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize("p", [3, 11])
def test_auto_is_exact_for_few_predictors_and_sampling_beyond(p):
    rng = np.random.default_rng(p)
    X = pd.DataFrame(rng.uniform(0, 1, (12, p)), columns=[f"x{j}" for j in range(p)])
    model = Linear(np.linspace(0.01, 0.05, p))
    out = patient_contributions(model, X, X.iloc[[0]], background=X.iloc[2:8])
    expected_method = "exact" if p <= 10 else "shap"
    assert out.attrs["method"] == expected_method
    expected = model.weights * (X.iloc[0].to_numpy() - X.iloc[2:8].mean().to_numpy())
    np.testing.assert_allclose(out["contribution"], expected, atol=1e-12)


def brute_force_shapley(model, background: pd.DataFrame, patient: pd.Series) -> dict[str, float]:
    """Average marginal contribution over all orderings, v(S) by direct substitution."""
    cols = list(background.columns)
    cache: dict[frozenset, float] = {}

    def v(subset) -> float:
        key = frozenset(subset)
        if key not in cache:
            d = background.copy()
            for c in subset:
                d[c] = patient[c]
            cache[key] = float(model.predict_proba(d)[:, 1].mean())
        return cache[key]

    phi = dict.fromkeys(cols, 0.0)
    orders = list(itertools.permutations(cols))
    for order in orders:
        for k, c in enumerate(order):
            phi[c] += v(order[:k + 1]) - v(order[:k])
    return {c: phi[c] / len(orders) for c in cols}


def test_exact_equals_brute_force_on_a_logistic_pipeline(cohort):
    X, _, model = cohort
    background = X.iloc[:30]
    patients = X.iloc[[4, 9, 100]]  # missing age, missing sex, complete
    out = patient_contributions(model, X, patients, background=background, method="exact")
    for row, part in out.groupby("row", sort=False):
        manual = brute_force_shapley(model, background, patients.loc[row])
        np.testing.assert_allclose(part["contribution"], [manual[v] for v in part["variable"]],
                                   atol=1e-12)
        assert part.loc[part["variable"] == "noise", "contribution"].abs().max() < 1e-12
        assert part["prediction"].iloc[0] == model.predict_proba(patients.loc[[row]])[0, 1]


@pytest.mark.parametrize("method", ["permutation", pytest.param("shap", marks=needs_shap)])
def test_sampling_methods_are_additive_close_to_exact_and_seeded(cohort, method):
    X, _, model = cohort
    patients = X.iloc[[4, 100, 200]]
    exact = patient_contributions(model, X, patients, method="exact", background_size=40)
    approx = patient_contributions(model, X, patients, method=method, background_size=40,
                                   max_evals=300)
    total = approx.groupby("row", sort=False)["contribution"].sum()
    first = approx.groupby("row", sort=False)[["base_value", "prediction"]].first()
    np.testing.assert_allclose(total, first["prediction"] - first["base_value"], atol=1e-6)
    np.testing.assert_allclose(approx["base_value"], exact["base_value"], atol=1e-12)
    np.testing.assert_allclose(approx["prediction"], exact["prediction"], atol=1e-12)
    np.testing.assert_allclose(approx["contribution"], exact["contribution"], atol=0.01)
    again = patient_contributions(model, X, patients, method=method, background_size=40,
                                  max_evals=300)
    pd.testing.assert_frame_equal(approx, again)


def test_default_background_is_a_seeded_sample_and_base_is_its_mean(cohort):
    X, _, model = cohort
    out = patient_contributions(model, X, X.iloc[[1]], method="exact", background_size=25, seed=5)
    take = np.sort(np.random.default_rng(5).choice(len(X), size=25, replace=False))
    base = model.predict_proba(X.iloc[take])[:, 1].mean()
    assert out["base_value"].iloc[0] == pytest.approx(base, abs=1e-12)


def test_exact_shapley_two_player_formula():
    def f(a):
        return a[:, 0] ** 2 + a[:, 0] * a[:, 1]

    x, bg = np.array([2.0, 3.0]), np.array([[0.0, 1.0], [1.0, 0.0]])
    v = {(): f(bg).mean(), (0,): f(np.column_stack([[2.0, 2.0], bg[:, 1]])).mean(),
         (1,): f(np.column_stack([bg[:, 0], [3.0, 3.0]])).mean(), (0, 1): f(x[None])[0]}
    phi, base, pred = exact_shapley(f, x, bg)
    assert phi[0] == pytest.approx(0.5 * (v[(0,)] - v[()]) + 0.5 * (v[(0, 1)] - v[(1,)]))
    assert phi[1] == pytest.approx(0.5 * (v[(1,)] - v[()]) + 0.5 * (v[(0, 1)] - v[(0,)]))
    assert (base, pred) == (pytest.approx(v[()]), v[(0, 1)])


def test_contribution_arguments_are_checked(cohort):
    X, _, model = cohort
    with pytest.raises(AnalysisError, match="patients: missing predictor column\\(s\\) noise"):
        patient_contributions(model, X, X.iloc[:1].drop(columns="noise"))
    with pytest.raises(AnalysisError, match="method: must be one of"):
        patient_contributions(model, X, X.iloc[:1], method="kernel")
    with pytest.raises(AnalysisError, match="max_evals: must be an integer >= 2p \\+ 1 = 9"):
        patient_contributions(model, X, X.iloc[:1], max_evals=5)
    bad = X.iloc[:1].astype({"age": object})
    bad.iloc[0, 0] = "old"
    with pytest.raises(AnalysisError, match="patients: column 'age' must be numeric like X"):
        patient_contributions(model, X, bad, method="exact")
    wide = pd.DataFrame({f"x{i}": [0.0, 1.0] for i in range(11)})
    with pytest.raises(AnalysisError, match="at most 10 predictors \\(got 11\\)"):
        patient_contributions(model, wide, wide, method="exact")


def test_global_contributions_are_mean_absolute_values():
    c = pd.DataFrame({"row": [1, 1, 2, 2, 3, 3], "variable": list("ababab"),
                      "contribution": [0.1, -0.3, -0.2, 0.1, 0.0, 0.2]})
    g = global_contributions(c).set_index("variable")
    assert g.index.tolist() == ["b", "a"]
    assert g.loc["a", "mean_abs_contribution"] == pytest.approx(0.1)
    assert g.loc["b", "mean_abs_contribution"] == pytest.approx(0.2)
    assert g.loc["b", "mean_contribution"] == pytest.approx(0.0)


# --------------------------------------------------------------------------- figures


def test_plot_importance_draws_one_panel_per_metric(cohort):
    X, y, model = cohort
    t = permutation_importance_table(model, X, y, n_repeats=3)
    fig = plot_importance(t, labels={"crp": "C-reactive protein"})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax = fig.axes[0]
    auc = t[t["metric"] == "roc_auc"].sort_values("importance")
    assert [p.get_width() for p in ax.patches] == pytest.approx(auc["importance"].tolist())
    assert "C-reactive protein" in [tick.get_text() for tick in ax.get_yticklabels()]


def test_plot_patient_contributions_is_a_waterfall_ending_at_the_prediction(cohort):
    X, _, model = cohort
    out = patient_contributions(model, X, X.iloc[[4]], method="exact", background_size=20)
    fig = plot_patient_contributions(out)
    bars = fig.axes[0].patches
    widths = [b.get_width() for b in bars]
    order = out["contribution"].abs().sort_values(ascending=False, kind="mergesort").index
    assert widths == pytest.approx(out.loc[order, "contribution"].tolist())
    assert bars[0].get_x() == pytest.approx(out["base_value"].iloc[0])
    assert bars[-1].get_x() + bars[-1].get_width() == pytest.approx(out["prediction"].iloc[0], abs=1e-9)
    assert "age = missing" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    two = patient_contributions(model, X, X.iloc[[1, 2]], method="exact", background_size=5)
    with pytest.raises(AnalysisError, match="df_for_one_patient: must hold one patient"):
        plot_patient_contributions(two)


class Curved:
    """A non-additive model on a float, a categorical and a column with missing values."""

    classes_ = np.array([0, 1])

    def predict_proba(self, d: pd.DataFrame) -> np.ndarray:
        a = d["a"].to_numpy(dtype=float)
        c = np.nan_to_num(d["c"].to_numpy(dtype=float), nan=0.5)
        eta = -1 + 0.8 * a - 0.5 * a * c + np.where(d["g"] == "y", 1.0, 0.0) * c
        p = 1 / (1 + np.exp(-eta))
        return np.column_stack([1 - p, p])


@needs_shap
def test_shap_method_reproduces_shap_permutation_explainer_to_the_last_bit():
    import shap

    from analysis.explain.contributions import coded_probability

    rng = np.random.default_rng(3)
    n = 60
    X = pd.DataFrame({"a": rng.normal(size=n), "g": rng.choice(["x", "y", "z"], n).astype(object),
                      "c": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(size=n)),
                      "d": np.round(rng.uniform(size=n), 1)})
    for i in range(4, 8):
        X[f"e{i}"] = rng.normal(size=n)
    patients = X.iloc[[1, 7, 30]]
    background = X.iloc[10:40]
    out = patient_contributions(Curved(), X, patients, background=background, seed=11,
                                method="shap", max_evals=60)
    f, encode = coded_probability(Curved(), list(X.columns), [X, background, patients])
    masker = shap.maskers.Independent(encode(background), max_samples=len(background))
    ex = shap.Explainer(f, masker, algorithm="permutation", seed=11)(encode(patients),
                                                                      max_evals=60, silent=True)
    assert np.array_equal(out["contribution"].to_numpy(), np.asarray(ex.values).reshape(-1))
    assert np.array_equal(out["base_value"].to_numpy(),
                          np.repeat(np.asarray(ex.base_values, dtype=float).reshape(-1), X.shape[1]))

