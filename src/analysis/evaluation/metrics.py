"""Discrimination, accuracy and classification metrics of a risk model, with their uncertainty.

Every function here is pure: it takes observed binary outcomes and predicted
probabilities (or scores) and returns numbers, small frozen result objects or tidy
:class:`pandas.DataFrame` tables.  Nothing is fitted to the data except what the
metric itself requires.

Conventions
-----------
* ``y_true`` holds binary outcomes coded 0/1 (booleans are accepted).
* ``prob`` holds predicted probabilities of the outcome in ``[0, 1]``; ``score``
  (DeLong functions only) may be any finite real-valued risk score.
* A patient is classified *positive* when ``prob >= threshold``.
* Confidence intervals are two-sided at level ``1 - alpha`` (95% by default).

The AUC confidence interval follows pROC's ``ci.auc(method = "delong")``: a plain
Wald interval ``AUC +/- z * SE`` clipped to ``[0, 1]``.  A logit-transformed interval
is available with ``transform="logit"``.

This is the one home of each of these calculations.  All scores of one set of
predictions at once, NaN where undefined (:func:`analysis.evaluation.scores.score_binary`),
and the model card table (:func:`analysis.evaluation.scores.performance_summary`) are
built from them in :mod:`analysis.evaluation.scores`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit

from analysis.errors import AnalysisError
from analysis.validators import check_alpha, check_outcome, check_probabilities, check_scores

__all__ = [
    "AUCResult",
    "BootstrapResult",
    "DeLongTestResult",
    "bootstrap_ci",
    "brier_score",
    "check_outcome",
    "check_probabilities",
    "check_scores",
    "classification_at_threshold",
    "delong_auc",
    "delong_test",
    "log_loss",
    "newcombe_difference",
    "proportion_ci",
    "scaled_brier",
    "bootstrap_indices",
    "stratified_bootstrap_indices",
]


# ---------------------------------------------------------------------------
# DeLong AUC
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AUCResult:
    """AUC with its DeLong variance and confidence interval.

    Examples
    --------
    >>> r = delong_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> r.auc
    0.75
    """

    auc: float
    variance: float
    se: float
    ci_lower: float
    ci_upper: float
    n_events: int
    n_nonevents: int
    method: str

    def as_dict(self) -> dict:
        """Return the fields as a plain dict.

        Examples
        --------
        >>> sorted(delong_auc([0, 1], [0.2, 0.7]).as_dict())[:2]
        ['auc', 'ci_lower']
        """
        return asdict(self)


@dataclass(frozen=True)
class DeLongTestResult:
    """Paired DeLong comparison of two correlated AUCs (``difference = auc_a - auc_b``).

    Examples
    --------
    >>> r = delong_test([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.4, 0.35, 0.8])
    >>> round(r.difference, 2)
    0.25
    """

    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    p_value: float
    ci_lower: float
    ci_upper: float

    def as_dict(self) -> dict:
        """Return the fields as a plain dict.

        Examples
        --------
        >>> "p_value" in delong_test([0, 1], [0.1, 0.9], [0.2, 0.8]).as_dict()
        True
        """
        return asdict(self)


def _delong_components(y: np.ndarray, scores: np.ndarray):
    """Fast DeLong (Sun & Xu 2014): AUCs and covariance matrix for ``k`` score rows.

    ``scores`` has shape ``(k, N)``.  Midranks are computed with
    :func:`scipy.stats.rankdata` (``method="average"``), which is the midrank of the
    paper, so the whole computation is ``O(k N log N)``.
    """
    pos = y == 1
    x = scores[:, pos]  # events
    z = scores[:, ~pos]  # non-events
    m, n = x.shape[1], z.shape[1]
    tx = stats.rankdata(x, axis=1)
    tz = stats.rankdata(z, axis=1)
    tall = stats.rankdata(np.concatenate([x, z], axis=1), axis=1)
    aucs = (tall[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    # Structural components: V10 for each event, V01 for each non-event.
    v10 = (tall[:, :m] - tx) / n
    v01 = 1.0 - (tall[:, m:] - tz) / m
    s10 = np.atleast_2d(np.cov(v10, ddof=1)) if m > 1 else np.zeros((len(scores),) * 2)
    s01 = np.atleast_2d(np.cov(v01, ddof=1)) if n > 1 else np.zeros((len(scores),) * 2)
    return aucs, s10 / m + s01 / n, m, n


def delong_auc(y_true, y_score, *, alpha: float = 0.05, transform: str = "none") -> AUCResult:
    """AUC (c-statistic) with DeLong variance, standard error and confidence interval.

    Uses the fast midrank algorithm of Sun & Xu (2014, IEEE Signal Process. Lett.
    21:1389-93), which gives exactly the DeLong et al. (1988) variance.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    y_score : array_like
        Finite risk scores or probabilities; higher means more likely an event.
    alpha : float, default 0.05
        One minus the confidence level.
    transform : {"none", "logit"}, default "none"
        ``"none"``: Wald interval on the AUC scale clipped to ``[0, 1]`` (as pROC).
        ``"logit"``: Wald interval on ``logit(AUC)`` with SE ``se / (AUC (1 - AUC))``,
        back-transformed (degenerate at AUC of 0 or 1).

    Returns
    -------
    AUCResult
        ``auc, variance, se, ci_lower, ci_upper, n_events, n_nonevents, method``.

    Raises
    ------
    AnalysisError
        On invalid outcomes, scores, ``alpha`` or ``transform``.

    Examples
    --------
    >>> r = delong_auc([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.5, 0.4, 0.6, 0.9])
    >>> round(r.auc, 4), round(r.variance, 6)
    (0.8889, 0.024691)
    """
    y = check_outcome(y_true)
    s = check_scores(y_score, y.size, name="y_score")
    alpha = check_alpha(alpha)
    if transform not in ("none", "logit"):
        raise AnalysisError(f"transform must be 'none' or 'logit', got {transform!r}")
    aucs, cov, m, n = _delong_components(y, s[None, :])
    auc = float(aucs[0])
    var = float(cov[0, 0])
    se = float(np.sqrt(max(var, 0.0)))
    zc = stats.norm.ppf(1 - alpha / 2)
    if transform == "none":
        lo, hi = max(0.0, auc - zc * se), min(1.0, auc + zc * se)
        method = "DeLong (Wald, clipped to [0, 1])"
    else:
        if 0.0 < auc < 1.0:
            se_lg = se / (auc * (1 - auc))
            lo, hi = (float(expit(logit(auc) + k * zc * se_lg)) for k in (-1, 1))
        else:
            lo = hi = auc
        method = "DeLong (logit-transformed Wald)"
    return AUCResult(auc, var, se, float(lo), float(hi), m, n, method)


def delong_test(y_true, score_a, score_b, *, alpha: float = 0.05) -> DeLongTestResult:
    """Paired DeLong test of two correlated AUCs measured on the same patients.

    ``z = (AUC_a - AUC_b) / sqrt(Var_a + Var_b - 2 Cov_ab)`` with the DeLong
    covariance matrix (fast Sun & Xu algorithm) and a two-sided normal p-value.
    When both AUCs are identical and the SE is 0 the result is ``z = 0, p = 1``.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    score_a, score_b : array_like
        Two finite score vectors for the same patients.
    alpha : float, default 0.05
        One minus the confidence level of the interval for the difference.

    Returns
    -------
    DeLongTestResult
        ``auc_a, auc_b, difference, se, z, p_value, ci_lower, ci_upper``.

    Raises
    ------
    AnalysisError
        On invalid inputs.

    Examples
    --------
    >>> r = delong_test([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.5, 0.4, 0.6, 0.9],
    ...                 [0.2, 0.1, 0.6, 0.5, 0.3, 0.7])
    >>> round(r.difference, 4)
    0.1111
    """
    y = check_outcome(y_true)
    a = check_scores(score_a, y.size, name="score_a")
    b = check_scores(score_b, y.size, name="score_b")
    alpha = check_alpha(alpha)
    aucs, cov, _, _ = _delong_components(y, np.vstack([a, b]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    zc = stats.norm.ppf(1 - alpha / 2)
    if se > 0:
        z = diff / se
        p = float(2 * stats.norm.sf(abs(z)))
    elif diff == 0:
        z, p = 0.0, 1.0
    else:  # pragma: no cover - a non-zero difference always has variance
        z, p = float(np.sign(diff) * np.inf), 0.0
    return DeLongTestResult(
        float(aucs[0]), float(aucs[1]), diff, se, float(z), p, diff - zc * se, diff + zc * se
    )


# ---------------------------------------------------------------------------
# Accuracy of predicted probabilities
# ---------------------------------------------------------------------------


def brier_score(y_true, prob) -> float:
    """Brier score: mean squared difference between outcome and predicted probability.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1).
    prob : array_like
        Predicted probabilities in ``[0, 1]``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(brier_score([0, 1], [0.2, 0.6]), 4)
    0.1
    """
    y = check_outcome(y_true, both_classes=False)
    p = check_probabilities(prob, y.size)
    return float(np.mean((p - y) ** 2))


def scaled_brier(y_true, prob) -> float:
    """Scaled Brier score ``1 - Brier / Brier_null``.

    ``Brier_null = prev (1 - prev)`` is the Brier score of a model predicting the
    observed prevalence for everybody; 1 is perfect, 0 is no better than the null
    model, negative is worse.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    prob : array_like
        Predicted probabilities in ``[0, 1]``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(scaled_brier([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9]), 4)
    0.85
    """
    y = check_outcome(y_true)
    p = check_probabilities(prob, y.size)
    prev = y.mean()
    return float(1.0 - np.mean((p - y) ** 2) / (prev * (1 - prev)))


def log_loss(y_true, prob) -> float:
    """Mean negative log-likelihood (cross-entropy) of binary outcomes.

    Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps`` the float64 machine
    epsilon (as scikit-learn does) so that predictions of exactly 0 or 1 give a
    large but finite loss.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1).
    prob : array_like
        Predicted probabilities in ``[0, 1]``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(log_loss([0, 1], [0.5, 0.5]), 6)
    0.693147
    """
    y = check_outcome(y_true, both_classes=False)
    p = check_probabilities(prob, y.size)
    eps = np.finfo(float).eps
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


# ---------------------------------------------------------------------------
# Classification at a threshold
# ---------------------------------------------------------------------------


def proportion_ci(
    successes, trials, *, alpha: float = 0.05, method: str = "wilson"
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval of a binomial proportion (vectorised).

    Parameters
    ----------
    successes, trials : array_like of int
        Counts; where ``trials == 0`` both bounds are NaN.
    alpha : float, default 0.05
        One minus the confidence level.
    method : {"wilson", "clopper-pearson"}, default "wilson"
        Wilson score interval, or the exact Clopper-Pearson interval.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper bounds.

    Examples
    --------
    >>> lo, hi = proportion_ci(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    alpha = check_alpha(alpha)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if (k < 0).any() or (n < 0).any() or (k > n).any():
        raise AnalysisError("successes must satisfy 0 <= successes <= trials")
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "wilson":
            z = stats.norm.ppf(1 - alpha / 2)
            ph = k / n
            centre = (ph + z**2 / (2 * n)) / (1 + z**2 / n)
            half = z / (1 + z**2 / n) * np.sqrt(ph * (1 - ph) / n + z**2 / (4 * n**2))
            # exact at the edges: rounding leaves ~1e-16 where the bound is 0 or 1 (and a
            # proportion of 0 must not sit below its own lower bound)
            lo = np.where(k > 0, centre - half, 0.0)
            hi = np.where(k < n, centre + half, 1.0)
        elif method == "clopper-pearson":
            lo = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
            hi = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
        else:
            raise AnalysisError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")
    lo = np.where(n > 0, np.clip(lo, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(hi, 0, 1), np.nan)
    return lo, hi


def newcombe_difference(events1: int, n1: int, events0: int, n0: int, *, alpha: float = 0.05):
    """Difference of two proportions ``p1 - p0`` with Newcombe's hybrid score CI (method 10).

    The bounds combine the Wilson score intervals ``(l1, u1)`` and ``(l0, u0)`` of the two
    proportions (Newcombe, Stat Med 1998; 17:873-90):
    ``d - sqrt((p1 - l1)^2 + (u0 - p0)^2)`` and ``d + sqrt((u1 - p1)^2 + (p0 - l0)^2)``.

    Parameters
    ----------
    events1, n1 : int
        Events and patients in the compared group.
    events0, n0 : int
        Events and patients in the reference group.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    (float, float, float)
        Difference, lower and upper bound.

    Examples
    --------
    >>> d, lo, hi = newcombe_difference(56, 70, 48, 80)   # Newcombe (1998), example (b)
    >>> round(d, 4), round(lo, 4), round(hi, 4)
    (0.2, 0.0524, 0.3339)
    """
    p1, p0 = events1 / n1, events0 / n0
    l1, u1 = proportion_ci(events1, n1, method="wilson", alpha=alpha)
    l0, u0 = proportion_ci(events0, n0, method="wilson", alpha=alpha)
    d = p1 - p0
    lower = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return float(d), float(lower), float(upper)


def classification_at_threshold(
    y_true, prob, threshold: float = 0.5, *, alpha: float = 0.05, ci_method: str = "wilson"
) -> pd.DataFrame:
    """Sensitivity, specificity, PPV and NPV at a risk threshold, with CIs and counts.

    A patient is test-positive when ``prob >= threshold``.  An undefined proportion
    (e.g. PPV when nobody is test-positive) has NaN estimate and bounds.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1).
    prob : array_like
        Predicted probabilities in ``[0, 1]``.
    threshold : float, default 0.5
        Risk threshold in ``[0, 1]``.
    alpha : float, default 0.05
        One minus the confidence level.
    ci_method : {"wilson", "clopper-pearson"}, default "wilson"
        Interval for each proportion (see :func:`proportion_ci`).

    Returns
    -------
    pandas.DataFrame
        One row per metric (``sensitivity, specificity, ppv, npv``) with columns
        ``metric, estimate, ci_lower, ci_upper, numerator, denominator, method``.
        The counts are ``TP/(TP+FN)``, ``TN/(TN+FP)``, ``TP/(TP+FP)``, ``TN/(TN+FN)``.

    Examples
    --------
    >>> t = classification_at_threshold([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.4])
    >>> t[["metric", "estimate"]].values.tolist()[0]
    ['sensitivity', 0.5]
    """
    y = check_outcome(y_true, both_classes=False)
    p = check_probabilities(prob, y.size)
    if not (isinstance(threshold, int | float) and 0 <= threshold <= 1):
        raise AnalysisError(f"threshold must be a number in [0, 1], got {threshold!r}")
    pred = p >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    tn = int(np.sum(~pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    num = np.array([tp, tn, tp, tn])
    den = np.array([tp + fn, tn + fp, tp + fp, tn + fn])
    lo, hi = proportion_ci(num, den, alpha=alpha, method=ci_method)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    label = "Wilson score" if ci_method == "wilson" else "Clopper-Pearson exact"
    return pd.DataFrame(
        {
            "metric": ["sensitivity", "specificity", "ppv", "npv"],
            "estimate": est.astype(float),
            "ci_lower": lo,
            "ci_upper": hi,
            "numerator": num,
            "denominator": den,
            "method": label,
        }
    )


# ---------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimate with a percentile bootstrap interval.

    ``n_valid`` counts resamples whose metric was finite (only those are used).

    Examples
    --------
    >>> r = bootstrap_ci(brier_score, [0, 1, 0, 1], [0.2, 0.8, 0.4, 0.6], n_boot=50)
    >>> r.n_boot
    50
    """

    estimate: float
    ci_lower: float
    ci_upper: float
    n_boot: int
    n_valid: int


def bootstrap_indices(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` ordinary (unstratified) bootstrap indices: ``n`` draws with replacement.

    The number of events varies between resamples, as it does between studies of the same
    size; this is the resampling :func:`bootstrap_ci` uses by default.  (A bootstrap
    stratified by outcome holds the prevalence fixed and under-covers: 85% instead of 95%
    for the Brier score at n = 200 in simulation.)

    Parameters
    ----------
    n : int
        Sample size.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of randomness: the indices are ``rng.integers(0, n, size=(n_boot, n))``.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> bootstrap_indices(4, 3, np.random.default_rng(0)).shape
    (3, 4)
    """
    return rng.integers(0, int(n), size=(int(n_boot), int(n)))


def stratified_bootstrap_indices(
    y: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """``(n_boot, N)`` bootstrap indices drawing events and non-events separately.

    Row ``b`` holds the non-events' draws (with replacement, as many as there are
    non-events) followed by the events' draws, so every resample keeps the observed
    prevalence.  Used by :func:`bootstrap_ci` and
    :func:`analysis.evaluation.scores.performance_summary`.

    Parameters
    ----------
    y : numpy.ndarray
        Binary outcomes 0/1.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of randomness (the draws depend only on its state).

    Returns
    -------
    numpy.ndarray
        Integer indices into ``y``, shape ``(n_boot, y.size)``.

    Examples
    --------
    >>> idx = stratified_bootstrap_indices(np.array([0, 0, 0, 1]), 5, np.random.default_rng(0))
    >>> idx.shape, bool((idx[:, -1] == 3).all())
    ((5, 4), True)
    """
    groups = [np.flatnonzero(y == k) for k in (0, 1)]
    parts = [g[rng.integers(0, g.size, size=(n_boot, g.size))] for g in groups if g.size]
    return np.concatenate(parts, axis=1)


def bootstrap_ci(
    metric_fn: Callable[[np.ndarray, np.ndarray], float],
    y_true,
    prob,
    *,
    n_boot: int = 1000,
    seed: int | None = 0,
    alpha: float = 0.05,
    stratified: bool = False,
) -> BootstrapResult:
    """Percentile bootstrap confidence interval of any metric ``metric_fn(y, prob)``.

    By default the resampling is the ordinary, unstratified bootstrap
    (:func:`bootstrap_indices`: ``n`` patients drawn with replacement, so the number of
    events varies).  With ``stratified=True`` each resample draws as many events from the
    events and non-events from the non-events as the sample has
    (:func:`stratified_bootstrap_indices`); that keeps the prevalence fixed, ignores its
    sampling variability and gives intervals that are too narrow for prevalence-dependent
    scores (Brier, log loss, ICI: 85% coverage at n = 200 in simulation).  Bounds are the
    ``alpha/2`` and ``1 - alpha/2`` quantiles (numpy's default linear interpolation) of
    the finite resampled values; a resample where the metric is undefined (e.g. a single
    outcome class) is skipped.

    Parameters
    ----------
    metric_fn : callable
        ``metric_fn(y_true, prob) -> float``.
    y_true : array_like
        Binary outcomes (0/1).
    prob : array_like
        Predicted probabilities in ``[0, 1]`` (or any finite scores).
    n_boot : int, default 1000
        Number of resamples (at least 2).
    seed : int or None, default 0
        Seed of :func:`numpy.random.default_rng`; a given seed gives identical output.
    alpha : float, default 0.05
        One minus the confidence level.
    stratified : bool, default False
        Resample events and non-events separately.

    Returns
    -------
    BootstrapResult
        ``estimate`` (metric on the full data), ``ci_lower, ci_upper, n_boot, n_valid``.

    Raises
    ------
    AnalysisError
        On invalid inputs or if fewer than 2 resampled values are finite.

    Examples
    --------
    >>> r = bootstrap_ci(brier_score, [0, 1] * 20, [0.3, 0.6] * 20, n_boot=100, seed=1)
    >>> r.ci_lower <= r.estimate <= r.ci_upper
    True
    """
    if not callable(metric_fn):
        raise AnalysisError("metric_fn must be callable as metric_fn(y_true, prob)")
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 2):
        raise AnalysisError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    alpha = check_alpha(alpha)
    y = check_outcome(y_true, both_classes=False)
    p = check_scores(prob, y.size, name="prob")
    estimate = float(metric_fn(y, p))
    rng = np.random.default_rng(seed)
    if stratified:
        idx = stratified_bootstrap_indices(y, int(n_boot), rng)
    else:
        idx = bootstrap_indices(y.size, int(n_boot), rng)
    values = np.empty(int(n_boot))
    for b in range(int(n_boot)):
        try:
            values[b] = float(metric_fn(y[idx[b]], p[idx[b]]))
        except (AnalysisError, ValueError, FloatingPointError, np.linalg.LinAlgError):
            values[b] = np.nan
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        raise AnalysisError("metric_fn gave fewer than 2 finite values over the resamples")
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return BootstrapResult(estimate, float(lo), float(hi), int(n_boot), int(finite.size))
