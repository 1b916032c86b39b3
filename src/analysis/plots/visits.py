"""Trajectories of visit summaries with their confidence intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError


def set_visit_axis(ax, times: Sequence[float], time_label: str = "Week") -> None:
    """Ticks of a visit axis exactly at the visit ``times`` (as ``0, 4, 8``), and its label.

    The one place the visit figures (:mod:`analysis.plots.visits`, ``endpoints``,
    ``mixed_model``) set their x axis, so no figure shows 7.5 or 12.5.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> set_visit_axis(ax, [0, 4, 8, 12, 24])
    >>> ax.get_xticks().tolist(), [t.get_text() for t in ax.get_xticklabels()], ax.get_xlabel()
    ([0.0, 4.0, 8.0, 12.0, 24.0], ['0', '4', '8', '12', '24'], 'Week')
    """
    from matplotlib.ticker import NullLocator

    times = np.sort(np.unique(np.asarray(times, dtype=float)))
    span = float(times[-1] - times[0]) if len(times) > 1 else 1.0
    ax.set_xticks(times, labels=[f"{t:g}" for t in times])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(times[0] - 0.05 * span, times[-1] + 0.05 * span)
    ax.set_xlabel(time_label)


def plot_trajectories(summary: pd.DataFrame, variable: str, *, label: str | None = None,
                      time_label: str = "time", figsize=(6.5, 4),
                      group_labels: Mapping[str, str] | None = None,
                      labels: Mapping[str, str] | None = None, times: Sequence[float] | None = None):
    """Mean (numeric) or percent (binary) per visit with 95% CIs, one line per group.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`analysis.describe.visits.visit_summary`.
    variable : str
        Visit variable to draw.
    label : str, optional
        Title; default ``labels[variable]``, else the variable name.
    time_label : str, default "time"
        Label of the x axis, whose ticks sit exactly at the visit times.
    figsize : tuple of float
    group_labels : mapping of str to str, optional
        Legend label per group code (:func:`analysis.formatting.level_labels`).
    labels : mapping of str to str, optional
        Display label per column (:func:`analysis.formatting.codebook_labels`).
    times : sequence of float, optional
        Visit times for the ticks; default: the times in the summary.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> s = pd.DataFrame({"variable": "crp", "group": "a_b", "time": [0, 4, 12], "n": 5,
    ...                   "mean": [3.0, 2.0, 1.5], "percent": np.nan, "ci_lower": [2.0, 1.0, 1.0],
    ...                   "ci_upper": [4.0, 3.0, 2.0]})
    >>> fig = plot_trajectories(s, "crp", labels={"crp": "CRP (mg/L)"}, group_labels={"a_b": "A+B"})
    >>> ax = fig.axes[0]
    >>> ax.get_xticks().tolist(), ax.get_title(), [t.get_text() for t in ax.get_legend().texts]
    ([0.0, 4.0, 12.0], 'CRP (mg/L)', ['A+B'])
    """
    from matplotlib.figure import Figure

    rows = summary[summary["variable"] == variable]
    if rows.empty:
        raise AnalysisError(f"plot_trajectories: no rows for {variable!r}")
    group_labels = dict(group_labels or {})
    binary = rows["percent"].notna().any()
    visit_times = np.sort(pd.unique(rows["time"]).astype(float)) if times is None else times
    span = float(np.ptp(np.asarray(visit_times, dtype=float))) or 1.0
    fig = Figure(figsize=figsize)
    ax = fig.subplots()
    n_groups = rows["group"].nunique()
    for i, (group, g) in enumerate(rows.groupby("group", sort=False)):
        y = g["percent"] if binary else g["mean"]
        keep = y.notna().to_numpy()
        offset = (i - 0.5 * (n_groups - 1)) * 0.012 * span  # avoid overlapping bars
        ax.errorbar(g["time"][keep] + offset, y[keep],
                    yerr=[(y - g["ci_lower"])[keep], (g["ci_upper"] - y)[keep]],
                    marker="o", capsize=3, lw=1.5 if group != "Overall" else 2.5,
                    label=str(group_labels.get(str(group), group)))
    set_visit_axis(ax, visit_times, time_label)
    ax.set(ylabel=("% of patients" if binary else "mean") + " (95% CI)",
           title=label or (labels or {}).get(variable, variable))
    if binary:
        ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
