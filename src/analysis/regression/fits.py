"""Logistic and linear model fits: the one maximum-likelihood logistic solver, separation and
sparse-cell checks, profile-likelihood intervals, Firth's penalised likelihood."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
import scipy.stats
from scipy.special import expit
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.regression.linear_model import OLS
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


#: Fewest events and fewest non-events a level of a binary or categorical predictor may have
#: before its cell counts as sparse (and the logistic model switches to Firth's method).
SPARSE_CELL_MIN = 5

#: ``method`` of a table row fitted by :func:`fit_firth` on one data set.
FIRTH_METHOD = "Firth penalised likelihood, profile penalised-likelihood CI"


def sparse_cells(X: pd.DataFrame, y, min_count: int = SPARSE_CELL_MIN) -> list[str]:
    """Levels of binary or categorical predictors with few events or few non-events.

    A predictor counts as binary or categorical when all its model columns take only the
    values 0 and 1 (a 0/1 predictor, or the dummy columns of a categorical predictor,
    grouped by ``X.attrs["term_variable"]`` when present). Each of its levels (``=1`` and
    ``=0`` for a single column; every dummy and the reference level, where all dummies are
    0, for a categorical predictor) is a cell; a cell with fewer than ``min_count`` events
    or fewer than ``min_count`` non-events is sparse. Rows with a missing value in the
    predictor's columns are ignored.

    Parameters
    ----------
    X : pandas.DataFrame
        Model columns without intercept (as from :func:`analysis.regression.design.design_matrix`).
    y : array_like, shape (n,)
        0/1 outcome.
    min_count : int, default :data:`SPARSE_CELL_MIN`
        Fewest events and fewest non-events a cell needs.

    Returns
    -------
    list of str
        One description per sparse cell, e.g. ``"smoker=1: 2 events, 30 non-events"``;
        empty when no cell is sparse.

    Examples
    --------
    >>> X = pd.DataFrame({"smoker": [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    >>> y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    >>> sparse_cells(X, y)
    ['smoker=1: 3 events, 0 non-events', 'smoker=0: 3 events, 6 non-events']
    """
    y = np.asarray(y, dtype=float)
    term_variable = X.attrs.get("term_variable", {})
    groups: dict[str, list[str]] = {}
    for term in X.columns:
        groups.setdefault(term_variable.get(term, term), []).append(term)
    found = []
    for variable, terms in groups.items():
        block = X[terms].to_numpy(dtype=float)
        observed = ~np.isnan(block).any(axis=1)
        values = block[observed]
        if not np.isin(values, (0.0, 1.0)).all():
            continue
        yy = y[observed]
        if len(terms) == 1:
            cells = [(f"{terms[0]}=1", values[:, 0] == 1), (f"{terms[0]}=0", values[:, 0] == 0)]
        else:
            cells = [(t, values[:, i] == 1) for i, t in enumerate(terms)]
            cells.append((f"{variable} (reference level)", values.sum(axis=1) == 0))
        for name, mask in cells:
            events = int(yy[mask].sum())
            non_events = int(mask.sum()) - events
            if min(events, non_events) < min_count:
                found.append(f"{name}: {events} events, {non_events} non-events")
    return found


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
            result = GLM(y, A, family=families.Binomial()).fit(maxiter=100)
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


@dataclass
class FirthFit(ModelFit):
    """A :class:`ModelFit` from :func:`fit_firth`, with its profile penalised-likelihood CIs.

    ``llf`` is the penalised log-likelihood; ``pvalues`` are penalised likelihood-ratio
    p-values (NaN where not computed); ``ci`` has shape ``(k, 2)`` on the log-odds scale;
    ``cov`` holds the variances ``bse**2`` on its diagonal only. The intercept's standard
    error, interval and p-value are NaN (not computed; tables report no intercept).
    """

    ci: np.ndarray
    converged: bool


def fit_firth(X: pd.DataFrame, y, outcome: str = "outcome", alpha: float = 0.05,
              inference: bool = True) -> FirthFit:
    """Firth's penalised-likelihood logistic regression, the method of R's ``logistf``.

    Maximises ``l(b) + 0.5 log|I(b)|`` (Jeffreys-prior penalty) by Newton-Raphson with step
    halving, through ``firthmodels.FirthLogisticRegression`` (NumPy backend, convergence
    tolerances 1e-6). The estimates are finite under complete or quasi-complete
    separation. Standard errors are the Wald ones reported by ``logistf`` (``se(coef)``); confidence intervals are profile penalised-likelihood
    intervals (Venzon-Moolgavkar, as ``logistf``'s default) and p-values penalised
    likelihood-ratio tests, each coefficient in turn constrained to 0 (not the intercept).

    Parameters
    ----------
    X : pandas.DataFrame
        Model columns without intercept, no missing values.
    y : array_like, shape (n,)
        0/1 outcome.
    outcome : str, default "outcome"
        Outcome name, for messages.
    alpha : float, default 0.05
        One minus the confidence level.
    inference : bool, default True
        Compute the profile CIs and likelihood-ratio p-values (slower); otherwise ``ci`` is
        the Wald interval and ``pvalues`` the Wald p-values (enough for Rubin's rules).

    Returns
    -------
    FirthFit
        Intercept first in every array.

    Warns
    -----
    UserWarning
        The penalised likelihood did not converge, or a profile bound or likelihood-ratio
        test could not be computed (that value is NaN).

    Examples
    --------
    >>> X = pd.DataFrame({"x": [0.0, 0, 0, 1, 1, 1]})
    >>> fit = fit_firth(X, np.array([0, 0, 0, 1, 1, 1]))
    >>> round(float(fit.params[1]), 4), bool(np.isfinite(fit.ci[1:]).all())
    (3.8918, True)
    """
    if len(np.unique(y)) < 2:
        raise AnalysisError(f"outcome '{outcome}' takes a single value in the analysis rows")
    check_rank(X)
    A = X.to_numpy(dtype=float)
    y = np.asarray(y, dtype=float)
    k = A.shape[1] + 1
    # Firth's estimate is equivariant under affine changes of the columns (the Jeffreys
    # prior is invariant), so fit on centred and scaled columns, which keeps Newton-Raphson
    # and the profile searches well conditioned (raw laboratory values in the thousands
    # stall them), and map the slopes back: b_j = g_j / sd_j, exactly.
    centre = A.mean(axis=0)
    scale = A.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (A - centre) / scale
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # imported here: firthmodels (and the pydantic it pulls in) costs about a second
        # of start-up in every notebook, and only the separated fits need it
        from firthmodels import FirthLogisticRegression

        model = FirthLogisticRegression(backend="numpy", max_iter=100, gtol=1e-6, xtol=1e-6)
        model.fit(Z, y)
        slopes = np.asarray(model.coef_, dtype=float) / scale
        params = np.r_[model.intercept_ - np.sum(slopes * centre), slopes]
        # the intercept of the centred fit is another parameter: no inference for the
        # intercept (tables report none)
        bse = np.r_[np.nan, np.asarray(model.bse_, dtype=float)[:-1] / scale]
        cov = np.diag(bse**2)  # logistf's variances; the covariances are not used downstream
        if inference and model.converged_:
            model.lrt(list(range(k - 1)))
            pvalues = np.r_[np.nan, np.asarray(model.lrt_pvalues_)[:-1]]
            bounds = np.asarray(model.conf_int(alpha=alpha, method="pl", max_iter=500, tol=1e-6,
                                               features=list(range(k - 1))))[:-1]
            ci = np.vstack([[np.nan, np.nan], bounds / scale[:, None]])
        else:
            z = scipy.stats.norm.ppf(1 - alpha / 2)
            pvalues = 2 * scipy.stats.norm.sf(np.abs(params / bse))
            ci = np.column_stack([params - z * bse, params + z * bse])
    if not model.converged_:
        problems.append("the penalised likelihood did not converge")
    if caught and inference and (np.isnan(pvalues[1:]).any() or np.isnan(ci[1:]).any()):
        problems.append("some profile bounds or likelihood-ratio tests failed (left empty)")
    if problems:
        warnings.warn(f"Firth logistic model for '{outcome}': {'; '.join(problems)}",
                      UserWarning, stacklevel=caller_stacklevel())
    return FirthFit(
        params=params, bse=bse, pvalues=pvalues, cov=cov, llf=float(model.loglik_), n=len(y),
        df_resid=float(len(y) - k), separated=np.zeros(k, dtype=bool), ci=ci,
        converged=bool(model.converged_),
    )


def fit_linear(X: pd.DataFrame, y: np.ndarray, outcome: str) -> ModelFit:
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    check_rank(X)
    if len(y) <= A.shape[1]:
        raise AnalysisError(
            f"linear model for '{outcome}': {len(y)} complete rows for {A.shape[1]} parameters"
        )
    result = OLS(y, A).fit()
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
    full = GLM(y, A, family=families.Binomial()).fit()
    beta, se, llf = float(full.params[j]), float(full.bse[j]), float(full.llf)
    others = np.delete(A, j, axis=1)
    start = np.delete(np.asarray(full.params), j)
    threshold = scipy.stats.chi2.ppf(1 - alpha, 1)
    xj = A[:, j]

    def excess(b: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = GLM(y, others, family=families.Binomial(), offset=b * xj).fit(
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


def logistic_mle(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None, *,
                 penalty: np.ndarray | None = None, start: np.ndarray | None = None,
                 tol: float = 1e-11, covariance: bool = True):
    """Maximum-likelihood logistic regression by Newton-Raphson with step halving.

    The project's one hand-written logistic solver: the recalibration models of
    :mod:`analysis.evaluation.calibration` use it unpenalised, the ridge path of
    :mod:`analysis.models.flexible` with a quadratic penalty.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, k)
        Design matrix, including an intercept column if one is wanted.
    y : numpy.ndarray, shape (n,)
        0/1 outcome.
    offset : numpy.ndarray, optional
        Fixed part of the linear predictor.
    penalty : numpy.ndarray, shape (k,), optional
        Diagonal of a quadratic penalty: the fit minimises
        ``-loglik + 0.5 * sum(penalty * beta**2)`` (0 leaves a coefficient unpenalised,
        as for the intercept).  With a positive penalty on every slope the estimate is
        finite even under separation, which is then not an error.
    start : numpy.ndarray, shape (k,), optional
        Starting values (a warm start along a penalty path).
    tol : float, default 1e-11
        Convergence: the largest step below ``tol * (1 + max|beta|)``.
    covariance : bool, default True
        Whether to return the covariance (``None`` otherwise: a penalty path needs none).

    Returns
    -------
    beta : numpy.ndarray, shape (k,)
    covariance : numpy.ndarray, shape (k, k) or None
        Inverse of the (penalised) information matrix at ``beta``.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [0.0, 1.0, 0.0, 1.0]])
    >>> y = np.array([0.0, 1.0, 1.0, 1.0])   # separated: no event-free patient with x = 1
    >>> beta, _ = logistic_mle(X, y, penalty=np.array([0.0, 1.0]))   # ridge: finite
    >>> bool(0 < beta[1] < 5)
    True
    """
    n, k = X.shape
    off = np.zeros(n) if offset is None else offset
    pen = np.zeros(k) if penalty is None else np.asarray(penalty, dtype=float)
    beta = np.zeros(k) if start is None else np.array(start, dtype=float)

    def objective(eta, b):
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * np.sum(pen * b * b))

    diagonal = np.diag_indices(k)
    eta = off + X @ beta
    current = objective(eta, beta)
    for _ in range(200):
        mu = expit(eta)
        info = (X.T * (mu * (1 - mu))) @ X
        info[diagonal] += pen
        try:
            step = np.linalg.solve(info, X.T @ (y - mu) - pen * beta)
        except np.linalg.LinAlgError:
            raise AnalysisError(
                "y_true is perfectly separated by prob: the logistic recalibration "
                "model has no finite maximum-likelihood estimate"
            ) from None
        t = 1.0
        while True:  # step halving; the linear predictor of the accepted step is kept
            candidate_beta = beta + t * step
            candidate_eta = off + X @ candidate_beta
            candidate = objective(candidate_eta, candidate_beta)
            if candidate <= current + 1e-12 * abs(current) or t < 1e-10:
                break
            t /= 2
        beta, eta, current = candidate_beta, candidate_eta, candidate
        if np.max(np.abs(t * step)) < tol * (1 + np.max(np.abs(beta))):
            break
    else:
        raise AnalysisError("the logistic recalibration model did not converge")
    if not covariance and penalty is not None:
        return beta, None
    mu = expit(off + X @ beta)
    info = X.T @ (X * (mu * (1 - mu))[:, None]) + np.diag(pen)
    if penalty is None and (np.abs(beta).max() > 1e3 or np.linalg.cond(info) > 1e14):
        raise AnalysisError(
            "y_true is (quasi-)perfectly separated by prob: the logistic recalibration "
            "model has no finite maximum-likelihood estimate"
        )
    return beta, np.linalg.inv(info)
