"""Permutation importance and per-patient contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.errors import AnalysisError
from analysis.explain.contributions import CONTRIBUTION_COLUMNS, require_frame_columns


def plot_importance(table: pd.DataFrame, *, labels: dict[str, str] | None = None,
                    figsize: tuple[float, float] | None = None) -> Figure:
    """Horizontal bars of permutation importance with their intervals, one panel per metric.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`permutation_importance_table`.
    labels : dict, optional
        Display label per variable.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
        Not saved; the most important variable is on top.

    Examples
    --------
    >>> t = pd.DataFrame({"variable": ["a", "b"], "metric": "roc_auc", "importance": [0.1, 0.0],
    ...                   "ci_lower": [0.05, -0.01], "ci_upper": [0.15, 0.01]})
    >>> len(plot_importance(t).axes)
    1
    """
    require_frame_columns(table, ["variable", "metric", "importance", "ci_lower", "ci_upper"], "table")
    labels = labels or {}
    metrics = list(dict.fromkeys(table["metric"]))
    n_vars = table["variable"].nunique()
    fig = Figure(figsize=figsize or (4.5 * len(metrics), 0.35 * n_vars + 1.5), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        t = table[table["metric"] == metric].sort_values("importance", kind="mergesort")
        y = np.arange(len(t))
        err = np.vstack([t["importance"] - t["ci_lower"], t["ci_upper"] - t["importance"]])
        ax.barh(y, t["importance"], xerr=err, color="#4C72B0", ecolor="0.3", capsize=2)
        ax.set_yticks(y, [labels.get(v, v) for v in t["variable"]])
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_xlabel(f"Permutation importance ({metric})")
    return fig


def plot_patient_contributions(df_for_one_patient: pd.DataFrame, *,
                               labels: dict[str, str] | None = None,
                               figsize: tuple[float, float] | None = None) -> Figure:
    """Waterfall of one patient's contributions from ``base_value`` to ``prediction``.

    Bars are ordered by absolute contribution (largest on top); each starts where the
    previous one ended, so the last ends at the patient's predicted probability.

    Parameters
    ----------
    df_for_one_patient : DataFrame
        The rows of :func:`patient_contributions` for one ``row``.
    labels : dict, optional
        Display label per variable.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
        Not saved.

    Examples
    --------
    >>> d = pd.DataFrame({"row": 0, "variable": ["a", "b"], "value": [1.0, "yes"],
    ...                   "contribution": [0.1, -0.05], "base_value": 0.3, "prediction": 0.35})
    >>> len(plot_patient_contributions(d).axes[0].patches)
    2
    """
    require_frame_columns(df_for_one_patient, CONTRIBUTION_COLUMNS, "df_for_one_patient")
    d = df_for_one_patient
    if d["row"].nunique() != 1:
        raise AnalysisError(
            "df_for_one_patient: must hold one patient, "
            f"got {d['row'].nunique()} distinct 'row' values")
    labels = labels or {}
    d = d.reindex(d["contribution"].abs().sort_values(ascending=False, kind="mergesort").index)
    base, pred = float(d["base_value"].iloc[0]), float(d["prediction"].iloc[0])
    starts = base + np.concatenate([[0.0], np.cumsum(d["contribution"].to_numpy())[:-1]])
    y = np.arange(len(d))[::-1]
    fig = Figure(figsize=figsize or (6.5, 0.4 * len(d) + 1.6), layout="constrained")
    ax = fig.subplots()
    colors = np.where(d["contribution"] >= 0, "#C44E52", "#4C72B0")
    ax.barh(y, d["contribution"], left=starts, color=colors)
    names = zip(d["variable"], d["value"], strict=True)
    ax.set_yticks(y, [f"{labels.get(v, v)} = {_show(x)}" for v, x in names])
    ax.axvline(base, color="0.5", ls="--", lw=0.8)
    ax.axvline(pred, color="0.1", lw=0.8)
    ax.set_xlabel(f"Predicted probability (average {base:.2f} -> this patient {pred:.2f})")
    ax.set_title(f"Contributions for {d['row'].iloc[0]}", loc="left", fontsize="medium")
    return fig


def _show(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, float | np.floating):
        return np.format_float_positional(float(value), precision=3, trim="-")
    return str(value)
