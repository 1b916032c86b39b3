"""Tests of analysis.evaluation.metrics against scikit-learn, statsmodels and hand computations."""

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from sklearn import metrics as skm
from statsmodels.stats.proportion import proportion_confint

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import (
    bootstrap_ci,
    bootstrap_indices,
    brier_score,
    classification_at_threshold,
    delong_auc,
    delong_test,
    log_loss,
    proportion_ci,
    scaled_brier,
)
from analysis.evaluation.scores import performance_summary

Z975 = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(20240601)
    n = 400
    x = rng.normal(size=n)
    y = rng.binomial(1, expit(-0.8 + 1.3 * x))
    prob = expit(-0.6 + 1.1 * x + rng.normal(scale=0.3, size=n))
    other = expit(-0.7 + 0.6 * x + rng.normal(scale=0.8, size=n))
    return y, prob, other


def structural_components(y, score):
    """Explicit O(n^2) DeLong placement values psi(X_i, Y_j) = 1, 1/2, 0."""
    x = score[y == 1]
    z = score[y == 0]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    return psi.mean(axis=1), psi.mean(axis=0), psi.mean()


def delong_o_n2(y, a, b):
    """Independent paired DeLong test straight from DeLong et al. (1988)."""
    v10a, v01a, auc_a = structural_components(y, a)
    v10b, v01b, auc_b = structural_components(y, b)
    m, n = v10a.size, v01a.size
    s10 = np.zeros((2, 2))
    s01 = np.zeros((2, 2))
    for r, (v10r, v01r, ar) in enumerate([(v10a, v01a, auc_a), (v10b, v01b, auc_b)]):
        for s, (v10s, v01s, as_) in enumerate([(v10a, v01a, auc_a), (v10b, v01b, auc_b)]):
            s10[r, s] = sum((v10r[i] - ar) * (v10s[i] - as_) for i in range(m)) / (m - 1)
            s01[r, s] = sum((v01r[j] - ar) * (v01s[j] - as_) for j in range(n)) / (n - 1)
    cov = s10 / m + s01 / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    zstat = (auc_a - auc_b) / np.sqrt(var)
    return auc_a - auc_b, np.sqrt(var), zstat, 2 * stats.norm.sf(abs(zstat))


# --------------------------------------------------------------------------- AUC


def test_auc_equals_sklearn_with_ties(sample):
    y, prob, _ = sample
    rounded = np.round(prob, 1)  # many ties, within and across classes
    for score in (prob, rounded, -3 * prob + 7):
        assert delong_auc(y, score).auc == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


def test_delong_variance_hand_computed_3_by_3():
    # events 0.4, 0.6, 0.9; non-events 0.1, 0.3, 0.5.
    # V10 (share of non-events below each event) = 2/3, 1, 1
    # V01 (share of events above each non-event) = 1, 1, 2/3
    # AUC = 8/9; S10 = S01 = sample variance of (2/3, 1, 1) = 1/27
    # Var = S10/3 + S01/3 = 2/81
    y = [0, 0, 0, 1, 1, 1]
    s = [0.1, 0.3, 0.5, 0.4, 0.6, 0.9]
    r = delong_auc(y, s)
    assert r.auc == pytest.approx(8 / 9, abs=1e-15)
    assert r.variance == pytest.approx(2 / 81, abs=1e-15)
    assert r.se == pytest.approx(np.sqrt(2 / 81), abs=1e-15)
    assert r.ci_lower == pytest.approx(8 / 9 - Z975 * np.sqrt(2 / 81), abs=1e-12)
    assert r.ci_upper == 1.0  # 8/9 + 1.96 * 0.157 > 1: clipped as pROC does
    assert (r.n_events, r.n_nonevents) == (3, 3)


def test_delong_variance_hand_computed_with_ties():
    # events 0.5, 0.6, 0.9; non-events 0.1, 0.5, 0.7 (one event/non-event tie at 0.5)
    # V10 = (1 + 1/2)/3, 2/3, 3/3 = 1/2, 2/3, 1
    # V01 = 3/3, (1/2 + 2)/3, 1/3 = 1, 5/6, 1/3
    v10 = [Fraction(1, 2), Fraction(2, 3), Fraction(1)]
    v01 = [Fraction(1), Fraction(5, 6), Fraction(1, 3)]
    auc = sum(v10) / 3
    assert auc == sum(v01) / 3 == Fraction(13, 18)

    def svar(v):
        return sum((vi - auc) ** 2 for vi in v) / (len(v) - 1)

    var = svar(v10) / 3 + svar(v01) / 3
    r = delong_auc([1, 1, 1, 0, 0, 0], [0.5, 0.6, 0.9, 0.1, 0.5, 0.7])
    assert r.auc == pytest.approx(float(auc), abs=1e-15)
    assert r.variance == pytest.approx(float(var), abs=1e-15)


def test_delong_logit_interval():
    y = [0, 0, 0, 1, 1, 1, 0, 1]
    s = [0.1, 0.3, 0.5, 0.4, 0.6, 0.9, 0.7, 0.2]
    r = delong_auc(y, s, transform="logit")
    se_logit = r.se / (r.auc * (1 - r.auc))
    centre = np.log(r.auc / (1 - r.auc))
    assert r.ci_lower == pytest.approx(expit(centre - Z975 * se_logit), abs=1e-12)
    assert r.ci_upper == pytest.approx(expit(centre + Z975 * se_logit), abs=1e-12)
    wald = delong_auc(y, s, alpha=0.1)
    assert wald.auc - wald.ci_lower == pytest.approx(stats.norm.ppf(0.95) * wald.se)


def test_delong_variance_matches_o_n2_formula(sample):
    y, prob, _ = sample
    v10, v01, auc = structural_components(y, np.round(prob, 2))
    expected = np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size
    assert delong_auc(y, np.round(prob, 2)).variance == pytest.approx(expected, rel=1e-12)


def test_delong_test_small_case_against_o_n2_formula():
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0])
    a = np.array([0.2, 0.8, 0.3, 0.6, 0.4, 0.5, 0.1, 0.9, 0.4, 0.7, 0.35, 0.6])
    b = np.array([0.3, 0.6, 0.5, 0.6, 0.2, 0.1, 0.4, 0.7, 0.3, 0.5, 0.8, 0.2])
    diff, se, z, p = delong_o_n2(y, a, b)
    r = delong_test(y, a, b)
    assert r.auc_a == pytest.approx(skm.roc_auc_score(y, a), abs=1e-15)
    assert r.auc_b == pytest.approx(skm.roc_auc_score(y, b), abs=1e-15)
    assert r.difference == pytest.approx(diff, abs=1e-15)
    assert r.se == pytest.approx(se, rel=1e-12)
    assert r.z == pytest.approx(z, rel=1e-12)
    assert r.p_value == pytest.approx(p, rel=1e-10)
    assert r.ci_lower == pytest.approx(diff - Z975 * se, rel=1e-12)


def test_delong_test_larger_case_and_symmetry(sample):
    y, prob, other = sample
    diff, se, z, p = delong_o_n2(y, prob, other)
    r = delong_test(y, prob, other)
    assert (r.difference, r.se, r.p_value) == pytest.approx((diff, se, p), rel=1e-10)
    assert p < 0.05  # the second score carries much more noise
    swapped = delong_test(y, other, prob)
    assert swapped.difference == pytest.approx(-r.difference)
    assert swapped.p_value == pytest.approx(r.p_value)


def test_delong_test_identical_scores():
    r = delong_test([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.2], [0.1, 0.8, 0.3, 0.2])
    assert (r.difference, r.se, r.z, r.p_value) == (0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], "y_true must contain both"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "y_true must contain only 0/1"),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], "y_true must not contain missing"),
        ([0, 1, 1], [0.1, 0.2], "y_score must have the same length"),
        ([0, 1, 1], [0.1, np.inf, 0.3], "y_score must contain only finite"),
    ],
)
def test_delong_auc_rejects_bad_input(y, s, message):
    with pytest.raises(AnalysisError, match=message):
        delong_auc(y, s)


def test_delong_auc_rejects_bad_options():
    with pytest.raises(AnalysisError, match="transform"):
        delong_auc([0, 1], [0.1, 0.2], transform="probit")
    with pytest.raises(AnalysisError, match="alpha"):
        delong_auc([0, 1], [0.1, 0.2], alpha=1.5)


# ---------------------------------------------------------------- accuracy


def test_brier_and_log_loss_equal_sklearn(sample):
    y, prob, _ = sample
    assert brier_score(y, prob) == pytest.approx(skm.brier_score_loss(y, prob), abs=1e-15)
    assert log_loss(y, prob) == pytest.approx(skm.log_loss(y, prob), abs=1e-13)


def test_log_loss_clips_like_sklearn():
    y, p = [0, 1, 1], [0.0, 1.0, 0.0]
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p), rel=1e-12)


def test_scaled_brier_against_null_model(sample):
    y, prob, _ = sample
    null = np.full(y.size, y.mean())
    expected = 1 - skm.brier_score_loss(y, prob) / skm.brier_score_loss(y, null)
    assert scaled_brier(y, prob) == pytest.approx(expected, abs=1e-14)
    assert scaled_brier(y, null) == pytest.approx(0.0, abs=1e-14)


def test_probabilities_must_be_in_unit_interval():
    with pytest.raises(AnalysisError, match=r"prob must lie in \[0, 1\]"):
        brier_score([0, 1], [0.5, 1.2])


# ---------------------------------------------------- classification at threshold


def test_classification_counts_and_wilson_ci(sample):
    y, prob, _ = sample
    t = 0.4
    table = classification_at_threshold(y, prob, t).set_index("metric")
    tn, fp, fn, tp = skm.confusion_matrix(y, prob >= t).ravel()
    expected = {
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
    }
    for metric, (k, n) in expected.items():
        row = table.loc[metric]
        assert (row["numerator"], row["denominator"]) == (k, n)
        assert row["estimate"] == pytest.approx(k / n)
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lo, hi), abs=1e-12)
    assert table.loc["sensitivity", "estimate"] == pytest.approx(skm.recall_score(y, prob >= t))
    assert table.loc["ppv", "estimate"] == pytest.approx(skm.precision_score(y, prob >= t))


def test_classification_clopper_pearson_and_edges():
    y = [1, 1, 1, 0, 0]
    p = [0.5, 0.9, 0.2, 0.1, 0.3]  # 0.5 sits exactly on the threshold: positive
    table = classification_at_threshold(y, p, 0.5, ci_method="clopper-pearson")
    table = table.set_index("metric")
    assert table.loc["sensitivity", "numerator"] == 2
    assert table.loc["specificity", "estimate"] == 1.0
    lo, hi = proportion_confint(2, 2, method="beta")
    assert (table.loc["specificity", "ci_lower"], table.loc["specificity", "ci_upper"]) == (
        pytest.approx(lo),
        pytest.approx(hi),
    )
    nobody = classification_at_threshold(y, p, 0.95).set_index("metric")
    assert nobody.loc["ppv", "denominator"] == 0
    assert np.isnan(nobody.loc["ppv", ["estimate", "ci_lower", "ci_upper"]].astype(float)).all()


def test_proportion_ci_vectorised_matches_statsmodels():
    k = np.array([0, 3, 10, 17])
    n = np.array([10, 10, 10, 20])
    for ours, theirs in (("wilson", "wilson"), ("clopper-pearson", "beta")):
        lo, hi = proportion_ci(k, n, alpha=0.1, method=ours)
        elo, ehi = proportion_confint(k, n, alpha=0.1, method=theirs)
        np.testing.assert_allclose(lo, elo, atol=1e-12)
        np.testing.assert_allclose(hi, ehi, atol=1e-12)
    with pytest.raises(AnalysisError, match="method"):
        proportion_ci(1, 2, method="wald")


def test_threshold_must_be_probability():
    with pytest.raises(AnalysisError, match="threshold must be a number in"):
        classification_at_threshold([0, 1], [0.2, 0.8], 1.5)


# --------------------------------------------------------------- bootstrap


def test_bootstrap_is_stratified_on_request():
    rng = np.random.default_rng(1)
    y = rng.binomial(1, 0.3, 200)
    p = rng.uniform(size=200)
    r = bootstrap_ci(lambda yy, pp: yy.mean(), y, p, n_boot=100, seed=3, stratified=True)
    assert r.ci_lower == r.ci_upper == pytest.approx(y.mean(), abs=1e-15)


def test_bootstrap_is_unstratified_by_default():
    """Default resampling: n draws with replacement from default_rng(seed), so the
    prevalence varies; the interval of the prevalence matches the binomial one."""
    rng = np.random.default_rng(1)
    n = 400
    y = rng.binomial(1, 0.3, n)
    p = rng.uniform(size=n)
    r = bootstrap_ci(lambda yy, pp: yy.mean(), y, p, n_boot=2000, seed=3)
    se = np.sqrt(y.mean() * (1 - y.mean()) / n)
    assert (r.ci_upper - r.ci_lower) / (2 * Z975) == pytest.approx(se, rel=0.08)
    # the exact resamples: default_rng(seed).integers(0, n, size=(n_boot, n))
    idx = np.random.default_rng(3).integers(0, n, size=(2000, n))
    expected = np.quantile(y[idx].mean(axis=1), [0.025, 0.975])
    np.testing.assert_allclose([r.ci_lower, r.ci_upper], expected, rtol=1e-12)
    np.testing.assert_array_equal(bootstrap_indices(n, 2000, np.random.default_rng(3)), idx)


def test_bootstrap_matches_analytic_standard_error_of_brier():
    rng = np.random.default_rng(7)
    n = 3000
    p = rng.uniform(0.05, 0.95, n)
    y = rng.binomial(1, p)
    sq = (p - y) ** 2
    # Variance of the mean under stratified resampling: sum_c (n_c/n)^2 var_c / n_c
    var = sum((np.sum(y == c) / n) ** 2 * np.var(sq[y == c]) / np.sum(y == c) for c in (0, 1))
    r = bootstrap_ci(brier_score, y, p, n_boot=2000, seed=11, stratified=True)
    assert r.estimate == pytest.approx(skm.brier_score_loss(y, p))
    assert (r.ci_upper - r.ci_lower) / (2 * Z975) == pytest.approx(np.sqrt(var), rel=0.08)
    assert r.n_valid == 2000
    # unstratified (default): the plain variance of a mean, var(sq) / n
    r = bootstrap_ci(brier_score, y, p, n_boot=2000, seed=11)
    assert (r.ci_upper - r.ci_lower) / (2 * Z975) == pytest.approx(np.sqrt(np.var(sq) / n), rel=0.08)


def test_unstratified_bootstrap_covers_the_brier_score_of_a_small_cohort():
    """Coverage simulation at n = 200: the true Brier score of fixed predictions p with
    y ~ Bernoulli(q) is E(p - y)^2 = mean(q(1 - p)^2 + (1 - q)p^2).  The unstratified
    interval covers it about 95% of the time (the stratified one markedly less often)."""
    rng = np.random.default_rng(2024)
    n, n_sim = 200, 150
    q = rng.uniform(0.05, 0.6, n)
    p = np.clip(q + rng.normal(0, 0.1, n), 0.01, 0.99)
    truth = np.mean(q * (1 - p) ** 2 + (1 - q) * p**2)
    hits = {False: 0, True: 0}
    for k in range(n_sim):
        y = rng.binomial(1, q)
        for strat in (False, True):
            r = bootstrap_ci(brier_score, y, p, n_boot=200, seed=k, stratified=strat)
            hits[strat] += r.ci_lower <= truth <= r.ci_upper
    assert hits[False] / n_sim >= 0.89  # nominal 95%; binomial SE at n_sim=150 is 0.018
    assert hits[False] > hits[True]


def test_bootstrap_is_deterministic_for_a_seed(sample):
    y, prob, _ = sample
    a = bootstrap_ci(log_loss, y, prob, n_boot=50, seed=5)
    b = bootstrap_ci(log_loss, y, prob, n_boot=50, seed=5)
    c = bootstrap_ci(log_loss, y, prob, n_boot=50, seed=6)
    assert a == b
    assert (a.ci_lower, a.ci_upper) != (c.ci_lower, c.ci_upper)


def test_bootstrap_rejects_bad_arguments(sample):
    y, prob, _ = sample
    with pytest.raises(AnalysisError, match="n_boot must be an integer >= 2"):
        bootstrap_ci(brier_score, y, prob, n_boot=1)
    with pytest.raises(AnalysisError, match="metric_fn must be callable"):
        bootstrap_ci("brier", y, prob)


# ------------------------------------------------------------ summary table


def test_performance_summary(sample):
    y, prob, _ = sample
    table = performance_summary(y, prob, threshold=0.4, n_boot=60, seed=2)
    assert list(table.columns) == ["metric", "estimate", "ci_lower", "ci_upper", "method"]
    assert table["metric"].tolist() == [
        "auc", "brier", "scaled_brier", "log_loss", "calibration_intercept",
        "calibration_slope", "ici", "e50", "e90", "sensitivity", "specificity", "ppv", "npv",
    ]  # fmt: skip
    t = table.set_index("metric")
    assert t.loc["auc", "estimate"] == pytest.approx(skm.roc_auc_score(y, prob))
    assert t.loc["brier", "estimate"] == pytest.approx(skm.brier_score_loss(y, prob))
    assert t.loc["log_loss", "estimate"] == pytest.approx(skm.log_loss(y, prob))
    assert t.loc["sensitivity", "estimate"] == pytest.approx(skm.recall_score(y, prob >= 0.4))
    assert (t["ci_lower"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_upper"]).all()
    assert t.loc["e50", "estimate"] <= t.loc["e90", "estimate"]
    pd.testing.assert_frame_equal(
        table, performance_summary(y, prob, threshold=0.4, n_boot=60, seed=2)
    )
    other_seed = performance_summary(y, prob, threshold=0.4, n_boot=60, seed=3)
    assert not np.allclose(other_seed["ci_lower"], table["ci_lower"])


def test_performance_summary_every_metric_equals_an_independent_value(sample):
    from statsmodels.nonparametric.smoothers_lowess import lowess

    y, prob, _ = sample
    n_boot, seed, threshold = 40, 5, 0.4
    t = performance_summary(y, prob, threshold=threshold, n_boot=n_boot, seed=seed).set_index("metric")

    def errors(yy, pp):
        d = np.abs(pp - lowess(yy.astype(float), pp, frac=0.75, it=0, delta=0.01 * np.ptp(pp),
                               return_sorted=False))
        return d.mean(), np.median(d), np.quantile(d, 0.9)

    def scores(yy, pp):
        brier = skm.brier_score_loss(yy, pp)
        prev = yy.mean()
        return {"brier": brier, "scaled_brier": 1 - brier / (prev * (1 - prev)),
                "log_loss": skm.log_loss(yy, pp), **dict(zip(("ici", "e50", "e90"), errors(yy, pp), strict=True))}

    # the documented resampling: default_rng(seed), n patients drawn with replacement
    # (not stratified by outcome); a resample with one class would be skipped (none here)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(n_boot, y.size))
    assert all(0 < y[i].sum() < y.size for i in idx)
    point, boot = scores(y, prob), pd.DataFrame([scores(y[i], prob[i]) for i in idx])
    for name in ("brier", "scaled_brier", "log_loss", "ici", "e50", "e90"):
        lo, hi = np.quantile(boot[name], [0.025, 0.975])
        assert t.loc[name, "estimate"] == pytest.approx(point[name], rel=1e-12), name
        assert t.loc[name, "ci_lower"] == pytest.approx(lo, rel=1e-12), name
        assert t.loc[name, "ci_upper"] == pytest.approx(hi, rel=1e-12), name

    # AUC: DeLong variance from the structural components written over all pairs
    x, z = prob[y == 1], prob[y == 0]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    se = np.sqrt(psi.mean(axis=1).var(ddof=1) / x.size + psi.mean(axis=0).var(ddof=1) / z.size)
    auc = skm.roc_auc_score(y, prob)
    np.testing.assert_allclose(t.loc["auc", ["estimate", "ci_lower", "ci_upper"]].to_numpy(float),
                               [auc, auc - Z975 * se, auc + Z975 * se], rtol=1e-12)

    # calibration: statsmodels GLM fits, Wald intervals (two solvers: 1e-7)
    import statsmodels.api as sm

    lp = np.log(prob / (1 - prob))
    slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12)
    citl = sm.GLM(y, np.ones((y.size, 1)), family=sm.families.Binomial(), offset=lp).fit(tol=1e-12)
    for name, fit, k in (("calibration_intercept", citl, 0), ("calibration_slope", slope, 1)):
        expected = [fit.params[k], *fit.conf_int()[k]]
        np.testing.assert_allclose(t.loc[name, ["estimate", "ci_lower", "ci_upper"]].to_numpy(float),
                                   expected, rtol=1e-7, atol=1e-9, err_msg=name)

    # classification at prob >= 0.4: counts and Wilson intervals (statsmodels)
    pos = prob >= threshold
    counts = {"sensitivity": (pos & (y == 1), y == 1), "specificity": (~pos & (y == 0), y == 0),
              "ppv": (pos & (y == 1), pos), "npv": (~pos & (y == 0), ~pos)}
    for name, (hits, among) in counts.items():
        k, n = int(hits.sum()), int(among.sum())
        expected = [k / n, *proportion_confint(k, n, alpha=0.05, method="wilson")]
        np.testing.assert_allclose(t.loc[name, ["estimate", "ci_lower", "ci_upper"]].to_numpy(float),
                                   expected, rtol=1e-12, err_msg=name)
