"""Logistic and linear model fits: the one maximum-likelihood logistic solver, separation checks, profile-likelihood intervals."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
import scipy.stats
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from analysis.errors import AnalysisError
from analysis.regression.design import check_rank
from analysis.validators import caller_stacklevel


def detect_separation(X, y) -> np.ndarray:
    """Find parameters whose maximum likelihood estimates are infinite (separation).

    Solves Konis' (2007) linear program: maximise ``sum_i s_i x_i'b`` subject to
    ``s_i x_i'b >= 0`` and ``-1 <= b <= 1``, with ``s_i = 2 y_i - 1`` and an intercept
    column added. A positive optimum means complete or quasi-complete separation; the
    non-zero components of ``b`` are directions in which the likelihood keeps increasing.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Model columns without intercept, no missing values.
    y : array_like, shape (n,)
        0/1 outcome.

    Returns
    -------
    numpy.ndarray of bool, shape (p + 1,)
        Element 0 is the intercept; ``True`` marks a parameter that diverges.

    Examples
    --------
    >>> detect_separation(np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])).tolist()
    [True, True]
    >>> detect_separation(np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 1, 0, 1])).tolist()
    [False, False]
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    A = np.column_stack([np.ones(len(X)), (X - X.mean(axis=0)) / sd])
    s = 2.0 * y - 1.0
    SA = s[:, None] * A
    res = scipy.optimize.linprog(
        c=-SA.sum(axis=0),
        A_ub=-SA,
        b_ub=np.zeros(len(A)),
        bounds=[(-1.0, 1.0)] * A.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= 1e-7 * len(A):
        return np.zeros(A.shape[1], dtype=bool)
    b = res.x.copy()
    # back to the original (uncentred, unscaled) parametrisation
    slopes = b[1:] / sd
    intercept = b[0] - np.sum(slopes * X.mean(axis=0))
    direction = np.concatenate([[intercept], slopes])
    scale = np.abs(direction).max()
    return np.abs(direction) > 1e-6 * scale


@dataclass
class ModelFit:
    """Plain container for one fitted model (intercept first in every array)."""

    params: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray
    cov: np.ndarray
    llf: float
    n: int
    df_resid: float
    separated: np.ndarray


def unpack_statsmodels(result, n: int, separated: np.ndarray) -> ModelFit:
    """Evaluate statsmodels' lazy results (inside the caller's warning filters)."""
    k = len(result.params)
    return ModelFit(
        params=np.asarray(result.params),
        bse=np.asarray(result.bse),
        pvalues=np.asarray(result.pvalues),
        cov=np.asarray(result.cov_params()),
        llf=float(result.llf),
        n=n,
        df_resid=float(n - k),
        separated=separated,
    )


def fit_logistic(X: pd.DataFrame, y: np.ndarray, outcome: str, warn: bool = True) -> ModelFit:
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    if len(np.unique(y)) < 2:
        raise AnalysisError(f"outcome '{outcome}' takes a single value in the analysis rows")
    check_rank(X)
    separated = detect_separation(X.to_numpy(dtype=float), y)
    sm_separation = False
    fit = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.GLM(y, A, family=sm.families.Binomial()).fit(maxiter=100)
            fit = unpack_statsmodels(result, len(y), separated)
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError):
            sm_separation = True
    for w in caught:
        if issubclass(w.category, PerfectSeparationWarning):
            sm_separation = True
        elif issubclass(w.category, ConvergenceWarning) and not separated.any() and warn:
            warnings.warn(
                f"logistic model for '{outcome}' did not converge: {w.message}",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
    if sm_separation and not separated.any():
        separated[:] = True
    terms = ["(intercept)", *X.columns]
    if separated.any() and warn:
        flagged = [t for t, s in zip(terms, separated, strict=True) if s and t != "(intercept)"]
        warnings.warn(
            f"logistic model for '{outcome}': complete or quasi-complete separation for "
            f"term(s) {flagged or terms[1:]}; their maximum likelihood estimates do not exist "
            "(they diverge), so odds ratios, confidence intervals and p-values of the flagged "
            "rows are meaningless (consider merging categories or penalised (Firth) regression)",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    if fit is None:
        k = A.shape[1]
        nan = np.full(k, np.nan)
        fit = ModelFit(nan, nan, nan, np.full((k, k), np.nan), np.nan, len(y), float(len(y) - k),
                   separated)
    return fit


def fit_linear(X: pd.DataFrame, y: np.ndarray, outcome: str) -> ModelFit:
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    check_rank(X)
    if len(y) <= A.shape[1]:
        raise AnalysisError(
            f"linear model for '{outcome}': {len(y)} complete rows for {A.shape[1]} parameters"
        )
    result = sm.OLS(y, A).fit()
    return unpack_statsmodels(result, len(y), np.zeros(A.shape[1], dtype=bool))


def profile_likelihood_ci(X, y, index: int, alpha: float = 0.05) -> tuple[float, float]:
    """Profile-likelihood confidence interval of one logistic-regression coefficient.

    The profile log-likelihood at ``beta_j = b`` is the maximum over the other parameters
    of the log-likelihood with ``b * x_j`` entered as a fixed offset. The interval is the
    set where ``2 (l_max - l_p(b)) <= chi2_{1, 1-alpha}``; its ends are found with Brent's
    root finder after bracketing outward from the estimate.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Model columns without intercept.
    y : array_like, shape (n,)
        0/1 outcome.
    index : int
        Column of ``X`` (0-based, intercept excluded) whose coefficient is profiled.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    tuple of float
        ``(lower, upper)`` on the log-odds scale; ``-inf``/``inf`` if the profile deviance
        never reaches the threshold on that side (e.g. under separation).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=200)
    >>> y = (rng.uniform(size=200) < 1 / (1 + np.exp(-x))).astype(float)
    >>> lo, hi = profile_likelihood_ci(x[:, None], y, 0)
    >>> bool(lo < 1 < hi)
    True
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float)
    A = np.column_stack([np.ones(len(X)), X])
    j = index + 1
    full = sm.GLM(y, A, family=sm.families.Binomial()).fit()
    beta, se, llf = float(full.params[j]), float(full.bse[j]), float(full.llf)
    others = np.delete(A, j, axis=1)
    start = np.delete(np.asarray(full.params), j)
    threshold = scipy.stats.chi2.ppf(1 - alpha, 1)
    xj = A[:, j]

    def excess(b: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(y, others, family=sm.families.Binomial(), offset=b * xj).fit(
                start_params=start
            )
            profile_llf = float(fit.llf)
        return 2.0 * (llf - profile_llf) - threshold

    z = scipy.stats.norm.ppf(1 - alpha / 2)
    ends = []
    for sign in (-1.0, 1.0):
        step = z * se
        inner = beta
        outer = beta + sign * step
        found = False
        for _ in range(40):
            if excess(outer) > 0:
                found = True
                break
            inner, step = outer, step * 2.0
            outer = beta + sign * step
        if not found:
            ends.append(sign * np.inf)
            continue
        lo_b, hi_b = sorted((inner, outer))
        ends.append(scipy.optimize.brentq(excess, lo_b, hi_b, xtol=1e-10, rtol=1e-12))
    return float(ends[0]), float(ends[1])


def logistic_mle(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None):
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
