"""Calibration of predicted risks: recalibration fits, flexible curves and errors.

* :func:`calibration_intercept_slope` - calibration-in-the-large and calibration
  slope from logistic recalibration models (Van Calster et al. 2016, 2019).
* :func:`flexible_calibration_curve` - observed against predicted risk on a grid,
  smoothed by lowess or by a logistic regression on a restricted cubic spline of
  ``logit(prob)``, with a confidence band.
* :func:`calibration_errors` - ICI, E50, E90 and Emax (Austin & Steyerberg 2019,
  Stat Med 38:4051-65).

The plot of these curves is :func:`analysis.plots.calibration.plot_calibration`.

Smoother
--------
The loess smoother is :func:`statsmodels.nonparametric.smoothers_lowess.lowess`
(local *linear* fits with tricube weights) with span ``frac=0.75`` (the span of R's
``loess``) and no robustness iterations (``it=0``; robustness weights are meaningless
for a 0/1 outcome).  Austin & Steyerberg used R's ``loess`` whose default is local
*quadratic*; estimates therefore differ slightly from theirs where the calibration
curve bends sharply.

Large cohorts
-------------
The loess curve of :func:`flexible_calibration_curve` is evaluated at its grid only, so its
cost grows linearly with the number of patients, but its bootstrap band repeats it
``n_boot`` times (200 lowess fits over 100,000 patients take about a minute).  Above
:data:`BAND_SAMPLE_ABOVE` patients the curve itself is still computed on every patient
and the band is bootstrapped on a seeded random subsample of :data:`BAND_SAMPLE_SIZE`
patients; the table then carries a ``note`` column that says so.  At or below the
threshold (every demo study) nothing changes.

:func:`calibration_errors` is not sampled: its lowess (``delta`` = 1% of the range) costs
about 0.15 s at 100,000 patients, linear in n, but a lowess fitted on a subsample is
noisier and biases the ICI upwards (0.0028 on a 20,000-patient subsample against 0.0004 on
all 100,000 patients of a perfectly calibrated simulation), so it always uses every patient.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit
from statsmodels.nonparametric.smoothers_lowess import lowess

from analysis.errors import AnalysisError
from analysis.regression.fits import logistic_mle
from analysis.regression.splines import rcs_basis, rcs_knots
from analysis.validators import check_outcome, check_probabilities

__all__ = [
    "BAND_SAMPLE_ABOVE",
    "BAND_SAMPLE_SIZE",
    "recalibration_fit",
    "CalibrationErrors",
    "calibration_errors",
    "calibration_intercept_slope",
    "flexible_calibration_curve",
]


# ---------------------------------------------------------------------------
# Logistic recalibration
# ---------------------------------------------------------------------------


def recalibration_fit(y_true, prob) -> dict[str, float]:
    """Joint logistic recalibration ``logit P(y = 1) = a + b * logit(prob)``.

    The intercept ``a`` here is that of the joint model (used to *recalibrate*
    probabilities, :func:`analysis.models.recalibration.recalibrate`), not the
    calibration-in-the-large of :func:`calibration_intercept_slope`; ``b`` is the
    calibration slope.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    prob : array_like
        Probabilities strictly between 0 and 1.

    Returns
    -------
    dict
        ``{"intercept": a, "slope": b}``.

    Raises
    ------
    AnalysisError
        On invalid inputs or (quasi-)perfect separation.

    Examples
    --------
    >>> fit = recalibration_fit([0, 1, 0, 1, 1, 0], [.2, .7, .6, .5, .9, .3])
    >>> sorted(fit)
    ['intercept', 'slope']
    """
    y = check_outcome(y_true).astype(float)
    p = check_probabilities(prob, y.size, open_interval=True)
    b, _ = logistic_mle(np.column_stack([np.ones(y.size), logit(p)]), y)
    return {"intercept": float(b[0]), "slope": float(b[1])}


def calibration_intercept_slope(y_true, prob, *, alpha: float = 0.05) -> pd.DataFrame:
    """Calibration-in-the-large (intercept) and calibration slope with Wald CIs.

    * Intercept: ``a`` in ``logit P(y = 1) = a + logit(prob)``, i.e. a logistic
      regression with ``logit(prob)`` as offset (ideal value 0).
    * Slope: ``b`` in ``logit P(y = 1) = c + b logit(prob)`` (ideal value 1).

    Both are maximum-likelihood fits (Newton-Raphson to full convergence) with
    standard errors from the inverse Fisher information and normal Wald intervals,
    i.e. the same numbers as ``statsmodels.GLM(..., family=Binomial())``.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    prob : array_like
        Predicted probabilities strictly between 0 and 1.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Two rows (``calibration_intercept``, ``calibration_slope``) with columns
        ``metric, estimate, std_error, ci_lower, ci_upper, method``.

    Raises
    ------
    AnalysisError
        On invalid inputs or when outcomes are perfectly separated by ``prob``.

    Examples
    --------
    >>> t = calibration_intercept_slope([0, 1, 0, 1, 1, 0], [.2, .7, .6, .5, .9, .3])
    >>> t["metric"].tolist()
    ['calibration_intercept', 'calibration_slope']
    """
    y = check_outcome(y_true).astype(float)
    p = check_probabilities(prob, y.size, open_interval=True)
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise AnalysisError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    lp = logit(p)
    z = stats.norm.ppf(1 - alpha / 2)
    a, cov_a = logistic_mle(np.ones((y.size, 1)), y, offset=lp)
    b, cov_b = logistic_mle(np.column_stack([np.ones(y.size), lp]), y)
    rows = [
        (
            "calibration_intercept",
            a[0],
            np.sqrt(cov_a[0, 0]),
            "logistic, logit(prob) as offset; Wald",
        ),
        ("calibration_slope", b[1], np.sqrt(cov_b[1, 1]), "logistic on logit(prob); Wald"),
    ]
    return pd.DataFrame(
        {
            "metric": [r[0] for r in rows],
            "estimate": [float(r[1]) for r in rows],
            "std_error": [float(r[2]) for r in rows],
            "ci_lower": [float(r[1] - z * r[2]) for r in rows],
            "ci_upper": [float(r[1] + z * r[2]) for r in rows],
            "method": [r[3] for r in rows],
        }
    )


# ---------------------------------------------------------------------------
# Flexible calibration curve
# ---------------------------------------------------------------------------


#: Above this many patients the loess band of :func:`flexible_calibration_curve` is
#: bootstrapped on a random subsample of :data:`BAND_SAMPLE_SIZE` patients (the curve itself
#: still uses every patient).
BAND_SAMPLE_ABOVE = 20_000
#: Patients in the subsample the loess band is bootstrapped on above :data:`BAND_SAMPLE_ABOVE`;
#: the band is then that of a 20,000-patient cohort: wider (conservative) than the full
#: cohort's, by a factor of about sqrt(n / 20,000).
BAND_SAMPLE_SIZE = 20_000


def _lowess_at(y: np.ndarray, p: np.ndarray, grid: np.ndarray, frac: float) -> np.ndarray:
    return lowess(y, p, frac=frac, it=0, delta=0.0, xvals=grid)


def flexible_calibration_curve(
    y_true,
    prob,
    method: str = "loess",
    grid=None,
    *,
    frac: float = 0.75,
    n_knots: int = 4,
    n_boot: int = 200,
    seed: int | None = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Smoothed observed risk against predicted risk, with a pointwise confidence band.

    ``method="loess"``: lowess of ``y`` on ``prob`` (see module notes) evaluated at
    ``grid``; the band is a percentile bootstrap over ``n_boot`` resamples of
    patients (pairs bootstrap, seeded, so the output is deterministic).

    ``method="rcs"``: logistic regression of ``y`` on a restricted cubic spline of
    ``logit(prob)`` with ``n_knots`` knots at Harrell's quantiles; the band is the
    analytic Wald interval on the logit scale (delta method), back-transformed.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    prob : array_like
        Predicted probabilities strictly between 0 and 1.
    method : {"loess", "rcs"}, default "loess"
        Smoother.
    grid : array_like, optional
        Predicted risks at which to evaluate the curve.  Default: 100 evenly spaced
        points between the 1st and 99th percentiles of ``prob``.
    frac : float, default 0.75
        Lowess span (``method="loess"``).
    n_knots : int, default 4
        Spline knots (``method="rcs"``), 3 to 7.
    n_boot : int, default 200
        Bootstrap resamples for the loess band; 0 gives no band (NaN bounds).
    seed : int or None, default 0
        Seed of the bootstrap.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``predicted, observed, ci_lower, ci_upper``, one row per grid point.
        Loess values are clipped to ``[0, 1]``.  With ``method="loess"``, a band and
        more than :data:`BAND_SAMPLE_ABOVE` patients, the band is bootstrapped on a
        seeded subsample of :data:`BAND_SAMPLE_SIZE` patients and a ``note`` column
        (the same sentence on every row) says so.

    Raises
    ------
    AnalysisError
        On invalid inputs or options.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 300); y = rng.binomial(1, p)
    >>> curve = flexible_calibration_curve(y, p, method="rcs", grid=[0.2, 0.5, 0.8])
    >>> list(curve.columns)
    ['predicted', 'observed', 'ci_lower', 'ci_upper']
    """
    note = None
    y = check_outcome(y_true).astype(float)
    p = check_probabilities(prob, y.size, open_interval=True)
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise AnalysisError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    if grid is None:
        lo, hi = np.quantile(p, [0.01, 0.99])
        g = np.linspace(lo, hi, 100)
    else:
        g = np.asarray(grid, dtype=float).ravel()
        if g.size == 0 or not np.isfinite(g).all() or ((g <= 0) | (g >= 1)).any():
            raise AnalysisError("grid must be a non-empty set of values strictly between 0 and 1")
    if method == "loess":
        if not (isinstance(frac, int | float) and 0 < frac <= 1):
            raise AnalysisError(f"frac must be a number in (0, 1], got {frac!r}")
        if not (isinstance(n_boot, int | np.integer) and n_boot >= 0 and n_boot != 1):
            raise AnalysisError(f"n_boot must be 0 or an integer >= 2, got {n_boot!r}")
        observed = _lowess_at(y, p, g, frac)
        if n_boot:
            rng = np.random.default_rng(seed)
            yb, pb = y, p
            if y.size > BAND_SAMPLE_ABOVE:
                # the band's bootstrap repeats the lowess n_boot times: a documented subsample
                keep = np.sort(np.random.default_rng(seed).choice(y.size, BAND_SAMPLE_SIZE,
                                                                  replace=False))
                yb, pb = y[keep], p[keep]
                note = (f"The calibration curve uses all {y.size:,} patients; its 95% band is "
                        f"bootstrapped ({int(n_boot)} resamples) on a random subsample of "
                        f"{BAND_SAMPLE_SIZE:,} patients to bound the cost, so it is wider than "
                        "the full cohort's (analysis.evaluation.calibration.BAND_SAMPLE_SIZE).")
            boot = np.full((int(n_boot), g.size), np.nan)
            for b in range(int(n_boot)):
                i = rng.integers(0, yb.size, yb.size)
                boot[b] = _lowess_at(yb[i], pb[i], g, frac)
            with np.errstate(all="ignore"):
                ci_lo, ci_hi = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
        else:
            ci_lo = ci_hi = np.full(g.size, np.nan)
        observed, ci_lo, ci_hi = (np.clip(v, 0, 1) for v in (observed, ci_lo, ci_hi))
    elif method == "rcs":
        lp = logit(p)
        knots = rcs_knots(lp, n_knots, name="logit(prob)")
        X = np.column_stack([np.ones(y.size), rcs_basis(lp, knots)])
        beta, cov = logistic_mle(X, y)
        Xg = np.column_stack([np.ones(g.size), rcs_basis(logit(g), knots)])
        eta = Xg @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xg, cov, Xg))
        z = stats.norm.ppf(1 - alpha / 2)
        observed, ci_lo, ci_hi = expit(eta), expit(eta - z * se), expit(eta + z * se)
    else:
        raise AnalysisError(f"method must be 'loess' or 'rcs', got {method!r}")
    curve = pd.DataFrame(
        {
            "predicted": g,
            "observed": np.asarray(observed, dtype=float),
            "ci_lower": np.asarray(ci_lo, dtype=float),
            "ci_upper": np.asarray(ci_hi, dtype=float),
        }
    )
    if note is not None:
        curve["note"] = note
    return curve


# ---------------------------------------------------------------------------
# Calibration errors
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationErrors:
    """Absolute calibration errors ``|prob_i - smoothed_observed(prob_i)|`` summarised.

    Examples
    --------
    >>> CalibrationErrors(0.01, 0.008, 0.02, 0.05).as_dict()["e90"]
    0.02
    """

    ici: float
    e50: float
    e90: float
    emax: float

    def as_dict(self) -> dict:
        """Return the fields as a plain dict.

        Examples
        --------
        >>> list(CalibrationErrors(0.1, 0.1, 0.2, 0.3).as_dict())
        ['ici', 'e50', 'e90', 'emax']
        """
        return asdict(self)


def calibration_errors(y_true, prob, *, frac: float = 0.75) -> CalibrationErrors:
    """ICI, E50, E90 and Emax of Austin & Steyerberg (2019).

    A lowess calibration curve (span ``frac``, no robustness iterations, and
    ``delta = 1%`` of the range of ``prob`` as in R's ``lowess``) is evaluated at every
    predicted probability; with ``d_i = |prob_i - observed_i|``, ICI is the mean,
    E50 the median, E90 the 90th percentile and Emax the maximum of ``d``.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    prob : array_like
        Predicted probabilities in ``[0, 1]``.
    frac : float, default 0.75
        Lowess span.

    Returns
    -------
    CalibrationErrors
        ``ici, e50, e90, emax``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000); y = rng.binomial(1, p)
    >>> calibration_errors(y, p).ici < 0.03
    True
    """
    y = check_outcome(y_true).astype(float)
    p = check_probabilities(prob, y.size)
    if not (isinstance(frac, int | float) and 0 < frac <= 1):
        raise AnalysisError(f"frac must be a number in (0, 1], got {frac!r}")
    delta = 0.01 * float(np.ptp(p))
    observed = lowess(y, p, frac=frac, it=0, delta=delta, return_sorted=False)
    d = np.abs(p - observed)
    return CalibrationErrors(
        ici=float(np.mean(d)),
        e50=float(np.median(d)),
        e90=float(np.quantile(d, 0.9)),
        emax=float(np.max(d)),
    )
