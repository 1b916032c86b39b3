"""Risk-based (PATH) benefit table: against a direct statsmodels computation and by hand."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from analysis.benefit.risk_groups import (
    BENEFIT_BY_RISK_COLUMNS,
    METHOD_ADJUSTED,
    METHOD_UNADJUSTED,
    benefit_by_risk,
    cross_fitted_risk,
    newcombe_difference,
)
from analysis.errors import AnalysisError


def _cohort(n=800, seed=3):
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0.05, 0.95, n)
    option = rng.choice(["ref", "new", "other"], n, p=[0.4, 0.4, 0.2])
    lp = logit(risk) + 1.2 * (option == "new") * (risk < 0.3) - 0.3 * (option == "other")
    y = (rng.random(n) < expit(lp)).astype(int)
    return y, option, risk


def _direct(y, option, risk, group_mask, other):
    """statsmodels formula fit, g-computation and a numerical-gradient delta method."""
    frame = pd.DataFrame({"y": y, "option": option, "z": logit(risk)})[group_mask]
    fit = smf.logit("y ~ C(option, Treatment(reference='ref')) + z", frame).fit(disp=0)
    names = list(fit.params.index)
    term = f"C(option, Treatment(reference='ref'))[T.{other}]"

    def rd(params):
        p = pd.Series(params, index=names)
        base = p["Intercept"] + p["z"] * frame["z"].to_numpy()
        return float(np.mean(expit(base + p[term])) - np.mean(expit(base)))

    theta = fit.params.to_numpy()
    grad = np.array([(rd(theta + e) - rd(theta - e)) / 2e-6
                     for e in np.eye(len(theta)) * 1e-6])
    se = float(np.sqrt(grad @ fit.cov_params().to_numpy() @ grad))
    d = rd(theta)
    return d, d - 1.959963984540054 * se, d + 1.959963984540054 * se


def test_adjusted_differences_match_a_direct_statsmodels_computation():
    y, option, risk = _cohort()
    table = benefit_by_risk(y, option, risk, options=["ref", "new", "other"], reference="ref")
    assert list(table.columns) == list(BENEFIT_BY_RISK_COLUMNS)
    cuts = np.quantile(risk, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(table.attrs["cut_points"], cuts)
    group = np.clip(np.searchsorted(cuts[1:-1], risk, side="right"), 0, 3)
    for g, label in enumerate(["Q1 (lowest risk)", "Q2", "Q3", "Q4 (highest risk)"]):
        rows = table[table["risk_group"] == label].set_index("option")
        mask = group == g
        for o in ("ref", "new", "other"):
            assert rows.loc[o, "n"] == int(((option == o) & mask).sum())
            assert rows.loc[o, "events"] == int(y[(option == o) & mask].sum())
            assert rows.loc[o, "response"] == pytest.approx(y[(option == o) & mask].mean())
        assert np.isnan(rows.loc["ref", "difference"])
        for other in ("new", "other"):
            expected = _direct(y, option, risk, mask, other)
            got = rows.loc[other, ["difference", "ci_lower", "ci_upper"]].to_numpy(float)
            np.testing.assert_allclose(got, expected, atol=2e-6)
            assert rows.loc[other, "method"] == METHOD_ADJUSTED
    # the built-in effect modification shows: "new" helps only at low baseline risk
    new = table[table["option"] == "new"].set_index("risk_group")["difference"]
    assert new.iloc[0] > 0.1 > abs(new.iloc[-1])


def test_newcombe_matches_the_published_example_and_separation_falls_back():
    # Newcombe (Stat Med 1998;17:873-90), Table II, method 10, example (b): 56/70 vs 48/80
    d, lo, hi = newcombe_difference(56, 70, 48, 80)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)
    # an option with no events in a risk group: the logistic model separates -> unadjusted
    rng = np.random.default_rng(0)
    risk = np.linspace(0.05, 0.6, 80)
    option = np.array(["a", "b"] * 40)
    y = ((rng.random(80) < risk) & (option == "a")).astype(int)
    table = benefit_by_risk(y, option, risk, options=["a", "b"], reference="a", n_groups=2)
    b = table[table["option"] == "b"]
    assert (b["events"] == 0).all() and (b["method"] == METHOD_UNADJUSTED).all()
    first = table[table["risk_group"] == "Q1 (lowest risk)"].set_index("option")
    expected = newcombe_difference(0, int(first.loc["b", "n"]), int(first.loc["a", "events"]),
                                   int(first.loc["a", "n"]))
    np.testing.assert_allclose(first.loc["b", ["difference", "ci_lower", "ci_upper"]].to_numpy(float),
                               expected)


def test_bad_inputs_and_other_treatments_are_handled():
    y, option, risk = _cohort(200)
    with pytest.raises(AnalysisError, match="same length"):
        benefit_by_risk(y[:-1], option, risk, options=["ref", "new"], reference="ref")
    with pytest.raises(AnalysisError, match="must be one of"):
        benefit_by_risk(y, option, risk, options=["ref", "new"], reference="zzz")
    # patients on an option that is not compared are left out of every count
    table = benefit_by_risk(y, option, risk, options=["ref", "new"], reference="ref")
    assert table["n"].sum() == int(np.isin(option, ["ref", "new"]).sum())


def test_cross_fitted_risk_scores_each_patient_with_a_model_that_never_saw_them():
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"x": rng.normal(size=150)})
    y = (rng.random(150) < expit(X["x"])).astype(int).to_numpy()
    oof = cross_fitted_risk(LogisticRegression(), X, y, n_splits=5, seed=1)
    apparent = LogisticRegression().fit(X, y).predict_proba(X)[:, 1]
    assert np.isfinite(oof).all() and not np.allclose(oof, apparent)
    np.testing.assert_array_equal(oof, cross_fitted_risk(LogisticRegression(), X, y, seed=1))
