"""Apply the pre-specified, mechanical rule that selects one model.

The rule itself, :class:`SelectionRule`, is study policy and lives with the study
settings (:mod:`analysis.study.settings`); it is re-exported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.study.settings import SelectionRule

__all__ = ["SelectionRule", "se_series", "select_model", "selected_model"]


def select_model(table: pd.DataFrame, *, rule: SelectionRule | None = None) -> pd.DataFrame:
    """Apply :class:`SelectionRule` to a comparison table.

    Parameters
    ----------
    table : pandas.DataFrame
        At least ``model, auc, calibration_slope, complexity`` and the rule's
        ``se_column``.
    rule : SelectionRule, optional
        Default :class:`SelectionRule()`.

    Returns
    -------
    pandas.DataFrame
        A copy with ``selected`` (True for exactly one row) and ``selection_note`` (the
        reason for every row).

    Raises
    ------
    AnalysisError
        If a column is missing, models repeat, or no row is a candidate.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["logistic", "random_forest"], "auc": [0.70, 0.72],
    ...                   "auc_cv_se": [0.03, 0.03], "calibration_slope": [0.95, 1.05],
    ...                   "complexity": [1, 3]})
    >>> select_model(t).set_index("model")["selected"].to_dict()
    {'logistic': True, 'random_forest': False}
    """
    rule = rule or SelectionRule()
    if not isinstance(table, pd.DataFrame):
        raise AnalysisError("table must be a DataFrame (the output of compare_models)")
    needed = ["model", "auc", "calibration_slope", "complexity"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise AnalysisError(f"table lacks column(s) {missing} needed by the selection rule")
    if table["model"].duplicated().any():
        raise AnalysisError("table: column 'model' must not repeat a model")
    out = table.copy().reset_index(drop=True)
    lo, hi = rule.slope_range
    auc = out["auc"].astype(float)
    slope = out["calibration_slope"].astype(float)
    se = se_series(out, rule.se_column)
    notes = [""] * len(out)
    candidate = ~out["model"].isin(rule.exclude) & np.isfinite(auc)
    for i in np.flatnonzero(out["model"].isin(rule.exclude).to_numpy()):
        notes[i] = "benchmark only: not a candidate"
    for i in np.flatnonzero((~out["model"].isin(rule.exclude) & ~np.isfinite(auc)).to_numpy()):
        notes[i] = "not a candidate: AUC unavailable"
    if not candidate.any():
        raise AnalysisError("table: no candidate model (every model is excluded or lacks an AUC)")
    eligible = candidate & slope.between(lo, hi)
    flag = not eligible.any()
    pool = candidate if flag else eligible
    for i in np.flatnonzero((candidate & ~eligible).to_numpy()):
        s = slope.iloc[i]
        slope_text = "undefined" if not np.isfinite(s) else f"{s:.2f}"
        notes[i] = f"ineligible: calibration slope {slope_text} outside [{lo:g}, {hi:g}]"
    idx = np.flatnonzero(pool.to_numpy())
    # best: highest AUC; ties -> lower complexity -> earlier row
    best = min(idx, key=lambda i: (-auc.iloc[i], out["complexity"].iloc[i], i))
    best_auc, best_se = float(auc.iloc[best]), float(se.iloc[best])
    tol = rule.n_se * best_se if np.isfinite(best_se) else 0.0
    bar = best_auc - tol
    within = [i for i in idx if auc.iloc[i] >= bar - 1e-12]
    chosen = min(within, key=lambda i: (out["complexity"].iloc[i], -auc.iloc[i], i))
    best_name = out["model"].iloc[best]
    cmp_text = (
        f"best AUC {best_auc:.3f} ({best_name}), one-SE bar {best_auc:.3f} - "
        f"{rule.n_se:g} x {best_se:.3f} = {bar:.3f}"
        if np.isfinite(best_se)
        else f"best AUC {best_auc:.3f} ({best_name}), SE unavailable: no tolerance"
    )
    for i in idx:
        if i == chosen:
            continue
        if auc.iloc[i] < bar - 1e-12:
            note = f"not selected: AUC {auc.iloc[i]:.3f} below the one-SE bar {bar:.3f}"
        else:
            note = (
                f"not selected: within one SE but {out['model'].iloc[chosen]} is simpler "
                f"or equally simple with a higher AUC"
            )
        notes[i] = (notes[i] + "; " if notes[i] else "") + note
    if chosen == best:
        reason = f"selected: highest AUC among {'candidates' if flag else 'eligible models'} "
        reason += f"and the simplest within one SE ({cmp_text})"
    else:
        reason = (
            f"selected: simplest model (complexity {out['complexity'].iloc[chosen]}) with AUC "
            f"{auc.iloc[chosen]:.3f} within one SE of the best ({cmp_text})"
        )
    if flag:
        reason = (notes[chosen] + "; " if notes[chosen] else "") + reason
        reason += "; needs recalibration: no model had a calibration slope in "
        reason += f"[{lo:g}, {hi:g}]"
    notes[chosen] = reason
    out["selected"] = False
    out.loc[chosen, "selected"] = True
    out["selection_note"] = notes
    return out


def se_series(table: pd.DataFrame, column: str) -> pd.Series:
    nan = pd.Series(np.nan, index=table.index)
    se = table[column].astype(float) if column in table.columns else nan
    if "auc_se" in table.columns:
        se = se.where(np.isfinite(se), table["auc_se"].astype(float))
    return se


def selected_model(table: pd.DataFrame) -> str:
    """The name of the model a comparison table marks as selected (column ``selected``).

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
