"""Riley & Collins' instability checks against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from analysis.errors import AnalysisError
from analysis.plots.instability import MAX_POINTS, plot_prediction_instability
from analysis.validation.instability import (
    INSTABILITY_COLUMNS,
    describe_instability,
    instability_draws,
    prediction_instability,
)


def cohort(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + X["x1"] - 0.5 * X["x2"])))).astype(int)
    return X, y.to_numpy()


def bootstrap_models(X, y, B: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    fits = []
    for _ in range(B):
        i = rng.integers(0, len(y), len(y))
        fits.append(LogisticRegression(C=1e6).fit(X.iloc[i], y[i]))
    return fits


def test_constant_models_give_the_hand_computed_error_and_no_slope():
    X = pd.DataFrame({"x": np.arange(8.0)})
    final = DummyClassifier().fit(X, [0, 1] * 4)  # 0.5 for everyone
    refits = [DummyClassifier().fit(X, [1] * 6 + [0] * 2),  # 0.75
              DummyClassifier().fit(X, [0] * 6 + [1] * 2)]  # 0.25
    table = prediction_instability(final, refits, X, [0, 1] * 4).set_index("measure")
    assert list(table.reset_index().columns) == list(INSTABILITY_COLUMNS)
    assert table.loc["mape_mean", "value"] == pytest.approx(0.25)
    assert table.loc["mape_max", "value"] == pytest.approx(0.25)
    # 2.5th and 97.5th percentiles of {0.25, 0.75} by linear interpolation
    assert table.loc["interval_width_median", "value"] == pytest.approx(0.7375 - 0.2625)
    slope = table.loc["bootstrap_slope"]
    assert np.isnan(slope["value"]) and slope["undefined"] == 2
    assert "No bootstrap model has a calibration slope" in describe_instability(table.reset_index())


def test_mape_and_slopes_equal_a_direct_computation():
    X, y = cohort(300)
    final = LogisticRegression(C=1e6).fit(X, y)
    refits = bootstrap_models(X, y, 25)
    table = prediction_instability(final, refits, X, y).set_index("measure")
    p = final.predict_proba(X)[:, 1]
    draws = np.array([m.predict_proba(X)[:, 1] for m in refits])
    mape = np.abs(draws - p).mean(axis=0)
    assert table.loc["mape_mean", "value"] == pytest.approx(mape.mean(), rel=1e-12)
    assert table.loc["mape_p90", "value"] == pytest.approx(np.percentile(mape, 90), rel=1e-12)
    slopes = [sm.GLM(y, sm.add_constant(np.log(d / (1 - d))), family=sm.families.Binomial())
              .fit().params[1] for d in draws]
    assert table.loc["bootstrap_slope", "value"] == pytest.approx(np.median(slopes), rel=1e-6)
    assert table.loc["bootstrap_slope", "lower"] == pytest.approx(np.percentile(slopes, 2.5),
                                                                  rel=1e-6)
    assert table.loc["bootstrap_slope", "n_replicates"] == 25
    # a bootstrap model fitted to its own resample overfits it less than it differs from
    # the cohort: its slope on the development cohort straddles 1
    assert table.loc["bootstrap_slope", "lower"] < 1 < table.loc["bootstrap_slope", "upper"]


def test_a_larger_cohort_gives_more_stable_predictions():
    small = prediction_instability(*_fitted(120), *cohort(120)).set_index("measure")
    large = prediction_instability(*_fitted(3000), *cohort(3000)).set_index("measure")
    assert large.loc["mape_mean", "value"] < small.loc["mape_mean", "value"] / 2
    assert _slope_spread(large) < _slope_spread(small) / 2


def _slope_spread(table):
    return table.loc["bootstrap_slope", "upper"] - table.loc["bootstrap_slope", "lower"]


def _fitted(n):
    X, y = cohort(n)
    return LogisticRegression(C=1e6).fit(X, y), bootstrap_models(X, y, 30)


def test_refits_that_cannot_score_are_left_out_and_none_is_an_error():
    X, y = cohort(100)
    final = LogisticRegression().fit(X, y)
    good = bootstrap_models(X, y, 3)
    wrong = LogisticRegression().fit(X.rename(columns={"x1": "other"}), y)
    _, draws = instability_draws(final, [*good, wrong], X)
    assert draws.shape == (3, 100)
    with pytest.raises(AnalysisError, match="none of the 1 bootstrap models"):
        instability_draws(final, [wrong], X)
    with pytest.raises(AnalysisError, match="keep the refits"):
        prediction_instability(final, [], X, y)
    with pytest.raises(AnalysisError, match="one outcome per row"):
        prediction_instability(final, good, X, y[:-1])


def test_the_plot_draws_a_seeded_sample_of_at_most_max_points():
    rng = np.random.default_rng(3)
    p = rng.uniform(size=400)
    draws = np.clip(p + rng.normal(0, 0.05, (200, 400)), 0, 1)  # 80,000 pairs
    fig = plot_prediction_instability(p, draws, seed=5)
    points = fig.axes[0].collections[0].get_offsets()
    assert len(points) == MAX_POINTS
    again = plot_prediction_instability(p, draws, seed=5).axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(points, again)
    with pytest.raises(AnalysisError, match="B x n"):
        plot_prediction_instability(p, draws[:, :10])
