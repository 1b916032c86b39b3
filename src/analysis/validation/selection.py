"""Apply the pre-specified, mechanical rule that selects one model.

The rule itself, :class:`SelectionRule`, is study policy and lives with the study
settings (:mod:`analysis.study.settings`); it is re-exported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.study.settings import SelectionRule

__all__ = ["SelectionRule", "no_model_note", "se_series", "select_model", "selected_model"]


_SCORE_TEXT = {"log_loss": "log loss", "brier": "Brier score"}


def no_model_note(score: str) -> str:
    """The note of every row when no candidate beats the intercept-only benchmark.

    Examples
    --------
    >>> no_model_note("log_loss")
    'no model beats the intercept-only benchmark on cross-validated log_loss'
    """
    return f"no model beats the intercept-only benchmark on cross-validated {score}"


def select_model(table: pd.DataFrame, *, rule: SelectionRule | None = None) -> pd.DataFrame:
    """Apply :class:`SelectionRule` to a comparison table.

    Candidates are ranked by the cross-validated proper score ``rule.score`` (lower is
    better) with the one-SE rule toward simpler models; a candidate must beat the
    intercept-only benchmark (row ``rule.benchmark``) on that score, strictly.  When no
    candidate does, no row is selected and every ``selection_note`` starts with
    :func:`no_model_note`.  The AUC is not used.

    Parameters
    ----------
    table : pandas.DataFrame
        At least ``model, calibration_slope, complexity``, the score column
        (``log_loss`` or ``brier``), the benchmark's row, and optionally the rule's
        SE column (``<score>_cv_se`` by default).
    rule : SelectionRule, optional
        Default :class:`SelectionRule()`.

    Returns
    -------
    pandas.DataFrame
        A copy with ``selected`` (True for at most one row; none when no model beats
        the benchmark) and ``selection_note`` (the reason for every row).

    Raises
    ------
    AnalysisError
        If a column or the benchmark row is missing, models repeat, or no row is a
        candidate at all (every model is excluded or lacks the score).

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["intercept_only", "logistic", "random_forest"],
    ...                   "log_loss": [0.69, 0.60, 0.59], "log_loss_cv_se": [0.01, 0.02, 0.02],
    ...                   "calibration_slope": [np.nan, 0.95, 1.05], "complexity": [0, 1, 3]})
    >>> select_model(t).set_index("model")["selected"].to_dict()
    {'intercept_only': False, 'logistic': True, 'random_forest': False}
    """
    rule = rule or SelectionRule()
    if not isinstance(table, pd.DataFrame):
        raise AnalysisError("table must be a DataFrame (the output of compare_models)")
    score_name = rule.score
    needed = ["model", score_name, "calibration_slope", "complexity"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise AnalysisError(f"table lacks column(s) {missing} needed by the selection rule")
    if table["model"].duplicated().any():
        raise AnalysisError("table: column 'model' must not repeat a model")
    if rule.benchmark not in set(table["model"]):
        raise AnalysisError(
            f"table lacks the benchmark row {rule.benchmark!r}: the selection rule keeps only "
            f"models that beat it on cross-validated {score_name}, so include it in the "
            f"comparison"
        )
    out = table.copy().reset_index(drop=True)
    lo, hi = rule.slope_range
    score = out[score_name].astype(float)
    slope = out["calibration_slope"].astype(float)
    complexity = out["complexity"]
    se_col = rule.score_se_column
    se = out[se_col].astype(float) if se_col in out.columns else pd.Series(np.nan, out.index)
    text = _SCORE_TEXT[score_name]
    null = float(score[out["model"] == rule.benchmark].item())
    excluded = out["model"].isin(rule.exclude) | (out["model"] == rule.benchmark)
    notes = [""] * len(out)
    for i in np.flatnonzero(excluded.to_numpy()):
        notes[i] = "benchmark only: not a candidate"
    for i in np.flatnonzero((~excluded & ~np.isfinite(score)).to_numpy()):
        notes[i] = f"not a candidate: {text} unavailable"
    scored = ~excluded & np.isfinite(score)
    if not scored.any():
        raise AnalysisError(
            f"table: no candidate model (every model is excluded or lacks a {score_name})"
        )
    candidate = scored & (score < null) if np.isfinite(null) else scored
    out["selected"] = False
    if not candidate.any():
        head = no_model_note(score_name)
        for i in range(len(out)):
            detail = notes[i] or (
                f"{text} {score.iloc[i]:.4f} not below the benchmark's {null:.4f}"
            )
            notes[i] = f"{head}; {detail}"
        out["selection_note"] = notes
        return out
    for i in np.flatnonzero((scored & ~candidate).to_numpy()):
        notes[i] = (
            f"not a candidate: {text} {score.iloc[i]:.4f} does not beat the intercept-only "
            f"benchmark ({null:.4f})"
        )
    eligible = candidate & slope.between(lo, hi)
    flag = not eligible.any()
    pool = candidate if flag else eligible
    for i in np.flatnonzero((candidate & ~eligible).to_numpy()):
        s = slope.iloc[i]
        slope_text = "undefined" if not np.isfinite(s) else f"{s:.2f}"
        notes[i] = f"ineligible: calibration slope {slope_text} outside [{lo:g}, {hi:g}]"
    idx = np.flatnonzero(pool.to_numpy())
    # best: lowest score; ties -> lower complexity -> earlier row
    best = min(idx, key=lambda i: (score.iloc[i], complexity.iloc[i], i))
    best_score, best_se = float(score.iloc[best]), float(se.iloc[best])
    tol = rule.n_se * best_se if np.isfinite(best_se) else 0.0
    bar = best_score + tol
    within = [i for i in idx if score.iloc[i] <= bar + 1e-12]
    chosen = min(within, key=lambda i: (complexity.iloc[i], score.iloc[i], i))
    best_name = out["model"].iloc[best]
    cmp_text = (
        f"best {text} {best_score:.4f} ({best_name}), one-SE bar {best_score:.4f} + "
        f"{rule.n_se:g} x {best_se:.4f} = {bar:.4f}; intercept-only {null:.4f}"
        if np.isfinite(best_se)
        else f"best {text} {best_score:.4f} ({best_name}), SE unavailable: no tolerance; "
        f"intercept-only {null:.4f}"
    )
    for i in idx:
        if i == chosen:
            continue
        if score.iloc[i] > bar + 1e-12:
            note = f"not selected: {text} {score.iloc[i]:.4f} above the one-SE bar {bar:.4f}"
        else:
            note = (
                f"not selected: within one SE but {out['model'].iloc[chosen]} is simpler "
                f"or equally simple with a lower {text}"
            )
        notes[i] = (notes[i] + "; " if notes[i] else "") + note
    if chosen == best:
        reason = f"selected: lowest {text} among {'candidates' if flag else 'eligible models'} "
        reason += f"and the simplest within one SE ({cmp_text})"
    else:
        reason = (
            f"selected: simplest model (complexity {complexity.iloc[chosen]}) with {text} "
            f"{score.iloc[chosen]:.4f} within one SE of the best ({cmp_text})"
        )
    if flag:
        reason = (notes[chosen] + "; " if notes[chosen] else "") + reason
        reason += "; needs recalibration: no model had a calibration slope in "
        reason += f"[{lo:g}, {hi:g}]"
    notes[chosen] = reason
    out.loc[chosen, "selected"] = True
    out["selection_note"] = notes
    return out


def se_series(table: pd.DataFrame, column: str) -> pd.Series:
    """Column ``column`` of the table, NaN gaps filled from ``auc_se`` (AUC standard errors).

    Kept for callers of the former AUC-based rule; :func:`select_model` reads the SE of
    its score directly.

    Examples
    --------
    >>> t = pd.DataFrame({"auc_cv_se": [np.nan, 0.02], "auc_se": [0.05, 0.04]})
    >>> se_series(t, "auc_cv_se").tolist()
    [0.05, 0.02]
    """
    nan = pd.Series(np.nan, index=table.index)
    se = table[column].astype(float) if column in table.columns else nan
    if "auc_se" in table.columns:
        se = se.where(np.isfinite(se), table["auc_se"].astype(float))
    return se


def selected_model(table: pd.DataFrame) -> str:
    """The name of the model a comparison table marks as selected (column ``selected``).

    Raises :class:`~analysis.errors.AnalysisError` unless exactly one row is selected -
    including when the rule selected none because no model beats the intercept-only
    benchmark (check ``table["selected"].any()`` first).

    Examples
    --------
    >>> selected_model(pd.DataFrame({"model": ["a", "b"], "selected": [False, True]}))
    'b'
    """
    if not {"model", "selected"} <= set(table.columns):
        raise AnalysisError("table must have columns 'model' and 'selected' (see select_model)")
    chosen = table.loc[table["selected"].astype(bool), "model"]
    if len(chosen) != 1:
        raise AnalysisError(f"table: exactly one model must be selected, found {len(chosen)}")
    return str(chosen.item())
