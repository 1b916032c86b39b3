"""Tests of analysis.evaluation.calibration against statsmodels GLM, patsy splines and closed forms."""

import matplotlib.collections as mcoll
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matplotlib.figure import Figure
from patsy import build_design_matrices, dmatrix
from scipy import integrate, stats
from scipy.special import expit, logit

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import (
    calibration_errors,
    calibration_intercept_slope,
    flexible_calibration_curve,
)
from analysis.plots.calibration import plot_calibration
from analysis.regression.splines import rcs_basis, rcs_knots

Z975 = stats.norm.ppf(0.975)


def simulate(n, seed, transform=lambda z: z, loc=-1.0, scale=1.0):
    """True risk expit(Z), Z ~ N(loc, scale); predictions expit(transform(Z))."""
    rng = np.random.default_rng(seed)
    z = rng.normal(loc, scale, n)
    y = rng.binomial(1, expit(z))
    return z, y, expit(transform(z))


# ------------------------------------------------------------- intercept/slope


@pytest.mark.parametrize(
    ("seed", "transform"),
    [(1, lambda z: z), (2, lambda z: 1.8 * z + 0.4), (3, lambda z: 0.5 * z - 0.7)],
)
def test_intercept_slope_equal_statsmodels_glm(seed, transform):
    _, y, p = simulate(600, seed, transform)
    table = calibration_intercept_slope(y, p).set_index("metric")
    lp = logit(p)
    binomial = sm.families.Binomial()
    fit_a = sm.GLM(y, np.ones((y.size, 1)), family=binomial, offset=lp).fit(tol=1e-12)
    fit_b = sm.GLM(y, sm.add_constant(lp), family=binomial).fit(tol=1e-12)
    for metric, fit, j in (("calibration_intercept", fit_a, 0), ("calibration_slope", fit_b, 1)):
        row = table.loc[metric]
        ci = fit.conf_int(alpha=0.05)[j]
        assert row["estimate"] == pytest.approx(fit.params[j], abs=1e-9)
        assert row["std_error"] == pytest.approx(fit.bse[j], rel=1e-8)
        assert (row["ci_lower"], row["ci_upper"]) == pytest.approx(tuple(ci), abs=1e-8)


def test_intercept_slope_recover_known_miscalibration():
    # predictions are 2x too extreme: slope should be ~0.5 (truth lies in the CI)
    _, y, p = simulate(20000, 4, lambda z: 2 * z)
    t = calibration_intercept_slope(y, p).set_index("metric")
    assert t.loc["calibration_slope", "ci_lower"] < 0.5 < t.loc["calibration_slope", "ci_upper"]


def test_intercept_slope_alpha_changes_width():
    _, y, p = simulate(300, 5)
    wide = calibration_intercept_slope(y, p, alpha=0.01).set_index("metric")
    row = wide.loc["calibration_slope"]
    assert row["ci_upper"] - row["estimate"] == pytest.approx(
        stats.norm.ppf(0.995) * row["std_error"]
    )


def test_intercept_slope_errors():
    with pytest.raises(AnalysisError, match="separated"):
        calibration_intercept_slope([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    with pytest.raises(AnalysisError, match="prob must lie strictly between 0 and 1"):
        calibration_intercept_slope([0, 1, 1], [0.0, 0.5, 0.7])
    with pytest.raises(AnalysisError, match="y_true must contain both"):
        calibration_intercept_slope([1, 1, 1], [0.2, 0.5, 0.7])


# ------------------------------------------------------------------ splines


def test_rcs_basis_is_linear_outside_outer_knots():
    knots = np.array([-2.0, -0.5, 0.3, 1.5])
    below = rcs_basis([-5.0, -4.0, -3.0], knots)
    assert np.all(below[:, 1:] == 0)
    above = rcs_basis([3.0, 4.0, 5.0], knots)
    second_diff = above[2] - 2 * above[1] + above[0]
    np.testing.assert_allclose(second_diff, 0, atol=1e-12)
    inside = rcs_basis([-0.5, 0.3, 1.0], knots)
    assert abs(inside[2, 1] - 2 * inside[1, 1] + inside[0, 1]) > 1e-3  # curved between


def test_rcs_knots_are_harrell_quantiles():
    x = np.random.default_rng(0).normal(size=1001)
    np.testing.assert_allclose(rcs_knots(x, 5), np.quantile(x, [0.05, 0.275, 0.5, 0.725, 0.95]))
    with pytest.raises(AnalysisError, match="n_knots must be an integer from 3 to 7"):
        rcs_knots(x, 9)


def test_rcs_curve_equals_glm_on_patsy_natural_spline():
    """Same spline space via patsy's cr() basis: fitted risks and Wald band must agree."""
    z, y, p = simulate(2000, 6, lambda z: 0.8 * z - 0.2 * z**2, loc=-0.5, scale=1.3)
    grid = np.linspace(0.05, 0.9, 9)
    curve = flexible_calibration_curve(y, p, method="rcs", grid=grid, n_knots=4)
    lp = logit(p)
    k = rcs_knots(lp, 4)
    spec = (
        f"cr(x, knots={list(k[1:-1])}, lower_bound={k[0]!r}, upper_bound={k[-1]!r},"
        " constraints='center')"
    )
    X = dmatrix(spec, {"x": lp})
    fit = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12)
    G = np.asarray(build_design_matrices([X.design_info], {"x": logit(grid)})[0])
    eta = G @ fit.params
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, fit.cov_params(), G))
    np.testing.assert_allclose(curve["predicted"], grid)
    np.testing.assert_allclose(curve["observed"], expit(eta), atol=1e-8)
    np.testing.assert_allclose(curve["ci_lower"], expit(eta - Z975 * se), atol=1e-8)
    np.testing.assert_allclose(curve["ci_upper"], expit(eta + Z975 * se), atol=1e-8)


# -------------------------------------------------------------- loess curve


def test_loess_curve_follows_true_calibration_curve():
    z, y, p = simulate(6000, 7, lambda z: z + 0.6)  # predictions too high
    grid = np.linspace(0.15, 0.7, 12)
    curve = flexible_calibration_curve(y, p, grid=grid, n_boot=40, seed=1)
    truth = expit(logit(grid) - 0.6)
    assert list(curve.columns) == ["predicted", "observed", "ci_lower", "ci_upper"]
    assert np.max(np.abs(curve["observed"] - truth)) < 0.03
    assert np.all(curve["ci_lower"] <= curve["observed"])
    assert np.all(curve["observed"] <= curve["ci_upper"])
    assert np.mean((curve["ci_lower"] <= truth) & (truth <= curve["ci_upper"])) >= 0.75
    assert np.all(curve["observed"] < grid)  # clearly below the diagonal
    again = flexible_calibration_curve(y, p, grid=grid, n_boot=40, seed=1)
    pd.testing.assert_frame_equal(curve, again)


def test_loess_default_grid_and_no_band():
    _, y, p = simulate(500, 8)
    curve = flexible_calibration_curve(y, p, n_boot=0)
    assert len(curve) == 100
    assert curve["predicted"].iloc[0] == pytest.approx(np.quantile(p, 0.01))
    assert curve["predicted"].iloc[-1] == pytest.approx(np.quantile(p, 0.99))
    assert curve[["ci_lower", "ci_upper"]].isna().all().all()


def test_curve_rejects_bad_options():
    _, y, p = simulate(200, 9)
    with pytest.raises(AnalysisError, match="method must be 'loess' or 'rcs'"):
        flexible_calibration_curve(y, p, method="isotonic")
    with pytest.raises(AnalysisError, match="grid must be"):
        flexible_calibration_curve(y, p, grid=[0.0, 0.5])


# ------------------------------------------------------- calibration errors


def test_ici_of_perfect_calibration_is_near_zero():
    _, y, p = simulate(30000, 10)
    e = calibration_errors(y, p)
    assert e.ici < 0.005
    assert e.e50 <= e.e90 <= e.emax


@pytest.mark.parametrize(
    ("transform", "shift"),
    [(lambda z: z + 0.5, "shift"), (lambda z: 1.5 * z, "overfit")],
)
def test_ici_of_miscalibrated_predictions_matches_analytic_value(transform, shift):
    # true risk expit(Z), prediction expit(g(Z)), Z ~ N(-1, 1): the true calibration
    # curve maps each prediction to expit(Z), so ICI = E|expit(g(Z)) - expit(Z)|.
    def gap(v):
        return np.abs(expit(transform(v)) - expit(v))

    ici_true = integrate.quad(lambda v: gap(v) * stats.norm.pdf(v, -1, 1), -12, 10)[0]
    z, y, p = simulate(40000, 11, transform)
    e = calibration_errors(y, p)
    assert ici_true > 0.04
    assert e.ici == pytest.approx(ici_true, abs=0.005)
    oracle = gap(z)  # calibration errors with the true curve instead of lowess
    assert e.e50 == pytest.approx(np.median(oracle), abs=0.008)
    # lowess (span 0.75) flattens the curve's extremes a little, so E90 is looser
    assert e.e90 == pytest.approx(np.quantile(oracle, 0.9), abs=0.015)


# --------------------------------------------------------------------- plot


def test_plot_calibration_draws_curves_band_and_histogram():
    _, y, p = simulate(800, 12)
    a = flexible_calibration_curve(y, p, n_boot=20)
    b = flexible_calibration_curve(y, p, method="rcs")
    fig = plot_calibration({"loess": a, "rcs": b}, prob=p, title="Validation")
    assert isinstance(fig, Figure)
    main, hist = fig.axes
    labels = [line.get_label() for line in main.lines]
    assert labels == ["ideal", "loess", "rcs"]
    np.testing.assert_allclose(main.lines[0].get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(main.lines[2].get_ydata(), b["observed"])
    bands = [c for c in main.collections if isinstance(c, mcoll.PolyCollection)]
    assert len(bands) == 2
    assert sum(patch.get_height() for patch in hist.patches) == len(p)
    assert main.get_title() == "Validation"


def test_plot_calibration_single_curve_without_histogram():
    curve = pd.DataFrame(
        {
            "predicted": [0.1, 0.5],
            "observed": [0.2, 0.4],
            "ci_lower": [0.1, 0.3],
            "ci_upper": [0.3, 0.5],
        }
    )
    fig = plot_calibration(curve)
    assert len(fig.axes) == 1
    with pytest.raises(AnalysisError, match="must be a DataFrame with columns"):
        plot_calibration({"m": curve.drop(columns="ci_lower")})


def _statsmodels_errors(y, p, frac):
    from statsmodels.nonparametric.smoothers_lowess import lowess

    d = np.abs(p - lowess(y.astype(float), p, frac=frac, it=0, delta=0.01 * np.ptp(p), return_sorted=False))
    return np.array([d.mean(), np.median(d), np.quantile(d, 0.9)])


@pytest.fixture(scope="module")
def wiggly():
    """Small data with a wavy true calibration curve: the lowess span matters."""
    rng = np.random.default_rng(4)
    p = np.sort(rng.uniform(0.05, 0.95, 120))
    y = rng.binomial(1, np.clip(p + 0.25 * np.sin(4 * np.pi * p), 0.01, 0.99))
    return y, p


def test_calibration_errors_use_span_075_and_no_robustness_iterations(wiggly):
    y, p = wiggly
    e = calibration_errors(y, p)
    got = np.array([e.ici, e.e50, e.e90])
    tol = 1e-12
    np.testing.assert_allclose(got, _statsmodels_errors(y, p, 0.75), rtol=tol)
    # a neighbouring span would be caught: on these data each of ICI/E50/E90 moves by
    # far more than 10x the tolerance (this guards the test against data that could not tell)
    for frac in (2 / 3, 0.3):
        assert np.all(np.abs(_statsmodels_errors(y, p, frac) - got) > 10 * tol * got + 1e-4), frac
    # and so would robustness iterations (statsmodels' default it=3)
    from statsmodels.nonparametric.smoothers_lowess import lowess

    robust = np.abs(p - lowess(y.astype(float), p, frac=0.75, delta=0.01 * np.ptp(p), return_sorted=False))
    assert abs(robust.mean() - e.ici) > 1e-4


def test_loess_curve_and_band_equal_statsmodels_lowess_span_075(wiggly):
    from statsmodels.nonparametric.smoothers_lowess import lowess

    y, p = wiggly
    grid = np.linspace(0.1, 0.9, 9)
    curve = flexible_calibration_curve(y, p, grid=grid, n_boot=25, seed=3)

    def smooth(yy, pp, frac=0.75):
        return lowess(yy.astype(float), pp, frac=frac, it=0, delta=0.0, xvals=grid)

    expected = np.clip(smooth(y, p), 0, 1)
    np.testing.assert_allclose(curve["observed"], expected, rtol=1e-12, atol=1e-14)
    for frac in (2 / 3, 0.3):
        assert np.max(np.abs(np.clip(smooth(y, p, frac), 0, 1) - expected)) > 1e-3, frac
    # the band: pairs bootstrap, default_rng(seed), one draw of n indices per resample
    rng = np.random.default_rng(3)
    boot = np.array([smooth(y[i], p[i]) for i in (rng.integers(0, y.size, y.size) for _ in range(25))])
    lo, hi = np.nanquantile(boot, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(curve["ci_lower"], np.clip(lo, 0, 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(curve["ci_upper"], np.clip(hi, 0, 1), rtol=1e-12, atol=1e-14)
