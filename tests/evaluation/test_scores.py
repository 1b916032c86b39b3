"""score_binary against peer libraries, by hand, and on degenerate inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from sklearn import metrics as skm
from statsmodels.nonparametric.smoothers_lowess import lowess

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import calibration_intercept_slope
from analysis.evaluation.scores import (
    SCORES,
    clipped_calibration,
    performance_summary,
    score_binary,
)
from analysis.evaluation.subgroups import SUBGROUP_COLUMNS, subgroup_performance
from analysis.validators import PROB_CLIP, clip_probabilities

REL = 1e-12


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(7)
    n = 300
    x = rng.normal(size=n)
    y = rng.binomial(1, expit(-0.5 + 1.2 * x))
    p = expit(-0.3 + 0.9 * x + rng.normal(scale=0.4, size=n))
    return y, p


def glm_calibration(y, p):
    """Calibration-in-the-large (offset fit) and slope by statsmodels."""
    lp = logit(p)
    binomial = sm.families.Binomial()
    intercept = sm.GLM(y, np.ones((y.size, 1)), family=binomial, offset=lp).fit().params[0]
    slope = sm.GLM(y, sm.add_constant(lp), family=binomial).fit().params[1]
    return float(intercept), float(slope)


# ------------------------------------------------------------ against peer libraries


def test_discrimination_and_accuracy_match_sklearn(sample):
    y, p = sample
    s = score_binary(y, p)
    assert list(s) == list(SCORES)
    assert s["auc"] == pytest.approx(skm.roc_auc_score(y, p), rel=REL)
    brier = skm.brier_score_loss(y, p)
    assert s["brier"] == pytest.approx(brier, rel=REL)
    assert s["scaled_brier"] == pytest.approx(1 - brier / (y.mean() * (1 - y.mean())), rel=REL)
    assert s["log_loss"] == pytest.approx(skm.log_loss(y, p), rel=REL)


def test_auc_counts_ties_as_half_like_sklearn():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.3, 0.5, 0.5, 0.7, 0.7, 0.3])
    assert score_binary(y, p, metrics=["auc"])["auc"] == pytest.approx(skm.roc_auc_score(y, p))


def test_calibration_matches_statsmodels_glm(sample):
    y, p = sample
    s = score_binary(y, p)
    intercept, slope = glm_calibration(y, p)
    assert s["calibration_intercept"] == pytest.approx(intercept, rel=1e-8)
    assert s["calibration_slope"] == pytest.approx(slope, rel=1e-8)


def test_calibration_clips_probabilities_of_zero_and_one(sample):
    y, p = sample
    p = p.copy()
    p[np.argmin(p)] = 0.0
    p[np.argmax(p)] = 1.0
    s = score_binary(y, p)
    intercept, slope = glm_calibration(y, np.clip(p, PROB_CLIP, 1 - PROB_CLIP))
    assert s["calibration_intercept"] == pytest.approx(intercept, rel=1e-8)
    assert s["calibration_slope"] == pytest.approx(slope, rel=1e-8)
    # the same table as calibration_intercept_slope on the clipped probabilities
    pd.testing.assert_frame_equal(
        clipped_calibration(y, p), calibration_intercept_slope(y, clip_probabilities(p))
    )


def test_calibration_errors_match_a_direct_lowess(sample):
    y, p = sample
    s = score_binary(y, p, metrics=["ici", "e50", "e90"])
    curve = lowess(y, p, frac=0.75, it=0, delta=0.01 * np.ptp(p), return_sorted=False)
    d = np.abs(p - curve)
    assert s == pytest.approx(
        {"ici": d.mean(), "e50": np.median(d), "e90": np.quantile(d, 0.9)}, rel=REL
    )
    assert s["e50"] <= s["e90"]


def test_tiny_example_by_hand():
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    s = score_binary(y, p, metrics=["auc", "brier", "scaled_brier", "log_loss"])
    # event/non-event pairs: (0.35, 0.1) yes, (0.35, 0.4) no, (0.8, 0.1) yes, (0.8, 0.4) yes
    assert s["auc"] == 0.75
    brier = (0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4  # 0.158125
    assert s["brier"] == pytest.approx(0.158125, rel=REL)
    assert s["scaled_brier"] == pytest.approx(1 - brier / 0.25, rel=REL)
    log_loss = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert s["log_loss"] == pytest.approx(log_loss, rel=REL)


# ------------------------------------------------------------ options and input checks


def test_only_the_requested_scores_in_the_requested_order(sample):
    y, p = sample
    full = score_binary(y, p)
    part = score_binary(y, p, metrics=["e90", "auc", "calibration_slope"])
    assert list(part) == ["e90", "auc", "calibration_slope"]
    assert part == {k: full[k] for k in part}
    assert score_binary(y, p, metrics="brier") == {"brier": full["brier"]}


@pytest.mark.parametrize("metrics", [["auc", "auc"], ["c_index"], []])
def test_bad_metric_names_raise(sample, metrics):
    y, p = sample
    with pytest.raises(AnalysisError, match="metrics must be distinct names"):
        score_binary(y, p, metrics=metrics)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 2], [0.1, 0.5, 0.9], "only 0/1"),
        ([0, 1, 1], [0.1, 0.5], "same length"),
        ([0, 1, 1], [0.1, 0.5, 1.2], r"\[0, 1\]"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "finite"),
    ],
)
def test_invalid_inputs_still_raise(y, p, message):
    with pytest.raises(AnalysisError, match=message):
        score_binary(y, p)


# ------------------------------------------------------------ degenerate inputs give NaN


def no_warnings_score(y, p):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return score_binary(y, p)


def test_one_class_gives_nan_where_undefined():
    s = no_warnings_score([1, 1, 1, 1], [0.2, 0.5, 0.9, 0.6])
    undefined = [m for m in SCORES if m not in ("brier", "log_loss")]
    assert all(math.isnan(s[m]) for m in undefined)
    assert s["brier"] == pytest.approx((0.64 + 0.25 + 0.01 + 0.16) / 4)
    assert s["log_loss"] == pytest.approx(-np.mean(np.log([0.2, 0.5, 0.9, 0.6])))


def test_constant_predictions():
    y = np.array([0, 1, 0, 0, 1])
    s = no_warnings_score(y, np.full(5, 0.3))
    assert s["auc"] == 0.5  # every event/non-event pair is a tie
    assert math.isnan(s["calibration_intercept"]) and math.isnan(s["calibration_slope"])
    # the lowess curve of constant predictions is the event rate 0.4
    assert s["ici"] == s["e50"] == s["e90"] == pytest.approx(0.1)


def test_perfect_separation_gives_nan_calibration():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    s = score_binary(y, p)
    assert s["auc"] == 1.0
    assert math.isnan(s["calibration_intercept"]) and math.isnan(s["calibration_slope"])
    table = clipped_calibration(y, p)
    assert table["estimate"].isna().all() and table["ci_lower"].isna().all()
    assert table["method"].str.startswith("undefined: ").all()
    with pytest.raises(AnalysisError, match="separated"):
        calibration_intercept_slope(y, p)  # the strict function still raises


# ------------------------------------------------------------ the tables that use it


def test_performance_summary_takes_its_estimates_from_score_binary(sample):
    y, p = sample
    t = performance_summary(y, p, n_boot=20, seed=1).set_index("metric")["estimate"]
    s = score_binary(y, p)
    for m in SCORES:
        assert t[m] == pytest.approx(s[m], rel=1e-10), m


def test_subgroup_scores_per_level(sample):
    y, p = sample
    frame = pd.DataFrame({"arm": np.where(np.arange(y.size) % 3 == 0, "a", "b")})
    t = subgroup_performance(y, p, frame, ["arm"], metrics=["brier", "calibration_slope"])
    assert list(t.columns) == [*SUBGROUP_COLUMNS, "brier", "calibration_slope"]
    for _, row in t.iterrows():
        mask = np.ones(y.size, bool) if row["level"] == "all" else (frame["arm"] == row["level"])
        yy, pp = y[mask], p[mask]
        assert row["brier"] == pytest.approx(skm.brier_score_loss(yy, pp), rel=REL)
        assert row["calibration_slope"] == pytest.approx(glm_calibration(yy, pp)[1], rel=1e-8)
    # without metrics the table keeps exactly its documented columns
    assert list(subgroup_performance(y, p, frame, ["arm"]).columns) == list(SUBGROUP_COLUMNS)


def test_subgroup_scores_are_nan_in_a_one_class_level():
    frame = pd.DataFrame({"g": ["a", "a", "b", "b", "b"]})
    t = subgroup_performance(
        [1, 1, 0, 1, 0], [0.6, 0.7, 0.2, 0.5, 0.4], frame, ["g"], metrics=["scaled_brier"]
    )
    level = t.set_index("level")["scaled_brier"]
    assert math.isnan(level["a"]) and np.isfinite(level["b"])


@pytest.mark.parametrize("metrics", [["auc"], ["brier", "brier"], ["roc"]])
def test_subgroup_metrics_are_checked(sample, metrics):
    y, p = sample
    frame = pd.DataFrame({"g": ["a"] * y.size})
    with pytest.raises(AnalysisError, match="metrics must be distinct names"):
        subgroup_performance(y, p, frame, ["g"], metrics=metrics)


def test_model_comparison_and_bootstrap_take_their_scores_from_score_binary():
    from conftest import CODEBOOK, make_data

    from analysis.models.zoo import model_zoo
    from analysis.validation.comparison import compare_models
    from analysis.validation.resampling import (
        bootstrap_optimism,
        fit_final,
        nested_cv,
        oof_probabilities,
    )

    X, y = make_data(n=90, seed=1)
    zoo = model_zoo(CODEBOOK, list(CODEBOOK), include=["intercept_only", "logistic"])
    result = nested_cv(zoo, X, y, outer_splits=3, outer_repeats=1, n_jobs=1, progress=False)
    table = compare_models(result, y, n_boot=0).set_index("model")
    oof = oof_probabilities(result)
    s = score_binary(y, oof["logistic"].to_numpy())
    for m in SCORES:
        assert table.loc["logistic", m] == s[m], m
    optimism_metrics = list(SCORES[:7])  # every score but E50 and E90
    boot = bootstrap_optimism(
        zoo["logistic"], X, y, n_boot=2, n_jobs=1, progress=False, metrics=optimism_metrics
    ).set_index("metric")
    apparent = fit_final(zoo["logistic"], X, y).predict_proba(X)[:, 1]
    s = score_binary(y, apparent, metrics=optimism_metrics)
    for m in optimism_metrics:
        assert boot.loc[m, "apparent"] == pytest.approx(s[m], rel=REL), m
