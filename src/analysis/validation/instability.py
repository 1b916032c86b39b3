"""How stable are the shipped model's predictions? Riley & Collins' bootstrap instability checks.

A model developed on 100-200 patients can validate well internally and still give a patient
a quite different risk had the cohort been drawn again.  Riley & Collins (Biometrical
Journal 2023; 65: e2200302) propose to show this with the bootstrap models the validation
already fits: apply each of the ``B`` bootstrap models to the development cohort and compare
its predictions with the final model's.

* **Prediction instability**: for patient ``i`` the mean absolute prediction error
  ``MAPE_i = mean_b |p_b(x_i) - p(x_i)|``; the table gives its mean over patients (Riley &
  Collins' summary), its 90th percentile and maximum, and the median width of the patients'
  95% bootstrap ranges (the calculator's interval).
* **Calibration instability**: the calibration slope of each bootstrap model on the
  development cohort (a logistic regression of the outcome on its logit); its median and
  2.5-97.5 percentiles show how far the slope of a model developed on a cohort of this size
  wanders.  A bootstrap model whose predictions are constant (a lasso that kept no
  predictor) has no slope: counted in ``undefined``.

:func:`prediction_instability` returns the tidy ``instability.csv`` table;
:func:`instability_draws` the ``B x n`` matrix the instability plot draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import recalibration_fit
from analysis.models.predict import positive_probability, refit_probabilities

__all__ = ["INSTABILITY_COLUMNS", "describe_instability", "instability_draws",
           "prediction_instability"]

#: Columns of the ``instability.csv`` table, in order.
INSTABILITY_COLUMNS = ("measure", "value", "lower", "upper", "n_replicates", "undefined", "note")


def instability_draws(final, refits, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The final model's probabilities and each bootstrap model's, on the same patients.

    Parameters
    ----------
    final : fitted classifier
        The shipped model (``predict_proba``).
    refits : sequence of fitted classifiers
        The bootstrap models (``bootstrap_optimism(..., keep_refits=True)``).
    X : DataFrame
        The development cohort's predictors.

    Returns
    -------
    (p, draws) : tuple of ndarray
        ``p`` of shape ``(n,)``; ``draws`` of shape ``(B_ok, n)``, the refits that could
        score every patient.

    Raises
    ------
    AnalysisError
        Without refits, or when no refit can score the cohort.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> final = DummyClassifier().fit(X, [0, 1, 1, 0])
    >>> p, draws = instability_draws(final, [DummyClassifier().fit(X, [0, 1, 1, 1])], X)
    >>> p.tolist(), draws.tolist()
    ([0.5, 0.5, 0.5, 0.5], [[0.75, 0.75, 0.75, 0.75]])
    """
    if not refits:
        raise AnalysisError("no bootstrap models: keep the refits of the bootstrap "
                            "(bootstrap_optimism(..., keep_refits=True))")
    p = positive_probability(final, X)
    draws = refit_probabilities(refits, X)
    draws = draws[~np.isnan(draws).any(axis=1)]
    if not len(draws):
        raise AnalysisError(f"none of the {len(refits)} bootstrap models could score the cohort")
    return p, draws


def prediction_instability(final, refits, X: pd.DataFrame, y) -> pd.DataFrame:
    """Riley & Collins' prediction and calibration instability of the shipped model.

    Parameters
    ----------
    final : fitted classifier
        The shipped model.
    refits : sequence of fitted classifiers
        Its bootstrap models (the same pipeline refitted on each bootstrap sample).
    X : DataFrame
        The development cohort's predictors.
    y : array_like
        Its binary outcomes.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`INSTABILITY_COLUMNS`; rows ``mape_mean`` (with the patients'
        2.5th-97.5th percentiles of MAPE as ``lower``/``upper``), ``mape_p90``,
        ``mape_max``, ``interval_width_median`` (median width of the patients' 95%
        bootstrap ranges) and ``bootstrap_slope`` (median, with 2.5th-97.5th percentiles,
        of the bootstrap models' calibration slopes on the cohort).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=200)})
    >>> y = (rng.random(200) < 1 / (1 + np.exp(-X["x"]))).astype(int)
    >>> final = LogisticRegression().fit(X, y)
    >>> refits = []
    >>> for b in range(20):
    ...     i = rng.integers(0, 200, 200)
    ...     refits.append(LogisticRegression().fit(X.iloc[i], y[i]))
    >>> t = prediction_instability(final, refits, X, y).set_index("measure")
    >>> bool(0 < t.loc["mape_mean", "value"] < 0.1), int(t.loc["bootstrap_slope", "n_replicates"])
    (True, 20)
    """
    y = np.asarray(y, dtype=float)
    if y.shape != (len(X),):
        raise AnalysisError(f"y must have one outcome per row of X ({len(X)}), got {y.shape}")
    p, draws = instability_draws(final, refits, X)
    n_boot = len(draws)
    mape = np.abs(draws - p).mean(axis=0)
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    slopes = []
    undefined = 0
    clipped = np.clip(draws, 1e-10, 1 - 1e-10)
    for row in clipped:
        if np.ptp(row) < 1e-9:
            undefined += 1
            continue
        try:
            slopes.append(recalibration_fit(y, row)["slope"])
        except AnalysisError:  # the bootstrap model separates the cohort: no finite slope
            undefined += 1
    slopes = np.asarray(slopes)
    m_low, m_high = np.percentile(mape, [2.5, 97.5])
    rows = [
        ("mape_mean", mape.mean(), m_low, m_high, 0,
         "mean over patients of the mean absolute difference between the bootstrap models' and "
         "the final model's predicted probability (lower/upper: 2.5th-97.5th percentiles over "
         "patients)"),
        ("mape_p90", np.percentile(mape, 90), np.nan, np.nan, 0,
         "90th percentile over patients of that mean absolute difference"),
        ("mape_max", mape.max(), np.nan, np.nan, 0, "largest over patients"),
        ("interval_width_median", np.median(high - low), np.nan, np.nan, 0,
         "median width of the patients' 95% bootstrap ranges of the predicted probability"),
    ]
    if len(slopes):
        s_low, s_med, s_high = np.percentile(slopes, [2.5, 50, 97.5])
    else:
        s_low = s_med = s_high = np.nan
    rows.append(("bootstrap_slope", s_med, s_low, s_high, undefined,
                 "calibration slope of each bootstrap model on the development cohort: median "
                 "(lower/upper: 2.5th-97.5th percentiles); how far the slope of a model "
                 "developed on a cohort of this size wanders"))
    table = pd.DataFrame(
        [{"measure": m, "value": float(v), "lower": float(lo), "upper": float(hi),
          "n_replicates": n_boot, "undefined": int(u), "note": note}
         for m, v, lo, hi, u, note in rows], columns=list(INSTABILITY_COLUMNS))
    return table


def describe_instability(table: pd.DataFrame) -> str:
    """Two plain sentences on the instability table, with its numbers.

    Examples
    --------
    >>> t = pd.DataFrame({"measure": ["mape_mean", "interval_width_median", "bootstrap_slope"],
    ...                   "value": [0.08, 0.31, 1.2], "lower": [0.03, np.nan, 0.7],
    ...                   "upper": [0.14, np.nan, 2.1], "n_replicates": 200,
    ...                   "undefined": [0, 0, 2]})
    >>> print(describe_instability(t))  # doctest: +NORMALIZE_WHITESPACE
    Across 200 bootstrap models, a patient's predicted risk differs from the final model's by
    0.080 on average (mean absolute prediction error; 0.030-0.140 across patients), and the
    median width of a patient's 95% bootstrap range is 0.310. The calibration slopes of the
    bootstrap models on this cohort range from 0.70 to 2.10 (median 1.20; 2 without a slope):
    the spread a model developed on a cohort of this size can have in new patients.
    """
    rows = table.set_index("measure")
    mape, width, slope = (rows.loc[m] for m in ("mape_mean", "interval_width_median",
                                                 "bootstrap_slope"))
    undefined = int(slope["undefined"])
    missing = f"; {undefined} without a slope" if undefined else ""
    first = (f"Across {int(mape['n_replicates'])} bootstrap models, a patient's predicted risk "
             f"differs from the final model's by {mape['value']:.3f} on average (mean absolute "
             f"prediction error; {mape['lower']:.3f}-{mape['upper']:.3f} across patients), and "
             f"the median width of a patient's 95% bootstrap range is {width['value']:.3f}.")
    if not np.isfinite(slope["value"]):
        return first + " No bootstrap model has a calibration slope on this cohort."
    return (first + f" The calibration slopes of the bootstrap models on this cohort range from "
            f"{slope['lower']:.2f} to {slope['upper']:.2f} (median {slope['value']:.2f}"
            f"{missing}): the spread a model developed on a cohort of this size can have in "
            "new patients.")
