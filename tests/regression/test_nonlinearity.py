"""Nonlinearity screening falls back to fewer knots and never crashes on tied quantiles."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.regression.nonlinearity import nonlinearity_test, nonlinearity_tests

CODEBOOK = {"x": {"type": "numeric"}, "dose": {"type": "numeric"}, "rare": {"type": "numeric"},
            "sex": {"type": "categorical", "levels": ["f", "m"]}, "y": {"type": "binary"}}


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    dose = np.where(rng.random(n) < 0.5, 0.0, rng.choice([5.0, 10.0, 15.0, 20.0], n))
    y = (rng.random(n) < 1 / (1 + np.exp(-(x**2 - 1)))).astype(float)
    rare = np.where(np.arange(n) < 380, 0.0, rng.uniform(1, 5, n))  # 95% zeros
    return pd.DataFrame({"x": x, "dose": dose, "rare": rare, "sex": rng.choice(["f", "m"], n), "y": y})


def rcs_lr_test(x, y, knots):
    """LR chi2 of Harrell's restricted cubic spline (written out) against the linear term."""
    t = np.asarray(knots, dtype=float)
    k = t.size
    pos = lambda v: np.maximum(v, 0.0) ** 3  # noqa: E731
    extra = [pos(x - t[j]) - pos(x - t[k - 2]) * (t[k - 1] - t[j]) / (t[k - 1] - t[k - 2])
             + pos(x - t[k - 1]) * (t[k - 2] - t[j]) / (t[k - 1] - t[k - 2]) for j in range(k - 2)]
    linear = sm.Logit(y, sm.add_constant(x)).fit(disp=0, tol=1e-12)
    spline = sm.Logit(y, sm.add_constant(np.column_stack([x, *extra]))).fit(disp=0, tol=1e-12)
    return 2 * (spline.llf - linear.llf), k - 2


def test_screen_matches_single_test_and_an_independent_spline_fit(df):
    table = nonlinearity_tests(df, ["x", "sex"], "y", CODEBOOK, knots=4).set_index("variable")
    assert list(table.index) == ["x"]  # categorical predictors are not screened
    direct = nonlinearity_test(df, "x", "y", CODEBOOK, knots=4).iloc[0]
    assert table.loc["x", "chi2"] == direct["chi2"]
    # Harrell's 4 default knots: the 5%, 35%, 65%, 95% quantiles
    knots = np.quantile(df["x"], [0.05, 0.35, 0.65, 0.95])
    np.testing.assert_allclose(table.loc["x", "knots"], knots, rtol=1e-12)
    chi2, dof = rcs_lr_test(df["x"].to_numpy(), df["y"].to_numpy(), knots)
    assert table.loc["x", "df"] == dof == 2
    assert table.loc["x", "chi2"] == pytest.approx(chi2, rel=1e-6)
    assert table.loc["x", "p_value"] == pytest.approx(stats.chi2.sf(chi2, 2), rel=1e-5)
    assert table.loc["x", "note"] == ""


def test_tied_knots_fall_back_to_three_then_report_why_not_tested(df):
    table = nonlinearity_tests(df, ["dose", "rare"], "y", CODEBOOK, knots=4).set_index("variable")
    # half the doses are 0: the 5% and 35% quantiles coincide, so 4 knots cannot be placed;
    # 3 knots at the 10%, 50%, 90% quantiles (0, 5, 20) can
    dose = table.loc["dose"]
    assert dose["note"] == "4 knots not distinct: used 3"
    assert list(dose["knots"]) == [0.0, 5.0, 20.0]
    chi2, dof = rcs_lr_test(df["dose"].to_numpy(), df["y"].to_numpy(), [0.0, 5.0, 20.0])
    assert dose["df"] == dof == 1
    assert dose["chi2"] == pytest.approx(chi2, rel=1e-6)
    # 95% zeros: not even 3 distinct knots; the row says so and holds no test
    rare = table.loc["rare"]
    assert rare["note"] == ("not tested: column 'rare': 3 spline knots at quantiles [0.1, 0.5, 0.9] are not "
                            "distinct ([0.0, 0.0, 0.0]); use fewer knots or give them explicitly")
    assert np.isnan(rare["chi2"]) and np.isnan(rare["p_value"])


def test_integer_predictors_are_screened_with_fewer_knots_when_values_are_few():
    # an integer count with a handful of distinct values, like ra-refractory's
    # n_failed_btsdmard_moa: quantile knots tie at 4, so the screen falls back to 3
    rng = np.random.default_rng(4)
    n = 400
    count = rng.choice([0, 1, 2, 3], n, p=[0.45, 0.25, 0.15, 0.15])
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * (count - 1.5) ** 2 - 1.5)))).astype(float)
    frame = pd.DataFrame({"count": count, "y": y})
    codebook = {"count": {"type": "integer"}, "y": {"type": "binary"}}
    table = nonlinearity_tests(frame, ["count"], "y", codebook, knots=4).set_index("variable")
    assert list(table.index) == ["count"]  # integer predictors are no longer skipped
    row = table.loc["count"]
    knots = np.quantile(count, [0.1, 0.5, 0.9])
    assert row["note"] == "4 knots not distinct: used 3"
    np.testing.assert_allclose(list(row["knots"]), knots)
    chi2, dof = rcs_lr_test(count.astype(float), y, knots)
    assert row["df"] == dof == 1
    assert row["chi2"] == pytest.approx(chi2, rel=1e-6)
    assert row["p_value"] < 0.001  # the U-shape is found
