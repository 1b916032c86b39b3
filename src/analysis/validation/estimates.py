"""Which estimate describes the shipped model: nested cross-validation for memorising learners.

Harrell's bootstrap refits the model on resamples that hold each patient about 1.6 times on
average. A learner that memorises its training data (forests, boosting, SVMs, neural networks:
complexity >= 3) then sees duplicates of its test-like patients inside its own inner
cross-validation (tuning, Platt scaling), and its bootstrap performance - .632+ or out of bag -
is distorted: the calibration slope of an SVM whose nested cross-validated slope is 0.96 comes
out near 0.3. For such learners the honest estimate of the model that is shipped is the nested
cross-validation of notebook 05 (every score per outer repeat, then averaged), which refits
the whole pipeline on patients it has never seen duplicated. :func:`prefer_nested_cv` puts
that estimate in the ``corrected`` column of the validation table and keeps the bootstrap's
estimate beside it (``bootstrap_corrected``), so the table, the ship gate, the model card and
``model.json`` all describe the same numbers.

The same holds for the *calibration* of a model whose penalty is tuned by inner
cross-validation (lasso, elastic net, the flexible model; bootstrap method
``"Harrell optimism, penalty re-tuned in every replicate"``): Harrell's slope optimism
assumes the apparent slope is 1, as it is for a maximum-likelihood fit; a penalised model's
apparent slope is above 1 and varies with the penalty each replicate chooses, so
``apparent - mean(boot - test)`` is not an estimate of its miscalibration (a ridge model
with apparent slope 3.4 came out at 0.05 on a demo cohort). Its calibration intercept,
slope and shrinkage come from the nested cross-validation too; its AUC, Brier score and
log loss stay Harrell's.

When the shipped model is recalibrated, nested cross-validation (of the model before
recalibration) no longer describes it, and the bootstrap that validated "fit + recalibrate"
stays the estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

__all__ = ["NESTED_CV_METRICS", "TUNED_METHOD", "TUNED_METRICS", "prefer_nested_cv"]

#: Validation-table metric -> the model-comparison column holding its nested-CV estimate.
NESTED_CV_METRICS = {
    "auc": "auc",
    "brier": "brier",
    "scaled_brier": "scaled_brier",
    "log_loss": "log_loss",
    "calibration_intercept": "calibration_intercept",
    "calibration_slope": "calibration_slope",
    "shrinkage": "calibration_slope",
    "ici": "ici",
}

#: Bootstrap methods that mark a memorising learner's rows (see ``bootstrap_optimism``).
MEMORISING_METHODS = (".632+", "out-of-bag")
#: The bootstrap method of a model whose penalty is re-tuned in every replicate, and the
#: metrics of its rows that the nested cross-validation describes instead.
TUNED_METHOD = "penalty re-tuned in every replicate"
TUNED_METRICS = ("calibration_intercept", "calibration_slope", "shrinkage")


def prefer_nested_cv(validation: pd.DataFrame, comparison: pd.DataFrame, *, model: str,
                     recalibrated: bool) -> pd.DataFrame:
    """The validation table with nested-CV estimates as ``corrected`` where the bootstrap fails.

    Rows of ``model`` whose ``method`` is a .632+ or out-of-bag bootstrap estimate, and the
    calibration rows (:data:`TUNED_METRICS`) of a model whose penalty is re-tuned in every
    replicate (:data:`TUNED_METHOD`), get
    ``corrected`` = the model's nested cross-validated value from ``comparison`` (notebook
    05's table: per-repeat mean), ``optimism`` = ``apparent - corrected``, the bootstrap's
    value moved to ``bootstrap_corrected`` and a ``method`` that says so. Other rows (and
    every row when the shipped model is ``recalibrated``) are unchanged, with
    ``bootstrap_corrected`` equal to ``corrected``.

    Parameters
    ----------
    validation : DataFrame
        ``bootstrap_optimism`` output (``model, metric, apparent, optimism, corrected, method``).
    comparison : DataFrame
        ``compare_models`` output (one row per model).
    model : str
        The shipped (or audited) model.
    recalibrated : bool
        Whether the shipped model is recalibrated (then the bootstrap stays the estimate).

    Returns
    -------
    DataFrame
        The same rows and columns, plus ``bootstrap_corrected``.

    Examples
    --------
    >>> v = pd.DataFrame({"model": ["svm"], "metric": ["calibration_slope"], "apparent": [1.3],
    ...                   "optimism": [1.0], "corrected": [0.3],
    ...                   "method": ["out-of-bag bootstrap (.632+ undefined for this metric)"]})
    >>> c = pd.DataFrame({"model": ["svm"], "calibration_slope": [0.96]})
    >>> out = prefer_nested_cv(v, c, model="svm", recalibrated=False)
    >>> out[["corrected", "bootstrap_corrected"]].round(2).values.tolist()
    [[0.96, 0.3]]
    """
    missing = {"model", "metric", "apparent", "optimism", "corrected", "method"} - set(validation)
    if missing:
        raise AnalysisError(f"validation table: missing column(s) {sorted(missing)}")
    if "model" not in comparison or model not in set(comparison["model"]):
        raise AnalysisError(f"model {model!r} is not in the model comparison table")
    out = validation.copy()
    out["bootstrap_corrected"] = out["corrected"]
    if recalibrated:
        return out
    cv = comparison.set_index("model").loc[model]
    method = out["method"].astype(str)
    memorising = method.map(lambda m: any(k in m for k in MEMORISING_METHODS))
    tuned = method.str.contains(TUNED_METHOD, regex=False) & out["metric"].isin(TUNED_METRICS)
    rows = (out["model"] == model) & (memorising | tuned) & out["metric"].isin(list(NESTED_CV_METRICS))
    for i in np.flatnonzero(rows.to_numpy()):
        column = NESTED_CV_METRICS[out.iloc[i]["metric"]]
        if column not in cv.index or not np.isfinite(float(cv[column])):
            continue
        value = float(cv[column])
        label = out.index[i]
        out.loc[label, "corrected"] = value
        out.loc[label, "optimism"] = float(out.loc[label, "apparent"]) - value
        why = ("a penalised model's apparent slope is not 1, so Harrell's calibration optimism "
               "does not estimate its miscalibration" if tuned.iloc[i] else
               "the learner memorises its training data")
        out.loc[label, "method"] = (
            f"nested cross-validation (per-repeat mean; {why}, so the bootstrap's "
            f"{out.loc[label, 'method']} estimate is in bootstrap_corrected)")
    return out
