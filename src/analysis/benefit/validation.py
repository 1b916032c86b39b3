"""Validation of predicted treatment benefit: the c-for-benefit and calibration of benefit.

A model that predicts each patient's benefit of an option over the reference
(``p_option - p_reference``, predicted out of sample) is validated the way van Klaveren et
al. proposed (J Clin Epidemiol 2018;94:59-68), following their R code:

1. the patients of each group (received the option / the reference) are sorted by
   predicted benefit; if the groups differ in size, patients of the larger group are
   discarded at random (``numpy.random.default_rng(seed)``, chosen without replacement,
   order kept) so that both hold ``m`` patients;
2. the i-th smallest of one group is paired with the i-th smallest of the other; the pair's
   predicted benefit is the mean of the two predicted benefits, its observed benefit is
   ``y_option - y_reference`` (-1, 0 or 1);
3. the c-for-benefit is Harrell's C of the pair predicted benefit against the observed pair
   benefit: over all pairs of pairs with different observed benefit, the share in which the
   pair with the larger observed benefit has the larger predicted benefit, ties in
   prediction counting 1/2 (``Hmisc::rcorr.cens``).  With patient weights (e.g. overlap
   weights) a pair weighs the mean of its two patients' weights and a pair of pairs the
   product of the two pair weights.

Calibration of benefit compares observed with predicted pair benefit: by quantile groups of
predicted benefit, and as the intercept and slope of the (weighted) least-squares line of
observed on predicted pair benefit (ideal 0 and 1).

Pairs are matched on predicted benefit, not on prognosis, and the options were not
randomised in observational data: the observed pair benefit is unbiased for the true one
only as far as the two groups are exchangeable (weights can help).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> n = 400
>>> benefit = rng.uniform(-0.3, 0.5, n)
>>> option = rng.random(n) < 0.5
>>> y = (rng.random(n) < 0.3 + option * benefit).astype(int)
>>> row = validate_benefit(y, option, benefit, model="demo", option="b", n_boot=50)
>>> row.columns.tolist()[:7] == list(BENEFIT_VALIDATION_COLUMNS)
True
>>> bool(row.loc[0, "ci_lower"] <= row.loc[0, "c_for_benefit"] <= row.loc[0, "ci_upper"])
True
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import stratified_bootstrap_indices
from analysis.validators import check_alpha, check_outcome, check_scores

__all__ = [
    "BENEFIT_CALIBRATION_COLUMNS",
    "BENEFIT_VALIDATION_COLUMNS",
    "benefit_calibration",
    "benefit_concordance",
    "benefit_verdict",
    "c_for_benefit",
    "match_by_benefit",
    "validate_benefit",
]

#: The fixed public columns of :func:`validate_benefit`, in this order.
BENEFIT_VALIDATION_COLUMNS = ("model", "c_for_benefit", "ci_lower", "ci_upper",
                              "benefit_calibration_intercept", "benefit_calibration_slope",
                              "n_pairs")
#: Columns of the groups table of :func:`benefit_calibration`.
BENEFIT_CALIBRATION_COLUMNS = ("group", "n_pairs", "predicted_benefit", "observed_benefit",
                               "ci_lower", "ci_upper")
MATCH_COLUMNS = ("option_index", "reference_index", "predicted_benefit", "option_benefit",
                 "reference_benefit")


# --------------------------------------------------------------------------------- inputs
def _check_group(received_option, n: int) -> np.ndarray:
    """``received_option`` as a bool array of length ``n`` with both groups present."""
    g = np.asarray(received_option)
    if g.ndim != 1:
        raise AnalysisError(f"received_option must be one-dimensional, got shape {g.shape}")
    if g.size != n:
        raise AnalysisError(f"received_option must have the same length as y ({n}), got {g.size}")
    if g.dtype != bool:
        try:
            gf = g.astype(float)
        except (TypeError, ValueError):
            raise AnalysisError("received_option must be boolean (True = option)") from None
        if not np.isin(gf, (0.0, 1.0)).all():
            raise AnalysisError("received_option must be boolean (True = option, False = reference)")
        g = gf == 1.0
    if not g.any():
        raise AnalysisError("no patient received the option (received_option is all False)")
    if g.all():
        raise AnalysisError("no patient received the reference (received_option is all True)")
    return g


def _check_weights(weights, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = check_scores(weights, n, name="weights")
    if (w < 0).any():
        raise AnalysisError("weights must not be negative")
    if not w.sum() > 0:
        raise AnalysisError("weights must not all be zero")
    return w


def _check_inputs(y, received_option, benefit, weights):
    y = check_outcome(y, name="y", both_classes=False)
    g = _check_group(received_option, y.size)
    b = check_scores(benefit, y.size, name="benefit")
    w = _check_weights(weights, y.size)
    return y, g, b, w


# ------------------------------------------------------------------------------- matching
def _match(benefit: np.ndarray, group: np.ndarray, rng: np.random.Generator):
    """Positions of the matched option and reference patients, rank by rank."""
    option = np.flatnonzero(group)
    reference = np.flatnonzero(~group)
    option = option[np.argsort(benefit[option], kind="stable")]
    reference = reference[np.argsort(benefit[reference], kind="stable")]
    m = min(option.size, reference.size)
    if option.size > m:
        option = option[np.sort(rng.choice(option.size, size=m, replace=False))]
    elif reference.size > m:
        reference = reference[np.sort(rng.choice(reference.size, size=m, replace=False))]
    return option, reference


def match_by_benefit(benefit, received_option, *, seed: int = 0) -> pd.DataFrame:
    """Pair option with reference patients by rank of predicted benefit (van Klaveren 2018).

    Each group is sorted by predicted benefit (stable sort: ties keep input order); if the
    groups differ in size, patients of the larger group are discarded at random
    (``numpy.random.default_rng(seed).choice(..., replace=False)``, order kept) so that
    both hold ``m = min(n_option, n_reference)`` patients; the i-th smallest option patient
    is paired with the i-th smallest reference patient.

    Parameters
    ----------
    benefit : array_like of float
        Predicted benefit of each patient, ``p_option - p_reference``.
    received_option : array_like of bool
        True = received the option, False = the reference.
    seed : int, default 0
        Seed of the random discarding.

    Returns
    -------
    pandas.DataFrame
        One row per pair, in rank order: ``option_index`` and ``reference_index``
        (positions into the inputs), ``predicted_benefit`` (mean of the two),
        ``option_benefit`` and ``reference_benefit``.  ``attrs`` holds ``n_option``,
        ``n_reference`` and ``n_discarded``.

    Raises
    ------
    AnalysisError
        On inputs of different lengths, non-finite benefits, or an empty group.

    Examples
    --------
    >>> pairs = match_by_benefit([0.1, 0.3, -0.2, 0.0], [True, True, False, False])
    >>> pairs[["option_index", "reference_index"]].to_numpy().tolist()
    [[0, 2], [1, 3]]
    >>> pairs["predicted_benefit"].round(3).tolist()
    [-0.05, 0.15]
    """
    b = check_scores(benefit, np.asarray(benefit).size, name="benefit")
    g = _check_group(received_option, b.size)
    option, reference = _match(b, g, np.random.default_rng(seed))
    pairs = pd.DataFrame({
        "option_index": option,
        "reference_index": reference,
        "predicted_benefit": (b[option] + b[reference]) / 2,
        "option_benefit": b[option],
        "reference_benefit": b[reference],
    }, columns=list(MATCH_COLUMNS))
    pairs.attrs.update(n_option=int(g.sum()), n_reference=int((~g).sum()),
                       n_discarded=int(abs(g.sum() - (~g).sum())))
    return pairs


def _pair_values(y, group, benefit, weights, rng):
    """Pair predicted benefit, observed benefit and weight (None if unweighted)."""
    option, reference = _match(benefit, group, rng)
    predicted = (benefit[option] + benefit[reference]) / 2
    observed = (y[option] - y[reference]).astype(float)
    w = None if weights is None else (weights[option] + weights[reference]) / 2
    return predicted, observed, w


# ---------------------------------------------------------------------------- concordance
def benefit_concordance(predicted, observed, weights=None) -> float:
    """Harrell's C of ``predicted`` against ``observed``, ties in ``predicted`` counting 1/2.

    Over all pairs ``(i, j)`` with ``observed[i] > observed[j]``: the (weighted) share with
    ``predicted[i] > predicted[j]``, plus half the share with ``predicted[i] ==
    predicted[j]``; a pair weighs ``weights[i] * weights[j]``.  Ties in ``observed`` are
    not usable pairs (``Hmisc::rcorr.cens`` on uncensored data).  The computation sorts each
    observed level once and counts by ``searchsorted`` on cumulative weights, so it takes
    O(m log m) for any number of distinct observed values up to a few.

    Parameters
    ----------
    predicted, observed : array_like of float
        Same length ``m``.
    weights : array_like of float, optional
        Non-negative weights (default all 1).

    Returns
    -------
    float
        NaN when no usable pair carries weight (all observed values equal).

    Examples
    --------
    >>> benefit_concordance([0.1, 0.2, 0.2, 0.4], [-1, 0, 1, 1])
    0.9
    """
    p = np.asarray(predicted, dtype=float)
    o = np.asarray(observed, dtype=float)
    w = np.ones(p.size) if weights is None else np.asarray(weights, dtype=float)
    if not (p.shape == o.shape == w.shape) or p.ndim != 1:
        raise AnalysisError("predicted, observed and weights must be 1-d of the same length")
    levels = np.unique(o)
    sorted_p, cum_w, total_w = [], [], []
    for level in levels:
        member = o == level
        order = np.argsort(p[member], kind="stable")
        sorted_p.append(p[member][order])
        cum_w.append(np.concatenate([[0.0], np.cumsum(w[member][order])]))
        total_w.append(w[member].sum())
    numerator = denominator = 0.0
    for hi in range(1, levels.size):
        member = o == levels[hi]
        p_hi, w_hi = p[member], w[member]
        for lo in range(hi):
            left = np.searchsorted(sorted_p[lo], p_hi, side="left")
            right = np.searchsorted(sorted_p[lo], p_hi, side="right")
            below = cum_w[lo][left]  # weight of lower-observed pairs predicted lower
            tied = cum_w[lo][right] - cum_w[lo][left]
            numerator += float(np.sum(w_hi * (below + 0.5 * tied)))
            denominator += float(total_w[hi] * total_w[lo])
    return numerator / denominator if denominator > 0 else float("nan")


def c_for_benefit(y, received_option, benefit, *, weights=None, seed: int = 0):
    """The c-for-benefit of van Klaveren et al. (2018) on rank-matched pairs.

    Parameters
    ----------
    y : array_like of {0, 1}
        Outcome (1 = the favourable event the benefit is predicted for).
    received_option : array_like of bool
        True = received the option, False = the reference.
    benefit : array_like of float
        Out-of-sample predicted benefit ``p_option - p_reference`` of every patient.
    weights : array_like of float, optional
        Patient weights (e.g. overlap weights); a pair weighs the mean of its two.
    seed : int, default 0
        Seed of the random discarding in :func:`match_by_benefit`.

    Returns
    -------
    tuple of (float, int)
        ``(c, n_pairs)``: the c-for-benefit (NaN if fewer than two pairs have different
        observed benefit) and the number of matched pairs.

    Raises
    ------
    AnalysisError
        On inputs of different lengths, ``y`` not 0/1, non-finite benefits or weights,
        or an empty group.

    Examples
    --------
    >>> y = [1, 0, 0, 0, 0, 1]
    >>> c_for_benefit(y, [True, True, True, False, False, False], [0.4, 0.1, -0.1, 0, 0.3, -0.2])
    (1.0, 3)
    """
    y, g, b, w = _check_inputs(y, received_option, benefit, weights)
    predicted, observed, pair_w = _pair_values(y, g, b, w, np.random.default_rng(seed))
    return benefit_concordance(predicted, observed, pair_w), int(predicted.size)


# ---------------------------------------------------------------------------- calibration
def _weighted_line(x, y, w):
    """Intercept and slope of the (weighted) least-squares line of ``y`` on ``x``."""
    w = np.ones(x.size) if w is None else w
    xm = np.sum(w * x) / np.sum(w)
    ym = np.sum(w * y) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    if not sxx > 0:
        return float("nan"), float("nan")
    slope = np.sum(w * (x - xm) * (y - ym)) / sxx
    return float(ym - slope * xm), float(slope)


def _mean_ci(values, w, q):
    """(Weighted) mean with a normal-approximation CI (linearised variance, n/(n-1))."""
    n = values.size
    w = np.ones(n) if w is None else w
    total = w.sum()
    if not total > 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(np.sum(w * values) / total)
    if n < 2:
        return mean, float("nan"), float("nan")
    se = float(np.sqrt(n / (n - 1) * np.sum(w**2 * (values - mean) ** 2)) / total)
    return mean, mean - q * se, mean + q * se


def _calibration(predicted, observed, w, n_groups, alpha=0.05):
    cuts = np.quantile(predicted, np.linspace(0, 1, n_groups + 1))
    group = np.clip(np.searchsorted(cuts[1:-1], predicted, side="right"), 0, n_groups - 1)
    q = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for k in range(n_groups):
        member = group == k
        if not member.any():
            continue  # ties in predicted benefit can leave a quantile group empty
        wk = None if w is None else w[member]
        pw = np.ones(member.sum()) if wk is None else wk
        pred = float(np.sum(pw * predicted[member]) / pw.sum()) if pw.sum() > 0 else float("nan")
        obs, lo, hi = _mean_ci(observed[member], wk, q)
        rows.append({"group": k + 1, "n_pairs": int(member.sum()), "predicted_benefit": pred,
                     "observed_benefit": obs, "ci_lower": lo, "ci_upper": hi})
    table = pd.DataFrame(rows, columns=list(BENEFIT_CALIBRATION_COLUMNS))
    table.attrs["cut_points"] = [float(c) for c in cuts]
    intercept, slope = _weighted_line(predicted, observed, w)
    return table, intercept, slope


def benefit_calibration(y, received_option, benefit, *, weights=None, n_groups: int = 5,
                        seed: int = 0):
    """Calibration of benefit: observed against predicted pair benefit.

    The patients are matched as in :func:`match_by_benefit`; the pairs are grouped by
    quantiles of pair predicted benefit (pairs with equal predicted benefit stay in one
    group, so a group can be missing when predictions are heavily tied).

    Parameters
    ----------
    y : array_like of {0, 1}
    received_option : array_like of bool
    benefit : array_like of float
        Out-of-sample predicted benefit ``p_option - p_reference``.
    weights : array_like of float, optional
        Patient weights; a pair weighs the mean of its two patients' weights.
    n_groups : int, default 5
        Quantile groups of pair predicted benefit.
    seed : int, default 0
        Seed of the random discarding in the matching.

    Returns
    -------
    tuple of (pandas.DataFrame, float, float)
        ``(groups_table, intercept, slope)``.  The table has columns
        :data:`BENEFIT_CALIBRATION_COLUMNS`: per group the number of pairs, the (weighted)
        mean predicted and observed pair benefit and a 95% normal-approximation CI of the
        observed mean (variance ``n/(n-1) * sum(w^2 (o - mean)^2) / sum(w)^2``, which is
        ``s^2 / n`` unweighted).  ``intercept`` and ``slope`` are those of the (weighted)
        least-squares line of observed on predicted pair benefit (ideal 0 and 1; NaN if
        all pairs have the same predicted benefit).

    Raises
    ------
    AnalysisError
        On invalid inputs, or fewer pairs than groups.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> b = rng.uniform(-0.2, 0.4, 300)
    >>> t = rng.random(300) < 0.5
    >>> y = (rng.random(300) < 0.4 + t * b).astype(int)
    >>> table, intercept, slope = benefit_calibration(y, t, b)
    >>> table["n_pairs"].tolist()
    [28, 28, 28, 28, 28]
    """
    if not (isinstance(n_groups, int | np.integer) and n_groups >= 1):
        raise AnalysisError(f"n_groups must be a positive integer, got {n_groups!r}")
    y, g, b, w = _check_inputs(y, received_option, benefit, weights)
    predicted, observed, pair_w = _pair_values(y, g, b, w, np.random.default_rng(seed))
    if predicted.size < n_groups:
        raise AnalysisError(f"{predicted.size} matched pairs are too few for {n_groups} groups")
    return _calibration(predicted, observed, pair_w, int(n_groups))


# ----------------------------------------------------------------------------- validation
def validate_benefit(y, received_option, benefit, *, model: str, option: str, weights=None,
                     n_boot: int = 200, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """c-for-benefit with a bootstrap CI and calibration of benefit, as one table row.

    The point estimates use the matching of ``numpy.random.default_rng(seed)``.  The CI is
    a percentile bootstrap over patients: each resample draws option and reference
    patients separately with replacement (:func:`stratified_bootstrap_indices` by group,
    so the group sizes are kept), redoes the matching and the C; one generator
    ``default_rng(seed)`` supplies both the resampling and the discarding, so a given seed
    gives an identical frame.  Resamples in which the C is undefined are skipped.

    Parameters
    ----------
    y : array_like of {0, 1}
    received_option : array_like of bool
        True = received ``option``, False = the reference.
    benefit : array_like of float
        Out-of-sample predicted benefit ``p_option - p_reference``.
    model : str
        Name of the model that predicted the benefit.
    option : str
        The option whose benefit over the reference is validated.
    weights : array_like of float, optional
        Patient weights (resampled with the patients).
    n_boot : int, default 200
        Bootstrap resamples (at least 2).
    seed : int, default 0
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        One row with columns :data:`BENEFIT_VALIDATION_COLUMNS` followed by ``option``,
        ``weighted`` (bool) and ``n_boot`` (the number of resamples used: those with a
        finite C).  The CI is NaN if fewer than two resamples were usable.
        ``attrs`` holds ``alpha``, ``n_boot_requested`` and ``seed``.

    Raises
    ------
    AnalysisError
        On invalid inputs, ``n_boot < 2`` or ``alpha`` outside (0, 1).
    """
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 2):
        raise AnalysisError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    alpha = check_alpha(alpha)
    y, g, b, w = _check_inputs(y, received_option, benefit, weights)
    predicted, observed, pair_w = _pair_values(y, g, b, w, np.random.default_rng(seed))
    c = benefit_concordance(predicted, observed, pair_w)
    intercept, slope = _weighted_line(predicted, observed, pair_w)

    rng = np.random.default_rng(seed)
    idx = stratified_bootstrap_indices(g.astype(int), int(n_boot), rng)
    boot = np.full(int(n_boot), np.nan)
    for k, rows in enumerate(idx):
        wb = None if w is None else w[rows]
        pb, ob, pwb = _pair_values(y[rows], g[rows], b[rows], wb, rng)
        boot[k] = benefit_concordance(pb, ob, pwb)
    valid = boot[np.isfinite(boot)]
    if valid.size >= 2:
        lower, upper = np.quantile(valid, [alpha / 2, 1 - alpha / 2])
    else:
        lower = upper = np.nan
    row = pd.DataFrame([{
        "model": str(model), "c_for_benefit": c, "ci_lower": float(lower),
        "ci_upper": float(upper), "benefit_calibration_intercept": intercept,
        "benefit_calibration_slope": slope, "n_pairs": int(predicted.size),
        "option": str(option), "weighted": w is not None, "n_boot": int(valid.size),
    }], columns=[*BENEFIT_VALIDATION_COLUMNS, "option", "weighted", "n_boot"])
    row.attrs.update(alpha=alpha, n_boot_requested=int(n_boot), seed=seed)
    return row


def benefit_verdict(row) -> str:
    """A plain-English sentence on whether the model separates patients by benefit.

    Parameters
    ----------
    row : pandas.Series, mapping or one-row pandas.DataFrame
        A row of :func:`validate_benefit` (``c_for_benefit``, ``ci_lower``, ``ci_upper``;
        the confidence level is read from ``attrs["alpha"]`` when present, else 95%).

    Returns
    -------
    str
        "no evidence ..." when the CI includes 0.5 (or is missing); otherwise a sentence
        that the model separates patients by benefit (CI above 0.5) or orders them the
        wrong way round (CI below 0.5), with the numbers.

    Examples
    --------
    >>> benefit_verdict({"c_for_benefit": 0.53, "ci_lower": 0.48, "ci_upper": 0.58})
    'no evidence that the model separates patients who benefit more from those who benefit less (c-for-benefit 0.53, 95% CI 0.48 to 0.58)'
    >>> benefit_verdict({"c_for_benefit": 0.61, "ci_lower": 0.56, "ci_upper": 0.66})[:45]
    'the model separates patients who benefit more'
    """
    attrs = getattr(row, "attrs", None) or {}
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise AnalysisError(f"benefit_verdict needs one row, got {len(row)}")
        row = row.iloc[0]
    if not isinstance(row, Mapping | pd.Series):
        raise AnalysisError("row must be a pandas Series, a mapping or a one-row DataFrame")
    missing = [k for k in ("c_for_benefit", "ci_lower", "ci_upper") if k not in row]
    if missing:
        raise AnalysisError(f"row lacks {', '.join(missing)}")
    c, lo, hi = (float(row[k]) for k in ("c_for_benefit", "ci_lower", "ci_upper"))
    level = f"{100 * (1 - float(attrs.get('alpha', 0.05))):g}% CI"
    if not np.isfinite(c):
        return ("the c-for-benefit could not be computed (fewer than two matched pairs with "
                "different observed benefit)")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return ("no evidence that the model separates patients who benefit more from those "
                f"who benefit less (c-for-benefit {c:.2f}; no bootstrap CI could be computed)")
    numbers = f"c-for-benefit {c:.2f}, {level} {lo:.2f} to {hi:.2f}"
    if lo <= 0.5 <= hi:
        return ("no evidence that the model separates patients who benefit more from those "
                f"who benefit less ({numbers})")
    if lo > 0.5:
        return ("the model separates patients who benefit more from those who benefit less "
                f"better than chance ({numbers})")
    return ("the model orders patients by benefit the wrong way round: those predicted to "
            f"benefit more benefit less, worse than chance ({numbers})")
