"""Forest plot of regression estimates with confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

__all__ = ["plot_forest"]


def plot_forest(
    table: pd.DataFrame,
    reference_line: float | None = 1.0,
    log_scale: bool = True,
    estimate: str | None = None,
    label: str = "term",
    xlabel: str | None = None,
    ax=None,
):
    """Draw one point and horizontal CI bar per row of a regression table.

    Parameters
    ----------
    table : pandas.DataFrame
        A tidy table with ``term`` (or ``label``), ``ci_lower``, ``ci_upper`` and an
        estimate column: ``odds_ratio`` (logistic tables) or ``estimate`` (linear).
        Rows are drawn top to bottom in table order. Rows with a non-finite estimate or
        CI bound are listed with "(not estimable)" after their label but not drawn.
    reference_line : float or None, default 1.0
        Vertical line of no effect (use 0 for linear estimates); ``None`` for none.
    log_scale : bool, default True
        Logarithmic x axis (for odds ratios); needs positive estimates and bounds.
    estimate : str, optional
        Estimate column; defaults to ``odds_ratio`` if present, else ``estimate``.
    label : str, default "term"
        Column with the row labels.
    xlabel : str, optional
        Axis label; defaults to "Odds ratio (95% CI)" or "Estimate (95% CI)".
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    AnalysisError
        No row has a finite estimate and interval: the plot would be empty.

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["age", "race[black]"], "odds_ratio": [0.96, 3.4],
    ...                   "ci_lower": [0.89, 1.2], "ci_upper": [1.04, 9.6]})
    >>> fig = plot_forest(t)
    >>> ax = fig.axes[0]
    >>> [t.get_text() for t in ax.get_yticklabels()], ax.get_yticks().tolist()
    (['age', 'race[black]'], [1, 0])
    >>> t.loc[1, "ci_upper"] = float("nan")
    >>> [t.get_text() for t in plot_forest(t).axes[0].get_yticklabels()]
    ['age', 'race[black] (not estimable)']
    """
    import matplotlib.pyplot as plt

    if not isinstance(table, pd.DataFrame):
        raise AnalysisError(f"plot_forest expects a DataFrame, got {type(table).__name__}")
    if estimate is None:
        estimate = "odds_ratio" if "odds_ratio" in table.columns else "estimate"
    need = [label, estimate, "ci_lower", "ci_upper"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise AnalysisError(f"plot_forest: table lacks column(s) {missing}")
    if len(table) == 0:
        raise AnalysisError("plot_forest: the table has no rows")
    est = table[estimate].to_numpy(dtype=float)
    lo = table["ci_lower"].to_numpy(dtype=float)
    hi = table["ci_upper"].to_numpy(dtype=float)
    drawable = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
    if log_scale:
        bad = drawable & ((est <= 0) | (lo <= 0))
        if bad.any():
            raise AnalysisError(
                f"plot_forest: column '{estimate}' or 'ci_lower' has values <= 0, impossible "
                "on a log scale; use log_scale=False"
            )
    labels = table[label].astype(str).tolist()
    if not drawable.any():
        raise AnalysisError(
            "plot_forest: no row has a finite estimate and confidence interval, nothing to "
            f"draw (not estimable: {labels})"
        )
    labels = [text if ok else f"{text} (not estimable)" for text, ok in zip(labels, drawable, strict=True)]
    y = np.arange(len(table))[::-1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 1.0 + 0.35 * len(table)))
    else:
        fig = ax.figure
    ax.errorbar(
        est[drawable],
        y[drawable],
        xerr=[est[drawable] - lo[drawable], hi[drawable] - est[drawable]],
        fmt="s",
        color="black",
        ecolor="black",
        capsize=3,
        markersize=5,
    )
    if reference_line is not None:
        ax.axvline(reference_line, color="grey", linestyle="--", linewidth=1)
    if log_scale:
        ax.set_xscale("log")
    ax.set_yticks(y, labels=labels)
    ax.set_ylim(-0.7, len(table) - 0.3)
    if xlabel is None:
        xlabel = "Odds ratio (95% CI)" if estimate == "odds_ratio" else "Estimate (95% CI)"
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig
