"""Propensity scores, overlap weights, common support and balance: against tableone, the
exact-balance property of overlap weights, and hand computations."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.special import expit  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from tableone import TableOne  # noqa: E402

from analysis.benefit.propensity import (  # noqa: E402
    BALANCE_COLUMNS,
    balance_summary,
    common_support,
    overlap_weights,
    propensity_pipeline,
    propensity_scores,
    score_propensity,
    standardized_differences,
    within_support,
)
from analysis.errors import AnalysisError  # noqa: E402
from analysis.models.preprocessing import build_preprocessor  # noqa: E402
from analysis.plots.overlap import plot_balance, plot_propensity_overlap  # noqa: E402

CODEBOOK = {
    "age": {"type": "numeric"},
    "crp": {"type": "numeric"},
    "male": {"type": "binary"},
    "site": {"type": "categorical", "levels": ["north", "south", "east"]},
}


def _cohort(n=300, seed=5, options=("ref", "new")):
    """Confounded choice of option: older men with high CRP get the non-reference options."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.normal(55, 12, n),
        "crp": rng.gamma(2.0, 5.0, n),
        "male": rng.integers(0, 2, n).astype(float),
        "site": rng.choice(["north", "south", "east"], n),
    })
    lp = 0.06 * (X["age"] - 55) + 0.05 * (X["crp"] - 10) + 0.5 * X["male"]
    if len(options) == 2:
        got = rng.random(n) < expit(lp)
        treatment = np.where(got, options[1], options[0])
    else:
        u = rng.random(n)
        p1 = expit(lp - 0.5)
        treatment = np.where(u < p1, options[1], np.where(u < p1 + 0.25, options[2], options[0]))
    return X, treatment


def test_unweighted_smd_matches_tableone_for_numeric_and_binary():
    X, treatment = _cohort(n=120, seed=11)
    X.loc[[3, 17], "age"] = np.nan  # missing values are left out per variable, as in tableone
    df = X.assign(group=treatment)
    t1 = TableOne(df, columns=["age", "crp", "male"], categorical=["male"], groupby="group",
                  smd=True, pval=False)
    golden = t1.smd_table.iloc[:, 0]  # "SMD (new,ref)": ref minus new for the continuous ones
    ours = standardized_differences(X, treatment, ["ref", "new"], "ref",
                                    {k: CODEBOOK[k] for k in ("age", "crp", "male")})
    ours = ours.set_index("variable")["smd_unweighted"]
    # our sign is option minus reference; tableone's is the reverse for continuous
    # variables and always non-negative for categorical ones: compare absolute values
    for name in ("age", "crp", "male"):
        assert abs(ours[name]) == pytest.approx(abs(golden[name]), rel=1e-10)
    assert np.sign(ours["age"]) == np.sign(X.loc[treatment == "new", "age"].mean()
                                           - X.loc[treatment == "ref", "age"].mean())


def test_overlap_weights_balance_exactly_under_an_unpenalised_logistic_model():
    X, treatment = _cohort()
    confounders = list(CODEBOOK)
    pipeline = Pipeline([
        ("preprocess", build_preprocessor(CODEBOOK, confounders)),
        ("model", LogisticRegression(C=np.inf, max_iter=10_000, tol=1e-12)),  # unpenalised: penalty=None is deprecated in scikit-learn 1.8
    ])
    _, scores = propensity_scores(pipeline, X, treatment, ["ref", "new"])
    w = overlap_weights(scores, treatment, ["ref", "new"])
    table = standardized_differences(X, treatment, ["ref", "new"], "ref", CODEBOOK, weights=w)
    assert list(table.columns) == list(BALANCE_COLUMNS)
    numeric = table[table["variable"].isin(["age", "crp"])]
    assert (numeric["smd_unweighted"].abs() > 0.2).any()  # the choice was confounded
    assert (numeric["smd_weighted"].abs() < 1e-6).all()
    # every covariate of the model (binary, each level) is balanced too
    assert (table["smd_weighted"].abs() < 1e-6).all()


def test_default_penalised_model_improves_balance_and_summary_says_so():
    X, treatment = _cohort()
    _, scores = propensity_scores(propensity_pipeline(CODEBOOK, list(CODEBOOK)), X, treatment,
                                  ["ref", "new"])
    w = overlap_weights(scores, treatment, ["ref", "new"])
    table = standardized_differences(X, treatment, ["ref", "new"], "ref", CODEBOOK, weights=w)
    assert table["smd_weighted"].abs().max() < 0.05 < table["smd_unweighted"].abs().max()
    text = balance_summary(table)
    assert text.startswith("largest absolute standardised difference ")
    assert f"{table['smd_unweighted'].abs().max():.2f} before" in text
    assert "after overlap weighting (0.1 is the usual threshold)" in text
    assert "without weighting" in balance_summary(
        standardized_differences(X, treatment, ["ref", "new"], "ref", CODEBOOK))


def test_two_option_weights_are_one_minus_e_and_e():
    e_new = np.array([0.1, 0.4, 0.7, 0.95, 0.5])
    scores = pd.DataFrame({"ref": 1 - e_new, "new": e_new})
    treatment = ["new", "new", "ref", "ref", "other"]
    w = overlap_weights(scores, treatment, ["ref", "new"])
    np.testing.assert_allclose(w[:4], [0.9, 0.6, 0.7, 0.95], rtol=1e-12)
    assert np.isnan(w[4])


def test_three_option_weights_by_hand():
    scores = pd.DataFrame({"a": [0.2, 0.6], "b": [0.3, 0.1], "c": [0.5, 0.3]})
    w = overlap_weights(scores, ["b", "a"], ["a", "b", "c"])
    # row 1: h = 1 / (5 + 10/3 + 2) = 3/31, w = h / 0.3 = 10/31
    # row 2: h = 1 / (5/3 + 10 + 10/3) = 1/15, w = h / 0.6 = 1/9
    np.testing.assert_allclose(w, [10 / 31, 1 / 9], rtol=1e-12)


def test_common_support_by_hand():
    scores = pd.DataFrame(
        [[0.5, 0.3, 0.2], [0.2, 0.45, 0.35],   # received a
         [0.4, 0.4, 0.2], [0.2, 0.5, 0.3],     # received b
         [0.3, 0.45, 0.25], [0.35, 0.25, 0.4],  # received c
         [0.32, 0.42, 0.26]],                   # another option: judged, sets no bound
        columns=["a", "b", "c"])
    treatment = ["a", "a", "b", "b", "c", "c", "other"]
    inside, bounds = common_support(scores, treatment, ["a", "b", "c"])
    assert bounds == {"a": (0.3, 0.35), "b": (0.4, 0.45), "c": (0.25, 0.3)}
    assert inside.tolist() == [False, False, False, False, True, False, True]  # bounds inclusive


def test_within_support_agrees_with_common_support_on_the_training_rows():
    options = ["ref", "new", "alt"]
    X, treatment = _cohort(n=200, seed=2, options=options)
    fitted, scores = propensity_scores(propensity_pipeline(CODEBOOK, list(CODEBOOK)), X,
                                       treatment, options)
    inside, bounds = common_support(scores, treatment, options)
    assert 0 < inside.sum() < len(inside)
    np.testing.assert_array_equal(within_support(scores, bounds), inside)
    new = score_propensity(fitted, X.iloc[:10], options)
    np.testing.assert_array_equal(within_support(new, bounds), inside[:10])


def test_scores_sum_to_one_and_follow_the_options_order():
    options = ["zeta", "alpha", "mid"]  # not sorted: sklearn's classes_ are
    X, treatment = _cohort(n=150, seed=4, options=options)
    treatment = treatment.astype(object)
    treatment[:5] = None  # unfitted rows are still scored
    fitted, scores = propensity_scores(propensity_pipeline(CODEBOOK, list(CODEBOOK)), X,
                                       treatment, options)
    assert list(scores.columns) == options
    assert list(fitted.classes_) == sorted(options)
    assert scores.index.equals(X.index) and len(scores) == len(X)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-12)
    proba = fitted.predict_proba(X)
    for k, o in enumerate(fitted.classes_):
        np.testing.assert_allclose(scores[o], proba[:, k])
    pd.testing.assert_frame_equal(score_propensity(fitted, X, options), scores)


def test_zero_one_treatment_matches_string_options():
    X, treatment = _cohort(n=100, seed=8, options=("0", "1"))
    as_int = treatment.astype(int)
    _, by_int = propensity_scores(propensity_pipeline(CODEBOOK, list(CODEBOOK)), X, as_int,
                                  ["1", "0"])
    _, by_str = propensity_scores(propensity_pipeline(CODEBOOK, list(CODEBOOK)), X, treatment,
                                  ["1", "0"])
    assert list(by_int.columns) == ["1", "0"]
    pd.testing.assert_frame_equal(by_int, by_str)
    w = overlap_weights(by_int, as_int, ["1", "0"])
    np.testing.assert_allclose(w, np.where(as_int == 1, by_int["0"], by_int["1"]), rtol=1e-12)


def test_an_option_with_fewer_than_two_patients_is_an_error():
    X, treatment = _cohort(n=60, seed=1)
    treatment = treatment.astype(object)
    treatment[0] = "rare"
    with pytest.raises(AnalysisError, match="fewer than 2"):
        propensity_scores(propensity_pipeline(CODEBOOK, list(CODEBOOK)), X, treatment,
                          ["ref", "new", "rare"])


def test_plots_return_figures_with_one_panel_per_comparison():
    options = ["ref", "new", "alt"]
    X, treatment = _cohort(n=200, seed=2, options=options)
    _, scores = propensity_scores(propensity_pipeline(CODEBOOK, list(CODEBOOK)), X, treatment,
                                  options)
    fig = plot_propensity_overlap(scores, treatment, options, "ref")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    w = overlap_weights(scores, treatment, options)
    table = standardized_differences(X, treatment, options, "ref", CODEBOOK, weights=w)
    assert len(table) == 2 * (2 + 1 + 3)  # per option: age, crp, male and three site levels
    fig = plot_balance(table)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    fig.clear()
