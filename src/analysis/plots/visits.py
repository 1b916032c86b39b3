"""Trajectories of visit summaries with their confidence intervals."""

from __future__ import annotations

import pandas as pd

from analysis.errors import AnalysisError


def plot_trajectories(summary: pd.DataFrame, variable: str, *, label: str | None = None,
                      time_label: str = "time", figsize=(6.5, 4)):
    """Mean (numeric) or percent (binary) per visit with 95% CIs, one line per group."""
    from matplotlib.figure import Figure

    rows = summary[summary["variable"] == variable]
    if rows.empty:
        raise AnalysisError(f"plot_trajectories: no rows for {variable!r}")
    binary = rows["percent"].notna().any()
    fig = Figure(figsize=figsize)
    ax = fig.subplots()
    for i, (group, g) in enumerate(rows.groupby("group", sort=False)):
        y = g["percent"] if binary else g["mean"]
        keep = y.notna().to_numpy()
        offset = (i - 0.5 * (rows["group"].nunique() - 1)) * 0.15  # avoid overlapping bars
        ax.errorbar(g["time"][keep] + offset, y[keep],
                    yerr=[(y - g["ci_lower"])[keep], (g["ci_upper"] - y)[keep]],
                    marker="o", capsize=3, lw=1.5 if group != "Overall" else 2.5, label=group)
    ax.set(xlabel=time_label, ylabel=("% of patients" if binary else "mean") + " (95% CI)",
           title=label or variable)
    if binary:
        ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
