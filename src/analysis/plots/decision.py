"""Decision curves (net benefit against threshold)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from analysis.errors import AnalysisError


def plot_decision_curve(
    df: pd.DataFrame,
    *,
    ylim: tuple[float, float] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (7.0, 5.0),
) -> Figure:
    """Plot net benefit against threshold for every model in a decision-curve table.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`decision_curve` (columns ``model, threshold, net_benefit``).
    ylim : tuple of float, optional
        Y-axis limits; default from ``-0.05 * top`` to ``top``, where ``top`` is 5%
        above the largest net benefit (treat-all dives far below 0 at high thresholds).
    title : str, optional
        Axes title.
    figsize : tuple of float, default (7.0, 5.0)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one line per model (``all`` and ``none`` drawn in grey/black);
        nothing is saved.

    Examples
    --------
    >>> from analysis.evaluation.decision import decision_curve
    >>> df = decision_curve([1, 0, 1, 0], {"m": [0.9, 0.6, 0.4, 0.1]}, [0.25, 0.5])
    >>> len(plot_decision_curve(df).axes[0].lines)
    3
    """
    needed = {"model", "threshold", "net_benefit"}
    if not isinstance(df, pd.DataFrame) or not needed <= set(df.columns) or df.empty:
        raise AnalysisError(f"df must be a non-empty DataFrame with columns {sorted(needed)}")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    styles = {"all": {"color": "grey", "linewidth": 1}, "none": {"color": "black", "linewidth": 1}}
    for name, part in df.groupby("model", sort=False):
        part = part.sort_values("threshold")
        label = {"all": "Treat all", "none": "Treat none"}.get(name, name)
        ax.plot(
            part["threshold"],
            part["net_benefit"],
            label=label,
            **styles.get(name, {"linewidth": 2}),
        )
    if ylim is None:
        top = max(float(df["net_benefit"].max()), 0.01) * 1.05
        ylim = (-0.05 * top, top)
    ax.set_ylim(*ylim)
    ax.set_xlim(float(df["threshold"].min()), float(df["threshold"].max()))
    ax.set_xlabel("Threshold probability")
    ax.set_ylabel("Net benefit")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    return fig
