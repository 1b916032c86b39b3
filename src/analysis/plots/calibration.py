"""Calibration curves with their band and the distribution of predicted risks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.errors import AnalysisError


def plot_calibration(
    curves,
    prob=None,
    *,
    title: str | None = None,
    bins: int = 50,
    figsize: tuple[float, float] = (6.0, 6.5),
) -> Figure:
    """Calibration plot: flexible curve(s) with bands, ideal diagonal, risk histogram.

    Parameters
    ----------
    curves : pandas.DataFrame or dict of str to pandas.DataFrame
        Output(s) of :func:`flexible_calibration_curve`; dict keys become legend labels.
    prob : array_like or dict of str to array_like, optional
        Predicted risks shown as a histogram in a panel under the curve (one
        histogram per key when a dict).
    title : str, optional
        Figure title.
    bins : int, default 50
        Histogram bins over ``[0, 1]``.
    figsize : tuple of float, default (6.0, 6.5)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Axes ``[calibration]`` or ``[calibration, histogram]``; nothing is saved.

    Examples
    --------
    >>> curve = pd.DataFrame({"predicted": [.1, .5, .9], "observed": [.12, .5, .85],
    ...                       "ci_lower": [.05, .4, .8], "ci_upper": [.2, .6, .9]})
    >>> len(plot_calibration(curve, prob=[.1, .2, .9]).axes)
    2
    """
    if isinstance(curves, pd.DataFrame):
        curves = {"model": curves}
    if not isinstance(curves, dict) or not curves:
        raise AnalysisError("curves must be a DataFrame or a non-empty dict of DataFrames")
    needed = {"predicted", "observed", "ci_lower", "ci_upper"}
    for name, df in curves.items():
        if not isinstance(df, pd.DataFrame) or not needed <= set(df.columns):
            raise AnalysisError(
                f"curves[{name!r}] must be a DataFrame with columns {sorted(needed)}"
            )
    if prob is not None and not isinstance(prob, dict):
        prob = {next(iter(curves)) if len(curves) == 1 else "predicted risk": prob}

    fig = Figure(figsize=figsize, layout="constrained")
    if prob is None:
        ax = fig.add_subplot()
        hax = None
    else:
        gs = fig.add_gridspec(2, 1, height_ratios=(4, 1))
        ax = fig.add_subplot(gs[0])
        hax = fig.add_subplot(gs[1], sharex=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="ideal")
    single = len(curves) == 1
    for name, df in curves.items():
        (line,) = ax.plot(df["predicted"], df["observed"], linewidth=2, label=name)
        if df[["ci_lower", "ci_upper"]].notna().any().any():
            ax.fill_between(
                df["predicted"],
                df["ci_lower"],
                df["ci_upper"],
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
                label=None if not single else f"{name} 95% CI",
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("auto")
    ax.set_ylabel("Observed risk")
    ax.legend(loc="upper left", frameon=False)
    if title:
        ax.set_title(title)
    if hax is None:
        ax.set_xlabel("Predicted risk")
    else:
        edges = np.linspace(0, 1, int(bins) + 1)
        for name, values in prob.items():
            hax.hist(np.asarray(values, dtype=float), bins=edges, alpha=0.6, label=name)
        hax.set_xlabel("Predicted risk")
        hax.set_ylabel("Count")
        ax.tick_params(labelbottom=False)
    return fig
