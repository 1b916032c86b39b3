"""The pre-specified, mechanical rule that selects one model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError


@dataclass(frozen=True)
class SelectionRule:
    """The pre-specified, mechanical rule that picks one model from a comparison table.

    1. Models in ``exclude`` (the intercept-only benchmark) are never candidates.
    2. A candidate is *eligible* when its calibration slope lies in ``slope_range``
       (inclusive); if no candidate is eligible, all candidates are used and the
       chosen model is flagged "needs recalibration" (notebook 06 then saves it
       recalibrated on its out-of-fold predictions: :mod:`analysis.models.recalibration`).
    3. Among eligible models take the highest AUC (the best); every eligible model with
       AUC >= best AUC - ``n_se`` x the best model's SE (column ``se_column``; if that is
       missing or NaN, ``auc_se``; if that too, no tolerance) is within one SE.
    4. Of those, the lowest complexity wins; ties go to the higher AUC, then to the
       earlier row.

    Parameters
    ----------
    se_column : str, default "auc_cv_se"
        Column with the standard error of the AUC used for the tolerance.
    n_se : float, default 1.0
        Tolerance in standard errors.
    slope_range : tuple of float, default (0.8, 1.2)
        Acceptable calibration slopes.
    exclude : tuple of str, default ("intercept_only",)
        Models that are benchmarks only.

    Examples
    --------
    >>> SelectionRule().describe()[:40]
    'Among the candidate models (all except t'
    """

    se_column: str = "auc_cv_se"
    n_se: float = 1.0
    slope_range: tuple[float, float] = (0.8, 1.2)
    exclude: tuple[str, ...] = ("intercept_only",)

    def describe(self) -> str:
        """One paragraph describing the rule, for the methods section of a report.

        Examples
        --------
        >>> "one standard error" in SelectionRule().describe()
        True
        """
        lo, hi = self.slope_range
        se_text = {
            "auc_cv_se": "the standard deviation of its per-fold cross-validated AUCs "
            "divided by the square root of the number of folds",
            "auc_se": "its DeLong standard error",
        }.get(self.se_column, f"column '{self.se_column}'")
        n_text = "one standard error" if self.n_se == 1 else f"{self.n_se:g} standard errors"
        excluded = ", ".join(self.exclude) if self.exclude else "none"
        return (
            f"Among the candidate models (all except the benchmark(s): {excluded}), models "
            f"whose calibration slope lay outside [{lo:g}, {hi:g}] were ineligible; among the "
            f"eligible models, the model with the highest cross-validated AUC was identified "
            f"and, following the {n_text} rule, the least complex model whose AUC was within "
            f"{n_text} of it (the best model's standard error being {se_text}) was selected, "
            f"ties in complexity going to the higher AUC. Complexity ranks: clinical score 0, "
            f"logistic and penalised logistic regression 1, support vector machine, random "
            f"forest and gradient boosting 3, neural network 4. Had no model been eligible, "
            f"the same rule would have been applied to all candidates and the chosen model "
            f"recalibrated (logistic recalibration on its out-of-fold predictions) before use."
        )


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
