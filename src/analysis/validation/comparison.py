"""The model comparison table from nested cross-validation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import (
    bootstrap_ci,
    brier_score,
    classification_at_threshold,
    delong_auc,
    delong_test,
)
from analysis.evaluation.scores import clipped_calibration, score_binary
from analysis.validation.resampling import NestedCVResult, oof_probabilities
from analysis.validation.selection import SelectionRule, select_model

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

#: The :func:`analysis.evaluation.scores.score_binary` scores of each comparison row.
_ROW_SCORES = ("brier", "scaled_brier", "log_loss", "ici", "e50", "e90")


def _fold_auc(y: np.ndarray, p: np.ndarray) -> float:
    return score_binary(y, p, metrics=["auc"])["auc"]


def _ici(y: np.ndarray, p: np.ndarray) -> float:
    return score_binary(y, p, metrics=["ici"])["ici"]


def _ici_interval(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the ICI; NaN when fewer than 2 resamples define it."""
    try:
        b = bootstrap_ci(_ici, y, p, n_boot=n_boot, seed=seed)
    except AnalysisError:
        return np.nan, np.nan
    return b.ci_lower, b.ci_upper


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
    """Compare the models on their repeat-averaged out-of-fold probabilities.

    For every model, ``p`` = :func:`oof_probabilities` (each patient's out-of-fold
    probability averaged over the outer repeats) and:

    ======================================  ================================================
    column                                  definition
    ======================================  ================================================
    ``auc``, ``auc_ci_lower/upper``,        DeLong (:func:`analysis.evaluation.metrics.delong_auc`)
    ``auc_se``                              on ``p``
    ``auc_cv_se``                           SD of the per-fold AUCs over all
                                            ``outer_splits x outer_repeats`` outer folds,
                                            divided by ``sqrt(outer_splits)`` - the
                                            standard error of a K-fold CV estimate used by
                                            the one-SE rule (Hastie et al., ESL 7.10).
                                            Dividing by ``sqrt(K)`` rather than
                                            ``sqrt(K x repeats)`` is deliberate: repeats
                                            reuse the same patients.
    ``brier``, ``scaled_brier``,            :func:`analysis.evaluation.scores.score_binary`;
    ``log_loss``, ``brier_ci_*``            Brier and ICI CIs by a stratified percentile
                                            bootstrap of ``p`` (``n_boot``, ``seed``; NaN if
                                            ``n_boot=0`` or undefined)
    ``calibration_intercept/slope`` + CIs   :func:`analysis.evaluation.scores.clipped_calibration`
    ``ici, e50, e90``, ``ici_ci_*``         :func:`analysis.evaluation.scores.score_binary`
    ``sensitivity ... npv``                 at ``p >= threshold``
    ``delong_p_vs_reference``               paired DeLong test against ``reference``
    ``complexity``                          the spec's rank
    ``selected``, ``selection_note``        :func:`select_model` with ``rule``
    ======================================  ================================================

    A model that predicts the prevalence (``intercept_only``) has ``auc = 0.5`` by
    definition (its out-of-fold predictions vary only through fold-to-fold differences in
    the training prevalence, which would give a spurious AUC), NaN AUC uncertainty, NaN
    DeLong p-value and an undefined (NaN) calibration slope.

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
        Bootstrap resamples for the Brier and ICI intervals (0 to skip).
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
    >>> r = nested_cv(zoo, X, y, outer_splits=4, outer_repeats=1, n_jobs=1, progress=False)
    >>> t = compare_models(r, y, n_boot=0)
    >>> t.loc[t["selected"], "model"].tolist()
    ['logistic']
    """
    if not isinstance(result, NestedCVResult):
        raise AnalysisError("result must be a NestedCVResult from nested_cv")
    oof = oof_probabilities(result)
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
    fold_auc = (
        result.predictions.groupby(["model", "repeat", "fold"], sort=False)[["y", "probability"]]
        .apply(lambda g: _fold_auc(g["y"].to_numpy(), g["probability"].to_numpy()))
        .rename("auc")
        .reset_index()
    )
    rows = []
    for name in names:
        p = oof[name].to_numpy(dtype=float)
        constant = bool(meta.loc[name, "constant"])
        row: dict = {"model": name}
        if constant:
            row.update(
                auc=0.5, auc_ci_lower=np.nan, auc_ci_upper=np.nan, auc_se=np.nan, auc_cv_se=np.nan
            )
        else:
            a = delong_auc(yi, p)
            fa = fold_auc.loc[fold_auc["model"] == name, "auc"].dropna().to_numpy()
            cv_se = float(np.std(fa, ddof=1) / np.sqrt(k)) if fa.size > 1 else np.nan
            row.update(
                auc=a.auc,
                auc_ci_lower=a.ci_lower,
                auc_ci_upper=a.ci_upper,
                auc_se=a.se,
                auc_cv_se=cv_se,
            )
        scores = score_binary(yi, p, metrics=_ROW_SCORES)
        cal = clipped_calibration(yi, p).set_index("metric")
        ci, cl, cu = cal.loc["calibration_intercept", ["estimate", "ci_lower", "ci_upper"]]
        cs, sl, su = cal.loc["calibration_slope", ["estimate", "ci_lower", "ci_upper"]]
        if constant:
            cs = sl = su = np.nan
        row["brier"] = scores["brier"]
        row["calibration_intercept"] = float(ci)
        row["calibration_slope"] = float(cs)
        row["ici"] = scores["ici"]
        row["selected"] = False
        row["scaled_brier"] = scores["scaled_brier"]
        row["log_loss"] = scores["log_loss"]
        if n_boot:
            b = bootstrap_ci(brier_score, yi, p, n_boot=int(n_boot), seed=seed)
            row["brier_ci_lower"], row["brier_ci_upper"] = b.ci_lower, b.ci_upper
            row["ici_ci_lower"], row["ici_ci_upper"] = _ici_interval(yi, p, int(n_boot), seed)
        else:
            row.update(
                brier_ci_lower=np.nan,
                brier_ci_upper=np.nan,
                ici_ci_lower=np.nan,
                ici_ci_upper=np.nan,
            )
        row.update(
            calibration_intercept_ci_lower=float(cl),
            calibration_intercept_ci_upper=float(cu),
            calibration_slope_ci_lower=float(sl),
            calibration_slope_ci_upper=float(su),
            e50=scores["e50"],
            e90=scores["e90"],
        )
        cls = classification_at_threshold(yi, p, float(threshold)).set_index("metric")["estimate"]
        row.update({m: float(cls[m]) for m in ("sensitivity", "specificity", "ppv", "npv")})
        row["threshold"] = float(threshold)
        if reference is None or name == reference or constant:
            row["delong_p_vs_reference"] = np.nan
        else:
            row["delong_p_vs_reference"] = delong_test(yi, p, oof[reference].to_numpy()).p_value
        row["complexity"] = meta.loc[name, "complexity"]
        row["label"] = meta.loc[name, "label"]
        row["n"] = int(yi.size)
        row["events"] = int(yi.sum())
        rows.append(row)
    table = pd.DataFrame(rows)
    table["selection_note"] = ""
    rest = [c for c in table.columns if c not in COMPARISON_COLUMNS]
    table = table[list(COMPARISON_COLUMNS) + rest]
    return select_model(table, rule=rule or SelectionRule())
