"""The model comparison table from nested cross-validation.

Every number describes the models that were validated - one fitted model per outer
fold - not a bagged ensemble: each score is computed on one outer repeat's out-of-fold
predictions (every patient predicted once, by a model that did not see them), then
averaged over the repeats, with the spread over the repeats in ``<metric>_sd``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import (
    bootstrap_indices,
    classification_at_threshold,
    delong_auc,
    delong_test,
)
from analysis.evaluation.scores import SCORES, clipped_calibration, score_binary
from analysis.validation.resampling import NestedCVResult
from analysis.validation.selection import SelectionRule, select_model

__all__ = ["COMPARISON_COLUMNS", "SPREAD_METRICS", "compare_models", "repeat_probabilities"]

#: The first columns of :func:`compare_models`, in order.
COMPARISON_COLUMNS = (
    "model",
    "auc",
    "auc_ci_lower",
    "auc_ci_upper",
    "brier",
    "calibration_intercept",
    "calibration_slope",
    "ici",
    "selected",
)

#: Metrics whose spread over the outer repeats is reported as ``<metric>_sd``.
SPREAD_METRICS = ("auc", "brier", "log_loss", "calibration_intercept", "calibration_slope", "ici")

#: The :func:`analysis.evaluation.scores.score_binary` scores of each repeat (all of them).
_REPEAT_SCORES = SCORES
#: Scores with a bootstrap interval (unstratified, over patients).
_BOOT_SCORES = ("brier", "log_loss", "ici")
#: Per-fold scores whose SD / sqrt(K) is the ``<score>_cv_se`` of the one-SE rule.
_FOLD_SCORES = ("auc", "brier", "log_loss")


def repeat_probabilities(result: NestedCVResult) -> dict[str, np.ndarray]:
    """Each model's out-of-fold probabilities, one row per outer repeat.

    Parameters
    ----------
    result : NestedCVResult

    Returns
    -------
    dict of str to numpy.ndarray
        Model -> array ``(outer_repeats, n)``; row ``r``, column ``i`` is patient ``i``'s
        probability from the repeat-``r`` model that did not see them.

    Raises
    ------
    AnalysisError
        If a patient lacks a prediction in some repeat.

    Examples
    --------
    >>> pred = pd.DataFrame({"model": "m", "repeat": [0, 0, 1, 1], "fold": [0, 1, 1, 0],
    ...                      "row": [0, 1, 0, 1], "y": [0, 1, 0, 1],
    ...                      "probability": [0.2, 0.6, 0.4, 0.8]})
    >>> meta = pd.DataFrame({"model": ["m"], "label": ["m"], "complexity": [1],
    ...                      "constant": [False]})
    >>> repeat_probabilities(NestedCVResult(pred, pd.DataFrame(), meta, {"n": 2}))["m"].tolist()
    [[0.2, 0.6], [0.4, 0.8]]
    """
    if not isinstance(result, NestedCVResult):
        raise AnalysisError("result must be a NestedCVResult from nested_cv")
    pred = result.predictions
    n = int(result.settings.get("n", pred["row"].nunique()))
    out = {}
    for name in result.model_names:
        wide = (
            pred[pred["model"] == name]
            .pivot_table(index="repeat", columns="row", values="probability", aggfunc="mean")
            .reindex(columns=range(n))
        )
        if wide.empty or wide.isna().to_numpy().any():
            raise AnalysisError(f"result: model {name!r} lacks out-of-fold predictions")
        out[name] = wide.to_numpy(dtype=float)
    return out


def _mean(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else np.nan


def _sd(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1)) if v.size > 1 else np.nan


def _boot_interval(y: np.ndarray, P: np.ndarray, idx: np.ndarray) -> dict[str, tuple]:
    """Percentile intervals of the repeat-averaged Brier, log loss and ICI over resamples."""
    values = np.full((idx.shape[0], len(_BOOT_SCORES)), np.nan)
    with warnings.catch_warnings():
        # lowess on a resample with few distinct probabilities (the intercept-only model)
        warnings.simplefilter("ignore", RuntimeWarning)
        for b, i in enumerate(idx):
            per_repeat = [score_binary(y[i], p[i], metrics=_BOOT_SCORES) for p in P]
            values[b] = [_mean([s[m] for s in per_repeat]) for m in _BOOT_SCORES]
    out = {}
    for k, m in enumerate(_BOOT_SCORES):
        v = values[:, k][np.isfinite(values[:, k])]
        out[m] = tuple(np.quantile(v, [0.025, 0.975])) if v.size >= 2 else (np.nan, np.nan)
    return out


def compare_models(
    result: NestedCVResult,
    y,
    *,
    reference: str | None = "logistic",
    threshold: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
    rule: SelectionRule | None = None,
) -> pd.DataFrame:
    """Compare the models on their out-of-fold predictions, repeat by repeat.

    For every model and every outer repeat ``r``, ``p_r`` holds each patient's
    out-of-fold probability from that repeat (:func:`repeat_probabilities`).  Each score
    is computed on ``(y, p_r)`` and the column is its mean over the repeats; the
    ``<metric>_sd`` columns (:data:`SPREAD_METRICS`) are the standard deviation over the
    repeats (NaN with a single repeat).  Scores are never computed on probabilities
    averaged over repeats: that average is a bagged ensemble of the fold models, not a
    model that was validated, and its calibration slope is inflated.

    ======================================  ================================================
    column                                  definition
    ======================================  ================================================
    ``auc``, ``auc_ci_lower/upper``,        DeLong (:func:`analysis.evaluation.metrics.delong_auc`)
    ``auc_se``                              on each ``p_r``; AUC, SE and both bounds
                                            averaged over the repeats (the repeats share the
                                            patients, so the average interval has about the
                                            width of one repeat's interval, not narrower)
    ``auc_cv_se``, ``brier_cv_se``,         SD of the per-fold scores over all
    ``log_loss_cv_se``                      ``outer_splits x outer_repeats`` outer folds,
                                            divided by ``sqrt(outer_splits)`` - the
                                            standard error of a K-fold CV estimate used by
                                            the one-SE rule (Hastie et al., ESL 7.10).
                                            Dividing by ``sqrt(K)`` rather than
                                            ``sqrt(K x repeats)`` is deliberate: repeats
                                            reuse the same patients.
    ``brier``, ``scaled_brier``,            :func:`analysis.evaluation.scores.score_binary`
    ``log_loss``, ``ici``, ``e50, e90``     per repeat, averaged
    ``brier_ci_*``, ``log_loss_ci_*``,      percentile interval of the repeat-averaged score
    ``ici_ci_*``                            over an *unstratified* bootstrap of patients
                                            (:func:`analysis.evaluation.metrics.bootstrap_indices`,
                                            ``default_rng(seed)``, ``n_boot`` resamples, the
                                            same resampled patients in every repeat and
                                            for every model; NaN if ``n_boot=0``)
    ``calibration_intercept/slope`` + CIs   :func:`analysis.evaluation.scores.clipped_calibration`
                                            per repeat; estimates and Wald bounds averaged
    ``<metric>_sd``                         SD over the repeats of :data:`SPREAD_METRICS`
    ``sensitivity ... npv``                 at ``p_r >= threshold``, averaged
    ``delong_p_vs_reference``               paired DeLong test against ``reference``: the
                                            AUC difference and its SE are averaged over the
                                            repeats, ``p = 2 Phi(-|diff| / SE)``
    ``complexity``                          the spec's rank
    ``n_repeats``                           number of outer repeats averaged
    ``selected``, ``selection_note``        :func:`select_model` with ``rule``
    ======================================  ================================================

    A model that predicts the prevalence (``intercept_only``) has ``auc = 0.5`` by
    definition (its out-of-fold predictions vary only through fold-to-fold differences in
    the training prevalence, which would give a spurious AUC), NaN AUC uncertainty, NaN
    DeLong p-value and an undefined (NaN) calibration slope; its Brier score and log loss
    are the benchmark of the selection rule.

    Parameters
    ----------
    result : NestedCVResult
    y : array_like
        The outcome given to :func:`nested_cv` (checked against the stored one).
    reference : str or None, default "logistic"
        Model the DeLong p-values compare against (NaN column when None).
    threshold : float, optional
        Risk threshold for sensitivity etc.; default the outcome prevalence.
    n_boot : int, default 200
        Bootstrap resamples for the Brier, log loss and ICI intervals (0 to skip).
    seed : int, default 0
        Bootstrap seed (the same resamples for every model).
    rule : SelectionRule, optional
        Selection rule; default :class:`SelectionRule()`.

    Returns
    -------
    pandas.DataFrame
        One row per model, first columns exactly :data:`COMPARISON_COLUMNS`.

    Raises
    ------
    AnalysisError
        If ``y`` does not match the result, ``reference`` is not a model, or
        ``threshold`` / ``n_boot`` are invalid.

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> from analysis.validation.resampling import nested_cv
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    >>> zoo = model_zoo({"x": {"type": "numeric"}}, ["x"], include=["intercept_only", "logistic"])
    >>> r = nested_cv(zoo, X, y, outer_splits=4, outer_repeats=2, n_jobs=1, progress=False)
    >>> t = compare_models(r, y, n_boot=0)
    >>> t.loc[t["selected"], "model"].tolist()
    ['logistic']
    """
    if not isinstance(result, NestedCVResult):
        raise AnalysisError("result must be a NestedCVResult from nested_cv")
    probs = repeat_probabilities(result)
    yy = np.asarray(y)
    stored = result.predictions.drop_duplicates("row").sort_values("row")["y"].to_numpy()
    if yy.shape != stored.shape or not np.array_equal(yy.astype(float), stored.astype(float)):
        raise AnalysisError("y does not match the outcomes stored in result (same order needed)")
    yi = stored.astype(int)
    names = result.model_names
    if reference is not None and reference not in names:
        raise AnalysisError(f"reference {reference!r} is not one of the models {names}")
    prevalence = float(yi.mean())
    if threshold is None:
        threshold = prevalence
    if not (isinstance(threshold, int | float) and 0 <= threshold <= 1):
        raise AnalysisError(f"threshold must be a number in [0, 1], got {threshold!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot in (1,):
        raise AnalysisError(f"n_boot must be 0 or an integer >= 2, got {n_boot!r}")
    if n_boot < 0:
        raise AnalysisError(f"n_boot must be 0 or an integer >= 2, got {n_boot!r}")
    meta = result.models.set_index("model")
    k = result.settings["outer_splits"]
    fold_scores = (
        result.predictions.groupby(["model", "repeat", "fold"], sort=False)[["y", "probability"]]
        .apply(
            lambda g: pd.Series(
                score_binary(g["y"].to_numpy(), g["probability"].to_numpy(), metrics=_FOLD_SCORES)
            )
        )
        .reset_index()
    )
    idx = bootstrap_indices(yi.size, int(n_boot), np.random.default_rng(seed)) if n_boot else None
    rows = []
    for name in names:
        P = probs[name]
        constant = bool(meta.loc[name, "constant"])
        per = [score_binary(yi, p, metrics=_REPEAT_SCORES) for p in P]
        rep = {m: np.array([s[m] for s in per], dtype=float) for m in _REPEAT_SCORES}
        folds = fold_scores[fold_scores["model"] == name]
        cv_se = {
            m: _sd(folds[m]) / np.sqrt(k) if folds[m].notna().sum() > 1 else np.nan
            for m in _FOLD_SCORES
        }
        row: dict = {"model": name}
        if constant:
            rep["auc"] = np.full(len(P), 0.5)
            rep["calibration_slope"] = np.full(len(P), np.nan)
            row.update(auc=0.5, auc_ci_lower=np.nan, auc_ci_upper=np.nan, auc_se=np.nan)
            cv_se["auc"] = np.nan
        else:
            ds = [delong_auc(yi, p) for p in P]
            row.update(
                auc=_mean(rep["auc"]),
                auc_ci_lower=_mean([d.ci_lower for d in ds]),
                auc_ci_upper=_mean([d.ci_upper for d in ds]),
                auc_se=_mean([d.se for d in ds]),
            )
        row["auc_cv_se"] = cv_se["auc"]
        cal = [clipped_calibration(yi, p).set_index("metric") for p in P]

        def cal_mean(metric: str, column: str, cal=cal) -> float:
            return _mean([c.loc[metric, column] for c in cal])

        row["brier"] = _mean(rep["brier"])
        row["calibration_intercept"] = _mean(rep["calibration_intercept"])
        row["calibration_slope"] = _mean(rep["calibration_slope"])
        row["ici"] = _mean(rep["ici"])
        row["selected"] = False
        row["scaled_brier"] = _mean(rep["scaled_brier"])
        row["log_loss"] = _mean(rep["log_loss"])
        row["brier_cv_se"] = cv_se["brier"]
        row["log_loss_cv_se"] = cv_se["log_loss"]
        if idx is not None:
            ci = _boot_interval(yi, P, idx)
        else:
            ci = dict.fromkeys(_BOOT_SCORES, (np.nan, np.nan))
        row["brier_ci_lower"], row["brier_ci_upper"] = ci["brier"]
        row["ici_ci_lower"], row["ici_ci_upper"] = ci["ici"]
        row["log_loss_ci_lower"], row["log_loss_ci_upper"] = ci["log_loss"]
        slope_ci = (
            (np.nan, np.nan)
            if constant
            else (
                cal_mean("calibration_slope", "ci_lower"),
                cal_mean("calibration_slope", "ci_upper"),
            )
        )
        row.update(
            calibration_intercept_ci_lower=cal_mean("calibration_intercept", "ci_lower"),
            calibration_intercept_ci_upper=cal_mean("calibration_intercept", "ci_upper"),
            calibration_slope_ci_lower=slope_ci[0],
            calibration_slope_ci_upper=slope_ci[1],
            e50=_mean(rep["e50"]),
            e90=_mean(rep["e90"]),
        )
        for m in SPREAD_METRICS:
            row[f"{m}_sd"] = _sd(rep[m])
        cls = [
            classification_at_threshold(yi, p, float(threshold)).set_index("metric")["estimate"]
            for p in P
        ]
        row.update(
            {m: _mean([c[m] for c in cls]) for m in ("sensitivity", "specificity", "ppv", "npv")}
        )
        row["threshold"] = float(threshold)
        if reference is None or name == reference or constant:
            row["delong_p_vs_reference"] = np.nan
        else:
            tests = [delong_test(yi, p, q) for p, q in zip(P, probs[reference], strict=True)]
            diff, se = _mean([t.difference for t in tests]), _mean([t.se for t in tests])
            if se > 0:
                row["delong_p_vs_reference"] = float(2 * stats.norm.sf(abs(diff) / se))
            else:
                row["delong_p_vs_reference"] = 1.0 if diff == 0 else 0.0
        row["complexity"] = meta.loc[name, "complexity"]
        row["label"] = meta.loc[name, "label"]
        row["n"] = int(yi.size)
        row["events"] = int(yi.sum())
        row["n_repeats"] = int(len(P))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["selection_note"] = ""
    rest = [c for c in table.columns if c not in COMPARISON_COLUMNS]
    table = table[list(COMPARISON_COLUMNS) + rest]
    return select_model(table, rule=rule or SelectionRule())
