"""Every score of one set of predicted probabilities, computed in one place.

* :func:`score_binary` - AUC, Brier, scaled Brier, log loss, calibration intercept and
  slope, ICI, E50 and E90 of ``(y, p)`` as a dict, NaN where a score is undefined (one
  outcome class, constant ``p``, separation) instead of an exception.  Model comparison
  (:func:`analysis.validation.comparison.compare_models`), the bootstrap
  (:func:`analysis.validation.resampling.bootstrap_optimism`), subgroups
  (:func:`analysis.evaluation.subgroups.subgroup_performance`) and the model card table
  (:func:`performance_summary`) all take their scores from it.
* :func:`clipped_calibration` - the calibration intercept and slope table on clipped
  probabilities, with NaN rows where the fits do not exist.
* :func:`performance_summary` - the model card table: every score with a 95% CI.

Each score has exactly one implementation, which this module only calls:

=========================  =================================================================
score                      implementation
=========================  =================================================================
``auc``                    :func:`analysis.evaluation.metrics.delong_auc` (its Mann-Whitney
                           point estimate, ties counting 1/2)
``brier``                  :func:`analysis.evaluation.metrics.brier_score`
``scaled_brier``           :func:`analysis.evaluation.metrics.scaled_brier`
``log_loss``               :func:`analysis.evaluation.metrics.log_loss`
``calibration_intercept``  :func:`analysis.evaluation.calibration.calibration_intercept_slope`
``calibration_slope``      on ``p`` clipped to ``[PROB_CLIP, 1 - PROB_CLIP]``
                           (:func:`analysis.validators.clip_probabilities`)
``ici``, ``e50``, ``e90``  :func:`analysis.evaluation.calibration.calibration_errors`
=========================  =================================================================
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import calibration_errors, calibration_intercept_slope
from analysis.evaluation.metrics import (
    bootstrap_indices,
    brier_score,
    classification_at_threshold,
    delong_auc,
    log_loss,
    scaled_brier,
)
from analysis.validators import check_outcome, check_probabilities, clip_probabilities

__all__ = [
    "SCORES",
    "clipped_calibration",
    "performance_summary",
    "score_binary",
]

#: Names :func:`score_binary` computes, in the order of its default output.
SCORES = (
    "auc",
    "brier",
    "scaled_brier",
    "log_loss",
    "calibration_intercept",
    "calibration_slope",
    "ici",
    "e50",
    "e90",
)

#: Errors that mean "this score is undefined for these data" once inputs are valid.
UNDEFINED = (AnalysisError, np.linalg.LinAlgError, ValueError, FloatingPointError)

_CALIBRATION_ROWS = ("calibration_intercept", "calibration_slope")


def clipped_calibration(y, prob, *, alpha: float = 0.05) -> pd.DataFrame:
    """Calibration intercept and slope with Wald CIs, on clipped probabilities, NaN if undefined.

    :func:`analysis.evaluation.calibration.calibration_intercept_slope` applied to
    :func:`analysis.validators.clip_probabilities` of ``prob`` (so predictions of exactly
    0 or 1, possible for random forests, have a finite logit).  When the fits have no
    finite maximum-likelihood estimate (one outcome class, constant ``prob``, perfect
    separation) both rows are NaN and ``method`` gives the reason.

    Parameters
    ----------
    y : array_like
        Binary outcomes 0/1.
    prob : array_like
        Predicted probabilities in ``[0, 1]``.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Rows ``calibration_intercept`` and ``calibration_slope``; columns ``metric,
        estimate, std_error, ci_lower, ci_upper, method``.

    Examples
    --------
    >>> t = clipped_calibration([0, 1, 0, 1, 1, 0], [0.2, 0.7, 0.6, 0.5, 1.0, 0.3])
    >>> t["metric"].tolist(), bool(t["estimate"].notna().all())
    (['calibration_intercept', 'calibration_slope'], True)
    >>> clipped_calibration([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])["estimate"].isna().all()
    np.True_
    """
    yi = check_outcome(y, both_classes=False)
    p = clip_probabilities(check_probabilities(prob, yi.size))
    try:
        return calibration_intercept_slope(yi, p, alpha=alpha)
    except UNDEFINED as exc:
        nan = [np.nan, np.nan]
        return pd.DataFrame(
            {
                "metric": list(_CALIBRATION_ROWS),
                "estimate": nan,
                "std_error": nan,
                "ci_lower": nan,
                "ci_upper": nan,
                "method": f"undefined: {exc}",
            }
        )


def _check_names(metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return list(SCORES)
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in names if m not in SCORES]
    if bad or not names or len(set(names)) != len(names):
        raise AnalysisError(f"metrics must be distinct names from {list(SCORES)}, got {names}")
    return names


def _calibration_error_values(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    # Constant p: the lowess curve is the event rate, so every |p_i - observed_i| is equal.
    if np.ptp(p) <= 1e-12:
        d = float(abs(p.mean() - y.mean()))
        return {"ici": d, "e50": d, "e90": d}
    try:
        e = calibration_errors(y, p)
    except UNDEFINED:
        return dict.fromkeys(("ici", "e50", "e90"), np.nan)
    return {"ici": e.ici, "e50": e.e50, "e90": e.e90}


def score_binary(y, p, *, metrics: Iterable[str] | None = None) -> dict[str, float]:
    """Scores of predicted probabilities ``p`` for binary outcomes ``y``; NaN where undefined.

    * ``auc`` - Mann-Whitney AUC, ties counting 1/2 (the point estimate of
      :func:`analysis.evaluation.metrics.delong_auc`); 0.5 for constant ``p``.
      NaN with one outcome class.
    * ``brier`` - mean of ``(p - y)^2`` (:func:`~analysis.evaluation.metrics.brier_score`).
    * ``scaled_brier`` - ``1 - brier / (prev (1 - prev))``
      (:func:`~analysis.evaluation.metrics.scaled_brier`). NaN with one outcome class.
    * ``log_loss`` - mean negative log-likelihood
      (:func:`~analysis.evaluation.metrics.log_loss`).
    * ``calibration_intercept``, ``calibration_slope`` - the Wald-fit estimates of
      :func:`clipped_calibration` (calibration-in-the-large with ``logit p`` as offset;
      slope on ``logit p``). Both NaN when either fit has no finite estimate: one outcome
      class, constant ``p``, (quasi-)perfect separation.
    * ``ici``, ``e50``, ``e90`` - mean, median and 90th percentile of
      ``|p - lowess calibration curve|``
      (:func:`~analysis.evaluation.calibration.calibration_errors`); for constant ``p``
      all three are ``|mean p - mean y|``. NaN with one outcome class.

    Parameters
    ----------
    y : array_like
        Binary outcomes 0/1 (one class allowed).
    p : array_like
        Predicted probabilities in ``[0, 1]``.
    metrics : iterable of str, optional
        Distinct names from :data:`SCORES`; default all of them.  Only those asked for are
        computed (the lowess and logistic fits are the costly ones).

    Returns
    -------
    dict of str to float
        One entry per requested score, in the requested order.

    Raises
    ------
    AnalysisError
        On invalid inputs (not 0/1, lengths differ, probabilities outside ``[0, 1]`` or
        missing) or unknown metric names - never because a score is undefined.

    Examples
    --------
    >>> s = score_binary([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> s["auc"], round(s["brier"], 4), round(s["scaled_brier"], 4)
    (0.75, 0.1581, 0.3675)
    >>> score_binary([1, 1, 1], [0.2, 0.5, 0.9], metrics=["auc", "calibration_slope"])
    {'auc': nan, 'calibration_slope': nan}
    """
    names = _check_names(metrics)
    yi = check_outcome(y, both_classes=False)
    pf = check_probabilities(p, yi.size)
    both = 0 < int(yi.sum()) < yi.size
    out: dict[str, float] = {}
    if "auc" in names:
        out["auc"] = delong_auc(yi, pf).auc if both else np.nan
    if "brier" in names:
        out["brier"] = brier_score(yi, pf)
    if "scaled_brier" in names:
        out["scaled_brier"] = scaled_brier(yi, pf) if both else np.nan
    if "log_loss" in names:
        out["log_loss"] = log_loss(yi, pf)
    if any(m in names for m in _CALIBRATION_ROWS):
        cal = clipped_calibration(yi, pf).set_index("metric")["estimate"]
        out.update({m: float(cal[m]) for m in _CALIBRATION_ROWS})
    if any(m in names for m in ("ici", "e50", "e90")):
        if both:
            out.update(_calibration_error_values(yi, pf))
        else:
            out.update(dict.fromkeys(("ici", "e50", "e90"), np.nan))
    return {m: float(out[m]) for m in names}


# ---------------------------------------------------------------------------
# The model card table
# ---------------------------------------------------------------------------

_BOOTSTRAPPED = ("brier", "scaled_brier", "log_loss", "ici", "e50", "e90")


def performance_summary(
    y_true, prob, threshold: float = 0.5, n_boot: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Tidy table of a model's validation performance, one row per metric.

    ========================  ===========================================================
    metric                    estimate (:func:`score_binary`) and 95% CI
    ========================  ===========================================================
    auc                       DeLong, Wald clipped to [0, 1]
                              (:func:`analysis.evaluation.metrics.delong_auc`)
    brier, scaled_brier,      percentile bootstrap of patients, not stratified by outcome
    log_loss                  (:func:`analysis.evaluation.metrics.bootstrap_indices`)
    calibration_intercept,    Wald from the logistic recalibration fits
    calibration_slope         (:func:`analysis.evaluation.calibration.calibration_intercept_slope`)
    ici, e50, e90             lowess calibration errors
                              (:func:`analysis.evaluation.calibration.calibration_errors`),
                              the same bootstrap
    sensitivity, specificity, at ``prob >= threshold``, Wilson score intervals
    ppv, npv
    ========================  ===========================================================

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1) with at least one of each.
    prob : array_like
        Predicted probabilities strictly between 0 and 1.
    threshold : float, default 0.5
        Classification threshold.
    n_boot : int, default 200
        Bootstrap resamples for the bootstrapped metrics (one shared set of
        resamples; the same ``seed`` gives the same table).
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric, estimate, ci_lower, ci_upper, method``.

    Raises
    ------
    AnalysisError
        On invalid inputs, ``n_boot`` below 2, or when ``prob`` perfectly separates the
        outcomes (no calibration slope).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 200); y = rng.binomial(1, p)
    >>> performance_summary(y, p, n_boot=20)["metric"].tolist()[:3]
    ['auc', 'brier', 'scaled_brier']
    """
    y = check_outcome(y_true)
    p = check_probabilities(prob, y.size, open_interval=True)
    auc = delong_auc(y, p)
    rows = [("auc", auc.auc, auc.ci_lower, auc.ci_upper, auc.method)]

    rng = np.random.default_rng(seed)
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 2):
        raise AnalysisError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    idx = bootstrap_indices(y.size, int(n_boot), rng)
    point = score_binary(y, p, metrics=_BOOTSTRAPPED)
    boot = pd.DataFrame([score_binary(y[i], p[i], metrics=_BOOTSTRAPPED) for i in idx])
    boot_label = f"percentile bootstrap ({int(n_boot)} resamples, seed {seed})"

    def bootstrapped(name: str, method: str) -> tuple:
        # a resample with one outcome class leaves some scores undefined (NaN): skipped
        lo, hi = np.nanquantile(boot[name].to_numpy(dtype=float), [0.025, 0.975])
        return (name, point[name], lo, hi, method)

    rows += [bootstrapped(m, boot_label) for m in ("brier", "scaled_brier", "log_loss")]
    cal = calibration_intercept_slope(y, p)
    for _, r in cal.iterrows():
        rows.append((r["metric"], r["estimate"], r["ci_lower"], r["ci_upper"], r["method"]))
    ce_label = "lowess calibration curve; " + boot_label
    rows += [bootstrapped(m, ce_label) for m in ("ici", "e50", "e90")]

    cls = classification_at_threshold(y, p, threshold)
    for _, r in cls.iterrows():
        rows.append(
            (
                r["metric"],
                r["estimate"],
                r["ci_lower"],
                r["ci_upper"],
                f"prob >= {threshold:g}; {r['method']} interval",
            )
        )
    out = pd.DataFrame(rows, columns=["metric", "estimate", "ci_lower", "ci_upper", "method"])
    out[["estimate", "ci_lower", "ci_upper"]] = out[["estimate", "ci_lower", "ci_upper"]].astype(
        float
    )
    return out
