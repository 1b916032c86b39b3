"""c-for-benefit and calibration of benefit: hand-worked pairs, brute force, statsmodels."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matplotlib.figure import Figure
from scipy.special import expit

from analysis.benefit.validation import (
    BENEFIT_CALIBRATION_COLUMNS,
    BENEFIT_VALIDATION_COLUMNS,
    benefit_calibration,
    benefit_concordance,
    benefit_verdict,
    c_for_benefit,
    match_by_benefit,
    validate_benefit,
)
from analysis.errors import AnalysisError
from analysis.plots.benefit_calibration import plot_benefit_calibration

# ---------------------------------------------------------------- the hand-worked example
# patient: 0    1     2     3    4    5     6    7
# group:   opt  ref   opt   ref  opt  ref   opt  ref
# benefit: .30  .05  -.10   .20  .10  -.20  .50  .40
# y:       1    1     0     0    0    0     0    0
#
# option sorted by benefit:    2 (-.10, y0), 4 (.10, y0), 0 (.30, y1), 6 (.50, y0)
# reference sorted by benefit: 5 (-.20, y0), 1 (.05, y1), 3 (.20, y0), 7 (.40, y0)
# pairs (equal groups, nothing discarded):
#   P1 = (2, 5): predicted (-.10 - .20)/2 = -.15,  observed 0 - 0 =  0
#   P2 = (4, 1): predicted (.10 + .05)/2  = .075,  observed 0 - 1 = -1
#   P3 = (0, 3): predicted (.30 + .20)/2  = .25,   observed 1 - 0 =  1
#   P4 = (6, 7): predicted (.50 + .40)/2  = .45,   observed 0 - 0 =  0
# pairs of pairs with different observed benefit (higher observed first):
#   P1 > P2: -.15 < .075 -> 0     P3 > P1: .25 > -.15 -> 1     P3 > P2: .25 > .075 -> 1
#   P4 > P2: .45 > .075 -> 1      P3 > P4: .25 < .45  -> 0     (P1, P4 tie in observed)
#   c-for-benefit = 3/5
# weighted: patient 6 weighs 3, all others 1 -> P4 weighs (3 + 1)/2 = 2, the others 1;
#   products: P1P2 1 (0), P3P1 1 (1), P3P2 1 (1), P4P2 2 (1), P3P4 2 (0) -> c = 4/7
GROUP = np.array([True, False, True, False, True, False, True, False])
BENEFIT = np.array([0.30, 0.05, -0.10, 0.20, 0.10, -0.20, 0.50, 0.40])
Y = np.array([1, 1, 0, 0, 0, 0, 0, 0])


def test_golden_equal_groups_pairs_and_c():
    pairs = match_by_benefit(BENEFIT, GROUP)
    assert pairs["option_index"].tolist() == [2, 4, 0, 6]
    assert pairs["reference_index"].tolist() == [5, 1, 3, 7]
    np.testing.assert_allclose(pairs["predicted_benefit"], [-0.15, 0.075, 0.25, 0.45])
    assert pairs.attrs["n_discarded"] == 0
    c, n_pairs = c_for_benefit(Y, GROUP, BENEFIT)
    assert n_pairs == 4
    assert Fraction(c).limit_denominator(100) == Fraction(3, 5)
    assert c == pytest.approx(3 / 5, abs=1e-15)
    w = np.ones(8)
    w[6] = 3.0
    cw, _ = c_for_benefit(Y, GROUP, BENEFIT, weights=w)
    assert cw == pytest.approx(4 / 7, abs=1e-15)


def test_golden_tie_in_prediction_counts_half():
    # option patients 0 and 2 both .25, reference 1 and 3 both .00; the stable sort keeps
    # input order: pairs (0, 1) -> .125, observed 1 - 0 = 1 and (2, 3) -> .125, observed 0;
    # one usable pair of pairs, tied in prediction -> c = 1/2
    c, n = c_for_benefit([1, 0, 0, 0], [True, False, True, False], [0.25, 0.0, 0.25, 0.0])
    assert (c, n) == (0.5, 2)


def test_five_versus_four_drops_exactly_one_reference_patient():
    # add reference patient 8 (benefit .00, y 1): reference sorted 5, 8, 1, 3, 7.
    # np.random.default_rng(0).choice(5, size=4, replace=False) = [4, 3, 1, 2]; sorted
    # [1, 2, 3, 4]: rank position 0 (patient 5, the lowest benefit) is discarded.
    group = np.append(GROUP, False)
    benefit = np.append(BENEFIT, 0.0)
    y = np.append(Y, 1)
    pairs = match_by_benefit(benefit, group, seed=0)
    assert len(pairs) == 4 and pairs.attrs["n_discarded"] == 1
    assert sorted(pairs["option_index"]) == [0, 2, 4, 6]
    dropped = set(np.flatnonzero(~group)) - set(pairs["reference_index"])
    assert dropped == {5}
    assert pairs["reference_index"].tolist() == [8, 1, 3, 7]
    assert pairs["option_benefit"].is_monotonic_increasing
    assert pairs["reference_benefit"].is_monotonic_increasing
    # any seed: exactly one reference patient is dropped and ranks stay in order
    for seed in range(10):
        p = match_by_benefit(benefit, group, seed=seed)
        assert len(set(np.flatnonzero(~group)) - set(p["reference_index"])) == 1
        assert p["reference_benefit"].is_monotonic_increasing
    # pairs: (2, 8) -.05 obs -1; (4, 1) .075 obs -1; (0, 3) .25 obs 1; (6, 7) .45 obs 0
    # usable: P3>P1 1, P3>P2 1, P4>P1 1, P4>P2 1, P3>P4 0 -> 4/5
    c, n = c_for_benefit(y, group, benefit, seed=0)
    assert (n, c) == (4, pytest.approx(4 / 5, abs=1e-15))


# --------------------------------------------------------------------------- brute force
def _brute_c(pred, obs, w):
    num = den = 0.0
    for i, j in combinations(range(len(pred)), 2):
        if obs[i] == obs[j]:
            continue
        hi, lo = (i, j) if obs[i] > obs[j] else (j, i)
        ww = w[i] * w[j]
        den += ww
        num += ww * (1.0 if pred[hi] > pred[lo] else 0.5 if pred[hi] == pred[lo] else 0.0)
    return num / den if den else float("nan")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_concordance_equals_brute_force_with_ties(seed, weighted):
    rng = np.random.default_rng(seed)
    m = 150
    pred = rng.integers(0, 12, m) / 10.0  # many ties in prediction
    obs = rng.choice([-1.0, 0.0, 1.0], m, p=[0.2, 0.6, 0.2])
    w = rng.uniform(0.1, 2.0, m) if weighted else np.ones(m)
    fast = benefit_concordance(pred, obs, w if weighted else None)
    assert fast == pytest.approx(_brute_c(pred, obs, w), abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_c_for_benefit_equals_brute_force_on_the_matched_pairs(weighted):
    rng = np.random.default_rng(7)
    n = 260
    group = rng.random(n) < 0.45
    benefit = np.round(rng.normal(0.05, 0.1, n), 2)  # ties in benefit too
    y = (rng.random(n) < 0.4 + 0.5 * group * benefit).astype(int)
    w = rng.uniform(0.2, 1.0, n) if weighted else None
    c, m = c_for_benefit(y, group, benefit, weights=w, seed=3)
    pairs = match_by_benefit(benefit, group, seed=3)
    o, r = pairs["option_index"].to_numpy(), pairs["reference_index"].to_numpy()
    obs = y[o] - y[r]
    pw = np.ones(m) if w is None else (w[o] + w[r]) / 2
    assert m == min(group.sum(), (~group).sum())
    assert c == pytest.approx(_brute_c(pairs["predicted_benefit"].to_numpy(), obs, pw), abs=1e-12)


def test_concordance_is_fast_for_ten_thousand_pairs():
    import time

    rng = np.random.default_rng(1)
    m = 10_000
    pred, obs, w = rng.normal(size=m), rng.choice([-1, 0, 1], m), rng.random(m)
    start = time.perf_counter()
    benefit_concordance(pred, obs, w)
    assert time.perf_counter() - start < 1.0


def test_perfect_and_reversed_prediction():
    # option patients with benefits 0..5, reference likewise; outcomes make the pair
    # observed benefit -1, -1, 0, 0, 1, 1 along the ranks
    group = np.repeat([True, False], 6)
    benefit = np.tile(np.arange(6) / 10.0, 2)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0])
    assert c_for_benefit(y, group, benefit) == (1.0, 6)
    assert c_for_benefit(y, group, -benefit) == (0.0, 6)
    # no two pairs differ in observed benefit: undefined
    c, n = c_for_benefit(np.zeros(12, int), group, benefit)
    assert np.isnan(c) and n == 6


# --------------------------------------------------------------------------- calibration
def _pairs(y, group, benefit, w=None, seed=0):
    p = match_by_benefit(benefit, group, seed=seed)
    o, r = p["option_index"].to_numpy(), p["reference_index"].to_numpy()
    pw = None if w is None else (w[o] + w[r]) / 2
    return p["predicted_benefit"].to_numpy(), (y[o] - y[r]).astype(float), pw


def _data(n=600, seed=11):
    rng = np.random.default_rng(seed)
    group = rng.random(n) < 0.5
    benefit = rng.uniform(-0.3, 0.5, n)
    y = (rng.random(n) < 0.35 + group * benefit).astype(int)
    return y, group, benefit, rng.uniform(0.1, 1.0, n)


def test_calibration_line_unweighted_matches_polyfit():
    y, group, benefit, _ = _data()
    table, intercept, slope = benefit_calibration(y, group, benefit)
    pred, obs, _ = _pairs(y, group, benefit)
    b1, b0 = np.polyfit(pred, obs, 1)
    assert (intercept, slope) == (pytest.approx(b0, abs=1e-10), pytest.approx(b1, abs=1e-10))
    assert table.columns.tolist() == list(BENEFIT_CALIBRATION_COLUMNS)
    assert table["n_pairs"].sum() == len(pred) and len(table) == 5
    # group means and the normal CI, group by group
    order = np.argsort(pred, kind="stable")
    first = order[: table.loc[0, "n_pairs"]]
    assert table.loc[0, "observed_benefit"] == pytest.approx(obs[first].mean())
    se = obs[first].std(ddof=1) / np.sqrt(first.size)
    assert table.loc[0, "ci_upper"] == pytest.approx(obs[first].mean() + 1.959963984540054 * se)


def test_calibration_line_weighted_matches_statsmodels_wls():
    y, group, benefit, w = _data()
    table, intercept, slope = benefit_calibration(y, group, benefit, weights=w, n_groups=4)
    pred, obs, pw = _pairs(y, group, benefit, w)
    fit = sm.WLS(obs, sm.add_constant(pred), weights=pw).fit()
    assert intercept == pytest.approx(fit.params[0], abs=1e-10)
    assert slope == pytest.approx(fit.params[1], abs=1e-10)
    # weighted group mean: the WLS intercept-only fit in the group
    order = np.argsort(pred, kind="stable")
    first = order[: table.loc[0, "n_pairs"]]
    mean = sm.WLS(obs[first], np.ones(first.size), weights=pw[first]).fit().params[0]
    assert table.loc[0, "observed_benefit"] == pytest.approx(mean)
    assert len(table) == 4


# ---------------------------------------------------------------------------- validation
def test_validate_benefit_reproducible_ordered_and_ci_contains_estimate():
    y, group, benefit, w = _data(n=400)
    a = validate_benefit(y, group, benefit, model="m", option="new", n_boot=40, seed=5)
    b = validate_benefit(y, group, benefit, model="m", option="new", n_boot=40, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert a.columns.tolist() == [*BENEFIT_VALIDATION_COLUMNS, "option", "weighted", "n_boot"]
    assert list(BENEFIT_VALIDATION_COLUMNS) == [
        "model", "c_for_benefit", "ci_lower", "ci_upper", "benefit_calibration_intercept",
        "benefit_calibration_slope", "n_pairs"]
    r = a.iloc[0]
    assert r["ci_lower"] <= r["c_for_benefit"] <= r["ci_upper"]
    assert r["n_boot"] == 40 and not r["weighted"] and r["option"] == "new"
    c, n = c_for_benefit(y, group, benefit, seed=5)
    assert (r["c_for_benefit"], r["n_pairs"]) == (c, n)
    _, intercept, slope = benefit_calibration(y, group, benefit, seed=5)
    assert r["benefit_calibration_slope"] == pytest.approx(slope)
    assert r["benefit_calibration_intercept"] == pytest.approx(intercept)
    weighted = validate_benefit(y, group, benefit, model="m", option="new", weights=w,
                                n_boot=20, seed=5)
    assert bool(weighted.loc[0, "weighted"])
    other = validate_benefit(y, group, benefit, model="m", option="new", n_boot=40, seed=6)
    assert not other.equals(a)


def test_real_heterogeneity_detected_and_noise_covers_half():
    rng = np.random.default_rng(2024)
    n = 2000
    x = rng.normal(size=n)
    group = rng.random(n) < 0.5
    p_ref = expit(-0.2 + 0.3 * x)
    p_opt = expit(-0.2 + 0.3 * x + 2.5 * x)  # the option helps when x > 0, harms when x < 0
    true_benefit = p_opt - p_ref
    y = (rng.random(n) < np.where(group, p_opt, p_ref)).astype(int)
    row = validate_benefit(y, group, true_benefit, model="truth", option="new", n_boot=100)
    assert row.loc[0, "c_for_benefit"] > 0.6
    assert row.loc[0, "ci_lower"] > 0.55
    assert row.loc[0, "benefit_calibration_slope"] == pytest.approx(1.0, abs=0.3)
    assert benefit_verdict(row).startswith("the model separates patients")
    noise = rng.normal(size=n)
    row = validate_benefit(y, group, noise, model="noise", option="new", n_boot=100)
    assert row.loc[0, "ci_lower"] <= 0.5 <= row.loc[0, "ci_upper"]
    assert benefit_verdict(row).startswith("no evidence that the model separates")


def test_benefit_verdict_wording():
    text = benefit_verdict(pd.Series({"c_for_benefit": 0.512, "ci_lower": 0.47,
                                      "ci_upper": 0.55}))
    assert text == ("no evidence that the model separates patients who benefit more from "
                    "those who benefit less (c-for-benefit 0.51, 95% CI 0.47 to 0.55)")
    text = benefit_verdict({"c_for_benefit": 0.64, "ci_lower": 0.58, "ci_upper": 0.7})
    assert "separates patients who benefit more" in text and "0.58 to 0.70" in text
    assert "wrong way round" in benefit_verdict(
        {"c_for_benefit": 0.4, "ci_lower": 0.35, "ci_upper": 0.45})
    with pytest.raises(AnalysisError, match="lacks"):
        benefit_verdict({"c_for_benefit": 0.5})


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, message", [
    (lambda: c_for_benefit([0, 1, 1], [True, False], [0.1, 0.2, 0.3]), "same length"),
    (lambda: c_for_benefit([0, 1], [True, False], [0.1, 0.2, 0.3]), "same length"),
    (lambda: c_for_benefit([0, 2, 1], [True, False, True], [0.1, 0.2, 0.3]), "0/1"),
    (lambda: c_for_benefit([0, 1, 1], [True, True, True], [0.1, 0.2, 0.3]), "reference"),
    (lambda: c_for_benefit([0, 1, 1], [False, False, False], [0.1, 0.2, 0.3]), "option"),
    (lambda: c_for_benefit([0, 1, 1], [True, False, True], [0.1, np.nan, 0.3]), "finite"),
    (lambda: c_for_benefit([0, 1], [True, False], [0.1, 0.2], weights=[1, -1]), "negative"),
    (lambda: match_by_benefit([0.1, 0.2], [True]), "same length"),
    (lambda: match_by_benefit([0.1, 0.2], ["a", "b"]), "boolean"),
    (lambda: benefit_calibration([0, 1], [True, False], [0.1, 0.2]), "too few"),
    (lambda: validate_benefit([0, 1], [True, False], [0.1, 0.2], model="m", option="o",
                              n_boot=1), "n_boot"),
])
def test_bad_input_raises_analysis_error(call, message):
    with pytest.raises(AnalysisError, match=message):
        call()


# ----------------------------------------------------------------------------------- plot
def test_plot_returns_figure():
    y, group, benefit, _ = _data()
    table, intercept, slope = benefit_calibration(y, group, benefit)
    fig = plot_benefit_calibration(table, intercept=intercept, slope=slope, title="benefit")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert len(fig.axes[0].get_lines()) >= 2  # identity and fitted line
    assert isinstance(plot_benefit_calibration(table), Figure)
    with pytest.raises(AnalysisError, match="lacks"):
        plot_benefit_calibration(table.drop(columns="ci_lower"))
