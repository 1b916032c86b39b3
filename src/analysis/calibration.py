"""Calibration of predicted risks: recalibration fits, flexible curves, errors and a plot.

* :func:`calibration_intercept_slope` - calibration-in-the-large and calibration
  slope from logistic recalibration models (Van Calster et al. 2016, 2019).
* :func:`flexible_calibration_curve` - observed against predicted risk on a grid,
  smoothed by lowess or by a logistic regression on a restricted cubic spline of
  ``logit(prob)``, with a confidence band.
* :func:`calibration_errors` - ICI, E50, E90 and Emax (Austin & Steyerberg 2019,
  Stat Med 38:4051-65).
* :func:`plot_calibration` - the curve(s) with band, ideal diagonal and a histogram
  of predicted risks underneath (a :class:`matplotlib.figure.Figure`, not saved).

Smoother
--------
The loess smoother is :func:`statsmodels.nonparametric.smoothers_lowess.lowess`
(local *linear* fits with tricube weights) with span ``frac=0.75`` (the span of R's
``loess``) and no robustness iterations (``it=0``; robustness weights are meaningless
for a 0/1 outcome).  Austin & Steyerberg used R's ``loess`` whose default is local
*quadratic*; estimates therefore differ slightly from theirs where the calibration
curve bends sharply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats
from scipy.special import expit, logit
from statsmodels.nonparametric.smoothers_lowess import lowess

from analysis.errors import AnalysisError
from analysis.metrics import check_outcome, check_probabilities

__all__ = [
    "recalibration_fit",
    "CalibrationErrors",
    "calibration_errors",
    "calibration_intercept_slope",
    "flexible_calibration_curve",
    "plot_calibration",
    "rcs_basis",
    "rcs_knots",
]

_HARRELL_KNOT_QUANTILES = {
    3: (0.10, 0.50, 0.90),
    4: (0.05, 0.35, 0.65, 0.95),
    5: (0.05, 0.275, 0.50, 0.725, 0.95),
    6: (0.05, 0.23, 0.41, 0.59, 0.77, 0.95),
    7: (0.025, 0.1833, 0.3417, 0.50, 0.6583, 0.8167, 0.975),
}


# ---------------------------------------------------------------------------
# Logistic recalibration
# ---------------------------------------------------------------------------


def _fit_logistic(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None):
    """Maximum-likelihood logistic regression by Newton-Raphson with step halving.

    Returns the coefficients and their covariance (inverse Fisher information).
    """
    n, k = X.shape
    off = np.zeros(n) if offset is None else offset
    beta = np.zeros(k)

    def nll(b):
        eta = off + X @ b
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta))

    current = nll(beta)
    for _ in range(200):
        mu = expit(off + X @ beta)
        w = mu * (1 - mu)
        info = X.T @ (X * w[:, None])
        try:
            step = np.linalg.solve(info, X.T @ (y - mu))
        except np.linalg.LinAlgError:
            raise AnalysisError(
                "y_true is perfectly separated by prob: the logistic recalibration "
                "model has no finite maximum-likelihood estimate"
            ) from None
        t = 1.0
        while True:
            candidate = nll(beta + t * step)
            if candidate <= current + 1e-12 * abs(current) or t < 1e-10:
                break
            t /= 2
        beta = beta + t * step
        current = candidate
        if np.max(np.abs(t * step)) < 1e-11 * (1 + np.max(np.abs(beta))):
            break
    else:
        raise AnalysisError("the logistic recalibration model did not converge")
    mu = expit(off + X @ beta)
    info = X.T @ (X * (mu * (1 - mu))[:, None])
    if np.abs(beta).max() > 1e3 or np.linalg.cond(info) > 1e14:
        raise AnalysisError(
            "y_true is (quasi-)perfectly separated by prob: the logistic recalibration "
            "model has no finite maximum-likelihood estimate"
        )
    return beta, np.linalg.inv(info)


def recalibration_fit(y_true, prob) -> dict[str, float]:
    """Joint logistic recalibration ``logit P(y = 1) = a + b * logit(prob)``.

    The intercept ``a`` here is that of the joint model (used to *recalibrate*
    probabilities, :func:`analysis.recalibration.recalibrate`), not the
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
    b, _ = _fit_logistic(np.column_stack([np.ones(y.size), logit(p)]), y)
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
    a, cov_a = _fit_logistic(np.ones((y.size, 1)), y, offset=lp)
    b, cov_b = _fit_logistic(np.column_stack([np.ones(y.size), lp]), y)
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
# Restricted cubic splines
# ---------------------------------------------------------------------------


def rcs_knots(x, n_knots: int = 4) -> np.ndarray:
    """Knots of a restricted cubic spline at Harrell's default quantiles of ``x``.

    Parameters
    ----------
    x : array_like
        Values to place knots in.
    n_knots : int, default 4
        Number of knots, 3 to 7.

    Returns
    -------
    numpy.ndarray
        Strictly increasing knots.

    Raises
    ------
    AnalysisError
        If ``n_knots`` is outside 3-7 or ``x`` has too few distinct values.

    Examples
    --------
    >>> rcs_knots(np.arange(101.0), 3).tolist()
    [10.0, 50.0, 90.0]
    """
    if n_knots not in _HARRELL_KNOT_QUANTILES:
        raise AnalysisError(f"n_knots must be an integer from 3 to 7, got {n_knots!r}")
    knots = np.quantile(np.asarray(x, dtype=float), _HARRELL_KNOT_QUANTILES[n_knots])
    if np.any(np.diff(knots) <= 0):
        raise AnalysisError(f"prob has too few distinct values for a spline with n_knots={n_knots}")
    return knots


def rcs_basis(x, knots) -> np.ndarray:
    """Restricted (natural) cubic spline basis of Harrell, without intercept column.

    Column 0 is ``x``; column ``j = 1 .. k-2`` is
    ``[(x-t_j)_+^3 - (x-t_{k-1})_+^3 (t_k-t_j)/(t_k-t_{k-1})
    + (x-t_k)_+^3 (t_{k-1}-t_j)/(t_k-t_{k-1})] / (t_k-t_1)^2``,
    which is linear beyond the outer knots.

    Parameters
    ----------
    x : array_like
        Values at which to evaluate the basis.
    knots : array_like
        ``k >= 3`` strictly increasing knots.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(x), k - 1)``.

    Examples
    --------
    >>> rcs_basis([0.0, 1.0, 5.0], [1.0, 2.0, 3.0]).shape
    (3, 2)
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(knots, dtype=float)
    k = t.size
    if k < 3 or np.any(np.diff(t) <= 0):
        raise AnalysisError("knots must be at least 3 strictly increasing values")
    norm = (t[-1] - t[0]) ** 2

    def cube(u):
        return np.clip(u, 0, None) ** 3

    cols = [x]
    for j in range(k - 2):
        cols.append(
            (
                cube(x - t[j])
                - cube(x - t[-2]) * (t[-1] - t[j]) / (t[-1] - t[-2])
                + cube(x - t[-1]) * (t[-2] - t[j]) / (t[-1] - t[-2])
            )
            / norm
        )
    return np.column_stack(cols)


# ---------------------------------------------------------------------------
# Flexible calibration curve
# ---------------------------------------------------------------------------


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
        Loess values are clipped to ``[0, 1]``.

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
            boot = np.full((int(n_boot), g.size), np.nan)
            for b in range(int(n_boot)):
                i = rng.integers(0, y.size, y.size)
                boot[b] = _lowess_at(y[i], p[i], g, frac)
            with np.errstate(all="ignore"):
                ci_lo, ci_hi = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
        else:
            ci_lo = ci_hi = np.full(g.size, np.nan)
        observed, ci_lo, ci_hi = (np.clip(v, 0, 1) for v in (observed, ci_lo, ci_hi))
    elif method == "rcs":
        lp = logit(p)
        knots = rcs_knots(lp, n_knots)
        X = np.column_stack([np.ones(y.size), rcs_basis(lp, knots)])
        beta, cov = _fit_logistic(X, y)
        Xg = np.column_stack([np.ones(g.size), rcs_basis(logit(g), knots)])
        eta = Xg @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xg, cov, Xg))
        z = stats.norm.ppf(1 - alpha / 2)
        observed, ci_lo, ci_hi = expit(eta), expit(eta - z * se), expit(eta + z * se)
    else:
        raise AnalysisError(f"method must be 'loess' or 'rcs', got {method!r}")
    return pd.DataFrame(
        {
            "predicted": g,
            "observed": np.asarray(observed, dtype=float),
            "ci_lower": np.asarray(ci_lo, dtype=float),
            "ci_upper": np.asarray(ci_hi, dtype=float),
        }
    )


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


# ---------------------------------------------------------------------------
# Plot
# ---------------------------------------------------------------------------


def plot_calibration(
    curves,
    prob=None,
    *,
    title: str | None = None,
    bins: int = 50,
    figsize: tuple[float, float] = (6.0, 6.5),
) -> Figure:
    """Calibration plot: flexible curve(s) with bands, ideal diagonal, risk histogram.

    Parameters
    ----------
    curves : pandas.DataFrame or dict of str to pandas.DataFrame
        Output(s) of :func:`flexible_calibration_curve`; dict keys become legend labels.
    prob : array_like or dict of str to array_like, optional
        Predicted risks shown as a histogram in a panel under the curve (one
        histogram per key when a dict).
    title : str, optional
        Figure title.
    bins : int, default 50
        Histogram bins over ``[0, 1]``.
    figsize : tuple of float, default (6.0, 6.5)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Axes ``[calibration]`` or ``[calibration, histogram]``; nothing is saved.

    Examples
    --------
    >>> curve = pd.DataFrame({"predicted": [.1, .5, .9], "observed": [.12, .5, .85],
    ...                       "ci_lower": [.05, .4, .8], "ci_upper": [.2, .6, .9]})
    >>> len(plot_calibration(curve, prob=[.1, .2, .9]).axes)
    2
    """
    if isinstance(curves, pd.DataFrame):
        curves = {"model": curves}
    if not isinstance(curves, dict) or not curves:
        raise AnalysisError("curves must be a DataFrame or a non-empty dict of DataFrames")
    needed = {"predicted", "observed", "ci_lower", "ci_upper"}
    for name, df in curves.items():
        if not isinstance(df, pd.DataFrame) or not needed <= set(df.columns):
            raise AnalysisError(
                f"curves[{name!r}] must be a DataFrame with columns {sorted(needed)}"
            )
    if prob is not None and not isinstance(prob, dict):
        prob = {next(iter(curves)) if len(curves) == 1 else "predicted risk": prob}

    fig = Figure(figsize=figsize, layout="constrained")
    if prob is None:
        ax = fig.add_subplot()
        hax = None
    else:
        gs = fig.add_gridspec(2, 1, height_ratios=(4, 1))
        ax = fig.add_subplot(gs[0])
        hax = fig.add_subplot(gs[1], sharex=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="ideal")
    single = len(curves) == 1
    for name, df in curves.items():
        (line,) = ax.plot(df["predicted"], df["observed"], linewidth=2, label=name)
        if df[["ci_lower", "ci_upper"]].notna().any().any():
            ax.fill_between(
                df["predicted"],
                df["ci_lower"],
                df["ci_upper"],
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
                label=None if not single else f"{name} 95% CI",
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("auto")
    ax.set_ylabel("Observed risk")
    ax.legend(loc="upper left", frameon=False)
    if title:
        ax.set_title(title)
    if hax is None:
        ax.set_xlabel("Predicted risk")
    else:
        edges = np.linspace(0, 1, int(bins) + 1)
        for name, values in prob.items():
            hax.hist(np.asarray(values, dtype=float), bins=edges, alpha=0.6, label=name)
        hax.set_xlabel("Predicted risk")
        hax.set_ylabel("Count")
        ax.tick_params(labelbottom=False)
    return fig
