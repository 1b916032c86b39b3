"""Calibration of predicted treatment benefit: observed against predicted pair benefit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.benefit.validation import BENEFIT_CALIBRATION_COLUMNS
from analysis.errors import AnalysisError


def plot_benefit_calibration(
    groups_table: pd.DataFrame,
    *,
    intercept: float | None = None,
    slope: float | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (5.5, 5.0),
) -> Figure:
    """Observed against predicted benefit per group, with the ideal and the fitted line.

    Parameters
    ----------
    groups_table : pandas.DataFrame
        The groups table of :func:`analysis.benefit.validation.benefit_calibration`
        (columns ``predicted_benefit``, ``observed_benefit``, ``ci_lower``, ``ci_upper``).
    intercept, slope : float, optional
        The calibration-of-benefit line; drawn (and given in the legend) when both are
        finite.
    title : str, optional
        Axes title.
    figsize : tuple of float, default (5.5, 5.0)

    Returns
    -------
    matplotlib.figure.Figure
        One axes: the mean observed pair benefit of each group with its 95% CI against the
        mean predicted pair benefit, the dashed identity line (perfect calibration) and the
        fitted least-squares line; nothing is saved.

    Examples
    --------
    >>> t = pd.DataFrame({"group": [1, 2, 3], "n_pairs": [40, 40, 40],
    ...                   "predicted_benefit": [-0.1, 0.05, 0.2],
    ...                   "observed_benefit": [-0.05, 0.1, 0.15],
    ...                   "ci_lower": [-0.25, -0.1, -0.05], "ci_upper": [0.15, 0.3, 0.35]})
    >>> len(plot_benefit_calibration(t, intercept=0.02, slope=0.8).axes)
    1
    """
    if not isinstance(groups_table, pd.DataFrame):
        raise AnalysisError("groups_table must be a pandas DataFrame (benefit_calibration output)")
    needed = [c for c in BENEFIT_CALIBRATION_COLUMNS if c not in ("group", "n_pairs")]
    missing = [c for c in needed if c not in groups_table.columns]
    if missing:
        raise AnalysisError(f"groups_table lacks column(s) {missing}")
    x = groups_table["predicted_benefit"].to_numpy(dtype=float)
    obs = groups_table["observed_benefit"].to_numpy(dtype=float)
    lo = groups_table["ci_lower"].to_numpy(dtype=float)
    hi = groups_table["ci_upper"].to_numpy(dtype=float)

    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    finite = np.concatenate([v[np.isfinite(v)] for v in (x, obs, lo, hi)])
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
    else:
        low, high = -1.0, 1.0
    pad = 0.05 * max(high - low, 0.1)
    span = np.array([max(low - pad, -1.0), min(high + pad, 1.0)])
    ax.plot(span, span, linestyle="--", color="grey", linewidth=1, label="ideal")
    ax.axhline(0.0, color="lightgrey", linewidth=0.8)
    ax.axvline(0.0, color="lightgrey", linewidth=0.8)
    # (np.maximum: a missing CI draws no bar, a rounding-negative one no error)
    yerr = [np.maximum(np.nan_to_num(obs - lo), 0), np.maximum(np.nan_to_num(hi - obs), 0)]
    ax.errorbar(x, obs, yerr=yerr, fmt="o", capsize=3, color="C0",
                label="groups (95% CI)")
    if intercept is not None and slope is not None and np.isfinite([intercept, slope]).all():
        ax.plot(span, intercept + slope * span, color="C1", linewidth=1.5,
                label=f"fitted: intercept {intercept:.2f}, slope {slope:.2f}")
    ax.set_xlim(*span)
    ax.set_ylim(*span)
    ax.set_xlabel("Predicted benefit (mean of matched pair)")
    ax.set_ylabel("Observed benefit (option minus reference outcome)")
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    return fig
